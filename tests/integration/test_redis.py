"""Redis behaviour on the real Redis: events on pub/sub and the stream, login rate limiting."""

from __future__ import annotations

import json
import time

import redis as redis_lib

from app.events import Publisher


def test_publisher_reaches_subscribers_and_the_stream(app, redis_client):
    pub = Publisher(redis_client, prefix="onemap:")
    sub = redis_client.pubsub()
    sub.subscribe("onemap:events")
    sub.get_message(timeout=1)  # subscription confirmation
    stream_id = pub.publish("teams.updated", {"id": 7})
    msg = None
    deadline = time.monotonic() + 2
    while msg is None and time.monotonic() < deadline:
        msg = sub.get_message(timeout=0.2)
    sub.close()
    assert msg is not None and json.loads(msg["data"])["id"] == 7
    ((entry_id, fields),) = redis_client.xrange("onemap:stream")
    assert entry_id.decode() == stream_id
    assert json.loads(fields[b"data"])["event"] == "teams.updated"


def test_publisher_survives_redis_down():
    dead = redis_lib.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    assert Publisher(dead).publish("x", {}) is None


def test_login_rate_limited_in_redis(client, tokens, redis_client, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        r = client.post(
            "/api/v1/auth/login", json={"name": "t-viewer", "password": "wrong-password"}
        )
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"name": "t-viewer", "password": "password-123"})
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    keys = redis_client.keys("onemap:login:fail:*")
    assert len(keys) == 1 and 0 < redis_client.ttl(keys[0]) <= app.config["LOGIN_WINDOW_S"]
    redis_client.delete(*keys)
    r = client.post("/api/v1/auth/login", json={"name": "t-viewer", "password": "password-123"})
    assert r.status_code == 200
    assert client.get("/api/v1/layers/teams").status_code == 200  # the session cookie works
    assert client.post("/api/v1/layers/teams", json={}).status_code == 403  # viewer cannot write
