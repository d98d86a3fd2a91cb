"""Dispatch use case: one-click commit of a proposal (as is or edited), recall, release and
completion. The field teams' route links are in :mod:`app.services.field_links`, the
incident's timeline in :mod:`app.services.timeline`.

A commit is one transaction: the incident and the teams are locked (in id order), every team
must still be available at the version the dispatcher saw, stock is reserved by atomic updates
that fail when not enough is free, dispatch records keep each team's route, and every change is
audited. Two dispatchers committing the same team: the second waits for the first's lock, then
finds the team dispatched and gets 409 naming it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.errors import AppError, BadRequest
from app.services import response
from app.services.field_links import Links, team_to, with_link
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
    with_routes: bool = True,
) -> dict[str, Any]:
    """Commit the proposal, or the dispatcher's edit of it: ``{"teams": [{"team_id", "version"}],
    "materials": [{"depot_id", "item_code", "quantity"}]}``.

    ``state`` reads the state counter and ``memo`` holds the proposals built lately (see
    :mod:`app.services.proposal_memo`): when the incident's proposal was viewed and nothing
    has changed since (read after the incident is locked), it is reused instead of built
    again. Without ``with_routes``, the answer's records carry no route (``None``); the stored
    records keep theirs."""
    # Lock the incident first: a second click waits here and then sees what the first sent.
    incident = wrepo.lock_incident(session, incident_id)
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
    team_ids = [t["team_id"] for t in chosen_teams]
    # The teams and the stock are locked (and the stock reserved) in one round trip, while the
    # chosen teams' routes are read from the search tree.
    locked, ids = wrepo.lock_and_reserve(
        session,
        team_ids,
        len(chosen_teams) + len(chosen_materials),
        [(m["depot_id"], m["item_code"], m["quantity"]) for m in chosen_materials],
        meanwhile=lambda: proposal.read_routes(team_ids),
    )
    _check_available(chosen_teams, locked)
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
                "route": route.coords if route else None,
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
    incident = incident._replace(
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
    out: list[dict[str, Any]] = []

    def answer() -> None:
        """The records as the caller gets them, built while the server writes them."""
        for d, row in zip(records, rows, strict=True):
            # the route as written, without reading it back from the stored geometry; its
            # coordinates stay a numpy array, which the app's JSON writer writes as it is (as
            # lists, a commit of 50 teams made ~50,000 of them for the collector to walk)
            rec = rrepo.dispatch_record(d, with_route=False)
            coords = row.get("route")
            if coords is not None and with_routes:
                rec["route"] = {"type": "LineString", "coordinates": coords}
            out.append(with_link(rec, d, links))

    wrepo.write_and_commit(
        session,
        sent_teams=[(t["team_id"], locked[t["team_id"]].version + 1) for t in chosen_teams],
        records=records,
        routes=[row.get("route") for row in rows],
        audits=audits,
        incident=incident,
        now=now,
        meanwhile=answer,
    )
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
    # the routes are read later, while the database locks the teams and the stock
    proposal = response.build(
        session, engine, incident.id, plan_cache=plan_cache, incident=incident, read_routes=False
    )
    return proposal, *_choice(body, proposal)


def _check_available(chosen: list[dict[str, Any]], locked: Mapping[int, Any]) -> None:
    """Each chosen team, locked, must still be available, at the version the dispatcher saw
    when it names one."""
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


def _send_team(team: Any, now: datetime, actor: str) -> dict[str, Any]:
    """The audit entry of a locked team (a row as :func:`gis.commit.lock_and_reserve`
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


def _light(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A dispatch record as events carry it: without its link (a credential, and events reach
    every viewer) and without its route (listeners load routes by API; a commit's routes made
    each event some 60 kB, in a stream that keeps 10,000 of them)."""
    return {k: v for k, v in rec.items() if k not in ("link", "gpx", "route")}


# --- after the commit ------------------------------------------------------------------------


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
        team_to(session, team, "available", actor=actor)
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
