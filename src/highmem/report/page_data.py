"""The data the HTML report's script draws and steps through, packed small.

The page carries the whole trace, so that the player can rebuild the machine's state at any step
and the details panel can show any record.  Records are packed as arrays against a table of
*shapes* (a kind and its field names), context names are numbered once, and the timeline's
analysis (:func:`highmem.report.timeline_model.analyse`: context intervals, slot holdings) is
passed ready-made, so the script never re-derives what the Python side already knows.

Layout of the object (all JSON, embedded in ``<script type="application/json">``)::

    shapes:   [[kind, [field, ...]], ...]
    names:    [context name, ...]                 (index 0 is "", no context)
    rec:      [[shape, step, cpu, name, value, ...], ...]   every record, in order
    iv:       [[cpu, name, kind, start, end, depth, start_rec, end_rec, open], ...]
    hold:     [[cpu, idx, type, name, kind, pfn, start, end, level, stale_from, stale_pfn, clobber,
                start_rec, end_rec, open, how], ...]
    slots:    [[cpu, idx, type, vaddr], ...]      every slot a trace's header lists (or that was mapped)
    findings: [{kind, message, events: [rec, ...]}, ...]
    meta:     {cpus, last, version, pte_size, phys_bits, last_pkmap, scenario, ...}

``slot_state`` records gain ``frame`` and ``flags`` (the PTE decoded here, where 64-bit PAE
entries are exact) and ``pte`` becomes a hex string.
"""

from __future__ import annotations

from typing import Any

from highmem.report.timeline_model import Model, _int

__all__ = ["page_data", "context_colours"]

# One hue family per context kind; contexts of a kind take its colours in order of appearance.
_PALETTE = {
    "task": ["#2f6fb7", "#c2571a", "#2e8b3e", "#8a4fbf", "#b8860b", "#c23b6a", "#3d8f99", "#6b6f24"],
    "softirq": ["#17806f", "#4d9a2a", "#0f6a8a", "#6a8f1f"],
    "hardirq": ["#7a3fc4", "#b0309a", "#5b4bd6", "#9c2f5a"],
}
_FLAG_NAMES = ((0x001, "P"), (0x002, "RW"), (0x004, "U"), (0x008, "PWT"), (0x010, "PCD"), (0x020, "A"),
               (0x040, "D"), (0x080, "PSE"), (0x100, "G"))


def context_colours(model: Model) -> dict[str, str]:
    """A colour per context: tasks distinct from each other; interrupt instances of one source share one."""
    import re

    out: dict[str, str] = {}
    by_base: dict[tuple[str, str], str] = {}
    used = {k: 0 for k in _PALETTE}
    for name, kind in model.kinds.items():
        k = kind if kind in _PALETTE else "task"
        base = re.sub(r"#\d+$", "", name) if k != "task" else name
        if (k, base) not in by_base:
            pal = _PALETTE[k]
            by_base[(k, base)] = pal[used[k] % len(pal)]
            used[k] += 1
        out[name] = by_base[(k, base)]
    return out


def _flags(pte: int) -> str:
    if pte == 0:
        return "none"
    return "|".join(n for bit, n in _FLAG_NAMES if pte & bit) or "-"


def page_data(header: dict[str, Any], records: list[dict[str, Any]], model: Model,
              findings: list[dict[str, Any]], fevents: list[list[int]]) -> dict[str, Any]:
    """The packed object the page embeds (see the module docstring)."""
    shapes: list[list[Any]] = []
    shape_of: dict[tuple[str, tuple[str, ...]], int] = {}
    names: list[str] = [""]
    name_of: dict[str, int] = {"": 0}

    def nm(v: Any) -> int:
        s = str(v)
        i = name_of.get(s)
        if i is None:
            i = name_of[s] = len(names)
            names.append(s)
        return i

    phys_bits = _int(header.get("phys_bits"), 36 if _int(header.get("pte_size"), 4) == 8 else 32)
    mask = ((1 << phys_bits) - 1) & ~0xFFF
    rec: list[list[Any]] = []
    for r in records:
        kind = str(r.get("kind"))
        if kind == "slot_state" and isinstance(r.get("pte"), int):
            pte = r["pte"]
            r = dict(r, pte=f"{pte:#x}", frame=(pte & mask) >> 12, flags=_flags(pte))
        fields = tuple(sorted(k for k in r if k not in ("step", "kind", "cpu", "context")))
        key = (kind, fields)
        sh = shape_of.get(key)
        if sh is None:
            sh = shape_of[key] = len(shapes)
            shapes.append([kind, list(fields)])
        cpu = r.get("cpu")
        rec.append([sh, _int(r.get("step"), 0), cpu if isinstance(cpu, int) and not isinstance(cpu, bool) else -1,
                    nm(r.get("context", "")) if "context" in r else 0, *(r[f] for f in fields)])
    iv = [[i.cpu, nm(i.name), i.kind, i.start, i.end, i.depth, i.start_ev, i.end_ev, int(i.open)]
          for i in model.intervals]
    hold = [[h.cpu, h.idx, h.type, nm(h.context), h.kind, h.pfn if isinstance(h.pfn, int) else -1, h.start, h.end,
             h.level, -1 if h.stale_from is None else h.stale_from,
             h.stale_pfn if isinstance(h.stale_pfn, int) else -1, int(bool(h.clobbers)), h.start_ev, h.end_ev,
             int(h.open), h.how] for h in model.holdings]
    slots: dict[int, list[Any]] = {}
    hs = header.get("slots")
    for s in hs if isinstance(hs, list) else []:
        if isinstance(s, list) and len(s) >= 4 and isinstance(s[1], int):
            slots[s[1]] = [s[0], s[1], str(s[2]), s[3]]
    for c, rows in model.slots.items():
        for idx, t, va in rows:
            slots.setdefault(idx, [c, idx, t, va])
    colours = context_colours(model)
    meta = {
        "cpus": model.cpus, "last": model.last, "version": _int(header.get("version"), 1),
        "pte_size": _int(header.get("pte_size"), 4), "phys_bits": phys_bits,
        "last_pkmap": header.get("last_pkmap"), "scenario": str(header.get("scenario", "")),
        "profile": str(header.get("profile", "")),
        "colours": [colours.get(n, "#5d6b7e") for n in names],
        "kinds": [model.kinds.get(n, "") for n in names],
    }
    return {
        "shapes": shapes, "names": names, "rec": rec, "iv": iv, "hold": hold,
        "slots": [slots[k] for k in sorted(slots)],
        "findings": [{"kind": str(f.get("kind", "?")), "message": str(f.get("message", "")), "events": evs}
                     for f, evs in zip(findings, fevents, strict=True)],
        "meta": meta,
    }
