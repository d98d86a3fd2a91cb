"""Warnings use case: an incident's alert area, what and who is inside it, and the CAP 1.2
alert issued for it (Alert, then Update or Cancel referencing it), with an Atom feed of the
alerts in force.

The area is a circle around the incident, a drawn polygon, or an isochrone (the roads reached
within some minutes); by default the matched plan's alert rule gives it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from app.errors import BadRequest
from app.services import plans as plan_service
from app.services import response as response_service
from gis import crs
from gis import repository as repo
from gis import warnings as wrepo
from gis.errors import ConstraintViolation, InvalidInput
from gis.geometry import ServiceArea, check_in_area, parse_geometry, to_geojson
from plans import cap, cap_feed
from plans.errors import NoMatch
from plans.matching import Match, match
from plans.taxonomy import LEVELS, incident_type
from routing.engine import Engine

Publish = Callable[[str, dict[str, Any]], Any]
MAX_RADIUS_M = 100_000
MAX_ISOCHRONE_S = 3 * 3600
AREA_KEYS = ("circle", "polygon", "isochrone")


@dataclass(frozen=True)
class Settings:
    """What the issuing centre puts in every alert."""

    sender: str
    sender_name: str
    timezone: str = "Asia/Shanghai"
    expires_h: int = 24
    public_url: str = ""

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> Settings:
        return cls(
            cfg["CAP_SENDER"],
            cfg["CAP_SENDER_NAME"],
            cfg["CAP_TIMEZONE"],
            int(cfg["ALERT_EXPIRES_H"]),
            cfg.get("PUBLIC_URL") or "",
        )


def matched(session: Session, incident: Any, plan_cache: dict | None = None) -> Match | None:
    """The incident's best plan match, or None when no plan covers it."""
    facts = response_service.facts_of(session, incident)
    try:
        return match(facts, plan_service.documents(session, plan_cache))[0]
    except NoMatch:
        return None


def area_spec(body: Mapping[str, Any] | None, best: Match | None, *, key: str) -> dict[str, Any]:
    """The area asked for in ``body[key]``, else the plan's rule, as one canonical spec."""
    spec = (body or {}).get(key)
    if spec is None:
        rule = (
            best.package.get(key if key == "evacuation" else "alert_area") if best else None
        ) or {}
        if "radius_m" in rule:
            return {"circle": {"radius_m": float(rule["radius_m"])}}
        if "isochrone_s" in rule:
            return {"isochrone": {"seconds": float(rule["isochrone_s"])}}
        msg = "no area given and the matched plan has no rule for one: draw it"
        raise InvalidInput(msg, field=key)
    if not isinstance(spec, Mapping) or len(spec) != 1 or next(iter(spec)) not in AREA_KEYS:
        msg = 'must be one of {"circle": {"radius_m": m}}, {"polygon": GeoJSON}, ' + (
            '{"isochrone": {"seconds": s}}'
        )
        raise InvalidInput(msg, field=key)
    return dict(spec)


def resolve_area(
    spec: Mapping[str, Any],
    incident: Any,
    engine: Engine,
    *,
    area: ServiceArea | None,
    field: str,
) -> shapely.Geometry:
    """The lon/lat polygon of an area spec around ``incident``."""
    here = to_shape(incident.geom)
    kind, value = next(iter(spec.items()))
    if kind == "circle":
        r = _number(value, "radius_m", f"{field}.circle.radius_m", 1, MAX_RADIUS_M)
        metric, local = crs.to_metric(here)
        return crs.from_metric(metric.buffer(r, quad_segs=16), local)
    if kind == "isochrone":
        s = _number(value, "seconds", f"{field}.isochrone.seconds", 30, MAX_ISOCHRONE_S)
        return engine.isochrone((here.x, here.y), [s])[0][1]
    geom = parse_geometry(value, field=f"{field}.polygon", allowed={"Polygon", "MultiPolygon"})
    if area is not None:
        check_in_area(geom, area, field=f"{field}.polygon")
    return geom


def _number(value: Any, key: str, field: str, lo: float, hi: float) -> float:
    raw = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not lo <= raw <= hi:
        msg = f"must be a number from {lo:g} to {hi:g}"
        raise InvalidInput(msg, field=field)
    return float(raw)


def contents(session: Session, area: shapely.Geometry) -> dict[str, Any]:
    """What and who is inside ``area``."""
    out: dict[str, Any] = wrepo.inside(session, area)
    people = wrepo.people_in(session, area)
    out["people"] = {"count": sum(p.people for p in people), "source": wrepo.people_source(people)}
    return out


