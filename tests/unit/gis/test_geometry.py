"""gis.geometry: GeoJSON in, validation naming the field at fault, the service-area check, GeoJSON out."""

from __future__ import annotations

import math

import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon, shape

from gis.errors import InvalidInput, MalformedInput
from gis.geometry import ServiceArea, check_geometry, parse_geometry, point_lonlat, to_geojson

# Canonical geometries, GeoJSON [lon, lat]: People's Square, Shanghai.
LON, LAT = 121.4737, 31.2304
RING = [[121.47, 31.23], [121.48, 31.23], [121.48, 31.24], [121.47, 31.24], [121.47, 31.23]]
HOLE = [
    [121.474, 31.234],
    [121.474, 31.236],
    [121.476, 31.236],
    [121.476, 31.234],
    [121.474, 31.234],
]
RING_2 = [[121.50, 31.20], [121.51, 31.20], [121.51, 31.21], [121.50, 31.21], [121.50, 31.20]]

POINT = {"type": "Point", "coordinates": [LON, LAT]}
POLYGON = {"type": "Polygon", "coordinates": [RING]}
POLYGON_WITH_HOLE = {"type": "Polygon", "coordinates": [RING, HOLE]}
MULTIPOLYGON = {"type": "MultiPolygon", "coordinates": [[RING], [RING_2]]}

POINT_Z = {"type": "Point", "coordinates": [LON, LAT, 4.5]}
POLYGON_Z = {"type": "Polygon", "coordinates": [[[x, y, 12.0] for x, y in RING]]}
MULTIPOLYGON_Z = {
    "type": "MultiPolygon",
    "coordinates": [[[[x, y, 1.0] for x, y in RING]], [[[x, y, 2.0] for x, y in RING_2]]],
}

EMPTY = {
    "point": {"type": "Point", "coordinates": []},
    "polygon": {"type": "Polygon", "coordinates": []},
    "multipolygon": {"type": "MultiPolygon", "coordinates": []},
    "collection": {"type": "GeometryCollection", "geometries": []},
}

BOW_TIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
OVERLAPPING_PARTS = {
    "type": "MultiPolygon",
    "coordinates": [
        [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]],
        [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]],
    ],
}

#: Central Helsinki, as a deployment there would configure it.
HELSINKI = ServiceArea(24.5, 60.0, 25.3, 60.4)


def _ring(coords: list[list[float]]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in coords]


# --- valid input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (POINT, Point(LON, LAT)),
        (POLYGON, Polygon(_ring(RING))),
        (POLYGON_WITH_HOLE, Polygon(_ring(RING), [_ring(HOLE)])),
        (
            MULTIPOLYGON,
            MultiPolygon([Polygon(_ring(RING)), Polygon(_ring(RING_2))]),
        ),
    ],
    ids=["point", "polygon", "polygon-with-hole", "multipolygon"],
)
def test_parse_geometry_accepts_valid_geometries(obj: dict, expected: shapely.Geometry) -> None:
    geom = parse_geometry(obj)
    assert geom.geom_type == obj["type"]
    assert geom.is_valid
    assert geom.equals_exact(expected, 0.0)


def test_parse_geometry_keeps_lon_lat_order() -> None:
    geom = parse_geometry(POINT)
    assert (geom.x, geom.y) == (LON, LAT)


@pytest.mark.parametrize(
    "obj", [POINT_Z, POLYGON_Z, MULTIPOLYGON_Z], ids=["point", "polygon", "multipolygon"]
)
def test_parse_geometry_drops_z(obj: dict) -> None:
    geom = parse_geometry(obj)
    assert not shapely.has_z(geom)
    xy = shapely.get_coordinates(geom).tolist()
    expected = shapely.get_coordinates(shape(obj)).tolist()  # 2-D by default
    assert xy == expected


def test_check_geometry_drops_z_of_a_shapely_geometry() -> None:
    geom = check_geometry(Point(LON, LAT, 30.0))
    assert not shapely.has_z(geom)
    assert (geom.x, geom.y) == (LON, LAT)


def test_parse_geometry_accepts_points_at_the_limits_of_the_range() -> None:
    for lon, lat in ((180.0, 90.0), (-180.0, -90.0), (0.0, 0.0)):
        geom = parse_geometry({"type": "Point", "coordinates": [lon, lat]})
        assert (geom.x, geom.y) == (lon, lat)


# --- empty and invalid --------------------------------------------------------------------


@pytest.mark.parametrize("obj", list(EMPTY.values()), ids=list(EMPTY))
def test_empty_geometry_is_invalid_input_naming_the_field(obj: dict) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry(obj, field="features[0].geometry")
    assert exc.value.field == "features[0].geometry"
    assert "empty" in exc.value.message


