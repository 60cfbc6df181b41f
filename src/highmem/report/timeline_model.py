"""What a trace says, for drawing: contexts per CPU over time, kmap slot holdings, findings' events.

Pure analysis of trace records (no HTML): :func:`analyse` derives the lanes of the timeline,
:func:`summarize` describes one record, and the finding helpers tie a finding's steps to events.
"""

from __future__ import annotations

import json
from typing import Any

from highmem._record import field, record
from highmem.report.trace_io import MAX_CPUS

__all__ = ["Interval", "Holding", "Model", "analyse", "summarize", "STATE_KINDS"]

#: The state records of version-2 traces (:mod:`highmem.report.trace_record`): samples, not events.
STATE_KINDS = frozenset({"cpu_state", "slot_state", "pkmap_state"})

# -- geometry -------------------------------------------------------------------------------------


def _int(v: Any, default: int = -1) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) else default

def _hex(v: Any) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) else str(v)

def _addr(v: Any) -> str:
    return f"{v:#010x}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


@record
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


@record
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


@record
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
    cpus = min(MAX_CPUS, max(1, _int(header.get("cpus"), 1)))
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
        if not 0 <= cpu < MAX_CPUS:
            # A record of a CPU no machine has (a corrupt trace) would make the drawing unbounded.
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
            if r.get("kind") in STATE_KINDS:
                continue
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
