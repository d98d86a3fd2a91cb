"""Two evacuations committed at the same moment never overfill a shelter.

Two incidents in the same block each ask for an evacuation to the one shelter outside it, which
has room for fewer people than either needs. The commits race in two threads, each with its own
request, session and transaction, against a scratch database (the usual rolled-back connection
would serialise them). Whatever the interleaving, the places reserved never exceed the room, the
reservations equal the committed loads, and a loser is refused with 409 naming the shelter or
sees no room left.
"""

from __future__ import annotations

import json
import os
import threading

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import Point, box
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from gis.models import EvacuationLoad, Incident, PopulationCell, Shelter
from tests.integration.test_dispatch_concurrency import TEST_AREA, at, grid_graph

pytestmark = pytest.mark.integration
ROOM = 40
PEOPLE = (30, 30)  # two population points inside the zone: 60 people, room for 40


@pytest.fixture
def scratch(service_urls, tmp_path_factory):
    from app import create_app, migrate, users
    from app.services import plans as plan_service

    url = make_url(service_urls["TEST_DATABASE_URL"])
    name = f"onemap_evac_race_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    db_url = url.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(db_url)
    try:
        migrate.upgrade(db_url)
        with Session(engine) as s:
            plan_service.sync_library(s, actor="tests")
            user = users.create_user(s, "evac-dispatcher", "dispatcher", None, actor="tests")
            token = users.create_token(s, user, label="race", actor="tests")
            # zone: the left two columns of the 4 x 4 grid; shelter: the far right column
            (x0, y0), (x1, y1) = at(0, 0), at(1, 3)
            for k, n in enumerate(PEOPLE):
                s.add(PopulationCell(people=n, geom=from_shape(Point(at(1, k + 1)), 4326)))
            s.add(Shelter(name="Halli", capacity=ROOM, geom=from_shape(Point(at(3, 2)), 4326)))
            ids = []
            for k in range(2):
                inc = Incident(
                    type="accident.hazmat.leak", geom=from_shape(Point(at(0, k + 1)), 4326)
                )
                s.add(inc)
                s.flush()
                ids.append(inc.id)
            s.commit()
        config = {
            "DATABASE_URL": db_url,
            "REDIS_URL": service_urls["TEST_REDIS_URL"],
            "REDIS_PREFIX": f"onemap-evac-race-{os.getpid()}:",
            "TESTING": True,
            "SECRET_KEY": "race-secret",
            "VAR_DIR": str(tmp_path_factory.mktemp("evac-var")),
            "SERVICE_AREA": TEST_AREA,
        }
        app = create_app(config)
        app.extensions["onemap"].graphs.save(grid_graph(), "race-grid")
        pad = 0.0004
        zone = box(x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        yield app, token, ids, engine, zone.__geo_interface__
        app.extensions["onemap"].engine.dispose()
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


def test_two_evacuations_at_once_never_overfill(scratch):
    app, token, ids, engine, zone = scratch
    barrier = threading.Barrier(2)
    answers: dict[int, tuple[int, dict]] = {}

    def commit(incident_id: int) -> None:
        client = app.test_client()
        barrier.wait()
        r = client.post(
            f"/api/v1/incidents/{incident_id}/evacuation",
            data=json.dumps({"zone": dict(zone), "commit": True}),
            headers={"Authorization": f"Bearer {token}"},
            content_type="application/json",
        )
        answers[incident_id] = (r.status_code, r.get_json())

    threads = [threading.Thread(target=commit, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == 2
    statuses = sorted(code for code, _ in answers.values())
    assert statuses in ([201, 201], [201, 409]), answers
    with Session(engine) as s:
        shelter = s.scalar(select(Shelter))
        loads = s.scalars(select(EvacuationLoad)).all()
        assert shelter.reserved == sum(ld.people for ld in loads) == ROOM
    for code, body in answers.values():
        if code == 409:
            assert body["error"]["field"] == f"shelters.{shelter.id}"
        else:
            placed = sum(f["people"] for f in body["flows"])
            assert placed in (0, ROOM)
            assert placed + body["unassigned"]["people"] == sum(PEOPLE)
