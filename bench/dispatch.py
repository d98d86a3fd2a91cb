"""Dispatch benchmark: response proposals and one-click dispatch commits on the Porto road graph.

A scratch database ``onemap_bench_dispatch`` on the project's PostgreSQL (dropped and recreated
each run, migrated, the plan library loaded) is seeded deterministically
(``numpy.random.default_rng(42)``): 300 teams and 50 depots at random Porto graph nodes (every
depot holding every catalogue item, plentifully), hazard points, and incidents of types the
plans cover (mostly urban fires) with casualty counts spread over the four levels; a few of
them have an area, closed to the routes of every other proposal. The graph is the one
``bench/routing.py`` caches under ``var/bench/graphs/porto`` (imported here when missing).

Measured:

1. the proposal in process: ``response.build`` + ``serialise`` + the JSON, a fresh session per call;
   where its time goes (database, routing, matching, allocation, serialisation), and with
   ``--profile N`` the cProfile top lines;
2. the proposal over HTTP: the app under gunicorn (``--workers`` x ``--threads``; Flask's
   threaded dev server when gunicorn is not installed) on 127.0.0.1, ``--clients`` concurrent
   keep-alive clients for ``--seconds``, sending without pause, in two patterns: every request
   for a random incident of the proposal pool (all different: the cache rarely helps), and the
   realistic one, the clients as dispatchers on ``--hot-incidents`` active incidents refreshing
   their proposals while a change is published every ``--change-every`` seconds (as field
   reports and edits do; each makes every cached proposal stale);
3. the dispatch commit: ``dispatch.commit`` in process, each on a fresh incident, the dispatches
   recalled/released again outside the timer so the 300 teams stay available: cold (the
   proposal built inside the commit) and after a view (in the same process or another); then
   sequential ``POST /api/v1/incidents/<id>/dispatch`` over HTTP, half after a view, half
   cold, the first ``--http-warmup`` of each half untimed but listed (a worker compiles and
   caches a path's statements the first times it takes it).

The figures are printed against the targets and written to ``var/bench/dispatch.json``; they are
never asserted. Redis: the test Redis (``TEST_REDIS_URL``), keys under ``onemap_bench_dispatch:``
(deleted at the end).

Usage::

    python bench/dispatch.py [--proposals 200] [--commits 100] [--http-commits 112]
                             [--http-warmup 6] [--clients 20] [--seconds 20]
                             [--server gunicorn|dev|none] [--workers 3] [--threads 4]
                             [--hot-incidents 5] [--change-every 1] [--profile N]
                             [--cache-dir var/bench] [--baseline earlier/dispatch.json]
                             [--db-name NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import json
import math
import os
import pstats
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
# ``bench/`` holds ``routing.py``: keep this folder off the import path (a script's folder comes
# first there) so that ``import routing`` finds the package, not the other benchmark.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(REPO))

from bench.common import (  # noqa: E402
    AppProcess,
    ScratchDb,
    code_state,
    free_port,
    gunicorn_quiet,
    log,
    pct,
    server_kind,
    service_env,
    table,
    write_report,
    yes,
)
from routing import graph as rgraph  # noqa: E402

DEFAULT_PORTO = REPO.parent / "shared" / "data" / "osm" / "conveyal_r5_porto_portugal.osm.pbf"
SEED = 42
BENCH_DB = "onemap_bench_dispatch"
REDIS_PREFIX = "onemap_bench_dispatch:"
ACTOR = "bench-dispatcher"
M_PER_DEG = 111_195.0

# Targets (from the issue; never asserted).
T_PROPOSAL_P50 = 50.0  # ms, in process
T_HTTP_P95 = 150.0  # ms, 20 concurrent clients
T_COMMIT_P95 = 100.0  # ms, in process

#: The HTTP server: a production-like gunicorn for a 2-core machine. The work is CPU-bound
#: Python (the GIL), so one process per core (plus one to use the time another spends waiting
#: on PostgreSQL/Redis), and a few threads each to overlap those waits.
WORKERS = 3
THREADS = 4

#: Team types and their share of the 300 teams; capabilities the plans ask of each type, with
#: the share of that type's teams having it.
TEAM_MIX: dict[str, tuple[float, dict[str, float]]] = {
    "fire": (0.30, {"breathing_apparatus": 0.8, "aerial_ladder": 0.15, "foam": 0.2, "pump": 0.3}),
    "medical": (0.22, {"als": 0.4}),
    "police": (0.18, {"traffic_control": 0.8}),
    "rescue": (0.10, {"collapse_search": 0.6, "rope_rescue": 0.3, "k9": 0.2}),
    "hazmat": (0.05, {"chemical_detection": 0.9, "decontamination": 0.6}),
    "engineering": (0.06, {"excavator": 0.7, "pump": 0.4}),
    "water_rescue": (0.04, {"boat": 0.8}),
    "power": (0.05, {"generator": 0.8}),
}
#: Incident types (all covered by a library plan) and their share.
INCIDENT_MIX = {
    "accident.fire.urban": 0.70,
    "accident.hazmat.leak": 0.10,
    "accident.traffic.road_mass_casualty": 0.10,
    "natural.flood.waterlogging": 0.10,
}
#: Level by casualty count (I: >= 30 deaths, II: >= 10, III: >= 3, IV: otherwise), by share.
LEVEL_MIX = {"IV": 0.50, "III": 0.30, "II": 0.15, "I": 0.05}
DEATHS = {"IV": (0, 3), "III": (3, 10), "II": (10, 30), "I": (30, 45)}  # [lo, hi)
INJURED = {"IV": (0, 10), "III": (3, 10), "II": (10, 50), "I": (20, 120)}
HAZARD_TYPES = ["gas_station", "chemical_site", "major_hazard_source", "flood_prone", "other"]
RISKS = ["low", "moderate", "high", "very_high"]


# --- scratch database, graph, seed ------------------------------------------------------------


def porto_graph(cache: Path, pbf: Path) -> tuple[Path, float | None]:
    """``cache/graphs/porto`` (made by bench/routing.py), imported and saved when missing."""
    where = cache / "graphs" / "porto"
    if (where / "meta.json").exists():
        return where, None
    if not pbf.exists():
        raise SystemExit(f"no cached Porto graph at {where} and no PBF at {pbf}")
    from routing.build import import_osm

    log("porto: importing (first run only)")
    t0 = time.perf_counter()
    g = import_osm(pbf, name="porto", progress=lambda m: log(f"porto: {m}"))
    where.parent.mkdir(parents=True, exist_ok=True)
    rgraph.save(g, where)
    took = time.perf_counter() - t0
    log(f"porto: imported in {took:.1f} s")
    return where, took


def circle(lon: float, lat: float, radius_m: float, n: int = 32) -> Any:
    import shapely

    a = np.linspace(0, 2 * math.pi, n, endpoint=False)
    dlat = radius_m * np.sin(a) / M_PER_DEG
    dlon = radius_m * np.cos(a) / (M_PER_DEG * math.cos(math.radians(lat)))
    return shapely.Polygon(np.column_stack((lon + dlon, lat + dlat)))


def pick(rng: np.random.Generator, mix: dict[str, Any], n: int) -> list[str]:
    keys = list(mix)
    w = np.array([v[0] if isinstance(v, tuple) else v for v in mix.values()], dtype=float)
    return [keys[i] for i in rng.choice(len(keys), size=n, p=w / w.sum())]


def seed(session: Any, g: rgraph.RoadGraph, args: argparse.Namespace, n_incidents: int) -> dict:
    """Teams, depots with stock, hazards, incidents and a dispatcher with an API token."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from app import users
    from gis.demo import ITEM_CATALOGUE
    from gis.models import Depot, Hazard, Incident, StockLine, Team

    rng = np.random.default_rng(SEED)
    lon, lat = np.asarray(g.node_lon), np.asarray(g.node_lat)

    def at(node: int) -> Any:
        return from_shape(Point(float(lon[node]), float(lat[node])), srid=4326)

    team_nodes = rng.integers(0, g.n_nodes, args.teams)
    team_types = pick(rng, TEAM_MIX, args.teams)
    caps_count: Counter[str] = Counter()
    for i, (node, kind) in enumerate(zip(team_nodes.tolist(), team_types, strict=True)):
        caps = [c for c, share in TEAM_MIX[kind][1].items() if rng.random() < share]
        caps_count.update(caps)
        session.add(
            Team(
                name=f"{kind} team {i + 1:03d}",
                type=kind,
                capabilities=caps,
                headcount=int(rng.integers(3, 13)),
                status="available",
                callsign=f"PT-{kind[:2].upper()}{i + 1:03d}",
                geom=at(node),
                home_base=at(node),
            )
        )
    for i, node in enumerate(rng.integers(0, g.n_nodes, args.depots).tolist()):
        stock = [
            StockLine(
                item_code=it["item_code"],
                name_zh=it["name_zh"],
                name_en=it["name_en"],
                unit=it["unit"],
                # ten times what a depot typically holds: commits split across depots but
                # never run dry (and every commit's reservations are released again)
                on_hand=10 * int(rng.integers(it["qty"][0], it["qty"][1] + 1)),
                reserved=0,
            )
            for it in ITEM_CATALOGUE
        ]
        session.add(Depot(name=f"depot {i + 1:02d}", geom=at(node), stock=stock))
    for i, node in enumerate(rng.integers(0, g.n_nodes, args.hazards).tolist()):
        kind = HAZARD_TYPES[int(rng.integers(0, len(HAZARD_TYPES)))]
        influence = (
            from_shape(
                circle(float(lon[node]), float(lat[node]), float(rng.uniform(100, 500))), 4326
            )
            if rng.random() < 0.5
            else None
        )
        session.add(
            Hazard(
                name=f"{kind} {i + 1:03d}",
                type=kind,
                risk_level=RISKS[int(rng.integers(0, len(RISKS)))],
                geom=at(node),
                influence=influence,
            )
        )
    inc_types = pick(rng, INCIDENT_MIX, n_incidents)
    levels = pick(rng, LEVEL_MIX, n_incidents)
    with_area = set(
        rng.choice(n_incidents, size=min(args.zones, n_incidents), replace=False).tolist()
    )
    incidents = []
    for i, node in enumerate(rng.integers(0, g.n_nodes, n_incidents).tolist()):
        lv = levels[i]
        area = (
            from_shape(
                circle(float(lon[node]), float(lat[node]), float(rng.uniform(60, 200))), 4326
            )
            if i in with_area
            else None
        )
        inc = Incident(
            type=inc_types[i],
            title=f"bench incident {i + 1}",
            status="reported",
            casualties=int(rng.integers(*DEATHS[lv])),
            injured=int(rng.integers(*INJURED[lv])),
            affected=int(rng.integers(0, 800)),
            geom=at(node),
            area=area,
        )
        session.add(inc)
        incidents.append(inc)
    user = users.create_user(session, ACTOR, "dispatcher", None, actor="bench")
    token = users.create_token(session, user, label="bench", actor="bench")
    session.commit()
    return {
        "incident_ids": [inc.id for inc in incidents],
        "token": token,
        "team_types": dict(Counter(team_types)),
        "capabilities": dict(caps_count),
        "incident_types": dict(Counter(inc_types)),
        "seeded_levels": dict(Counter(levels)),
        "incidents_with_area": len(with_area),
    }


