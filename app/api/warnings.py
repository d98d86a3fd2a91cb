"""Warnings and hazard-watch endpoints: alert previews, CAP 1.2 alerts and their Atom feed,
hazard points around an incident and sensor readings. Views parse, call one service, serialise."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request, url_for

from app.api import blueprint, params
from app.auth import actor
from app.extensions import db, state
from app.services import hazards as hazard_service
from app.services import warnings as warning_service


def _settings() -> warning_service.Settings:
    return warning_service.Settings.of(current_app.config)


def _body() -> dict | None:
    return params.json_body() if request.get_data().strip() else None


@blueprint.post("/incidents/<int:row_id>/alerts/preview")
def alert_preview(row_id: int) -> Response:
    st = state()
    return jsonify(
        warning_service.preview(
            db(),
            st.graphs.engine(request.args.get("graph")),
            row_id,
            _body(),
            area=st.area,
            plan_cache=st.plan_cache,
        )
    )


@blueprint.post("/incidents/<int:row_id>/alerts")
def alert_issue(row_id: int) -> tuple[Response, int]:
    st = state()
    answer = warning_service.issue(
        db(),
        st.graphs.engine(request.args.get("graph")),
        row_id,
        _body(),
        area=st.area,
        settings=_settings(),
        actor=actor(),
        publish=st.publish,
        plan_cache=st.plan_cache,
    )
    return jsonify(answer), 201


@blueprint.post("/alerts/<int:alert_id>/<any(update, cancel):action>")
def alert_follow_up(alert_id: int, action: str) -> tuple[Response, int]:
    st = state()
    answer = warning_service.follow_up(
        db(),
        st.graphs.engine(request.args.get("graph")),
        alert_id,
        action,
        _body(),
        area=st.area,
        settings=_settings(),
        actor=actor(),
        publish=st.publish,
    )
    return jsonify(answer), 201


@blueprint.get("/alerts")
def alerts() -> Response:
    return jsonify({"alerts": warning_service.active(db())})


@blueprint.get("/incidents/<int:row_id>/alerts")
def incident_alerts(row_id: int) -> Response:
    return jsonify({"alerts": warning_service.of_incident(db(), row_id)})


@blueprint.get("/alerts/<int:alert_id>")
def alert(alert_id: int) -> Response:
    return jsonify(warning_service.one(db(), alert_id))


@blueprint.get("/alerts/<int:alert_id>.cap")
def alert_cap(alert_id: int) -> Response:
    xml, identifier = warning_service.cap_document(db(), alert_id)
    resp = Response(xml, mimetype="application/cap+xml")
    resp.headers["Content-Disposition"] = f'inline; filename="{identifier}.cap.xml"'
    return resp


@blueprint.get("/alerts.atom")
def alerts_atom() -> Response:
    xml = warning_service.atom(
        db(),
        settings=_settings(),
        self_url=url_for("api.alerts_atom", _external=True),
        cap_url=lambda i: url_for("api.alert_cap", alert_id=i, _external=True),
    )
    return Response(xml, mimetype="application/atom+xml")


@blueprint.get("/incidents/<int:row_id>/hazards")
def incident_hazards(row_id: int) -> Response:
    return jsonify({"hazards": hazard_service.watch(db(), row_id)})


@blueprint.post("/hazards/<int:hazard_id>/readings")
def hazard_reading(hazard_id: int) -> tuple[Response, int]:
    answer = hazard_service.add_reading(
        db(), hazard_id, params.json_body(), actor=actor(), publish=state().publish
    )
    return jsonify(answer), 201


@blueprint.get("/hazards/<int:hazard_id>/readings")
def hazard_readings(hazard_id: int) -> Response:
    return jsonify({"readings": hazard_service.readings(db(), hazard_id)})