def preview(
    session: Session,
    engine: Engine,
    incident_id: int,
    body: Mapping[str, Any] | None,
    *,
    area: ServiceArea | None,
    plan_cache: dict | None = None,
) -> dict[str, Any]:
    """The alert area of an incident and what is inside it, without issuing anything."""
    body = _check_body(body, {"area"})
    incident = repo.get_row(session, "incidents", incident_id)
    best = matched(session, incident, plan_cache)
    spec = area_spec(body, best, key="area")
    geom = resolve_area(spec, incident, engine, area=area, field="area")
    return {
        "incident_id": incident.id,
        "plan": {"id": best.plan_id, "level": best.level} if best else None,
        "area_spec": spec,
        "area": to_geojson(geom, precision=6),
        "inside": contents(session, geom),
    }


TEXT_KEYS = {
    "headline_zh",
    "headline_en",
    "instruction_zh",
    "instruction_en",
    "description_zh",
    "description_en",
    "severity",
    "urgency",
    "certainty",
    "expires_h",
}


def _check_body(body: Mapping[str, Any] | None, extra: set[str]) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise BadRequest("the body must be a JSON object", field="body")
    unknown = sorted(set(body) - TEXT_KEYS - extra)
    if unknown:
        msg = f"unknown field {unknown[0]!r}; known: {', '.join(sorted(TEXT_KEYS | extra))}"
        raise BadRequest(msg, field=unknown[0])
    for k in TEXT_KEYS - {"expires_h"}:
        v = body.get(k)
        if v is not None and (not isinstance(v, str) or not v.strip() or len(v) > 2000):
            raise BadRequest("must be a non-empty text of at most 2000 characters", field=k)
    for k, allowed in (
        ("severity", cap.SEVERITIES),
        ("urgency", cap.URGENCIES),
        ("certainty", cap.CERTAINTIES),
    ):
        if body.get(k) is not None and body[k] not in allowed:
            raise BadRequest(f"must be one of {', '.join(allowed)}", field=k)
    exp = body.get("expires_h")
    if exp is not None and (
        isinstance(exp, bool) or not isinstance(exp, int | float) or not 0 < exp <= 720
    ):
        raise BadRequest("must be hours from 0 to 720", field="expires_h")
    return dict(body)


# --- issuing --------------------------------------------------------------------------------


def _texts(incident: Any, level: str, inside: Mapping[str, Any], b: Mapping[str, Any]) -> dict:
    kind = incident_type(incident.type, field="type")
    lv_zh, lv_en = LEVELS[level]
    where = incident.title or f"#{incident.id}"
    people = inside["people"]["count"]
    n_sites = len(inside["sensitive"])
    n_shelters = len(inside["shelters"])
    return {
        "zh-CN": {
            "headline": b.get("headline_zh") or f"{kind.name_zh}{lv_zh}（{level}级）预警：{where}",
            "description": b.get("description_zh")
            or (
                f"{where}发生{kind.name_zh}。预警区域内约{people}人，"
                f"敏感目标{n_sites}处，避难场所{n_shelters}处。"
            ),
            "instruction": b.get("instruction_zh")
            or "请立即远离预警区域，听从现场指挥，前往就近避难场所。",
            "area_desc": f"{where}周边预警区域",
        },
        "en": {
            "headline": b.get("headline_en")
            or f"{kind.name_en} warning, level {level} ({lv_en}): {where}",
            "description": b.get("description_en")
            or (
                f"{kind.name_en} at {where}. About {people} people, {n_sites} sensitive sites "
                f"and {n_shelters} shelters are inside the warning area."
            ),
            "instruction": b.get("instruction_en")
            or "Leave the warning area now, follow responders' instructions, go to the "
            "nearest shelter.",
            "area_desc": f"Warning area around {where}",
        },
    }


def _cap(
    incident: Any,
    *,
    ident: str,
    msg_type: str,
    sent: datetime,
    expires: datetime | None,
    level: str,
    geom: shapely.Geometry | None,
    texts: Mapping[str, Mapping[str, str]],
    b: Mapping[str, Any],
    refs: tuple[cap.CapReference, ...],
    settings: Settings,
) -> cap.CapAlert:
    infos = []
    for language, t in texts.items():
        areas = (cap.CapArea(area_desc=t["area_desc"], polygons=(geom,)),) if geom else ()
        info = cap.info_for_incident(
            incident.type,
            level,
            language=language,
            headline=t["headline"],
            description=t["description"],
            instruction=t["instruction"],
            sender_name=settings.sender_name,
            urgency=b.get("urgency") or cap.DEFAULT_URGENCY,
            certainty=b.get("certainty") or cap.DEFAULT_CERTAINTY,
            response_types=("Evacuate",) if msg_type != "Cancel" else ("AllClear",),
            expires=expires,
            areas=areas,
        )
        if b.get("severity"):
            info = replace(info, severity=b["severity"])
        infos.append(info)
    return cap.CapAlert(
        identifier=ident,
        sender=settings.sender,
        sent=sent,
        msg_type=msg_type,
        infos=tuple(infos),
        references=refs,
        incidents=(f"onemap-incident-{incident.id}",),
    )


