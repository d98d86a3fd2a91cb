"""The routing engine on tiny hand-built graphs whose answers are worked out by hand.

Every graph sits around lon 24.94, lat 60.17 (central Helsinki). There 0.002 deg of longitude
and 0.001 deg of latitude are both about 111 m, so the graphs are grids of roughly square blocks.
Road pieces carry round, made-up times and lengths (seconds, metres) so that each expected answer
is a sum written out in a comment. A point at the middle of a piece snaps there at fraction 0.5:
leaving it costs half the piece's time in either direction (both ways on a two-way street).

    SQUARE (one one-way street)          LADDER (two-way) + ISLAND

    D --North St 20s-- C                 U0 --Upper 25-- U1 --Upper 25-- U2
    |                  |                 |               |               |
    West St 20s    East St 20s          West Rd 30     Mid Rd 30      East Rd 30    I0 -- I1
    |                  |                 |               |               |        (Island Rd 20,
    A --Oneway 10s --> B                 L0 --Lower 20-- L1 --Lower 20-- L2       unconnected)

    DUMBBELL:  W0 --West St 20-- W1 ==Bridge 20== E0 --East St 20-- E1
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import shapely

from routing import graph as graph_mod
from routing.engine import Closures, Engine
from routing.errors import BadRequest, NoPath, SnapTooFar, UnknownGraph
from routing.graph import RoadGraph, from_edges
from routing.store import GraphStore

LON0, LAT0 = 24.940, 60.170
DX, DY = 0.002, 0.001  # one block: about 111 m east-west, 111 m north-south


def at(i: float, j: float) -> tuple[float, float]:
    """Grid position (i blocks east, j blocks north) as lon/lat."""
    return (round(LON0 + i * DX, 9), round(LAT0 + j * DY, 9))


def build(
    nodes: dict[str, tuple[float, float]],
    roads: list[tuple[str, str, float, float, str, bool]],
    *,
    name: str = "hand",
) -> RoadGraph:
    """A graph from ``(from, to, seconds, metres, street, oneway)`` rows; a two-way road
    becomes two pieces, each other's twin."""
    keys = list(nodes)
    ix = {k: i for i, k in enumerate(keys)}
    u, v, length, time, names, coords = [], [], [], [], [], []
    for a, b, secs, metres, street, oneway in roads:
        ends = [(a, b)] if oneway else [(a, b), (b, a)]
        for x, y in ends:
            u.append(ix[x])
            v.append(ix[y])
            length.append(metres)
            time.append(secs)
            names.append(street)
            coords.append(np.array([nodes[x], nodes[y]]))
    lon = np.array([nodes[k][0] for k in keys])
    lat = np.array([nodes[k][1] for k in keys])
    return from_edges(lon, lat, u, v, length, time, names, coords, meta={"name": name})


def edge_id(g: RoadGraph, nodes: dict[str, tuple[float, float]], a: str, b: str) -> int:
    """The id of the directed piece a -> b (ids change when from_edges sorts the pieces)."""
    keys = list(nodes)
    ids = np.flatnonzero((g.edge_u == keys.index(a)) & (g.edge_v == keys.index(b)))
    assert len(ids) == 1
    return int(ids[0])


def box(center: tuple[float, float], half_deg: float = 0.0002) -> shapely.Geometry:
    x, y = center
    return shapely.box(x - half_deg, y - half_deg, x + half_deg, y + half_deg)


def mid(p: tuple[float, float], q: tuple[float, float], f: float = 0.5) -> tuple[float, float]:
    return (p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1]))


# --- the graphs ------------------------------------------------------------------------------

SQ = {"A": at(0, 0), "B": at(1, 0), "C": at(1, 1), "D": at(0, 1)}
SQ_ROADS = [
    ("A", "B", 10, 100, "Oneway St", True),
    ("B", "C", 20, 100, "East St", False),
    ("C", "D", 20, 100, "North St", False),
    ("D", "A", 20, 100, "West St", False),
]

