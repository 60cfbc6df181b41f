/* highmem report, part 1 of 2: the data, the timeline (canvas, zoom and pan, overview).
   html.py joins timeline.js and player.js inside one function scope; neither runs alone.
   Everything is drawn from the JSON in #trace-data (see highmem/report/page_data.py); nothing is
   fetched.  Text goes into the page only through textContent or escaped strings. */
  var D = JSON.parse(document.getElementById("trace-data").textContent);
  var M = D.meta, NAMES = D.names, SHAPES = D.shapes, R = D.rec;
  var LAST = Math.max(1, M.last);
  var STATE = {cpu_state: 1, slot_state: 1, pkmap_state: 1};
  var EVC = {context: "#8a8f98", kmap_atomic: "#6a3fc0", kunmap_atomic: "#a98be0", load: "#1f9e89",
    store: "#2f6fd6", set_pte: "#a0703c", pte_clear: "#c9a27a", tlb_flush_one: "#56657d", tlb_flush_all: "#2e3a4d",
    tlb_fill: "#9aa6b8", fault: "#d62839", bug: "#d62839", warn: "#d99a00", irq_flags: "#c08a00", kmap: "#3a8fb7",
    kunmap: "#8cc3dd", pkmap_flush: "#1d5e7a", bounce: "#888888"};
  var FONT = '11px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif';
  var BOLD = '600 11px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif';

  // -- records ------------------------------------------------------------------------------------
  function kindOf(r) { return SHAPES[r[0]][0]; }
  function fld(r, f) { var fs = SHAPES[r[0]][1], i = fs.indexOf(f); return i < 0 ? undefined : r[4 + i]; }
  function recObj(i) {
    var r = R[i], o = {step: r[1], kind: kindOf(r)};
    if (r[2] >= 0) { o.cpu = r[2]; }
    if (r[3]) { o.context = NAMES[r[3]]; }
    var fs = SHAPES[r[0]][1];
    for (var k = 0; k < fs.length; k++) { o[fs[k]] = r[4 + k]; }
    return o;
  }
  function hex(v) { return typeof v === "number" ? "0x" + v.toString(16) : String(v); }
  function addr(v) { return typeof v === "number" ? "0x" + ("00000000" + v.toString(16)).slice(-8) : String(v); }
  function summary(i) {
    var r = R[i], k = kindOf(r), g = function (f) { return fld(r, f); };
    switch (k) {
      case "context": return g("ctx_kind") + " " + g("what") + (g("detail") ? " (" + g("detail") + ")" : "");
      case "kmap_atomic":
        if (g("idx") < 0) { return g("type") + ": lowmem page " + hex(g("pfn")) + " is already mapped at " + addr(g("vaddr")); }
        return g("type") + " (idx " + g("idx") + ") at " + addr(g("vaddr")) + " now maps page " + hex(g("pfn"));
      case "kunmap_atomic": return g("type") + " (idx " + g("idx") + ") at " + addr(g("vaddr")) + (g("cleared") ? ", PTE cleared" : "");
      case "load": case "store":
        return g("size") + " bytes at " + addr(g("vaddr")) + " reached page " + hex(g("pfn")) + (g("tlb") ? " (TLB hit)" : " (page-table walk)");
      case "set_pte": return "PTE of " + addr(g("vaddr")) + ": " + hex(g("old")) + " -> " + hex(g("new"));
      case "pte_clear": return "PTE of " + addr(g("vaddr")) + " cleared (was " + hex(g("old")) + ")";
      case "tlb_flush_one": return "__flush_tlb_one(" + addr(g("vaddr")) + "): " + (g("present") ? "entry dropped" : "no entry cached");
      case "tlb_flush_all": return (g("include_global") ? "__flush_tlb_all()" : "__flush_tlb()") + ": " + g("dropped") + " entries dropped";
      case "tlb_fill": return "TLB filled: " + addr(g("vaddr")) + " -> page " + hex(g("pfn"));
      case "fault": return String(g("message"));
      case "bug": return "BUG() in " + g("function") + ": " + g("message");
      case "warn": return "WARN_ON in " + g("function") + ": " + g("message");
      case "kmap": case "kunmap": return "page " + hex(g("pfn")) + " at " + addr(g("vaddr")) + ", pkmap entry " + g("nr") + ", count " + g("pkmap_count");
      case "pkmap_flush": return "flush_all_zero_pkmaps cleared " + g("cleared") + " entries";
      case "irq_flags": return g("op") + ": interrupts " + (g("enabled") ? "on" : "off");
      case "bounce": return g("what") + " " + g("rw") + " block " + g("block") + ": page " + hex(g("pfn")) + ", bounce " + hex(g("bounce_pfn"));
      case "cpu_state": return "state: IF " + (g("irq_enabled") ? "on" : "off") + ", bh " + g("bh") + ", preempt " + g("preempt");
      case "slot_state": return "slot " + g("idx") + ": PTE " + g("pte") + ", TLB " + (g("tlb") < 0 ? "absent" : hex(g("tlb")));
      case "pkmap_state": return "pkmap: " + g("used") + " in use, " + g("unflushed") + " unflushed, " + g("free") + " free";
    }
    var o = recObj(i); delete o.step; delete o.kind; delete o.cpu; delete o.context;
    return JSON.stringify(o).slice(0, 200);
  }
  var EV = [], STEPS = [], firstAt = {}, lastAt = {};
  (function () {
    var prev = -1;
    for (var i = 0; i < R.length; i++) {
      var s = R[i][1];
      if (!STATE[kindOf(R[i])]) { EV.push(i); }
      if (s !== prev) { STEPS.push(s); firstAt[s] = i; prev = s; }
      lastAt[s] = i;
    }
  })();
  var HITS = {};   // record -> finding numbers
  D.findings.forEach(function (f, n) { f.events.forEach(function (i) { (HITS[i] = HITS[i] || []).push(n + 1); }); });
  function lastRecAt(step) {   // index of the last record with step <= step
    var lo = 0, hi = R.length - 1, ans = -1;
    while (lo <= hi) { var mid = (lo + hi) >> 1; if (R[mid][1] <= step) { ans = mid; lo = mid + 1; } else { hi = mid - 1; } }
    return ans;
  }
  function colour(n) { return M.colours[n] || "#5d6b7e"; }
  function tint(c, a) {
    var r = parseInt(c.slice(1, 3), 16), g = parseInt(c.slice(3, 5), 16), b = parseInt(c.slice(5, 7), 16);
    var m = function (v) { return Math.round(v + (255 - v) * a); };
    return "rgb(" + m(r) + "," + m(g) + "," + m(b) + ")";
  }

  // -- state lanes: per CPU, segments [start, end, value] -------------------------------------------
  var LANES = [["if", "IF off"], ["bh", "BH disabled"], ["preempt", "preempt count"], ["locks", "locks held"],
    ["ipis", "pending IPIs"]];
  var SEG = [];
  (function () {
    var hasState = M.version >= 2;
    for (var c = 0; c < M.cpus; c++) { SEG.push({if: [], bh: [], preempt: [], locks: [], ipis: []}); }
    var cur = [];
    for (var c2 = 0; c2 < M.cpus; c2++) { cur.push({if: null, bh: null, preempt: null, locks: null, ipis: null}); }
    function set(c, lane, step, val, on) {
      var open = cur[c][lane], key = on ? val : null;
      if ((open ? open.key : null) === key) { return; }
      if (open) { open.seg[1] = step; }
      cur[c][lane] = null;
      // A state still held at the end runs to the right edge of the run, so a change at the last step shows.
      if (on) { var seg = [step, LAST + 0.5, val]; SEG[c][lane].push(seg); cur[c][lane] = {key: val, seg: seg}; }
    }
    for (var i = 0; i < R.length; i++) {
      var r = R[i], k = kindOf(r), c3 = r[2];
      if (c3 < 0 || c3 >= M.cpus) { continue; }
      if (k === "cpu_state") {
        set(c3, "if", r[1], "off", !fld(r, "irq_enabled"));
        var bh = fld(r, "bh"); set(c3, "bh", r[1], "bh " + bh, bh > 0);
        var pc = fld(r, "preempt"); set(c3, "preempt", r[1], "preempt " + pc, pc > 0);
        var lk = (fld(r, "locks") || []).join(", "); set(c3, "locks", r[1], lk, lk !== "");
        var ip = fld(r, "ipis"); set(c3, "ipis", r[1], ip + " IPI" + (ip === 1 ? "" : "s"), ip > 0);
      } else if (k === "irq_flags" && !hasState) {
        set(c3, "if", r[1], "off", !fld(r, "enabled"));
      }
    }
  })();

  // -- layout of the timeline ------------------------------------------------------------------------
  var show = {contexts: true, slots: true, if: true, bh: true, preempt: true, locks: true, ipis: true, marks: true,
    events: true};
  var SHOW_LABEL = {contexts: "contexts", slots: "kmap slots", if: "IF", bh: "BH", preempt: "preempt", locks: "locks",
    ipis: "IPIs", marks: "TLB · faults", events: "events"};
  var depth = [], slotRows = [];
  (function () {
    for (var c = 0; c < M.cpus; c++) { depth.push(1); slotRows.push([]); }
    D.iv.forEach(function (v) { depth[v[0]] = Math.max(depth[v[0]], v[5] + 1); });
    var seen = {};
    D.hold.forEach(function (h) {
      var key = h[0] + ":" + h[1];
      if (!seen[key]) { seen[key] = {cpu: h[0], idx: h[1], type: h[2], levels: 1}; slotRows[h[0]].push(seen[key]); }
      seen[key].levels = Math.max(seen[key].levels, h[8] + 1);
    });
    slotRows.forEach(function (rows) { rows.sort(function (a, b) { return a.idx - b.idx; }); });
  })();
  var CTX_H = 20, SLOT_H = 18, STATE_H = 14, MARK_H = 16, EV_H = 12, HEAD_H = 20, GAP = 10, AXIS_H = 22;
  var FIND_H = D.findings.length ? Math.min(D.findings.length, 4) * 16 + 6 : 0;
  var rows = [];   // {cpu, kind, y, h, label, sub, ref}
  var totalH = 0;
  function layout() {
    rows = [];
    var y = AXIS_H + FIND_H;
    for (var c = 0; c < M.cpus; c++) {
      var top = y;
      rows.push({cpu: c, kind: "head", y: y, h: HEAD_H, label: "CPU " + c});
      y += HEAD_H;
      if (show.contexts) {
        for (var d = 0; d < depth[c]; d++) {
          rows.push({cpu: c, kind: "ctx", y: y, h: CTX_H, label: d === 0 ? "contexts" : d === 1 ? "nested" : "nested ×" + d, depth: d});
          y += CTX_H;
        }
      }
      if (show.slots) {
        slotRows[c].forEach(function (s) {
          rows.push({cpu: c, kind: "slot", y: y, h: SLOT_H * s.levels, label: s.type, sub: "#" + s.idx, ref: s});
          y += SLOT_H * s.levels + 1;
        });
      }
      LANES.forEach(function (l) {
        if (show[l[0]]) { rows.push({cpu: c, kind: "state", lane: l[0], y: y, h: STATE_H, label: l[1]}); y += STATE_H + 1; }
      });
      if (show.marks) { rows.push({cpu: c, kind: "marks", y: y, h: MARK_H, label: "TLB · faults"}); y += MARK_H; }
      if (show.events) { rows.push({cpu: c, kind: "events", y: y, h: EV_H, label: "events"}); y += EV_H + 2; }
      rows.push({cpu: c, kind: "lane", y: top, h: y - top});
      y += GAP;
    }
    totalH = y;
  }

  // -- view ---------------------------------------------------------------------------------------------
  var cv = document.getElementById("timeline"), ov = document.getElementById("overview");
  var ctx = cv.getContext("2d"), octx = ov.getContext("2d");
  var W = 800, GUT = 150, PADR = 10;
  var v0 = -0.5, v1 = LAST + 0.5, MIN_SPAN = 6;
  var playStep = 0, selected = -1;
  function plotW() { return Math.max(50, W - GUT - PADR); }
  function X(step) { return GUT + (step - v0) / (v1 - v0) * plotW(); }
  function stepAt(x) { return v0 + (x - GUT) / plotW() * (v1 - v0); }
  function clampView() {
    var span = v1 - v0, full = LAST + 1;
    if (span < MIN_SPAN) { var mid = (v0 + v1) / 2; v0 = mid - MIN_SPAN / 2; v1 = mid + MIN_SPAN / 2; span = MIN_SPAN; }
    if (span > full) { v0 = -0.5; v1 = LAST + 0.5; return; }
    if (v0 < -0.5) { v1 += -0.5 - v0; v0 = -0.5; }
    if (v1 > LAST + 0.5) { v0 -= v1 - (LAST + 0.5); v1 = LAST + 0.5; }
  }
  function zoom(factor, at) {
    var a = at === undefined ? (v0 + v1) / 2 : at;
    v0 = a - (a - v0) * factor; v1 = a + (v1 - a) * factor;
    clampView(); draw();
  }
  function pan(frac) { var d = (v1 - v0) * frac; v0 += d; v1 += d; clampView(); draw(); }
  function showRange(a, b) {
    var pad = Math.max(3, (b - a) * 0.15);
    v0 = a - pad; v1 = b + pad; clampView(); draw();
  }

  // -- drawing ------------------------------------------------------------------------------------------
  var hits = [], texts = [], arrows = [];
  var patWarn = null, patStale = null;
  function pattern(c1, c2, dir) {
    var p = document.createElement("canvas"); p.width = 8; p.height = 8;
    var g = p.getContext("2d"); g.fillStyle = c2; g.fillRect(0, 0, 8, 8);
    g.strokeStyle = c1; g.lineWidth = 2.5; g.beginPath();
    if (dir > 0) { g.moveTo(-2, 10); g.lineTo(10, -2); g.moveTo(6, 10); g.lineTo(10, 6); g.moveTo(-2, 2); g.lineTo(2, -2); }
    else { g.moveTo(-2, -2); g.lineTo(10, 10); g.moveTo(6, -2); g.lineTo(10, 2); g.moveTo(-2, 6); g.lineTo(2, 10); }
    g.stroke();
    return ctx.createPattern(p, "repeat");
  }
  function fitText(t, room) {
    if (room < 14) { return ""; }
    if (ctx.measureText(t).width <= room) { return t; }
    var lo = 0, hi = t.length;
    while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (ctx.measureText(t.slice(0, mid) + "…").width <= room) { lo = mid; } else { hi = mid - 1; } }
    return lo >= 2 ? t.slice(0, lo) + "…" : "";
  }
  function text(t, x, y, colour, font, align, clipL, clipR) {
    if (!t) { return; }
    ctx.font = font || FONT; ctx.fillStyle = colour; ctx.textAlign = align || "left";
    var w = ctx.measureText(t).width, x0 = align === "right" ? x - w : align === "center" ? x - w / 2 : x;
    if (clipL !== undefined && (x0 < clipL || x0 + w > clipR)) { return; }
    ctx.fillText(t, x, y);
    texts.push([x0, y - 9, w, 12]);
  }
  function bar(x0, x1, y, h, fill, stroke, label, labelColour, tip, rec, step, maxLabelX) {
    var L = GUT, Rr = W - PADR;
    if (x1 < L || x0 > Rr) { return; }
    var a = Math.max(x0, L), b = Math.min(Math.max(x1, x0 + 2), Rr);
    ctx.fillStyle = fill; ctx.fillRect(a, y, b - a, h);
    if (stroke) { ctx.strokeStyle = stroke; ctx.lineWidth = 1; ctx.strokeRect(a + 0.5, y + 0.5, Math.max(1, b - a - 1), h - 1); }
    if (HITS[rec] !== undefined) { ctx.strokeStyle = "#d62839"; ctx.lineWidth = 2; ctx.strokeRect(a + 1, y + 1, Math.max(1, b - a - 2), h - 2); }
    if (label) {
      ctx.font = FONT;
      var lim = Math.min(b, maxLabelX === undefined ? b : Math.max(a, maxLabelX));
      var t = fitText(label, lim - a - 8);
      if (t && typeof fill !== "string") {
        // On a hatched fill the label gets a pale backing so it stays readable.
        ctx.fillStyle = "rgba(255,255,255,.82)";
        ctx.fillRect(a + 2, y + 2, ctx.measureText(t).width + 4, h - 4);
      }
      if (t) { text(t, a + 4, y + h / 2 + 4, labelColour); }
    }
    hits.push([a, y, b - a, h, tip, rec, step]);
  }
  function draw() {
    W = Math.max(280, Math.floor(cv.parentNode.clientWidth));
    GUT = W < 560 ? 92 : 150;
    var dpr = window.devicePixelRatio || 1;
    cv.width = Math.round(W * dpr); cv.height = Math.round(totalH * dpr);
    cv.style.height = totalH + "px";
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, totalH);
    hits = []; texts = []; arrows = [];
    if (!patWarn) { patWarn = pattern("#f08a6c", "#fbd3c9", 1); patStale = pattern("#e06a5a", "#fff1ee", -1); }
    drawAxis();
    var lo = Math.floor(v0) - 1, hi = Math.ceil(v1) + 1;
    rows.forEach(function (row) {
      if (row.kind === "lane") {
        ctx.fillStyle = "#fbfcfe"; ctx.strokeStyle = "#dde3ea"; ctx.lineWidth = 1;
        ctx.fillRect(0, row.y, W, row.h); ctx.strokeRect(0.5, row.y + 0.5, W - 1, row.h - 1);
      }
    });
    drawFindingGuides();
    rows.forEach(function (row) {
      var yl = row.y + Math.min(row.h, 20) / 2 + 4;
      if (row.kind === "head") { text("CPU " + row.cpu, 10, row.y + 15, "#17202c", '700 13px system-ui,sans-serif'); return; }
      if (row.kind === "lane") { return; }
      var lab = W < 560 && row.sub ? row.label.replace(/^KM_/, "") : row.label;
      ctx.font = row.kind === "slot" ? BOLD : FONT;
      var room = GUT - 14 - (row.sub ? ctx.measureText(" " + row.sub).width : 0);
      var t = fitText(lab, room);
      if (row.sub) {
        ctx.font = FONT;
        var sw = ctx.measureText(row.sub).width;
        text(row.sub, GUT - 8, yl, "#8794a6", FONT, "right");
        text(t, GUT - 12 - sw, yl, "#3d4a5c", BOLD, "right");
      } else {
        text(t, GUT - 8, yl, "#3d4a5c", FONT, "right");
      }
      ctx.strokeStyle = "#eef1f5"; ctx.beginPath(); ctx.moveTo(GUT, row.y + 0.5); ctx.lineTo(W - PADR, row.y + 0.5); ctx.stroke();
      if (row.kind === "ctx") { drawContexts(row, lo, hi); }
      else if (row.kind === "slot") { drawSlot(row, lo, hi); }
      else if (row.kind === "state") { drawState(row, lo, hi); }
      else if (row.kind === "marks") { drawMarks(row, lo, hi); }
      else if (row.kind === "events") { drawEvents(row, lo, hi); }
    });
    var px = X(playStep);
    if (px >= GUT && px <= W - PADR) {
      ctx.strokeStyle = "rgba(23,32,44,.75)"; ctx.lineWidth = 1.5; ctx.setLineDash([]);
      ctx.beginPath(); ctx.moveTo(px, AXIS_H + FIND_H); ctx.lineTo(px, totalH); ctx.stroke();
    }
    drawFindings();
    drawOverview();
    var rg = document.getElementById("range");
    rg.textContent = "steps " + Math.max(0, Math.ceil(v0)) + " to " + Math.min(LAST, Math.floor(v1)) + " of " + LAST;
    window.__hm.texts = texts; window.__hm.arrows = arrows;
  }
  function niceEvery(pxPerStep, minPx) {
    var c = [1, 2, 5], m = 1;
    for (;;) { for (var i = 0; i < 3; i++) { if (c[i] * m * pxPerStep >= minPx) { return c[i] * m; } } m *= 10; }
  }
  function drawAxis() {
    ctx.font = FONT;
    var pxs = plotW() / (v1 - v0), wLab = ctx.measureText(String(LAST)).width + 14;
    var every = niceEvery(pxs, Math.max(44, wLab));
    var first = Math.ceil(Math.max(0, v0) / every) * every;
    text("step", GUT - 8, 14, "#5d6b7e", "italic " + FONT, "right");
    for (var s = first; s <= Math.min(LAST, v1); s += every) {
      var x = X(s);
      ctx.strokeStyle = "#e9edf2"; ctx.lineWidth = 1; ctx.beginPath(); ctx.moveTo(x, AXIS_H - 4); ctx.lineTo(x, totalH); ctx.stroke();
      text(String(s), x, 14, "#5d6b7e", FONT, "center", GUT, W);
    }
  }
  function drawContexts(row, lo, hi) {
    D.iv.forEach(function (v) {
      if (v[0] !== row.cpu || v[5] !== row.depth || v[4] < lo || v[3] > hi) { return; }
      var name = NAMES[v[1]], k = v[2] === "hardirq" ? "hard IRQ" : v[2];
      var tip = name + " (" + k + ") on CPU " + v[0] + " from step " + v[3] + (v[8] ? " still running at the end of the trace" : " to step " + v[4]);
      bar(X(v[3]), X(v[4]), row.y + 2, CTX_H - 4, colour(v[1]), null, name, "#ffffff", tip, v[6], v[3]);
    });
  }
  function drawSlot(row, lo, hi) {
    var s = row.ref;
    D.hold.forEach(function (h) {
      if (h[0] !== s.cpu || h[1] !== s.idx || h[7] < lo || h[6] > hi) { return; }
      var y = row.y + h[8] * SLOT_H + 2, hh = SLOT_H - 4, name = NAMES[h[3]], c = colour(h[3]);
      var x0 = X(h[6]), x1 = X(h[7]);
      var ended = h[14] ? "still held at the end of the trace" : "until step " + h[7] + " (" + h[15] + ")";
      var tip = (h[11] ? "CLOBBER: " : "") + name + " maps " + h[2] + " (idx " + h[1] + ") on CPU " + h[0] + " to page " + hex(h[5]) + " from step " + h[6] + " " + ended;
      var label = (h[11] ? "⚠ " : "") + name + " · page " + hex(h[5]);
      var staleX = h[9] >= 0 ? X(h[9]) : undefined;
      if (h[11]) { bar(x0, x1, y, hh, patWarn, "#c0392b", label, "#7a1010", tip, h[12], h[6], staleX); }
      else { bar(x0, x1, y, hh, tint(c, 0.78), c, label, "#17202c", tip, h[12], h[6], staleX); }
      if (h[9] >= 0) {
        var stip = "STALE: from step " + h[9] + " " + name + "'s address reaches page " + hex(h[10]) + ", not its page " + hex(h[5]);
        bar(staleX, x1, y, hh, patStale, "#c0392b", "stale: now page " + hex(h[10]), "#7a1010", stip, h[12], h[9]);
      }
    });
  }
  function drawState(row, lo, hi) {
    SEG[row.cpu][row.lane].forEach(function (g) {
      if (g[1] < lo || g[0] > hi) { return; }
      var tip = "CPU " + row.cpu + ": " + (row.lane === "if" ? "interrupts off" : g[2]) + " from step " + g[0] +
        (g[1] > LAST ? " to the end of the run" : " to " + g[1]);
      bar(X(g[0]), X(g[1]), row.y + 1, STATE_H - 2, "#f2b8b5", null, row.lane === "if" ? "IF off" : g[2], "#7a1010", tip, -1, g[0]);
    });
  }
  function drawMarks(row, lo, hi) {
    var my = row.y + MARK_H / 2, a = lastRecAt(lo - 1) + 1, b = lastRecAt(hi);
    for (var i = Math.max(0, a); i <= b; i++) {
      var r = R[i], k = kindOf(r);
      if (r[2] !== row.cpu || (k !== "tlb_flush_one" && k !== "tlb_flush_all" && k !== "fault" && k !== "bug" && k !== "warn")) { continue; }
      var x = X(r[1]);
      if (x < GUT || x > W - PADR) { continue; }
      ctx.fillStyle = EVC[k]; ctx.beginPath();
      if (k === "tlb_flush_one") { ctx.moveTo(x, my - 5); ctx.lineTo(x + 4, my); ctx.lineTo(x, my + 5); ctx.lineTo(x - 4, my); }
      else if (k === "tlb_flush_all") { ctx.rect(x - 2, my - 7, 4, 14); }
      else { ctx.moveTo(x, my - 7); ctx.lineTo(x + 6, my + 6); ctx.lineTo(x - 6, my + 6); }
      ctx.fill();
      if (HITS[i]) { ctx.strokeStyle = "#d62839"; ctx.lineWidth = 2; ctx.stroke(); }
      hits.push([x - 6, my - 8, 12, 16, "step " + r[1] + ": " + k + " by " + (NAMES[r[3]] || "-") + ": " + summary(i), i, r[1]]);
    }
  }
  function drawEvents(row, lo, hi) {
    var a = Math.max(0, lastRecAt(lo - 1) + 1), b = lastRecAt(hi), lastPx = -10, n = 0, first = -1;
    for (var i = a; i <= b; i++) {
      var r = R[i];
      if (r[2] !== row.cpu || STATE[kindOf(r)]) { continue; }
      var x = Math.round(X(r[1]));
      if (x < GUT || x > W - PADR) { continue; }
      if (x - lastPx < 2) { n++; continue; }
      if (first >= 0) { hits.push([lastPx - 1, row.y, 3, EV_H, n > 1 ? n + " events from step " + R[first][1] : "step " + R[first][1] + ": " + kindOf(R[first]) + ": " + summary(first), first, R[first][1]]); }
      ctx.fillStyle = HITS[i] ? "#d62839" : (EVC[kindOf(r)] || "#777");
      ctx.fillRect(x - 1, row.y + 1, 2, EV_H - 2);
      lastPx = x; n = 1; first = i;
    }
    if (first >= 0) { hits.push([lastPx - 1, row.y, 3, EV_H, n > 1 ? n + " events from step " + R[first][1] : "step " + R[first][1] + ": " + kindOf(R[first]) + ": " + summary(first), first, R[first][1]]); }
  }
  function anchorY(i) {   // the y of the row that shows record i (its CPU's contexts row by default)
    var r = R[i], k = kindOf(r), best = null;
    rows.forEach(function (row) {
      if (row.cpu !== r[2] || best) { return; }
      if (k === "kmap_atomic" && row.kind === "slot" && row.ref.idx === fld(r, "idx")) { best = row; }
    });
    if (!best) { rows.forEach(function (row) { if (!best && row.cpu === r[2] && (row.kind === "ctx" || row.kind === "head")) { best = row; } }); }
    return best ? best.y + Math.min(best.h, 18) / 2 : AXIS_H;
  }
  function drawFindingGuides() {
    ctx.setLineDash([4, 3]); ctx.strokeStyle = "rgba(214,40,57,.55)"; ctx.lineWidth = 1;
    D.findings.forEach(function (f) {
      f.events.forEach(function (i) {
        var x = X(R[i][1]);
        if (x < GUT || x > W - PADR) { return; }
        ctx.beginPath(); ctx.moveTo(x, AXIS_H + FIND_H - 4); ctx.lineTo(x, anchorY(i)); ctx.stroke();
      });
    });
    ctx.setLineDash([]);
  }
  function drawFindings() {
    D.findings.forEach(function (f, n) {
      var y = AXIS_H + 2 + Math.min(n, 3) * 16 + 7, pts = [], prevX = -1e9;
      f.events.forEach(function (i, j) {
        // Dots of one finding never overlap: a dot too close to the one before moves right, and a
        // tick under it marks its event's true step.
        var tx = X(R[i][1]), x = Math.max(tx, prevX + 16);
        pts.push([x, j + 1, i, tx]); prevX = x;
      });
      ctx.strokeStyle = "#d62839"; ctx.fillStyle = "#d62839"; ctx.lineWidth = 1.5;
      for (var j = 1; j < pts.length; j++) {
        var a = pts[j - 1][0] + 7, b = pts[j][0] - 7;
        if (b - a < 6) { continue; }
        var aa = Math.max(a, GUT), bb = Math.min(b, W - PADR);
        if (bb <= aa) { continue; }
        ctx.beginPath(); ctx.moveTo(aa, y); ctx.lineTo(bb, y); ctx.stroke();
        arrows.push([aa, y, bb, y]);
        if (b <= W - PADR) { ctx.beginPath(); ctx.moveTo(b, y); ctx.lineTo(b - 6, y - 4); ctx.lineTo(b - 6, y + 4); ctx.fill(); }
      }
      pts.forEach(function (p) {
        if (p[0] < GUT - 1 || p[0] > W - PADR + 1) { return; }
        if (p[0] !== p[3]) {
          ctx.strokeStyle = "#d62839"; ctx.lineWidth = 1; ctx.beginPath();
          ctx.moveTo(p[3], y + 7); ctx.lineTo(p[0] - 4, y + 6); ctx.stroke();
        }
        ctx.fillStyle = "#d62839"; ctx.beginPath(); ctx.arc(p[0], y, 7, 0, 2 * Math.PI); ctx.fill();
        texts.push([p[0] - 7, y - 7, 14, 14]);
        ctx.font = '700 9.5px system-ui,sans-serif'; ctx.fillStyle = "#fff"; ctx.textAlign = "center";
        ctx.fillText(String(p[1]), p[0], y + 3.5);
        hits.push([p[0] - 7, y - 7, 14, 14, "finding " + (n + 1) + " (" + f.kind + "), event " + p[1] + ": step " + R[p[2]][1], p[2], R[p[2]][1]]);
      });
    });
  }
  function drawOverview() {
    var w = Math.max(280, Math.floor(ov.parentNode.clientWidth)), h = 44, dpr = window.devicePixelRatio || 1;
    ov.width = Math.round(w * dpr); ov.height = Math.round(h * dpr);
    octx.setTransform(dpr, 0, 0, dpr, 0, 0);
    octx.clearRect(0, 0, w, h);
    var ox = function (s) { return 4 + (s + 0.5) / (LAST + 1) * (w - 8); };
    var band = (h - 8) / Math.max(1, M.cpus);
    D.iv.forEach(function (v) {
      octx.fillStyle = colour(v[1]);
      var y = 4 + v[0] * band + Math.min(v[5], 2) * band / 4;
      octx.fillRect(ox(v[3]), y, Math.max(1, ox(v[4]) - ox(v[3])), Math.max(2, band / 2));
    });
    octx.fillStyle = "#d62839";
    D.findings.forEach(function (f) { f.events.forEach(function (i) { octx.fillRect(ox(R[i][1]) - 1, 0, 2, h); }); });
    var a = ox(v0), b = ox(v1);
    octx.fillStyle = "rgba(29,43,58,.14)"; octx.fillRect(a, 0, Math.max(3, b - a), h);
    octx.strokeStyle = "#1d2b3a"; octx.lineWidth = 1.5; octx.strokeRect(a, 1, Math.max(3, b - a), h - 2);
    octx.fillStyle = "#17202c"; octx.fillRect(ox(playStep) - 0.75, 0, 1.5, h);
    ov.__ox = ox; ov.__w = w;
  }

  // -- interaction: timeline ------------------------------------------------------------------------------
  var tip = document.getElementById("tip"), detail = document.getElementById("detail");
  function hitAt(x, y) {
    for (var i = hits.length - 1; i >= 0; i--) {
      var h = hits[i];
      if (x >= h[0] - 1 && x <= h[0] + h[2] + 1 && y >= h[1] && y <= h[1] + h[3]) { return h; }
    }
    return null;
  }
  function showTip(t, e) {
    if (!t) { tip.hidden = true; return; }
    tip.textContent = t; tip.hidden = false;
    var x = e.clientX + 14, y = e.clientY + 16;
    if (x + tip.offsetWidth > window.innerWidth - 8) { x = Math.max(4, e.clientX - tip.offsetWidth - 14); }
    if (y + tip.offsetHeight > window.innerHeight - 8) { y = e.clientY - tip.offsetHeight - 12; }
    tip.style.left = x + "px"; tip.style.top = y + "px";
  }
  function pos(e, el) { var b = el.getBoundingClientRect(); return [e.clientX - b.left, e.clientY - b.top]; }
  var drag = null;
  cv.addEventListener("wheel", function (e) {
    e.preventDefault();
    var p = pos(e, cv), d = e.deltaY || e.deltaX;
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) { pan((d > 0 ? 1 : -1) * 0.12); return; }
    zoom(d > 0 ? 1.25 : 0.8, p[0] >= GUT ? stepAt(p[0]) : undefined);
  }, {passive: false});
  cv.addEventListener("mousedown", function (e) { drag = {x: e.clientX, v0: v0, v1: v1, moved: false}; });
  window.addEventListener("mousemove", function (e) {
    if (drag) {
      var dx = e.clientX - drag.x;
      if (Math.abs(dx) > 3) { drag.moved = true; cv.classList.add("dragging"); }
      if (drag.moved) {
        var ds = -dx / plotW() * (drag.v1 - drag.v0);
        v0 = drag.v0 + ds; v1 = drag.v1 + ds; clampView(); draw();
      }
      return;
    }
    if (e.target === cv) { var p = pos(e, cv), h = hitAt(p[0], p[1]); showTip(h ? h[4] : null, e); }
    else if (e.target !== tip) { tip.hidden = true; }
  });
  window.addEventListener("mouseup", function (e) {
    if (!drag) { return; }
    var moved = drag.moved; drag = null; cv.classList.remove("dragging");
    if (moved || e.target !== cv) { return; }
    var p = pos(e, cv);
    if (p[0] < GUT) { return; }
    var h = hitAt(p[0], p[1]);
    if (h && h[5] >= 0) { selectRec(h[5]); }
    setStep(h && h[6] !== undefined ? h[6] : Math.round(stepAt(p[0])));
  });
  var odrag = false;
  function overviewMove(e) {
    var p = pos(e, ov), s = (p[0] - 4) / (ov.__w - 8) * (LAST + 1) - 0.5, span = v1 - v0;
    v0 = s - span / 2; v1 = s + span / 2; clampView(); draw();
  }
  ov.addEventListener("mousedown", function (e) { odrag = true; ov.classList.add("dragging"); overviewMove(e); });
  window.addEventListener("mousemove", function (e) { if (odrag) { overviewMove(e); } });
  window.addEventListener("mouseup", function () { odrag = false; ov.classList.remove("dragging"); });
  var touch = null;
  cv.addEventListener("touchstart", function (e) {
    if (e.touches.length === 1) { touch = {x: e.touches[0].clientX, v0: v0, v1: v1}; }
  }, {passive: true});
  cv.addEventListener("touchmove", function (e) {
    if (!touch || e.touches.length !== 1) { return; }
    var ds = -(e.touches[0].clientX - touch.x) / plotW() * (touch.v1 - touch.v0);
    v0 = touch.v0 + ds; v1 = touch.v1 + ds; clampView(); draw();
  }, {passive: true});
  cv.addEventListener("touchend", function () { touch = null; }, {passive: true});
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(0.5); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(2); });
  document.getElementById("zoom-fit").addEventListener("click", function () { v0 = -0.5; v1 = LAST + 0.5; draw(); });
  document.addEventListener("keydown", function (e) {
    var t = e.target && e.target.tagName;
    if (t === "INPUT" || t === "TEXTAREA" || e.ctrlKey || e.metaKey || e.altKey) { return; }
    var k = e.key;
    if (k === "+" || k === "=") { zoom(0.5); }
    else if (k === "-" || k === "_") { zoom(2); }
    else if (k === "0") { v0 = -0.5; v1 = LAST + 0.5; draw(); }
    else if (k === "ArrowLeft" && e.shiftKey) { pan(-0.2); }
    else if (k === "ArrowRight" && e.shiftKey) { pan(0.2); }
    else if (k === "ArrowLeft") { stepBy(-1); }
    else if (k === "ArrowRight") { stepBy(1); }
    else if (k === "Home") { setStep(0); }
    else if (k === "End") { setStep(LAST); }
    else { return; }
    e.preventDefault();
  });
  (function () {
    var box = document.getElementById("lane-toggles");
    Object.keys(SHOW_LABEL).forEach(function (key) {
      var l = document.createElement("label"), cb = document.createElement("input");
      cb.type = "checkbox"; cb.checked = show[key]; cb.setAttribute("data-lane", key);
      cb.addEventListener("change", function () { show[key] = cb.checked; layout(); draw(); });
      l.appendChild(cb); l.appendChild(document.createTextNode(" " + SHOW_LABEL[key]));
      box.appendChild(l);
    });
  })();
