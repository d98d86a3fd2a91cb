"""Reading OGC GeoPackage files (SQLite): the features of one table, with their CRS.

A GeoPackage is a SQLite database; its geometry blobs are a small header (magic ``GP``, version,
flags, SRS id, optional envelope) followed by standard WKB. Only the standard library's sqlite3
and shapely are needed, so no GDAL install is required on the server.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from typing import Any

import shapely
from shapely.geometry import mapping

from gis.errors import InvalidInput, MalformedInput

MAGIC = b"SQLite format 3\x00"
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def is_geopackage(data: bytes) -> bool:
    return data[:16] == MAGIC


def decode_geometry(blob: bytes, *, field: str = "geometry") -> shapely.Geometry | None:
    """The shapely geometry of one GeoPackage geometry blob (None for an empty geometry)."""
    if len(blob) < 8 or blob[:2] != b"GP":
        msg = "is not a GeoPackage geometry (no 'GP' header)"
        raise MalformedInput(msg, field=field)
    flags = blob[3]
    envelope = _ENVELOPE_BYTES.get((flags >> 1) & 0b111)
    if envelope is None:
        msg = "has an unknown envelope code in its GeoPackage header"
        raise MalformedInput(msg, field=field)
    if flags & 0b10000:  # empty geometry flag
        return None
    try:
        return shapely.from_wkb(blob[8 + envelope :])
    except shapely.errors.GEOSException as err:
        msg = f"holds broken WKB: {err}"
        raise MalformedInput(msg, field=field) from err


def read(data: bytes, *, table: str | None = None) -> tuple[str | None, list[tuple[Any, ...]]]:
    """The CRS (``EPSG:n`` or None) and the records ``(number, where, properties, geometry)``
    of the features table ``table`` (the only one when not given), in ``fid`` order; geometry
    as a GeoJSON mapping (None when empty)."""
    if not is_geopackage(data):
        msg = "is not a GeoPackage (SQLite) file"
        raise MalformedInput(msg, field="file")
    fd, path = tempfile.mkstemp(suffix=".gpkg")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return _read(conn, table)
        except sqlite3.DatabaseError as err:
            msg = f"the GeoPackage cannot be read: {err}"
            raise MalformedInput(msg, field="file") from err
        finally:
            conn.close()
    finally:
        os.unlink(path)


def _read(conn: sqlite3.Connection, table: str | None) -> tuple[str | None, list[tuple]]:
    tables = conn.execute(
        "SELECT c.table_name, c.column_name, c.srs_id FROM gpkg_geometry_columns c "
        "JOIN gpkg_contents t ON t.table_name = c.table_name WHERE t.data_type = 'features'"
    ).fetchall()
    if not tables:
        raise InvalidInput("the GeoPackage holds no feature table", field="file")
    if table is None and len(tables) > 1:
        names = ", ".join(t[0] for t in tables)
        msg = f"the GeoPackage holds several feature tables ({names}); name one"
        raise InvalidInput(msg, field="table")
    chosen = [t for t in tables if table is None or t[0] == table]
    if not chosen:
        msg = f"no feature table {table!r}; the file has {', '.join(t[0] for t in tables)}"
        raise InvalidInput(msg, field="table")
    name, geom_col, srs_id = chosen[0]
    crs = _crs(conn, srs_id)
    cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{_ident(name)}")')]
    order = "fid" if "fid" in cols else "rowid"
    cur = conn.execute(f'SELECT * FROM "{_ident(name)}" ORDER BY {order}')
    return crs, list(_records(cur, cols, geom_col))


def _records(cur: sqlite3.Cursor, cols: list[str], geom_col: str) -> Iterator[tuple]:
    for i, row in enumerate(cur):
        where = f"features[{i}]"
        props = {}
        geometry = None
        for col, value in zip(cols, row, strict=True):
            if col == geom_col:
                geom = decode_geometry(value, field=f"{where}.geometry") if value else None
                geometry = mapping(geom) if geom is not None else None
            elif col != "fid" and value is not None:
                props[col] = value
        yield (i + 1, where, props, geometry)


def _crs(conn: sqlite3.Connection, srs_id: int) -> str | None:
    row = conn.execute(
        "SELECT organization, organization_coordsys_id FROM gpkg_spatial_ref_sys WHERE srs_id = ?",
        (srs_id,),
    ).fetchone()
    if row is None or srs_id in (0, -1):
        return None
    org, code = row
    return f"{str(org).upper()}:{code}" if org else None


def _ident(name: str) -> str:
    return name.replace('"', '""')
