"""Snapshot use case: one incident as a standalone, printable HTML map (folium).

The file needs nothing but itself: Leaflet's JavaScript and CSS are inlined from the installed
XStatic package (its two control images as data URIs), folium's default CDN links (Leaflet,
jQuery, Bootstrap, Font Awesome) are dropped, and there is no tile layer: the roads around the
incident, read from the road graph, are drawn as a light background. It shows the incident, the
dispatched routes, the teams' current positions, the depots sending stock, the active alert
areas, and the shelters nearby, with a title block, a legend, a table of the dispatches and
print CSS (A4 landscape).
"""

from __future__ import annotations

import base64
import html
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import branca.element
import folium
import numpy as np
import shapely
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from gis import crs
from gis import repository as repo
from gis import response as rrepo
from gis import warnings as wrepo
from plans.taxonomy import INCIDENT_TYPES, LEVELS
from routing.errors import RoutingError
from routing.store import GraphStore

LOGGER = logging.getLogger(__name__)

#: Margin around what the snapshot shows (metres), and the least half-width of the view.
MARGIN_M = 120.0
MIN_HALF_WIDTH_M = 250.0
#: Most road pieces drawn as the background (the nearest to the incident are kept).
MAX_ROAD_PIECES = 20_000
#: Colours of the dispatched routes, in turn.
ROUTE_COLOURS = ("#d32f2f", "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037")
TEAM_STATUS_ZH = {
    "available": "待命",
    "dispatched": "已派出",
    "en_route": "在途",
    "on_scene": "到场",
    "returning": "返回",
    "off_duty": "休整",
}
DISPATCH_STATUS_ZH = {
    "dispatched": "已派出",
    "en_route": "在途",
    "on_scene": "到场",
    "done": "完成",
    "recalled": "已召回",
    "released": "已释放",
}


@dataclass(frozen=True)
class Snapshot:
    """The rendered file and what it shows (counts, for logs and tests)."""

    html: str
    incident_id: int
    routes: int
    teams: int
    shelters: int
    alert_areas: int
    road_pieces: int

    @property
    def filename(self) -> str:
        return f"onemap-incident-{self.incident_id}-snapshot.html"


