"""What each layer's features may carry: fields, types, allowed values, and their validation.

A create or an update arrives as a GeoJSON Feature whose ``properties`` are the row's fields.
:func:`clean_properties` turns them into values for the database, or raises :class:`InvalidInput`
naming ``properties.<field>`` and the problem. Unknown fields are refused, not dropped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from gis import enums
from gis.errors import InvalidInput, InvalidTransition

MAX_TEXT = 2000
READ_ONLY = frozenset({"id", "version", "created_at", "updated_at", "kind", "reserved"})


@dataclass(frozen=True)
class Field:
    """One property of a layer's features.

    ``kind`` is one of: ``text``, ``int``, ``bool``, ``choice``, ``choices`` (a list of choices),
    ``tags`` (a list of free strings), ``datetime``, ``point`` (``[lon, lat]``), ``area`` (a GeoJSON
    Polygon or MultiPolygon), ``object`` (a JSON object), ``stock`` (a depot's stock lines).
    """

    name: str
    kind: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    filterable: bool = False
    description: str = ""


@dataclass(frozen=True)
class LayerSpec:
    """A layer: its fields and the geometry types its features may have."""

    kind: str
    title_zh: str
    title_en: str
    geometry_types: frozenset[str]
    fields: tuple[Field, ...]
    by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def filterable(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.filterable)


def _names(vocab: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(vocab)


COMMON = (
    Field("name", required=True, filterable=True, description="Name (local language)"),
    Field("name_en", description="Name in English"),
    Field("phone", description="Contact telephone"),
    Field("contact", description="Contact person"),
    Field("notes", description="Free notes"),
    Field("osm_id", description="Source feature id, e.g. OpenStreetMap way/123"),
    Field("demo", "bool", filterable=True, description="True for demo data"),
)

STOCK_LINE_FIELDS = ("item_code", "name_zh", "name_en", "unit", "on_hand", "reserved")

DEPOTS = LayerSpec(
    "depots",
    "物资储备库",
    "Material depots",
    frozenset({"Point"}),
    (
        *COMMON,
        Field("address"),
        Field("operator", filterable=True, description="Operating agency"),
        Field(
            "stock",
            "stock",
            description=(
                "Stock lines: item_code, name_zh, name_en, unit, on_hand >= 0, "
                "0 <= reserved <= on_hand"
            ),
        ),
    ),
)

SHELTERS = LayerSpec(
    "shelters",
    "避难场所",
    "Shelters",
    frozenset({"Point", "Polygon", "MultiPolygon"}),
    (
        *COMMON,
        Field("address"),
        Field("shelter_type", "choice", choices=_names(enums.SHELTER_TYPES), filterable=True),
        Field("capacity", "int", required=True, minimum=0, description="Places (people)"),
        Field("occupancy", "int", minimum=0, description="People there now (<= capacity)"),
        Field("status", "choice", choices=_names(enums.SHELTER_STATUSES), filterable=True),
        Field("facilities", "choices", choices=_names(enums.SHELTER_FACILITIES)),
    ),
)

TEAMS = LayerSpec(
    "teams",
    "救援队伍",
    "Rescue teams",
    frozenset({"Point"}),
    (
        *COMMON,
        Field("type", "choice", required=True, choices=_names(enums.TEAM_TYPES), filterable=True),
        Field("capabilities", "tags", description="What the team can do, e.g. aerial_ladder"),
        Field("headcount", "int", minimum=0, maximum=10000),
        Field("home_base", "point", description="[lon, lat] of the team's base"),
        Field(
            "status",
            "choice",
            choices=_names(enums.TEAM_STATUSES),
            filterable=True,
            description="available -> dispatched -> en_route -> on_scene -> returning",
        ),
        Field("position_reported_at", "datetime", description="When the position was reported"),
        Field("callsign", filterable=True),
    ),
)

HAZARDS = LayerSpec(
    "hazards",
    "灾害风险隐患点",
    "Hazard points",
    frozenset({"Point"}),
    (
        *COMMON,
        Field("type", "choice", required=True, choices=_names(enums.HAZARD_TYPES), filterable=True),
        Field("risk_level", "choice", choices=_names(enums.RISK_LEVELS), filterable=True),
        Field("influence", "area", description="Influence area (GeoJSON Polygon, lon/lat)"),
        Field("monitoring", "object", description="Sensor, unit and thresholds (warn, alarm)"),
        Field("responsible", description="Responsible person or unit"),
        Field("description"),
    ),
)

INCIDENTS = LayerSpec(
    "incidents",
    "突发事件",
    "Incidents",
    frozenset({"Point"}),
    (
        Field("type", required=True, filterable=True, description="Incident type code"),
        Field("level", "choice", choices=_names(enums.INCIDENT_LEVELS), filterable=True),
        Field("title"),
        Field("description"),
        Field("status", "choice", choices=_names(enums.INCIDENT_STATUSES), filterable=True),
        Field("casualties", "int", minimum=0, description="Reported deaths"),
        Field("injured", "int", minimum=0),
        Field("affected", "int", minimum=0, description="People affected"),
        Field("area", "area", description="Affected area (GeoJSON Polygon, lon/lat)"),
        Field("reported_at", "datetime"),
        Field("demo", "bool", filterable=True),
    ),
)

POPULATION = LayerSpec(
    "population",
    "人口分布",
    "Population",
    frozenset({"Point", "Polygon", "MultiPolygon"}),
    (
        Field(
            "people",
            "int",
            required=True,
            minimum=0,
            description="People in the cell or at the point",
        ),
        Field("source", filterable=True, description="census, register, buildings (estimate), ..."),
        Field("name"),
        Field("year", "int", minimum=1900, maximum=2100),
        Field("demo", "bool", filterable=True),
    ),
)

SITES = LayerSpec(
    "sites",
    "敏感目标",
    "Sensitive sites",
    frozenset({"Point", "Polygon", "MultiPolygon"}),
    (
        *COMMON,
        Field(
            "site_type", "choice", required=True, choices=_names(enums.SITE_TYPES), filterable=True
        ),
        Field("occupants", "int", minimum=0, description="People usually there"),
        Field("address"),
    ),
)

LAYERS: Mapping[str, LayerSpec] = {
    s.kind: s for s in (DEPOTS, SHELTERS, TEAMS, HAZARDS, INCIDENTS, POPULATION, SITES)
}


def layer(kind: str) -> LayerSpec:
    """The spec of layer ``kind``, or :class:`InvalidInput` naming the known kinds."""
    try:
        return LAYERS[kind]
    except KeyError:
        msg = f"unknown layer {kind!r}; known: {', '.join(LAYERS)}"
        raise InvalidInput(msg, field="kind") from None


def clean_properties(
    spec: LayerSpec, props: object, *, partial: bool = False, prefix: str = "properties"
) -> dict[str, Any]:
    """Validate ``props`` against ``spec`` and return the cleaned values.

    Read-only keys (``id``, ``version``, timestamps) are ignored. With ``partial`` (an update)
    required fields may be missing. ``null`` clears an optional field.
    """
    if not isinstance(props, Mapping):
        msg = "must be a JSON object"
        raise InvalidInput(msg, field=prefix)
    out: dict[str, Any] = {}
    for key, value in props.items():
        if key in READ_ONLY:
            continue
        f = spec.by_name.get(key)
        if f is None:
            msg = f"unknown field {key!r} for {spec.kind}; known: {', '.join(spec.by_name)}"
            raise InvalidInput(msg, field=f"{prefix}.{key}")
        name = f"{prefix}.{key}"
        if value is None:
            if f.required:
                msg = "is required and cannot be null"
                raise InvalidInput(msg, field=name)
            out[key] = None
            continue
        out[key] = clean_value(f, value, name=name)
    if not partial:
        for f in spec.fields:
            if f.required and f.name not in out:
                msg = "is required"
                raise InvalidInput(msg, field=f"{prefix}.{f.name}")
    return out


def clean_value(f: Field, value: object, *, name: str) -> Any:  # noqa: C901 - one switch
    """Validate one value of field ``f``; ``name`` is the field path used in errors."""
    kind = f.kind
    if kind == "text":
        return _text(value, name)
    if kind == "int":
        return _int(f, value, name)
    if kind == "bool":
        if not isinstance(value, bool):
            msg = "must be true or false"
            raise InvalidInput(msg, field=name)
        return value
    if kind == "choice":
        return _choice(f, value, name)
    if kind in ("choices", "tags"):
        if not isinstance(value, list):
            msg = "must be a list of strings"
            raise InvalidInput(msg, field=name)
        items = [_text(v, f"{name}[{i}]") for i, v in enumerate(value)]
        if kind == "choices":
            for i, v in enumerate(items):
                _choice(f, v, f"{name}[{i}]")
        return list(dict.fromkeys(items))
    if kind == "datetime":
        return parse_datetime(value, field=name)
    if kind == "object":
        if not isinstance(value, Mapping):
            msg = "must be a JSON object"
            raise InvalidInput(msg, field=name)
        return dict(value)
    if kind == "stock":
        return clean_stock(value, field=name)
    # "point" and "area" are geometries: the caller parses them with gis.geometry.
    return value


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        msg = "must be a string"
        raise InvalidInput(msg, field=name)
    text = value.strip()
    if len(text) > MAX_TEXT:
        msg = f"is longer than {MAX_TEXT} characters"
        raise InvalidInput(msg, field=name)
    return text


def _int(f: Field, value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = "must be a whole number"
        raise InvalidInput(msg, field=name)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            msg = "must be a whole number"
            raise InvalidInput(msg, field=name)
        value = int(value)
    if f.minimum is not None and value < f.minimum:
        msg = f"must be >= {f.minimum}, got {value}"
        raise InvalidInput(msg, field=name)
    if f.maximum is not None and value > f.maximum:
        msg = f"must be <= {f.maximum}, got {value}"
        raise InvalidInput(msg, field=name)
    if abs(value) > 2**62:
        msg = "is too large"
        raise InvalidInput(msg, field=name)
    return value


def _choice(f: Field, value: object, name: str) -> str:
    if not isinstance(value, str) or value not in f.choices:
        msg = f"unknown value {value!r}; allowed: {', '.join(f.choices)}"
        raise InvalidInput(msg, field=name)
    return value


def parse_datetime(value: object, *, field: str) -> datetime:
    """Parse an ISO 8601 time that carries a UTC offset (``Z`` or ``+08:00``)."""
    if not isinstance(value, str):
        msg = "must be an ISO 8601 time string such as 2026-11-25T08:30:00+08:00"
        raise InvalidInput(msg, field=field)
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError as err:
        msg = f"{value!r} is not an ISO 8601 time such as 2026-11-25T08:30:00+08:00"
        raise InvalidInput(msg, field=field) from err
    if dt.tzinfo is None:
        msg = f"{value!r} has no UTC offset; add one such as +08:00 or Z"
        raise InvalidInput(msg, field=field)
    return dt.astimezone(UTC)


STOCK_LINE = {
    "item_code": Field("item_code", required=True),
    "name_zh": Field("name_zh"),
    "name_en": Field("name_en"),
    "unit": Field("unit"),
    "on_hand": Field("on_hand", "int", required=True, minimum=0),
    "reserved": Field("reserved", "int", minimum=0),
}


def clean_stock(value: object, *, field: str) -> list[dict[str, Any]]:
    """Validate a depot's stock lines: unique item codes, ``0 <= reserved <= on_hand``."""
    if not isinstance(value, list):
        msg = "must be a list of stock lines"
        raise InvalidInput(msg, field=field)
    lines: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(value):
        name = f"{field}[{i}]"
        line = _stock_line(raw, name)
        if line["item_code"] in seen:
            msg = f"item {line['item_code']!r} appears twice"
            raise InvalidInput(msg, field=f"{name}.item_code")
        seen.add(line["item_code"])
        lines.append(line)
    return lines


def _stock_line(raw: object, name: str) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        msg = "must be an object with item_code and on_hand"
        raise InvalidInput(msg, field=name)
    line: dict[str, Any] = {}
    for key, v in raw.items():
        f = STOCK_LINE.get(key)
        if f is None:
            if key in ("id", "available"):
                continue
            msg = f"unknown field {key!r}; known: {', '.join(STOCK_LINE)}"
            raise InvalidInput(msg, field=f"{name}.{key}")
        if v is None and not f.required:
            continue
        line[key] = clean_value(f, v, name=f"{name}.{key}")
    for f in STOCK_LINE.values():
        if f.required and f.name not in line:
            msg = "is required"
            raise InvalidInput(msg, field=f"{name}.{f.name}")
    if not line["item_code"]:
        msg = "must not be empty"
        raise InvalidInput(msg, field=f"{name}.item_code")
    line.setdefault("reserved", 0)
    if line["reserved"] > line["on_hand"]:
        msg = f"reserved ({line['reserved']}) exceeds on_hand ({line['on_hand']})"
        raise InvalidInput(msg, field=f"{name}.reserved")
    return line


def check_row(kind: str, values: Mapping[str, Any], *, before: Mapping[str, Any] | None) -> None:
    """Checks across fields of a whole row, after an update is merged into it.

    Shelters: ``occupancy <= capacity``. Teams: a status change must be an allowed transition
    (see :data:`gis.enums.TEAM_TRANSITIONS`).
    """
    if kind == "shelters":
        capacity, occupancy = values.get("capacity"), values.get("occupancy") or 0
        if capacity is not None and occupancy > capacity:
            msg = f"occupancy ({occupancy}) exceeds capacity ({capacity})"
            raise InvalidInput(msg, field="properties.occupancy")
    if kind == "teams" and before is not None:
        old, new = before.get("status"), values.get("status")
        if new is not None and old is not None and new != old:
            allowed = enums.TEAM_TRANSITIONS.get(old, frozenset())
            if new not in allowed:
                msg = (
                    f"a team cannot go from {old} to {new}; from {old} it can go to "
                    f"{', '.join(sorted(allowed)) or 'nothing'}"
                )
                raise InvalidTransition(msg, field="properties.status")
