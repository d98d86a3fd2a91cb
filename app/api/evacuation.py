"""Evacuation endpoints: preview or commit an incident's evacuation, list the committed ones.
Views parse, call one service, serialise."""

from __future__ import annotations

from flask import Response, jsonify, request

from app.api import blueprint, params
from app.auth import actor
from app.extensions import db, state
from app.services import evacuation as evacuation_service


@blueprint.post("/incidents/<int:row_id>/evacuation")
def evacuation(row_id: int) -> tuple[Response, int]:
    st = state()
    body = params.json_body() if request.get_data().strip() else None
    answer, committed = evacuation_service.evacuate(
        db(),
        st.graphs,
        row_id,
        body,
        graph=request.args.get("graph"),
        area=st.area,
        actor=actor(),
        publish=st.publish,
        plan_cache=st.plan_cache,
    )
    return jsonify(answer), 201 if committed else 200


@blueprint.get("/incidents/<int:row_id>/evacuations")
def evacuations(row_id: int) -> Response:
    return jsonify({"evacuations": evacuation_service.of_incident(db(), row_id)})
