"""Safe XML: every XML parser of the project refuses DTDs, so no entity-expansion bomb and no
external entity gets through: ``gis.safe_xml`` itself, the CAP reader (``plans.cap_feed.read_cap``)
and the OSM XML road import (``routing.build.import_osm``, plain, gzipped and bzip2ed). Nothing
of a file named by an external entity may appear in an error."""

from __future__ import annotations

import bz2
import gzip
import io
import re
from pathlib import Path

import pytest

from gis import safe_xml
from gis.errors import MalformedInput
from plans.cap_feed import read_cap
from routing.build import import_osm
from routing.errors import GraphImportFailed

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cr3t-7f1d9c-not-for-alerts"

#: The classic billion laughs: 10 levels of 10x expansion, a 3 GB string from < 1 kB.
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n"
)


def _bomb(root: str) -> bytes:
    return (BILLION_LAUGHS + f"<{root}>&lol9;</{root}>\n").encode()


def _xxe(root: str, target: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n'
        f'  <!ENTITY xxe SYSTEM "{target}">\n]>\n<{root}>&xxe;</{root}>\n'
    ).encode()


def _xxe_cap(target: str) -> bytes:
    """A CAP alert whose text fields pull in an external entity (the shape of a real attack)."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE alert [\n'
        f'  <!ENTITY xxe SYSTEM "{target}">\n]>\n'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n'
        "  <identifier>X1</identifier><sender>a@b.cn</sender>\n"
        "  <sent>2026-11-25T15:40:00+08:00</sent><status>Actual</status>\n"
        "  <msgType>Alert</msgType><scope>Public</scope>\n"
        "  <info><category>Met</category><event>Storm&xxe;</event><urgency>Immediate</urgency>\n"
        "  <severity>Severe</severity><certainty>Observed</certainty>\n"
        "  <headline>&xxe;</headline></info>\n</alert>\n"
    ).encode()


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET + "\n")
    return path


def _attacks(secret_file: Path, root: str) -> list[tuple[str, bytes]]:
    return [
        ("billion-laughs", _bomb(root)),
        ("xxe-etc-passwd", _xxe(root, "file:///etc/passwd")),
        ("xxe-secret", _xxe(root, secret_file.as_uri())),
        ("xxe-parameter-entity", _parameter_entity(root, secret_file.as_uri())),
    ]


def _parameter_entity(root: str, target: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n  <!ENTITY % file SYSTEM "{target}">\n'
        f"  %file;\n]>\n<{root}/>\n"
    ).encode()


def _assert_nothing_leaked(message: str) -> None:
    assert SECRET not in message
    assert not re.search(r"root:.*:0:0:", message), message


# --- gis.safe_xml -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["billion-laughs", "xxe-etc-passwd", "xxe-secret", "xxe-parameter-entity"]
)
def test_parse_xml_refuses_dtds_and_entities(secret_file: Path, kind: str) -> None:
    data = dict(_attacks(secret_file, "doc"))[kind]
    with pytest.raises(MalformedInput) as err:
        safe_xml.parse_xml(data, name="upload.xml")
    assert err.value.status == 400
    assert err.value.field == "file"
    assert err.value.details["reason"] == "dtd"
    assert "upload.xml" in err.value.message and "DTD" in err.value.message
    _assert_nothing_leaked(err.value.message)


def test_parse_xml_reads_plain_documents_and_predefined_entities() -> None:
    root = safe_xml.parse_xml(
        b'<?xml version="1.0"?><a xmlns="urn:x"><b k="1">x &amp; &#x4E2D;</b></a>'
    )
    assert root.tag == "{urn:x}a"
    assert root[0].text == "x & 中" and root[0].get("k") == "1"
    assert safe_xml.parse_xml("<a>中文</a>").text == "中文"


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"<a><b></a>", 1),
        (b"<a>\n<b>\n</a>", 3),
        (b"", 1),
        (b"not xml", 1),
        (b"<a>&undeclared;</a>", 1),
    ],
)
def test_parse_xml_names_where_a_broken_document_breaks(data: bytes, line: int) -> None:
    with pytest.raises(MalformedInput) as err:
        safe_xml.parse_xml(data, field="body")
    assert err.value.status == 400 and err.value.field == "body"
    assert err.value.details["reason"] == "syntax"
    assert err.value.details["line"] == line
    assert f"line {line}" in err.value.message


@pytest.mark.parametrize(
    "kind", ["billion-laughs", "xxe-etc-passwd", "xxe-secret", "xxe-parameter-entity"]
)
def test_check_prolog_refuses_dtds_and_entities(secret_file: Path, kind: str) -> None:
    data = dict(_attacks(secret_file, "osm"))[kind]
    with pytest.raises(MalformedInput) as err:
        safe_xml.check_prolog(io.BytesIO(data), name="city.osm")
    assert err.value.details["reason"] == "dtd"
    _assert_nothing_leaked(err.value.message)


class _Counting(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        out = super().read(size)
        self.read_bytes += len(out)
        return out


def test_check_prolog_stops_at_the_root_element() -> None:
    body = b"<node/>" * 100_000  # 700 kB after the root's start tag, never read
    stream = _Counting(b'<?xml version="1.0"?>\n<osm version="0.6">' + body + b"</osm>")
    safe_xml.check_prolog(stream)
    assert stream.read_bytes <= safe_xml.CHUNK_BYTES < len(stream.getvalue())


@pytest.mark.parametrize("data", [b"", b"   \n", b"<?xml version='1.0'?>", b"garbage <osm>"])
def test_check_prolog_refuses_what_has_no_root_element(data: bytes) -> None:
    with pytest.raises(MalformedInput) as err:
        safe_xml.check_prolog(io.BytesIO(data))
    assert err.value.details["reason"] == "syntax"


# --- the CAP reader ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["billion-laughs", "xxe-etc-passwd", "xxe-secret", "xxe-parameter-entity"]
)
def test_read_cap_refuses_dtds_and_entities(secret_file: Path, kind: str) -> None:
    data = dict(_attacks(secret_file, "alert"))[kind]
    with pytest.raises(MalformedInput) as err:
        read_cap(data)
    assert err.value.status == 400
    _assert_nothing_leaked(err.value.message)


@pytest.mark.parametrize("target", ["file:///etc/passwd", "secret"])
def test_read_cap_refuses_an_alert_with_external_entities_in_its_fields(
    secret_file: Path, target: str
) -> None:
    uri = secret_file.as_uri() if target == "secret" else target
    with pytest.raises(MalformedInput) as err:
        read_cap(_xxe_cap(uri))
    assert "DTD" in err.value.message
    _assert_nothing_leaked(err.value.message)


# --- the OSM XML road import ------------------------------------------------------------------

#: A 3x3 grid of two-way residential streets about 110 m apart (Helsinki), in OSM XML.
_NODES = [
    (i * 3 + j + 1, 60.170 + 0.001 * i, 24.940 + 0.002 * j) for i in range(3) for j in range(3)
]
_WAYS = [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 4, 7], [2, 5, 8], [3, 6, 9]]
SMALL_OSM = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="hand">\n'
    + "".join(f'  <node id="{n}" lat="{lat}" lon="{lon}"/>\n' for n, lat, lon in _NODES)
    + "".join(
        f'  <way id="{100 + k}">'
        + "".join(f'<nd ref="{n}"/>' for n in refs)
        + f'<tag k="highway" v="residential"/><tag k="name" v="Katu {k}"/></way>\n'
        for k, refs in enumerate(_WAYS)
    )
    + "</osm>\n"
).encode()


def _write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(data))
    elif path.suffix == ".bz2":
        path.write_bytes(bz2.compress(data))
    else:
        path.write_bytes(data)
    return path


def test_osm_xml_import_still_reads_a_plain_extract(tmp_path: Path) -> None:
    graph = import_osm(_write(tmp_path / "grid.osm", SMALL_OSM), name="grid")
    # simplified: the four corners are bends, not junctions; the centre and the four T-junctions
    # remain, joined by 4 straight streets and 4 corner bends, each both ways
    assert (graph.n_nodes, graph.n_edges) == (5, 16)


@pytest.mark.parametrize("suffix", [".osm", ".osm.gz", ".osm.bz2", ".xml"])
@pytest.mark.parametrize(
    "kind", ["billion-laughs", "xxe-etc-passwd", "xxe-secret", "xxe-parameter-entity"]
)
def test_osm_xml_import_refuses_dtds_before_osmnx_reads_the_file(
    tmp_path: Path, secret_file: Path, monkeypatch: pytest.MonkeyPatch, suffix: str, kind: str
) -> None:
    import osmnx

    def must_not_run(*_args: object, **_kwargs: object) -> None:
        pytest.fail("osmnx was given an XML file with a DTD")

    monkeypatch.setattr(osmnx, "graph_from_xml", must_not_run)
    data = dict(_attacks(secret_file, "osm"))[kind]
    path = _write(tmp_path / f"attack{suffix}", data)
    with pytest.raises(GraphImportFailed) as err:
        import_osm(path, name="attack")
    assert err.value.status == 422 and err.value.field == "file"
    assert path.name in err.value.message and "DTD" in err.value.message
    _assert_nothing_leaked(err.value.message)


# --- no XML parser outside the safe paths ------------------------------------------------------

#: Imports of XML parsers and calls that parse XML; a file that has one must be in SAFE_PARSERS.
_PARSING = re.compile(
    r"^\s*(?:from|import)\s+(?:lxml|xml\.sax|xml\.dom|xml\.parsers|pyexpat|xmltodict|defusedxml)\b"
    r"|^\s*from\s+xml\.etree(?:\.c?ElementTree)?\s+import\s+.*\b(?:parse|fromstring|XML|iterparse|XMLParser)\b"
    r"|\b(?:ET|ElementTree|etree)\.(?:parse|fromstring|XML|iterparse|XMLParser|XMLPullParser)\("
    r"|\bgraph_from_xml\(",
    re.MULTILINE,
)
#: File -> why its parsing is safe.
SAFE_PARSERS = {
    "gis/safe_xml.py": "defusedxml with DTDs forbidden",
    "routing/build.py": "graph_from_xml only after safe_xml.check_prolog (tested above)",
}


def test_every_xml_parser_of_the_project_is_a_safe_one() -> None:
    found = set()
    for package in ("app", "gis", "plans", "routing"):
        for path in (ROOT / package).rglob("*.py"):
            if _PARSING.search(path.read_text(encoding="utf-8")):
                found.add(path.relative_to(ROOT).as_posix())
    assert found <= set(SAFE_PARSERS), (
        f"XML parsed outside the safe paths: {found - set(SAFE_PARSERS)}"
    )
    assert "routing/build.py" in found  # the pattern does see a real parser call


def test_road_lines_in_gml_with_an_entity_are_refused(tmp_path):
    """A city's road lines in GML (XML) go through the same check before GDAL reads them."""
    from routing.build import LineMapping, import_lines
    from routing.errors import RoutingError

    path = tmp_path / "roads.gml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n'
        '<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/">&e;</ogr:FeatureCollection>'
    )
    with pytest.raises(RoutingError) as caught:
        import_lines(path, name="x", mapping=LineMapping())
    assert "root:" not in str(caught.value)
    assert "DTD" in str(caught.value) or "entit" in str(caught.value).lower()
