"""The HTML report of one run: a single self-contained file built from a trace.

Everything is derived from the trace records (see ``docs/trace.md``):

* per CPU, the *contexts* that ran on it: a task at the bottom of the CPU's
  stack, a softirq or hard IRQ nested on top of what it interrupted (from
  the ``context`` events);
* per CPU, the *kmap slots* over time: ``kmap_atomic`` of slot idx >= 0
  starts a holding of that slot by a context and a page, ``kunmap_atomic``
  (or the end of the context) ends it; a ``kmap_atomic`` of a slot another
  context still holds is a *clobber*, drawn in the warning colour, and the
  holder's mapping is *stale* from that step on;
* marks for TLB flushes, page faults and ``BUG()``;
* the findings, each with the events at its steps outlined and linked.

The file has no external resource: inline CSS, inline SVG and a little plain
JavaScript (hover for a summary, click for the event's JSON).  Every string
that comes from a scenario or a trace is escaped.
"""

from __future__ import annotations

import argparse
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from highmem.errors import HighmemError

__all__ = ["render_html", "cmd_report", "report_filename", "check_report_targets", "write_check_reports"]

# -- geometry -------------------------------------------------------------------------------------
LEFT = 200          # label column of the timeline
RIGHT = 24
AXIS_H = 34
LANE_HEAD = 26
CTX_ROW = 22
SLOT_ROW = 20
MARK_ROW = 18
EV_SQ = 5
EV_LEVELS = 4
LANE_GAP = 16
CHAR_W = 6.4        # an estimate of one character at 11px

KIND_COLOURS = {"task": "#3b6fb6", "softirq": "#23917f", "hardirq": "#8451c4"}
KIND_LIGHT = {"task": "#c9daf1", "softirq": "#bfe6df", "hardirq": "#e0d1f3"}
KIND_LABEL = {"task": "task", "softirq": "softirq", "hardirq": "hard IRQ"}
EVENT_COLOURS = {
    "context": "#8a8f98", "kmap_atomic": "#6a3fc0", "kunmap_atomic": "#a98be0", "load": "#1f9e89",
    "store": "#2f6fd6", "set_pte": "#a0703c", "pte_clear": "#c9a27a", "tlb_flush_one": "#56657d",
    "tlb_flush_all": "#2e3a4d", "tlb_fill": "#9aa6b8", "fault": "#d62839", "bug": "#d62839", "warn": "#d99a00",
    "irq_flags": "#c08a00", "kmap": "#3a8fb7", "kunmap": "#8cc3dd", "pkmap_flush": "#1d5e7a", "bounce": "#888888",
}
DENSE_EVENTS = 6000  # above this many events, the event strip is drawn binned
PLOT_W = 1040       # the width the steps get when they fit
PAD = 10
MIN_UNIT, MAX_UNIT = 1.0, 110.0   # pixels per step
MAX_W = 16000       # the widest timeline (it scrolls sideways beyond the page)
BREAK_MIN = 8       # a stretch of more steps than this without events is compressed ...
BREAK_UNITS = 3     # ... to the width of this many steps


def _e(v: Any) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(v), quote=True)


def _int(v: Any, default: int = -1) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default


