"""Layer endpoints: ``/api/v1/layers/<kind>[/<id>]``, imports, exports, ``/api/v1/incidents``.

Views parse the request, call one service, and serialise the answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from flask import Response, current_app, jsonify, request, stream_with_context, url_for

from app.api import blueprint, params
from app.auth import actor
from app.extensions import db, state
from app.services import layers as service
from gis import fields as F
from gis.errors import NotFound
from gis.io import feature_collection

LAYER_KINDS = ("depots", "shelters", "teams", "hazards", "sites", "population")


def _kind(kind: str) -> str:
    if kind not in LAYER_KINDS:
        msg = f"unknown layer {kind!r}; known: {', '.join(LAYER_KINDS)}"
        raise NotFound(msg, field="kind")
    return kind


def _feature_response(feature: dict, status: int = 200) -> Response:
    resp = jsonify(feature)
    resp.status_code = status
    resp.headers["ETag"] = f'W/"{feature["properties"]["version"]}"'
    resp.mimetype = "application/geo+json"
    return resp


@blueprint.get("/layers")
def layers_index() -> Response:
    counts = service.counts(db(), LAYER_KINDS)
    return jsonify(
        {
            "layers": [
                {
                    "kind": kind,
                    "title_zh": F.layer(kind).title_zh,
                    "title_en": F.layer(kind).title_en,
                    "count": counts[kind],
                    "href": url_for("api.list_layer", kind=kind, _external=False),
                }
                for kind in LAYER_KINDS
            ]
        }
    )


def _list(layer_kind: str, endpoint: str, **route: str) -> Response:
    kind = layer_kind
    spec = F.layer(kind)
    cfg = current_app.config
    limit = params.integer(
        "limit", request.args.get("limit"), minimum=1, maximum=cfg["PAGE_LIMIT_MAX"]
    )
    limit = limit or cfg["PAGE_LIMIT"]
    after = params.integer("after", request.args.get("after"), minimum=0)
    features, next_after = service.listing(
        db(),
        kind,
        bbox=params.bbox(request.args.get("bbox")),
        filters=params.filters(spec, request.args),
        text=request.args.get("q") or None,
        limit=limit,
        after=after,
    )
    links = [{"rel": "self", "href": request.full_path.rstrip("?")}]
    if next_after is not None:
        args = {k: v for k, v in request.args.items() if k != "after"}
        href = url_for(endpoint, **route, **args, after=next_after)
        links.append({"rel": "next", "href": href})
    body = feature_collection(features, numberReturned=len(features), links=links)
    resp = jsonify(body)
    resp.mimetype = "application/geo+json"
    return resp


@blueprint.get("/layers/<kind>")
def list_layer(kind: str) -> Response:
    return _list(_kind(kind), "api.list_layer", kind=kind)


@blueprint.get("/incidents")
def list_incidents() -> Response:
    return _list("incidents", "api.list_incidents")


def _create(kind: str) -> Response:
    st = state()
    feature = service.create(
        db(), kind, params.json_body(), actor=actor(), area=st.area, publish=st.publish
    )
    resp = _feature_response(feature, 201)
    resp.headers["Location"] = _self_href(kind, feature["id"])
    return resp


@blueprint.post("/layers/<kind>")
def create_feature(kind: str) -> Response:
    return _create(_kind(kind))


@blueprint.post("/incidents")
def create_incident() -> Response:
    return _create("incidents")


def _one(kind: str, row_id: int) -> Response:
    st = state()
    if request.method == "GET":
        return _feature_response(service.get(db(), kind, row_id))
    if request.method == "DELETE":
        version = params.version_from_headers()
        if version is None:
            version = params.integer("version", request.args.get("version"), minimum=1)
        service.delete(db(), kind, row_id, version=version, actor=actor(), publish=st.publish)
        return Response(status=204)
    feature = service.update(
        db(),
        kind,
        row_id,
        params.json_body(),
        version=params.version_from_headers(),
        actor=actor(),
        area=st.area,
        publish=st.publish,
    )
    return _feature_response(feature)


@blueprint.route("/layers/<kind>/<int:row_id>", methods=["GET", "PUT", "PATCH", "DELETE"])
def feature(kind: str, row_id: int) -> Response:
    return _one(_kind(kind), row_id)


@blueprint.route("/incidents/<int:row_id>", methods=["GET", "PUT", "PATCH", "DELETE"])
def incident(row_id: int) -> Response:
    return _one("incidents", row_id)


def _self_href(kind: str, row_id: int) -> str:
    if kind == "incidents":
        return url_for("api.incident", row_id=row_id)
    return url_for("api.feature", kind=kind, row_id=row_id)


@blueprint.post("/layers/<kind>/import")
def import_layer(kind: str) -> Response:
    """Import a FeatureCollection or a CSV: as the raw body, or as the multipart field ``file``."""
    _kind(kind)
    upload = request.files.get("file")
    if upload is not None:
        data, filename = upload.read(), upload.filename
    else:
        data, filename = request.get_data(), None
    fmt = request.args.get("format") or request.form.get("format") or _format_from_type()
    crs = request.args.get("crs") or request.form.get("crs") or None
    st = state()
    result = service.import_file(
        db(),
        kind,
        data,
        filename=filename,
        fmt=fmt,
        crs=crs,
        area=st.area,
        max_rows=current_app.config["MAX_IMPORT_ROWS"],
        actor=actor(),
        publish=st.publish,
    )
    return jsonify(result), 201


def _format_from_type() -> str | None:
    mime = (request.mimetype or "").lower()
    if mime in ("application/geo+json", "application/json"):
        return "geojson"
    if mime in ("text/csv", "application/csv"):
        return "csv"
    return None


@blueprint.get("/layers/<kind>/export")
def export_layer(kind: str) -> Response:
    """The whole layer as one GeoJSON file, streamed in pages."""
    _kind(kind)
    session = db()

    def pages() -> Iterator[str]:
        yield '{"type": "FeatureCollection", "features": ['
        after, first = None, True
        while True:
            features, after = service.listing(
                session, kind, bbox=None, filters={}, text=None, limit=1000, after=after
            )
            for f in features:
                yield ("" if first else ",") + json.dumps(f, ensure_ascii=False)
                first = False
            if after is None:
                break
        yield "]}"

    resp = Response(stream_with_context(pages()), mimetype="application/geo+json")
    resp.headers["Content-Disposition"] = f'attachment; filename="{kind}.geojson"'
    return resp
