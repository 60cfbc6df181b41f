"""The style sheet and the small script of the HTML timeline report (inline: the page needs no network)."""

from __future__ import annotations

__all__ = ["_CSS", "_JS", "_ONERROR"]

_CSS = """
:root { --ink:#17202c; --muted:#5d6b7e; --line:#dde3ea; --bg:#f6f8fb; --red:#d62839; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
       color:var(--ink); background:var(--bg); }
header { background:#1d2b3a; color:#fff; padding:14px 24px; display:flex; align-items:baseline; gap:16px; }
header h1 { margin:0; font-size:20px; font-weight:650; }
header .sub { color:#b9c6d6; font-size:13px; }
main { padding:16px 24px 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:10px; padding:14px 16px; margin-bottom:16px; }
h2 { font-size:15px; margin:0 0 10px; }
table.summary { border-collapse:collapse; width:100%; }
table.summary th { text-align:left; color:var(--muted); font-weight:500; font-size:12.5px; padding:0 14px 6px 0;
                   border-bottom:1px solid var(--line); white-space:nowrap; }
table.summary td { padding:8px 14px 0 0; vertical-align:top; }
table.summary td.c-scenario { font-weight:650; white-space:nowrap; }
table.summary td.c-profile, table.summary td.c-steps { white-space:nowrap; }
table.summary td.c-contexts { max-width:300px; }
table.summary td.c-findings { width:60%; padding-right:0; }
.chip { display:inline-block; border-radius:10px; padding:0 8px; margin:1px 4px 1px 0; font-size:12.5px;
        color:#fff; white-space:nowrap; }
.chip.task { background:#3b6fb6; } .chip.softirq { background:#23917f; } .chip.hardirq { background:#8451c4; }
.chip small { opacity:.8; }
.fkind { display:inline-block; background:var(--red); color:#fff; border-radius:4px; padding:0 7px;
         font-weight:600; font-size:12.5px; margin-right:6px; }
.findings { display:grid; gap:8px; }
.finding { border-left:4px solid var(--red); background:#fff5f5; border-radius:6px; padding:6px 10px; }
.finding .msg { line-height:1.4; }
.finding .where { color:var(--muted); font-size:12.5px; margin-top:2px; }
.finding .links { margin-top:3px; }
.finding a.step { display:inline-block; margin:2px 6px 0 0; padding:0 8px; border-radius:9px;
                  background:#fff; border:1px solid #f0b3b9; color:#a4161a; text-decoration:none; font-size:12.5px; }
.finding a.step b { display:inline-block; background:var(--red); color:#fff; border-radius:7px; width:14px;
                    height:14px; line-height:14px; text-align:center; font-size:10px; margin-right:3px; }
.finding a.step:hover { background:#ffe3e6; }
.num { display:inline-block; width:20px; height:20px; border-radius:10px; background:#fff; color:var(--red);
       border:2px solid var(--red); text-align:center; font-size:11px; line-height:16px; margin-right:6px;
       font-weight:800; }
.clean { color:#2b7a3d; font-weight:600; }
.legend { display:flex; flex-wrap:wrap; gap:14px; font-size:12.5px; color:var(--muted); margin-bottom:8px; }
.legend span.sw { display:inline-block; width:18px; height:11px; border-radius:2px; vertical-align:-1px;
                  margin-right:5px; }
.scroll { overflow-x:auto; }
svg text { font:11px system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif; }
.lane-bg { fill:#fbfcfe; stroke:var(--line); }
.lane-title { font-size:14px !important; font-weight:700; fill:var(--ink); }
.lane-sub { fill:var(--muted); }
.row-label { fill:#3d4a5c; }
.row-label .sub, .row-label.addr { fill:#8794a6; font-size:10px; }
.slot-label { font-weight:600; font-family:ui-monospace,"DejaVu Sans Mono",monospace !important;
              font-size:10.5px !important; }
.row-label.addr { font-family:ui-monospace,"DejaVu Sans Mono",monospace !important; }
.slot-sep { stroke:#eef1f5; }
.axis text { fill:var(--muted); }
.axis .axis-title { font-style:italic; }
.grid { stroke:#e9edf2; }
.gap rect { fill:#eef1f5; opacity:.7; }
.gap-mark { stroke:#8794a6; stroke-width:1.5; fill:none; }
.fstep { stroke:var(--red); stroke-width:1; stroke-dasharray:4 3; opacity:.65; }
.fbadge rect { fill:var(--red); } .fbadge text { fill:#fff; font-weight:700; font-size:10px; }
.ctx text { font-weight:600; }
.hold text, .stale text { font-size:10.5px; }
.clobber text { font-weight:700; }
.fnd rect, rect.fnd, .fnd path { stroke:var(--red) !important; stroke-width:2 !important; }
.ev { cursor:pointer; }
.fault-line { stroke-width:1.5; }
.bang { fill:#fff; font-weight:800; font-size:10px !important; }
.flink path { fill:none; stroke:var(--red); stroke-width:2; }
.fdot circle { fill:var(--red); stroke:#fff; stroke-width:1.5; }
.fdot text { fill:#fff; font-size:9.5px !important; font-weight:700; }
[data-ev] { cursor:pointer; }
.sel rect, rect.sel, .sel path, .sel circle { stroke:#111 !important; stroke-width:2.5 !important; }
.flash rect, rect.flash, .flash path, .flash circle { animation: flash 1.1s ease-in-out 2; }
@keyframes flash { 50% { opacity:.25; } }
#tip { position:fixed; pointer-events:none; background:#1d2b3a; color:#fff; padding:6px 9px; border-radius:6px;
       font-size:12.5px; max-width:520px; box-shadow:0 4px 14px rgba(0,0,0,.25); z-index:10; }
.bottom { display:grid; grid-template-columns: minmax(0,1.4fr) minmax(0,1fr); gap:16px; }
.events { max-height:380px; overflow:auto; }
table.evlist { border-collapse:collapse; width:100%; font-size:12.5px; }
table.evlist th { position:sticky; top:0; background:#fff; text-align:left; color:var(--muted); font-weight:500;
                  border-bottom:1px solid var(--line); padding:3px 6px; }
table.evlist td { padding:2px 6px; border-bottom:1px solid #f0f2f5; white-space:nowrap; }
table.evlist td.s { white-space:normal; }
table.evlist tr { cursor:pointer; } table.evlist tr:hover { background:#f1f5fb; }
table.evlist tr.fnd { background:#fff0f1; } table.evlist tr.sel { background:#ffe9a8; }
.k { display:inline-block; width:8px; height:8px; border-radius:2px; margin-right:5px; }
pre#detail { margin:0; white-space:pre-wrap; font:12px/1.4 ui-monospace,"DejaVu Sans Mono",monospace;
             background:#f7f9fc; border:1px solid var(--line); border-radius:6px; padding:10px; min-height:120px;
             max-height:340px; overflow:auto; }
.hint { color:var(--muted); font-size:12.5px; margin:6px 0 0; }
#js-error { background:var(--red); color:#fff; padding:8px 24px; }
"""

