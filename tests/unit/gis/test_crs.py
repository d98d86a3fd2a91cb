"""gis.crs: parsing CRS names, transforming to WGS 84 lon/lat, and the local metric CRS.

Expected values are facts of the projections (central meridians, false eastings, zone
numbering), not outputs copied from pyproj.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, Polygon

from gis.crs import from_metric, is_wgs84, parse_crs, to_metric, to_wgs84, utm_crs
from gis.errors import InvalidInput

HELSINKI = (24.9384, 60.1699)
SHANGHAI = (121.4737, 31.2304)
SYDNEY = (151.2093, -33.8688)


# --- parse_crs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["EPSG:4490", "4490", 4490, " 4490 ", "epsg:4490", "urn:ogc:def:crs:EPSG::4490"],
    ids=repr,
)
def test_parse_crs_accepts_forms_of_cgcs2000(value: str | int) -> None:
    assert parse_crs(value).to_epsg() == 4490


@pytest.mark.parametrize("value", ["EPSG:3067", "3067", 3067], ids=repr)
def test_parse_crs_accepts_projected_crs(value: str | int) -> None:
    crs = parse_crs(value)
    assert crs.to_epsg() == 3067
    assert crs.is_projected


@pytest.mark.parametrize("value", ["EPSG:999999", "999999", "not a crs", "EPSG:"], ids=repr)
def test_parse_crs_refuses_unknown_crs(value: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_crs(value)
    assert exc.value.field == "crs"
    assert exc.value.status == 422
    assert repr(value) in exc.value.message


def test_parse_crs_error_names_given_field() -> None:
    with pytest.raises(InvalidInput) as exc:
        parse_crs("EPSG:999999", field="options.crs")
    assert exc.value.field == "options.crs"


# --- is_wgs84 -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "EPSG:4326", "4326", 4326, "OGC:CRS84"], ids=repr)
def test_is_wgs84_true_for_wgs84(value: str | int | None) -> None:
    assert is_wgs84(value)


@pytest.mark.parametrize("value", ["EPSG:4490", "EPSG:3067", "EPSG:32651"])
def test_is_wgs84_false_for_other_crs(value: str) -> None:
    assert not is_wgs84(value)


def test_is_wgs84_true_for_bare_crs84() -> None:
    assert is_wgs84("CRS84")


# --- to_wgs84 -----------------------------------------------------------------------------


def test_to_wgs84_is_identity_for_wgs84() -> None:
    p = Point(*SHANGHAI)
    assert to_wgs84(p, None) is p
    assert to_wgs84(p, "EPSG:4326") is p


def test_to_wgs84_from_etrs_tm35fin_false_easting_is_central_meridian() -> None:
    # ETRS-TM35FIN: transverse Mercator, central meridian 27 E, false easting 500 000 m.
    p = to_wgs84(Point(500_000.0, 6_672_000.0), "EPSG:3067")
    assert p.x == pytest.approx(27.0, abs=1e-9)
    assert 60.0 < p.y < 60.4  # 6 672 km north of the equator: southern Finland


@pytest.mark.parametrize("crs", ["EPSG:3067", "3067", 3067], ids=repr)
def test_to_wgs84_accepts_crs_in_any_form(crs: str | int) -> None:
    p = to_wgs84(Point(500_000.0, 6_672_000.0), crs)
    assert p.x == pytest.approx(27.0, abs=1e-9)


def test_to_wgs84_transverse_mercator_is_symmetric_about_central_meridian() -> None:
    east = to_wgs84(Point(500_000.0 + 40_000.0, 6_672_000.0), "EPSG:3067")
    west = to_wgs84(Point(500_000.0 - 40_000.0, 6_672_000.0), "EPSG:3067")
    assert east.x - 27.0 == pytest.approx(27.0 - west.x, abs=1e-9)
    assert east.x > 27.0
    assert east.y == pytest.approx(west.y, abs=1e-9)


def test_to_wgs84_transforms_every_vertex_of_a_polygon() -> None:
    square = Polygon(
        [(499_000, 6_671_000), (501_000, 6_671_000), (501_000, 6_673_000), (499_000, 6_673_000)]
    )
    out = to_wgs84(square, "EPSG:3067")
    assert out.geom_type == "Polygon"
    lons = shapely.get_coordinates(out)[:, 0]
    assert np.all((lons > 26.9) & (lons < 27.1))
    assert out.centroid.x == pytest.approx(27.0, abs=1e-6)


def test_to_wgs84_from_cgcs2000_keeps_x_as_longitude() -> None:
    # EPSG:4490 declares latitude first; with always_xy x stays longitude.
    p = to_wgs84(Point(*SHANGHAI), "EPSG:4490")
    assert abs(p.x - SHANGHAI[0]) < 1e-6
    assert abs(p.y - SHANGHAI[1]) < 1e-6


# --- utm_crs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lonlat", "epsg"),
    [
        (HELSINKI, "EPSG:32635"),  # 24.94 E: zone 35 (24..30 E), north
        (SHANGHAI, "EPSG:32651"),  # 121.47 E: zone 51 (120..126 E), north
        (SYDNEY, "EPSG:32756"),  # 151.21 E: zone 56 (150..156 E), south
        ((-43.1729, -22.9068), "EPSG:32723"),  # Rio de Janeiro: zone 23, south
        ((-74.006, 40.7128), "EPSG:32618"),  # New York: zone 18, north
        ((-180.0, 10.0), "EPSG:32601"),
        ((180.0, 10.0), "EPSG:32660"),
        ((179.99, -10.0), "EPSG:32760"),
        ((24.0, 60.0), "EPSG:32635"),  # a zone's western edge belongs to it
        ((23.999, 60.0), "EPSG:32634"),
        ((30.0, 0.0), "EPSG:32636"),  # the equator is in the northern zones
    ],
    ids=str,
)
def test_utm_crs(lonlat: tuple[float, float], epsg: str) -> None:
    assert utm_crs(*lonlat) == epsg


# --- to_metric / from_metric --------------------------------------------------------------


def test_to_metric_picks_utm_zone_and_central_meridian_maps_to_false_easting() -> None:
    # UTM zone 35 has its central meridian at 27 E and a false easting of 500 000 m.
    out, crs = to_metric(Point(27.0, 60.0))
    assert crs == "EPSG:32635"
    assert out.x == pytest.approx(500_000.0, abs=1e-6)
    assert 6_600_000 < out.y < 6_700_000


def test_to_metric_uses_given_crs() -> None:
    out, crs = to_metric(Point(27.0, 60.2), crs="EPSG:3067")
    assert crs == "EPSG:3067"
    assert out.x == pytest.approx(500_000.0, abs=1e-6)


@pytest.mark.parametrize(
    "geom",
    [
        Point(*HELSINKI),
        Point(*SHANGHAI),
        Point(*SYDNEY),
        Polygon([(121.47, 31.23), (121.48, 31.23), (121.48, 31.24), (121.47, 31.24)]),
    ],
    ids=["helsinki", "shanghai", "sydney", "shanghai-square"],
)
def test_to_metric_from_metric_round_trip(geom: shapely.Geometry) -> None:
    metric, crs = to_metric(geom)
    back = from_metric(metric, crs)
    assert back.geom_type == geom.geom_type
    np.testing.assert_allclose(
        shapely.get_coordinates(back), shapely.get_coordinates(geom), rtol=0, atol=1e-7
    )


@pytest.mark.parametrize("lonlat", [HELSINKI, SHANGHAI, SYDNEY], ids=["hel", "sha", "syd"])
def test_one_km_buffer_in_metric_crs_has_area_of_circle(lonlat: tuple[float, float]) -> None:
    metric, _ = to_metric(Point(*lonlat))
    area = metric.buffer(1000.0).area
    assert area == pytest.approx(math.pi * 1e6, rel=0.01)


def test_buffer_back_in_lon_lat_holds_its_centre() -> None:
    centre = Point(*HELSINKI)
    metric, crs = to_metric(centre)
    ring = from_metric(metric.buffer(1000.0), crs)
    assert ring.contains(centre)
    # 1 km north is about 0.009 deg of latitude anywhere on Earth.
    assert ring.bounds[3] - centre.y == pytest.approx(1000.0 / 111_000.0, rel=0.02)
