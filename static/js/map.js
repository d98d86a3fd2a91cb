/* OneMap: the layers on a Leaflet map. Offline by default: no tile layer unless configured. */
(function () {
  "use strict";
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var map = L.map("map", { preferCanvas: true }).setView(cfg.center, cfg.zoom);
  if (cfg.baseMapUrl) {
    L.tileLayer(cfg.baseMapUrl, { attribution: cfg.baseMapAttribution, maxZoom: 19 }).addTo(map);
  }
  var LAYERS = [
    { kind: "shelters", zh: "避难场所", en: "Shelters", color: "#2e7d32" },
    { kind: "teams", zh: "救援队伍", en: "Teams", color: "#c62828" },
    { kind: "depots", zh: "物资储备", en: "Depots", color: "#1565c0" },
    { kind: "hazards", zh: "隐患点", en: "Hazards", color: "#ef6c00" },
    { kind: "incidents", zh: "突发事件", en: "Incidents", color: "#6a1b9a" }
  ];
  var control = L.control.layers(null, null, { collapsed: false }).addTo(map);
  // Offline base map: the road graph itself, drawn under the layers.
  map.createPane("roads");
  map.getPane("roads").style.zIndex = 250;
  fetch("/api/v1/graphs/default/roads", { credentials: "same-origin" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (fc) {
      if (!fc) return;
      var roads = L.geoJSON(fc, {
        pane: "roads",
        style: function () { return { color: "#9aa5b1", weight: 3, opacity: 0.9 }; },
        onEachFeature: function (f, layer) { if (f.properties.name) layer.bindTooltip(f.properties.name, { sticky: true }); }
      }).addTo(map);
      control.addBaseLayer(roads, "道路 Roads");
    });
  var counts = {};
  var bounds = L.latLngBounds([]);

  function popup(p) {
    var rows = ["<strong>" + esc(p.name || p.title || p.type) + "</strong>"];
    if (p.name_en) rows.push(esc(p.name_en));
    ["type", "status", "capacity", "occupancy", "risk_level", "headcount", "level"].forEach(function (k) {
      if (p[k] !== undefined && p[k] !== null) rows.push(k + ": " + esc(String(p[k])));
    });
    if (p.stock && p.stock.length) {
      rows.push(p.stock.map(function (s) { return esc(s.name_zh || s.item_code) + " " + s.available + " " + esc(s.unit || ""); }).join("<br>"));
    }
    return rows.join("<br>");
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function load(def) {
    var group = L.geoJSON(null, {
      style: function (f) {
        return f.geometry.type === "Point" ? {} : { color: def.color, weight: 2, fillOpacity: 0.25 };
      },
      pointToLayer: function (f, latlng) {
        return L.circleMarker(latlng, { radius: 7, color: "#fff", weight: 1.5, fillColor: def.color, fillOpacity: 0.95 });
      },
      onEachFeature: function (f, layer) { layer.bindPopup(popup(f.properties)); }
    }).addTo(map);
    control.addOverlay(group, '<i style="background:' + def.color + '"></i>' + def.zh + " " + def.en);
    var url = def.kind === "incidents" ? "/api/v1/incidents?limit=5000" : "/api/v1/layers/" + def.kind + "?limit=5000";
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (fc) {
        group.addData(fc);
        counts[def.kind] = fc.features.length;
        if (fc.features.length) bounds.extend(group.getBounds());
      })
      .catch(function (e) { counts[def.kind] = "!"; console.error(def.kind, e); });
  }
  Promise.all(LAYERS.map(load)).then(function () {
    if (bounds.isValid()) map.fitBounds(bounds.pad(0.05));
    document.getElementById("counts").textContent = LAYERS.map(function (d) {
      return d.zh + " " + (counts[d.kind] === undefined ? 0 : counts[d.kind]);
    }).join(" · ");
  });
})();
