"""Import and export of layers: GeoJSON FeatureCollections (RFC 7946) and CSV with lon/lat.

Reading is all or nothing and happens before anything is written: :func:`read_features` either
returns every row cleaned and in EPSG:4326, or raises an error naming the first bad row (its
number as a person counts it: feature 1 is the first feature, CSV row 2 is the first row under
the header) and the field. Input in another CRS (``crs``, e.g. CGCS2000 ``EPSG:4490`` or a
projected system) is transformed on the way in.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import shapely
from shapely import wkt as shapely_wkt

from gis import crs as crs_mod
from gis import fields as F
from gis import gpkg
from gis.errors import GisError, InvalidInput, MalformedInput
from gis.geometry import ServiceArea, check_geometry, parse_geometry

LON_NAMES = ("lon", "lng", "longitude", "x")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "geometry")


@dataclass(frozen=True)
class Row:
    """One cleaned input row: its number, property values, and geometry in lon/lat."""

    number: int
    values: dict[str, Any]
    geom: shapely.Geometry


def detect_format(filename: str | None, data: bytes) -> str:
    """``"geojson"``, ``"csv"`` or ``"gpkg"``, from the file name, else from the content."""
    name = (filename or "").lower()
    if name.endswith(".gpkg") or gpkg.is_geopackage(data):
        return "gpkg"
    if name.endswith((".geojson", ".json")):
        return "geojson"
    if name.endswith((".csv", ".txt")):
        return "csv"
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    return "geojson" if head in (b"{", b"[") else "csv"


def read_features(
    spec: F.LayerSpec,
    data: bytes,
    *,
    fmt: str,
    crs: str | None = None,
    area: ServiceArea | None = None,
    max_rows: int = 100_000,
) -> list[Row]:
    """Parse and validate a whole file for layer ``spec``.

    Raises
    ------
    MalformedInput
        The file is not JSON/GeoJSON/CSV at all.
    InvalidInput
        A row is bad: the message starts with its number and ``field`` names it.
    """
    if fmt == "geojson":
        records = _geojson_records(data, crs)
        label = "feature"
    elif fmt == "csv":
        records = _csv_records(spec, data)
        label = "row"
    elif fmt == "gpkg":
        records = _Records()
        records.crs, rows_in = gpkg.read(data)
        records.extend(rows_in)
        records.crs = crs or records.crs
        label = "feature"
    else:
        msg = f"unknown format {fmt!r}; use geojson, csv or gpkg"
        raise InvalidInput(msg, field="format")
    crs = crs if crs is not None else getattr(records, "crs", None)
    if crs is not None:
        crs_mod.parse_crs(crs)
    rows: list[Row] = []
    for number, where, props, geometry in records:
        if len(rows) >= max_rows:
            msg = f"the file has more than {max_rows} rows; split it"
            raise InvalidInput(msg, field="file")
        try:
            rows.append(_clean_row(spec, number, where, props, geometry, crs=crs, area=area))
        except GisError as err:
            err.message = f"{label} {number}: {err.message}"
            err.args = (err.message,)
            err.details["row"] = number
            raise
    if not rows:
        msg = f"the file holds no {label}s"
        raise InvalidInput(msg, field="file")
    return rows


def _clean_row(
    spec: F.LayerSpec,
    number: int,
    where: str,
    props: Mapping[str, Any],
    geometry: Any,
    *,
    crs: str | None,
    area: ServiceArea | None,
) -> Row:
    values = F.clean_properties(spec, props, prefix=f"{where}.properties")
    geom = _row_geometry(
        geometry, spec.geometry_types, field=f"{where}.geometry", crs=crs, area=area
    )
    for name, allowed in (("home_base", POINT), ("influence", AREA), ("area", AREA)):
        if values.get(name) is not None:
            field = f"{where}.properties.{name}"
            values[name] = _row_geometry(values[name], allowed, field=field, crs=crs, area=area)
    try:
        F.check_row(spec.kind, values, before=None)
    except GisError as err:
        err.field = f"{where}.{err.field}" if err.field else where
        raise
    return Row(number, values, geom)


POINT = frozenset({"Point"})
AREA = frozenset({"Polygon", "MultiPolygon"})


def _row_geometry(
    geometry: Any,
    allowed: frozenset[str],
    *,
    field: str,
    crs: str | None,
    area: ServiceArea | None,
) -> shapely.Geometry:
    """A row's geometry (GeoJSON, ``[x, y]`` or shapely) in lon/lat, checked."""
    if geometry is None:
        msg = "is missing"
        raise InvalidInput(msg, field=field)
    if isinstance(geometry, shapely.Geometry):
        geom = geometry
    elif isinstance(geometry, list):
        if len(geometry) != 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in geometry
        ):
            msg = "must be an [x, y] pair of numbers"
            raise InvalidInput(msg, field=field)
        geom = shapely.Point(float(geometry[0]), float(geometry[1]))
    elif crs_mod.is_wgs84(crs):
        return parse_geometry(geometry, field=field, allowed=allowed, area=area)
    else:
        geom = _shape_unchecked(geometry, field=field, allowed=allowed)
    if geom.geom_type not in allowed:
        msg = f"geometry type {geom.geom_type} is not allowed; use {' or '.join(sorted(allowed))}"
        raise InvalidInput(msg, field=field)
    if not geom.is_empty:
        geom = crs_mod.to_wgs84(geom, crs)
    return check_geometry(geom, field=field, area=area)


