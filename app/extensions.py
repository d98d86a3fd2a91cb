"""Per-application state: the database engine and sessions, the Redis client, the event publisher.

Built by :func:`app.create_app` and kept in ``app.extensions["onemap"]``; never a module global.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from flask import current_app, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.events import Publisher
from app.services.response import ProposalMemo
from gis.geometry import ServiceArea
from routing.store import GraphStore


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
    #: proposals built lately by this process, reused by the commit that follows a view
    proposal_memo: ProposalMemo = field(default_factory=ProposalMemo)

    @property
    def publish(self) -> Callable[[str, dict[str, Any]], None]:
        return self.publisher.publish


def state() -> State:
    return current_app.extensions["onemap"]


def db() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db" not in g:
        g.db = state().session_factory()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()
