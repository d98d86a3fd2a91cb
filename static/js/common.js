/* OneMap shared page helpers: load after leaflet.js and before a page's own script.
 *
 * Everything is on window.OneMap; this interface is kept stable for every page:
 *
 *   OneMap.lang                      "zh_CN" or "en" (from the page's i18n block)
 *   OneMap.t(key, fallback?)         a translated string passed by the template:
 *                                    {{ i18n_script({"saved": _("Saved")}) }} -> OneMap.t("saved")
 *                                    (returns fallback, else the key, when missing)
 *   OneMap.fmt(key, {n: 3})          OneMap.t with "{n}" placeholders filled in
 *   OneMap.vocab(name, code)         a vocabulary label in the page's language, e.g.
 *                                    vocab("team_status", "en_route"), vocab("incident_type",
 *                                    "accident.fire"); names: team_type, team_status,
 *                                    shelter_status, shelter_type, hazard_type, risk_level,
 *                                    incident_status, incident_level, incident_type
 *   OneMap.pick(obj, base?)          obj.name_zh / obj.name_en (or title_*, or zh/en, or
 *                                    name/name_en) in the page's language, with fallback
 *   OneMap.esc(s)                    HTML-escape a value
 *   OneMap.api(url, opts?)           fetch JSON with the session cookie; resolves to the body,
 *                                    rejects with an Error carrying .status and .body
 *                                    (opts.json: a body to POST/PUT as JSON)
 *   OneMap.roadBaseMap(map, opts?)   draws the road graph (GET /api/v1/graphs/default/roads)
 *                                    as the offline base map in its own pane, canvas-rendered;
 *                                    opts: {color, weight, graph}; resolves to the layer (or
 *                                    null when no graph is loaded)
 *   OneMap.onlineBaseMap(map, cfg)   adds cfg.baseMapUrl as a tile layer when set (returns it)
 *   OneMap.pointLayer(map, opts)     points drawn as canvas circleMarkers, clustered by a screen
 *                                    grid below opts.clusterBelowZoom (default 15):
 *                                    opts {color, radius, cellPx, label(props), popup(props),
 *                                    style(props) -> circleMarker options}; methods
 *                                    set(id, [lon, lat], props), remove(id), clear(), get(id)
 *                                    -> props, at(id) -> [lon, lat], ids(), size(),
 *                                    fit() -> LatLngBounds, redraw(), layer (the L.Layer)
 *   OneMap.events(url, handlers)     the live event stream (server-sent events) with
 *                                    reconnect and catch-up; handlers: {event(name, data, id),
 *                                    resync(), status("live"|"connecting"|"offline")};
 *                                    returns {close()}. The browser resends Last-Event-ID on
 *                                    reconnect, so events missed while away are replayed; a
 *                                    "resync" event means they could not be, and the page must
 *                                    reload its state through the REST API (handlers.resync).
 */
