"""An incident's timeline: every step from the audit log (created, matched, dispatched,
status changes, positions, warnings, evacuation), in Chinese or English."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy.orm import Session

from gis import repository as repo
from gis import response as rrepo


def timeline(session: Session, incident_id: int, *, zh: bool = False) -> list[dict[str, Any]]:
    """Every step of the incident from the audit log, oldest first; ``what`` in Chinese when
    ``zh``, else English (``what_en`` is always English)."""
    incident = repo.get_row(session, "incidents", incident_id)
    team_ids = [d.team_id for d in rrepo.dispatches_of(session, incident_id) if d.team_id]
    entries = rrepo.timeline(session, incident_id, team_ids, incident.created_at)
    out = []
    for e in entries:
        en, cn = _what(e)
        out.append(
            {
                "at": e.at.astimezone(UTC).isoformat(),
                "actor": e.actor,
                "action": e.action,
                "entity": e.entity,
                "entity_id": e.entity_id,
                "what": cn if zh else en,
                "what_en": en,
            }
        )
    return out


_STATUS_ZH = {
    "available": "待命",
    "dispatched": "已派遣",
    "en_route": "途中",
    "on_scene": "到场",
    "returning": "返回",
    "done": "完成",
    "recalled": "召回",
    "released": "释放",
    "out_of_service": "停用",
}
_ALERT_ZH = {"alert": "发布预警", "update": "更新预警", "cancel": "解除预警"}


def _what(e: Any) -> tuple[str, str]:
    """What an audit entry says, in English and in Chinese."""
    after = e.after or {}
    if e.entity == "incidents":
        return _incident_what(e, after)
    if e.entity == "dispatches":
        what = after.get("kind")
        status = after.get("status")
        if what == "team":
            en_t, zh_t = f"team {after.get('team_id')}", f"队伍 {after.get('team_id')}"
        else:
            q, item, depot = after.get("quantity"), after.get("item_code"), after.get("depot_id")
            en_t, zh_t = f"{q} {item} @ depot {depot}", f"{q} {item}（储备库 {depot}）"
        return (
            f"{en_t}: {e.action} ({status})",
            f"{zh_t}：{e.action}（{_STATUS_ZH.get(status, status)}）",
        )
    props = (after.get("properties") or {}) if isinstance(after, dict) else {}
    if e.action == "position":
        at = after.get("geometry", {}).get("coordinates")
        return f"team {e.entity_id} position {at}", f"队伍 {e.entity_id} 位置 {at}"
    status = props.get("status", e.action)
    return f"team {e.entity_id} {status}", f"队伍 {e.entity_id} {_STATUS_ZH.get(status, status)}"


def _incident_what(e: Any, after: dict[str, Any]) -> tuple[str, str]:
    if e.action == "create":
        return "incident created", "事件创建"
    if e.action.startswith("alert."):
        kind = e.action.split(".", 1)[1]
        ident = after.get("identifier", "")
        return (
            f"warning {after.get('msg_type', kind)} {ident}",
            f"{_ALERT_ZH.get(kind, kind)} {ident}",
        )
    if e.action == "evacuation":
        n, total = after.get("assigned"), after.get("people")
        return (
            f"evacuation committed: {n} of {total} people to shelters",
            f"疏散方案已确认：{total} 人中 {n} 人安置到避难场所",
        )
    plan = after.get("plan")
    if plan:
        return (
            f"matched plan {plan['id']} level {plan['level']}; dispatched",
            f"匹配预案 {plan['id']}（{plan['level']}级）；已派遣",
        )
    return f"incident {e.action}", f"事件 {e.action}"
