"""The pages: login, the one map and the wall display. Leaflet is served from the installed
XStatic package, never from a CDN; the maps draw the road graph as their base map and have no
online base layer unless ``BASE_MAP_URL`` is set."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WResponse

from app import auth
from app.errors import AppError

blueprint = Blueprint("web", __name__)


def map_config() -> dict[str, Any]:
    """What the pages' maps need from the configuration (centre as [lat, lon])."""
    cfg = current_app.config
    lon, lat = (float(v) for v in cfg["MAP_CENTER"].split(","))
    return {
        "center": [lat, lon],
        "zoom": cfg["MAP_ZOOM"],
        "baseMapUrl": cfg["BASE_MAP_URL"],
        "baseMapAttribution": cfg["BASE_MAP_ATTRIBUTION"],
    }


@blueprint.get("/")
def index() -> str | WResponse:
    if auth.current_user() is None:
        return redirect(url_for("web.login_page", next=request.full_path.rstrip("?")))
    return render_template("map.html", user=auth.current_user(), map_config=map_config())


@blueprint.get("/wall")
def wall() -> str | WResponse:
    """The wall display: every layer on a dark full-screen map, live (viewer role)."""
    if auth.current_user() is None:
        return redirect(url_for("web.login_page", next=request.full_path.rstrip("?")))
    auth.require_role("viewer")
    cfg = dict(map_config(), stockItems=current_app.config["SUMMARY_STOCK_ITEMS"])
    return render_template("wall.html", user=auth.current_user(), map_config=cfg)


@blueprint.route("/login", methods=["GET", "POST"])
def login_page() -> str | WResponse | tuple[str, int]:
    error = None
    if request.method == "POST":
        try:
            auth.login(request.form.get("name", ""), request.form.get("password", ""))
        except AppError as err:
            if err.status == 429:
                wait = err.details.get("retry_after", 60)
                error = _("Too many failed logins; try again in %(s)s s.", s=wait)
            else:
                error = _("Wrong user name or password.")
            return render_template("login.html", error=error), err.status
        target = request.args.get("next") or "/"
        if not target.startswith("/") or target.startswith("//"):
            target = "/"
        return redirect(target)
    return render_template("login.html", error=error)


@blueprint.post("/logout")
def logout_page() -> WResponse:
    auth.logout()
    return redirect(url_for("web.login_page"))


@blueprint.get("/vendor/leaflet/<path:filename>")
def leaflet_asset(filename: str) -> Response:
    import xstatic.pkg.leaflet as leaflet

    resp = send_from_directory(leaflet.BASE_DIR, filename, max_age=7 * 24 * 3600)
    return resp
