"""The REST API under ``/api/v1``: JSON and GeoJSON (RFC 7946)."""

from __future__ import annotations

from flask import Blueprint, request

from app.auth import require_role

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

#: Endpoints anyone may call: the description of the API, logging in, health.
PUBLIC = {"api.openapi", "api.login", "api.health", "api.incident_types"}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


@blueprint.before_request
def _authorise() -> None:
    if request.endpoint in PUBLIC:
        return
    require_role("dispatcher" if request.method in WRITE_METHODS else "viewer")


from app.api import layers, meta  # noqa: E402,F401  (routes register on import)
