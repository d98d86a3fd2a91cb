/* The wall display: every layer on a dark map, a side panel of counts, kept live.
 *
 * State is built from the REST API at start (and again on a "resync" event: the live stream
 * could not replay what was missed), then each live event is applied incrementally. The
 * stream (OneMap.events) reconnects by itself after a server or Redis restart and replays
 * missed events from its last id. Endpoints that may not exist yet (alerts, evacuations)
 * are allowed to answer 404. */
(function () {
  "use strict";
  var O = window.OneMap;
  var t = O.t, esc = O.esc;
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var map = L.map("map", { preferCanvas: true, zoomControl: false, zoomSnap: 0.25, attributionControl: !!cfg.baseMapUrl })
    .setView(cfg.center, cfg.zoom);
  O.onlineBaseMap(map, cfg);
  O.roadBaseMap(map, { color: "#3d5573", weight: 1.6 });

  var TEAM_COLORS = {
    available: "#43a047", dispatched: "#fdd835", en_route: "#ffa726",
    on_scene: "#ef5350", returning: "#29b6f6", out_of_service: "#78909c"
  };
  var LEVEL_COLORS = { I: "#d50000", II: "#ff6d00", III: "#ffd600", IV: "#2979ff", none: "#90a4ae" };
  var COLORS = { shelters: "#26a69a", depots: "#5c6bc0", hazards: "#ff9800", incidents: "#ff1744" };

  map.createPane("areas"); map.getPane("areas").style.zIndex = 350;
  map.createPane("lines"); map.getPane("lines").style.zIndex = 380;
  var areaRenderer = L.canvas({ pane: "areas" });
  var lineRenderer = L.canvas({ pane: "lines" });
  var pointRenderer = L.canvas({ padding: 0.3 });

  function label(kind) {
    return function (p) { return kind === "incidents" ? (p.title || O.vocab("incident_type", p.type)) : O.pick(p); };
  }
  var layers = {
    shelters: O.pointLayer(map, { color: COLORS.shelters, radius: 8, renderer: pointRenderer, clusterBelowZoom: 14, popup: popup("shelters") }),
    depots: O.pointLayer(map, { color: COLORS.depots, radius: 8, renderer: pointRenderer, clusterBelowZoom: 14, popup: popup("depots") }),
    hazards: O.pointLayer(map, { color: COLORS.hazards, radius: 6, renderer: pointRenderer, clusterBelowZoom: 14, popup: popup("hazards") }),
    teams: O.pointLayer(map, {
      color: TEAM_COLORS.available, radius: 9, renderer: pointRenderer, clusterBelowZoom: 14, popup: popup("teams"),
      style: function (p) { return { fillColor: TEAM_COLORS[p.status] || "#bdbdbd", color: "#0b1220", weight: 2 }; }
    }),
    incidents: O.pointLayer(map, {
      color: COLORS.incidents, radius: 14, renderer: pointRenderer, clusterBelowZoom: 0, popup: popup("incidents"),
      label: label("incidents"), permanentLabels: true, labelClass: "wall-label",
      style: function (p) { return { fillColor: LEVEL_COLORS[p.level] || COLORS.incidents, color: "#fff", weight: 3 }; }
    })
  };
  var incidentAreas = L.geoJSON(null, { renderer: areaRenderer, pane: "areas", style: { color: "#ff1744", weight: 2, fillOpacity: 0.15 } }).addTo(map);
  var hazardAreas = L.geoJSON(null, { renderer: areaRenderer, pane: "areas", style: { color: "#ff9800", weight: 1, opacity: 0.5, fillOpacity: 0.03, dashArray: "4 6" } }).addTo(map);
  var routes = {};      // incident id -> L.GeoJSON of its active team routes
  var alerts = {};      // alert id -> L.GeoJSON area
  var flows = {};       // incident id -> L.LayerGroup of evacuation flows
  var routeGroup = L.layerGroup().addTo(map);
  var alertGroup = L.layerGroup().addTo(map);
  var flowGroup = L.layerGroup().addTo(map);
  var fitted = false;

  /* ---- legend ---- */
  var legend = L.control({ position: "bottomleft" });
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "wall-legend");
    var rows = [
      // incidents are coloured by level (I to IV), as in the level chips of the panel
      ["dot", "conic-gradient(" + LEVEL_COLORS.I + " 0 25%, " + LEVEL_COLORS.II + " 0 50%, " + LEVEL_COLORS.III + " 0 75%, " + LEVEL_COLORS.IV + " 0)", t("incidents")],
      ["dot", TEAM_COLORS.available, t("teams") + " · " + O.vocab("team_status", "available")],
      ["dot", TEAM_COLORS.en_route, t("teams") + " · " + O.vocab("team_status", "en_route")],
      ["dot", TEAM_COLORS.on_scene, t("teams") + " · " + O.vocab("team_status", "on_scene")],
      ["dot", COLORS.shelters, t("shelters"), "shelters"],
      ["dot", COLORS.depots, t("depots"), "depots"],
      ["dot", COLORS.hazards, t("hazards"), "hazards"],
      ["line", "#ffca28", t("routes")],
      ["area", "#ff3d00", t("alert_areas")],
      ["line", "#00e5ff", t("evacuation")]
    ];
    div.innerHTML = "<h3>" + esc(t("legend")) + "</h3>" + rows.map(function (r) {
      // A point layer's row ends with how many of its features are drawn (every page loaded).
      var count = r[3] ? ' <small data-count="' + r[3] + '" style="opacity:.7"></small>' : "";
      return '<div><i class="' + r[0] + '" style="background:' + r[1] + '"></i>' + esc(r[2]) + count + "</div>";
    }).join("");
    return div;
  };
  legend.addTo(map);
  var countTimer = null;
  function showCounts() {
    if (countTimer) return;
    countTimer = setTimeout(function () {
      countTimer = null;
      Array.prototype.forEach.call(document.querySelectorAll(".wall-legend [data-count]"), function (node) {
        var kind = node.getAttribute("data-count");
        node.textContent = layers[kind] ? layers[kind].size().toLocaleString() : "";
      });
    }, 200);
  }

  function popup(kind) {
    return function (p) {
      var rows = ["<strong>" + esc(label(kind)(p)) + "</strong>"];
      if (kind === "teams") rows.push(esc(O.vocab("team_type", p.type)) + " · " + esc(O.vocab("team_status", p.status)));
      if (kind === "incidents") rows.push(esc(O.vocab("incident_type", p.type)) + (p.level ? " · " + esc(t("level")) + " " + esc(p.level) : ""));
      if (kind === "shelters") rows.push(esc(p.occupancy) + " / " + esc(p.capacity));
      if (kind === "hazards") rows.push(esc(O.vocab("hazard_type", p.type)) + " · " + esc(O.vocab("risk_level", p.risk_level)));
      return rows.join("<br>");
    };
  }

  /* ---- state from the REST API ---- */
  function optional(url) {
    return O.api(url).catch(function (e) {
      if (e.status === 404 || e.status === 501) return null;
      throw e;
    });
  }
  function setFeature(kind, f) {
    if (!f || !f.geometry) return;
    var p = f.properties || {};
    var id = f.id !== undefined ? f.id : p.id;
    if (kind === "incidents" && p.status === "closed") { removeFeature(kind, id); return; }
    var g = f.geometry;
    if (g.type === "Point") layers[kind].set(id, g.coordinates, p);
    else if (kind === "shelters") {
      var c = L.geoJSON(g).getBounds().getCenter();
      layers[kind].set(id, [c.lng, c.lat], p);
    }
    if (kind === "incidents" && p.area) replaceArea(incidentAreas, id, p.area);
    if (kind === "hazards" && p.influence) replaceArea(hazardAreas, id, p.influence);
  }
  // The areas of a GeoJSON group by feature id, so that replacing one does not walk them all.
  function replaceArea(group, id, geom) {
    var byId = group.byId || (group.byId = {});
    if (byId[id]) { group.removeLayer(byId[id]); delete byId[id]; }
    if (!geom) return;
    var f = { type: "Feature", id: id, geometry: geom, properties: {} };
    var layer = L.GeoJSON.geometryToLayer(f, group.options);
    layer.feature = f;
    layer.defaultOptions = layer.options;
    group.resetStyle(layer);
    byId[id] = layer;
    group.addLayer(layer);
  }
  function clearAreas(group) {
    group.clearLayers();
    group.byId = {};
  }
  function removeFeature(kind, id) {
    layers[kind].remove(id);
    if (kind === "incidents") { replaceArea(incidentAreas, id, null); clearRoutes(id); clearFlows(id); }
    if (kind === "hazards") replaceArea(hazardAreas, id, null);
  }
  var loading = {};  // kind -> number of the latest load: an older one finishing later is dropped
  function loadLayer(kind) {
    var url = kind === "incidents" ? "/api/v1/incidents?limit=5000" : "/api/v1/layers/" + kind + "?limit=5000";
    var mine = loading[kind] = (loading[kind] || 0) + 1;
    return O.features(url).then(function (fc) {
      if (mine !== loading[kind]) return;
      layers[kind].clear();
      if (kind === "incidents") clearAreas(incidentAreas);
      if (kind === "hazards") clearAreas(hazardAreas);
      fc.features.forEach(function (f) { setFeature(kind, f); });
      showCounts();
    });
  }
  function clearRoutes(incidentId) {
    if (routes[incidentId]) { routeGroup.removeLayer(routes[incidentId]); delete routes[incidentId]; }
  }
  function loadRoutes(incidentId) {
    return O.api("/api/v1/incidents/" + incidentId + "/dispatches").then(function (body) {
      clearRoutes(incidentId);
      var active = (body.dispatches || []).filter(function (d) {
        return d.kind === "team" && d.route && ["dispatched", "en_route", "on_scene"].indexOf(d.status) >= 0;
      });
      if (!active.length) return;
      routes[incidentId] = L.geoJSON({
        type: "FeatureCollection",
        features: active.map(function (d) { return { type: "Feature", geometry: d.route, properties: { status: d.status } }; })
      }, { renderer: lineRenderer, pane: "lines", interactive: false, style: function (f) {
        return { color: "#ffca28", weight: 5, opacity: f.properties.status === "on_scene" ? 0.45 : 0.9, dashArray: "10 6" };
      } });
      routeGroup.addLayer(routes[incidentId]);
    }).catch(function (e) { if (e.status !== 404) throw e; });
  }
  function clearFlows(incidentId) {
    if (flows[incidentId]) { flowGroup.removeLayer(flows[incidentId]); delete flows[incidentId]; }
  }
  function loadFlows(incidentId) {
    return optional("/api/v1/incidents/" + incidentId + "/evacuations").then(function (body) {
      clearFlows(incidentId);
      var list = Array.isArray(body) ? body : (body && (body.evacuations || body.items)) || [];
      var group = L.layerGroup();
      list.forEach(function (ev) {
        if (ev.status && ev.status !== "committed") return;
        if (ev.zone) group.addLayer(L.geoJSON(ev.zone, { renderer: areaRenderer, pane: "areas", style: { color: "#00e5ff", weight: 2, fillOpacity: 0.06, dashArray: "6 6" } }));
        (ev.flows || []).forEach(function (fl) {
          if (!fl.route) return;
          var w = Math.max(2, Math.min(12, Math.sqrt(fl.people || 1) / 2));
          group.addLayer(L.geoJSON(fl.route, { renderer: lineRenderer, pane: "lines", style: { color: "#00e5ff", weight: w, opacity: 0.8 } }));
        });
      });
      flows[incidentId] = group;
      flowGroup.addLayer(group);
      // People on their way to a shelter: those assigned a place by evacuations still in force.
      evacPeople[incidentId] = list.reduce(function (s, ev) {
        return ev.status && ev.status !== "committed" ? s : s + (ev.assigned !== undefined ? ev.assigned : (ev.people || 0));
      }, 0);
    });
  }
  var evacPeople = {};
  function addAlert(a) {
    if (!a || a.id === undefined) return;
    removeAlert(a.id);
    if (!a.area) return;
    alerts[a.id] = L.geoJSON(a.area, { renderer: areaRenderer, pane: "areas", style: { color: "#ff3d00", weight: 3, fillColor: "#ff3d00", fillOpacity: 0.1 } });
    alertGroup.addLayer(alerts[a.id]);
  }
  function removeAlert(id) {
    if (alerts[id]) { alertGroup.removeLayer(alerts[id]); delete alerts[id]; }
  }
  function loadAlerts() {
    return optional("/api/v1/alerts").then(function (body) {
      Object.keys(alerts).forEach(removeAlert);
      var list = Array.isArray(body) ? body : (body && (body.alerts || body.items)) || [];
      list.forEach(function (a) { if (!a.status || a.status === "active") addAlert(a); });
    });
  }
  function loadAll() {
    var kinds = ["shelters", "depots", "hazards", "teams", "incidents"];
    return Promise.all(kinds.map(loadLayer)).then(function () {
      Object.keys(routes).forEach(clearRoutes);
      Object.keys(flows).forEach(clearFlows);
      evacPeople = {};
      var ids = layers.incidents.ids();
      return Promise.all(ids.map(loadRoutes).concat(ids.map(loadFlows)).concat([loadAlerts(), loadSummary()]));
    }).then(function () {
      if (!fitted) {
        var b = L.latLngBounds([]);
        ["incidents", "teams", "shelters", "depots", "hazards"].forEach(function (k) { if (layers[k].size()) b.extend(layers[k].fit()); });
        if (b.isValid()) { map.fitBounds(b.pad(0.04)); fitted = true; }
      }
    }).catch(function (e) { if (window.console) console.error("wall state", e); });
  }

  /* ---- side panel ---- */
  function el(id) { return document.getElementById(id); }
  function loadSummary() {
    var url = "/api/v1/summary" + (cfg.stockItems ? "?items=" + encodeURIComponent(cfg.stockItems) : "");
    return O.api(url).then(renderSummary);
  }
  function renderSummary(s) {
    el("n-incidents").textContent = s.incidents.active;
    el("levels").innerHTML = ["I", "II", "III", "IV", "none"].filter(function (k) { return s.incidents.by_level[k]; }).map(function (k) {
      var name = k === "none" ? t("ungraded") : k + " " + O.vocab("incident_level", k);
      return '<span class="chip" style="border-color:' + LEVEL_COLORS[k] + '"><i style="background:' + LEVEL_COLORS[k] + '"></i>' + esc(name) + " <b>" + s.incidents.by_level[k] + "</b></span>";
    }).join("");
    el("n-alerts").textContent = s.alerts.active;
    var evac = Object.keys(evacPeople).reduce(function (n, k) { return n + evacPeople[k]; }, 0);
    el("n-evac").textContent = evac ? O.fmt("evacuated", { n: evac }) : "";
    el("n-teams").textContent = s.teams.total;
    el("team-status").innerHTML = Object.keys(TEAM_COLORS).filter(function (k) { return s.teams.by_status[k]; }).map(function (k) {
      return '<span class="chip"><i style="background:' + TEAM_COLORS[k] + '"></i>' + esc(O.vocab("team_status", k)) + " <b>" + s.teams.by_status[k] + "</b></span>";
    }).join("");
    var types = Object.keys(s.teams.by_type).sort(function (a, b) { return s.teams.by_type[b].total - s.teams.by_type[a].total; });
    el("team-types").innerHTML = types.map(function (k) {
      var e = s.teams.by_type[k];
      var free = e.by_status.available || 0;
      return '<div class="cell"><span>' + esc(O.vocab("team_type", k)) + '</span><b class="' + (free ? "" : "none") + '">' + free +
        "</b><small>/" + e.total + "</small></div>";
    }).join("");
    var sh = s.shelters;
    el("n-shelters").textContent = O.fmt("open_of", { open: sh.open, n: sh.count });
    var pct = sh.occupancy_rate === null ? 0 : Math.round(sh.occupancy_rate * 100);
    el("occ-bar").style.width = Math.min(pct, 100) + "%";
    el("occ-bar").className = pct >= 90 ? "hot" : (pct >= 70 ? "warm" : "");
    el("occ-text").textContent = O.fmt("occupied", { occ: sh.occupancy, cap: sh.capacity, pct: pct + "%" }) + " · " + O.fmt("room_left", { n: sh.room_left });
    var stock = s.stock.slice().sort(function (a, b) { return a.available - b.available; }).slice(0, 6);
    el("stock").innerHTML = stock.map(function (i) {
      return '<div class="cell"><span>' + esc(O.pick(i) || i.item_code) + "</span><b>" + i.available.toLocaleString() + "</b><small>" + esc(i.unit || "") + "</small></div>";
    }).join("");
  }
  var summaryTimer = null;
  function refreshSummary() {
    if (summaryTimer) return;
    summaryTimer = setTimeout(function () {
      summaryTimer = null;
      loadSummary().catch(function () { /* next event or the minute timer retries */ });
    }, 800);
  }
  setInterval(refreshSummary, 60000);

  /* ---- event log ---- */
  var KIND_WORD = { incidents: "incident", teams: "team", shelters: "shelter", depots: "depot", hazards: "hazard" };
  function logLine(text, cls) {
    var ol = el("log");
    var empty = ol.querySelector(".empty");
    if (empty) ol.removeChild(empty);
    var li = document.createElement("li");
    var now = new Date();
    li.innerHTML = '<time>' + pad(now.getHours()) + ":" + pad(now.getMinutes()) + "</time> " + esc(text);
    if (cls) li.className = cls;
    ol.insertBefore(li, ol.firstChild);
    while (ol.children.length > 8) ol.removeChild(ol.lastChild);
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function featureName(kind, f) {
    if (!f) return "";
    return label(kind)(f.properties || {});
  }

  /* ---- live events ---- */
  function apply(name, d) {
    if (!d || typeof d !== "object") return;
    var parts = name.split(".");
    var kind = parts[0], action = parts[1];
    if (layers[kind] && ["created", "updated", "deleted", "imported"].indexOf(action) >= 0) {
      showCounts();
      var what = t(KIND_WORD[kind] || kind);
      if (action === "deleted") { removeFeature(kind, d.id); logLine(O.fmt("ev_deleted", { what: what })); }
      else if (action === "imported") { loadLayer(kind); logLine(O.fmt("ev_imported", { what: what })); }
      else {
        setFeature(kind, d.feature);
        if (kind === "incidents" && d.feature && action === "created") loadRoutes(d.id);
        logLine(O.fmt(action === "created" ? "ev_created" : "ev_updated", { what: what, name: featureName(kind, d.feature) }), kind === "incidents" ? "hot" : "");
      }
    } else if (name === "teams.reported") {
      var p = layers.teams.get(d.team_id);
      if (p) {
        var moved = {}; for (var k in p) if (Object.prototype.hasOwnProperty.call(p, k)) moved[k] = p[k];
        if (d.status) moved.status = d.status;
        layers.teams.set(d.team_id, d.at || layers.teams.at(d.team_id), moved);
        logLine(O.fmt("ev_reported", { name: O.pick(moved), status: O.vocab("team_status", moved.status) }));
      } else {
        loadLayer("teams");
      }
    } else if (name === "dispatch.committed") {
      if (d.incident_id !== undefined) loadRoutes(d.incident_id);
      loadLayer("teams");
      logLine(O.fmt("ev_dispatch", { id: d.incident_id }), "hot");
    } else if (kind === "dispatch") {
      if (d.incident_id !== undefined) loadRoutes(d.incident_id);
      else layers.incidents.ids().forEach(loadRoutes);
      loadLayer("teams");
      logLine(O.fmt("ev_dispatch_end", { id: d.dispatch_id || d.id || "" }));
    } else if (name === "alerts.issued") {
      if (d.alert && d.alert.area) addAlert(d.alert); else loadAlerts();
      if (d.replaces !== undefined) removeAlert(d.replaces);
      var head = d.alert && d.alert.headline;
      logLine(O.fmt("ev_alert", { name: (head && typeof head === "object" ? O.pick(head, "headline") : head) || "" }), "hot");
    } else if (name === "alerts.cancelled") {
      removeAlert(d.alert_id);
      loadAlerts();
      logLine(O.fmt("ev_alert_cancel", { id: d.alert_id }));
    } else if (name === "evacuation.committed") {
      loadFlows(d.incident_id).then(refreshSummary);
      loadLayer("shelters");
      logLine(O.fmt("ev_evac", { id: d.incident_id }), "hot");
    } else if (name === "hazards.warning") {
      logLine(O.fmt("ev_hazard", { name: d.name || d.hazard_id, value: d.value, unit: d.unit || "" }), "hot");
      if (d.at) flash(d.at);
    } else if (name === "plans.updated") {
      logLine(t("ev_plans"));
    }
    refreshSummary();
  }
  function flash(at) {
    var c = L.circleMarker([at[1], at[0]], { renderer: pointRenderer, radius: 30, color: "#ff9800", weight: 4, fill: false }).addTo(map);
    setTimeout(function () { map.removeLayer(c); }, 10000);
  }

  function setLive(s) {
    var node = el("live");
    node.className = "live " + s;
    el("live-text").textContent = t(s);
  }
  var lastResync = 0;
  O.events("/api/v1/events/stream", {
    event: function (name, data) {
      try { apply(name, data); } catch (e) { if (window.console) console.error("event", name, e); }
    },
    resync: function () {
      var now = Date.now();
      if (now - lastResync > 2000) { lastResync = now; logLine(t("resync")); loadAll(); }
    },
    status: setLive
  });

  function tick() {
    var d = new Date();
    el("clock").textContent = pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }
  setInterval(tick, 1000);
  tick();
  loadAll();
  if (!el("log").children.length) {
    var li = document.createElement("li"); li.className = "empty"; li.textContent = t("no_events"); el("log").appendChild(li);
  }
})();