@pytest.mark.parametrize("geom", [Point(), Polygon(), MultiPolygon()], ids=str)
def test_check_geometry_refuses_empty_shapely_geometries(geom: shapely.Geometry) -> None:
    with pytest.raises(InvalidInput) as exc:
        check_geometry(geom)
    assert exc.value.field == "geometry"


@pytest.mark.parametrize(
    ("obj", "reason"),
    [(BOW_TIE, "Self-intersection"), (OVERLAPPING_PARTS, "Self-intersection")],
    ids=["bow-tie", "overlapping-multipolygon"],
)
def test_invalid_geometry_message_carries_shapely_reason(obj: dict, reason: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry(obj)
    assert exc.value.field == "geometry"
    assert reason in exc.value.message
    assert shapely.is_valid_reason(shape(obj)) in exc.value.message


# --- malformed input ----------------------------------------------------------------------


@pytest.mark.parametrize("obj", [None, "POINT (121.47 31.23)", [LON, LAT], 42, b"{}"], ids=repr)
def test_not_a_geojson_object_is_malformed(obj: object) -> None:
    with pytest.raises(MalformedInput) as exc:
        parse_geometry(obj, field="geometry")
    assert exc.value.field == "geometry"
    assert exc.value.status == 400


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "Circle", "coordinates": [LON, LAT], "radius": 100},
        {"type": "point", "coordinates": [LON, LAT]},
        {"type": "Feature", "geometry": POINT},
        {"coordinates": [LON, LAT]},
        {"type": None, "coordinates": [LON, LAT]},
    ],
    ids=["circle", "lowercase", "feature", "no-type", "null-type"],
)
def test_unknown_geometry_type_is_malformed_naming_type(obj: dict) -> None:
    with pytest.raises(MalformedInput) as exc:
        parse_geometry(obj)
    assert exc.value.field == "geometry.type"


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"type": "Point"}, "geometry.coordinates"),
        ({"type": "Polygon"}, "geometry.coordinates"),
        ({"type": "MultiPolygon"}, "geometry.coordinates"),
        ({"type": "GeometryCollection"}, "geometry.geometries"),
    ],
    ids=["point", "polygon", "multipolygon", "collection"],
)
def test_missing_coordinates_is_malformed_naming_them(obj: dict, field: str) -> None:
    with pytest.raises(MalformedInput) as exc:
        parse_geometry(obj)
    assert exc.value.field == field


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "Point", "coordinates": "121.47,31.23"},
        {"type": "Point", "coordinates": 121.47},
        {"type": "Point", "coordinates": [None, 31.23]},
        {"type": "Point", "coordinates": ["east", "north"]},
        {"type": "Point", "coordinates": [1, 2, 3, 4]},
        {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]},
        {"type": "Polygon", "coordinates": [1, 2]},
        {"type": "Polygon", "coordinates": [[["a", "b"], [1, 1], [0, 1], [0, 0]]]},
        {"type": "MultiPolygon", "coordinates": [[1, 2]]},
        {"type": "LineString", "coordinates": [[1, 1]]},
    ],
    ids=[
        "point-string",
        "point-number",
        "point-null",
        "point-words",
        "point-4d",
        "polygon-2-vertices",
        "polygon-flat",
        "polygon-words",
        "multipolygon-flat",
        "linestring-1-vertex",
    ],
)
def test_garbage_coordinates_are_malformed_naming_coordinates(obj: dict) -> None:
    with pytest.raises(MalformedInput) as exc:
        parse_geometry(obj, field="features[2].geometry")
    assert exc.value.field == "features[2].geometry.coordinates"
    assert exc.value.message.startswith(f"coordinates do not form a {obj['type']}")


@pytest.mark.parametrize(
    "coords",
    [
        [math.nan, LAT],
        [LON, math.nan],
        [math.nan, math.nan],
        [math.inf, LAT],
        [LON, -math.inf],
    ],
    ids=["nan-lon", "nan-lat", "nan-both", "inf-lon", "minus-inf-lat"],
)
def test_non_finite_coordinates_are_refused(coords: list[float]) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry({"type": "Point", "coordinates": coords})
    assert exc.value.field == "geometry.coordinates"
    assert "finite" in exc.value.message


# shapely warns while building a ring with a NaN vertex; the function under test must still
# refuse the vertex, which is what this test checks.
@pytest.mark.filterwarnings("ignore:invalid value encountered in linearrings:RuntimeWarning")
def test_non_finite_polygon_vertex_is_refused() -> None:
    ring = [list(v) for v in RING]
    ring[2] = [math.nan, 31.24]
    with pytest.raises(InvalidInput) as exc:
        parse_geometry({"type": "Polygon", "coordinates": [ring]})
    assert exc.value.field == "geometry.coordinates"


