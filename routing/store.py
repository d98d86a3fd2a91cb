"""The graph store: road graphs saved under one folder, loaded once per process, shared read-only.

Each graph lives in ``<dir>/<name>/`` (see :mod:`routing.graph`). An engine is built on first
use and kept; when a graph is imported again (its ``meta.json`` changes) the next call loads the
new one, so a long-running server picks up a re-import without a restart.

Each graph can be used in two modes: ``"drive"`` (the graph as imported: car speeds, one-way
streets) and ``"walk"`` (:func:`routing.graph.walking` of it: every road both ways at walking
pace). The walking engine is derived in memory on first use, once per process and graph
version, and derived again after a re-import.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from routing import graph as graph_mod
from routing.engine import Engine
from routing.errors import BadRequest, UnknownGraph

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
#: How a graph can be travelled: as imported by car, or on foot (see routing.graph.walking).
MODES = ("drive", "walk")


def check_name(name: object) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        msg = "graph names are 1-64 letters, digits, '_', '.' or '-'"
        raise BadRequest(msg, field="graph")
    return name


def check_mode(mode: object) -> str:
    """``mode`` if it is one of :data:`MODES`, else :class:`BadRequest` naming ``mode``."""
    if not isinstance(mode, str) or mode not in MODES:
        msg = f"the travel mode is one of {', '.join(MODES)}, not {mode!r}"
        raise BadRequest(msg, field="mode")
    return mode


class GraphStore:
    """Engines by graph name, loaded lazily from ``directory``."""

    def __init__(
        self,
        directory: Path,
        *,
        default: str | None = None,
        max_snap_m: float = 500.0,
        on_load: Callable[[], object] | None = None,
    ):
        """``on_load`` is called after an engine is built (with its snapping index): the
        server freezes what it holds from the garbage collector's full passes there."""
        self.directory = Path(directory)
        self.default = default or None
        self.max_snap_m = max_snap_m
        self.on_load = on_load
        self._engines: dict[str, tuple[tuple[int, int], Engine]] = {}
        self._lock = threading.Lock()
        #: walking engines by graph name, with the stamp of the drive graph they come from
        self._walk: dict[str, tuple[tuple[int, int], Engine]] = {}
        #: one lock per graph name for deriving its walking engine, so that one slow
        #: derivation neither runs twice nor holds up the drive engines
        self._walk_locks: dict[str, threading.Lock] = {}

    def names(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(
            p.name
            for p in self.directory.iterdir()
            if (p / "meta.json").is_file() and NAME_RE.match(p.name)
        )

    def default_name(self) -> str:
        names = self.names()
        if self.default and self.default in names:
            return self.default
        if not names:
            msg = "no road graph has been imported; run `onemap graph import FILE --name NAME`"
            raise UnknownGraph(msg, field="graph")
        return names[0]

    def engine(self, name: str | None = None, *, mode: str = "drive") -> Engine:
        """The engine of graph ``name`` (the default graph when None) in ``mode``: ``"drive"``
        (the graph as imported) or ``"walk"`` (every road both ways at walking pace).

        Raises :class:`UnknownGraph` for a graph that is not there and :class:`BadRequest`
        (field ``mode``) for another mode.
        """
        mode = check_mode(mode)
        name = check_name(name) if name is not None else self.default_name()
        stamp, drive = self._drive(name)
        if mode == "drive":
            return drive
        return self._walking(name, stamp, drive)

    def _drive(self, name: str) -> tuple[tuple[int, int], Engine]:
        meta = self.directory / name / "meta.json"
        try:
            st = meta.stat()
            stamp = (st.st_ino, st.st_mtime_ns)  # a re-import renames a new folder in
        except FileNotFoundError:
            known = ", ".join(self.names()) or "none"
            msg = f"no road graph {name!r}; imported: {known}"
            raise UnknownGraph(msg, field="graph") from None
        with self._lock:
            cached = self._engines.get(name)
            if cached is None or cached[0] != stamp:
                g = graph_mod.load(self.directory / name)
                eng = Engine(g, max_snap_m=self.max_snap_m)
                eng.snapper  # noqa: B018  (loaded or built here once, under the lock)
                cached = (stamp, eng)
                self._engines[name] = cached
                self._loaded()
        return cached

    def _walking(self, name: str, stamp: tuple[int, int], drive: Engine) -> Engine:
        """The walking engine derived from ``drive`` (graph ``name`` as of ``stamp``)."""
        cached = self._walk.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            lock = self._walk_locks.setdefault(name, threading.Lock())
        with lock:
            cached = self._walk.get(name)
            if cached is None or cached[0] != stamp:
                eng = Engine(graph_mod.walking(drive.g), max_snap_m=self.max_snap_m)
                eng.snapper  # noqa: B018  (built here once: a derived graph has no saved index)
                cached = (stamp, eng)
                self._walk[name] = cached
                self._loaded()
        return cached[1]

    def _loaded(self) -> None:
        if self.on_load is not None:
            self.on_load()

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for name in self.names():
            meta = json.loads((self.directory / name / "meta.json").read_text())
            out.append(
                {
                    "name": name,
                    "default": name == self.default_name(),
                    "source": meta.get("source"),
                    "bbox": meta.get("bbox"),
                    "nodes": meta.get("nodes"),
                    "edges": meta.get("edges"),
                    "built_at": meta.get("built_at"),
                    "build_seconds": meta.get("build_seconds"),
                    "version": meta.get("version"),
                    "component": meta.get("component"),
                }
            )
        return out

    def save(self, graph: graph_mod.RoadGraph, name: str) -> Path:
        check_name(name)
        self.directory.mkdir(parents=True, exist_ok=True)
        return graph_mod.save(graph, self.directory / name)
