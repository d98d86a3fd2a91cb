"""The evacuation problem: who can reach which shelter under the "never deeper" rule, how fast.

:class:`EvacuationProblem` places demands and shelters on the road graph (snapped onto open
roads; people inside a closure or too far from a road are set aside, as are shelters inside the
zone, inside a closure, too far from a road, or that no allowed road piece reaches), closes the
edges the zone's rule (:class:`routing.zone_rule.ZoneDepth`) and the extra closures close, and
searches once backwards from every usable shelter over what is left (SciPy's C Dijkstra, 16
shelters per call, each shelter one virtual row joined to the junctions its road pieces lead
from). The result is the table of travel times (seconds) from every demand to every shelter,
the metres of those routes, and the routes themselves, read from the search trees.

Units: seconds, metres, people. Coordinates are lon/lat (EPSG:4326).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.engine import Closures, Engine, Route, Step, bearing, turn
from routing.errors import BadRequest, NoPath
from routing.zone_rule import ZoneDepth, cut

if TYPE_CHECKING:
    from routing.evacuation import Demand, Shelter

INF = math.inf


class EvacuationProblem:
    """Travel times (s) and search trees from every demand to every shelter under the rule.

    Built by :func:`routing.evacuation.build_problem`; read-only afterwards (routes are read
    from the trees). ``times[i, j]`` is demand ``i``'s time to shelter ``j`` (input indices),
    ``inf`` when it cannot get there; ``skipped[i]`` says why a demand could not be placed at
    all.
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
        edge[w], t[w] = _snap(eng, lon[w], lat[w], self.user_mask)
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
        edge, t = _snap(eng, lon, lat, self.user_mask)
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


def _snap(
    eng: Engine, lon: np.ndarray, lat: np.ndarray, blocked: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Each point's first snap onto an open road: ``(edge, t)``, edge -1 where none lies within
    the engine's maximum snap distance."""
    edge, t, _, _, _ = eng.snapper.snap_many(lon, lat, max_m=eng.max_snap_m, blocked=blocked)
    return edge, t


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
            before = bearing(prev, start=False) if prev is not None else None
            maneuver = "depart" if not steps else turn(before, bearing(part, start=True))
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
