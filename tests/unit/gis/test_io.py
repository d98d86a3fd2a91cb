"""gis.io: reading whole GeoJSON/CSV files and single Features, all or nothing, in EPSG:4326."""

from __future__ import annotations

import json
from typing import Any

import pytest
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon

from gis.errors import GisError, InvalidInput, MalformedInput
from gis.fields import LAYERS
from gis.geometry import ServiceArea
from gis.io import Row, detect_format, read_feature, read_features

SHELTERS, TEAMS, HAZARDS = LAYERS["shelters"], LAYERS["teams"], LAYERS["hazards"]

LON, LAT = 121.4737, 31.2304  # People's Square, Shanghai
RING = [[121.47, 31.23], [121.48, 31.23], [121.48, 31.24], [121.47, 31.24], [121.47, 31.23]]
RING_2 = [[121.50, 31.20], [121.51, 31.20], [121.51, 31.21], [121.50, 31.21], [121.50, 31.20]]
POINT = {"type": "Point", "coordinates": [LON, LAT]}
POLYGON = {"type": "Polygon", "coordinates": [RING]}
MULTIPOLYGON = {"type": "MultiPolygon", "coordinates": [[RING], [RING_2]]}
BOW_TIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}

HELSINKI = ServiceArea(24.5, 60.0, 25.3, 60.4)


def feature(geometry: Any, **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def collection(*features: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features), **extra}).encode()


def shelter(geometry: Any = POINT, **props: Any) -> dict[str, Any]:
    return feature(geometry, **{"name": "人民广场避难场所", "capacity": 1200, **props})


def team(geometry: Any = POINT, **props: Any) -> dict[str, Any]:
    return feature(geometry, **{"name": "黄浦消防救援站", "type": "fire", **props})


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


# --- GeoJSON files ------------------------------------------------------------------------


def test_good_shelter_collection_reads_every_feature() -> None:
    data = collection(
        shelter(POINT, status="open"),
        shelter(POLYGON, name="复兴公园", capacity=3000, facilities=["water", "toilets"]),
        shelter(MULTIPOLYGON, name="世纪公园", capacity=0),
    )
    rows = read_features(SHELTERS, data, fmt="geojson")
    assert [r.number for r in rows] == [1, 2, 3]
    assert all(isinstance(r, Row) for r in rows)
    assert rows[0].values == {"name": "人民广场避难场所", "capacity": 1200, "status": "open"}
    assert rows[0].geom.equals_exact(Point(LON, LAT), 0.0)
    assert isinstance(rows[1].geom, Polygon)
    assert rows[1].values["facilities"] == ["water", "toilets"]
    assert isinstance(rows[2].geom, MultiPolygon)


def test_good_team_collection_reads_home_base_as_point() -> None:
    data = collection(
        team(status="available", capabilities=["aerial_ladder"], home_base=[121.48, 31.22]),
        team(name="浦东医疗队", type="medical", headcount=12),
    )
    rows = read_features(TEAMS, data, fmt="geojson")
    assert len(rows) == 2
    assert rows[0].values["home_base"].equals_exact(Point(121.48, 31.22), 0.0)
    assert rows[0].values["capabilities"] == ["aerial_ladder"]
    assert rows[1].values == {"name": "浦东医疗队", "type": "medical", "headcount": 12}


def test_a_single_feature_reads_as_a_collection_of_one() -> None:
    rows = read_features(SHELTERS, json.dumps(shelter()).encode(), fmt="geojson")
    assert len(rows) == 1


def test_bad_feature_3_is_named_by_number_and_path() -> None:
    data = collection(shelter(), shelter(), shelter(capacity=-5), shelter())
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="geojson")
    err = exc.value
    assert err.message.startswith("feature 3")
    assert str(err).startswith("feature 3")
    assert err.field == "features[2].properties.capacity"
    assert err.details["row"] == 3


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (shelter(None), "features[1].geometry"),
        (shelter(BOW_TIE), "features[1].geometry"),
        (shelter({"type": "Point", "coordinates": []}), "features[1].geometry"),
        (shelter({"type": "LineString", "coordinates": RING}), "features[1].geometry.type"),
        (shelter({"type": "Point", "coordinates": [LAT, LON]}), "features[1].geometry.coordinates"),
        (shelter(colour="red"), "features[1].properties.colour"),
        pytest.param(
            shelter(capacity=10, occupancy=11),
            "features[1].properties.occupancy",
        ),
    ],
    ids=[
        "null-geometry",
        "bow-tie",
        "empty",
        "linestring",
        "swapped",
        "unknown-field",
        "over-full",
    ],
)
def test_bad_feature_2_is_refused_naming_it(bad: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, collection(shelter(), bad), fmt="geojson")
    assert exc.value.message.startswith("feature 2: ")
    assert exc.value.field == field
    assert exc.value.details["row"] == 2