# --- time breakdown: exclusive time per phase, by wrapping the functions the code calls ----------


class Phases:
    """Wraps functions (module or class attributes) and charges each call's exclusive time to a
    category; an ``opaque`` category keeps everything it calls for itself."""

    def __init__(self) -> None:
        self.total: defaultdict[str, float] = defaultdict(float)
        self.stack: list[list[Any]] = []  # [category, segment start, opaque]
        self.patched: list[tuple[Any, str, Any]] = []

    def wrap(self, owner: Any, attr: str, category: str, *, opaque: bool = False) -> None:
        """Charge calls of ``owner.attr`` to ``category``; a name the code measured does not
        have (an older or newer version of it) is left out."""
        orig = getattr(owner, attr, None)
        if orig is None:
            return
        phases = self

        def wrapper(*a: Any, **k: Any) -> Any:
            if phases.stack and phases.stack[-1][2]:
                return orig(*a, **k)
            phases.enter(category, opaque)
            try:
                return orig(*a, **k)
            finally:
                phases.leave()

        self.patched.append((owner, attr, orig))
        setattr(owner, attr, wrapper)

    def enter(self, category: str, opaque: bool = False) -> None:
        now = time.perf_counter()
        if self.stack:
            top = self.stack[-1]
            self.total[top[0]] += now - top[1]
        self.stack.append([category, now, opaque])

    def leave(self) -> None:
        now = time.perf_counter()
        cat, start, _ = self.stack.pop()
        self.total[cat] += now - start
        if self.stack:
            self.stack[-1][1] = now

    def restore(self) -> None:
        for owner, attr, orig in reversed(self.patched):
            setattr(owner, attr, orig)
        self.patched.clear()


