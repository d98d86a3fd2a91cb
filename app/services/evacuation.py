"""Evacuation use case: the people inside a danger zone go to shelters outside it with room
left, over routes that never go deeper into the zone, in the assignment that minimises the
total travel time (min-cost flow, :mod:`routing.evacuation`).

A preview computes and returns the plan; a commit computes it again inside the transaction and
reserves the shelter places it uses (rows locked in id order, room checked again, the database
keeps ``occupancy + reserved <= capacity``), so two evacuations committed at once never
overfill a shelter: the later one is refused with 409 and previews again.

People leave on foot by default (``"mode": "walk"``): every road both ways at walking pace, as
people leaving a gas leak or a collapse walk to shelters a few km away and one-way streets do
not bind them. ``"mode": "drive"`` plans on the road graph as imported (car speeds, one-way
streets). The zone itself (a plan rule's isochrone, say) is always resolved on the drive graph,
so it is the same area the warning shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from app.errors import BadRequest
from app.services import warnings as warning_service
from gis import repository as repo
from gis import response as rrepo
from gis import warnings as wrepo
from gis.geometry import ServiceArea, to_geojson
from routing import evacuation as evac
from routing.engine import Closures, Engine
from routing.store import MODES, GraphStore

Publish = Callable[[str, dict[str, Any]], Any]
KEYS = {"zone", "commit", "mode"}
DEFAULT_MODE = "walk"
COORD_DECIMALS = 6
#: How each mode's speeds are set, for the answer.
SPEED_BASIS = {
    "walk": "walking pace on every road, both ways",
    "drive": "each road's own speed limit, else its class; one-way streets respected",
}


def _body(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object", field="body")
    unknown = sorted(set(body) - KEYS)
    if unknown:
        msg = f"unknown field {unknown[0]!r}; known: {', '.join(sorted(KEYS))}"
        raise BadRequest(msg, field=unknown[0])
    if "commit" in body and not isinstance(body["commit"], bool):
        raise BadRequest("must be true or false", field="commit")
    out = dict(body)
    mode = out.setdefault("mode", DEFAULT_MODE)
    if not isinstance(mode, str) or mode not in MODES:
        msg = f"must be one of {', '.join(MODES)} (default {DEFAULT_MODE})"
        raise BadRequest(msg, field="mode")
    return out


def travel_of(mode: str, engine: Engine) -> dict[str, Any]:
    """How people travel in a plan: the mode and its speeds (km/h, and m/s on foot)."""
    out: dict[str, Any] = {
        "mode": mode,
        "median_kmh": round(engine.vmed * 3.6, 1),
        "max_kmh": round(engine.vmax * 3.6, 1),
        "one_way_streets": mode == "drive",
        "basis": SPEED_BASIS[mode],
    }
    if mode == "walk":
        out["speed_mps"] = float(engine.g.meta.get("speed_mps", engine.vmed))
    return out


def _zone_spec(b: Mapping[str, Any], best: Any) -> dict[str, Any]:
    """The zone as an area spec: a drawn GeoJSON polygon, an area spec, or the plan's rule."""
    zone = b.get("zone")
    if isinstance(zone, Mapping) and zone.get("type") in ("Polygon", "MultiPolygon", "Feature"):
        geom = zone.get("geometry") if zone.get("type") == "Feature" else zone
        return {"polygon": geom}
    return warning_service.area_spec({"evacuation": zone} if zone else None, best, key="evacuation")


def compute(
    session: Session,
    engine: Engine,
    incident: Any,
    b: Mapping[str, Any],
    *,
    area: ServiceArea | None,
    plan_cache: dict | None = None,
    zone_engine: Engine | None = None,
) -> tuple[shapely.Geometry, list[wrepo.PeopleAt], list[wrepo.ShelterRoom], evac.EvacuationPlan]:
    """The zone, the people in it, the shelters with room and the plan over ``engine``; the
    zone is resolved on ``zone_engine`` (``engine`` when None)."""
    best = warning_service.matched(session, incident, plan_cache)
    spec = _zone_spec(b, best)
    zone = warning_service.resolve_area(
        spec, incident, zone_engine or engine, area=area, field="zone"
    )
    people = wrepo.people_in(session, zone)
    shelters = wrepo.shelters_with_room(session, zone)
    others = [
        z
        for z in rrepo.danger_zones(session, exclude_incident=incident.id)
        if not z.intersects(zone)
    ]
    demands = [evac.Demand(str(p.cell_id), p.lon, p.lat, p.people) for p in people]
    slots = [evac.Shelter(str(s.id), s.lon, s.lat, s.room) for s in shelters]
    plan = evac.plan_evacuation(engine, zone, demands, slots, closures=Closures(tuple(others)))
    return zone, people, shelters, plan


