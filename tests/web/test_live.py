"""The live event stream (server-sent events relayed from the Redis stream) and the summary."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import pytest
import redis
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from app import live
from gis.models import Alert, Depot, Incident, Shelter, StockLine, Team


@pytest.fixture
def fast_stream(app, monkeypatch):
    """Short heartbeats and lifetimes so a test reads a whole stream quickly."""
    monkeypatch.setitem(app.config, "SSE_HEARTBEAT_S", 1)
    monkeypatch.setitem(app.config, "SSE_LIFETIME_S", 3)
    return app


def _stream(app) -> str:
    return f"{app.config['REDIS_PREFIX']}stream"


def _messages(chunks):
    """Parse SSE text chunks into (id, event, data) tuples, skipping comments and retry."""
    out = []
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        for block in text.split("\n\n"):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                if not line or line.startswith(":"):
                    continue
                key, _, value = line.partition(": ")
                fields[key] = fields.get(key, "") + value if key == "data" else value
            if "data" in fields:
                out.append((fields.get("id"), fields.get("event"), json.loads(fields["data"])))
    return out


def _open(client, auth, **headers):
    resp = client.get("/api/v1/events/stream", headers={**auth, **headers}, buffered=False)
    return resp, iter(resp.response)


def _until(chunks, predicate, limit: int = 20):
    """Read chunks until a parsed message satisfies ``predicate``; returns all messages read."""
    seen = []
    for _ in range(limit):
        seen += _messages([next(chunks)])
        if any(predicate(m) for m in seen):
            return seen
    pytest.fail(f"no matching message in {seen}")


def test_stream_needs_login(client):
    assert client.get("/api/v1/events/stream").status_code == 401


def test_relays_an_event_published_after_connecting(fast_stream, client, auth):
    publisher = fast_stream.extensions["onemap"].publisher
    publisher.publish("before.connect", {"n": 0})
    resp, chunks = _open(client, auth["viewer"])
    try:
        assert resp.status_code == 200
        assert resp.mimetype == "text/event-stream"
        hello = _until(chunks, lambda m: m[1] == "hello")
        assert hello[-1][2]["event"] == "hello"
        sent_id = publisher.publish("teams.reported", {"team_id": 7, "status": "en_route"})
        got = _until(chunks, lambda m: m[2].get("event") == "teams.reported")
    finally:
        resp.close()
    relayed = [m for m in got if m[2].get("event") == "teams.reported"]
    assert relayed[0][0] == sent_id  # the stream id is the SSE id
    assert relayed[0][2]["team_id"] == 7 and relayed[0][1] is None  # plain message
    assert all(m[2].get("event") != "before.connect" for m in hello + got)


def test_replays_missed_events_from_last_event_id(fast_stream, client, auth):
    publisher = fast_stream.extensions["onemap"].publisher
    first = publisher.publish("incidents.created", {"id": 1})
    publisher.publish("incidents.updated", {"id": 2})
    publisher.publish("incidents.updated", {"id": 3})
    resp, chunks = _open(client, auth["viewer"], **{"Last-Event-ID": first})
    try:
        got = _until(chunks, lambda m: m[2].get("id") == 3)
    finally:
        resp.close()
    events = [m for m in got if m[1] is None]
    assert [m[2]["id"] for m in events] == [2, 3]  # in order, the one already seen left out
    assert not [m for m in got if m[1] == "resync"]


def test_query_last_id_works_like_the_header(fast_stream, client, auth):
    publisher = fast_stream.extensions["onemap"].publisher
    first = publisher.publish("a.b", {"id": 1})
    publisher.publish("a.b", {"id": 2})
    resp = client.get(f"/api/v1/events/stream?last_id={first}", headers=auth["viewer"])
    ids = [m[2].get("id") for m in _messages([resp.get_data()]) if m[1] is None]
    assert ids == [2]


def test_resync_when_the_last_id_was_trimmed(fast_stream, client, auth, redis_client):
    publisher = fast_stream.extensions["onemap"].publisher
    first = publisher.publish("a.b", {"id": 1})
    for i in range(2, 6):
        publisher.publish("a.b", {"id": i})
    redis_client.xtrim(_stream(fast_stream), maxlen=2, approximate=False)
    resp, chunks = _open(client, auth["viewer"], **{"Last-Event-ID": first})
    try:
        got = _until(chunks, lambda m: m[1] in ("resync", "hello"))
        newest = publisher.publish("a.b", {"id": 6})
        got += _until(chunks, lambda m: m[2].get("id") == 6)
    finally:
        resp.close()
    assert got[0][1] == "resync"
    # after the resync only new events follow, and the resync carries a valid position
    assert [m[2]["id"] for m in got if m[1] is None] == [6]
    assert got[-1][0] == newest


def test_resync_when_redis_lost_its_data(fast_stream, client, auth, redis_client):
    publisher = fast_stream.extensions["onemap"].publisher
    seen = publisher.publish("a.b", {"id": 1})
    redis_client.flushdb()  # as after a restart without persistence
    resp = client.get("/api/v1/events/stream", headers={**auth["viewer"], "Last-Event-ID": seen})
    msgs = _messages([resp.get_data()])
    assert msgs[0][1] == "resync"
    # a client that never saw anything, on an empty Redis, is simply told where it stands
    resp = client.get("/api/v1/events/stream", headers=auth["viewer"])
    assert _messages([resp.get_data()])[0][1] == "hello"


def test_a_malformed_last_id_is_not_an_error(fast_stream, client, auth):
    fast_stream.extensions["onemap"].publisher.publish("a.b", {"id": 1})
    resp = client.get(
        "/api/v1/events/stream", headers={**auth["viewer"], "Last-Event-ID": "junk\x01"}
    )
    assert resp.status_code == 200
    messages = _messages([resp.get_data()])
    assert messages[0][1] == "hello"  # read as "from the start": the missed event is replayed
    assert any(data.get("id") == 1 for _, _, data in messages[1:])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_redis_gives_503_not_500(app, connection, tokens, tmp_path):
    from app import create_app

    broken = create_app(
        {
            "DATABASE_URL": app.config["DATABASE_URL"],
            "REDIS_URL": f"redis://127.0.0.1:{_closed_port()}/0",
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "VAR_DIR": str(tmp_path),
        }
    )
    broken.extensions["onemap"].session_factory = app.extensions["onemap"].session_factory
    try:
        resp = broken.test_client().get(
            "/api/v1/events/stream", headers={"Authorization": f"Bearer {tokens['viewer']}"}
        )
        assert resp.status_code == 503
        assert resp.get_json()["error"]["code"] == "live_unavailable"
    finally:
        broken.extensions["onemap"].engine.dispose()


def test_stream_ends_cleanly_when_redis_goes_away():
    client = redis.Redis(port=_closed_port(), socket_connect_timeout=1, socket_timeout=1)
    text = "".join(
        live.relay(
            client,
            "s",
            live.Start("0-0", resync=False),
            heartbeat_s=1,
            lifetime_s=10,
            retry_ms=1000,
        )
    )
    assert text.startswith("retry: 1000\n\n")
    assert "event: hello" in text
    assert text.endswith(": redis unavailable, reconnect\n\n")


def test_the_state_counter_never_goes_back_when_redis_loses_it(app, redis_client):
    """Answers are cached in each process under the state counter: a Redis that restarts
    empty must not count again from values an old answer was kept under."""
    pub = app.extensions["onemap"].publisher
    pub.publish("test.changed", {})
    before = int(pub.state_version())
    pub.publish("test.changed", {})
    assert int(pub.state_version()) == before + 1
    redis_client.flushdb()  # as after a restart without persistence
    after_loss = int(pub.state_version())
    assert after_loss > before + 1
    pub.bump()
    assert int(pub.state_version()) == after_loss + 1
    redis_client.flushdb()
    pub.publish("test.changed", {})  # a publish, not a read, is the first to find it gone
    assert int(pub.state_version()) > after_loss + 1


def test_start_position_rules(redis_client):
    stream = "test:positions"
    assert live.start_position(redis_client, stream, None) == live.Start("0-0", False)
    a = redis_client.xadd(stream, {"data": "{}"}).decode()
    b = redis_client.xadd(stream, {"data": "{}"}).decode()
    assert live.start_position(redis_client, stream, None) == live.Start(b, False)
    assert live.start_position(redis_client, stream, a) == live.Start(a, False)
    assert live.start_position(redis_client, stream, "0-0") == live.Start("0-0", False)
    ahead = f"{int(b.split('-')[0]) + 10_000}-0"
    assert live.start_position(redis_client, stream, ahead) == live.Start(b, True)
    redis_client.xtrim(stream, maxlen=1, approximate=False)
    assert live.start_position(redis_client, stream, a) == live.Start(b, True)
    assert live.start_position(redis_client, stream, "0-0") == live.Start(b, True)
    assert live.start_position(redis_client, stream, b) == live.Start(b, False)


# --- summary ---------------------------------------------------------------------------------


def _pt(lon: float, lat: float):
    return from_shape(Point(lon, lat), srid=4326)


def test_summary_counts_match_rows_created(client, auth, session):
    before = client.get("/api/v1/summary", headers=auth["viewer"]).get_json()
    session.add_all(
        [
            Team(name="T1", type="fire", status="available", geom=_pt(24.94, 60.17)),
            Team(name="T2", type="fire", status="en_route", geom=_pt(24.941, 60.17)),
            Team(name="T3", type="medical", status="on_scene", geom=_pt(24.942, 60.17)),
            Shelter(name="S1", capacity=100, occupancy=40, status="open", geom=_pt(24.94, 60.171)),
            Shelter(name="S2", capacity=50, occupancy=50, status="full", geom=_pt(24.94, 60.172)),
        ]
    )
    depot = Depot(name="D1", geom=_pt(24.943, 60.17))
    session.add(depot)
    session.flush()
    session.add_all(
        [
            StockLine(depot_id=depot.id, item_code="TEST-TENT", unit="pcs", on_hand=30, reserved=5),
            StockLine(depot_id=depot.id, item_code="TEST-WATER", unit="L", on_hand=200),
        ]
    )
    fire = Incident(type="accident.fire", level="II", status="responding", geom=_pt(24.95, 60.17))
    graded_later = Incident(type="accident.traffic", status="reported", geom=_pt(24.95, 60.171))
    closed = Incident(type="accident.fire", level="I", status="closed", geom=_pt(24.95, 60.172))
    session.add_all([fire, graded_later, closed])
    session.flush()
    now = datetime.now(UTC)
    session.add_all(
        [
            Alert(identifier="t-1", incident_id=fire.id, msg_type="Alert", status="active",
                  sent=now, expires=now + timedelta(hours=2), cap_xml="<alert/>"),
            Alert(identifier="t-2", incident_id=fire.id, msg_type="Alert", status="active",
                  sent=now - timedelta(hours=3), expires=now - timedelta(hours=1), cap_xml="<a/>"),
            Alert(identifier="t-3", incident_id=fire.id, msg_type="Alert", status="cancelled",
                  sent=now, cap_xml="<alert/>"),
        ]
    )  # fmt: skip
    session.commit()

    r = client.get("/api/v1/summary?items=TEST-TENT,TEST-WATER", headers=auth["viewer"])
    assert r.status_code == 200
    after = r.get_json()

    def delta(path: list[str], doc_b=before, doc_a=after) -> int:
        a, b = doc_a, doc_b
        for key in path:
            a, b = a.get(key, {}), b.get(key, {})
        return (a or 0) - (b or 0)

    assert delta(["teams", "total"]) == 3
    assert delta(["teams", "by_status", "en_route"]) == 1
    assert delta(["teams", "by_status", "on_scene"]) == 1
    assert delta(["teams", "by_type", "fire", "total"]) == 2
    assert delta(["teams", "by_type", "medical", "by_status", "on_scene"]) == 1
    assert delta(["shelters", "count"]) == 2 and delta(["shelters", "open"]) == 1
    assert delta(["shelters", "capacity"]) == 100 and delta(["shelters", "occupancy"]) == 40
    assert delta(["shelters", "capacity_all"]) == 150
    assert delta(["alerts", "active"]) == 1  # the expired and the cancelled ones do not count
    assert delta(["incidents", "active"]) == 2 and delta(["incidents", "total"]) == 3
    assert delta(["incidents", "by_level", "II"]) == 1
    assert delta(["incidents", "by_level", "none"]) == 1
    assert delta(["incidents", "by_level", "I"]) == 0  # closed
    stock = {s["item_code"]: s for s in after["stock"]}
    assert set(stock) == {"TEST-TENT", "TEST-WATER"}
    assert stock["TEST-TENT"]["available"] == 25 and stock["TEST-TENT"]["depots"] == 1
    assert stock["TEST-WATER"]["on_hand"] == 200 and stock["TEST-WATER"]["unit"] == "L"


def test_summary_needs_login(client):
    assert client.get("/api/v1/summary").status_code == 401