def _shape_unchecked(obj: Any, *, field: str, allowed: set[str] | frozenset[str]) -> Any:
    """Shape a GeoJSON geometry in a projected CRS (no lon/lat range check before transforming)."""
    from shapely.geometry import shape

    if not isinstance(obj, Mapping) or obj.get("type") not in allowed:
        msg = f"must be a GeoJSON geometry of type {' or '.join(sorted(allowed))}"
        raise InvalidInput(msg, field=field)
    if "coordinates" not in obj:
        msg = f"a {obj.get('type')} needs 'coordinates'"
        raise MalformedInput(msg, field=f"{field}.coordinates")
    try:
        return shape(obj)
    except (ValueError, TypeError, IndexError, AttributeError, KeyError) as err:
        msg = f"coordinates do not form a {obj.get('type')}"
        raise MalformedInput(msg, field=f"{field}.coordinates") from err


class _Records(list):
    crs: str | None = None


def _geojson_records(data: bytes, crs: str | None) -> _Records:
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        msg = f"the file is not valid JSON: {err}"
        raise MalformedInput(msg, field="file") from err
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = {"type": "FeatureCollection", "features": [doc]}
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        msg = "must be a GeoJSON FeatureCollection"
        raise MalformedInput(msg, field="type")
    feats = doc.get("features")
    if not isinstance(feats, list):
        msg = "a FeatureCollection needs a 'features' list"
        raise MalformedInput(msg, field="features")
    out = _Records()
    out.crs = crs or _legacy_crs(doc.get("crs"))
    for i, feat in enumerate(feats):
        where = f"features[{i}]"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            msg = "must be a GeoJSON Feature"
            raise MalformedInput(f"feature {i + 1}: {msg}", field=where, row=i + 1)
        props = feat.get("properties") or {}
        out.append((i + 1, where, props, feat.get("geometry")))
    return out


def _legacy_crs(member: Any) -> str | None:
    """The CRS named by a pre-RFC 7946 ``crs`` member, e.g. ``urn:ogc:def:crs:EPSG::4490``."""
    if not isinstance(member, dict):
        return None
    name = (member.get("properties") or {}).get("name")
    if not isinstance(name, str):
        return None
    if name.upper().endswith("CRS84"):
        return None
    return name.rsplit(":", 1)[-1] if "EPSG" in name.upper() else name