@contextlib.contextmanager
def proposal_phases() -> Iterator[Phases]:
    import plans.allocation
    from app.services import plans as plan_service
    from app.services import response
    from gis import repository
    from gis import response as rrepo
    from routing.engine import Engine, Reach

    ph = Phases()
    for owner, attr, cat in (
        (repository, "get_row", "db: incident row"),
        (rrepo, "hazards_near", "db: hazards within 5 km"),
        (rrepo, "area_m2", "db: incident area"),
        (plan_service, "documents", "db: plan documents (16 JSONB)"),
        (rrepo, "danger_zones", "db: danger zones"),
        (rrepo, "available_teams", "db: available teams (light rows)"),
        (rrepo, "active_sent", "db: active dispatches"),
        (rrepo, "depots_holding", "db: depots + stock"),
        (response, "match", "plan matching"),
        (Engine, "reach", "routing: reach (one reverse search)"),
        (Reach, "length", "routing: route length of each chosen depot (search tree)"),
        (Reach, "route", "routing: route of each chosen team (search tree)"),
        (plans.allocation, "allocate", "allocation"),
        (response, "_route_summary", "serialise: route of each allocated team/depot"),
        (response, "serialise", "serialise: the rest"),
    ):
        ph.wrap(owner, attr, cat)
    try:
        yield ph
    finally:
        ph.restore()


@contextlib.contextmanager
def commit_phases() -> Iterator[Phases]:
    from app.services import dispatch, response
    from gis import commit, repository
    from gis import response as rrepo

    ph = Phases()
    ph.wrap(response, "build", "proposal build (inside commit)", opaque=True)
    ph.wrap(commit, "write_and_commit", "db: every write + COMMIT (one pipeline)")
    for owner, attr, cat in (
        (commit, "lock_incident", "db: lock incident"),
        (commit, "lock_and_reserve", "db: lock teams + stock, reserve (one pipeline)"),
        (response.Proposal, "read_routes", "routing: chosen teams' routes (while locking)"),
        (repository, "to_feature", "audit: to_feature before/after"),
        (rrepo, "dispatch_record", "answer: dispatch records"),
        (dispatch, "with_link", "answer: signed links"),
    ):
        ph.wrap(owner, attr, cat)
    try:
        yield ph
    finally:
        ph.restore()


def breakdown_rows(ph: Phases, total_s: float, n: int) -> list[dict[str, Any]]:
    rows = [{"phase": k, "ms_per_call": v * 1e3 / n} for k, v in ph.total.items()]
    rest = total_s * 1e3 / n - sum(r["ms_per_call"] for r in rows)
    if rest > 0.05:
        rows.append({"phase": "other (ORM glue, options, package arithmetic)", "ms_per_call": rest})
    rows.sort(key=lambda r: -r["ms_per_call"])
    for r in rows:
        r["share"] = r["ms_per_call"] / (total_s * 1e3 / n) if total_s else math.nan
    return rows


def breakdown_table(title: str, rows: list[dict[str, Any]], n: int, total_ms: float) -> str:
    body = [[r["phase"], r["ms_per_call"], f"{100 * r['share']:.0f}%"] for r in rows]
    body.append(["total (mean, with the wrappers)", total_ms, "100%"])
    return f"-- {title} (n={n}) --\n" + table(["phase", "ms per call", "share"], body)


# --- in process -------------------------------------------------------------------------------


def run_proposals(st: Any, eng: Any, ids: Sequence[int], *, shared: bool = False) -> dict[str, Any]:
    """Proposals built and serialised, each timed alone. With ``shared``, as the API builds
    them: the rows every proposal of the state reads alike (teams, depots, areas, plans) are
    read once, untimed, before the first (``response.Shared``); each proposal reads only its
    own rows."""
    from app import jsonio
    from app.services import response

    total, build, ser, sizes = [], [], [], []
    levels: Counter[str] = Counter()
    teams, mats, shorts, unreach = [], [], [], []
    common = None
    if shared:
        with st.session_factory() as s:
            common = response.Shared.read(s, st.plan_cache)
    for iid in ids:
        s = st.session_factory()
        try:
            t0 = time.perf_counter()
            p = response.build(s, eng, iid, plan_cache=st.plan_cache, shared=common)
            t1 = time.perf_counter()
            # serialised and written as the API writes it (the JSON is part of the answer's
            # cost: routes' coordinates are written from their arrays)
            body = jsonio.dumps(response.serialise(p))
            t2 = time.perf_counter()
        finally:
            s.close()
        total.append((t2 - t0) * 1e3)
        build.append((t1 - t0) * 1e3)
        ser.append((t2 - t1) * 1e3)
        sizes.append(len(body))
        levels[p.best.level] += 1
        teams.append(len(p.allocation.forces))
        mats.append(len(p.allocation.materials))
        shorts.append(len(p.allocation.shortfalls))
        unreach.append(int(np.sum(~np.isfinite(p.reach.times))) if p.reach is not None else 0)
    return pct(total) | {
        "build": pct(build),
        "serialise": pct(ser),
        "levels": dict(sorted(levels.items())),
        "mean_teams": float(np.mean(teams)),
        "mean_material_lines": float(np.mean(mats)),
        "mean_shortfalls": float(np.mean(shorts)),
        "mean_unreachable_candidates": float(np.mean(unreach)),
        "mean_body_kb": float(np.mean(sizes)) / 1024,
    }


