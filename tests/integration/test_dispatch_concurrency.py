"""Dispatch under real concurrency: separate processes, each with its own app, engine and
transaction, commit at the same moment against a scratch database of their own.

Two dispatchers naming the same team: exactly one wins, the other gets 409 naming the team, and
the team is sent once. Many commits reserving from one stock line: never more than on hand, the
losers get 409 naming depot and item, and nothing is half-written.

These tests cannot run inside the usual rolled-back connection (the transactions must really
race), so they make a database of their own and drop it at the end.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import traceback
from collections import Counter

import numpy as np
import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gis.models import Depot, Dispatch, Incident, Plan, StockLine, Team
from routing.graph import from_edges

pytestmark = pytest.mark.integration

TEST_AREA = "24.93,60.16,24.96,60.185"  # as in tests/conftest.py
LON0, LAT0, DX, DY = 24.940, 60.168, 0.002, 0.001
GRID = 4  # a 4 x 4 grid of two-way streets, 20 s and 111 m a piece
CTX = multiprocessing.get_context("fork")
JOIN_S = 90


def at(i: int, j: int) -> tuple[float, float]:
    return (round(LON0 + i * DX, 9), round(LAT0 + j * DY, 9))


def grid_graph():
    nodes = [(i, j) for j in range(GRID) for i in range(GRID)]
    index = {n: k for k, n in enumerate(nodes)}
    u, v, length, secs, names, coords = [], [], [], [], [], []
    for i, j in nodes:
        for di, dj, street in ((1, 0, f"Katu {j}"), (0, 1, f"Tie {i}")):
            a, b = (i, j), (i + di, j + dj)
            if b not in index:
                continue
            for x, y in ((a, b), (b, a)):
                u.append(index[x])
                v.append(index[y])
                length.append(111.0)
                secs.append(20.0)
                names.append(street)
                coords.append(np.array([at(*x), at(*y)]))
    lon = np.array([at(*n)[0] for n in nodes])
    lat = np.array([at(*n)[1] for n in nodes])
    return from_edges(lon, lat, u, v, length, secs, names, coords, meta={"name": "race-grid"})


# --- the scratch database and its app --------------------------------------------------------


@pytest.fixture(scope="module")
def scratch(service_urls, tmp_path_factory):
    """A migrated database of its own with the plan library, users and a road graph; dropped at
    the end. Yields the app config every process builds its app from, and the tokens."""
    from app import create_app, migrate, users
    from app.services import plans as plan_service

    url = make_url(service_urls["TEST_DATABASE_URL"])
    name = f"onemap_dispatch_race_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    engine = None
    try:
        migrate.upgrade(db_url)
        engine = create_engine(db_url)
        with Session(engine) as s:
            plan_service.sync_library(s, actor="tests")
            tokens = {}
            for role in ("dispatcher", "viewer"):
                user = users.create_user(s, f"race-{role}", role, None, actor="tests")
                tokens[role] = users.create_token(s, user, label="race", actor="tests")
            s.commit()
        config = {
            "DATABASE_URL": db_url,
            "REDIS_URL": service_urls["TEST_REDIS_URL"],
            "REDIS_PREFIX": f"onemap-race-{os.getpid()}:",
            "TESTING": True,
            "SECRET_KEY": "race-secret",
            "VAR_DIR": str(tmp_path_factory.mktemp("race-var")),
            "SERVICE_AREA": TEST_AREA,
            "MAX_CONTENT_LENGTH": 256 * 1024,
            "PAGE_LIMIT": 50,
        }
        app = create_app(config)
        app.extensions["onemap"].graphs.save(grid_graph(), "race-grid")
        app.extensions["onemap"].engine.dispose()
        yield {
            "config": config,
            "tokens": tokens,
            "engine": engine,
            "stream": f"{config['REDIS_PREFIX']}stream",
        }
    finally:
        if engine is not None:
            engine.dispose()
        import redis

        client = redis.Redis.from_url(service_urls["TEST_REDIS_URL"])
        client.delete(f"onemap-race-{os.getpid()}:stream")
        client.close()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def add_team(
    s: Session, name: str, xy, *, type_: str = "fire", caps=("breathing_apparatus",)
) -> Team:
    t = Team(
        name=name,
        type=type_,
        capabilities=list(caps),
        status="available",
        geom=from_shape(Point(xy), srid=4326),
    )
    s.add(t)
    s.flush()
    return t


def add_incident(s: Session, xy, *, title: str, type_: str = "accident.fire.urban") -> Incident:
    i = Incident(type=type_, title=title, geom=from_shape(Point(xy), srid=4326))
    s.add(i)
    s.flush()
    return i


def add_depot(s: Session, name: str, xy, stock: dict[str, int]) -> Depot:
    d = Depot(name=name, geom=from_shape(Point(xy), srid=4326))
    d.stock = [StockLine(item_code=c, on_hand=q, reserved=0) for c, q in stock.items()]
    s.add(d)
    s.flush()
    return d


# --- the racing processes --------------------------------------------------------------------


def _commit_worker(config, token, incident_id, body, barrier, results, slot) -> None:
    """One dispatcher: its own app, engine and connection; waits for the others, then commits."""
    try:
        from app import create_app

        app = create_app(config)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        # warm up (graph loaded, a database connection open) so that the commits start together
        with app.app_context():
            app.extensions["onemap"].graphs.engine()
        assert client.get("/api/v1/health").status_code == 200
        barrier.wait(timeout=JOIN_S)
        url = f"/api/v1/incidents/{incident_id}/dispatch"
        if body is None:
            r = client.post(url, headers=headers)
        else:
            r = client.post(
                url, data=json.dumps(body), headers=headers, content_type="application/json"
            )
        results.put((slot, r.status_code, r.get_json()))
        app.extensions["onemap"].engine.dispose()
    except BaseException:  # report, and never leave the others waiting at the barrier
        barrier.abort()
        results.put((slot, -1, {"traceback": traceback.format_exc()}))


def race(
    scratch,
    jobs: list[tuple[int, dict | None]],
    *,
    barrier_parties: int | None = None,
    before_start=None,
):
    """Run one process per (incident id, body) and return their (status, body), in job order."""
    n = len(jobs)
    barrier = CTX.Barrier(barrier_parties or n)
    results = CTX.Queue()
    token = scratch["tokens"]["dispatcher"]
    procs = [
        CTX.Process(
            target=_commit_worker,
            args=(scratch["config"], token, incident_id, body, barrier, results, k),
            daemon=True,
        )
        for k, (incident_id, body) in enumerate(jobs)
    ]
    for p in procs:
        p.start()
    try:
        if before_start is not None:
            before_start(barrier)
        out = {}
        for _ in procs:
            slot, status, answer = results.get(timeout=JOIN_S)
            out[slot] = (status, answer)
    finally:
        for p in procs:
            p.join(timeout=JOIN_S)
            if p.is_alive():
                p.kill()
    for status, answer in out.values():
        assert status != -1, answer["traceback"]
    return [out[k] for k in range(n)]


def _redis(scratch):
    import redis

    return redis.Redis.from_url(scratch["config"]["REDIS_URL"])


def fresh(scratch) -> Session:
    return Session(scratch["engine"], expire_on_commit=False)


# --- two dispatchers, one team ---------------------------------------------------------------


@pytest.mark.parametrize("same_incident", [True, False], ids=["same-incident", "two-incidents"])
def test_two_dispatchers_sending_the_same_team_one_wins(scratch, same_incident):
    with fresh(scratch) as s:
        team = add_team(s, f"Race Fire {same_incident}", at(0, 0))
        add_team(s, f"Race Medic {same_incident}", at(3, 3), type_="medical", caps=())
        a = add_incident(s, at(2, 2), title="race A")
        b = a if same_incident else add_incident(s, at(1, 3), title="race B")
        s.commit()
        team_id, version, ids = team.id, team.version, (a.id, b.id)

    body = {"teams": [{"team_id": team_id, "version": version}]}
    answers = race(scratch, [(ids[0], body), (ids[1], body)])

    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 409], answers
    (won_k,) = [k for k, (status, _) in enumerate(answers) if status == 201]
    lost = answers[1 - won_k][1]["error"]
    assert lost["team_id"] == team_id
    assert lost["field"] == "teams"
    assert f"Race Fire {same_incident}" in lost["message"]
    (won,) = answers[won_k][1]["dispatches"]
    assert won["team_id"] == team_id

    with fresh(scratch) as s:
        t = s.get(Team, team_id)
        assert t.status == "dispatched"
        assert t.version == version + 1  # changed once, by the winner only
        rows = s.scalars(select(Dispatch).where(Dispatch.team_id == team_id)).all()
        assert [(d.id, d.incident_id) for d in rows] == [(won["id"], ids[won_k])]
        if not same_incident:
            loser = s.get(Incident, ids[1 - won_k])
            assert loser.status == "reported"
            assert s.scalar(select(func.count()).where(Dispatch.incident_id == loser.id)) == 0

    # one dispatch.committed event carries the team, from the winner
    events = [json.loads(f[b"data"]) for _, f in _redis(scratch).xrange(scratch["stream"])]
    carrying = [
        e
        for e in events
        if e["event"] == "dispatch.committed"
        and team_id in {d.get("team_id") for d in e["dispatches"]}
    ]
    assert [e["incident_id"] for e in carrying] == [ids[won_k]]


# --- many commits, one stock line ------------------------------------------------------------


def test_concurrent_reservations_never_exceed_what_is_on_hand(scratch):
    on_hand, ask, n = 100, 30, 6  # 6 x 30 = 180 asked of 100
    with fresh(scratch) as s:
        depot = add_depot(s, "Race Depot", at(0, 3), {"BLANKET": on_hand, "RATION": 50})
        incidents = [add_incident(s, at(1 + k % 3, 1), title=f"stock race {k}") for k in range(n)]
        s.commit()
        depot_id, incident_ids = depot.id, [i.id for i in incidents]

    body = {"materials": [{"depot_id": depot_id, "item_code": "BLANKET", "quantity": ask}]}
    answers = race(scratch, [(i, body) for i in incident_ids])

    codes = Counter(status for status, _ in answers)
    assert set(codes) <= {201, 409}, answers
    winners = [k for k, (status, _) in enumerate(answers) if status == 201]
    assert len(winners) == on_hand // ask  # as many as fit, and no more
    for status, answer in answers:
        if status == 409:
            err = answer["error"]
            assert (err["depot_id"], err["item_code"]) == (depot_id, "BLANKET")
            assert "BLANKET" in err["message"]

    with fresh(scratch) as s:
        lines = {
            ln.item_code: ln
            for ln in s.scalars(select(StockLine).where(StockLine.depot_id == depot_id))
        }
        blanket = lines["BLANKET"]
        assert blanket.on_hand == on_hand
        assert blanket.reserved == ask * len(winners)
        assert blanket.reserved <= blanket.on_hand
        assert lines["RATION"].reserved == 0
        # nothing half-written: every dispatch record has its reservation and vice versa
        records = s.scalars(select(Dispatch).where(Dispatch.depot_id == depot_id)).all()
        assert sum(d.quantity for d in records) == blanket.reserved
        assert sorted(d.incident_id for d in records) == sorted(incident_ids[k] for k in winners)
        for k, incident_id in enumerate(incident_ids):
            inc = s.get(Incident, incident_id)
            assert inc.status == ("responding" if k in winners else "reported")


def _wait_for_lock_waiters(engine, db_name: str, count: int) -> None:
    """Block until ``count`` backends of ``db_name`` wait on a row lock (synchronisation only)."""
    deadline = time.monotonic() + JOIN_S
    with engine.connect() as conn:
        while time.monotonic() < deadline:
            waiting = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = :db AND wait_event_type = 'Lock'"
                ),
                {"db": db_name},
            ).scalar()
            conn.rollback()
            if waiting >= count:
                return
            time.sleep(0.02)
    raise AssertionError(f"the commits never queued on the incident lock ({count} expected)")


def test_a_double_click_never_sends_the_same_stock_twice(scratch):
    """Two no-body commits of a proposal that holds only stock (no team is available): the
    second must not reserve the package again."""
    with fresh(scratch) as s:
        # a fire with nothing known about it gets the least severe level of the urban-fire plan
        doc = s.get(Plan, "urban-fire").document
        package = doc["response"][doc["levels"][-1]["level"]]
        want = {m["item_code"]: m["quantity"] for m in package["materials"]}
        assert want, "premise: the package holds stock"
        depot = add_depot(s, "Double Click Depot", at(3, 0), {c: 10 * q for c, q in want.items()})
        inc = add_incident(s, at(2, 1), title="double click")
        s.commit()
        depot_id, incident_id = depot.id, inc.id
        # every team is busy: the proposal is stock only
        s.execute(text("UPDATE teams SET status = 'out_of_service' WHERE status = 'available'"))
        s.commit()

    holder = scratch["engine"].connect()
    tx = holder.begin()
    holder.execute(text("SELECT id FROM incidents WHERE id = :id FOR UPDATE"), {"id": incident_id})
    db_name = make_url(scratch["config"]["DATABASE_URL"]).database

    def release_when_both_wait(barrier):
        try:
            barrier.wait(timeout=JOIN_S)
            _wait_for_lock_waiters(scratch["engine"], db_name, 2)
        finally:
            tx.rollback()  # both commits have built their proposal and queue on the incident

    try:
        answers = race(
            scratch,
            [(incident_id, None), (incident_id, None)],
            barrier_parties=3,
            before_start=release_when_both_wait,
        )
    finally:
        holder.close()

    assert sorted(status for status, _ in answers)[0] == 201, answers
    with fresh(scratch) as s:
        lines = {
            ln.item_code: ln
            for ln in s.scalars(select(StockLine).where(StockLine.depot_id == depot_id))
        }
        records = s.scalars(select(Dispatch).where(Dispatch.incident_id == incident_id)).all()
        sent = Counter()
        for d in records:
            sent[d.item_code] += d.quantity
        assert {c: ln.reserved for c, ln in lines.items()} == dict(sent)
        assert {d.plan_id for d in records} == {"urban-fire"}
        assert dict(sent) == want  # the package once, not twice


# --- all or nothing, with the writes sent together -------------------------------------------


def test_a_write_failing_in_the_pipeline_leaves_nothing_written(scratch, monkeypatch):
    """A commit's writes and its COMMIT go to the database together, in one pipeline. When the
    last of them fails on the server, none is kept: no team sent, no stock reserved, no record
    or audit entry, the incident unchanged. The caller gets a 500 that does not repeat the
    database's words, and the same click then goes through. (Real commits: in the usual
    rolled-back test connection a savepoint stands in for the COMMIT.)"""
    from app import create_app
    from gis import commit as commit_sql
    from gis.models import AuditEntry

    with fresh(scratch) as s:
        team = add_team(s, "Pipeline Team", at(0, 3))
        depot = add_depot(s, "Pipeline Depot", at(3, 3), {"BLANKET": 50})
        inc = add_incident(s, at(1, 2), title="pipeline")
        s.commit()
        team_id, depot_id, incident_id = team.id, depot.id, inc.id
        team_version, incident_version = team.version, inc.version

    def state():
        with fresh(scratch) as s:
            t = s.get(Team, team_id)
            i = s.get(Incident, incident_id)
            line = s.scalars(select(StockLine).where(StockLine.depot_id == depot_id)).one()
            return (
                (t.status, t.version),
                (i.status, i.version),
                line.reserved,
                s.scalar(select(func.count()).select_from(Dispatch)),
                s.scalar(select(func.count()).select_from(AuditEntry)),
            )

    before = state()
    assert before[:3] == (("available", team_version), ("reported", incident_version), 0)
    body = {
        "teams": [{"team_id": team_id}],
        "materials": [{"depot_id": depot_id, "item_code": "BLANKET", "quantity": 5}],
    }
    app = create_app(scratch["config"])
    client = app.test_client()
    headers = {"Authorization": f"Bearer {scratch['tokens']['dispatcher']}"}
    url = f"/api/v1/incidents/{incident_id}/dispatch"
    good = commit_sql._UPDATE_INCIDENT
    monkeypatch.setattr(commit_sql, "_UPDATE_INCIDENT", good + " AND 1 / (id - id) = 1")
    try:
        r = client.post(
            url, data=json.dumps(body), headers=headers, content_type="application/json"
        )
        assert r.status_code == 500, r.get_json()
        assert "division" not in r.get_data(as_text=True)
        assert state() == before

        monkeypatch.setattr(commit_sql, "_UPDATE_INCIDENT", good)
        r = client.post(
            url, data=json.dumps(body), headers=headers, content_type="application/json"
        )
        assert r.status_code == 201, r.get_json()
        after = state()
        assert after[:3] == (
            ("dispatched", team_version + 1),
            ("responding", incident_version + 1),
            5,
        )
        # two records; audit: the team, its record, the material's record, the incident
        assert (after[3] - before[3], after[4] - before[4]) == (2, 4)
    finally:
        app.extensions["onemap"].engine.dispose()
