"""Import road networks into a :class:`routing.graph.RoadGraph`.

Sources: OpenStreetMap PBF (pyrosm), OSM XML plain or gzipped (osmnx ``graph_from_xml``), and a
city's own road centrelines (GeoJSON, GeoPackage, Shapefile) with a mapping of its fields for
one-way direction, speed or road class, and name. The drive network only; speeds from the road's
own speed when it has one, else from its class through a table (km/h); travel time in seconds.
Only the largest strongly connected component is kept, and what was dropped is reported.
"""

from __future__ import annotations

import bz2
import gzip
import logging
import math
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from shapely import LineString

from gis import safe_xml
from gis.errors import MalformedInput
from routing import speeds
from routing.errors import GraphImportFailed
from routing.graph import RoadGraph, from_edges

LOGGER = logging.getLogger(__name__)
Progress = Callable[[str], None]


def _quiet(_msg: str) -> None:
    pass


def import_osm(
    path: Path,
    *,
    name: str,
    speed_table: Mapping[str, float] | None = None,
    progress: Progress = _quiet,
) -> RoadGraph:
    """A drive graph from an OSM file: ``.pbf`` through pyrosm, ``.osm``/``.xml`` (optionally
    ``.gz`` or ``.bz2``) through osmnx."""
    path = Path(path)
    started = time.monotonic()
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith(".pbf"):
        g = _pbf_graph(path, progress)
        source = "osm-pbf"
    elif re.search(r"\.(osm|xml)(\.gz|\.bz2)?$", suffixes):
        g = _xml_graph(path, progress)
        source = "osm-xml"
    else:
        msg = f"{path.name}: not an OSM file (.osm.pbf, .osm, .osm.gz, .xml)"
        raise GraphImportFailed(msg, field="file")
    progress("travel times")
    _osm_speeds(g, speed_table)
    return from_networkx(
        g, name=name, source=f"{source}:{path.name}", started=started, progress=progress
    )


def _pbf_graph(path: Path, progress: Progress) -> nx.MultiDiGraph:
    from pyrosm import OSM

    progress("reading PBF")
    try:
        osm = OSM(str(path))
        nodes, edges = osm.get_network(network_type="driving", nodes=True)
    except Exception as err:  # pyrosm raises bare exceptions of many kinds on bad files
        msg = f"{path.name}: cannot read the PBF: {err}"
        raise GraphImportFailed(msg, field="file") from err
    if edges is None or len(edges) == 0:
        msg = f"{path.name}: no drivable roads in the file"
        raise GraphImportFailed(msg, field="file")
    progress(f"building graph from {len(edges)} road pieces")
    return osm.to_graph(nodes, edges, graph_type="networkx", retain_all=True, osmnx_compatible=True)


def _xml_graph(path: Path, progress: Progress) -> nx.MultiDiGraph:
    import osmnx as ox

    progress("reading OSM XML")
    with tempfile.TemporaryDirectory() as tmp:
        plain = path
        if path.suffix.lower() == ".gz":
            plain = Path(tmp) / path.stem
            with gzip.open(path, "rb") as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
        _refuse_unsafe_xml(plain, path.name)
        try:
            g = ox.graph_from_xml(plain, simplify=False, retain_all=True)
        except Exception as err:  # osmnx raises several kinds on bad XML
            msg = f"{path.name}: cannot read the OSM XML: {err}"
            raise GraphImportFailed(msg, field="file") from err
    g = _drive_only(g)
    progress("simplifying")
    return ox.simplify_graph(g)


#: Road-line formats that are XML documents: their prolog is checked before GDAL reads them.
XML_LINE_FORMATS = (".gml", ".kml", ".xml")


def _refuse_unsafe_xml(plain: Path, label: str) -> None:
    """Refuse an OSM XML file with a DTD before osmnx's parsers (ElementTree and SAX) read it:
    no entity-expansion bomb, no external entity. Reads only up to the root element."""
    opener = bz2.open if plain.suffix.lower() == ".bz2" else open
    try:
        with opener(plain, "rb") as stream:
            safe_xml.check_prolog(stream, name=label)
    except MalformedInput as err:
        raise GraphImportFailed(err.message, field="file") from err
    except OSError as err:  # unreadable, or not the compression its name says
        msg = f"{label}: cannot read the OSM XML: {err}"
        raise GraphImportFailed(msg, field="file") from err


DRIVE_EXCLUDED = re.compile(
    r"abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
    r"footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|steps|track|busway"
)