def _issue(
    session: Session,
    incident: Any,
    *,
    msg_type: str,
    spec: Mapping[str, Any],
    geom: shapely.Geometry | None,
    level: str,
    body: Mapping[str, Any],
    previous: Any | None,
    settings: Settings,
    actor: str,
) -> Any:
    tz = ZoneInfo(settings.timezone)
    sent = datetime.now(tz).replace(microsecond=0)
    expires = None
    if msg_type != "Cancel":
        expires = sent + timedelta(hours=float(body.get("expires_h") or settings.expires_h))
    inside = contents(session, geom) if geom is not None else (previous.inside if previous else {})
    texts = _texts(incident, level, inside, body) if geom is not None else _cancel_texts(incident)
    ident = cap.identifier(
        "onemap", incident.id, sent.strftime("%Y%m%dT%H%M%S"), uuid.uuid4().hex[:8]
    )
    refs = ()
    if previous is not None:
        refs = (
            cap.CapReference(settings.sender, previous.identifier, previous.sent.astimezone(tz)),
        )
    doc = _cap(
        incident,
        ident=ident,
        msg_type=msg_type,
        sent=sent,
        expires=expires,
        level=level,
        geom=geom,
        texts=texts,
        b=body,
        refs=refs,
        settings=settings,
    )
    return wrepo.add_alert(
        session,
        identifier=ident,
        incident_id=incident.id,
        msg_type=msg_type,
        status="active" if msg_type != "Cancel" else "cancelled",
        references_id=previous.id if previous is not None else None,
        sent=sent,
        expires=expires,
        area=geom,
        area_spec=dict(spec),
        inside=inside,
        info={"level": level, **{lang: dict(t) for lang, t in texts.items()}},
        cap_xml=cap.to_xml(doc).decode("utf-8"),
        created_by=actor,
    )


def _cancel_texts(incident: Any) -> dict[str, dict[str, str]]:
    where = incident.title or f"#{incident.id}"
    return {
        "zh-CN": {
            "headline": f"解除预警：{where}",
            "description": "此前发布的预警已解除。",
            "instruction": "可按现场指挥安排有序返回。",
            "area_desc": f"{where}周边预警区域",
        },
        "en": {
            "headline": f"Warning cancelled: {where}",
            "description": "The warning issued earlier is cancelled.",
            "instruction": "Return when responders say it is safe.",
            "area_desc": f"Warning area around {where}",
        },
    }


def _level_of(incident: Any, best: Match | None) -> str:
    return incident.level or (best.level if best else None) or "IV"


def issue(
    session: Session,
    engine: Engine,
    incident_id: int,
    body: Mapping[str, Any] | None,
    *,
    area: ServiceArea | None,
    settings: Settings,
    actor: str,
    publish: Publish,
    plan_cache: dict | None = None,
) -> dict[str, Any]:
    """Issue a CAP ``Alert`` for an incident over its alert area; publishes ``alerts.issued``."""
    b = _check_body(body, {"area"})
    incident = repo.get_row(session, "incidents", incident_id)
    best = matched(session, incident, plan_cache)
    spec = area_spec(b, best, key="area")
    geom = resolve_area(spec, incident, engine, area=area, field="area")
    row = _issue(
        session,
        incident,
        msg_type="Alert",
        spec=spec,
        geom=geom,
        level=_level_of(incident, best),
        body=b,
        previous=None,
        settings=settings,
        actor=actor,
    )
    _audit(session, row, actor)
    session.commit()
    out = alert_json(row)
    publish("alerts.issued", {"alert": _light(out)})
    return out


