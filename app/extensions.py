"""Per-application state: the database engine and sessions, the Redis client, the event publisher.

Built by :func:`app.create_app` and kept in ``app.extensions["onemap"]``; never a module global.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import current_app, g, request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.events import Publisher
from app.lru import Lru
from app.services.proposal_memo import ProposalMemo
from app.services.response import Shared
from gis.geometry import ServiceArea
from routing.store import GraphStore

#: Answers kept per process (a proposal is 50-120 kB of JSON: at most ~30 MB) and how long.
ANSWERS_KEPT = 256
ANSWERS_TTL_S = 600.0
#: API token owners kept per process, and how long at most (a revocation bumps the state
#: counter, so it is seen at once; the time limit only bounds what a stale entry could do).
CALLERS_KEPT = 1024
CALLERS_TTL_S = 30.0


@dataclass
class State:
    engine: Engine
    session_factory: sessionmaker[Session]
    redis: redis.Redis
    publisher: Publisher
    area: ServiceArea | None
    graphs: GraphStore
    #: plan documents by (id, version), read once per process (a new version is read anew)
    plan_cache: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    #: proposals built lately (here whole, in Redis for the other processes), reused by the
    #: commit that follows a view
    proposal_memo: ProposalMemo = field(default_factory=ProposalMemo)
    #: computed answers (JSON text) by cache key, in front of Redis: a repeated answer costs
    #: no Redis round trip and no copy of its text over the socket (see app.services.routing)
    answers: Lru[bytes] = field(default_factory=lambda: Lru(ANSWERS_KEPT, ttl_s=ANSWERS_TTL_S))
    #: what every proposal of one state reads alike, by state counter (the latest few)
    shared: Lru[Shared] = field(default_factory=lambda: Lru(4))
    #: who an API token belongs to, by token digest, under the state counter (app.users)
    callers: Lru[Any] = field(default_factory=lambda: Lru(CALLERS_KEPT, ttl_s=CALLERS_TTL_S))

    @property
    def publish(self) -> Callable[[str, dict[str, Any]], None]:
        return self.publisher.publish


def state() -> State:
    return current_app.extensions["onemap"]


def state_version() -> str | None:
    """The state counter (see :meth:`app.events.Publisher.state_version`), read once per
    request: the caller's token and the answer are checked against the same state. Kept in
    the request's own environ, not in ``g`` (an app context can outlive a request)."""
    env = request.environ
    if "onemap.state_version" not in env:
        env["onemap.state_version"] = state().publisher.state_version()
    return env["onemap.state_version"]


def db() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = state().session_factory()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
