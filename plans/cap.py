"""Warnings as OASIS CAP 1.2 alerts (``urn:oasis:names:tc:emergency:cap:1.2``), pure: the
values and the CAP XML written (:func:`to_xml`). Reading documents back safely and the Atom feed
of active alerts are in :mod:`plans.cap_feed`.

Values
    :class:`CapAlert` holds :class:`CapInfo` blocks (one per language, e.g. ``zh-CN`` and
    ``en``), each with its :class:`CapArea` list, as CAP nests them. An Update or a Cancel names
    the messages it follows in ``references`` (:class:`CapReference`, from ``alert.reference``).
    The values check themselves when made and raise :class:`plans.errors.CapInvalid` (HTTP 422),
    so a value that exists can be written as a schema-valid document.
Coordinates
    The project keeps GeoJSON order (lon, lat); CAP writes "lat,lon". The conversion lives only
    here: :func:`cap_polygon`, :func:`cap_circle` and their inverses :func:`polygon_from_cap`,
    :func:`circle_from_cap`. Degrees are rounded to :data:`COORD_DECIMALS` places (about 0.1 m);
    circle radii are written in kilometres, held in metres.
Times
    :func:`format_time`: seconds precision with a numeric UTC offset, never "Z"; UTC itself is
    written "-00:00" as CAP 1.2 section 3.3.2 requires. Naive datetimes are refused.
Identifiers
    :func:`identifier` makes one without spaces, commas, "<" or "&"; :func:`references_value`
    writes ``references`` ("sender,identifier,sent" per message, space-separated).
Incident taxonomy
    :data:`CATEGORIES_BY_TYPE` and :data:`SEVERITY_BY_LEVEL` map GB/T 35561 types and levels
    I-IV to CAP terms; :func:`info_for_incident` fills an info block from them.
Documents
    :func:`to_xml` writes with the standard library's ElementTree; the output is valid against
    the official CAP 1.2 schema (``CAP-v1.2.xsd``), which the tests check with lxml.
    :func:`plans.cap_feed.read_cap` parses only through :mod:`gis.safe_xml` (DTDs and
    entities refused); :func:`plans.cap_feed.atom_feed` writes an Atom 1.0 feed whose entries
    link to ``application/cap+xml``.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple
from xml.etree import ElementTree as ET

from shapely import MultiPolygon, Polygon

from plans.errors import CapInvalid
from plans.taxonomy import LEVELS, incident_type, lineage

LOGGER = logging.getLogger(__name__)

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP_MIME = "application/cap+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_MIME = "application/atom+xml"
#: Decimal places of the degrees written in polygons and circles (1e-6 degree is ~0.11 m).
COORD_DECIMALS = 6
#: ``valueName`` of the eventCode that carries the project's incident type code.
EVENT_CODE_TYPE = "onemap:incident-type"

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
              "Transport", "Infra", "CBRNE", "Other")  # fmt: skip
RESPONSE_TYPES = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
                  "AllClear", "None")  # fmt: skip
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

#: CAP categories of each incident type; a type not listed takes its nearest listed ancestor's.
CATEGORIES_BY_TYPE: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "natural": ("Other",),
        "natural.flood": ("Met",),
        "natural.meteorological": ("Met",),
        "natural.earthquake": ("Geo",),
        "natural.geological": ("Geo",),
        "natural.forest_fire": ("Fire", "Env"),
        "accident": ("Safety",),
        "accident.fire": ("Fire",),
        "accident.hazmat": ("CBRNE",),
        "accident.hazmat.leak": ("CBRNE", "Env"),
        "accident.gas_explosion": ("Fire", "Infra"),
        "accident.building_collapse": ("Rescue", "Safety"),
        "accident.traffic": ("Transport",),
        "accident.utility": ("Infra",),
        "public_health": ("Health",),
        "social_safety": ("Security",),
        "social_safety.mass_gathering": ("Safety",),
        "social_safety.terrorism": ("Security",),
    }
)
#: CAP severity of each incident level (I is the gravest).
SEVERITY_BY_LEVEL = MappingProxyType(
    {"I": "Extreme", "II": "Severe", "III": "Moderate", "IV": "Minor"}
)
#: An incident is under way: act now, and it has been seen.
DEFAULT_URGENCY = "Immediate"
DEFAULT_CERTAINTY = "Observed"

_RESTRICTED = re.compile(r"[\s,<&]")
_LANGUAGE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
_CAP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[-+]\d\d:\d\d")
#: Characters XML 1.0 cannot hold; removed from texts when writing.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# ---------------------------------------------------------------------------------------------
# Small conversions


def format_time(dt: datetime, *, field: str = "sent") -> str:
    """``dt`` as a CAP time: ``2026-11-25T15:40:00+08:00``; UTC as ``...-00:00``, never "Z".

    Microseconds are dropped (the CAP schema allows none). A naive datetime, or an offset with
    seconds in it, raises :class:`CapInvalid` naming ``field``.
    """
    offset = dt.utcoffset() if isinstance(dt, datetime) else None
    if offset is None:
        msg = f"{field}: a time needs its time zone (a naive datetime is ambiguous)"
        raise CapInvalid(msg, field=field)
    if offset % timedelta(minutes=1):
        msg = f"{field}: a UTC offset of whole minutes is needed, not {offset}"
        raise CapInvalid(msg, field=field)
    text = dt.replace(microsecond=0).isoformat()
    return text[:-6] + "-00:00" if offset == timedelta(0) else text


def parse_time(text: str, *, field: str = "sent") -> datetime:
    """An aware datetime from a CAP time; anything else (no offset, "Z") is :class:`CapInvalid`."""
    text = (text or "").strip()
    if not _CAP_TIME.fullmatch(text):
        msg = f"{field}: {text!r} is not a CAP time such as 2026-11-25T15:40:00+08:00"
        raise CapInvalid(msg, field=field)
    try:
        return datetime.fromisoformat(text)
    except ValueError as err:
        msg = f"{field}: {text!r} is not a real date and time"
        raise CapInvalid(msg, field=field) from err


def identifier(*parts: object) -> str:
    """A valid CAP identifier from ``parts`` joined by ".": runs of anything but ASCII letters,
    digits and ``._:@-`` become "-", so no space, comma, "<" or "&" remains.

    >>> identifier("onemap", "incident 42", "v2")
    'onemap.incident-42.v2'
    """
    cleaned = [re.sub(r"[^A-Za-z0-9._:@-]+", "-", str(p)).strip("-") for p in parts]
    out = ".".join(p for p in cleaned if p)
    if not out:
        msg = f"no identifier can be made from {parts!r}"
        raise CapInvalid(msg, field="identifier")
    return out


class CapReference(NamedTuple):
    """An earlier message named by an Update, Cancel, Ack or Error."""

    sender: str
    identifier: str
    sent: datetime


def references_value(refs: Iterable[CapReference | tuple[str, str, datetime]]) -> str:
    """The ``references`` text: ``sender,identifier,sent`` per message, space-separated."""
    out = []
    for sender, ident, sent in refs:
        _check_token(sender, "references")
        _check_token(ident, "references")
        out.append(f"{sender},{ident},{format_time(sent, field='references')}")
    return " ".join(out)


def _check_token(value: object, field: str) -> None:
    if not isinstance(value, str) or not value or _RESTRICTED.search(value):
        msg = f"{field}: {value!r} must be non-empty, without spaces, commas, '<' or '&'"
        raise CapInvalid(msg, field=field)


def _degrees(value: float) -> str:
    text = f"{round(value, COORD_DECIMALS):.{COORD_DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _lat_lon(lon: float, lat: float, field: str) -> str:
    lon, lat = _number(lon), _number(lat)
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        msg = f"{field}: ({lon}, {lat}) is not a lon, lat position in degrees"
        raise CapInvalid(msg, field=field)
    return f"{_degrees(lat)},{_degrees(lon)}"


def cap_polygon(geom: Polygon | MultiPolygon, *, field: str = "polygons") -> list[str]:
    """The CAP ``<polygon>`` texts of a lon/lat (Multi)Polygon: one per part, "lat,lon" pairs
    separated by spaces, the ring closed, at least four points.

    Holes cannot be expressed in CAP: only each part's outer ring is written, so the alert also
    covers the holes (warning too many rather than too few). Degrees are rounded to
    :data:`COORD_DECIMALS` places and points that then repeat in a row are written once; a part
    left with fewer than four points (three corners and the closing one) is refused.
    """
    if isinstance(geom, Polygon):
        parts = [geom]
    elif isinstance(geom, MultiPolygon):
        parts = list(geom.geoms)
    else:
        msg = f"{field}: a CAP polygon comes from a Polygon or MultiPolygon, not {_kind(geom)}"
        raise CapInvalid(msg, field=field)
    parts = [p for p in parts if not p.is_empty]
    if not parts:
        msg = f"{field}: the polygon is empty"
        raise CapInvalid(msg, field=field)
    out = []
    for part in parts:
        if part.interiors:
            LOGGER.debug("CAP polygon: %d hole(s) dropped", len(part.interiors))
        points: list[str] = []
        for x, y, *_z in part.exterior.coords:
            text = _lat_lon(x, y, field)
            if not points or points[-1] != text:
                points.append(text)
        if len(points) < 4 or points[0] != points[-1]:
            msg = f"{field}: a polygon needs at least 3 distinct corners, closed ({len(points)})"
            raise CapInvalid(msg, field=field)
        out.append(" ".join(points))
    return out


def cap_circle(lon: float, lat: float, radius_m: float, *, field: str = "circles") -> str:
    """The CAP ``<circle>`` text "lat,lon radius_km" of a circle given in lon, lat (degrees) and
    its radius in metres (0 is a point; negative or not finite is refused)."""
    radius = _number(radius_m)
    if not (math.isfinite(radius) and radius >= 0):
        msg = f"{field}: the radius must be a number of metres >= 0, not {radius_m!r}"
        raise CapInvalid(msg, field=field)
    km = f"{radius / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{_lat_lon(lon, lat, field)} {km}"


def _number(value: object) -> float:
    """``value`` as a float (numpy numbers too); NaN for what is not a number."""
    if isinstance(value, str | bytes | bool):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def polygon_from_cap(text: str, *, field: str = "polygon") -> Polygon:
    """The lon/lat Polygon of a CAP polygon text ("lat,lon lat,lon ..."; closed, >= 4 points)."""
    try:
        pairs = [tuple(float(v) for v in p.split(",")) for p in text.split()]
        coords = [(lon, lat) for lat, lon in pairs]
    except ValueError as err:
        msg = f"{field}: {text[:60]!r} is not a list of 'lat,lon' pairs"
        raise CapInvalid(msg, field=field) from err
    if len(coords) < 4 or coords[0] != coords[-1]:
        msg = f"{field}: a CAP polygon needs at least 4 points and its last must be its first"
        raise CapInvalid(msg, field=field)
    for lon, lat in coords:
        _lat_lon(lon, lat, field)
    return Polygon(coords)


def circle_from_cap(text: str, *, field: str = "circle") -> tuple[float, float, float]:
    """``(lon, lat, radius_m)`` of a CAP circle text "lat,lon radius_km"."""
    try:
        centre, km = text.split()
        lat, lon = (float(v) for v in centre.split(","))
        radius_m = float(km) * 1000
    except ValueError as err:
        msg = f"{field}: {text[:60]!r} is not 'lat,lon radius_km'"
        raise CapInvalid(msg, field=field) from err
    cap_circle(lon, lat, radius_m, field=field)
    return lon, lat, radius_m


def _kind(value: object) -> str:
    return getattr(value, "geom_type", type(value).__name__)


# ---------------------------------------------------------------------------------------------
# Values


def _one_of(value: object, allowed: Sequence[str], field: str) -> None:
    if value not in allowed:
        msg = f"{field}: {value!r} is not one of {', '.join(allowed)}"
        raise CapInvalid(msg, field=field)


def _seq(value: object, field: str) -> tuple[Any, ...]:
    """``value`` as a tuple; a lone string or geometry is a sequence of one."""
    if isinstance(value, str | Polygon | MultiPolygon | CapArea | CapInfo):
        return (value,)
    try:
        return tuple(value)  # type: ignore[call-overload]
    except TypeError:
        msg = f"{field}: expected a sequence, not {value!r}"
        raise CapInvalid(msg, field=field) from None


def _tuples(value: Iterable[Iterable[Any]], field: str) -> tuple[tuple[Any, ...], ...]:
    try:
        return tuple(tuple(item) for item in value)
    except TypeError:
        msg = f"{field}: expected a sequence of tuples, not {value!r}"
        raise CapInvalid(msg, field=field) from None


def _pairs(value: Iterable[tuple[str, str]], field: str) -> tuple[tuple[str, str], ...]:
    out = _tuples(value, field)
    for p in out:
        if len(p) != 2 or not all(isinstance(v, str) for v in p) or not p[0]:
            msg = f"{field}: each entry is a (name, value) pair of text, not {p!r}"
            raise CapInvalid(msg, field=field)
    return out  # type: ignore[return-value]


def _freeze(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _check_texts(obj: object, names: Iterable[str]) -> None:
    for name in names:
        if not isinstance(getattr(obj, name), str):
            msg = f"{name}: expected text, not {getattr(obj, name)!r}"
            raise CapInvalid(msg, field=name)


@dataclass(frozen=True, kw_only=True)
class CapArea:
    """One ``<area>``: a description and its shapes, all in lon/lat degrees.

    ``polygons`` holds Polygons or MultiPolygons (each part becomes one ``<polygon>``, holes
    dropped, see :func:`cap_polygon`); ``circles`` holds ``(lon, lat, radius_m)``; ``geocodes``
    holds ``(valueName, value)`` pairs. An area with no shape is allowed (described or geocoded
    only).
    """

    area_desc: str
    polygons: tuple[Polygon | MultiPolygon, ...] = ()
    circles: tuple[tuple[float, float, float], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.area_desc, str) or not self.area_desc.strip():
            raise CapInvalid("areaDesc: an area needs a description", field="areaDesc")
        _freeze(self, "polygons", _seq(self.polygons, "polygons"))
        _freeze(self, "circles", _tuples(self.circles, "circles"))
        _freeze(self, "geocodes", _pairs(self.geocodes, "geocodes"))
        for geom in self.polygons:
            cap_polygon(geom)
        for circle in self.circles:
            if len(circle) != 3:
                msg = f"circles: each circle is (lon, lat, radius_m), not {circle!r}"
                raise CapInvalid(msg, field="circles")
            cap_circle(*circle)
        _freeze(self, "circles", tuple(tuple(_number(v) for v in c) for c in self.circles))


_INFO_TEXTS = ("headline", "description", "instruction", "sender_name", "web", "contact")


@dataclass(frozen=True, kw_only=True)
class CapInfo:
    """One ``<info>`` block, in one language (a BCP 47 tag such as ``zh-CN`` or ``en``).

    Empty text fields are not written. ``parameters`` and ``event_codes`` hold
    ``(valueName, value)`` pairs; times must be aware; ``areas`` are this language's areas (CAP
    nests areas in info, so a bilingual alert repeats its shapes with each description).
    """

    language: str
    categories: tuple[str, ...]
    event: str
    urgency: str = DEFAULT_URGENCY
    severity: str
    certainty: str = DEFAULT_CERTAINTY
    headline: str = ""
    description: str = ""
    instruction: str = ""
    sender_name: str = ""
    response_types: tuple[str, ...] = ()
    event_codes: tuple[tuple[str, str], ...] = ()
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    web: str = ""
    contact: str = ""
    parameters: tuple[tuple[str, str], ...] = ()
    areas: tuple[CapArea, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.language, str) or not _LANGUAGE.fullmatch(self.language):
            msg = f"language: {self.language!r} is not a language tag such as zh-CN or en"
            raise CapInvalid(msg, field="language")
        for name in ("categories", "response_types", "areas"):
            _freeze(self, name, _seq(getattr(self, name), name))
        _check_texts(self, _INFO_TEXTS)
        if not self.categories:
            raise CapInvalid("category: at least one category is needed", field="category")
        for cat in self.categories:
            _one_of(cat, CATEGORIES, "category")
        for rt in self.response_types:
            _one_of(rt, RESPONSE_TYPES, "responseType")
        _one_of(self.urgency, URGENCIES, "urgency")
        _one_of(self.severity, SEVERITIES, "severity")
        _one_of(self.certainty, CERTAINTIES, "certainty")
        if not isinstance(self.event, str) or not self.event.strip():
            raise CapInvalid("event: the event needs a name", field="event")
        _freeze(self, "event_codes", _pairs(self.event_codes, "eventCode"))
        _freeze(self, "parameters", _pairs(self.parameters, "parameter"))
        for name in ("effective", "onset", "expires"):
            if getattr(self, name) is not None:
                format_time(getattr(self, name), field=name)
        start = self.onset or self.effective
        if self.expires is not None and start is not None and self.expires <= start:
            raise CapInvalid("expires: the alert must expire after it starts", field="expires")
        if self.web and not re.match(r"https?://\S+$", self.web):
            raise CapInvalid(f"web: {self.web!r} is not an http(s) URL", field="web")
        if not all(isinstance(a, CapArea) for a in self.areas):
            raise CapInvalid("area: areas must be CapArea values", field="area")


@dataclass(frozen=True, kw_only=True)
class CapAlert:
    """A CAP 1.2 ``<alert>``.

    ``identifier`` and ``sender`` hold no space, comma, "<" or "&" (see :func:`identifier`);
    ``sent`` is aware. An ``Alert`` references nothing; an ``Update``, ``Cancel``, ``Ack`` or
    ``Error`` references at least one earlier message (``earlier.reference``). An ``Alert`` or
    ``Update`` has at least one info, and no two infos share a language. ``Restricted`` scope
    needs ``restriction``, ``Private`` needs ``addresses``. ``incidents`` names the incidents the
    message is about (no spaces in a name).
    """

    identifier: str
    sender: str
    sent: datetime
    msg_type: str = "Alert"
    status: str = "Actual"
    scope: str = "Public"
    infos: tuple[CapInfo, ...] = ()
    references: tuple[CapReference, ...] = ()
    source: str = ""
    restriction: str = ""
    addresses: str = ""
    note: str = ""
    incidents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_token(self.identifier, "identifier")
        _check_token(self.sender, "sender")
        format_time(self.sent, field="sent")
        _one_of(self.status, STATUSES, "status")
        _one_of(self.msg_type, MSG_TYPES, "msgType")
        _one_of(self.scope, SCOPES, "scope")
        _check_texts(self, ("source", "restriction", "addresses", "note"))
        _freeze(self, "infos", _seq(self.infos, "info"))
        refs = _tuples(self.references, "references")
        if any(len(r) != 3 for r in refs):
            msg = "references: each reference is (sender, identifier, sent)"
            raise CapInvalid(msg, field="references")
        _freeze(self, "references", tuple(CapReference(*r) for r in refs))
        _freeze(self, "incidents", _seq(self.incidents, "incidents"))
        self._check_references()
        self._check_infos()
        if self.scope == "Restricted" and not self.restriction:
            raise CapInvalid("restriction: Restricted scope needs a restriction", field="scope")
        if self.scope == "Private" and not self.addresses:
            raise CapInvalid("addresses: Private scope needs addresses", field="scope")
        for name in self.incidents:
            _check_token(name, "incidents")

    def _check_references(self) -> None:
        if self.msg_type == "Alert" and self.references:
            msg = "references: an Alert references nothing; use msgType Update or Cancel"
            raise CapInvalid(msg, field="references")
        if self.msg_type != "Alert" and not self.references:
            msg = f"references: a {self.msg_type} must reference the message(s) it follows"
            raise CapInvalid(msg, field="references")
        references_value(self.references)
        if any(r[:2] == (self.sender, self.identifier) for r in self.references):
            raise CapInvalid("references: a message cannot reference itself", field="references")

    def _check_infos(self) -> None:
        if not all(isinstance(i, CapInfo) for i in self.infos):
            raise CapInvalid("info: infos must be CapInfo values", field="info")
        if self.msg_type in ("Alert", "Update") and not self.infos:
            msg = f"info: an {self.msg_type} needs at least one info"
            raise CapInvalid(msg, field="info")
        languages = [i.language.lower() for i in self.infos]
        if len(set(languages)) != len(languages):
            msg = f"language: one info per language, not {', '.join(languages)}"
            raise CapInvalid(msg, field="language")

    @property
    def reference(self) -> CapReference:
        """How a later Update or Cancel names this message."""
        return CapReference(self.sender, self.identifier, self.sent)

    def info(self, language: str) -> CapInfo | None:
        """The info in ``language`` (``zh`` matches ``zh-CN``), else the first, else None."""
        want = language.lower()
        for info in self.infos:
            have = info.language.lower()
            if have == want or have.split("-")[0] == want.split("-")[0]:
                return info
        return self.infos[0] if self.infos else None


# ---------------------------------------------------------------------------------------------
# From the incident taxonomy


def categories_for(type_code: str) -> tuple[str, ...]:
    """The CAP categories of an incident type (its own, else its nearest ancestor's)."""
    incident_type(type_code, field="type")
    for code in lineage(type_code):
        if code in CATEGORIES_BY_TYPE:
            return CATEGORIES_BY_TYPE[code]
    return ("Other",)


def severity_for(level: str) -> str:
    """The CAP severity of an incident level I-IV."""
    try:
        return SEVERITY_BY_LEVEL[level]
    except (KeyError, TypeError):
        msg = f"level: {level!r} is not one of {', '.join(LEVELS)}"
        raise CapInvalid(msg, field="level") from None


def info_for_incident(type_code: str, level: str, *, language: str, **fields: Any) -> CapInfo:
    """An info block for an incident of ``type_code`` at ``level``, in ``language``.

    Category, event (the type's Chinese name when ``language`` starts with ``zh``, else its
    English name), severity (from the level), urgency ``Immediate`` and certainty ``Observed``
    (both can be overridden) and an eventCode carrying the type code are filled in; ``fields``
    are the other :class:`CapInfo` fields (headline, description, instruction, areas, ...).
    """
    kind = incident_type(type_code, field="type")
    event = kind.name_zh if language.lower().startswith("zh") else kind.name_en
    codes = ((EVENT_CODE_TYPE, type_code), *fields.pop("event_codes", ()))
    return CapInfo(
        language=language,
        categories=categories_for(type_code),
        event=fields.pop("event", event),
        severity=severity_for(level),
        event_codes=codes,
        **fields,
    )


# ---------------------------------------------------------------------------------------------
# Writing


def _q(name: str) -> str:
    return f"{{{CAP_NS}}}{name}"


def _add(parent: ET.Element, name: str, text: str | None) -> None:
    """A child element with ``text``; nothing when the text is empty."""
    if text:
        ET.SubElement(parent, _q(name)).text = _NOT_XML.sub("", text)


def _add_pairs(parent: ET.Element, name: str, pairs: Iterable[tuple[str, str]]) -> None:
    for value_name, value in pairs:
        el = ET.SubElement(parent, _q(name))
        _add(el, "valueName", value_name)
        ET.SubElement(el, _q("value")).text = _NOT_XML.sub("", value)


def _time(dt: datetime | None, name: str) -> str | None:
    return None if dt is None else format_time(dt, field=name)


def _info_xml(parent: ET.Element, info: CapInfo) -> None:
    el = ET.SubElement(parent, _q("info"))
    _add(el, "language", info.language)
    for cat in info.categories:
        _add(el, "category", cat)
    _add(el, "event", info.event)
    for rt in info.response_types:
        _add(el, "responseType", rt)
    for name in ("urgency", "severity", "certainty"):
        _add(el, name, getattr(info, name))
    _add_pairs(el, "eventCode", info.event_codes)
    for name in ("effective", "onset", "expires"):
        _add(el, name, _time(getattr(info, name), name))
    _add(el, "senderName", info.sender_name)
    for name in ("headline", "description", "instruction", "web", "contact"):
        _add(el, name, getattr(info, name))
    _add_pairs(el, "parameter", info.parameters)
    for area in info.areas:
        a = ET.SubElement(el, _q("area"))
        _add(a, "areaDesc", area.area_desc)
        for geom in area.polygons:
            for text in cap_polygon(geom):
                _add(a, "polygon", text)
        for circle in area.circles:
            _add(a, "circle", cap_circle(*circle))
        _add_pairs(a, "geocode", area.geocodes)


def to_xml(alert: CapAlert) -> bytes:
    """The CAP 1.2 document of ``alert``: UTF-8 with an XML declaration, indented, elements in
    the schema's order, characters that XML 1.0 cannot hold removed from texts."""
    root = ET.Element(_q("alert"))
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", format_time(alert.sent))
    _add(root, "status", alert.status)
    _add(root, "msgType", alert.msg_type)
    _add(root, "source", alert.source)
    _add(root, "scope", alert.scope)
    _add(root, "restriction", alert.restriction)
    _add(root, "addresses", alert.addresses)
    _add(root, "note", alert.note)
    _add(root, "references", references_value(alert.references))
    _add(root, "incidents", " ".join(alert.incidents))
    for info in alert.infos:
        _info_xml(root, info)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=CAP_NS)