LAD = {
    "L0": at(0, 0),
    "L1": at(1, 0),
    "L2": at(2, 0),
    "U0": at(0, 1),
    "U1": at(1, 1),
    "U2": at(2, 1),
    "I0": at(4, 0),
    "I1": at(5, 0),
}
LAD_ROADS = [
    ("L0", "L1", 20, 100, "Lower St", False),
    ("L1", "L2", 20, 100, "Lower St", False),
    ("U0", "U1", 25, 100, "Upper St", False),
    ("U1", "U2", 25, 100, "Upper St", False),
    ("L0", "U0", 30, 100, "West Rd", False),
    ("L1", "U1", 30, 100, "Mid Rd", False),
    ("L2", "U2", 30, 100, "East Rd", False),
    ("I0", "I1", 20, 100, "Island Rd", False),
]

DB = {"W0": at(0, 0), "W1": at(1, 0), "E0": at(2, 0), "E1": at(3, 0)}
DB_ROADS = [
    ("W0", "W1", 20, 100, "West St", False),
    ("W1", "E0", 20, 100, "Bridge", False),
    ("E0", "E1", 20, 100, "East St", False),
]

# Midpoints of the ladder's pieces (each snaps at fraction 0.5).
M_L01 = mid(LAD["L0"], LAD["L1"])  # Lower St, west block
M_L12 = mid(LAD["L1"], LAD["L2"])  # Lower St, east block
M_U01 = mid(LAD["U0"], LAD["U1"])
M_U12 = mid(LAD["U1"], LAD["U2"])
M_W = mid(LAD["L0"], LAD["U0"])  # West Rd
M_M = mid(LAD["L1"], LAD["U1"])  # Mid Rd
M_E = mid(LAD["L2"], LAD["U2"])  # East Rd
M_I = mid(LAD["I0"], LAD["I1"])  # Island Rd
FAR = at(0.5, 10)  # about 1 km north of everything


@pytest.fixture(scope="module")
def square() -> Engine:
    return Engine(build(SQ, SQ_ROADS, name="square"))


@pytest.fixture(scope="module")
def ladder() -> Engine:
    return Engine(build(LAD, LAD_ROADS, name="ladder"))


@pytest.fixture(scope="module")
def dumbbell() -> Engine:
    return Engine(build(DB, DB_ROADS, name="dumbbell"))


# --- the graph itself ------------------------------------------------------------------------


def test_from_edges_pairs_twins_and_leaves_one_way_alone(square):
    g = square.g
    ab = edge_id(g, SQ, "A", "B")
    bc, cb = edge_id(g, SQ, "B", "C"), edge_id(g, SQ, "C", "B")
    assert g.edge_twin[ab] == -1
    assert (g.edge_twin[bc], g.edge_twin[cb]) == (cb, bc)
    assert g.n_nodes == 4
    assert g.n_edges == 7  # 1 one-way + 3 two-way * 2
    assert g.street(ab) == "Oneway St"
    assert g.meta["bbox"] == pytest.approx([24.940, 60.170, 24.942, 60.171])


# --- one-way streets -------------------------------------------------------------------------


def test_one_way_street_is_driven_only_forwards(square):
    west, east = mid(SQ["A"], SQ["B"], 0.25), mid(SQ["A"], SQ["B"], 0.75)
    # Along the one-way: a quarter to three quarters of A->B = 0.5 * 10 s, 0.5 * 100 m.
    r = square.route(west, east)
    assert r.duration_s == pytest.approx(5.0)
    assert r.length_m == pytest.approx(50.0)
    # Back against it: 0.25*10 to B, B->C 20, C->D 20, D->A 20, then 0.25*10 = 65 s;
    # 25 + 300 + 25 = 350 m.
    r = square.route(east, west)
    assert r.duration_s == pytest.approx(65.0)
    assert r.length_m == pytest.approx(350.0)
    assert [s.name for s in r.steps if s.maneuver != "arrive"] == [
        "Oneway St",
        "East St",
        "North St",
        "West St",
        "Oneway St",
    ]


def test_nearest_follows_one_way_upstream_beats_downstream(square):
    target = mid(SQ["A"], SQ["B"])  # middle of the one-way
    downstream = mid(SQ["A"], SQ["B"], 0.75)  # 28 m away in a straight line, but past it
    upstream = mid(SQ["D"], SQ["A"])  # 78 m away in a straight line
    hits, skipped = square.nearest(target, [downstream, upstream], k=2)
    assert skipped == {}
    # upstream: half of West St to A (10 s) + half of the one-way (5 s) = 15 s; 50 + 50 m.
    # downstream: 2.5 s to B + 60 s around the block + 5 s = 67.5 s; 25 + 300 + 50 m.
    assert [h.index for h in hits] == [1, 0]
    assert [h.duration_s for h in hits] == pytest.approx([15.0, 67.5])
    assert [h.length_m for h in hits] == pytest.approx([100.0, 375.0])


