"""The pages: login and the one map. Leaflet is served from the installed XStatic package,
never from a CDN; the map has no online base layer unless ``BASE_MAP_URL`` is set."""

from __future__ import annotations

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
from werkzeug.wrappers import Response as WResponse

from app import auth
from app.errors import AppError

blueprint = Blueprint("web", __name__)


@blueprint.get("/")
def index() -> str | WResponse:
    if auth.current_user() is None:
        return redirect(url_for("web.login_page", next=request.path))
    cfg = current_app.config
    lon, lat = (float(v) for v in cfg["MAP_CENTER"].split(","))
    return render_template(
        "map.html",
        user=auth.current_user(),
        map_config={
            "center": [lat, lon],
            "zoom": cfg["MAP_ZOOM"],
            "baseMapUrl": cfg["BASE_MAP_URL"],
            "baseMapAttribution": cfg["BASE_MAP_ATTRIBUTION"],
        },
    )


@blueprint.route("/login", methods=["GET", "POST"])
def login_page() -> str | WResponse | tuple[str, int]:
    error = None
    if request.method == "POST":
        try:
            auth.login(request.form.get("name", ""), request.form.get("password", ""))
        except AppError as err:
            error = err.message
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
