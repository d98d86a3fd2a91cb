"""The layer API end to end over the Flask test client, on the real PostGIS and Redis."""

from __future__ import annotations

import json

import pytest

P = [24.945, 60.17]

SAMPLES = {
    "depots": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": P},
        "properties": {
            "name": "中央储备库",
            "name_en": "Central depot",
            "stock": [
                {"item_code": "TENT-12", "name_zh": "帐篷", "unit": "顶", "on_hand": 40},
                {"item_code": "WATER-5L", "on_hand": 500, "reserved": 20},
            ],
        },
    },
    "shelters": {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[24.94, 60.17], [24.942, 60.17], [24.942, 60.171], [24.94, 60.17]]],
        },
        "properties": {
            "name": "Ressun lukio",
            "capacity": 400,
            "occupancy": 10,
            "facilities": ["water"],
        },
    },
    "teams": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": P},
        "properties": {
            "name": "Fire 1",
            "type": "fire",
            "capabilities": ["aerial_ladder"],
            "headcount": 6,
            "home_base": [24.946, 60.171],
            "status": "available",
            "position_reported_at": "2026-11-25T08:30:00+08:00",
        },
    },
    "hazards": {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": P},
        "properties": {
            "name": "Kolera-allas",
            "type": "flood_prone",
            "risk_level": "high",
            "influence": {
                "type": "Polygon",
                "coordinates": [
                    [[24.94, 60.165], [24.95, 60.165], [24.95, 60.175], [24.94, 60.165]]
                ],
            },
            "monitoring": {"sensor": "water_level", "unit": "cm", "warn": 80, "alarm": 120},
        },
    },
}


def post(client, url, body, headers):
    return client.post(url, data=json.dumps(body), headers=headers, content_type="application/json")


@pytest.mark.parametrize("kind", list(SAMPLES))
def test_create_get_update_delete_each_layer(client, auth, kind, session):
    h = auth["dispatcher"]
    r = post(client, f"/api/v1/layers/{kind}", SAMPLES[kind], h)
    assert r.status_code == 201, r.get_json()
    feature = r.get_json()
    rid = feature["id"]
    assert feature["type"] == "Feature"
    assert feature["properties"]["version"] == 1
    assert r.headers["Location"].endswith(f"/api/v1/layers/{kind}/{rid}")

    got = client.get(f"/api/v1/layers/{kind}/{rid}", headers=auth["viewer"]).get_json()
    assert got["geometry"]["type"] == SAMPLES[kind]["geometry"]["type"]
    assert got["properties"]["name"] == SAMPLES[kind]["properties"]["name"]

    upd = {"type": "Feature", "properties": {"version": 1, "notes": "checked"}}
    r = client.patch(f"/api/v1/layers/{kind}/{rid}", json=upd, headers=h)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["properties"]["version"] == 2
    assert r.get_json()["properties"]["notes"] == "checked"

    # A write carrying the version that was current before gets 409 and changes nothing.
    stale = {"type": "Feature", "properties": {"version": 1, "notes": "stale"}}
    r = client.patch(f"/api/v1/layers/{kind}/{rid}", json=stale, headers=h)
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "stale_version"
    assert (
        client.get(f"/api/v1/layers/{kind}/{rid}", headers=h).get_json()["properties"]["notes"]
        == "checked"
    )

    assert client.delete(f"/api/v1/layers/{kind}/{rid}?version=1", headers=h).status_code == 409
    assert client.delete(f"/api/v1/layers/{kind}/{rid}?version=2", headers=h).status_code == 204
    assert client.get(f"/api/v1/layers/{kind}/{rid}", headers=h).status_code == 404

    actions = [
        e["action"]
        for e in client.get(f"/api/v1/audit?entity={kind}&entity_id={rid}", headers=h).get_json()[
            "entries"
        ]
    ]
    assert actions == ["delete", "update", "create"]


def test_answers_are_rfc7946_lon_lat(client, auth):
    r = post(client, "/api/v1/layers/teams", SAMPLES["teams"], auth["dispatcher"])
    props = r.get_json()["properties"]
    assert r.get_json()["geometry"]["coordinates"] == P
    assert props["home_base"] == [24.946, 60.171]
    assert props["position_reported_at"] == "2026-11-25T00:30:00+00:00"
    assert r.headers["ETag"] == 'W/"1"'