def test_isochrone_to_differs_from_from_on_one_way(square):
    p = mid(SQ["A"], SQ["B"])  # middle of the one-way A->B (10 s)
    beyond_b = mid(SQ["B"], SQ["C"], 0.125)  # 5 s to B + 2.5 s up East St = 7.5 s from p
    before_a = mid(SQ["A"], SQ["D"], 0.125)  # 2.5 s down West St + 5 s to p = 7.5 s to p
    [(_, out)] = square.isochrone(p, [10], direction="from")
    [(_, into)] = square.isochrone(p, [10], direction="to")
    # From p one can only drive towards B; only drivers coming from A's side reach p.
    assert out.covers(shapely.Point(beyond_b))
    assert not out.covers(shapely.Point(before_a))
    assert into.covers(shapely.Point(before_a))
    assert not into.covers(shapely.Point(beyond_b))


def test_point_on_a_junction_may_leave_by_any_road(square):
    # From junction A down West St to its middle: half of 20 s = 10 s. Engine: 10 + 20 + 20 + 10
    # = 60 s around the block, because A is attached only to the one-way A->B.
    r = square.route(SQ["A"], mid(SQ["A"], SQ["D"]))
    assert r.duration_s == pytest.approx(10.0)


def test_point_on_a_junction_may_be_reached_by_any_road(square):
    # From the middle of East St down to junction B: half of 20 s = 10 s. Engine: 60 s (up to C,
    # round by D and A, then along the one-way A->B), because B is attached only to A->B.
    r = square.route(mid(SQ["B"], SQ["C"]), SQ["B"])
    assert r.duration_s == pytest.approx(10.0)


def test_nearest_target_on_a_junction(square):
    # A team in the middle of East St, the incident at junction B: 10 s down East St.
    hits, _ = square.nearest(SQ["B"], [mid(SQ["B"], SQ["C"])], k=1)
    assert hits[0].duration_s == pytest.approx(10.0)


# --- basic routes ----------------------------------------------------------------------------


def test_point_mid_edge_leaves_with_half_the_time(ladder):
    g = ladder.g
    p = ladder.locate(M_L01[0], M_L01[1] - 0.0001)  # 11 m south of the middle of L0-L1
    assert {s.edge for s in p.snaps} == {
        edge_id(g, LAD, "L0", "L1"),
        edge_id(g, LAD, "L1", "L0"),
    }
    assert [s.t for s in p.snaps] == pytest.approx([0.5, 0.5])
    assert p.snaps[0].distance_m == pytest.approx(0.0001 * math.radians(1) * 6_371_008.8, rel=1e-3)
    keys = list(LAD)
    exits = sorted(ladder.exits(p, ladder.time, ladder.v))
    assert [n for n, _ in exits] == [keys.index("L0"), keys.index("L1")]
    assert [s for _, s in exits] == pytest.approx([10.0, 10.0])  # half of 20 s each way
    # Middle of L0-L1 to middle of L1-L2: 10 s + 10 s, 50 m + 50 m.
    r = ladder.route(M_L01, M_L12)
    assert r.duration_s == pytest.approx(20.0)
    assert r.length_m == pytest.approx(100.0)


def test_origin_equals_destination_is_zero(ladder):
    r = ladder.route(M_L01, M_L01)
    assert r.duration_s == 0.0
    assert r.length_m == 0.0
    assert [s.maneuver for s in r.steps] == ["depart", "arrive"]
    assert r.coords.shape == (2, 2)
    assert r.coords[0] == pytest.approx(M_L01)


def test_same_piece_behind_uses_the_twin(ladder):
    # A quarter and three quarters of L0-L1 (20 s, 100 m), driven westwards on the twin.
    r = ladder.route(mid(LAD["L0"], LAD["L1"], 0.75), mid(LAD["L0"], LAD["L1"], 0.25))
    assert r.duration_s == pytest.approx(10.0)
    assert r.length_m == pytest.approx(50.0)
    assert r.edges == (edge_id(ladder.g, LAD, "L1", "L0"),)


