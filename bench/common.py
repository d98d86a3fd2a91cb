"""What the benchmarks share: percentiles, the service URLs, a free port, the commit measured, a
scratch database, the app as a server process, and writing the figures as JSON beside the
printed tables."""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def pct(values: Sequence[float | None]) -> dict[str, float]:
    """n, p50, p95, mean and max of the values that are not None (ms unless said otherwise)."""
    a = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(a):
        return {"n": 0, "p50": math.nan, "p95": math.nan, "mean": math.nan, "max": math.nan}
    return {
        "n": len(a),
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "mean": float(a.mean()),
        "max": float(a.max()),
    }


def service_env() -> dict[str, str]:
    """``var/env`` (written by scripts/services.sh), overridden by the environment."""
    out: dict[str, str] = {}
    env_file = REPO / "var" / "env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            line = line.strip()
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                out[key] = shlex.split(value)[0] if value else ""
    for key in ("DATABASE_URL", "TEST_DATABASE_URL", "REDIS_URL", "TEST_REDIS_URL"):
        if os.environ.get(key):
            out[key] = os.environ[key]
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_report(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=_json_default))


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(type(x).__name__)


def log(msg: str) -> None:
    """A progress line on standard error, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def fmt(x: Any, digits: int = 1) -> str:
    """A table cell: "-" for None or NaN, floats to ``digits`` places (small ones as 1.2e-03),
    strings as they are."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, float) and math.isnan(x):
        return "-"
    if isinstance(x, float) and (abs(x) < 10**-digits and x != 0):
        return f"{x:.1e}"
    return f"{x:.{digits}f}" if isinstance(x, float) else str(x)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, digits: int = 1) -> str:
    """A plain-text table; short rows are padded with empty cells."""
    cells = [[fmt(c, digits) for c in row] + [""] * (len(headers) - len(row)) for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "-+-".join("-" * w for w in widths)]
    out += [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def server_kind(requested: str) -> str:
    """``requested`` ("gunicorn" or "dev"), or "dev" when gunicorn is not installed."""
    import importlib.util

    if requested == "gunicorn" and importlib.util.find_spec("gunicorn") is None:
        log("gunicorn is not installed: falling back to Flask's threaded dev server")
        return "dev"
    return requested


def gunicorn_quiet() -> list[str]:
    """``--no-control-socket`` where gunicorn has one (it would make ``~/.gunicorn/``)."""
    from gunicorn import config

    flags = {c for s in config.KNOWN_SETTINGS for c in (s.cli or ())}
    return ["--no-control-socket"] if "--no-control-socket" in flags else []


def git(*cmd: str) -> str:
    """``git -C <repo> <cmd>``'s output, or "" when git or the repository is not there."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), *cmd], capture_output=True, text=True)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def code_state(*paths: str) -> dict[str, str]:
    """The commit measured, and whether ``paths`` have uncommitted changes (``yes``/``no``)."""
    dirty = git("status", "--porcelain", "--", *paths)
    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "dirty": "yes" if dirty else "no",
    }


class ScratchDb:
    """Database ``name`` on the cluster of ``base_url``: dropped and created again, migrated,
    and, with ``plans_actor``, the plan library loaded."""

    def __init__(self, base_url: str, name: str, *, plans_actor: str | None = None) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        if not name.replace("_", "").isalnum():
            raise SystemExit(f"database name {name!r}: letters, digits and _ only")
        self.text = text
        self.name = name
        self.plans_actor = plans_actor
        base = make_url(base_url)
        self.admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
        self.url = base.set(database=name).render_as_string(hide_password=False)

    def create(self) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.orm import Session

        from app import migrate
        from app.services import plans as plan_service

        with self.admin.connect() as conn:
            conn.execute(self.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            conn.execute(self.text(f'CREATE DATABASE "{self.name}"'))
        migrate.upgrade(self.url)
        if self.plans_actor is not None:
            engine = create_engine(self.url)
            with Session(engine) as s:
                plan_service.sync_library(s, actor=self.plans_actor)
            engine.dispose()

    def drop(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(self.text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


class AppProcess:
    """A server (the app, by ``cmd``) in a subprocess of its own session on 127.0.0.1:``port``,
    its output in ``log_path``."""

    def __init__(self, cmd: Sequence[str], env: dict[str, str], log_path: Path, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.log = log_path.open("wb")
        self.proc = subprocess.Popen(
            list(cmd),
            cwd=REPO,
            env={**os.environ, **env, "PYTHONPATH": str(REPO)},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def loaded(self) -> bool:
        """Whether the server is ready beyond answering (a subclass may wait for more)."""
        return True

    def wait_ready(self, timeout: float = 90.0) -> float:
        """Seconds until ``/api/v1/health`` answers and :meth:`loaded` holds."""
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}):\n{self.tail()}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/v1/health")
                ok = conn.getresponse().status == 200
                conn.close()
                if ok and self.loaded():
                    return time.perf_counter() - t0
            time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, n: int = 20) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.log.close()
