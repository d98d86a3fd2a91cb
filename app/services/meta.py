"""Health and audit use cases."""

from __future__ import annotations

from typing import Any

import redis
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gis import repository as repo


def health(session: Session, client: redis.Redis) -> dict[str, str]:
    """Whether the database and Redis answer; OneMap works without Redis, not without the
    database."""
    checks = {}
    try:
        session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as err:
        checks["database"] = f"down: {type(err).__name__}"
    try:
        client.ping()
        checks["redis"] = "ok"
    except redis.RedisError as err:
        checks["redis"] = f"down: {type(err).__name__}"
    return checks


def audit(
    session: Session, *, entity: str | None, entity_id: int | None, limit: int
) -> list[dict[str, Any]]:
    return [
        {
            "id": e.id,
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "entity": e.entity,
            "entity_id": e.entity_id,
            "before": e.before,
            "after": e.after,
        }
        for e in repo.audit_entries(session, entity=entity, entity_id=entity_id, limit=limit)
    ]
