"""Safe XML reading: the one place where the project turns untrusted XML into a tree.

Every document we read (CAP alerts, OSM XML road extracts) is refused if it carries a document
type declaration (``<!DOCTYPE ...>``), so no entity can be declared: no entity-expansion bomb
("billion laughs", quadratic blow-up), no external entity (``file:///etc/passwd``, a URL), no
external DTD. Neither CAP 1.2 nor OSM XML ever needs a DTD. The parsers are defusedxml's, over
the standard library's expat.

Two entry points:

- :func:`parse_xml` parses a whole document held in memory into an ``ElementTree`` element.
- :func:`check_prolog` reads a stream only up to its root element and refuses a DTD; it is for
  large files (an OSM extract of hundreds of megabytes) that another library will then parse:
  a DTD, and so any entity declaration, can only come before the root element.

Both raise :class:`gis.errors.MalformedInput` (HTTP 400) with a message that is safe to show: it
says what was refused and where, never what an entity would have expanded to.
"""

from __future__ import annotations

import logging
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError
from xml.sax import ContentHandler, SAXParseException

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden
from defusedxml import ElementTree as DefusedET
from defusedxml.expatreader import create_parser

from gis.errors import MalformedInput

LOGGER = logging.getLogger(__name__)

#: Bytes read at a time by :func:`check_prolog`.
CHUNK_BYTES = 64 * 1024

_REFUSED = (
    "DTDs and entity declarations are refused (they allow entity-expansion bombs and external "
    "entities)"
)


def parse_xml(data: bytes | str, *, field: str = "file", name: str | None = None) -> Element:
    """The root element of the XML document ``data``, parsed with DTDs and entities refused.

    Parameters
    ----------
    data
        The whole document; bytes are decoded by the parser from the XML declaration.
    field
        The input field named in an error.
    name
        A label for the document (a file name) used in error messages.

    Returns
    -------
    xml.etree.ElementTree.Element
        The root element; tags are in ``{namespace}local`` form.

    Raises
    ------
    MalformedInput
        The document has a DTD (``reason="dtd"``), declares or references an external entity
        (``reason="entity"``), or is not well-formed XML (``reason="syntax"``, with the line and
        column).
    """
    label = f"{name}: " if name else ""
    try:
        return DefusedET.fromstring(
            data, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as err:
        raise _refused(err, label, field) from None
    except ParseError as err:
        line, column = err.position
        msg = f"{label}not well-formed XML at line {line}, column {column}: {_expat_reason(err)}"
        raise MalformedInput(msg, field=field, reason="syntax", line=line, column=column) from None


def check_prolog(stream: BinaryIO, *, field: str = "file", name: str | None = None) -> None:
    """Refuse ``stream`` if a DTD comes before its root element; read no further than that.

    The stream is read in chunks of :data:`CHUNK_BYTES` until the root element's start tag, so
    the cost does not grow with the document. Whatever parses the document afterwards cannot
    meet a declared entity: after the root element a DTD is a syntax error.

    Parameters
    ----------
    stream
        A binary stream positioned at the start of the document (decompress first).
    field, name
        As for :func:`parse_xml`.

    Raises
    ------
    MalformedInput
        A DTD or an entity declaration (``reason="dtd"``/``"entity"``), or no root element /
        broken XML before it (``reason="syntax"``).
    """
    label = f"{name}: " if name else ""
    parser = create_parser(forbid_dtd=True, forbid_entities=True, forbid_external=True)
    parser.setContentHandler(_StopAtRoot())
    try:
        while chunk := stream.read(CHUNK_BYTES):
            parser.feed(chunk)
        parser.close()
    except _RootReached:
        return
    except DefusedXmlException as err:
        raise _refused(err, label, field) from None
    except SAXParseException as err:
        line, column = err.getLineNumber(), err.getColumnNumber()
        msg = f"{label}not well-formed XML at line {line}, column {column}: {err.getMessage()}"
        raise MalformedInput(msg, field=field, reason="syntax", line=line, column=column) from None
    msg = f"{label}not an XML document: no root element"  # an empty stream ends here
    raise MalformedInput(msg, field=field, reason="syntax")


class _RootReached(Exception):
    """Raised by the handler at the root element's start tag to stop reading."""


class _StopAtRoot(ContentHandler):
    def startElement(self, name: str, attrs: object) -> None:
        raise _RootReached

    def startElementNS(self, name: object, qname: object, attrs: object) -> None:
        raise _RootReached


def _refused(err: DefusedXmlException, label: str, field: str) -> MalformedInput:
    """The error for a refused DTD or entity; says what was refused, never its content."""
    if isinstance(err, DTDForbidden):
        reason, what = "dtd", "the document has a DTD (<!DOCTYPE ...>)"
    elif isinstance(err, EntitiesForbidden):
        reason, what = "entity", f"the document declares the entity {err.name!r}"
    else:
        reason, what = "entity", "the document refers to an external entity or DTD"
    LOGGER.warning("XML refused (%s): %s", reason, label.rstrip(": ") or field)
    return MalformedInput(f"{label}{what}; {_REFUSED}", field=field, reason=reason)


def _expat_reason(err: ParseError) -> str:
    """The parser's message without its own position suffix (we give line and column)."""
    text = str(err)
    return text.split(": line ", 1)[0]
