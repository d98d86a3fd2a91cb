"""Layers use case: list, read, create, update, delete and import features of a layer.

Each write is one transaction: validated first, written with its audit entry, committed, then
published as an event. A failure anywhere rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from gis import fields as F
from gis import io as gio
from gis import repository as repo
from gis.geometry import ServiceArea
from plans.taxonomy import incident_type

Publish = Callable[[str, dict[str, Any]], object]


def counts(session: Session, kinds: Sequence[str]) -> dict[str, int]:
    return {kind: repo.count_rows(session, kind) for kind in kinds}


def get(session: Session, kind: str, row_id: int) -> dict[str, Any]:
    return repo.to_feature(kind, repo.get_row(session, kind, row_id))


def listing(
    session: Session,
    kind: str,
    *,
    bbox: Sequence[float] | None,
    filters: Mapping[str, Sequence[Any]],
    text: str | None,
    limit: int,
    after: int | None,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of features and the id to continue after (None on the last page)."""
    rows = repo.list_rows(
        session, kind, bbox=bbox, filters=filters, text=text, limit=limit, after=after
    )
    features = [repo.to_feature(kind, r) for r in rows]
    return features, (rows[-1].id if len(rows) == limit else None)


def create(
    session: Session,
    kind: str,
    body: Any,
    *,
    actor: str,
    area: ServiceArea | None,
    publish: Publish,
) -> dict[str, Any]:
    values, geom = gio.read_feature(F.layer(kind), body, area=area)
    _check_codes(kind, values)
    row = repo.create_row(session, kind, values, geom, actor=actor)
    feature = repo.to_feature(kind, row)
    session.commit()
    publish(f"{kind}.created", {"kind": kind, "id": row.id, "feature": feature})
    return feature


def update(
    session: Session,
    kind: str,
    row_id: int,
    body: Any,
    *,
    version: int | None,
    actor: str,
    area: ServiceArea | None,
    publish: Publish,
) -> dict[str, Any]:
    """Apply a partial update; ``version`` (from the body or If-Match) must be current."""
    values, geom = gio.read_feature(F.layer(kind), body, partial=True, area=area)
    if version is None:
        version = _body_version(body)
    _check_codes(kind, values)
    row = repo.update_row(
        session, kind, row_id, version=version, values=values, geom=geom, actor=actor
    )
    feature = repo.to_feature(kind, row)
    session.commit()
    publish(f"{kind}.updated", {"kind": kind, "id": row.id, "feature": feature})
    return feature


def delete(
    session: Session, kind: str, row_id: int, *, version: int | None, actor: str, publish: Publish
) -> None:
    repo.delete_row(session, kind, row_id, version=version, actor=actor)
    session.commit()
    publish(f"{kind}.deleted", {"kind": kind, "id": row_id})


def import_file(
    session: Session,
    kind: str,
    data: bytes,
    *,
    filename: str | None,
    fmt: str | None,
    crs: str | None,
    area: ServiceArea | None,
    max_rows: int,
    actor: str,
    publish: Publish,
) -> dict[str, Any]:
    """Import a whole file, all or nothing; returns how many rows and their ids."""
    spec = F.layer(kind)
    fmt = fmt or gio.detect_format(filename, data)
    rows = gio.read_features(spec, data, fmt=fmt, crs=crs, area=area, max_rows=max_rows)
    for row in rows:
        try:
            _check_codes(kind, row.values)
        except Exception as err:
            err.args = (f"row {row.number}: {err}",)
            if hasattr(err, "message"):
                err.message = f"row {row.number}: {err.message}"
            raise
    ids = repo.insert_many(session, kind, ((r.values, r.geom) for r in rows), actor=actor)
    session.commit()
    publish(f"{kind}.imported", {"kind": kind, "count": len(ids)})
    return {
        "kind": kind,
        "imported": len(ids),
        "ids": ids,
        "format": fmt,
        "crs": crs or "EPSG:4326",
    }


def _check_codes(kind: str, values: Mapping[str, Any]) -> None:
    """Checks that need another domain package: an incident's type is one of the taxonomy's."""
    if kind == "incidents" and values.get("type") is not None:
        incident_type(values["type"])


def _body_version(body: Any) -> int:
    from app.errors import BadRequest

    version = (body.get("properties") or {}).get("version") if isinstance(body, Mapping) else None
    if isinstance(version, bool) or not isinstance(version, int):
        msg = "an update must carry the version you read, as properties.version or If-Match"
        raise BadRequest(msg, field="properties.version")
    return version
