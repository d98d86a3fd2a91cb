"""Live events: services publish after a commit; the wall display and console listen.

Each event goes to a Redis pub/sub channel (for live listeners) and to a capped Redis stream
(so a client that reconnects can catch up on what it missed). Redis being down never fails the
write that published: the event is logged and dropped.
"""

from __future__ import annotations

import json
import logging
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
            pipe.incr(self.counter)
            stream_id, _, _ = pipe.execute()
        except redis.RedisError as err:
            LOGGER.warning("event %s not published, Redis unavailable: %s", event, err)
            return None
        return stream_id.decode() if isinstance(stream_id, bytes) else stream_id

    def state_version(self) -> str | None:
        """A counter that every published change bumps: answers computed from the whole state
        (proposals) are cached under it. None when Redis is down (then nothing is cached)."""
        try:
            value = self.client.get(self.counter)
        except redis.RedisError:
            return None
        return (value or b"0").decode()
