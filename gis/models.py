"""SQLAlchemy/GeoAlchemy2 models of the one map. All geometry is EPSG:4326 with GiST indexes.

Every mutable row carries ``version`` (optimistic locking: a write with a stale version is
refused) and ``created_at``/``updated_at``. The audit log is append-only: a trigger in the
migrations refuses UPDATE, DELETE and TRUNCATE on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gis import enums

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _in(column: str, values: object) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _point() -> Any:
    return Geometry(geometry_type="POINT", srid=4326, spatial_index=True)


def _geometry() -> Any:
    return Geometry(geometry_type="GEOMETRY", srid=4326, spatial_index=True)


class Versioned:
    """Columns every mutable layer row has."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class Named:
    name: Mapped[str] = mapped_column(Text, nullable=False)
    name_en: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    osm_id: Mapped[str | None] = mapped_column(Text)
    demo: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )


class Depot(Named, Versioned, Base):
    """物资储备库: a material depot; its stock is in :class:`StockLine`."""

    __tablename__ = "depots"
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str | None] = mapped_column(Text)
    operator: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_point(), nullable=False)
    stock: Mapped[list[StockLine]] = relationship(
        back_populates="depot",
        cascade="all, delete-orphan",
        order_by="StockLine.item_code",
        lazy="selectin",
    )


class StockLine(Base):
    """One item held at a depot. Quantities never go negative and reserved never exceeds
    on hand: CHECK constraints, not only Python."""

    __tablename__ = "depot_stock"
    __table_args__ = (
        UniqueConstraint("depot_id", "item_code", name="uq_depot_stock_item"),
        CheckConstraint("on_hand >= 0", name="on_hand_nonneg"),
        CheckConstraint("reserved >= 0", name="reserved_nonneg"),
        CheckConstraint("reserved <= on_hand", name="reserved_le_on_hand"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    depot_id: Mapped[int] = mapped_column(
        ForeignKey("depots.id", ondelete="CASCADE"), nullable=False, index=True
    )
    item_code: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    name_zh: Mapped[str | None] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    unit: Mapped[str | None] = mapped_column(Text)
    on_hand: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)
    depot: Mapped[Depot] = relationship(back_populates="stock")


class Shelter(Named, Versioned, Base):
    """避难场所: a shelter, as a point or its site polygon."""

    __tablename__ = "shelters"
    __table_args__ = (
        CheckConstraint("capacity >= 0", name="capacity_nonneg"),
        CheckConstraint("occupancy >= 0 AND occupancy <= capacity", name="occupancy_in_range"),
        CheckConstraint(
            "reserved >= 0 AND occupancy + reserved <= capacity", name="reserved_in_range"
        ),
        CheckConstraint(_in("status", enums.SHELTER_STATUSES), name="status"),
        CheckConstraint(
            "shelter_type IS NULL OR " + _in("shelter_type", enums.SHELTER_TYPES), name="type"
        ),
        CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON')", name="geom_type"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str | None] = mapped_column(Text)
    shelter_type: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int] = mapped_column(Integer, nullable=False)
    occupancy: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    #: Places held for evacuees on their way (committed evacuations); room left is
    #: ``capacity - occupancy - reserved``. The database keeps the sum within capacity.
    reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    status: Mapped[str] = mapped_column(Text, nullable=False, default="open", server_default="open")
    facilities: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, default=list, server_default="{}"
    )
    geom: Mapped[Any] = mapped_column(_geometry(), nullable=False)


class Team(Named, Versioned, Base):
    """救援队伍: a team; ``geom`` is its current position, ``home_base`` where it is based."""

    __tablename__ = "teams"
    __table_args__ = (
        CheckConstraint(_in("type", enums.TEAM_TYPES), name="type"),
        CheckConstraint(_in("status", enums.TEAM_STATUSES), name="status"),
        CheckConstraint("headcount >= 0", name="headcount_nonneg"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    capabilities: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, default=list, server_default="{}"
    )
    headcount: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    home_base: Mapped[Any] = mapped_column(_point(), nullable=True)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, default="available", server_default="available", index=True
    )
    position_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    callsign: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_point(), nullable=False)


