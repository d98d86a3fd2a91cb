"""Counts for the wall display's side panel; every query takes a SQLAlchemy ``Session``.

Each function is one aggregate query (no rows are loaded into Python); they read only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gis.models import Alert, Dispatch, Incident, Shelter, StockLine, Team

#: Dispatch statuses of a team or a load still on its way or at work.
ACTIVE_DISPATCH = ("dispatched", "en_route", "on_scene")


@dataclass(frozen=True)
class ShelterTotals:
    """Shelter places, in people."""

    shelters: int
    open: int
    capacity: int
    occupancy: int
    capacity_open: int
    occupancy_open: int
    reserved_open: int = 0  # places held for evacuees on their way


@dataclass(frozen=True)
class StockTotal:
    """One item summed over every depot, in the item's ``unit``."""

    item_code: str
    name_zh: str | None
    name_en: str | None
    unit: str | None
    on_hand: int
    reserved: int
    depots: int


def teams_by_type_and_status(session: Session) -> list[tuple[str, str, int]]:
    """``(type, status, teams)`` for every combination that has teams, ordered by type then
    status."""
    stmt = (
        select(Team.type, Team.status, func.count())
        .group_by(Team.type, Team.status)
        .order_by(Team.type, Team.status)
    )
    return [(t, s, int(n)) for t, s, n in session.execute(stmt)]


def shelter_totals(session: Session) -> ShelterTotals:
    """Shelters and their places in people: all of them, and those open."""
    is_open = Shelter.status == "open"
    stmt = select(
        func.count(),
        func.count().filter(is_open),
        func.coalesce(func.sum(Shelter.capacity), 0),
        func.coalesce(func.sum(Shelter.occupancy), 0),
        func.coalesce(func.sum(Shelter.capacity).filter(is_open), 0),
        func.coalesce(func.sum(Shelter.occupancy).filter(is_open), 0),
        func.coalesce(func.sum(Shelter.reserved).filter(is_open), 0),
    )
    row = session.execute(stmt).one()
    return ShelterTotals(*(int(v) for v in row))


def stock_totals(session: Session, items: Sequence[str] | None = None) -> list[StockTotal]:
    """Stock summed per item over all depots (only ``items`` when given), by item code."""
    stmt = (
        select(
            StockLine.item_code,
            func.max(StockLine.name_zh),
            func.max(StockLine.name_en),
            func.max(StockLine.unit),
            func.coalesce(func.sum(StockLine.on_hand), 0),
            func.coalesce(func.sum(StockLine.reserved), 0),
            func.count(func.distinct(StockLine.depot_id)),
        )
        .group_by(StockLine.item_code)
        .order_by(StockLine.item_code)
    )
    if items:
        stmt = stmt.where(StockLine.item_code.in_(list(items)))
    return [
        StockTotal(code, zh, en, unit, int(on_hand), int(reserved), int(depots))
        for code, zh, en, unit, on_hand, reserved, depots in session.execute(stmt)
    ]


def active_alerts(session: Session, now: datetime) -> int:
    """Alerts in force at ``now``: issued (Alert or Update), neither superseded, cancelled nor
    expired."""
    stmt = (
        select(func.count())
        .select_from(Alert)
        .where(
            Alert.status == "active",
            Alert.msg_type != "Cancel",
            or_(Alert.expires.is_(None), Alert.expires > now),
        )
    )
    return int(session.scalar(stmt) or 0)


def incidents_by_level_and_status(session: Session) -> list[tuple[str | None, str, int]]:
    """``(level, status, incidents)`` for every combination that has incidents (level None:
    not yet graded)."""
    stmt = (
        select(Incident.level, Incident.status, func.count())
        .group_by(Incident.level, Incident.status)
        .order_by(Incident.level, Incident.status)
    )
    return [(lvl, s, int(n)) for lvl, s, n in session.execute(stmt)]


def active_dispatches(session: Session) -> tuple[int, int]:
    """``(team dispatches, material dispatches)`` still active."""
    stmt = (
        select(Dispatch.kind, func.count())
        .where(Dispatch.status.in_(ACTIVE_DISPATCH))
        .group_by(Dispatch.kind)
    )
    counts = {k: int(n) for k, n in session.execute(stmt)}
    teams = counts.pop("team", 0)
    return teams, sum(counts.values())
