/* morl report: draws the payload in #morl-data with Plotly (inlined in the page). Needs no network.
 *
 * Per env section: the fronts (2 objectives: staircase; 3: rotatable 3-D scatter; 4+: parallel
 * coordinates), a preference slider (2-3 objectives) marking the entry `predict` uses for w, HV and EU
 * against the budget (seeds of one configuration: mean and min-max band) and a sortable table of runs.
 * window.morlReport exposes the data, the weights and the marked entry ids (the tests read them).
 */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("morl-data").textContent);
  var root = document.getElementById("report");
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"];
  var SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "cross", "triangle-down", "star", "pentagon"];
  var SYMBOLS_3D = ["circle", "square", "diamond", "cross", "x"];
  var TRUE_COLOR = "#555";
  var CONFIG = { displaylogo: false, responsive: true, toImageButtonOptions: { format: "png", scale: 2 } };
  var api = (window.morlReport = { data: data, weights: [], marked: [], entryFor: entryFor, ready: false });

  // --- the rule predict uses (morl.pareto.ParetoArchive.entry_for, linear utility) -----------------
  // The entry of largest w . v; on a tie the first in archive order (numpy's argmax). Returns an index, -1 if none.
  function entryFor(entries, w) {
    var best = -1, bestScore = -Infinity;
    for (var i = 0; i < entries.length; i++) {
      var v = entries[i].value, score = 0;
      for (var j = 0; j < w.length; j++) score += v[j] * w[j];
      if (best < 0 || score > bestScore) { best = i; bestScore = score; }
    }
    return best;
  }

  // --- small helpers ----------------------------------------------------------------------------
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    [].concat(children === undefined ? [] : children).forEach(function (c) {
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return node;
  }
  function num(x) {
    if (x === null || x === undefined) return "–";
    if (typeof x !== "number") return String(x);
    if (x !== 0 && Math.abs(x) < 1e-3) return x.toExponential(2);
    return x.toLocaleString("en-US", { maximumSignificantDigits: 5 });
  }
  function vec(v) { return "[" + v.map(num).join(", ") + "]"; }
  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s < 120) return s.toFixed(1) + " s";
    var h = Math.floor(s / 3600), m = Math.round((s - 3600 * h) / 60);
    return h ? h + " h " + (m < 10 ? "0" : "") + m + " min" : m + " min";
  }
  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }
  function escapeHtml(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  // Colour per configuration (seed group), marker per seed within it.
  function styleOf(sec, ri) {
    var run = sec.runs[ri];
    var gi = sec.groups.findIndex(function (g) { return g.runs.indexOf(ri) >= 0; });
    var k = sec.groups[gi].runs.indexOf(ri);
    return { color: PALETTE[gi % PALETTE.length], symbol: SYMBOLS[k % SYMBOLS.length],
             symbol3d: SYMBOLS_3D[k % SYMBOLS_3D.length], group: gi, label: run.label };
  }

  function hover(sec, run, e) {
    var names = sec.objectives;
    var lines = ["<b>" + escapeHtml(run.label) + "</b>  entry " + e.id,
                 "value: " + e.value.map(function (x, j) { return escapeHtml(names[j]) + " " + num(x); }).join(", ")];
    if (e.preference) lines.push("preference w: " + vec(e.preference));
    if (e.condition) lines.push("context z: " + vec(e.condition));
    if (!e.preference && !e.condition) lines.push("preference: none recorded");
    var meta = Object.keys(e.meta || {}).slice(0, 8).map(function (k) {
      var v = e.meta[k];
      return escapeHtml(k) + "=" + escapeHtml(typeof v === "number" ? num(v) : String(v).slice(0, 40));
    });
    if (meta.length) lines.push("meta: " + meta.join(", "));
    lines.push("run: " + escapeHtml(run.dir));
    lines.push(e.command ? "re-roll: <i>" + escapeHtml(e.command) + "</i>" : "not re-rollable: " + escapeHtml(run.reroll));
    return lines.join("<br>");
  }

  // --- fronts -----------------------------------------------------------------------------------
  function baseLayout(extra) {
    var layout = { margin: { l: 70, r: 20, t: 30, b: 60 }, hovermode: "closest", legend: { font: { size: 11 } },
                   hoverlabel: { align: "left", font: { size: 11 } }, paper_bgcolor: "#fff", plot_bgcolor: "#fff" };
    Object.keys(extra).forEach(function (k) { layout[k] = extra[k]; });
    return layout;
  }
  var AXIS = { showline: true, linecolor: "#999", gridcolor: "#e6e6e6", zeroline: false, automargin: true };
  function axis(title) { var a = { title: { text: title } }; Object.keys(AXIS).forEach(function (k) { a[k] = AXIS[k]; }); return a; }

  function front2d(sec) {
    var traces = [], marked = [], tf = sec.true_front;
    if (tf) {
      traces.push({ type: "scatter", mode: "lines", x: sec.true_stairs[0], y: sec.true_stairs[1], name: "true front",
                    legendgroup: "true", line: { color: TRUE_COLOR, dash: "dot", width: 1.5 }, hoverinfo: "skip",
                    meta: { kind: "true-stairs" } });
      traces.push({ type: "scatter", mode: "markers", x: tf.map(function (p) { return p[0]; }),
                    y: tf.map(function (p) { return p[1]; }), name: "true front", legendgroup: "true", showlegend: false,
                    marker: { symbol: "circle-open", size: 10, color: TRUE_COLOR, line: { width: 1.5 } },
                    text: tf.map(function (p) { return "true front<br>" + vec(p); }),
                    hovertemplate: "%{text}<extra></extra>", meta: { kind: "true" } });
    }
    sec.runs.forEach(function (run, ri) {
      var st = styleOf(sec, ri);
      if (run.stairs) {
        traces.push({ type: "scatter", mode: "lines", x: run.stairs[0], y: run.stairs[1], legendgroup: run.label,
                      showlegend: false, line: { color: st.color, width: 1.4 }, opacity: 0.65, hoverinfo: "skip",
                      meta: { kind: "stairs", run: ri } });
      }
      traces.push({ type: "scatter", mode: "markers", name: run.label, legendgroup: run.label,
                    x: run.entries.map(function (e) { return e.value[0]; }),
                    y: run.entries.map(function (e) { return e.value[1]; }),
                    customdata: run.entries.map(function (e) { return e.id; }),
                    text: run.entries.map(function (e) { return hover(sec, run, e); }),
                    hovertemplate: "%{text}<extra></extra>",
                    marker: { color: st.color, symbol: st.symbol, size: 10, line: { color: "#fff", width: 0.8 } },
                    meta: { kind: "entries", run: ri } });
    });
    sec.runs.forEach(function (run, ri) {
      marked.push(traces.length);
      traces.push({ type: "scatter", mode: "markers", x: [], y: [], legendgroup: "marked", name: "entry for w",
                    showlegend: ri === 0, hoverinfo: "skip", meta: { kind: "marked", run: ri },
                    marker: { symbol: "circle-open", size: 22, color: styleOf(sec, ri).color, line: { width: 3 } } });
    });
    var layout = baseLayout({ xaxis: axis(sec.objectives[0]), yaxis: axis(sec.objectives[1]) });
    return { traces: traces, layout: layout, marked: marked };
  }

  function front3d(sec) {
    var traces = [], marked = [], tf = sec.true_front;
    function col(points, j) { return points.map(function (p) { return p[j]; }); }
    if (tf) {
      traces.push({ type: "scatter3d", mode: "markers", x: col(tf, 0), y: col(tf, 1), z: col(tf, 2), name: "true front",
                    marker: { size: 3, color: TRUE_COLOR, opacity: 0.45 },
                    text: tf.map(function (p) { return "true front<br>" + vec(p); }),
                    hovertemplate: "%{text}<extra></extra>", meta: { kind: "true" } });
    }
    sec.runs.forEach(function (run, ri) {
      var st = styleOf(sec, ri), values = run.entries.map(function (e) { return e.value; });
      traces.push({ type: "scatter3d", mode: "markers", name: run.label, x: col(values, 0), y: col(values, 1),
                    z: col(values, 2), customdata: run.entries.map(function (e) { return e.id; }),
                    text: run.entries.map(function (e) { return hover(sec, run, e); }),
                    hovertemplate: "%{text}<extra></extra>",
                    marker: { size: 5, color: st.color, symbol: st.symbol3d, line: { color: "#fff", width: 0.5 } },
                    meta: { kind: "entries", run: ri } });
    });
    sec.runs.forEach(function (run, ri) {
      marked.push(traces.length);
      traces.push({ type: "scatter3d", mode: "markers", x: [], y: [], z: [], name: "entry for w", legendgroup: "marked",
                    showlegend: ri === 0, hoverinfo: "skip", meta: { kind: "marked", run: ri },
                    marker: { symbol: "circle-open", size: 12, color: styleOf(sec, ri).color, line: { width: 3 } } });
    });
    var names = sec.objectives;
    var layout = baseLayout({ scene: { xaxis: { title: { text: names[0] } }, yaxis: { title: { text: names[1] } },
                                       zaxis: { title: { text: names[2] } } },
                              margin: { l: 0, r: 0, t: 20, b: 0 } });
    return { traces: traces, layout: layout, marked: marked };
  }

  function parallel(sec) {
    var m = sec.num_objectives, lo = [], hi = [], traces = [];
    var all = [].concat.apply(sec.true_front || [], sec.runs.map(function (r) {
      return r.entries.map(function (e) { return e.value; });
    }));
    for (var j = 0; j < m; j++) {
      var column = all.map(function (p) { return p[j]; });
      lo.push(column.length ? Math.min.apply(null, column) : 0);
      hi.push(column.length ? Math.max.apply(null, column) : 1);
    }
    function scaled(p, j) { return hi[j] > lo[j] ? (p[j] - lo[j]) / (hi[j] - lo[j]) : 0.5; }
    function polylines(points, texts, ids) {
      var t = { x: [], y: [], text: [], customdata: [] };
      points.forEach(function (p, i) {
        for (var j = 0; j < m; j++) {
          t.x.push(j); t.y.push(scaled(p, j)); t.text.push(texts[i]); t.customdata.push(ids ? ids[i] : null);
        }
        t.x.push(null); t.y.push(null); t.text.push(""); t.customdata.push(null);
      });
      return t;
    }
    if (sec.true_front) {
      var tl = polylines(sec.true_front, sec.true_front.map(function (p) { return "true front<br>" + vec(p); }));
      traces.push({ type: "scatter", mode: "lines", x: tl.x, y: tl.y, text: tl.text, name: "true front",
                    line: { color: TRUE_COLOR, width: 1, dash: "dot" }, opacity: 0.6,
                    hovertemplate: "%{text}<extra></extra>", meta: { kind: "true" } });
    }
    sec.runs.forEach(function (run, ri) {
      var st = styleOf(sec, ri);
      var pl = polylines(run.entries.map(function (e) { return e.value; }),
                         run.entries.map(function (e) { return hover(sec, run, e); }),
                         run.entries.map(function (e) { return e.id; }));
      traces.push({ type: "scatter", mode: "lines+markers", name: run.label, x: pl.x, y: pl.y, text: pl.text,
                    customdata: pl.customdata, hovertemplate: "%{text}<extra></extra>", connectgaps: false,
                    line: { color: st.color, width: 1.6 }, marker: { color: st.color, symbol: st.symbol, size: 7 },
                    opacity: 0.85, meta: { kind: "entries", run: ri } });
    });
    var shapes = [], notes = [];
    for (var k = 0; k < m; k++) {
      shapes.push({ type: "line", x0: k, x1: k, y0: 0, y1: 1, line: { color: "#999", width: 1 }, layer: "below" });
      notes.push({ x: k, y: 1.06, text: num(hi[k]), showarrow: false, font: { size: 10, color: "#555" } });
      notes.push({ x: k, y: -0.06, text: num(lo[k]), showarrow: false, font: { size: 10, color: "#555" } });
    }
    var layout = baseLayout({
      xaxis: { tickvals: sec.objectives.map(function (_, i) { return i; }), ticktext: sec.objectives,
               range: [-0.3, m - 0.7], showgrid: false, zeroline: false },
      yaxis: { range: [-0.12, 1.12], showgrid: false, zeroline: false, showticklabels: false,
               title: { text: "each axis: lowest to highest value in this section" } },
      shapes: shapes, annotations: notes });
    return { traces: traces, layout: layout, marked: [] };
  }

  // --- preference slider ----------------------------------------------------------------------
  function slider(sec, si, plot, figure) {
    var m = sec.num_objectives, inputs = [];
    var box = el("div", { "class": "slider", id: "slider-" + si });
    box.appendChild(el("h3", {}, "Preference w: the entry predict uses"));
    box.appendChild(el("div", { "class": "sub" },
      "In every run, the archive entry of largest w · v (the first in archive order on a tie), as predict picks it."));
    var count = m === 2 ? 1 : m;
    for (var j = 0; j < count; j++) {
      var input = el("input", { type: "range", min: "0", max: "1", step: "0.01", value: m === 2 ? "0.5" : "1",
                                id: "w-" + si + "-" + j, "aria-label": "weight of " + sec.objectives[j] });
      inputs.push(input);
      box.appendChild(el("label", { "for": input.id }, m === 2 ? "weight of " + sec.objectives[0] + " (the other gets the rest)"
                                                             : "weight of " + sec.objectives[j] + " (normalised)"));
      box.appendChild(input);
    }
    var shown = el("div", { "class": "w", id: "w-" + si }, "");
    var list = el("ul", { id: "marked-" + si });
    box.appendChild(shown);
    box.appendChild(list);
    var items = sec.runs.map(function (run, ri) {
      var li = el("li", { "data-run": String(ri) }, [el("span", { "class": "chip", style: "background:" + styleOf(sec, ri).color }), ""]);
      list.appendChild(li);
      return li;
    });
    api.marked[si] = sec.runs.map(function () { return null; });

    function weights() {
      var raw = inputs.map(function (i) { return parseFloat(i.value); });
      if (m === 2) return [raw[0], 1 - raw[0]];
      var total = raw.reduce(function (a, b) { return a + b; }, 0);
      return total > 0 ? raw.map(function (x) { return x / total; }) : raw.map(function () { return 1 / m; });
    }
    function update() {
      var w = weights(), xs = [], ys = [], zs = [];
      api.weights[si] = w;
      shown.textContent = "w = " + vec(w.map(function (x) { return Math.round(x * 1000) / 1000; }));
      sec.runs.forEach(function (run, ri) {
        var i = entryFor(run.entries, w), e = i < 0 ? null : run.entries[i];
        api.marked[si][ri] = e ? e.id : null;
        items[ri].setAttribute("data-entry", e ? String(e.id) : "");
        items[ri].lastChild.textContent = run.label + (e ? " → entry " + e.id + ": " + vec(e.value) : " → no entries yet");
        xs.push(e ? [e.value[0]] : []); ys.push(e ? [e.value[1]] : []); zs.push(e && m > 2 ? [e.value[2]] : []);
      });
      var change = { x: xs, y: ys };
      if (m === 3) change.z = zs;
      return Plotly.restyle(plot, change, figure.marked);
    }
    inputs.forEach(function (i) { i.addEventListener("input", update); });
    return { box: box, update: update };
  }

  // --- HV and EU against the budget -------------------------------------------------------------
  function curves(sec, metric, title) {
    var traces = [];
    sec.groups.forEach(function (g, gi) {
      var c = g.curves[metric], color = PALETTE[gi % PALETTE.length];
      if (c && c.seeds > 1) {
        traces.push({ type: "scatter", mode: "lines", x: c.x, y: c.hi, line: { width: 0, shape: "hv" },
                      legendgroup: g.label, showlegend: false, hoverinfo: "skip" });
        traces.push({ type: "scatter", mode: "lines", x: c.x, y: c.lo, line: { width: 0, shape: "hv" }, fill: "tonexty",
                      fillcolor: rgba(color, 0.18), legendgroup: g.label, showlegend: false, hoverinfo: "skip" });
      }
      if (c) {
        traces.push({ type: "scatter", mode: "lines+markers", x: c.x, y: c.mean, legendgroup: g.label,
                      marker: { size: c.x.length > 2 ? 5 : 9, color: color },
                      name: g.label + (c.seeds > 1 ? ": mean of " + c.seeds + " seeds" : ""),
                      line: { color: color, width: 2.5, shape: "hv" },
                      hovertemplate: escapeHtml(g.label) + (c.seeds > 1 ? " (mean of " + c.seeds + ")" : "") +
                                     "<br>%{x:,}: %{y:,.5g}<extra></extra>", meta: { kind: "mean", group: gi } });
      }
      g.runs.forEach(function (ri, k) {
        var run = sec.runs[ri], rc = run.curves[metric];
        if (!rc || (c && c.seeds === 1)) return;  // one seed: its line is the mean already drawn
        traces.push({ type: "scatter", mode: "lines+markers", x: rc.x, y: rc.y, name: run.label, legendgroup: g.label,
                      visible: c ? "legendonly" : true, line: { color: color, width: 1, dash: "dot", shape: "hv" },
                      marker: { size: 4, color: color, symbol: SYMBOLS[k % SYMBOLS.length] },
                      hovertemplate: escapeHtml(run.label) + "<br>%{x:,}: %{y:,.5g}<extra></extra>",
                      meta: { kind: "run", run: ri } });
      });
    });
    var layout = baseLayout({ title: { text: title, font: { size: 14 }, x: 0.01, xanchor: "left" },
                              margin: { l: 70, r: 20, t: 40, b: 50 },
                              xaxis: axis(sec.unit), yaxis: axis(""), legend: { font: { size: 10 } } });
    return { traces: traces, layout: layout };
  }

  // --- table of runs --------------------------------------------------------------------------
  var COLUMNS = [
    { head: "run", text: true, get: function (r) { return r.label; } },
    { head: "algorithm", text: true, get: function (r) { return r.algo; } },
    { head: "env", text: true, get: function (r) { return r.env; } },
    { head: "seed", get: function (r) { return r.seed; } },
    { head: "budget", get: function (r) { return r.budget; } },
    { head: "spent", get: function (r) { return r.spent; } },
    { head: "status", text: true, get: function (r) { return r.status; } },
    { head: "HV", get: function (r) { return r.metrics.hypervolume; } },
    { head: "HV / true HV", get: function (r) { return r.metrics.hypervolume_ratio; } },
    { head: "EU", get: function (r) { return r.metrics.expected_utility; } },
    { head: "sparsity", get: function (r) { return r.metrics.sparsity; } },
    { head: "spacing", get: function (r) { return r.metrics.spacing; } },
    { head: "IGD", get: function (r) { return r.metrics.igd; } },
    { head: "cardinality", get: function (r) { return r.metrics.cardinality; } },
    { head: "wall time", get: function (r) { return r.metrics.wall_time; }, show: duration },
    { head: "steps / s", get: function (r) { return r.metrics.steps_per_second; } },
    { head: "package versions", text: true, cls: "versions", get: function (r, common) {
        return versionText(r.versions, function (k) { return !(k in common); }) || "as below";
      } }
  ];

  function versionText(versions, keep) {
    return Object.keys(versions).filter(keep).map(function (k) { return k + " " + versions[k]; }).join(", ");
  }
  // The versions every run of the section shares (shown once under the table); the column shows the rest.
  function commonVersions(sec) {
    var first = sec.runs[0].versions, common = {};
    Object.keys(first).forEach(function (k) {
      if (sec.runs.every(function (r) { return r.versions[k] === first[k]; })) common[k] = first[k];
    });
    return common;
  }

  function table(sec, si) {
    var head = el("tr"), body = el("tbody"), common = commonVersions(sec);
    var t = el("table", { "class": "runs", id: "table-" + si }, [el("thead", {}, head), body]);
    COLUMNS.forEach(function (col, ci) {
      var th = el("th", { "class": col.text ? "text" : "", title: "sort by " + col.head }, col.head);
      th.addEventListener("click", function () { sortBy(t, ci, th); });
      head.appendChild(th);
    });
    sec.runs.forEach(function (run, ri) {
      var tr = el("tr", { "data-run": String(ri) });
      COLUMNS.forEach(function (col, ci) {
        var value = col.get(run, common), td = el("td", { "class": (col.text ? "text " : "") + (col.cls || "") });
        if (ci === 0) td.appendChild(el("span", { "class": "chip", style: "background:" + styleOf(sec, ri).color }));
        td.appendChild(document.createTextNode(col.show ? col.show(value) : col.text ? (value === null ? "–" : String(value)) : num(value)));
        td.setAttribute("data-sort", value === null || value === undefined ? "" : String(value));
        if (ci === 0) td.title = run.dir;
        if (col.cls === "versions") td.title = versionText(run.versions, function () { return true; });
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var shared = versionText(common, function () { return true; });
    return el("div", { "class": "table-wrap" }, [t, el("div", { "class": "sub" },
      shared ? "Package versions of every run above: " + shared + "." : "The runs share no package version.")]);
  }

  function sortBy(t, ci, th) {
    var descending = th.classList.contains("sorted-asc");
    t.querySelectorAll("th").forEach(function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
    th.classList.add(descending ? "sorted-desc" : "sorted-asc");
    var body = t.tBodies[0], rows = Array.prototype.slice.call(body.rows), text = COLUMNS[ci].text;
    rows.sort(function (a, b) {
      var x = a.cells[ci].getAttribute("data-sort"), y = b.cells[ci].getAttribute("data-sort");
      if (x === "" || y === "") return x === y ? 0 : x === "" ? 1 : -1;  // blanks last, either way
      var order = text ? x.localeCompare(y, undefined, { numeric: true }) : parseFloat(x) - parseFloat(y);
      return descending ? -order : order;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }

  // --- the page -------------------------------------------------------------------------------
  function section(sec, si, pending) {
    var m = sec.num_objectives;
    var node = el("section", { id: "section-" + si });
    node.appendChild(el("h2", {}, sec.title));
    var facts = [(m || "?") + " objectives" + (m ? ": " + sec.objectives.join(", ") : ""),
                 "reference point " + (sec.ref_point ? vec(sec.ref_point) : "unknown"),
                 sec.true_front ? "true front: " + sec.true_front.length + " points, HV " + num(sec.true_hypervolume)
                                : "true front not known",
                 sec.runs.length + " run" + (sec.runs.length === 1 ? "" : "s")];
    node.appendChild(el("div", { "class": "sub" }, facts.join(" · ")));
    sec.notes.forEach(function (n) { node.appendChild(el("div", { "class": "notes" }, "note: " + n)); });
    root.appendChild(node);

    if (m) {
      node.appendChild(el("h3", {}, m === 2 ? "Fronts (staircase: what each run's front dominates)"
                                            : m === 3 ? "Fronts (drag to rotate)" : "Fronts (parallel coordinates)"));
      var row = el("div", { "class": "front-row" });
      var plot = el("div", { "class": "plot-front", id: "front-" + si });
      row.appendChild(plot);
      node.appendChild(row);
      var figure = m === 2 ? front2d(sec) : m === 3 ? front3d(sec) : parallel(sec);
      var control = m <= 3 ? slider(sec, si, plot, figure) : null;
      if (control) row.appendChild(control.box);
      pending.push(Plotly.newPlot(plot, figure.traces, figure.layout, CONFIG).then(function () {
        return control ? control.update() : null;
      }));
    }
    node.appendChild(el("h3", {}, "Hypervolume and expected utility against " + sec.unit +
                        " (line: mean over the seeds of one configuration; band: their min to max)"));
    var row2 = el("div", { "class": "curves" });
    node.appendChild(row2);
    var panels = [["hypervolume", "Hypervolume", "hv-"], ["expected_utility", "Expected utility", "eu-"]].map(function (p) {
      var div = el("div", { "class": "plot-curve", id: p[2] + si });
      row2.appendChild(div);  // both in place before either is drawn, so each is drawn at its final width
      return [div, p];
    });
    panels.forEach(function (panel) {
      var fig = curves(sec, panel[1][0], panel[1][1]);
      pending.push(Plotly.newPlot(panel[0], fig.traces, fig.layout, CONFIG));
    });
    node.appendChild(el("h3", {}, "Runs (click a column to sort)"));
    node.appendChild(table(sec, si));
  }

  function page() {
    root.appendChild(el("h1", {}, data.title));
    var total = data.sections.reduce(function (n, s) { return n + s.runs.length; }, 0);
    root.appendChild(el("div", { "class": "sub" }, total + " runs in " + data.sections.length + " env section" +
                        (data.sections.length === 1 ? "" : "s") + " · generated " + data.generated +
                        " · hover a point for its value, preference, run, entry id and the command that re-rolls it"));
    if (data.errors.length) {
      var list = el("ul", { id: "errors" });
      data.errors.forEach(function (e) { list.appendChild(el("li", {}, e.error)); });
      root.appendChild(el("div", { "class": "errors" }, [el("b", {}, data.errors.length + " run director" +
                          (data.errors.length === 1 ? "y" : "ies") + " not reported:"), list]));
    }
    if (data.sections.length > 1) {
      var nav = el("nav");
      data.sections.forEach(function (s, i) { nav.appendChild(el("a", { href: "#section-" + i }, s.title)); });
      root.appendChild(nav);
    }
    var pending = [];
    data.sections.forEach(function (sec, si) { section(sec, si, pending); });
    Promise.all(pending).then(function () {
      api.ready = true;
      document.body.setAttribute("data-ready", "1");
    }, function (err) {
      document.body.setAttribute("data-ready", "error: " + err);
    });
  }

  page();
})();