# --- range and service area ---------------------------------------------------------------


def test_latitude_out_of_range_hints_at_lat_lon_order() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry({"type": "Point", "coordinates": [LAT, LON]})  # Shanghai as [lat, lon]
    assert exc.value.field == "geometry.coordinates"
    assert "[lat, lon]" in exc.value.message
    assert "[lon, lat]" in exc.value.message


@pytest.mark.parametrize("coords", [[200.0, 100.0], [181.0, 10.0], [-190.0, 95.0]], ids=str)
def test_coordinates_out_of_any_range_have_no_order_hint(coords: list[float]) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry({"type": "Point", "coordinates": coords})
    assert exc.value.field == "geometry.coordinates"
    assert "out of range" in exc.value.message
    assert "[lat, lon]" not in exc.value.message


def test_point_inside_service_area_is_accepted() -> None:
    geom = parse_geometry({"type": "Point", "coordinates": [24.94, 60.17]}, area=HELSINKI)
    assert (geom.x, geom.y) == (24.94, 60.17)


def test_point_within_margin_of_service_area_is_accepted() -> None:
    # 0.4 deg east of the box, inside the default 0.5 deg margin.
    geom = parse_geometry({"type": "Point", "coordinates": [25.7, 60.2]}, area=HELSINKI)
    assert geom.x == 25.7


def test_point_beyond_margin_of_service_area_is_refused() -> None:
    with pytest.raises(InvalidInput):
        parse_geometry({"type": "Point", "coordinates": [26.0, 60.2]}, area=HELSINKI)


def test_swapped_helsinki_point_says_swapped_and_gives_right_order() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry({"type": "Point", "coordinates": [60.17, 24.94]}, area=HELSINKI)
    err = exc.value
    assert err.field == "geometry.coordinates"
    assert "swapped" in err.message
    assert "[24.940000, 60.170000]" in err.message
    assert err.details["hint"] is True


def test_point_far_away_is_refused_without_swap_hint() -> None:
    with pytest.raises(InvalidInput) as exc:  # mid-Atlantic
        parse_geometry({"type": "Point", "coordinates": [-30.0, 40.0]}, area=HELSINKI)
    err = exc.value
    assert err.field == "geometry.coordinates"
    assert "outside the service area" in err.message
    assert "swapped" not in err.message
    assert err.details["hint"] is False


def test_polygon_inside_service_area_is_accepted() -> None:
    ring = [[24.93, 60.16], [24.96, 60.16], [24.96, 60.185], [24.93, 60.185], [24.93, 60.16]]
    geom = parse_geometry({"type": "Polygon", "coordinates": [ring]}, area=HELSINKI)
    assert geom.geom_type == "Polygon"


def test_polygon_outside_service_area_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry(POLYGON, area=HELSINKI)  # Shanghai
    assert exc.value.field == "geometry.coordinates"


# --- allowed types ------------------------------------------------------------------------


def test_disallowed_geometry_type_is_refused_naming_allowed_ones() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry(POLYGON, allowed={"Point"})
    assert exc.value.field == "geometry.type"
    assert "Polygon" in exc.value.message
    assert "Point" in exc.value.message


def test_disallowed_type_lists_every_allowed_type() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_geometry(POINT, field="properties.influence", allowed={"Polygon", "MultiPolygon"})
    assert exc.value.field == "properties.influence.type"
    assert "Polygon" in exc.value.message
    assert "MultiPolygon" in exc.value.message


@pytest.mark.parametrize("obj", [POINT, POLYGON, MULTIPOLYGON], ids=lambda o: o["type"])
def test_allowed_geometry_types_pass(obj: dict) -> None:
    allowed = frozenset({"Point", "Polygon", "MultiPolygon"})
    assert parse_geometry(obj, allowed=allowed).geom_type == obj["type"]


# --- point_lonlat -------------------------------------------------------------------------


@pytest.mark.parametrize("pair", [[LON, LAT], (LON, LAT), [121, 31]], ids=repr)
def test_point_lonlat_reads_lon_lat_pair(pair: list | tuple) -> None:
    p = point_lonlat(pair, field="properties.home_base")
    assert isinstance(p, Point)
    assert (p.x, p.y) == (float(pair[0]), float(pair[1]))


def test_point_lonlat_reads_geojson_point() -> None:
    p = point_lonlat(POINT, field="properties.home_base")
    assert (p.x, p.y) == (LON, LAT)


