"""Hazard watch use case: the hazard points around an incident (secondary-disaster watch), and
sensor readings of a watched point checked against its thresholds.

A hazard point's ``monitoring`` configuration holds its sensor, ``unit``, and thresholds
``warn`` and ``alarm`` (crossed upwards; ``"direction": "below"`` for values that warn when they
fall, like a reservoir draining). Optional: ``incident_type`` (a taxonomy code) and
``open_incident_at`` (``"alarm"`` by default, or ``"warn"``): crossing that level opens an
incident of that type at the hazard point, unless the point already has an open one from its
readings. A reading that crosses a threshold publishes ``hazards.warning``; one that stays over
it does not warn again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from app.errors import BadRequest
from gis import fields as F
from gis import repository as repo
from gis import response as rrepo
from gis import warnings as wrepo
from gis.models import HazardReading
from plans.taxonomy import INCIDENT_TYPES

Publish = Callable[[str, dict[str, Any]], Any]
WATCH_RADIUS_M = 3000.0
LEVELS = ("warn", "alarm")
_RANK = {None: 0, "warn": 1, "alarm": 2}
_SKEW = timedelta(minutes=5)  # clock skew allowed for a sensor's own time


def watch(session: Session, incident_id: int, *, within_m: float = WATCH_RADIUS_M) -> list[dict]:
    """Hazard points within ``within_m`` metres of the incident, or whose influence area holds
    it, nearest first, with their risk, distance and last reading."""
    incident = repo.get_row(session, "incidents", incident_id)
    out = []
    for h in rrepo.hazards_near(session, incident, within_m):
        last = wrepo.readings_of(session, h["id"], limit=1)
        out.append(
            {
                "id": h["id"],
                "name": h["name"],
                "type": h["type"],
                "risk": h["risk_level"],
                "distance_m": round(h["distance_m"], 1),
                "inside_influence": h["inside_influence"],
                "last_reading": reading_json(last[0]) if last else None,
            }
        )
    return out


def _level(value: float, cfg: Mapping[str, Any]) -> str | None:
    below = cfg.get("direction") == "below"
    hit = None
    for name in LEVELS:
        t = cfg.get(name)
        number = isinstance(t, int | float) and not isinstance(t, bool)
        if number and ((value <= t) if below else (value >= t)):
            hit = name
    return hit


def _parse(body: Any, cfg: Mapping[str, Any]) -> tuple[float, str | None, datetime]:
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object", field="body")
    unknown = sorted(set(body) - {"value", "unit", "time"})
    if unknown:
        raise BadRequest(
            f"unknown field {unknown[0]!r}; known: value, unit, time", field=unknown[0]
        )
    value = body.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise BadRequest("is required: a number", field="value")
    unit = body.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise BadRequest("must be a text such as 'mm'", field="unit")
    want = cfg.get("unit")
    if unit and want and unit != want:
        msg = f"this hazard point's sensor reports in {want!r}, not {unit!r}"
        raise BadRequest(msg, field="unit")
    at = F.parse_datetime(body["time"], field="time") if body.get("time") else datetime.now(UTC)
    if at > datetime.now(UTC).replace(microsecond=0) + _SKEW:
        raise BadRequest("lies in the future", field="time")
    return float(value), unit or want, at


def add_reading(
    session: Session, hazard_id: int, body: Any, *, actor: str, publish: Publish
) -> dict[str, Any]:
    """Store a reading; when it crosses a threshold, warn and (if configured) open an incident.

    Returns the reading, the level crossed (None when none was newly crossed) and the id of
    the incident opened (None when none was).
    """
    hazard = repo.get_row(session, "hazards", hazard_id, lock=True)
    cfg = hazard.monitoring or {}
    value, unit, at = _parse(body, cfg)
    level = _level(value, cfg)
    row = wrepo.add_reading(
        session,
        hazard_id=hazard.id,
        value=value,
        unit=unit,
        observed_at=at,
        level=level,
        created_by=actor,
    )
    before = wrepo.last_reading(session, hazard.id, before_id=row.id)
    crossed = level if _RANK[level] > _RANK[before.level if before else None] else None
    incident_id = None
    if crossed and _opens(cfg, crossed):
        incident_id = _open_incident(session, hazard, cfg, row, actor=actor)
        row.incident_id = incident_id
    repo.write_audit(
        session,
        actor=actor,
        action="reading",
        entity="hazards",
        entity_id=hazard.id,
        before=None,
        after={"value": value, "unit": unit, "level": level, "incident_id": incident_id},
    )
    session.commit()
    p = to_shape(hazard.geom)
    publish("hazards.reading", {"hazard_id": hazard.id, "value": value, "unit": unit})
    threshold = None
    if crossed:
        threshold = {"level": crossed, "threshold": cfg.get(crossed), "unit": unit}
        publish(
            "hazards.warning",
            {
                "hazard_id": hazard.id,
                "name": hazard.name,
                "level": crossed,
                "value": value,
                "unit": unit,
                "threshold": cfg.get(crossed),
                "incident_id": incident_id,
                "at": [p.x, p.y],
            },
        )
        if incident_id is not None:
            publish("incidents.created", {"kind": "incidents", "id": incident_id})
    return {"reading": reading_json(row), "crossed": threshold, "incident_id": incident_id}


def _opens(cfg: Mapping[str, Any], crossed: str) -> bool:
    code = cfg.get("incident_type")
    if not code or code not in INCIDENT_TYPES:
        return False
    return _RANK[crossed] >= _RANK[cfg.get("open_incident_at", "alarm")]


def _open_incident(
    session: Session, hazard: Any, cfg: Mapping[str, Any], reading: HazardReading, *, actor: str
) -> int:
    code = cfg["incident_type"]
    name = INCIDENT_TYPES[code]
    title = f"{hazard.name}: {cfg.get('sensor', 'sensor')} {reading.value:g} {reading.unit or ''}"
    values = {
        "type": code,
        "title": f"{name.name_zh} {title}".strip(),
        "description": (
            f"Opened by a reading over the {reading.level} threshold "
            f"({cfg.get(reading.level)} {reading.unit or ''}) of hazard point {hazard.id}."
        ),
        "status": "reported",
        "reported_at": reading.observed_at,
    }
    row = repo.create_row(session, "incidents", values, to_shape(hazard.geom), actor=actor)
    return int(row.id)


def reading_json(r: HazardReading) -> dict[str, Any]:
    return {
        "id": r.id,
        "hazard_id": r.hazard_id,
        "value": r.value,
        "unit": r.unit,
        "time": r.observed_at.astimezone(UTC).isoformat(),
        "level": r.level,
        "incident_id": r.incident_id,
    }


def readings(session: Session, hazard_id: int, *, limit: int = 100) -> list[dict[str, Any]]:
    repo.get_row(session, "hazards", hazard_id)
    return [reading_json(r) for r in wrepo.readings_of(session, hazard_id, limit=limit)]