def test_route_steps_names_lengths_and_geometry(ladder):
    origin = (M_W[0] - 0.0001, M_W[1])  # 5.6 m west of the middle of West Rd
    dest = (M_E[0] + 0.0001, M_E[1])  # 5.6 m east of the middle of East Rd
    r = ladder.route(origin, dest)
    # Down West Rd 15 s (50 m), Lower St 20 + 20 s (200 m), up East Rd 15 s (50 m) = 70 s, 300 m.
    # (Over the top: 15 + 25 + 25 + 15 = 80 s.)
    assert r.duration_s == pytest.approx(70.0)
    assert r.length_m == pytest.approx(300.0)
    got = [(s.name, s.maneuver, s.distance_m, s.duration_s) for s in r.steps]
    assert got == [
        ("West Rd", "depart", pytest.approx(50.0), pytest.approx(15.0)),
        ("Lower St", "turn left", pytest.approx(200.0), pytest.approx(40.0)),
        ("East Rd", "turn left", pytest.approx(50.0), pytest.approx(15.0)),
        ("East Rd", "arrive", 0.0, 0.0),
    ]
    # length_m is the sum of the pieces driven: half, two whole pieces, half.
    g = ladder.g
    assert r.edges == (
        edge_id(g, LAD, "U0", "L0"),
        edge_id(g, LAD, "L0", "L1"),
        edge_id(g, LAD, "L1", "L2"),
        edge_id(g, LAD, "L2", "U2"),
    )
    fractions = [0.5, 1.0, 1.0, 0.5]
    assert r.length_m == pytest.approx(
        sum(f * g.edge_len[e] for f, e in zip(fractions, r.edges, strict=True))
    )
    assert r.length_m == pytest.approx(sum(s.distance_m for s in r.steps))
    # The line starts at the snapped origin, passes the corners and ends at the snapped destination.
    assert tuple(r.coords[0]) == pytest.approx(M_W)
    assert tuple(r.coords[-1]) == pytest.approx(M_E)
    line = shapely.LineString(r.coords)
    for corner in ("L0", "L1", "L2"):
        assert line.distance(shapely.Point(LAD[corner])) < 1e-9
    assert r.steps[-1].location == pytest.approx(M_E)


# --- unreachable and closures ----------------------------------------------------------------


def test_island_is_unreachable(ladder):
    with pytest.raises(NoPath) as err:
        ladder.route(M_L01, M_I)
    assert err.value.details["reason"] == "unreachable"
    assert err.value.status == 422
    assert err.value.field == "to"
    # A closure elsewhere does not turn "unreachable" into "closed".
    with pytest.raises(NoPath) as err:
        ladder.route(M_L01, M_I, closures=Closures(polygons=(box(M_U12),)))
    assert err.value.details["reason"] == "unreachable"


def test_closure_on_the_only_bridge(dumbbell):
    west, east = mid(DB["W0"], DB["W1"]), mid(DB["E0"], DB["E1"])
    # Open: 10 s to W1, 20 s over the bridge, 10 s to the middle of East St; 50 + 100 + 50 m.
    r = dumbbell.route(west, east)
    assert r.duration_s == pytest.approx(40.0)
    assert r.length_m == pytest.approx(200.0)
    assert edge_id(dumbbell.g, DB, "W1", "E0") in r.edges
    assert [s.name for s in r.steps] == ["West St", "Bridge", "East St", "East St"]
    # A zone over the middle of the bridge (touching neither end) closes it.
    zone = box(mid(DB["W1"], DB["E0"]))
    with pytest.raises(NoPath) as err:
        dumbbell.route(west, east, closures=Closures(polygons=(zone,)))
    assert err.value.details["reason"] == "closed"
    assert err.value.field == "avoid"
    assert "closed" in err.value.message


def test_closure_forces_the_computed_detour(ladder):
    before = ladder.route(M_W, M_E)
    assert before.duration_s == pytest.approx(70.0)  # along Lower St, see above
    # Closing the middle of L0-L1: over the top, 15 + 25 + 25 + 15 = 80 s, 50+100+100+50 m.
    # (Up West Rd, Upper St, down Mid Rd, Lower St, up East Rd: 15+25+30+20+15 = 105 s.)
    zone = Closures(polygons=(box(M_L01),))
    after = ladder.route(M_W, M_E, closures=zone)
    assert after.duration_s - before.duration_s == pytest.approx(10.0)
    assert after.length_m == pytest.approx(300.0)
    assert {s.name for s in after.steps} == {"West Rd", "Upper St", "East Rd"}
    closed = ladder.closed_mask(zone)
    assert np.flatnonzero(closed).tolist() == sorted(
        [edge_id(ladder.g, LAD, "L0", "L1"), edge_id(ladder.g, LAD, "L1", "L0")]
    )
    assert not any(closed[e] for e in after.edges)


