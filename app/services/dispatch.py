"""Dispatch use case: one-click commit of a proposal (as is or edited), recall, release and
completion, and the field teams' signed route links.

A commit is one transaction: the incident and the teams are locked (in id order), every team
must still be available at the version the dispatcher saw, stock is reserved by atomic updates
that fail when not enough is free, dispatch records keep each team's route, and every change is
audited. Two dispatchers committing the same team: the second waits for the first's lock, then
finds the team dispatched and gets 409 naming it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import shapely
from geoalchemy2.shape import to_shape
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from app.errors import AppError, BadRequest
from app.services import response
from app.services.proposal_memo import ProposalMemo
from gis import commit as wrepo
from gis import repository as repo
from gis import response as rrepo
from gis.errors import InvalidTransition, StaleVersion
from routing.engine import Engine

Publish = Callable[[str, dict[str, Any]], object]


class TeamTaken(AppError):
    status = 409
    code = "team_unavailable"


class LinkInvalid(AppError, PermissionError):
    status = 403
    code = "link_invalid"


@dataclass(frozen=True)
class Links:
    """Signs and checks field route links: ``/r/<token>``, expiring and revocable."""

    secret: str
    ttl_s: int

    @classmethod
    def of(cls, cfg: Mapping[str, Any]) -> Links:
        """The links of an app configuration (its secret key and ``LINK_TTL_S``)."""
        return cls(cfg["SECRET_KEY"], int(cfg["LINK_TTL_S"]))

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret, salt="onemap.route-link")

    def token(self, d: Any) -> str:
        return self._serializer().dumps({"d": d.id, "n": d.link_nonce})

    def check(self, session: Session, token: str, *, lock: bool = False) -> Any:
        try:
            data = self._serializer().loads(token, max_age=self.ttl_s)
        except SignatureExpired as err:
            raise LinkInvalid(
                "this route link has expired; ask the dispatcher for a new one"
            ) from err
        except BadSignature as err:
            raise LinkInvalid("this route link is not valid") from err
        d = rrepo.dispatch(session, int(data["d"]), lock=lock)
        if d.link_nonce != data.get("n") or d.link_revoked_at is not None:
            raise LinkInvalid("this route link has been revoked")
        if d.link_expires_at is not None and d.link_expires_at < datetime.now(UTC):
            raise LinkInvalid("this route link has expired; ask the dispatcher for a new one")
        return d


def commit(
    session: Session,
    engine: Engine,
    incident_id: int,
    body: Mapping[str, Any] | None,
    *,
    actor: str,
    publish: Publish,
    links: Links,
    plan_cache: dict[tuple[str, int], dict[str, Any]] | None = None,
    state: Callable[[], str | None] | None = None,
    memo: ProposalMemo | None = None,
) -> dict[str, Any]:
    """Commit the proposal, or the dispatcher's edit of it: ``{"teams": [{"team_id", "version"}],
    "materials": [{"depot_id", "item_code", "quantity"}]}``.

    ``state`` reads the state counter and ``memo`` holds the proposals built lately (see
    :mod:`app.services.proposal_memo`): when the incident's proposal was viewed and nothing
    has changed since (read after the incident is locked), it is reused instead of built
    again."""
    # Lock the incident first: a second click waits here and then sees what the first sent.
    incident = repo.get_row(session, "incidents", incident_id, lock=True)
    proposal, chosen_teams, chosen_materials = _proposal_and_choice(
        session, engine, incident, body, plan_cache=plan_cache, state=state, memo=memo
    )
    if not chosen_teams and not chosen_materials:
        raise BadRequest(
            "nothing to dispatch: the proposal has no team and no material", field="teams"
        )
    if body and body.get("incident_version") not in (None, incident.version):
        raise StaleVersion(
            f"incident {incident_id} changed (version {incident.version}); reload the proposal",
            field="incident_version",
        )
    n_records = len(chosen_teams) + len(chosen_materials)
    locked, ids = _lock_available(session, chosen_teams, n_records)
    rrepo.reserve_stock_many(
        session, [(m["depot_id"], m["item_code"], m["quantity"]) for m in chosen_materials]
    )
    now = datetime.now(UTC)
    best = proposal.best
    common = {
        "incident_id": incident.id,
        "status": "dispatched",
        "plan_id": best.plan_id,
        "plan_level": best.level,
        "created_by": actor,
        "created_at": now,
        "updated_at": now,
    }
    rows, team_audits = [], []
    for t in chosen_teams:
        team = locked[t["team_id"]]
        team_audits.append(_send_team(team, now, actor))
        # The proposal's own search gives every chosen team its route (all available teams
        # were its candidates, and a team that changed since fails the version check above).
        i = proposal.team_index.get(team.id)
        route = proposal.route(i) if i is not None else None
        rows.append(
            {
                **common,
                "kind": "team",
                "team_id": team.id,
                "eta_s": float(route.duration_s) if route else None,
                "distance_m": round(route.length_m, 1) if route else None,
                "steps": [s.__dict__ for s in route.steps] if route else None,
                "route": shapely.LineString(route.coords) if route else None,
                "link_nonce": secrets.token_urlsafe(12),
                "link_expires_at": now + timedelta(seconds=links.ttl_s),
            }
        )
    for m in chosen_materials:
        rows.append(
            {
                **common,
                "kind": "material",
                "depot_id": m["depot_id"],
                "item_code": m["item_code"],
                "quantity": m["quantity"],
                "eta_s": m.get("eta_s"),
                "distance_m": m.get("distance_m"),
            }
        )
    records = wrepo.new_dispatches(rows, ids)
    audits = []  # in the order they were always written: each team, then its dispatch
    for k, d in enumerate(records):
        if k < len(team_audits):
            audits.append(team_audits[k])
        audits.append(_entry(actor, "create", "dispatches", d.id, None, rrepo.dispatch_audit(d)))
    before = repo.to_feature("incidents", incident)
    wrepo.committed(
        incident,
        status="responding" if incident.status == "reported" else incident.status,
        level=incident.level or best.level,
        version=incident.version + 1,
        updated_at=now,
    )
    after = {
        **repo.to_feature("incidents", incident),
        "plan": {"id": best.plan_id, "level": best.level, "reasons": list(best.reasons)},
    }
    audits.append(_entry(actor, "dispatch", "incidents", incident.id, before, after))
    wrepo.write_and_commit(
        session,
        sent_teams=[(t["team_id"], locked[t["team_id"]].version + 1) for t in chosen_teams],
        records=records,
        routes=[row.get("route") for row in rows],
        audits=audits,
        incident=incident,
        now=now,
    )
    out = []
    for d, row in zip(records, rows, strict=True):
        # the route as written, without reading it back from the stored geometry
        rec = rrepo.dispatch_record(d, with_route=False)
        line = row.get("route")
        if line is not None:
            rec["route"] = {
                "type": "LineString",
                "coordinates": shapely.get_coordinates(line).tolist(),
            }
        out.append(with_link(rec, d, links))
    publish(
        "dispatch.committed", {"incident_id": incident.id, "dispatches": [_light(r) for r in out]}
    )
    return {
        "incident_id": incident.id,
        "plan_id": best.plan_id,
        "level": best.level,
        "dispatches": out,
    }


def _proposal_and_choice(
    session: Session,
    engine: Engine,
    incident: Any,
    body: Mapping[str, Any] | None,
    *,
    plan_cache: dict[tuple[str, int], dict[str, Any]] | None,
    state: Callable[[], str | None] | None,
    memo: ProposalMemo | None,
) -> tuple[response.Proposal, list[dict], list[dict]]:
    """The proposal to commit (the one the dispatcher saw, when remembered and still true;
    else built now) and the teams and materials chosen from it."""
    proposal = None
    if memo is not None and state is not None:
        proposal = memo.recall(session, engine, incident, state())
    if proposal is not None:
        teams, materials = _choice(body, proposal)
        if proposal.reach is not None or all(t["team_id"] in proposal.team_index for t in teams):
            return proposal, teams, materials
        # remembered by another process, which kept only the routes of the teams it
        # allocated: the dispatcher's edit names another team, whose route needs the search
    proposal = response.build(
        session, engine, incident.id, plan_cache=plan_cache, incident=incident
    )
    return proposal, *_choice(body, proposal)


def _lock_available(
    session: Session, chosen: list[dict[str, Any]], n_records: int
) -> tuple[dict[int, Any], list[int]]:
    """Lock the chosen teams (one ``SELECT ... FOR UPDATE``, in id order, which also draws
    the ids of the ``n_records`` dispatch records); each must still be available, at the
    version the dispatcher saw when it names one."""
    locked, ids = wrepo.lock_teams_drawing_ids(session, [t["team_id"] for t in chosen], n_records)
    for t in chosen:
        team = locked[t["team_id"]]
        if team.status != "available":
            raise TeamTaken(
                f"team {team.id} ({team.name}) is {team.status}, no longer available",
                field="teams",
                team_id=team.id,
            )
        if t.get("version") not in (None, team.version):
            raise StaleVersion(
                f"team {team.id} ({team.name}) changed since the proposal (version {team.version})",
                field="teams",
                team_id=team.id,
            )
    return locked, ids


def _send_team(team: Any, now: datetime, actor: str) -> dict[str, Any]:
    """The audit entry of a locked team (a row as :func:`gis.commit.lock_teams_drawing_ids`
    gives it) being dispatched; :func:`gis.commit.write_and_commit` writes the change. Only
    status, version and ``updated_at`` change, so the after-image is the before-image with
    those three."""
    before = repo.to_feature("teams", team)
    props = before["properties"]
    after = {
        **before,
        "properties": {
            **props,
            "status": "dispatched",
            "version": team.version + 1,
            "updated_at": now.astimezone(UTC).isoformat(),
        },
    }
    return _entry(actor, "dispatch", "teams", team.id, before, after)


def _entry(
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": entity_id,
        "before": before,
        "after": after,
    }


def _choice(
    body: Mapping[str, Any] | None, proposal: response.Proposal
) -> tuple[list[dict], list[dict]]:
    """The teams and materials to commit: the body's, or the proposal's when the body names none."""
    if not body or ("teams" not in body and "materials" not in body):
        teams = [
            {"team_id": f["team_id"], "version": f["version"]} for f in proposal.allocation.forces
        ]
        mats = [dict(m) for m in proposal.allocation.materials]
        return teams, mats
    teams = []
    for i, t in enumerate(body.get("teams") or []):
        if (
            not isinstance(t, Mapping)
            or not isinstance(t.get("team_id"), int)
            or isinstance(t.get("team_id"), bool)
        ):
            raise BadRequest('each team is {"team_id": 12, "version": 3}', field=f"teams[{i}]")
        teams.append({"team_id": t["team_id"], "version": t.get("version")})
    if len({t["team_id"] for t in teams}) != len(teams):
        raise BadRequest("a team is listed twice", field="teams")
    mats = []
    for i, m in enumerate(body.get("materials") or []):
        ok = (
            isinstance(m, Mapping)
            and isinstance(m.get("depot_id"), int)
            and isinstance(m.get("item_code"), str)
            and isinstance(m.get("quantity"), int)
            and not isinstance(m.get("quantity"), bool)
            and m["quantity"] > 0
        )
        if not ok:
            raise BadRequest(
                'each material is {"depot_id": 3, "item_code": "TENT-12", "quantity": 20}',
                field=f"materials[{i}]",
            )
        mats.append(dict(m))
    return teams, mats


def with_link(rec: dict[str, Any], d: Any, links: Links) -> dict[str, Any]:
    if (
        d.kind == "team"
        and d.link_revoked_at is None
        and d.status in ("dispatched", "en_route", "on_scene")
    ):
        token = links.token(d)
        rec["link"] = f"/r/{token}"
        rec["gpx"] = f"/r/{token}.gpx"
        rec["qr"] = f"/api/v1/dispatches/{d.id}/qr.svg"
    return rec


def _light(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A dispatch record as events carry it: without its link (a credential, and events reach
    every viewer) and without its route (listeners load routes by API; a commit's routes made
    each event some 60 kB, in a stream that keeps 10,000 of them)."""
    return {k: v for k, v in rec.items() if k not in ("link", "gpx", "route")}


