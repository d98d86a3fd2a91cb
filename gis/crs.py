"""The one place that knows coordinate reference systems.

Storage is EPSG:4326 (lon, lat). Distances and buffers are measured in a local metric CRS
(the UTM zone of the place). Input in any EPSG code is accepted on import, including CGCS2000
(EPSG:4490) and projected systems; every transformer is built ``always_xy`` so x is easting or
longitude whatever the CRS's own axis order says.
"""

from __future__ import annotations

from functools import lru_cache

import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from gis.errors import InvalidInput

WGS84 = "EPSG:4326"


@lru_cache(maxsize=64)
def parse_crs(value: str | int, *, field: str = "crs") -> CRS:
    """Return the CRS named by ``value`` ("EPSG:4490", "4490", 4490 or a CRS URN).

    Raises
    ------
    InvalidInput
        When pyproj does not know the CRS.
    """
    text = str(value).strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        crs = CRS.from_user_input(text)
    except CRSError as err:
        msg = f"unknown coordinate reference system {value!r}; give an EPSG code such as EPSG:4490"
        raise InvalidInput(msg, field=field) from err
    return crs


@lru_cache(maxsize=64)
def transformer(src: str, dst: str = WGS84) -> Transformer:
    """Cached ``always_xy`` transformer from ``src`` to ``dst`` (both as ``parse_crs`` takes)."""
    return Transformer.from_crs(parse_crs(src), parse_crs(dst), always_xy=True)


def is_wgs84(crs: str | int | None) -> bool:
    """True when ``crs`` is absent or names plain WGS 84 longitude/latitude."""
    if crs is None or str(crs).strip().upper() in {
        "CRS84",
        "OGC:CRS84",
        "URN:OGC:DEF:CRS:OGC:1.3:CRS84",
    }:
        return True
    return parse_crs(crs) == parse_crs(WGS84)


def to_wgs84(geom: shapely.Geometry, crs: str | int | None) -> shapely.Geometry:
    """Transform ``geom`` from ``crs`` to EPSG:4326 (lon, lat); a no-op for WGS 84 itself."""
    if is_wgs84(crs):
        return geom
    tr = transformer(str(crs))
    return shapely.transform(geom, lambda xy: _stack(tr.transform(xy[:, 0], xy[:, 1])))


def utm_crs(lon: float, lat: float) -> str:
    """EPSG code of the UTM zone that holds ``(lon, lat)``: the local metric CRS."""
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def to_metric(geom: shapely.Geometry, *, crs: str | None = None) -> tuple[shapely.Geometry, str]:
    """Project a lon/lat geometry into a metric CRS (its UTM zone unless ``crs`` is given)."""
    if crs is None:
        c = geom.centroid
        crs = utm_crs(c.x, c.y)
    tr = transformer(WGS84, crs)
    out = shapely.transform(geom, lambda xy: _stack(tr.transform(xy[:, 0], xy[:, 1])))
    return out, crs


def from_metric(geom: shapely.Geometry, crs: str) -> shapely.Geometry:
    """Inverse of :func:`to_metric`."""
    tr = transformer(crs, WGS84)
    return shapely.transform(geom, lambda xy: _stack(tr.transform(xy[:, 0], xy[:, 1])))


def _stack(xy: tuple) -> object:
    import numpy as np

    return np.column_stack(xy)
