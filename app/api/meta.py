"""Endpoints about the API itself: OpenAPI, incident types, health, login, the audit log."""

from __future__ import annotations

from flask import Response, jsonify, request

from app import auth
from app.api import blueprint, params
from app.api.openapi import build_spec
from app.errors import BadRequest
from app.extensions import db, state
from app.services import meta as meta_service
from plans.taxonomy import INCIDENT_TYPES, LEVELS


@blueprint.get("/openapi.json")
def openapi() -> Response:
    return jsonify(build_spec())


@blueprint.get("/incident-types")
def incident_types() -> Response:
    return jsonify(
        {
            "types": [
                {"code": t.code, "name_zh": t.name_zh, "name_en": t.name_en, "parent": t.parent}
                for t in INCIDENT_TYPES.values()
            ],
            "levels": [{"code": k, "name_zh": zh, "name_en": en} for k, (zh, en) in LEVELS.items()],
        }
    )


@blueprint.get("/health")
def health() -> tuple[Response, int]:
    checks = meta_service.health(db(), state().redis)
    ok = checks["database"] == "ok"
    return jsonify({"status": "ok" if ok else "down", "checks": checks}), 200 if ok else 503


@blueprint.post("/auth/login")
def login() -> Response:
    body = params.json_body()
    if not isinstance(body, dict):
        msg = 'send {"name": ..., "password": ...}'
        raise BadRequest(msg, field="body")
    name, password = body.get("name"), body.get("password")
    if not isinstance(name, str) or not name:
        msg = "name is required"
        raise BadRequest(msg, field="name")
    if not isinstance(password, str) or not password:
        msg = "password is required"
        raise BadRequest(msg, field="password")
    user = auth.login(name, password)
    return jsonify({"name": user.name, "role": user.role})


@blueprint.post("/auth/logout")
def logout() -> Response:
    auth.logout()
    return Response(status=204)


@blueprint.get("/auth/me")
def me() -> Response:
    user = auth.current_user()
    return jsonify({"name": user.name, "role": user.role} if user else None)


@blueprint.get("/audit")
def audit() -> Response:
    entity = request.args.get("entity") or None
    entity_id = params.integer("entity_id", request.args.get("entity_id"), minimum=1)
    limit = params.integer("limit", request.args.get("limit"), minimum=1, maximum=1000) or 100
    entries = meta_service.audit(db(), entity=entity, entity_id=entity_id, limit=limit)
    return jsonify({"entries": entries})
