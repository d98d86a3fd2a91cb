"""The "never deeper" rule of an evacuation: depth in a danger zone and which road pieces keep it.

The *depth* of a point is its distance in metres to the zone's boundary when it lies inside the
zone, and 0 outside (measured in a local equirectangular projection centred on the zone). A road
piece (a directed edge, or the part of one from fraction ``t0`` to ``t1`` of its length) may be
driven when:

* it starts outside the zone or on its boundary, and never enters the zone's interior (exact
  geometry test: a road that cuts through a corner of the zone from outside is closed); or
* it starts inside the zone at depth ``d``, ends at depth ``<= d``, and never goes deeper than
  ``d + tolerance_m`` anywhere along its geometry (checked at points at most ``tolerance_m / 2``
  apart with a margin that covers what lies between them, since depth changes by at most one
  metre per metre).

:class:`ZoneDepth` applies the rule to whole edges (a closure mask) and to pieces;
:func:`sample_pieces` and :func:`cut` read points and coordinates along pieces, with fractions
measured as the engine's snapper measures them. See :mod:`routing.evacuation` for what the rule
guarantees along a route.

Units: metres; coordinates are lon/lat (EPSG:4326).
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from routing.engine import Engine
from routing.snap import EARTH_R


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
