"""The dispatcher console page and the printable incident snapshot, over the Flask test client.

The snapshot is checked on a real incident of the Helsinki demo city (seeded in the test's
transaction) after a real dispatch, on the real central Helsinki road graph.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gis.demo import helsinki_demo_layers
from tests.web.test_dispatch_api import engine  # noqa: F401  (fixture)

#: The Ateneum art museum on Kaivokatu, across the square from the central railway station.
ATENEUM = (24.9445, 60.1700)
#: An external reference in a tag that loads something: a script, a stylesheet, an image, a
#: frame, or a CSS url()/@import.
EXTERNAL = re.compile(
    r"<(?:script|link|img|iframe|source|embed|object)\b[^>]*\b(?:src|href|data)\s*=\s*"
    r"[\"']?\s*(?:https?:)?//"
    r"|url\(\s*[\"']?\s*(?:https?:)?//"
    r"|@import\s+[\"']?(?:url\()?\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)


def login(client, name: str = "t-dispatcher", lang: str | None = None) -> None:
    r = client.post("/login", data={"name": name, "password": "password-123"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    if lang:
        client.get(f"/console?lang={lang}")  # remembered in the lang cookie


def test_console_needs_a_login(client, tokens):
    r = client.get("/console")
    assert r.status_code == 302
    assert "/login" in r.headers["Location"] and "console" in r.headers["Location"]


def test_console_renders_in_chinese_by_default_and_in_english(client, tokens):
    login(client)
    zh = client.get("/console")
    assert zh.status_code == 200
    page = zh.get_data(as_text=True)
    assert '<html lang="zh-CN"' in page
    for asset in ("/vendor/leaflet/leaflet.js", "/static/js/common.js", "/static/js/console.js"):
        assert asset in page
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    strings = _i18n(page)
    assert strings["lang"].startswith("zh")
    # The page's JS strings and the vocabularies the console labels types and statuses with.
    assert {"live", "plan", "eta", "not_available", "cap_download"} <= set(strings["strings"])
    assert strings["vocab"]["incident_type"]["accident.fire.urban"] == "城市火灾"
    assert 'data-can-write="true"' in page

    en = client.get("/console?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in en
    assert "Dispatch console" in en and "New incident" in en
    assert _i18n(en)["strings"]["plan"] == "Plan"
    assert _i18n(en)["vocab"]["incident_type"]["accident.fire.urban"] == "Urban fire"


def test_a_viewer_gets_the_console_read_only(client, tokens):
    login(client, "t-viewer")
    page = client.get("/console").get_data(as_text=True)
    assert 'data-can-write="false"' in page
    assert re.search(r'<button id="new-incident"[^>]*disabled', page)


def _i18n(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', page, re.S)
    assert m, "the page has no i18n block"
    return json.loads(m.group(1))


# --- snapshot --------------------------------------------------------------------------------


@pytest.fixture
def city(session, engine):
    from app.services.demo import seed_layers

    counts = seed_layers(session, helsinki_demo_layers())
    assert all(counts.values())
    return counts


def _incident_dispatched(client, auth) -> tuple[int, dict]:
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(ATENEUM)},
        "properties": {"type": "accident.fire.urban", "title": "Ateneum 火灾 fire"},
    }
    r = client.post("/api/v1/incidents", json=body, headers=auth["dispatcher"])
    assert r.status_code == 201, r.get_json()
    incident_id = r.get_json()["id"]
    r = client.post(f"/api/v1/incidents/{incident_id}/dispatch", headers=auth["dispatcher"])
    assert r.status_code == 201, r.get_json()
    return incident_id, r.get_json()


def test_snapshot_is_one_standalone_file_with_the_incident_and_its_routes(
    client, auth, city, session
):
    incident_id, dispatched = _incident_dispatched(client, auth)
    teams = [d for d in dispatched["dispatches"] if d["kind"] == "team"]
    assert teams and all(d["route"] for d in teams)

    r = client.get(f"/incidents/{incident_id}/snapshot.html", headers=auth["viewer"])
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    # Standalone: no script, style, image or font fetched from anywhere; Leaflet is inline.
    assert not EXTERNAL.search(page), EXTERNAL.search(page)
    assert "cdn." not in page and "jquery" not in page.lower() and "bootstrap" not in page
    assert "<script src" not in page and '<link rel="stylesheet"' not in page
    assert "L.map(" in page and ".leaflet-container" in page  # Leaflet's JS and CSS, inlined
    assert "data:image/png;base64," in page  # Leaflet's control images as data URIs
    assert "tileLayer" not in page.split("L.map(", 1)[1]  # no tile layer
    # The incident: its title, type and position; a legend and print CSS.
    assert "Ateneum 火灾 fire" in page and "城市火灾" in page
    assert f"{ATENEUM[1]:.5f}° N, {ATENEUM[0]:.5f}° E" in page
    assert "图例 Legend" in page and "@media print" in page
    # Every dispatched route is drawn: its coordinates (lat, lon) are in the map script.
    for d in teams:
        lon, lat = d["route"]["coordinates"][-1]
        assert f"[{lat}, {lon}]" in page
    # The dispatch table lists every dispatch with its team or stock.
    table = page.split('id="snap-dispatches"', 1)[1]
    assert table.count("<tr>") == 1 + len(dispatched["dispatches"])
    from gis.models import Team

    for d in teams:
        assert session.get(Team, d["team_id"]).name in table
    # Roads of the graph are the background: a polyline of many road pieces.
    assert page.count("L.polyline(") >= 1 + len(teams)

    download = client.get(
        f"/incidents/{incident_id}/snapshot.html?download=1", headers=auth["viewer"]
    )
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert f"onemap-incident-{incident_id}-snapshot.html" in download.headers["Content-Disposition"]


def test_snapshot_service_counts_what_it_draws(app, city, session, client, auth):
    import xstatic.pkg.leaflet as leaflet

    from app.services import snapshot

    incident_id, dispatched = _incident_dispatched(client, auth)
    snap = snapshot.render(
        session,
        app.extensions["onemap"].graphs,
        incident_id,
        leaflet_dir=Path(leaflet.BASE_DIR),
    )
    teams = [d for d in dispatched["dispatches"] if d["kind"] == "team"]
    assert snap.routes == len(teams) and snap.teams == len(teams)
    assert snap.shelters > 0 and snap.road_pieces > 50 and snap.alert_areas == 0


def test_snapshot_needs_a_login_and_an_existing_incident(client, tokens, auth):
    r = client.get("/incidents/1/snapshot.html")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    r = client.get("/incidents/999999/snapshot.html", headers=auth["viewer"])
    assert r.status_code == 404
    assert r.get_json()["error"]["field"] == "id"