def _xy(geom: Any) -> tuple[float, float]:
    p = to_shape(geom)
    return (p.x, p.y)


# --- after the commit ------------------------------------------------------------------------

TEAM_AFTER = {"recall": "available", "complete": "available"}


def end(
    session: Session,
    dispatch_id: int,
    action: str,
    *,
    used: int = 0,
    actor: str,
    publish: Publish,
) -> dict[str, Any]:
    """``recall`` a team (back to available), ``release`` reserved stock, or ``complete`` a
    dispatch (team available; stock: ``used`` units consumed, the rest given back)."""
    d = rrepo.dispatch(session, dispatch_id, lock=True)
    if d.status not in ("dispatched", "en_route", "on_scene"):
        raise InvalidTransition(f"dispatch {d.id} is already {d.status}", field="status")
    before = rrepo.dispatch_record(d)
    before.pop("route", None)
    if d.kind == "team":
        if action == "release":
            raise BadRequest("release is for material; recall or complete a team", field="action")
        team = rrepo.lock_teams(session, [d.team_id])[d.team_id]
        _team_to(session, team, "available", actor=actor)
        rrepo.touch(
            d,
            status="recalled" if action == "recall" else "done",
            link_revoked_at=datetime.now(UTC),
        )
    else:
        if not 0 <= used <= (d.quantity or 0):
            raise BadRequest(f"used must be 0..{d.quantity}", field="used")
        rrepo.release_stock(
            session, d.depot_id, d.item_code, d.quantity, used=used if action == "complete" else 0
        )
        rrepo.touch(d, status="done" if action == "complete" else "released")
    rrepo.audit_dispatch(session, d, action, actor=actor, before=before)
    session.commit()
    rec = rrepo.dispatch_record(d)
    publish(f"dispatch.{action}", {"incident_id": d.incident_id, "dispatch": _light(rec)})
    return rec


