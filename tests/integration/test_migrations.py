"""Alembic has one head, and upgrade, downgrade, upgrade works on real PostGIS."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from app import migrate

TABLES = {
    "depots",
    "depot_stock",
    "shelters",
    "teams",
    "hazards",
    "incidents",
    "audit_log",
    "users",
    "api_tokens",
    "plans",
    "dispatches",
    "population",
    "sites",
    "alerts",
    "hazard_readings",
    "evacuations",
    "evacuation_loads",
}


@pytest.fixture
def scratch_db(service_urls):
    """A database of its own, so going down to base does not disturb the other tests."""
    url = make_url(service_urls["TEST_DATABASE_URL"])
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = "onemap_migration_test"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"spatial_ref_sys", "alembic_version"}
    finally:
        engine.dispose()


def test_single_head(service_urls):
    assert len(migrate.heads(service_urls["TEST_DATABASE_URL"])) == 1


def test_upgrade_downgrade_upgrade(scratch_db):
    migrate.upgrade(scratch_db)
    assert _tables(scratch_db) == TABLES
    migrate.downgrade(scratch_db, "base")
    assert _tables(scratch_db) == set()
    migrate.upgrade(scratch_db)
    assert _tables(scratch_db) == TABLES


def test_models_match_migrations(migrated_db):
    """Autogenerate finds nothing to do: the models and the migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from geoalchemy2 import alembic_helpers

    from gis.models import Base

    engine = create_engine(migrated_db)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"include_object": alembic_helpers.include_object}
        )
        diff = compare_metadata(ctx, Base.metadata)
    engine.dispose()
    assert diff == []


def test_geometry_columns_have_gist_indexes(migrated_db):
    engine = create_engine(migrated_db)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT tablename, indexdef FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")
        ).all()
        srids = conn.execute(
            text("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns")
        ).all()
    engine.dispose()
    indexed = {(t, d.split("(")[-1].rstrip(")")) for t, d in rows}
    for table, column, srid in srids:
        assert srid == 4326, (table, column)
        assert (table, column) in indexed, (table, column)
