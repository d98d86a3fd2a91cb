"""Live events: services publish after a commit; the wall display and console listen.

Each event goes to a Redis pub/sub channel (for live listeners) and to a capped Redis stream
(so a client that reconnects can catch up on what it missed). Redis being down never fails the
write that published: the event is logged and dropped.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

import redis

LOGGER = logging.getLogger(__name__)


class Publisher:
    """Publishes JSON events on ``<prefix>events`` and appends them to ``<prefix>stream``."""

    def __init__(self, client: redis.Redis, *, prefix: str = "onemap:", maxlen: int = 10_000):
        self.client = client
        self.channel = f"{prefix}events"
        self.stream = f"{prefix}stream"
        self.counter = f"{prefix}state"
        self.maxlen = maxlen

    def publish(self, event: str, payload: dict[str, Any]) -> str | None:
        """Publish ``event`` with ``payload``; returns the stream id, or None if Redis is down."""
        body = {"event": event, "at": datetime.now(UTC).isoformat(), **payload}
        data = json.dumps(body, ensure_ascii=False, default=str)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.xadd(self.stream, {"data": data}, maxlen=self.maxlen, approximate=True)
            pipe.publish(self.channel, data)
            pipe.set(self.counter, _counter_base(), nx=True)
            pipe.incr(self.counter)
            stream_id, *_ = pipe.execute()
        except redis.RedisError as err:
            LOGGER.warning("event %s not published, Redis unavailable: %s", event, err)
            return None
        return stream_id.decode() if isinstance(stream_id, bytes) else stream_id

    def bump(self) -> None:
        """Bump the state counter without an event: a change nobody watches live (a token
        revoked, a plan library or demo loaded from the command line) still makes every answer
        cached under the counter stale."""
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.set(self.counter, _counter_base(), nx=True)
            pipe.incr(self.counter)
            pipe.execute()
        except redis.RedisError as err:
            LOGGER.warning("state counter not bumped, Redis unavailable: %s", err)

    def state_version(self) -> str | None:
        """A counter that every published change bumps: answers computed from the whole state
        (proposals, who an API token belongs to) are cached under it. None when Redis is down
        (then nothing is cached).

        The counter never goes back, even across a Redis restart that lost it: a lost counter
        starts again from the clock in microseconds (:func:`_counter_base`), above any value it
        had, so an answer cached in a process under an old value is never taken for new."""
        try:
            value = self.client.get(self.counter)
            if value is None:
                pipe = self.client.pipeline(transaction=False)
                pipe.set(self.counter, _counter_base(), nx=True)
                pipe.get(self.counter)
                _, value = pipe.execute()
        except redis.RedisError:
            return None
        return value.decode()


def _counter_base() -> int:
    """Where a lost state counter starts again: the clock in microseconds. Above any earlier
    value as long as fewer than a million changes a second were published."""
    return time.time_ns() // 1000
