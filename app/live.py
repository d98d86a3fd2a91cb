"""Live updates: the server-sent events stream that the wall display and the console listen to.

``GET /api/v1/events/stream`` (viewer role; the page's session cookie or a Bearer token) relays
the Redis stream that :class:`app.events.Publisher` appends to. The Redis stream id is the SSE
``id``, so a browser that reconnects sends it back as ``Last-Event-ID`` (or ``?last_id=``) and
gets what it missed, replayed in order. Each message's ``data`` is the published JSON event
(``{"event": "teams.reported", "at": ..., ...}``), sent without an SSE ``event:`` name so
``EventSource.onmessage`` sees them all. Two named events come from the relay itself:

- ``hello`` when a stream opens: its ``id`` is where the client now stands;
- ``resync`` when the client's last id can no longer be replayed (the stream was trimmed past
  it, or Redis lost its data): the page reloads its state through the REST API, then carries on.

A comment line (``: keepalive``) goes out every ``SSE_HEARTBEAT_S`` seconds; after
``SSE_LIFETIME_S`` the server ends the response and the browser reconnects from its last id, so
a worker thread is never held forever. With Redis unreachable the endpoint answers 503 (and a
stream already open ends cleanly); the client retries with a back-off. Serving it needs a
threaded server: ``onemap run --with-threads`` or ``gunicorn -k gthread --threads N``.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from flask import Blueprint, Response, current_app, request

from app.auth import require_role
from app.errors import AppError

LOGGER = logging.getLogger(__name__)

blueprint = Blueprint("live", __name__)

#: Most events sent in one read (a client far behind catches up in batches).
BATCH = 500
ZERO = "0-0"


class LiveUnavailable(AppError, ConnectionError):
    """Redis, which carries the live events, does not answer."""

    status = 503
    code = "live_unavailable"


@dataclass(frozen=True)
class Start:
    """Where a client's stream starts: read after ``after``; ``resync`` when events it missed
    are gone."""

    after: str
    resync: bool


def _id(value: str | bytes | None) -> tuple[int, int]:
    """A stream id ``"<ms>-<seq>"`` as a comparable pair; malformed ids compare as 0-0."""
    if value is None:
        return (0, 0)
    text = value.decode() if isinstance(value, bytes) else str(value)
    ms, _, seq = text.partition("-")
    try:
        return (int(ms), int(seq or 0))
    except ValueError:
        return (0, 0)


def _text(value: str | bytes | None) -> str:
    if value is None:
        return ZERO
    return value.decode() if isinstance(value, bytes) else str(value)


def valid_id(value: str | None) -> bool:
    """Whether ``value`` looks like a Redis stream id (``"1700000000000-0"``)."""
    if not value:
        return False
    ms, _, seq = value.partition("-")
    return ms.isdigit() and (seq.isdigit() if seq else True)


def start_position(client: redis.Redis, stream: str, last_id: str | None) -> Start:
    """Where to resume a client that last saw ``last_id`` (None: a new client, from now on).

    The stream is trimmed from its head only, so a client can be replayed from ``last_id``
    exactly when no entry newer than ``last_id`` was trimmed away: ``last_id`` is at or after
    the stream's first entry, or (for ``0-0``) nothing was ever trimmed. An id newer than
    anything the stream has made means Redis lost its data (and restarted empty).

    Raises
    ------
    redis.RedisError
        When Redis does not answer.
    """
    try:
        info = client.xinfo_stream(stream)
    except redis.ResponseError:  # no such key: nothing was ever published, or Redis lost it
        info = None
    if info is None:
        newest = ZERO
        if last_id is None or _id(last_id) == (0, 0):
            return Start(ZERO, resync=False)
        return Start(newest, resync=True)
    newest = _text(info.get("last-generated-id"))
    if last_id is None:
        return Start(newest, resync=False)
    last = _id(last_id)
    first_entry = info.get("first-entry")
    first = _id(first_entry[0]) if first_entry else None
    never_trimmed = int(info.get("entries-added", 0)) <= int(info.get("length", 0))
    if last > _id(newest):
        return Start(newest, resync=True)
    if first is None:  # every entry trimmed: fine only if the client had seen the newest
        return Start(newest, resync=last < _id(newest))
    if last >= first or (last == (0, 0) and never_trimmed):
        return Start(_text(last_id), resync=False)
    return Start(newest, resync=True)


def _message(event_id: str, data: str, event: str | None = None) -> str:
    head = f"id: {event_id}\n" + (f"event: {event}\n" if event else "")
    return head + "".join(f"data: {line}\n" for line in data.splitlines() or [""]) + "\n"


def relay(
    client: redis.Redis,
    stream: str,
    start: Start,
    *,
    heartbeat_s: float,
    lifetime_s: float,
    retry_ms: int,
) -> Iterator[str]:
    """The text of one SSE response: ``hello`` (or ``resync``), then every event after
    ``start.after`` as it arrives, a comment every ``heartbeat_s`` seconds, until
    ``lifetime_s`` seconds have passed or Redis fails (then the stream ends; the client
    reconnects)."""
    yield f"retry: {int(retry_ms)}\n\n"
    after = start.after
    hello = json.dumps({"event": "resync" if start.resync else "hello", "last_id": after})
    yield _message(after, hello, "resync" if start.resync else "hello")
    deadline = time.monotonic() + lifetime_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        block_ms = max(int(min(heartbeat_s, left) * 1000), 1)
        try:
            answer = client.xread({stream: after}, count=BATCH, block=block_ms)
        except redis.RedisError as err:
            LOGGER.warning("event stream ended, Redis unavailable: %s", err)
            yield ": redis unavailable, reconnect\n\n"
            return
        if not answer:
            yield ": keepalive\n\n"
            continue
        for _name, entries in answer:
            for entry_id, fields in entries:
                after = _text(entry_id)
                raw = fields.get(b"data") or fields.get("data") or b"{}"
                yield _message(after, raw.decode() if isinstance(raw, bytes) else raw)


def _live_client() -> redis.Redis:
    return current_app.extensions["onemap.live_redis"]


@blueprint.get("/api/v1/events/stream")
def stream() -> Response:
    """The live event stream (``text/event-stream``); see the module docstring."""
    require_role("viewer")
    raw = request.headers.get("Last-Event-ID") or request.args.get("last_id") or None
    last_id = raw.strip() if raw else None
    if last_id is not None and not valid_id(last_id):
        last_id = ZERO  # an id we never sent: start over, with a resync if anything is gone
    cfg = current_app.config
    client = _live_client()
    name = f"{cfg['REDIS_PREFIX']}stream"
    try:
        start = start_position(client, name, last_id)
    except redis.RedisError as err:
        LOGGER.warning("event stream refused, Redis unavailable: %s", err)
        msg = "live updates are unavailable (Redis does not answer); retry shortly"
        raise LiveUnavailable(msg) from err
    body = relay(
        client,
        name,
        start,
        heartbeat_s=float(cfg["SSE_HEARTBEAT_S"]),
        lifetime_s=float(cfg["SSE_LIFETIME_S"]),
        retry_ms=int(cfg["SSE_RETRY_MS"]),
    )
    resp = Response(body, mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return resp
