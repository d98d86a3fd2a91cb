"""Snapping: a lon/lat point to the nearest point on a road edge (not only the nearest node).

Every edge polyline is cut into segments (one of each two-way pair: a street's two directions
share their geometry), in a local equirectangular projection in metres, exact enough within a
city or a province. Each segment is registered in the cells of a square grid that its bounding
box overlaps; the grid is a sorted array (cell key -> segments), built with numpy in one pass.
A query looks at the cells around the point, widening until the square covers the best exact
distance, so the answer is the exact nearest segment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from routing.errors import SnapTooFar
from routing.graph import RoadGraph

EARTH_R = 6_371_008.8
CELL_M = 100.0
END_EPS_M = 1e-6  # a projection this close to an end of an edge is at the junction
#: Points that :meth:`Snapper.snap_many` snaps together (bounds its memory: a few hundred
#: candidate segments per point).
MANY_BLOCK = 4096
#: Points farther than this many cells from the origin of the projection are left to
#: :meth:`Snapper.snap` (their cell numbers would not fit the vectorised arithmetic).
GRID_LIMIT = 2.0**50


@dataclass(frozen=True)
class Snap:
    """Where a point meets the road: edge ``edge`` at fraction ``t`` (0 at its ``u`` end, 1 at
    ``v``, by length), ``distance_m`` away from the point, at ``lon``/``lat``."""

    edge: int
    t: float
    distance_m: float
    lon: float
    lat: float


INDEX_ARRAYS = (
    "indexed",
    "rep",
    "ax",
    "ay",
    "bx",
    "by",
    "seg_edge",
    "seg_len",
    "seg_start",
    "edge_mlen",
    "edge_seg",
    "cell_seg",
    "cell_keys",
    "cell_ptr",
)
INDEX_SCALARS = ("cell", "kx", "ky", "cx0", "cy0", "ny")


class Snapper:
    """Nearest-edge lookups on one graph; build once, query from any thread.

    The index can be saved beside the graph (:meth:`arrays`) and loaded memory-mapped
    (``graph.extras``), so a server process is ready at once and shares the pages.
    """

    def __init__(self, graph: RoadGraph, *, cell_m: float = CELL_M) -> None:
        self.graph = graph
        saved = getattr(graph, "extras", None) or {}
        if all(f"snap_{k}" in saved for k in INDEX_ARRAYS) and "snap_index" in graph.meta:
            for k in INDEX_ARRAYS:
                setattr(self, k, saved[f"snap_{k}"])
            meta = graph.meta.get("snap_index", {})
            for k in INDEX_SCALARS:
                setattr(self, k, meta[k])
            self.step = self.cell / 4.0
            return
        self.cell = float(cell_m)
        self.step = self.cell / 4.0
        lat0 = float(np.mean(graph.node_lat)) if graph.n_nodes else 0.0
        self.kx = math.radians(1.0) * EARTH_R * math.cos(math.radians(lat0))
        self.ky = math.radians(1.0) * EARTH_R
        n_edges = graph.n_edges
        twin = np.asarray(graph.edge_twin)
        ids = np.arange(n_edges)
        self.indexed = (twin < 0) | (ids < twin)  # one of each two-way pair
        self.rep = np.where(self.indexed, ids, twin).astype(np.int32)  # the indexed twin
        off = np.asarray(graph.geom_offsets)
        counts = np.diff(off)
        edges = np.flatnonzero(self.indexed)
        nseg = counts[edges] - 1
        seg_edge = np.repeat(edges, nseg)
        first = np.repeat(off[edges] - np.concatenate(([0], np.cumsum(nseg)[:-1])), nseg)
        start = first + np.arange(nseg.sum())  # coordinate index where each segment starts
        lon, lat = np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)
        self.ax, self.ay = lon[start] * self.kx, lat[start] * self.ky
        self.bx, self.by = lon[start + 1] * self.kx, lat[start + 1] * self.ky
        self.seg_edge = seg_edge.astype(np.int32)
        self.seg_len = np.hypot(self.bx - self.ax, self.by - self.ay)
        cum = np.cumsum(self.seg_len)
        edge_first = np.searchsorted(seg_edge, ids, side="left")
        before = np.concatenate(([0.0], cum))[edge_first]
        self.seg_start = np.concatenate(([0.0], cum))[: len(start)] - before[seg_edge]
        mlen = np.bincount(seg_edge, weights=self.seg_len, minlength=n_edges)
        self.edge_mlen = mlen[self.rep]
        # segments of indexed edge e are edge_seg[e]:edge_seg[e + 1]
        self.edge_seg = np.searchsorted(seg_edge, np.arange(n_edges + 1), side="left").astype(
            np.int32 if seg_edge.size < 2**31 else np.int64
        )
        self._build_grid()

    def _build_grid(self) -> None:
        """Register every segment in each cell its bounding box overlaps (so any point of a
        segment lies in a cell that lists it), as a sorted (cell, segment) array."""
        c = self.cell
        x0 = np.floor(np.minimum(self.ax, self.bx) / c).astype(np.int64)
        x1 = np.floor(np.maximum(self.ax, self.bx) / c).astype(np.int64)
        y0 = np.floor(np.minimum(self.ay, self.by) / c).astype(np.int64)
        y1 = np.floor(np.maximum(self.ay, self.by) / c).astype(np.int64)
        self.cx0 = int(x0.min()) if x0.size else 0
        self.cy0 = int(y0.min()) if y0.size else 0
        self.ny = int(y1.max() - self.cy0 + 1) if y1.size else 1
        w, h = x1 - x0 + 1, y1 - y0 + 1
        n = w * h
        seg = np.repeat(np.arange(n.size, dtype=np.int64), n)
        k = np.arange(seg.size) - np.repeat(np.concatenate(([0], np.cumsum(n)[:-1])), n)
        cx = x0[seg] + k // h[seg]
        cy = y0[seg] + k % h[seg]
        cell = (cx - self.cx0) * self.ny + (cy - self.cy0)
        order = np.argsort(cell, kind="stable")
        cells = cell[order]
        self.cell_seg = seg[order].astype(np.int32)
        self.cell_keys, starts = np.unique(cells, return_index=True)
        self.cell_ptr = np.append(starts, cells.size)

    def arrays(self) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The index as arrays and scalars, to save beside the graph."""
        return (
            {f"snap_{k}": np.asarray(getattr(self, k)) for k in INDEX_ARRAYS},
            {k: getattr(self, k) for k in INDEX_SCALARS},
        )

    def _segments_near(self, px: float, py: float, r: float) -> np.ndarray:
        """Segments registered in the cells that meet the square of half-width ``r``."""
        c = self.cell
        x0, x1 = math.floor((px - r) / c) - self.cx0, math.floor((px + r) / c) - self.cx0
        y0, y1 = math.floor((py - r) / c) - self.cy0, math.floor((py + r) / c) - self.cy0
        y0, y1 = max(y0, 0), min(y1, self.ny - 1)
        if y1 < y0:
            return np.zeros(0, dtype=np.int32)
        cols = np.arange(max(x0, 0), x1 + 1, dtype=np.int64)
        if cols.size == 0:
            return np.zeros(0, dtype=np.int32)
        lo = np.searchsorted(self.cell_keys, cols * self.ny + y0, side="left")
        hi = np.searchsorted(self.cell_keys, cols * self.ny + y1, side="right")
        if not (hi > lo).any():
            return np.zeros(0, dtype=np.int32)
        parts = [
            self.cell_seg[self.cell_ptr[a] : self.cell_ptr[b]]
            for a, b in zip(lo, hi, strict=True)
            if b > a
        ]
        return np.unique(np.concatenate(parts))

    def _best(
        self, px: float, py: float, max_m: float, blocked: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """Exact nearest open segments (all within 1e-9 m of the best), or None beyond max_m."""
        r = self.cell
        while True:
            segs = self._open(self._segments_near(px, py, r), blocked)
            if segs.size:
                d, t, qx, qy = self._dist(segs, px, py)
                best = float(d.min())
                need = best  # every point of a segment lies in a cell that lists it
                if need <= r:
                    keep = d <= best + 1e-9
                    return segs[keep], d[keep], t[keep], qx[keep], qy[keep]
                if best > max_m:
                    return None
                r = need
            elif r > max_m:
                return None
            else:
                r *= 2.0

    def snap(
        self,
        lon: float,
        lat: float,
        *,
        max_m: float = 500.0,
        field: str = "point",
        blocked: np.ndarray | None = None,
    ) -> list[Snap]:
        """The nearest point on the road network, as one :class:`Snap` per edge that runs
        there, lowest edge id first (ties only when several edges are equally near). A point at
        an end of an edge gets ``t`` exactly 0 or 1.

        ``blocked`` is a boolean mask of edges that may not be snapped to (closed roads); a
        two-way street is open while one of its directions is.

        Raises
        ------
        SnapTooFar
            When no open road is within ``max_m`` metres.
        """
        px, py = lon * self.kx, lat * self.ky
        found = self._best(px, py, max_m, blocked)
        if found is None or float(found[1].min()) > max_m:
            raise self._too_far(lon, lat, max_m, field, self._exact_min(px, py, blocked))
        return self._snaps(found, blocked)

    def _snaps(
        self,
        found: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        blocked: np.ndarray | None,
    ) -> list[Snap]:
        """One :class:`Snap` per open edge among the nearest segments, lowest edge id first."""
        segs, d, t, qx, qy = found
        out: dict[int, Snap] = {}
        for i in np.argsort(self.seg_edge[segs], kind="stable"):
            s = int(segs[i])
            e = self._open_direction(int(self.seg_edge[s]), blocked)
            if e in out:
                continue
            out[e] = Snap(
                e, self._fraction(s, float(t[i]), e), float(d[i]), qx[i] / self.kx, qy[i] / self.ky
            )
        return list(out.values())

    def snap_many(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        *,
        max_m: float = 500.0,
        blocked: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`snap` of many points to their first snap: ``(edge, t, distance_m, snap_lon,
        snap_lat)`` arrays in input order; ``edge`` is -1 (``t`` 0, ``distance_m`` inf, the
        snap at the point itself) where no open road lies within ``max_m`` metres.

        The answers are those of :meth:`snap`, bit for bit. Points are taken in blocks of
        :data:`MANY_BLOCK`, vectorised over the cells of snap's first look (the square of
        half-width one cell around each point); a point whose nearest open road lies outside
        that square goes through snap's widening search alone.
        """
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        n = lon.size
        edge = np.full(n, -1, dtype=np.int64)
        t = np.zeros(n)
        dist = np.full(n, np.inf)
        out_lon, out_lat = lon.copy(), lat.copy()
        out = (edge, t, dist, out_lon, out_lat)
        with np.errstate(invalid="ignore", over="ignore"):
            px, py = lon * self.kx, lat * self.ky
            fits = np.isfinite(px) & np.isfinite(py)
            fits &= (np.abs(px) < GRID_LIMIT * self.cell) & (np.abs(py) < GRID_LIMIT * self.cell)
        todo = np.flatnonzero(fits)
        slow = [np.flatnonzero(~fits)]
        for b0 in range(0, todo.size, MANY_BLOCK):
            idx = todo[b0 : b0 + MANY_BLOCK]
            decided, near, found = self._first_look(px[idx], py[idx], max_m, blocked)
            slow.append(idx[~decided])
            for arr, values in zip(out, found, strict=True):
                arr[idx[near]] = values
        for i in np.sort(np.concatenate(slow)):
            x, y = float(lon[i]) * self.kx, float(lat[i]) * self.ky
            found_i = self._best(x, y, max_m, blocked)
            if found_i is None or float(found_i[1].min()) > max_m:
                continue
            s = self._snaps(found_i, blocked)[0]
            edge[i], t[i], dist[i], out_lon[i], out_lat[i] = s.edge, s.t, s.distance_m, s.lon, s.lat
        return out

    def _first_look(
        self, px: np.ndarray, py: np.ndarray, max_m: float, blocked: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
        """The first round of :meth:`_best` (radius one cell) for many projected points, with
        :meth:`_snaps`' choice of the first snap: ``(decided, near, (edge, t, distance_m,
        snap_lon, snap_lat))``. ``decided`` marks the points this round answers, ``near`` those
        of them with an open road within ``max_m`` (the arrays hold their answers, in order)."""
        owner, segs = self._cells_around(px, py)
        if blocked is not None and segs.size:
            keep = ~self._shut(segs, blocked)
            owner, segs = owner[keep], segs[keep]
        d, f, qx, qy = self._dist(segs, px[owner], py[owner])
        best = np.full(px.size, np.inf)
        np.minimum.at(best, owner, d)
        decided = best <= self.cell  # empty squares widen in snap: they stay undecided
        near = decided & (best <= max_m)
        # snap's choice: the lowest edge id, then segment id, within 1e-9 m of the best
        pick = np.flatnonzero(near[owner] & (d <= best[owner] + 1e-9))
        pick = pick[np.lexsort((segs[pick], self.seg_edge[segs[pick]], owner[pick]))]
        pick = pick[np.r_[True, owner[pick][1:] != owner[pick][:-1]]] if pick.size else pick
        s = segs[pick]
        e = self.seg_edge[s].astype(np.int64)
        if blocked is not None:  # _open_direction
            tw = np.asarray(self.graph.edge_twin)[e].astype(np.int64)
            flip = blocked[e] & (tw >= 0)
            flip &= ~blocked[np.maximum(tw, 0)]
            e = np.where(flip, tw, e)
        frac = self._fractions(s, f[pick], e)
        found = (e, frac, d[pick], qx[pick] / self.kx, qy[pick] / self.ky)
        return decided, near, found

    def _cells_around(self, px: np.ndarray, py: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_segments_near` with radius one cell, for many points: ``(point, segment)``
        pairs (a segment may come more than once for a point). Points whose square would span
        more than four columns get none (snap answers them)."""
        c = self.cell
        x0 = np.floor((px - c) / c).astype(np.int64) - self.cx0
        x1 = np.floor((px + c) / c).astype(np.int64) - self.cx0
        y0 = np.maximum(np.floor((py - c) / c).astype(np.int64) - self.cy0, 0)
        y1 = np.minimum(np.floor((py + c) / c).astype(np.int64) - self.cy0, self.ny - 1)
        usable = (y1 >= y0) & (x1 - x0 <= 3)
        keys, ptr = np.asarray(self.cell_keys), np.asarray(self.cell_ptr)
        points, starts, ends = [], [], []
        for k in range(4):
            col = x0 + k
            ok = np.flatnonzero(usable & (col >= 0) & (col <= x1))
            lo = np.searchsorted(keys, col[ok] * self.ny + y0[ok], side="left")
            hi = np.searchsorted(keys, col[ok] * self.ny + y1[ok], side="right")
            some = hi > lo
            points.append(ok[some])
            starts.append(ptr[lo[some]])
            ends.append(ptr[hi[some]])
        p, a = np.concatenate(points), np.concatenate(starts).astype(np.int64)
        cnt = np.concatenate(ends).astype(np.int64) - a
        first = np.cumsum(cnt) - cnt
        pos = np.repeat(a - first, cnt) + np.arange(int(cnt.sum()))
        return np.repeat(p, cnt), np.asarray(self.cell_seg)[pos].astype(np.int64)

    def _fractions(self, s: np.ndarray, t: np.ndarray, e: np.ndarray) -> np.ndarray:
        """:meth:`_fraction` for many (segment, t, edge) triples."""
        along = self.seg_start[s] + t * self.seg_len[s]
        mlen = self.edge_mlen[e]
        mid = np.divide(along, mlen, out=np.zeros(along.shape), where=mlen > 0)
        frac = np.where(along <= END_EPS_M, 0.0, np.where(mlen - along <= END_EPS_M, 1.0, mid))
        return np.where(self.rep[e] != e, 1.0 - frac, frac)

    def _fraction(self, s: int, t: float, e: int) -> float:
        """Fraction along edge ``e`` of the point at ``t`` on segment ``s`` (of e or its twin)."""
        along = float(self.seg_start[s]) + t * float(self.seg_len[s])
        mlen = float(self.edge_mlen[e])
        if along <= END_EPS_M:
            frac = 0.0
        elif mlen - along <= END_EPS_M:
            frac = 1.0
        else:
            frac = along / mlen if mlen > 0 else 0.0
        return 1.0 - frac if self.rep[e] != e else frac

    def _open_direction(self, e: int, blocked: np.ndarray | None) -> int:
        """The indexed edge, or its twin when only the twin is open."""
        if blocked is not None and blocked[e]:
            tw = int(self.graph.edge_twin[e])
            if tw >= 0 and not blocked[tw]:
                return tw
        return e

    def _open(self, segs: np.ndarray, blocked: np.ndarray | None) -> np.ndarray:
        if blocked is None or segs.size == 0:
            return segs
        return segs[~self._shut(segs, blocked)]

    def _shut(self, segs: np.ndarray, blocked: np.ndarray) -> np.ndarray:
        """Segments whose street is closed both ways (or its only way)."""
        e = self.seg_edge[segs]
        tw = np.asarray(self.graph.edge_twin)[e]
        return blocked[e] & ((tw < 0) | blocked[np.maximum(tw, 0)])

    def _dist(self, segs: np.ndarray, px: float, py: float) -> tuple[np.ndarray, ...]:
        ax, ay, bx, by = self.ax[segs], self.ay[segs], self.bx[segs], self.by[segs]
        dx, dy = bx - ax, by - ay
        den = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(den > 0, ((px - ax) * dx + (py - ay) * dy) / den, 0.0)
        t = np.clip(t, 0.0, 1.0)
        qx, qy = ax + t * dx, ay + t * dy
        return np.hypot(px - qx, py - qy), t, qx, qy

    def _exact_min(self, px: float, py: float, blocked: np.ndarray | None) -> float | None:
        """The exact distance to the nearest open segment, for the error message (slow path)."""
        segs = self._open(np.arange(self.seg_len.size), blocked)
        if segs.size == 0:
            return None
        return float(self._dist(segs, px, py)[0].min())

    def _too_far(
        self, lon: float, lat: float, max_m: float, field: str, d: float | None = None
    ) -> SnapTooFar:
        where = f"[{lon:.6f}, {lat:.6f}]"
        if d is None:
            msg = f"{where} is more than {max_m:.0f} m from any open road"
        else:
            msg = f"{where} is {d:.0f} m from the nearest open road; the limit is {max_m:.0f} m"
        return SnapTooFar(msg, field=field, distance_m=round(d, 1) if d else None)