def test_point_lonlat_refuses_geojson_polygon() -> None:
    with pytest.raises(InvalidInput) as exc:
        point_lonlat(POLYGON, field="properties.home_base")
    assert exc.value.field == "properties.home_base.type"


@pytest.mark.parametrize(
    "value",
    [[LON], [LON, LAT, 4.0], "121.47,31.23", [True, LAT], [LON, None], ["121.47", "31.23"], None],
    ids=repr,
)
def test_point_lonlat_refuses_anything_but_a_pair_of_numbers(value: object) -> None:
    with pytest.raises(InvalidInput) as exc:
        point_lonlat(value, field="properties.home_base")
    assert exc.value.field == "properties.home_base"


def test_point_lonlat_checks_range() -> None:
    with pytest.raises(InvalidInput) as exc:
        point_lonlat([LAT, LON], field="properties.home_base")
    assert exc.value.field == "properties.home_base.coordinates"
    assert "[lat, lon]" in exc.value.message


def test_point_lonlat_swapped_in_service_area() -> None:
    with pytest.raises(InvalidInput) as exc:
        point_lonlat([60.17, 24.94], field="properties.home_base", area=HELSINKI)
    assert exc.value.field == "properties.home_base.coordinates"
    assert "swapped" in exc.value.message


def test_point_lonlat_refuses_nan() -> None:
    with pytest.raises(InvalidInput) as exc:
        point_lonlat([math.nan, LAT], field="p")
    assert exc.value.field == "p.coordinates"


# --- ServiceArea --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24.5,60.0,25.3,60.4", ServiceArea(24.5, 60.0, 25.3, 60.4, 0.5)),
        (" 24.5, 60 ,25.3 , 60.4", ServiceArea(24.5, 60.0, 25.3, 60.4, 0.5)),
        ("120.8,30.6,122.2,31.9,1.5", ServiceArea(120.8, 30.6, 122.2, 31.9, 1.5)),
        ("-74.3,40.5,-73.7,40.9", ServiceArea(-74.3, 40.5, -73.7, 40.9)),
    ],
)
def test_service_area_parse_good(text: str, expected: ServiceArea) -> None:
    area = ServiceArea.parse(text)
    assert area == expected


@pytest.mark.parametrize("text", [None, ""])
def test_service_area_parse_empty_means_no_check(text: str | None) -> None:
    assert ServiceArea.parse(text) is None


@pytest.mark.parametrize(
    "text",
    ["24.5,60.0,25.3", "1,2,3,4,5,6", "a,b,c,d", "24.5;60.0;25.3;60.4", "24.5,,25.3,60.4"],
)
def test_service_area_parse_bad(text: str) -> None:
    with pytest.raises(ValueError):
        ServiceArea.parse(text)


def test_service_area_as_list_is_lon_lat_box() -> None:
    assert HELSINKI.as_list() == [24.5, 60.0, 25.3, 60.4]


# --- to_geojson ---------------------------------------------------------------------------


def test_to_geojson_point_is_lon_lat_rounded_to_7_decimals() -> None:
    out = to_geojson(Point(24.123456789, 60.987654321))
    assert out is not None
    assert out["type"] == "Point"
    lon, lat = out["coordinates"]
    assert lon == pytest.approx(24.1234568, abs=1e-12)
    assert lat == pytest.approx(60.9876543, abs=1e-12)


def test_to_geojson_round_trips_parse_geometry() -> None:
    out = to_geojson(parse_geometry(POINT))
    assert out == {"type": "Point", "coordinates": (LON, LAT)}


def test_to_geojson_polygon_vertices_rounded() -> None:
    poly = Polygon([(0.0, 0.0), (1.123456789, 0.0), (1.0, 1.987654321), (0.0, 0.0)])
    out = to_geojson(poly)
    assert out is not None
    assert out["type"] == "Polygon"
    coords = [c for ring in out["coordinates"] for pt in ring for c in pt]
    assert all(c == pytest.approx(round(c, 7), abs=1e-12) for c in coords)
    vertices = sorted({(round(x, 9), round(y, 9)) for x, y in out["coordinates"][0]})
    assert vertices == [(0.0, 0.0), (1.0, 1.9876543), (1.1234568, 0.0)]


def test_to_geojson_none_is_none() -> None:
    assert to_geojson(None) is None


def test_to_geojson_exterior_ring_is_counterclockwise() -> None:
    poly = parse_geometry(POLYGON)
    assert poly.exterior.is_ccw  # the input follows the right-hand rule
    out = to_geojson(poly)
    assert out is not None
    assert shapely.LinearRing(out["coordinates"][0]).is_ccw
