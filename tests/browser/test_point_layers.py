"""Thousands of points on the wall and the console: one canvas layer per point layer (every
point drawn singly at high zoom, clustered below it, clicks and hovers found by a screen grid),
every page of a layer loaded (5,100 hazards: more than one page), and the console downloading a
layer only when it is switched on. The imported points are removed at the end."""

from __future__ import annotations

import json
import random

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

HAZ = "#ff9800"

DRAWN_JS = """
(color) => {
  const map = window.__onemapMaps[0];
  let out = null;
  map.eachLayer((l) => { if (typeof l.drawn === "function" && l._cfg.color === color) out = l; });
  if (!out) return null;
  const d = out.drawn();
  return { singles: d.filter((g) => g.n === 1).length, clusters: d.filter((g) => g.n > 1).length,
           points: d.reduce((s, g) => s + g.n, 0), total: Object.keys(out.items()).length,
           zoom: map.getZoom(), first: d[0] || null, firstCluster: d.find((g) => g.n > 1) || null,
           clusters_at: d.filter((g) => g.n > 1).map((g) => g.at) };
}
"""
CLEAR_CLUSTERS_JS = """
(color) => {
  const map = window.__onemapMaps[0];
  const mine = [], others = [];
  map.eachLayer((l) => {
    if (typeof l.drawn !== "function") return;
    for (const g of l.drawn()) {
      const p = map.latLngToContainerPoint([g.at[1], g.at[0]]);
      if (l._cfg.color === color) { if (g.n > 1) mine.push([p.x, p.y]); }
      else if (g.n === 1) others.push([p.x, p.y]);  // a single point (an incident) opens itself
    }
  });
  const size = map.getSize();
  return mine.filter(([x, y]) => x > 40 && y > 40 && x < size.x - 40 && y < size.y - 40 &&
    others.every(([u, v]) => Math.hypot(u - x, v - y) > 24));
}
"""
ZOOM_JS = """
([z, at]) => new Promise((resolve) => {
  const map = window.__onemapMaps[0];
  map.once("moveend", () => setTimeout(resolve, 300));
  if (at) map.setView([at[1], at[0]], z, { animate: false }); else map.setZoom(z, { animate: false });
})
"""


def _import(ctx, n):
    rnd = random.Random(7)
    feats = [
        {
            "type": "Feature",
            "geometry": {
                "type": "Point",
                "coordinates": [
                    round(rnd.uniform(24.936, 24.953), 6),
                    round(rnd.uniform(60.165, 60.179), 6),
                ],
            },
            "properties": {"name": f"测试隐患 {i}", "type": "gas_station", "risk_level": "high"},
        }
        for i in range(n)
    ]
    r = ctx.request.post(
        "/api/v1/layers/hazards/import",
        data=json.dumps({"type": "FeatureCollection", "features": feats}),
        headers={"Content-Type": "application/geo+json"},
        timeout=120_000,
    )
    assert r.status == 201, r.text()[:500]


def _pt(page, at):
    return page.evaluate(
        "([lat, lon]) => { const p = window.__onemapMaps[0].latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [at[1], at[0]],
    )


@pytest.fixture
def many_hazards(server):
    yield
    with server.app.extensions["onemap"].engine.begin() as conn:
        conn.execute(text("DELETE FROM hazards WHERE name LIKE '测试隐患 %'"))


def test_thousands_of_points_load_draw_cluster_and_answer_clicks(open_context, guard, many_hazards):
    office = open_context(user="dispatcher")
    _import(office, 5100)
    total = next(
        x["count"]
        for x in office.request.get("/api/v1/layers").json()["layers"]
        if x["kind"] == "hazards"
    )
    assert total > 5000

    # --- wall
    wall = open_context(viewport=(1920, 1080), user="viewer").new_page()
    requests = []
    wall.on("request", lambda req: requests.append(req.url))
    wall.goto("/wall")
    expect(wall.locator('.wall-legend [data-count="hazards"]')).to_have_text(
        f"{total:,}", timeout=30000
    )
    assert any("after=" in u and "/layers/hazards" in u for u in requests), requests
    wall.evaluate(ZOOM_JS, [16, [24.9445, 60.1712]])
    d = wall.evaluate(DRAWN_JS, HAZ)
    assert d["total"] == total and d["clusters"] == 0 and d["singles"] > 0
    # click a single point: its popup
    x, y = _pt(wall, d["first"]["at"])
    wall.mouse.click(x, y)
    expect(wall.locator(".leaflet-popup-content")).to_be_visible()
    wall.evaluate("() => { window.__onemapMaps[0].closePopup(); }")
    wall.evaluate(ZOOM_JS, [13.5, None])
    d = wall.evaluate(DRAWN_JS, HAZ)
    assert d["clusters"] > 0 and d["points"] == total
    # a cluster that no single point of another layer covers (earlier tests leave incidents
    # about, never clustered: a click there rightly opens theirs)
    free = wall.evaluate(CLEAR_CLUSTERS_JS, HAZ)
    assert free
    x, y = free[0]
    wall.mouse.click(x, y)
    wall.wait_for_timeout(800)
    z = wall.evaluate("window.__onemapMaps[0].getZoom()")
    assert z > 13.5
    # incident labels are permanent tooltips
    office.request.post(
        "/api/v1/incidents",
        data={
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [24.9445, 60.17]},
            "properties": {"type": "accident.fire.urban", "title": "标签测试", "level": "II"},
        },
    )
    expect(wall.locator(".leaflet-tooltip.wall-label", has_text="标签测试")).to_be_visible()
    wall.evaluate(ZOOM_JS, [15, [24.9445, 60.1712]])

    # --- console: hazards off, so not loaded
    page = open_context(viewport=(1440, 900)).new_page()
    creqs = []
    page.on("request", lambda req: creqs.append(req.url))
    page.goto("/console")
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    page.wait_for_timeout(500)
    assert not any("/layers/hazards" in u for u in creqs), creqs
    expect(page.locator('[data-count="teams"]')).not_to_have_text("")
    expect(page.locator('[data-count="hazards"]')).to_have_text("")
    page.check("#toggle-hazards")
    expect(page.locator('[data-count="hazards"]')).to_have_text(f"{total:,}", timeout=30000)
    assert sum("/layers/hazards" in u for u in creqs) == 2
    page.uncheck("#toggle-hazards")
    page.check("#toggle-hazards")
    page.wait_for_timeout(300)
    assert sum("/layers/hazards" in u for u in creqs) == 2  # kept, not loaded again
    # hover a team: its tooltip
    team = office.request.get("/api/v1/layers/teams?limit=1").json()["features"][0]
    page.evaluate(ZOOM_JS, [16, team["geometry"]["coordinates"]])
    page.uncheck("#toggle-hazards")
    page.wait_for_timeout(300)
    x, y = _pt(page, team["geometry"]["coordinates"])
    box = page.locator("#map").bounding_box()
    page.mouse.move(box["x"] + x, box["y"] + y)
    expect(page.locator(".leaflet-tooltip")).to_be_visible()
    tip = page.locator(".leaflet-tooltip").inner_text()
    page.mouse.click(box["x"] + x, box["y"] + y)
    expect(page.locator(".leaflet-popup-content")).to_contain_text(tip.strip())
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    expect(page.locator(".leaflet-tooltip")).to_have_count(0)
    assert guard.errors == [], guard.errors
    assert guard.blocked == []
