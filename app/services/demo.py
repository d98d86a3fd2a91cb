"""Demo use case: seed the layers of the demo city and its users, deterministically.

Features come from :func:`gis.demo.helsinki_demo_layers` (real OpenStreetMap places of central
Helsinki, plus invented teams, stock and monitoring marked ``demo``). Seeding is idempotent:
when demo rows exist it does nothing unless ``reset`` is given, which deletes them first.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import users
from gis import fields as F
from gis import io as gio
from gis import repository as repo
from gis.models import LAYER_MODELS, User

KINDS = ("depots", "shelters", "teams", "hazards", "sites", "population")
DEMO_USERS = (("admin", "admin"), ("dispatcher", "dispatcher"), ("viewer", "viewer"))
ACTOR = "demo-seed"


def seed_layers(
    session: Session, layers: Mapping[str, list[dict[str, Any]]], *, reset: bool = False
) -> dict[str, int]:
    """Insert the demo features of each layer; returns how many rows each layer has."""
    counts: dict[str, int] = {}
    existing = {k: _demo_ids(session, k) for k in KINDS}
    if reset:
        repo.delete_dispatches_of(session, team_ids=existing["teams"], depot_ids=existing["depots"])
    for kind in KINDS:
        if existing[kind] and not reset:  # seeded before: kept (a layer added later is seeded)
            counts[kind] = len(existing[kind])
            continue
        for row_id in existing[kind]:
            repo.delete_row(session, kind, row_id, version=None, actor=ACTOR)
        spec = F.layer(kind)
        items = []
        for feature in layers.get(kind, []):
            props = {k: v for k, v in feature["properties"].items() if k in spec.by_name}
            values, geom = gio.read_feature(spec, {**feature, "properties": props})
            values["demo"] = True
            items.append((values, geom))
        counts[kind] = len(repo.insert_many(session, kind, items, actor=ACTOR))
    session.commit()
    return counts


def _demo_ids(session: Session, kind: str) -> list[int]:
    model = LAYER_MODELS[kind]
    return list(session.scalars(select(model.id).where(model.demo.is_(True))))


def ensure_users(session: Session, var_dir: Path) -> tuple[str, list[str]]:
    """Create the demo users (admin, dispatcher, viewer) with one password kept in ``var/``."""
    path = var_dir / "demo-password"
    if path.exists():
        password = path.read_text().strip()
    else:
        var_dir.mkdir(parents=True, exist_ok=True)
        password = "demo-" + secrets.token_urlsafe(9)
        path.write_text(password + "\n")
        path.chmod(0o600)
    made = []
    for name, role in DEMO_USERS:
        user = session.scalar(select(User).where(User.name == name))
        if user is None:
            users.create_user(session, name, role, password, actor=ACTOR)
            made.append(name)
        elif not users.check_password(session, name, password):
            users.set_password(session, user, password, actor=ACTOR)
    session.commit()
    return password, made
