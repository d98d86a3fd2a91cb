"""Pages (login, the map, Leaflet served locally) and the command line."""

from __future__ import annotations

import json


def test_map_needs_login_and_serves_leaflet_locally(client, tokens):
    r = client.get("/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.post("/login", data={"name": "t-dispatcher", "password": "bad-password"})
    assert r.status_code == 401
    r = client.post("/login?next=/", data={"name": "t-dispatcher", "password": "password-123"})
    assert r.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "/vendor/leaflet/leaflet.js" in page
    assert "http://" not in page and "https://" not in page  # nothing from another host
    with client.get("/vendor/leaflet/leaflet.js") as js:
        assert js.status_code == 200 and b"Leaflet" in js.data[:400]
    with client.get("/static/js/map.js") as js:
        assert js.status_code == 200


def test_open_redirect_refused(client, tokens):
    r = client.post(
        "/login?next=//evil.example", data={"name": "t-admin", "password": "password-123"}
    )
    assert r.headers["Location"] == "/"


def test_cli_user_token_and_import(runner, client, tmp_path):
    r = runner.invoke(
        args=["user", "create", "ops", "--role", "dispatcher", "--password", "long-password"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        args=["user", "create", "ops", "--role", "dispatcher", "--password", "long-password"]
    )
    assert r.exit_code == 2 and "exists" in r.output
    r = runner.invoke(args=["token", "create", "ops"])
    token = r.output.strip()
    assert r.exit_code == 0 and token.startswith("om_")
    h = {"Authorization": f"Bearer {token}"}

    path = tmp_path / "hazards.csv"
    path.write_text("name,type,risk_level,x,y\nGas station,gas_station,high,385700,6672200\n")
    r = runner.invoke(args=["layers", "import", "hazards", str(path), "--crs", "EPSG:3067"])
    assert r.exit_code == 0, r.output
    fc = client.get("/api/v1/layers/hazards", headers=h).get_json()
    assert [f["properties"]["name"] for f in fc["features"]] == ["Gas station"]

    path.write_text("name,type,lon,lat\nBad,volcano,24.94,60.17\n")
    r = runner.invoke(args=["layers", "import", "hazards", str(path)])
    assert r.exit_code == 2 and "row 2" in r.output and "volcano" in r.output

    r = runner.invoke(args=["layers", "export", "hazards"])
    assert json.loads(r.output)["features"][0]["properties"]["type"] == "gas_station"

    r = runner.invoke(args=["token", "revoke", "ops"])
    assert r.exit_code == 0
    assert client.get("/api/v1/layers/hazards", headers=h).status_code == 401
