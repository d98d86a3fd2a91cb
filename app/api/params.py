"""Parsing request parts (query strings, bodies, headers) into plain values, naming the field at
fault when one is wrong."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from flask import request

from app.errors import BadRequest
from gis import fields as F
from gis.errors import MalformedInput


def json_body() -> Any:
    """The request body as JSON, or a 400 that says where the JSON breaks."""
    data = request.get_data(cache=True)
    if not data.strip():
        msg = "the request body is empty; send a JSON document"
        raise MalformedInput(msg, field="body")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        msg = "the request body is not UTF-8 text"
        raise MalformedInput(msg, field="body") from err
    except json.JSONDecodeError as err:
        msg = (
            f"the request body is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}"
        )
        raise MalformedInput(msg, field="body") from err


def bbox(text: str | None) -> tuple[float, float, float, float] | None:
    """``min_lon,min_lat,max_lon,max_lat`` as four finite numbers in range."""
    if text is None or text == "":
        return None
    try:
        parts = tuple(float(p) for p in text.split(","))
    except ValueError as err:
        msg = "bbox must be min_lon,min_lat,max_lon,max_lat (four numbers)"
        raise BadRequest(msg, field="bbox") from err
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        msg = "bbox must be min_lon,min_lat,max_lon,max_lat (four numbers)"
        raise BadRequest(msg, field="bbox")
    x0, y0, x1, y1 = parts
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        msg = "bbox needs min <= max, lon within -180..180 and lat within -90..90"
        raise BadRequest(msg, field="bbox")
    return x0, y0, x1, y1


def integer(name: str, text: str | None, *, minimum: int, maximum: int | None = None) -> int | None:
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError as err:
        msg = f"{name} must be a whole number"
        raise BadRequest(msg, field=name) from err
    if value < minimum or (maximum is not None and value > maximum):
        top = f"..{maximum}" if maximum is not None else " or more"
        msg = f"{name} must be {minimum}{top}, got {value}"
        raise BadRequest(msg, field=name)
    return value


def flag(name: str, text: str | None, *, default: bool) -> bool:
    """A yes/no query parameter: ``true``/``false`` (or ``1``/``0``), ``default`` when absent."""
    if text is None:
        return default
    value = text.strip().lower()
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    msg = f"{name} must be true or false, got {text!r}"
    raise BadRequest(msg, field=name)


LIST_PARAMS = {"bbox", "limit", "after", "q"}


def filters(spec: F.LayerSpec, args: Mapping[str, str]) -> dict[str, list[Any]]:
    """Attribute filters from the query string: ``?status=available,dispatched&type=fire``."""
    out: dict[str, list[Any]] = {}
    allowed = {f.name: f for f in spec.filterable}
    for key in args:
        if key in LIST_PARAMS:
            continue
        f = allowed.get(key)
        if f is None:
            known = ", ".join(sorted(LIST_PARAMS | set(allowed)))
            msg = f"unknown query parameter {key!r}; known: {known}"
            raise BadRequest(msg, field=key)
        values: list[Any] = []
        for raw in ",".join(args.getlist(key)).split(","):  # type: ignore[attr-defined]
            raw = raw.strip()
            if f.kind == "bool":
                if raw.lower() not in ("true", "false"):
                    msg = f"{key} must be true or false"
                    raise BadRequest(msg, field=key)
                values.append(raw.lower() == "true")
            else:
                if f.kind == "choice" and raw not in f.choices:
                    msg = f"unknown value {raw!r} for {key}; allowed: {', '.join(f.choices)}"
                    raise BadRequest(msg, field=key)
                values.append(raw)
        out[key] = values
    return out


def version_from_headers() -> int | None:
    """The version in an ``If-Match: "3"`` (or ``W/"3"``) header, if any."""
    raw = request.headers.get("If-Match")
    if not raw:
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    try:
        return int(text)
    except ValueError as err:
        msg = 'If-Match must carry the version you read, e.g. If-Match: "3"'
        raise BadRequest(msg, field="If-Match") from err