def test_depot_stock_is_returned_with_available(client, auth):
    r = post(client, "/api/v1/layers/depots", SAMPLES["depots"], auth["dispatcher"])
    stock = {s["item_code"]: s for s in r.get_json()["properties"]["stock"]}
    assert stock["WATER-5L"]["available"] == 480
    assert stock["TENT-12"]["reserved"] == 0


def test_update_with_if_match_header(client, auth):
    h = auth["dispatcher"]
    rid = post(client, "/api/v1/layers/shelters", SAMPLES["shelters"], h).get_json()["id"]
    body = {"type": "Feature", "properties": {"occupancy": 50}}
    r = client.patch(
        f"/api/v1/layers/shelters/{rid}", json=body, headers={**h, "If-Match": 'W/"1"'}
    )
    assert r.status_code == 200
    r = client.patch(f"/api/v1/layers/shelters/{rid}", json=body, headers={**h, "If-Match": '"1"'})
    assert r.status_code == 409
    r = client.patch(f"/api/v1/layers/shelters/{rid}", json=body, headers=h)
    assert r.status_code == 400
    assert r.get_json()["error"]["field"] == "properties.version"


def test_team_status_transition_enforced(client, auth):
    h = auth["dispatcher"]
    rid = post(client, "/api/v1/layers/teams", SAMPLES["teams"], h).get_json()["id"]
    r = client.patch(
        f"/api/v1/layers/teams/{rid}",
        json={"type": "Feature", "properties": {"version": 1, "status": "on_scene"}},
        headers=h,
    )
    assert r.status_code == 409
    assert r.get_json()["error"]["field"] == "properties.status"
    r = client.patch(
        f"/api/v1/layers/teams/{rid}",
        json={"type": "Feature", "properties": {"version": 1, "status": "dispatched"}},
        headers=h,
    )
    assert r.status_code == 200


def _make_teams(client, h, n):
    ids = []
    for i in range(n):
        body = json.loads(json.dumps(SAMPLES["teams"]))
        body["properties"]["name"] = f"Team {i}"
        body["properties"]["type"] = "fire" if i % 2 else "medical"
        body["geometry"]["coordinates"] = [24.94 + i * 0.001, 60.17]
        ids.append(post(client, "/api/v1/layers/teams", body, h).get_json()["id"])
    return ids


def test_list_bbox_filters_and_next_link(client, auth):
    h = auth["viewer"]
    ids = _make_teams(client, auth["dispatcher"], 7)
    fc = client.get("/api/v1/layers/teams?limit=3", headers=h).get_json()
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == ids[:3]
    nxt = next(link["href"] for link in fc["links"] if link["rel"] == "next")
    fc2 = client.get(nxt, headers=h).get_json()
    assert [f["id"] for f in fc2["features"]] == ids[3:6]
    last = client.get(
        next(link["href"] for link in fc2["links"] if link["rel"] == "next"), headers=h
    ).get_json()
    assert [f["id"] for f in last["features"]] == ids[6:]
    assert not [link for link in last["links"] if link["rel"] == "next"]

    fire = client.get("/api/v1/layers/teams?type=fire", headers=h).get_json()
    assert {f["properties"]["type"] for f in fire["features"]} == {"fire"}
    assert len(fire["features"]) == 3

    box = client.get(
        "/api/v1/layers/teams?bbox=24.9395,60.169,24.9425,60.171", headers=h
    ).get_json()
    assert [f["id"] for f in box["features"]] == ids[:3]

    q = client.get("/api/v1/layers/teams?q=team%205", headers=h).get_json()
    assert [f["id"] for f in q["features"]] == [ids[5]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("bbox=1,2,3", "bbox"),
        ("bbox=a,b,c,d", "bbox"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("colour=red", "colour"),
        ("type=dragon", "type"),
        ("limit=999999", "limit"),
    ],
)
def test_list_bad_query(client, auth, query, field):
    r = client.get(f"/api/v1/layers/teams?{query}", headers=auth["viewer"])
    assert r.status_code == 400
    assert r.get_json()["error"]["field"] == field


