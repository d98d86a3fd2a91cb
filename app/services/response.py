"""Response proposal use case: incident -> context -> matched plan and level -> allocation of
the nearest available teams and depot stock by road travel time, with every shortfall named.

One reverse search from the incident over the road graph (other incidents' danger zones closed)
gives every candidate team and depot its travel time and its route at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from app.services import plans as plan_service
from gis import repository as repo
from gis import response as rrepo
from plans import allocation as alloc_mod
from plans.matching import Facts, HazardNear, Match, match
from plans.taxonomy import INCIDENT_TYPES
from routing.engine import Closures, Engine, Reach

CONTEXT_RADIUS_M = 5000.0


@dataclass
class Proposal:
    incident: Any
    matches: list[Match]
    facts: Facts
    allocation: alloc_mod.Allocation
    reach: Reach | None
    team_index: dict[int, int]  # team id -> source index in reach
    depot_index: dict[int, int]
    closures: Closures

    @property
    def best(self) -> Match:
        return self.matches[0]


def facts_of(session: Session, incident: Any) -> Facts:
    hazards = tuple(
        HazardNear(**h) for h in rrepo.hazards_near(session, incident, CONTEXT_RADIUS_M)
    )
    reported = incident.reported_at or datetime.now(UTC)
    return Facts(
        type=incident.type,
        casualties=incident.casualties,
        injured=incident.injured,
        affected=incident.affected,
        area_m2=rrepo.area_m2(session, incident),
        duration_h=max((datetime.now(UTC) - reported).total_seconds() / 3600.0, 0.0),
        reported_level=incident.level,
        hazards=hazards,
    )


def build(
    session: Session,
    engine: Engine,
    incident_id: int,
    *,
    plan_cache: dict[tuple[str, int], dict[str, Any]] | None = None,
) -> Proposal:
    incident = repo.get_row(session, "incidents", incident_id)
    facts = facts_of(session, incident)
    matches = match(facts, plan_service.documents(session, plan_cache))
    package = _still_needed(
        matches[0].package, rrepo.dispatches_of(session, incident.id, active_only=True), session
    )
    here = to_shape(incident.geom)
    zones = [
        z for z in rrepo.danger_zones(session, exclude_incident=incident.id) if not z.covers(here)
    ]
    closures = Closures(tuple(zones))
    teams = rrepo.available_teams(session)
    codes = [m["item_code"] for m in package.get("materials", ())]
    depots = rrepo.depots_holding(session, codes)
    points = [(t.lon, t.lat) for t in teams] + [(d.lon, d.lat) for d, _ in depots]
    reach = engine.reach((here.x, here.y), points, closures=closures) if points else None
    times = reach.times if reach is not None else np.zeros(0)
    # Lengths are read from the search tree only for what is chosen (below): walking the tree
    # for every candidate would cost more than the search itself.
    lengths = np.full(times.shape, np.nan)
    team_opts = [
        alloc_mod.TeamOption(
            t.id,
            t.name,
            t.type,
            frozenset(t.capabilities or ()),
            t.version,
            _fin(times[i]),
            _fin(lengths[i]),
        )
        for i, t in enumerate(teams)
    ]
    off = len(teams)
    depot_opts = [
        alloc_mod.DepotOption(
            d.id, d.name, d.version, _fin(times[off + i]), _fin(lengths[off + i]), stock
        )
        for i, (d, stock) in enumerate(depots)
    ]
    allocation = alloc_mod.allocate(package, team_opts, depot_opts)
    team_index = {t.id: i for i, t in enumerate(teams)}
    depot_index = {d.id: off + i for i, (d, _) in enumerate(depots)}
    if reach is not None:
        for f in allocation.forces:
            f["distance_m"] = round(float(reach.length(team_index[f["team_id"]])), 2)
        for m in allocation.materials:
            m["distance_m"] = round(float(reach.length(depot_index[m["depot_id"]])), 2)
    return Proposal(
        incident,
        matches,
        facts,
        allocation,
        reach,
        team_index,
        depot_index,
        closures,
    )


def _still_needed(package: dict[str, Any], active: list[Any], session: Session) -> dict[str, Any]:
    """The package less what is already on its way: a second click never sends twice."""
    if not active:
        return package
    sent_types: dict[str, int] = {}
    for d in active:
        if d.kind == "team" and d.team_id is not None:
            t = repo.get_row(session, "teams", d.team_id)
            sent_types[t.type] = sent_types.get(t.type, 0) + 1
    sent_items: dict[str, int] = {}
    for d in active:
        if d.kind == "material":
            sent_items[d.item_code] = sent_items.get(d.item_code, 0) + int(d.quantity or 0)
    forces = []
    for f in package["forces"]:
        have = sent_types.get(f["team_type"], 0)
        use = min(have, f["count"])
        sent_types[f["team_type"]] = have - use
        if f["count"] - use > 0:
            forces.append({**f, "count": f["count"] - use})
    materials = []
    for m in package.get("materials", []):
        have = sent_items.get(m["item_code"], 0)
        use = min(have, m["quantity"])
        sent_items[m["item_code"]] = have - use
        if m["quantity"] - use > 0:
            materials.append({**m, "quantity": m["quantity"] - use})
    return {**package, "forces": forces, "materials": materials}


def _fin(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None  # nan (not computed) and inf both give None


def serialise(p: Proposal, *, with_routes: bool = True) -> dict[str, Any]:
    best = p.best
    t = INCIDENT_TYPES[p.incident.type]
    out = {
        "incident": {
            "id": p.incident.id,
            "type": t.code,
            "type_zh": t.name_zh,
            "type_en": t.name_en,
            "version": p.incident.version,
        },
        "plan": {
            "id": best.plan_id,
            "version": best.plan_version,
            "title": dict(best.title),
            "covers": best.covered_by,
        },
        "level": best.level,
        "reasons": list(best.reasons),
        "other_matches": [
            {
                "plan_id": m.plan_id,
                "level": m.level,
                "covers": m.covered_by,
                "reasons": list(m.reasons),
            }
            for m in p.matches[1:]
        ],
        "context": {
            "hazards": [h.__dict__ for h in p.facts.hazards],
            "area_m2": round(p.facts.area_m2, 1),
            "closed_zones": len(p.closures.polygons),
        },
        "requirements": {
            "forces": best.package["forces"],
            "materials": best.package.get("materials", []),
            "alert_area": best.package["alert_area"],
            "evacuation": best.package.get("evacuation"),
            "actions": best.package["actions"],
        },
        "allocation": {
            "teams": [dict(f) for f in p.allocation.forces],
            "materials": [dict(m) for m in p.allocation.materials],
        },
        "shortfalls": p.allocation.shortfalls,
    }
    if with_routes and p.reach is not None:
        memo: dict[int, dict[str, Any]] = {}

        def summary(i: int) -> dict[str, Any]:
            if i not in memo:
                memo[i] = _route_summary(p.reach, i)
            return memo[i]

        for f in out["allocation"]["teams"]:
            f["route"] = summary(p.team_index[f["team_id"]])
        for m in out["allocation"]["materials"]:
            m["route"] = summary(p.depot_index[m["depot_id"]])
    return out


def _route_summary(reach: Reach, i: int) -> dict[str, Any]:
    r = reach.route(i)
    return {
        "duration_s": float(r.duration_s),
        "length_m": round(float(r.length_m), 2),
        "via": [s.name for s in r.steps if s.name and s.maneuver not in ("arrive",)][:6],
        "geometry": {"type": "LineString", "coordinates": np.round(r.coords, 6).tolist()},
    }


def proposal_answer(
    session: Session,
    engine: Engine,
    incident_id: int,
    *,
    cache: Any,
    state: str | None,
    plan_cache: dict[tuple[str, int], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The serialised proposal, from the cache when nothing has changed since it was made:
    the key holds the incident's version, the state counter every published change bumps, and
    the graph's version."""
    key = None
    if state is not None:
        incident = repo.get_row(session, "incidents", incident_id)
        version = f"{incident.version}:{state}:{engine.g.version}"
        key = f"{cache.prefix}cache:proposal:{incident_id}:{version}"
        hit = cache.get(key)
        if hit is not None:
            hit["cached"] = True
            return hit
    answer = serialise(build(session, engine, incident_id, plan_cache=plan_cache))
    answer["cached"] = False
    if key is not None:
        cache.put(key, answer)
    return answer
