"""Routing endpoints: graphs, route, nearest, isochrone, matrix. Each parses, calls the routing
service once, and serialises."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request

from app.api import blueprint, params
from app.extensions import db, state
from app.services import routing as service


def answer_cache() -> service.Cache:
    """The Redis cache of computed answers (routes, isochrones, proposals)."""
    cfg = current_app.config
    st = state()
    return service.Cache(
        st.redis, prefix=cfg["REDIS_PREFIX"], ttl=cfg["ROUTE_CACHE_TTL_S"], local=st.answers
    )


@blueprint.get("/graphs")
def graphs() -> Response:
    return jsonify({"graphs": state().graphs.describe()})


@blueprint.get("/graphs/<name>/roads")
def graph_roads(name: str) -> Response:
    resp = jsonify(
        service.roads(
            state().graphs,
            None if name == "default" else name,
            bbox=params.bbox(request.args.get("bbox")),
        )
    )
    resp.mimetype = "application/geo+json"
    resp.cache_control.max_age = 3600
    return resp


@blueprint.post("/route")
def route() -> Response:
    st = state()
    answer = service.route(st.graphs, params.json_body(), area=st.area, cache=answer_cache())
    resp = jsonify(answer)
    resp.mimetype = "application/geo+json"
    return resp


@blueprint.post("/nearest")
def nearest() -> Response:
    st = state()
    limit = current_app.config["MAX_QUERY_POINTS"]
    answer = service.nearest(st.graphs, db(), params.json_body(), area=st.area, max_points=limit)
    return jsonify(answer)


@blueprint.post("/isochrone")
def isochrone() -> Response:
    st = state()
    answer = service.isochrone(st.graphs, params.json_body(), area=st.area, cache=answer_cache())
    resp = jsonify(answer)
    resp.mimetype = "application/geo+json"
    return resp


@blueprint.post("/matrix")
def matrix() -> Response:
    st = state()
    limit = current_app.config["MAX_QUERY_POINTS"]
    return jsonify(service.matrix(st.graphs, params.json_body(), area=st.area, max_points=limit))