def _bad(props=None, geometry=None, kind="shelters"):
    body = json.loads(json.dumps(SAMPLES[kind]))
    body["properties"].update(props or {})
    if geometry is not None:
        body["geometry"] = geometry
    return body


BAD_INPUTS = [
    ("not json", b"{broken", 400, "body"),
    ("not a feature", {"type": "Point", "coordinates": P}, 400, "type"),
    ("unknown field", _bad({"colour": "red"}), 422, "properties.colour"),
    ("negative capacity", _bad({"capacity": -5}), 422, "properties.capacity"),
    ("occupancy over capacity", _bad({"occupancy": 401}), 422, "properties.occupancy"),
    ("unknown enum", _bad({"status": "half-open"}), 422, "properties.status"),
    ("string capacity", _bad({"capacity": "many"}), 422, "properties.capacity"),
    ("missing required", _bad({"name": None}), 422, "properties.name"),
    ("empty geometry", _bad(geometry={"type": "Polygon", "coordinates": []}), 422, "geometry"),
    (
        "invalid polygon",
        _bad(
            geometry={
                "type": "Polygon",
                "coordinates": [
                    [[24.94, 60.17], [24.95, 60.18], [24.95, 60.17], [24.94, 60.18], [24.94, 60.17]]
                ],
            }
        ),
        422,
        "geometry",
    ),
    (
        "garbage coordinates",
        _bad(geometry={"type": "Point", "coordinates": ["a", "b"]}),
        400,
        "geometry.coordinates",
    ),
    (
        "lat out of range",
        _bad(geometry={"type": "Point", "coordinates": [24.94, 160.17]}),
        422,
        "geometry.coordinates",
    ),
    (
        "swapped lat lon",
        _bad(geometry={"type": "Point", "coordinates": [60.17, 24.945]}),
        422,
        "geometry.coordinates",
    ),
    (
        "point in the sea",
        _bad(geometry={"type": "Point", "coordinates": [-30.0, 40.0]}),
        422,
        "geometry.coordinates",
    ),
    (
        "geometry type not allowed",
        _bad(geometry={"type": "LineString", "coordinates": [P, [24.95, 60.17]]}),
        422,
        "geometry.type",
    ),
    (
        "negative stock",
        _bad({"stock": [{"item_code": "X", "on_hand": -1}]}, kind="depots"),
        422,
        "properties.stock[0].on_hand",
    ),
    (
        "reserved over on hand",
        _bad({"stock": [{"item_code": "X", "on_hand": 1, "reserved": 2}]}, kind="depots"),
        422,
        "properties.stock[0].reserved",
    ),
    ("unknown team type", _bad({"type": "dragon_riders"}, kind="teams"), 422, "properties.type"),
    (
        "time without offset",
        _bad({"position_reported_at": "2026-11-25T08:30:00"}, kind="teams"),
        422,
        "properties.position_reported_at",
    ),
]