def _hex(v: Any) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _addr(v: Any) -> str:
    return f"{v:#010x}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _fit(text: str, width: float, char_w: float = CHAR_W) -> str:
    """``text`` cut to fit ``width`` pixels (with an ellipsis), or "" when not even 3 characters fit."""
    n = int(width // char_w)
    if n >= len(text):
        return text
    if n < 3:
        return ""
    return text[: n - 1] + "…"


def report_filename(name: str) -> str:
    """A file name for scenario ``name``'s report: characters other than letters, digits, ``.-_`` become ``_``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "scenario"
    return f"{safe}.html"


# -- the model derived from a trace ---------------------------------------------------------------
@dataclass
class Interval:
    """A context on a CPU from one step to another, at a nesting depth of the CPU's stack."""

    cpu: int
    name: str
    kind: str
    start: int
    depth: int
    start_ev: int
    end: int = -1
    end_ev: int = -1
    why: str = ""
    open: bool = False


@dataclass
class Holding:
    """A context's atomic mapping of one kmap slot of a CPU."""

    cpu: int
    idx: int
    type: str
    vaddr: Any
    context: str
    kind: str
    pfn: Any
    start: int
    start_ev: int
    level: int = 0
    end: int = -1
    end_ev: int = -1
    how: str = "kunmap_atomic"
    clobbers: list[str] = field(default_factory=list)
    stale_from: int | None = None
    stale_by: str = ""
    stale_pfn: Any = None
    open: bool = False


@dataclass
class Model:
    cpus: int
    last: int
    intervals: list[Interval]
    holdings: list[Holding]
    kinds: dict[str, str]
    ctx_cpu: dict[str, int]
    depth: dict[int, int]
    slots: dict[int, list[tuple[int, str, Any]]]


def analyse(header: dict[str, Any], records: list[dict[str, Any]]) -> Model:
    """Derive contexts, slot holdings and lanes from ``records``."""
    cpus = max(1, _int(header.get("cpus"), 1))
    last = max(_int(header.get("steps"), 0), max((_int(r.get("step"), 0) for r in records), default=0))
    kinds: dict[str, str] = {}
    ctx_cpu: dict[str, int] = {}
    stacks: dict[int, list[Interval]] = {}
    intervals: list[Interval] = []
    active: dict[tuple[int, int], list[Holding]] = {}
    holdings: list[Holding] = []
    slots: dict[int, dict[int, tuple[str, Any]]] = {}

    def close_holding(h: Holding, step: int, ev: int, how: str) -> None:
        h.end, h.end_ev, h.how = step, ev, how
        active[(h.cpu, h.idx)].remove(h)

    for i, r in enumerate(records):
        cpu = _int(r.get("cpu"))
        if cpu < 0:
            continue
        cpus = max(cpus, cpu + 1)
        step = _int(r.get("step"), 0)
        kind = r.get("kind")
        name = str(r.get("context", ""))
        if kind == "context":
            what = r.get("what")
            ck = str(r.get("ctx_kind", "task"))
            kinds.setdefault(name, ck)
            ctx_cpu.setdefault(name, cpu)
            st = stacks.setdefault(cpu, [])
            if what in ("start", "switch_in", "irq_enter", "softirq_enter"):
                iv = Interval(cpu, name, ck, step, len(st), i)
                st.append(iv)
                intervals.append(iv)
            elif what in ("switch_out", "irq_exit", "softirq_exit", "end"):
                for j in range(len(st) - 1, -1, -1):
                    if st[j].name == name:
                        iv = st.pop(j)
                        iv.end, iv.end_ev = step, i
                        iv.why = str(r.get("detail", "")) if what in ("switch_out", "end") else "return"
                        break
                if what == "end":
                    for (c, _idx), hs in list(active.items()):
                        for h in list(hs):
                            if c == cpu and h.context == name:
                                close_holding(h, step, i, "context ended holding it")
        elif kind in ("kmap_atomic", "kunmap_atomic"):
            idx = _int(r.get("idx"))
            if idx < 0:
                continue
            key = (cpu, idx)
            hs = active.setdefault(key, [])
            if kind == "kmap_atomic":
                slots.setdefault(cpu, {})[idx] = (str(r.get("type", "?")), r.get("vaddr"))
                ck = kinds.get(name, "task")
                for h in list(hs):
                    if h.context == name:
                        close_holding(h, step, i, "mapped again")
                h = Holding(cpu, idx, str(r.get("type", "?")), r.get("vaddr"), name, ck, r.get("pfn"), step, i)
                for v in hs:
                    h.clobbers.append(v.context)
                    if v.stale_from is None:
                        v.stale_from, v.stale_by, v.stale_pfn = step, name, r.get("pfn")
                used = {v.level for v in hs}
                while h.level in used:
                    h.level += 1
                hs.append(h)
                holdings.append(h)
            else:
                for h in reversed(hs):
                    if h.context == name:
                        close_holding(h, step, i, "kunmap_atomic")
                        break
    for st in stacks.values():
        for iv in st:
            iv.end, iv.open = last, True
    for hs in active.values():
        for h in hs:
            h.end, h.open, h.how = last, True, "still held at the end of the trace"
    depth = {c: 1 for c in range(cpus)}
    for iv in intervals:
        depth[iv.cpu] = max(depth.get(iv.cpu, 1), iv.depth + 1)
    slot_rows: dict[int, list[tuple[int, str, Any]]] = {}
    for c, d in slots.items():
        slot_rows[c] = [(idx, t, va) for idx, (t, va) in sorted(d.items())]
    return Model(cpus, last, intervals, holdings, kinds, ctx_cpu, depth, slot_rows)


# -- event summaries --------------------------------------------------------------------------------
def summarize(r: dict[str, Any]) -> str:
    """A one-line description of a record (plain text, not escaped)."""
    k = r.get("kind")
    g = r.get
    if k == "context":
        s = f"{g('ctx_kind', '')} {g('what', '')}"
        return s + (f" ({g('detail')})" if g("detail") else "")
    if k == "kmap_atomic":
        if _int(g("idx")) < 0:
            return f"{g('type')}: lowmem page {_hex(g('pfn'))} is already mapped at {_addr(g('vaddr'))}"
        return f"{g('type')} (idx {g('idx')}) at {_addr(g('vaddr'))} now maps page {_hex(g('pfn'))}"
    if k == "kunmap_atomic":
        return f"{g('type')} (idx {g('idx')}) at {_addr(g('vaddr'))}" + (", PTE cleared" if g("cleared") else "")
    if k in ("load", "store"):
        via = "TLB hit" if g("tlb") else "page-table walk"
        return f"{g('size')} bytes at {_addr(g('vaddr'))} reached page {_hex(g('pfn'))} ({via})"
    if k == "set_pte":
        return f"PTE of {_addr(g('vaddr'))}: {_hex(g('old'))} -> {_hex(g('new'))}"
    if k == "pte_clear":
        return f"PTE of {_addr(g('vaddr'))} cleared (was {_hex(g('old'))})"
    if k == "tlb_flush_one":
        return f"__flush_tlb_one({_addr(g('vaddr'))}): " + ("entry dropped" if g("present") else "no entry cached")
    if k == "tlb_flush_all":
        what = "__flush_tlb_all()" if g("include_global") else "__flush_tlb()"
        return f"{what}: {g('dropped')} entries dropped"
    if k == "tlb_fill":
        return f"TLB filled: {_addr(g('vaddr'))} -> page {_hex(g('pfn'))}"
    if k == "fault":
        return str(g("message", "page fault"))
    if k == "bug":
        return f"BUG() in {g('function')}: {g('message')}"
    if k == "warn":
        return f"WARN_ON in {g('function')}: {g('message')}"
    if k in ("kmap", "kunmap"):
        return f"page {_hex(g('pfn'))} at {_addr(g('vaddr'))}, pkmap entry {g('nr')}, count {g('pkmap_count')}"
    if k == "pkmap_flush":
        return f"flush_all_zero_pkmaps cleared {g('cleared')} entries"
    if k == "irq_flags":
        return f"{g('op')}: interrupts {'on' if g('enabled') else 'off'}"
    if k == "bounce":
        return f"{g('what')} {g('rw')} block {g('block')}: page {_hex(g('pfn'))}, bounce {_hex(g('bounce_pfn'))}"
    rest = {a: b for a, b in r.items() if a not in ("step", "kind", "cpu", "context")}
    return json.dumps(rest, sort_keys=True)[:200]


def _findings_of(header: dict[str, Any], findings: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if findings is None:
        fs = header.get("findings")
        findings = [f for f in fs if isinstance(f, dict)] if isinstance(fs, list) else []
        if not findings and isinstance(header.get("finding"), str):
            findings = [{"kind": header["finding"], "message": ""}]
    return [f for f in findings if isinstance(f, dict)]


# How likely an event kind is to be what a finding's step means (accesses, faults and BUGs first:
# at the step of a stale access the clobbering context may also unmap).
_RELEVANT = {"kmap_atomic": 4, "kunmap_atomic": 4, "load": 5, "store": 5, "fault": 6, "bug": 6, "warn": 6}


def _finding_events(f: dict[str, Any], by_step: dict[int, list[int]], records: list[dict[str, Any]]) -> list[int]:
    """For each step a finding names, the event at that step it most likely means."""
    c, sl, st = f.get("contexts"), f.get("slot"), f.get("steps")
    ctxs: list[Any] = c if isinstance(c, list) else []
    slot: dict[str, Any] = sl if isinstance(sl, dict) else {}
    steps: list[Any] = st if isinstance(st, list) else []
    out: list[int] = []
    for s in steps:
        best, score = -1, -1
        for i in by_step.get(_int(s), []):
            r = records[i]
            sc = _RELEVANT.get(str(r.get("kind")), 0)
            if r.get("kind") == "context" and r.get("what") in ("switch_out", "end"):
                sc = 3
            if r.get("context") in ctxs:
                sc += 3
            if slot and (r.get("idx") == slot.get("idx") or r.get("vaddr") == slot.get("vaddr")):
                sc += 2
            if r.get("cpu") == f.get("cpu"):
                sc += 1
            if str(r.get("kind")) in str(f.get("message", "")).split():
                sc += 1
            if sc > score:
                best, score = i, sc
        if best >= 0 and best not in out:
            out.append(best)
    return out


# -- SVG timeline ----------------------------------------------------------------------------------
class _Timeline:
    def __init__(self, model: Model, records: list[dict[str, Any]], hits: dict[int, list[int]]) -> None:
        self.m = model
        self.records = records
        self.hits = hits            # event index -> finding numbers
        self.anchors: dict[int, tuple[float, float]] = {}
        self.parts: list[str] = []
        self.lane_top: dict[int, float] = {}
        self.height = 0.0
        # The x axis is the step, piecewise linear: a stretch of more than BREAK_MIN steps without any
        # event is drawn BREAK_UNITS steps wide and marked as a break, so the busy steps get the room.
        steps = sorted({0, model.last} | {_int(r.get("step"), 0) for r in records})
        self.knots: list[tuple[int, float]] = [(steps[0], 0.0)]
        self.breaks: list[tuple[int, int]] = []
        u = 0.0
        for a, b in zip(steps, steps[1:], strict=False):
            if b - a > BREAK_MIN:
                u += BREAK_UNITS
                self.breaks.append((a, b))
            else:
                u += b - a
            self.knots.append((b, u))
        units = max(u, 1.0)
        self.unit = min(max(PLOT_W / units, MIN_UNIT), MAX_UNIT)
        if units * self.unit > MAX_W:
            self.unit = MAX_W / units
        self.width = int(units * self.unit + 2 * PAD)

    def x(self, step: float) -> float:
        """The x of ``step`` (piecewise linear between the steps that have events)."""
        k = self.knots
        if step <= k[0][0]:
            u = 0.0
        elif step >= k[-1][0]:
            u = k[-1][1]
        else:
            lo, hi = 0, len(k) - 1
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if k[mid][0] <= step:
                    lo = mid
                else:
                    hi = mid
            (s0, u0), (s1, u1) = k[lo], k[hi]
            u = u0 + (step - s0) * (u1 - u0) / (s1 - s0)
        return LEFT + PAD + u * self.unit

    def _bar(self, x0: float, x1: float, y: float, h: float, fill: str, stroke: str, label: str, tip: str,
             evs: list[int], cls: str, text_fill: str = "#17202c", extra: str = "",
             label_w: float | None = None) -> None:
        w = max(x1 - x0, 3.0)
        ev_attr = " ".join(str(e) for e in evs)
        hit = any(e in self.hits for e in evs)
        cls = cls + (" fnd" if hit else "")
        self.parts.append(
            f'<g class="{cls}" data-ev="{ev_attr}" data-tip="{_e(tip)}"><title>{_e(tip)}</title>'
            f'<rect x="{x0:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="3" fill="{fill}" '
            f'stroke="{stroke}"{extra}/>')
        pad = 12.0 if evs and evs[0] in self.hits else 4.0   # room for a finding's numbered dot
        room = min(w, label_w if label_w is not None else w) - pad - 4
        t = ""
        for alt in label.split("\n"):
            t = alt if len(alt) * CHAR_W <= room else t
            if t:
                break
        t = t or _fit(label.split("\n")[-1], room)
        if t:
            self.parts.append(f'<text x="{x0 + pad:.1f}" y="{y + h / 2 + 4:.1f}" fill="{text_fill}">{_e(t)}</text>')
        self.parts.append("</g>")

    def build(self, findings: list[dict[str, Any]], fevents: list[list[int]]) -> str:
        m = self.m
        y = AXIS_H + 6.0
        by_cpu: dict[int, list[int]] = {}
        for i, r in enumerate(self.records):
            c = _int(r.get("cpu"))
            if c >= 0:
                by_cpu.setdefault(c, []).append(i)
        body: list[str] = []
        for cpu in range(m.cpus):
            self.parts = []
            top = y
            self.lane_top[cpu] = top
            y = self._lane(cpu, top, by_cpu.get(cpu, []))
            lane_h = y - top
            body.append(f'<g class="lane" id="lane-{cpu}" data-cpu="{cpu}">'
                        f'<rect class="lane-bg" x="0" y="{top:.1f}" width="{LEFT + self.width + RIGHT}" '
                        f'height="{lane_h:.1f}" rx="6"/>' + "".join(self.parts) + "</g>")
            y += LANE_GAP
        self.height = y
        axis = self._axis(y)
        links = self._links(findings, fevents)
        total_w = LEFT + self.width + RIGHT
        return (f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{y + 4:.0f}" '
                f'viewBox="0 0 {total_w} {y + 4:.0f}" role="img" aria-label="timeline of the run, one lane per CPU">'
                + _svg_defs() + axis + "".join(body) + links + "</svg>")

    def _axis(self, bottom: float) -> str:
        out = ['<g class="axis">']
        y_end = bottom - LANE_GAP
        for a, b in self.breaks:
            xa, xb = self.x(a) + 4, self.x(b) - 4
            if xb - xa < 4:
                continue
            mid = (xa + xb) / 2
            out.append(f'<g class="gap" data-tip="{_e(f"steps {a + 1} to {b - 1}: no events (compressed)")}">'
                       f'<rect x="{xa:.1f}" y="{AXIS_H - 6}" width="{xb - xa:.1f}" '
                       f'height="{y_end - AXIS_H + 6:.1f}"/><path class="gap-mark" '
                       f'd="M{mid - 5:.1f} {AXIS_H + 1} l4 -9 M{mid + 1:.1f} {AXIS_H + 1} l4 -9"/>'
                       f"<title>steps {a + 1} to {b - 1}: no events, drawn compressed</title></g>")
        badges: list[tuple[float, int, int]] = []
        seen: set[int] = set()
        for i in sorted(self.hits):
            st = _int(self.records[i].get("step"), 0)
            if st not in seen:
                seen.add(st)
                badges.append((self.x(st), st, i))
        taken = [bx for bx, _, _ in badges]
        # Tick labels: the ends of every compressed stretch, then round numbers, never crowding.
        cands: list[int] = [0, self.m.last]
        for a, b in self.breaks:
            cands += [a, b]
        every = 1
        for mult in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000):
            every = mult
            if mult * self.unit >= 44:
                break
        # Never more than about 200 candidate ticks, however long the run.
        every = max(every, -(-self.m.last // 200))
        cands += list(range(0, self.m.last + 1, every))
        for st in cands:
            x = self.x(st)
            if any(abs(x - t) < 30 for t in taken) or any(a < st < b for a, b in self.breaks):
                continue
            taken.append(x)
            out.append(f'<line class="grid" x1="{x:.1f}" y1="{AXIS_H - 6}" x2="{x:.1f}" y2="{y_end:.1f}"/>'
                       f'<text x="{x:.1f}" y="{AXIS_H - 12}" text-anchor="middle">{st}</text>')
        out.append(f'<text x="{LEFT - 10}" y="{AXIS_H - 12}" text-anchor="end" class="axis-title">step</text>')
        # Finding steps: a dashed line across every lane and a badge on the axis.
        for x, st, i in badges:
            out.append(f'<line class="fstep" x1="{x:.1f}" y1="{AXIS_H - 4}" x2="{x:.1f}" y2="{y_end:.1f}"/>'
                       f'<g class="fbadge" data-ev="{i}" data-tip="a finding names step {st}"><rect x="{x - 14:.1f}" '
                       f'y="{AXIS_H - 25}" width="28" height="16" rx="8"/><text x="{x:.1f}" y="{AXIS_H - 13}" '
                       f'text-anchor="middle">{st}</text></g>')
        out.append("</g>")
        return "".join(out)

    def _label(self, y: float, text: str, cls: str = "row-label", sub: str = "") -> None:
        self.parts.append(f'<text class="{cls}" x="{LEFT - 10}" y="{y:.1f}" text-anchor="end">{_e(text)}'
                          + (f'<tspan class="sub"> {_e(sub)}</tspan>' if sub else "") + "</text>")

    def _lane(self, cpu: int, top: float, evs: list[int]) -> float:
        m = self.m
        ncontexts = len({iv.name for iv in m.intervals if iv.cpu == cpu})
        self.parts.append(f'<text class="lane-title" x="12" y="{top + 18:.1f}">CPU {cpu}</text>'
                          f'<text class="lane-sub" x="{LEFT - 10}" y="{top + 18:.1f}" text-anchor="end">'
                          f'{ncontexts} context{"s" if ncontexts != 1 else ""}</text>')
        y = top + LANE_HEAD
        # Contexts, nested by stack depth: the task at the bottom of the stack on the first row.
        depth = m.depth.get(cpu, 1)
        for d in range(depth):
            ry = y + d * CTX_ROW
            name = "contexts" if d == 0 else "nested" if d == 1 else f"nested ×{d}"
            self._label(ry + CTX_ROW / 2 + 4, name, "row-label")
        for iv in m.intervals:
            if iv.cpu != cpu:
                continue
            ry = y + iv.depth * CTX_ROW + 2
            x0, x1 = self.x(iv.start), self.x(iv.end)
            kind = iv.kind if iv.kind in KIND_COLOURS else "task"
            end = "still running at the end of the trace" if iv.open else f"to step {iv.end}" + (
                f" ({iv.why})" if iv.why else "")
            tip = f"{iv.name} ({KIND_LABEL[kind]}) on CPU {cpu} from step {iv.start} {end}"
            evl = [iv.start_ev] + ([iv.end_ev] if iv.end_ev >= 0 else [])
            self._bar(x0, x1, ry, CTX_ROW - 4, KIND_COLOURS[kind], "none", iv.name, tip, evl, f"ctx ctx-{kind}",
                      text_fill="#ffffff")
            self.anchors.setdefault(iv.start_ev, (x0, ry + (CTX_ROW - 4) / 2))
            if iv.end_ev >= 0:
                self.anchors.setdefault(iv.end_ev, (x1, ry + (CTX_ROW - 4) / 2))
        y += depth * CTX_ROW + 4
        # kmap slots of this CPU, one row (or more, when clobbered) per slot.
        for idx, tname, vaddr in m.slots.get(cpu, []):
            hs = [h for h in m.holdings if h.cpu == cpu and h.idx == idx]
            levels = max((h.level for h in hs), default=0) + 1
            rows_h = levels * SLOT_ROW
            self.parts.append(f'<line class="slot-sep" x1="{LEFT}" x2="{LEFT + self.width}" y1="{y:.1f}" '
                              f'y2="{y:.1f}"/>')
            self._label(y + SLOT_ROW / 2 + 4, tname, "row-label slot-label", f"#{idx}")
            if levels > 1 or rows_h >= 2 * SLOT_ROW:
                self._label(y + SLOT_ROW + SLOT_ROW / 2 + 4, _addr(vaddr), "row-label addr")
            for h in hs:
                self._holding(h, y + h.level * SLOT_ROW + 2, SLOT_ROW - 4)
            y += rows_h + 2
        # TLB flushes, faults, BUG()s.
        self._label(y + MARK_ROW / 2 + 4, "TLB · faults")
        my = y + MARK_ROW / 2
        for i in evs:
            r = self.records[i]
            k = r.get("kind")
            if k not in ("tlb_flush_one", "tlb_flush_all", "fault", "bug", "warn"):
                continue
            x = self.x(_int(r.get("step"), 0))
            tip = f"step {r.get('step')}: {k} by {r.get('context', '?')}: {summarize(r)}"
            cls = "mark" + (" fnd" if i in self.hits else "")
            if k == "tlb_flush_one":
                shape = (f'<path d="M{x:.1f} {my - 5:.1f} L{x + 4:.1f} {my:.1f} L{x:.1f} {my + 5:.1f} '
                         f'L{x - 4:.1f} {my:.1f} Z" fill="{EVENT_COLOURS[k]}"/>')
            elif k == "tlb_flush_all":
                shape = (f'<rect x="{x - 2:.1f}" y="{my - 7:.1f}" width="4" height="14" '
                         f'fill="{EVENT_COLOURS[k]}"/>')
            else:
                colour = EVENT_COLOURS[str(k)]
                shape = (f'<line class="fault-line" x1="{x:.1f}" x2="{x:.1f}" y1="{top + LANE_HEAD:.1f}" '
                         f'y2="{my:.1f}" stroke="{colour}"/><path d="M{x:.1f} {my - 8:.1f} L{x + 7:.1f} {my + 6:.1f} '
                         f'L{x - 7:.1f} {my + 6:.1f} Z" fill="{colour}"/><text class="bang" x="{x:.1f}" '
                         f'y="{my + 5:.1f}" text-anchor="middle">{ {"fault": "!", "bug": "B"}.get(str(k), "W")}</text>')
            self.parts.append(f'<g class="{cls}" data-ev="{i}" data-tip="{_e(tip)}"><title>{_e(tip)}</title>'
                              f'{shape}</g>')
            self.anchors.setdefault(i, (x, my))
        y += MARK_ROW + 2
        # Every event of the CPU as a small square (stacked when several share a step).
        self._label(y + 12, "events", sub=f"{len(evs)}")
        ey = y + 4
        if len(self.records) > DENSE_EVENTS:
            self._binned(evs, ey)
        else:
            level: dict[int, int] = {}
            for i in evs:
                r = self.records[i]
                st = _int(r.get("step"), 0)
                lv = min(level.get(st, 0), EV_LEVELS - 1)
                level[st] = level.get(st, 0) + 1
                x = self.x(st) - EV_SQ / 2
                yy = ey + lv * (EV_SQ + 1)
                k = str(r.get("kind"))
                tip = f"step {st}: {k} by {r.get('context', '-')}: {summarize(r)}"
                cls = "ev" + (" fnd" if i in self.hits else "")
                self.parts.append(f'<rect class="{cls}" data-ev="{i}" data-tip="{_e(tip)}" x="{x:.1f}" '
                                  f'y="{yy:.1f}" width="{EV_SQ}" height="{EV_SQ}" '
                                  f'fill="{EVENT_COLOURS.get(k, "#777777")}"/>')
                self.anchors.setdefault(i, (x + EV_SQ / 2, yy + EV_SQ / 2))
        y += EV_LEVELS * (EV_SQ + 1) + 10
        return y

    def _binned(self, evs: list[int], ey: float) -> None:
        bins: dict[int, list[int]] = {}
        for i in evs:
            px = int(self.x(_int(self.records[i].get("step"), 0)) // 3)
            bins.setdefault(px, []).append(i)
        hmax = EV_LEVELS * (EV_SQ + 1)
        for px, idxs in sorted(bins.items()):
            first, lastr = self.records[idxs[0]], self.records[idxs[-1]]
            h = min(hmax, 2 + len(idxs))
            tip = f"{len(idxs)} events, steps {first.get('step')} to {lastr.get('step')} (click for the first 40)"
            cls = "ev" + (" fnd" if any(i in self.hits for i in idxs) else "")
            self.parts.append(f'<rect class="{cls}" data-ev="{" ".join(str(i) for i in idxs[:40])}" '
                              f'data-tip="{_e(tip)}" x="{px * 3:.1f}" y="{ey + hmax - h:.1f}" width="3" '
                              f'height="{h:.1f}" fill="#56657d"/>')
            for i in idxs:
                self.anchors.setdefault(i, (px * 3 + 1.5, ey + hmax - h / 2))

    def _holding(self, h: Holding, y: float, hh: float) -> None:
        x0, x1 = self.x(h.start), self.x(h.end)
        kind = h.kind if h.kind in KIND_COLOURS else "task"
        evl = [h.start_ev] + ([h.end_ev] if h.end_ev >= 0 else [])
        ended = "still held at the end of the trace" if h.open else f"until step {h.end} ({h.how})"
        tip = (f"{h.context} ({KIND_LABEL[kind]}) maps {h.type} (idx {h.idx}, {_addr(h.vaddr)}) on CPU {h.cpu} "
               f"to page {_hex(h.pfn)} from step {h.start} {ended}")
        label = f"{h.context} · page {_hex(h.pfn)}\n{h.context} · {_hex(h.pfn)}\n{_hex(h.pfn)}"
        if h.clobbers:
            tip = (f"CLOBBER: {h.context} ({KIND_LABEL[kind]}) maps {h.type} (idx {h.idx}) on CPU {h.cpu} at step "
                   f"{h.start} while {', '.join(h.clobbers)} still hold it; page {_hex(h.pfn)} {ended}")
            label = f"⚠ {h.context} · page {_hex(h.pfn)}\n⚠ {h.context} · {_hex(h.pfn)}\n⚠ {h.context}"
            self._bar(x0, x1, y, hh, "url(#hatch-warn)", "#c0392b", label, tip, evl, "hold clobber",
                      text_fill="#7a1010", extra=' stroke-width="1.5"')
        else:
            self._bar(x0, x1, y, hh, KIND_LIGHT[kind], KIND_COLOURS[kind], label, tip, evl, f"hold hold-{kind}",
                      label_w=None if h.stale_from is None else self.x(h.stale_from) - x0)
        if h.stale_from is not None:
            sx = self.x(h.stale_from)
            stip = (f"STALE: from step {h.stale_from} {h.context}'s address {_addr(h.vaddr)} reaches page "
                    f"{_hex(h.stale_pfn)} of {h.stale_by}, not its page {_hex(h.pfn)}")
            w = max(x1 - sx, 3.0)
            t = _fit(f"stale: now page {_hex(h.stale_pfn)}", w - 8)
            self.parts.append(
                f'<g class="stale" data-ev="{h.start_ev}" data-tip="{_e(stip)}"><title>{_e(stip)}</title>'
                f'<rect x="{sx:.1f}" y="{y:.1f}" width="{w:.1f}" height="{hh:.1f}" rx="3" fill="url(#hatch-stale)" '
                f'stroke="#c0392b" stroke-dasharray="3 2"/>'
                + (f'<text x="{sx + 4:.1f}" y="{y + hh / 2 + 4:.1f}" fill="#7a1010">{_e(t)}</text>' if t else "")
                + "</g>")
        self.anchors.setdefault(h.start_ev, (x0, y + hh / 2))
        if h.end_ev >= 0:
            self.anchors.setdefault(h.end_ev, (x1, y + hh / 2))

    def _links(self, findings: list[dict[str, Any]], fevents: list[list[int]]) -> str:
        out = ['<g class="links">']
        dots: set[tuple[int, int]] = set()
        for n, evs in enumerate(fevents, start=1):
            pts = [self.anchors[i] for i in evs if i in self.anchors]
            for (ax, ay), (bx, by) in zip(pts, pts[1:], strict=False):
                top = min(ay, by) - 26 - 6 * (n - 1)
                mx = (ax + bx) / 2
                kind = str(findings[n - 1].get("kind", "finding"))
                tip = f"finding {n}: {kind}"
                out.append(f'<g class="flink" data-finding="{n}" data-ev="{" ".join(str(i) for i in evs)}" '
                           f'data-tip="{_e(tip)}"><path d="M{ax:.1f} {ay:.1f} Q{mx:.1f} {top:.1f} {bx:.1f} {by:.1f}" '
                           f'marker-end="url(#arrow)"/></g>')
            for j, (px, py) in enumerate(pts if len(pts) > 1 else [], start=1):
                if (round(px), round(py)) in dots:
                    continue
                dots.add((round(px), round(py)))
                out.append(f'<g class="fdot" data-ev="{evs[j - 1]}" data-tip="finding {n}, event {j}">'
                           f'<circle cx="{px:.1f}" cy="{py:.1f}" r="7"/><text x="{px:.1f}" y="{py + 3.5:.1f}" '
                           f'text-anchor="middle">{j}</text></g>')
        out.append("</g>")
        return "".join(out)


def _svg_defs() -> str:
    return ('<defs>'
            '<pattern id="hatch-warn" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#fbd3c9"/>'
            '<rect width="3" height="6" fill="#f08a6c"/></pattern>'
            '<pattern id="hatch-stale" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(-45)"><rect width="6" height="6" fill="#fff1ee" fill-opacity="0.85"/>'
            '<rect width="2" height="6" fill="#e06a5a" fill-opacity="0.7"/></pattern>'
            '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            'orient="auto-start-reverse"><path d="M0 0 L10 5 L0 10 z" fill="#d62839"/></marker>'
            '</defs>')


# -- the page -----------------------------------------------------------------------------------------
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


def _summary(header: dict[str, Any], model: Model, records: list[dict[str, Any]],
             findings: list[dict[str, Any]], fevents: list[list[int]]) -> str:
    """The summary table: one row, like a row of ``highmem check``'s table."""
    scen = str(header.get("scenario", "?"))
    src = header.get("source")
    cells = [
        _e(scen) + (f'<div class="hint">{_e(src)}</div>' if src and src != scen else ""),
        _e(header.get("profile", "?")),
        f'{model.last}<div class="hint">{len(records)} events</div>',
        str(model.cpus),
    ]
    groups: dict[tuple[str, str, Any], list[str]] = {}
    for name, kind in model.kinds.items():
        k = kind if kind in KIND_COLOURS else "task"
        base = re.sub(r"#\d+$", "", name) if k != "task" else name
        groups.setdefault((base, k, model.ctx_cpu.get(name, "?")), []).append(name)
    chips = []
    for (base, k, cpu), names in groups.items():
        label = names[0] if len(names) == 1 else f"{base} ×{len(names)}"
        chips.append(f'<span class="chip {k}" title="{_e(", ".join(names[:50]))}">{_e(label)} '
                     f'<small>{_e(KIND_LABEL[k])} · CPU {_e(cpu)}</small></span>')
    choices = header.get("choices")
    sched = ""
    if isinstance(choices, list):
        pairs = [f"{_e(c[0])}: {_e(c[1])}" for c in choices if isinstance(c, list) and len(c) == 2]
        if len(pairs) > 6:
            sched = (f'<details class="hint"><summary>schedule: {len(pairs)} choices</summary>'
                     f'{", ".join(pairs)}</details>')
        else:
            text = ", ".join(pairs) or "the default (option 0 at every choice point)"
            sched = f'<div class="hint">schedule: {text}</div>'
    cells.append(("".join(chips) or "none") + sched)
    cells.append(_finding_cards(findings, fevents, records))
    heads = ["scenario", "profile", "steps", "CPUs", "contexts", "findings"]
    return ('<table class="summary"><thead><tr>' + "".join(f"<th>{h}</th>" for h in heads) + "</tr></thead>"
            '<tbody><tr>' + "".join(f'<td class="c-{h.lower()}">{c}</td>' for h, c in zip(heads, cells, strict=True))
            + "</tr></tbody></table>")


def _finding_cards(findings: list[dict[str, Any]], fevents: list[list[int]], records: list[dict[str, Any]]) -> str:
    if not findings:
        return '<span class="clean">none: the checker found nothing in this run</span>'
    out = ['<div class="findings">']
    for n, (f, evs) in enumerate(zip(findings, fevents, strict=True), start=1):
        where = []
        slot = f.get("slot")
        if isinstance(slot, dict):
            where.append(f"slot {slot.get('type')} (idx {slot.get('idx')}, fixmap {slot.get('fixmap')}, "
                         f"{_addr(slot.get('vaddr'))})")
        pages = f.get("pages")
        if isinstance(pages, list) and pages:
            where.append("pages " + ", ".join(_hex(p) for p in pages))
        links = []
        for j, i in enumerate(evs, start=1):
            r = records[i]
            links.append(f'<a class="step" href="#ev-{i}" data-ev="{i}" data-tip="{_e(summarize(r))}">'
                         f'<b>{j}</b> step {_e(r.get("step"))}: {_e(r.get("kind"))} by {_e(r.get("context", "-"))}</a>')
        msg = f.get("message") or "(this trace records only the finding's kind)"
        out.append(f'<div class="finding" id="finding-{n}"><span class="num">{n}</span>'
                   f'<span class="fkind">{_e(f.get("kind", "?"))}</span><span class="msg">{_e(msg)}</span>'
                   + (f'<div class="where">{_e("; ".join(where))}</div>' if where else "")
                   + ('<div class="links">' + "".join(links) + "</div>" if links else "") + "</div>")
    out.append("</div>")
    return "".join(out)


def _legend() -> str:
    items = [
        (KIND_COLOURS["task"], "task"), (KIND_COLOURS["softirq"], "softirq"), (KIND_COLOURS["hardirq"], "hard IRQ"),
        (KIND_LIGHT["task"], "slot held (colour of the holder)"),
    ]
    out = ['<div class="legend">']
    for colour, text in items:
        out.append(f'<span><span class="sw" style="background:{colour}"></span>{_e(text)}</span>')
    out.append('<span><span class="sw" style="background:repeating-linear-gradient(45deg,#f08a6c 0 3px,'
               '#fbd3c9 3px 6px);border:1px solid #c0392b"></span>slot taken while another context holds it</span>')
    out.append('<span><span class="sw" style="background:repeating-linear-gradient(-45deg,#e06a5a 0 2px,'
               '#fff1ee 2px 6px);border:1px dashed #c0392b"></span>holder\'s mapping is stale</span>')
    out.append('<span>◆ __flush_tlb_one</span><span>▮ TLB flush all</span>'
               '<span><span style="color:#d62839">▲</span> fault, BUG() '
               '<span style="color:#d99a00">▲</span> WARN</span>'
               '<span><span style="color:#d62839">➊➋</span> a finding\'s events, linked in order</span>')
    out.append("</div>")
    return "".join(out)


def _event_rows(records: list[dict[str, Any]], hits: dict[int, list[int]]) -> str:
    out = []
    for i, r in enumerate(records):
        k = str(r.get("kind"))
        cls = ' class="fnd"' if i in hits else ""
        out.append(f'<tr id="ev-{i}" data-ev="{i}"{cls}><td>{_e(r.get("step"))}</td><td>{_e(r.get("cpu", ""))}</td>'
                   f'<td>{_e(r.get("context", ""))}</td><td><span class="k" style="background:'
                   f'{EVENT_COLOURS.get(k, "#777777")}"></span>{_e(k)}</td><td class="s">{_e(summarize(r))}</td></tr>')
    return "".join(out)


def _script_json(obj: Any) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' survive literally."""
    return (json.dumps(obj, sort_keys=True).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def render_html(header: dict[str, Any], records: list[dict[str, Any]], title: str | None = None,
                findings: list[dict[str, Any]] | None = None) -> str:
    """The self-contained HTML report of one trace.

    ``findings`` are :meth:`Finding.to_dict` dicts; by default they come from
    the header (``findings``, or only the ``finding`` kind of older traces).
    """
    fl = _findings_of(header, findings)
    model = analyse(header, records)
    by_step: dict[int, list[int]] = {}
    for i, r in enumerate(records):
        by_step.setdefault(_int(r.get("step"), 0), []).append(i)
    fevents = [_finding_events(f, by_step, records) for f in fl]
    hits: dict[int, list[int]] = {}
    for n, evs in enumerate(fevents, start=1):
        for i in evs:
            hits.setdefault(i, []).append(n)
    tl = _Timeline(model, records, hits)
    svg = tl.build(fl, fevents)
    scen = str(header.get("scenario", "trace"))
    title = title if title is not None else f"highmem report: {scen}"
    nf = len(fl)
    status = (f'<span class="fkind">{nf} finding{"s" if nf != 1 else ""}</span>' if nf
              else '<span class="clean">clean</span>')
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style><script>{_ONERROR}</script></head><body>",
        f'<header><h1>{_e(title)}</h1><span class="sub">{_e(header.get("profile", ""))} · '
        f'{model.cpus} CPU{"s" if model.cpus != 1 else ""} · {model.last} steps</span> {status}</header><main>',
        f'<section id="summary">{_summary(header, model, records, fl, fevents)}</section>',
        '<section id="timeline-section"><h2>Timeline: one lane per CPU</h2>', _legend(),
        f'<div class="scroll">{svg}</div><p class="hint">x axis: simulation step. Hover anything for a summary; '
        "click it for the event's JSON below.</p></section>",
        '<section class="bottom-wrap"><div class="bottom"><div><h2>Events</h2><div class="events" id="events">'
        '<table class="evlist"><thead><tr><th>step</th><th>CPU</th><th>context</th><th>kind</th><th>what</th>'
        f"</tr></thead><tbody>{_event_rows(records, hits)}</tbody></table></div></div>",
        '<div><h2>Details</h2><pre id="detail">Click an event, a bar or a mark to see its record here.</pre>'
        f'<p class="hint">Trace schema {_e(header.get("schema", "highmem-trace"))} version '
        f'{_e(header.get("version", 1))}.</p></div></div></section>',
        '</main><div id="tip" hidden></div>',
        f'<script type="application/json" id="trace-data">{_script_json({"events": records})}</script>',
        f"<script>{_JS}</script></body></html>\n",
    ])


# -- commands ----------------------------------------------------------------------------------------
def _write_text(path: Path, text: str, what: str) -> None:
    if path.is_dir():
        raise HighmemError(f"{what} {path} is a directory: name a file to write")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as e:
        raise HighmemError(f"{what} {path} cannot be written: {e.strerror or e}") from None


def cmd_report(args: argparse.Namespace) -> int:
    """``highmem report TRACE -o FILE``: write the HTML report of a trace file."""
    from highmem.report.trace_io import read_trace

    header, records = read_trace(args.trace)
    out = Path(args.output)
    if not out.parent.exists():
        raise HighmemError(f"report {out} cannot be written: directory {out.parent} does not exist")
    _write_text(out, render_html(header, records), "report")
    return 0


def check_report_targets(args: argparse.Namespace) -> None:
    """Refuse unusable ``--trace FILE`` / ``--html DIR`` before exploring."""
    from highmem.report.trace_io import check_trace_target

    if getattr(args, "trace", None):
        check_trace_target(args.trace)
    if getattr(args, "html", None):
        d = Path(args.html)
        if d.exists() and not d.is_dir():
            raise HighmemError(f"--html {d} is a file: name a directory to write reports into")


def write_check_reports(exs: list[Any], args: argparse.Namespace) -> dict[str, str]:
    """``check --trace FILE`` and ``check --html DIR``; returns scenario name -> report path."""
    from highmem.report.trace_io import record_schedule, write_first_trace

    if getattr(args, "trace", None):
        write_first_trace(exs[:1], args.trace, args.depth)   # the first scenario, as docs/check.md says
    written: dict[str, str] = {}
    if getattr(args, "html", None):
        d = Path(args.html)
        for ex in exs:
            rep = next(iter(ex.by_kind.values()), None)
            if rep is None:
                continue
            if not d.exists():
                try:
                    d.mkdir(parents=True)
                except OSError as e:
                    raise HighmemError(f"--html {d} cannot be created: {e.strerror or e}") from None
            header, records, findings = record_schedule(ex, rep.choices, depth=args.depth)
            name = report_filename(ex.scenario.name)
            path = d / name
            n = 2
            while str(path) in written.values():
                path = d / name.replace(".html", f"-{n}.html")
                n += 1
            _write_text(path, render_html(header, records, findings=findings), "report")
            written[ex.scenario.name] = str(path)
    return written
