"""The OneMap application: ``create_app(config)`` is the only place an engine, a Redis client or a
graph store is made."""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from app import compress, errors
from app import config as config_mod
from app.events import Publisher
from app.extensions import State, close_db
from app.gc_between import collect_after_response
from app.jsonio import FastJSONProvider
from app.services.proposal_memo import ProposalMemo
from gis.geometry import ServiceArea
from routing.store import GraphStore

LOGGER = logging.getLogger(__name__)


#: The garbage collector's thresholds in a server process (Python's are 700, 10, 10). A view
#: or a commit allocates thousands of objects, nearly all freed by reference counting; with the
#: defaults, 100 dispatch commits after their views ran ~940 young collections and 7 full ones
#: of up to 50 ms each (on the Porto benchmark, the road graph already frozen out of them);
#: with these, 12 young ones and no full one. Cyclic garbage waits a little longer, and is
#: mostly collected between requests (:mod:`app.gc_between`).
GC_THRESHOLDS = (20_000, 20, 100)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Parameters
    ----------
    config
        Overrides of :class:`app.config.Config` keys (after the ``ONEMAP_*`` environment).
    """
    settings = config_mod.load(config)
    gc.set_threshold(*GC_THRESHOLDS)
    app = Flask(
        __name__,
        static_folder=str(config_mod.ROOT / "static"),
        static_url_path="/static",
        template_folder="templates",
    )
    app.config.update(settings)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings["SESSION_LIFETIME_S"]),
        JSON_SORT_KEYS=False,
    )
    app.json = FastJSONProvider(app)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    engine = create_engine(
        settings["DATABASE_URL"], pool_pre_ping=True, pool_size=10, max_overflow=20
    )
    client = redis.Redis.from_url(
        settings["REDIS_URL"], socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
    app.extensions["onemap"] = State(
        engine=engine,
        session_factory=sessionmaker(bind=engine, expire_on_commit=False),
        redis=client,
        publisher=Publisher(
            client, prefix=settings["REDIS_PREFIX"], maxlen=settings["EVENT_STREAM_MAXLEN"]
        ),
        area=ServiceArea.parse(settings["SERVICE_AREA"]),
        graphs=GraphStore(
            Path(settings["GRAPH_DIR"] or Path(settings["VAR_DIR"]) / "graphs"),
            default=settings["DEFAULT_GRAPH"],
            max_snap_m=float(settings["MAX_SNAP_M"]),
            # A road graph is a few hundred thousand objects that live as long as the process:
            # frozen out of the collector's full passes, which otherwise cost ~150 ms each on
            # the Porto graph, at random, inside whichever request triggers one.
            on_load=gc.freeze,
        ),
        proposal_memo=ProposalMemo(client, prefix=settings["REDIS_PREFIX"]),
    )
    # Blocking reads of the live event stream wait up to a heartbeat: their own client, with a
    # socket timeout longer than that (the shared one gives up after 2 s).
    app.extensions["onemap.live_redis"] = redis.Redis.from_url(
        settings["REDIS_URL"],
        socket_timeout=float(settings["SSE_HEARTBEAT_S"]) + 10,
        socket_connect_timeout=2,
        health_check_interval=30,
    )
    app.teardown_appcontext(close_db)
    errors.register(app)
    compress.init_app(app)

    from app import auth, cli, console, field, i18n, live, web
    from app.api import blueprint as api_blueprint

    i18n.init_app(app)
    auth.init_app(app)
    app.register_blueprint(api_blueprint)
    app.register_blueprint(web.blueprint)
    app.register_blueprint(field.blueprint)
    app.register_blueprint(live.blueprint)
    app.register_blueprint(console.blueprint)
    cli.register(app)
    app.wsgi_app = collect_after_response(app.wsgi_app)  # type: ignore[method-assign]
    return app
