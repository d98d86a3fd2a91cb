"""OneMap's configuration: one documented class, every key with a default and a sentence.

Any key can be overridden from the environment as ``ONEMAP_<KEY>``; ``DATABASE_URL`` and
``REDIS_URL`` are also read without the prefix, as most deployment tools set them.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


class Config:
    #: SQLAlchemy URL of the PostGIS database (``make`` points it at the private cluster).
    DATABASE_URL: str = "postgresql+psycopg://onemap@127.0.0.1:5432/onemap"
    #: Redis URL: live events, caches, rate limits. Losing Redis degrades those, never data.
    REDIS_URL: str = "redis://127.0.0.1:6379/0"
    #: Key that signs session cookies and field links; when empty, one is kept in ``var/``.
    SECRET_KEY: str = ""
    #: Folder for the runtime state: graphs, the generated secret key, logs.
    VAR_DIR: str = str(ROOT / "var")
    #: Largest request body accepted (bytes); a larger upload gets 413.
    MAX_CONTENT_LENGTH: int = 20 * 1024 * 1024
    #: Most rows one import file may hold.
    MAX_IMPORT_ROWS: int = 100_000
    #: The area served, "min_lon,min_lat,max_lon,max_lat[,margin_deg]"; points far outside it are
    #: refused with a hint (swapped coordinates, wrong CRS). Empty: no check.
    SERVICE_AREA: str = ""
    #: Default and largest page size of a layer listing.
    PAGE_LIMIT: int = 100
    PAGE_LIMIT_MAX: int = 5000
    #: Failed logins allowed per user name and address within LOGIN_WINDOW_S before a 429.
    LOGIN_MAX_FAILURES: int = 5
    LOGIN_WINDOW_S: int = 300
    #: Lifetime of a page login session (seconds).
    SESSION_LIFETIME_S: int = 12 * 3600
    #: Optional online base map: a Leaflet URL template such as an OSM or Tianditu tile URL.
    #: Empty (the default) keeps the map offline.
    BASE_MAP_URL: str = ""
    BASE_MAP_ATTRIBUTION: str = ""
    #: Map centre and zoom when nothing else says where to look.
    MAP_CENTER: str = "24.9384,60.1699"
    MAP_ZOOM: int = 14
    #: Where road graphs are kept (one folder per graph); empty: ``VAR_DIR/graphs``.
    GRAPH_DIR: str = ""
    #: The road graph used when a request names none; empty: the first one by name.
    DEFAULT_GRAPH: str = ""
    #: Largest distance (m) from a point to the nearest road for it to be snapped onto it.
    MAX_SNAP_M: int = 500
    #: How long identical route and isochrone answers are served from Redis (seconds).
    ROUTE_CACHE_TTL_S: int = 3600
    #: Most sources in a nearest query and most points on each side of a matrix.
    MAX_QUERY_POINTS: int = 5000
    #: How long a field team's route link stays valid (seconds); it can be revoked sooner.
    LINK_TTL_S: int = 24 * 3600
    #: Public base URL for links in QR codes (e.g. https://onemap.example.gov.cn); empty: the
    #: address the request came to.
    PUBLIC_URL: str = ""
    #: Redis key prefix for everything OneMap keeps there.
    REDIS_PREFIX: str = "onemap:"
    #: How many past events the Redis stream keeps for clients that reconnect.
    EVENT_STREAM_MAXLEN: int = 10_000
    #: Language of a page when neither ``?lang=``, the ``lang`` cookie nor the browser's
    #: Accept-Language chooses one: ``zh_CN`` or ``en``.
    DEFAULT_LOCALE: str = "zh_CN"
    #: Seconds between heartbeat comments on an open event stream (keeps proxies from closing it).
    SSE_HEARTBEAT_S: int = 15
    #: Seconds one event-stream connection lasts before the server ends it and the browser
    #: reconnects (from its last event id), so no worker is held forever.
    SSE_LIFETIME_S: int = 300
    #: Milliseconds the browser waits before reconnecting (the SSE ``retry:`` field).
    SSE_RETRY_MS: int = 3000
    #: Item codes of the key stock on the wall display's side panel, comma-separated; empty:
    #: every item held.
    SUMMARY_STOCK_ITEMS: str = ""
    #: Test mode (Flask's TESTING).
    TESTING: bool = False
    #: CAP ``sender`` of the alerts this centre issues (an e-mail-like id, no spaces or commas).
    CAP_SENDER: str = "onemap@emergency.example.cn"
    #: The sender's name as shown in CAP ``senderName``.
    CAP_SENDER_NAME: str = "OneMap 应急指挥中心 Emergency Command Centre"
    #: Time zone of the times written in CAP alerts (an IANA name); CAP forbids "Z".
    CAP_TIMEZONE: str = "Asia/Shanghai"
    #: Hours an alert stays active when its issuer gives no expiry.
    ALERT_EXPIRES_H: int = 24
    #: People per square metre of residential floor when no population layer covers an area
    #: (the building-based estimate: footprint x levels x this density).
    PEOPLE_PER_FLOOR_M2: float = 0.02

    @classmethod
    def names(cls) -> list[str]:
        return [k for k in vars(cls) if k.isupper()]


def load(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The configuration: class defaults, then the environment, then ``overrides``."""
    out: dict[str, Any] = {k: getattr(Config, k) for k in Config.names()}
    for key in Config.names():
        raw = os.environ.get(f"ONEMAP_{key}")
        if raw is None and key in ("DATABASE_URL", "REDIS_URL"):
            raw = os.environ.get(key)
        if raw is not None:
            out[key] = _coerce(out[key], raw)
    out.update(overrides or {})
    if not out["SECRET_KEY"]:
        out["SECRET_KEY"] = _stored_secret(Path(out["VAR_DIR"]))
    return out


def _coerce(default: Any, raw: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def _stored_secret(var_dir: Path) -> str:
    """A random secret kept in ``var/secret_key`` so sessions survive a restart."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key