def test_closed_edges_by_id_are_per_direction(ladder):
    eastwards = edge_id(ladder.g, LAD, "L0", "L1")
    cl = Closures(edges=frozenset({eastwards}))
    # Eastwards the detour over the top: 80 s. Westwards L1->L0 is still open: 70 s.
    assert ladder.route(M_W, M_E, closures=cl).duration_s == pytest.approx(80.0)
    assert ladder.route(M_E, M_W, closures=cl).duration_s == pytest.approx(70.0)
    with pytest.raises(BadRequest) as err:
        ladder.route(M_W, M_E, closures=Closures(edges=frozenset({ladder.g.n_edges})))
    assert err.value.field == "closed_edges"


def test_point_inside_a_closure(ladder):
    zone = Closures(polygons=(box(M_L01),))
    with pytest.raises(NoPath) as err:
        ladder.route(M_L01, M_E, closures=zone)
    assert err.value.details["reason"] == "inside_closure"
    assert err.value.field == "from"
    with pytest.raises(NoPath) as err:
        ladder.route(M_E, M_L01, closures=zone)
    assert err.value.details["reason"] == "inside_closure"
    assert err.value.field == "to"


def test_closure_key_is_canonical():
    a, b = box(M_L01), box(M_U12)
    assert Closures(polygons=(a, b)).key == Closures(polygons=(b, a)).key
    assert Closures(polygons=(a,)).key != Closures(polygons=(b,)).key
    assert Closures().key == "none"
    assert not Closures()


# --- snapping limits -------------------------------------------------------------------------


def test_snap_just_beyond_the_limit_names_the_distance():
    engine = Engine(build(LAD, LAD_ROADS), max_snap_m=100)
    # 0.00099 deg of latitude north of Upper St: 0.00099 * 111195 m = 110 m.
    with pytest.raises(SnapTooFar) as err:
        engine.route((M_U01[0], LAT0 + DY + 0.00099), M_L01)
    assert err.value.status == 422
    assert err.value.code == "too_far_from_road"
    assert err.value.field == "from"
    assert "110 m" in err.value.message
    assert "100 m" in err.value.message
    assert err.value.details["distance_m"] == pytest.approx(110.1, abs=0.2)


def test_snap_far_beyond_the_limit_names_the_distance():
    engine = Engine(build(LAD, LAD_ROADS), max_snap_m=100)
    # 0.0015 deg of latitude north of Upper St: 0.0015 * 111195 m = 167 m.
    with pytest.raises(SnapTooFar) as err:
        engine.route((M_U01[0], LAT0 + DY + 0.0015), M_L01)
    assert err.value.status == 422
    assert re.search(r"\b167 m\b", err.value.message), err.value.message
    assert err.value.details.get("distance_m") == pytest.approx(166.8, abs=0.2)


# --- nearest ---------------------------------------------------------------------------------

NEAREST_SOURCES = [
    M_L12,  # 0: 10 s to L1 + 10 s to the target = 20 s; 100 m
    M_E,  # 1: 15 s down East Rd + 20 s L2->L1 + 10 s = 45 s; 200 m
    M_U12,  # 2: 12.5 s to U1 + 30 s down Mid Rd + 10 s = 52.5 s; 200 m
    FAR,  # 3: a kilometre from any road
]


def test_nearest_k_orders_by_time(ladder):
    hits, skipped = ladder.nearest(M_L01, NEAREST_SOURCES, k=2)
    assert [h.index for h in hits] == [0, 1]
    assert [h.duration_s for h in hits] == pytest.approx([20.0, 45.0])
    assert [h.length_m for h in hits] == pytest.approx([100.0, 200.0])
    assert skipped == {3: "too_far_from_road"}
    hits, _ = ladder.nearest(M_L01, NEAREST_SOURCES, k=5)
    assert [h.index for h in hits] == [0, 1, 2]
    assert [h.duration_s for h in hits] == pytest.approx([20.0, 45.0, 52.5])
    assert [h.length_m for h in hits] == pytest.approx([100.0, 200.0, 200.0])


