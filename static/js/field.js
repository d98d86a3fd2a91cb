/* The field team's route page: its own route on a map, status buttons, "send my position".
 * Kept light for slow connections: no shared script, strings come from the #i18n block. */
(function () {
  "use strict";
  var view = JSON.parse(document.getElementById("view").textContent);
  var T = JSON.parse(document.getElementById("i18n").textContent);
  var token = location.pathname.split("/").pop();
  var map = L.map("map", { zoomControl: true, preferCanvas: true });
  var inc = view.incident.at;
  L.circleMarker([inc[1], inc[0]], { radius: 9, color: "#fff", weight: 2, fillColor: "#c62828", fillOpacity: 1 }).addTo(map);
  var me = null;
  var around;
  if (view.route) {
    var line = L.geoJSON(view.route, { style: { color: "#1565c0", weight: 6, opacity: 0.85 } }).addTo(map);
    around = line.getBounds();
    map.fitBounds(around.pad(0.15));
    var c = view.route.coordinates[0];
    me = L.circleMarker([c[1], c[0]], { radius: 7, color: "#fff", weight: 2, fillColor: "#2e7d32", fillOpacity: 1 }).addTo(map);
  } else {
    map.setView([inc[1], inc[0]], 16);
    around = map.getBounds();
  }
  // What the screen shows and half as much again around it, route and incident included.
  roads(map.getBounds().pad(0.5).extend(around).extend([inc[1], inc[0]]));

  /* The roads around the route as an offline base map (no tiles): GET /r/<token>/roads.json
   * ?bbox=west,south,east,north answers the road graph's lines there as GeoJSON, with the
   * link's token as the only credential. A server without it (404) leaves the route alone. */
  function roads(b) {
    map.createPane("roads");
    map.getPane("roads").style.zIndex = 250;
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(5); }).join(",");
    fetch("/r/" + token + "/roads.json?bbox=" + bbox, { headers: { Accept: "application/geo+json, application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (fc) {
        if (!fc || !fc.features || !fc.features.length) return;
        L.geoJSON(fc, {
          pane: "roads", renderer: L.canvas({ pane: "roads", padding: 0.3 }), interactive: false,
          style: { color: "#a3adb8", weight: 2.5, opacity: 0.9 }
        }).addTo(map);
      })
      .catch(function () { /* offline: the route is drawn anyway */ });
  }
  function say(t) { document.getElementById("msg").textContent = t; }
  function report(body) {
    return fetch("/r/" + token + "/report", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body)
    }).then(function (r) { return r.json().then(function (j) { return [r.ok, j]; }); })
      .then(function (res) {
        if (!res[0]) { say(res[1].error ? res[1].error.message : T.error); return; }
        document.getElementById("status").textContent = T.status[res[1].status] || res[1].status;
        if (me && res[1].at) me.setLatLng([res[1].at[1], res[1].at[0]]);
        say(T.sent);
      }).catch(function () { say(T.offline); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("button[data-status]"), function (b) {
    b.addEventListener("click", function () { report({ status: b.getAttribute("data-status") }); });
  });
  document.getElementById("send-pos").addEventListener("click", function () {
    if (!navigator.geolocation) { say(T.no_location); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      report({ at: [p.coords.longitude, p.coords.latitude] });
    }, function (e) { say(T.location_failed + " " + e.message); }, { enableHighAccuracy: true, timeout: 15000 });
  });
})();
