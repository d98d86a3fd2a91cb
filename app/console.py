"""The dispatcher console page (``/console``) and the printable incident snapshot.

The console is one page over the REST API: every action it offers is an API call a script can
make too. The snapshot (``/incidents/<id>/snapshot.html``) is one standalone HTML file made by
:mod:`app.services.snapshot`.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WResponse

from app import auth
from app.extensions import db, state
from app.services import snapshot as snapshot_service

blueprint = Blueprint("console", __name__)


def _login_redirect() -> WResponse:
    return redirect(url_for("web.login_page", next=request.full_path.rstrip("?")))


@blueprint.get("/console")
def console() -> str | WResponse:
    """The dispatcher console (any logged-in user; writes need the dispatcher role)."""
    user = auth.current_user()
    if user is None:
        return _login_redirect()
    cfg = current_app.config
    lon, lat = (float(v) for v in cfg["MAP_CENTER"].split(","))
    return render_template(
        "console.html",
        user=user,
        can_write=user.role in ("dispatcher", "admin"),
        console_config={
            "center": [lat, lon],
            "zoom": cfg["MAP_ZOOM"],
            "baseMapUrl": cfg["BASE_MAP_URL"],
            "baseMapAttribution": cfg["BASE_MAP_ATTRIBUTION"],
            "user": {"name": user.name, "role": user.role},
        },
    )


@blueprint.get("/incidents/<int:incident_id>/snapshot.html")
def snapshot(incident_id: int) -> Response | WResponse:
    """The incident as one standalone, printable HTML file (``?download=1``: as an attachment)."""
    if auth.current_user() is None:
        return _login_redirect()
    import xstatic.pkg.leaflet as leaflet

    snap = snapshot_service.render(
        db(), state().graphs, incident_id, leaflet_dir=Path(leaflet.BASE_DIR)
    )
    resp = Response(snap.html, mimetype="text/html")
    disposition = "attachment" if request.args.get("download") else "inline"
    resp.headers["Content-Disposition"] = f'{disposition}; filename="{snap.filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
