"""The dispatch commit's locks and writes, in few round trips to the database.

A commit used to take about a dozen statements, each its own round trip (2-3 ms apiece on
two busy cores): lock the incident, the teams, the stock; reserve; insert the records
(returning their ids), the audit entries; flush the team and incident rows; commit. Here:

- :func:`lock_and_reserve` locks the chosen teams, drawing the ids of the dispatch records to
  come in the same statement (so every record and its audit entry can be written without
  asking the database for its id), and locks and reserves the stock: two statements in one
  pipeline, while the routes are read;
- :func:`write_and_commit` sends every write and the COMMIT in one pipeline (psycopg's
  pipeline mode): one round trip, and all or nothing, as before. It is the one function of
  ``gis`` that commits: it must, for the COMMIT to travel with the writes.

The rows are checked before (teams locked and available, stock reserved by
:func:`lock_and_reserve`); the CHECK constraints still guard.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import orjson
from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement
from psycopg.rows import namedtuple_row
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from gis.errors import ConstraintViolation, NotFound
from gis.models import Incident, Team
from gis.response import read_rows

TEAMS = Team.__table__
INCIDENTS = Incident.__table__


def _columns(table: Any) -> str:
    """A table's columns as the ORM reads them: geometries as EWKB."""
    return ", ".join(
        f"ST_AsEWKB({table.name}.{c.name}) AS {c.name}"
        if isinstance(c.type, Geometry)
        else f"{table.name}.{c.name}"
        for c in table.c
    )


_LOCK_INCIDENT = (
    f"SELECT {_columns(INCIDENTS)} FROM incidents WHERE incidents.id = %(id)s FOR UPDATE"
)


def lock_incident(session: Session, incident_id: int) -> Any:
    """The incident, locked (``SELECT ... FOR UPDATE``), as a named tuple of its columns
    (geometries as :class:`~geoalchemy2.elements.WKBElement`, as the ORM gives them): the
    commit reads it and :func:`write_and_commit` writes its change (through the ORM, loading
    it cost ~2 ms more). Raises :class:`NotFound` when there is no such incident."""
    rows = read_rows(session, _LOCK_INCIDENT, {"id": incident_id})
    if not rows:
        msg = f"incidents {incident_id} does not exist"
        raise NotFound(msg, field="id")
    return _with_shapes(rows[0], _INCIDENT_GEOMETRIES)


_DRAW_IDS = (
    "(SELECT array_agg(nextval(pg_get_serial_sequence('dispatches', 'id'))) "
    "FROM generate_series(1, %(n_ids)s)) AS ids"
)
_LOCK_TEAMS = (
    f"SELECT {_columns(TEAMS)}, {_DRAW_IDS} FROM teams "
    "WHERE teams.id = ANY(%(team_ids)s::int[]) ORDER BY teams.id FOR UPDATE OF teams"
)
_ONLY_IDS = f"SELECT {_DRAW_IDS}"
_RESERVE = (
    "UPDATE depot_stock SET reserved = depot_stock.reserved + locked.q "
    "FROM (SELECT s.id, a.q FROM depot_stock s "
    "JOIN unnest(%(depot_ids)s::int[], %(item_codes)s::text[], %(quantities)s::bigint[]) "
    "AS a(depot_id, item_code, q) ON s.depot_id = a.depot_id AND s.item_code = a.item_code "
    "ORDER BY s.id FOR UPDATE OF s) AS locked "
    "WHERE depot_stock.id = locked.id AND depot_stock.on_hand - depot_stock.reserved >= locked.q "
    "RETURNING depot_stock.depot_id, depot_stock.item_code"
)
_FREE = "SELECT on_hand - reserved FROM depot_stock WHERE depot_id = %(d)s AND item_code = %(c)s"


