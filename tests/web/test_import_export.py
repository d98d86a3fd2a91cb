"""Imports are all or nothing, in any CRS; exports give back what was stored."""

from __future__ import annotations

import io
import json

FC = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.94 + i / 1000, 60.17]},
            "properties": {"name": f"Shelter {i}", "capacity": 100 + i},
        }
        for i in range(5)
    ],
}


def count(client, h, kind="shelters"):
    return len(client.get(f"/api/v1/layers/{kind}?limit=500", headers=h).get_json()["features"])


def test_import_geojson_then_export(client, auth):
    h = auth["dispatcher"]
    r = client.post(
        "/api/v1/layers/shelters/import",
        data=json.dumps(FC),
        headers=h,
        content_type="application/geo+json",
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["imported"] == 5
    r = client.get("/api/v1/layers/shelters/export", headers=h)
    assert r.headers["Content-Disposition"] == 'attachment; filename="shelters.geojson"'
    exported = json.loads(r.get_data(as_text=True))
    assert sorted(f["properties"]["capacity"] for f in exported["features"]) == [
        100,
        101,
        102,
        103,
        104,
    ]
    assert exported["features"][0]["geometry"]["coordinates"] == [24.94, 60.17]


def test_one_bad_feature_rejects_the_whole_file(client, auth):
    h = auth["dispatcher"]
    bad = json.loads(json.dumps(FC))
    bad["features"][3]["properties"]["capacity"] = -1
    r = client.post(
        "/api/v1/layers/shelters/import",
        data=json.dumps(bad),
        headers=h,
        content_type="application/geo+json",
    )
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["field"] == "features[3].properties.capacity"
    assert err["message"].startswith("feature 4:")
    assert err["row"] == 4
    assert count(client, h) == 0


def test_csv_import_multipart_with_bad_row_number(client, auth):
    h = auth["dispatcher"]
    csv_text = "name,type,lon,lat,headcount\nA,fire,24.94,60.17,5\nB,medical,24.95,60.17,4\nC,dragon,24.95,60.171,3\n"
    r = client.post(
        "/api/v1/layers/teams/import",
        data={"file": (io.BytesIO(csv_text.encode()), "teams.csv")},
        headers=h,
    )
    assert r.status_code == 422
    assert r.get_json()["error"]["message"].startswith("row 4:")
    assert count(client, h, "teams") == 0
    good = csv_text.replace("dragon", "rescue")
    r = client.post(
        "/api/v1/layers/teams/import",
        data={"file": (io.BytesIO(good.encode()), "teams.csv")},
        headers=h,
    )
    assert r.status_code == 201
    assert count(client, h, "teams") == 3


def test_csv_in_cgcs2000_and_projected_crs(client, auth):
    h = auth["dispatcher"]
    text = "name,capacity,lon,lat\n人民避难场所,300,24.945,60.17\n"
    r = client.post(
        "/api/v1/layers/shelters/import?crs=EPSG:4490",
        data=text.encode("gb18030"),
        headers=h,
        content_type="text/csv",
    )
    assert r.status_code == 201, r.get_json()
    # ETRS-TM35FIN (EPSG:3067) metres; the point lies in central Helsinki.
    text = "name,capacity,x,y\nProjected,100,385700,6672200\n"
    r = client.post(
        "/api/v1/layers/shelters/import?crs=EPSG:3067",
        data=text.encode(),
        headers=h,
        content_type="text/csv",
    )
    assert r.status_code == 201, r.get_json()
    feats = {
        f["properties"]["name"]: f
        for f in client.get("/api/v1/layers/shelters", headers=h).get_json()["features"]
    }
    lon, lat = feats["Projected"]["geometry"]["coordinates"]
    assert 24.9 < lon < 25.0 and 60.16 < lat < 60.18
    assert feats["人民避难场所"]["geometry"]["coordinates"] == [24.945, 60.17]


def test_unknown_crs_and_format(client, auth):
    h = auth["dispatcher"]
    r = client.post(
        "/api/v1/layers/shelters/import?crs=EPSG:999999",
        data=json.dumps(FC),
        headers=h,
        content_type="application/geo+json",
    )
    assert r.status_code == 422
    assert r.get_json()["error"]["field"] == "crs"
    r = client.post("/api/v1/layers/shelters/import?format=xlsx", data=b"x", headers=h)
    assert r.get_json()["error"]["field"] == "format"


def test_import_needs_dispatcher(client, auth):
    r = client.post(
        "/api/v1/layers/shelters/import",
        data=json.dumps(FC),
        headers=auth["viewer"],
        content_type="application/geo+json",
    )
    assert r.status_code == 403