def test_team_collection_refuses_polygon_geometry() -> None:
    with pytest.raises(InvalidInput) as exc:
        read_features(TEAMS, collection(team(POLYGON)), fmt="geojson")
    assert exc.value.field == "features[0].geometry.type"


def test_service_area_applies_to_every_feature() -> None:
    data = collection(
        shelter({"type": "Point", "coordinates": [24.94, 60.17]}),
        shelter({"type": "Point", "coordinates": [60.17, 24.94]}),
    )
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="geojson", area=HELSINKI)
    assert exc.value.message.startswith("feature 2")
    assert "swapped" in exc.value.message


@pytest.mark.parametrize(
    "data",
    [b'{"type": "FeatureCollection", "features": [', b"", b"\xff\xfe\x00{", b"not json"],
    ids=["truncated", "empty", "binary", "text"],
)
def test_broken_json_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedInput) as exc:
        read_features(SHELTERS, data, fmt="geojson")
    assert exc.value.field == "file"
    assert exc.value.status == 400


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "type"),
        ("FeatureCollection", "type"),
        (POINT, "type"),
        ({"type": "GeometryCollection", "geometries": [POINT]}, "type"),
        ({"type": "FeatureCollection"}, "features"),
        ({"type": "FeatureCollection", "features": {"0": POINT}}, "features"),
        ({"type": "FeatureCollection", "features": [POINT]}, "features[0]"),
    ],
    ids=["list", "string", "geometry", "geometry-collection", "no-features", "dict", "not-feature"],
)
def test_not_a_feature_collection_is_malformed(doc: object, field: str) -> None:
    with pytest.raises(MalformedInput) as exc:
        read_features(SHELTERS, json.dumps(doc).encode(), fmt="geojson")
    assert exc.value.field == field


def test_geojson_with_utf8_bom_is_read() -> None:
    rows = read_features(SHELTERS, b"\xef\xbb\xbf" + collection(shelter()), fmt="geojson")
    assert rows[0].values["name"] == "人民广场避难场所"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, collection(shelter()), fmt="kml")
    assert exc.value.field == "format"


# --- CSV files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "y"),
    [
        ("lon", "lat"),
        ("lng", "lat"),
        ("x", "y"),
        ("longitude", "latitude"),
        ("Longitude", "Latitude"),
        ("LON", "LAT"),
    ],
)
def test_csv_with_coordinate_columns(x: str, y: str) -> None:
    data = csv_bytes(f"name,capacity,{x},{y}", f"人民广场避难场所,1200,{LON},{LAT}")
    rows = read_features(SHELTERS, data, fmt="csv")
    assert len(rows) == 1
    assert rows[0].number == 2  # the first row under the header
    assert rows[0].values == {"name": "人民广场避难场所", "capacity": 1200}
    assert rows[0].geom.equals_exact(Point(LON, LAT), 0.0)


def test_csv_columns_in_any_order_and_empty_cells_left_out() -> None:
    data = csv_bytes(
        "lat,notes,name,lon,capacity",
        f"{LAT},,A,{LON},10",
        f"{LAT},  ,B,{LON},20",
    )
    rows = read_features(SHELTERS, data, fmt="csv")
    assert [r.values for r in rows] == [
        {"name": "A", "capacity": 10},
        {"name": "B", "capacity": 20},
    ]


def test_csv_unknown_column_is_named() -> None:
    data = csv_bytes("name,capacity,lon,lat,colour", f"A,10,{LON},{LAT},red")
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.field == "columns.colour"
    assert "'colour'" in exc.value.message
    assert "capacity" in exc.value.message  # lists the known columns


def test_csv_read_only_columns_are_ignored() -> None:
    data = csv_bytes("id,version,name,capacity,lon,lat", f"7,3,A,10,{LON},{LAT}")
    rows = read_features(SHELTERS, data, fmt="csv")
    assert rows[0].values == {"name": "A", "capacity": 10}


