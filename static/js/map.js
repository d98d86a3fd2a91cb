/* OneMap: the layers on a Leaflet map. Offline by default: the road graph is the base map and
 * no tile layer is added unless configured. Points are canvas circleMarkers, clustered at low
 * zoom (OneMap.pointLayer in common.js). */
(function () {
  "use strict";
  var O = window.OneMap;
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var map = L.map("map", { preferCanvas: true }).setView(cfg.center, cfg.zoom);
  var online = O.onlineBaseMap(map, cfg);
  var LAYERS = [
    { kind: "shelters", color: "#2e7d32" },
    { kind: "teams", color: "#c62828" },
    { kind: "depots", color: "#1565c0" },
    { kind: "hazards", color: "#ef6c00" },
    { kind: "incidents", color: "#6a1b9a" }
  ];
  var VOCAB = { type: { teams: "team_type", hazards: "hazard_type", incidents: "incident_type", shelters: "shelter_type" },
                status: { teams: "team_status", shelters: "shelter_status", incidents: "incident_status" } };
  var control = L.control.layers(null, null, { collapsed: false }).addTo(map);
  O.roadBaseMap(map).then(function (roads) {
    if (roads) control.addBaseLayer(roads, O.t("roads"));
    if (online) control.addBaseLayer(online, "Online");
  });
  var counts = {};
  var bounds = L.latLngBounds([]);
  var esc = O.esc;

  function popup(kind, p) {
    var title = p.title || O.pick(p) || O.vocab("incident_type", p.type);
    var rows = ["<strong>" + esc(title) + "</strong>"];
    if (p.type) rows.push(esc(O.t("type")) + ": " + esc(VOCAB.type[kind] ? O.vocab(VOCAB.type[kind], p.type) : p.type));
    if (p.shelter_type) rows.push(esc(O.t("type")) + ": " + esc(O.vocab("shelter_type", p.shelter_type)));
    if (p.status) rows.push(esc(O.t("status")) + ": " + esc(VOCAB.status[kind] ? O.vocab(VOCAB.status[kind], p.status) : p.status));
    ["capacity", "occupancy", "headcount"].forEach(function (k) {
      if (p[k] !== undefined && p[k] !== null) rows.push(esc(O.t(k)) + ": " + esc(p[k]));
    });
    if (p.risk_level) rows.push(esc(O.t("risk_level")) + ": " + esc(O.vocab("risk_level", p.risk_level)));
    if (p.level) rows.push(esc(O.t("level")) + ": " + esc(p.level) + " " + esc(O.vocab("incident_level", p.level)));
    if (p.stock && p.stock.length) {
      rows.push(p.stock.map(function (s) { return esc(O.pick(s) || s.item_code) + " " + esc(s.available) + " " + esc(s.unit || ""); }).join("<br>"));
    }
    return rows.join("<br>");
  }
  function load(def) {
    var points = O.pointLayer(map, { color: def.color, popup: function (p) { return popup(def.kind, p); } });
    var areas = L.geoJSON(null, { style: { color: def.color, weight: 2, fillOpacity: 0.2 } }).addTo(map);
    var both = L.layerGroup([points.layer, areas]).addTo(map);
    control.addOverlay(both, '<i style="background:' + def.color + '"></i>' + esc(O.t(def.kind)));
    var url = def.kind === "incidents" ? "/api/v1/incidents?limit=5000" : "/api/v1/layers/" + def.kind + "?limit=5000";
    return O.api(url).then(function (fc) {
      fc.features.forEach(function (f) {
        var g = f.geometry;
        if (g.type === "Point") points.set(f.id, g.coordinates, f.properties);
        else areas.addData(f);
      });
      counts[def.kind] = fc.features.length;
      if (points.size()) bounds.extend(points.fit());
      if (areas.getLayers().length) bounds.extend(areas.getBounds());
    }).catch(function (e) { counts[def.kind] = "!"; if (window.console) console.error(def.kind, e); });
  }
  Promise.all(LAYERS.map(load)).then(function () {
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.05));
    document.getElementById("counts").textContent = LAYERS.map(function (d) {
      return O.t(d.kind) + " " + (counts[d.kind] === undefined ? 0 : counts[d.kind]);
    }).join(" · ");
  });
})();