def run_proposal_breakdown(st: Any, eng: Any, ids: Sequence[int]) -> dict[str, Any]:
    from app.services import response

    with proposal_phases() as ph:
        t0 = time.perf_counter()
        for iid in ids:
            s = st.session_factory()
            try:
                response.serialise(response.build(s, eng, iid, plan_cache=st.plan_cache))
            finally:
                s.close()
        took = time.perf_counter() - t0
    return {
        "n": len(ids),
        "mean_ms": took * 1e3 / len(ids),
        "rows": breakdown_rows(ph, took, len(ids)),
    }


def run_profile(st: Any, eng: Any, ids: Sequence[int], top: int) -> str:
    from app.services import response

    prof = cProfile.Profile()
    for iid in ids:
        s = st.session_factory()
        try:
            prof.enable()
            response.serialise(response.build(s, eng, iid, plan_cache=st.plan_cache))
            prof.disable()
        finally:
            s.close()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    text = out.getvalue().replace(str(REPO) + "/", "").replace(sys.prefix + "/", "")
    return "\n".join(line for line in text.splitlines() if line.strip())


def restore(st: Any, answer: dict[str, Any]) -> None:
    """Recall the teams and release the stock of one commit (outside the timer)."""
    from app.services import dispatch

    s = st.session_factory()
    try:
        for d in answer["dispatches"]:
            action = "recall" if d["kind"] == "team" else "release"
            dispatch.end(s, d["id"], action, actor=ACTOR, publish=st.publish)
    finally:
        s.close()


def run_commits(
    st: Any,
    eng: Any,
    links: Any,
    ids: Sequence[int],
    budget: float,
    *,
    view_first: bool = False,
    elsewhere: bool = False,
) -> dict:
    """Commits, each timed alone. With ``view_first`` each incident's proposal is built for a
    view first (untimed, as a dispatcher looks before the click) and the commit may reuse it;
    with ``elsewhere`` too, the view was served by another worker process (the commit finds
    the proposal in Redis, without its search tree)."""
    from app.services import dispatch
    from app.services import response as response_service

    times, teams, mats, errors = [], [], [], Counter()
    started = time.perf_counter()
    for iid in ids:
        s = st.session_factory()
        try:
            if view_first:  # as GET .../proposal does: build, serialise (routes), remember
                viewed = response_service.build(s, eng, iid, plan_cache=st.plan_cache)
                response_service.serialise(viewed)
                st.proposal_memo.put(eng, viewed, st.publisher.state_version())
                if elsewhere:  # the view was served by another worker process
                    st.proposal_memo.local.clear()
                s.rollback()
            t0 = time.perf_counter()
            ans = dispatch.commit(
                s,
                eng,
                iid,
                None,
                actor=ACTOR,
                publish=st.publish,
                links=links,
                plan_cache=st.plan_cache,
                state=st.publisher.state_version if view_first else None,
                memo=st.proposal_memo if view_first else None,
            )
            times.append((time.perf_counter() - t0) * 1e3)
        except Exception as err:  # a refused commit is counted and named, not timed
            s.rollback()
            errors[f"{type(err).__name__}: {str(err)[:80]}"] += 1
            continue
        finally:
            s.close()
        teams.append(sum(d["kind"] == "team" for d in ans["dispatches"]))
        mats.append(sum(d["kind"] == "material" for d in ans["dispatches"]))
        restore(st, ans)
        if time.perf_counter() - started > budget:
            break
    return pct(times) | {
        "mean_team_dispatches": float(np.mean(teams)) if teams else math.nan,
        "mean_material_dispatches": float(np.mean(mats)) if mats else math.nan,
        "errors": dict(errors),
    }


def run_commit_breakdown(st: Any, eng: Any, links: Any, ids: Sequence[int]) -> dict[str, Any]:
    from app.services import dispatch

    answers, took = [], 0.0
    with commit_phases() as ph:
        for iid in ids:
            s = st.session_factory()
            publish = st.publish

            def timed_publish(event: str, payload: dict, _p: Callable = publish) -> Any:
                ph.enter("publish (Redis XADD + PUBLISH)")
                try:
                    return _p(event, payload)
                finally:
                    ph.leave()

            try:
                t0 = time.perf_counter()
                ph.enter("commit: the rest")
                try:
                    ans = dispatch.commit(
                        s,
                        eng,
                        iid,
                        None,
                        actor=ACTOR,
                        publish=timed_publish,
                        links=links,
                        plan_cache=st.plan_cache,
                    )
                finally:
                    ph.leave()
                took += time.perf_counter() - t0
            finally:
                s.close()
            answers.append(ans)
    for ans in answers:  # outside the wrappers: end() commits too
        restore(st, ans)
    n = len(answers)
    return {"n": n, "mean_ms": took * 1e3 / max(n, 1), "rows": breakdown_rows(ph, took, max(n, 1))}


# --- over HTTP --------------------------------------------------------------------------------


class Server(AppProcess):
    """The app as a real HTTP server on 127.0.0.1 in a subprocess."""

    def __init__(self, kind: str, env: dict[str, str], tmp: Path, workers: int, threads: int):
        port = free_port()
        self.workers = workers
        self.ready_dir: Path | None = None
        cmd: list[str]
        if kind == "gunicorn":
            conf = tmp / "gunicorn_conf.py"
            # Load the graph (and its snapping index) when a worker starts, as a deployment
            # would, rather than on the first timed request. Each worker marks itself ready
            # once loaded: traffic starts when all are, not when the first answers while the
            # others still boot on the same two cores.
            self.ready_dir = tmp / "ready"
            self.ready_dir.mkdir(exist_ok=True)
            conf.write_text(
                "import os\n"
                "def post_worker_init(worker):\n"
                "    worker.wsgi.extensions['onemap'].graphs.engine().snapper\n"
                f"    open(os.path.join({str(self.ready_dir)!r}, str(os.getpid())), 'w').close()\n"
            )
            cmd = [
                *(sys.executable, "-m", "gunicorn", "-c", str(conf)),
                *("-w", str(workers), "--threads", str(threads)),
                *("-b", f"127.0.0.1:{port}", "--chdir", str(REPO)),
                *gunicorn_quiet(),
                "app:create_app()",
            ]
            self.label = f"gunicorn {workers} workers x {threads} threads"
        else:
            cmd = [
                sys.executable,
                "-c",
                "from app import create_app\n"
                "a = create_app()\n"
                "a.extensions['onemap'].graphs.engine().snapper\n"
                f"a.run(host='127.0.0.1', port={port}, threaded=True, use_reloader=False)\n",
            ]
            self.label = "Flask dev server (threaded)"
        super().__init__(cmd, env, tmp / "server.log", port)

    def loaded(self) -> bool:
        """Under gunicorn: every worker has loaded the app and the graph."""
        if self.ready_dir is None:
            return True
        return len(list(self.ready_dir.iterdir())) >= self.workers