def follow_up(
    session: Session,
    engine: Engine,
    alert_id: int,
    action: str,
    body: Mapping[str, Any] | None,
    *,
    area: ServiceArea | None,
    settings: Settings,
    actor: str,
    publish: Publish,
) -> dict[str, Any]:
    """An ``Update`` (new area or texts) or a ``Cancel`` of an alert in force; the earlier
    message is superseded. A message already superseded or cancelled gets 409."""
    b = _check_body(body, {"area"} if action == "update" else set())
    prev = wrepo.alert(session, alert_id, lock=True)
    if prev.status != "active":
        msg = f"alert {alert_id} is {prev.status}: follow the message that replaced it"
        raise ConstraintViolation(msg, field="id")
    incident = repo.get_row(session, "incidents", prev.incident_id)
    level = (prev.info or {}).get("level") or _level_of(incident, None)
    if action == "cancel":
        spec, geom, msg_type = prev.area_spec, None, "Cancel"
    elif "area" in b:
        spec = area_spec(b, None, key="area")
        geom = resolve_area(spec, incident, engine, area=area, field="area")
        msg_type = "Update"
    else:  # new texts only: the area as issued
        spec, geom, msg_type = prev.area_spec, wrepo.area_of(prev), "Update"
    row = _issue(
        session,
        incident,
        msg_type=msg_type,
        spec=spec,
        geom=geom,
        level=level,
        body=b,
        previous=prev,
        settings=settings,
        actor=actor,
    )
    prev.status = "cancelled" if action == "cancel" else "superseded"
    _audit(session, row, actor)
    session.commit()
    out = alert_json(row)
    if action == "cancel":
        publish("alerts.cancelled", {"alert_id": prev.id, "incident_id": incident.id, "by": row.id})
    else:
        publish("alerts.issued", {"alert": _light(out), "replaces": prev.id})
    return out


def _audit(session: Session, row: Any, actor: str) -> None:
    repo.write_audit(
        session,
        actor=actor,
        action=f"alert.{row.msg_type.lower()}",
        entity="incidents",
        entity_id=row.incident_id,
        before=None,
        after={"alert_id": row.id, "identifier": row.identifier, "msg_type": row.msg_type},
    )


def alert_json(row: Any) -> dict[str, Any]:
    geom = wrepo.area_of(row)
    info = row.info or {}
    return {
        "id": row.id,
        "identifier": row.identifier,
        "incident_id": row.incident_id,
        "msg_type": row.msg_type,
        "status": row.status,
        "references": row.references_id,
        "sent": row.sent.isoformat(),
        "expires": row.expires.isoformat() if row.expires else None,
        "level": info.get("level"),
        "headline": {
            k.split("-")[0]: v.get("headline") for k, v in info.items() if isinstance(v, dict)
        },
        "area_spec": row.area_spec,
        "area": to_geojson(geom, precision=6) if geom is not None else None,
        "inside": row.inside,
        "cap_url": f"/api/v1/alerts/{row.id}.cap",
    }


def _light(out: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "identifier", "incident_id", "msg_type", "status", "level", "headline", "area")
    return {k: out[k] for k in keys}


def active(session: Session) -> list[dict[str, Any]]:
    return [alert_json(r) for r in wrepo.active_alerts(session, now=datetime.now(UTC))]


def of_incident(session: Session, incident_id: int) -> list[dict[str, Any]]:
    repo.get_row(session, "incidents", incident_id)
    return [alert_json(r) for r in wrepo.alerts_of(session, incident_id)]


def one(session: Session, alert_id: int) -> dict[str, Any]:
    return alert_json(wrepo.alert(session, alert_id))


def cap_document(session: Session, alert_id: int) -> tuple[bytes, str]:
    """The CAP XML of an alert exactly as issued, and its identifier."""
    row = wrepo.alert(session, alert_id)
    return row.cap_xml.encode("utf-8"), row.identifier


def atom(
    session: Session, *, settings: Settings, self_url: str, cap_url: Callable[[int], str]
) -> bytes:
    """An Atom feed of the alerts in force, newest first; each entry's title and summary are
    the Chinese headline and description as issued (kept with the alert)."""
    rows = wrepo.active_alerts(session, now=datetime.now(UTC))
    entries = []
    for r in rows:
        texts = (r.info or {}).get("zh-CN") or {}
        entries.append(
            cap_feed.AtomEntry(
                id=cap_url(r.id),
                title=texts.get("headline") or r.identifier,
                updated=r.sent,
                cap_url=cap_url(r.id),
                summary=texts.get("description", ""),
                language="zh-CN",
            )
        )
    updated = max((r.sent for r in rows), default=datetime.now(UTC).replace(microsecond=0))
    return cap_feed.atom_feed(
        entries,
        feed_id=self_url,
        title=f"{settings.sender_name}: active alerts",
        updated=updated,
        self_url=self_url,
        author=settings.sender_name,
    )
