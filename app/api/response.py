"""Plans, proposals, dispatch and timeline endpoints. Views parse, call one service, serialise."""

from __future__ import annotations

import io

import segno
from flask import Response, current_app, jsonify, request

from app import i18n
from app.api import blueprint, params
from app.api.routing import answer_cache
from app.auth import actor, require_role
from app.errors import BadRequest
from app.extensions import db, state, state_version
from app.services import dispatch as dispatch_service
from app.services import field_links
from app.services import plans as plan_service
from app.services import response as response_service
from app.services import timeline as timeline_service


def links() -> field_links.Links:
    return field_links.Links.of(current_app.config)


@blueprint.get("/plans")
def plans() -> Response:
    return jsonify({"plans": plan_service.listing(db())})


@blueprint.get("/plans/<plan_id>")
def plan(plan_id: str) -> Response:
    return jsonify(plan_service.one(db(), plan_id))


@blueprint.put("/plans/<plan_id>")
def replace_plan(plan_id: str) -> Response:
    require_role("admin")
    text = request.get_data(as_text=True)
    if not text.strip():
        raise BadRequest("send the plan as a YAML document", field="body")
    version = params.version_from_headers()
    answer = plan_service.replace(db(), plan_id, text, version=version, actor=actor())
    state().publish("plans.updated", {"plan_id": plan_id, "version": answer["version"]})
    return jsonify(answer)


@blueprint.get("/incidents/<int:row_id>/proposal")
def proposal(row_id: int) -> Response:
    st = state()
    engine = st.graphs.engine(request.args.get("graph"))
    answer = response_service.proposal_answer(
        db(),
        engine,
        row_id,
        cache=answer_cache(),
        state=state_version(),
        plan_cache=st.plan_cache,
        memo=st.proposal_memo,
        shared=st.shared,
    )
    return Response(answer, mimetype="application/json")


@blueprint.post("/incidents/<int:row_id>/dispatch")
def dispatch(row_id: int) -> tuple[Response, int]:
    st = state()
    # ?routes=false: the records without their routes' coordinates (the console reloads the
    # records after a click; a 31-team answer's routes are ~480 kB to write and compress)
    with_routes = params.flag("routes", request.args.get("routes"), default=True)
    body = params.json_body() if request.get_data().strip() else None
    if body is not None and not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", field="body")
    answer = dispatch_service.commit(
        db(),
        st.graphs.engine(request.args.get("graph")),
        row_id,
        body,
        actor=actor(),
        publish=st.publish,
        links=links(),
        plan_cache=st.plan_cache,
        state=st.publisher.state_version,
        memo=st.proposal_memo,
        with_routes=with_routes,
    )
    return jsonify(answer), 201


@blueprint.get("/incidents/<int:row_id>/dispatches")
def incident_dispatches(row_id: int) -> Response:
    return jsonify({"dispatches": field_links.records(db(), row_id, links())})


@blueprint.post("/dispatches/<int:dispatch_id>/<action>")
def end_dispatch(dispatch_id: int, action: str) -> Response:
    if action not in ("recall", "release", "complete"):
        raise BadRequest("action must be recall, release or complete", field="action")
    body = params.json_body() if request.get_data().strip() else {}
    used = body.get("used", 0) if isinstance(body, dict) else 0
    if isinstance(used, bool) or not isinstance(used, int):
        raise BadRequest("used must be a whole number", field="used")
    st = state()
    return jsonify(
        dispatch_service.end(
            db(), dispatch_id, action, used=used, actor=actor(), publish=st.publish
        )
    )


@blueprint.route("/dispatches/<int:dispatch_id>/link", methods=["POST", "DELETE"])
def dispatch_link(dispatch_id: int) -> Response:
    field_links.revoke_link(
        db(),
        dispatch_id,
        actor=actor(),
        reissue=request.method == "POST",
        ttl_s=int(current_app.config["LINK_TTL_S"]),
    )
    return jsonify(field_links.record(db(), dispatch_id, links()))


@blueprint.get("/dispatches/<int:dispatch_id>/qr.svg")
def dispatch_qr(dispatch_id: int) -> Response:
    require_role("dispatcher")
    link = field_links.link_of(db(), dispatch_id, links())
    base = current_app.config["PUBLIC_URL"] or request.host_url.rstrip("/")
    buf = io.BytesIO()
    # a whole SVG document (xmlns, viewBox): it shows in an <img> and when opened on its own
    segno.make(base + link, error="m").save(buf, kind="svg", scale=4, xmldecl=False)
    return Response(buf.getvalue(), mimetype="image/svg+xml")


@blueprint.get("/incidents/<int:row_id>/timeline")
def timeline(row_id: int) -> Response:
    zh = i18n.is_zh()
    return jsonify(
        {"incident_id": row_id, "timeline": timeline_service.timeline(db(), row_id, zh=zh)}
    )
