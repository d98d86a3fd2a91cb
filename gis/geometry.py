"""Geometry helpers: GeoJSON in and out, validation, the service-area check.

GeoJSON is RFC 7946: positions are ``[lon, lat]``. Every function here names the input field at
fault in the error it raises, so the API can tell the user exactly what to fix.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import shapely
from shapely.geometry import mapping, shape

from gis.errors import InvalidInput, MalformedInput

GEOJSON_TYPES = frozenset(
    {
        "Point",
        "MultiPoint",
        "LineString",
        "MultiLineString",
        "Polygon",
        "MultiPolygon",
        "GeometryCollection",
    }
)


@dataclass(frozen=True)
class ServiceArea:
    """The area a deployment serves, as a lon/lat box, and how far outside it a point may be.

    A point further than ``margin_deg`` degrees outside the box is refused: it is almost always
    a typo, swapped coordinates or a wrong CRS, not a real place of this service.
    """

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float
    margin_deg: float = 0.5

    @classmethod
    def parse(cls, text: str | None) -> ServiceArea | None:
        """Parse ``"min_lon,min_lat,max_lon,max_lat"``; ``None`` or empty text means no check."""
        if not text:
            return None
        parts = [float(p) for p in str(text).split(",")]
        if len(parts) not in (4, 5):
            msg = "service area must be min_lon,min_lat,max_lon,max_lat[,margin_deg]"
            raise ValueError(msg)
        return cls(*parts)

    def holds(self, lon: float, lat: float) -> bool:
        m = self.margin_deg
        return (
            self.min_lon - m <= lon <= self.max_lon + m
            and self.min_lat - m <= lat <= self.max_lat + m
        )

    def as_list(self) -> list[float]:
        return [self.min_lon, self.min_lat, self.max_lon, self.max_lat]


def parse_geometry(
    obj: object,
    *,
    field: str = "geometry",
    allowed: frozenset[str] | set[str] | None = None,
    area: ServiceArea | None = None,
) -> shapely.Geometry:
    """Turn a GeoJSON geometry object into a valid 2-D shapely geometry in lon/lat.

    Raises
    ------
    MalformedInput
        When ``obj`` is not a GeoJSON geometry object at all.
    InvalidInput
        When the type is not allowed, the geometry is empty or invalid, a coordinate is out of
        range or not finite, or a point lies far outside the service area (with a hint when the
        coordinates look swapped).
    """
    if not isinstance(obj, Mapping):
        msg = "must be a GeoJSON geometry object with 'type' and 'coordinates'"
        raise MalformedInput(msg, field=field)
    gtype = obj.get("type")
    if gtype not in GEOJSON_TYPES:
        msg = f"unknown GeoJSON geometry type {gtype!r}"
        raise MalformedInput(msg, field=f"{field}.type")
    if allowed is not None and gtype not in allowed:
        msg = f"geometry type {gtype} is not allowed here; use {' or '.join(sorted(allowed))}"
        raise InvalidInput(msg, field=f"{field}.type")
    key = "geometries" if gtype == "GeometryCollection" else "coordinates"
    if key not in obj:
        msg = f"a {gtype} needs '{key}'"
        raise MalformedInput(msg, field=f"{field}.{key}")
    try:
        with warnings.catch_warnings():
            # NaN vertices make numpy warn; check_geometry refuses them with a clear message.
            warnings.simplefilter("ignore", RuntimeWarning)
            geom = shape(obj)
    except (ValueError, TypeError, IndexError, AttributeError, shapely.errors.ShapelyError) as err:
        msg = f"coordinates do not form a {gtype}: {_short(err)}"
        raise MalformedInput(msg, field=f"{field}.coordinates") from err
    return check_geometry(geom, field=field, area=area)


def check_geometry(
    geom: shapely.Geometry, *, field: str = "geometry", area: ServiceArea | None = None
) -> shapely.Geometry:
    """Validate a lon/lat geometry (see :func:`parse_geometry`) and drop any Z coordinate."""
    if geom.is_empty:
        msg = "geometry is empty"
        raise InvalidInput(msg, field=field)
    if shapely.has_z(geom):
        geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    for lon, lat in coords:
        if not (math.isfinite(lon) and math.isfinite(lat)):
            msg = "coordinates must be finite numbers"
            raise InvalidInput(msg, field=f"{field}.coordinates")
        _check_range(lon, lat, field=field)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        msg = f"invalid geometry: {reason}"
        raise InvalidInput(msg, field=field)
    if area is not None:
        check_in_area(geom, area, field=field)
    return geom


def check_in_area(geom: shapely.Geometry, area: ServiceArea, *, field: str) -> None:
    """Refuse a geometry whose representative point is far outside the service area."""
    p = geom.representative_point()
    if area.holds(p.x, p.y):
        return
    box = ",".join(f"{v:g}" for v in area.as_list())
    if area.holds(p.y, p.x):
        msg = (
            f"[{p.x:.6f}, {p.y:.6f}] is far outside the service area ({box}); it looks like "
            f"latitude and longitude are swapped: GeoJSON wants [lon, lat], i.e. "
            f"[{p.y:.6f}, {p.x:.6f}]"
        )
    else:
        msg = (
            f"[{p.x:.6f}, {p.y:.6f}] is far outside the service area ({box}); check the "
            f"coordinates and the CRS (GeoJSON wants WGS 84 [lon, lat])"
        )
    raise InvalidInput(msg, field=f"{field}.coordinates", hint="swapped" in msg)


def _check_range(lon: float, lat: float, *, field: str) -> None:
    if -180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0:
        return
    if -90.0 <= lon <= 90.0 and -180.0 <= lat <= 180.0:
        msg = (
            f"latitude {lat} is out of range [-90, 90]; it looks like [lat, lon]: GeoJSON wants "
            f"[lon, lat]"
        )
    else:
        msg = f"coordinates [{lon}, {lat}] are out of range (lon -180..180, lat -90..90)"
    raise InvalidInput(msg, field=f"{field}.coordinates")


def to_geojson(geom: shapely.Geometry | None, *, precision: int = 7) -> dict | None:
    """A GeoJSON geometry dict of ``geom`` with coordinates rounded to ``precision`` decimals."""
    if geom is None:
        return None
    rounded = shapely.set_precision(geom, 10.0**-precision) if precision else geom
    if rounded.is_empty:
        rounded = geom
    # RFC 7946: exterior rings counterclockwise, holes clockwise.
    return mapping(shapely.orient_polygons(rounded))


def point_lonlat(obj: object, *, field: str, area: ServiceArea | None = None) -> shapely.Point:
    """Parse a ``[lon, lat]`` pair (or a GeoJSON Point) into a valid point."""
    if isinstance(obj, Mapping):
        return parse_geometry(obj, field=field, allowed={"Point"}, area=area)
    if (
        not isinstance(obj, list | tuple)
        or len(obj) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in obj)
    ):
        msg = "must be a [lon, lat] pair of numbers"
        raise InvalidInput(msg, field=field)
    return check_geometry(shapely.Point(float(obj[0]), float(obj[1])), field=field, area=area)


def _short(err: Exception) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) < 160 else text[:157] + "..."