def _team_to(session: Session, team: Any, status: str, *, actor: str, position: Any = None) -> None:
    from gis import fields

    before = repo.to_feature("teams", team)
    if status != team.status:
        fields.check_row("teams", {"status": status}, before=before["properties"])
    team.status = status
    if position is not None:
        from geoalchemy2.shape import from_shape

        team.geom = from_shape(position, srid=4326)
        team.position_reported_at = datetime.now(UTC)
    team.version += 1
    team.updated_at = datetime.now(UTC)
    repo.write_audit(
        session,
        actor=actor,
        action="status" if position is None else "position",
        entity="teams",
        entity_id=team.id,
        before=before,
        after=repo.to_feature("teams", team),
    )


# --- the field team's link ---------------------------------------------------------------------

LINK_STATUSES = {
    "en_route": "en_route",
    "on_scene": "on_scene",
    "done": "returning",
    "available": "available",
}


def field_check(session: Session, links: Links, token: str) -> int:
    """The dispatch id of a live field link (raises :class:`LinkInvalid` otherwise)."""
    return int(links.check(session, token).id)


def field_view(session: Session, links: Links, token: str) -> dict[str, Any]:
    d = links.check(session, token)
    team = repo.get_row(session, "teams", d.team_id)
    incident = repo.get_row(session, "incidents", d.incident_id)
    rec = rrepo.dispatch_record(d)
    rec["steps"] = d.steps or []
    rec["team"] = {
        "id": team.id,
        "name": team.name,
        "status": team.status,
        "callsign": team.callsign,
    }
    inc = to_shape(incident.geom)
    rec["incident"] = {
        "id": incident.id,
        "type": incident.type,
        "title": incident.title,
        "at": [inc.x, inc.y],
    }
    return rec