def run_http_proposals(
    port: int,
    token: str,
    ids: Sequence[int],
    clients: int,
    seconds: float,
    max_requests: int,
    *,
    change: Callable[[], Any] | None = None,
    change_every_s: float = 0.0,
) -> dict[str, Any]:
    """``clients`` keep-alive clients GET the proposal of a random incident of ``ids`` without
    pause. With ``change``, it is called every ``change_every_s`` seconds while they run (a
    published change: every cached proposal is stale from then on)."""
    headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
    results: list[list[float]] = [[] for _ in range(clients)]
    statuses: Counter[Any] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [math.inf]
    per_client = max_requests // clients if max_requests else 0
    cached = [0]  # answers served from the cache

    def client(k: int) -> None:
        rng = random.Random(SEED + k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        local: Counter[Any] = Counter()
        hit = [False]  # the last answer came from the cache

        def get() -> tuple[int | str, float]:
            """One GET; a kept-alive connection the server dropped is reopened and the request
            sent once more (as HTTP client libraries do), inside the timer."""
            nonlocal conn
            path = f"/api/v1/incidents/{rng.choice(ids)}/proposal"
            hit[0] = False
            t0 = time.perf_counter()
            status: int | str = "none"
            for attempt in range(2):
                try:
                    conn.request("GET", path, headers=headers)
                    r = conn.getresponse()
                    body = r.read()
                    status = r.status
                    hit[0] = body.rstrip().endswith(b'"cached":true}')
                    break
                except (OSError, http.client.HTTPException) as err:
                    status = type(err).__name__
                    local[f"reconnect after {status}"] += 1
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    if attempt:
                        break
            return status, (time.perf_counter() - t0) * 1e3

        for _ in range(2):  # warm-up: connection, pool, caches; not counted
            get()
        local.clear()
        start.wait()
        done = 0
        while time.perf_counter() < stop_at[0] and (not per_client or done < per_client):
            status, ms = get()
            local[status] += 1
            if status == 200:
                results[k].append(ms)
                local["cached"] += hit[0]
            done += 1
        conn.close()
        with lock:
            cached[0] += local.pop("cached", 0)
            statuses.update(local)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    changes: list[int] = []
    bumper = _every(change_every_s, change, stop_at[0], changes)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if bumper is not None:
        bumper.join()
    times = [x for r in results for x in r]
    counts = [len(r) for r in results]
    return pct(times) | {
        "per_client_requests": [min(counts), max(counts)],
        "clients": clients,
        "wall_s": wall,
        "throughput_rps": len(times) / wall if wall else math.nan,
        "statuses": {str(k): v for k, v in statuses.items()},
        "incidents": len(ids),
        "changes": len(changes),
        "cached_share": cached[0] / max(sum(counts), 1),
    }


def _every(
    seconds: float, fn: Callable[[], Any] | None, until: float, done: list[int]
) -> threading.Thread | None:
    """Call ``fn`` every ``seconds`` until ``until`` (perf_counter) in a thread of its own,
    appending 1 to ``done`` per call; None when there is nothing to call."""
    if fn is None or seconds <= 0:
        return None

    def loop() -> None:
        while time.perf_counter() + seconds < until:
            time.sleep(seconds)
            fn()
            done.append(1)

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    return t


def run_http_commits(
    port: int,
    token: str,
    st: Any,
    ids: Sequence[int],
    *,
    view_first: bool = False,
    warmup: int = 0,
) -> dict[str, Any]:
    """Sequential ``POST .../dispatch``; with ``view_first``, each after a ``GET .../proposal``
    of the same incident (untimed), as a dispatcher clicks: whichever worker serves either.
    The first ``warmup`` commits are kept apart (``warmup_ms``): a worker compiles and caches
    the statements of a path the first times it takes it, once per process start."""
    headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times, warm, statuses, errors = [], [], Counter(), Counter()
    for iid in ids:
        if view_first:
            conn.request("GET", f"/api/v1/incidents/{iid}/proposal", headers=headers)
            conn.getresponse().read()
        t0 = time.perf_counter()
        conn.request("POST", f"/api/v1/incidents/{iid}/dispatch", body=b"", headers=headers)
        r = conn.getresponse()
        body = r.read()
        ms = (time.perf_counter() - t0) * 1e3
        statuses[str(r.status)] += 1
        if r.status == 201:
            (warm if len(warm) < warmup else times).append(ms)
            restore(st, json.loads(body))
        else:
            errors[f"{r.status} incident {iid}: {body[:160].decode(errors='replace')}"] += 1
    conn.close()
    return pct(times) | {"statuses": dict(statuses), "errors": dict(errors), "warmup_ms": warm}


# --- report -----------------------------------------------------------------------------------


#: The rows of the main table: report key, label, the percentile the target is on, target (ms).
ROWS: tuple[tuple[str, str, str, float | None], ...] = (
    ("proposal", "proposal, in process (build + serialise + JSON)", "p50", T_PROPOSAL_P50),
    (
        "proposal_shared",
        "proposal, in process, the state's common rows read once (as the API)",
        "p50",
        T_PROPOSAL_P50,
    ),
    (
        "http_proposal",
        "proposal over HTTP, {c} clients, all different incidents",
        "p95",
        T_HTTP_P95,
    ),
    (
        "http_proposal_hot",
        "proposal over HTTP, {c} clients on {n} incidents, a change every {e:g} s",
        "p95",
        T_HTTP_P95,
    ),
    ("commit", "dispatch commit, in process", "p95", T_COMMIT_P95),
    (
        "commit_after_view",
        "dispatch commit after its proposal was viewed (same process)",
        "p95",
        T_COMMIT_P95,
    ),
    (
        "commit_after_view_elsewhere",
        "dispatch commit after its proposal was viewed (another process)",
        "p95",
        T_COMMIT_P95,
    ),
    ("http_commit", "dispatch commit over HTTP, sequential", "p95", T_COMMIT_P95),
    (
        "http_commit_after_view",
        "dispatch commit over HTTP after its view, sequential",
        "p95",
        T_COMMIT_P95,
    ),
)


def main_table(r: dict[str, Any]) -> str:
    """Medians and p95 side by side against the targets; with a baseline report, its figures
    as "before"."""
    base = r.get("baseline") or {}
    h = ["query", "n", "p50 ms", "p95 ms", "target", "met?"]
    if base:
        h[2:2] = ["before p50", "before p95"]
    hot = r.get("http_proposal_hot", {})
    rows: list[list[Any]] = []
    for key, label, on, target in ROWS:
        x = r.get(key)
        if not x:
            continue
        text = label.format(
            c=x.get("clients", ""), n=hot.get("incidents", ""), e=float(r["args"]["change_every"])
        )
        if "skipped" in x:
            row = [text, 0, None, None, f"{on}<={target:g}" if target else "-", x["skipped"]]
        else:
            met = yes(x[on] <= target) if target and x["n"] else "-"
            row = [text, x["n"], x["p50"], x["p95"], f"{on}<={target:g}" if target else "-", met]
        if base:
            b = base.get(key) or {}
            row[2:2] = [b.get("p50"), b.get("p95")]
        rows.append(row)
    out = table(h, rows)
    if base:
        out += f"\nbefore: {base['label']}"
    return out


def baseline_of(path: Path) -> dict[str, Any]:
    """The p50/p95 of an earlier report, by row."""
    old = json.loads(path.read_text())
    out: dict[str, Any] = {
        "label": f"{path} (commit {old['code']['commit']}, dirty {old['code']['dirty']})"
    }
    for key, *_ in ROWS:
        x = old.get(key)
        if x and "p50" in x:
            out[key] = {"p50": x["p50"], "p95": x["p95"]}
    return out


def notes(r: dict[str, Any]) -> str:
    p, s = r["proposal"], r["setup"]
    lines = [
        f"graph: porto, {s['graph']['nodes']} nodes, {s['graph']['edges']} edges, "
        + (
            "cached"
            if s["graph"]["import_s"] is None
            else f"imported in {s['graph']['import_s']:.0f} s"
        )
        + f"; engine ready in {s['graph']['engine_ready_s']:.2f} s (snapping index "
        + ("saved with the graph" if s["graph"]["snap_index_saved"] else "built at first use")
        + ")",
        f"seed: {s['teams']} teams {s['team_types']}, {s['depots']} depots x {s['items']} items, "
        f"{s['hazards']} hazards, {s['incidents']} incidents {s['incident_types']} "
        f"({s['incidents_with_area']} with an area closed to other proposals); "
        f"database ready in {s['db_s']:.1f} s, seeded in {s['seed_s']:.1f} s",
        f"proposal in process: build p50 {p['build']['p50']:.1f} / p95 {p['build']['p95']:.1f} ms, "
        f"serialise + JSON p50 {p['serialise']['p50']:.1f} / p95 {p['serialise']['p95']:.1f} ms, "
        f"max {p['max']:.1f} ms; levels {p['levels']}; per proposal {p['mean_teams']:.1f} teams, "
        f"{p['mean_material_lines']:.1f} material lines, {p['mean_shortfalls']:.1f} shortfalls, "
        f"{p['mean_unreachable_candidates']:.1f} unreachable candidates; "
        f"JSON {p['mean_body_kb']:.0f} KB",
    ]
    for key, what in (
        ("http_proposal", "all different incidents (a random one of the proposal pool)"),
        (
            "http_proposal_hot",
            "realistic: dispatchers on a few active incidents, each refreshing its proposal",
        ),
    ):
        hp = r.get(key, {})
        if not hp or "skipped" in hp:
            continue
        lines.append(
            f"proposal over HTTP, {what}: {r['server']['label']}, ready in "
            f"{r['server']['ready_s']:.1f} s; {hp['incidents']} incidents, {hp['changes']} "
            f"changes published; {hp['n']} answers in {hp['wall_s']:.1f} s = "
            f"{hp['throughput_rps']:.1f} req/s, {100 * hp['cached_share']:.0f}% from the cache; "
            f"mean {hp['mean']:.0f} ms, max {hp['max']:.0f} ms; answers per client "
            f"{hp['per_client_requests'][0]}..{hp['per_client_requests'][1]}; statuses "
            f"{hp['statuses']}; the clients send without pause, so mean latency ~ clients / "
            f"throughput and p95<={T_HTTP_P95:g} ms needs about "
            f"{hp['clients'] / (T_HTTP_P95 / 1e3):.0f} req/s"
        )
    if r.get("server") and r["server"]["kind"] != "gunicorn":
        why = (
            "gunicorn is not installed (.venv/bin/pip install gunicorn)"
            if r["server"]["fallback"]
            else "--server dev"
        )
        lines.append(
            f"NOTE: {why}: the HTTP rows are Flask's threaded dev server, not what a "
            "deployment runs"
        )
    c = r["commit"]
    lines.append(
        f"commit in process: {c['mean_team_dispatches']:.1f} teams + "
        f"{c['mean_material_dispatches']:.1f} material lines per commit, max {c['max']:.1f} ms"
        + (f"; refused: {c['errors']}" if c["errors"] else "")
        + "; each commit recalled/released outside the timer"
    )
    hc = r.get("http_commit", {})
    if hc and "skipped" not in hc:
        hv = r.get("http_commit_after_view", {})
        warm = [*hv.get("warmup_ms", ()), *hc.get("warmup_ms", ())]
        lines.append(
            f"commit over HTTP: statuses {hc['statuses']}, after a view {hv.get('statuses')}"
            + "".join(f"; {e}" for e in [*hc.get("errors", ()), *hv.get("errors", ())])
            + (
                f"; the first {len(hv.get('warmup_ms', ()))} of each run untimed (a worker "
                "compiles and caches a path's statements the first times it takes it): "
                + ", ".join(f"{m:.0f}" for m in warm)
                + " ms"
                if warm
                else ""
            )
        )
    la0, la1 = r["loadavg_start"], r["loadavg_end"]
    lines.append(
        f"machine: {r['cpus']} CPUs shared by the benchmark, the server and anything else running; "
        f"load average {la0[0]:.1f} at the start, {la1[0]:.1f} at the end"
    )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--porto", type=Path, default=DEFAULT_PORTO, help="Porto OSM PBF")
    ap.add_argument("--teams", type=int, default=300)
    ap.add_argument("--depots", type=int, default=50)
    ap.add_argument("--hazards", type=int, default=200)
    ap.add_argument("--zones", type=int, default=10, help="incidents with an area (closures)")
    ap.add_argument("--proposals", type=int, default=200, help="in-process proposals")
    ap.add_argument("--breakdown", type=int, default=50, help="proposals/commits timed by phase")
    ap.add_argument("--profile", type=int, default=0, help="cProfile N proposals, print top lines")
    ap.add_argument("--profile-top", type=int, default=25)
    ap.add_argument("--commits", type=int, default=100, help="in-process commits")
    ap.add_argument("--http-commits", type=int, default=112, help="sequential commits over HTTP")
    ap.add_argument(
        "--http-warmup",
        type=int,
        default=6,
        help="of each half of the HTTP commits, the first N are not timed (statement caches)",
    )
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=20.0, help="HTTP proposal run length")
    ap.add_argument("--requests", type=int, default=0, help="stop HTTP proposals after M (0: time)")
    ap.add_argument(
        "--hot-incidents",
        type=int,
        default=5,
        help="realistic HTTP pattern: the clients share this many active incidents",
    )
    ap.add_argument(
        "--change-every",
        type=float,
        default=1.0,
        help="realistic HTTP pattern: a change is published every this many seconds",
    )
    ap.add_argument("--server", choices=("gunicorn", "dev", "none"), default="gunicorn")
    ap.add_argument("--workers", type=int, default=WORKERS)
    ap.add_argument("--threads", type=int, default=THREADS)
    ap.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="an earlier dispatch.json: its p50/p95 are printed beside these as 'before'",
    )
    ap.add_argument("--db-name", default=BENCH_DB, help="name of the scratch database")
    ap.add_argument("--budget", type=float, default=90.0, help="max seconds of in-process commits")
    ap.add_argument("--keep-db", action="store_true", help="leave the scratch database")
    ap.add_argument("--cache-dir", type=Path, default=REPO / "var" / "bench")
    args = ap.parse_args(argv)
    if not args.cache_dir.is_absolute():
        args.cache_dir = (Path.cwd() / args.cache_dir).resolve()
    return args