def _decode_text(data: bytes) -> str:
    """UTF-8 (with or without BOM), else GB 18030, as Excel in China often saves CSV."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError as err:
            msg = "the CSV is neither UTF-8 nor GB 18030 text"
            raise MalformedInput(msg, field="file") from err


def _csv_records(spec: F.LayerSpec, data: bytes) -> _Records:
    text = _decode_text(data)
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        msg = "the CSV has no header row"
        raise MalformedInput(msg, field="file")
    reader.fieldnames = header
    lower = {h.lower(): h for h in header}
    lon_col = next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = next((lower[n] for n in LAT_NAMES if n in lower), None)
    wkt_col = next((lower[n] for n in WKT_NAMES if n in lower), None)
    if wkt_col is None and (lon_col is None or lat_col is None):
        msg = "the CSV needs lon and lat columns (or x and y, or a wkt column)"
        raise InvalidInput(msg, field="columns")
    geo_cols = {c for c in (lon_col, lat_col, wkt_col) if c}
    for h in header:
        if h not in geo_cols and h not in spec.by_name and h not in F.READ_ONLY:
            msg = f"unknown column {h!r} for {spec.kind}; known: {', '.join(spec.by_name)}"
            raise InvalidInput(msg, field=f"columns.{h}")
    out = _Records()
    for number, record in _numbered(reader):
        where = f"rows[{number}]"
        if None in record:
            msg = f"row {number}: has more cells than the header"
            raise InvalidInput(msg, field=where, row=number)
        props = {
            k: _csv_value(spec.by_name[k], v, field=f"{where}.{k}", row=number)
            for k, v in record.items()
            if k not in geo_cols and k in spec.by_name and v is not None and v.strip() != ""
        }
        geometry = _csv_geometry(record, lon_col, lat_col, wkt_col, where=where, row=number)
        out.append((number, where, props, geometry))
    return out


def _numbered(reader: csv.DictReader) -> Iterator[tuple[int, dict[str, str]]]:
    """Records numbered as a spreadsheet shows them: the first row under the header is row 2."""
    number = 1
    try:
        for record in reader:
            number += 1
            yield number, record
    except csv.Error as err:
        msg = f"row {number + 1}: the CSV is malformed: {err}"
        raise MalformedInput(msg, field="file", row=number + 1) from err


def _csv_geometry(
    record: Mapping[str, str],
    lon_col: str | None,
    lat_col: str | None,
    wkt_col: str | None,
    *,
    where: str,
    row: int,
) -> shapely.Geometry:
    if wkt_col and (record.get(wkt_col) or "").strip():
        try:
            return shapely_wkt.loads(record[wkt_col])
        except shapely.errors.ShapelyError as err:
            msg = f"row {row}: {wkt_col} is not valid WKT"
            raise InvalidInput(msg, field=f"{where}.{wkt_col}", row=row) from err
    if lon_col is None or lat_col is None:
        msg = f"row {row}: {wkt_col} is empty"
        raise InvalidInput(msg, field=f"{where}.{wkt_col}", row=row)
    try:
        return shapely.Point(float(record[lon_col]), float(record[lat_col]))  # type: ignore[index]
    except (TypeError, ValueError, KeyError) as err:
        msg = f"row {row}: {lon_col} and {lat_col} must be numbers"
        raise InvalidInput(msg, field=f"{where}.{lon_col}", row=row) from err


def _csv_value(f: F.Field, raw: str, *, field: str, row: int) -> Any:
    raw = raw.strip()
    try:
        if f.kind == "int":
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        if f.kind == "bool":
            low = raw.lower()
            if low in ("true", "1", "yes", "y", "是"):
                return True
            if low in ("false", "0", "no", "n", "否"):
                return False
            return raw
        if f.kind in ("choices", "tags"):
            return [p.strip() for p in raw.replace("|", ";").split(";") if p.strip()]
        if f.kind in ("object", "stock", "point", "area"):
            return json.loads(raw)
    except (ValueError, json.JSONDecodeError) as err:
        msg = f"row {row}: {f.name} cannot be read as {f.kind}: {raw[:40]!r}"
        raise InvalidInput(msg, field=field, row=row) from err
    return raw


def feature_collection(features: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """Wrap features in an RFC 7946 FeatureCollection."""
    return {"type": "FeatureCollection", "features": features, **extra}


def read_feature(
    spec: F.LayerSpec,
    obj: Any,
    *,
    partial: bool = False,
    area: ServiceArea | None = None,
) -> tuple[dict[str, Any], shapely.Geometry | None]:
    """A create or update body (a GeoJSON Feature) as cleaned values and a lon/lat geometry.

    With ``partial`` (an update) the geometry and required properties may be left out.
    """
    if not isinstance(obj, Mapping) or obj.get("type") != "Feature":
        msg = "the body must be a GeoJSON Feature with geometry and properties"
        raise MalformedInput(msg, field="type")
    props = obj.get("properties")
    if props is None:
        props = {}
    values = F.clean_properties(spec, props, partial=partial)
    geometry = obj.get("geometry")
    geom = None
    if geometry is not None or not partial:
        geom = _row_geometry(geometry, spec.geometry_types, field="geometry", crs=None, area=area)
    for name, allowed in (("home_base", POINT), ("influence", AREA), ("area", AREA)):
        if values.get(name) is not None:
            field = f"properties.{name}"
            values[name] = _row_geometry(values[name], allowed, field=field, crs=None, area=area)
    return values, geom
