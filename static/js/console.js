/* OneMap dispatcher console: one page over the REST API (every action here is an API call).
 * Needs leaflet.js and common.js (window.OneMap) loaded first. */
(function () {
  "use strict";
  var O = window.OneMap;
  var t = O.t, fmt = O.fmt, esc = O.esc, api = O.api;
  var cfg = JSON.parse(document.getElementById("console-config").textContent);
  var root = document.getElementById("console");
  var canWrite = root.getAttribute("data-can-write") === "true";
  var $ = function (id) { return document.getElementById(id); };
  var ROUTE_COLOURS = ["#d32f2f", "#1565c0", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037"];

  // ------------------------------------------------------------------ map and layers
  var map = L.map("map", { zoomControl: false, keyboard: true }).setView(cfg.center, cfg.zoom);
  L.control.zoom({ position: "bottomright" }).addTo(map);
  L.control.scale({ position: "bottomleft", imperial: false }).addTo(map);
  O.onlineBaseMap(map, cfg);
  map.createPane("areas"); map.getPane("areas").style.zIndex = 380;
  map.createPane("routes"); map.getPane("routes").style.zIndex = 420;
  map.createPane("focus"); map.getPane("focus").style.zIndex = 640;

  var LAYERS = [
    { kind: "incidents", color: "#6a1b9a", radius: 8, on: true },
    { kind: "teams", color: "#c62828", radius: 7, on: true },
    { kind: "shelters", color: "#2e7d32", radius: 6, on: true },
    { kind: "depots", color: "#1565c0", radius: 7, on: true },
    { kind: "hazards", color: "#ef6c00", radius: 6, on: false }
  ];
  var layers = {};      // kind -> pointLayer
  var features = {};    // kind -> {id: feature}
  var loaded = {};      // kind -> number of the latest load (a layer never switched on: none)
  var toggles = $("layer-toggles");

  function addToggle(key, label, color, layer, on, onShow) {
    var id = "toggle-" + key;
    var row = document.createElement("label");
    row.className = "c-toggle";
    row.innerHTML = '<input type="checkbox" id="' + id + '"' + (on ? " checked" : "") + '>' +
      '<i style="background:' + color + '"></i>' + esc(label) +
      (onShow ? ' <small class="c-muted" data-count="' + esc(key) + '"></small>' : "");
    toggles.appendChild(row);
    var box = row.querySelector("input");
    box.addEventListener("change", function () {
      if (box.checked) { map.addLayer(layer); if (onShow) onShow(); } else map.removeLayer(layer);
    });
    if (!on) map.removeLayer(layer);
  }

  function label(kind, p) {
    if (kind === "incidents") return p.title || O.vocab("incident_type", p.type);
    return O.pick(p) || p.name || ("#" + p.id);
  }

  function popupHtml(kind, p) {
    var rows = ["<strong>" + esc(label(kind, p)) + "</strong>"];
    if (kind === "teams") rows.push(esc(O.vocab("team_type", p.type)) + " · " + esc(O.vocab("team_status", p.status)));
    if (kind === "shelters") rows.push(esc(p.occupancy) + " / " + esc(p.capacity) + " · " + esc(O.vocab("shelter_status", p.status)));
    if (kind === "hazards") rows.push(esc(O.vocab("hazard_type", p.type)) + " · " + esc(O.vocab("risk_level", p.risk_level)));
    if (kind === "incidents") {
      rows.push(esc(O.vocab("incident_type", p.type)) + (p.level ? " · " + esc(p.level) : "") + " · " + esc(O.vocab("incident_status", p.status)));
      rows.push('<button class="c-btn c-open" data-open="' + p.id + '">' + esc(t("incident")) + " #" + p.id + "</button>");
    }
    if (kind === "depots" && p.stock && p.stock.length) {
      rows.push(p.stock.slice(0, 8).map(function (s) {
        return esc(O.pick(s) || s.item_code) + " " + esc(s.available === undefined ? s.quantity : s.available) + " " + esc(s.unit || "");
      }).join("<br>"));
    }
    return rows.join("<br>");
  }

  LAYERS.forEach(function (def) {
    features[def.kind] = {};
    layers[def.kind] = O.pointLayer(map, {
      color: def.color, radius: def.radius,
      clusterBelowZoom: def.kind === "incidents" ? 0 : 14,
      label: function (p) { return label(def.kind, p); },
      popup: function (p) { return popupHtml(def.kind, p); },
      style: def.kind === "teams" ? function (p) {
        return { fillColor: p.status === "available" ? "#c62828" : "#ff8a65", radius: p.status === "available" ? 7 : 8 };
      } : null
    });
    // A layer is downloaded when it is first switched on (hazards start off), then kept.
    addToggle(def.kind, t("layer." + def.kind), def.color, layers[def.kind].layer, def.on, function () {
      if (!loaded[def.kind]) loadLayer(def.kind);
    });
  });

  var proposalLayer = L.layerGroup().addTo(map);
  var dispatchedLayer = L.layerGroup().addTo(map);
  var areaLayer = L.layerGroup().addTo(map);
  var focusLayer = L.layerGroup().addTo(map);
  addToggle("proposal", t("layer.proposal"), "#d32f2f", proposalLayer, true);
  O.roadBaseMap(map, { color: "#a9b4bf", weight: 2 }).then(function (roads) {
    if (roads) addToggle("roads", t("layer.roads"), "#a9b4bf", roads, true);
  });

  // Every page of the layer (the API answers at most 5,000 features a page); a newer load of
  // the same layer wins over an older one that finishes later.
  function loadLayer(kind) {
    var url = kind === "incidents" ? "/api/v1/incidents?limit=5000" : "/api/v1/layers/" + kind + "?limit=5000";
    var mine = loaded[kind] = (loaded[kind] || 0) + 1;
    showCount(kind, "…");
    return O.features(url, {
      progress: function (n) { if (mine === loaded[kind]) showCount(kind, n.toLocaleString() + "…"); }
    }).then(function (fc) {
      if (mine !== loaded[kind]) return;
      features[kind] = {};
      layers[kind].clear();
      fc.features.forEach(function (f) { putFeature(kind, f); });
      if (kind === "incidents") fillIncidentSelect();
      showCount(kind);
    }).catch(function (e) {
      if (mine === loaded[kind]) showCount(kind, "");
      toast(t("error") + ": " + kind + " " + e.message, true);
    });
  }

  // How many features of a layer are on the map, beside its switch.
  function showCount(kind, text) {
    var node = toggles.querySelector('[data-count="' + kind + '"]');
    if (node) node.textContent = text !== undefined ? text : layers[kind].size().toLocaleString();
  }

  function putFeature(kind, f) {
    if (!f || !f.geometry) return;
    features[kind][f.id] = f;
    var at = f.geometry.type === "Point" ? f.geometry.coordinates : centroid(f.geometry);
    layers[kind].set(f.id, at, f.properties);
  }

  function centroid(g) {
    var b = L.geoJSON(g).getBounds().getCenter();
    return [b.lng, b.lat];
  }

  map.on("popupopen", function (e) {
    var btn = e.popup.getElement().querySelector("[data-open]");
    if (btn) btn.addEventListener("click", function () { selectIncident(Number(btn.getAttribute("data-open"))); });
  });

  // ------------------------------------------------------------------ search
  var search = $("search"), results = $("search-results");
  search.addEventListener("input", function () {
    var q = search.value.trim().toLowerCase();
    results.innerHTML = "";
    if (!q) { results.hidden = true; return; }
    var hits = [];
    LAYERS.forEach(function (def) {
      Object.keys(features[def.kind]).forEach(function (id) {
        var p = features[def.kind][id].properties;
        var hay = [p.name, p.name_en, p.title, p.callsign, p.address].join(" ").toLowerCase();
        if (hay.indexOf(q) >= 0 && hits.length < 12) hits.push({ kind: def.kind, f: features[def.kind][id] });
      });
    });
    if (!hits.length) results.innerHTML = '<li class="c-muted">' + esc(t("no_results")) + "</li>";
    hits.forEach(function (h, i) {
      var li = document.createElement("li");
      li.setAttribute("role", "option");
      li.tabIndex = 0;
      li.innerHTML = '<span class="c-tag">' + esc(t("layer." + h.kind)) + "</span> " + esc(label(h.kind, h.f.properties));
      li.addEventListener("click", function () { goTo(h); });
      li.addEventListener("keydown", function (e) {
        if (e.key === "Enter") goTo(h);
        if (e.key === "ArrowDown" && li.nextSibling) li.nextSibling.focus();
        if (e.key === "ArrowUp") (li.previousSibling || search).focus();
      });
      results.appendChild(li);
      if (i === 0) li.setAttribute("aria-selected", "true");
    });
    results.hidden = false;
  });
  search.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" && results.firstChild) { e.preventDefault(); results.firstChild.focus(); }
    if (e.key === "Enter" && results.firstChild && results.firstChild.click) { e.preventDefault(); results.firstChild.click(); }
    if (e.key === "Escape") { search.value = ""; results.hidden = true; }
  });
  function goTo(h) {
    results.hidden = true;
    var at = h.f.geometry.type === "Point" ? h.f.geometry.coordinates : centroid(h.f.geometry);
    map.setView([at[1], at[0]], Math.max(map.getZoom(), 16));
    focusLayer.clearLayers();
    L.circleMarker([at[1], at[0]], { pane: "focus", radius: 16, color: "#ffeb3b", weight: 4, fill: false }).addTo(focusLayer)
      .bindPopup(popupHtml(h.kind, h.f.properties)).openPopup();
    if (h.kind === "incidents") selectIncident(h.f.id);
  }

  // ------------------------------------------------------------------ toast
  var toastTimer = null;
  function toast(msg, bad) {
    var el = $("toast");
    el.textContent = msg;
    el.className = "c-toast" + (bad ? " c-toast-bad" : "");
    el.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { el.hidden = true; }, bad ? 8000 : 4000);
  }
  function failed(e) {
    if (e && e.status === 404 && e.body && e.body.error && e.body.error.code !== "not_found") return toast(t("not_available"), true);
    toast(t("error") + ": " + (e && e.message ? e.message : e), true);
  }

  // ------------------------------------------------------------------ new incident
  var form = $("incident-form"), placing = false, placed = null, placeMarker = null;
  var typeSelect = $("f-type");

  api("/api/v1/incident-types").then(function (body) {
    var byParent = {};
    body.types.forEach(function (ty) { (byParent[ty.parent || ""] = byParent[ty.parent || ""] || []).push(ty); });
    var html = '<option value="">' + esc(t("choose_type")) + "</option>";
    (byParent[""] || []).forEach(function (top) {
      html += '<optgroup label="' + esc(O.pick(top)) + '">';
      (function walk(code, depth) {
        (byParent[code] || []).forEach(function (ty) {
          html += '<option value="' + esc(ty.code) + '">' + new Array(depth).join("\u3000") + esc(O.pick(ty)) + "</option>";
          walk(ty.code, depth + 1);
        });
      })(top.code, 1);
      html += "</optgroup>";
    });
    typeSelect.innerHTML = html;
  }).catch(failed);

  function startPlacing() {
    if (!canWrite) return;
    form.hidden = false;
    $("empty-note").hidden = true;
    placing = true;
    $("place-hint").hidden = false;
    map.getContainer().classList.add("c-placing");
    map.getContainer().focus();
  }
  function stopPlacing() {
    placing = false;
    $("place-hint").hidden = true;
    map.getContainer().classList.remove("c-placing");
  }
  function cancelForm() {
    stopPlacing();
    form.hidden = true;
    placed = null;
    if (placeMarker) { map.removeLayer(placeMarker); placeMarker = null; }
    $("create-incident").disabled = true;
    $("empty-note").hidden = current !== null;
  }
  function place(latlng) {
    placed = [Number(latlng.lng.toFixed(6)), Number(latlng.lat.toFixed(6))];
    if (placeMarker) placeMarker.setLatLng(latlng);
    else placeMarker = L.marker(latlng, { icon: incidentIcon("c-new"), keyboard: false, pane: "focus" }).addTo(map);
    $("form-where").textContent = fmt("placed", { lat: placed[1].toFixed(5), lon: placed[0].toFixed(5) });
    $("create-incident").disabled = false;
    stopPlacing();
    typeSelect.focus();
  }
  $("new-incident").addEventListener("click", startPlacing);
  $("cancel-incident").addEventListener("click", cancelForm);
  map.on("click", function (e) { if (placing) place(e.latlng); });
  map.getContainer().addEventListener("keydown", function (e) {
    if (placing && e.key === "Enter") { e.preventDefault(); place(map.getCenter()); }
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var err = $("form-error");
    err.hidden = true;
    if (!placed) { startPlacing(); return; }
    var props = { type: typeSelect.value, title: $("f-title").value.trim() || null };
    if ($("f-level").value) props.level = $("f-level").value;
    ["injured", "casualties"].forEach(function (k) {
      var v = parseInt($("f-" + k).value, 10);
      if (v > 0) props[k] = v;
    });
    $("create-incident").disabled = true;
    api("/api/v1/incidents", { json: { type: "Feature", geometry: { type: "Point", coordinates: placed }, properties: props } })
      .then(function (f) {
        toast(fmt("created", { id: f.id }));
        putFeature("incidents", f);
        fillIncidentSelect();
        cancelForm();
        form.reset();
        selectIncident(f.id);
      })
      .catch(function (e2) {
        $("create-incident").disabled = false;
        err.textContent = e2.message + (e2.body && e2.body.error && e2.body.error.field ? " (" + e2.body.error.field + ")" : "");
        err.hidden = false;
      });
  });

  function incidentIcon(extra) {
    return L.divIcon({ className: "c-incident-icon " + (extra || ""), html: "!", iconSize: [28, 28], iconAnchor: [14, 14] });
  }

  // ------------------------------------------------------------------ incident selection
  var current = null;        // incident id
  var state = { incident: null, proposal: null, dispatches: [], preview: null, alert: null, evac: null, evacSpec: undefined };
  var select = $("incident-select");

  function fillIncidentSelect() {
    var ids = Object.keys(features.incidents).map(Number).sort(function (a, b) { return b - a; });
    var html = '<option value="">' + esc(t("incident")) + "…</option>";
    ids.forEach(function (id) {
      var p = features.incidents[id].properties;
      html += '<option value="' + id + '"' + (id === current ? " selected" : "") + ">#" + id + " " +
        esc(p.title || O.vocab("incident_type", p.type)) + " · " + esc(O.vocab("incident_status", p.status)) + "</option>";
    });
    select.innerHTML = html;
  }
  select.addEventListener("change", function () { if (select.value) selectIncident(Number(select.value)); });

  function selectIncident(id) {
    current = id;
    state.proposal = null; state.dispatches = [];
    select.value = String(id);
    $("incident-view").hidden = false;
    $("empty-note").hidden = true;
    state.preview = null; state.alert = null; state.evac = null; state.evacSpec = undefined;
    $("warning-result").hidden = true; $("evac-result").hidden = true; $("evac-commit").disabled = true;
    $("alert-list").innerHTML = "";
    areaLayer.clearLayers();
    $("snapshot-link").href = "/incidents/" + id + "/snapshot.html";
    refreshIncident(true);
  }

  function refreshIncident(fit) {
    if (current === null) return Promise.resolve();
    var id = current;
    return api("/api/v1/incidents/" + id).then(function (f) {
      if (id !== current) return;
      state.incident = f;
      putFeature("incidents", f);
      drawIncidentHead(f);
      focusLayer.clearLayers();
      var c = f.geometry.coordinates;
      L.marker([c[1], c[0]], { icon: incidentIcon(), pane: "focus", keyboard: false }).addTo(focusLayer);
      if (fit) map.setView([c[1], c[0]], Math.max(map.getZoom(), 15));
      return Promise.all([loadProposal(fit), loadDispatches(), loadTimeline(), loadHazards(), loadAlerts()]);
    }).catch(failed);
  }

  function drawIncidentHead(f) {
    var p = f.properties;
    $("inc-title").textContent = "#" + p.id + " " + (p.title || O.vocab("incident_type", p.type));
    $("inc-meta").innerHTML = esc(O.vocab("incident_type", p.type)) + " · " +
      (p.level ? esc(t("level")) + " " + esc(p.level) + " · " : "") + esc(O.vocab("incident_status", p.status)) +
      " · " + esc(t("reported")) + " " + esc(time(p.reported_at));
  }

  function time(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return d.toLocaleString(O.lang.indexOf("zh") === 0 ? "zh-CN" : "en-GB", { hour12: false });
  }
  function minutes(s) { return s === null || s === undefined ? "—" : (s / 60).toFixed(1) + " " + t("min"); }
  function km(m) { return m === null || m === undefined ? "—" : (m / 1000).toFixed(2) + " " + t("km"); }

  // ------------------------------------------------------------------ proposal
  function loadProposal(fit) {
    var id = current;
    return api("/api/v1/incidents/" + id + "/proposal").then(function (p) {
      if (id !== current) return;
      delete p.cached;
      var same = state.proposal && JSON.stringify(state.proposal) === JSON.stringify(p);
      state.proposal = p;
      if (!same || fit) drawProposal(p, fit);  // an unchanged proposal keeps the dispatcher's edits
    }).catch(function (e) {
      state.proposal = null;
      $("proposal").innerHTML = '<p class="c-error">' + esc(e.status === 404 || e.status === 422 ? t("no_plan") + ": " : "") + esc(e.message) + "</p>";
      $("dispatch").disabled = true;
      proposalLayer.clearLayers();
    });
  }

  function drawProposal(p, fit) {
    var teams = p.allocation.teams, mats = p.allocation.materials;
    var h = '<div class="c-plan"><span class="c-level c-level-' + esc(p.level) + '" id="proposal-level">' + esc(p.level) + "</span>" +
      '<div><div class="c-plan-title" id="proposal-plan">' + esc(O.pick(p.plan.title)) + "</div>" +
      '<div class="c-muted">' + esc(t("plan")) + " " + esc(p.plan.id) + " v" + esc(p.plan.version) + " · " + esc(O.vocab("incident_level", p.level)) + "</div></div></div>";
    if (p.reasons.length) {
      h += "<h4>" + esc(t("reasons")) + '</h4><ul class="c-reasons" id="proposal-reasons">' +
        p.reasons.map(function (r) { return "<li>" + esc(r) + "</li>"; }).join("") + "</ul>";
    }
    if (p.shortfalls.length) {
      h += '<h4 class="c-bad">' + esc(t("shortfalls")) + '</h4><ul class="c-shortfalls">' +
        p.shortfalls.map(function (s) { return "<li>" + esc(s.reason) + "</li>"; }).join("") + "</ul>";
    }
    h += "<h4>" + esc(t("teams")) + '</h4><table class="c-table" id="proposal-teams"><thead><tr><th></th><th>' +
      esc(t("team")) + "</th><th>" + esc(t("eta")) + "</th><th>" + esc(t("distance")) + "</th></tr></thead><tbody>";
    teams.forEach(function (f, i) {
      var colour = ROUTE_COLOURS[i % ROUTE_COLOURS.length];
      var via = f.route && f.route.via && f.route.via.length ? '<div class="c-via">' + esc(t("via")) + " " + esc(f.route.via.join(" → ")) + "</div>" : "";
      h += '<tr data-team="' + f.team_id + '"><td><input type="checkbox" class="pick-team" checked aria-label="' + esc(f.name) + '" data-i="' + i + '"></td>' +
        '<td><i class="c-swatch" style="background:' + colour + '"></i>' + esc(f.name) + ' <span class="c-tag">' + esc(O.vocab("team_type", f.type)) + "</span>" + via + "</td>" +
        '<td class="c-num">' + esc(minutes(f.eta_s)) + '</td><td class="c-num">' + esc(km(f.distance_m)) + "</td></tr>";
    });
    if (!teams.length) h += '<tr><td colspan="4" class="c-muted">' + esc(t("none_yet")) + "</td></tr>";
    h += "</tbody></table>";
    if (mats.length) {
      h += "<h4>" + esc(t("materials")) + '</h4><table class="c-table" id="proposal-materials"><thead><tr><th></th><th>' +
        esc(t("item")) + "</th><th>" + esc(t("quantity")) + "</th><th>" + esc(t("eta")) + "</th></tr></thead><tbody>";
      mats.forEach(function (m, i) {
        h += '<tr><td><input type="checkbox" class="pick-mat" checked data-i="' + i + '" aria-label="' + esc(m.item_code) + '"></td>' +
          "<td>" + esc(m.item_code) + '<div class="c-via">' + esc(t("depot")) + " " + esc(m.name) + "</div></td>" +
          '<td><input type="number" class="qty-mat" data-i="' + i + '" min="1" max="' + m.quantity + '" value="' + m.quantity + '" aria-label="' + esc(t("quantity")) + '"></td>' +
          '<td class="c-num">' + esc(minutes(m.eta_s)) + "</td></tr>";
      });
      h += "</tbody></table>";
    }
    var acts = (p.requirements && p.requirements.actions) || [];
    if (acts.length) {
      h += "<details><summary>" + esc(t("actions")) + " (" + acts.length + ')</summary><ol class="c-small">' +
        acts.map(function (a) { return "<li>" + esc(O.pick(a)) + (a.unit ? ' <span class="c-muted">— ' + esc(O.pick(a.unit)) + "</span>" : "") + "</li>"; }).join("") + "</ol></details>";
    }
    $("proposal").innerHTML = h;
    var any = teams.length + mats.length > 0;
    $("dispatch").disabled = !canWrite || !any;
    $("dispatch-note").textContent = any ? t("as_proposed") : t("nothing_to_send");
    $("proposal").querySelectorAll("input").forEach(function (inp) {
      inp.addEventListener("change", function () { $("dispatch-note").textContent = edited() ? t("edited") : t("as_proposed"); drawProposalRoutes(); });
    });
    $("proposal").querySelectorAll("#proposal-teams tbody tr[data-team]").forEach(function (tr, i) {
      tr.addEventListener("mouseenter", function () { highlight(i, true); });
      tr.addEventListener("mouseleave", function () { highlight(i, false); });
    });
    drawProposalRoutes(fit);
  }

  var proposalLines = [];
  function drawProposalRoutes(fit) {
    proposalLayer.clearLayers();
    proposalLines = [];
    var p = state.proposal;
    if (!p) return;
    var bounds = L.latLngBounds([]);
    var checks = $("proposal").querySelectorAll(".pick-team");
    p.allocation.teams.forEach(function (f, i) {
      if (!f.route || !checks[i] || !checks[i].checked) { proposalLines.push(null); return; }
      var line = L.geoJSON(f.route.geometry, { pane: "routes", style: { color: ROUTE_COLOURS[i % ROUTE_COLOURS.length], weight: 5, opacity: 0.75, dashArray: "10 6" } })
        .bindTooltip(esc(f.name) + " · " + esc(minutes(f.eta_s)), { sticky: true }).addTo(proposalLayer);
      proposalLines.push(line);
      bounds.extend(line.getBounds());
      var c = f.route.geometry.coordinates[0];
      if (c) L.circleMarker([c[1], c[0]], { pane: "routes", radius: 6, color: "#fff", weight: 2, fillColor: ROUTE_COLOURS[i % ROUTE_COLOURS.length], fillOpacity: 1 }).addTo(proposalLayer);
    });
    p.allocation.materials.forEach(function (m) {
      if (!m.route) return;
      var line = L.geoJSON(m.route.geometry, { pane: "routes", style: { color: "#1565c0", weight: 3, opacity: 0.6, dashArray: "2 6" } })
        .bindTooltip(esc(m.item_code) + " × " + m.quantity + " · " + esc(m.name), { sticky: true }).addTo(proposalLayer);
      bounds.extend(line.getBounds());
    });
    if (fit && bounds.isValid()) map.fitBounds(bounds.pad(0.15), { maxZoom: 16 });
  }
  function highlight(i, on) {
    var line = proposalLines[i];
    if (line) line.setStyle({ weight: on ? 9 : 5, opacity: on ? 1 : 0.75 });
  }

  function edited() {
    var changed = false;
    $("proposal").querySelectorAll(".pick-team, .pick-mat").forEach(function (c) { if (!c.checked) changed = true; });
    $("proposal").querySelectorAll(".qty-mat").forEach(function (q) { if (String(q.value) !== q.getAttribute("max")) changed = true; });
    return changed;
  }

  function chosen() {
    var p = state.proposal;
    var teams = [], mats = [];
    $("proposal").querySelectorAll(".pick-team").forEach(function (c) {
      var f = p.allocation.teams[Number(c.getAttribute("data-i"))];
      if (c.checked) teams.push({ team_id: f.team_id, version: f.version });
    });
    $("proposal").querySelectorAll(".pick-mat").forEach(function (c) {
      var i = Number(c.getAttribute("data-i"));
      var m = p.allocation.materials[i];
      var q = parseInt($("proposal").querySelector('.qty-mat[data-i="' + i + '"]').value, 10);
      if (c.checked && q > 0) mats.push({ depot_id: m.depot_id, item_code: m.item_code, quantity: Math.min(q, m.quantity), eta_s: m.eta_s, distance_m: m.distance_m });
    });
    return { teams: teams, materials: mats };
  }

  function dispatch() {
    if ($("dispatch").disabled || !state.proposal) return;
    var body = chosen();
    if (!body.teams.length && !body.materials.length) { toast(t("nothing_to_send"), true); return; }
    body.incident_version = state.proposal.incident.version;
    $("dispatch").disabled = true;
    // the records come back without their routes: the list below reloads them with theirs
    api("/api/v1/incidents/" + current + "/dispatch?routes=false", { json: body }).then(function (answer) {
      toast(fmt("dispatched", { n: answer.dispatches.length }));
      refreshIncident(false).then(function () {
        $("dispatch-list").scrollIntoView({ block: "start", behavior: "smooth" });
      });
    }).catch(function (e) {
      failed(e);
      refreshIncident(false);
    });
  }
  $("dispatch").addEventListener("click", dispatch);

  // ------------------------------------------------------------------ dispatches
  function loadDispatches() {
    var id = current;
    return api("/api/v1/incidents/" + id + "/dispatches").then(function (body) {
      if (id !== current) return;
      var same = JSON.stringify(state.dispatches) === JSON.stringify(body.dispatches);
      state.dispatches = body.dispatches;
      if (!same || !$("dispatch-list").children.length) drawDispatches(body.dispatches);
    });
  }

  function teamName(id) {
    var f = features.teams[id];
    return f ? label("teams", f.properties) : "#" + id;
  }
  function depotName(id) {
    var f = features.depots[id];
    return f ? label("depots", f.properties) : "#" + id;
  }

  function drawDispatches(list) {
    dispatchedLayer.clearLayers();
    var ul = $("dispatch-list");
    if (!list.length) { ul.innerHTML = '<li class="c-muted">' + esc(t("none_yet")) + "</li>"; return; }
    var html = "";
    var n = 0;
    list.forEach(function (d) {
      var active = ["dispatched", "en_route", "on_scene"].indexOf(d.status) >= 0;
      var colour = ROUTE_COLOURS[n % ROUTE_COLOURS.length];
      if (d.route && active) {
        L.geoJSON(d.route, { pane: "routes", style: { color: colour, weight: 6, opacity: 0.9 } })
          .bindTooltip(esc(teamName(d.team_id)) + " · " + esc(minutes(d.eta_s)), { sticky: true }).addTo(dispatchedLayer);
        n += 1;
      }
      var who = d.kind === "team" ? esc(teamName(d.team_id)) : esc(d.quantity + " × " + d.item_code) + ' <span class="c-muted">' + esc(depotName(d.depot_id)) + "</span>";
      html += '<li class="c-dispatch" data-dispatch="' + d.id + '" data-status="' + esc(d.status) + '">' +
        '<div class="c-dispatch-main">' + (d.route && active ? '<i class="c-swatch" style="background:' + colour + '"></i>' : "") +
        "<strong>" + who + '</strong> <span class="c-status c-status-' + esc(d.status) + '">' + esc(O.vocab("team_status", d.status) || d.status) + "</span>" +
        '<div class="c-muted">' + esc(t("eta")) + " " + esc(minutes(d.eta_s)) + " · " + esc(km(d.distance_m)) + "</div>";
      if (d.link) {
        html += '<div class="c-links"><a href="' + esc(d.link) + '" target="_blank" rel="noopener">' + esc(t("open_link")) + "</a> · " +
          '<a href="' + esc(d.gpx) + '">' + esc(t("gpx")) + "</a></div>";
      }
      if (canWrite && active) {
        html += '<div class="c-actions c-small">' +
          (d.kind === "team" ? '<button class="c-btn" data-act="recall">' + esc(t("recall")) + "</button>" :
            '<button class="c-btn" data-act="release">' + esc(t("release")) + "</button>") +
          '<button class="c-btn" data-act="complete">' + esc(t("complete")) + "</button></div>";
      }
      html += "</div>";
      if (d.qr && canWrite) html += '<div class="c-qr" role="img" aria-label="' + esc(t("qr")) + '" data-qr="' + esc(d.qr) + '"></div>';
      html += "</li>";
    });
    ul.innerHTML = html;
    // The QR code's SVG is put inline (it is our own server's, drawn by segno).
    ul.querySelectorAll("[data-qr]").forEach(function (box) {
      fetch(box.getAttribute("data-qr"), { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.text() : Promise.reject(new Error(r.status));
      }).then(function (svg) {
        if (svg.indexOf("<svg") < 0) return;
        box.innerHTML = svg.slice(svg.indexOf("<svg"));
        var el = box.querySelector("svg");
        var w = el.getAttribute("width"), h = el.getAttribute("height");
        if (w && h && !el.getAttribute("viewBox")) el.setAttribute("viewBox", "0 0 " + parseFloat(w) + " " + parseFloat(h));
        el.setAttribute("width", "96"); el.setAttribute("height", "96");
      }).catch(function () { box.textContent = "QR ✕"; });
    });
    ul.querySelectorAll("[data-act]").forEach(function (b) {
      b.addEventListener("click", function () {
        var li = b.closest("[data-dispatch]");
        b.disabled = true;
        api("/api/v1/dispatches/" + li.getAttribute("data-dispatch") + "/" + b.getAttribute("data-act"), { json: {} })
          .then(function () { refreshIncident(false); })
          .catch(function (e) { b.disabled = false; failed(e); });
      });
    });
  }

  // ------------------------------------------------------------------ hazards watch
  function loadHazards() {
    var id = current;
    return api("/api/v1/incidents/" + id + "/hazards").then(function (list) {
      if (id !== current) return;
      var items = Array.isArray(list) ? list : (list.hazards || []);
      $("hazard-list").innerHTML = items.length ? items.map(function (h) {
        return "<li>" + esc(h.name) + ' <span class="c-muted">' + esc(O.vocab("hazard_type", h.type)) + " · " + esc(t("risk")) + " " +
          esc(O.vocab("risk_level", h.risk)) + " · " + Math.round(h.distance_m) + " m" + (h.inside_influence ? " · " + esc(t("inside_influence")) : "") + "</span></li>";
      }).join("") : '<li class="c-muted">' + esc(t("none_yet")) + "</li>";
    }).catch(function (e) {
      $("hazard-list").innerHTML = '<li class="c-muted">' + esc(e.status === 404 ? t("not_available") : e.message) + "</li>";
    });
  }

  // ------------------------------------------------------------------ warnings
  // An area spec from a kind select and a size input: undefined means "the plan's rule".
  function specFrom(kindId, sizeId) {
    var kind = $(kindId).value, size = parseInt($(sizeId).value, 10);
    if (kind === "circle" && size > 0) return { circle: { radius_m: size } };
    if (kind === "isochrone" && size > 0) return { isochrone: { seconds: size } };
    return undefined;
  }
  function areaSpec() { return specFrom("w-kind", "w-size"); }
  function planRule(key) {
    var r = state.proposal && state.proposal.requirements && state.proposal.requirements[key];
    return r || null;
  }
  function sizeFollowsKind(kindId, sizeId, ruleKey) {
    var k = $(kindId).value, rule = planRule(ruleKey);
    $(sizeId).disabled = k === "plan";
    if (k === "plan") $(sizeId).value = rule ? (rule.radius_m || rule.isochrone_s || "") : "";  // what the plan uses
    if (k === "isochrone") $(sizeId).value = (rule && rule.isochrone_s) || 600;
    if (k === "circle") $(sizeId).value = (rule && rule.radius_m) || 800;
  }
  $("w-kind").addEventListener("change", function () { sizeFollowsKind("w-kind", "w-size", "alert_area"); });
  $("e-kind").addEventListener("change", function () { sizeFollowsKind("e-kind", "e-size", "evacuation"); });
  $("w-size").disabled = true;
  $("e-size").disabled = true;

  function drawArea(geom, colour, name) {
    areaLayer.clearLayers();
    if (!geom) return;
    var layer = L.geoJSON(geom, { pane: "areas", style: { color: colour, weight: 2, dashArray: "6 4", fillColor: colour, fillOpacity: 0.15 } })
      .bindTooltip(esc(name), { sticky: true }).addTo(areaLayer);
    map.fitBounds(layer.getBounds().pad(0.1));
  }

  function people(n) { return Number(n || 0).toLocaleString(O.lang.indexOf("zh") === 0 ? "zh-CN" : "en-GB"); }

  function insideHtml(inside) {
    if (!inside) return "";
    var ppl = inside.people || { count: 0, source: "none" };
    var h = '<p class="c-people" data-people="' + esc(ppl.count) + '"><strong>' +
      esc(fmt("people_inside", { n: people(ppl.count) })) + '</strong> <span class="c-muted">' +
      esc(t("source." + ppl.source, ppl.source)) + "</span></p>";
    var sensitive = (inside.sensitive || []).slice().sort(function (a, b) {
      return String(a.kind).localeCompare(String(b.kind)) || String(a.name).localeCompare(String(b.name));
    });
    h += "<h4>" + esc(t("inside_sensitive")) + " (" + sensitive.length + ")</h4>";
    h += '<ul class="c-inside" data-list="sensitive">' + sensitive.map(function (x) {
      return '<li><span class="c-tag c-site-' + esc(x.kind) + '">' + esc(t("site." + x.kind, x.kind)) + "</span> " + esc(x.name) +
        (x.occupants ? ' <span class="c-muted">' + esc(fmt("occupants", { n: people(x.occupants) })) + "</span>" : "") + "</li>";
    }).join("") + "</ul>";
    var shelters = inside.shelters || [];
    h += "<h4>" + esc(t("inside_shelters")) + " (" + shelters.length + ")</h4>";
    h += '<ul class="c-inside" data-list="shelters">' + shelters.map(function (s) {
      var room = Math.max(0, s.capacity - s.occupancy - (s.reserved || 0));
      return "<li>" + esc(s.name) + ' <span class="c-muted">' + esc(fmt("shelter_room", { room: people(room), cap: people(s.capacity) })) + "</span></li>";
    }).join("") + "</ul>";
    // Teams and hazard points inside: counts, the names folded away.
    [["teams", "inside_teams"], ["hazards", "inside_hazards"], ["depots", "inside_depots"]].forEach(function (pair) {
      var list = inside[pair[0]] || [];
      if (!list.length) return;
      h += '<details data-list="' + pair[0] + '"><summary>' + esc(t(pair[1])) + " (" + list.length + ')</summary><ul class="c-inside">' +
        list.map(function (x) {
          var tag = pair[0] === "teams" ? O.vocab("team_type", x.type) : pair[0] === "hazards" ? O.vocab("hazard_type", x.type) : "";
          return "<li>" + (tag ? '<span class="c-tag">' + esc(tag) + "</span> " : "") + esc(x.name) + "</li>";
        }).join("") + "</ul></details>";
    });
    return h;
  }

  function warningPreview() {
    if (current === null) return;
    var body = {}; var a = areaSpec(); if (a) body.area = a;
    var id = current;
    $("warning-preview").disabled = true;
    api("/api/v1/incidents/" + id + "/alerts/preview", { json: body }).then(function (p) {
      $("warning-preview").disabled = false;
      if (id !== current) return;
      state.preview = p;
      drawArea(p.area, "#f9a825", t("alert_area"));
      var el = $("warning-result");
      el.innerHTML = '<p class="c-muted">' + esc(specText(p.area_spec)) + "</p>" + insideHtml(p.inside);
      el.hidden = false;
      el.scrollIntoView({ block: "start" });
    }).catch(function (e) { $("warning-preview").disabled = false; warningError(e); });
  }
  function specText(spec) {
    if (!spec) return "";
    if (spec.circle) return fmt("spec_circle", { m: people(spec.circle.radius_m) });
    if (spec.isochrone) return fmt("spec_isochrone", { min: Math.round(spec.isochrone.seconds / 60) });
    return t("spec_polygon");
  }
  $("warning-preview").addEventListener("click", warningPreview);
  // Enter in a text field must never issue a public warning: only the button does.
  $("warning-form").addEventListener("submit", function (e) { e.preventDefault(); });
  $("warning-issue").addEventListener("click", function () {
    if (current === null || !canWrite) return;
    var body = {}; var a = areaSpec(); if (a) body.area = a;
    [["headline_zh", "w-headline-zh"], ["headline_en", "w-headline-en"], ["instruction_zh", "w-instruction-zh"], ["severity", "w-severity"]].forEach(function (p) {
      var v = $(p[1]).value.trim(); if (v) body[p[0]] = v;
    });
    var id = current;
    $("warning-issue").disabled = true;
    api("/api/v1/incidents/" + id + "/alerts", { json: body }).then(function (al) {
      $("warning-issue").disabled = !canWrite;
      if (id !== current) return;
      state.alert = al;
      state.preview = { area: al.area, inside: al.inside, area_spec: al.area_spec };
      drawArea(al.area, "#f9a825", t("alert_area"));
      var el = $("warning-result");
      el.innerHTML = '<p class="c-ok">' + esc(fmt("alert_issued", { id: al.identifier })) + "</p>" +
        '<p class="c-headline">' + esc(O.pick(al.headline)) + "</p>" +
        '<p><a class="c-btn c-btn-primary" id="cap-download" download href="' + esc(al.cap_url) + '">' + esc(t("cap_download")) + "</a></p>" +
        insideHtml(al.inside);
      el.hidden = false;
      el.scrollIntoView({ block: "start" });
      loadAlerts();
    }).catch(function (e2) { $("warning-issue").disabled = !canWrite; warningError(e2); });
  });
  function errorText(e) {
    if (e.status === 404 && !(e.body && e.body.error && e.body.error.field === "id")) return t("not_available");
    var f = e.body && e.body.error && e.body.error.field;
    return e.message + (f ? " (" + f + ")" : "");
  }
  function warningError(e) {
    var el = $("warning-result");
    el.innerHTML = '<p class="c-error">' + esc(errorText(e)) + "</p>";
    el.hidden = false;
  }
  function loadAlerts() {
    var id = current;
    return api("/api/v1/incidents/" + id + "/alerts").then(function (body) {
      if (id !== current) return;
      var mine = (Array.isArray(body) ? body : (body.alerts || [])).filter(function (a) { return a.status === "active"; });
      $("alert-list").innerHTML = mine.length ? mine.map(function (a) {
        return '<li data-alert="' + a.id + '"><span class="c-tag">' + esc(t("msg." + a.msg_type, a.msg_type)) + "</span> <strong>" +
          esc(O.pick(a.headline) || a.identifier) + '</strong><div class="c-muted">' + esc(t("sent")) + " " + esc(time(a.sent)) +
          (a.expires ? " · " + esc(t("expires")) + " " + esc(time(a.expires)) : "") + " · " +
          '<a href="' + esc(a.cap_url || "/api/v1/alerts/" + a.id + ".cap") + '" download>CAP</a>' +
          (canWrite ? ' <button type="button" class="c-btn c-small" data-cancel="' + a.id + '">' + esc(t("cancel_alert")) + "</button>" : "") + "</div></li>";
      }).join("") : '<li class="c-muted">' + esc(t("none_yet")) + "</li>";
      $("alert-list").querySelectorAll("[data-cancel]").forEach(function (b) {
        b.addEventListener("click", function () {
          if (!window.confirm(t("confirm_cancel"))) return;
          b.disabled = true;
          api("/api/v1/alerts/" + b.getAttribute("data-cancel") + "/cancel", { json: {} }).then(loadAlerts).catch(function (e) { b.disabled = false; failed(e); });
        });
      });
    }).catch(function (e) {
      $("alert-list").innerHTML = '<li class="c-muted">' + esc(e.status === 404 ? t("not_available") : e.message) + "</li>";
    });
  }

  // ------------------------------------------------------------------ evacuation
  function drawEvacuation(ev, fit) {
    areaLayer.clearLayers();
    var zone = L.geoJSON(ev.zone, { pane: "areas", style: { color: "#c62828", weight: 2, dashArray: "6 4", fillColor: "#c62828", fillOpacity: 0.12 } })
      .bindTooltip(esc(t("evac_zone")), { sticky: true }).addTo(areaLayer);
    var bounds = zone.getBounds();
    var most = 1;
    ev.flows.forEach(function (f) { most = Math.max(most, f.people); });
    ev.flows.forEach(function (f) {
      if (!f.route) return;
      var line = L.geoJSON(f.route, { pane: "routes", style: { color: "#2e7d32", opacity: 0.75, weight: 2 + 6 * f.people / most } })
        .bindTooltip(esc(fmt("flow", { n: people(f.people), to: f.shelter_name, min: minutes(f.duration_s) })), { sticky: true }).addTo(areaLayer);
      bounds.extend(line.getBounds());
    });
    ev.shelters.forEach(function (s) {
      if (!s.load) return;
      L.circleMarker([s.at[1], s.at[0]], { pane: "routes", radius: 7 + Math.min(Math.sqrt(s.load) / 2, 10), color: "#fff", weight: 2, fillColor: "#1b5e20", fillOpacity: 0.95 })
        .bindTooltip(esc(s.name) + " +" + people(s.load), { direction: "right" }).addTo(areaLayer);
      bounds.extend([s.at[1], s.at[0]]);
    });
    var stranded = (ev.unassigned && ev.unassigned.areas) || [];
    stranded.forEach(function (a, i) {
      L.circleMarker([a.at[1], a.at[0]], { pane: "routes", radius: 6 + Math.min(Math.sqrt(a.people) / 3, 8), color: "#fff", weight: 2, fillColor: "#b71c1c", fillOpacity: 0.95 })
        .bindTooltip(esc(fmt("unassigned_here", { n: people(a.people) })) + "<br>" + esc(t("reason." + a.reason, a.reason)),
          { direction: "right", permanent: i < 3, className: "c-stranded" }).addTo(areaLayer);
    });
    if (fit && bounds.isValid()) map.fitBounds(bounds.pad(0.08), { maxZoom: 17 });
    var h = '<p class="c-muted">' + esc(specText(state.evacSpec) || t("spec_plan")) + "</p>";
    h += '<p data-people="' + esc(ev.demand.people) + '"><strong>' + esc(fmt("demand", { people: people(ev.demand.people), points: ev.demand.points })) +
      '</strong> <span class="c-muted">' + esc(t("source." + ev.demand.source, ev.demand.source)) + "</span></p>";
    var used = ev.shelters.filter(function (s) { return s.load > 0; });
    h += '<table class="c-table" id="evac-shelters"><thead><tr><th>' + esc(t("shelter")) + '</th><th class="c-num">' + esc(t("load")) +
      '</th><th class="c-num">' + esc(t("room_left")) + "</th></tr></thead><tbody>" +
      used.map(function (s) {
        return '<tr data-shelter="' + s.id + '"><td>' + esc(s.name) + '</td><td class="c-num">' + people(s.load) + '</td><td class="c-num">' +
          people(s.room_left) + ' <span class="c-muted">/ ' + people(s.capacity) + "</span></td></tr>";
      }).join("") + (used.length ? "" : '<tr><td colspan="3" class="c-muted">' + esc(t("none_yet")) + "</td></tr>") + "</tbody></table>";
    if (ev.unassigned && ev.unassigned.people) {
      h += '<p class="c-bad" id="evac-unassigned" data-people="' + esc(ev.unassigned.people) + '"><strong>' + esc(fmt("unassigned", { n: people(ev.unassigned.people) })) + "</strong></p>";
      h += '<ul class="c-inside" data-list="unassigned">' + stranded.map(function (a) {
        return '<li><span class="c-tag c-tag-bad">' + esc(t("reason." + a.reason, a.reason)) + "</span> " + esc(fmt("occupants", { n: people(a.people) })) + "</li>";
      }).join("") + "</ul>";
    }
    if (ev.travel) {
      var kmh = ev.travel.mode === "walk" ? (ev.travel.speed_mps * 3.6).toFixed(1) : Math.round(ev.travel.median_kmh);
      h += '<p class="c-muted" data-mode="' + esc(ev.travel.mode) + '">' + esc(fmt("travel_" + ev.travel.mode, { kmh: kmh })) + "</p>";
    }
    if (ev.mean_duration_s !== null && ev.mean_duration_s !== undefined) {
      h += '<p class="c-muted">' + esc(fmt("person_time", { mean: minutes(ev.mean_duration_s), total: (ev.total_person_s / 3600).toFixed(1) }));
      var greedy = ev.greedy_total_person_s;
      if (greedy && greedy > ev.total_person_s * 1.005) {
        h += " · " + esc(fmt("saved_vs_nearest", { pct: Math.round(100 * (1 - ev.total_person_s / greedy)) + "%" }));
      }
      h += "</p>";
    }
    if (ev.committed) h = '<p class="c-ok">' + esc(fmt("evac_committed", { id: ev.id })) + "</p>" + h;
    $("evac-result").innerHTML = h;
    $("evac-result").hidden = false;
  }
  function evacuation(commit) {
    if (current === null) return;
    // A commit computes again from the same request as the preview shown (never from the
    // drawn polygon: that could differ from the spec, e.g. reach outside the service area).
    var spec = commit ? state.evacSpec : specFrom("e-kind", "e-size");
    var mode = commit && state.evac ? state.evac.mode : $("e-mode").value;
    var body = { commit: commit, mode: mode };
    if (spec) body.zone = spec;
    var id = current;
    $("evac-commit").disabled = true;
    $("evac-preview").disabled = true;
    api("/api/v1/incidents/" + id + "/evacuation", { json: body }).then(function (ev) {
      $("evac-preview").disabled = false;
      if (id !== current) return;
      state.evac = ev;
      state.evacSpec = spec;
      drawEvacuation(ev, true);
      $("evac-result").scrollIntoView({ block: "start" });
      $("evac-commit").disabled = !canWrite || ev.committed || !ev.flows.length;
      if (ev.committed) toast(fmt("evac_committed", { id: ev.id }));
    }).catch(function (e) {
      $("evac-preview").disabled = false;
      $("evac-commit").disabled = !canWrite || !state.evac || state.evac.committed;
      $("evac-result").innerHTML = '<p class="c-error">' + esc(errorText(e)) + "</p>";
      $("evac-result").hidden = false;
    });
  }
  ["e-kind", "e-size", "e-mode"].forEach(function (k) {
    $(k).addEventListener("change", function () { $("evac-commit").disabled = true; });  // preview again first
  });
  $("evac-preview").addEventListener("click", function () { evacuation(false); });
  $("evac-commit").addEventListener("click", function () { evacuation(true); });

  // ------------------------------------------------------------------ timeline
  function loadTimeline() {
    var id = current;
    return api("/api/v1/incidents/" + id + "/timeline").then(function (body) {
      if (id !== current) return;
      var items = body.timeline.slice().reverse();
      $("timeline").innerHTML = items.map(function (e) {
        return '<li><time datetime="' + esc(e.at) + '">' + esc(time(e.at)) + '</time> <span class="c-tag">' + esc(e.actor) + "</span> " + esc(e.what) + "</li>";
      }).join("") || '<li class="c-muted">' + esc(t("none_yet")) + "</li>";
    });
  }

  // ------------------------------------------------------------------ tabs and keys
  var TABS = ["response", "warning", "evacuation", "timeline"];
  function showTab(name) {
    TABS.forEach(function (n) {
      $("tab-" + n).setAttribute("aria-selected", String(n === name));
      $("tab-" + n).tabIndex = n === name ? 0 : -1;
      $("pane-" + n).hidden = n !== name;
    });
    // The map shows what the open tab is about: the proposal, the alert area, or the evacuation.
    areaLayer.clearLayers();
    var proposalOn = (name === "response" || name === "timeline") && $("toggle-proposal").checked;
    if (proposalOn) map.addLayer(proposalLayer); else map.removeLayer(proposalLayer);
    if (name === "warning" && $("w-kind").value === "plan") sizeFollowsKind("w-kind", "w-size", "alert_area");
    if (name === "evacuation" && $("e-kind").value === "plan") sizeFollowsKind("e-kind", "e-size", "evacuation");
    if (name === "warning" && state.preview) drawArea(state.preview.area, "#f9a825", t("alert_area"));
    if (name === "evacuation" && state.evac) drawEvacuation(state.evac, false);
    $("incident-view").scrollIntoView({ block: "start" });
  }
  TABS.forEach(function (n, i) {
    $("tab-" + n).addEventListener("click", function () { showTab(n); });
    $("tab-" + n).addEventListener("keydown", function (e) {
      var j = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : null;
      if (j === null) return;
      var next = TABS[(j + TABS.length) % TABS.length];
      showTab(next); $("tab-" + next).focus();
    });
  });

  document.addEventListener("keydown", function (e) {
    var tag = (e.target.tagName || "").toLowerCase();
    var typing = tag === "input" || tag === "textarea" || tag === "select";
    if (e.key === "Escape") {
      if (placing || !form.hidden) cancelForm();
      results.hidden = true;
      return;
    }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "n" || e.key === "N") { e.preventDefault(); startPlacing(); }
    else if (e.key === "/") { e.preventDefault(); search.focus(); }
    else if ((e.key === "d" || e.key === "D") && current !== null) { e.preventDefault(); showTab("response"); dispatch(); }
    else if (current !== null && e.key >= "1" && e.key <= "4") { showTab(TABS[Number(e.key) - 1]); }
  });

  // ------------------------------------------------------------------ live updates
  var pending = null;
  function soon(fn) {
    clearTimeout(pending);
    pending = setTimeout(fn, 250);
  }
  var liveEl = $("live-status");
  O.events("/api/v1/events/stream", {
    status: function (s) {
      liveEl.setAttribute("data-state", s);
      liveEl.textContent = t(s);
    },
    resync: function () {
      LAYERS.forEach(function (d) { if (loaded[d.kind]) loadLayer(d.kind); });
      refreshIncident(false);
    },
    event: function (name, data) {
      if (!data || typeof data !== "object") return;
      var kind = name.split(".")[0];
      // Layers never switched on are not kept up to date: they are loaded whole when shown.
      if (layers[kind] && loaded[kind] && data.feature) {
        if (/\.deleted$/.test(name)) { layers[kind].remove(data.id); delete features[kind][data.id]; }
        else putFeature(kind, data.feature);
        if (kind === "incidents") fillIncidentSelect();
        showCount(kind);
      } else if (layers[kind] && loaded[kind] && /\.imported$/.test(name)) {
        loadLayer(kind);
      }
      if (name === "teams.reported" && features.teams[data.team_id]) {
        var f = features.teams[data.team_id];
        f.geometry = { type: "Point", coordinates: data.at };
        f.properties.status = data.status;
        putFeature("teams", f);
      }
      if (/^dispatch\./.test(name) && loaded.teams) loadLayer("teams");
      var about = data.incident_id !== undefined ? data.incident_id : (data.alert && data.alert.incident_id);
      if (current !== null && (about === current || (kind === "incidents" && data.id === current) ||
          /^dispatch\./.test(name) || name === "teams.reported" || name === "plans.updated")) {
        soon(function () { refreshIncident(false); });
      }
    }
  });

  // ------------------------------------------------------------------ start
  Promise.all(LAYERS.filter(function (d) { return d.on; }).map(function (d) { return loadLayer(d.kind); })).then(function () {
    var m = /[?&]incident=(\d+)/.exec(location.search);
    if (m) selectIncident(Number(m[1]));
    root.setAttribute("data-ready", "true");
  });
  window.OneMapConsole = { map: map, select: selectIncident, state: state };
})();
