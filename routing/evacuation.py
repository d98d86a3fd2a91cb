"""Evacuation: people inside a danger zone assigned to shelters outside it, optimally.

Given a danger zone (a lon/lat polygon), demand points (people at a place) and shelters (room
left), :func:`plan_evacuation` assigns people to shelters so that, first, as many people as
possible get a place and, second, the total travel time (person-seconds) is the least possible,
over routes that never go deeper into the zone. It returns the flows (who goes where, with the
travel time and length of the route, the route itself on request), the load of every shelter, the
people left without a place and why, and where more room is needed.

The "never deeper" rule
-----------------------
The *depth* of a point is its distance in metres to the zone's boundary when it lies inside the
zone, and 0 outside (measured in a local equirectangular projection centred on the zone). A road
piece (a directed edge, or the part of one that a demand starts on or a shelter lies on) may be
driven when:

* it starts outside the zone or on its boundary, and never enters the zone's interior (exact
  geometry test: a road that cuts through a corner of the zone from outside is closed); or
* it starts inside the zone at depth ``d``, ends at depth ``<= d``, and never goes deeper than
  ``d + tolerance_m`` anywhere along its geometry (checked at points at most ``tolerance_m / 2``
  apart with a margin that covers what lies between them, since depth changes by at most one
  metre per metre).

So along any route, the depths of the junctions passed never increase, between two junctions the
route is never more than ``tolerance_m`` deeper than the junction it left, and once it reaches a
junction outside the zone it never enters it again. Extra closures (closed edges, closure
polygons) are applied on top. A demand whose place has no way out under this rule (for example a
dead end pointing out of the zone, or a one-way street leading in) is reported ``unreachable``.

Assignment
----------
Travel times come from one reverse search per shelter over the masked graph (SciPy's C Dijkstra,
16 shelters per call). The assignment is a transportation problem, solved exactly by successive
shortest paths: every demand first goes to its nearest shelter; then people are moved out of
overfull shelters along shortest augmenting paths of the residual network (paths through the
shelters, moving demands from a shelter to the next; demands whose moves cost the same, to
within :data:`routing.transport.TIE_S`, move together), or left without a place at a cost ``M``
higher than any chain of moves can save. This keeps the plan optimal at every step (standard
min-cost flow theory), so the result maximises the people placed and, among such plans,
minimises total travel time. Demands with identical travel-time rows (same place on the road)
are solved as one.

Modules
-------
This module holds the values and the public API. The rule lives in :mod:`routing.zone_rule`,
the searches and routes in :mod:`routing.evacuation_problem`, the assignment (plain numpy) in
:mod:`routing.transport`; snapping is :meth:`routing.snap.Snapper.snap_many`.

Units: seconds, metres, people. Coordinates are lon/lat (EPSG:4326).
"""

from __future__ import annotations

import logging
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from routing.engine import Closures, Engine, Route
from routing.errors import BadRequest
from routing.evacuation_problem import EvacuationProblem
from routing.transport import greedy, transport_grouped

LOGGER = logging.getLogger(__name__)

#: How much deeper than the junction it left a route may go between two junctions (metres).
DEFAULT_TOLERANCE_M = 10.0
#: Cell of the grid on which people left without a place are grouped into areas (metres).
DEFAULT_AREA_CELL_M = 250.0
#: Limits that keep one plan within memory and time (the assignment keeps a dense
#: demand x shelter table; every shelter is one search of the whole graph).
MAX_SHELTERS = 300
MAX_PAIRS = 2_000_000
#: Why people are left without a place.
REASONS = ("no_capacity", "unreachable", "too_far_from_road", "inside_closure")


# --- values ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Demand:
    """People to evacuate from one place (a population cell's centroid, a building...)."""

    key: str
    lon: float
    lat: float
    people: int


@dataclass(frozen=True)
class Shelter:
    """A shelter and the room it has left (people)."""

    key: str
    lon: float
    lat: float
    room: int


@dataclass(frozen=True)
class Flow:
    """``people`` of demand ``demand`` go to shelter ``shelter`` (indices into the inputs),
    taking ``duration_s`` seconds over ``length_m`` metres each."""

    demand: int
    shelter: int
    people: int
    duration_s: float
    length_m: float


