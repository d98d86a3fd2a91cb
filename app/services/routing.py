"""Routing use case: route, nearest, isochrone and matrix requests over the graph store.

Parses request bodies into domain values (points, closures), calls the engine, serialises the
answers, and serves repeated identical route and isochrone requests from Redis, keyed by the
graph's version and the closure set so that a new graph or other closures never get a stale
answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import redis
import shapely
from sqlalchemy.orm import Session

from app.errors import BadRequest
from app.lru import Lru
from gis import crs as gcrs
from gis import fields as F
from gis import repository as repo
from gis.geometry import ServiceArea, parse_geometry, point_lonlat
from routing.engine import Closures, Engine, Route
from routing.store import GraphStore

LOGGER = logging.getLogger(__name__)
ROAD_BUFFER_M = 12.0  # a line or point in "avoid" closes the roads within this distance

SOURCE_LAYERS = ("teams", "depots")


class Cache:
    """JSON answers in Redis; every Redis failure is a miss (routing never depends on Redis).

    With ``local`` (the process's own :class:`app.lru.Lru`), the answers read or written last
    are also kept in the process, in front of Redis: a repeated answer costs no round trip and
    no copy of its text. Keys name everything the answer depends on (graph version, closures,
    request, state counter), so a kept answer is never stale, only evicted."""

    def __init__(
        self,
        client: redis.Redis | None,
        *,
        prefix: str,
        ttl: int,
        local: Lru[bytes] | None = None,
    ) -> None:
        self.client, self.prefix, self.ttl, self.local = client, prefix, ttl, local

    def key(self, kind: str, engine: Engine, closures: Closures, request: Mapping[str, Any]) -> str:
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:24]
        return f"{self.prefix}cache:{kind}:{engine.g.version}:{closures.key}:{digest}"

    def get(self, key: str) -> Any:
        raw = self.get_raw(key)
        return json.loads(raw) if raw else None

    def put(self, key: str, value: Any) -> None:
        self.put_raw(key, json.dumps(value).encode())

    def get_raw(self, key: str) -> bytes | None:
        """The stored JSON text as is: an answer served without parsing it again."""
        if self.local is not None:
            hit = self.local.get(key)
            if hit is not None:
                return hit
        if self.client is None:
            return None
        try:
            hit = self.client.get(key)
        except redis.RedisError as err:
            LOGGER.warning("route cache unavailable: %s", err)
            return None
        if hit is not None and self.local is not None:
            self.local.put(key, hit)
        return hit

    def put_raw(self, key: str, data: bytes) -> None:
        if self.local is not None:
            self.local.put(key, data)
        if self.client is None:
            return
        try:
            self.client.set(key, data, ex=self.ttl)
        except redis.RedisError as err:
            LOGGER.warning("route cache unavailable: %s", err)


# --- parsing ---------------------------------------------------------------------------------


def body_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        msg = "the request body must be a JSON object"
        raise BadRequest(msg, field="body")
    return body


def check_keys(body: Mapping[str, Any], allowed: set[str]) -> None:
    for key in body:
        if key not in allowed:
            msg = f"unknown field {key!r}; known: {', '.join(sorted(allowed))}"
            raise BadRequest(msg, field=key)


def point(body: Mapping[str, Any], key: str, area: ServiceArea | None) -> tuple[float, float]:
    if key not in body:
        msg = f"{key} is required, as [lon, lat]"
        raise BadRequest(msg, field=key)
    p = point_lonlat(body[key], field=key, area=area)
    return (p.x, p.y)


def closures(body: Mapping[str, Any], *, extra: Sequence[shapely.Geometry] = ()) -> Closures:
    """Closures from ``avoid`` (a GeoJSON geometry, Feature or FeatureCollection: polygons are
    zones; lines and points close the roads within a few metres) and ``closed_edges`` (ids)."""
    polys: list[shapely.Geometry] = list(extra)
    avoid = body.get("avoid")
    if avoid is not None:
        for i, geom in enumerate(_geometries(avoid)):
            polys.append(_as_zone(parse_geometry(geom, field=f"avoid[{i}]")))
    edges = body.get("closed_edges") or []
    if not isinstance(edges, list) or not all(
        isinstance(e, int) and not isinstance(e, bool) for e in edges
    ):
        msg = "closed_edges must be a list of edge ids"
        raise BadRequest(msg, field="closed_edges")
    return Closures(tuple(polys), frozenset(edges))


def _geometries(obj: Any) -> list[Any]:
    if not isinstance(obj, Mapping):
        msg = "avoid must be a GeoJSON geometry, Feature or FeatureCollection"
        raise BadRequest(msg, field="avoid")
    kind = obj.get("type")
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            msg = "a FeatureCollection needs a 'features' list"
            raise BadRequest(msg, field="avoid.features")
        return [f.get("geometry") if isinstance(f, Mapping) else f for f in feats]
    if kind == "Feature":
        return [obj.get("geometry")]
    return [obj]


def _as_zone(geom: shapely.Geometry) -> shapely.Geometry:
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    metric, crs = gcrs.to_metric(geom)
    return gcrs.from_metric(metric.buffer(ROAD_BUFFER_M), crs)


# --- queries ---------------------------------------------------------------------------------


def route(
    store: GraphStore, body: Any, *, area: ServiceArea | None, cache: Cache
) -> dict[str, Any]:
    body = body_object(body)
    check_keys(body, {"from", "to", "avoid", "closed_edges", "graph"})
    origin, dest = point(body, "from", area), point(body, "to", area)
    cl = closures(body)
    engine = store.engine(body.get("graph"))
    key = cache.key("route", engine, cl, {"from": origin, "to": dest})
    hit = cache.get(key)
    if hit is not None:
        hit["properties"]["cached"] = True
        return hit
    answer = route_feature(engine.route(origin, dest, closures=cl), engine)
    cache.put(key, answer)
    return answer


def route_feature(r: Route, engine: Engine) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": np.round(r.coords, 7).tolist()},
        "properties": {
            "length_m": round(float(r.length_m), 2),
            "duration_s": round(float(r.duration_s), 3),
            "steps": [
                {
                    "name": s.name,
                    "maneuver": s.maneuver,
                    "distance_m": float(s.distance_m),
                    "duration_s": float(s.duration_s),
                    "location": [round(float(s.location[0]), 7), round(float(s.location[1]), 7)],
                }
                for s in r.steps
            ],
            "graph": engine.g.name,
            "graph_version": engine.g.version,
            "cached": False,
        },
    }


def nearest(
    store: GraphStore,
    session: Session,
    body: Any,
    *,
    area: ServiceArea | None,
    max_points: int,
) -> dict[str, Any]:
    body = body_object(body)
    check_keys(body, {"to", "sources", "k", "max_s", "avoid", "closed_edges", "graph"})
    target = point(body, "to", area)
    ids, points = _sources(session, body.get("sources"), area, max_points)
    k = body.get("k", 5)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise BadRequest("k must be a whole number >= 1", field="k")
    max_s = body.get("max_s")
    if max_s is not None and (
        isinstance(max_s, bool) or not isinstance(max_s, int | float) or max_s <= 0
    ):
        raise BadRequest("max_s must be a positive number of seconds", field="max_s")
    engine = store.engine(body.get("graph"))
    hits, skipped = engine.nearest(target, points, k=k, max_s=max_s, closures=closures(body))
    return {
        "results": [
            {
                "id": ids[h.index],
                "duration_s": round(h.duration_s, 3),
                "length_m": round(float(h.length_m), 2),
            }
            for h in hits
        ],
        "skipped": [{"id": ids[i], "reason": why} for i, why in sorted(skipped.items())],
        "graph": engine.g.name,
    }


def _sources(
    session: Session, sources: Any, area: ServiceArea | None, max_points: int
) -> tuple[list[Any], list[tuple[float, float]]]:
    if isinstance(sources, Mapping):
        return _layer_sources(session, sources, max_points)
    if not isinstance(sources, list) or not sources:
        msg = (
            'sources must be a list of {"id": ..., "at": [lon, lat]} or '
            '{"layer": "teams", "filter": {...}}'
        )
        raise BadRequest(msg, field="sources")
    if len(sources) > max_points:
        raise BadRequest(f"at most {max_points} sources", field="sources")
    ids, pts = [], []
    for i, s in enumerate(sources):
        if not isinstance(s, Mapping) or "at" not in s:
            raise BadRequest('each source is {"id": ..., "at": [lon, lat]}', field=f"sources[{i}]")
        p = point_lonlat(s["at"], field=f"sources[{i}].at", area=area)
        ids.append(s.get("id", i))
        pts.append((p.x, p.y))
    return ids, pts


def _layer_sources(
    session: Session, spec: Mapping[str, Any], max_points: int
) -> tuple[list[Any], list[tuple[float, float]]]:
    from geoalchemy2.shape import to_shape

    layer = spec.get("layer")
    if layer not in SOURCE_LAYERS:
        raise BadRequest(f"layer must be one of {', '.join(SOURCE_LAYERS)}", field="sources.layer")
    raw = spec.get("filter") or {}
    if not isinstance(raw, Mapping):
        raise BadRequest(
            'filter must be an object such as {"type": "fire"}', field="sources.filter"
        )
    allowed = {f.name: f for f in F.layer(layer).filterable}
    filters = {}
    for key, value in raw.items():
        f = allowed.get(key)
        if f is None:
            msg = f"cannot filter {layer} by {key!r}; by: {', '.join(allowed)}"
            raise BadRequest(msg, field=f"sources.filter.{key}")
        values = value if isinstance(value, list) else [value]
        for v in values:
            F.clean_value(f, v, name=f"sources.filter.{key}")
        filters[key] = values
    rows = repo.list_rows(session, layer, filters=filters, limit=max_points)
    ids = [r.id for r in rows]
    pts = [(p.x, p.y) for p in (to_shape(r.geom) for r in rows)]
    if not ids:
        raise BadRequest(f"no {layer} match the filter", field="sources.filter")
    return ids, pts


def isochrone(
    store: GraphStore, body: Any, *, area: ServiceArea | None, cache: Cache
) -> dict[str, Any]:
    body = body_object(body)
    check_keys(body, {"at", "times_s", "direction", "avoid", "closed_edges", "graph"})
    at = point(body, "at", area)
    times = body.get("times_s", [600])
    if (
        not isinstance(times, list)
        or not times
        or len(times) > 10
        or not all(
            isinstance(t, int | float) and not isinstance(t, bool) and 0 < t <= 4 * 3600
            for t in times
        )
    ):
        raise BadRequest(
            "times_s must be 1-10 times in seconds, each 0 < t <= 14400", field="times_s"
        )
    direction = body.get("direction", "from")
    cl = closures(body)
    engine = store.engine(body.get("graph"))
    key = cache.key("isochrone", engine, cl, {"at": at, "times": times, "direction": direction})
    hit = cache.get(key)
    if hit is not None:
        hit["cached"] = True
        return hit
    areas = engine.isochrone(at, times, direction=direction, closures=cl)
    answer = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(shapely.set_precision(poly, 1e-7)),
                "properties": {"time_s": t, "direction": direction},
            }
            for t, poly in areas
        ],
        "graph": engine.g.name,
        "cached": False,
    }
    answer = json.loads(json.dumps(answer))
    cache.put(key, answer)
    return answer


def matrix(
    store: GraphStore, body: Any, *, area: ServiceArea | None, max_points: int
) -> dict[str, Any]:
    body = body_object(body)
    check_keys(body, {"sources", "targets", "avoid", "closed_edges", "graph"})
    pts = {}
    for side in ("sources", "targets"):
        raw = body.get(side)
        if not isinstance(raw, list) or not raw:
            raise BadRequest(f"{side} must be a non-empty list of [lon, lat]", field=side)
        if len(raw) > max_points:
            raise BadRequest(f"at most {max_points} {side}", field=side)
        pts[side] = [
            (p.x, p.y)
            for p in (point_lonlat(v, field=f"{side}[{i}]", area=area) for i, v in enumerate(raw))
        ]
    engine = store.engine(body.get("graph"))
    times, skipped = engine.matrix_report(pts["sources"], pts["targets"], closures=closures(body))
    return {
        "durations_s": [
            [round(float(t), 3) if np.isfinite(t) else None for t in row] for row in times
        ],
        "skipped": [
            {"side": side, "index": i, "reason": why}
            for side, items in skipped.items()
            for i, why in sorted(items.items())
        ],
        "graph": engine.g.name,
    }


def roads(
    store: GraphStore,
    name: str | None,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    max_span_deg: float | None = None,
    decimals: int = 6,
    properties: bool = True,
) -> dict[str, Any]:
    """The graph's roads as a GeoJSON FeatureCollection (one line per street piece, both
    directions as one), for drawing an offline base map; only the pieces that meet ``bbox``
    (lon/lat) when given, which may span at most ``max_span_deg`` degrees each way."""
    engine = store.engine(name)
    g = engine.g
    if bbox is not None:
        if max_span_deg is not None and max(bbox[2] - bbox[0], bbox[3] - bbox[1]) > max_span_deg:
            msg = f"bbox may span at most {max_span_deg:g} degrees"
            raise BadRequest(msg, field="bbox")
        ids = np.sort(engine.edge_tree.query(shapely.box(*bbox), predicate="intersects"))
    else:
        ids = np.arange(g.n_edges)
    feats = []
    keep = set(ids.tolist())
    for e in ids.tolist():
        tw = int(g.edge_twin[e])
        if 0 <= tw < e and tw in keep:  # both directions drawn once
            continue
        feat: dict[str, Any] = {
            "type": "Feature",
            "geometry": {
                "type": "LineString",
                "coordinates": np.round(g.edge_coords(e), decimals).tolist(),
            },
            "properties": {"name": g.street(e), "oneway": tw < 0} if properties else {},
        }
        feats.append(feat)
    return {"type": "FeatureCollection", "features": feats, "graph": g.name}