def field_report(
    session: Session,
    links: Links,
    token: str,
    body: Mapping[str, Any],
    *,
    publish: Publish,
    area: Any = None,
) -> dict[str, Any]:
    """A status (en_route, on_scene, done, available) and/or a position from the team's phone."""
    from gis.geometry import point_lonlat

    d = links.check(session, token, lock=True)
    if d.status not in ("dispatched", "en_route", "on_scene"):
        # the job is over (done, recalled, released): the link may no longer move the team,
        # which may meanwhile be on another incident
        msg = f"this dispatch is {d.status}: the link reports nothing more"
        raise InvalidTransition(msg, field="status")
    status = body.get("status")
    if status is not None and status not in LINK_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(LINK_STATUSES)}", field="status")
    position = (
        point_lonlat(body["at"], field="at", area=area) if body.get("at") is not None else None
    )
    if status is None and position is None:
        raise BadRequest('send {"status": ...} or {"at": [lon, lat]}', field="body")
    team = rrepo.lock_teams(session, [d.team_id])[d.team_id]
    actor = f"link:{team.callsign or team.id}"
    if status is not None:
        _team_to(session, team, LINK_STATUSES[status], actor=actor)
        before = rrepo.dispatch_record(d)
        before.pop("route", None)
        new = {"en_route": "en_route", "on_scene": "on_scene", "done": "done", "available": "done"}[
            status
        ]
        if new != d.status:
            rrepo.touch(d, status=new)
            rrepo.audit_dispatch(session, d, "status", actor=actor, before=before)
    if position is not None:
        _team_to(session, team, team.status, actor=actor, position=position)
    session.commit()
    p = to_shape(team.geom)
    publish(
        "teams.reported",
        {"team_id": team.id, "status": team.status, "at": [p.x, p.y], "dispatch_id": d.id},
    )
    return {
        "team_id": team.id,
        "status": team.status,
        "dispatch_status": d.status,
        "at": [p.x, p.y],
    }


