/* modellens report: draws the embedded result (no network, no libraries). */
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("modellens-data").textContent);
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
  function trimZeros(s) { return s.replace(/\.(\d*?)0+(?= )/, function (m, d) { return d ? "." + d : ""; }); }
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

  function card(label, value, note, accent, title) {
    var cut = value.indexOf(" ");
    var big = el("div", { cls: "value" }, cut < 0 ? [value] : [value.slice(0, cut), el("span", { cls: "unit", text: value.slice(cut) })]);
    return el("div", { cls: "card" + (accent ? " accent" : ""), title: title || "" }, [
      el("div", { cls: "label", text: label, title: label }), big, el("div", { cls: "note", text: note || "" })]);
  }

  /* ------------------------------------------------------------ one model's report */
  function renderReport(D) {
  window.modellensReport = D;
  var chips = D.chips;
  var hasBackward = D.flops.backward !== null && D.flops.backward !== undefined;
  var firstChip = chips[0];

  /* ------------------------------------------------------------ header + cards */
  function renderHeader() {
    byId("model-name").textContent = D.model;
    byId("model-sub").textContent = D.model_class + " · " + D.source + " · " + D.input_description;
    var badges = byId("badges");
    while (badges.firstChild) badges.removeChild(badges.firstChild);
    [["capture", D.capture_method], ["pass", hasBackward ? "forward + backward" : "forward"],
     ["chips", chips.map(function (c) { return c.id; }).join(", ")]].forEach(function (b) {
      badges.appendChild(el("span", { cls: "badge" }, [b[0] + " ", el("b", { text: b[1] })]));
    });
  }

  /* Six cards, always: the grid shows them as 6, 3 or 2 per row, so no row is left half empty. */
  function renderCards() {
    var host = byId("cards"), p = D.params, f = D.flops, m = D.memory;
    var dtypes = Object.keys(p.by_dtype || {}).join(", ");
    var fwd = firstChip.forward;
    host.appendChild(card("Parameters", count(p.total), size(m.weights_bytes) + " of weights" + (dtypes ? " · " + dtypes : ""), true, num(p.total) + " parameters"));
    host.appendChild(card("Forward FLOPs", count(f.forward, "FLOPs"), count(D.macs.forward, "MACs") + " · all ops " + count(f.forward_all, "FLOPs")
      + (hasBackward ? " · backward " + count(f.backward, "FLOPs") : ""), true, num(f.forward) + " FLOPs (matmul-class)"));
    host.appendChild(card("Bytes moved", size(D.report.bytes_forward), "read + written by forward ops", false, num(D.report.bytes_forward) + " bytes"));
    var ridge = firstChip.roofs.length ? firstChip.roofs[0].peak / firstChip.memory_bandwidth : 0;
    host.appendChild(card("Arithmetic intensity", (fwd ? fwd.intensity : 0).toFixed(1) + " FLOPs/B",
      "all-op FLOPs / bytes; ridge on " + firstChip.id + ": " + ridge.toFixed(1)));
    var fastest = chips.filter(function (c) { return c.forward; }).sort(function (a, b) { return a.forward.time_s - b.forward.time_s; })[0] || firstChip;
    host.appendChild(card("Predicted forward", duration(fastest.forward && fastest.forward.time_s),
      "on " + fastest.id + (chips.length > 1 ? " (fastest of " + chips.length + " chips)" : ""), false, fastest.name));
    var fit = D.fit;
    host.appendChild(card("Inference memory", size(fit ? fit.inference_bytes : m.weights_bytes + m.peak_activations_bytes),
      "weights + " + size(m.peak_activations_bytes) + " peak activations", false));
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
    /* the right margin holds every roof label whole, however long the chip id */
    var longest = 0;
    chips.forEach(function (c) { c.roofs.forEach(function (r) { longest = Math.max(longest, (short(r.peak) + " · " + c.id).length); }); });
    var W = 1020, H = 480, L = 78, R = Math.max(170, Math.ceil(16 + 7.4 * longest)), T = 12, B = 52;
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

  /* ------------------------------------------------------------ does it fit */
  /* The need, with a bar for its share of the usable memory (red past it). */
  function fitCell(f) {
    var frac = f.usable_bytes > 0 ? f.needed_bytes / f.usable_bytes : 1;
    var fill = el("div", { cls: "fill" + (f.fits ? "" : " over") });
    fill.style.width = (100 * Math.min(1, frac)).toFixed(2) + "%";
    return el("td", { cls: "num fit-need", title: num(f.needed_bytes) + " bytes: " + (100 * frac).toFixed(1) + "% of " + size(f.usable_bytes) + " usable" }, [
      el("div", { text: size(f.needed_bytes) }), el("div", { cls: "share" }, [el("div", { cls: "track" }, [fill]), el("span", { cls: "pct", text: (100 * frac).toFixed(0) + "%" })])]);
  }
  function headroom(f) {
    return el("td", { cls: "num", title: (f.headroom_bytes < 0 ? "short by " : "left over: ") + num(Math.abs(f.headroom_bytes)) + " bytes" }, [
      (f.headroom_bytes < 0 ? "−" : "") + size(Math.abs(f.headroom_bytes)) + " ", el("span", { cls: "tag " + (f.fits ? "ok" : "no"), text: f.fits ? "fits" : "too big" })]);
  }

  function renderFit() {
    var fit = D.fit, t = byId("fit-table");
    if (!fit) { byId("fit").hidden = true; return; }
    t.appendChild(header([["Chip"], ["Memory", 1], ["Inference needs", 1], ["Headroom", 1], ["Training needs", 1], ["Headroom", 1]]));
    t.appendChild(el("tbody", {}, chips.map(function (c, i) {
      var f = fit.chips[i];
      return el("tr", { "data-chip": c.id }, [td(c.id, "chip-id", c.name), td(size(f.inference.capacity_bytes), "num", size(f.inference.usable_bytes) + " usable"),
        fitCell(f.inference), headroom(f.inference), fitCell(f.training), headroom(f.training)]);
    })));
    var tr = fit.training;
    byId("fit-hint").textContent = "One device, this batch and input. Usable memory: 90% of capacity (allocator, context, fragmentation); headroom is what is left of it. "
      + "Inference: weights + peak live forward activations. Training (" + fit.optimizer + ", DDP): weights " + size(tr.weights_bytes) + " + gradients " + size(tr.gradients_bytes)
      + " + optimizer states " + size(tr.optimizer_bytes) + " + activations " + size(tr.activations_bytes)
      + (fit.training_measured ? " (peak of the captured forward + backward)." : " (every forward activation counted as kept for backward: an estimate; --backward measures it).");
  }

  /* ------------------------------------------------------------ line charts (LLM section) */
  function lineChart(host, o) {
    while (host.firstChild) host.removeChild(host.firstChild);
    var W = o.width || 520, H = 300, L = 86, R = o.right || 16, T = 12, B = 46;
    host.setAttribute("viewBox", "0 0 " + W + " " + H);
    var xs = [], ys = [];
    o.series.forEach(function (s) { s.points.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); }); });
    function tx(v, log) { return log ? log10(v) : v; }
    var x0 = Math.min.apply(null, xs.map(function (v) { return tx(v, o.xlog); })), x1 = Math.max.apply(null, xs.map(function (v) { return tx(v, o.xlog); }));
    var y0 = o.ylog ? Math.min.apply(null, ys.map(function (v) { return tx(v, true); })) - 0.1 : 0, y1 = Math.max.apply(null, ys.map(function (v) { return tx(v, o.ylog); }));
    y1 = o.ylog ? y1 + 0.1 : y1 * 1.08;
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) y1 = y0 + 1;
    function sx(v) { return L + (tx(v, o.xlog) - x0) / (x1 - x0) * (W - L - R); }
    function sy(v) { return T + (y1 - tx(v, o.ylog)) / (y1 - y0) * (H - T - B); }
    svg("rect", { x: L, y: T, width: W - L - R, height: H - T - B, class: "frame" }, host);
    var ticks = function (a, b, log) {
      var out = [], e;
      if (log) { for (e = Math.ceil(a); e <= b; e++) out.push(Math.pow(10, e)); return out; }
      var step = Math.pow(10, Math.floor(log10((b - a) / 4))), span = b - a;
      if (span / step > 10) step *= 5; else if (span / step > 5) step *= 2;
      for (e = Math.ceil(a / step) * step; e <= b + 1e-9; e += step) out.push(e);
      return out;
    };
    ticks(x0, x1, o.xlog).forEach(function (v) {
      svg("line", { x1: sx(v), x2: sx(v), y1: T, y2: H - B, class: "grid" }, host);
      svg("text", { x: sx(v), y: H - B + 16, "text-anchor": "middle" }, host).textContent = o.xfmt(v);
    });
    ticks(y0, y1, o.ylog).forEach(function (v) {
      svg("line", { x1: L, x2: W - R, y1: sy(v), y2: sy(v), class: "grid" }, host);
      svg("text", { x: L - 6, y: sy(v) + 4, "text-anchor": "end" }, host).textContent = o.yfmt(v);
    });
    svg("text", { x: L + (W - L - R) / 2, y: H - 8, "text-anchor": "middle", class: "axis-title" }, host).textContent = o.xlabel;
    svg("text", { x: 14, y: T + (H - T - B) / 2, "text-anchor": "middle", class: "axis-title", transform: "rotate(-90 14 " + (T + (H - T - B) / 2) + ")" }, host).textContent = o.ylabel;
    host.setAttribute("data-series", String(o.series.length));
    (o.hlines || []).forEach(function (h) {
      if (tx(h.y, o.ylog) > y1) return;
      svg("line", { x1: L, x2: W - R, y1: sy(h.y), y2: sy(h.y), stroke: h.color, "stroke-dasharray": "5 4", "stroke-width": 1.5 }, host);
      var label = svg("text", { x: W - R - 4, y: sy(h.y) - 4, "text-anchor": "end", class: "roof-label" }, host);
      label.style.fill = h.color;
      label.textContent = h.label;
    });
    o.series.forEach(function (s) {
      var d = s.points.map(function (p, i) { return (i ? "L" : "M") + sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1); }).join(" ");
      svg("path", { d: d, fill: "none", stroke: s.color, "stroke-width": 2, class: "series", "data-label": s.label }, host);
      s.points.forEach(function (p) {
        var dot = svg("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3, fill: s.color }, host);
        svg("title", {}, dot).textContent = s.label + ": " + o.xfmt(p[0]) + " → " + o.yfmt(p[1]);
      });
      if (s.points.length && o.labels) {
        var last = s.points[s.points.length - 1];
        var text = svg("text", { x: sx(last[0]) + 6, y: sy(last[1]) + 4, class: "roof-label" }, host);
        text.style.fill = s.color;
        text.textContent = s.label;
      }
    });
  }

  /* ------------------------------------------------------------ LLM section */
  function renderLLM() {
    var L = D.llm;
    if (!L) return;
    byId("llm").hidden = false;
    var s = L.settings, mem = L.memory, pre = L.prefill, dec = L.decode, chip = L.hardware;
    byId("llm-hint").textContent = "From captures of a prefill of the " + num(s.prompt_len) + "-token prompt and of single-token decode steps with a KV cache "
      + "of each context (" + dec.points.map(function (p) { return num(p.context); }).join(", ") + " tokens), " + s.dtype + ", batch " + s.batch_size + ", " + s.execution
      + " kernels, on " + chip.name + " (as `modellens llm` reports it). Decode tokens/s vs batch on the other chips scales that step: weights are read once per step, FLOPs and KV bytes grow with the batch.";
    var host = byId("llm-cards");
    host.appendChild(card("Time to first token", duration(L.prefill.time_to_first_token_s), "prefill of " + num(s.prompt_len) + " tokens on " + chip.id, true));
    host.appendChild(card("Decode", num(dec.tokens_per_second, 0) + " tokens/s", "average over " + num(s.gen_len) + " generated tokens", true));
    host.appendChild(card("End to end", duration(L.end_to_end_s), "prefill + " + num(s.gen_len) + " decode steps"));
    host.appendChild(card("KV cache", size(mem.kv_cache_bytes), size(mem.kv_bytes_per_token) + " per token, " + s.kv_dtype));
    host.appendChild(card("Memory needed", size(mem.needed_bytes), (mem.fits ? "fits in " : "exceeds ") + size(mem.available_bytes) + " usable on " + chip.id));
    host.appendChild(card("Largest batch", num(mem.max_batch), "at " + num(s.prompt_len + s.gen_len) + " tokens; longest context at batch " + s.batch_size + ": " + num(mem.max_context)));

    var t = byId("llm-steps");
    t.appendChild(header([["Step"], ["Tokens", 1], ["Time", 1], ["Tokens/s", 1], ["FLOPs", 1], ["Bytes", 1], ["KV bytes", 1], ["FLOPs/B", 1], ["Bound"]]));
    var rows = [["prefill", s.prompt_len * s.batch_size, pre]].concat(dec.points.map(function (p) { return ["decode @ " + num(p.context), s.batch_size, p]; }));
    t.appendChild(el("tbody", {}, rows.map(function (r) {
      var c = r[2];
      return el("tr", {}, [td(r[0]), td(num(r[1]), "num"), td(duration(c.time_s), "num"), td(num(r[1] / c.time_s, 0), "num"), td(count(c.flops), "num", num(c.flops)),
        td(size(c.bytes), "num", num(c.bytes)), td(size(c.kv_bytes), "num"), td(c.intensity.toFixed(1), "num"), el("td", {}, [el("span", { cls: "tag " + c.bound, text: c.bound })])]);
    })));

    var maxCtx = s.prompt_len + s.gen_len, weights = mem.weights_bytes;
    var per = mem.kv_bytes_per_token * s.batch_size, kvPoints = [], totalPoints = [];
    for (var i = 0; i <= 8; i++) {
      var ctx = Math.round(maxCtx * i / 8);
      kvPoints.push([ctx, per * ctx]);
      totalPoints.push([ctx, weights + per * ctx]);
    }
    lineChart(byId("llm-kv"), {
      width: 620, right: 150, labels: true,
      series: [{ label: "KV cache", color: CHIP_COLORS[1], points: kvPoints }, { label: "+ weights", color: CHIP_COLORS[0], points: totalPoints }],
      hlines: L.per_chip.map(function (c, ci) { return { y: c.usable_bytes, label: c.chip + " usable", color: CHIP_COLORS[ci % CHIP_COLORS.length] }; }),
      xlabel: "Context (tokens, batch " + s.batch_size + ")", ylabel: "", xfmt: function (v) { return count(v).replace(".00", ""); }, yfmt: function (v) { return trimZeros(size(v)); } });

    lineChart(byId("llm-batch"), {
      width: 760, right: 130, xlog: true, ylog: true, labels: true,
      series: L.per_chip.map(function (c, ci) { return { label: c.chip, color: CHIP_COLORS[ci % CHIP_COLORS.length], points: L.batches.map(function (b, j) { return [b, c.tokens_per_second[j]]; }) }; }),
      xlabel: "Batch size (sequences decoding together, log)", ylabel: "Decode tokens/s (log)", xfmt: function (v) { return String(v); }, yfmt: function (v) { return short(v); } });
  }
  /* ------------------------------------------------------------ treemap */
  var MAP_METRICS = [["flops", "FLOPs"], ["params", "Params"], ["bytes", "Bytes"], ["time", "Time"]];
  var MAP_COLORS = ["#4c5fd5", "#e0832f", "#1b9e77", "#d6457a", "#8e5bd6", "#b8a10f", "#2b8cbe", "#7f7f7f", "#c0392b", "#16a085"];
  var MAP_DEPTH = 5;  /* levels drawn below the zoomed node (where the boxes are large enough) */
  var mapState = { metric: "flops", chip: 0, stack: [D.module_tree] };

  function mapValue(n) {
    if (mapState.metric === "time") return (n.t && n.t[mapState.chip]) || 0;
    return n[mapState.metric] || 0;
  }
  function mapFormat(v) {
    if (mapState.metric === "flops") return count(v, "FLOPs");
    if (mapState.metric === "bytes") return size(v);
    if (mapState.metric === "time") return duration(v);
    return count(v);
  }

  /* Squarified treemap (Bruls, Huizing, van Wijk 2000): items {v, ref}, largest first, laid out
     in rows along the shorter side so the rectangles stay close to square. */
  function squarify(items, x, y, w, h) {
    var total = items.reduce(function (s, it) { return s + it.v; }, 0), out = [];
    if (!(total > 0) || w <= 0 || h <= 0) return out;
    var scale = w * h / total, queue = items.map(function (it) { return { ref: it.ref, v: it.v, a: it.v * scale }; });
    function worst(row, side) {
      var s = 0, mx = 0, mn = Infinity;
      row.forEach(function (r) { s += r.a; mx = Math.max(mx, r.a); mn = Math.min(mn, r.a); });
      return Math.max(side * side * mx / (s * s), s * s / (side * side * mn));
    }
    function place(row) {
      var s = row.reduce(function (t, r) { return t + r.a; }, 0);
      if (w >= h) {
        var cw = s / h, yy = y;
        row.forEach(function (r) { var rh = r.a / cw; out.push({ ref: r.ref, v: r.v, x: x, y: yy, w: cw, h: rh }); yy += rh; });
        x += cw; w -= cw;
      } else {
        var rh2 = s / w, xx = x;
        row.forEach(function (r) { var rw = r.a / rh2; out.push({ ref: r.ref, v: r.v, x: xx, y: y, w: rw, h: rh2 }); xx += rw; });
        y += rh2; h -= rh2;
      }
    }
    var row = [], i = 0;
    while (i < queue.length) {
      var side = Math.min(w, h), cand = row.concat([queue[i]]);
      if (!row.length || worst(cand, side) <= worst(row, side)) { row = cand; i++; }
      else { place(row); row = []; }
    }
    if (row.length) place(row);
    return out;
  }

  /* A node's children as treemap items, plus what the node spends outside them ("own"). */
  function mapItems(node) {
    var items = node.kids.map(function (k) { return { v: mapValue(k), ref: k }; }).filter(function (it) { return it.v > 0; });
    var inKids = items.reduce(function (s, it) { return s + it.v; }, 0), own = mapValue(node) - inKids;
    if (own > 1e-9 * mapValue(node) && own > 0) items.push({ v: own, ref: null });
    items.sort(function (a, b) { return b.v - a.v; });
    return items;
  }

  function renderMap() {
    var host = byId("map-svg"), root = mapState.stack[mapState.stack.length - 1];
    while (host.firstChild) host.removeChild(host.firstChild);
    /* drawn at the width it is shown at, so labels keep their size on narrow screens */
    var W = Math.round(Math.max(320, host.parentNode.getBoundingClientRect().width || 1020)), H = W < 700 ? 360 : 460, whole = mapValue(root);
    host.setAttribute("viewBox", "0 0 " + W + " " + H);
    function draw(node, x, y, w, h, depth, color) {
      squarify(mapItems(node), x, y, w, h).forEach(function (r, i) {
        var kid = r.ref, c = depth === 0 ? MAP_COLORS[i % MAP_COLORS.length] : color;
        var g = svg("g", { class: "cell" }, host);
        var rect = svg("rect", { x: r.x.toFixed(2), y: r.y.toFixed(2), width: Math.max(0, r.w).toFixed(2), height: Math.max(0, r.h).toFixed(2),
          fill: c, "fill-opacity": kid ? 0.16 : 0.05, "stroke-width": depth === 0 ? 2 : 1,
          "data-path": kid ? kid.path : node.path + " (own)", "data-name": kid ? kid.name : "(own)", "data-depth": String(depth), "data-value": String(r.v), class: kid ? "node" : "own" }, g);
        var name = kid ? kid.name + (kid.n > 1 ? " ×" + kid.n : "") : "(outside children)";
        svg("title", {}, rect).textContent = (kid ? (kid.path || "(root)") + " · " + kid.cls : "in " + (node.path || "(root)") + " itself, outside its children")
          + "\n" + mapFormat(r.v) + " · " + pct(r.v, whole) + " of " + (root.path || "the model");
        var nested = kid && kid.kids.length && depth < MAP_DEPTH && r.w > 60 && r.h > 44;
        if (r.w > 44 && r.h > 16) {
          var label = svg("text", { x: (r.x + 4).toFixed(1), y: (r.y + 13).toFixed(1), class: "map-label" + (depth === 0 ? " top" : "") }, g);
          var chars = Math.floor((r.w - 8) / 6.6);
          label.textContent = name.length > chars ? name.slice(0, Math.max(1, chars - 1)) + "…" : name;
          if (!nested && r.h > 32 && r.w > 50) {
            svg("text", { x: (r.x + 4).toFixed(1), y: (r.y + 27).toFixed(1), class: "map-value" }, g).textContent = pct(r.v, whole);
          }
        }
        if (kid && kid.kids.length) {
          rect.style.cursor = "zoom-in";
          rect.addEventListener("click", function (ev) { ev.stopPropagation(); mapState.stack.push(kid); renderMap(); });
        }
        if (nested) draw(kid, r.x + 3, r.y + 18, r.w - 6, r.h - 21, depth + 1, c);
      });
    }
    draw(root, 0, 0, W, H, 0, null);
    var crumbs = byId("map-crumbs");
    while (crumbs.firstChild) crumbs.removeChild(crumbs.firstChild);
    mapState.stack.forEach(function (n, i) {
      if (i) crumbs.appendChild(document.createTextNode(" › "));
      var b = el("button", { type: "button", cls: "crumb", text: (n.path || "(root)") + (n.n > 1 ? " ×" + n.n : "") });
      b.addEventListener("click", function () { mapState.stack = mapState.stack.slice(0, i + 1); renderMap(); });
      crumbs.appendChild(b);
    });
    crumbs.appendChild(el("span", { cls: "muted", text: "  " + mapFormat(whole) + (mapState.metric === "time" ? " on " + chips[mapState.chip].id : "") }));
  }

  function renderMapControls() {
    segmented(byId("map-metric"), MAP_METRICS, "flops", function (v) {
      mapState.metric = v;
      byId("map-chip").hidden = v !== "time";
      renderMap();
    });
    var chip = byId("map-chip");
    chips.forEach(function (c, i) { chip.appendChild(el("option", { value: String(i), text: "time on " + c.id })); });
    chip.hidden = true;
    chip.addEventListener("change", function () { mapState.chip = +chip.value; renderMap(); });
    var resized = null, shown = byId("map-svg").parentNode.getBoundingClientRect().width;
    window.onresize = function () {  /* one handler: the model on show (compare redraws) */
      clearTimeout(resized);
      resized = setTimeout(function () {
        var now = byId("map-svg") && byId("map-svg").parentNode.getBoundingClientRect().width;
        if (now && Math.abs(now - shown) > 1) { shown = now; renderMap(); }
      }, 150);
    };
    byId("map-hint").textContent = "Area is each module's share of the chosen figure (its submodules included); boxes nest up to five levels deep where there is room. Click a box to zoom in, a crumb above to go back. "
      + "FLOPs: forward matmul-class; time: predicted forward time on the chosen chip. Faint boxes: what a module spends outside its children (its own ops or parameters). Merged blocks (×N) count all N.";
  }

  /* ------------------------------------------------------------ module tree */
  var treeState = { metric: "flops", open: {}, words: [] };
  var TREE_METRICS = [["flops", "FLOPs (matmul)"], ["params", "Params"], ["bytes", "Bytes"]];

  /* Mark each node: does it match every search word (_hit), does a descendant (_below)? */
  function treeSearch(node, words) {
    var hay = ((node.path || "(root)") + " " + node.name + " " + node.cls).toLowerCase();
    node._hit = words.every(function (w) { return hay.indexOf(w) >= 0; });
    node._below = false;
    node.kids.forEach(function (k) { if (treeSearch(k, words)) node._below = true; });
    return node._hit || node._below;
  }

  function treeRows(node, depth, key, out) {
    var searching = treeState.words.length > 0;
    if (searching && !node._hit && !node._below) return out;
    out.push([node, depth, key]);
    if (searching ? node._below : treeState.open[key]) {
      node.kids.forEach(function (k, i) { treeRows(k, depth + 1, key + "/" + i, out); });
      if (node.omitted && !searching) out.push([null, depth + 1, key + "/more", node.omitted]);
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
    var whole = root[treeState.metric], hits = 0;
    if (treeState.words.length) treeSearch(root, treeState.words);
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
      var hit = treeState.words.length && node._hit;
      if (hit) hits++;
      body.appendChild(el("tr", { cls: "tree-row" + (hit ? " hit" : ""), "data-key": key, "data-depth": String(depth) }, row));
    });
    table.appendChild(body);
    var status = byId("tree-status");
    status.textContent = treeState.words.length ? hits + " module rows match; their parents are shown for context" : "";
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
    var search = byId("tree-filter"), timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { treeState.words = search.value.toLowerCase().split(/\s+/).filter(Boolean); renderTree(); }, 120);
    });
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
    { key: "flops", label: "FLOPs (all)", num: 1, get: function (g) { return g.flops_all * g.n; }, fmt: function (v) { return count(v); }, title: function (g) { return num(g.flops * g.n) + " matmul-class, " + num(g.flops_all * g.n) + " all"; } },
    { key: "bytes", label: "Bytes", num: 1, get: function (g) { return (g.br + g.bw) * g.n; }, fmt: size, title: function (g) { return "read " + size(g.br * g.n) + ", written " + size(g.bw * g.n); } },
    { key: "ai", label: "All FLOPs/B", num: 1, get: function (g) { return g.ai || 0; }, fmt: function (v) { return v.toFixed(1); } },
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
  renderFit();
  renderLLM();
  renderRoofControls();
  renderRoofline();
  renderMapControls();
  renderMap();
  renderTreeControls();
  renderTree();
  renderOpControls();
  renderOpTable();
  renderOpTypes();
  renderCapture();
  }

  /* ------------------------------------------------------------ compare: models side by side */
  var COMPARE_ROWS = [
    ["Params", "params", count], ["FLOPs fwd (matmul)", "forward_flops", function (v) { return count(v, "FLOPs"); }],
    ["FLOPs fwd (all ops)", "forward_flops_all", function (v) { return count(v, "FLOPs"); }],
    ["FLOPs bwd (matmul)", "backward_flops", function (v) { return count(v, "FLOPs"); }],
    ["Memory, inference", "inference_memory_bytes", size], ["Memory, training", "training_memory_bytes", size]];

  function renderCompare(C, models, show) {
    byId("compare").hidden = false;
    var cmp = C.models, t = byId("compare-table");
    t.appendChild(header([[""]].concat(cmp.map(function (m) { return [m.model, 1]; }))));
    var rows = COMPARE_ROWS.map(function (r) { return [r[0] + (r[1] === "training_memory_bytes" ? " (" + C.optimizer + ")" : ""), function (m) { return m[r[1]]; }, r[2]]; });
    C.chips.forEach(function (chip) { rows.push(["Fwd time, " + chip, function (m) { return m.forward_time_s[chip]; }, duration]); });
    rows.push(["Intensity (FLOPs/B)", function (m) { return m.arithmetic_intensity; }, function (v) { return v.toFixed(1); }]);
    var body = el("tbody", {}, [el("tr", {}, [td("Class", "muted")].concat(cmp.map(function (m) { return td(m.model_class, "num muted"); })))]);
    rows.forEach(function (r) {
      var values = cmp.map(r[1]), most = Math.max.apply(null, values.map(function (v) { return v || 0; }));
      body.appendChild(el("tr", {}, [td(r[0])].concat(values.map(function (v) {
        var cell = el("td", { cls: "num cmp" }, [el("div", { text: r[2](v) })]);
        var bar = el("div", { cls: "cmp-bar" });
        bar.style.width = (most > 0 ? 100 * (v || 0) / most : 0).toFixed(1) + "%";
        cell.appendChild(bar);
        return cell;
      }))));
    });
    t.appendChild(body);
    byId("compare-hint").textContent = cmp.length + " models, each profiled forward and backward at its own default input (" + cmp.map(function (m) { return m.model + ": " + m.input_description; }).join("; ")
      + "). Bars compare each row to its largest value. Predicted times on " + C.chips.map(function (c) { return c + " = " + C.chip_names[c]; }).join(", ") + ".";

    var f = byId("compare-fit"), chipsOf = models[0].chips;
    f.appendChild(header([["Chip"], ["Memory", 1]].concat(models.map(function (m) { return [m.model + ": inference / training"]; }))));
    f.appendChild(el("tbody", {}, chipsOf.map(function (c, ci) {
      return el("tr", {}, [td(c.id, "chip-id", c.name), td(size(c.memory_bytes), "num")].concat(models.map(function (m) {
        var fit = m.fit.chips[ci];
        return el("td", {}, [["inference", fit.inference], ["training", fit.training]].map(function (p) {
          return el("span", { cls: "tag " + (p[1].fits ? "ok" : "no"), title: p[0] + ": " + size(p[1].needed_bytes) + " of " + size(p[1].usable_bytes) + " usable",
            text: p[0] + " " + (p[1].fits ? "fits" : "too big") + " (" + (p[1].headroom_bytes < 0 ? "−" : "+") + size(Math.abs(p[1].headroom_bytes)) + ")" });
        }));
      })));
    })));

    var pick = byId("compare-pick");
    segmented(pick, models.map(function (m, i) { return [String(i), m.model]; }), "0", function (v) { show(+v); });
  }

  /* ------------------------------------------------------------ porting */
  function renderPorting(P) {
    byId("porting").hidden = false;
    byId("model-name").textContent = P.models.map(function (m) { return m.name; }).join(", ");
    byId("model-sub").textContent = "Porting: every unique op configuration run on " + P.backend + " (" + P.device + ")";
    var badges = byId("badges");
    [["backend", P.backend], ["device", P.device], ["models", String(P.models.length)]].forEach(function (b) {
      badges.appendChild(el("span", { cls: "badge" }, [b[0] + " ", el("b", { text: b[1] })]));
    });
    byId("porting-title").textContent = "Porting to " + P.backend + " on " + P.device;
    byId("foot").textContent = "Generated by " + document.querySelector("meta[name=generator]").content
      + ": every unique op configuration of the models, run alone on the backend with seeded random inputs and compared to eager CPU float64 where the op is deterministic.";
    var counts = P.counts || {}, runs = P.models.filter(function (m) { return m.runs; }).length;
    var cards = byId("porting-cards");
    cards.appendChild(card("Configurations", num(P.configs.length), "unique across " + P.models.length + " models", true));
    cards.appendChild(card("Pass", num(counts.pass || 0), pct(counts.pass || 0, P.configs.length) + " of them", true));
    cards.appendChild(card("Fail", num(counts.fail || 0), P.rollup.length + (P.rollup.length === 1 ? " op" : " ops") + " to fix"));
    cards.appendChild(card("Not runnable alone", num(counts["not runnable alone"] || 0), "need the model's context"));
    cards.appendChild(card("Models that run", runs + " / " + P.models.length, "every configuration passes"));
    cards.appendChild(card("Time", duration(P.seconds), (counts["not run"] ? counts["not run"] + " not run (time budget)" : "all configurations run")));
    byId("porting-hint").textContent = "A configuration is one aten op with its operand shapes, dtypes and attributes, run alone on the backend with random inputs and compared to eager CPU float64. "
      + (P.notes || []).join(" ");

    var r = byId("porting-rollup");
    r.appendChild(header([["Op"], ["Called as"], ["Unblocks", 1], ["Blocks", 1], ["Models blocked"], ["Failing configs", 1], ["Stages"], ["Error"]]));
    r.appendChild(el("tbody", {}, P.rollup.length ? P.rollup.map(function (b) {
      return el("tr", {}, [td(opName(b.op), "op", b.op), td(b.torch_ops.join(", "), "muted"), td(String(b.unblocks.length), "num", b.unblocks.join(", ") || "none alone"),
        td(String(b.models_blocked.length), "num"), td(b.models_blocked.join(", ")), td(String(b.failing_configs.length), "num", b.failing_configs.join(", ")),
        td(Object.keys(b.stages).map(function (k) { return k + ": " + b.stages[k]; }).join(", ")), td(b.error, "clip err", b.error)]);
    }) : [el("tr", {}, [el("td", { colspan: "8", cls: "muted", text: "Nothing blocks any model." })])]));

    var m = byId("porting-models");
    m.appendChild(header([["Model"], ["Class"], ["Capture"], ["Configs", 1], ["Failing", 1], ["Blocked by"], [""]]));
    m.appendChild(el("tbody", {}, P.models.map(function (x) {
      return el("tr", {}, [td(x.name), td(x.model_class, "muted"), td(x.capture_method, "muted"), td(num(x.configs), "num"), td(num(x.failing.length), "num"),
        td(x.blocked_by.map(opName).join(", ") || "–"), el("td", {}, [el("span", { cls: "tag " + (x.runs ? "ok" : "no"), text: x.runs ? "runs" : "blocked" })])]);
    })));

    var state = { words: [], status: "all" }, statuses = ["all"].concat(Object.keys(counts).sort());
    var select = byId("config-status");
    statuses.forEach(function (s) { select.appendChild(el("option", { value: s, text: s === "all" ? "every status" : s + " (" + counts[s] + ")" })); });
    function configShapes(c) { return c.inputs.map(function (i) { return shape(i.shape) + " " + i.dtype; }).join(", "); }
    function drawConfigs() {
      var t = byId("porting-configs");
      while (t.firstChild) t.removeChild(t.firstChild);
      t.appendChild(header([["Id"], ["Op"], ["Called as"], ["Inputs"], ["Status"], ["Stage"], ["Error"], ["Max abs err", 1], ["Calls", 1], ["Models"]]));
      var shown = P.configs.filter(function (c) {
        if (state.status !== "all" && c.status !== state.status) return false;
        var res = c.result || {};
        var hay = (c.id + " " + c.op + " " + c.torch_ops.join(" ") + " " + configShapes(c) + " " + Object.keys(c.models).join(" ") + " " + (res.error || "") + " " + c.status).toLowerCase();
        return state.words.every(function (w) { return hay.indexOf(w) >= 0; });
      });
      t.appendChild(el("tbody", {}, shown.slice(0, 1000).map(function (c) {
        var res = c.result || {}, cls = c.status === "pass" ? "ok" : c.status === "fail" ? "no" : "warn";
        return el("tr", { "data-config": c.id }, [td(c.id, "mono"), td(opName(c.op), "op"), td(c.torch_ops.join(", "), "muted clip"), td(configShapes(c), "shape", configShapes(c)),
          el("td", {}, [el("span", { cls: "tag " + cls, text: c.status })]), td(res.stage || "–"), td(res.error || "", "clip err", res.error || ""),
          td(res.max_abs === null || res.max_abs === undefined ? "–" : res.max_abs.toExponential(1), "num", res.reference || ""), td(num(c.calls), "num"),
          td(Object.keys(c.models).join(", "), "clip", Object.keys(c.models).map(function (k) { return k + ": " + c.models[k].slice(0, 3).join(", "); }).join("\n"))]);
      })));
      byId("config-hint").textContent = shown.length + " of " + P.configs.length + " configurations match" + (shown.length > 1000 ? "; the first 1000 are listed" : "") + ". Hover an error, the models or the max error for more.";
    }
    select.addEventListener("change", function () { state.status = select.value; drawConfigs(); });
    var filter = byId("config-filter"), timer = null;
    filter.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.words = filter.value.toLowerCase().split(/\s+/).filter(Boolean); drawConfigs(); }, 120);
    });
    drawConfigs();
  }

  /* ------------------------------------------------------------ tabs, and what the page is */
  function renderTabs() {
    var tabs = byId("tabs");
    while (tabs.firstChild) tabs.removeChild(tabs.firstChild);
    [["compare", "Compare"], ["porting", "Porting"], ["summary", "Summary"], ["fit", "Fit"], ["llm", "LLM"], ["roofline", "Roofline"],
     ["treemap", "Treemap"], ["modules", "Modules"], ["ops", "Ops"], ["optypes", "Op types"], ["capture", "Capture"]].forEach(function (t) {
      var target = byId(t[0]);
      if (!target || target.hidden || target.closest("[hidden]")) return;
      tabs.appendChild(el("a", { href: "#" + t[0], text: t[1] }));
    });
  }

  var sections = byId("model-sections"), TEMPLATE = sections.innerHTML;
  if (DATA.kind === "porting") {
    sections.hidden = true;
    renderPorting(DATA.porting);
  } else if (DATA.kind === "compare") {
    var showModel = function (i) {
      sections.innerHTML = TEMPLATE;
      renderReport(DATA.models[i]);
      byId("model-name").textContent = DATA.models.map(function (m) { return m.model; }).join(" vs ");
      byId("model-sub").textContent = "Compared side by side; details below for " + DATA.models[i].model;
      renderTabs();
    };
    renderCompare(DATA.compare, DATA.models, showModel);
    showModel(0);
  } else {
    renderReport(DATA);
  }
  renderTabs();
})();
