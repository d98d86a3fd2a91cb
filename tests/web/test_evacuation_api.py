"""Evacuation over the Flask client, on the Helsinki demo city (OSM roads, shelters and an
OSM-building population estimate): preview and commit, shelter loads within room, routes that
never go deeper into the danger zone, shortfall named, walking (the default) against driving,
and bad input refused.

The "never deeper" check is independent of the engine: the depth of every route vertex inside
the zone is measured with shapely in the local metric CRS, and must never grow along the route
by more than the engine's tolerance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import func, select

from gis import crs
from gis.models import AuditEntry, Evacuation, Shelter
from routing.evacuation import DEFAULT_TOLERANCE_M
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

#: A block of Kluuvi north of the Ateneum, drawn by hand (lon/lat).
ZONE = {
    "type": "Polygon",
    "coordinates": [
        [
            [24.9425, 60.1705],
            [24.9475, 60.1705],
            [24.9475, 60.1730],
            [24.9425, 60.1730],
            [24.9425, 60.1705],
        ]
    ],
}


def _depths(zone: shapely.Geometry, coords: list) -> np.ndarray:
    metric, local = crs.to_metric(zone)
    ring = metric.boundary
    line = crs.to_metric(shapely.LineString(coords), crs=local)[0]
    # sample every 5 m along the route, as a vehicle would pass
    pts = [line.interpolate(d) for d in np.arange(0.0, line.length, 5.0)] + [
        shapely.Point(line.coords[-1])
    ]
    return np.array([p.distance(ring) if metric.covers(p) else 0.0 for p in pts])


def _evacuate(client, auth, incident_id: int, body: dict, role: str = "dispatcher"):
    return post(client, f"/api/v1/incidents/{incident_id}/evacuation", body, auth[role])


def _never_deeper(zone: shapely.Geometry, flows: list) -> None:
    for f in flows:
        d = _depths(zone, f["route"]["coordinates"])
        assert (np.diff(d) <= DEFAULT_TOLERANCE_M + 1.0).all(), f"deeper on route from {f['from']}"
        assert d[-1] == 0.0  # ends outside


def test_preview_assigns_within_room_on_routes_that_never_go_deeper(client, auth, city, session):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Leak in Kluuvi")
    r = _evacuate(client, auth, inc["id"], {"zone": ZONE})
    assert r.status_code == 200, r.get_json()
    plan = r.get_json()
    assert plan["committed"] is False and plan["id"] is None
    zone = shape(plan["zone"])
    assert zone.symmetric_difference(shape(ZONE)).area < 1e-9
    demand = plan["demand"]
    assert demand["people"] > 0 and demand["source"] == "buildings"
    assigned = sum(f["people"] for f in plan["flows"])
    assert assigned + plan["unassigned"]["people"] == demand["people"]
    by_shelter = {}
    for f in plan["flows"]:
        by_shelter[f["shelter_id"]] = by_shelter.get(f["shelter_id"], 0) + f["people"]
    for s in plan["shelters"]:
        row = session.get(Shelter, s["id"])
        room = row.capacity - row.occupancy - row.reserved
        assert s["load"] == by_shelter.get(s["id"], 0) <= room
        assert not zone.intersects(shapely.Point(s["at"]))  # shelters outside the zone
    assert plan["flows"]
    _never_deeper(zone, plan["flows"])
    assert plan["total_person_s"] <= plan["greedy_total_person_s"] + 1e-6
    # a preview writes nothing
    assert session.scalar(select(func.count()).select_from(Evacuation)) == 0
    assert session.scalar(select(func.sum(Shelter.reserved))) == 0


def test_commit_reserves_places_and_a_new_commit_replaces_it(
    client, auth, city, session, redis_client
):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Leak in Kluuvi")
    r = _evacuate(client, auth, inc["id"], {"zone": ZONE, "commit": True})
    assert r.status_code == 201, r.get_json()
    first = r.get_json()
    assert first["committed"] and first["id"]
    for s in first["shelters"]:
        if s["load"]:
            assert session.get(Shelter, s["id"]).reserved == s["load"]
    events = [json.loads(f[b"data"]) for _, f in redis_client.xrange("onemap:stream")]
    assert any(e["event"] == "evacuation.committed" for e in events)
    listed = client.get(f"/api/v1/incidents/{inc['id']}/evacuations", headers=auth["viewer"])
    listed_ev = listed.get_json()["evacuations"][0]
    assert listed_ev["id"] == first["id"] and listed_ev["mode"] == "walk"
    # a preview now plans as if the first one's places were free again: the same plan
    again = _evacuate(client, auth, inc["id"], {"zone": ZONE}).get_json()
    assert {s["id"]: s["load"] for s in again["shelters"] if s["load"]} == {
        s["id"]: s["load"] for s in first["shelters"] if s["load"]
    }
    # a new commit (a smaller zone) replaces the first: its places are given back, not added
    smaller = {"circle": {"radius_m": 120}}
    r = _evacuate(client, auth, inc["id"], {"zone": smaller, "commit": True})
    assert r.status_code == 201, r.get_json()
    second = r.get_json()
    loads = {s["id"]: s["load"] for s in second["shelters"] if s["load"]}
    session.expire_all()
    for s in session.scalars(select(Shelter)):
        assert s.reserved == loads.get(s.id, 0), s.name
    listed = client.get(f"/api/v1/incidents/{inc['id']}/evacuations", headers=auth["viewer"])
    statuses = {e["id"]: e["status"] for e in listed.get_json()["evacuations"]}
    assert statuses == {first["id"]: "released", second["id"]: "committed"}


def test_capacity_short_names_the_unassigned_and_where(client, auth, city):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Big leak")
    big = {"circle": {"radius_m": 700}}
    plan = _evacuate(client, auth, inc["id"], {"zone": big}).get_json()
    room = sum(s["capacity"] - s["occupancy"] - s["reserved"] for s in plan["shelters"])
    assert plan["demand"]["people"] > room  # central Helsinki: more people than shelter places
    assert plan["unassigned"]["people"] >= plan["demand"]["people"] - room
    assert plan["unassigned"]["areas"]
    assert sum(a["people"] for a in plan["unassigned"]["areas"]) == plan["unassigned"]["people"]
    for s in plan["shelters"]:
        assert s["load"] <= s["capacity"] - s["occupancy"] - s["reserved"]


def test_plan_rule_gives_the_zone_by_default(client, auth, city):
    inc = new_incident(client, auth, "accident.building_collapse", title="Collapse")
    r = _evacuate(client, auth, inc["id"], {})
    assert r.status_code == 200, r.get_json()
    zone = shape(r.get_json()["zone"])
    assert zone.covers(shapely.Point(ATENEUM))


def test_people_walk_by_default_and_more_of_them_get_out_than_by_car(client, auth, city):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Leak in Kluuvi")
    walk = _evacuate(client, auth, inc["id"], {"zone": ZONE}).get_json()
    drive = _evacuate(client, auth, inc["id"], {"zone": ZONE, "mode": "drive"}).get_json()
    asked = _evacuate(client, auth, inc["id"], {"zone": ZONE, "mode": "walk"}).get_json()
    assert walk["mode"] == walk["travel"]["mode"] == "walk"
    assert walk["travel"]["speed_mps"] == 1.3 and walk["travel"]["one_way_streets"] is False
    assert walk["travel"]["median_kmh"] == walk["travel"]["max_kmh"] == round(1.3 * 3.6, 1)
    assert drive["mode"] == "drive" and drive["travel"]["one_way_streets"] is True
    assert drive["travel"]["median_kmh"] > walk["travel"]["max_kmh"]
    assert asked["flows"] == walk["flows"]
    # the same people and shelters in both plans
    assert walk["demand"] == drive["demand"] and walk["zone"] == drive["zone"]
    room = {s["id"]: s["capacity"] - s["occupancy"] - s["reserved"] for s in walk["shelters"]}
    assert room == {
        s["id"]: s["capacity"] - s["occupancy"] - s["reserved"] for s in drive["shelters"]
    }
    # one-way streets leading into the zone trap people by car, not on foot
    unreachable = {
        name: sum(a["people"] for a in p["unassigned"]["areas"] if a["reason"] == "unreachable")
        for name, p in (("walk", walk), ("drive", drive))
    }
    assert unreachable["drive"] > 0
    assert walk["unassigned"]["people"] < drive["unassigned"]["people"]
    assert unreachable["walk"] < unreachable["drive"]
    for p in (walk, drive):
        assert (
            sum(f["people"] for f in p["flows"]) + p["unassigned"]["people"]
            == p["demand"]["people"]
        )
        for s in p["shelters"]:
            assert s["load"] <= room[s["id"]]
    # on foot, the time of a flow is its length at walking pace
    for f in walk["flows"]:
        assert f["duration_s"] == pytest.approx(f["length_m"] / 1.3, abs=0.2)
    _never_deeper(shape(walk["zone"]), walk["flows"])
    err = error_of(_evacuate(client, auth, inc["id"], {"zone": ZONE, "mode": "bike"}), 400)
    assert err["field"] == "mode" and "walk" in err["message"] and "drive" in err["message"]


def test_a_committed_walking_evacuation_says_so_in_the_audit(client, auth, city, session):
    inc = new_incident(client, auth, "accident.hazmat.leak", title="Leak in Kluuvi")
    r = _evacuate(client, auth, inc["id"], {"zone": ZONE, "commit": True})
    assert r.status_code == 201, r.get_json()
    entry = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "evacuation").order_by(AuditEntry.id.desc())
    ).first()
    assert entry.after["evacuation_id"] == r.get_json()["id"] and entry.after["mode"] == "walk"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"zone": {"type": "Polygon", "coordinates": [[[24.94, 60.17]]]}}, "zone"),
        ({"zone": {"circle": {"radius_m": 0}}}, "zone"),
        ({"commit": "yes"}, "commit"),
        ({"zone": ZONE, "people": 5}, "people"),
        ({"zone": ZONE, "mode": "bike"}, "mode"),
        ({"zone": ZONE, "mode": None}, "mode"),
        ({"zone": ZONE, "mode": ["walk"]}, "mode"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(client, auth, city, session, body, field):
    inc = new_incident(client, auth, "accident.hazmat.leak")
    r = _evacuate(client, auth, inc["id"], body)
    assert 400 <= r.status_code < 500, r.get_json()
    assert r.get_json()["error"]["field"].startswith(field)
    assert session.scalar(select(func.count()).select_from(Evacuation)) == 0


def test_viewers_cannot_evacuate(client, auth, city):
    inc = new_incident(client, auth, "accident.hazmat.leak")
    assert _evacuate(client, auth, inc["id"], {"zone": ZONE}, role="viewer").status_code == 403
