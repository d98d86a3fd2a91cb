"""PostGIS queries of the response: context around an incident, candidates, locks and stock
reservations, dispatch records and plans. Every function takes a ``Session``; none commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import shapely
from geoalchemy2.shape import to_shape
from psycopg.rows import namedtuple_row
from sqlalchemy import (
    and_,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from gis.errors import NotFound
from gis.models import AuditEntry, Dispatch, Incident, Plan, StockLine, Team
from gis.repository import fetch, write_audit

# The reads every proposal makes (and a commit that builds its own) go to psycopg directly,
# as prepared statements in the session's transaction: through the ORM, each cost ~0.3 ms of
# compiling and ~1-5 us a row of result processing more (available teams: 2.3 against
# 0.9 ms for 300 rows).


def read_rows(session: Session, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """Rows (named tuples) of ``sql`` run in the session's transaction, as a prepared
    statement."""
    pg = session.connection().connection.driver_connection
    with pg.cursor(row_factory=namedtuple_row) as cur:
        cur.execute(sql, params, prepare=True)
        return cur.fetchall()


_HAZARDS_NEAR = """
SELECT h.id, h.name, h.type, h.risk_level,
       ST_Distance(Geography(h.geom), Geography(i.geom)) AS distance_m,
       coalesce(ST_Covers(h.influence, i.geom), false) AS inside
FROM hazards h, (SELECT geom FROM incidents WHERE id = %(incident)s) i
WHERE ST_DWithin(Geography(h.geom), Geography(i.geom), %(within)s)
   OR ST_Covers(h.influence, i.geom)
ORDER BY distance_m, h.id
"""


def hazards_near(session: Session, incident: Incident, within_m: float) -> list[dict[str, Any]]:
    """Hazard points within ``within_m`` metres (geodesic) of the incident, nearest first, and
    whether the incident lies inside each one's influence area."""
    rows = read_rows(session, _HAZARDS_NEAR, {"incident": incident.id, "within": float(within_m)})
    return [
        {
            "id": r.id,
            "name": r.name,
            "type": r.type,
            "risk_level": r.risk_level,
            "distance_m": float(r.distance_m),
            "inside_influence": bool(r.inside),
        }
        for r in rows
    ]


def area_m2(session: Session, incident: Incident) -> float:
    if incident.area is None:
        return 0.0
    area = select(Incident.area).where(Incident.id == incident.id).scalar_subquery()
    return float(session.scalar(select(func.ST_Area(func.Geography(area)))) or 0.0)


def danger_zones(session: Session, *, exclude_incident: int) -> list[shapely.Geometry]:
    """Areas of the other active incidents: closed to every route of a proposal."""
    return [area for iid, area in active_areas(session) if iid != exclude_incident]


_ACTIVE_AREAS = """
SELECT id, ST_AsBinary(area) AS wkb FROM incidents
WHERE area IS NOT NULL AND status IN ('reported', 'responding')
ORDER BY id
"""


def active_areas(session: Session) -> list[tuple[int, shapely.Geometry]]:
    """``(incident id, area)`` of every active incident that has an area, by id."""
    rows = read_rows(session, _ACTIVE_AREAS)
    shapes = shapely.from_wkb([r.wkb for r in rows]) if rows else []
    return [(r.id, a) for r, a in zip(rows, shapes, strict=True)]


_AVAILABLE_TEAMS = """
SELECT id, name, type, capabilities, version, ST_X(geom) AS lon, ST_Y(geom) AS lat
FROM teams WHERE status = 'available' ORDER BY id
"""


def available_teams(session: Session) -> list[Any]:
    """Available teams as light rows: id, name, type, capabilities, version, lon, lat."""
    return read_rows(session, _AVAILABLE_TEAMS)


@dataclass(frozen=True)
class DepotRow:
    id: int
    name: str
    version: int
    lon: float
    lat: float


