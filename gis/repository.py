"""Every PostGIS query of the layers lives here; each function takes a SQLAlchemy ``Session``.

The functions flush but never commit: the caller (a service in :mod:`app`) owns the transaction,
so a failure anywhere leaves nothing half-written. Every change writes an audit entry.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis import fields as F
from gis.errors import ConstraintViolation, NotFound, StaleVersion
from gis.geometry import to_geojson
from gis.models import LAYER_MODELS, AuditEntry, Base, Depot, Dispatch, StockLine

GEOMETRY_FIELDS = {"home_base", "influence", "area"}


def model_of(kind: str) -> type[Base]:
    F.layer(kind)
    return LAYER_MODELS[kind]


# --- reading -----------------------------------------------------------------------------


def get_row(session: Session, kind: str, row_id: int, *, lock: bool = False) -> Any:
    """The row ``row_id`` of layer ``kind``; with ``lock``, ``SELECT ... FOR UPDATE``.

    Raises
    ------
    NotFound
        When there is no such row.
    """
    return fetch(session, model_of(kind), row_id, lock=lock, label=kind)


def fetch(
    session: Session,
    model: type[Base],
    key: Any,
    *,
    lock: bool = False,
    label: str,
    field: str = "id",
) -> Any:
    """The ``model`` row whose primary key is ``key``; with ``lock``, ``SELECT ... FOR UPDATE``.
    Raises :class:`NotFound` naming ``label`` and ``field`` when there is none."""
    stmt = select(model).where(model.__mapper__.primary_key[0] == key)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        msg = (
            f"{label} {key!r} does not exist"
            if isinstance(key, str)
            else f"{label} {key} does not exist"
        )
        raise NotFound(msg, field=field)
    return row


def list_rows(
    session: Session,
    kind: str,
    *,
    bbox: Sequence[float] | None = None,
    filters: Mapping[str, Sequence[Any]] | None = None,
    text: str | None = None,
    limit: int = 100,
    after: int | None = None,
) -> list[Any]:
    """Rows of ``kind`` ordered by id, at most ``limit``, with id greater than ``after``.

    ``bbox`` is ``(min_lon, min_lat, max_lon, max_lat)``: rows whose geometry intersects it.
    ``filters`` maps a filterable field to the values it may take. ``text`` matches names.
    """
    model = model_of(kind)
    stmt = select(model).order_by(model.id).limit(limit)
    if after is not None:
        stmt = stmt.where(model.id > after)
    if bbox is not None:
        env = func.ST_MakeEnvelope(*bbox, 4326)
        stmt = stmt.where(func.ST_Intersects(model.geom, env))
    for name, values in (filters or {}).items():
        column = getattr(model, name)
        stmt = stmt.where(column.in_(list(values)))
    if text:
        pattern = "%" + re.sub(r"([%_\\])", r"\\\1", text) + "%"
        conds = [model.title.ilike(pattern)] if kind == "incidents" else []
        if hasattr(model, "name"):
            conds += [model.name.ilike(pattern), model.name_en.ilike(pattern)]
        stmt = stmt.where(or_(*conds))
    return list(session.scalars(stmt))


def count_rows(session: Session, kind: str) -> int:
    model = model_of(kind)
    return session.scalar(select(func.count()).select_from(model)) or 0


# --- serialising -------------------------------------------------------------------------


def to_feature(kind: str, row: Any) -> dict[str, Any]:
    """The row as a GeoJSON Feature (RFC 7946) carrying ``id`` and ``version``."""
    spec = F.layer(kind)
    props: dict[str, Any] = {"id": row.id, "version": row.version}
    for f in spec.fields:
        props[f.name] = _out(f, getattr(row, f.name, None))
    if kind == "shelters":
        props["reserved"] = row.reserved
        props["room_left"] = max(row.capacity - row.occupancy - row.reserved, 0)
    props["created_at"] = _iso(row.created_at)
    props["updated_at"] = _iso(row.updated_at)
    geom = to_shape(row.geom) if row.geom is not None else None
    return {"type": "Feature", "id": row.id, "geometry": to_geojson(geom), "properties": props}


def _out(f: F.Field, value: Any) -> Any:
    if value is None:
        return [] if f.kind in ("choices", "tags", "stock") else None
    if f.kind == "point":
        p = to_shape(value)
        return [round(p.x, 7), round(p.y, 7)]
    if f.kind == "area":
        return to_geojson(to_shape(value))
    if f.kind == "datetime":
        return _iso(value)
    if f.kind == "stock":
        return [stock_json(s) for s in value]
    if isinstance(value, list):
        return list(value)
    return value


def stock_json(s: Any) -> dict[str, Any]:
    """A stock line (or a total of lines) as JSON: what is on hand, reserved and available."""
    return {
        "item_code": s.item_code,
        "name_zh": s.name_zh,
        "name_en": s.name_en,
        "unit": s.unit,
        "on_hand": s.on_hand,
        "reserved": s.reserved,
        "available": s.on_hand - s.reserved,
    }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


# --- writing -----------------------------------------------------------------------------


def create_row(
    session: Session,
    kind: str,
    values: Mapping[str, Any],
    geom: shapely.Geometry,
    *,
    actor: str,
    action: str = "create",
) -> Any:
    """Insert one row (values already cleaned by :mod:`gis.fields`) and audit it."""
    model = model_of(kind)
    F.check_row(kind, dict(values), before=None)
    row = model()
    _assign(row, values, geom)
    session.add(row)
    _flush(session, kind)
    write_audit(
        session,
        actor=actor,
        action=action,
        entity=kind,
        entity_id=row.id,
        before=None,
        after=to_feature(kind, row),
    )
    return row


def update_row(
    session: Session,
    kind: str,
    row_id: int,
    *,
    version: int,
    values: Mapping[str, Any],
    geom: shapely.Geometry | None,
    actor: str,
) -> Any:
    """Update a row if ``version`` is current; the row is locked for the rest of the transaction.

    Raises
    ------
    StaleVersion
        When another write has changed the row since ``version`` was read.
    """
    row = get_row(session, kind, row_id, lock=True)
    if row.version != version:
        msg = (
            f"{kind} {row_id} has changed since you read it (your version {version}, current "
            f"{row.version}); reload it and apply your change again"
        )
        raise StaleVersion(msg, field="properties.version", current=row.version)
    before = to_feature(kind, row)
    merged = {**_current_values(kind, row), **values}
    F.check_row(kind, merged, before=before["properties"])
    _assign(row, values, geom)
    row.version = version + 1
    row.updated_at = datetime.now(UTC)
    _flush(session, kind)
    write_audit(
        session,
        actor=actor,
        action="update",
        entity=kind,
        entity_id=row.id,
        before=before,
        after=to_feature(kind, row),
    )
    return row


def delete_row(
    session: Session, kind: str, row_id: int, *, version: int | None, actor: str
) -> None:
    """Delete a row (if ``version`` is given it must be current) and audit it."""
    row = get_row(session, kind, row_id, lock=True)
    if version is not None and row.version != version:
        msg = f"{kind} {row_id} has changed since you read it (current version {row.version})"
        raise StaleVersion(msg, field="version", current=row.version)
    before = to_feature(kind, row)
    session.delete(row)
    _flush(session, kind)
    write_audit(
        session,
        actor=actor,
        action="delete",
        entity=kind,
        entity_id=row_id,
        before=before,
        after=None,
    )


def insert_many(
    session: Session,
    kind: str,
    items: Iterable[tuple[Mapping[str, Any], shapely.Geometry]],
    *,
    actor: str,
) -> list[int]:
    """Insert many rows in the caller's transaction (an import); returns their ids."""
    return [
        create_row(session, kind, values, geom, actor=actor, action="import").id
        for values, geom in items
    ]