def render(
    session: Session,
    graphs: GraphStore | None,
    incident_id: int,
    *,
    leaflet_dir: Path,
    now: datetime | None = None,
) -> Snapshot:
    """The snapshot of incident ``incident_id`` as one HTML document.

    Parameters
    ----------
    session
        Database session (read only).
    graphs
        The road graphs; the default graph's roads near the incident are the background. None,
        or no graph imported: no background.
    incident_id
        The incident; :class:`gis.errors.NotFound` (404) when there is none.
    leaflet_dir
        Folder of the XStatic Leaflet package (``leaflet.js``, ``leaflet.css``, ``images/``).
    now
        Time printed as "generated at" (UTC); default: now.

    Returns
    -------
    Snapshot
        ``html`` references no external URL: every script and style is inline.
    """
    incident = repo.get_row(session, "incidents", incident_id)
    here = to_shape(incident.geom)
    dispatches = [rrepo.dispatch_record(d) for d in rrepo.dispatches_of(session, incident_id)]
    team_ids = sorted({d["team_id"] for d in dispatches if d["team_id"] is not None})
    depot_ids = sorted({d["depot_id"] for d in dispatches if d["depot_id"] is not None})
    teams = {i: repo.get_row(session, "teams", i) for i in team_ids}
    depots = {i: repo.get_row(session, "depots", i) for i in depot_ids}
    alerts = _alert_areas(session, incident_id, now)

    shown: list[shapely.Geometry] = [here]
    shown += [shapely.geometry.shape(d["route"]) for d in dispatches if d["route"]]
    shown += [to_shape(t.geom) for t in teams.values()]
    shown += [to_shape(d.geom) for d in depots.values()]
    if incident.area is not None:
        shown.append(to_shape(incident.area))
    shown += [a for _, a in alerts]
    bbox = _view_box(here, shown)
    shelters = repo.list_rows(session, "shelters", bbox=bbox, limit=500)
    roads = _roads(graphs, bbox, (here.x, here.y))

    fig = branca.element.Figure(title=_title_text(incident))
    fmap = folium.Map(
        location=[here.y, here.x],
        tiles=None,
        zoom_start=15,
        control_scale=True,
        prefer_canvas=False,
        attribution_control=False,
    )
    _make_standalone(fmap, fig, leaflet_dir)
    fig.html.add_child(branca.element.Element(_title_block(incident, now)))
    fmap.add_to(fig)

    if roads:
        folium.PolyLine(
            [[(y, x) for x, y in line] for line in roads],
            color="#a7b1bc",
            weight=2,
            opacity=0.9,
            interactive=False,
        ).add_to(fmap)
    for spec, area in alerts:
        folium.GeoJson(
            shapely.geometry.mapping(area),
            style_function=lambda _f: {
                "color": "#f9a825",
                "weight": 2,
                "dashArray": "6 4",
                "fillColor": "#fdd835",
                "fillOpacity": 0.18,
            },
            tooltip=f"预警区域 Alert area {html.escape(spec)}",
        ).add_to(fmap)
    if incident.area is not None:
        folium.GeoJson(
            shapely.geometry.mapping(to_shape(incident.area)),
            style_function=lambda _f: {"color": "#b71c1c", "weight": 2, "fillOpacity": 0.15},
        ).add_to(fmap)
    for s in shelters:
        p = to_shape(s.geom).representative_point()
        _symbol(fmap, p, "snap-shelter", f"{s.name} ({s.occupancy}/{s.capacity})", size=14)
    routes = 0
    for n, d in enumerate(x for x in dispatches if x["route"]):
        coords = d["route"]["coordinates"]
        folium.PolyLine(
            [(y, x) for x, y in coords],
            color=ROUTE_COLOURS[n % len(ROUTE_COLOURS)],
            weight=5,
            opacity=0.85,
            tooltip=html.escape(_dispatch_label(d, teams, depots)),
        ).add_to(fmap)
        routes += 1
    for t in teams.values():
        p = to_shape(t.geom)
        folium.CircleMarker(
            [p.y, p.x],
            radius=7,
            color="#ffffff",
            weight=2,
            fill_color="#c62828",
            fill_opacity=1.0,
            tooltip=html.escape(f"{t.name} · {TEAM_STATUS_ZH.get(t.status, t.status)}"),
        ).add_to(fmap)
    for dp in depots.values():
        _symbol(fmap, to_shape(dp.geom), "snap-depot", dp.name, size=16)
    folium.Marker(
        [here.y, here.x],
        icon=folium.DivIcon(
            html='<div class="snap-incident" aria-label="incident">!</div>',
            icon_size=(26, 26),
            icon_anchor=(13, 13),
        ),
        tooltip=html.escape(_title_text(incident)),
    ).add_to(fmap)
    fmap.fit_bounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]])
    fig.html.add_child(branca.element.Element(_legend()))
    fig.html.add_child(branca.element.Element(_dispatch_table(dispatches, teams, depots)))
    fig.header.add_child(branca.element.Element(_page_css(fmap.get_name())), name="snap_css")
    out = fig.render()
    return Snapshot(
        html=out,
        incident_id=incident.id,
        routes=routes,
        teams=len(teams),
        shelters=len(shelters),
        alert_areas=len(alerts),
        road_pieces=len(roads),
    )


# --- data around the incident -------------------------------------------------------------------


def _alert_areas(
    session: Session, incident_id: int, now: datetime | None
) -> list[tuple[str, shapely.Geometry]]:
    """The incident's alerts in force (not cancelled, superseded or expired), newest first, as
    (identifier, area)."""
    rows = wrepo.active_alerts(session, now=now or datetime.now(UTC))
    out = []
    for a in rows:
        area = wrepo.area_of(a) if a.incident_id == incident_id else None
        if area is not None:
            out.append((a.identifier, area))
    return out


