"""Plan library use case: load the YAML library into PostGIS, list plans, and let admins edit a
plan (validated, versioned, audited)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from gis import response as rrepo
from plans.library import LIBRARY_DIR, load_dir
from plans.schema import parse_plan


def sync_library(session: Session, *, actor: str, directory: Path = LIBRARY_DIR) -> dict[str, int]:
    """Store every library plan; a changed document gets a new version. All or nothing."""
    docs = load_dir(directory)
    changed = 0
    for doc in docs:
        _, did = rrepo.upsert_plan(session, doc, actor=actor)
        changed += int(did)
    session.commit()
    return {"plans": len(docs), "changed": changed}


def documents(
    session: Session, cache: dict[tuple[str, int], dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The stored plan documents, as the matcher takes them. With ``cache`` (kept by the app,
    keyed by plan id and version) only new versions are read from the database."""
    if cache is None:
        return [p.document for p in rrepo.plans(session)]
    versions = rrepo.plan_versions(session)
    missing = [pid for pid, v in versions if (pid, v) not in cache]
    if missing:
        for p in rrepo.plans(session, ids=missing):
            cache[(p.id, p.version)] = p.document
    return [cache[(pid, v)] for pid, v in versions if (pid, v) in cache]


def summary(p: Any) -> dict[str, Any]:
    return {
        "id": p.id,
        "version": p.version,
        "title_zh": p.title_zh,
        "title_en": p.title_en,
        "incident_types": list(p.incident_types),
        "levels": [lv["level"] for lv in p.document["levels"]],
        "updated_at": p.updated_at.isoformat() if p.updated_at else None,
        "updated_by": p.updated_by,
    }


def replace(
    session: Session, plan_id: str, text: str, *, version: int | None, actor: str
) -> dict[str, Any]:
    """Replace a plan with a new YAML document (admins). ``version`` must be current."""
    from gis.errors import InvalidInput, StaleVersion

    doc = parse_plan(text, source=f"{plan_id}.yaml")
    if doc["id"] != plan_id:
        msg = f"the document's id {doc['id']!r} differs from {plan_id!r}"
        raise InvalidInput(msg, field="id")
    current = rrepo.plan(session, plan_id, lock=True)
    if version is not None and version != current.version:
        msg = f"plan {plan_id} is at version {current.version}, not {version}; reload it"
        raise StaleVersion(msg, field="version", current=current.version)
    p, _ = rrepo.upsert_plan(session, doc, actor=actor)
    session.commit()
    return {**summary(p), "document": p.document}


def listing(session: Session) -> list[dict[str, Any]]:
    return [summary(p) for p in rrepo.plans(session)]


def one(session: Session, plan_id: str) -> dict[str, Any]:
    p = rrepo.plan(session, plan_id)
    return {**summary(p), "document": p.document}