class Hazard(Named, Versioned, Base):
    """灾害风险隐患点: a hazard point under watch, with an optional influence polygon."""

    __tablename__ = "hazards"
    __table_args__ = (
        CheckConstraint(_in("type", enums.HAZARD_TYPES), name="type"),
        CheckConstraint(_in("risk_level", enums.RISK_LEVELS), name="risk_level"),
        CheckConstraint(
            "influence IS NULL OR GeometryType(influence) IN ('POLYGON', 'MULTIPOLYGON')",
            name="influence_type",
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    risk_level: Mapped[str] = mapped_column(
        Text, nullable=False, default="moderate", server_default="moderate"
    )
    influence: Mapped[Any] = mapped_column(_geometry(), nullable=True)
    monitoring: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, default=dict, server_default="{}"
    )
    responsible: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_point(), nullable=False)


class Incident(Versioned, Base):
    """突发事件: an incident, typed by the taxonomy in :mod:`plans.taxonomy`."""

    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint("level IS NULL OR " + _in("level", enums.INCIDENT_LEVELS), name="level"),
        CheckConstraint(_in("status", enums.INCIDENT_STATUSES), name="status"),
        CheckConstraint("casualties >= 0 AND injured >= 0 AND affected >= 0", name="counts_nonneg"),
        CheckConstraint(
            "area IS NULL OR GeometryType(area) IN ('POLYGON', 'MULTIPOLYGON')", name="area_type"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    level: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(
        Text, nullable=False, default="reported", server_default="reported", index=True
    )
    casualties: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    injured: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    affected: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    reported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    demo: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    area: Mapped[Any] = mapped_column(_geometry(), nullable=True)
    geom: Mapped[Any] = mapped_column(_point(), nullable=False)


class Plan(Base):
    """应急预案: one plan of the library, its validated document, and its version."""

    __tablename__ = "plans"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    title_zh: Mapped[str] = mapped_column(Text, nullable=False)
    title_en: Mapped[str] = mapped_column(Text, nullable=False)
    incident_types: Mapped[list[str]] = mapped_column(ARRAY(Text), nullable=False)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    source: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_by: Mapped[str | None] = mapped_column(Text)


DISPATCH_STATUSES = ("dispatched", "en_route", "on_scene", "done", "recalled", "released")


class Dispatch(Base):
    """One committed assignment: a team sent to an incident, or stock reserved at a depot, with
    the route and the field link of a team."""

    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint("kind IN ('team', 'material')", name="kind"),
        CheckConstraint(_in("status", DISPATCH_STATUSES), name="status"),
        CheckConstraint(
            "(kind = 'team' AND team_id IS NOT NULL) OR (kind = 'material' AND depot_id IS NOT "
            "NULL AND item_code IS NOT NULL AND quantity > 0)",
            name="kind_fields",
        ),
        Index("ix_dispatches_incident", "incident_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    depot_id: Mapped[int | None] = mapped_column(ForeignKey("depots.id", ondelete="SET NULL"))
    item_code: Mapped[str | None] = mapped_column(Text)
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="dispatched")
    plan_id: Mapped[str | None] = mapped_column(Text)
    plan_level: Mapped[str | None] = mapped_column(Text)
    eta_s: Mapped[float | None] = mapped_column()
    distance_m: Mapped[float | None] = mapped_column()
    route: Mapped[Any] = mapped_column(
        Geometry(geometry_type="LINESTRING", srid=4326, spatial_index=True), nullable=True
    )
    steps: Mapped[list[Any] | None] = mapped_column(JSONB)
    link_nonce: Mapped[str | None] = mapped_column(Text)
    link_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    link_revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class AuditEntry(Base):
    """One change: who, when, what, before and after. Append-only (enforced by a trigger)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True
    )
    actor: Mapped[str] = mapped_column(Text, nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    entity: Mapped[str] = mapped_column(Text, nullable=False)
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Timelines ask "everything that happened to incident 7".
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)


class PopulationCell(Versioned, Base):
    """人口: people counted in a grid cell or at a point (a census grid, a register, or an
    estimate from building footprints and levels, then ``source`` says so)."""

    __tablename__ = "population"
    __table_args__ = (
        CheckConstraint("people >= 0", name="people_nonneg"),
        CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON')", name="geom_type"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    people: Mapped[int] = mapped_column(BigInteger, nullable=False)
    source: Mapped[str] = mapped_column(
        Text, nullable=False, default="census", server_default="census", index=True
    )
    name: Mapped[str | None] = mapped_column(Text)
    year: Mapped[int | None] = mapped_column(Integer)
    demo: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default="false"
    )
    geom: Mapped[Any] = mapped_column(_geometry(), nullable=False)


class Site(Named, Versioned, Base):
    """敏感目标: a sensitive site a warning must name (school, hospital, elderly home...)."""

    __tablename__ = "sites"
    __table_args__ = (
        CheckConstraint(_in("site_type", enums.SITE_TYPES), name="site_type"),
        CheckConstraint("occupants IS NULL OR occupants >= 0", name="occupants_nonneg"),
        CheckConstraint(
            "GeometryType(geom) IN ('POINT', 'POLYGON', 'MULTIPOLYGON')", name="geom_type"
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    site_type: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    occupants: Mapped[int | None] = mapped_column(Integer)
    address: Mapped[str | None] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geometry(), nullable=False)


ALERT_STATUSES = ("active", "superseded", "cancelled")


class Alert(Base):
    """预警信息: one CAP 1.2 message as issued (Alert, Update or Cancel). The issued XML is kept
    as sent; an Update or a Cancel supersedes the message it references."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("msg_type IN ('Alert', 'Update', 'Cancel')", name="msg_type"),
        CheckConstraint(_in("status", ALERT_STATUSES), name="status"),
        Index("ix_alerts_incident", "incident_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    identifier: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    msg_type: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="active")
    references_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    sent: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    area: Mapped[Any] = mapped_column(
        Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=True), nullable=True
    )
    area_spec: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    inside: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    info: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    cap_xml: Mapped[str] = mapped_column(Text, nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class HazardReading(Base):
    """One reading of a watched hazard point's sensor, and the threshold it crossed if any."""

    __tablename__ = "hazard_readings"
    __table_args__ = (
        CheckConstraint("level IS NULL OR level IN ('warn', 'alarm')", name="level"),
        Index("ix_hazard_readings_hazard_at", "hazard_id", "observed_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hazard_id: Mapped[int] = mapped_column(
        ForeignKey("hazards.id", ondelete="CASCADE"), nullable=False
    )
    value: Mapped[float] = mapped_column(nullable=False)
    unit: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    level: Mapped[str | None] = mapped_column(Text)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="SET NULL"))
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class Evacuation(Base):
    """A committed evacuation: the zone, the people moved, and the shelter places it holds
    (:class:`EvacuationLoad`)."""

    __tablename__ = "evacuations"
    __table_args__ = (
        CheckConstraint("status IN ('committed', 'released')", name="status"),
        CheckConstraint("mode IN ('walk', 'drive')", name="mode"),
        Index("ix_evacuations_incident", "incident_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), nullable=False
    )
    status: Mapped[str] = mapped_column(Text, nullable=False, default="committed")
    #: How the people go: on foot (every road both ways) or by car (one-way streets bind).
    mode: Mapped[str] = mapped_column(Text, nullable=False, default="walk", server_default="walk")
    zone: Mapped[Any] = mapped_column(
        Geometry(geometry_type="MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
    people: Mapped[int] = mapped_column(BigInteger, nullable=False)
    assigned: Mapped[int] = mapped_column(BigInteger, nullable=False)
    total_person_s: Mapped[float] = mapped_column(nullable=False)
    flows: Mapped[list[Any]] = mapped_column(JSONB, nullable=False, default=list)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    loads: Mapped[list[EvacuationLoad]] = relationship(
        cascade="all, delete-orphan", lazy="selectin"
    )


class EvacuationLoad(Base):
    """Places one evacuation holds at one shelter."""

    __tablename__ = "evacuation_loads"
    __table_args__ = (CheckConstraint("people > 0", name="people_pos"),)
    evacuation_id: Mapped[int] = mapped_column(
        ForeignKey("evacuations.id", ondelete="CASCADE"), primary_key=True
    )
    shelter_id: Mapped[int] = mapped_column(
        ForeignKey("shelters.id", ondelete="CASCADE"), primary_key=True
    )
    people: Mapped[int] = mapped_column(Integer, nullable=False)


class User(Base):
    """A person or machine that uses OneMap, with one role: admin, dispatcher or viewer."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'dispatcher', 'viewer')", name="role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    role: Mapped[str] = mapped_column(Text, nullable=False)
    password_hash: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=True, server_default="true"
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )


class ApiToken(Base):
    """An API token of a user; only its SHA-256 digest is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    digest: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    label: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, server_default=func.now()
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    user: Mapped[User] = relationship(lazy="joined")


LAYER_MODELS: dict[str, type[Base]] = {
    "depots": Depot,
    "shelters": Shelter,
    "teams": Team,
    "hazards": Hazard,
    "incidents": Incident,
    "population": PopulationCell,
    "sites": Site,
}
