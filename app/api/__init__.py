"""The REST API under ``/api/v1``: JSON and GeoJSON (RFC 7946)."""

from __future__ import annotations

from flask import Blueprint, request

from app.auth import require_role

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

#: Endpoints anyone may call: the description of the API, logging in, health.
PUBLIC = {
    "api.openapi",
    "api.login",
    "api.health",
    "api.incident_types",
    # alerts are for the public: CAP aggregators read the feed and the messages without login
    "api.alerts_atom",
    "api.alert_cap",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
#: POST endpoints that only compute (no write): viewers may call them.
QUERIES = {"api.route", "api.nearest", "api.isochrone", "api.matrix", "api.alert_preview"}


@blueprint.before_request
def _authorise() -> None:
    if request.endpoint in PUBLIC:
        return
    writes = request.method in WRITE_METHODS and request.endpoint not in QUERIES
    require_role("dispatcher" if writes else "viewer")


from app.api import (  # noqa: E402,F401  (routes register on import)
    evacuation,
    layers,
    meta,
    response,
    routing,
    summary,
    warnings,
)
