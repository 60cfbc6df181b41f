"""The timeline drawing of the HTML report: one lane per CPU, as inline SVG.

Lanes hold the nested context bars, each kmap slot's holdings (clobbers hatched, stale
mappings marked), TLB flushes, faults, BUG() and WARN marks, and a strip of every event;
the step axis is compressed where nothing happens.  Input is the analysed trace
(:mod:`highmem.report.timeline_model`); every string drawn is escaped.
"""

from __future__ import annotations

import html
from typing import Any

from highmem.report.timeline_model import Holding, Model, _addr, _hex, _int, summarize

__all__ = ["_Timeline", "_svg_defs", "_e"]

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








def _fit(text: str, width: float, char_w: float = CHAR_W) -> str:
    """``text`` cut to fit ``width`` pixels (with an ellipsis), or "" when not even 3 characters fit."""
    n = int(width // char_w)
    if n >= len(text):
        return text
    if n < 3:
        return ""
    return text[: n - 1] + "…"


# -- the model derived from a trace ---------------------------------------------------------------
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