def test_nearest_leaves_out_unreachable_sources(ladder):
    # The island source (index 1) cannot reach the mainland target; only source 0 (20 s) can.
    hits, _ = ladder.nearest(M_L01, [M_L12, M_I], k=5)
    assert [h.index for h in hits] == [0]
    assert all(math.isfinite(h.duration_s) for h in hits)


def test_nearest_max_s(ladder):
    hits, _ = ladder.nearest(M_L01, NEAREST_SOURCES, k=5, max_s=50)
    assert [h.index for h in hits] == [0, 1]
    hits, _ = ladder.nearest(M_L01, NEAREST_SOURCES, k=5, max_s=30)
    assert [h.index for h in hits] == [0]
    hits, _ = ladder.nearest(M_L01, NEAREST_SOURCES, k=5, max_s=15)
    assert hits == []
    with pytest.raises(BadRequest) as err:
        ladder.nearest(M_L01, NEAREST_SOURCES, k=0)
    assert err.value.field == "k"


def test_nearest_with_a_closure_skips_sources_inside_it(ladder):
    # A zone over the middle of L1-L2, where source 0 stands, closes that piece both ways.
    # Source 1 then comes up East Rd, along Upper St and down Mid Rd: 15 + 25 + 30 + 10 = 80 s
    # (on by West Rd: 15 + 25 + 25 + 30 + 10 = 105 s). Source 2 is unaffected: 52.5 s.
    cl = Closures(polygons=(box(M_L12),))
    hits, skipped = ladder.nearest(M_L01, NEAREST_SOURCES, k=5, closures=cl)
    assert skipped == {0: "inside_closure", 3: "too_far_from_road"}
    assert [h.index for h in hits] == [2, 1]
    assert [h.duration_s for h in hits] == pytest.approx([52.5, 80.0])


def test_nearest_ties_keep_input_order(ladder):
    same = M_L12  # two teams parked at the same spot: exactly the same time
    hits, _ = ladder.nearest(M_L01, [M_E, same, same], k=3)
    assert [h.index for h in hits] == [1, 2, 0]
    assert hits[0].duration_s == hits[1].duration_s == pytest.approx(20.0)
    hits, _ = ladder.nearest(M_L01, [same, M_E, same], k=1)
    assert [h.index for h in hits] == [0]
    # Two sources either side of the target at the same time (to rounding): both returned.
    # Middle of Mid Rd from the middle of L0-L1 or of L1-L2: 10 s to L1 + 15 s up = 25 s.
    hits, _ = ladder.nearest(M_M, [M_L12, M_L01], k=2)
    assert sorted(h.index for h in hits) == [0, 1]
    assert [h.duration_s for h in hits] == pytest.approx([25.0, 25.0])


# --- matrix ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sources", "targets"),
    [
        ([M_W, M_L12, M_I], [M_E, M_U01, M_I]),  # one search per target (reverse)
        ([M_W, M_I], [M_E, M_U01, M_I]),  # one search per source (forward)
    ],
)
def test_matrix_equals_a_loop_of_routes(ladder, sources, targets):
    times = ladder.matrix(sources, targets)
    assert times.shape == (len(sources), len(targets))
    for i, s in enumerate(sources):
        for j, t in enumerate(targets):
            try:
                expected = ladder.route(s, t).duration_s
            except NoPath:
                expected = math.inf
            assert times[i, j] == pytest.approx(expected), (i, j)
    # By hand: West Rd -> East Rd 70 s; West Rd -> middle of U0-U1: 15 + 12.5 = 27.5 s;
    # island -> island 0 s; mainland <-> island inf.
    assert times[0, 0] == pytest.approx(70.0)
    assert times[0, 1] == pytest.approx(27.5)
    assert times[-1, -1] == 0.0
    assert times[0, -1] == math.inf
    assert times[-1, 0] == math.inf


def test_matrix_with_closure(ladder):
    times = ladder.matrix([M_W], [M_E], closures=Closures(polygons=(box(M_L01),)))
    assert times.shape == (1, 1)
    assert times[0, 0] == pytest.approx(80.0)


# --- isochrones ------------------------------------------------------------------------------