def _drive_only(g: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """Drop what cars cannot use (the osmnx ``drive`` filter, applied to a whole extract)."""
    drop = []
    for u, v, k, d in g.edges(keys=True, data=True):
        hw = d.get("highway")
        hw = hw[0] if isinstance(hw, list) else hw
        if (
            hw is None
            or DRIVE_EXCLUDED.fullmatch(str(hw))
            or d.get("area") == "yes"
            or d.get("access") in ("private", "no")
            or (d.get("motor_vehicle") == "no")
            or (d.get("service") in ("parking_aisle", "private", "emergency_access"))
        ):
            drop.append((u, v, k))
    g.remove_edges_from(drop)
    g.remove_nodes_from([n for n in list(g.nodes) if g.degree(n) == 0])
    return g


def _osm_speeds(g: nx.MultiDiGraph, table: Mapping[str, float] | None) -> None:
    table = dict(table or speeds.DEFAULT_KMH)
    for _u, _v, d in g.edges(data=True):
        kmh = _maxspeed(d.get("maxspeed"))
        if kmh is None:
            kmh = speeds.speed_kmh(d.get("highway"), table)
        d["speed_kph"] = kmh
        d["travel_time"] = float(d.get("length", 0.0)) / (kmh / 3.6)


def _maxspeed(value: Any) -> float | None:
    if isinstance(value, list):
        values = [v for v in (_maxspeed(x) for x in value) if v]
        return sum(values) / len(values) if values else None
    if value is None:
        return None
    m = re.match(r"\s*(\d+(?:\.\d+)?)\s*(mph)?", str(value))
    if not m:
        return None
    kmh = float(m.group(1)) * (1.609344 if m.group(2) else 1.0)
    return kmh if 3.0 <= kmh <= 150.0 else None


def from_networkx(
    g: nx.MultiDiGraph,
    *,
    name: str,
    source: str,
    started: float | None = None,
    progress: Progress = _quiet,
) -> RoadGraph:
    """Arrays from an osmnx-style graph (nodes with ``x``/``y``; edges with ``length`` in metres,
    ``travel_time`` in seconds, optional ``name`` and ``geometry``). Keeps the largest strongly
    connected component."""
    started = time.monotonic() if started is None else started
    ids = list(g.nodes)
    index = {n: i for i, n in enumerate(ids)}
    edges = list(g.edges(data=True))
    if not edges:
        msg = "the network has no roads"
        raise GraphImportFailed(msg, field="file")
    u = np.fromiter((index[a] for a, _, _ in edges), dtype=np.int64, count=len(edges))
    v = np.fromiter((index[b] for _, b, _ in edges), dtype=np.int64, count=len(edges))
    keep_nodes, report = _largest_scc(len(ids), u, v)
    progress(
        f"largest strongly connected component: {report['kept_nodes']} of "
        f"{report['total_nodes']} junctions"
    )
    new_index = np.full(len(ids), -1, dtype=np.int64)
    new_index[keep_nodes] = np.arange(len(keep_nodes))
    keep_edge = (new_index[u] >= 0) & (new_index[v] >= 0)
    lon = np.array([g.nodes[ids[i]]["x"] for i in keep_nodes], dtype=np.float64)
    lat = np.array([g.nodes[ids[i]]["y"] for i in keep_nodes], dtype=np.float64)
    eu, ev, lengths, times, names, coords = [], [], [], [], [], []
    for k in np.flatnonzero(keep_edge):
        a, b, d = edges[k]
        eu.append(new_index[u[k]])
        ev.append(new_index[v[k]])
        lengths.append(float(d.get("length", 0.0)))
        times.append(float(d["travel_time"]))
        names.append(_street_name(d.get("name"), d.get("ref")))
        geom = d.get("geometry")
        if geom is not None:
            coords.append(np.asarray(geom.coords, dtype=np.float64)[:, :2])
        else:
            ga, gb = g.nodes[a], g.nodes[b]
            coords.append(np.array([[ga["x"], ga["y"]], [gb["x"], gb["y"]]], dtype=np.float64))
    report["dropped_edges"] = int(len(edges) - keep_edge.sum())
    meta = {
        "name": name,
        "source": source,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "build_seconds": round(time.monotonic() - started, 2),
        "component": report,
    }
    graph = from_edges(lon, lat, eu, ev, lengths, times, names, coords, meta=meta)
    from routing.engine import calibrate

    graph.meta["route_factor"] = calibrate(graph)
    return graph


def _largest_scc(n: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    adj = csr_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    count, labels = connected_components(adj, directed=True, connection="strong")
    sizes = np.bincount(labels)
    best = int(np.argmax(sizes))
    keep = np.flatnonzero(labels == best)
    return keep, {
        "total_nodes": int(n),
        "kept_nodes": len(keep),
        "dropped_nodes": int(n - len(keep)),
        "components": int(count),
        "total_edges": len(u),
    }


def _street_name(name: Any, ref: Any) -> str | None:
    value = name if name not in (None, "") else ref
    if isinstance(value, list):
        value = " / ".join(str(x) for x in dict.fromkeys(value) if x)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value) or None


# --- a city's own road lines -----------------------------------------------------------------


@dataclass(frozen=True)
class LineMapping:
    """How a road-line file's fields map onto the graph.

    ``oneway_field`` holds the direction; its values are matched against ``forward``,
    ``backward`` and ``both`` (case-insensitive). ``speed_field`` (km/h) wins over
    ``class_field`` (looked up in the speed table). ``name_field`` is the street name.
    """

    oneway_field: str | None = None
    forward: tuple[str, ...] = ("yes", "true", "1", "f", "forward", "ft", "正向")
    backward: tuple[str, ...] = ("-1", "backward", "b", "t", "tf", "reverse", "反向")
    both: tuple[str, ...] = ("no", "false", "0", "both", "", "双向")
    speed_field: str | None = None
    class_field: str | None = None
    name_field: str | None = None


def import_lines(
    path: Path,
    *,
    name: str,
    mapping: LineMapping,
    crs: str | None = None,
    speed_table: Mapping[str, float] | None = None,
    progress: Progress = _quiet,
) -> RoadGraph:
    """A graph from road centrelines: junctions where line ends meet (to 1e-7 degrees)."""
    import geopandas as gpd

    started = time.monotonic()
    progress("reading road lines")
    if Path(path).suffix.lower() in XML_LINE_FORMATS:  # GML, KML: XML read by GDAL
        _refuse_unsafe_xml(Path(path), Path(path).name)
    try:
        frame = gpd.read_file(path)
    except Exception as err:  # pyogrio raises its own error kinds
        msg = f"{Path(path).name}: cannot read the road lines: {err}"
        raise GraphImportFailed(msg, field="file") from err
    frame = _to_wgs84(frame, crs)
    _check_fields(frame, mapping)
    g = _lines_graph(frame, mapping, dict(speed_table or speeds.DEFAULT_KMH))
    if g.number_of_edges() == 0:
        msg = f"{Path(path).name}: no usable road lines"
        raise GraphImportFailed(msg, field="file")
    progress(f"{g.number_of_nodes()} junctions, {g.number_of_edges()} road pieces")
    return from_networkx(
        g, name=name, source=f"lines:{Path(path).name}", started=started, progress=progress
    )


def _check_fields(frame: Any, mapping: LineMapping) -> None:
    for label, column in (
        ("oneway", mapping.oneway_field),
        ("speed", mapping.speed_field),
        ("class", mapping.class_field),
        ("name", mapping.name_field),
    ):
        if column and column not in frame.columns:
            have = ", ".join(str(c) for c in frame.columns)
            msg = f"the {label} field {column!r} is not in the file; it has: {have}"
            raise GraphImportFailed(msg, field=f"{label}_field")


def _lines_graph(frame: Any, mapping: LineMapping, table: dict[str, float]) -> nx.MultiDiGraph:
    from pyproj import Geod

    geod = Geod(ellps="WGS84")
    g = nx.MultiDiGraph()
    nodes: dict[tuple[float, float], int] = {}

    def node(x: float, y: float) -> int:
        key = (round(x, 7), round(y, 7))
        if key not in nodes:
            nodes[key] = len(nodes)
            g.add_node(nodes[key], x=key[0], y=key[1])
        return nodes[key]

    for row_no, row in enumerate(frame.itertuples(index=False), start=1):
        geom = row.geometry
        if geom is None or geom.is_empty:
            continue
        parts = list(geom.geoms) if geom.geom_type == "MultiLineString" else [geom]
        direction = _direction(row, mapping, row_no)
        kmh = _line_speed(row, mapping, table)
        raw_name = getattr(row, mapping.name_field) if mapping.name_field else None
        street = _street_name(raw_name, None)
        for line in parts:
            xy = np.asarray(line.coords, dtype=np.float64)[:, :2]
            if len(xy) < 2:
                continue
            a, b = node(*xy[0]), node(*xy[-1])
            length = float(geod.line_length(xy[:, 0], xy[:, 1]))
            attrs = {"length": length, "travel_time": length / (kmh / 3.6), "name": street}
            if direction in ("forward", "both"):
                g.add_edge(a, b, geometry=LineString(xy), **attrs)
            if direction in ("backward", "both"):
                g.add_edge(b, a, geometry=LineString(xy[::-1]), **attrs)
    return g


def _to_wgs84(frame: Any, crs: str | None) -> Any:
    if crs:
        frame = frame.set_crs(crs, allow_override=True)
    if frame.crs is None:
        return frame
    return frame.to_crs("EPSG:4326")


def _direction(row: Any, mapping: LineMapping, row_no: int) -> str:
    if not mapping.oneway_field:
        return "both"
    raw = getattr(row, mapping.oneway_field)
    text = "" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else str(raw)
    text = text.strip().lower()
    if text.endswith(".0"):
        text = text[:-2]
    for label, values in (
        ("forward", mapping.forward),
        ("backward", mapping.backward),
        ("both", mapping.both),
    ):
        if text in {v.lower() for v in values}:
            return label
    msg = f"feature {row_no}: {mapping.oneway_field}={raw!r} is none of the one-way values"
    raise GraphImportFailed(msg, field="oneway_field", row=row_no)


def _line_speed(row: Any, mapping: LineMapping, table: dict[str, float]) -> float:
    if mapping.speed_field:
        raw = getattr(row, mapping.speed_field)
        try:
            kmh = float(raw)
        except (TypeError, ValueError):
            kmh = float("nan")
        if math.isfinite(kmh) and kmh > 0:
            return kmh
    if mapping.class_field:
        return speeds.speed_kmh(getattr(row, mapping.class_field), table)
    return speeds.FALLBACK_KMH