def _view_box(
    centre: shapely.Point, shown: Sequence[shapely.Geometry]
) -> tuple[float, float, float, float]:
    """(min_lon, min_lat, max_lon, max_lat) of everything shown, padded by ``MARGIN_M`` and at
    least ``MIN_HALF_WIDTH_M`` around the incident."""
    metric = crs.utm_crs(centre.x, centre.y)
    local, _ = crs.to_metric(shapely.GeometryCollection(list(shown)), crs=metric)
    c, _ = crs.to_metric(centre, crs=metric)
    minx, miny, maxx, maxy = local.bounds
    half = MIN_HALF_WIDTH_M
    box = shapely.box(
        min(minx, c.x - half) - MARGIN_M,
        min(miny, c.y - half) - MARGIN_M,
        max(maxx, c.x + half) + MARGIN_M,
        max(maxy, c.y + half) + MARGIN_M,
    )
    return tuple(crs.from_metric(box, metric).bounds)  # type: ignore[return-value]


def _roads(
    graphs: GraphStore | None, bbox: Sequence[float], centre: tuple[float, float]
) -> list[list[tuple[float, float]]]:
    """The default graph's road pieces with an end inside ``bbox`` (one line per street piece,
    both directions as one), at most ``MAX_ROAD_PIECES``, the nearest to ``centre`` first."""
    if graphs is None:
        return []
    try:
        g = graphs.engine().g
    except RoutingError as err:
        LOGGER.info("snapshot without road background: %s", err)
        return []
    lon, lat = np.asarray(g.node_lon), np.asarray(g.node_lat)
    inside = (lon >= bbox[0]) & (lon <= bbox[2]) & (lat >= bbox[1]) & (lat <= bbox[3])
    u, v, twin = np.asarray(g.edge_u), np.asarray(g.edge_v), np.asarray(g.edge_twin)
    edges = np.flatnonzero(inside[u] | inside[v])
    keep = edges[~((twin[edges] >= 0) & (twin[edges] < edges))]  # one of each twin pair
    if keep.size > MAX_ROAD_PIECES:
        d2 = (lon[u[keep]] - centre[0]) ** 2 + (lat[u[keep]] - centre[1]) ** 2
        keep = keep[np.argsort(d2, kind="stable")[:MAX_ROAD_PIECES]]
    return [[(round(x, 6), round(y, 6)) for x, y in g.edge_coords(int(e))] for e in keep]


# --- the page ------------------------------------------------------------------------------------


def _symbol(fmap: folium.Map, p: shapely.Point, css: str, tooltip: str, *, size: int) -> None:
    """A square symbol drawn by CSS (core Leaflet's divIcon: no plugin, nothing to fetch)."""
    folium.Marker(
        [p.y, p.x],
        icon=folium.DivIcon(
            html=f'<div class="{css}"></div>',
            icon_size=(size, size),
            icon_anchor=(size // 2, size // 2),
            class_name="snap-symbol",
        ),
        tooltip=html.escape(tooltip),
    ).add_to(fmap)


@cache
def _leaflet_assets(leaflet_dir: Path) -> tuple[str, str]:
    """Leaflet's JS and CSS, ready to inline: no source-map comment, images as data URIs."""
    js = (leaflet_dir / "leaflet.js").read_text(encoding="utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    css = (leaflet_dir / "leaflet.css").read_text(encoding="utf-8")

    def inline(m: re.Match[str]) -> str:
        data = (leaflet_dir / "images" / m.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode()})"

    css = re.sub(r"url\(images/([\w.-]+\.png)\)", inline, css)
    return js.replace("</script", "<\\/script"), css


def _make_standalone(fmap: folium.Map, fig: branca.element.Figure, leaflet_dir: Path) -> None:
    """Drop folium's CDN scripts and styles; inline Leaflet's own instead."""
    fmap.default_js = []
    fmap.default_css = []
    js, css = _leaflet_assets(leaflet_dir)
    fig.header.add_child(branca.element.Element(f"<style>{css}</style>"), name="leaflet_css")
    fig.header.add_child(branca.element.Element(f"<script>{js}</script>"), name="leaflet_js")


def _title_text(incident: Any) -> str:
    t = INCIDENT_TYPES.get(incident.type)
    kind = f"{t.name_zh} {t.name_en}" if t else incident.type
    return f"{incident.title or kind} · #{incident.id}"


def _title_block(incident: Any, now: datetime | None) -> str:
    t = INCIDENT_TYPES.get(incident.type)
    level = LEVELS.get(incident.level or "")
    at = to_shape(incident.geom)
    generated = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    reported = incident.reported_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("类型 Type", f"{t.name_zh} · {t.name_en}" if t else incident.type),
        (
            "级别 Level",
            f"{incident.level} {level[0]} · {level[1]}" if level else "未定级 not set",
        ),
        ("状态 Status", incident.status),
        ("位置 Location", f"{at.y:.5f}° N, {at.x:.5f}° E"),
        ("报告时间 Reported", reported),
        ("伤亡 Casualties", f"{incident.casualties} / 受伤 injured {incident.injured}"),
    ]
    cells = "".join(
        f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd></div>" for k, v in rows
    )
    return (
        '<header class="snap-head"><div class="snap-brand">OneMap 应急指挥一张图 · 事件快照 '
        "Incident snapshot</div>"
        f'<h1 id="snap-title">{html.escape(_title_text(incident))}</h1>'
        f'<dl class="snap-facts">{cells}</dl>'
        f'<div class="snap-generated">生成时间 Generated {generated}</div></header>'
    )


