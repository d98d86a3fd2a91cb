"""CAP 1.2 documents read back safely (:func:`read_cap`, through :mod:`gis.safe_xml`: DTDs and
entities refused), and the Atom 1.0 feed of the alerts in force (:func:`atom_feed`), whose entries
link to their ``application/cap+xml`` documents. The values and the writing are in
:mod:`plans.cap`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from xml.etree import ElementTree as ET

from gis import safe_xml
from plans.cap import (
    _NOT_XML,
    ATOM_MIME,
    ATOM_NS,
    CAP_MIME,
    CAP_NS,
    CapAlert,
    CapArea,
    CapInfo,
    CapReference,
    _q,
    circle_from_cap,
    parse_time,
    polygon_from_cap,
)
from plans.errors import CapInvalid

# ---------------------------------------------------------------------------------------------
# Reading


def _text(el: ET.Element, name: str, *, required: bool = False) -> str:
    child = el.find(_q(name))
    text = (child.text or "").strip() if child is not None else ""
    if required and not text:
        msg = f"{name}: the CAP element <{name}> is missing or empty"
        raise CapInvalid(msg, field=name)
    return text


def _texts(el: ET.Element, name: str) -> tuple[str, ...]:
    return tuple((c.text or "").strip() for c in el.findall(_q(name)))


def _read_pairs(el: ET.Element, name: str) -> tuple[tuple[str, str], ...]:
    return tuple((_text(c, "valueName"), _text(c, "value")) for c in el.findall(_q(name)))


def _read_time(el: ET.Element, name: str) -> datetime | None:
    text = _text(el, name)
    return parse_time(text, field=name) if text else None


def _read_area(el: ET.Element) -> CapArea:
    return CapArea(
        area_desc=_text(el, "areaDesc", required=True),
        polygons=tuple(polygon_from_cap(t) for t in _texts(el, "polygon")),
        circles=tuple(circle_from_cap(t) for t in _texts(el, "circle")),
        geocodes=_read_pairs(el, "geocode"),
    )


def _read_info(el: ET.Element) -> CapInfo:
    return CapInfo(
        language=_text(el, "language") or "en-US",  # the schema's default
        categories=_texts(el, "category"),
        event=_text(el, "event", required=True),
        response_types=_texts(el, "responseType"),
        urgency=_text(el, "urgency", required=True),
        severity=_text(el, "severity", required=True),
        certainty=_text(el, "certainty", required=True),
        event_codes=_read_pairs(el, "eventCode"),
        effective=_read_time(el, "effective"),
        onset=_read_time(el, "onset"),
        expires=_read_time(el, "expires"),
        sender_name=_text(el, "senderName"),
        headline=_text(el, "headline"),
        description=_text(el, "description"),
        instruction=_text(el, "instruction"),
        web=_text(el, "web"),
        contact=_text(el, "contact"),
        parameters=_read_pairs(el, "parameter"),
        areas=tuple(_read_area(a) for a in el.findall(_q("area"))),
    )


def _read_references(text: str) -> tuple[CapReference, ...]:
    out = []
    for item in text.split():
        parts = item.split(",")
        if len(parts) != 3:
            msg = f"references: {item!r} is not 'sender,identifier,sent'"
            raise CapInvalid(msg, field="references")
        out.append(CapReference(parts[0], parts[1], parse_time(parts[2], field="references")))
    return tuple(out)


def read_cap(data: bytes | str) -> CapAlert:
    """The :class:`CapAlert` of a CAP 1.2 document, parsed safely (DTDs and entities refused).

    What the values do not hold is skipped: ``code``, ``audience``, ``resource``, ``altitude``,
    ``ceiling`` and signatures. Each MultiPolygon written by :func:`to_xml` comes back as its
    separate Polygons.

    Raises
    ------
    gis.errors.MalformedInput
        Not XML, or a DTD/entity (HTTP 400).
    CapInvalid
        XML, but not a valid CAP 1.2 alert: another namespace or version, a missing element, a
        bad value (HTTP 422; ``field`` names the CAP element).
    """
    root = safe_xml.parse_xml(data, field="file")
    if root.tag != _q("alert"):
        msg = f"not a CAP 1.2 alert: the root element is {root.tag!r}, not {{{CAP_NS}}}alert"
        raise CapInvalid(msg, field="file")
    return CapAlert(
        identifier=_text(root, "identifier", required=True),
        sender=_text(root, "sender", required=True),
        sent=parse_time(_text(root, "sent", required=True)),
        status=_text(root, "status", required=True),
        msg_type=_text(root, "msgType", required=True),
        source=_text(root, "source"),
        scope=_text(root, "scope", required=True),
        restriction=_text(root, "restriction"),
        addresses=_text(root, "addresses"),
        note=_text(root, "note"),
        references=_read_references(_text(root, "references")),
        incidents=tuple(_text(root, "incidents").split()),
        infos=tuple(_read_info(i) for i in root.findall(_q("info"))),
    )


# ---------------------------------------------------------------------------------------------
# Atom feed


@dataclass(frozen=True, kw_only=True)
class AtomEntry:
    """One feed entry: an alert, linked to its CAP document (``cap_url``)."""

    id: str
    title: str
    updated: datetime
    cap_url: str
    summary: str = ""
    language: str = ""


def feed_entry(
    alert: CapAlert, *, cap_url: str, language: str = "zh-CN", entry_id: str = ""
) -> AtomEntry:
    """The entry of ``alert``: title and summary from its info in ``language`` (else its first
    info; the identifier when it has none); ``entry_id`` defaults to ``cap_url``."""
    info = alert.info(language)
    title = (info.headline or info.event) if info else alert.identifier
    return AtomEntry(
        id=entry_id or cap_url,
        title=title,
        updated=alert.sent,
        cap_url=cap_url,
        summary=info.description if info else alert.note,
        language=info.language if info else "",
    )


def _atom_time(dt: datetime, name: str) -> str:
    if dt.utcoffset() is None:
        msg = f"{name}: a time needs its time zone (a naive datetime is ambiguous)"
        raise CapInvalid(msg, field=name)
    return dt.replace(microsecond=0).isoformat()


def atom_feed(
    entries: Iterable[AtomEntry],
    *,
    feed_id: str,
    title: str,
    updated: datetime,
    self_url: str,
    author: str = "OneMap",
) -> bytes:
    """An Atom 1.0 feed (RFC 4287), UTF-8: one entry per alert, each with a link
    ``rel="alternate" type="application/cap+xml"`` to its CAP document. Times are written with
    their UTC offset (RFC 3339); naive ones raise :class:`CapInvalid`."""

    # unqualified names: the root's xmlns puts every element in the Atom namespace
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    ET.SubElement(root, "id").text = feed_id
    ET.SubElement(root, "title").text = _NOT_XML.sub("", title)
    ET.SubElement(root, "updated").text = _atom_time(updated, "updated")
    ET.SubElement(ET.SubElement(root, "author"), "name").text = author
    ET.SubElement(root, "link", {"rel": "self", "type": ATOM_MIME, "href": self_url})
    for entry in entries:
        el = ET.SubElement(root, "entry")
        if entry.language:
            el.set("{http://www.w3.org/XML/1998/namespace}lang", entry.language)
        ET.SubElement(el, "id").text = entry.id
        ET.SubElement(el, "title").text = _NOT_XML.sub("", entry.title)
        ET.SubElement(el, "updated").text = _atom_time(entry.updated, "updated")
        ET.SubElement(el, "link", {"rel": "alternate", "type": CAP_MIME, "href": entry.cap_url})
        if entry.summary:
            ET.SubElement(el, "summary").text = _NOT_XML.sub("", entry.summary)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
