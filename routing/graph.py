"""The compact, read-only road graph: numpy arrays saved under ``var/graphs/NAME/``.

Built once by :mod:`routing.build` and loaded memory-mapped (``np.load(mmap_mode="r")``), so
every worker process of a server shares the same pages and no query can change it.

Nodes are road junctions (lon/lat). Edges are directed road pieces with their length (metres),
travel time (seconds), street name and full geometry. A two-way street is two edges that are
each other's ``twin``. Both forward and reverse adjacency are stored in CSR form so that a search
from an origin and a search towards a target each read one array.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routing.errors import UnknownGraph

LOGGER = logging.getLogger(__name__)

ARRAYS = (
    "node_lon",
    "node_lat",
    "edge_u",
    "edge_v",
    "edge_len",
    "edge_time",
    "edge_name",
    "edge_twin",
    "geom_offsets",
    "geom_lon",
    "geom_lat",
    "fwd_indptr",
    "rev_indptr",
    "rev_edge",
)


@dataclass(frozen=True)
class RoadGraph:
    """Arrays of one road graph. Edges are sorted by ``edge_u``, so the forward CSR's entry ``i``
    is edge ``i``; ``rev_edge`` lists edge ids sorted by ``edge_v`` for the reverse CSR."""

    node_lon: np.ndarray
    node_lat: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_len: np.ndarray  # metres
    edge_time: np.ndarray  # seconds
    edge_name: np.ndarray  # index into names, -1 for none
    edge_twin: np.ndarray  # reverse edge with the same geometry, -1 for none
    geom_offsets: np.ndarray  # edge i's coordinates are geom_*[off[i]:off[i+1]]
    geom_lon: np.ndarray
    geom_lat: np.ndarray
    fwd_indptr: np.ndarray
    rev_indptr: np.ndarray
    rev_edge: np.ndarray
    names: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    #: derived arrays saved beside the graph (the snapping index), loaded memory-mapped
    extras: dict[str, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_nodes(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    @property
    def version(self) -> str:
        return str(self.meta.get("version", ""))

    @property
    def name(self) -> str:
        return str(self.meta.get("name", ""))

    def edge_coords(self, e: int) -> np.ndarray:
        """The (k, 2) lon/lat coordinates of edge ``e``, from its ``u`` end to its ``v`` end."""
        a, b = self.geom_offsets[e], self.geom_offsets[e + 1]
        return np.column_stack((self.geom_lon[a:b], self.geom_lat[a:b]))

    def street(self, e: int) -> str | None:
        i = int(self.edge_name[e])
        return self.names[i] if i >= 0 else None


def from_edges(
    node_lon: np.ndarray,
    node_lat: np.ndarray,
    edges_u: np.ndarray,
    edges_v: np.ndarray,
    length_m: np.ndarray,
    time_s: np.ndarray,
    names: list[str | None],
    coords: list[np.ndarray],
    *,
    meta: dict[str, Any] | None = None,
) -> RoadGraph:
    """Build a :class:`RoadGraph` from plain edge lists (any order).

    ``coords[i]`` is edge ``i``'s (k, 2) lon/lat polyline from ``u`` to ``v``; ``names[i]`` its
    street name or None. Twins are found here: an edge ``v -> u`` of the same length (to 1 cm)
    and reversed geometry.
    """
    n = len(node_lon)
    u = np.asarray(edges_u, dtype=np.int64)
    v = np.asarray(edges_v, dtype=np.int64)
    order = np.lexsort((v, u))
    u, v = u[order], v[order]
    length = np.asarray(length_m, dtype=np.float64)[order]
    ttime = np.asarray(time_s, dtype=np.float64)[order]
    ordered_coords = [np.asarray(coords[i], dtype=np.float64) for i in order]
    name_index: dict[str, int] = {}
    name_ids = np.full(len(order), -1, dtype=np.int32)
    for k, i in enumerate(order):
        nm = names[i]
        if nm:
            name_ids[k] = name_index.setdefault(nm, len(name_index))
    counts = np.array([len(c) for c in ordered_coords], dtype=np.int64)
    offsets = np.zeros(len(order) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    flat = np.concatenate(ordered_coords) if ordered_coords else np.zeros((0, 2))
    fwd_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=fwd_indptr[1:])
    rev_edge = np.lexsort((u, v)).astype(np.int32)
    rev_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(v, minlength=n), out=rev_indptr[1:])
    twin = _twins(u, v, length)
    meta = dict(meta or {})
    graph = RoadGraph(
        node_lon=np.asarray(node_lon, dtype=np.float64),
        node_lat=np.asarray(node_lat, dtype=np.float64),
        edge_u=u.astype(np.int32),
        edge_v=v.astype(np.int32),
        edge_len=length,
        edge_time=ttime,
        edge_name=name_ids,
        edge_twin=twin,
        geom_offsets=offsets,
        geom_lon=np.ascontiguousarray(flat[:, 0]),
        geom_lat=np.ascontiguousarray(flat[:, 1]),
        fwd_indptr=fwd_indptr,
        rev_indptr=rev_indptr,
        rev_edge=rev_edge,
        names=tuple(sorted(name_index, key=name_index.__getitem__)),
        meta=meta,
    )
    meta.setdefault("nodes", graph.n_nodes)
    meta.setdefault("edges", graph.n_edges)
    if graph.n_nodes:
        meta.setdefault(
            "bbox",
            [
                float(graph.geom_lon.min()),
                float(graph.geom_lat.min()),
                float(graph.geom_lon.max()),
                float(graph.geom_lat.max()),
            ],
        )
    meta["version"] = _version(graph)
    return graph


#: Walking pace used for evacuation on foot (metres per second, about 4.7 km/h).
WALK_SPEED_MPS = 1.3
#: Meta keys that describe one graph's arrays and are recomputed for a derived graph.
_DERIVED_META = ("version", "nodes", "edges", "bbox", "snap_index", "route_factor")


def walking(graph: RoadGraph, *, speed_mps: float = WALK_SPEED_MPS) -> RoadGraph:
    """The graph as people on foot use it: the same junctions and road geometry, every road
    piece usable both ways, travel time = length / ``speed_mps``.

    A piece that has a twin (a two-way street) keeps it; a one-way piece gets a reverse twin
    ``v -> u`` with the same length, street name and reversed geometry (a loop, ``u == v``, is
    kept as it is: it leads back to its junction either way). Travel times are
    ``edge_len / speed_mps`` seconds for every piece, so one-way streets and car speeds no longer
    matter. Road classes are not stored in a :class:`RoadGraph`, so motorway-class pieces cannot
    be told apart and are kept; and the graph only has the roads it was built with (a drive
    import has no footpaths), so walking routes follow car roads.

    Parameters
    ----------
    graph
        The road graph, usually the drive graph of an import.
    speed_mps
        Walking speed in metres per second (default 1.3, about 4.7 km/h); must be positive.

    Returns
    -------
    RoadGraph
        A new graph (plain in-memory arrays, not saved) whose ``meta`` copies ``graph``'s and adds
        ``mode`` = ``"walk"``, ``speed_mps``, ``base_version`` (the version of ``graph``) and
        ``added_reverse`` (how many reverse pieces were made); ``version``, counts, bounding box
        and ``route_factor`` are those of the new graph.
    """
    if not (math.isfinite(speed_mps) and speed_mps > 0):
        msg = f"walking speed must be a positive number of m/s, not {speed_mps!r}"
        raise ValueError(msg)
    u_old, v_old = np.asarray(graph.edge_u), np.asarray(graph.edge_v)
    # a loop (u == v) has no twin by definition and leads back to its junction either way
    lonely = np.flatnonzero((np.asarray(graph.edge_twin) < 0) & (u_old != v_old))
    length_old = np.asarray(graph.edge_len, dtype=np.float64)
    u = np.concatenate((u_old, v_old[lonely])).astype(np.int64)
    v = np.concatenate((v_old, u_old[lonely])).astype(np.int64)
    length = np.concatenate((length_old, length_old[lonely]))
    name_ids = np.asarray(graph.edge_name)
    names = [graph.names[i] if i >= 0 else None for i in name_ids.tolist()]
    names += [names[e] for e in lonely.tolist()]
    xy = np.column_stack((np.asarray(graph.geom_lon), np.asarray(graph.geom_lat)))
    coords = np.split(xy, np.asarray(graph.geom_offsets)[1:-1])  # edge_coords of every edge
    coords += [coords[e][::-1] for e in lonely.tolist()]
    meta = {k: val for k, val in graph.meta.items() if k not in _DERIVED_META}
    meta.update(
        mode="walk",
        speed_mps=float(speed_mps),
        base_version=graph.version,
        added_reverse=len(lonely),
    )
    walk = from_edges(
        np.asarray(graph.node_lon),
        np.asarray(graph.node_lat),
        u,
        v,
        length,
        length / speed_mps,
        names,
        coords,
        meta=meta,
    )
    from routing.engine import calibrate

    walk.meta["route_factor"] = calibrate(walk)
    LOGGER.info(
        "walking graph of %s: %d road pieces (%d reverse added), %.2f m/s",
        graph.name or "?",
        walk.n_edges,
        len(lonely),
        speed_mps,
    )
    return walk


def _twins(u: np.ndarray, v: np.ndarray, length: np.ndarray) -> np.ndarray:
    """For each edge, an edge going back (v -> u) with the same length (to 1 cm), else -1;
    each edge is paired at most once. Edges are sorted by (u, v)."""
    n = int(max(u.max(initial=0), v.max(initial=0))) + 1
    key = u.astype(np.int64) * n + v
    back = v.astype(np.int64) * n + u
    twin = np.full(len(u), -1, dtype=np.int32)
    lo = np.searchsorted(key, back, side="left")
    hi = np.searchsorted(key, back, side="right")
    single = (hi - lo == 1) & (u != v)
    i = np.flatnonzero(single)
    j = lo[i]
    ok = np.abs(length[j] - length[i]) < 0.01
    i, j = i[ok], j[ok]
    mutual = (hi[j] - lo[j] == 1) & (lo[j] == i)
    twin[i[mutual]] = j[mutual]
    # parallel edges between the same junctions: pair them one by one
    for k in np.flatnonzero((hi - lo > 1) & (twin < 0) & (u != v)):
        for m in range(lo[k], hi[k]):
            if twin[m] < 0 and twin[k] < 0 and abs(length[m] - length[k]) < 0.01:
                twin[k], twin[m] = m, k
                break
    return twin


def _version(graph: RoadGraph) -> str:
    h = hashlib.sha256()
    for name in ARRAYS:
        h.update(np.ascontiguousarray(getattr(graph, name)).tobytes())
    h.update(json.dumps(graph.names, ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def save(graph: RoadGraph, directory: Path) -> Path:
    """Write the graph to ``directory`` (one ``.npy`` per array, ``names.json``, ``meta.json``);
    written to a temporary folder and renamed, so a reader never sees half a graph."""
    directory = Path(directory)
    tmp = directory.with_name(directory.name + f".tmp{int(time.time() * 1000)}")
    tmp.mkdir(parents=True)
    for name in ARRAYS:
        np.save(tmp / f"{name}.npy", np.ascontiguousarray(getattr(graph, name)))
    from routing.snap import Snapper

    arrays, scalars = Snapper(graph).arrays()
    (tmp / "index").mkdir()
    for name, arr in arrays.items():
        np.save(tmp / "index" / f"{name}.npy", np.ascontiguousarray(arr))
    graph.meta["snap_index"] = scalars
    (tmp / "names.json").write_text(json.dumps(graph.names, ensure_ascii=False))
    (tmp / "meta.json").write_text(json.dumps(graph.meta, ensure_ascii=False, indent=1))
    if directory.exists():
        old = directory.with_name(directory.name + ".old")
        directory.rename(old)
        tmp.rename(directory)
        _rmtree(old)
    else:
        tmp.rename(directory)
    return directory


def load(directory: Path, *, mmap: bool = True) -> RoadGraph:
    """Load a saved graph; arrays are memory-mapped read-only unless ``mmap`` is False."""
    directory = Path(directory)
    if not (directory / "meta.json").exists():
        msg = f"no road graph at {directory}"
        raise UnknownGraph(msg, field="graph")
    arrays = {
        name: np.load(directory / f"{name}.npy", mmap_mode="r" if mmap else None) for name in ARRAYS
    }
    names = tuple(json.loads((directory / "names.json").read_text()))
    meta = json.loads((directory / "meta.json").read_text())
    extras = {}
    if mmap and (directory / "index").is_dir() and "snap_index" in meta:
        extras = {p.stem: np.load(p, mmap_mode="r") for p in (directory / "index").glob("*.npy")}
    return RoadGraph(**arrays, names=names, meta=meta, extras=extras)


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
