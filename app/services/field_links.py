"""The field teams' route links: signed, expiring and revocable ``/r/<token>`` links, what the
phone page shows, the reports it sends (status, position), and revoking or reissuing a link.

A link names one dispatch and carries its nonce; revoking sets ``link_revoked_at``, reissuing
draws a new nonce (so every older link of the dispatch stops working)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from geoalchemy2.shape import to_shape
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Session

from app.errors import AppError, BadRequest
from gis import repository as repo
from gis import response as rrepo
from gis.errors import InvalidTransition

Publish = Callable[[str, dict[str, Any]], object]


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


def team_to(session: Session, team: Any, status: str, *, actor: str, position: Any = None) -> None:
    """Move a locked team (its ORM row) to ``status`` (a transition the team layer allows),
    and to ``position`` when given; audited. The caller commits."""
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
        team_to(session, team, LINK_STATUSES[status], actor=actor)
        before = rrepo.dispatch_record(d)
        before.pop("route", None)
        new = {"en_route": "en_route", "on_scene": "on_scene", "done": "done", "available": "done"}[
            status
        ]
        if new != d.status:
            rrepo.touch(d, status=new)
            rrepo.audit_dispatch(session, d, "status", actor=actor, before=before)
    if position is not None:
        team_to(session, team, team.status, actor=actor, position=position)
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