def test_isochrone_covers_what_is_reachable(ladder):
    (t20, a20), (t40, a40), (t120, a120) = ladder.isochrone(M_L01, [20, 40, 120])
    assert (t20, t40, t120) == (20.0, 40.0, 120.0)
    # Within 20 s of the middle of L0-L1: the whole piece (10 s each way), L1-L2 up to its
    # middle, the first third of West Rd and Mid Rd (10 s of 30 s).
    for p in (
        M_L01,
        mid(LAD["L1"], LAD["L2"], 0.25),  # 10 + 5 = 15 s
        mid(LAD["L0"], LAD["U0"], 0.25),  # 10 + 7.5 = 17.5 s
        mid(LAD["L1"], LAD["U1"], 0.25),  # 17.5 s
    ):
        assert a20.covers(shapely.Point(p)), p
    # Much farther: L2 30 s, U0 and U1 40 s, East Rd's middle 45 s, Upper St's east block 52.5 s.
    for p in (LAD["L2"], LAD["U0"], M_E, M_U12):
        assert not a20.covers(shapely.Point(p)), p
    # Within 40 s: L2 (30 s), the middles of West Rd and Mid Rd (25 s); not yet Upper St's east
    # block (52.5 s) or U2 (65 s; East Rd is driven up to a third, 74 m short of U2).
    for p in (LAD["L2"], M_W, M_M):
        assert a40.covers(shapely.Point(p)), p
    for p in (M_U12, LAD["U2"]):
        assert not a40.covers(shapely.Point(p)), p
    # Within 120 s: all of the mainland (the farthest corner, U2, is 10 + 30 + 25 = 65 s away).
    for p in (M_E, M_U12, LAD["U2"]):
        assert a120.covers(shapely.Point(p)), p
    assert not a120.covers(shapely.Point(M_I))  # the island, never
    assert a20.area < a40.area < a120.area
    assert a40.intersection(a20).area == pytest.approx(a20.area, rel=0.05)
    assert a120.intersection(a40).area == pytest.approx(a40.area, rel=0.05)


def test_isochrone_bad_arguments(ladder):
    with pytest.raises(BadRequest) as err:
        ladder.isochrone(M_L01, [60], direction="sideways")
    assert err.value.field == "direction"
    for bad in ([], [0], [-60]):
        with pytest.raises(BadRequest) as err:
            ladder.isochrone(M_L01, bad)
        assert err.value.field == "times_s"


# --- saving, loading and the store ----------------------------------------------------------


