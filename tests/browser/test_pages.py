"""The three faces of the one map in a real browser: the dispatcher console, the wall display
and the field team's phone page, with every request to another host blocked (and counted: 0).

Flows: console click -> plan -> proposal -> dispatch, after which the wall, open in a second
page, draws the new routes without a reload; the printable snapshot; the phone page at 360x640;
the wall across a restart of Redis (an incident dispatched while Redis is down still shows up).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
#: Points in central Helsinki: the Ateneum on Kaivokatu, Kaisaniemi park, the Old Church park.
ATENEUM = (24.9445, 60.1700)
KAISANIEMI = (24.9460, 60.1745)
OLD_CHURCH = (24.9380, 60.1665)
#: How long the wall may take to draw a route after the dispatch (the issue's "within 2 s").
LIVE_MS = 2000

#: Whether every given route (list of [lon, lat]) is drawn on the page's first Leaflet map:
#: a polyline with the same first and last vertex (to 1e-6 degree).
ROUTES_DRAWN = """
(routes) => {
  const map = (window.__onemapMaps || [])[0];
  if (!map) return false;
  const lines = [];
  map.eachLayer((l) => {
    if (l instanceof L.Polyline && !(l instanceof L.Polygon)) {
      const ll = l.getLatLngs().flat(3);
      if (ll.length) lines.push([ll[0], ll[ll.length - 1]]);
    }
  });
  const near = (p, c) => Math.abs(p.lat - c[1]) < 1e-6 && Math.abs(p.lng - c[0]) < 1e-6;
  return routes.every((r) => lines.some((l) => near(l[0], r[0]) && near(l[1], r[r.length - 1])));
}
"""


def _clean(guard: Any) -> None:
    assert guard.blocked == [], f"requests to other hosts: {guard.blocked}"
    assert guard.errors == [], f"script errors: {guard.errors}"


def _incident(ctx: Any, at: tuple[float, float], type_: str, title: str) -> int:
    body = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(at)},
        "properties": {"type": type_, "title": title},
    }
    r = ctx.request.post("/api/v1/incidents", data=body)
    assert r.status == 201, r.text()
    return int(r.json()["id"])


def _dispatch(ctx: Any, incident_id: int) -> list[dict]:
    r = ctx.request.post(f"/api/v1/incidents/{incident_id}/dispatch")
    assert r.status == 201, r.text()
    teams = [d for d in r.json()["dispatches"] if d["kind"] == "team" and d["route"]]
    assert teams, r.json()
    return teams


def _routes(ctx: Any, incident_id: int) -> list[list[list[float]]]:
    r = ctx.request.get(f"/api/v1/incidents/{incident_id}/dispatches")
    assert r.ok, r.text()
    return [d["route"]["coordinates"] for d in r.json()["dispatches"] if d["route"]]


def _open_wall(open_context: Any) -> Any:
    wall = open_context(viewport=(1920, 1080), user="viewer").new_page()
    wall.goto("/wall")
    expect(wall.locator("#live")).to_have_class("live live")
    wall.evaluate("window.__sameDocument = true")  # gone if the page reloads
    return wall


def _console(open_context: Any) -> Any:
    page = open_context(viewport=(1440, 900)).new_page()
    page.goto("/console")
    expect(page.locator("#console")).to_have_attribute("data-ready", "true")
    expect(page.locator("#live-status")).to_have_attribute("data-state", "live")
    return page


def _click_map_at(page: Any, at: tuple[float, float]) -> None:
    x, y = page.evaluate(
        "([lat, lon]) => { const p = OneMapConsole.map.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [at[1], at[0]],
    )
    page.locator("#map").click(position={"x": x, "y": y})


def test_console_click_plan_dispatch_and_the_wall_draws_the_routes_live(
    open_context, guard, server
):
    wall = _open_wall(open_context)
    page = _console(open_context)
    assert page.locator("html").get_attribute("lang") == "zh-CN"

    # Click: a new incident where the map is clicked, with its type and level.
    page.click("#new-incident")
    expect(page.locator("#place-hint")).to_be_visible()
    _click_map_at(page, ATENEUM)
    expect(page.locator("#create-incident")).to_be_enabled()
    page.select_option("#f-type", "accident.fire.urban")
    page.select_option("#f-level", "III")
    page.fill("#f-title", "阿黛浓美术馆火灾")
    page.click("#create-incident")

    # Plan -> proposal: plan, level and reasons; the teams with their ETAs and routes.
    expect(page.locator("#proposal-plan")).not_to_be_empty()
    expect(page.locator("#proposal-level")).to_have_text("III")
    assert page.locator("#proposal-reasons li").count() >= 1
    rows = page.locator("#proposal-teams tbody tr[data-team]")
    expect(rows.first).to_be_visible()
    n_teams = rows.count()
    incident_id = page.evaluate("OneMapConsole.state.incident.id")
    lon, lat = page.evaluate("OneMapConsole.state.incident.geometry.coordinates")
    assert abs(lon - ATENEUM[0]) < 2e-4 and abs(lat - ATENEUM[1]) < 2e-4  # where it was clicked
    proposed = page.evaluate(
        "OneMapConsole.state.proposal.allocation.teams.map(t => t.route.geometry.coordinates)"
    )
    assert len(proposed) == n_teams
    assert page.evaluate(ROUTES_DRAWN, proposed)  # the proposed routes on the console's map
    page.screenshot(path=str(SCREENSHOTS / "console-proposal.png"))

    # The wall shows no route of this incident yet; one click dispatches.
    assert _routes(page.context, incident_id) == []
    assert not wall.evaluate(ROUTES_DRAWN, proposed)
    page.click("#dispatch")
    expect(page.locator("#dispatch-list li[data-dispatch]").first).to_be_visible()
    routes = _routes(page.context, incident_id)
    assert len(routes) == n_teams
    # ... and the wall, open in its own page, draws them without a reload.
    wall.wait_for_function(ROUTES_DRAWN, arg=routes, timeout=LIVE_MS)
    assert wall.evaluate("window.__sameDocument === true")

    # The console: every dispatch listed, a QR code for each team's route link.
    expect(page.locator("#dispatch-list li[data-dispatch]")).to_have_count(
        len(_dispatches(page.context, incident_id))
    )
    qr = page.locator("#dispatch-list .c-qr")
    expect(qr).to_have_count(n_teams)
    expect(page.locator("#dispatch-list .c-qr svg path")).to_have_count(n_teams)
    assert page.evaluate(ROUTES_DRAWN, routes)
    page.screenshot(path=str(SCREENSHOTS / "console-dispatched.png"))
    wall.screenshot(path=str(SCREENSHOTS / "wall-live.png"))

    # Keyboard: 4 opens the timeline, which now holds the dispatch.
    page.locator("#map").focus()
    page.keyboard.press("4")
    expect(page.locator("#pane-timeline")).to_be_visible()
    assert page.locator("#timeline li").count() >= 1 + n_teams
    page.screenshot(path=str(SCREENSHOTS / "console-timeline.png"))

    # The printable snapshot opens as a page of its own, drawn with nothing fetched elsewhere.
    with page.context.expect_page() as opened:
        page.click("#snapshot-link")
    snap = opened.value
    snap.wait_for_load_state("load")
    expect(snap.locator("#snap-title")).to_contain_text("阿黛浓美术馆火灾")
    expect(snap.locator("#snap-dispatches tbody tr")).to_have_count(
        len(_dispatches(page.context, incident_id))
    )
    assert snap.evaluate(ROUTES_DRAWN, routes)
    snap.set_viewport_size({"width": 1440, "height": 900})
    snap.screenshot(path=str(SCREENSHOTS / "console-snapshot.png"), full_page=True)
    _clean(guard)


def _dispatches(ctx: Any, incident_id: int) -> list[dict]:
    r = ctx.request.get(f"/api/v1/incidents/{incident_id}/dispatches")
    assert r.ok
    return r.json()["dispatches"]


def test_console_keyboard_and_the_guard_blocks_other_hosts(open_context, guard):
    page = _console(open_context)
    # N starts placing, Enter places the incident at the map's centre, Esc cancels.
    page.locator("#map").focus()
    page.keyboard.press("n")
    expect(page.locator("#place-hint")).to_be_visible()
    page.locator("#map").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#create-incident")).to_be_enabled()
    expect(page.locator("#f-type")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#incident-form")).to_be_hidden()
    # "/" goes to the search; typing finds a seeded team, Enter goes there.
    page.locator("#map").focus()
    page.keyboard.press("/")
    expect(page.locator("#search")).to_be_focused()
    team = page.context.request.get("/api/v1/layers/teams?limit=1").json()["features"][0]
    page.keyboard.type(team["properties"]["name"])
    expect(page.locator("#search-results li[role=option]").first).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#search-results")).to_be_hidden()
    lon, lat = team["geometry"]["coordinates"]
    centre = page.evaluate(
        "(() => { const c = OneMapConsole.map.getCenter(); return [c.lng, c.lat]; })()"
    )
    assert abs(centre[0] - lon) < 1e-4 and abs(centre[1] - lat) < 1e-4
    # The guard works: a request to another host is blocked and counted.
    _clean(guard)
    page.evaluate(
        "fetch('https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js').catch(() => 0)"
    )
    assert guard.blocked == ["https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"]


def test_phone_page_at_360x640_shows_the_route_and_reports_status(open_context, guard):
    office = open_context(user="dispatcher")
    incident_id = _incident(office, KAISANIEMI, "accident.fire.urban", "凯萨尼米公园火情")
    team = _dispatch(office, incident_id)[0]
    phone = open_context(
        viewport=(360, 640),
        user=None,
        is_mobile=True,
        has_touch=True,
        geolocation={
            "latitude": team["route"]["coordinates"][0][1],
            "longitude": team["route"]["coordinates"][0][0],
        },
        permissions=["geolocation"],
    ).new_page()
    phone.goto(team["link"])
    expect(phone.locator("#eta")).not_to_be_empty()
    phone.wait_for_function(ROUTES_DRAWN, arg=[team["route"]["coordinates"]])
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
    phone.screenshot(path=str(SCREENSHOTS / "phone-route-360x640.png"))

    before = phone.locator("#status").inner_text()
    phone.tap("button[data-status=en_route]")
    expect(phone.locator("#status")).not_to_have_text(before)
    r = office.request.get(f"/api/v1/layers/teams/{team['team_id']}")
    assert r.json()["properties"]["status"] == "en_route"
    phone.tap("#send-pos")
    expect(phone.locator("#msg")).not_to_be_empty()
    phone.screenshot(path=str(SCREENSHOTS / "phone-route-after-en-route.png"))
    _clean(guard)


def test_wall_carries_on_after_a_redis_restart(open_context, guard, server):
    wall = _open_wall(open_context)
    office = open_context(user="dispatcher")
    # An event the wall sees, so it knows where it stands in the stream.
    first = _incident(office, OLD_CHURCH, "accident.fire.urban", "旧教堂公园火情")
    expect(wall.locator("#log li:not(.empty)").first).to_be_visible()

    server.redis.stop()
    expect(wall.locator("#live")).not_to_have_class("live live", timeout=20_000)
    # Losing Redis loses live updates, never data: the dispatch still commits.
    sent = _dispatch(office, first)
    routes = [t["route"]["coordinates"] for t in sent]
    server.redis.start()

    # The wall reconnects by itself, finds it missed events, and reloads its state.
    expect(wall.locator("#live")).to_have_class("live live", timeout=30_000)
    wall.wait_for_function(ROUTES_DRAWN, arg=routes, timeout=15_000)
    assert wall.evaluate("window.__sameDocument === true")
    # Live again: the next dispatch is drawn as it happens (the fire teams, recalled, go again).
    for d in sent:
        assert office.request.post(f"/api/v1/dispatches/{d['id']}/recall").ok
    second = _incident(office, ATENEUM, "accident.fire.urban", "又一起火情")
    more = [t["route"]["coordinates"] for t in _dispatch(office, second)]
    wall.wait_for_function(ROUTES_DRAWN, arg=more, timeout=LIVE_MS)
    wall.screenshot(path=str(SCREENSHOTS / "wall-after-redis-restart.png"))
    _clean(guard)
