"""The OpenAPI 3 description of ``/api/v1``, built from the layer specs so it cannot drift."""

from __future__ import annotations

from typing import Any

from gis import fields as F

TYPES = {
    "text": {"type": "string"},
    "int": {"type": "integer"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "point": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    "area": {"$ref": "#/components/schemas/Geometry"},
    "object": {"type": "object"},
    "stock": {"type": "array", "items": {"$ref": "#/components/schemas/StockLine"}},
}

ERROR = {"$ref": "#/components/responses/Error"}
ERROR_SCHEMA = {"$ref": "#/components/schemas/Error"}


def _prop(f: F.Field) -> dict[str, Any]:
    if f.kind == "choice":
        out: dict[str, Any] = {"type": "string", "enum": list(f.choices)}
    elif f.kind == "choices":
        out = {"type": "array", "items": {"type": "string", "enum": list(f.choices)}}
    else:
        out = dict(TYPES[f.kind])
    if f.minimum is not None:
        out["minimum"] = f.minimum
    if f.maximum is not None:
        out["maximum"] = f.maximum
    if f.description:
        out["description"] = f.description
    return out


def _schema(spec: F.LayerSpec) -> dict[str, Any]:
    props = {f.name: _prop(f) for f in spec.fields}
    props.update(
        id={"type": "integer", "readOnly": True},
        version={"type": "integer", "description": "current version; send it back to update"},
    )
    return {
        "type": "object",
        "title": f"{spec.title_en} ({spec.title_zh})",
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "geometry": {
                "$ref": "#/components/schemas/Geometry",
                "description": f"one of {', '.join(sorted(spec.geometry_types))}, [lon, lat]",
            },
            "properties": {
                "type": "object",
                "additionalProperties": False,
                "required": [f.name for f in spec.fields if f.required],
                "properties": props,
            },
        },
        "required": ["type", "geometry", "properties"],
    }