def lock_and_reserve(
    session: Session,
    team_ids: Sequence[int],
    n_ids: int,
    lines: Sequence[tuple[int, str, int]],
    *,
    meanwhile: Callable[[], object] | None = None,
) -> tuple[dict[int, Any], list[int]]:
    """Lock the teams and draw ``n_ids`` new dispatch ids (one statement), then lock and
    reserve the stock ``lines`` (``(depot_id, item_code, quantity)``, one ``UPDATE``): the two
    statements travel together in one psycopg pipeline, and ``meanwhile`` (work that needs
    no database, such as reading the chosen teams' routes) runs while the server executes
    them. Teams and stock lines are locked in id order, so two commits never deadlock; a
    stock line is raised only when enough is free, checked on the line as the lock found it
    (the same line asked twice is reserved once with the sum); the CHECK constraints still
    guard. Ids drawn by a transaction that rolls back are not used again.

    The teams come as named tuples of their table's columns (geometries as
    :class:`~geoalchemy2.elements.WKBElement`, as the ORM gives them), not ORM objects:
    loading those cost ~0.2 ms a team, and :func:`write_and_commit` writes the change.

    Raises
    ------
    NotFound
        Naming the first team (in the order given) that does not exist.
    ConstraintViolation
        Naming the first stock line (in the order given) without enough free; nothing of the
        others is kept once the caller rolls back.
    """
    asked: dict[tuple[int, str], int] = {}
    for depot_id, item_code, quantity in lines:
        asked[depot_id, item_code] = asked.get((depot_id, item_code), 0) + int(quantity)
    ids_sql = {"n_ids": max(int(n_ids), 1)}
    pg = session.connection().connection.driver_connection
    with (
        pg.pipeline(),
        pg.cursor(row_factory=namedtuple_row) as teams_cur,
        pg.cursor() as stock_cur,
    ):
        if team_ids:
            # arrays, not lists of values: one statement text, prepared once per connection
            params = {**ids_sql, "team_ids": sorted(set(team_ids))}
            teams_cur.execute(_LOCK_TEAMS, params, prepare=True)
        else:
            teams_cur.execute(_ONLY_IDS, ids_sql, prepare=True)
        if asked:
            stock_cur.execute(
                _RESERVE,
                {
                    "depot_ids": [d for d, _ in asked],
                    "item_codes": [c for _, c in asked],
                    "quantities": list(asked.values()),
                },
                prepare=True,
            )
        if meanwhile is not None:
            meanwhile()
        rows = teams_cur.fetchall()
        done = set(stock_cur.fetchall()) if asked else set()
    ids = list(rows[0].ids or []) if rows and n_ids else []
    found = {r.id: _with_shapes(r, _TEAM_GEOMETRIES) for r in rows} if team_ids else {}
    for tid in team_ids:
        if tid not in found:
            msg = f"team {tid} does not exist"
            raise NotFound(msg, field="teams", team_id=tid)
    if len(done) < len(asked):
        depot_id, item_code = next(k for k in asked if k not in done)
        with pg.cursor() as cur:
            free = cur.execute(_FREE, {"d": depot_id, "c": item_code}).fetchone()
        msg = (
            f"depot {depot_id} has only {int(free[0] if free else 0)} of {item_code} free, "
            f"{asked[depot_id, item_code]} asked; reload the proposal"
        )
        raise ConstraintViolation(msg, field="materials", depot_id=depot_id, item_code=item_code)
    return found, ids


_TEAM_GEOMETRIES = tuple(c.name for c in TEAMS.c if isinstance(c.type, Geometry))
_INCIDENT_GEOMETRIES = tuple(c.name for c in INCIDENTS.c if isinstance(c.type, Geometry))


def _with_shapes(row: Any, columns: Sequence[str]) -> Any:
    return row._replace(
        **{
            c: WKBElement(bytes(getattr(row, c)), srid=4326, extended=True)
            for c in columns
            if getattr(row, c) is not None
        }
    )


@dataclass(frozen=True, slots=True)
class NewDispatch:
    """A dispatch record about to be written: what :func:`gis.response.dispatch_record`, the
    audit and the field link read of a :class:`~gis.models.Dispatch`, without the ORM's
    bookkeeping (which cost ~0.2 ms a record). Its route is kept apart, as a lon/lat array."""

    id: int
    incident_id: int
    kind: str
    status: str
    plan_id: str | None
    plan_level: str | None
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    team_id: int | None = None
    depot_id: int | None = None
    item_code: str | None = None
    quantity: int | None = None
    eta_s: float | None = None
    distance_m: float | None = None
    steps: list[Any] | None = None
    link_nonce: str | None = None
    link_expires_at: datetime | None = None
    version: int = 1
    link_revoked_at: datetime | None = None
    route: None = None  # the stored geometry is not read back; ``write_and_commit`` has it


