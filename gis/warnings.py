"""PostGIS queries of warnings and evacuation: what lies inside an area, the people there,
shelters with room, alerts, evacuations and hazard readings. Every function takes a ``Session``;
none commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import shapely
from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import Float, and_, cast, func, select, update
from sqlalchemy.orm import Session

from gis.errors import ConstraintViolation, NotFound
from gis.models import (
    Alert,
    Depot,
    Evacuation,
    EvacuationLoad,
    Hazard,
    HazardReading,
    PopulationCell,
    Shelter,
    Site,
    Team,
)
from gis.repository import fetch


def inside(session: Session, area: shapely.Geometry) -> dict[str, list[dict[str, Any]]]:
    """Shelters, teams, depots, hazard points and sensitive sites whose geometry meets ``area``
    (lon/lat), each list in id order."""
    a = from_shape(area, srid=4326)
    out: dict[str, list[dict[str, Any]]] = {}
    shelters = session.execute(
        select(Shelter.id, Shelter.name, Shelter.capacity, Shelter.occupancy, Shelter.reserved)
        .where(func.ST_Intersects(Shelter.geom, a))
        .order_by(Shelter.id)
    ).all()
    out["shelters"] = [
        {"id": i, "name": n, "capacity": c, "occupancy": o, "reserved": r}
        for i, n, c, o, r in shelters
    ]
    teams = session.execute(
        select(Team.id, Team.name, Team.type, Team.status)
        .where(func.ST_Intersects(Team.geom, a))
        .order_by(Team.id)
    ).all()
    out["teams"] = [{"id": i, "name": n, "type": t, "status": s} for i, n, t, s in teams]
    depots = session.execute(
        select(Depot.id, Depot.name).where(func.ST_Intersects(Depot.geom, a)).order_by(Depot.id)
    ).all()
    out["depots"] = [{"id": i, "name": n} for i, n in depots]
    hazards = session.execute(
        select(Hazard.id, Hazard.name, Hazard.type, Hazard.risk_level)
        .where(func.ST_Intersects(Hazard.geom, a))
        .order_by(Hazard.id)
    ).all()
    out["hazards"] = [{"id": i, "name": n, "type": t, "risk": r} for i, n, t, r in hazards]
    sites = session.execute(
        select(Site.id, Site.name, Site.site_type, Site.occupants)
        .where(func.ST_Intersects(Site.geom, a))
        .order_by(Site.id)
    ).all()
    out["sensitive"] = [
        {"id": i, "name": n, "kind": k, "occupants": o, "layer": "sites"} for i, n, k, o in sites
    ]
    return out


@dataclass(frozen=True)
class PeopleAt:
    """People placed at one point of an area: a population point, or the part of a cell that
    lies inside the area (at a point on that part's surface)."""

    lon: float
    lat: float
    people: int
    source: str
    cell_id: int


def people_in(session: Session, area: shapely.Geometry) -> list[PeopleAt]:
    """People inside ``area``: population points inside it, and for each polygon cell that
    meets it the share of its people in proportion to the area inside (geodesic m²). Cells
    whose share rounds to nobody are left out. Ordered by cell id."""
    a = from_shape(area, srid=4326)
    clipped = func.ST_Intersection(PopulationCell.geom, a)
    is_point = func.GeometryType(PopulationCell.geom) == "POINT"
    share = func.ST_Area(func.Geography(clipped)) / func.nullif(
        func.ST_Area(func.Geography(PopulationCell.geom)), 0
    )
    where = func.ST_PointOnSurface(clipped)
    rows = session.execute(
        select(
            PopulationCell.id,
            PopulationCell.people,
            PopulationCell.source,
            is_point,
            cast(func.coalesce(share, 0.0), Float),
            func.ST_X(where),
            func.ST_Y(where),
        )
        .where(func.ST_Intersects(PopulationCell.geom, a), PopulationCell.people > 0)
        .order_by(PopulationCell.id)
    ).all()
    out = []
    for cid, people, source, point, frac, x, y in rows:
        n = int(people) if point else round(int(people) * min(max(frac, 0.0), 1.0))
        if n > 0 and x is not None:
            out.append(PeopleAt(float(x), float(y), n, source, cid))
    return out


def people_source(rows: Sequence[PeopleAt]) -> str:
    """ "population" when a counted layer (census, register) covers the area, "buildings" when
    only estimates from building footprints do, "none" when nothing does."""
    if not rows:
        return "none"
    return "buildings" if all(r.source == "buildings" for r in rows) else "population"


@dataclass(frozen=True)
class ShelterRoom:
    id: int
    name: str
    lon: float
    lat: float
    capacity: int
    occupancy: int
    reserved: int

    @property
    def room(self) -> int:
        return max(self.capacity - self.occupancy - self.reserved, 0)


def shelters_with_room(session: Session, zone: shapely.Geometry) -> list[ShelterRoom]:
    """Open shelters outside ``zone`` (not meeting it) with room left, in id order; each placed
    at a point on its surface (a site polygon's entrance is not known)."""
    z = from_shape(zone, srid=4326)
    at = func.ST_PointOnSurface(Shelter.geom)
    rows = session.execute(
        select(
            Shelter.id,
            Shelter.name,
            func.ST_X(at),
            func.ST_Y(at),
            Shelter.capacity,
            Shelter.occupancy,
            Shelter.reserved,
        )
        .where(
            Shelter.status == "open",
            Shelter.capacity - Shelter.occupancy - Shelter.reserved > 0,
            ~func.ST_Intersects(Shelter.geom, z),
        )
        .order_by(Shelter.id)
    ).all()
    return [ShelterRoom(i, n, float(x), float(y), c, o, r) for i, n, x, y, c, o, r in rows]


def reserve_places(session: Session, loads: Mapping[int, int]) -> dict[int, int]:
    """Reserve ``people`` places at each shelter (id -> people), locking the rows in id order
    (no deadlock between two commits). Raises :class:`ConstraintViolation` naming the shelter
    when one has less room than asked: nothing is reserved then (the caller rolls back)."""
    if not loads:
        return {}
    ids = sorted(loads)
    rows = session.execute(
        select(Shelter.id, Shelter.name, Shelter.capacity, Shelter.occupancy, Shelter.reserved)
        .where(Shelter.id.in_(ids))
        .order_by(Shelter.id)
        .with_for_update()
    ).all()
    found = {r.id: r for r in rows}
    for sid in ids:
        r = found.get(sid)
        if r is None:
            msg = f"shelter {sid} no longer exists"
            raise NotFound(msg, field="shelters")
        room = r.capacity - r.occupancy - r.reserved
        if loads[sid] > room:
            msg = (
                f"shelter {r.name!r} (id {sid}) has room for {room} now, not {loads[sid]}: "
                "another evacuation took the places; preview again"
            )
            raise ConstraintViolation(msg, field=f"shelters.{sid}")
    left = {}
    for sid in ids:
        session.execute(
            update(Shelter)
            .where(Shelter.id == sid)
            .values(reserved=Shelter.reserved + loads[sid], version=Shelter.version + 1)
        )
        r = found[sid]
        left[sid] = r.capacity - r.occupancy - r.reserved - loads[sid]
    return left


def release_evacuations(session: Session, incident_id: int) -> list[int]:
    """Give back the places held by the incident's evacuation in force and mark it released;
    returns the ids released (oldest first)."""
    evs = session.scalars(
        select(Evacuation)
        .where(Evacuation.incident_id == incident_id, Evacuation.status == "committed")
        .order_by(Evacuation.id)
        .with_for_update()
    ).all()
    held: dict[int, int] = {}
    for ev in evs:
        for ld in ev.loads:
            held[ld.shelter_id] = held.get(ld.shelter_id, 0) + ld.people
        ev.status = "released"
    for sid in sorted(held):  # in id order, as reservations lock them
        session.execute(
            update(Shelter)
            .where(Shelter.id == sid)
            .values(reserved=Shelter.reserved - held[sid], version=Shelter.version + 1)
        )
    session.flush()
    return [ev.id for ev in evs]


def add_evacuation(
    session: Session,
    *,
    incident_id: int,
    zone: shapely.Geometry,
    people: int,
    assigned: int,
    total_person_s: float,
    flows: list[dict[str, Any]],
    loads: Mapping[int, int],
    actor: str,
    mode: str = "walk",
) -> Evacuation:
    ev = Evacuation(
        incident_id=incident_id,
        mode=mode,
        zone=from_shape(_multi(zone), srid=4326),
        people=people,
        assigned=assigned,
        total_person_s=total_person_s,
        flows=flows,
        created_by=actor,
    )
    ev.loads = [EvacuationLoad(shelter_id=s, people=n) for s, n in sorted(loads.items()) if n]
    session.add(ev)
    session.flush()
    return ev


def evacuations_of(session: Session, incident_id: int) -> list[Evacuation]:
    return list(
        session.scalars(
            select(Evacuation).where(Evacuation.incident_id == incident_id).order_by(Evacuation.id)
        )
    )


def _multi(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type == "Polygon":
        return shapely.MultiPolygon([geom])
    return geom


# --- alerts --------------------------------------------------------------------------------


def add_alert(session: Session, **values: Any) -> Alert:
    area = values.pop("area", None)
    row = Alert(**values)
    if area is not None:
        row.area = from_shape(_multi(area), srid=4326)
    session.add(row)
    session.flush()
    return row


def alert(session: Session, alert_id: int, *, lock: bool = False) -> Alert:
    return fetch(session, Alert, alert_id, lock=lock, label="alert")


def active_alerts(session: Session, *, now: datetime) -> list[Alert]:
    """Alerts in force: active (not superseded or cancelled), not expired, newest first."""
    return list(
        session.scalars(
            select(Alert)
            .where(
                Alert.status == "active",
                Alert.msg_type != "Cancel",
                (Alert.expires.is_(None)) | (Alert.expires > now),
            )
            .order_by(Alert.sent.desc(), Alert.id.desc())
        )
    )


def alerts_of(session: Session, incident_id: int) -> list[Alert]:
    return list(
        session.scalars(select(Alert).where(Alert.incident_id == incident_id).order_by(Alert.id))
    )


def area_of(row: Alert) -> shapely.Geometry | None:
    return to_shape(row.area) if row.area is not None else None


# --- hazard readings -----------------------------------------------------------------------


def add_reading(session: Session, **values: Any) -> HazardReading:
    row = HazardReading(**values)
    session.add(row)
    session.flush()
    return row


def last_reading(session: Session, hazard_id: int, *, before_id: int) -> HazardReading | None:
    """The hazard's latest reading before the one with id ``before_id``, by time."""
    return session.scalar(
        select(HazardReading)
        .where(and_(HazardReading.hazard_id == hazard_id, HazardReading.id != before_id))
        .order_by(HazardReading.observed_at.desc(), HazardReading.id.desc())
        .limit(1)
    )


def readings_of(session: Session, hazard_id: int, *, limit: int = 100) -> list[HazardReading]:
    return list(
        session.scalars(
            select(HazardReading)
            .where(HazardReading.hazard_id == hazard_id)
            .order_by(HazardReading.observed_at.desc(), HazardReading.id.desc())
            .limit(limit)
        )
    )