@dataclass(frozen=True)
class Unassigned:
    """``people`` of demand ``demand`` without a place; ``reason`` is one of :data:`REASONS`:
    ``no_capacity`` (shelters they can reach are full), ``unreachable`` (no shelter can be
    reached without going deeper into the zone), ``too_far_from_road``, ``inside_closure``."""

    demand: int
    people: int
    reason: str


@dataclass(frozen=True)
class ExcludedShelter:
    """A shelter that takes no one: ``inside_zone``, ``inside_closure``, ``too_far_from_road``
    or ``unreachable`` (no road piece leads to it under the rule)."""

    shelter: int
    reason: str


@dataclass(frozen=True)
class ShortfallArea:
    """A cluster of people left without a place for one reason: the people-weighted centre
    (lon/lat), the people, the demand indices, and the lon/lat bounding box of those demands.
    For ``no_capacity`` this is where more shelter room is needed."""

    reason: str
    lon: float
    lat: float
    people: int
    demands: tuple[int, ...]
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class EvacuationPlan:
    """The answer of :func:`plan_evacuation` (or :func:`greedy_assignment`).

    ``flows`` are ordered by demand index, then shelter index; a demand may be split over
    several shelters. ``loads[j]`` is the people sent to shelter ``j`` (input order; 0 for an
    excluded one), never more than its room. ``unassigned`` is ordered by demand index (a demand
    may have both flows and unassigned people). ``shortfall_areas`` group the unassigned people
    by reason and place, most people first. ``total_person_s`` is the sum of people times their
    travel time (seconds). ``method`` is ``"optimal"`` or ``"greedy"``. ``problem`` holds the
    travel times and search trees the routes are read from (not meant for serialising).
    """

    method: str
    flows: tuple[Flow, ...]
    loads: tuple[int, ...]
    unassigned: tuple[Unassigned, ...]
    shortfall_areas: tuple[ShortfallArea, ...]
    excluded_shelters: tuple[ExcludedShelter, ...]
    total_person_s: float
    problem: EvacuationProblem = field(repr=False, compare=False)

    @property
    def assigned_people(self) -> int:
        return sum(f.people for f in self.flows)

    @property
    def unassigned_people(self) -> int:
        return sum(u.people for u in self.unassigned)

    def route(self, k: int) -> Route:
        """The route of ``flows[k]``, from the demand's place on the road to the shelter's, read
        from the shelter's search tree (lon/lat coordinates, metres, seconds, steps, edges)."""
        if not 0 <= k < len(self.flows):
            msg = f"flow index must be 0..{len(self.flows) - 1}"
            raise BadRequest(msg, field="flow")
        f = self.flows[k]
        return self.problem.route(f.demand, f.shelter)


# --- the API -----------------------------------------------------------------------------------


def build_problem(
    engine: Engine,
    zone: shapely.Geometry,
    demands: Sequence[Demand],
    shelters: Sequence[Shelter],
    *,
    closures: Closures | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
) -> EvacuationProblem:
    """Check the inputs, place demands and shelters on the road graph and search from every
    shelter under the "never deeper" rule (see the module's docstring).

    Raises
    ------
    BadRequest
        When an input is not acceptable; ``field`` names it (``zone``, ``demands[3].people``,
        ``shelters[0].lon``, ``tolerance_m``...).
    """
    zone = _check_zone(zone)
    _check_points(demands, "demands", "people")
    _check_points(shelters, "shelters", "room")
    if not (math.isfinite(tolerance_m) and 0.5 <= tolerance_m <= 500.0):
        raise BadRequest("tolerance_m must be between 0.5 and 500 metres", field="tolerance_m")
    if len(shelters) > MAX_SHELTERS:
        msg = f"at most {MAX_SHELTERS} shelters per plan"
        raise BadRequest(msg, field="shelters")
    if len(demands) * len(shelters) > MAX_PAIRS:
        msg = f"demands x shelters must not exceed {MAX_PAIRS:,}; group the demand into cells"
        raise BadRequest(msg, field="demands")
    return EvacuationProblem(
        engine, zone, demands, shelters, closures=closures, tolerance_m=tolerance_m
    )