def _legend() -> str:
    items = [
        ('<span class="sym sym-incident">!</span>', "突发事件 Incident"),
        ('<span class="sym sym-route"></span>', "调派路线 Dispatched route"),
        ('<span class="sym sym-team"></span>', "救援队伍 Team (current position)"),
        ('<span class="sym sym-depot"></span>', "物资储备 Depot"),
        ('<span class="sym sym-shelter"></span>', "避难场所 Shelter"),
        ('<span class="sym sym-alert"></span>', "预警区域 Alert area"),
        ('<span class="sym sym-road"></span>', "道路 Road"),
    ]
    body = "".join(f"<li>{sym}{html.escape(text)}</li>" for sym, text in items)
    head = '<aside class="snap-legend" aria-label="legend"><h2>图例 Legend</h2>'
    return f"{head}<ul>{body}</ul></aside>"


def _dispatch_label(d: dict[str, Any], teams: dict[int, Any], depots: dict[int, Any]) -> str:
    if d["kind"] == "team" and d["team_id"] in teams:
        return teams[d["team_id"]].name
    if d["depot_id"] in depots:
        return f"{d['quantity']} × {d['item_code']} · {depots[d['depot_id']].name}"
    return f"#{d['id']}"


def _minutes(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 60:.1f} min"


def _km(metres: float | None) -> str:
    return "—" if metres is None else f"{metres / 1000:.2f} km"


