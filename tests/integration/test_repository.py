"""What the database itself guarantees: constraints, the append-only audit log, versions."""

from __future__ import annotations

import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from gis import repository as repo
from gis.errors import ConstraintViolation, StaleVersion

P = shapely.Point(24.945, 60.17)


def _depot(session, on_hand=10, reserved=0):
    values = {
        "name": "D",
        "stock": [{"item_code": "TENT", "on_hand": on_hand, "reserved": reserved}],
    }
    return repo.create_row(session, "depots", values, P, actor="test")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE depot_stock SET on_hand = -1",
        "UPDATE depot_stock SET reserved = -1",
        "UPDATE depot_stock SET reserved = on_hand + 1",
    ],
)
def test_stock_never_negative_in_the_database(session, sql):
    _depot(session)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text(sql))


def test_shelter_occupancy_bounded_in_the_database(session):
    repo.create_row(session, "shelters", {"name": "S", "capacity": 10}, P, actor="test")
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(text("UPDATE shelters SET occupancy = 11"))


def test_constraint_surfaces_as_error_naming_the_field(session):
    """Even past Python's checks, a refused constraint names the field (no 500)."""
    with pytest.raises(ConstraintViolation) as info:
        repo.create_row(
            session, "teams", {"name": "T", "type": "fire", "headcount": -3}, P, actor="t"
        )
    assert info.value.field == "properties.headcount"


def test_audit_log_is_append_only(session):
    row = _depot(session)
    entries = repo.audit_entries(session, entity="depots", entity_id=row.id)
    assert [e.action for e in entries] == ["create"]
    assert entries[0].after["properties"]["stock"][0]["on_hand"] == 10
    for sql in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
            session.execute(text(sql))


def test_update_records_before_and_after_and_bumps_version(session):
    row = _depot(session)
    repo.update_row(
        session, "depots", row.id, version=1, values={"name": "D2"}, geom=None, actor="alice"
    )
    entry = repo.audit_entries(session, entity="depots", entity_id=row.id)[0]
    assert (entry.actor, entry.action) == ("alice", "update")
    assert entry.before["properties"]["name"] == "D"
    assert entry.after["properties"]["name"] == "D2"
    assert entry.after["properties"]["version"] == 2
    with pytest.raises(StaleVersion):
        repo.update_row(
            session, "depots", row.id, version=1, values={"name": "D3"}, geom=None, actor="bob"
        )


def test_stock_update_keeps_lines_and_replaces_missing(session):
    row = _depot(session)
    line_id = row.stock[0].id
    repo.update_row(
        session,
        "depots",
        row.id,
        version=1,
        geom=None,
        actor="t",
        values={
            "stock": [
                {"item_code": "TENT", "on_hand": 7, "reserved": 0},
                {"item_code": "WATER", "on_hand": 3, "reserved": 0},
            ]
        },
    )
    session.expire_all()
    row = repo.get_row(session, "depots", row.id)
    assert {s.item_code: s.on_hand for s in row.stock} == {"TENT": 7, "WATER": 3}
    assert next(s.id for s in row.stock if s.item_code == "TENT") == line_id


def test_bbox_query_uses_geometry(session):
    repo.create_row(session, "shelters", {"name": "in", "capacity": 1}, P, actor="t")
    repo.create_row(
        session, "shelters", {"name": "out", "capacity": 1}, shapely.Point(24.99, 60.19), actor="t"
    )
    rows = repo.list_rows(session, "shelters", bbox=(24.94, 60.16, 24.95, 60.18))
    assert [r.name for r in rows] == ["in"]
