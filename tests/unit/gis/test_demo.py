"""The Helsinki demo layers: real OSM places, invented attributes, valid GeoJSON, deterministic."""

from __future__ import annotations

import json
import math

import pytest
from shapely.geometry import Point, box, shape

from gis.demo import DEMO_BBOX, ITEM_CATALOGUE, helsinki_demo_layers

LAYERS = ("depots", "shelters", "teams", "hazards")
COUNTS = {"depots": (5, 8), "shelters": (5, 20), "teams": (15, 30), "hazards": (8, 15)}
TEAM_TYPES = {
    "fire",
    "medical",
    "rescue",
    "hazmat",
    "police",
    "water_rescue",
    "engineering",
    "power",
}
CAPABILITIES = {
    "aerial_ladder",
    "breathing_apparatus",
    "foam",
    "ambulance",
    "als",
    "boat",
    "diving",
    "rope_rescue",
    "collapse_search",
    "k9",
    "chemical_detection",
    "decontamination",
    "pump",
    "generator",
    "excavator",
    "traffic_control",
}
FACILITIES = {"water", "power", "medical", "toilets", "kitchen", "heating", "accessible", "beds"}
HAZARD_TYPES = {
    "landslide",
    "flood_prone",
    "major_hazard_source",
    "chemical_site",
    "gas_station",
    "dam",
    "debris_flow",
    "ground_subsidence",
    "other",
}
RISK_LEVELS = {"low", "moderate", "high", "very_high"}
ALLOWED = {
    "shelters": {"name", "name_en", "capacity", "occupancy", "status", "facilities"}
    | {"shelter_type", "address", "osm_id", "demo"},
    "teams": {"name", "name_en", "type", "capabilities", "headcount", "home_base", "status"}
    | {"callsign", "phone", "osm_id", "base_source", "demo"},
    "depots": {"name", "name_en", "address", "operator", "phone", "stock", "osm_id", "demo"},
    "hazards": {"name", "name_en", "type", "risk_level", "influence", "monitoring"}
    | {"responsible", "phone", "osm_id", "demo"},
}
AREA = box(*DEMO_BBOX)


@pytest.fixture(scope="module")
def layers() -> dict[str, list[dict]]:
    return helsinki_demo_layers()


def _coords(geometry: dict) -> list[list[float]]:
    """Every position of a GeoJSON geometry, flattened."""
    out: list[list[float]] = []

    def walk(node: list) -> None:
        if node and isinstance(node[0], int | float):
            out.append(node)
        else:
            for child in node:
                walk(child)

    walk(geometry["coordinates"])
    return out


def _props(layers: dict[str, list[dict]], layer: str) -> list[dict]:
    return [f["properties"] for f in layers[layer]]


def test_bbox_is_sane() -> None:
    lon_min, lat_min, lon_max, lat_max = DEMO_BBOX
    assert -180 <= lon_min < lon_max <= 180
    assert -90 <= lat_min < lat_max <= 90
    assert lon_min > 24.9 and lat_max < 60.2  # central Helsinki


@pytest.mark.parametrize("layer", LAYERS)
def test_layer_counts(layers: dict[str, list[dict]], layer: str) -> None:
    low, high = COUNTS[layer]
    assert low <= len(layers[layer]) <= high


@pytest.mark.parametrize("layer", LAYERS)
def test_features_are_valid_geojson_inside_bbox(layers: dict[str, list[dict]], layer: str) -> None:
    for feature in layers[layer]:
        assert feature["type"] == "Feature"
        assert set(feature) == {"type", "geometry", "properties"}
        geometry = feature["geometry"]
        allowed = {"Point", "Polygon", "MultiPolygon"} if layer == "shelters" else {"Point"}
        assert geometry["type"] in allowed
        geom = shape(geometry)
        assert geom.is_valid and not geom.is_empty
        assert AREA.covers(geom), feature["properties"]["name"]
        for lon, lat in _coords(geometry):
            assert -180 <= lon <= 180 and -90 <= lat <= 90
            assert round(lon, 7) == lon and round(lat, 7) == lat


@pytest.mark.parametrize("layer", LAYERS)
def test_properties_are_known_and_marked_demo(layers: dict[str, list[dict]], layer: str) -> None:
    for props in _props(layers, layer):
        assert set(props) <= ALLOWED[layer], set(props) - ALLOWED[layer]
        assert props["demo"] is True
        assert isinstance(props["name"], str) and props["name"].strip()
        assert isinstance(props.get("name_en", ""), str)