def revoke_link(
    session: Session, dispatch_id: int, *, actor: str, reissue: bool = False, ttl_s: int = 86400
) -> dict[str, Any]:
    d = rrepo.dispatch(session, dispatch_id, lock=True)
    before = {"link_nonce_set": d.link_nonce is not None}
    if reissue:
        rrepo.touch(
            d,
            link_nonce=secrets.token_urlsafe(12),
            link_revoked_at=None,
            link_expires_at=datetime.now(UTC) + timedelta(seconds=ttl_s),
        )
    else:
        rrepo.touch(d, link_revoked_at=datetime.now(UTC))
    rrepo.audit_dispatch(
        session, d, "reissue_link" if reissue else "revoke_link", actor=actor, before=before
    )
    session.commit()
    return rrepo.dispatch_record(d)


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


def records(session: Session, incident_id: int, links: Links) -> list[dict[str, Any]]:
    """The incident's dispatches, each team's with its live link."""
    return [
        with_link(rrepo.dispatch_record(d), d, links)
        for d in rrepo.dispatches_of(session, incident_id)
    ]


def record(session: Session, dispatch_id: int, links: Links) -> dict[str, Any]:
    d = rrepo.dispatch(session, dispatch_id)
    return with_link(rrepo.dispatch_record(d), d, links)


def link_of(session: Session, dispatch_id: int, links: Links) -> str:
    """The live link of a team's dispatch (for its QR code)."""
    rec = record(session, dispatch_id, links)
    if "link" not in rec:
        raise BadRequest(f"dispatch {dispatch_id} has no active link", field="id")
    return rec["link"]