_DEPOT_STOCK = """
SELECT d.id, d.name, d.version, ST_X(d.geom) AS lon, ST_Y(d.geom) AS lat, s.item_code,
       s.on_hand - s.reserved AS available
FROM depots d JOIN depot_stock s ON s.depot_id = d.id
WHERE s.on_hand > s.reserved AND (%(all)s OR s.item_code = ANY(%(codes)s::text[]))
ORDER BY d.id, s.item_code
"""


def depots_holding(
    session: Session, item_codes: Iterable[str] | None
) -> list[tuple[DepotRow, dict[str, int]]]:
    """Depots (light rows with coordinates) by id, with their available stock (on hand minus
    reserved) of any of ``item_codes`` (of any item when None)."""
    codes = sorted(set(item_codes)) if item_codes is not None else []
    if item_codes is not None and not codes:
        return []
    rows = read_rows(session, _DEPOT_STOCK, {"all": item_codes is None, "codes": codes})
    out: dict[int, tuple[DepotRow, dict[str, int]]] = {}
    for r in rows:
        entry = out.get(r.id)
        if entry is None:
            entry = out[r.id] = (DepotRow(r.id, r.name, r.version, r.lon, r.lat), {})
        entry[1][r.item_code] = int(r.available)
    return list(out.values())


def lock_teams(session: Session, ids: Sequence[int]) -> dict[int, Team]:
    """``SELECT ... FOR UPDATE`` of the teams, in id order (so two commits never deadlock)."""
    rows = session.scalars(
        select(Team).where(Team.id.in_(sorted(set(ids)))).order_by(Team.id).with_for_update()
    )
    found = {t.id: t for t in rows}
    for tid in ids:
        if tid not in found:
            msg = f"team {tid} does not exist"
            raise NotFound(msg, field="teams", team_id=tid)
    return found


def release_stock(
    session: Session, depot_id: int, item_code: str, quantity: int, *, used: int = 0
) -> None:
    """Give reserved units back; ``used`` of them were consumed (taken off on hand)."""
    session.execute(
        update(StockLine)
        .where(StockLine.depot_id == depot_id, StockLine.item_code == item_code)
        .values(reserved=StockLine.reserved - quantity, on_hand=StockLine.on_hand - used)
    )


_ACTIVE_SENT = """
SELECT d.kind, t.type, d.item_code, d.quantity
FROM dispatches d LEFT JOIN teams t ON t.id = d.team_id
WHERE d.incident_id = %(incident)s AND d.status IN ('dispatched', 'en_route', 'on_scene')
ORDER BY d.id
"""


def active_sent(
    session: Session, incident_id: int
) -> list[tuple[str, str | None, str | None, int]]:
    """What the incident's active dispatches send, in dispatch order: ``(kind, team type,
    item code, quantity)`` (team type None when the team no longer exists)."""
    rows = read_rows(session, _ACTIVE_SENT, {"incident": incident_id})
    return [(r.kind, r.type, r.item_code, int(r.quantity or 0)) for r in rows]


def dispatch_audit(d: Dispatch) -> dict[str, Any]:
    """A dispatch as its audit entries record it (the record without its route)."""
    rec = dispatch_record(d, with_route=False)
    rec.pop("route", None)
    return rec


def dispatch(session: Session, dispatch_id: int, *, lock: bool = False) -> Dispatch:
    return fetch(session, Dispatch, dispatch_id, lock=lock, label="dispatch")


def dispatches_of(
    session: Session, incident_id: int, *, active_only: bool = False
) -> list[Dispatch]:
    stmt = select(Dispatch).where(Dispatch.incident_id == incident_id).order_by(Dispatch.id)
    if active_only:
        stmt = stmt.where(Dispatch.status.in_(("dispatched", "en_route", "on_scene")))
    return list(session.scalars(stmt))


