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
within :data:`TIE_S`, move together), or left without a place at a cost ``M`` higher than any
chain of moves can save. This keeps the plan optimal at every step (standard min-cost flow
theory), so the result maximises the people placed and, among such plans, minimises total travel
time. Demands with identical travel-time rows (same place on the road) are solved as one.

Units: seconds, metres, people. Coordinates are lon/lat (EPSG:4326).
"""

from __future__ import annotations

import itertools
import logging
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from routing.engine import Closures, Engine, Route, Step, _bearing, _turn
from routing.errors import BadRequest, NoPath, SnapTooFar
from routing.snap import EARTH_R, END_EPS_M

LOGGER = logging.getLogger(__name__)

INF = math.inf
#: How much deeper than the junction it left a route may go between two junctions (metres).
DEFAULT_TOLERANCE_M = 10.0
#: Cell of the grid on which people left without a place are grouped into areas (metres).
DEFAULT_AREA_CELL_M = 250.0
#: Limits that keep one plan within memory and time (the assignment keeps a dense
#: demand x shelter table; every shelter is one search of the whole graph).
MAX_SHELTERS = 300
MAX_PAIRS = 2_000_000
#: Moves whose costs differ by less than this (seconds) count as equal in the assignment, so
#: people whose routes to two shelters differ only in a shared part move together.
TIE_S = 1e-6
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


# --- the zone and the rule -----------------------------------------------------------------


class ZoneDepth:
    """Depth (metres to the boundary, inside the zone; 0 outside) and the road-piece rule."""

    def __init__(self, engine: Engine, zone: shapely.Geometry, *, tolerance_m: float) -> None:
        self.engine = engine
        self.zone = zone
        self.tolerance_m = float(tolerance_m)
        self.step_m = self.tolerance_m / 2.0
        lat0 = float(zone.centroid.y)
        self.kx = math.radians(1.0) * EARTH_R * math.cos(math.radians(lat0))
        self.ky = math.radians(1.0) * EARTH_R
        self.zone_m = shapely.transform(zone, lambda xy: xy * np.array([self.kx, self.ky]))
        self.boundary_m = self.zone_m.boundary
        shapely.prepare(self.zone_m)
        shapely.prepare(zone)
        self._gstart: np.ndarray | None = None

    def depth(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Metres from each point to the zone's boundary when inside it, else 0."""
        x = np.asarray(lon, dtype=np.float64) * self.kx
        y = np.asarray(lat, dtype=np.float64) * self.ky
        out = np.zeros(x.shape)
        inside = shapely.contains_xy(self.zone_m, x, y)
        if inside.any():
            out[inside] = shapely.distance(self.boundary_m, shapely.points(x[inside], y[inside]))
        return out

    def closed_edges(self) -> np.ndarray:
        """Boolean mask of the directed edges the rule closes (whole pieces)."""
        eng = self.engine
        mask = np.zeros(eng.g.n_edges, dtype=bool)
        cand = np.asarray(eng.edge_tree.query(self.zone, predicate="intersects"), dtype=np.int64)
        if cand.size == 0:
            return mask
        g = eng.g
        nodes = np.unique(np.concatenate((eng.u[cand], eng.v[cand])))
        nd = np.zeros(eng.n)
        nd[nodes] = self.depth(np.asarray(g.node_lon)[nodes], np.asarray(g.node_lat)[nodes])
        # the deepest point of a piece is the same both ways: sample each street once
        rep = np.asarray(eng.snapper.rep)[cand].astype(np.int64)
        reps, where = np.unique(rep, return_inverse=True)
        _, _, rep_max = self._profile(reps, np.zeros(reps.size), np.ones(reps.size))
        ok = self._decide(
            cand,
            np.zeros(cand.size),
            np.ones(cand.size),
            nd[eng.u[cand]],
            nd[eng.v[cand]],
            rep_max[where.reshape(-1)],
        )
        mask[cand[~ok]] = True
        return mask

    def pieces_ok(self, edges: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """Whether each piece (edge, from fraction t0 to t1, t0 <= t1) may be driven under the
        rule."""
        edges = np.asarray(edges, dtype=np.int64)
        if edges.size == 0:
            return np.zeros(0, dtype=bool)
        t0, t1 = np.asarray(t0, dtype=np.float64), np.asarray(t1, dtype=np.float64)
        d0, d1, d_max = self._profile(edges, t0, t1)
        return self._decide(edges, t0, t1, d0, d1, d_max)

    def _profile(
        self, edges: np.ndarray, t0: np.ndarray, t1: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Depth at the start and the end of each piece, and the most along it (sampled)."""
        if self._gstart is None:
            seg_len = np.asarray(self.engine.snapper.seg_len)
            self._gstart = np.concatenate(([0.0], np.cumsum(seg_len)[:-1]))
        lon, lat, _, first = sample_pieces(
            self.engine, edges, t0, t1, self.step_m, gstart=self._gstart
        )
        d = self.depth(lon, lat)
        last = np.append(first[1:], d.size) - 1
        return d[first], d[last], np.maximum.reduceat(d, first)

    def _decide(
        self,
        edges: np.ndarray,
        t0: np.ndarray,
        t1: np.ndarray,
        d0: np.ndarray,
        d1: np.ndarray,
        d_max: np.ndarray,
    ) -> np.ndarray:
        """The rule, given the depths: samples lie at most ``step_m`` apart and depth changes by
        at most a metre per metre, so ``d_max + step_m / 2`` bounds the true deepest point (the
        margin used is a full step, for the projections' small differences)."""
        ok = (d1 <= d0) & (d_max <= d0 + self.tolerance_m - self.step_m)
        outside = d0 <= 0.0
        if outside.any():
            ok[outside] = self._stays_out(edges[outside], t0[outside], t1[outside])
        return ok

    def _stays_out(self, edges: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """Exact: the piece's line does not meet the zone's interior."""
        whole = (t0 <= 0.0) & (t1 >= 1.0)
        lines = np.empty(edges.size, dtype=object)
        if whole.any():
            lines[whole] = self.engine.edge_tree.geometries[edges[whole]]
        for i in np.flatnonzero(~whole):
            lines[i] = shapely.LineString(cut(self.engine, int(edges[i]), t0[i], t1[i]))
        return ~shapely.relate_pattern(lines, self.zone, "T********")


def sample_pieces(
    eng: Engine,
    edges: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    step_m: float,
    *,
    gstart: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points along each piece (edge from fraction t0 to t1), in driving order, at most
    ``step_m`` apart (both ends included): ``(lon, lat, piece index, first index per piece)``.
    Fractions are by length in the snapper's projection, as snaps are."""
    sn = eng.snapper
    t0 = np.asarray(t0, dtype=np.float64)
    t1 = np.asarray(t1, dtype=np.float64)
    rep = np.asarray(sn.rep)[edges].astype(np.int64)
    fwd = rep == edges
    mlen = np.asarray(sn.edge_mlen)[edges]
    a = np.where(fwd, t0, 1.0 - t0) * mlen
    b = np.where(fwd, t1, 1.0 - t1) * mlen
    n = np.maximum(np.ceil(np.abs(b - a) / step_m), 1).astype(np.int64) + 1
    first = np.concatenate(([0], np.cumsum(n)[:-1]))
    piece = np.repeat(np.arange(edges.size), n)
    k = np.arange(piece.size) - first[piece]
    pos = a[piece] + (b - a)[piece] * (k / (n[piece] - 1))
    seg_len = np.asarray(sn.seg_len)
    if gstart is None:  # where each segment starts, counting all segments end to end
        gstart = np.concatenate(([0.0], np.cumsum(seg_len)[:-1]))
    edge_seg = np.asarray(sn.edge_seg)
    s_first, s_last = edge_seg[rep][piece], edge_seg[rep + 1][piece]
    gpos = gstart[s_first] + pos
    s = np.searchsorted(gstart, gpos, side="right") - 1
    s = np.clip(s, s_first, np.maximum(s_last - 1, s_first))
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(seg_len[s] > 0, (gpos - gstart[s]) / seg_len[s], 0.0)
    f = np.clip(f, 0.0, 1.0)
    ax, ay, bx, by = (np.asarray(arr)[s] for arr in (sn.ax, sn.ay, sn.bx, sn.by))
    return (ax + f * (bx - ax)) / sn.kx, (ay + f * (by - ay)) / sn.ky, piece, first


def cut(eng: Engine, e: int, t0: float, t1: float) -> np.ndarray:
    """Edge ``e``'s lon/lat coordinates from fraction ``t0`` to ``t1`` (as snaps measure them),
    its vertices in between included."""
    a, b = int(eng.geom_off[e]), int(eng.geom_off[e + 1])
    xy = np.column_stack((eng.geom_lon[a:b], eng.geom_lat[a:b]))
    if t0 <= 0.0 and t1 >= 1.0:
        return xy
    sn = eng.snapper
    seg = np.hypot(np.diff(xy[:, 0]) * sn.kx, np.diff(xy[:, 1]) * sn.ky)
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    total = cum[-1]
    if total <= 0:
        return xy[[0, -1]] if t0 < t1 else xy[[0, 0]]
    d0, d1 = t0 * total, t1 * total
    inner = xy[(cum > d0) & (cum < d1)]
    return np.vstack([_interp(xy, cum, d0), inner, _interp(xy, cum, d1)])


def _interp(xy: np.ndarray, cum: np.ndarray, d: float) -> np.ndarray:
    i = int(np.clip(np.searchsorted(cum, d, side="right") - 1, 0, len(cum) - 2))
    span = cum[i + 1] - cum[i]
    f = 0.0 if span <= 0 else (d - cum[i]) / span
    return (xy[i] + f * (xy[i + 1] - xy[i]))[None, :]


def snap_points(
    eng: Engine, lon: np.ndarray, lat: np.ndarray, blocked: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The engine snapper's answer for many points at once: ``(edge, t)``, edge -1 where no
    open road is within the engine's maximum snap distance.

    Vectorised over the snapping grid's 3 x 3 cells around each point, which is exact whenever
    the nearest road is within one cell; other points go through :meth:`Snapper.snap`.
    """
    sn = eng.snapper
    m = lon.size
    edge = np.full(m, -1, dtype=np.int64)
    t = np.zeros(m)
    if m == 0:
        return edge, t
    px, py = lon * sn.kx, lat * sn.ky
    cx = np.floor(px / sn.cell).astype(np.int64) - sn.cx0
    cy = np.floor(py / sn.cell).astype(np.int64) - sn.cy0
    keys_all = np.asarray(sn.cell_keys)
    ptr = np.asarray(sn.cell_ptr)
    pts, starts, counts = [], [], []
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            yy = cy + dy
            key = (cx + dx) * sn.ny + yy
            lo = np.searchsorted(keys_all, key)
            lo_c = np.minimum(lo, keys_all.size - 1)
            hit = (lo < keys_all.size) & (keys_all[lo_c] == key) & (yy >= 0) & (yy < sn.ny)
            hit &= cx + dx >= 0
            i = np.flatnonzero(hit)
            pts.append(i)
            starts.append(ptr[lo_c[i]])
            counts.append(ptr[lo_c[i] + 1] - ptr[lo_c[i]])
    p_i, st, cnt = np.concatenate(pts), np.concatenate(starts), np.concatenate(counts)
    owner = np.repeat(p_i, cnt)
    within = np.arange(owner.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    segs = np.asarray(sn.cell_seg)[np.repeat(st, cnt) + within].astype(np.int64)
    seg_edge = np.asarray(sn.seg_edge)
    twin = np.asarray(eng.twin)
    if blocked is not None and segs.size:
        e0 = seg_edge[segs]
        tw = twin[e0]
        shut = blocked[e0] & ((tw < 0) | blocked[np.maximum(tw, 0)])
        owner, segs = owner[~shut], segs[~shut]
    d, f = _seg_dist(sn, segs, px[owner], py[owner])
    order = np.lexsort((seg_edge[segs], d, owner))
    owner, segs, d, f = owner[order], segs[order], d[order], f[order]
    head = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if owner.size else owner
    best_p, best_s, best_d, best_f = owner[head], segs[head], d[head], f[head]
    good = best_d <= min(sn.cell, eng.max_snap_m)
    decided = best_p[best_d <= sn.cell]  # exact answers; beyond max_snap_m they stay -1
    gp, gs, gf = best_p[good], best_s[good], best_f[good]
    e = seg_edge[gs].astype(np.int64)
    along = np.asarray(sn.seg_start)[gs] + gf * np.asarray(sn.seg_len)[gs]
    mlen = np.asarray(sn.edge_mlen)[e]
    frac = np.where(along <= END_EPS_M, 0.0, np.where(mlen - along <= END_EPS_M, 1.0, 0.0))
    mid = (along > END_EPS_M) & (mlen - along > END_EPS_M)
    frac[mid] = along[mid] / np.where(mlen[mid] > 0, mlen[mid], 1.0)
    if blocked is not None:
        tw = twin[e]
        flip = blocked[e] & (tw >= 0)
        flip &= ~blocked[np.maximum(tw, 0)]
        e = np.where(flip, tw, e)
        frac = np.where(flip, 1.0 - frac, frac)
    edge[gp], t[gp] = e, frac
    for i in np.setdiff1d(np.arange(m), decided):
        try:
            s = sn.snap(float(lon[i]), float(lat[i]), max_m=eng.max_snap_m, blocked=blocked)[0]
        except SnapTooFar:
            continue
        edge[i], t[i] = s.edge, s.t
    return edge, t


def _seg_dist(sn: Any, segs: np.ndarray, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, ...]:
    ax, ay = np.asarray(sn.ax)[segs], np.asarray(sn.ay)[segs]
    dx, dy = np.asarray(sn.bx)[segs] - ax, np.asarray(sn.by)[segs] - ay
    den = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.where(den > 0, ((px - ax) * dx + (py - ay) * dy) / den, 0.0)
    f = np.clip(f, 0.0, 1.0)
    return np.hypot(px - (ax + f * dx), py - (ay + f * dy)), f


# --- the problem: who can reach which shelter, how fast --------------------------------------


class EvacuationProblem:
    """Travel times (s) and search trees from every demand to every shelter under the rule.

    Built by :func:`build_problem`; read-only afterwards (routes are read from the trees).
    ``times[i, j]`` is demand ``i``'s time to shelter ``j`` (input indices), ``inf`` when it
    cannot get there; ``skipped[i]`` says why a demand could not be placed at all.
    """

    def __init__(
        self,
        engine: Engine,
        zone: shapely.Geometry,
        demands: Sequence[Demand],
        shelters: Sequence[Shelter],
        *,
        closures: Closures | None,
        tolerance_m: float,
    ) -> None:
        self.engine = engine
        self.demands = tuple(demands)
        self.shelters = tuple(shelters)
        self.rule = ZoneDepth(engine, zone, tolerance_m=tolerance_m)
        self.user_mask = engine.closed_mask(closures)
        closed = self.rule.closed_edges()
        self.closed = closed if self.user_mask is None else closed | self.user_mask
        self.skipped: dict[int, str] = {}
        self.excluded: dict[int, str] = {}
        self._place_demands(closures)
        self._place_shelters(closures)
        self._search()

    # demands: where each can leave its place on the road ----------------------------------

    def _place_demands(self, closures: Closures | None) -> None:
        eng, m = self.engine, len(self.demands)
        lon = np.array([d.lon for d in self.demands], dtype=np.float64)
        lat = np.array([d.lat for d in self.demands], dtype=np.float64)
        people = np.array([d.people for d in self.demands], dtype=np.int64)
        self.people = people
        inside = _in_polygons(closures.polygons if closures else (), lon, lat)
        want = (people > 0) & ~inside
        for i in np.flatnonzero(inside & (people > 0)):
            self.skipped[int(i)] = "inside_closure"
        edge = np.full(m, -1, dtype=np.int64)
        t = np.zeros(m)
        w = np.flatnonzero(want)
        edge[w], t[w] = snap_points(eng, lon[w], lat[w], self.user_mask)
        for i in np.flatnonzero(want & (edge < 0)):
            self.skipped[int(i)] = "too_far_from_road"
        ok = edge >= 0
        e = np.maximum(edge, 0)
        tw = eng.twin[e].astype(np.int64)
        if self.user_mask is not None:
            tw = np.where((tw >= 0) & ~self.user_mask[np.maximum(tw, 0)], tw, -1)
        tw = np.where(ok, tw, -1)
        # exits: 0 along the edge to its v end, 1 along the twin to u, 2 the junction it is on
        node = np.zeros((m, 3), dtype=np.int64)
        cost = np.full((m, 3), INF)
        length = np.zeros((m, 3))
        a = np.flatnonzero(ok & (t < 1.0))
        node[a, 0] = eng.v[e[a]]
        ok_a = self.rule.pieces_ok(e[a], t[a], np.ones(a.size))
        cost[a[ok_a], 0] = (1.0 - t[a[ok_a]]) * eng.time[e[a[ok_a]]]
        length[a, 0] = (1.0 - t[a]) * eng.length[e[a]]
        b = np.flatnonzero((tw >= 0) & (t > 0.0))
        node[b, 1] = eng.u[e[b]]
        ok_b = self.rule.pieces_ok(tw[b], 1.0 - t[b], np.ones(b.size))
        cost[b[ok_b], 1] = t[b[ok_b]] * eng.time[tw[b[ok_b]]]
        length[b, 1] = t[b] * eng.length[tw[b]]
        at_u, at_v = ok & (t <= 0.0), ok & (t >= 1.0)
        node[at_u, 2], node[at_v, 2] = eng.u[e[at_u]], eng.v[e[at_v]]
        cost[at_u | at_v, 2] = 0.0
        self.d_edge, self.d_t, self.d_twin = edge, t, tw
        self.exit_node, self.exit_cost, self.exit_len = node, cost, length

    # shelters: how each can be reached ------------------------------------------------------

    def _place_shelters(self, closures: Closures | None) -> None:
        eng, rule = self.engine, self.rule
        lon = np.array([s.lon for s in self.shelters], dtype=np.float64)
        lat = np.array([s.lat for s in self.shelters], dtype=np.float64)
        in_zone = _in_polygons((rule.zone,), lon, lat)
        in_closure = _in_polygons(closures.polygons if closures else (), lon, lat)
        edge, t = snap_points(eng, lon, lat, self.user_mask)
        #: per searched shelter (input index): [(junction, seconds, metres, piece or None)]
        self.entries: dict[int, list[tuple[int, float, float, tuple[int, float, float] | None]]]
        self.entries = {}
        for j in range(len(self.shelters)):
            if in_zone[j]:
                self.excluded[j] = "inside_zone"
            elif in_closure[j]:
                self.excluded[j] = "inside_closure"
            elif edge[j] < 0:
                self.excluded[j] = "too_far_from_road"
            else:
                rows = self._entries(int(edge[j]), float(t[j]))
                if rows:
                    self.entries[j] = rows
                else:
                    self.excluded[j] = "unreachable"

    def _entries(
        self, e: int, t: float
    ) -> list[tuple[int, float, float, tuple[int, float, float] | None]]:
        eng = self.engine
        pieces: list[tuple[int, float, float]] = []
        if t > 0.0:
            pieces.append((e, 0.0, t))
        tw = int(eng.twin[e])
        if tw >= 0 and t < 1.0 and (self.user_mask is None or not self.user_mask[tw]):
            pieces.append((tw, 0.0, 1.0 - t))
        out: list[tuple[int, float, float, tuple[int, float, float] | None]] = []
        if pieces:
            pe = np.array([p[0] for p in pieces])
            ok = self.rule.pieces_ok(pe, np.zeros(len(pieces)), np.array([p[2] for p in pieces]))
            for (pe_i, _, f), good in zip(pieces, ok, strict=True):
                if good:
                    piece = (pe_i, 0.0, f)
                    out.append((int(eng.u[pe_i]), f * eng.time[pe_i], f * eng.length[pe_i], piece))
        if t <= 0.0 or t >= 1.0:
            out.append((int(eng.u[e] if t <= 0.0 else eng.v[e]), 0.0, 0.0, None))
        return out

    # the searches ---------------------------------------------------------------------------

    def _search(self) -> None:
        eng, n, m = self.engine, self.engine.n, len(self.demands)
        live = sorted(self.entries)
        self.live = np.array(live, dtype=np.int64)
        self.column = {j: c for c, j in enumerate(live)}
        self.times = np.full((m, len(self.shelters)), INF)
        self.via = np.full((m, len(live)), -1, dtype=np.int8)
        self.direct: dict[tuple[int, int], tuple[int, float, float]] = {}
        self.pred = np.zeros((len(live), n), dtype=np.int32)
        self.tree_len = np.zeros((len(live), n))
        if not live or m == 0:
            return
        data = eng.rev_time.copy()
        data[eng.rev_pos[np.flatnonzero(self.closed)]] = INF
        rows = [[(node, w) for node, w, _, _ in self.entries[j]] for j in live]
        graph = _with_rows(eng, data, rows)
        chunk = 16
        for c0 in range(0, len(live), chunk):
            cols = np.arange(c0, min(c0 + chunk, len(live)))
            dist, pred = dijkstra(graph, directed=True, indices=n + cols, return_predecessors=True)
            via_t = dist[:, self.exit_node] + self.exit_cost[None, :, :]  # (k, m, 3)
            self.times[:, self.live[cols]] = via_t.min(axis=2).T
            self.via[:, cols] = via_t.argmin(axis=2).T
            self.pred[cols] = pred[:, :n]
            for k, col in enumerate(cols):
                self.tree_len[col] = self._tree_lengths(pred[k, :n], int(col))
        self._direct_pairs()
        self.times[self.people <= 0] = INF

    def _tree_lengths(self, pred: np.ndarray, col: int) -> np.ndarray:
        """Metres from every junction along shelter ``col``'s search tree to the shelter
        (pointer doubling over the tree)."""
        eng, n = self.engine, self.engine.n
        step = np.zeros(n + 1)
        up = np.full(n + 1, n, dtype=np.int64)
        pu = pred[eng.u]
        tree = (pu == eng.v) & ~self.closed
        e = np.flatnonzero(tree)  # sorted by u: parallel pieces are neighbours
        step[eng.u[e]] = eng.length[e]
        up[eng.u[e]] = eng.v[e]
        uu = eng.u[e]
        dup = np.flatnonzero(uu[1:] == uu[:-1])
        if dup.size:  # parallel pieces: the search took the fastest
            par = e[np.unique(np.concatenate((dup, dup + 1)))]
            par = par[np.lexsort((-eng.time[par], eng.u[par]))]
            step[eng.u[par]] = eng.length[par]  # the fastest comes last for each junction
        entries = self.entries[int(self.live[col])]
        for node in np.flatnonzero(pred >= n):  # children of the virtual root
            best = min((w, ln) for nd, w, ln, _ in entries if nd == node)
            step[node] = best[1]
        while (up != n).any():
            step += step[up]
            up = up[up]
        return step[:n]

    def _direct_pairs(self) -> None:
        """Demand and shelter on the same road piece, the shelter ahead: the drive along it."""
        eng = self.engine
        for col, j in enumerate(self.live):
            for _, _, _, piece in self.entries[int(j)]:
                if piece is None:
                    continue
                e, _, ts = piece
                for de, dt in ((self.d_edge, self.d_t), (self.d_twin, 1.0 - self.d_t)):
                    hit = np.flatnonzero((de == e) & (dt <= ts) & (self.people > 0))
                    if hit.size == 0:
                        continue
                    ok = self.rule.pieces_ok(np.full(hit.size, e), dt[hit], np.full(hit.size, ts))
                    for i, good in zip(hit, ok, strict=True):
                        secs = (ts - dt[i]) * eng.time[e]
                        if good and secs < self.times[i, j]:
                            self.times[i, j] = secs
                            self.via[i, col] = 3
                            self.direct[(int(i), int(j))] = (e, float(dt[i]), ts)

    # answers --------------------------------------------------------------------------------

    def length(self, i: int, j: int) -> float:
        """Metres of demand ``i``'s route to shelter ``j`` (inf when there is none)."""
        if not math.isfinite(self.times[i, j]):
            return INF
        col = self.column[j]
        c = int(self.via[i, col])
        if c == 3:
            e, t0, t1 = self.direct[(i, j)]
            return float((t1 - t0) * self.engine.length[e])
        node = int(self.exit_node[i, c])
        return float(self.exit_len[i, c] + self.tree_len[col, node])

    def route(self, i: int, j: int) -> Route:
        """Demand ``i``'s route to shelter ``j`` under the rule.

        Raises
        ------
        NoPath
            When demand ``i`` cannot reach shelter ``j`` (``reason="unreachable"``).
        """
        if not (0 <= i < len(self.demands) and 0 <= j < len(self.shelters)):
            msg = "no such demand or shelter"
            raise BadRequest(msg, field="flow")
        if not math.isfinite(self.times[i, j]):
            msg = f"demand {self.demands[i].key!r} cannot reach shelter {self.shelters[j].key!r}"
            raise NoPath(msg, field="shelter", reason="unreachable")
        col = self.column[j]
        c = int(self.via[i, col])
        if c == 3:
            return _assemble(self.engine, [self.direct[(i, j)]])
        pieces: list[tuple[int, float, float]] = []
        e, t = int(self.d_edge[i]), float(self.d_t[i])
        if c == 0:
            pieces.append((e, t, 1.0))
        elif c == 1:
            pieces.append((int(self.d_twin[i]), 1.0 - t, 1.0))
        x = int(self.exit_node[i, c])
        pred, n = self.pred[col], self.engine.n
        while 0 <= pred[x] < n:
            y = int(pred[x])
            pieces.append((self._tree_edge(x, y), 0.0, 1.0))
            x = y
        best = min((w, k) for k, (nd, w, _, _) in enumerate(self.entries[j]) if nd == x)
        last = self.entries[j][best[1]][3]
        if last is not None:
            pieces.append(last)
        if not pieces:  # demand and shelter at the same junction
            pieces.append((e, t, t))
        return _assemble(self.engine, pieces)

    def _tree_edge(self, x: int, y: int) -> int:
        eng = self.engine
        key = x * max(eng.n, 1) + y
        lo, hi = np.searchsorted(eng.uv_key, [key, key + 1])
        cand = np.arange(lo, hi)
        cand = cand[~self.closed[cand]]
        return int(cand[np.argmin(eng.time[cand])])


def _in_polygons(polys: Sequence[shapely.Geometry], lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    out = np.zeros(lon.shape, dtype=bool)
    for p in polys:
        out |= shapely.intersects_xy(p, lon, lat)
    return out


def _with_rows(eng: Engine, data: np.ndarray, rows: list[list[tuple[int, float]]]) -> csr_matrix:
    """The reverse CSR graph with weights ``data`` and one virtual row per entry of ``rows``."""
    indptr = eng.rev_indptr
    extra_idx = np.array([node for row in rows for node, _ in row], dtype=np.int32)
    extra_w = np.array([w for row in rows for _, w in row], dtype=np.float64)
    lens = np.cumsum([len(r) for r in rows]) + indptr[-1]
    size = eng.n + len(rows)
    return csr_matrix(
        (
            np.concatenate((data, extra_w)),
            np.concatenate((eng.rev_indices, extra_idx)),
            np.concatenate((indptr, lens.astype(indptr.dtype))),
        ),
        shape=(size, size),
    )


def _assemble(eng: Engine, pieces: list[tuple[int, float, float]]) -> Route:
    """A :class:`Route` along road pieces ``(edge, t0, t1)``, one street-name step per run."""
    coords: list[np.ndarray] = []
    steps: list[list[Any]] = []  # [name, first point, metres, seconds, maneuver]
    length = duration = 0.0
    prev = None
    for e, t0, t1 in pieces:
        frac = max(t1 - t0, 0.0)
        seg_len, seg_time = frac * float(eng.length[e]), frac * float(eng.time[e])
        length, duration = length + seg_len, duration + seg_time
        part = cut(eng, e, t0, t1)
        coords.append(part if not coords else part[1:])
        name = eng.g.street(e)
        if steps and steps[-1][0] == name:
            steps[-1][2] += seg_len
            steps[-1][3] += seg_time
        elif frac > 0 or not steps:
            before = _bearing(prev, start=False) if prev is not None else None
            maneuver = "depart" if not steps else _turn(before, _bearing(part, start=True))
            steps.append([name, part[0], seg_len, seg_time, maneuver])
        if len(part) >= 2 and frac > 0:
            prev = part
    line = np.concatenate(coords)
    if len(line) == 1:
        line = np.vstack([line, line])
    out = [
        Step(s[0], s[4], round(s[2], 2), round(s[3], 3), (float(s[1][0]), float(s[1][1])))
        for s in steps
    ]
    end = (float(line[-1, 0]), float(line[-1, 1]))
    out.append(Step(eng.g.street(pieces[-1][0]), "arrive", 0.0, 0.0, end))
    return Route(line, length, duration, tuple(out), tuple(p[0] for p in pieces))


# --- the assignment ----------------------------------------------------------------------------


def transport(cost: np.ndarray, supply: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, ...]:
    """Optimal transportation with a shortfall: ``(flow, left)`` with ``flow[i, j]`` people of
    row ``i`` to column ``j`` and ``left[i]`` people of row ``i`` placed nowhere.

    Places as many people as possible and, among such plans, minimises ``sum(cost * flow)``;
    ``cost`` is ``inf`` where a row cannot use a column. Leaving a person out costs ``M``, more
    than any chain of moves between columns can save, so it is the last resort.

    Successive shortest paths on the residual network with the rows contracted away: its nodes
    are the columns and one sink ``T`` (room used, people left out); an arc ``j -> k`` is the
    cheapest move of people from column ``j`` to ``k`` (all rows whose move costs that much, to
    within :data:`TIE_S`, move together). Everyone starts at their cheapest column, which is
    optimal for what it places; while a column holds more than its room, its excess goes along a
    shortest path (Bellman-Ford over the columns) to room left somewhere or out. Every step keeps
    the plan optimal for what it places (standard min-cost flow theory), so the end is optimal.
    """
    m, s = cost.shape
    if m == 0 or s == 0:
        return np.zeros((m, s), dtype=np.int64), np.asarray(supply, dtype=np.int64).copy()
    st = _Transport(np.ascontiguousarray(cost.T), supply, room)
    st.run()
    return st.flow.T.copy(), st.left


class _Transport:
    """State of :func:`transport` (columns ``0..s-1`` and the sink ``T = s``)."""

    def __init__(self, ct: np.ndarray, supply: np.ndarray, room: np.ndarray) -> None:
        s, m = ct.shape
        self.ct, self.s = ct, s
        self.supply = np.asarray(supply, dtype=np.int64)
        self.room = np.asarray(room, dtype=np.int64)
        finite = np.isfinite(ct)
        self.big = (s + 1) * max(float(np.abs(ct[finite]).max(initial=0.0)), 1.0) + 1.0
        self.flow = np.zeros((s, m), dtype=np.int64)  # everyone at their cheapest column
        self.flow[ct.argmin(axis=0), np.arange(m)] = self.supply
        self.left = np.zeros(m, dtype=np.int64)
        self.load = self.flow.sum(axis=1)
        self.used = np.minimum(self.load, self.room)  # room used; the rest is excess
        self.w = np.full((s + 1, s + 1), INF)  # arc costs; row/column s is the sink
        self.out_cost, self.out_who = np.full(s, INF), np.zeros(s, dtype=np.int64)
        self.in_cost, self.in_who = np.full(s, INF), np.zeros(s, dtype=np.int64)
        for j in range(s):
            self._column(j)
        self._sink()
        self.rounds = 0
        self._movers: dict[tuple[int, int], np.ndarray] = {}

    def _column(self, j: int) -> None:
        """Arcs out of column ``j``: its rows' cheapest moves, and leaving one out."""
        idx = np.flatnonzero(self.flow[j])
        if idx.size == 0:
            self.w[j, : self.s], self.out_cost[j] = INF, INF
            return
        vals = self.ct[:, idx] - self.ct[j, idx]
        self.w[j, : self.s] = vals.min(axis=1)
        self.w[j, j] = INF
        k = int(self.ct[j, idx].argmax())
        self.out_cost[j], self.out_who[j] = self.big - self.ct[j, idx[k]], idx[k]

    def _sink(self) -> None:
        """Arcs out of the sink: taking a left-out row back in."""
        idx = np.flatnonzero(self.left)
        if idx.size == 0:
            self.in_cost[:] = INF
            return
        a = self.ct[:, idx].argmin(axis=1)
        self.in_cost = self.ct[np.arange(self.s), idx[a]] - self.big
        self.in_who = idx[a]

    def run(self) -> None:
        s = self.s
        while True:
            excess = np.append(self.load - self.used, self.used.sum() + self.left.sum())
            excess[s] -= self.supply.sum()
            src = int(excess.argmax())
            if excess[src] <= 0:
                return
            self.rounds += 1
            self.w[:s, s] = np.where(self.used < self.room, 0.0, self.out_cost)
            self.w[s, :s] = np.minimum(self.in_cost, np.where(self.used > 0, 0.0, INF))
            dist, par = _bellman_ford(self.w, src)
            dst = int(np.where(excess < 0, dist, INF).argmin())
            path = [dst]
            while path[-1] != src:
                path.append(int(par[path[-1]]))
            path.reverse()
            hops = list(itertools.pairwise(path))
            delta = min(int(excess[src]), int(-excess[dst]))
            for a, b in hops:
                delta = min(delta, self._capacity(a, b))
            touched = set()
            for a, b in hops:
                touched |= self._push(a, b, delta)
            for j in touched - {s}:
                self._column(j)
            if s in touched:
                self._sink()

    def _capacity(self, a: int, b: int) -> int:
        s = self.s
        if a < s and b < s:  # every row whose move costs the least (ties move together)
            idx = np.flatnonzero(self.flow[a])
            cost = self.ct[b, idx] - self.ct[a, idx]
            self._movers[(a, b)] = idx[cost <= self.w[a, b] + TIE_S]
            return int(self.flow[a, self._movers[(a, b)]].sum())
        if b == s:  # room of a, or a row of a left out
            if self.used[a] < self.room[a]:
                return int(self.room[a] - self.used[a])
            return int(self.flow[a, self.out_who[a]])
        if self.in_cost[b] <= 0.0 and math.isfinite(self.in_cost[b]):  # a left-out row into b
            return int(self.left[self.in_who[b]])
        return int(self.used[b])  # room of b given back

    def _push(self, a: int, b: int, delta: int) -> set[int]:
        s = self.s
        if a < s and b < s:
            todo = delta
            for i in self._movers.pop((a, b)):
                take = min(todo, int(self.flow[a, i]))
                self.flow[a, i] -= take
                self.flow[b, i] += take
                todo -= take
                if todo == 0:
                    break
            self.load[a] -= delta
            self.load[b] += delta
            return {a, b}
        if b == s:
            if self.used[a] < self.room[a]:
                self.used[a] += delta
                return set()
            i = self.out_who[a]
            self.flow[a, i] -= delta
            self.left[i] += delta
            self.load[a] -= delta
            return {a, s}
        if self.in_cost[b] <= 0.0 and math.isfinite(self.in_cost[b]):
            i = self.in_who[b]
            self.left[i] -= delta
            self.flow[b, i] += delta
            self.load[b] += delta
            return {b, s}
        self.used[b] -= delta
        return set()


def _bellman_ford(w: np.ndarray, src: int) -> tuple[np.ndarray, np.ndarray]:
    """Shortest distances from ``src`` over the dense arc costs ``w`` (no negative cycles)."""
    s = w.shape[0]
    dist = np.full(s, INF)
    dist[src] = 0.0
    par = np.full(s, -1, dtype=np.int64)
    cols = np.arange(s)
    for _ in range(s):
        cand = dist[:, None] + w
        frm = cand.argmin(axis=0)
        best = cand[frm, cols]
        better = best < dist - 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(best), best, 0)))
        if not better.any():
            break
        dist = np.where(better, best, dist)
        par = np.where(better, frm, par)
    return dist, par


def _greedy(cost: np.ndarray, supply: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rows in input order, each to its nearest column with room, then the next nearest."""
    m, s = cost.shape
    flow = np.zeros((m, s), dtype=np.int64)
    left = np.zeros(m, dtype=np.int64)
    free = room.astype(np.int64).copy()
    for i in range(m):
        need = int(supply[i])
        for j in np.argsort(cost[i], kind="stable"):
            if need == 0 or not np.isfinite(cost[i, j]):
                break
            take = min(need, int(free[j]))
            flow[i, j] += take
            free[j] -= take
            need -= take
        left[i] = need
    return flow, left


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
        flow, left = _aggregated(sub, p.people[rows], room)
    else:
        flow, left = _greedy(sub, p.people[rows], room)
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


def _aggregated(cost: np.ndarray, people: np.ndarray, room: np.ndarray) -> tuple[np.ndarray, ...]:
    """:func:`transport` with rows of identical costs solved as one, then split in row order."""
    if cost.shape[0] == 0:
        return np.zeros(cost.shape, dtype=np.int64), np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(cost, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    supply = np.bincount(inverse, weights=people, minlength=uniq.shape[0]).astype(np.int64)
    g_flow, g_left = transport(uniq, supply, room)
    if uniq.shape[0] == cost.shape[0]:
        return g_flow[inverse], g_left[inverse]
    flow = np.zeros(cost.shape, dtype=np.int64)
    left = np.zeros(cost.shape[0], dtype=np.int64)
    for g, members in enumerate(_groups(inverse, uniq.shape[0])):
        budget = [(int(j), int(g_flow[g, j])) for j in np.flatnonzero(g_flow[g])]
        budget.append((-1, int(g_left[g])))
        k = 0
        for i in members:
            need = int(people[i])
            while need:
                j, amount = budget[k]
                take = min(need, amount)
                if j >= 0:
                    flow[i, j] += take
                else:
                    left[i] += take
                need -= take
                budget[k] = (j, amount - take)
                if budget[k][1] == 0:
                    k += 1
    return flow, left


def _groups(inverse: np.ndarray, n: int) -> list[np.ndarray]:
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(n + 1))
    return [order[bounds[g] : bounds[g + 1]] for g in range(n)]


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
