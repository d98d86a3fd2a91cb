"""The field team's phone page: ``/r/<token>`` shows only its own route; ``/r/<token>.gpx`` is
the route as GPX 1.1; ``POST /r/<token>/report`` takes status and position. The signed token is
the only credential: no login on a phone in the field."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from app.api import params
from app.errors import BadRequest
from app.extensions import db, state
from app.services import field_links
from app.services import routing as routing_service

blueprint = Blueprint("field", __name__)
GPX_NS = "http://www.topografix.com/GPX/1/1"


def _links() -> field_links.Links:
    return field_links.Links.of(current_app.config)


#: Largest box of roads a phone may ask for (degrees each way): a district, not a city.
FIELD_ROADS_SPAN_DEG = 0.25


@blueprint.get("/r/<token>/roads.json")
def roads(token: str) -> Response | tuple[Response, int]:
    """The roads in a box around the route, for the phone's offline base map: the signed link
    is the credential, like the page itself."""
    try:
        field_links.field_check(db(), _links(), token)
    except field_links.LinkInvalid as err:
        return jsonify(
            {"error": {"code": "link", "message": err.message, "field": "token"}}
        ), err.status
    bbox = params.bbox(request.args.get("bbox"))
    if bbox is None:
        raise BadRequest("bbox is required: min_lon,min_lat,max_lon,max_lat", field="bbox")
    answer = routing_service.roads(
        state().graphs,
        None,
        bbox=bbox,
        max_span_deg=FIELD_ROADS_SPAN_DEG,
        decimals=5,
        properties=False,
    )
    resp = jsonify(answer)
    resp.mimetype = "application/geo+json"
    resp.cache_control.max_age = 3600
    return resp


@blueprint.get("/r/<token>")
def page(token: str) -> str | tuple[str, int]:
    if token.endswith(".gpx"):
        return gpx(token[:-4])  # type: ignore[return-value]
    try:
        view = field_links.field_view(db(), _links(), token)
    except field_links.LinkInvalid as err:
        return render_template("field_invalid.html", message=err.message), err.status
    lon, lat = view["incident"]["at"]
    label = quote(view["incident"].get("title") or view["incident"]["type"])
    nav = {
        "geo": f"geo:{lat:.6f},{lon:.6f}?q={lat:.6f},{lon:.6f}({label})",
        "amap": f"https://uri.amap.com/navigation?to={lon:.6f},{lat:.6f},{label}&mode=car&coordinate=wgs84",
        "baidu": f"baidumap://map/direction?destination=latlng:{lat:.6f},{lon:.6f}|name:{label}&coord_type=wgs84&mode=driving",
        "google": f"https://www.google.com/maps/dir/?api=1&destination={lat:.6f},{lon:.6f}&travelmode=driving",
        "osmand": f"osmand.navigation:q={lat:.6f},{lon:.6f}",
    }
    return render_template(
        "field.html",
        view=view,
        token=token,
        nav=nav,
    )


def gpx(token: str) -> Response:
    view = field_links.field_view(db(), _links(), token)
    resp = Response(_gpx_xml(view), mimetype="application/gpx+xml")
    resp.headers["Content-Disposition"] = f'attachment; filename="onemap-route-{view["id"]}.gpx"'
    return resp


def _gpx_xml(view: dict[str, Any]) -> bytes:
    ET.register_namespace("", GPX_NS)
    root = ET.Element(f"{{{GPX_NS}}}gpx", {"version": "1.1", "creator": "OneMap"})
    meta = ET.SubElement(root, f"{{{GPX_NS}}}metadata")
    ET.SubElement(meta, f"{{{GPX_NS}}}name").text = f"OneMap dispatch {view['id']}"
    lon, lat = view["incident"]["at"]
    wpt = ET.SubElement(root, f"{{{GPX_NS}}}wpt", {"lat": f"{lat:.7f}", "lon": f"{lon:.7f}"})
    ET.SubElement(wpt, f"{{{GPX_NS}}}name").text = (
        view["incident"].get("title") or view["incident"]["type"]
    )
    rte = ET.SubElement(root, f"{{{GPX_NS}}}rte")
    ET.SubElement(
        rte, f"{{{GPX_NS}}}name"
    ).text = f"{view['team']['name']} → incident {view['incident']['id']}"
    for x, y in (view.get("route") or {}).get("coordinates", []):
        ET.SubElement(rte, f"{{{GPX_NS}}}rtept", {"lat": f"{y:.7f}", "lon": f"{x:.7f}"})
    trk = ET.SubElement(root, f"{{{GPX_NS}}}trk")
    ET.SubElement(trk, f"{{{GPX_NS}}}name").text = "route"
    seg = ET.SubElement(trk, f"{{{GPX_NS}}}trkseg")
    for x, y in (view.get("route") or {}).get("coordinates", []):
        ET.SubElement(seg, f"{{{GPX_NS}}}trkpt", {"lat": f"{y:.7f}", "lon": f"{x:.7f}"})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@blueprint.post("/r/<token>/report")
def report(token: str) -> Response:
    body = params.json_body()
    if not isinstance(body, dict):
        raise BadRequest('send {"status": ...} or {"at": [lon, lat]}', field="body")
    st = state()
    return jsonify(
        field_links.field_report(db(), _links(), token, body, publish=st.publish, area=st.area)
    )
