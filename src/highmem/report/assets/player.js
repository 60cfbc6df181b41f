/* highmem report, part 2 of 2: the player, the events list, the details and the start.
   It runs in the scope timeline.js opened (see html.py). */
  // -- the player ------------------------------------------------------------------------------------------
  var slider = document.getElementById("p-slider"), stepIn = document.getElementById("p-step");
  slider.max = String(LAST); stepIn.max = String(LAST);
  var usedSlots = {};
  D.hold.forEach(function (h) { usedSlots[h[1]] = true; });
  var vaddrSlot = {};
  D.slots.forEach(function (s) { vaddrSlot[s[3]] = s[1]; });
  var MASK = Math.pow(2, M.phys_bits) - 4096;
  var FLAGS = [[1, "P"], [2, "RW"], [4, "U"], [8, "PWT"], [16, "PCD"], [32, "A"], [64, "D"], [128, "PSE"], [256, "G"]];
  function decode(pte) {
    if (pte === 0) { return {frame: 0, flags: "none", hex: "0x0"}; }
    var lowBits = pte % 4096, frame = Math.floor((pte - lowBits) / 4096) % Math.pow(2, M.phys_bits - 12);
    var f = FLAGS.filter(function (p) { return lowBits & p[0]; }).map(function (p) { return p[1]; }).join("|") || "-";
    return {frame: frame, flags: f, hex: hex(pte)};
  }
  function stateAt(step) {
    var n = lastRecAt(step), st = {stacks: [], cpu: [], slot: {}, pkmap: null, n: n};
    for (var c = 0; c < M.cpus; c++) { st.stacks.push([]); st.cpu.push(null); }
    var v2 = M.version >= 2, ifs = [];
    for (var c2 = 0; c2 < M.cpus; c2++) { ifs.push(true); }
    for (var i = 0; i <= n; i++) {
      var r = R[i], k = kindOf(r), cc = r[2];
      if (k === "context" && cc >= 0 && cc < M.cpus) {
        var w = fld(r, "what"), s = st.stacks[cc];
        if (w === "start" || w === "switch_in" || w === "irq_enter" || w === "softirq_enter") { s.push(r[3]); }
        else if (w === "switch_out" || w === "irq_exit" || w === "softirq_exit" || w === "end") {
          var j = s.lastIndexOf(r[3]); if (j >= 0) { s.splice(j, 1); }
        }
      } else if (k === "cpu_state" && cc >= 0 && cc < M.cpus) { st.cpu[cc] = recObj(i); }
      else if (k === "slot_state") { st.slot[fld(r, "idx")] = {pte: fld(r, "pte"), frame: fld(r, "frame"), flags: fld(r, "flags"), tlb: fld(r, "tlb")}; }
      else if (k === "pkmap_state") { st.pkmap = recObj(i); }
      else if (!v2) {
        if (k === "irq_flags" && cc >= 0 && cc < M.cpus) { ifs[cc] = !!fld(r, "enabled"); }
        var va = fld(r, "vaddr"), idx = vaddrSlot[va];
        if (idx === undefined) { continue; }
        var sl = st.slot[idx] || (st.slot[idx] = {pte: "0x0", frame: 0, flags: "none", tlb: -1, raw: 0});
        if (k === "set_pte") { var d = decode(fld(r, "new")); sl.raw = fld(r, "new"); sl.pte = d.hex; sl.frame = d.frame; sl.flags = d.flags; }
        else if (k === "pte_clear") { sl.raw = 0; sl.pte = "0x0"; sl.frame = 0; sl.flags = "none"; }
        else if (k === "tlb_fill") { sl.tlb = fld(r, "pfn"); }
        else if (k === "tlb_flush_one") { sl.tlb = -1; }
      }
      if (!v2 && k === "tlb_flush_all") {
        D.slots.forEach(function (s2) {
          var q = st.slot[s2[1]];
          if (s2[0] === cc && q && (fld(r, "include_global") || !(q.raw & 256))) { q.tlb = -1; }
        });
      }
    }
    if (!v2) { for (var c3 = 0; c3 < M.cpus; c3++) { st.cpu[c3] = {irq_enabled: ifs[c3]}; } }
    st.holders = {};
    D.hold.forEach(function (h) {
      if (h[12] <= n && (h[14] || h[13] > n)) { (st.holders[h[1]] = st.holders[h[1]] || []).push(h); }
    });
    return st;
  }
  function el(tag, cls, txt) { var e = document.createElement(tag); if (cls) { e.className = cls; } if (txt !== undefined) { e.textContent = txt; } return e; }
  var showAll = false;
  function renderPlayer() {
    var st = stateAt(playStep), box = document.getElementById("p-cpus");
    slider.value = String(playStep); stepIn.value = String(playStep);
    var evs = document.getElementById("p-events");
    evs.textContent = "";
    var here = [];
    for (var i = firstAt[playStep] === undefined ? R.length : firstAt[playStep]; i < R.length && R[i][1] === playStep; i++) {
      if (!STATE[kindOf(R[i])]) { here.push(i); }
    }
    if (!here.length) { evs.appendChild(el("div", "none", "step " + playStep + ": no event")); }
    here.forEach(function (i) {
      var r = R[i], d = el("div", "p-ev", "step " + r[1] + " · CPU " + r[2] + " · " + (NAMES[r[3]] || "-") + " · " + kindOf(r) + ": " + summary(i));
      d.setAttribute("data-ev", String(i));
      evs.appendChild(d);
    });
    document.getElementById("p-note").textContent = M.version >= 2 ? "" :
      "This trace (version " + M.version + ") has no state records: PTEs come from set_pte events, the TLB from fills and flushes, IF from irq_flags; BH, preempt count, locks and IPIs are unknown.";
    box.textContent = "";
    for (var c = 0; c < M.cpus; c++) {
      var card = el("div", "p-cpu"); card.setAttribute("data-cpu", String(c));
      card.appendChild(el("h3", null, "CPU " + c));
      var stack = el("div", "stack");
      if (!st.stacks[c].length) { stack.appendChild(el("span", "idle", "idle")); }
      st.stacks[c].forEach(function (nmi, j) {
        var s = el("span", null, NAMES[nmi] + " (" + (M.kinds[nmi] === "hardirq" ? "hard IRQ" : M.kinds[nmi] || "task") + ")" + (j === st.stacks[c].length - 1 ? " ← running" : ""));
        s.style.background = colour(nmi); stack.appendChild(s);
      });
      card.appendChild(el("div", "hint", "context stack (top runs)"));
      card.appendChild(stack);
      var cs = st.cpu[c] || {}, flags = el("div", "flags");
      var add = function (t, off) { flags.appendChild(el("span", off ? "off" : "", t)); };
      add(cs.irq_enabled === false ? "IF off (interrupts disabled)" : "IF on", cs.irq_enabled === false);
      if (cs.bh !== undefined) {
        add("local_bh_count " + cs.bh, cs.bh > 0); add("in_irq " + cs.hardirq, cs.hardirq > 0);
        add("preempt count " + cs.preempt, cs.preempt > 0);
        add((cs.locks && cs.locks.length ? "locks: " + cs.locks.join(", ") : "no lock held"), cs.locks && cs.locks.length);
        add(cs.ipis + " IPI" + (cs.ipis === 1 ? "" : "s") + " pending" + (cs.pending && cs.pending.length > cs.ipis ? ", IRQs pending: " + cs.pending.join(", ") : ""), cs.ipis > 0);
        if (cs.spinning) { add("spinning: " + cs.spinning, true); }
      }
      card.appendChild(flags);
      var wrap = el("div", "slot-wrap"), t = el("table", "slots");
      var head = el("tr");
      ["slot", "PTE", "TLB entry", "holder", "state"].forEach(function (h) { head.appendChild(el("th", null, h)); });
      var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
      var tb = el("tbody"), nrows = 0;
      D.slots.forEach(function (s) {
        if (s[0] !== c) { return; }
        var sl = st.slot[s[1]] || {pte: "0x0", frame: 0, flags: "none", tlb: -1};
        var hs = st.holders[s[1]] || [];
        if (!showAll && !usedSlots[s[1]] && sl.flags === "none" && sl.tlb < 0) { return; }
        nrows++;
        var tr = el("tr"); tr.setAttribute("data-idx", String(s[1]));
        if (here.some(function (i) { return fld(R[i], "idx") === s[1] || fld(R[i], "vaddr") === s[3]; })) { tr.className = "hit"; }
        var c1 = el("td", "mono slot", s[2] + " #" + s[1]); c1.appendChild(el("div", "hint mono", addr(s[3])));
        tr.appendChild(c1);
        var present = sl.flags !== "none" && sl.flags.split("|").indexOf("P") >= 0;
        var pteCell = el("td", "mono"), pv = el("span", "pte", sl.pte);
        pteCell.appendChild(pv);
        pteCell.appendChild(el("div", "hint mono", (present ? "frame " + hex(sl.frame) + " · " : "") + sl.flags));
        pteCell.lastChild.className = "hint mono decoded"; pteCell.lastChild.setAttribute("data-frame", present ? hex(sl.frame) : "");
        tr.appendChild(pteCell);
        var tlbState = sl.tlb < 0 ? "absent" : present && sl.tlb === sl.frame ? "current" : "stale";
        tr.appendChild(el("td", "tlb tlb-" + tlbState, tlbState + (sl.tlb >= 0 ? " → " + hex(sl.tlb) : "")));
        var hc = el("td", "holder"), worst = "free";
        hs.forEach(function (h) {
          var ok = present && sl.frame === h[5] && (sl.tlb < 0 || sl.tlb === h[5]);
          if (!ok) { worst = "stale"; } else if (worst === "free") { worst = "mapped"; }
          var line = el("div"), sw = el("span", "sw2");
          sw.style.background = colour(h[3]);
          line.appendChild(sw);
          line.appendChild(el("span", null, NAMES[h[3]] + " (page " + hex(h[5]) + (ok ? "" : ", stale") + ")"));
          hc.appendChild(line);
        });
        if (!hs.length) { hc.textContent = "-"; }
        tr.appendChild(hc);
        tr.appendChild(el("td", "state st-" + worst, worst));
        tb.appendChild(tr);
      });
      t.appendChild(tb); wrap.appendChild(t);
      if (nrows) { card.appendChild(wrap); } else { card.appendChild(el("div", "hint", "no kmap slot used on this CPU")); }
      box.appendChild(card);
    }
    var pk = document.getElementById("p-pkmap");
    pk.textContent = st.pkmap ? "pkmap pool (LAST_PKMAP " + M.last_pkmap + "): " + st.pkmap.used + " in use, " + st.pkmap.unflushed + " unmapped but not yet flushed, " + st.pkmap.free + " free" : "";
    markRows();
  }
  function setStep(s) {
    s = Math.max(0, Math.min(LAST, Math.round(Number(s) || 0)));
    playStep = s;
    var x = X(s);
    if (x < GUT || x > W - PADR) { var span = v1 - v0; v0 = s - span / 2; v1 = s + span / 2; clampView(); }
    renderPlayer(); draw();
    document.body.setAttribute("data-step", String(s));
  }
  function stepBy(d) {
    var lo = 0, hi = STEPS.length - 1, j = -1;
    if (d > 0) { while (lo <= hi) { var m = (lo + hi) >> 1; if (STEPS[m] > playStep) { j = m; hi = m - 1; } else { lo = m + 1; } } setStep(j < 0 ? LAST : STEPS[j]); }
    else { while (lo <= hi) { var m2 = (lo + hi) >> 1; if (STEPS[m2] < playStep) { j = m2; lo = m2 + 1; } else { hi = m2 - 1; } } setStep(j < 0 ? 0 : STEPS[j]); }
  }
  document.getElementById("p-first").addEventListener("click", function () { setStep(0); });
  document.getElementById("p-last").addEventListener("click", function () { setStep(LAST); });
  document.getElementById("p-prev").addEventListener("click", function () { stepBy(-1); });
  document.getElementById("p-next").addEventListener("click", function () { stepBy(1); });
  slider.addEventListener("input", function () { setStep(slider.value); });
  document.getElementById("p-all").addEventListener("change", function (e) { showAll = e.target.checked; renderPlayer(); });
  stepIn.addEventListener("change", function () { setStep(stepIn.value); });

  // -- events list (windowed) and details -------------------------------------------------------------------
  var evBox = document.getElementById("events"), evBody = document.getElementById("ev-body"), ROW = 20;
  evBody.style.height = (EV.length * ROW) + "px";
  var evPos = {};
  EV.forEach(function (i, j) { evPos[i] = j; });
  function renderRows() {
    var top = Math.max(0, Math.floor((evBox.scrollTop - 22) / ROW) - 5), n = Math.ceil(evBox.clientHeight / ROW) + 10;
    evBody.textContent = "";
    for (var j = top; j < Math.min(EV.length, top + n); j++) {
      var i = EV[j], r = R[i], row = el("div", "evrow");
      row.style.top = (j * ROW) + "px"; row.id = "ev-" + i; row.setAttribute("data-ev", String(i));
      if (HITS[i]) { row.classList.add("fnd"); }
      if (r[1] === playStep) { row.classList.add("now"); }
      if (i === selected) { row.classList.add("sel"); }
      row.appendChild(el("span", null, String(r[1])));
      row.appendChild(el("span", null, r[2] >= 0 ? String(r[2]) : ""));
      row.appendChild(el("span", null, NAMES[r[3]] || ""));
      var kk = el("span"), sw = el("span", "k"); sw.style.background = EVC[kindOf(r)] || "#777";
      kk.appendChild(sw); kk.appendChild(document.createTextNode(kindOf(r))); row.appendChild(kk);
      var sm = el("span", null, summary(i)); sm.title = summary(i); row.appendChild(sm);
      evBody.appendChild(row);
    }
  }
  function markRows() {
    var f = firstAt[playStep];
    if (f !== undefined) {
      var j = 0; while (f + j < R.length && R[f + j][1] === playStep && evPos[f + j] === undefined) { j++; }
      var p = evPos[f + j];
      if (p !== undefined) {
        var y = p * ROW;
        if (y < evBox.scrollTop || y > evBox.scrollTop + evBox.clientHeight - 3 * ROW) { evBox.scrollTop = Math.max(0, y - evBox.clientHeight / 3); }
      }
    }
    renderRows();
  }
  evBox.addEventListener("scroll", renderRows);
  function selectRec(i) {
    if (i < 0 || i >= R.length) { return; }
    selected = i;
    detail.textContent = JSON.stringify(recObj(i), null, 2);
  }
  document.addEventListener("click", function (e) {
    var t = e.target && e.target.closest ? e.target.closest("[data-ev]") : null;
    if (!t) { return; }
    var i = Number(t.getAttribute("data-ev"));
    if (t.tagName === "A") {
      e.preventDefault();
      var f = D.findings.filter(function (x) { return x.events.indexOf(i) >= 0; })[0];
      if (f && f.events.length) { showRange(R[f.events[0]][1], R[f.events[f.events.length - 1]][1]); }
      document.getElementById("timeline-section").scrollIntoView({block: "start"});
    }
    selectRec(i); setStep(R[i][1]);
  });
  window.addEventListener("resize", function () { draw(); });

  // -- start -----------------------------------------------------------------------------------------------
  window.__hm = {
    view: function () { return [v0, v1]; }, setStep: setStep, step: function () { return playStep; },
    zoom: zoom, texts: [], arrows: [], colours: function () { var o = {}; NAMES.forEach(function (n, i) { if (n) { o[n] = colour(i); } }); return o; },
    rows: function () { return rows.map(function (r) { return [r.cpu, r.kind, r.label || "", r.y, r.h]; }); }
  };
  layout();
  var m = /^#ev-([0-9]+)$/.exec(window.location.hash), ms = /^#step-([0-9]+)$/.exec(window.location.hash);
  if (m && Number(m[1]) < R.length) { selectRec(Number(m[1])); playStep = R[Number(m[1])][1]; }
  else if (ms) { playStep = Math.min(LAST, Number(ms[1])); }
  renderPlayer();
  draw();
  document.body.setAttribute("data-step", String(playStep));
  document.body.setAttribute("data-ready", "yes");
