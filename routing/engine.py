"""The routing engine: nearest-k by travel time, routes, isochrones, matrices, with closures.

Searches run on the graph's CSR arrays with SciPy's C implementation of Dijkstra. A point is
joined to the graph by a *virtual node*: one extra CSR row whose edges lead to the junctions at
the ends of the road piece it snapped to, weighted by the part of that piece still to drive.
Closures (danger polygons, closed edges) are a per-query mask: closed edges get an infinite
weight in a copy of the weight array; the shared graph is never changed.

Units: seconds and metres. Travel time from A to B follows one-way streets. When A and B lie
on the same road piece, B ahead of A, the direct drive along it counts too, so a route from a
point to itself takes 0 s.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import math
import operator
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from routing.errors import BadRequest, NoPath, RoutingError
from routing.graph import RoadGraph
from routing.snap import Snap, Snapper

INF = math.inf


@dataclass(frozen=True)
class Closures:
    """What is closed for one query: danger-zone polygons (lon/lat) and closed edge ids."""

    polygons: tuple[shapely.Geometry, ...] = ()
    edges: frozenset[int] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.polygons) or bool(self.edges)

    @property
    def key(self) -> str:
        """A canonical hash of the closure set, for cache keys."""
        h = hashlib.sha256()
        for wkb in sorted(shapely.to_wkb(p, output_dimension=2) for p in self.polygons):
            h.update(wkb)
        h.update(",".join(map(str, sorted(self.edges))).encode())
        return h.hexdigest()[:16] if self else "none"

    def contains(self, lon: float, lat: float) -> bool:
        p = shapely.Point(lon, lat)
        return any(poly.covers(p) for poly in self.polygons)


@dataclass(frozen=True)
class Located:
    """A point joined to the graph: its snaps (one per directed edge that runs there)."""

    lon: float
    lat: float
    snaps: tuple[Snap, ...]
    junction: int | None = None  # set when the point lies on a junction: every road there counts


@dataclass(frozen=True)
class NearestHit:
    """One source reached: its index in the input, travel time (s) and length (m) to the target."""

    index: int
    duration_s: float
    length_m: float


@dataclass(frozen=True)
class Step:
    name: str | None
    maneuver: str
    distance_m: float
    duration_s: float
    location: tuple[float, float]


@dataclass(frozen=True)
class Route:
    """A route: lon/lat coordinates, length (m), duration (s), steps, and the edges used."""

    coords: np.ndarray
    length_m: float
    duration_s: float
    steps: tuple[Step, ...]
    edges: tuple[int, ...] = field(default=())


Pieces = tuple[np.ndarray, np.ndarray, np.ndarray]  # edges, from fractions, to fractions


class Engine:
    """Queries on one read-only :class:`RoadGraph`. Thread-safe: no query writes shared state."""

    def __init__(self, graph: RoadGraph, *, max_snap_m: float = 500.0) -> None:
        self.g = graph
        self.max_snap_m = max_snap_m
        self.n = graph.n_nodes
        self.time = np.asarray(graph.edge_time, dtype=np.float64)
        self.length = np.asarray(graph.edge_len, dtype=np.float64)
        self.u = np.asarray(graph.edge_u, dtype=np.int32)
        self.v = np.asarray(graph.edge_v, dtype=np.int32)
        self.twin = np.asarray(graph.edge_twin)
        self.fwd_indptr = np.asarray(graph.fwd_indptr, dtype=np.int32)
        self.rev_indptr = np.asarray(graph.rev_indptr, dtype=np.int32)
        self.rev_edge = np.asarray(graph.rev_edge, dtype=np.int32)
        self.rev_indices = self.u[self.rev_edge]
        self.rev_pos = np.empty_like(self.rev_edge)
        self.rev_pos[self.rev_edge] = np.arange(len(self.rev_edge))
        self.rev_time = self.time[self.rev_edge]
        self.name_ids = np.asarray(graph.edge_name)
        # plain views: memmap slicing carries per-call overhead on the hot path
        self.geom_off = np.asarray(graph.geom_offsets)
        self.geom_lon, self.geom_lat = np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)
        self._masks: OrderedDict[str, np.ndarray] = OrderedDict()
        self._local = threading.local()
        self.uv_key = (
            self.u.astype(np.int64) * max(self.n, 1) + self.v
        )  # sorted: edges are by (u, v)
        with np.errstate(divide="ignore", invalid="ignore"):
            speed = np.where(self.time > 0, self.length / self.time, 0.0)
        self.vmax = float(speed.max()) if speed.size else 1.0
        self.vmed = float(np.median(speed[speed > 0])) if (speed > 0).any() else 1.0
        self.max_edge_time = float(self.time.max()) if self.time.size else 0.0
        #: typical travel time / (straight line at median speed), measured when the graph was
        #: built (see calibrate); it sets the first search radius of routes and nearest queries
        self.route_factor = float(graph.meta.get("route_factor", 0.7))
        self._sources: OrderedDict[tuple[bytes, str], Any] = OrderedDict()
        self._sources_lock = threading.Lock()
        #: the last few reverse search trees of :meth:`reach`, by target, closures and limit
        #: (a proposal is asked for again each time anything changes, mostly not the roads),
        #: and routes read from them, by tree and source point
        self._trees: OrderedDict[tuple[Any, ...], tuple[Located, np.ndarray, np.ndarray]] = (
            OrderedDict()
        )
        self._tree_routes: OrderedDict[tuple[Any, ...], Route] = OrderedDict()

    # --- building blocks ---------------------------------------------------------------------

    @cached_property
    def snapper(self) -> Snapper:
        return Snapper(self.g)

    @cached_property
    def geom_xy(self) -> np.ndarray:
        """Every edge's coordinates as one (n, 2) lon/lat array, indexed by ``geom_off``."""
        xy = np.column_stack((self.geom_lon, self.geom_lat))
        xy.setflags(write=False)
        return xy

    @cached_property
    def edge_tree(self) -> shapely.STRtree:
        g = self.g
        counts = np.diff(np.asarray(g.geom_offsets))
        coords = np.column_stack((g.geom_lon, g.geom_lat))
        lines = shapely.linestrings(coords, indices=np.repeat(np.arange(g.n_edges), counts))
        return shapely.STRtree(lines)

    def closed_mask(self, closures: Closures | None) -> np.ndarray | None:
        """Boolean mask of closed edges (None when nothing is closed)."""
        if not closures:
            return None
        key = closures.key
        with self._sources_lock:
            hit = self._masks.get(key)
        if hit is not None:
            return hit
        mask = np.zeros(self.g.n_edges, dtype=bool)
        for poly in closures.polygons:
            mask[self.edge_tree.query(poly, predicate="intersects")] = True
        if closures.edges:
            ids = np.fromiter(closures.edges, dtype=np.int64)
            if ids.min() < 0 or ids.max() >= self.g.n_edges:
                msg = f"closed edge ids must be 0..{self.g.n_edges - 1}"
                raise BadRequest(msg, field="closed_edges")
            mask[ids] = True
        mask.setflags(write=False)
        with self._sources_lock:
            self._masks[key] = mask
            while len(self._masks) > 16:
                self._masks.popitem(last=False)
        return mask

    def locate(
        self,
        lon: float,
        lat: float,
        *,
        field: str = "point",
        mask: np.ndarray | None = None,
        closures: Closures | None = None,
    ) -> Located:
        """Snap a point to the nearest open road (and its twin direction)."""
        if closures and closures.contains(lon, lat):
            msg = f"[{lon:.6f}, {lat:.6f}] lies inside a closed zone"
            raise NoPath(msg, field=field, reason="inside_closure")
        best = self.snapper.snap(lon, lat, max_m=self.max_snap_m, field=field, blocked=mask)[0]
        snaps = [best]
        tw = int(self.twin[best.edge])
        if tw >= 0 and (mask is None or not mask[tw]):
            snaps.append(Snap(tw, 1.0 - best.t, best.distance_m, best.lon, best.lat))
        junction = None
        if best.t <= 0.0:
            junction = int(self.u[best.edge])
        elif best.t >= 1.0:
            junction = int(self.v[best.edge])
        return Located(lon, lat, tuple(snaps), junction)

    @staticmethod
    def exits(p: Located, time: np.ndarray, v: np.ndarray) -> list[tuple[int, float]]:
        """(junction, seconds) pairs to leave point ``p`` along its road piece (and from the
        junction it lies on, by any road)."""
        out = [(int(v[s.edge]), (1.0 - s.t) * float(time[s.edge])) for s in p.snaps]
        return [*out, (p.junction, 0.0)] if p.junction is not None else out

    @staticmethod
    def entries(p: Located, time: np.ndarray, u: np.ndarray) -> list[tuple[int, float]]:
        """(junction, seconds) pairs to reach point ``p`` from the start of its road piece (and
        from the junction it lies on)."""
        out = [(int(u[s.edge]), s.t * float(time[s.edge])) for s in p.snaps]
        return [*out, (p.junction, 0.0)] if p.junction is not None else out

    def direct(self, a: Located, b: Located) -> float:
        """Seconds from ``a`` to ``b`` along one shared road piece, if ``b`` lies ahead."""
        best = INF
        for sa in a.snaps:
            for sb in b.snaps:
                if sa.edge == sb.edge and sb.t >= sa.t - 1e-12:
                    best = min(best, max(sb.t - sa.t, 0.0) * float(self.time[sa.edge]))
        return best

    def _weights(self, mask: np.ndarray | None, *, reverse: bool) -> np.ndarray:
        data = self.rev_time if reverse else self.time
        if mask is None:
            return data
        data = data.copy()
        closed = np.flatnonzero(mask)
        data[self.rev_pos[closed] if reverse else closed] = INF
        return data

    def _augmented(
        self, data: np.ndarray, rows: Sequence[Sequence[tuple[int, float]]], *, reverse: bool
    ) -> csr_matrix:
        """The CSR graph with one virtual row per entry of ``rows`` appended after node n-1."""
        indptr = self.rev_indptr if reverse else self.fwd_indptr
        indices = self.rev_indices if reverse else self.v
        extra_idx = [node for row in rows for node, _ in row]
        extra_w = [w for row in rows for _, w in row]
        lens = np.cumsum([len(r) for r in rows]) + indptr[-1]
        size = self.n + len(rows)
        return csr_matrix(
            (
                np.concatenate((data, np.asarray(extra_w, dtype=np.float64))),
                np.concatenate((indices, np.asarray(extra_idx, dtype=np.int32))),
                np.concatenate((indptr, lens.astype(indptr.dtype))),
            ),
            shape=(size, size),
        )

    def _one_row_graph(
        self, start: Sequence[tuple[int, float]], mask: np.ndarray | None, *, reverse: bool
    ) -> csr_matrix:
        """The CSR graph plus one virtual row, in per-thread buffers kept per closure mask: a
        query writes only its few virtual entries instead of copying the whole graph."""
        if len(start) > 16:
            return self._augmented(self._weights(mask, reverse=reverse), [start], reverse=reverse)
        cache = getattr(self._local, "bufs", None)
        if cache is None:
            cache = self._local.bufs = OrderedDict()
        key = (reverse, id(mask))
        entry = cache.get(key)
        if entry is None or entry[0] is not mask:
            base = self._weights(mask, reverse=reverse)
            e = base.size
            data = np.empty(e + 16)
            data[:e] = base
            indices = np.empty(e + 16, dtype=np.int32)
            indices[:e] = self.rev_indices if reverse else self.v
            indptr = np.empty(self.n + 2, dtype=np.int32)
            indptr[: self.n + 1] = self.rev_indptr if reverse else self.fwd_indptr
            entry = (mask, data, indices, indptr)
            cache[key] = entry
            while len(cache) > 4:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        _, data, indices, indptr = entry
        e, k = indptr[self.n], len(start)
        for i, (node, w) in enumerate(start):
            indices[e + i], data[e + i] = node, w
        indptr[self.n + 1] = e + k
        size = self.n + 1
        return csr_matrix((data[: e + k], indices[: e + k], indptr), shape=(size, size))

    def _search(
        self,
        start: Sequence[tuple[int, float]],
        mask: np.ndarray | None,
        *,
        reverse: bool,
        limit: float = INF,
        predecessors: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        graph = self._one_row_graph(start, mask, reverse=reverse)
        out = dijkstra(
            graph, directed=True, indices=self.n, limit=limit, return_predecessors=predecessors
        )
        if predecessors:
            return out[0], out[1]
        return out, None

    def _exhausted(self, dist: np.ndarray, mask: np.ndarray | None, *, reverse: bool) -> bool:
        """True when a limited search reached everything it can reach: no open edge leads from
        a settled junction to an unsettled one."""
        settled = np.isfinite(dist[: self.n])
        tail, head = (self.v, self.u) if reverse else (self.u, self.v)
        frontier = settled[tail] & ~settled[head]
        if mask is not None:
            frontier &= ~mask
        return not frontier.any()

    # --- queries -----------------------------------------------------------------------------

    def nearest(
        self,
        target: tuple[float, float],
        sources: Sequence[tuple[float, float]],
        *,
        k: int = 5,
        max_s: float | None = None,
        closures: Closures | None = None,
    ) -> tuple[list[NearestHit], dict[int, str]]:
        """The ``k`` sources nearest to ``target`` by travel time source -> target.

        One reverse search from the target; it stops once every source that can be among the
        ``k`` nearest is settled (the search radius grows from a lower bound until ``k`` are
        found). Returns the hits ordered by duration (ties by input order) and, per source that
        could not be placed, why (``too_far_from_road``, ``inside_closure``).
        """
        if k < 1:
            raise BadRequest("k must be at least 1", field="k")
        mask = self.closed_mask(closures)
        tgt = self.locate(*target, field="to", mask=mask, closures=closures)
        src = self._source_set(sources, mask, closures)
        if src.idx.size == 0:
            return [], src.skipped
        direct = src.direct_to(self, tgt)
        cap = INF if max_s is None else float(max_s)
        d_line = _haversine(src.lon, src.lat, tgt.lon, tgt.lat)
        # Start from the k-th straight-line distance at the graph's median speed: usually just
        # short of the answer, so the second, larger search is the last.
        limit = min(
            max(
                float(np.partition(d_line, min(k, d_line.size) - 1)[min(k, d_line.size) - 1])
                / self.vmed
                * self.route_factor,
                30.0,
            ),
            cap,
        )
        entries = self.entries(tgt, self.time, self.u)
        settled_before = -1
        while True:
            dist, pred = self._search(entries, mask, reverse=True, limit=limit, predecessors=True)
            via = src.cost + dist[src.node]
            times = np.minimum(via.min(axis=1), direct)
            if (times <= limit).sum() >= k or limit >= cap:
                break
            settled = int(np.isfinite(dist).sum())
            if settled == settled_before and limit / 2.0 >= self.max_edge_time:
                break  # doubling reached nothing new and no edge is that long: all is reached
            settled_before = settled
            limit = min(limit * 2.0, cap)
        order = np.lexsort((src.idx, times))
        hits = []
        for j in order[:k]:
            if not np.isfinite(times[j]) or times[j] > cap:
                break
            length = src.length_to(self, int(j), tgt, via[j], direct[j], pred, mask)
            hits.append(NearestHit(int(src.idx[j]), float(times[j]), length))
        return hits, src.skipped

    def _source_set(
        self,
        sources: Sequence[tuple[float, float]],
        mask: np.ndarray | None,
        closures: Closures | None,
    ) -> _SourceSet:
        """Sources snapped at once; the last few sets are kept, since a dispatch centre asks
        about the same fleet again and again."""
        xy = np.ascontiguousarray(np.asarray(sources, dtype=np.float64).reshape(-1, 2))
        key = (hashlib.sha1(xy.tobytes()).digest(), closures.key if closures else "none")
        with self._sources_lock:
            hit = self._sources.get(key)
            if hit is not None:
                self._sources.move_to_end(key)
                return hit
        built = _SourceSet.build(self, xy, mask, closures, snaps=self._open_snaps(xy, key[0]))
        with self._sources_lock:
            self._sources[key] = built
            while len(self._sources) > 32:
                self._sources.popitem(last=False)
        return built

    def _open_snaps(self, xy: np.ndarray, digest: bytes) -> tuple[np.ndarray, np.ndarray]:
        """Each point's snap with nothing closed (edge -1 when too far), kept per point set: the
        closures of one query only move the few points whose road they close."""
        key = (digest, "open-snaps")
        with self._sources_lock:
            hit = self._sources.get(key)
        if hit is None:
            edge, t, _, _, _ = self.snapper.snap_many(xy[:, 0], xy[:, 1], max_m=self.max_snap_m)
            edge.setflags(write=False)
            t.setflags(write=False)
            hit = (edge, t)
            with self._sources_lock:
                self._sources[key] = hit
        return hit

    def reach(
        self,
        target: tuple[float, float],
        sources: Sequence[tuple[float, float]],
        *,
        max_s: float | None = None,
        closures: Closures | None = None,
    ) -> Reach:
        """Travel time from every source to ``target`` in one reverse search (to ``max_s`` when
        given), with each source's route readable from the search tree: what a response proposal
        needs for every candidate team and depot at once."""
        mask = self.closed_mask(closures)
        src = self._source_set(sources, mask, closures)
        limit = INF if max_s is None else float(max_s)
        key = (float(target[0]), float(target[1]), closures.key if closures else "none", limit)
        with self._sources_lock:
            tree = self._trees.get(key)
            if tree is not None:
                self._trees.move_to_end(key)
        if tree is None:
            tgt = self.locate(*target, field="to", mask=mask, closures=closures)
            dist, pred = self._search(
                self.entries(tgt, self.time, self.u),
                mask,
                reverse=True,
                limit=limit,
                predecessors=True,
            )
            dist.setflags(write=False)
            pred.setflags(write=False)
            tree = (tgt, dist, pred)
            with self._sources_lock:
                self._trees[key] = tree
                while len(self._trees) > 16:
                    self._trees.popitem(last=False)
        tgt, dist, pred = tree
        direct = src.direct_to(self, tgt)
        via = src.cost + dist[src.node]
        times = np.full(len(sources), INF)
        times[src.idx] = np.minimum(via.min(axis=1), direct)
        times[times > limit] = INF
        return Reach(self, tgt, src, via, direct, dist, pred, mask, times, key)

    def _tree_route(self, r: Reach, i: int) -> Route:
        """:meth:`route_in_tree`, kept by search tree and source point: a source that has not
        moved gets the route it had, without walking the tree again."""
        j = int(np.searchsorted(r.src.idx, i))
        if j >= r.src.idx.size or r.src.idx[j] != i:
            return self.route_in_tree(r, i)  # raises: not placed
        key = (r.key, float(r.src.lon[j]), float(r.src.lat[j]))
        with self._sources_lock:
            hit = self._tree_routes.get(key)
        if hit is not None:
            return hit
        route = self.route_in_tree(r, i)
        with self._sources_lock:
            self._tree_routes[key] = route
            while len(self._tree_routes) > 512:
                self._tree_routes.popitem(last=False)
        return route

    def route_in_tree(self, r: Reach, i: int) -> Route:
        """Source ``i``'s fastest route to the target of ``r``, read from its search tree."""
        j = int(np.searchsorted(r.src.idx, i))
        if j >= r.src.idx.size or r.src.idx[j] != i or not np.isfinite(r.times[i]):
            msg = "this source cannot reach the target"
            raise NoPath(msg, field="sources", reason="unreachable")
        a = Located(
            float(r.src.lon[j]),
            float(r.src.lat[j]),
            tuple(
                Snap(int(e), float(t), 0.0, float(r.src.lon[j]), float(r.src.lat[j]))
                for e, t in ((r.src.edge[j], r.src.t[j]), (r.src.twin[j], 1.0 - r.src.t[j]))
                if e >= 0
            ),
            int(r.src.node[j, 2]) if r.src.node[j, 2] < self.n else None,
        )
        if r.direct[j] <= r.via[j].min():
            return self._same_edge_route(a, r.tgt, float(r.direct[j]))
        c = int(np.argmin(r.via[j]))
        chain = self._walk(r.pred, int(r.src.node[j, c]))
        return self._pieces_route(a, r.tgt, chain, r.mask)

    def chain_length(
        self, node: int, pred: np.ndarray, entries: Located, mask: np.ndarray | None
    ) -> float:
        """Metres from junction ``node`` along a reverse search tree to the located target."""
        chain = [node]
        while pred[chain[-1]] >= 0 and pred[chain[-1]] != self.n:
            chain.append(int(pred[chain[-1]]))
        hops = np.asarray(chain, dtype=np.int64)
        total = float(self.length[self._edges_between(hops[:-1], hops[1:], mask)].sum())
        x = chain[-1]
        if entries.junction == x:
            return total
        best = min(
            (s for s in entries.snaps if int(self.u[s.edge]) == x),
            key=lambda s: s.t * self.time[s.edge],
            default=None,
        )
        return total + (best.t * float(self.length[best.edge]) if best is not None else 0.0)

    def route(
        self,
        origin: tuple[float, float],
        destination: tuple[float, float],
        *,
        closures: Closures | None = None,
    ) -> Route:
        """The fastest route; raises :class:`NoPath` saying why when there is none."""
        mask = self.closed_mask(closures)
        a = self.locate(*origin, field="from", mask=mask, closures=closures)
        b = self.locate(*destination, field="to", mask=mask, closures=closures)
        return self._route_between(a, b, mask)

    def _route_between(self, a: Located, b: Located, mask: np.ndarray | None) -> Route:
        """Bidirectional: a forward search from ``a`` and a reverse one from ``b``, each to half
        the limit, meet on the edge x -> y minimising d(a, x) + w + d(y, b); exact whenever the
        answer is within the limit (the shortest path has such an edge with both halves inside),
        and each side explores about a quarter of what a one-sided search would."""
        direct = self.direct(a, b)
        # The straight line at the graph's median speed: about the time of a route that uses
        # faster roads, so one round usually suffices and a second at most doubles it.
        limit = max(
            float(_haversine(a.lon, a.lat, b.lon, b.lat)) / self.vmed * self.route_factor, 60.0
        )
        exits, entries = self.exits(a, self.time, self.v), self.entries(b, self.time, self.u)
        settled_before = -1
        while True:
            half = limit / 2.0
            df, pf = self._search(exits, mask, reverse=False, limit=half, predecessors=True)
            db, pb = self._search(entries, mask, reverse=True, limit=half, predecessors=True)
            best, meet = self._best_meeting(df, db, mask, exits, entries, direct)
            if best <= limit:
                break
            settled = int(np.isfinite(df).sum())
            if settled == settled_before and half / 2.0 >= self.max_edge_time:
                break  # nothing more is reachable from the origin
            settled_before = settled
            limit *= 2.0
        if not math.isfinite(best):
            raise self._why_no_path(a, b, mask)
        if meet is None:
            return self._same_edge_route(a, b, best)
        return self._pieces_route(a, b, self._chain(meet, pf, pb), mask)

    def _best_meeting(
        self,
        df: np.ndarray,
        db: np.ndarray,
        mask: np.ndarray | None,
        exits: list[tuple[int, float]],
        entries: list[tuple[int, float]],
        direct: float,
    ) -> tuple[float, tuple[str, Any] | None]:
        """The best way the two searches meet: at a junction or across an edge, or (when the
        middle of the path lies on the origin's or the destination's own road piece) one search
        alone reaching across it; ``None`` when the direct drive along one piece is best."""
        best, meet = self._meet(df, db, mask)
        for node, w in entries:
            if df[node] + w < best:
                best, meet = df[node] + w, ("forward", node)
        for node, w in exits:
            if w + db[node] < best:
                best, meet = w + db[node], ("backward", node)
        if direct <= best:
            return direct, None
        return best, meet

    def _chain(self, meet: tuple[str, Any], pf: np.ndarray, pb: np.ndarray) -> list[int]:
        """Junctions of the path, from the origin's side to the destination's."""
        if meet[0] == "forward":
            return self._walk(pf, meet[1])[::-1]
        if meet[0] == "backward":
            return self._walk(pb, meet[1])
        x, y = meet[1]
        chain = self._walk(pf, x)[::-1]
        if y != x:
            chain.append(y)
        return chain + self._walk(pb, y)[1:]

    def _meet(
        self, df: np.ndarray, db: np.ndarray, mask: np.ndarray | None
    ) -> tuple[float, tuple[str, tuple[int, int]] | None]:
        """The best meeting of a forward and a reverse search: at a node, or across one edge."""
        f, r = df[: self.n], db[: self.n]
        at_node = f + r
        i = int(np.argmin(at_node))
        best, meet = float(at_node[i]), (i, i)
        across = f[self.u] + self.time + r[self.v]
        if mask is not None:
            across = np.where(mask, INF, across)
        j = int(np.argmin(across))
        if across[j] < best:
            best, meet = float(across[j]), (int(self.u[j]), int(self.v[j]))
        return (best, ("edge", meet)) if math.isfinite(best) else (INF, None)

    def _walk(self, pred: np.ndarray, node: int) -> list[int]:
        """Junctions from ``node`` back to the search's virtual root (excluded)."""
        chain = [node]
        while pred[chain[-1]] >= 0 and pred[chain[-1]] != self.n:
            chain.append(int(pred[chain[-1]]))
        return chain

    def _pieces_route(
        self, a: Located, b: Located, chain: list[int], mask: np.ndarray | None
    ) -> Route:
        """The route along junctions ``chain`` (first reached from ``a``, last leading to ``b``)."""
        first, last = chain[0], chain[-1]
        hops = np.asarray(chain, dtype=np.int64)
        mid = self._edges_between(hops[:-1], hops[1:], mask)
        head, tail = int(first != a.junction), int(last != b.junction)
        n = head + len(mid) + tail
        if n == 0:  # from a junction to the same junction
            s = a.snaps[0]
            return self._assemble((np.array([s.edge]), np.array([s.t]), np.array([s.t])), a, b)
        edges, t0, t1 = np.empty(n, np.int64), np.zeros(n), np.ones(n)
        edges[head : head + len(mid)] = mid
        if head:
            start = min(
                (s for s in a.snaps if int(self.v[s.edge]) == first),
                key=lambda s: (1.0 - s.t) * self.time[s.edge],
            )
            edges[0], t0[0] = start.edge, start.t
        if tail:
            end = min(
                (s for s in b.snaps if int(self.u[s.edge]) == last),
                key=lambda s: s.t * self.time[s.edge],
            )
            edges[-1], t1[-1] = end.edge, end.t
        return self._assemble((edges, t0, t1), a, b)

    def _why_no_path(self, a: Located, b: Located, mask: np.ndarray | None) -> NoPath:
        if mask is not None:
            dist, _ = self._search(self.exits(a, self.time, self.v), None, reverse=False)
            if any(np.isfinite(dist[n]) for n, _ in self.entries(b, self.time, self.u)):
                msg = "every path between these points crosses a closed zone or road"
                return NoPath(msg, field="avoid", reason="closed")
        msg = "the destination cannot be reached from the origin on this road network"
        return NoPath(msg, field="to", reason="unreachable")

    def _edge_between(self, x: int, y: int, mask: np.ndarray | None) -> int:
        return int(self._edges_between(np.array([x]), np.array([y]), mask)[0])

    def _edges_between(self, xs: np.ndarray, ys: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """For each hop x -> y of a path, the open edge x -> y with the least time."""
        keys = xs.astype(np.int64) * max(self.n, 1) + ys
        lo = np.searchsorted(self.uv_key, keys, side="left")
        hi = np.searchsorted(self.uv_key, keys, side="right")
        out = lo.copy()
        check = hi - lo > 1
        if mask is not None:
            check |= mask[np.minimum(lo, len(mask) - 1)]
        for i in np.flatnonzero(check):
            cand = np.arange(lo[i], hi[i])
            if mask is not None:
                cand = cand[~mask[cand]]
            out[i] = cand[np.argmin(self.time[cand])]
        return out

    def _same_edge_route(self, a: Located, b: Located, seconds: float) -> Route:
        for sa in a.snaps:
            for sb in b.snaps:
                same = sa.edge == sb.edge and sb.t >= sa.t - 1e-12
                if same and max(sb.t - sa.t, 0.0) * float(self.time[sa.edge]) <= seconds + 1e-9:
                    piece = (np.array([sa.edge]), np.array([sa.t]), np.array([max(sb.t, sa.t)]))
                    return self._assemble(piece, a, b)
        raise AssertionError("same-edge route without a shared edge")

    def _assemble(self, pieces: Pieces, a: Located, b: Located) -> Route:
        """The route along ``pieces`` (edges, from fractions, to fractions), from ``a`` to
        ``b``: its line, metres, seconds, and steps (one per run of pieces with the same street
        name; a piece of no length starts nothing, except the first).

        Per-piece arithmetic is done on arrays and whole pieces are gathered at once; Python
        works only once per step (its bearings, its sums). Sums are accumulated in piece
        order, as a loop would (``np.add.accumulate`` and ``reduce`` are sequential), so the
        figures are the same to the last bit as piece by piece (a test compares them on every
        route between random points of a real graph)."""
        e_arr, t0, t1 = pieces
        frac = np.maximum(t1 - t0, 0.0)
        seg_len, seg_time = frac * self.length[e_arr], frac * self.time[e_arr]
        length = float(np.add.accumulate(seg_len)[-1])
        duration = float(np.add.accumulate(seg_time)[-1])
        counts = frac > 0
        counts[0] = True  # the first piece always draws and starts a step
        ks = np.flatnonzero(counts)
        ec = e_arr[ks]
        lo, hi = self.geom_off[ec], self.geom_off[ec + 1]
        # Whole pieces come straight from the edge geometry, gathered at once; the others (a
        # route's first and last piece, mostly) are cut.
        cut = {
            j: self._cut(int(ec[j]), float(t0[ks[j]]), float(t1[ks[j]]))
            for j in np.flatnonzero((t0[ks] > 0.0) | (t1[ks] < 1.0)).tolist()
        }
        line = self._line(lo, hi, cut)
        if len(line) == 1:
            line = np.vstack([line, line])
        # Steps: a run of pieces of one name is one step (names are unique in the graph, so
        # equal ids are equal names). The way in to a turn is the last piece before it with
        # length and two points.
        m = len(ks)
        nid = self.name_ids[ec]
        new_run = np.ones(m, dtype=bool)
        np.not_equal(nid[1:], nid[:-1], out=new_run[1:])
        starts = np.flatnonzero(new_run)
        n_pts = hi - lo
        for j, part in cut.items():
            n_pts[j] = len(part)
        drawn = np.where((frac[ks] > 0) & (n_pts >= 2), np.arange(m), -1)
        way_in = np.concatenate(([-1], np.maximum.accumulate(drawn)[starts[1:] - 1]))
        xy = self.geom_xy
        ls, lw = lo[starts], lo[np.maximum(way_in, 0)]
        hw = hi[np.maximum(way_in, 0)]
        first, second = xy[ls].tolist(), xy[np.minimum(ls + 1, hi[starts] - 1)].tolist()
        penult, last = xy[np.maximum(hw - 2, lw)].tolist(), xy[hw - 1].tolist()
        starts_l, way_in_l = starts.tolist(), way_in.tolist()
        for r, (j, w) in enumerate(zip(starts_l, way_in_l, strict=True)):
            if j in cut:
                part = cut[j]
                first[r], second[r] = part[0].tolist(), part[min(1, len(part) - 1)].tolist()
            if w in cut:
                part = cut[w]
                penult[r], last[r] = part[max(len(part) - 2, 0)].tolist(), part[-1].tolist()
        names = self.g.names
        lens, secs = seg_len[ks].tolist(), seg_time[ks].tolist()
        ends = [*starts_l[1:], m]
        out_steps = []
        for r, (j, w, k) in enumerate(zip(starts_l, way_in_l, ends, strict=True)):
            if r == 0:
                maneuver = "depart"
            else:
                before = bearing((penult[r], last[r]), start=False) if w >= 0 else None
                maneuver = turn(before, bearing((first[r], second[r]), start=True))
            i = int(nid[j])
            out_steps.append(
                Step(
                    names[i] if i >= 0 else None,
                    maneuver,
                    round(functools.reduce(operator.add, lens[j:k]), 2),
                    round(functools.reduce(operator.add, secs[j:k]), 3),
                    (float(first[r][0]), float(first[r][1])),
                )
            )
        out_steps.append(
            Step(
                self.g.street(int(e_arr[-1])),
                "arrive",
                0.0,
                0.0,
                (b.snaps[0].lon, b.snaps[0].lat),
            )
        )
        return Route(line, length, duration, tuple(out_steps), tuple(e_arr.tolist()))

    def _line(self, lo: np.ndarray, hi: np.ndarray, cut: dict[int, np.ndarray]) -> np.ndarray:
        """The points of consecutive pieces, each but the first without its first point (the
        last of the piece before): piece ``j`` is edge points ``lo[j]:hi[j]``, or ``cut[j]``."""
        m = len(lo)
        begin = lo + (np.arange(m) > 0)
        out, start = [], 0
        for j in [*sorted(cut), m]:
            if j > start:  # whole pieces start..j-1, gathered at once
                n = hi[start:j] - begin[start:j]
                offsets = np.concatenate(([0], np.cumsum(n)[:-1]))
                idx = np.repeat(begin[start:j] - offsets, n) + np.arange(int(n.sum()))
                out.append(self.geom_xy[idx])
            if j < m:
                out.append(cut[j] if j == 0 else cut[j][1:])
            start = j + 1
        return np.concatenate(out)

    def _cut(self, e: int, t0: float, t1: float) -> np.ndarray:
        """Edge ``e``'s coordinates between fractions ``t0`` and ``t1`` of its length.

        A route's first and last pieces are cut, on edges of a few points: past the segment
        lengths, the arithmetic is on Python floats (the same operations, bit for bit, as on
        numpy arrays, without their cost per call)."""
        a, b = int(self.geom_off[e]), int(self.geom_off[e + 1])
        xy = self.geom_xy[a:b]  # a view: whole pieces (most of a route) cost no copy
        if t0 <= 0.0 and t1 >= 1.0:
            return xy
        kx = math.cos(math.radians(float(xy[0, 1])))
        seg = np.hypot(np.diff(xy[:, 0]) * kx, np.diff(xy[:, 1])).tolist()
        cum = list(itertools.accumulate(seg, initial=0.0))  # in order, as np.cumsum adds
        total = cum[-1]
        if total <= 0:
            return xy[[0, -1]]
        d0, d1 = t0 * total, t1 * total
        pts = xy.tolist()
        inner = [p for p, c in zip(pts, cum, strict=True) if d0 < c < d1]
        return np.array([_interp(pts, cum, d0), *inner, _interp(pts, cum, d1)])

    def isochrone(
        self,
        at: tuple[float, float],
        times_s: Sequence[float],
        *,
        direction: str = "from",
        closures: Closures | None = None,
        cell_m: float | None = None,
    ) -> list[tuple[float, shapely.Geometry]]:
        """Areas reachable from (``direction="from"``) or that can reach (``"to"``) a point
        within each time, as (seconds, lon/lat polygon) pairs in the order of ``times_s``.

        The reached parts of the roads (whole pieces, and the reached share of pieces on the
        rim of the area) are sampled every half cell, marked on a grid of ``cell_m`` metres,
        grown by one cell, and the marked cells merged into polygons. By default the cell is
        1/100 of the area's extent, between 10 and 200 m: about a block in a city, a street
        in a district.
        """
        if direction not in ("from", "to"):
            raise BadRequest('direction must be "from" or "to"', field="direction")
        times = [float(t) for t in times_s]
        if not times or min(times) <= 0:
            raise BadRequest("times_s must be positive seconds", field="times_s")
        mask = self.closed_mask(closures)
        p = self.locate(*at, field="at", mask=mask, closures=closures)
        reverse = direction == "to"
        start = self.entries(p, self.time, self.u) if reverse else self.exits(p, self.time, self.v)
        dist, _ = self._search(start, mask, reverse=reverse, limit=max(times))
        d_end = dist[self.v if reverse else self.u]
        if mask is not None:
            d_end = np.where(mask, INF, d_end)
        out = []
        for t in times:
            reach = np.clip((t - d_end) / np.maximum(self.time, 1e-9), 0.0, 1.0)
            cell = cell_m or self._cell_for(dist, t, p)
            xy = self._reached_points(reach, reverse, p, t, cell / 2.0)
            out.append((t, self._cells_to_area(xy, cell)))
        return out

    def _cell_for(self, dist: np.ndarray, t: float, p: Located) -> float:
        near = np.flatnonzero(dist[: self.n] < t)
        if near.size < 2:
            return 10.0
        sn = self.snapper
        ext = max(
            float(np.ptp(self.g.node_lon[near])) * sn.kx,
            float(np.ptp(self.g.node_lat[near])) * sn.ky,
        )
        return float(np.clip(ext / 100.0, 10.0, 200.0))

    def _reached_points(
        self, reach: np.ndarray, reverse: bool, p: Located, t: float, step: float
    ) -> np.ndarray:
        """Metric points every ``step`` metres along the reached parts of the road pieces."""
        sn = self.snapper
        edges = np.flatnonzero(reach > 0)
        rep = sn.rep[edges]
        low = (rep == edges) != reverse  # reached part starts at the low end of the geometry
        first, last = sn.edge_seg[rep], sn.edge_seg[rep + 1]
        counts = last - first
        idx = np.repeat(first - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
        idx += np.arange(counts.sum())
        f = np.repeat(reach[edges], counts)
        low = np.repeat(low, counts)
        mlen = np.maximum(np.repeat(sn.edge_mlen[edges], counts), 1e-9)
        seg_len = sn.seg_len[idx]
        lo_frac = sn.seg_start[idx] / mlen
        hi_frac = lo_frac + seg_len / mlen
        keep = np.where(low, lo_frac <= f, hi_frac >= 1.0 - f)
        idx, f, low = idx[keep], f[keep], low[keep]
        lo_frac, hi_frac, seg_len = lo_frac[keep], hi_frac[keep], seg_len[keep]
        n = np.maximum(np.ceil(seg_len / step).astype(np.int64), 1) + 1
        rep_i = np.repeat(np.arange(idx.size), n)
        start = np.repeat(np.concatenate(([0], np.cumsum(n)[:-1])), n)
        k = (np.arange(rep_i.size) - start) / np.repeat(n - 1, n)
        frac = lo_frac[rep_i] + k * (hi_frac - lo_frac)[rep_i]
        ok = np.where(low[rep_i], frac <= f[rep_i] + 1e-9, frac >= 1.0 - f[rep_i] - 1e-9)
        s_idx = idx[rep_i]
        x = sn.ax[s_idx] + k * (sn.bx[s_idx] - sn.ax[s_idx])
        y = sn.ay[s_idx] + k * (sn.by[s_idx] - sn.ay[s_idx])
        pts = [np.column_stack((x[ok], y[ok]))]
        for s in p.snaps:  # along the point's own piece, as far as the time allows
            share = min(1.0, t / max(float(self.time[s.edge]), 1e-9))
            lo, hi = (s.t, min(1.0, s.t + share)) if not reverse else (max(0.0, s.t - share), s.t)
            xy = self._cut(s.edge, lo, hi)
            pts.append(np.column_stack((xy[:, 0] * sn.kx, xy[:, 1] * sn.ky)))
        return np.concatenate(pts)

    def _cells_to_area(self, xy: np.ndarray, cell: float) -> shapely.Geometry:
        """Polygons of the grid cells holding a point, grown by one cell (4-neighbours): the
        cells are a valid coverage (neighbours share whole edges), merged by GEOS's coverage
        union, then simplified."""
        sn = self.snapper
        c = np.floor(xy / cell).astype(np.int64)
        x0, y0 = c.min(axis=0) - 1
        w, h = c.max(axis=0) - (x0, y0) + 2
        grid = np.zeros((h, w), dtype=bool)
        grid[c[:, 1] - y0, c[:, 0] - x0] = True
        grown = grid.copy()
        grown[1:, :] |= grid[:-1, :]
        grown[:-1, :] |= grid[1:, :]
        grown[:, 1:] |= grid[:, :-1]
        grown[:, :-1] |= grid[:, 1:]
        row, col = np.nonzero(grown)
        boxes = shapely.box(
            (x0 + col) * cell, (y0 + row) * cell, (x0 + col + 1) * cell, (y0 + row + 1) * cell
        )
        area = shapely.coverage_union_all(boxes)
        area = shapely.simplify(area, cell * 0.3, preserve_topology=True)
        return shapely.transform(area, lambda v: v / np.array([sn.kx, sn.ky]))

    def matrix(
        self,
        sources: Sequence[tuple[float, float]],
        targets: Sequence[tuple[float, float]],
        *,
        closures: Closures | None = None,
    ) -> np.ndarray:
        """Travel times (s), ``len(sources) x len(targets)``; ``inf`` where unreachable. One
        search per point on the smaller side (reverse searches from targets, or forward ones
        from sources). A point that cannot be placed raises (see :meth:`matrix_report`)."""
        return self.matrix_report(sources, targets, closures=closures, strict=True)[0]

    def matrix_report(
        self,
        sources: Sequence[tuple[float, float]],
        targets: Sequence[tuple[float, float]],
        *,
        closures: Closures | None = None,
        strict: bool = False,
    ) -> tuple[np.ndarray, dict[str, dict[int, str]]]:
        """:meth:`matrix`, but a point that cannot be placed (too far from a road, inside a
        closed zone) gets a row or column of ``inf`` and is reported, unless ``strict``."""
        mask = self.closed_mask(closures)
        skipped: dict[str, dict[int, str]] = {"sources": {}, "targets": {}}
        placed: dict[str, list[Located | None]] = {}
        for side, pts in (("sources", sources), ("targets", targets)):
            placed[side] = []
            for i, pt in enumerate(pts):
                try:
                    loc = self.locate(*pt, field=f"{side}[{i}]", mask=mask, closures=closures)
                except (NoPath, RoutingError) as err:
                    if strict:
                        raise
                    skipped[side][i] = str(err.details.get("reason") or err.code)
                    loc = None
                placed[side].append(loc)
        src, tgt = placed["sources"], placed["targets"]
        out = np.full((len(src), len(tgt)), INF)
        reverse = len(tgt) <= len(src)
        roots, others = (tgt, src) if reverse else (src, tgt)
        live = [i for i, r in enumerate(roots) if r is not None]
        if not live:
            return out, skipped
        rows = [
            self.entries(roots[i], self.time, self.u)
            if reverse
            else self.exits(roots[i], self.time, self.v)
            for i in live
        ]
        graph = self._augmented(self._weights(mask, reverse=reverse), rows, reverse=reverse)
        dist = dijkstra(graph, directed=True, indices=np.arange(self.n, self.n + len(rows)))
        for j, other in enumerate(others):
            if other is None:
                continue
            legs = (
                self.exits(other, self.time, self.v)
                if reverse
                else self.entries(other, self.time, self.u)
            )
            nodes = np.array([n for n, _ in legs])
            costs = np.array([w for _, w in legs])
            best = (dist[:, nodes] + costs).min(axis=1)
            if reverse:
                out[j, live] = best
            else:
                out[live, j] = best
        for i, a in enumerate(src):
            for j, b in enumerate(tgt):
                if a is not None and b is not None:
                    out[i, j] = min(out[i, j], self.direct(a, b))
        return out, skipped


@dataclass(frozen=True)
class Reach:
    """The answer of :meth:`Engine.reach`: ``times[i]`` (s, inf when unreachable) per source."""

    engine: Engine
    tgt: Located
    src: _SourceSet
    via: np.ndarray
    direct: np.ndarray
    dist: np.ndarray
    pred: np.ndarray
    mask: np.ndarray | None
    times: np.ndarray
    #: what the search tree is kept under in the engine (target, closures, limit)
    key: tuple[Any, ...] = ()

    def route(self, i: int) -> Route:
        return self.engine._tree_route(self, i)

    def length(self, i: int) -> float:
        """Metres of source ``i``'s fastest path (inf when it cannot reach the target)."""
        j = int(np.searchsorted(self.src.idx, i))
        if j >= self.src.idx.size or self.src.idx[j] != i or not np.isfinite(self.times[i]):
            return INF
        return self.src.length_to(
            self.engine, j, self.tgt, self.via[j], float(self.direct[j]), self.pred, self.mask
        )


@dataclass
class _SourceSet:
    """Many source points snapped at once: for each, up to two ways onto the graph."""

    idx: np.ndarray  # input index of each placed source
    lon: np.ndarray
    lat: np.ndarray
    edge: np.ndarray
    t: np.ndarray
    twin: np.ndarray  # open twin edge or -1
    node: np.ndarray  # (n, 2) exit junctions
    cost: np.ndarray  # (n, 2) seconds to them (inf when absent)
    skipped: dict[int, str]

    @classmethod
    def build(
        cls,
        eng: Engine,
        points: Sequence[tuple[float, float]],
        mask: np.ndarray | None,
        closures: Closures | None,
        *,
        snaps: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> _SourceSet:
        """Snap ``points`` onto open roads. ``snaps`` are their snaps with nothing closed (from
        an earlier query on the same points): only the points whose road ``mask`` closes are
        snapped again, onto the nearest open road."""
        xy = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if snaps is None:
            edge, t, _, _, _ = eng.snapper.snap_many(
                xy[:, 0], xy[:, 1], max_m=eng.max_snap_m, blocked=mask
            )
        else:
            edge, t = snaps[0].copy(), snaps[1].copy()
            moved = (
                np.flatnonzero((edge >= 0) & mask[np.maximum(edge, 0)]) if mask is not None else []
            )
            if len(moved):
                e2, t2, _, _, _ = eng.snapper.snap_many(
                    xy[moved, 0], xy[moved, 1], max_m=eng.max_snap_m, blocked=mask
                )
                edge[moved], t[moved] = e2, t2
        skipped = {int(i): "too_far_from_road" for i in np.flatnonzero(edge < 0)}
        inside = np.zeros(len(xy), dtype=bool)
        for poly in closures.polygons if closures else ():
            inside |= shapely.contains_xy(poly, xy[:, 0], xy[:, 1]) | shapely.intersects_xy(
                poly.boundary, xy[:, 0], xy[:, 1]
            )
        skipped.update({int(i): "inside_closure" for i in np.flatnonzero(inside)})
        ok = (edge >= 0) & ~inside
        idx = np.flatnonzero(ok)
        e, tt = edge[ok], t[ok]
        tw = eng.twin[e].astype(np.int64)
        if mask is not None:
            tw = np.where((tw >= 0) & ~mask[np.maximum(tw, 0)], tw, -1)
        at_u, at_v = tt <= 0.0, tt >= 1.0
        junction = np.where(at_u, eng.u[e], np.where(at_v, eng.v[e], eng.n))
        node = np.column_stack((eng.v[e], np.where(tw >= 0, eng.u[e], eng.n), junction))
        cost = np.column_stack(
            (
                (1.0 - tt) * eng.time[e],
                np.where(tw >= 0, tt * eng.time[np.maximum(tw, 0)], INF),
                np.where(at_u | at_v, 0.0, INF),
            )
        )
        return cls(idx, xy[ok, 0], xy[ok, 1], e, tt, tw, node.astype(np.int64), cost, skipped)

    def direct_to(self, eng: Engine, tgt: Located) -> np.ndarray:
        """Seconds along a shared road piece to the target, where it lies ahead."""
        out = np.full(self.idx.size, INF)
        for s in tgt.snaps:
            t_here = np.where(
                self.edge == s.edge, self.t, np.where(self.twin == s.edge, 1 - self.t, np.nan)
            )
            ahead = t_here <= s.t + 1e-12
            out = np.where(
                ahead, np.minimum(out, np.maximum(s.t - t_here, 0.0) * eng.time[s.edge]), out
            )
        return out

    def length_to(
        self,
        eng: Engine,
        j: int,
        tgt: Located,
        via: np.ndarray,
        direct: float,
        pred: np.ndarray,
        mask: np.ndarray | None,
    ) -> float:
        """Metres of source ``j``'s fastest path, read from the search tree."""
        if direct <= via.min():
            for s in tgt.snaps:
                for e, t in ((self.edge[j], self.t[j]), (self.twin[j], 1 - self.t[j])):
                    if e == s.edge and t <= s.t + 1e-12:
                        return float(max(s.t - t, 0.0) * eng.length[e])
        c = int(np.argmin(via))
        if c == 0:
            first = (1.0 - self.t[j]) * eng.length[self.edge[j]]
        elif c == 1:
            first = self.t[j] * eng.length[self.twin[j]]
        else:  # from the junction the source lies on
            first = 0.0
        return float(first) + eng.chain_length(int(self.node[j, c]), pred, tgt, mask)


def _interp(pts: list[list[float]], cum: list[float], d: float) -> list[float]:
    """The point at ``d`` along the polyline ``pts`` whose cumulative lengths are ``cum``."""
    i = min(max(bisect.bisect_right(cum, d) - 1, 0), len(cum) - 2)
    span = cum[i + 1] - cum[i]
    f = 0.0 if span <= 0 else (d - cum[i]) / span
    (x0, y0), (x1, y1) = pts[i], pts[i + 1]
    return [x0 + f * (x1 - x0), y0 + f * (y1 - y0)]


def _haversine(lon1: object, lat1: object, lon2: float, lat2: float) -> np.ndarray:
    lon1, lat1 = np.radians(lon1), np.radians(lat1)
    lon2, lat2 = math.radians(lon2), math.radians(lat2)
    a = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * math.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))


def bearing(xy: np.ndarray, *, start: bool) -> float | None:
    """Compass bearing (degrees clockwise from north, 0-360) of a lon/lat polyline's first
    segment (``start=True``) or last one, measured on a local equirectangular projection.

    Returns
    -------
    float or None
        None when the polyline has fewer than two points or that segment has no length.
    """
    if len(xy) < 2:
        return None
    (x0, y0), (x1, y1) = (xy[0], xy[1]) if start else (xy[-2], xy[-1])
    dx = (x1 - x0) * math.cos(math.radians(y0))
    dy = y1 - y0
    if dx == 0 and dy == 0:
        return None
    return math.degrees(math.atan2(dx, dy)) % 360.0


def turn(before: float | None, after: float | None) -> str:
    """The maneuver from bearing ``before`` to bearing ``after`` (degrees): ``continue`` (under
    20 degrees, or a bearing unknown), ``slight``/``turn``/``sharp`` ``left``/``right`` (under 45,
    135, 170 degrees), else ``u-turn``."""
    if before is None or after is None:
        return "continue"
    delta = (after - before + 540.0) % 360.0 - 180.0
    if abs(delta) < 20:
        return "continue"
    side = "right" if delta > 0 else "left"
    if abs(delta) < 45:
        return f"slight {side}"
    if abs(delta) < 135:
        return f"turn {side}"
    if abs(delta) < 170:
        return f"sharp {side}"
    return "u-turn"


def calibrate(graph: RoadGraph, *, samples: int = 40, seed: int = 0) -> float:
    """The median of (travel time / straight line at the median speed) over random routes of
    the graph: how far a search must reach, as a share of the naive guess."""
    if graph.n_nodes < 2:
        return 0.7
    eng = Engine(graph)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, graph.n_nodes, (samples, 2))
    lon, lat = np.asarray(graph.node_lon), np.asarray(graph.node_lat)
    rows = [[(int(a), 0.0)] for a, _ in idx]
    m = eng._augmented(eng.time, rows, reverse=False)
    dist = dijkstra(m, directed=True, indices=np.arange(eng.n, eng.n + samples))
    ratios = []
    for r, (a, b) in enumerate(idx):
        line = float(_haversine(lon[a], lat[a], lon[b], lat[b]))
        if line > 200.0 and np.isfinite(dist[r, b]):
            ratios.append(dist[r, b] / (line / eng.vmed))
    return round(float(np.median(ratios)), 3) if ratios else 0.7