@pytest.mark.parametrize(
    ("label", "body", "status", "field"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
def test_bad_input_is_a_clear_4xx_and_writes_nothing(client, auth, label, body, status, field):
    text = body.decode() if isinstance(body, bytes) else json.dumps(body)
    kind = "depots" if '"stock"' in text else "teams" if '"headcount"' in text else "shelters"
    data = body if isinstance(body, bytes) else json.dumps(body)
    r = client.post(
        f"/api/v1/layers/{kind}",
        data=data,
        headers=auth["dispatcher"],
        content_type="application/json",
    )
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert err["field"] == field
    assert err["message"]
    assert "Traceback" not in r.get_data(as_text=True)
    assert client.get(f"/api/v1/layers/{kind}", headers=auth["viewer"]).get_json()["features"] == []


def test_swapped_coordinates_get_a_hint(client, auth):
    r = post(
        client,
        "/api/v1/layers/shelters",
        _bad(geometry={"type": "Point", "coordinates": [60.17, 24.945]}),
        auth["dispatcher"],
    )
    assert "swapped" in r.get_json()["error"]["message"]
    assert "[24.945000, 60.170000]" in r.get_json()["error"]["message"]


def test_upload_over_the_limit_is_413(client, auth):
    big = b'{"type": "FeatureCollection", "features": [' + b" " * (300 * 1024) + b"]}"
    r = client.post(
        "/api/v1/layers/shelters/import",
        data=big,
        headers=auth["dispatcher"],
        content_type="application/geo+json",
    )
    assert r.status_code == 413
    assert r.get_json()["error"]["field"] == "body"


def test_unknown_layer_and_row(client, auth):
    r = client.get("/api/v1/layers/dragons", headers=auth["viewer"])
    assert r.status_code == 404
    assert r.get_json()["error"]["field"] == "kind"
    assert client.get("/api/v1/layers/teams/999999", headers=auth["viewer"]).status_code == 404


def test_incident_crud_and_type_from_taxonomy(client, auth):
    h = auth["dispatcher"]
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": P},
        "properties": {
            "type": "accident.fire.high_rise",
            "level": "III",
            "title": "高层住宅火灾",
            "injured": 3,
        },
    }
    r = post(client, "/api/v1/incidents", body, h)
    assert r.status_code == 201, r.get_json()
    rid = r.get_json()["id"]
    assert r.headers["Location"].endswith(f"/api/v1/incidents/{rid}")
    assert r.get_json()["properties"]["status"] == "reported"
    bad = json.loads(json.dumps(body))
    bad["properties"]["type"] = "accident.fire.volcano"
    r = post(client, "/api/v1/incidents", bad, h)
    assert r.status_code == 422
    assert r.get_json()["error"]["field"] == "properties.type"
    bad["properties"].update(type="accident.fire", level="V")
    assert (
        post(client, "/api/v1/incidents", bad, h).get_json()["error"]["field"] == "properties.level"
    )
    r = client.patch(
        f"/api/v1/incidents/{rid}",
        json={"type": "Feature", "properties": {"version": 1, "status": "responding"}},
        headers=h,
    )
    assert r.get_json()["properties"]["status"] == "responding"
    assert [f["id"] for f in client.get("/api/v1/incidents", headers=h).get_json()["features"]] == [
        rid
    ]


def test_writes_need_dispatcher_reads_need_login(client, auth):
    assert client.get("/api/v1/layers/teams").status_code == 401
    r = post(client, "/api/v1/layers/teams", SAMPLES["teams"], auth["viewer"])
    assert r.status_code == 403
    assert post(client, "/api/v1/layers/teams", SAMPLES["teams"], auth["admin"]).status_code == 201
    assert (
        client.get(
            "/api/v1/layers/teams", headers={"Authorization": "Bearer om_forged"}
        ).status_code
        == 401
    )
    assert (
        client.get("/api/v1/layers/teams", headers={"Authorization": "Basic abc"}).status_code
        == 401
    )


def test_events_published_on_redis(client, auth, redis_client):
    r = post(client, "/api/v1/layers/teams", SAMPLES["teams"], auth["dispatcher"])
    entries = redis_client.xrange("onemap:stream")
    events = [json.loads(fields[b"data"]) for _, fields in entries]
    assert events[-1]["event"] == "teams.created"
    assert events[-1]["id"] == r.get_json()["id"]


def test_openapi_describes_every_layer(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for kind in SAMPLES:
        assert f"/api/v1/layers/{kind}" in spec["paths"]
        assert f"/api/v1/layers/{kind}/import" in spec["paths"]
    assert "/api/v1/incidents/{row_id}" in spec["paths"]
    team = spec["components"]["schemas"]["teams"]["properties"]["properties"]
    assert "dispatched" in team["properties"]["status"]["enum"]
    assert team["additionalProperties"] is False


def test_incident_types_listed(client):
    body = client.get("/api/v1/incident-types").get_json()
    codes = {t["code"] for t in body["types"]}
    assert {"accident.hazmat.leak", "natural.geological.landslide"} <= codes
    assert [lv["code"] for lv in body["levels"]] == ["I", "II", "III", "IV"]


def test_health(client):
    body = client.get("/api/v1/health").get_json()
    assert body["checks"] == {"database": "ok", "redis": "ok"}


def test_unexpected_error_is_json_without_trace(app, client, auth, monkeypatch):
    from app.services import layers

    def boom(*a, **k):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(layers, "listing", boom)
    r = client.get("/api/v1/layers/teams", headers=auth["viewer"])
    assert r.status_code == 500
    text = r.get_data(as_text=True)
    assert "secret internals" not in text and "Traceback" not in text
    assert r.get_json()["error"]["code"] == "internal"
