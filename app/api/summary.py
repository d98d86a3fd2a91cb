"""API: the counts of the wall display's side panel, ``GET /api/v1/summary``."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from app.api import blueprint
from app.extensions import db
from app.services import summary as service


@blueprint.get("/summary")
def summary() -> Response:
    """Counts for the side panel; ``?items=a,b`` limits the stock to those item codes (default:
    ``SUMMARY_STOCK_ITEMS``, empty: every item)."""
    raw = request.args.get("items")
    if raw is None:
        raw = current_app.config["SUMMARY_STOCK_ITEMS"]
    items = [code.strip() for code in raw.split(",") if code.strip()]
    resp = jsonify(service.summary(db(), items=items or None))
    resp.cache_control.no_store = True
    return resp
