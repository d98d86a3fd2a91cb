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
    demo.seed_layers(session, layers, reset=True)
    assert sum(repo.count_rows(session, k) for k in demo.KINDS) == total
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
