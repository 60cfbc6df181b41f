"""The top of the kernel's virtual address space as an SVG picture (``highmem layout --svg``).

One column, top-down from 4 GiB: the unused top page, the fixmap (with the
kmap slots of each online CPU as labelled cells, one 4 kB page each), pkmap,
vmalloc and lowmem down to PAGE_OFFSET, and the unmapped gaps between them.
Everything small enough is drawn to scale (16 px per 4 kB page); a region
too large for that (lowmem is 896 MiB, a kmap slot 4 kB) is drawn shorter,
with a zig-zag break across it and its size marked.  The regions come from
:func:`highmem.report.layout.regions`, the slots from ``layout_dict``.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from highmem.hw.physmem import PAGE_SIZE
from highmem.kernel.machine import Machine
from highmem.report.layout import layout_dict, regions

__all__ = ["layout_svg", "write_layout_svg"]

PX_PAGE = 16          # to scale: one 4 kB page
MAX_SCALED = 8        # pages: a region up to this size is drawn to scale
BREAK_H = 64          # the height of a shortened region
DETAIL_CPUS = 4       # CPUs whose kmap slots are drawn cell by cell
ADDR_X = 132          # right edge of the address labels
COL_X = 144
COL_W = 270
LABEL_X = COL_X + COL_W + 26
WIDTH = 880
TOP = 92

FILL = {"unused": "#eceff3", "fixmap": "#e4d9f5", "kmap0": "#cdb8ef", "kmap1": "#bda3e8", "kmap-rest": "#efe8fa",
        "pkmap": "#cfe3f3", "vmalloc": "#fbe7c2", "lowmem": "#cdebd3", "gap": "#ffffff"}


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{n} bytes"


def _segments(m: Machine) -> list[dict[str, Any]]:
    """Top-down segments: the regions, the gaps between them and the kmap area split per CPU."""
    d = layout_dict(m)
    by_cpu: dict[int, list[dict[str, Any]]] = {}
    for s in d["kmap_slots"]:
        by_cpu.setdefault(s["cpu"], []).append(s)
    segs: list[dict[str, Any]] = []
    prev_start = 1 << 32
    for r in regions(m):
        if r["end"] < prev_start:
            segs.append({"kind": "gap", "name": "unmapped", "start": r["end"], "end": prev_start,
                         "note": "no kernel mapping (a guard or alignment gap)"})
        name = r["name"]
        if name.startswith("FIX_KMAP") and by_cpu:
            segs.extend(_kmap_segments(m, r, by_cpu))
        else:
            kind = ("unused" if name == "unused" else "pkmap" if name == "pkmap" else "vmalloc" if name == "vmalloc"
                    else "lowmem" if name == "lowmem" else "fixmap")
            note = r["note"]
            if r["end"] > prev_start:
                # 2.4 without HIGHMEM: VMALLOC_END follows the permanent fixmap, so the boot-time slots overlap.
                note += f"; its top {_size(r['end'] - prev_start)} overlap the region above"
            segs.append({"kind": kind, "name": name, "start": r["start"], "end": r["end"], "note": note})
        prev_start = min(prev_start, r["start"])
    return segs


def _kmap_segments(m: Machine, r: dict[str, Any], by_cpu: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    top = r["end"]
    shown = sorted(by_cpu)[:DETAIL_CPUS]
    for cpu in shown:
        slots = sorted(by_cpu[cpu], key=lambda s: -s["vaddr"])
        hi, lo = slots[0]["vaddr"] + PAGE_SIZE, slots[-1]["vaddr"]
        if hi < top:
            out.append({"kind": "kmap-rest", "name": "kmap slots", "start": hi, "end": top, "note": ""})
        out.append({"kind": f"kmap{cpu % 2}", "name": f"CPU {cpu} kmap slots", "start": lo, "end": hi,
                    "cpu": cpu, "slots": slots,
                    "note": f"idx {slots[0]['idx']}..{slots[-1]['idx']}, fixmap {slots[0]['fixmap']}.."
                            f"{slots[-1]['fixmap']}"})
        top = lo
    if top > r["start"]:
        rest = [c for c in sorted(by_cpu) if c not in shown]
        online = f"CPUs {rest[0]}..{rest[-1]} (online)" if rest else ""
        total = m.NR_CPUS
        offline = f"CPUs {m.config.cpus}..{total - 1} (not online)" if m.config.cpus < total else ""
        who = " and ".join(x for x in (online, offline) if x)
        out.append({"kind": "kmap-rest", "name": "kmap slots of " + (who or "other CPUs"), "start": r["start"],
                    "end": top, "note": f"{m.KM_TYPE_NR} slots per CPU for NR_CPUS {total}"})
    return out


def _zigzag(x0: float, x1: float, y: float, amp: float = 4.0, step: float = 10.0) -> str:
    pts = []
    x, up = x0, True
    while x < x1:
        pts.append(f"{x:.1f},{y - amp if up else y + amp:.1f}")
        x += step
        up = not up
    pts.append(f"{x1:.1f},{y:.1f}")
    return " ".join(pts)


def layout_svg(machine: Machine) -> str:
    """An SVG (a complete document) of the top of ``machine``'s kernel address space."""
    m = machine
    segs = _segments(m)
    parts: list[str] = []
    widest = 0.0   # the right edge of the longest right-hand label, estimated
    y = float(TOP)
    x0, x1 = COL_X, COL_X + COL_W
    parts.append(f'<text class="addr" x="{ADDR_X}" y="{y + 4:.1f}" text-anchor="end">0xffffffff</text>')
    for s in segs:
        pages = (s["end"] - s["start"]) // PAGE_SIZE
        scaled = pages <= MAX_SCALED or ("slots" in s and pages <= 4 * MAX_SCALED)
        h = pages * PX_PAGE if scaled else BREAK_H
        fill = FILL.get(s["kind"], "#eeeeee")
        dash = ' stroke-dasharray="4 3"' if s["kind"] == "gap" else ""
        tip = f"{s['name']}: {s['start']:#010x}..{s['end'] - 1:#010x} ({_size(s['end'] - s['start'])})"
        parts.append(f'<g class="region region-{_e(s["kind"])}"><title>{_e(tip)}</title>'
                     f'<rect x="{x0}" y="{y:.1f}" width="{COL_W}" height="{h:.1f}" fill="{fill}" stroke="#7d8794"'
                     f'{dash}/>')
        if "slots" in s:
            for j, slot in enumerate(sorted(s["slots"], key=lambda t: -t["vaddr"])):
                cy = y + j * PX_PAGE
                stip = (f"CPU {slot['cpu']} {slot['type']}: idx {slot['idx']}, fixmap {slot['fixmap']}, "
                        f"{slot['vaddr']:#010x}")
                parts.append(f'<g class="slot"><title>{_e(stip)}</title><rect x="{x0 + 1}" y="{cy:.1f}" '
                             f'width="{COL_W - 2}" height="{PX_PAGE}" fill="{fill}" stroke="#ffffff"/>'
                             f'<text class="cell" x="{x0 + 8}" y="{cy + 12:.1f}">{_e(slot["type"])}</text>'
                             f'<text class="cell-sub" x="{x1 - 8}" y="{cy + 12:.1f}" text-anchor="end">'
                             f'idx {_e(slot["idx"])} · fixmap {_e(slot["fixmap"])}</text></g>')
                if j:
                    parts.append(f'<text class="addr" x="{ADDR_X}" y="{cy + 4:.1f}" text-anchor="end">'
                                 f'{slot["vaddr"] + PAGE_SIZE:#010x}</text>')
        if not scaled:
            mid = y + h / 2
            a = _zigzag(x0 - 8, x1 + 8, mid - 4)
            b = _zigzag(x0 - 8, x1 + 8, mid + 4)
            parts.append(f'<polygon class="break-band" points="{a} {" ".join(reversed(b.split()))}" fill="#ffffff"/>'
                         f'<polyline class="break" points="{a}"/><polyline class="break" points="{b}"/>')
        parts.append("</g>")
        # Right-hand label: name and size (marked when shortened), then the note.
        size = _size(s["end"] - s["start"])
        sized = f"{size}, to scale" if scaled else f"{size}, shortened ≈"
        if "slots" in s:
            parts.append(f'<path class="brace" d="M{x1 + 6} {y + 2:.1f} h6 V{y + h - 2:.1f} h-6"/>')
        lines = [(f'<tspan class="name">{_e(s["name"])}</tspan> <tspan class="size">({_e(sized)})</tspan>')]
        # Bold 12px runs about 7.4 px a character, the size and note about 6.6.
        widest = max(widest, LABEL_X + 7.4 * len(s["name"]) + 6.6 * (len(sized) + 3),
                     LABEL_X + 6.2 * len(s.get("note") or ""))
        if s.get("note") and h >= 2 * PX_PAGE:
            lines.append(f'<tspan class="note">{_e(s["note"])}</tspan>')
        ly = y + h / 2 + 4 - (len(lines) - 1) * 7
        for k, line in enumerate(lines):
            parts.append(f'<text x="{LABEL_X}" y="{ly + k * 14:.1f}">{line}</text>')
        y += h
        parts.append(f'<text class="addr" x="{ADDR_X}" y="{y + 4:.1f}" text-anchor="end">{s["start"]:#010x}</text>')
    height = int(y + 40)
    width = max(WIDTH, int(widest + 24))
    c = m.config
    title = "Top of the kernel's virtual address space"
    machine_line = (f"{c.profile} · {c.cpus} online CPU{'s' if c.cpus != 1 else ''} · NR_CPUS {m.NR_CPUS} · "
                    f"{(m.max_pfn * PAGE_SIZE) >> 20} MiB of RAM · {m.geometry.name}")
    sub = (f"To scale at {PX_PAGE} px per 4 KiB page where a region fits; a zig-zag and ≈ mark a region drawn "
           "shorter than its size.")
    foot = f"PAGE_OFFSET {m.PAGE_OFFSET:#010x} · FIXADDR_TOP {m.FIXADDR_TOP:#010x}"
    if m.FIX_KMAP_BEGIN is not None:
        foot += f" · FIX_KMAP_BEGIN {m.FIX_KMAP_BEGIN} · KM_TYPE_NR {m.KM_TYPE_NR}"
    style = (
        "text{font:12px system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;fill:#17202c}"
        ".title{font-size:16px;font-weight:700}.subtitle,.foot{fill:#5d6b7e;font-size:12px}"
        ".addr{font:11px ui-monospace,'DejaVu Sans Mono',monospace;fill:#5d6b7e}"
        ".cell{font:11px ui-monospace,'DejaVu Sans Mono',monospace;font-weight:600;fill:#2b1a4f}"
        ".cell-sub{font-size:10px;fill:#4b3a70}.name{font-weight:700}.size{fill:#5d6b7e}.note{fill:#5d6b7e;"
        "font-size:11px}.break{fill:none;stroke:#7d8794;stroke-width:1.2}.brace{fill:none;stroke:#7d8794}"
    )
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title + ": " + machine_line)}">'
            f"<style>{style}</style>"
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>'
            f'<text class="title" x="20" y="28">{_e(title)}</text>'
            f'<text class="subtitle" x="20" y="48">{_e(machine_line)}</text>'
            f'<text class="subtitle" x="20" y="66">{_e(sub)}</text>'
            + "".join(parts)
            + f'<text class="foot" x="20" y="{height - 14}">{_e(foot)}</text></svg>\n')


def write_layout_svg(machine: Machine, path: str | Path) -> None:
    """Write :func:`layout_svg` to ``path`` (one sentence on a bad path)."""
    from highmem.report.output import write_text

    write_text(path, layout_svg(machine), "SVG file")