@pytest.mark.parametrize(
    "header", ["name,capacity", "name,capacity,lon", "name,capacity,lat"], ids=str
)
def test_csv_without_coordinate_columns_is_refused(header: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, csv_bytes(header, "A,10,1"), fmt="csv")
    assert exc.value.field == "columns"


@pytest.mark.parametrize("bad", ["north", "", "31,2"], ids=repr)
def test_csv_non_numeric_lat_in_row_4_is_named(bad: str) -> None:
    data = csv_bytes(
        "name,capacity,lon,lat",
        f"A,10,{LON},{LAT}",
        f"B,10,{LON},{LAT}",
        f'C,10,{LON},"{bad}"',
        f"D,10,{LON},{LAT}",
    )
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.message.startswith("row 4")
    assert exc.value.details["row"] == 4
    assert exc.value.field.startswith("rows[4]")


def test_csv_negative_capacity_in_row_3_is_named() -> None:
    data = csv_bytes("name,capacity,lon,lat", f"A,10,{LON},{LAT}", f"B,-5,{LON},{LAT}")
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.message.startswith("row 3")
    assert exc.value.field == "rows[3].properties.capacity"
    assert exc.value.details["row"] == 3


def test_csv_non_numeric_capacity_is_named() -> None:
    data = csv_bytes("name,capacity,lon,lat", f"A,many,{LON},{LAT}")
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.message.startswith("row 2")
    assert exc.value.field.startswith("rows[2]")
    assert exc.value.field.endswith("capacity")


def test_csv_whole_float_capacity_is_read_as_int() -> None:
    rows = read_features(
        SHELTERS, csv_bytes("name,capacity,lon,lat", f"A,3.0,{LON},{LAT}"), fmt="csv"
    )
    assert rows[0].values["capacity"] == 3


def test_csv_row_with_more_cells_than_header_is_refused() -> None:
    data = csv_bytes("name,capacity,lon,lat", f"A,10,{LON},{LAT},extra")
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.message.startswith("row 2")


def test_csv_in_gb18030_decodes_chinese_names() -> None:
    data = csv_bytes(
        "name,capacity,lon,lat,address",
        f"人民广场避难场所,1200,{LON},{LAT},黄浦区人民大道",
        encoding="gb18030",
    )
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the sample really is not UTF-8
    rows = read_features(SHELTERS, data, fmt="csv")
    assert rows[0].values["name"] == "人民广场避难场所"
    assert rows[0].values["address"] == "黄浦区人民大道"


def test_csv_with_utf8_bom_reads_first_column() -> None:
    data = b"\xef\xbb\xbf" + csv_bytes(
        "name,capacity,lon,lat", f"人民广场避难场所,1200,{LON},{LAT}"
    )
    rows = read_features(SHELTERS, data, fmt="csv")
    assert rows[0].values["name"] == "人民广场避难场所"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("water;power;toilets", ["water", "power", "toilets"]),
        (" water ; power ", ["water", "power"]),
        ("water|medical", ["water", "medical"]),
        ("water;;power;", ["water", "power"]),
    ],
)
def test_csv_list_fields_split_on_semicolons(cell: str, expected: list[str]) -> None:
    data = csv_bytes("name,capacity,lon,lat,facilities", f'A,10,{LON},{LAT},"{cell}"')
    rows = read_features(SHELTERS, data, fmt="csv")
    assert rows[0].values["facilities"] == expected


def test_csv_team_tags_and_home_base() -> None:
    data = csv_bytes(
        "name,type,lon,lat,capabilities,home_base",
        f'黄浦消防救援站,fire,{LON},{LAT},aerial_ladder;foam,"[121.48, 31.22]"',
    )
    rows = read_features(TEAMS, data, fmt="csv")
    assert rows[0].values["capabilities"] == ["aerial_ladder", "foam"]
    assert rows[0].values["home_base"].equals_exact(Point(121.48, 31.22), 0.0)


def test_csv_unknown_value_in_a_list_field_is_refused() -> None:
    data = csv_bytes("name,capacity,lon,lat,facilities", f"A,10,{LON},{LAT},water;jacuzzi")
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.field == "rows[2].properties.facilities[1]"


@pytest.mark.parametrize(
    ("cell", "expected"), [("true", True), ("yes", True), ("是", True), ("0", False), ("否", False)]
)
def test_csv_bool_cells(cell: str, expected: bool) -> None:
    data = csv_bytes("name,capacity,lon,lat,demo", f"A,10,{LON},{LAT},{cell}")
    assert read_features(SHELTERS, data, fmt="csv")[0].values["demo"] is expected