def test_shelters(layers: dict[str, list[dict]]) -> None:
    for props in _props(layers, "shelters"):
        assert props["shelter_type"] in {"school", "community_centre", "sports_hall", "other"}
        assert props["status"] in {"open", "full", "closed"}
        capacity, occupancy = props["capacity"], props["occupancy"]
        assert type(capacity) is int and type(occupancy) is int
        assert 50 <= capacity <= 3000 and capacity % 10 == 0
        assert 0 <= occupancy <= capacity
        assert (props["status"] == "full") == (occupancy == capacity)
        assert set(props["facilities"]) <= FACILITIES
        assert props["osm_id"].split("/")[0] in {"node", "way", "relation"}
    statuses = [p["status"] for p in _props(layers, "shelters")]
    assert statuses.count("open") > len(statuses) / 2
    assert any(f["geometry"]["type"] != "Point" for f in layers["shelters"])  # real footprints


def test_teams(layers: dict[str, list[dict]]) -> None:
    teams = _props(layers, "teams")
    for feature, props in zip(layers["teams"], teams, strict=True):
        assert props["type"] in TEAM_TYPES
        assert props["capabilities"] and set(props["capabilities"]) <= CAPABILITIES
        assert type(props["headcount"]) is int and 2 <= props["headcount"] <= 30
        assert props["status"] in {"available", "out_of_service", "dispatched"}
        assert props["base_source"] in {"osm", "invented"}
        assert ("osm_id" in props) == (props["base_source"] == "osm")
        assert AREA.covers(Point(props["home_base"]))
        assert feature["geometry"]["coordinates"] == props["home_base"]
        assert props["phone"].startswith("+358 9 0000 ")
        assert props["callsign"]
    assert len({p["callsign"] for p in teams}) == len(teams)
    assert {"fire", "medical", "rescue", "water_rescue"} <= {p["type"] for p in teams}
    statuses = [p["status"] for p in teams]
    assert statuses.count("available") > len(statuses) / 2


def test_depots(layers: dict[str, list[dict]]) -> None:
    codes = {item["item_code"]: item for item in ITEM_CATALOGUE}
    assert len(codes) == len(ITEM_CATALOGUE) >= 15
    for props in _props(layers, "depots"):
        assert props["operator"] and props["address"] and props["phone"]
        assert 6 <= len(props["stock"]) <= 12
        for line in props["stock"]:
            assert set(line) == {"item_code", "name_zh", "name_en", "unit", "on_hand", "reserved"}
            item = codes[line["item_code"]]
            assert (line["name_zh"], line["name_en"], line["unit"]) == (
                item["name_zh"],
                item["name_en"],
                item["unit"],
            )
            assert type(line["on_hand"]) is int and line["on_hand"] >= 0
            assert line["reserved"] == 0


def test_hazards(layers: dict[str, list[dict]]) -> None:
    for feature in layers["hazards"]:
        props = feature["properties"]
        assert props["type"] in HAZARD_TYPES
        assert props["risk_level"] in RISK_LEVELS
        assert {"sensor", "unit", "warn", "alarm"} <= set(props["monitoring"])
        assert props["monitoring"]["warn"] < props["monitoring"]["alarm"]
        assert props["responsible"] and props["phone"] and props["osm_id"]
    zones = [f for f in layers["hazards"] if "influence" in f["properties"]]
    assert zones
    for feature in zones:
        influence = feature["properties"]["influence"]
        assert influence["type"] == "Polygon"
        zone = shape(influence)
        assert zone.is_valid and AREA.covers(zone)
        assert len(influence["coordinates"][0]) <= 64
        assert zone.covers(shape(feature["geometry"]))
    assert "flood_prone" in {f["properties"]["type"] for f in layers["hazards"]}


def test_real_osm_names(layers: dict[str, list[dict]]) -> None:
    shelter_names = {p["name"] for p in _props(layers, "shelters")}
    assert {"Kaisaniemen ala-aste", "Ressun lukio", "Kruununhaan yläasteen koulu"} <= shelter_names
    assert any(
        p.get("name_en") == "European Schooling Helsinki" for p in _props(layers, "shelters")
    )
    fire = [p for p in _props(layers, "teams") if p["name"].startswith("Erottajan paloasema ")]
    assert fire and all(p["osm_id"] == "relation/167018" for p in fire)
    assert {"fire", "rescue"} <= {p["type"] for p in fire}
    depot_names = {p["name"] for p in _props(layers, "depots")}
    assert "Erottajan paloasema – valmiusvarasto" in depot_names
    hazard_names = {p["name"] for p in _props(layers, "hazards")}
    assert "Vanha Kauppahalli" in hazard_names


def test_json_serialisable_without_nan(layers: dict[str, list[dict]]) -> None:
    text = json.dumps(layers, allow_nan=False)
    assert json.loads(text) == layers

    def finite(node: object) -> None:
        if isinstance(node, float):
            assert math.isfinite(node)
        elif isinstance(node, dict):
            for value in node.values():
                finite(value)
        elif isinstance(node, list):
            for value in node:
                finite(value)
        else:
            assert node is None or isinstance(node, str | int | bool)

    finite(layers)


def test_deterministic(layers: dict[str, list[dict]]) -> None:
    assert helsinki_demo_layers() == layers
    assert helsinki_demo_layers(seed=7) != layers