def plan_evacuation(
    engine: Engine,
    zone: shapely.Geometry,
    demands: Sequence[Demand],
    shelters: Sequence[Shelter],
    *,
    closures: Closures | None = None,
    tolerance_m: float = DEFAULT_TOLERANCE_M,
    area_cell_m: float = DEFAULT_AREA_CELL_M,
) -> EvacuationPlan:
    """The optimal evacuation of ``demands`` out of ``zone`` to ``shelters``.

    Parameters
    ----------
    engine
        The routing engine of the road graph.
    zone
        The danger zone, a lon/lat (Multi)Polygon.
    demands
        People to move (inside the zone as a rule; a demand outside it is routed too and never
        enters it). A demand with 0 people is ignored.
    shelters
        Shelters with the room they have left. A shelter inside the zone (or on its boundary),
        inside a closure, too far from a road, or that no allowed road piece reaches is skipped
        and listed in ``excluded_shelters``; one with no room takes no one.
    closures
        Extra closed roads and areas, on top of the zone's rule.
    tolerance_m
        How much deeper than the junction it left a route may go before the next junction
        (metres; see the module's docstring).
    area_cell_m
        Grid cell (metres) on which unassigned people are grouped into ``shortfall_areas``.

    Returns
    -------
    EvacuationPlan
        Flows (demand, shelter, people, seconds, metres) minimising total person-seconds among
        the plans that place the most people; shelter loads never exceed their room. People of
        a demand with no allowed route to any usable shelter are ``unreachable``; people left
        out because reachable shelters are full are ``no_capacity``. Routes: ``plan.route(k)``.

    Raises
    ------
    BadRequest
        When an input is not acceptable (``field`` names it).
    """
    problem = build_problem(
        engine, zone, demands, shelters, closures=closures, tolerance_m=tolerance_m
    )
    return assign(problem, method="optimal", area_cell_m=area_cell_m)


def greedy_assignment(
    problem: EvacuationProblem, *, area_cell_m: float = DEFAULT_AREA_CELL_M
) -> EvacuationPlan:
    """The greedy plan over the same travel times, for comparison: demands in input order,
    each to its nearest shelter with room left, the rest to the next nearest, and so on."""
    return assign(problem, method="greedy", area_cell_m=area_cell_m)


def assign(
    problem: EvacuationProblem,
    *,
    method: str = "optimal",
    area_cell_m: float = DEFAULT_AREA_CELL_M,
) -> EvacuationPlan:
    """The plan of ``problem`` by ``method`` (``"optimal"`` or ``"greedy"``)."""
    if method not in ("optimal", "greedy"):
        raise BadRequest('method must be "optimal" or "greedy"', field="method")
    if not (math.isfinite(area_cell_m) and area_cell_m > 0):
        raise BadRequest("area_cell_m must be positive metres", field="area_cell_m")
    p = problem
    cols = p.live
    times = p.times[:, cols] if cols.size else np.zeros((len(p.demands), 0))
    reach = np.isfinite(times).any(axis=1)
    rows = np.flatnonzero(reach & (p.people > 0))
    room = np.array([p.shelters[j].room for j in cols], dtype=np.int64)
    sub = times[rows]
    if method == "optimal":
        flow, left = transport_grouped(sub, p.people[rows], room)
    else:
        flow, left = greedy(sub, p.people[rows], room)
    flows = []
    loads = np.zeros(len(p.shelters), dtype=np.int64)
    for r, c in zip(*np.nonzero(flow), strict=True):
        i, j = int(rows[r]), int(cols[c])
        people = int(flow[r, c])
        flows.append(Flow(i, j, people, float(p.times[i, j]), p.length(i, j)))
        loads[j] += people
    flows.sort(key=lambda f: (f.demand, f.shelter))
    unassigned = [Unassigned(i, int(p.people[i]), why) for i, why in p.skipped.items()]
    cut_off = "unreachable" if cols.size else "no_capacity"  # no usable shelter at all
    unassigned += [
        Unassigned(int(i), int(p.people[i]), cut_off)
        for i in np.flatnonzero(~reach & (p.people > 0))
        if int(i) not in p.skipped
    ]
    unassigned += [
        Unassigned(int(rows[r]), int(left[r]), "no_capacity") for r in np.flatnonzero(left)
    ]
    unassigned.sort(key=lambda u: (u.demand, u.reason))
    total = float(sum(f.people * f.duration_s for f in flows))
    plan = EvacuationPlan(
        method=method,
        flows=tuple(flows),
        loads=tuple(int(x) for x in loads),
        unassigned=tuple(unassigned),
        shortfall_areas=_areas(p, unassigned, area_cell_m),
        excluded_shelters=tuple(ExcludedShelter(j, r) for j, r in sorted(p.excluded.items())),
        total_person_s=total,
        problem=p,
    )
    LOGGER.info(
        "evacuation (%s): %d people placed, %d not, %.0f person-s",
        method,
        plan.assigned_people,
        plan.unassigned_people,
        total,
    )
    return plan


