"""The demo city seeds real Helsinki features into PostGIS, deterministically and idempotently."""

from __future__ import annotations

import pytest

from app.services import demo
from gis import repository as repo
from gis.demo import helsinki_demo_layers


@pytest.fixture(scope="module")
def layers():
    return helsinki_demo_layers()


def test_seed_is_idempotent_and_reset_reseeds(session, layers, tmp_path):
    counts = demo.seed_layers(session, layers)
    assert counts == {k: len(layers[k]) for k in demo.KINDS}
    assert all(counts.values())
    assert demo.seed_layers(session, layers) == counts  # second run changes nothing
    total = sum(repo.count_rows(session, k) for k in demo.KINDS)
    assert total == sum(counts.values())
    before = {r.id for r in repo.list_rows(session, "shelters", limit=1000)}
    demo.seed_layers(session, layers, reset=True)
    assert sum(repo.count_rows(session, k) for k in demo.KINDS) == total
    after = {r.id for r in repo.list_rows(session, "shelters", limit=1000)}
    assert after and not after & before  # the rows were deleted and seeded anew
    shelters = repo.list_rows(session, "shelters", limit=1000)
    assert all(r.demo for r in shelters)
    assert "Ressun lukio" in {r.name for r in shelters}  # a real school of the extract


def test_demo_users_share_a_stored_password(session, tmp_path):
    from app import users

    password, made = demo.ensure_users(session, tmp_path)
    assert made == ["admin", "dispatcher", "viewer"]
    again, made2 = demo.ensure_users(session, tmp_path)
    assert (again, made2) == (password, [])
    assert users.check_password(session, "dispatcher", password).role == "dispatcher"


def test_reset_after_a_dispatch_and_a_layer_added_later(session, layers):
    """A demo that has been used (a team and stock dispatched) can be reset; a layer added to
    the demo since the first seed is seeded on the next run without a reset."""
    from geoalchemy2.shape import from_shape
    from shapely.geometry import Point

    from gis.models import Depot, Dispatch, Incident, Team

    partial = {k: v for k, v in layers.items() if k not in ("sites", "population")}
    first = demo.seed_layers(session, partial)
    assert first["sites"] == 0 and first["population"] == 0
    counts = demo.seed_layers(session, layers)
    assert counts["sites"] == len(layers["sites"]) > 0
    assert counts["population"] == len(layers["population"]) > 0
    inc = Incident(type="accident.fire.urban", geom=from_shape(Point(24.944, 60.17), 4326))
    session.add(inc)
    session.flush()
    team = session.query(Team).filter(Team.demo.is_(True)).first()
    depot = session.query(Depot).filter(Depot.demo.is_(True)).first()
    session.add(Dispatch(incident_id=inc.id, kind="team", team_id=team.id))
    session.add(
        Dispatch(incident_id=inc.id, kind="material", depot_id=depot.id, item_code="x", quantity=1)
    )
    session.commit()
    old_teams = {t.id for t in session.query(Team)}
    again = demo.seed_layers(session, layers, reset=True)
    assert again == counts
    assert not {t.id for t in session.query(Team)} & old_teams
    assert session.query(Dispatch).count() == 0