def test_save_load_round_trip_is_read_only(tmp_path):
    g = build(LAD, LAD_ROADS, name="ladder")
    path = graph_mod.save(g, tmp_path / "ladder")
    back = graph_mod.load(path)
    for name in graph_mod.ARRAYS:
        got, want = getattr(back, name), getattr(g, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    assert back.names == g.names
    assert back.version == g.version
    assert back.meta == g.meta
    assert isinstance(back.edge_time, np.memmap)
    with pytest.raises(ValueError, match="read-only"):
        back.edge_time[0] = 1.0
    # The same answers from the loaded graph.
    assert Engine(back).route(M_W, M_E).duration_s == pytest.approx(70.0)
    with pytest.raises(UnknownGraph):
        graph_mod.load(tmp_path / "missing")


def _slower(factor: float) -> RoadGraph:
    return build(LAD, [(*r[:2], r[2] * factor, *r[3:]) for r in LAD_ROADS], name="ladder")


def test_store_picks_up_a_reimport(tmp_path):
    store = GraphStore(tmp_path / "graphs")
    assert store.names() == []
    first = _slower(1.0)
    store.save(first, "city")
    engine = store.engine("city")
    assert engine.g.version == first.version
    assert store.engine("city") is engine  # loaded once
    assert store.engine() is engine  # the only graph is the default
    assert engine.route(M_W, M_E).duration_s == pytest.approx(70.0)
    second = _slower(2.0)
    assert second.version != first.version
    store.save(second, "city")
    again = store.engine("city")
    assert again.g.version == second.version
    assert again.route(M_W, M_E).duration_s == pytest.approx(140.0)
    [row] = store.describe()
    assert row["name"] == "city"
    assert row["version"] == second.version
    assert (row["nodes"], row["edges"]) == (8, 16)
    assert not any(p.name.startswith("city.") for p in store.directory.iterdir())


def test_store_calls_on_load_once_per_engine_built(tmp_path):
    """The server freezes the collector's view of a graph when one is loaded: once per engine
    built (drive, walk, a re-import), never on the calls that reuse one."""
    loads = []
    store = GraphStore(tmp_path / "graphs", on_load=lambda: loads.append(1))
    store.save(_slower(1.0), "city")
    drive = store.engine("city")
    assert len(loads) == 1
    assert store.engine("city") is drive and len(loads) == 1
    store.engine("city", mode="walk")
    store.engine("city", mode="walk")
    assert len(loads) == 2
    store.save(_slower(2.0), "city")
    store.engine("city")
    assert len(loads) == 3


def test_store_picks_up_a_reimport_with_the_same_mtime(tmp_path):
    import os

    store = GraphStore(tmp_path / "graphs")
    store.save(_slower(1.0), "city")
    meta = store.directory / "city" / "meta.json"
    stamp = meta.stat().st_mtime_ns
    store.engine("city")
    second = _slower(2.0)
    store.save(second, "city")
    os.utime(meta, ns=(stamp, stamp))  # as if both imports fell within one clock tick
    assert store.engine("city").g.version == second.version


def test_store_unknown_and_bad_names(tmp_path):
    store = GraphStore(tmp_path / "graphs")
    with pytest.raises(UnknownGraph) as err:
        store.engine()
    assert err.value.status == 404
    store.save(build(SQ, SQ_ROADS), "square")
    with pytest.raises(UnknownGraph) as err:
        store.engine("nowhere")
    assert err.value.status == 404
    assert err.value.field == "graph"
    assert "square" in err.value.message
    for bad in ("../x", "a/b", ".hidden", "x" * 65):
        with pytest.raises(BadRequest) as err:
            store.engine(bad)
        assert err.value.status == 422
        assert err.value.field == "graph"
        with pytest.raises(BadRequest):
            store.save(build(SQ, SQ_ROADS), bad)
    assert store.names() == ["square"]


def test_reach_resnaps_a_source_whose_road_a_later_query_closes(ladder):
    """Snaps of a fleet are kept between queries; a query that closes a source's road must
    move that source to the nearest open road, as a route from it would."""
    near_lower = at(0.3, 0.1)  # just north of Lower St's west block, nearer it than West Rd
    open_time = ladder.reach(M_E, [near_lower]).times[0]
    both = frozenset({edge_id(ladder.g, LAD, "L0", "L1"), edge_id(ladder.g, LAD, "L1", "L0")})
    closed = Closures(edges=both)
    again = ladder.reach(M_E, [near_lower], closures=closed).times[0]
    assert again == pytest.approx(ladder.route(near_lower, M_E, closures=closed).duration_s)
    assert again > open_time
    assert ladder.reach(M_E, [near_lower]).times[0] == pytest.approx(open_time)


def test_reach_keeps_its_search_tree_and_routes_for_the_next_ask(monkeypatch):
    """A proposal is asked for again whenever anything changes, mostly not the roads: the
    search from the same target under the same closures is kept, and so is the route of a
    source that has not moved; a moved source, other closures or another target search anew,
    and every answer equals one worked out from scratch."""
    eng = Engine(build(LAD, LAD_ROADS, name="ladder"))
    searches = []
    real = eng._search
    monkeypatch.setattr(eng, "_search", lambda *a, **k: searches.append(1) or real(*a, **k))
    sources = [M_L01, M_W]
    first = eng.reach(M_E, sources)
    r0 = first.route(0)
    again = eng.reach(M_E, [M_U01, *sources])  # one more team, the others where they were
    assert len(searches) == 1
    assert again.times[1:].tolist() == first.times.tolist()
    assert again.route(1) is r0  # kept, not walked again
    fresh = Engine(build(LAD, LAD_ROADS, name="ladder"))
    for i, p in enumerate([M_U01, *sources]):
        want = fresh.route(p, M_E)
        assert again.times[i] == pytest.approx(want.duration_s)
        got = again.route(i)
        assert got.duration_s == pytest.approx(want.duration_s)
        assert np.allclose(got.coords, want.coords)
    closed = Closures(polygons=(box(M_L12),))
    detour = eng.reach(M_E, sources, closures=closed)
    assert len(searches) == 2
    assert detour.times[0] > first.times[0]  # Lower St is closed: round by Upper St
    assert detour.route(0) is not r0
    assert detour.route(0).duration_s == pytest.approx(
        fresh.route(M_L01, M_E, closures=closed).duration_s
    )
    eng.reach(M_M, sources)
    assert len(searches) == 3
