"""The wall display across a restart of the server itself: a real ``onemap run`` process, on
the browser tests' database and Redis, is stopped while the wall is open; a dispatch is made
while it is down (by another server process, as a second worker would); the server comes back
on the same port. The wall reconnects by itself, replays what it missed from the event stream
(its last event id), and draws the new routes, without a reload."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DEMO_AREA, MAP_HOOK, PASSWORD
from tests.browser.test_pages import KAISANIEMI, ROUTES_DRAWN, _clean

ONEMAP = Path(sys.executable).with_name("onemap")


class Process:
    """``onemap run`` in a process of its own, on a fixed port, that a test can stop and
    start again."""

    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.env, self.port, self.log = env, port, log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            [str(ONEMAP), "run", "--host", "127.0.0.1", "--port", str(self.port), "--with-threads"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        out.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"onemap run exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail("onemap run did not listen within 60 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None


@pytest.fixture
def process(server: Any, tmp_path: Path) -> Iterator[Process]:
    cfg = server.app.config
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {
        **os.environ,
        "DATABASE_URL": cfg["DATABASE_URL"],
        "REDIS_URL": cfg["REDIS_URL"],
        "ONEMAP_SECRET_KEY": cfg["SECRET_KEY"],
        "ONEMAP_VAR_DIR": str(tmp_path / "var"),
        "ONEMAP_GRAPH_DIR": cfg["GRAPH_DIR"],
        "ONEMAP_DEFAULT_GRAPH": cfg["DEFAULT_GRAPH"],
        "ONEMAP_SERVICE_AREA": DEMO_AREA,
        "ONEMAP_MAP_CENTER": cfg["MAP_CENTER"],
        "ONEMAP_SSE_HEARTBEAT_S": "2",
        "ONEMAP_SSE_RETRY_MS": "500",
    }
    proc = Process(env, port, tmp_path / "server.log")
    proc.start()
    yield proc
    proc.stop()


def _recall_everything(office: Any) -> None:
    """Send every team home: the tests before this one leave teams out on incidents."""
    incidents = office.get("/api/v1/incidents?limit=500").get_json()["features"]
    for inc in incidents:
        answer = office.get(f"/api/v1/incidents/{inc['id']}/dispatches").get_json()
        for d in answer["dispatches"]:
            if d["kind"] == "team" and d["status"] in ("dispatched", "en_route", "on_scene"):
                assert office.post(f"/api/v1/dispatches/{d['id']}/recall").status_code == 200


def _context(browser: Any, guard: Any, url: str, **options: Any) -> Any:
    ctx = browser.new_context(base_url=url, locale="zh-CN", **options)
    ctx.set_default_timeout(15_000)
    ctx.route("**/*", guard.route)
    ctx.add_init_script(MAP_HOOK)
    ctx.on("page", guard.watch)
    r = ctx.request.post("/login", form={"name": "viewer", "password": PASSWORD})
    assert r.ok, r.status
    return ctx


def test_wall_catches_up_after_a_server_restart(browser, guard, server, process):
    ctx = _context(browser, guard, process.url, viewport={"width": 1920, "height": 1080})
    try:
        wall = ctx.new_page()
        wall.goto("/wall")
        expect(wall.locator("#live")).to_have_class("live live")
        wall.evaluate("window.__sameDocument = true")  # gone if the page reloads

        process.stop()
        expect(wall.locator("#live")).not_to_have_class("live live", timeout=20_000)
        # While this server is down another worker takes the work: an incident and its
        # dispatch (through the in-process server of the browser tests, same data and Redis).
        office = server.app.test_client()
        assert office.post(
            "/login", data={"name": "dispatcher", "password": PASSWORD}
        ).status_code in (
            302,
            303,
        )
        _recall_everything(office)
        body = {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(KAISANIEMI)},
            "properties": {
                "type": "accident.traffic.road_mass_casualty",
                "title": "重启期间的事故",
            },
        }
        r = office.post("/api/v1/incidents", json=body)
        assert r.status_code == 201, r.get_json()
        incident_id = r.get_json()["id"]
        r = office.post(f"/api/v1/incidents/{incident_id}/dispatch")
        assert r.status_code == 201, r.get_json()
        sent = [d for d in r.get_json()["dispatches"] if d["kind"] == "team" and d["route"]]
        assert sent, r.get_json()
        routes = [d["route"]["coordinates"] for d in sent]

        process.start()
        expect(wall.locator("#live")).to_have_class("live live", timeout=60_000)
        wall.wait_for_function(ROUTES_DRAWN, arg=routes, timeout=15_000)
        assert wall.evaluate("window.__sameDocument === true")
        for d in sent:  # the teams go home for the other tests
            assert office.post(f"/api/v1/dispatches/{d['id']}/recall").status_code == 200
        _clean(guard)
    finally:
        ctx.close()
