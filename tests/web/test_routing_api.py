"""The routing API over the Flask test client, on the real PostGIS and Redis.

The graph is a small hand-built "ladder" saved into the app's graph store, so every expected
answer can be worked out by hand (0.002 deg of longitude and 0.001 deg of latitude are both about
111 m here; times and lengths are made-up round numbers):

    U0 --Upper St 25 s-- U1 --Upper St 25 s-- U2
    |                    |                    |
    West Rd 30 s       Mid Rd 30 s         East Rd 30 s         I0 --Island Rd 20 s-- I1
    |                    |                    |                  (not connected)
    L0 --Lower St 20 s-- L1 --Lower St 20 s-- L2

Every street is two-way and every piece is 100 m long. A point at the middle of a piece leaves it
with half the piece's time either way.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from routing.graph import RoadGraph, from_edges

GRAPH = "hand-ladder"
LON0, LAT0 = 24.940, 60.170
DX, DY = 0.002, 0.001


def at(i: float, j: float) -> list[float]:
    return [round(LON0 + i * DX, 9), round(LAT0 + j * DY, 9)]


NODES = {
    "L0": at(0, 0),
    "L1": at(1, 0),
    "L2": at(2, 0),
    "U0": at(0, 1),
    "U1": at(1, 1),
    "U2": at(2, 1),
    "I0": at(4, 0),
    "I1": at(5, 0),
}
ROADS = [
    ("L0", "L1", 20, "Lower St"),
    ("L1", "L2", 20, "Lower St"),
    ("U0", "U1", 25, "Upper St"),
    ("U1", "U2", 25, "Upper St"),
    ("L0", "U0", 30, "West Rd"),
    ("L1", "U1", 30, "Mid Rd"),
    ("L2", "U2", 30, "East Rd"),
    ("I0", "I1", 20, "Island Rd"),
]

M_L01 = at(0.5, 0)  # middle of Lower St, west block
M_L12 = at(1.5, 0)  # middle of Lower St, east block
M_U12 = at(1.5, 1)  # middle of Upper St, east block
M_W = at(0, 0.5)  # middle of West Rd
M_E = at(2, 0.5)  # middle of East Rd
M_I = at(4.5, 0)  # middle of Island Rd
FAR = [24.955, 60.184]  # inside the service area, 1.5 km from any road


def ladder(factor: float = 1.0, *, name: str = GRAPH) -> RoadGraph:
    """The ladder with every time multiplied by ``factor``."""
    keys = list(NODES)
    u, v, length, time, names, coords = [], [], [], [], [], []
    for a, b, secs, street in ROADS:
        for x, y in ((a, b), (b, a)):
            u.append(keys.index(x))
            v.append(keys.index(y))
            length.append(100.0)
            time.append(secs * factor)
            names.append(street)
            coords.append(np.array([NODES[x], NODES[y]]))
    lon = np.array([NODES[k][0] for k in keys])
    lat = np.array([NODES[k][1] for k in keys])
    return from_edges(lon, lat, u, v, length, time, names, coords, meta={"name": name})


def box(center: list[float], half: float = 0.0002) -> dict:
    x, y = center
    return shapely.geometry.mapping(shapely.box(x - half, y - half, x + half, y + half))


@pytest.fixture(scope="module")
def graph(app) -> RoadGraph:
    g = ladder()
    app.extensions["onemap"].graphs.save(g, GRAPH)
    return g


def post(client, url, body, headers):
    return client.post(url, data=json.dumps(body), headers=headers, content_type="application/json")


def error_of(r, status: int) -> dict:
    assert r.status_code == status, r.get_json()
    return r.get_json()["error"]


# --- graphs ----------------------------------------------------------------------------------


def test_graphs_lists_name_bbox_size_and_version(client, auth, graph):
    r = client.get("/api/v1/graphs", headers=auth["viewer"])
    assert r.status_code == 200
    rows = {g["name"]: g for g in r.get_json()["graphs"]}
    row = rows[GRAPH]
    assert row["bbox"] == pytest.approx([24.940, 60.170, 24.950, 60.171])
    assert (row["nodes"], row["edges"]) == (8, 16)
    assert row["version"] == graph.version


def test_graph_roads_one_line_per_street_piece(client, auth, graph):
    r = client.get(f"/api/v1/graphs/{GRAPH}/roads", headers=auth["viewer"])
    assert r.status_code == 200
    assert r.mimetype == "application/geo+json"
    body = r.get_json()
    assert body["type"] == "FeatureCollection"
    assert body["graph"] == GRAPH
    # 8 two-way pieces, each drawn once.
    assert len(body["features"]) == 8
    names = sorted(f["properties"]["name"] for f in body["features"])
    assert names == sorted(street for *_, street in ROADS)
    assert not any(f["properties"]["oneway"] for f in body["features"])
    assert all(f["geometry"]["type"] == "LineString" for f in body["features"])
    r = client.get("/api/v1/graphs/nowhere/roads", headers=auth["viewer"])
    assert error_of(r, 404)["code"] == "unknown_graph"


# --- route -----------------------------------------------------------------------------------


def test_route_is_a_geojson_feature(client, auth, graph):
    r = post(client, "/api/v1/route", {"from": M_W, "to": M_E, "graph": GRAPH}, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/geo+json"
    f = r.get_json()
    assert f["type"] == "Feature"
    assert f["geometry"]["type"] == "LineString"
    line = f["geometry"]["coordinates"]
    assert line[0] == pytest.approx(M_W)
    assert line[-1] == pytest.approx(M_E)
    props = f["properties"]
    # Down West Rd 15 s, Lower St 20 + 20 s, up East Rd 15 s = 70 s; 50 + 200 + 50 = 300 m.
    assert props["duration_s"] == pytest.approx(70.0)
    assert props["length_m"] == pytest.approx(300.0)
    assert [(s["name"], s["maneuver"]) for s in props["steps"]] == [
        ("West Rd", "depart"),
        ("Lower St", "turn left"),
        ("East Rd", "turn left"),
        ("East Rd", "arrive"),
    ]
    assert sum(s["distance_m"] for s in props["steps"]) == pytest.approx(300.0)
    assert props["graph"] == GRAPH
    assert props["graph_version"] == graph.version
    assert props["cached"] is False


@pytest.mark.parametrize(
    "avoid",
    [
        box(M_L01),  # a polygon over the middle of L0-L1
        {"type": "Feature", "geometry": box(M_L01), "properties": {}},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": box(M_L01)}]},
        # a line across L0-L1 closes the road within a few metres of it
        {"type": "LineString", "coordinates": [at(0.5, -0.2), at(0.5, 0.2)]},
    ],
    ids=["polygon", "feature", "collection", "line"],
)
def test_route_avoid_forces_the_detour(client, auth, graph, avoid):
    body = {"from": M_W, "to": M_E, "avoid": avoid, "graph": GRAPH}
    r = post(client, "/api/v1/route", body, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    # Over the top instead: 15 + 25 + 25 + 15 = 80 s, 10 s more than along Lower St.
    assert r.get_json()["properties"]["duration_s"] == pytest.approx(80.0)
    names = {s["name"] for s in r.get_json()["properties"]["steps"]}
    assert names == {"West Rd", "Upper St", "East Rd"}


def test_route_no_path_because_of_a_closure(client, auth, graph):
    # A strip across both Lower St and Upper St west of Mid Rd cuts West Rd off.
    strip = shapely.geometry.mapping(shapely.box(24.9408, 60.1695, 24.9412, 60.1715))
    body = {"from": M_W, "to": M_E, "avoid": strip, "graph": GRAPH}
    err = error_of(post(client, "/api/v1/route", body, auth["viewer"]), 422)
    assert err["code"] == "no_path"
    assert err["reason"] == "closed"
    assert err["field"] == "avoid"
    assert "closed" in err["message"]


def test_route_to_the_island_is_unreachable(client, auth, graph):
    body = {"from": M_W, "to": M_I, "graph": GRAPH}
    err = error_of(post(client, "/api/v1/route", body, auth["viewer"]), 422)
    assert err["code"] == "no_path"
    assert err["reason"] == "unreachable"


def test_route_from_inside_a_closure(client, auth, graph):
    body = {"from": M_L01, "to": M_E, "avoid": box(M_L01), "graph": GRAPH}
    err = error_of(post(client, "/api/v1/route", body, auth["viewer"]), 422)
    assert (err["code"], err["reason"], err["field"]) == ("no_path", "inside_closure", "from")


# --- bad input -------------------------------------------------------------------------------

BOWTIE = {
    "type": "Polygon",
    "coordinates": [[at(0.4, -0.1), at(0.6, 0.1), at(0.6, -0.1), at(0.4, 0.1), at(0.4, -0.1)]],
}


ROUTE_BAD = [  # (case, body, status, field, words in the message)
    ("missing-from", {"to": M_E}, 400, "from", "required"),
    ("swapped", {"from": [M_W[1], M_W[0]], "to": M_E}, 422, "from.coordinates", "swapped"),
    ("short-pair", {"from": M_W, "to": [24.94]}, 422, "to", "[lon, lat]"),
    ("unknown-field", {"from": M_W, "to": M_E, "via": M_L12}, 400, "via", "unknown field"),
    ("invalid-avoid", {"from": M_W, "to": M_E, "avoid": BOWTIE}, 422, "avoid[0]", "invalid"),
    ("avoid-not-geojson", {"from": M_W, "to": M_E, "avoid": "Lower St"}, 400, "avoid", "GeoJSON"),
    (
        "closed-edges-not-list",
        {"from": M_W, "to": M_E, "closed_edges": "all"},
        400,
        "closed_edges",
        "edge ids",
    ),
    (
        "closed-edge-out-of-range",
        {"from": M_W, "to": M_E, "closed_edges": [999]},
        422,
        "closed_edges",
        "edge ids",
    ),
    ("too-far", {"from": M_W, "to": FAR}, 422, "to", "open road"),
    ("unknown-graph", {"from": M_W, "to": M_E, "graph": "nowhere"}, 404, "graph", "nowhere"),
    ("bad-graph-name", {"from": M_W, "to": M_E, "graph": "../etc"}, 422, "graph", "graph names"),
]


def test_route_bad_input_names_the_field(client, auth, graph):
    for case, body, status, field, words in ROUTE_BAD:
        r = post(client, "/api/v1/route", {"graph": GRAPH, **body}, auth["viewer"])
        assert r.status_code == status, (case, r.get_json())
        err = r.get_json()["error"]
        assert err["field"] == field, (case, err)
        assert words in err["message"], (case, err)


def test_route_too_far_from_road(client, auth, graph):
    body = {"from": FAR, "to": M_E, "graph": GRAPH}
    err = error_of(post(client, "/api/v1/route", body, auth["viewer"]), 422)
    assert err["code"] == "too_far_from_road"
    assert err["field"] == "from"
    assert "500 m" in err["message"]


def test_route_graph_must_be_a_name(client, auth, graph):
    r = post(client, "/api/v1/route", {"from": M_W, "to": M_E, "graph": 5}, auth["viewer"])
    assert 400 <= r.status_code < 500, r.get_json()
    assert r.get_json()["error"]["field"] == "graph"


def test_empty_or_broken_body(client, auth, graph):
    r = client.post(
        "/api/v1/route", data="", headers=auth["viewer"], content_type="application/json"
    )
    assert error_of(r, 400)["field"] == "body"
    r = client.post(
        "/api/v1/route", data="{", headers=auth["viewer"], content_type="application/json"
    )
    assert error_of(r, 400)["field"] == "body"
    assert (
        error_of(post(client, "/api/v1/route", [M_W, M_E], auth["viewer"]), 400)["field"] == "body"
    )


# --- nearest ---------------------------------------------------------------------------------

SOURCES = [
    {"id": "east-rd", "at": M_E},  # 15 + 20 + 10 = 45 s, 200 m
    {"id": "lower-east", "at": M_L12},  # 10 + 10 = 20 s, 100 m
    {"id": "upper-east", "at": M_U12},  # 12.5 + 30 + 10 = 52.5 s, 200 m
    {"id": "far", "at": FAR},
]


def test_nearest_explicit_sources(client, auth, graph):
    body = {"to": M_L01, "sources": SOURCES, "k": 2, "graph": GRAPH}
    r = post(client, "/api/v1/nearest", body, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert answer["results"] == [
        {"id": "lower-east", "duration_s": pytest.approx(20.0), "length_m": pytest.approx(100.0)},
        {"id": "east-rd", "duration_s": pytest.approx(45.0), "length_m": pytest.approx(200.0)},
    ]
    assert answer["skipped"] == [{"id": "far", "reason": "too_far_from_road"}]
    assert answer["graph"] == GRAPH
    body = {"to": M_L01, "sources": SOURCES, "k": 5, "max_s": 50, "graph": GRAPH}
    ids = [
        h["id"] for h in post(client, "/api/v1/nearest", body, auth["viewer"]).get_json()["results"]
    ]
    assert ids == ["lower-east", "east-rd"]
    body["max_s"] = 60
    ids = [
        h["id"] for h in post(client, "/api/v1/nearest", body, auth["viewer"]).get_json()["results"]
    ]
    assert ids == ["lower-east", "east-rd", "upper-east"]


def test_nearest_with_avoid(client, auth, graph):
    # Closing the middle of L1-L2: "lower-east" stands in the zone and is skipped; "east-rd"
    # comes up East Rd, along Upper St and down Mid Rd: 15 + 25 + 30 + 10 = 80 s.
    body = {"to": M_L01, "sources": SOURCES[:3], "avoid": box(M_L12), "graph": GRAPH}
    answer = post(client, "/api/v1/nearest", body, auth["viewer"]).get_json()
    assert [(h["id"], h["duration_s"]) for h in answer["results"]] == [
        ("upper-east", pytest.approx(52.5)),
        ("east-rd", pytest.approx(80.0)),
    ]
    assert answer["skipped"] == [{"id": "lower-east", "reason": "inside_closure"}]


def test_nearest_unreachable_source_is_left_out(client, auth, graph):
    body = {"to": M_L01, "sources": [{"id": "island", "at": M_I}, SOURCES[1]], "graph": GRAPH}
    r = post(client, "/api/v1/nearest", body, auth["viewer"])
    assert r.status_code == 200
    assert b"Infinity" not in r.data
    assert [h["id"] for h in r.get_json()["results"]] == ["lower-east"]


def _team(client, auth, name: str, kind: str, where: list[float]) -> int:
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": where},
        "properties": {"name": name, "type": kind, "status": "available"},
    }
    r = post(client, "/api/v1/layers/teams", feature, auth["dispatcher"])
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_nearest_teams_from_the_layer_by_type(client, auth, graph):
    fire_far = _team(client, auth, "Fire far", "fire", M_E)  # 15 + 20 + 10 = 45 s
    medic = _team(client, auth, "Medic", "medical", M_L12)  # 20 s, but not a fire team
    fire_third = _team(client, auth, "Fire third", "fire", M_U12)  # 12.5 + 30 + 10 = 52.5 s
    fire_near = _team(client, auth, "Fire near", "fire", M_W)  # 15 + 10 = 25 s
    body = {
        "to": M_L01,
        "sources": {"layer": "teams", "filter": {"type": "fire"}},
        "k": 2,
        "graph": GRAPH,
    }
    r = post(client, "/api/v1/nearest", body, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    results = r.get_json()["results"]
    assert [h["id"] for h in results] == [fire_near, fire_far]
    assert [h["duration_s"] for h in results] == pytest.approx([25.0, 45.0])
    assert [h["length_m"] for h in results] == pytest.approx([100.0, 200.0])
    body["k"] = 5
    results = post(client, "/api/v1/nearest", body, auth["viewer"]).get_json()["results"]
    assert [h["id"] for h in results] == [fire_near, fire_far, fire_third]
    assert medic not in [h["id"] for h in results]
    body["sources"] = {"layer": "teams", "filter": {"type": "medical"}}
    results = post(client, "/api/v1/nearest", body, auth["viewer"]).get_json()["results"]
    assert [h["id"] for h in results] == [medic]


NEAREST_BAD = [  # (case, change to a good body, status, field)
    ("k-zero", {"k": 0}, 400, "k"),
    ("k-float", {"k": 1.5}, 400, "k"),
    ("k-bool", {"k": True}, 400, "k"),
    ("max-s-negative", {"max_s": -5}, 400, "max_s"),
    ("max-s-text", {"max_s": "soon"}, 400, "max_s"),
    ("no-sources", {"sources": []}, 400, "sources"),
    ("source-without-at", {"sources": [{"id": "x"}]}, 400, "sources[0]"),
    (
        "source-swapped",
        {"sources": [{"id": "x", "at": [60.17, 24.94]}]},
        422,
        "sources[0].at.coordinates",
    ),
    ("not-a-source-layer", {"sources": {"layer": "hazards"}}, 400, "sources.layer"),
    (
        "filter-not-filterable",
        {"sources": {"layer": "teams", "filter": {"headcount": 3}}},
        400,
        "sources.filter.headcount",
    ),
    (
        "filter-bad-value",
        {"sources": {"layer": "teams", "filter": {"type": "pilot"}}},
        422,
        "sources.filter.type",
    ),
    (
        "no-team-matches",
        {"sources": {"layer": "teams", "filter": {"type": "fire"}}},
        400,
        "sources.filter",
    ),
    ("target-too-far", {"to": FAR}, 422, "to"),
    ("unknown-field", {"from": M_W}, 400, "from"),
]


def test_nearest_bad_input_names_the_field(client, auth, graph):
    for case, patch, status, field in NEAREST_BAD:
        body = {"to": M_L01, "sources": SOURCES[:2], "graph": GRAPH, **patch}
        r = post(client, "/api/v1/nearest", body, auth["viewer"])
        assert r.status_code == status, (case, r.get_json())
        assert r.get_json()["error"]["field"] == field, (case, r.get_json())


# --- isochrone -------------------------------------------------------------------------------


def test_isochrone_feature_collection(client, auth, graph):
    body = {"at": M_L01, "times_s": [20, 40], "direction": "from", "graph": GRAPH}
    r = post(client, "/api/v1/isochrone", body, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/geo+json"
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection"
    assert fc["cached"] is False
    assert [f["properties"]["time_s"] for f in fc["features"]] == [20, 40]
    assert {f["properties"]["direction"] for f in fc["features"]} == {"from"}
    a20, a40 = (shape(f["geometry"]) for f in fc["features"])
    assert {a20.geom_type, a40.geom_type} <= {"Polygon", "MultiPolygon"}
    # 15 s (a quarter along L1-L2) is inside 20 s; L2 (30 s) only inside 40 s; U2 (65 s) in neither.
    assert a20.covers(shapely.Point(at(1.25, 0)))
    assert not a20.covers(shapely.Point(NODES["L2"]))
    assert a40.covers(shapely.Point(NODES["L2"]))
    assert not a40.covers(shapely.Point(NODES["U2"]))
    assert a20.area < a40.area
    again = post(client, "/api/v1/isochrone", body, auth["viewer"]).get_json()
    assert again["cached"] is True
    assert again["features"] == fc["features"]


ISOCHRONE_BAD = [  # (case, change to a good body, status, field)
    ("negative", {"times_s": [-60]}, 400, "times_s"),
    ("zero", {"times_s": [0]}, 400, "times_s"),
    ("empty", {"times_s": []}, 400, "times_s"),
    ("not-a-list", {"times_s": 60}, 400, "times_s"),
    ("too-many", {"times_s": [60] * 11}, 400, "times_s"),
    ("too-long", {"times_s": [20000]}, 400, "times_s"),
    ("direction", {"direction": "sideways"}, 422, "direction"),
    ("at", {"at": None}, 422, "at"),
    ("unknown", {"center": M_L01}, 400, "center"),
]


def test_isochrone_bad_input_names_the_field(client, auth, graph):
    for case, patch, status, field in ISOCHRONE_BAD:
        body = {"at": M_L01, "times_s": [60, 120], "graph": GRAPH, **patch}
        r = post(client, "/api/v1/isochrone", body, auth["viewer"])
        assert r.status_code == status, (case, r.get_json())
        assert r.get_json()["error"]["field"] == field, (case, r.get_json())


# --- matrix ----------------------------------------------------------------------------------


def test_matrix_with_null_where_unreachable(client, auth, graph):
    body = {"sources": [M_W, M_I], "targets": [M_E, M_L12, M_I], "graph": GRAPH}
    r = post(client, "/api/v1/matrix", body, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    rows = r.get_json()["durations_s"]
    # West Rd -> East Rd 70 s; -> middle of L1-L2 15 + 20 + 10 = 45 s; island <-> mainland none.
    assert rows == [
        [pytest.approx(70.0), pytest.approx(45.0), None],
        [None, None, 0.0],
    ]
    assert r.get_json()["graph"] == GRAPH
    body["avoid"] = box(M_L01)
    rows = post(client, "/api/v1/matrix", body, auth["viewer"]).get_json()["durations_s"]
    # Over the top: 80 s; to L1-L2 via Mid Rd: 15 + 25 + 30 + 10 = 80 s.
    assert rows[0][:2] == [pytest.approx(80.0), pytest.approx(80.0)]


MATRIX_BAD = [  # (case, change to a good body, status, field)
    ("empty", {"sources": []}, 400, "sources"),
    ("not-a-list-of-points", {"targets": M_E}, 422, "targets[0]"),
    ("swapped", {"targets": [M_E, [M_E[1], M_E[0]]]}, 422, "targets[1].coordinates"),
    ("unknown-field", {"sources": [M_W], "origins": [M_W]}, 400, "origins"),
]


def test_matrix_bad_input_names_the_field(client, auth, graph):
    for case, patch, status, field in MATRIX_BAD:
        body = {"sources": [M_W], "targets": [M_E], "graph": GRAPH, **patch}
        r = post(client, "/api/v1/matrix", body, auth["viewer"])
        assert r.status_code == status, (case, r.get_json())
        assert r.get_json()["error"]["field"] == field, (case, r.get_json())


# --- who may ask -----------------------------------------------------------------------------

QUERIES = [
    ("/api/v1/route", {"from": M_W, "to": M_E, "graph": GRAPH}),
    ("/api/v1/nearest", {"to": M_L01, "sources": SOURCES[:2], "graph": GRAPH}),
    ("/api/v1/isochrone", {"at": M_L01, "times_s": [60], "graph": GRAPH}),
    ("/api/v1/matrix", {"sources": [M_W], "targets": [M_E], "graph": GRAPH}),
]


def test_queries_need_a_login_but_a_viewer_may_ask(client, auth, graph):
    for url, body in QUERIES:
        assert error_of(post(client, url, body, {}), 401)["code"] == "unauthorized", url
        assert post(client, url, body, auth["viewer"]).status_code == 200, url
        assert post(client, url, body, auth["dispatcher"]).status_code == 200, url


def test_graph_reads_need_a_login(client, auth, graph):
    assert client.get("/api/v1/graphs").status_code == 401
    assert client.get(f"/api/v1/graphs/{GRAPH}/roads").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert error_of(client.get("/api/v1/graphs", headers=bad), 401)["field"] == "Authorization"


# --- the route cache -------------------------------------------------------------------------


def test_route_cache_by_request_closures_and_graph_version(app, client, auth, redis_client):
    name = "hand-cache"
    store = app.extensions["onemap"].graphs
    store.save(ladder(name=name), name)
    h = auth["viewer"]
    body = {"from": M_W, "to": M_E, "graph": name}

    first = post(client, "/api/v1/route", body, h).get_json()
    assert first["properties"]["cached"] is False
    second = post(client, "/api/v1/route", body, h).get_json()
    assert second["properties"]["cached"] is True
    assert second["properties"]["duration_s"] == first["properties"]["duration_s"] == 70.0
    assert second["geometry"] == first["geometry"]
    assert redis_client.keys("*cache:route:*")

    # Other closures: not the cached answer.
    avoided = post(client, "/api/v1/route", {**body, "avoid": box(M_L01)}, h).get_json()
    assert avoided["properties"]["cached"] is False
    assert avoided["properties"]["duration_s"] == pytest.approx(80.0)
    # Listing the same points in other key order is the same request.
    swapped_keys = {"graph": name, "to": M_E, "from": M_W}
    assert post(client, "/api/v1/route", swapped_keys, h).get_json()["properties"]["cached"] is True

    # A re-import with every time doubled is a new version: computed afresh (2 * 70 s).
    slower = ladder(2.0, name=name)
    assert slower.version != first["properties"]["graph_version"]
    store.save(slower, name)
    third = post(client, "/api/v1/route", body, h).get_json()
    assert third["properties"]["cached"] is False
    assert third["properties"]["duration_s"] == pytest.approx(140.0)
    assert third["properties"]["graph_version"] == slower.version
    assert post(client, "/api/v1/route", body, h).get_json()["properties"]["cached"] is True


def test_matrix_reports_points_it_cannot_place(client, auth, graph):
    """A target inside a closed zone or far from any road gets a null column and a reason,
    while the rest of the matrix is still answered."""
    body = {
        "sources": [M_W, M_E],
        "targets": [M_E, M_L01, FAR],
        "avoid": box(M_L01),
        "graph": GRAPH,
    }
    r = post(client, "/api/v1/matrix", body, auth["viewer"])
    assert r.status_code == 200, r.get_json()
    got = r.get_json()
    assert [row[1] for row in got["durations_s"]] == [None, None]
    assert [row[2] for row in got["durations_s"]] == [None, None]
    assert got["durations_s"][1][0] == 0.0  # M_E to itself
    assert got["durations_s"][0][0] is not None
    assert {(s["side"], s["index"], s["reason"]) for s in got["skipped"]} == {
        ("targets", 1, "inside_closure"),
        ("targets", 2, "too_far_from_road"),
    }