def test_csv_wkt_polygon_for_shelters() -> None:
    wkt = "POLYGON ((121.47 31.23, 121.48 31.23, 121.48 31.24, 121.47 31.24, 121.47 31.23))"
    data = csv_bytes("name,capacity,wkt", f'复兴公园,3000,"{wkt}"')
    rows = read_features(SHELTERS, data, fmt="csv")
    assert rows[0].geom.equals_exact(Polygon([tuple(p) for p in RING]), 0.0)


def test_csv_wkt_geometry_not_allowed_for_layer_is_refused() -> None:
    data = csv_bytes("name,type,wkt", '站,fire,"POLYGON ((0 0, 1 0, 1 1, 0 0))"')
    with pytest.raises(InvalidInput) as exc:
        read_features(TEAMS, data, fmt="csv")
    assert exc.value.message.startswith("row 2")
    assert exc.value.field == "rows[2].geometry"


def test_csv_bad_wkt_is_named() -> None:
    data = csv_bytes("name,capacity,wkt", 'A,10,"POLYGON ((121.47 31.23, 121.48"')
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.message.startswith("row 2")
    assert exc.value.field == "rows[2].wkt"


def test_csv_empty_wkt_cell_names_the_wkt_column() -> None:
    data = csv_bytes("name,capacity,wkt", "A,10,")
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.field == "rows[2].wkt"


def test_csv_row_number_counts_records_not_lines() -> None:
    data = csv_bytes(
        "name,capacity,lon,lat,address",
        f'A,-1,{LON},{LAT},"人民大道120号\n二楼"',
        f"B,10,{LON},{LAT},x",
    )
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.message.startswith("row 2")


# --- CRS on the way in --------------------------------------------------------------------


def test_csv_in_etrs_tm35fin_is_transformed_to_lon_lat() -> None:
    # ETRS-TM35FIN: false easting 500 000 m lies on the central meridian, 27 E.
    data = csv_bytes("name,capacity,x,y", "A,10,500000,6672000")
    rows = read_features(SHELTERS, data, fmt="csv", crs="EPSG:3067")
    assert rows[0].geom.x == pytest.approx(27.0, abs=1e-9)
    assert 60.0 < rows[0].geom.y < 60.4


def test_csv_in_cgcs2000_is_accepted_as_lon_lat() -> None:
    data = csv_bytes("name,capacity,lon,lat", f"A,10,{LON},{LAT}")
    rows = read_features(SHELTERS, data, fmt="csv", crs="EPSG:4490")
    assert abs(rows[0].geom.x - LON) < 1e-6
    assert abs(rows[0].geom.y - LAT) < 1e-6


def test_projected_csv_is_checked_against_service_area_after_transform() -> None:
    data = csv_bytes("name,capacity,x,y", "A,10,385700,6672127")  # Helsinki in UTM 35N
    rows = read_features(SHELTERS, data, fmt="csv", crs="EPSG:32635", area=HELSINKI)
    assert rows[0].geom.x == pytest.approx(24.94, abs=1e-3)
    assert rows[0].geom.y == pytest.approx(60.17, abs=1e-3)


def test_unknown_crs_is_refused() -> None:
    data = csv_bytes("name,capacity,x,y", "A,10,500000,6672000")
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt="csv", crs="EPSG:999999")
    assert exc.value.field == "crs"


def _tm35fin_square() -> dict:
    ring = [[499000, 6671000], [501000, 6671000], [501000, 6673000], [499000, 6673000]]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


@pytest.mark.parametrize("name", ["urn:ogc:def:crs:EPSG::3067", "EPSG:3067"], ids=["urn", "epsg"])
def test_legacy_geojson_crs_member_is_honoured(name: str) -> None:
    legacy = {"type": "name", "properties": {"name": name}}
    data = collection(
        shelter({"type": "Point", "coordinates": [500000, 6672000]}),
        shelter(_tm35fin_square()),
        crs=legacy,
    )
    rows = read_features(SHELTERS, data, fmt="geojson")
    assert rows[0].geom.x == pytest.approx(27.0, abs=1e-9)
    assert rows[1].geom.geom_type == "Polygon"
    assert rows[1].geom.centroid.x == pytest.approx(27.0, abs=1e-6)


