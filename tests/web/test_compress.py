"""Answers are gzipped for clients that accept it (slow field links), and only when it pays."""

from __future__ import annotations

import gzip
import json

GZ = {"Accept-Encoding": "gzip, deflate"}


def test_leaflet_is_sent_gzipped_and_revalidates(client, monkeypatch):
    with client.get("/vendor/leaflet/leaflet.js") as plain:  # closes the file it streams
        assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
        body = plain.get_data()
    packed = client.get("/vendor/leaflet/leaflet.js", headers=GZ)
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == body
    assert len(packed.get_data()) < 0.4 * len(body)
    from app import compress

    calls = []
    real = compress.gzip.compress
    monkeypatch.setattr(compress.gzip, "compress", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = client.get("/vendor/leaflet/leaflet.js", headers=GZ)
    assert again.get_data() == packed.get_data()
    assert calls == []  # a static file is compressed once per version, then kept
    etag = packed.headers["ETag"]
    assert etag.startswith("W/")
    with client.get("/vendor/leaflet/leaflet.js", headers={**GZ, "If-None-Match": etag}) as cond:
        assert cond.status_code == 304


def test_geojson_is_gzipped_small_json_is_not(client, auth):
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [24.94 + i * 1e-4, 60.17]},
                "properties": {"name": f"Shelter {i}", "capacity": 100 + i},
            }
            for i in range(40)
        ],
    }
    h = auth["dispatcher"]
    r = client.post(
        "/api/v1/layers/shelters/import",
        data=json.dumps(fc),
        headers=h,
        content_type="application/geo+json",
    )
    assert r.status_code == 201, r.get_json()
    packed = client.get("/api/v1/layers/shelters?limit=100", headers={**h, **GZ})
    assert packed.headers["Content-Encoding"] == "gzip"
    doc = json.loads(gzip.decompress(packed.get_data()))
    assert len(doc["features"]) == 40
    small = client.get("/api/v1/health", headers=GZ)
    assert "Content-Encoding" not in small.headers


def test_nothing_is_gzipped_for_a_client_that_does_not_ask(client, auth):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and "Content-Encoding" not in r.headers
    assert r.get_json()["openapi"].startswith("3")
