"""Response proposal use case: incident -> context -> matched plan and level -> allocation of
the nearest available teams and depot stock by road travel time, with every shortfall named.

One reverse search from the incident over the road graph (other incidents' danger zones closed)
gives every candidate team and depot its travel time and its route at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import redis
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from app import jsonio
from app.lru import Lru
from app.services import plans as plan_service
from gis import repository as repo
from gis import response as rrepo
from plans import allocation as alloc_mod
from plans.matching import Facts, HazardNear, Match, match
from plans.taxonomy import INCIDENT_TYPES
from routing.engine import Closures, Engine, Reach, Route

if TYPE_CHECKING:
    from app.services import proposal_memo

LOGGER = logging.getLogger(__name__)

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
    routes: dict[int, Route] = field(default_factory=dict)  # source index -> its route
    #: what the incident's active dispatches sent when this was built (gis.response.active_sent)
    sent: tuple[Any, ...] = ()

    @property
    def best(self) -> Match:
        return self.matches[0]

    def route(self, i: int) -> Route | None:
        """Source ``i``'s route from the search tree, read once (the answer and the commit
        share it); None when it cannot reach the incident, or when this proposal came from
        another process without its search tree and ``i`` is not one of the routes it holds."""
        r = self.routes.get(i)
        if r is not None:
            return r
        if self.reach is None or not np.isfinite(self.reach.times[i]):
            return None
        r = self.routes[i] = self.reach.route(i)
        return r

    def read_routes(self, team_ids: Iterable[int] = ()) -> None:
        """Read the route of every allocated team from the search tree (its distance is its
        route's length: the tree is walked once, not twice), and of the teams ``team_ids``
        (a dispatcher's edit may name others). A commit does it while the database locks."""
        for f in self.allocation.forces:
            r = self.route(self.team_index[f["team_id"]])
            if r is not None:  # always, but on a proposal from another process that lacks it
                f["distance_m"] = round(float(r.length_m), 2)
        for t in team_ids:
            i = self.team_index.get(t)
            if i is not None:
                self.route(i)


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


@dataclass(frozen=True)
class Shared:
    """What every proposal built under one state counter reads alike: the plan documents, the
    available teams, the depots with free stock and the active incidents' areas. Read once
    per state and process (:meth:`read`), then narrowed for each incident: the depots to its
    package's items, the areas to the other incidents'. Every change bumps the counter, and
    the counter is read before these rows, so they are never older than the state they are
    kept under."""

    plans: list[dict[str, Any]]
    teams: list[Any]
    depots: list[tuple[rrepo.DepotRow, dict[str, int]]]
    areas: list[tuple[int, Any]]

    @classmethod
    def read(
        cls, session: Session, plan_cache: dict[tuple[str, int], dict[str, Any]] | None
    ) -> Shared:
        return cls(
            plan_service.documents(session, plan_cache),
            rrepo.available_teams(session),
            rrepo.depots_holding(session, None),
            rrepo.active_areas(session),
        )

    def depots_holding(self, codes: list[str]) -> list[tuple[rrepo.DepotRow, dict[str, int]]]:
        """As :func:`gis.response.depots_holding`: the depots with free stock of any of
        ``codes``, each with (a new mapping of) that stock."""
        want = set(codes)
        out = []
        for d, stock in self.depots:
            mine = {c: q for c, q in stock.items() if c in want}
            if mine:
                out.append((d, mine))
        return out


def build(
    session: Session,
    engine: Engine,
    incident_id: int,
    *,
    plan_cache: dict[tuple[str, int], dict[str, Any]] | None = None,
    incident: Any = None,
    shared: Shared | None = None,
    read_routes: bool = True,
) -> Proposal:
    """The proposal for the incident as things stand. ``incident``: its row when the caller
    has it already (the commit, which holds it locked). ``shared``: what every proposal of
    the current state reads alike, when the caller has it (else read here)."""
    if incident is None:
        incident = repo.get_row(session, "incidents", incident_id)
    facts = facts_of(session, incident)
    plans = shared.plans if shared else plan_service.documents(session, plan_cache)
    matches = match(facts, plans)
    sent = tuple(rrepo.active_sent(session, incident.id))
    package = _still_needed(matches[0].package, list(sent))
    here = to_shape(incident.geom)
    areas = (
        [a for iid, a in shared.areas if iid != incident.id]
        if shared
        else rrepo.danger_zones(session, exclude_incident=incident.id)
    )
    closures = Closures(tuple(z for z in areas if not z.covers(here)))
    teams = shared.teams if shared else rrepo.available_teams(session)
    codes = [m["item_code"] for m in package.get("materials", ())]
    depots = shared.depots_holding(codes) if shared else rrepo.depots_holding(session, codes)
    points = [(t.lon, t.lat) for t in teams] + [(d.lon, d.lat) for d, _ in depots]
    reach = engine.reach((here.x, here.y), points, closures=closures) if points else None
    # Seconds per candidate, None when it cannot reach the incident. Lengths are read from the
    # search tree only for what is chosen (below): walking the tree for every candidate would
    # cost more than the search itself.
    times = [None if t == np.inf else t for t in reach.times.tolist()] if reach is not None else []
    team_opts = [
        alloc_mod.TeamOption(
            t.id, t.name, t.type, frozenset(t.capabilities or ()), t.version, times[i], None
        )
        for i, t in enumerate(teams)
    ]
    off = len(teams)
    depot_opts = [
        alloc_mod.DepotOption(d.id, d.name, d.version, times[off + i], None, stock)
        for i, (d, stock) in enumerate(depots)
    ]
    allocation = alloc_mod.allocate(package, team_opts, depot_opts)
    team_index = {t.id: i for i, t in enumerate(teams)}
    depot_index = {d.id: off + i for i, (d, _) in enumerate(depots)}
    if reach is not None:
        for m in allocation.materials:
            m["distance_m"] = round(float(reach.length(depot_index[m["depot_id"]])), 2)
    p = Proposal(
        incident,
        matches,
        facts,
        allocation,
        reach,
        team_index,
        depot_index,
        closures,
        sent=sent,
    )
    if read_routes:
        p.read_routes()
    return p


def _still_needed(
    package: dict[str, Any], active: list[tuple[str, str | None, str | None, int]]
) -> dict[str, Any]:
    """The package less what is already on its way (``active``: what the incident's active
    dispatches send, as :func:`gis.response.active_sent` gives it): a second click never sends
    twice."""
    if not active:
        return package
    sent_types: dict[str, int] = {}
    sent_items: dict[str, int] = {}
    for kind, team_type, item_code, quantity in active:
        if kind == "team" and team_type is not None:
            sent_types[team_type] = sent_types.get(team_type, 0) + 1
        elif kind == "material" and item_code is not None:
            sent_items[item_code] = sent_items.get(item_code, 0) + quantity
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
                memo[i] = _route_summary(p, i)
            return memo[i]

        for f in out["allocation"]["teams"]:
            f["route"] = summary(p.team_index[f["team_id"]])
        for m in out["allocation"]["materials"]:
            m["route"] = summary(p.depot_index[m["depot_id"]])
    return out


def _route_summary(p: Proposal, i: int) -> dict[str, Any]:
    r = p.route(i)
    if r is None:  # never allocated: allocation takes only what can reach the incident
        msg = f"candidate {i} cannot reach the incident"
        raise ValueError(msg)
    return {
        "duration_s": float(r.duration_s),
        "length_m": round(float(r.length_m), 2),
        "via": [s.name for s in r.steps if s.name and s.maneuver not in ("arrive",)][:6],
        # a numpy array, written as it is by the app's JSON writer (app.jsonio)
        "geometry": {"type": "LineString", "coordinates": np.round(r.coords, 6)},
    }


def proposal_answer(
    session: Session,
    engine: Engine,
    incident_id: int,
    *,
    cache: Any,
    state: str | None,
    plan_cache: dict[tuple[str, int], dict[str, Any]] | None = None,
    memo: proposal_memo.ProposalMemo | None = None,
    shared: Lru[Shared] | None = None,
) -> bytes:
    """The serialised proposal as JSON text, from the cache when nothing has changed since it
    was made: the key holds the state counter, which every change bumps (each write publishes
    its event, the incident's own edits included, or bumps the counter), and the graph's
    version. A hit is served as stored, never parsed and written again, and costs no database
    query: the cache (:class:`app.services.routing.Cache`) answers from the process's own
    copy when it has one, else from Redis.
    When several dispatchers ask for the same incident at once, one computes it and the others
    wait for its answer (up to :data:`FILL_WAIT_S`), so a burst of refreshes costs one proposal,
    not one each. ``shared`` keeps, by state, what all proposals read alike (:class:`Shared`):
    a proposal of another incident in the same state reads only its own rows."""
    if state is None:
        return _json(serialise(build(session, engine, incident_id, plan_cache=plan_cache)), False)
    key = f"{cache.prefix}cache:proposal:{incident_id}:{state}:{engine.g.version}"
    hit = cache.get_raw(key)
    if hit is None and not _claim(cache, key):
        hit = _wait_for(cache, key)
    if hit is not None:
        return hit
    try:
        common = shared.get(state) if shared is not None else None
        if common is None:
            common = Shared.read(session, plan_cache)
            if shared is not None:
                shared.put(state, common)
        p = build(session, engine, incident_id, plan_cache=plan_cache, shared=common)
        answer = serialise(p)
        if memo is not None:
            memo.put(engine, p, state)
        cache.put_raw(key, _json(answer, True))
    finally:
        _release(cache, key)
    return _json(answer, False)


def _json(answer: dict[str, Any], cached: bool) -> bytes:
    return jsonio.dumps({**answer, "cached": cached})


#: Longest wait (s) for another process's proposal of the same incident and state; past it,
#: the waiter computes its own.
FILL_WAIT_S = 2.0
_FILL_POLL_S = 0.01


def _claim(cache: Any, key: str) -> bool:
    """Claim the filling of ``key`` (a short-lived Redis lock); True also when Redis is down
    (then every request computes its own answer, as without the cache)."""
    if cache.client is None:
        return True
    try:
        return bool(cache.client.set(f"{key}:filling", b"1", nx=True, px=int(FILL_WAIT_S * 1e3)))
    except redis.RedisError:
        return True


def _release(cache: Any, key: str) -> None:
    if cache.client is None:
        return
    try:
        cache.client.delete(f"{key}:filling")
    except redis.RedisError as err:
        LOGGER.warning("proposal cache unavailable: %s", err)


def _wait_for(cache: Any, key: str) -> bytes | None:
    """The answer another request is computing, once it is stored; None when it is not there
    within :data:`FILL_WAIT_S` (that request failed or is slow)."""
    deadline = time.monotonic() + FILL_WAIT_S
    while time.monotonic() < deadline:
        time.sleep(_FILL_POLL_S)
        hit = cache.get_raw(key)
        if hit is not None:
            return hit
        try:
            if not cache.client.exists(f"{key}:filling"):
                return cache.get_raw(key)
        except redis.RedisError:
            return None
    return None