def test_legacy_crs84_member_means_lon_lat() -> None:
    legacy = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    rows = read_features(SHELTERS, collection(shelter(), crs=legacy), fmt="geojson")
    assert rows[0].geom.equals_exact(Point(LON, LAT), 0.0)


def test_geojson_crs_argument_transforms_features() -> None:
    data = collection(shelter({"type": "Point", "coordinates": [500000, 6672000]}))
    rows = read_features(SHELTERS, data, fmt="geojson", crs="EPSG:3067")
    assert rows[0].geom.x == pytest.approx(27.0, abs=1e-9)


def test_projected_feature_without_coordinates_is_malformed() -> None:
    data = collection(shelter({"type": "Point"}))
    with pytest.raises(MalformedInput) as exc:
        read_features(SHELTERS, data, fmt="geojson", crs="EPSG:3067")
    assert exc.value.details["row"] == 1


# --- limits and empty files ---------------------------------------------------------------


def _three_rows(fmt: str) -> bytes:
    if fmt == "csv":
        return csv_bytes("name,capacity,lon,lat", *(f"S{i},10,{LON},{LAT}" for i in range(3)))
    return collection(shelter(), shelter(), shelter())


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_max_rows_exceeded_is_refused(fmt: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, _three_rows(fmt), fmt=fmt, max_rows=2)
    assert exc.value.field == "file"
    assert "2" in exc.value.message


@pytest.mark.parametrize("fmt", ["csv", "geojson"])
def test_max_rows_reached_exactly_is_accepted(fmt: str) -> None:
    assert len(read_features(SHELTERS, _three_rows(fmt), fmt=fmt, max_rows=3)) == 3


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"name,capacity,lon,lat\n", "csv"),
        (b'{"type": "FeatureCollection", "features": []}', "geojson"),
    ],
    ids=["csv-header-only", "geojson-no-features"],
)
def test_file_without_rows_is_refused(data: bytes, fmt: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_features(SHELTERS, data, fmt=fmt)
    assert exc.value.field == "file"


@pytest.mark.parametrize("data", [b"", b"\n\n"], ids=repr)
def test_empty_csv_is_refused(data: bytes) -> None:
    with pytest.raises(GisError) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.field == "file"


def test_csv_neither_utf8_nor_gb18030_is_malformed() -> None:
    data = b"name,capacity,lon,lat\n\x81\x30\xff\xff,10,1,1\n"
    with pytest.raises(MalformedInput) as exc:
        read_features(SHELTERS, data, fmt="csv")
    assert exc.value.field == "file"


# --- detect_format ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "data", "fmt"),
    [
        ("shelters.geojson", b"", "geojson"),
        ("SHELTERS.JSON", b"name,lon", "geojson"),
        ("shelters.csv", b'{"type": "FeatureCollection"}', "csv"),
        ("shelters.txt", b"", "csv"),
        (None, b'{"type": "FeatureCollection"}', "geojson"),
        (None, b"  \n\t[", "geojson"),
        ("upload", b'\n{"type": "Feature"}', "geojson"),
        (None, b"name,capacity,lon,lat\n", "csv"),
        ("", b"", "csv"),
    ],
)
def test_detect_format(filename: str | None, data: bytes, fmt: str) -> None:
    assert detect_format(filename, data) == fmt


def test_detect_format_sees_geojson_behind_a_bom() -> None:
    assert detect_format(None, b'\xef\xbb\xbf{"type": "FeatureCollection"}') == "geojson"


# --- read_feature (one create or update body) ---------------------------------------------


def test_read_feature_create() -> None:
    values, geom = read_feature(SHELTERS, shelter(POLYGON, status="open"))
    assert values == {"name": "人民广场避难场所", "capacity": 1200, "status": "open"}
    assert isinstance(geom, Polygon)


@pytest.mark.parametrize(
    "body",
    [
        {"type": "Feature", "properties": {"name": "A", "capacity": 1}},
        {"type": "Feature", "geometry": None, "properties": {"name": "A", "capacity": 1}},
    ],
    ids=["absent", "null"],
)
def test_read_feature_create_needs_geometry(body: dict) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_feature(SHELTERS, body)
    assert exc.value.field == "geometry"


def test_read_feature_create_needs_required_properties() -> None:
    with pytest.raises(InvalidInput) as exc:
        read_feature(SHELTERS, feature(POINT, name="A"))
    assert exc.value.field == "properties.capacity"