def new_dispatches(rows: Sequence[Mapping[str, Any]], ids: Sequence[int]) -> list[NewDispatch]:
    """The dispatch records of ``rows`` (every column but ``route``, which is left out), with
    the ids drawn; not yet written."""
    if len(ids) != len(rows):
        msg = f"{len(rows)} dispatch records, {len(ids)} ids drawn"
        raise ValueError(msg)
    return [
        NewDispatch(id=i, **{k: v for k, v in row.items() if k != "route"})
        for row, i in zip(rows, ids, strict=True)
    ]


# Each write is one statement, its rows sent as one array per column: a row at a time
# (``executemany``), a commit of 40 records and 90 audit entries cost ~0.1 ms of Python and a
# statement's start-up on the server for each row. The arrays go in binary (``%b``): as text,
# every quote of the JSON in them is escaped, a regex substitution each (~60 ms for a commit
# of ~50 records).
_SEND_TEAMS = (
    "UPDATE teams SET status = 'dispatched', version = t.version, updated_at = %(at)s "
    "FROM unnest(%(ids)s::int[], %(versions)s::int[]) AS t(id, version) WHERE teams.id = t.id"
)
_UPDATE_INCIDENT = (
    "UPDATE incidents SET status = %(status)s, level = %(level)s, version = %(version)s, "
    "updated_at = %(at)s WHERE id = %(id)s"
)
#: A dispatch record's columns and their types, as they travel: the route as WKB (as EWKT
#: text, the column type's default, PostGIS took about as long to parse a commit's routes as
#: to insert its rows), the steps as JSON text.
_DISPATCH_ARRAYS = (
    ("id", "int"),
    ("incident_id", "int"),
    ("kind", "text"),
    ("team_id", "int"),
    ("depot_id", "int"),
    ("item_code", "text"),
    ("quantity", "bigint"),
    ("status", "text"),
    ("plan_id", "text"),
    ("plan_level", "text"),
    ("eta_s", "float8"),
    ("distance_m", "float8"),
    ("route", "bytea"),
    ("steps", "text"),
    ("link_nonce", "text"),
    ("link_expires_at", "timestamptz"),
    ("version", "int"),
    ("created_by", "text"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
)
_COLUMNS = ", ".join(c for c, _ in _DISPATCH_ARRAYS)
_INSERT_DISPATCHES = (
    f"INSERT INTO dispatches ({_COLUMNS}) SELECT "
    + ", ".join(
        "ST_GeomFromWKB(r.route, 4326)"
        if c == "route"
        else "r.steps::jsonb"
        if c == "steps"
        else f"r.{c}"
        for c, _ in _DISPATCH_ARRAYS
    )
    + " FROM unnest("
    + ", ".join(f"%({c})b::{t}[]" for c, t in _DISPATCH_ARRAYS)
    + f") AS r({_COLUMNS})"
)
_AUDIT_KEYS = ("actor", "action", "entity", "entity_id", "before", "after")
_INSERT_AUDIT = (
    "INSERT INTO audit_log (actor, action, entity, entity_id, before, after) "
    "SELECT a.actor, a.action, a.entity, a.entity_id, a.before::jsonb, a.after::jsonb "
    "FROM unnest(%(actor)b::text[], %(action)b::text[], %(entity)b::text[], "
    "%(entity_id)b::bigint[], %(before)b::text[], %(after)b::text[]) "
    "WITH ORDINALITY AS a(actor, action, entity, entity_id, before, after, n) "
    "ORDER BY a.n"  # the ids (the timeline's order) follow the entries' order
)


def write_and_commit(
    session: Session,
    *,
    sent_teams: Sequence[tuple[int, int]],
    records: Sequence[NewDispatch],
    routes: Sequence[Any],
    audits: Sequence[Mapping[str, Any]],
    incident: Any,
    now: datetime,
    meanwhile: Callable[[], object] | None = None,
) -> None:
    """Write a commit and COMMIT, in one round trip: ``sent_teams`` (``(id, new version)`` of
    each team, locked, now dispatched); ``incident`` (its row as :func:`lock_incident` gives
    it, with its new status, level and version);
    ``records`` from :func:`new_dispatches` with ``routes`` (a (n, 2) lon/lat array or None each);
    the ``audits`` (``actor, action, entity, entity_id, before, after``) in order;
    ``meanwhile`` runs once the writes are sent, before the COMMIT (an error it raises rolls
    everything back).

    The session's own unit of work must have nothing pending: the rows are written here, not
    flushed by the ORM (an ORM copy of the teams or the incident the session holds is expired
    after the COMMIT). Any error
    raised by a statement aborts the whole transaction; it is rolled back and re-raised.
    (A session joined to an outer transaction, as the tests' are, releases a savepoint
    instead of committing; an error then surfaces as the pipeline ends, and the outer
    transaction is the one to roll back.)"""
    pg = session.connection().connection.driver_connection
    try:
        with pg.pipeline(), pg.cursor() as cur:
            if sent_teams:
                cur.execute(
                    _SEND_TEAMS,
                    {
                        "ids": [i for i, _ in sent_teams],
                        "versions": [v for _, v in sent_teams],
                        "at": now,
                    },
                )
            cur.execute(_INSERT_DISPATCHES, _dispatch_arrays(records, routes))
            cur.execute(_INSERT_AUDIT, _audit_arrays(audits))
            cur.execute(
                _UPDATE_INCIDENT,
                {
                    "status": incident.status,
                    "level": incident.level,
                    "version": incident.version,
                    "at": now,
                    "id": incident.id,
                },
            )
            if meanwhile is not None:  # work that needs no database, while the server writes
                meanwhile()
            # the COMMIT (or, inside a test's outer transaction, the savepoint's release)
            # travels in the same pipeline
            session.commit()
    except Exception:
        session.rollback()
        raise
    stale = [identity_key(Team, team_id) for team_id, _ in sent_teams]
    stale.append(identity_key(Incident, incident.id))
    for key in stale:  # a copy the session loaded before is out of date now
        kept = session.identity_map.get(key)
        if kept is not None:
            session.expire(kept)


def line_wkb(coords: np.ndarray) -> bytes:
    """A (n, 2) lon/lat array, n >= 2, as the WKB of a 2D LineString (little-endian): its
    header and the coordinates' own bytes, ~25 times faster than through a shapely line."""
    xy = np.ascontiguousarray(coords, dtype="<f8")
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < 2:
        msg = f"a line needs two or more lon/lat points, not an array of shape {xy.shape}"
        raise ValueError(msg)
    return struct.pack("<BII", 1, 2, len(xy)) + xy.tobytes()


def _json(value: Any) -> str:
    """JSON text for a ``jsonb`` column (numpy numbers as numbers), by orjson: ~10 times faster
    than the standard library for a commit's steps and audit images."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _dispatch_arrays(records: Sequence[NewDispatch], routes: Sequence[Any]) -> dict[str, list]:
    out: dict[str, list] = {c: [] for c, _ in _DISPATCH_ARRAYS}
    for d, route in zip(records, routes, strict=True):
        for c, t in _DISPATCH_ARRAYS:
            v = getattr(d, c)
            if c == "route":
                v = line_wkb(route) if route is not None else None
            elif c == "steps":
                v = _json(v) if v is not None else None
            elif t == "float8" and v is not None:
                v = float(v)  # one element type per array
            out[c].append(v)
    return out


def _audit_arrays(audits: Sequence[Mapping[str, Any]]) -> dict[str, list]:
    out: dict[str, list] = {k: [] for k in _AUDIT_KEYS}
    for e in audits:
        for k in _AUDIT_KEYS:
            v = e[k]
            if k in ("before", "after") and v is not None:
                v = _json(v)
            out[k].append(v)
    return out
