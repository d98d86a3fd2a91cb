"""Snapping: a lon/lat point to the nearest point on a road edge (not only the nearest node).

Every edge polyline is cut into segments; sample points every ``SAMPLE_M`` metres along them go
into a KD-tree (built once per graph, in a local equirectangular projection in metres, exact
enough within a city or a province). A query takes the nearest samples, then every segment with
a sample within the best exact distance plus half the sample spacing, so the answer is the
exact nearest segment, not an approximation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from routing.errors import SnapTooFar
from routing.graph import RoadGraph

EARTH_R = 6_371_008.8
SAMPLE_M = 25.0


@dataclass(frozen=True)
class Snap:
    """Where a point meets the road: edge ``edge`` at fraction ``t`` (0 at its ``u`` end, 1 at
    ``v``, by length), ``distance_m`` away from the point, at ``lon``/``lat``."""

    edge: int
    t: float
    distance_m: float
    lon: float
    lat: float


class Snapper:
    """Nearest-edge lookups on one graph; build once, query from any thread."""

    def __init__(self, graph: RoadGraph) -> None:
        self.graph = graph
        lat0 = float(np.mean(graph.node_lat)) if graph.n_nodes else 0.0
        self.kx = math.radians(1.0) * EARTH_R * math.cos(math.radians(lat0))
        self.ky = math.radians(1.0) * EARTH_R
        x = np.asarray(graph.geom_lon) * self.kx
        y = np.asarray(graph.geom_lat) * self.ky
        off = np.asarray(graph.geom_offsets)
        n_coords = len(x)
        # segment s runs from coordinate s to s+1, except across edge boundaries
        starts = np.ones(n_coords, dtype=bool)
        starts[off[1:] - 1] = False  # last coordinate of each edge starts no segment
        seg = np.flatnonzero(starts[:-1]) if n_coords else np.zeros(0, dtype=np.int64)
        self.ax, self.ay = x[seg], y[seg]
        self.bx, self.by = x[seg + 1], y[seg + 1]
        self.seg_edge = np.searchsorted(off, seg, side="right") - 1
        seg_len = np.hypot(self.bx - self.ax, self.by - self.ay)
        self.seg_len = seg_len
        # metric length of each edge and where each segment starts along it
        cum = np.cumsum(seg_len)
        edge_first = np.searchsorted(self.seg_edge, np.arange(graph.n_edges), side="left")
        before = np.concatenate(([0.0], cum))[edge_first]
        self.seg_start = np.concatenate(([0.0], cum))[: len(seg)] - before[self.seg_edge]
        self.edge_mlen = np.bincount(self.seg_edge, weights=seg_len, minlength=graph.n_edges)
        # segments of edge e are edge_seg[e]:edge_seg[e + 1] (segments are in edge order)
        self.edge_seg = np.searchsorted(self.seg_edge, np.arange(graph.n_edges + 1), side="left")
        # samples every SAMPLE_M metres along each segment, ends included
        n_samples = np.maximum(np.ceil(seg_len / SAMPLE_M).astype(np.int64), 1) + 1
        owner = np.repeat(np.arange(len(seg)), n_samples)
        first = np.concatenate(([0], np.cumsum(n_samples)[:-1]))
        frac = (np.arange(owner.size) - first[owner]) / (n_samples[owner] - 1)
        sx = self.ax[owner] + frac * (self.bx - self.ax)[owner]
        sy = self.ay[owner] + frac * (self.by - self.ay)[owner]
        self.sample_seg = owner
        self.tree = cKDTree(np.column_stack((sx, sy))) if owner.size else None

    def snap(
        self,
        lon: float,
        lat: float,
        *,
        max_m: float = 500.0,
        field: str = "point",
        blocked: np.ndarray | None = None,
    ) -> list[Snap]:
        """The nearest point on the road network, as one :class:`Snap` per directed edge that
        runs there (two for a two-way street), nearest first.

        ``blocked`` is a boolean mask of edges that may not be snapped to (closed roads).

        Raises
        ------
        SnapTooFar
            When no open road is within ``max_m`` metres.
        """
        px, py = lon * self.kx, lat * self.ky
        if self.tree is None:
            raise SnapTooFar(f"no road within {max_m:.0f} m", field=field)
        k = min(16, self.tree.n)
        _, idx = self.tree.query((px, py), k=k)
        segs = np.unique(self.sample_seg[np.atleast_1d(idx)])
        segs = self._open(segs, blocked)
        best = float(self._dist(segs, px, py)[0].min()) if segs.size else math.inf
        if not math.isfinite(best):
            best = max_m
        radius = min(best, max_m) + SAMPLE_M
        near = self.tree.query_ball_point((px, py), r=radius)
        segs = self._open(np.unique(self.sample_seg[np.asarray(near, dtype=np.int64)]), blocked)
        if segs.size == 0:
            raise self._too_far(lon, lat, max_m, field, self._exact_min(px, py, blocked))
        dist, t, qx, qy = self._dist(segs, px, py)
        order = np.argsort(dist, kind="stable")
        d0 = float(dist[order[0]])
        if d0 > max_m:
            raise self._too_far(lon, lat, max_m, field, d0)
        out: list[Snap] = []
        seen: set[int] = set()
        for i in order:
            if dist[i] > d0 + 0.01:
                break
            s = int(segs[i])
            e = int(self.seg_edge[s])
            if e in seen:
                continue
            seen.add(e)
            along = self.seg_start[s] + t[i] * math.hypot(
                self.bx[s] - self.ax[s], self.by[s] - self.ay[s]
            )
            frac = along / self.edge_mlen[e] if self.edge_mlen[e] > 0 else 0.0
            out.append(
                Snap(e, min(max(frac, 0.0), 1.0), float(dist[i]), qx[i] / self.kx, qy[i] / self.ky)
            )
        return out

    def snap_many(
        self,
        lon: np.ndarray,
        lat: np.ndarray,
        *,
        max_m: float = 500.0,
        blocked: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Vectorised :meth:`snap` of many points to their single nearest open edge.

        Returns ``(edge, t, distance_m, snap_lon, snap_lat)`` arrays; ``edge`` is -1 where no
        open road lies within ``max_m``. Exact: a point whose nearest candidates cannot prove
        their answer (the k-th sample is too close) is snapped one by one.
        """
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        n = lon.size
        edge = np.full(n, -1, dtype=np.int64)
        t = np.zeros(n)
        dist = np.full(n, np.inf)
        out_lon, out_lat = lon.copy(), lat.copy()
        if n == 0 or self.tree is None:
            return edge, t, dist, out_lon, out_lat
        px, py = lon * self.kx, lat * self.ky
        k = min(32, self.tree.n)
        sd, si = self.tree.query(np.column_stack((px, py)), k=k)
        sd, si = sd.reshape(n, k), si.reshape(n, k)
        segs = self.sample_seg[si]
        ax, ay, bx, by = self.ax[segs], self.ay[segs], self.bx[segs], self.by[segs]
        dx, dy = bx - ax, by - ay
        den = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            tt = np.where(den > 0, ((px[:, None] - ax) * dx + (py[:, None] - ay) * dy) / den, 0.0)
        tt = np.clip(tt, 0.0, 1.0)
        qx, qy = ax + tt * dx, ay + tt * dy
        d = np.hypot(px[:, None] - qx, py[:, None] - qy)
        if blocked is not None:
            d = np.where(blocked[self.seg_edge[segs]], np.inf, d)
        j = np.argmin(d, axis=1)
        rows = np.arange(n)
        best = d[rows, j]
        proven = (
            np.isfinite(best) & (sd[:, -1] > best + SAMPLE_M)
            if k < self.tree.n
            else (np.ones(n, dtype=bool))
        )
        s = segs[rows, j]
        seg_len = np.sqrt(den[rows, j])
        along = self.seg_start[s] + tt[rows, j] * seg_len
        e = self.seg_edge[s]
        frac = np.clip(
            np.where(self.edge_mlen[e] > 0, along / np.maximum(self.edge_mlen[e], 1e-12), 0.0), 0, 1
        )
        ok = proven & (best <= max_m)
        edge[ok], t[ok], dist[ok] = e[ok], frac[ok], best[ok]
        out_lon[ok], out_lat[ok] = qx[rows, j][ok] / self.kx, qy[rows, j][ok] / self.ky
        for i in np.flatnonzero(~proven):
            try:
                one = self.snap(float(lon[i]), float(lat[i]), max_m=max_m, blocked=blocked)[0]
            except SnapTooFar:
                continue
            edge[i], t[i], dist[i], out_lon[i], out_lat[i] = (
                one.edge,
                one.t,
                one.distance_m,
                one.lon,
                one.lat,
            )
        return edge, t, dist, out_lon, out_lat

    def _open(self, segs: np.ndarray, blocked: np.ndarray | None) -> np.ndarray:
        if blocked is None or segs.size == 0:
            return segs
        return segs[~blocked[self.seg_edge[segs]]]

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
        r = SAMPLE_M
        while self.tree is not None and r < 1e7:
            near = self.tree.query_ball_point((px, py), r=r)
            segs = self._open(np.unique(self.sample_seg[np.asarray(near, dtype=np.int64)]), blocked)
            if segs.size:
                d = float(self._dist(segs, px, py)[0].min())
                if d <= r - SAMPLE_M:
                    return d
                r = d + SAMPLE_M
            else:
                r *= 4.0
        return None

    def _too_far(
        self, lon: float, lat: float, max_m: float, field: str, d: float | None = None
    ) -> SnapTooFar:
        where = f"[{lon:.6f}, {lat:.6f}]"
        if d is None:
            msg = f"{where} is more than {max_m:.0f} m from any open road"
        else:
            msg = f"{where} is {d:.0f} m from the nearest open road; the limit is {max_m:.0f} m"
        return SnapTooFar(msg, field=field, distance_m=round(d, 1) if d else None)
