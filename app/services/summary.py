"""The wall display's side panel: one call, every count (teams by status and type, shelter
places, key stock, alerts in force, incidents by level, active dispatches).

Language-free: codes only (``fire``, ``en_route``, ``II``); the page labels them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from gis import repository as layers_repo
from gis import summary as repo

#: Incident statuses that count as active (not closed).
ACTIVE_INCIDENT = ("reported", "responding", "contained")


def summary(
    session: Session, *, items: Sequence[str] | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The counts of the wall's side panel.

    Parameters
    ----------
    session
        A database session (only read).
    items
        Item codes of the key stock to report; None or empty: every item.
    now
        The time alerts are checked against (default: now, UTC).

    Returns
    -------
    dict
        ``teams``: ``total``, ``by_status`` {status: n}, ``by_type`` {type: {"total",
        "by_status"}}; ``shelters``: counts and places in people (``capacity``, ``occupancy``,
        ``room_left`` of open shelters, ``occupancy_rate`` 0..1 or None); ``stock``: per item
        ``on_hand``, ``reserved``, ``available`` in its ``unit``; ``alerts``: ``active``;
        ``incidents``: ``active``, ``total``, ``by_level`` {level or "none": active n},
        ``by_status``; ``dispatches``: ``teams``, ``materials`` active; ``at``: ISO 8601 time.
    """
    now = now or datetime.now(UTC)
    return {
        "teams": _teams(session),
        "shelters": _shelters(session),
        "stock": [
            {**layers_repo.stock_json(s), "depots": s.depots}
            for s in repo.stock_totals(session, items)
        ],
        "alerts": {"active": repo.active_alerts(session, now)},
        "incidents": _incidents(session),
        "dispatches": dict(
            zip(("teams", "materials"), repo.active_dispatches(session), strict=True)
        ),
        "at": now.isoformat(),
    }


def _teams(session: Session) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    by_type: dict[str, dict[str, Any]] = {}
    for team_type, status, n in repo.teams_by_type_and_status(session):
        by_status[status] = by_status.get(status, 0) + n
        entry = by_type.setdefault(team_type, {"total": 0, "by_status": {}})
        entry["total"] += n
        entry["by_status"][status] = n
    return {"total": sum(by_status.values()), "by_status": by_status, "by_type": by_type}


def _shelters(session: Session) -> dict[str, Any]:
    t = repo.shelter_totals(session)
    return {
        "count": t.shelters,
        "open": t.open,
        "capacity": t.capacity_open,
        "occupancy": t.occupancy_open,
        "reserved": t.reserved_open,
        "room_left": max(t.capacity_open - t.occupancy_open - t.reserved_open, 0),
        "occupancy_rate": round(t.occupancy_open / t.capacity_open, 4) if t.capacity_open else None,
        "capacity_all": t.capacity,
        "occupancy_all": t.occupancy,
    }


def _incidents(session: Session) -> dict[str, Any]:
    by_level: dict[str, int] = {}
    by_status: dict[str, int] = {}
    total = 0
    for level, status, n in repo.incidents_by_level_and_status(session):
        total += n
        by_status[status] = by_status.get(status, 0) + n
        if status in ACTIVE_INCIDENT:
            key = level or "none"
            by_level[key] = by_level.get(key, 0) + n
    return {
        "active": sum(by_level.values()),
        "total": total,
        "by_level": by_level,
        "by_status": by_status,
    }