def write_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> AuditEntry:
    """Append one entry to the audit log."""
    entry = AuditEntry(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before=dict(before) if before is not None else None,
        after=dict(after) if after is not None else None,
    )
    session.add(entry)  # flushed with the transaction: nothing needs its id before then
    return entry


def audit_entries(
    session: Session, *, entity: str | None = None, entity_id: int | None = None, limit: int = 100
) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity is not None:
        stmt = stmt.where(AuditEntry.entity == entity)
    if entity_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == entity_id)
    return list(session.scalars(stmt))


def _current_values(kind: str, row: Any) -> dict[str, Any]:
    return {f.name: getattr(row, f.name, None) for f in F.layer(kind).fields if f.kind != "stock"}


def _assign(row: Any, values: Mapping[str, Any], geom: shapely.Geometry | None) -> None:
    for name, value in values.items():
        if name == "stock":
            _replace_stock(row, value or [])
        elif name in GEOMETRY_FIELDS:
            setattr(row, name, from_shape(value, srid=4326) if value is not None else None)
        else:
            setattr(row, name, value)
    if geom is not None:
        row.geom = from_shape(geom, srid=4326)


def _replace_stock(depot: Depot, lines: list[Mapping[str, Any]]) -> None:
    """Make the depot's stock lines equal ``lines``, keeping rows of items that stay."""
    existing = {s.item_code: s for s in depot.stock}
    keep: list[StockLine] = []
    for line in lines:
        s = existing.get(line["item_code"]) or StockLine(item_code=line["item_code"])
        for key in ("name_zh", "name_en", "unit", "on_hand", "reserved"):
            if key in line:
                setattr(s, key, line[key])
        if s.reserved is None:
            s.reserved = 0
        keep.append(s)
    depot.stock = keep


CONSTRAINT_FIELDS = {
    "on_hand_nonneg": "properties.stock",
    "reserved_nonneg": "properties.stock",
    "reserved_le_on_hand": "properties.stock",
    "capacity_nonneg": "properties.capacity",
    "occupancy_in_range": "properties.occupancy",
    "headcount_nonneg": "properties.headcount",
    "counts_nonneg": "properties",
}


def _flush(session: Session, kind: str) -> None:
    """Flush, turning a refused constraint into an error that names the field."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as err:
        name = getattr(getattr(err.orig, "diag", None), "constraint_name", None) or ""
        field = next((v for k, v in CONSTRAINT_FIELDS.items() if name.endswith(k)), None)
        msg = f"the database refused this {kind} change: constraint {name or 'unknown'} violated"
        raise ConstraintViolation(msg, field=field) from err


def delete_dispatches_of(
    session: Session, *, team_ids: Sequence[int], depot_ids: Sequence[int]
) -> int:
    """Delete the dispatch records that name any of these teams or depots (a demo reset: the
    rows they name are about to go, and a material dispatch cannot lose its depot)."""
    if not team_ids and not depot_ids:
        return 0
    stmt = delete(Dispatch).where(
        or_(Dispatch.team_id.in_(list(team_ids)), Dispatch.depot_id.in_(list(depot_ids)))
    )
    return int(session.execute(stmt).rowcount or 0)
