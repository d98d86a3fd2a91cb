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
 *   OneMap.features(url, opts?)      every feature of a paged FeatureCollection endpoint: follows
 *                                    the "next" links; resolves to one FeatureCollection;
 *                                    opts.progress(n) after each page
 *   OneMap.pointLayer(map, opts)     points drawn together on a canvas (one L.Path for the whole
 *                                    layer: a sprite per point in view, one redraw per frame,
 *                                    hit-testing by a screen grid), clustered by a screen grid
 *                                    below opts.clusterBelowZoom (default 15): opts {color,
 *                                    radius, cellPx, renderer, label(props), permanentLabels,
 *                                    labelClass, popup(props), style(props) -> {radius, color,
 *                                    weight, opacity, fillColor, fillOpacity}}; methods
 *                                    set(id, [lon, lat], props), remove(id), clear(), get(id)
 *                                    -> props, at(id) -> [lon, lat], ids(), size(),
 *                                    fit() -> LatLngBounds, redraw(), drawn() -> what the last
 *                                    frame shows in the canvas [{id, at, n}] (n > 1: a cluster),
 *                                    layer (the L.Layer to add or remove)
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

  /* Every feature of a layer as a page of GeoJSON: follows the FeatureCollection's "next" link
   * (the API pages at most PAGE_LIMIT_MAX features) until the last page. */
  function features(url, opts) {
    opts = opts || {};
    var all = [];
    var seen = {};
    function page(u) {
      seen[u] = true;
      return api(u).then(function (fc) {
        var list = (fc && fc.features) || [];
        for (var i = 0; i < list.length; i++) all.push(list[i]);
        if (opts.progress) opts.progress(all.length);
        var next = null;
        ((fc && fc.links) || []).forEach(function (l) { if (l && l.rel === "next" && l.href) next = l.href; });
        if (next && !seen[next] && list.length) return page(next);
        return { type: "FeatureCollection", features: all };
      });
    }
    return page(url);
  }

  /* All the points of one layer on a canvas renderer as one L.Path: one draw per animation
   * frame (Leaflet's canvas renderer coalesces redraws), only what is in view, each point a
   * pre-rendered sprite of its style; hit-testing for clicks and tooltips by a grid of screen
   * cells. Below cfg.below the points falling in one screen cell of cfg.cellPx pixels are drawn
   * as one circle with their count. Positions are projected once (at zoom 0) and re-placed on
   * zoom with a multiplication; nothing is rebuilt on a pan. */
  var TAU = Math.PI * 2;
  var PointCanvas = L.Path.extend({
    options: { interactive: true, bubblingMouseEvents: true, stroke: true, weight: 2 },

    initialize: function (cfg) {
      L.setOptions(this, { renderer: cfg.renderer });
      this._cfg = cfg;
      this._items = {};
      this._glyphs = [];
      this._grid = {};
      this._gridPx = 32;
      this._dirty = true;
      this._sprites = {};
      this._labels = {};
      this._tip = null;
      this._tipFor = null;
      this._pxBounds = null;
      this.on({ click: this._onClick, mousemove: this._onMove, mouseout: this._closeTip }, this);
    },

    onAdd: function () {
      L.Path.prototype.onAdd.call(this);
      var map = this._map;
      Object.keys(this._labels).forEach(function (id) { this._labels[id].addTo(map); }, this);
    },

    onRemove: function () {
      this._closeTip();
      var map = this._map;
      Object.keys(this._labels).forEach(function (id) { map.removeLayer(this._labels[id]); }, this);
      L.Path.prototype.onRemove.call(this);
    },

    // ---- the points
    setPoint: function (id, at, props) {
      var cfg = this._cfg;
      var lon = Number(at[0]), lat = Number(at[1]);
      var p0 = cfg.crs.latLngToPoint(L.latLng(lat, lon), 0);
      var style = { radius: cfg.radius, color: "#fff", weight: 1.5, opacity: 1, fillColor: cfg.color, fillOpacity: 0.95 };
      if (cfg.style) {
        var extra = cfg.style(props) || {};
        for (var k in extra) if (Object.prototype.hasOwnProperty.call(extra, k)) style[k] = extra[k];
      }
      this._items[id] = { id: id, at: [lon, lat], props: props, x0: p0.x, y0: p0.y, style: style, key: this._styleKey(style) };
      this._changed();
    },
    removePoint: function (id) {
      if (!this._items[id]) return;
      delete this._items[id];
      this._changed();
    },
    clearPoints: function () {
      this._items = {};
      this._changed();
    },
    items: function () { return this._items; },

    /* What the last frame shows inside the canvas: [{id, at: [lon, lat], n}], n > 1 for a
     * cluster (id null, at its centre). */
    drawn: function () {
      var out = [], b = this._renderer && this._renderer._bounds, map = this._map;
      if (!map || !b) return out;
      this._glyphs.forEach(function (g) {
        if (g.x + g.r < b.min.x || g.x - g.r > b.max.x || g.y + g.r < b.min.y || g.y - g.r > b.max.y) return;
        if (g.item) out.push({ id: g.item.id, at: g.item.at.slice(), n: 1 });
        else {
          var ll = map.layerPointToLatLng([g.x, g.y]);
          out.push({ id: null, at: [ll.lng, ll.lat], n: g.n });
        }
      });
      return out;
    },

    _changed: function () {
      this._dirty = true;
      var rd = this._renderer;
      if (!this._map || !rd || !rd._bounds) return;
      // Cover the whole canvas: where the changed points are is known at the next projection.
      this._pxBounds = L.bounds(rd._bounds.min, rd._bounds.max);
      rd._requestRedraw(this);
    },

    _styleKey: function (s) {
      return [s.radius, s.color, s.weight, s.opacity, s.fillColor, s.fillOpacity, s.stroke, s.fill].join("|");
    },

    // ---- projection and clustering: on add, on zoom, on a view reset, after a change
    _project: function () {
      var map = this._map;
      if (!map) return;
      this._dirty = false;
      var cfg = this._cfg;
      var scale = map.getZoomScale(map.getZoom(), 0);
      var origin = map.getPixelOrigin();
      var items = this._items, ids = Object.keys(items);
      var glyphs = [], i, it;
      if (map.getZoom() >= cfg.below || ids.length < 2) {
        for (i = 0; i < ids.length; i++) {
          it = items[ids[i]];
          glyphs.push(this._single(it, Math.round(it.x0 * scale - origin.x), Math.round(it.y0 * scale - origin.y)));
        }
      } else {
        var cells = {}, order = [], cellPx = cfg.cellPx;
        for (i = 0; i < ids.length; i++) {
          it = items[ids[i]];
          var ax = it.x0 * scale, ay = it.y0 * scale;
          var key = Math.floor(ax / cellPx) + ":" + Math.floor(ay / cellPx);
          var c = cells[key];
          if (!c) { c = cells[key] = { n: 0, x: 0, y: 0, first: it }; order.push(c); }
          c.n += 1; c.x += ax; c.y += ay;
        }
        for (i = 0; i < order.length; i++) {
          c = order[i];
          var x = Math.round(c.x / c.n - origin.x), y = Math.round(c.y / c.n - origin.y);
          glyphs.push(c.n === 1 ? this._single(c.first, x, y) : this._cluster(c.n, x, y));
        }
      }
      this._glyphs = glyphs;
      this._index();
      if (cfg.permanentLabels && cfg.label) this._syncLabels();
    },

    _single: function (it, x, y) {
      var s = it.style;
      return { x: x, y: y, r: s.radius + (s.stroke === false ? 0 : (s.weight || 0) / 2), style: s, key: it.key, item: it, n: 1 };
    },

    _cluster: function (n, x, y) {
      var cfg = this._cfg;
      var s = { radius: Math.min(cfg.radius + 4 + Math.sqrt(n) * 2, 28), color: "#fff", weight: 2, opacity: 1, fillColor: cfg.color, fillOpacity: 0.85 };
      return { x: x, y: y, r: s.radius + 1, style: s, key: this._styleKey(s), item: null, n: n };
    },

    // A grid of square cells at least as wide as the largest reach: a hit is in the 3x3 cells
    // around the pointer's.
    _index: function () {
      var glyphs = this._glyphs, reach = 0, i, g;
      for (i = 0; i < glyphs.length; i++) reach = Math.max(reach, glyphs[i].r);
      var size = this._gridPx = Math.max(32, Math.ceil(reach + this._tolerance()));
      var grid = this._grid = {};
      var bounds = null;
      for (i = 0; i < glyphs.length; i++) {
        g = glyphs[i];
        g.i = i;
        var key = Math.floor(g.x / size) + ":" + Math.floor(g.y / size);
        (grid[key] || (grid[key] = [])).push(g);
        if (!bounds) bounds = L.bounds([g.x - g.r, g.y - g.r], [g.x + g.r, g.y + g.r]);
        else { bounds.extend([g.x - g.r, g.y - g.r]); bounds.extend([g.x + g.r, g.y + g.r]); }
      }
      this._pxBounds = bounds;
    },

    _tolerance: function () {
      return (this._renderer && this._renderer.options.tolerance) || 0;
    },

    // The topmost point or cluster under a layer point, or null.
    _hit: function (p) {
      if (this._dirty) this._project();
      var size = this._gridPx, gx = Math.floor(p.x / size), gy = Math.floor(p.y / size);
      var tol = this._tolerance(), best = null;
      for (var dx = -1; dx <= 1; dx++) {
        for (var dy = -1; dy <= 1; dy++) {
          var cell = this._grid[(gx + dx) + ":" + (gy + dy)];
          if (!cell) continue;
          for (var i = 0; i < cell.length; i++) {
            var g = cell[i], ex = g.x - p.x, ey = g.y - p.y, r = g.r + tol;
            if (ex * ex + ey * ey <= r * r && (best === null || g.i > best.i)) best = g;
          }
        }
      }
      return best;
    },

    _containsPoint: function (p) {
      return this._hit(p) !== null;
    },

    _update: function () { /* positions are in layer points: a pan changes nothing */ },

    // ---- drawing, called by the canvas renderer inside its redraw
    _updatePath: function () {
      var rd = this._renderer;
      if (!rd._drawing) return;
      if (this._dirty) this._project();
      var b = rd._redrawBounds || rd._bounds;
      if (!b) return;
      var ctx = rd._ctx, glyphs = this._glyphs, counts = [];
      ctx.save();
      ctx.globalAlpha = 1;
      for (var i = 0; i < glyphs.length; i++) {
        var g = glyphs[i];
        if (g.x + g.r < b.min.x || g.x - g.r > b.max.x || g.y + g.r < b.min.y || g.y - g.r > b.max.y) continue;
        var s = this._sprite(g);
        ctx.drawImage(s.canvas, g.x - s.half, g.y - s.half, s.size, s.size);
        if (g.n > 1) counts.push(g);
      }
      if (counts.length) {
        var font = this._countFont();
        ctx.font = font.font;
        ctx.fillStyle = font.color;
        ctx.textAlign = "center";
        ctx.textBaseline = "middle";
        counts.forEach(function (c) { ctx.fillText(String(c.n), c.x, c.y + 1); });
      }
      ctx.restore();
    },

    // One pre-rendered circle per style, at the canvas's pixel ratio.
    _sprite: function (g) {
      var sprite = this._sprites[g.key];
      if (sprite) return sprite;
      var s = g.style, ratio = L.Browser.retina ? 2 : 1;
      var r = Math.max(Math.round(s.radius), 1);
      var stroke = s.stroke !== false && s.weight > 0;
      var half = Math.ceil(r + (stroke ? s.weight / 2 : 0) + 1), size = half * 2;
      var canvas = document.createElement("canvas");
      canvas.width = canvas.height = size * ratio;
      var ctx = canvas.getContext("2d");
      ctx.scale(ratio, ratio);
      ctx.beginPath();
      ctx.arc(half, half, r, 0, TAU, false);
      if (s.fill !== false) {
        ctx.globalAlpha = s.fillOpacity === undefined ? 0.2 : s.fillOpacity;
        ctx.fillStyle = s.fillColor || s.color;
        ctx.fill();
      }
      if (stroke) {
        ctx.globalAlpha = s.opacity === undefined ? 1 : s.opacity;
        ctx.lineWidth = s.weight;
        ctx.strokeStyle = s.color;
        ctx.stroke();
      }
      sprite = this._sprites[g.key] = { canvas: canvas, half: half, size: size };
      return sprite;
    },

    // The cluster count is styled by the pages' CSS (.leaflet-tooltip.om-cluster-count).
    _countFont: function () {
      if (this._font) return this._font;
      var probe = L.DomUtil.create("div", "leaflet-tooltip om-cluster-count", this._map.getContainer());
      probe.style.visibility = "hidden";
      probe.textContent = "0";
      var cs = window.getComputedStyle(probe);
      this._font = { font: cs.fontWeight + " " + cs.fontSize + " " + cs.fontFamily, color: cs.color || "#fff" };
      L.DomUtil.remove(probe);
      return this._font;
    },

    // ---- labels, tooltips and popups
    _syncLabels: function () {
      var cfg = this._cfg, map = this._map, want = {}, labels = this._labels;
      this._glyphs.forEach(function (g) {
        if (!g.item) return;
        var text = cfg.label(g.item.props);
        if (text) want[g.item.id] = { item: g.item, html: esc(text) };
      });
      Object.keys(labels).forEach(function (id) {
        if (!want[id]) { if (map) map.removeLayer(labels[id]); delete labels[id]; }
      });
      Object.keys(want).forEach(function (id) {
        var w = want[id], ll = L.latLng(w.item.at[1], w.item.at[0]), tip = labels[id];
        if (!tip) {
          tip = labels[id] = L.tooltip({ permanent: true, direction: "right", interactive: false,
            className: cfg.labelClass || "", offset: [w.item.style.radius, 0] });
          tip.setLatLng(ll).setContent(w.html);
          if (map) tip.addTo(map);
          tip._html = w.html;
          return;
        }
        if (!tip.getLatLng().equals(ll)) tip.setLatLng(ll);
        if (tip._html !== w.html) { tip.setContent(w.html); tip._html = w.html; }
      });
    },

    _onMove: function (e) {
      var cfg = this._cfg;
      if (!cfg.label || cfg.permanentLabels) return;
      var g = this._hit(e.layerPoint);
      if (!g || !g.item) { this._closeTip(); return; }
      if (this._tipFor === g.item && this._tip && this._map.hasLayer(this._tip)) return;
      var text = cfg.label(g.item.props);
      if (!text) { this._closeTip(); return; }
      this._tip = this._tip || L.tooltip({ direction: "right", className: cfg.labelClass || "", interactive: false });
      this._tip.options.offset = L.point(g.item.style.radius, 0);
      this._tip.setLatLng([g.item.at[1], g.item.at[0]]).setContent(esc(text));
      this._tipFor = g.item;
      if (!this._map.hasLayer(this._tip)) this._tip.addTo(this._map);
    },

    _closeTip: function () {
      if (this._tip && this._map && this._map.hasLayer(this._tip)) this._map.removeLayer(this._tip);
      this._tipFor = null;
    },

    _onClick: function (e) {
      var map = this._map, cfg = this._cfg;
      var g = this._hit(e.layerPoint);
      if (!g) return;
      if (!g.item) {
        map.setView(map.layerPointToLatLng([g.x, g.y]), Math.min(map.getZoom() + 2, cfg.below));
        return;
      }
      if (!cfg.popup) return;
      L.DomEvent.stop(e);
      this._closeTip();
      L.popup({ offset: [0, 7 - g.item.style.radius] })
        .setLatLng([g.item.at[1], g.item.at[0]])
        .setContent(cfg.popup(g.item.props))
        .openOn(map);
    }
  });

  /* The stable interface of a point layer over a PointCanvas added to the map. Without
   * opts.renderer, the point layers of a map share one canvas: one canvas on top of another
   * would take every click and hover from those under it. */
  function pointLayer(map, opts) {
    opts = opts || {};
    if (!opts.renderer && !map.onemapPointRenderer) {
      // its own pane above the overlay pane: a canvas added later for lines or areas must not
      // cover the points and take their clicks
      if (!map.getPane("points")) map.createPane("points").style.zIndex = 450;
      map.onemapPointRenderer = L.canvas({ padding: 0.3, pane: "points" });
    }
    var layer = new PointCanvas({
      renderer: opts.renderer || map.onemapPointRenderer,
      crs: map.options.crs,
      color: opts.color || "#1565c0",
      radius: opts.radius || 7,
      cellPx: opts.cellPx || 48,
      below: opts.clusterBelowZoom === undefined ? 15 : opts.clusterBelowZoom,
      label: opts.label || null,
      popup: opts.popup || null,
      style: opts.style || null,
      permanentLabels: !!opts.permanentLabels,
      labelClass: opts.labelClass || ""
    });
    layer.addTo(map);
    var items = function () { return layer.items(); };

    return {
      layer: layer,
      set: function (id, at, props) {
        if (!at || at.length < 2 || at[0] === null || at[1] === null) return;
        layer.setPoint(id, at, props || {});
      },
      remove: function (id) { layer.removePoint(id); },
      clear: function () { layer.clearPoints(); },
      get: function (id) { var it = items()[id]; return it ? it.props : undefined; },
      at: function (id) { var it = items()[id]; return it ? it.at.slice() : undefined; },
      ids: function () { return Object.keys(items()); },
      size: function () { return Object.keys(items()).length; },
      fit: function () {
        var b = L.latLngBounds([]), all = items();
        Object.keys(all).forEach(function (id) { b.extend([all[id].at[1], all[id].at[0]]); });
        return b;
      },
      redraw: function () { layer._changed(); },
      drawn: function () { return layer.drawn(); }
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
    features: features,
    pointLayer: pointLayer,
    events: events
  };
})();
