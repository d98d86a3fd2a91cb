"""The population layer: a grid or points with a count, imported from GeoPackage, GeoJSON or
CSV, all or nothing like the other layers. The GeoPackage is written by GDAL (through pyogrio),
not by the project, in the Finnish metric CRS, so the reader and the reprojection are both
checked against an independent writer."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from shapely.geometry import box, shape

from gis import crs


def count(client, h) -> int:
    fc = client.get("/api/v1/layers/population?limit=5000", headers=h).get_json()
    return len(fc["features"])


def grid_gpkg(tmp_path, people: list[int]) -> bytes:
    """A 100 m population grid over central Helsinki, in EPSG:3067, written by GDAL."""
    x0, y0 = 385_900.0, 6_672_000.0  # ETRS-TM35FIN, near the railway station
    cells = [box(x0 + 100 * i, y0, x0 + 100 * (i + 1), y0 + 100) for i in range(len(people))]
    frame = gpd.GeoDataFrame(
        {"people": people, "source": ["census"] * len(people), "year": [2024] * len(people)},
        geometry=cells,
        crs="EPSG:3067",
    )
    path = tmp_path / "grid.gpkg"
    frame.to_file(path, driver="GPKG", layer="population_grid", engine="pyogrio")
    return path.read_bytes()


def test_geopackage_grid_is_imported_and_reprojected(client, auth, tmp_path):
    h = auth["dispatcher"]
    data = grid_gpkg(tmp_path, [120, 80, 0, 45])
    r = client.post(
        "/api/v1/layers/population/import?format=gpkg",
        data=data,
        headers=h,
        content_type="application/geopackage+sqlite3",
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["imported"] == 4
    fc = client.get("/api/v1/layers/population?limit=100", headers=h).get_json()
    feats = sorted(fc["features"], key=lambda f: shape(f["geometry"]).centroid.x)
    assert [f["properties"]["people"] for f in feats] == [120, 80, 0, 45]
    first = shape(feats[0]["geometry"])
    expect = crs.to_wgs84(box(385_900.0, 6_672_000.0, 386_000.0, 6_672_100.0), "EPSG:3067")
    assert first.symmetric_difference(expect).area < 1e-3 * expect.area
    assert 24.9 < first.centroid.x < 25.0 and 60.1 < first.centroid.y < 60.2


def test_geopackage_with_a_bad_row_is_refused_whole(client, auth, tmp_path):
    h = auth["dispatcher"]
    data = grid_gpkg(tmp_path, [10, 20, -5])
    r = client.post("/api/v1/layers/population/import", data=data, headers=h)
    assert r.status_code == 422, r.get_json()
    err = r.get_json()["error"]
    assert err["field"] == "features[2].properties.people"
    assert err["message"].startswith("feature 3:")
    assert count(client, h) == 0


def test_not_a_geopackage(client, auth):
    h = auth["dispatcher"]
    r = client.post(
        "/api/v1/layers/population/import?format=gpkg", data=b"SQLite format 3\x00junk", headers=h
    )
    assert 400 <= r.status_code < 500
    assert r.get_json()["error"]["field"] == "file"
    assert count(client, h) == 0


@pytest.mark.parametrize("people", ["many", 1.5])
def test_csv_points_with_counts(client, auth, people):
    h = auth["dispatcher"]
    good = "lon,lat,people\n24.9440,60.1710,350\n24.9460,60.1720,120\n"
    r = client.post("/api/v1/layers/population/import?format=csv", data=good.encode(), headers=h)
    assert r.status_code == 201, r.get_json()
    assert count(client, h) == 2
    bad = f"lon,lat,people\n24.9440,60.1710,10\n24.9460,60.1720,{people}\n"
    r = client.post("/api/v1/layers/population/import?format=csv", data=bad.encode(), headers=h)
    assert r.status_code == 422
    assert r.get_json()["error"]["field"].endswith("people")
    assert count(client, h) == 2


def test_geojson_points(client, auth):
    h = auth["dispatcher"]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [24.945, 60.17]},
                "properties": {"people": 40, "source": "register"},
            }
        ],
    }
    r = client.post(
        "/api/v1/layers/population/import",
        data=json.dumps(fc),
        headers=h,
        content_type="application/geo+json",
    )
    assert r.status_code == 201, r.get_json()
    assert count(client, h) == 1