@dataclass
class Run:
    """One benchmark run: its options, scratch database, temporary folder and what it started."""

    args: argparse.Namespace
    db: ScratchDb
    tmp: Path
    config: dict[str, str]
    report: dict[str, Any]
    server: Server | None = None
    app: Any = None


def prepare(run: Run, g: rgraph.RoadGraph, import_s: float | None) -> tuple[dict, list[list[int]]]:
    """Create, migrate and seed the scratch database; build the app; warm its engine."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app import create_app
    from app.services import plans as plan_service
    from gis.demo import ITEM_CATALOGUE

    args = run.args
    n_commit_bd = min(args.breakdown, args.commits)
    pools = [args.proposals, args.commits, n_commit_bd, args.http_commits]
    log(f"database {run.db.name}: create + migrate")
    t0 = time.perf_counter()
    run.db.create()
    db_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    eng_db = create_engine(run.db.url)
    with Session(eng_db) as s:
        plan_service.sync_library(s, actor="bench")
        seeded = seed(s, g, args, sum(pools))
    eng_db.dispose()
    seed_s = time.perf_counter() - t0
    log(f"seeded in {seed_s:.1f} s: {sum(pools)} incidents")
    ids, cut = seeded["incident_ids"], np.cumsum([0, *pools])
    run.app = create_app(run.config)
    t0 = time.perf_counter()
    run.app.extensions["onemap"].graphs.engine().snapper  # noqa: B018  (built unless saved)
    run.report["setup"] = {
        "graph": {
            "nodes": g.n_nodes,
            "edges": g.n_edges,
            "import_s": import_s,
            "engine_ready_s": time.perf_counter() - t0,
            "snap_index_saved": "snap_index" in g.meta,
        },
        "teams": args.teams,
        "depots": args.depots,
        "items": len(ITEM_CATALOGUE),
        "hazards": args.hazards,
        "incidents": sum(pools),
        "db_s": db_s,
        "seed_s": seed_s,
        **{k: v for k, v in seeded.items() if k not in ("incident_ids", "token")},
    }
    return seeded, [ids[cut[i] : cut[i + 1]] for i in range(len(pools))]


def measure(run: Run, seeded: dict, pools: list[list[int]]) -> None:
    from app.services import field_links

    args, report, st = run.args, run.report, run.app.extensions["onemap"]
    prop_ids, commit_ids, commit_bd_ids, http_commit_ids = pools
    links = field_links.Links(run.config["SECRET_KEY"], int(run.app.config["LINK_TTL_S"]))
    with run.app.app_context():
        eng = st.graphs.engine()
        log(f"proposals in process: {len(prop_ids)}")
        run_proposals(st, eng, prop_ids[:5])  # warm-up, not counted
        report["proposal"] = run_proposals(st, eng, prop_ids)
        report["proposal_shared"] = run_proposals(st, eng, prop_ids, shared=True)
        if args.breakdown:
            log(f"proposal breakdown: {min(args.breakdown, len(prop_ids))}")
            report["proposal_breakdown"] = run_proposal_breakdown(
                st, eng, prop_ids[: args.breakdown]
            )
        if args.profile:
            log(f"cProfile: {args.profile} proposals")
            report["proposal_profile"] = run_profile(
                st, eng, prop_ids[: args.profile], args.profile_top
            )
        kind = server_kind(args.server)
        if kind == "none":
            report["http_proposal"] = {"skipped": "skipped (--server none)"}
            report["http_commit"] = {"skipped": "skipped (--server none)"}
        else:
            server_env = {f"ONEMAP_{k}": str(v) for k, v in run.config.items()}
            log(f"starting {kind} on 127.0.0.1")
            run.server = Server(kind, server_env, run.tmp, args.workers, args.threads)
            ready = run.server.wait_ready()
            report["server"] = {
                "kind": kind,
                "label": run.server.label,
                "ready_s": ready,
                "fallback": kind != args.server,
            }
            log(f"HTTP proposals: {args.clients} clients for {args.seconds:g} s")
            hp = run_http_proposals(
                run.server.port,
                seeded["token"],
                prop_ids,
                args.clients,
                args.seconds,
                args.requests,
            )
            report["http_proposal"] = hp
            hot = prop_ids[: args.hot_incidents]
            log(
                f"HTTP proposals, realistic: {args.clients} clients on {len(hot)} incidents, "
                f"a change every {args.change_every:g} s, for {args.seconds:g} s"
            )
            report["http_proposal_hot"] = run_http_proposals(
                run.server.port,
                seeded["token"],
                hot,
                args.clients,
                args.seconds,
                args.requests,
                change=lambda: st.publish("bench.state_changed", {}),
                change_every_s=args.change_every,
            )
            if {*hp["statuses"], *report["http_proposal_hot"]["statuses"]} != {"200"}:
                report["server"]["log_tail"] = run.server.tail(40)
        log(f"commits in process: {len(commit_ids)}")
        report["commit"] = run_commits(st, eng, links, commit_ids, args.budget)
        log(f"commits after a view, in process: {len(commit_ids)}")
        report["commit_after_view"] = run_commits(
            st, eng, links, commit_ids, args.budget, view_first=True
        )
        log(f"commits after a view in another process: {len(commit_ids)}")
        report["commit_after_view_elsewhere"] = run_commits(
            st, eng, links, commit_ids, args.budget, view_first=True, elsewhere=True
        )
        if commit_bd_ids:
            log(f"commit breakdown: {len(commit_bd_ids)}")
            report["commit_breakdown"] = run_commit_breakdown(st, eng, links, commit_bd_ids)
        if run.server is not None and http_commit_ids:
            log(f"commits over HTTP: {len(http_commit_ids)}")
            half = len(http_commit_ids) // 2
            report["http_commit_after_view"] = run_http_commits(
                run.server.port,
                seeded["token"],
                st,
                http_commit_ids[half:],
                view_first=True,
                warmup=args.http_warmup,
            )
            report["http_commit"] = run_http_commits(
                run.server.port,
                seeded["token"],
                st,
                http_commit_ids[:half],
                warmup=args.http_warmup,
            )


def cleanup(run: Run) -> None:
    """Stop the server, delete the Redis keys, drop the scratch database, remove the folder."""
    import shutil

    if run.server is not None:
        run.server.stop()
        log("server stopped")
    if run.app is not None:
        st = run.app.extensions["onemap"]
        with contextlib.suppress(Exception):
            keys = list(st.redis.scan_iter(match=REDIS_PREFIX + "*"))
            if keys:
                st.redis.delete(*keys)
        st.engine.dispose()
    if not run.args.keep_db:
        run.db.drop()
        log(f"database {run.db.name} dropped")
    shutil.rmtree(run.tmp, ignore_errors=True)


def render(report: dict[str, Any]) -> str:
    text = "== dispatch on porto ==\n" + main_table(report) + "\n" + notes(report)
    for key, title in (
        ("proposal_breakdown", "where a proposal's time goes"),
        ("commit_breakdown", "where a commit's time goes"),
    ):
        if key in report:
            b = report[key]
            text += "\n\n" + breakdown_table(title, b["rows"], b["n"], b["mean_ms"])
    if "proposal_profile" in report:
        text += "\n\n-- cProfile of the proposal --\n" + report["proposal_profile"]
    return text


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    env = service_env()
    base_db = env.get("TEST_DATABASE_URL") or env.get("DATABASE_URL")
    redis_url = env.get("TEST_REDIS_URL") or env.get("REDIS_URL")
    if not base_db or not redis_url:
        raise SystemExit("no TEST_DATABASE_URL/TEST_REDIS_URL: start the services (make services)")
    state = code_state("app", "gis", "plans", "routing")
    print(
        f"OneMap dispatch benchmark: commit {state['commit']}, uncommitted changes in "
        f"app/gis/plans/routing: {state['dirty']}",
        flush=True,
    )
    graph_dir, import_s = porto_graph(args.cache_dir, args.porto)
    g = rgraph.load(graph_dir)
    db = ScratchDb(base_db, args.db_name)
    tmp = Path(tempfile.mkdtemp(prefix="onemap-bench-dispatch-"))
    (tmp / "graphs").mkdir()
    (tmp / "graphs" / "porto").symlink_to(graph_dir)
    config = {
        "DATABASE_URL": db.url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": REDIS_PREFIX,
        "SECRET_KEY": "bench-dispatch-secret",
        "VAR_DIR": str(tmp / "var"),
        "GRAPH_DIR": str(tmp / "graphs"),
        "DEFAULT_GRAPH": "porto",
        "SERVICE_AREA": ",".join(str(v) for v in g.meta["bbox"]),
    }
    report: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "code": state,
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
    }
    run = Run(args, db, tmp, config, report)
    try:
        seeded, pools = prepare(run, g, import_s)
        measure(run, seeded, pools)
    finally:
        cleanup(run)
    report["run_seconds"] = time.perf_counter() - started
    report["loadavg_end"] = os.getloadavg()
    if args.baseline is not None:
        report["baseline"] = baseline_of(args.baseline)
    text = render(report)
    print("\n" + text + "\n", flush=True)
    report["table"] = text
    out = args.cache_dir / "dispatch.json"
    write_report(out, report)
    print(f"run time {report['run_seconds']:.0f} s; figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
