"""Fixtures shared by the test tree.

``unit/`` needs no services. ``integration/`` and ``web/`` use the real PostGIS and Redis that
``make test`` starts (URLs from the environment or ``var/env``): the test database is rebuilt by
the migrations once per run, and every test runs inside a transaction that is rolled back.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TEST_AREA = "24.93,60.16,24.96,60.185"  # central Helsinki, the demo extract


def _service_env() -> dict[str, str]:
    out: dict[str, str] = {}
    env_file = ROOT / "var" / "env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            line = line.strip()
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                out[key] = shlex.split(value)[0] if value else ""
    for key in ("TEST_DATABASE_URL", "TEST_REDIS_URL"):
        if os.environ.get(key):
            out[key] = os.environ[key]
    return out


@pytest.fixture(scope="session")
def service_urls() -> dict[str, str]:
    env = _service_env()
    if "TEST_DATABASE_URL" not in env or "TEST_REDIS_URL" not in env:
        pytest.fail("no TEST_DATABASE_URL/TEST_REDIS_URL: run the tests with `make test`")
    return env


@pytest.fixture(scope="session")
def migrated_db(service_urls: dict[str, str]) -> str:
    """The test database, emptied and migrated to head once per run."""
    from sqlalchemy import create_engine, text

    from app import migrate

    url = service_urls["TEST_DATABASE_URL"]
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    migrate.upgrade(url)
    _load_plans(url)
    return url


def _load_plans(url: str) -> None:
    """The shipped plan library, stored once per run (committed, like the migrations)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from app.services import plans as plan_service

    engine = create_engine(url)
    with Session(engine) as s:
        plan_service.sync_library(s, actor="tests")
    engine.dispose()


@pytest.fixture(scope="session")
def app(migrated_db: str, service_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory):
    from app import create_app

    application = create_app(
        {
            "DATABASE_URL": migrated_db,
            "REDIS_URL": service_urls["TEST_REDIS_URL"],
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "VAR_DIR": str(tmp_path_factory.mktemp("var")),
            "SERVICE_AREA": TEST_AREA,
            "MAX_CONTENT_LENGTH": 256 * 1024,
            "PAGE_LIMIT": 50,
        }
    )
    yield application
    application.extensions["onemap"].engine.dispose()


@pytest.fixture
def connection(app):
    """A connection in an outer transaction; the app's sessions use savepoints inside it."""
    from sqlalchemy.orm import sessionmaker

    st = app.extensions["onemap"]
    original = st.session_factory
    conn = st.engine.connect()
    outer = conn.begin()
    st.session_factory = sessionmaker(
        bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield conn
    st.session_factory = original
    outer.rollback()
    conn.close()


@pytest.fixture
def session(app, connection):
    s = app.extensions["onemap"].session_factory()
    yield s
    s.close()


@pytest.fixture
def redis_client(app):
    """The app's Redis, emptied before and after the test, with what the process keeps beside
    it (answers, token owners, shared proposal rows, proposals): each test starts with nothing
    cached."""
    st = app.extensions["onemap"]
    client = st.redis
    kept = (st.answers, st.callers, st.shared, st.proposal_memo.local)
    client.flushdb()
    for k in kept:
        k.clear()
    yield client
    client.flushdb()
    for k in kept:
        k.clear()


@pytest.fixture
def client(app, connection, redis_client):
    return app.test_client()


@pytest.fixture
def runner(app, connection):
    return app.test_cli_runner()


@pytest.fixture
def tokens(app, connection) -> dict[str, str]:
    """An API token per role: ``{"admin": ..., "dispatcher": ..., "viewer": ...}``."""
    from app import users

    st = app.extensions["onemap"]
    s = st.session_factory()
    out = {}
    for role in ("admin", "dispatcher", "viewer"):
        user = users.create_user(s, f"t-{role}", role, "password-123", actor="test")
        out[role] = users.create_token(s, user, label="test", actor="test")
    s.commit()
    s.close()
    return out


@pytest.fixture
def auth(tokens) -> dict[str, dict[str, str]]:
    """Authorization headers per role."""
    return {role: {"Authorization": f"Bearer {tok}"} for role, tok in tokens.items()}