def test_read_feature_update_without_geometry() -> None:
    body = {"type": "Feature", "properties": {"capacity": 800}}
    values, geom = read_feature(SHELTERS, body, partial=True)
    assert values == {"capacity": 800}
    assert geom is None


def test_read_feature_update_with_geometry_only() -> None:
    values, geom = read_feature(SHELTERS, {"type": "Feature", "geometry": POINT}, partial=True)
    assert values == {}
    assert geom is not None
    assert geom.equals_exact(Point(LON, LAT), 0.0)


def test_read_feature_update_still_refuses_bad_values() -> None:
    with pytest.raises(InvalidInput) as exc:
        read_feature(SHELTERS, {"type": "Feature", "properties": {"capacity": -1}}, partial=True)
    assert exc.value.field == "properties.capacity"


@pytest.mark.parametrize(
    "body",
    [None, [], POINT, {"type": "FeatureCollection", "features": []}, {"properties": {}}],
    ids=["null", "list", "geometry", "collection", "no-type"],
)
def test_read_feature_body_must_be_a_feature(body: object) -> None:
    with pytest.raises(MalformedInput) as exc:
        read_feature(SHELTERS, body)
    assert exc.value.field == "type"


def test_read_feature_checks_service_area() -> None:
    body = shelter({"type": "Point", "coordinates": [60.17, 24.94]})
    with pytest.raises(InvalidInput) as exc:
        read_feature(SHELTERS, body, area=HELSINKI)
    assert exc.value.field == "geometry.coordinates"
    assert "swapped" in exc.value.message


@pytest.mark.parametrize(
    "home_base",
    [[121.48, 31.22], {"type": "Point", "coordinates": [121.48, 31.22]}],
    ids=["pair", "geojson"],
)
def test_read_feature_team_home_base_is_a_point(home_base: object) -> None:
    values, _ = read_feature(TEAMS, team(home_base=home_base))
    assert isinstance(values["home_base"], Point)
    assert values["home_base"].equals_exact(Point(121.48, 31.22), 0.0)


@pytest.mark.parametrize(
    ("home_base", "field"),
    [
        ([121.48], "properties.home_base"),
        (["121.48", "31.22"], "properties.home_base"),
        ([31.22, 121.48], "properties.home_base.coordinates"),
        (POLYGON, "properties.home_base.type"),
    ],
    ids=["short", "strings", "lat-lon", "polygon"],
)
def test_read_feature_bad_home_base_is_named(home_base: object, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        read_feature(TEAMS, team(home_base=home_base))
    assert exc.value.field == field


def test_read_feature_home_base_refuses_booleans() -> None:
    with pytest.raises(InvalidInput):
        read_feature(TEAMS, team(home_base=[True, 31.22]))


def test_read_feature_team_update_home_base_only() -> None:
    body = {"type": "Feature", "properties": {"home_base": [121.48, 31.22]}}
    values, geom = read_feature(TEAMS, body, partial=True)
    assert geom is None
    assert isinstance(values["home_base"], Point)


def test_read_feature_hazard_influence_is_a_polygon() -> None:
    body = feature(POINT, name="化工园区", type="chemical_site", influence=POLYGON)
    values, geom = read_feature(HAZARDS, body)
    assert isinstance(geom, Point)
    assert isinstance(values["influence"], Polygon)
    assert values["influence"].equals_exact(Polygon([tuple(p) for p in RING]), 0.0)


@pytest.mark.parametrize(
    ("influence", "field"),
    [
        (POINT, "properties.influence.type"),
        (BOW_TIE, "properties.influence"),
        ({"type": "Polygon", "coordinates": []}, "properties.influence"),
    ],
    ids=["point", "bow-tie", "empty"],
)
def test_read_feature_bad_influence_is_named(influence: dict, field: str) -> None:
    body = feature(POINT, name="化工园区", type="chemical_site", influence=influence)
    with pytest.raises(InvalidInput) as exc:
        read_feature(HAZARDS, body)
    assert exc.value.field == field


def test_read_feature_null_influence_clears_it() -> None:
    body = {"type": "Feature", "properties": {"influence": None}}
    values, _ = read_feature(HAZARDS, body, partial=True)
    assert values == {"influence": None}


def test_read_feature_returns_valid_2d_geometry() -> None:
    _, geom = read_feature(SHELTERS, shelter({"type": "Point", "coordinates": [LON, LAT, 8]}))
    assert geom is not None
    assert not shapely.has_z(geom)