def _areas(
    p: EvacuationProblem, unassigned: list[Unassigned], cell_m: float
) -> tuple[ShortfallArea, ...]:
    """Unassigned people grouped per reason into clusters of touching grid cells."""
    out: list[ShortfallArea] = []
    kx, ky = p.rule.kx, p.rule.ky
    for reason in REASONS:
        us = [u for u in unassigned if u.reason == reason and u.people > 0]
        if not us:
            continue
        idx = np.array([u.demand for u in us])
        ppl = np.array([u.people for u in us], dtype=np.float64)
        lon = np.array([p.demands[i].lon for i in idx])
        lat = np.array([p.demands[i].lat for i in idx])
        cx = np.floor(lon * kx / cell_m).astype(np.int64)
        cy = np.floor(lat * ky / cell_m).astype(np.int64)
        for comp in _touching(cx, cy):
            w = ppl[comp]
            out.append(
                ShortfallArea(
                    reason,
                    float(np.average(lon[comp], weights=w)),
                    float(np.average(lat[comp], weights=w)),
                    int(w.sum()),
                    tuple(sorted(int(i) for i in idx[comp])),
                    (
                        float(lon[comp].min()),
                        float(lat[comp].min()),
                        float(lon[comp].max()),
                        float(lat[comp].max()),
                    ),
                )
            )
    out.sort(key=lambda a: (-a.people, a.reason, a.demands[0]))
    return tuple(out)


def _touching(cx: np.ndarray, cy: np.ndarray) -> list[np.ndarray]:
    """Indices of the points per group of cells that touch (8 neighbours)."""
    cx0, cy0 = cx - cx.min(), cy - cy.min()
    width = int(cy0.max()) + 3
    key = (cx0 + 1) * width + (cy0 + 1)
    cells, cell_of = np.unique(key, return_inverse=True)
    src, dst = [], []
    for dx, dy in ((1, 0), (0, 1), (1, 1), (1, -1)):
        nb = cells + dx * width + dy
        pos = np.searchsorted(cells, nb)
        hit = (pos < cells.size) & (cells[np.minimum(pos, cells.size - 1)] == nb)
        src.append(np.flatnonzero(hit))
        dst.append(pos[hit])
    a, b = np.concatenate(src), np.concatenate(dst)
    adj = coo_matrix((np.ones(a.size), (a, b)), shape=(cells.size, cells.size))
    _, label = connected_components(adj, directed=False)
    point_label = label[cell_of.reshape(-1)]
    return [np.flatnonzero(point_label == k) for k in range(int(label.max()) + 1)]


# --- input checks ------------------------------------------------------------------------------


def _check_zone(zone: object) -> shapely.Geometry:
    if not isinstance(zone, shapely.Polygon | shapely.MultiPolygon) or zone.is_empty:
        raise BadRequest("zone must be a non-empty lon/lat Polygon or MultiPolygon", field="zone")
    if not zone.is_valid:
        msg = f"zone is not a valid polygon: {shapely.is_valid_reason(zone)}"
        raise BadRequest(msg, field="zone")
    x0, y0, x1, y1 = zone.bounds
    if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
        raise BadRequest("zone must be in lon/lat degrees", field="zone")
    return zone


def _check_points(items: Sequence[Any], name: str, count: str) -> None:
    for k, item in enumerate(items):
        where = f"{name}[{k}]"
        lon, lat = getattr(item, "lon", None), getattr(item, "lat", None)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (lon, lat)):
            raise BadRequest(f"{where} needs finite lon and lat", field=f"{where}.lon")
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            raise BadRequest(f"{where} lies outside lon/lat range", field=f"{where}.lon")
        value = getattr(item, count, None)
        try:
            n = operator.index(value)
        except TypeError:
            n = -1
        if isinstance(value, bool) or n < 0:
            msg = f"{where}.{count} must be a whole number, 0 or more"
            raise BadRequest(msg, field=f"{where}.{count}")