def dispatch_record(d: Dispatch, *, with_route: bool = True) -> dict[str, Any]:
    route = to_shape(d.route) if with_route and d.route is not None else None
    return {
        "id": d.id,
        "incident_id": d.incident_id,
        "kind": d.kind,
        "team_id": d.team_id,
        "depot_id": d.depot_id,
        "item_code": d.item_code,
        "quantity": d.quantity,
        "status": d.status,
        "plan_id": d.plan_id,
        "plan_level": d.plan_level,
        "eta_s": d.eta_s,
        "distance_m": d.distance_m,
        "route": shapely.geometry.mapping(route) if route is not None else None,
        "version": d.version,
        "created_at": d.created_at.astimezone(UTC).isoformat() if d.created_at else None,
    }


def touch(d: Dispatch, **values: Any) -> None:
    for k, v in values.items():
        setattr(d, k, v)
    d.version += 1
    d.updated_at = datetime.now(UTC)


def audit_dispatch(
    session: Session, d: Dispatch, action: str, *, actor: str, before: Mapping[str, Any] | None
) -> None:
    rec = dispatch_audit(d)
    write_audit(
        session,
        actor=actor,
        action=action,
        entity="dispatches",
        entity_id=d.id,
        before=before,
        after=rec,
    )


def timeline(
    session: Session, incident_id: int, team_ids: Sequence[int], since: datetime
) -> list[AuditEntry]:
    """Audit entries about the incident, its dispatches, and its teams since it was reported."""
    conds = [
        and_(AuditEntry.entity == "incidents", AuditEntry.entity_id == incident_id),
        and_(
            AuditEntry.entity == "dispatches",
            AuditEntry.after["incident_id"].astext == str(incident_id),
        ),
    ]
    if team_ids:
        conds.append(
            and_(
                AuditEntry.entity == "teams",
                AuditEntry.entity_id.in_(list(team_ids)),
                AuditEntry.at >= since,
            )
        )
    return list(session.scalars(select(AuditEntry).where(or_(*conds)).order_by(AuditEntry.id)))


# --- plans ----------------------------------------------------------------------------------


def plans(session: Session, *, ids: Sequence[str] | None = None) -> list[Plan]:
    stmt = select(Plan).order_by(Plan.id)
    if ids is not None:
        stmt = stmt.where(Plan.id.in_(list(ids)))
    return list(session.scalars(stmt))


def plan_versions(session: Session) -> list[tuple[str, int]]:
    return [(i, v) for i, v in session.execute(select(Plan.id, Plan.version).order_by(Plan.id))]


def plan(session: Session, plan_id: str, *, lock: bool = False) -> Plan:
    return fetch(session, Plan, plan_id, lock=lock, label="plan", field="plan_id")


def upsert_plan(session: Session, doc: Mapping[str, Any], *, actor: str) -> tuple[Plan, bool]:
    """Store a validated plan document; its version goes up when the document changed."""
    existing = session.scalars(select(Plan).where(Plan.id == doc["id"]).with_for_update()).first()
    body = {k: v for k, v in doc.items() if k not in ("version", "source")}
    if existing is not None:
        old = {k: v for k, v in existing.document.items() if k not in ("version", "source")}
        if old == body:
            return existing, False
        before = {"version": existing.version}
        existing.version += 1
        existing.document = {**body, "version": existing.version}
        existing.title_zh, existing.title_en = doc["title"]["zh"], doc["title"]["en"]
        existing.incident_types = list(doc["incident_types"])
        existing.source = doc.get("source")
        existing.updated_by = actor
        existing.updated_at = datetime.now(UTC)
        write_audit(
            session,
            actor=actor,
            action="update",
            entity="plans",
            entity_id=None,
            before={**before, "id": doc["id"]},
            after={"id": doc["id"], "version": existing.version},
        )
        return existing, True
    p = Plan(
        id=doc["id"],
        version=int(doc.get("version", 1)),
        title_zh=doc["title"]["zh"],
        title_en=doc["title"]["en"],
        incident_types=list(doc["incident_types"]),
        document={**body, "version": int(doc.get("version", 1))},
        source=doc.get("source"),
        updated_by=actor,
    )
    session.add(p)
    session.flush()
    write_audit(
        session,
        actor=actor,
        action="create",
        entity="plans",
        entity_id=None,
        before=None,
        after={"id": p.id, "version": p.version},
    )
    return p, True