_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("trace-data").textContent);
  var events = data.events;
  var tip = document.getElementById("tip");
  var detail = document.getElementById("detail");
  function idsOf(el) {
    return (el.getAttribute("data-ev") || "").split(" ").filter(function (s) { return s !== ""; }).map(Number);
  }
  function target(e) { return e.target && e.target.closest ? e.target.closest("[data-ev]") : null; }
  function clearClass(name) {
    var els = document.querySelectorAll("." + name);
    for (var i = 0; i < els.length; i++) { els[i].classList.remove(name); }
  }
  function select(ids, flash) {
    clearClass("sel");
    clearClass("flash");
    if (!ids.length) { return; }
    var parts = ids.map(function (i) { return JSON.stringify(events[i], null, 2); });
    detail.textContent = (ids.length > 1 ? ids.length + " events\\n\\n" : "") + parts.join("\\n\\n");
    ids.forEach(function (i) {
      var row = document.getElementById("ev-" + i);
      if (row) { row.classList.add("sel"); }
      var els = document.querySelectorAll("#timeline [data-ev]");
      for (var k = 0; k < els.length; k++) {
        if (idsOf(els[k]).indexOf(i) === 0 || (els[k].classList.contains("ev") && idsOf(els[k]).indexOf(i) >= 0)) {
          els[k].classList.add(flash ? "flash" : "sel");
        }
      }
    });
    var first = document.getElementById("ev-" + ids[0]);
    var box = document.getElementById("events");
    if (first && box) { box.scrollTop = first.offsetTop - box.clientHeight / 2; }
  }
  document.addEventListener("mouseover", function (e) {
    var t = target(e);
    if (!t || !t.getAttribute("data-tip")) { tip.hidden = true; return; }
    tip.textContent = t.getAttribute("data-tip");
    tip.hidden = false;
  });
  document.addEventListener("mousemove", function (e) {
    if (tip.hidden) { return; }
    var x = e.clientX + 14, y = e.clientY + 16;
    if (x + tip.offsetWidth > window.innerWidth - 8) { x = e.clientX - tip.offsetWidth - 14; }
    if (y + tip.offsetHeight > window.innerHeight - 8) { y = e.clientY - tip.offsetHeight - 12; }
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  });
  document.addEventListener("click", function (e) {
    var t = target(e);
    if (!t) { return; }
    if (t.tagName === "A") { e.preventDefault(); }
    var ids = idsOf(t);
    select(ids, t.tagName === "A");
    if (t.tagName === "A") {
      var tl = document.getElementById("timeline");
      if (tl) { tl.scrollIntoView({behavior: "smooth", block: "start"}); }
    }
  });
  var m = /^#ev-([0-9]+)$/.exec(window.location.hash);
  if (m && Number(m[1]) < events.length) { select([Number(m[1])], false); }
  // What the page really rendered (read by the browser test, harmless otherwise).
  var lanes = document.querySelectorAll("#timeline .lane"), drawn = 0;
  for (var i = 0; i < lanes.length; i++) { if (lanes[i].getBBox().width > 0) { drawn++; } }
  var cards = document.querySelectorAll(".finding"), seen = 0;
  for (var j = 0; j < cards.length; j++) {
    var r = cards[j].getBoundingClientRect();
    if (r.height > 0 && r.width > 0 && r.top < window.innerHeight) { seen++; }
  }
  document.body.setAttribute("data-lanes-rendered", String(drawn));
  document.body.setAttribute("data-findings-visible", String(seen));
  document.body.setAttribute("data-ready", "yes");
})();
"""

_ONERROR = """
window.__hmErrors = [];
window.addEventListener("error", function (e) {
  window.__hmErrors.push(String(e.message));
  var d = document.getElementById("js-error");
  if (!d) {
    d = document.createElement("div");
    d.id = "js-error";
    document.body.insertBefore(d, document.body.firstChild);
  }
  d.textContent = "JavaScript error in this report: " + e.message;
});
"""