def _collection_ops(kind: str, path_name: str) -> dict[str, Any]:
    spec = F.layer(kind)
    ref = {"$ref": f"#/components/schemas/{kind}"}
    filters = [
        {"name": f.name, "in": "query", "schema": {"type": "string"}, "description": "a,b,c"}
        for f in spec.filterable
    ]
    return {
        "get": {
            "summary": f"List {spec.title_en}",
            "tags": [kind],
            "parameters": [
                {"name": "bbox", "in": "query", "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                {"name": "after", "in": "query", "schema": {"type": "integer"}},
                {"name": "q", "in": "query", "schema": {"type": "string"}},
                *filters,
            ],
            "responses": {"200": {"description": "FeatureCollection with a next link"}},
        },
        "post": {
            "summary": f"Create one of {spec.title_en}",
            "tags": [kind],
            "requestBody": {"required": True, "content": {"application/geo+json": {"schema": ref}}},
            "responses": {"201": {"description": "the Feature created"}, "4XX": ERROR},
        },
    }


def _item_ops(kind: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{kind}"}
    rid = {"name": "row_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "parameters": [rid],
        "get": {"tags": [kind], "responses": {"200": {"description": "Feature"}, "404": ERROR}},
        "patch": {
            "tags": [kind],
            "summary": "Partial update; carry properties.version or If-Match",
            "requestBody": {"content": {"application/geo+json": {"schema": ref}}},
            "responses": {"200": {"description": "Feature"}, "409": ERROR, "4XX": ERROR},
        },
        "put": {"tags": [kind], "responses": {"200": {"description": "Feature"}, "4XX": ERROR}},
        "delete": {"tags": [kind], "responses": {"204": {"description": "deleted"}, "409": ERROR}},
    }


LONLAT = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
AVOID = {
    "description": "GeoJSON geometry, Feature or FeatureCollection: polygons are closed zones, "
    "lines and points close the roads within 12 m",
    "type": "object",
}
CLOSED = {"type": "array", "items": {"type": "integer"}, "description": "closed edge ids"}
GRAPH = {"type": "string", "description": "road graph name (default graph when omitted)"}


def _post(summary: str, props: dict[str, Any], required: list[str], answer: str) -> dict[str, Any]:
    schema = {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": {**props, "avoid": AVOID, "closed_edges": CLOSED, "graph": GRAPH},
    }
    return {
        "post": {
            "tags": ["routing"],
            "summary": summary,
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {"200": {"description": answer}, "4XX": ERROR},
        }
    }


def _routing_paths() -> dict[str, Any]:
    sources = {
        "oneOf": [
            {
                "type": "array",
                "items": {"type": "object", "properties": {"id": {}, "at": LONLAT}},
            },
            {
                "type": "object",
                "properties": {
                    "layer": {"enum": ["teams", "depots"]},
                    "filter": {"type": "object"},
                },
            },
        ]
    }
    return {
        "/api/v1/graphs": {"get": {"tags": ["routing"], "responses": {"200": {}}}},
        "/api/v1/graphs/{name}/roads": {"get": {"tags": ["routing"], "responses": {"200": {}}}},
        "/api/v1/route": _post(
            "Fastest route by road travel time",
            {"from": LONLAT, "to": LONLAT},
            ["from", "to"],
            "GeoJSON Feature: LineString, length_m, duration_s, steps",
        ),
        "/api/v1/nearest": _post(
            "The k sources nearest to a target by travel time source -> target",
            {
                "to": LONLAT,
                "sources": sources,
                "k": {"type": "integer", "minimum": 1},
                "max_s": {"type": "number"},
            },
            ["to", "sources"],
            "results ordered by duration_s: id, duration_s, length_m; skipped sources with why",
        ),
        "/api/v1/isochrone": _post(
            "Areas reachable within times",
            {
                "at": LONLAT,
                "times_s": {"type": "array", "items": {"type": "number"}},
                "direction": {"enum": ["from", "to"]},
            },
            ["at"],
            "FeatureCollection of polygons with time_s",
        ),
        "/api/v1/matrix": _post(
            "Travel times N x M",
            {
                "sources": {"type": "array", "items": LONLAT},
                "targets": {"type": "array", "items": LONLAT},
            },
            ["sources", "targets"],
            "durations_s (null where unreachable)",
        ),
    }


def build_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for kind in ("depots", "shelters", "teams", "hazards", "sites", "population"):
        base = f"/api/v1/layers/{kind}"
        paths[base] = _collection_ops(kind, base)
        paths[base + "/{row_id}"] = _item_ops(kind)
        paths[base + "/import"] = {
            "post": {
                "tags": [kind],
                "summary": "Import a FeatureCollection or CSV (lon/lat), all or nothing",
                "parameters": [
                    {"name": "crs", "in": "query", "schema": {"type": "string"}},
                    {"name": "format", "in": "query", "schema": {"enum": ["geojson", "csv"]}},
                ],
                "requestBody": {"content": {"multipart/form-data": {}, "text/csv": {}}},
                "responses": {"201": {"description": "imported"}, "4XX": ERROR},
            }
        }
        paths[base + "/export"] = {"get": {"tags": [kind], "responses": {"200": {}}}}
    paths["/api/v1/incidents"] = _collection_ops("incidents", "/api/v1/incidents")
    paths["/api/v1/incidents/{row_id}"] = _item_ops("incidents")
    for path in ("/api/v1/layers", "/api/v1/incident-types", "/api/v1/health", "/api/v1/audit"):
        paths[path] = {"get": {"responses": {"200": {"description": "JSON"}}}}
    paths.update(_routing_paths())
    paths["/api/v1/auth/login"] = {"post": {"responses": {"200": {}, "401": ERROR, "429": ERROR}}}
    schemas: dict[str, Any] = {kind: _schema(spec) for kind, spec in F.LAYERS.items()}
    schemas["Geometry"] = {"type": "object", "description": "GeoJSON geometry (RFC 7946)"}
    schemas["StockLine"] = {
        "type": "object",
        "properties": {name: _prop(f) for name, f in F.STOCK_LINE.items()},
    }
    schemas["Error"] = {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string", "nullable": True},
                },
            }
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "OneMap API",
            "version": "1",
            "description": "Emergency command-and-dispatch one map (应急指挥一张图).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "error naming the field and the problem",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
        },
        "security": [{"bearer": []}, {"cookie": []}],
    }