def _dispatch_table(
    dispatches: Iterable[dict[str, Any]], teams: dict[int, Any], depots: dict[int, Any]
) -> str:
    rows = []
    for d in dispatches:
        what = "队伍 Team" if d["kind"] == "team" else "物资 Material"
        rows.append(
            "<tr>"
            f"<td>{d['id']}</td><td>{what}</td>"
            f"<td>{html.escape(_dispatch_label(d, teams, depots))}</td>"
            f"<td>{html.escape(DISPATCH_STATUS_ZH.get(d['status'], d['status']))}</td>"
            f"<td>{_minutes(d['eta_s'])}</td><td>{_km(d['distance_m'])}</td>"
            f"<td>{html.escape(d['plan_id'] or '')} {html.escape(d['plan_level'] or '')}</td>"
            "</tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="7">尚未调派 Nothing dispatched yet</td></tr>')
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "#",
            "类别 Kind",
            "队伍/物资 Team / stock",
            "状态 Status",
            "预计到达 ETA",
            "距离 Distance",
            "预案 Plan",
        )
    )
    return (
        '<section class="snap-table"><h2>调派 Dispatches</h2>'
        f'<table id="snap-dispatches"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )


def _page_css(map_id: str) -> str:
    return f"""<style>
html {{ height: auto; }}
body {{ height: auto; display: flex; flex-direction: column; position: relative; }}
.snap-head {{ order: 0; }} #{map_id} {{ order: 1; }} .snap-table {{ order: 2; }}
html, body {{ margin: 0; font-family: "Noto Sans CJK SC", "Microsoft YaHei",
  system-ui, sans-serif; color: #1c2733; background: #fff; }}
.snap-head {{ padding: 10px 16px 6px; border-bottom: 3px solid #b71c1c; }}
.snap-brand {{ font-size: 13px; color: #5b6b7b; letter-spacing: .02em; }}
.snap-head h1 {{ margin: 2px 0 6px; font-size: 22px; }}
.snap-facts {{ display: flex; flex-wrap: wrap; gap: 4px 22px; margin: 0; font-size: 13px; }}
.snap-facts dt {{ color: #5b6b7b; display: inline; }}
.snap-facts dd {{ display: inline; margin: 0 0 0 6px; font-weight: 600; }}
.snap-generated {{ font-size: 12px; color: #5b6b7b; margin-top: 4px; }}
#{map_id} {{ position: relative; width: 100%; height: 600px; flex: none;
  background: #f4f6f8; }}
.snap-incident {{ width: 26px; height: 26px; border-radius: 50%; background: #b71c1c;
  color: #fff; font: bold 18px/26px sans-serif; text-align: center;
  box-shadow: 0 0 0 3px #fff, 0 0 0 5px #b71c1c; }}
.snap-symbol {{ background: none; border: 0; }}
.snap-shelter {{ width: 100%; height: 100%; box-sizing: border-box; background: #2e7d32;
  border: 1.5px solid #fff; transform: rotate(45deg) scale(.8); }}
.snap-depot {{ width: 100%; height: 100%; box-sizing: border-box; background: #1565c0;
  border: 1.5px solid #fff; }}
.snap-legend {{ position: absolute; right: 14px; top: 120px; z-index: 1000; background: #fff;
  border: 1px solid #c5ced8; border-radius: 6px; padding: 6px 10px; font-size: 12px; }}
.snap-legend h2 {{ font-size: 13px; margin: 0 0 4px; }}
.snap-legend ul {{ list-style: none; margin: 0; padding: 0; line-height: 1.7; }}
.sym {{ display: inline-block; width: 14px; height: 14px; margin-right: 6px;
  vertical-align: middle; }}
.sym-incident {{ border-radius: 50%; background: #b71c1c; color: #fff; font: bold 10px/14px
  sans-serif; text-align: center; }}
.sym-route {{ height: 4px; background: #d32f2f; }}
.sym-team {{ border-radius: 50%; background: #c62828; }}
.sym-depot {{ background: #1565c0; }}
.sym-shelter {{ background: #2e7d32; transform: rotate(45deg) scale(.8); }}
.sym-alert {{ background: rgba(253, 216, 53, .35); border: 2px dashed #f9a825;
  box-sizing: border-box; }}
.sym-road {{ height: 3px; background: #a7b1bc; }}
.snap-table {{ padding: 6px 16px 16px; }}
.snap-table h2 {{ font-size: 15px; margin: 6px 0; }}
.snap-table table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
.snap-table th, .snap-table td {{ border: 1px solid #d5dce3; padding: 3px 6px; text-align: left; }}
.snap-table th {{ background: #eef2f6; }}
@media print {{
  @page {{ size: A4 landscape; margin: 10mm; }}
  #{map_id} {{ height: 125mm; }}
  .leaflet-control-zoom {{ display: none; }}
  .snap-symbol {{ background: none; border: 0; }}
.snap-shelter {{ width: 100%; height: 100%; box-sizing: border-box; background: #2e7d32;
  border: 1.5px solid #fff; transform: rotate(45deg) scale(.8); }}
.snap-depot {{ width: 100%; height: 100%; box-sizing: border-box; background: #1565c0;
  border: 1.5px solid #fff; }}
.snap-legend {{ top: 30mm; }}
  .snap-table {{ break-inside: avoid; }}
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
}}
</style>"""
