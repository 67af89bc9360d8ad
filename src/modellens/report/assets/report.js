/* modellens report: draws the embedded result (no network, no libraries). */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("modellens-data").textContent);
  window.modellensReport = D;
  var CHIP_COLORS = ["#4c5fd5", "#e0832f", "#1b9e77", "#d6457a", "#8e5bd6", "#b8a10f", "#2b8cbe", "#7f7f7f"];
  var SVGNS = "http://www.w3.org/2000/svg";

  /* ------------------------------------------------------------ formatting */
  function count(v, unit) {
    unit = unit || "";
    if (v === null || v === undefined) return "–";
    var steps = [[1e15, "P"], [1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "K"]];
    for (var i = 0; i < steps.length; i++) {
      if (Math.abs(v) >= steps[i][0]) return (v / steps[i][0]).toFixed(2) + " " + steps[i][1] + unit;
    }
    return (Math.round(v * 100) / 100) + (unit ? " " + unit : "");
  }
  function size(v) {
    if (v === null || v === undefined) return "–";
    var steps = [[Math.pow(2, 40), "TiB"], [Math.pow(2, 30), "GiB"], [Math.pow(2, 20), "MiB"], [1024, "KiB"]];
    for (var i = 0; i < steps.length; i++) {
      if (Math.abs(v) >= steps[i][0]) return (v / steps[i][0]).toFixed(2) + " " + steps[i][1];
    }
    return Math.round(v) + " B";
  }
  function duration(s) {
    if (s === null || s === undefined) return "–";
    if (s >= 1) return s.toFixed(3) + " s";
    if (s >= 1e-3) return (s * 1e3).toFixed(3) + " ms";
    if (s >= 1e-6) return (s * 1e6).toFixed(1) + " µs";
    return (s * 1e9).toFixed(1) + " ns";
  }
  function pct(part, whole) { return whole ? (100 * part / whole).toFixed(1) + "%" : "–"; }
  function num(v, digits) { return v === null || v === undefined ? "–" : v.toLocaleString("en-US", { maximumFractionDigits: digits || 0 }); }
  function shape(s) { return s.length ? s.join("×") : "scalar"; }
  function shapes(list) { return (list || []).map(shape).join(", "); }
  function opName(n) { return n.replace(/^aten\./, "").replace(/\.default$/, ""); }

  /* ------------------------------------------------------------ DOM helpers */
  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "cls") node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c !== null && c !== undefined) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function svg(tag, attrs, parent) {
    var node = document.createElementNS(SVGNS, tag);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function byId(id) { return document.getElementById(id); }
  function header(cells) {
    return el("thead", {}, [el("tr", {}, cells.map(function (c) {
      return el("th", { cls: c[1] ? "num" : "", text: c[0] });
    }))]);
  }
  function td(text, cls, title) {
    var a = { text: text };
    if (cls) a.cls = cls;
    if (title) a.title = title;
    return el("td", a);
  }
  function shareBar(part, whole, color) {
    var frac = whole > 0 ? Math.max(0, Math.min(1, part / whole)) : 0;
    var fill = el("div", { cls: "fill" });
    fill.style.width = (100 * frac).toFixed(2) + "%";
    if (color) fill.style.background = color;
    return el("div", { cls: "share" }, [el("div", { cls: "track" }, [fill]), el("span", { cls: "pct", text: pct(part, whole) })]);
  }
  function segmented(host, options, initial, onChange) {
    var buttons = options.map(function (o) {
      var b = el("button", { type: "button", text: o[1], "data-value": o[0] });
      b.addEventListener("click", function () {
        buttons.forEach(function (x) { x.classList.toggle("on", x === b); });
        onChange(o[0]);
      });
      if (o[0] === initial) b.classList.add("on");
      host.appendChild(b);
      return b;
    });
  }

  var chips = D.chips;
  var hasBackward = D.flops.backward !== null && D.flops.backward !== undefined;
  var firstChip = chips[0];

  /* ------------------------------------------------------------ header + cards */
  function renderHeader() {
    byId("model-name").textContent = D.model;
    byId("model-sub").textContent = D.model_class + " · " + D.source + " · " + D.input_description;
    var badges = byId("badges");
    [["capture", D.capture_method], ["pass", hasBackward ? "forward + backward" : "forward"],
     ["chips", chips.map(function (c) { return c.id; }).join(", ")]].forEach(function (b) {
      badges.appendChild(el("span", { cls: "badge" }, [b[0] + " ", el("b", { text: b[1] })]));
    });
  }

  function card(label, value, note, accent, title) {
    var cut = value.indexOf(" ");
    var big = el("div", { cls: "value" }, cut < 0 ? [value] : [value.slice(0, cut), el("span", { cls: "unit", text: value.slice(cut) })]);
    return el("div", { cls: "card" + (accent ? " accent" : ""), title: title || "" }, [
      el("div", { cls: "label", text: label, title: label }), big, el("div", { cls: "note", text: note || "" })]);
  }

  function renderCards() {
    var host = byId("cards"), p = D.params, f = D.flops, m = D.memory;
    var dtypes = Object.keys(p.by_dtype || {}).join(", ");
    var fwd = firstChip.forward;
    host.appendChild(card("Parameters", count(p.total), size(m.weights_bytes) + " of weights" + (dtypes ? " · " + dtypes : ""), true, num(p.total) + " parameters"));
    host.appendChild(card("Forward FLOPs", count(f.forward, "FLOPs"), count(D.macs.forward, "MACs") + " · matmul-class", true, num(f.forward) + " FLOPs"));
    host.appendChild(card("All-op FLOPs", count(f.forward_all, "FLOPs"), "+ elementwise, softmax, norms", false, num(f.forward_all) + " FLOPs"));
    host.appendChild(card("Bytes moved", size(D.report.bytes_forward), "read + written by forward ops", false, num(D.report.bytes_forward) + " bytes"));
    var ridge = firstChip.roofs.length ? firstChip.roofs[0].peak / firstChip.memory_bandwidth : 0;
    host.appendChild(card("Arithmetic intensity", (fwd ? fwd.intensity : 0).toFixed(1) + " FLOPs/B",
      "all-op FLOPs / bytes; ridge on " + firstChip.id + ": " + ridge.toFixed(1)));
    chips.forEach(function (c) {
      var t = c.forward ? c.forward.time_s : null;
      host.appendChild(card("Forward · " + c.id, duration(t), c.forward ? "predicted; " + pct(c.forward.compute_bound_share, 1) + " compute-bound" : "", false, c.name));
    });
    if (hasBackward) {
      host.appendChild(card("Backward FLOPs", count(f.backward, "FLOPs"), f.forward ? (f.backward / f.forward).toFixed(2) + "× forward · matmul-class" : "", false, num(f.backward) + " FLOPs"));
    }
    host.appendChild(card("Peak activations", size(m.peak_activations_bytes), size(m.activations_bytes) + " created in all"));
  }

  function renderChipTable() {
    var t = byId("chip-table");
    var cols = [["Chip"], ["Forward", 1]];
    if (hasBackward) cols.push(["Backward", 1]);
    cols.push(["Compute", 1], ["Peak", 1], ["Bandwidth", 1], ["Ridge", 1]);
    t.appendChild(header(cols));
    var body = el("tbody");
    chips.forEach(function (c, i) {
      var top = c.roofs.length ? c.roofs[0].peak : 0;
      var name = el("td", { title: c.name + (c.source ? "\n" + c.source : "") }, [
        el("span", { cls: "sw-dot" }), c.id]);
      name.firstChild.style.cssText = "display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:7px;background:" + CHIP_COLORS[i % CHIP_COLORS.length];
      var row = [name, td(duration(c.forward && c.forward.time_s), "num")];
      if (hasBackward) row.push(td(duration(c.backward && c.backward.time_s), "num"));
      row.push(td(c.forward ? pct(c.forward.compute_bound_share, 1) : "–", "num", "share of the forward time spent in compute-bound ops"),
        td(short(top) + "FLOP/s", "num", c.roofs.map(function (r) { return r.label + ": " + count(r.peak, "FLOP/s"); }).join("\n")),
        td(short(c.memory_bandwidth) + "B/s", "num"),
        td(top ? short(top / c.memory_bandwidth) + " FLOPs/B" : "–", "num", "peak / bandwidth: above this intensity an op is compute-bound"));
      body.appendChild(el("tr", {}, row));
    });
    t.appendChild(body);
  }

  function renderMemory() {
    var m = D.memory;
    var rows = [["Weights (params + buffers)", m.weights_bytes], ["Inputs", m.inputs_bytes],
      ["Outputs", m.outputs_bytes], ["Activations (all, forward)", m.activations_bytes],
      ["Peak live activations", m.peak_activations_bytes]];
    if (m.gradients_bytes !== null && m.gradients_bytes !== undefined) rows.push(["Gradients", m.gradients_bytes]);
    if (m.training) {
      rows.push(["Training peak (" + m.training.optimizer + ", at " + m.training.at + ")", m.training.peak_bytes]);
      m.training.lines.forEach(function (l) { if (l.bytes) rows.push(["  " + l.name, l.bytes]); });
    }
    var most = Math.max.apply(null, rows.map(function (r) { return r[1] || 0; }));
    var body = el("tbody", {}, rows.map(function (r) {
      var bar = shareBar(r[1], most);
      bar.querySelector(".pct").textContent = "";
      return el("tr", {}, [td(r[0]), td(size(r[1]), "num", num(r[1]) + " bytes"), el("td", { cls: "bar-cell" }, [bar])]);
    }));
    byId("memory").appendChild(el("table", { cls: "data" }, [body]));
  }

  /* ------------------------------------------------------------ roofline */
  var roofState = { phase: "forward", hidden: {} };

  function log10(v) { return Math.log(v) / Math.LN10; }
  function decadeLabel(e, unit) {
    var v = Math.pow(10, e);
    if (e < 0) return String(Number(v.toPrecision(1)));
    return count(v, unit).replace(".00", "");
  }

  function short(v) {
    var s = count(v);
    return s.replace(/(\d+\.\d+)/, function (m) { return String(Number(Number(m).toPrecision(3))); });
  }

  /* Move labels (sorted by wanted y) apart by at least `gap`, staying near where they want to be. */
  function spread(labels, gap, top, bottom) {
    labels.sort(function (a, b) { return a.want - b.want; });
    for (var iter = 0; iter < 200; iter++) {
      var moved = false;
      for (var i = 1; i < labels.length; i++) {
        var overlap = gap - (labels[i].y - labels[i - 1].y);
        if (overlap > 0.01) { labels[i - 1].y -= overlap / 2; labels[i].y += overlap / 2; moved = true; }
      }
      labels.forEach(function (l) { l.y = Math.max(top, Math.min(bottom, l.y)); });
      if (!moved) break;
    }
  }

  function roofPoints(phase) {
    var pts = [];
    D.op_groups.forEach(function (g) {
      if (g.phase !== phase || !(g.flops_all > 0) || !(g.br + g.bw > 0)) return;
      chips.forEach(function (c, ci) {
        if (roofState.hidden[ci] || !(g.t[ci] > 0)) return;
        pts.push({ g: g, ci: ci, x: g.flops_all / (g.br + g.bw), y: g.flops_all / g.t[ci], time: g.t[ci] * g.n });
      });
    });
    return pts;
  }

  function renderRoofline() {
    var host = byId("roof-svg"), tip = byId("tip");
    while (host.firstChild) host.removeChild(host.firstChild);
    tip.hidden = true;
    var W = 1020, H = 480, L = 78, R = 170, T = 12, B = 52;
    host.setAttribute("viewBox", "0 0 " + W + " " + H);
    var pts = roofPoints(roofState.phase);
    var visible = chips.filter(function (c, i) { return !roofState.hidden[i]; });
    var xs = pts.map(function (p) { return p.x; }), ys = pts.map(function (p) { return p.y; });
    visible.forEach(function (c) { c.roofs.forEach(function (r) { xs.push(r.peak / c.memory_bandwidth); ys.push(r.peak); }); });
    if (!xs.length) { xs = [1, 100]; ys = [1e9, 1e12]; }
    var x0 = log10(Math.min.apply(null, xs)) - 0.3, x1 = log10(Math.max.apply(null, xs)) + 0.5;
    var y0 = log10(Math.min.apply(null, ys)) - 0.3, y1 = log10(Math.max.apply(null, ys)) + 0.25;
    if (x1 - x0 < 2) x1 = x0 + 2;
    if (y1 - y0 < 2) y0 = y1 - 2;
    function sx(v) { return L + (log10(v) - x0) / (x1 - x0) * (W - L - R); }
    function sy(v) { return T + (y1 - log10(v)) / (y1 - y0) * (H - T - B); }
    var plot = { x: L, y: T, w: W - L - R, h: H - T - B };
    svg("rect", { x: plot.x, y: plot.y, width: plot.w, height: plot.h, class: "frame" }, host);
    var e;
    for (e = Math.ceil(x0); e <= x1; e++) {
      svg("line", { x1: sx(Math.pow(10, e)), x2: sx(Math.pow(10, e)), y1: plot.y, y2: plot.y + plot.h, class: "grid" }, host);
      svg("text", { x: sx(Math.pow(10, e)), y: plot.y + plot.h + 18, "text-anchor": "middle" }, host).textContent = decadeLabel(e, "");
    }
    for (e = Math.ceil(y0); e <= y1; e++) {
      svg("line", { x1: plot.x, x2: plot.x + plot.w, y1: sy(Math.pow(10, e)), y2: sy(Math.pow(10, e)), class: "grid" }, host);
      svg("text", { x: plot.x - 8, y: sy(Math.pow(10, e)) + 4, "text-anchor": "end" }, host).textContent = decadeLabel(e, "");
    }
    svg("text", { x: plot.x + plot.w / 2, y: H - 10, "text-anchor": "middle", class: "axis-title" }, host).textContent = "Arithmetic intensity (FLOPs / byte, log scale)";
    svg("text", { x: 16, y: plot.y + plot.h / 2, "text-anchor": "middle", class: "axis-title", transform: "rotate(-90 16 " + (plot.y + plot.h / 2) + ")" }, host).textContent = "Attainable performance (FLOP/s, log scale)";
    var clip = svg("clipPath", { id: "plot-clip" }, svg("defs", {}, host));
    svg("rect", { x: plot.x, y: plot.y, width: plot.w, height: plot.h }, clip);
    var layer = svg("g", { "clip-path": "url(#plot-clip)" }, host);
    var xmin = Math.pow(10, x0), xmax = Math.pow(10, x1), labels = [];
    chips.forEach(function (c, ci) {
      if (roofState.hidden[ci]) return;
      var color = CHIP_COLORS[ci % CHIP_COLORS.length];
      c.roofs.forEach(function (r, ri) {
        var ridge = r.peak / c.memory_bandwidth;
        var d = "M" + sx(xmin) + "," + sy(xmin * c.memory_bandwidth) + " L" + sx(ridge) + "," + sy(r.peak) + " L" + sx(xmax) + "," + sy(r.peak);
        var line = svg("path", { d: d, fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": ri === 0 ? "" : "6 4", opacity: 0.9 }, layer);
        svg("title", {}, line).textContent = c.name + ": " + r.label + " roof, " + count(r.peak, "FLOP/s") + ", " + count(c.memory_bandwidth, "B/s");
        labels.push({ y: sy(r.peak) + 4, want: sy(r.peak) + 4, color: color, text: short(r.peak) + " · " + c.id });
      });
    });
    spread(labels, 15, plot.y + 10, plot.y + plot.h);
    labels.forEach(function (lab) {
      var text = svg("text", { x: plot.x + plot.w + 8, y: lab.y, class: "roof-label" }, host);
      text.style.fill = lab.color;
      text.textContent = lab.text;
    });
    var total = pts.reduce(function (s, p) { return s + p.time; }, 0) / Math.max(1, visible.length);
    pts.sort(function (a, b) { return b.time - a.time; });
    pts.forEach(function (p) {
      var color = CHIP_COLORS[p.ci % CHIP_COLORS.length];
      var r = 3 + 8 * Math.sqrt(total ? p.time / total : 0);
      var matmul = p.g.cat === "matmul";
      var dot = svg("circle", { cx: sx(p.x), cy: sy(p.y), r: r.toFixed(2), stroke: color, "stroke-width": 1.5,
        fill: matmul ? color : "transparent", "fill-opacity": matmul ? 0.55 : 0 }, layer);
      dot.addEventListener("mouseenter", function (ev) { showTip(p, ev); });
      dot.addEventListener("mousemove", function (ev) { moveTip(ev); });
      dot.addEventListener("mouseleave", function () { tip.hidden = true; });
    });
    var skipped = D.op_groups.filter(function (g) { return g.phase === roofState.phase && !(g.flops_all > 0); }).length;
    byId("roof-hint").textContent = "Each point is a group of identical ops (same op, module pattern and shapes) placed on each chip's roofline: x = FLOPs per byte moved, y = FLOPs / predicted time. "
      + "Filled: matmul-class ops (matrix units); hollow: other ops (vector units). Area grows with the group's share of the time. "
      + (skipped ? skipped + " op group(s) with no FLOPs (pure data movement) have no place on a log axis and are left out. " : "")
      + "Hover a point for details.";
  }

  function tipRows(p) {
    var g = p.g, c = chips[p.ci];
    return [["module", g.module], ["calls", g.n + "×"], ["inputs", shapes(g.in)], ["output", shapes(g.out)],
      ["dtype", g.dtype + " · " + g.cat], ["FLOPs each", count(g.flops_all, "FLOPs")],
      ["bytes each", size(g.br + g.bw)], ["intensity", p.x.toFixed(2) + " FLOPs/B"],
      ["on " + c.id, duration(g.t[p.ci]) + " each · " + duration(g.t[p.ci] * g.n) + " total"],
      ["attained", count(p.y, "FLOP/s") + " · " + (g.b[p.ci] === "compute" ? "compute" : "memory") + "-bound"]];
  }

  function showTip(p, ev) {
    var tip = byId("tip");
    while (tip.firstChild) tip.removeChild(tip.firstChild);
    tip.appendChild(el("div", { cls: "t-op", text: opName(p.g.op) }));
    tip.appendChild(el("table", {}, tipRows(p).map(function (r) { return el("tr", {}, [td(r[0]), td(r[1])]); })));
    tip.hidden = false;
    moveTip(ev);
  }

  function moveTip(ev) {
    var tip = byId("tip"), box = tip.parentNode.getBoundingClientRect();
    var x = ev.clientX - box.left + 14, y = ev.clientY - box.top + 14;
    if (x + tip.offsetWidth > box.width) x = ev.clientX - box.left - tip.offsetWidth - 14;
    if (y + tip.offsetHeight > box.height) y = Math.max(0, ev.clientY - box.top - tip.offsetHeight - 14);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }

  function renderRoofControls() {
    var controls = byId("roof-controls");
    if (hasBackward) {
      var seg = el("span", { cls: "seg" });
      segmented(seg, [["forward", "Forward"], ["backward", "Backward"]], "forward", function (v) { roofState.phase = v; renderRoofline(); });
      controls.appendChild(seg);
    }
    var legend = byId("roof-legend");
    chips.forEach(function (c, ci) {
      var box = el("input", { type: "checkbox", "data-chip": c.id });
      box.checked = true;
      box.addEventListener("change", function () { roofState.hidden[ci] = !box.checked; renderRoofline(); });
      var sw = el("span", { cls: "sw" });
      sw.style.background = CHIP_COLORS[ci % CHIP_COLORS.length];
      legend.appendChild(el("label", { title: c.name }, [box, sw, c.name]));
    });
    legend.appendChild(el("span", { cls: "muted" }, [el("span", { cls: "sw line" }), " matrix roof  ", el("span", { cls: "sw dash" }), " vector roof"]));
  }

  /* ------------------------------------------------------------ module tree */
  var treeState = { metric: "flops", open: {} };
  var TREE_METRICS = [["flops", "FLOPs"], ["params", "Params"], ["bytes", "Bytes"]];

  function treeRows(node, depth, key, out) {
    out.push([node, depth, key]);
    if (treeState.open[key]) {
      node.kids.forEach(function (k, i) { treeRows(k, depth + 1, key + "/" + i, out); });
      if (node.omitted) out.push([null, depth + 1, key + "/more", node.omitted]);
    }
    return out;
  }

  function renderTree() {
    var table = byId("module-tree"), root = D.module_tree;
    while (table.firstChild) table.removeChild(table.firstChild);
    var cols = [["Module"], ["Class"], ["Params", 1], ["FLOPs", 1], ["Bytes", 1]];
    if (hasBackward) cols.push(["Bwd FLOPs", 1]);
    cols.push(["Output shape"], ["Share of " + TREE_METRICS.filter(function (m) { return m[0] === treeState.metric; })[0][1]]);
    table.appendChild(header(cols));
    var body = el("tbody");
    var whole = root[treeState.metric];
    treeRows(root, 0, "0", []).forEach(function (item) {
      var node = item[0], depth = item[1], key = item[2];
      if (node === null) {
        var more = el("td", { colspan: String(cols.length), cls: "muted", text: "… " + num(item[3]) + " more children left out of this report (size limit)" });
        more.style.paddingLeft = (26 + depth * 18) + "px";
        body.appendChild(el("tr", { cls: "tree-more" }, [more]));
        return;
      }
      var name = el("td", { title: node.path || "(root)" });
      name.style.paddingLeft = (8 + depth * 18) + "px";
      if (node.kids.length || node.omitted) {
        var open = !!treeState.open[key];
        var caret = el("button", { type: "button", cls: "caret toggle", "aria-expanded": String(open), "aria-label": (open ? "collapse " : "expand ") + node.name, text: open ? "▼" : "▶" });
        caret.addEventListener("click", function () { treeState.open[key] = !open; renderTree(); });
        name.appendChild(caret);
      } else {
        name.appendChild(el("span", { cls: "caret-gap" }));
      }
      name.appendChild(document.createTextNode(node.name));
      if (node.n > 1) name.appendChild(el("span", { cls: "mult", text: "×" + node.n, title: node.n + " identical instances; figures are their total" }));
      var row = [name, td(node.cls, "cls"), td(count(node.params), "num", num(node.params)),
        td(count(node.flops), "num", num(node.flops) + " FLOPs (matmul-class); all ops: " + num(node.flops_all)),
        td(size(node.bytes), "num", num(node.bytes) + " bytes")];
      if (hasBackward) row.push(td(count(node.bwd), "num"));
      row.push(td(shapes(node.out), "shape", "in: " + shapes(node.in) + "\nout: " + shapes(node.out)));
      row.push(el("td", { cls: "bar-cell" }, [shareBar(node[treeState.metric], whole)]));
      body.appendChild(el("tr", { cls: "tree-row", "data-key": key, "data-depth": String(depth) }, row));
    });
    table.appendChild(body);
  }

  function setTreeOpen(node, key, depth, maxDepth, open) {
    if (!node.kids.length && !node.omitted) return;
    if (open && depth >= maxDepth) return;
    treeState.open[key] = open;
    node.kids.forEach(function (k, i) { setTreeOpen(k, key + "/" + i, depth + 1, maxDepth, open); });
  }

  /* Open nodes breadth-first while the visible rows stay within `budget`. */
  function openFirstRows(budget) {
    var queue = [[D.module_tree, "0"]], rows = 1;
    while (queue.length) {
      var item = queue.shift(), node = item[0];
      if (!node.kids.length || rows + node.kids.length > budget) continue;
      treeState.open[item[1]] = true;
      rows += node.kids.length;
      node.kids.forEach(function (k, i) { queue.push([k, item[1] + "/" + i]); });
    }
  }

  function renderTreeControls() {
    segmented(byId("tree-metric"), TREE_METRICS, "flops", function (v) { treeState.metric = v; renderTree(); });
    byId("tree-expand").addEventListener("click", function () { setTreeOpen(D.module_tree, "0", 0, 64, true); renderTree(); });
    byId("tree-collapse").addEventListener("click", function () { treeState.open = {}; openFirstRows(12); renderTree(); });
    openFirstRows(30);
    var r = D.report;
    byId("tree-hint").textContent = r.modules + " modules" + (r.tree_nodes < r.modules ? ", shown as " + r.tree_nodes + " rows: consecutive numbered blocks with identical structure, figures and shapes are merged (×N; figures are the total of all N)" : "")
      + ". FLOPs and bytes include each module's children." + (r.tree_omitted ? " " + num(r.tree_omitted) + " rows are left out to keep the page light (marked where they would be)." : "");
  }

  /* ------------------------------------------------------------ op table */
  var OP_COLS = [
    { key: "op", label: "Op", cls: "op clip", get: function (g) { return opName(g.op); }, title: function (g) { return g.op; } },
    { key: "module", label: "Module", cls: "mod", get: function (g) { return g.module; }, title: function (g) { return g.module; } },
    { key: "phase", label: "Phase", get: function (g) { return g.phase; }, backward: 1 },
    { key: "cat", label: "Category", get: function (g) { return g.cat; } },
    { key: "n", label: "×", num: 1, get: function (g) { return g.n; }, fmt: function (v) { return String(v); } },
    { key: "flops", label: "FLOPs", num: 1, get: function (g) { return g.flops_all * g.n; }, fmt: function (v) { return count(v); }, title: function (g) { return num(g.flops * g.n) + " matmul-class, " + num(g.flops_all * g.n) + " all"; } },
    { key: "bytes", label: "Bytes", num: 1, get: function (g) { return (g.br + g.bw) * g.n; }, fmt: size, title: function (g) { return "read " + size(g.br * g.n) + ", written " + size(g.bw * g.n); } },
    { key: "ai", label: "FLOPs/B", num: 1, get: function (g) { return g.ai || 0; }, fmt: function (v) { return v.toFixed(1); } },
    { key: "bound", label: "Bound", get: function (g) { return g.b[opState.chip]; } },
    { key: "time", label: "Time", num: 1, get: function (g) { return g.t[opState.chip] * g.n; }, fmt: duration, title: function (g) { return duration(g.t[opState.chip]) + " each"; } },
    { key: "share", label: "% time", num: 1, get: function (g) { return g.t[opState.chip] * g.n; }, fmt: function (v) { return pct(v, phaseTime()); } },
    { key: "shapes", label: "Input shapes", cls: "shape", get: function (g) { return shapes(g.in); }, title: function (g) { return "in: " + shapes(g.in) + "\nout: " + shapes(g.out) + "\n" + g.dtype; } }
  ];
  var MAX_RENDERED = 500;
  OP_COLS = OP_COLS.filter(function (c) { return hasBackward || !c.backward; });
  var opState = { key: "time", desc: true, filter: "", phase: "forward", chip: 0 };

  function phaseTime() {
    var c = chips[opState.chip][opState.phase === "all" ? "forward" : opState.phase];
    if (opState.phase === "all") return (chips[opState.chip].forward || { time_s: 0 }).time_s + ((chips[opState.chip].backward || { time_s: 0 }).time_s);
    return c ? c.time_s : 0;
  }

  function filteredOps() {
    var words = opState.filter.toLowerCase().split(/\s+/).filter(Boolean);
    var col = OP_COLS.filter(function (c) { return c.key === opState.key; })[0];
    var rows = [];
    D.op_groups.forEach(function (g, i) {
      if (opState.phase !== "all" && g.phase !== opState.phase) return;
      if (words.length) {
        var hay = (g.op + " " + g.module + " " + g.cat + " " + g.dtype + " " + g.phase + " " + shapes(g.in) + " " + g.b[opState.chip]).toLowerCase();
        for (var w = 0; w < words.length; w++) if (hay.indexOf(words[w]) < 0) return;
      }
      rows.push({ g: g, i: i, v: col.get(g) });
    });
    var sign = opState.desc ? -1 : 1;
    rows.sort(function (a, b) {
      if (a.v < b.v) return -sign;
      if (a.v > b.v) return sign;
      return a.i - b.i;
    });
    return rows;
  }

  function renderOpTable() {
    var table = byId("op-table");
    while (table.firstChild) table.removeChild(table.firstChild);
    var head = el("tr");
    OP_COLS.forEach(function (c) {
      var th = el("th", { cls: c.num ? "num" : "", "data-key": c.key, title: "sort by " + c.label });
      th.textContent = c.label;
      if (c.key === opState.key) th.setAttribute("aria-sort", opState.desc ? "descending" : "ascending");
      th.addEventListener("click", function () {
        if (opState.key === c.key) opState.desc = !opState.desc;
        else { opState.key = c.key; opState.desc = !!c.num; }
        renderOpTable();
      });
      head.appendChild(th);
    });
    table.appendChild(el("thead", {}, [head]));
    var rows = filteredOps(), body = el("tbody");
    rows.slice(0, MAX_RENDERED).forEach(function (r) {
      var tr = el("tr", { "data-index": String(r.i) });
      OP_COLS.forEach(function (c) {
        var v = c.get(r.g), cell;
        if (c.key === "bound") {
          cell = el("td", {}, [el("span", { cls: "tag " + v, text: v })]);
        } else {
          cell = td(c.fmt ? c.fmt(v) : String(v), (c.num ? "num " : "") + (c.cls || ""), c.title ? c.title(r.g) : "");
          if (c.key === "n" && v > 1) cell.classList.add("count");
        }
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    var rep = D.report;
    var parts = [rows.length + " of " + D.op_groups.length + " op groups match"];
    if (rows.length > MAX_RENDERED) parts.push("the first " + MAX_RENDERED + " are listed; narrow the filter to see others");
    byId("op-hint").textContent = parts.join("; ") + ". " + rep.ops + " ops (views left out) are merged into " + rep.op_groups
      + " groups of identical ops (same op, module pattern such as h.*.mlp, phase and shapes); figures are group totals, times from the roofline on the chosen chip."
      + (rep.op_groups_shown < rep.op_groups ? " Only the " + rep.op_groups_shown + " slowest groups are embedded in this report." : "");
  }

  function renderOpControls() {
    var phase = byId("op-phase");
    var phases = hasBackward ? [["forward", "Forward"], ["backward", "Backward"], ["all", "Both phases"]] : [["forward", "Forward"]];
    phases.forEach(function (p) { phase.appendChild(el("option", { value: p[0], text: p[1] })); });
    phase.addEventListener("change", function () { opState.phase = phase.value; renderOpTable(); });
    var chip = byId("op-chip");
    chips.forEach(function (c, i) { chip.appendChild(el("option", { value: String(i), text: "times on " + c.id })); });
    chip.addEventListener("change", function () { opState.chip = +chip.value; renderOpTable(); });
    var filter = byId("op-filter"), timer = null;
    filter.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { opState.filter = filter.value; renderOpTable(); }, 120);
    });
  }

  /* ------------------------------------------------------------ op types + classes */
  function renderOpTypes() {
    var ops = D.operators.filter(function (o) { return o.flops_all > 0 || o.bytes > 0; });
    var flopsMax = Math.max.apply(null, ops.map(function (o) { return o.flops_all; }).concat([1]));
    var bytesMax = Math.max.apply(null, ops.map(function (o) { return o.bytes; }).concat([1]));
    var t = byId("optype-table");
    var cols = [["Op type"], ["Category"]].concat(hasBackward ? [["Phase"]] : [], [["Calls", 1], ["FLOPs (all)", 1], [""], ["Bytes", 1], [""]]);
    t.appendChild(header(cols));
    t.appendChild(el("tbody", {}, ops.map(function (o) {
      var fb = shareBar(o.flops_all, flopsMax), bb = shareBar(o.bytes, bytesMax, "#f0b37a");
      fb.querySelector(".pct").textContent = "";
      bb.querySelector(".pct").textContent = "";
      return el("tr", {}, [td(opName(o.name), "op clip", o.name), td(o.category, "muted")].concat(hasBackward ? [td(o.phase)] : [], [td(num(o.count), "num"),
        td(count(o.flops_all), "num", num(o.flops_all) + " FLOPs; matmul-class " + num(o.flops)), el("td", { cls: "bar-cell" }, [fb]),
        td(size(o.bytes), "num", num(o.bytes) + " bytes"), el("td", { cls: "bar-cell" }, [bb])]));
    })));
    var views = D.operators.length - ops.length;
    byId("optype-hint").textContent = D.operators.length + " distinct aten ops (per phase)" + (views ? ", " + views + " of them views or no-ops with no FLOPs and no bytes, not listed" : "") + ". Bars compare to the largest.";

    var c = byId("class-table");
    c.appendChild(header([["Class"], ["Instances", 1], ["Own params", 1]]));
    c.appendChild(el("tbody", {}, D.module_classes.map(function (m) {
      return el("tr", {}, [td(m.cls), td(num(m.count), "num"), td(count(m.own_params), "num", num(m.own_params))]);
    })));
  }

  /* ------------------------------------------------------------ capture */
  function renderCapture() {
    var s = D.settings || {}, kv = byId("capture-kv");
    var rows = [["Model", D.model], ["Class", D.model_class], ["Source", D.source], ["Capture method", D.capture_method],
      ["Input", D.input_description],
      ["Inputs", (D.inputs || []).map(function (i) { return i.name + ": " + shape(i.shape) + " " + i.dtype; }).join("; ")],
      ["Batch size", s.batch_size], ["Sequence length", s.seq_len], ["Image size", s.image_size],
      ["Dtype", s.dtype || "model default"], ["Backward", s.backward ? "captured" : "not captured"], ["Task", s.task],
      ["Params by dtype", Object.keys(D.params.by_dtype || {}).map(function (k) { return k + ": " + num(D.params.by_dtype[k]); }).join(", ")],
      ["Trainable / frozen", num(D.params.trainable) + " / " + num(D.params.non_trainable)],
      ["Buffers", num(D.params.buffers) + " elements (not params)"]];
    rows.forEach(function (r) {
      if (r[1] === null || r[1] === undefined || r[1] === "") return;
      kv.appendChild(el("dt", { text: r[0] }));
      kv.appendChild(el("dd", { text: String(r[1]) }));
    });
    var more = byId("capture-more");
    var meta = s.metadata || {};
    if (Object.keys(meta).length) {
      more.appendChild(el("h3", { text: "Source metadata" }));
      var dl = el("dl", { cls: "kv" });
      Object.keys(meta).forEach(function (k) {
        dl.appendChild(el("dt", { text: k }));
        dl.appendChild(el("dd", { text: typeof meta[k] === "object" ? JSON.stringify(meta[k]) : String(meta[k]) }));
      });
      more.appendChild(dl);
    }
    var times = D.timings || {};
    if (Object.keys(times).length) {
      more.appendChild(el("h3", { text: "Profiling time" }));
      more.appendChild(el("div", { cls: "muted", text: Object.keys(times).map(function (k) { return k.replace(/_s$/, "") + " " + duration(times[k]); }).join(" · ") }));
    }
    if ((D.notes || []).length) {
      more.appendChild(el("h3", { text: "Notes" }));
      more.appendChild(el("ul", { cls: "notes" }, D.notes.map(function (n) { return el("li", { text: n }); })));
    }
    more.appendChild(el("h3", { text: "Ops with no FLOP convention" }));
    if ((D.unsupported_ops || []).length) {
      more.appendChild(el("ul", { cls: "notes" }, D.unsupported_ops.map(function (u) {
        return el("li", { text: u.name + " ×" + u.count + " in " + u.modules.join(", ") + " (counted as 0 FLOPs)" });
      })));
    } else {
      more.appendChild(el("div", { cls: "muted", text: "None: every op the capture met has a FLOP convention." }));
    }
  }

  renderHeader();
  renderCards();
  renderChipTable();
  renderMemory();
  renderRoofControls();
  renderRoofline();
  renderTreeControls();
  renderTree();
  renderOpControls();
  renderOpTable();
  renderOpTypes();
  renderCapture();
})();