def answer(
    incident: Any,
    zone: shapely.Geometry,
    people: list[wrepo.PeopleAt],
    shelters: list[wrepo.ShelterRoom],
    plan: evac.EvacuationPlan,
    *,
    greedy_total: float | None = None,
    travel: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The plan as JSON: flows with their routes, shelter loads, the unassigned and where."""
    flows = []
    for k, f in enumerate(plan.flows):
        p, s = people[f.demand], shelters[f.shelter]
        route = plan.route(k)
        flows.append(
            {
                "from": [round(p.lon, COORD_DECIMALS), round(p.lat, COORD_DECIMALS)],
                "people": f.people,
                "shelter_id": s.id,
                "shelter_name": s.name,
                "duration_s": round(f.duration_s, 1),
                "length_m": round(f.length_m, 1),
                "route": to_geojson(shapely.LineString(route.coords), precision=COORD_DECIMALS)
                if len(route.coords) >= 2
                else None,
            }
        )
    loads = [
        {
            "id": s.id,
            "name": s.name,
            "at": [round(s.lon, COORD_DECIMALS), round(s.lat, COORD_DECIMALS)],
            "capacity": s.capacity,
            "occupancy": s.occupancy,
            "reserved": s.reserved,
            "load": plan.loads[j],
            "room_left": s.room - plan.loads[j],
        }
        for j, s in enumerate(shelters)
    ]
    areas = [
        {
            "at": [round(a.lon, COORD_DECIMALS), round(a.lat, COORD_DECIMALS)],
            "people": a.people,
            "reason": a.reason,
        }
        for a in plan.shortfall_areas
    ]
    total = sum(p.people for p in people)
    return {
        "incident_id": incident.id,
        "zone": to_geojson(zone, precision=COORD_DECIMALS),
        "demand": {
            "people": total,
            "points": len(people),
            "source": wrepo.people_source(people),
        },
        "flows": flows,
        "shelters": loads,
        "unassigned": {"people": plan.unassigned_people, "areas": areas},
        "total_person_s": round(plan.total_person_s, 1),
        "mean_duration_s": round(plan.total_person_s / plan.assigned_people, 1)
        if plan.assigned_people
        else None,
        "greedy_total_person_s": round(greedy_total, 1) if greedy_total is not None else None,
        "method": plan.method,
        "mode": travel["mode"] if travel else None,
        "travel": travel,
    }


def evacuate(
    session: Session,
    graphs: GraphStore,
    incident_id: int,
    body: Any,
    *,
    graph: str | None = None,
    area: ServiceArea | None,
    actor: str,
    publish: Publish,
    plan_cache: dict | None = None,
) -> tuple[dict[str, Any], bool]:
    """Preview (``commit`` false, the default) or commit an evacuation over road graph
    ``graph`` of ``graphs`` (the default graph when None) in the body's ``mode`` (``"walk"``,
    the default, or ``"drive"``); returns the answer and whether it was committed.

    An incident has one evacuation in force: a new commit replaces the one before, whose places
    are given back first, in the same transaction (a preview plans as if they were given back,
    and gives nothing back)."""
    b = _body(body)
    mode = b["mode"]
    drive = graphs.engine(graph)
    engine = drive if mode == "drive" else graphs.engine(graph, mode=mode)
    # locked when committing: two commits for one incident run one after the other
    incident = repo.get_row(session, "incidents", incident_id, lock=bool(b.get("commit")))
    replaced = wrepo.release_evacuations(session, incident.id)
    zone, people, shelters, plan = compute(
        session, engine, incident, b, area=area, plan_cache=plan_cache, zone_engine=drive
    )
    greedy = evac.greedy_assignment(plan.problem) if plan.flows else None
    out = answer(
        incident,
        zone,
        people,
        shelters,
        plan,
        greedy_total=greedy.total_person_s if greedy is not None else None,
        travel=travel_of(mode, engine),
    )
    if not b.get("commit"):
        session.rollback()
        return {"id": None, "committed": False, **out}, False
    loads = {shelters[j].id: n for j, n in enumerate(plan.loads) if n > 0}
    wrepo.reserve_places(session, loads)
    light = [
        {k: f[k] for k in ("from", "people", "shelter_id", "shelter_name", "duration_s", "route")}
        for f in out["flows"]
    ]
    ev = wrepo.add_evacuation(
        session,
        incident_id=incident.id,
        zone=zone,
        people=out["demand"]["people"],
        assigned=plan.assigned_people,
        total_person_s=plan.total_person_s,
        flows=light,
        loads=loads,
        actor=actor,
        mode=mode,
    )
    repo.write_audit(
        session,
        actor=actor,
        action="evacuation",
        entity="incidents",
        entity_id=incident.id,
        before=None,
        after={
            "evacuation_id": ev.id,
            "replaces": replaced,
            "mode": mode,
            "people": out["demand"]["people"],
            "assigned": plan.assigned_people,
            "shelters": loads,
        },
    )
    session.commit()
    publish(
        "evacuation.committed",
        {
            "incident_id": incident.id,
            "evacuation_id": ev.id,
            "replaces": replaced,
            "mode": mode,
            "shelters": [{"id": s, "load": n} for s, n in loads.items()],
        },
    )
    return {"id": ev.id, "committed": True, **out}, True


def of_incident(session: Session, incident_id: int) -> list[dict[str, Any]]:
    repo.get_row(session, "incidents", incident_id)
    return [
        {
            "id": e.id,
            "status": e.status,
            "mode": e.mode,
            "people": e.people,
            "assigned": e.assigned,
            "total_person_s": e.total_person_s,
            "zone": to_geojson(to_shape(e.zone), precision=COORD_DECIMALS),
            "flows": e.flows,
            "shelters": [{"id": ld.shelter_id, "people": ld.people} for ld in e.loads],
            "created_by": e.created_by,
            "created_at": e.created_at.isoformat(),
        }
        for e in wrepo.evacuations_of(session, incident_id)
    ]