(function () {
  "use strict";

  var I18N = { lang: "zh_CN", strings: {}, vocab: {} };
  var node = document.getElementById("i18n");
  if (node) {
    try { I18N = JSON.parse(node.textContent); } catch (e) { /* keep defaults */ }
  }

  function t(key, fallback) {
    var s = I18N.strings && I18N.strings[key];
    return s !== undefined ? s : (fallback !== undefined ? fallback : key);
  }

  function fmt(key, values) {
    return t(key).replace(/\{(\w+)\}/g, function (m, k) {
      return values && values[k] !== undefined ? values[k] : m;
    });
  }

  function vocab(name, code) {
    var v = I18N.vocab && I18N.vocab[name];
    return (v && v[code]) || (code === null || code === undefined ? "" : String(code));
  }

  function pick(obj, base) {
    if (!obj) return "";
    base = base || "name";
    var zhFirst = String(I18N.lang).indexOf("zh") === 0;
    var pairs = [[base + "_zh", base + "_en"], ["title_zh", "title_en"], ["zh", "en"], [base, base + "_en"]];
    for (var i = 0; i < pairs.length; i++) {
      var zh = obj[pairs[i][0]], en = obj[pairs[i][1]];
      if (zh || en) return String((zhFirst ? (zh || en) : (en || zh)) || "");
    }
    return "";
  }

  function esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return "&#" + c.charCodeAt(0) + ";";
    });
  }

  function api(url, opts) {
    opts = opts || {};
    var init = { credentials: "same-origin", method: opts.method || "GET", headers: { Accept: "application/json" } };
    if (opts.json !== undefined) {
      init.method = opts.method || "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(opts.json);
    }
    return fetch(url, init).then(function (r) {
      var type = r.headers.get("Content-Type") || "";
      var body = type.indexOf("json") >= 0 ? r.json() : r.text();
      return body.catch(function () { return null; }).then(function (b) {
        if (r.ok) return b;
        var msg = (b && b.error && b.error.message) || (r.status + " " + r.statusText);
        var err = new Error(msg);
        err.status = r.status;
        err.body = b;
        throw err;
      });
    });
  }

  function roadBaseMap(map, opts) {
    opts = opts || {};
    if (!map.getPane("roads")) {
      map.createPane("roads");
      map.getPane("roads").style.zIndex = 250;
    }
    var renderer = L.canvas({ pane: "roads", padding: 0.3 });
    var url = "/api/v1/graphs/" + encodeURIComponent(opts.graph || "default") + "/roads";
    return api(url).then(function (fc) {
      return L.geoJSON(fc, {
        pane: "roads",
        renderer: renderer,
        interactive: false,
        style: function () {
          return { color: opts.color || "#9aa5b1", weight: opts.weight || 2, opacity: 0.9 };
        }
      }).addTo(map);
    }).catch(function (e) {
      if (window.console) console.warn("road base map unavailable", e);
      return null;
    });
  }

  function onlineBaseMap(map, cfg) {
    if (!cfg || !cfg.baseMapUrl) return null;
    return L.tileLayer(cfg.baseMapUrl, { attribution: cfg.baseMapAttribution || "", maxZoom: 19 }).addTo(map);
  }

  /* Points on a canvas; at low zoom, those falling in one screen cell of cellPx pixels are
   * drawn as one circle with their count. Re-clustered on zoom. */
  function pointLayer(map, opts) {
    opts = opts || {};
    var color = opts.color || "#1565c0";
    var radius = opts.radius || 7;
    var cellPx = opts.cellPx || 48;
    var below = opts.clusterBelowZoom === undefined ? 15 : opts.clusterBelowZoom;
    var renderer = opts.renderer || L.canvas({ padding: 0.3 });
    var group = L.layerGroup();
    var items = {};
    var pending = null;

    function style(p) {
      var base = { renderer: renderer, radius: radius, color: "#fff", weight: 1.5, fillColor: color, fillOpacity: 0.95 };
      if (opts.style) {
        var extra = opts.style(p) || {};
        for (var k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) base[k] = extra[k];
      }
      return base;
    }
    function marker(item) {
      var m = L.circleMarker([item.at[1], item.at[0]], style(item.props));
      if (opts.popup) m.bindPopup(function () { return opts.popup(item.props); });
      if (opts.label) {
        var text = opts.label(item.props);
        if (text) m.bindTooltip(esc(text), { permanent: !!opts.permanentLabels, direction: "right", className: opts.labelClass || "" });
      }
      return m;
    }
    function clusterMarker(cell) {
      var r = Math.min(radius + 4 + Math.sqrt(cell.n) * 2, 28);
      var m = L.circleMarker(cell.latlng, { renderer: renderer, radius: r, color: "#fff", weight: 2, fillColor: color, fillOpacity: 0.85 });
      m.bindTooltip(String(cell.n), { permanent: true, direction: "center", className: "om-cluster-count" });
      m.on("click", function () { map.setView(cell.latlng, Math.min(map.getZoom() + 2, below)); });
      return m;
    }
    function draw() {
      pending = null;
      group.clearLayers();
      var ids = Object.keys(items);
      if (!map._loaded) return;
      if (map.getZoom() >= below || ids.length < 2) {
        ids.forEach(function (id) { group.addLayer(marker(items[id])); });
        return;
      }
      var cells = {};
      ids.forEach(function (id) {
        var it = items[id];
        var pt = map.project([it.at[1], it.at[0]]);
        var key = Math.floor(pt.x / cellPx) + ":" + Math.floor(pt.y / cellPx);
        var c = cells[key] || (cells[key] = { n: 0, x: 0, y: 0, first: it });
        c.n += 1; c.x += pt.x; c.y += pt.y;
      });
      Object.keys(cells).forEach(function (key) {
        var c = cells[key];
        if (c.n === 1) { group.addLayer(marker(c.first)); return; }
        c.latlng = map.unproject([c.x / c.n, c.y / c.n]);
        group.addLayer(clusterMarker(c));
      });
    }
    function schedule() {
      if (pending === null) pending = setTimeout(draw, 30);
    }
    map.on("zoomend", schedule);
    map.whenReady(schedule);
    group.addTo(map);

    return {
      layer: group,
      set: function (id, at, props) {
        if (!at || at.length < 2 || at[0] === null) return;
        items[id] = { id: id, at: [Number(at[0]), Number(at[1])], props: props || {} };
        schedule();
      },
      remove: function (id) { if (items[id]) { delete items[id]; schedule(); } },
      clear: function () { items = {}; schedule(); },
      get: function (id) { return items[id] ? items[id].props : undefined; },
      at: function (id) { return items[id] ? items[id].at.slice() : undefined; },
      ids: function () { return Object.keys(items); },
      size: function () { return Object.keys(items).length; },
      fit: function () {
        var b = L.latLngBounds([]);
        Object.keys(items).forEach(function (id) { b.extend([items[id].at[1], items[id].at[0]]); });
        return b;
      },
      redraw: draw
    };
  }

  /* Server-sent events with reconnect. EventSource reconnects by itself after the server
   * ends a stream (and resends Last-Event-ID); when it gives up (readyState CLOSED, e.g. a 503
   * or a login needed), this opens a new one after a growing delay (1 s .. 60 s), remembering
   * the last id in the URL (?last_id=) since a new EventSource cannot set the header. */
  function events(url, handlers) {
    handlers = handlers || {};
    var source = null;
    var lastId = null;
    var delay = 1000;
    var timer = null;
    var closed = false;
    var names = handlers.names || [];

    function status(s) { if (handlers.status) handlers.status(s); }
    function deliver(e) {
      if (e.lastEventId) lastId = e.lastEventId;
      var data = null;
      try { data = JSON.parse(e.data); } catch (err) { data = e.data; }
      var name = (data && data.event) || e.type;
      if (handlers.event) handlers.event(name, data, e.lastEventId);
    }
    function open() {
      if (closed) return;
      timer = null;
      var full = url;
      if (lastId) full += (url.indexOf("?") >= 0 ? "&" : "?") + "last_id=" + encodeURIComponent(lastId);
      status("connecting");
      source = new EventSource(full, { withCredentials: true });
      source.onopen = function () { delay = 1000; status("live"); };
      source.onmessage = deliver;
      names.forEach(function (n) { source.addEventListener(n, deliver); });
      source.addEventListener("resync", function (e) {
        if (e.lastEventId) lastId = e.lastEventId;
        if (handlers.resync) handlers.resync();
      });
      source.addEventListener("hello", function (e) {
        if (e.lastEventId) lastId = e.lastEventId;
      });
      source.onerror = function () {
        if (source.readyState === EventSource.CLOSED) {
          status("offline");
          source.close();
          timer = setTimeout(open, delay);
          delay = Math.min(delay * 2, 60000);
        } else {
          status("connecting");
        }
      };
    }
    open();
    return {
      close: function () {
        closed = true;
        if (timer) clearTimeout(timer);
        if (source) source.close();
      },
      lastId: function () { return lastId; }
    };
  }

  window.OneMap = {
    lang: I18N.lang,
    t: t,
    fmt: fmt,
    vocab: vocab,
    pick: pick,
    esc: esc,
    api: api,
    roadBaseMap: roadBaseMap,
    onlineBaseMap: onlineBaseMap,
    pointLayer: pointLayer,
    events: events
  };
})();
