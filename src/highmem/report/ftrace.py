"""A trace as ftrace text, laid out as ``trace-cmd report`` prints it.

One line per event::

    writer-1     [000] d.h.     0.000037: kmap_atomic: page=0x38001 type=KM_USER0 idx=3 vaddr=0xffff2000

``COMM-PID [CPU] FLAGS SECONDS: EVENT: FIELDS``.  One step is one microsecond.  As in the kernel,
the task shown is the one whose stack the CPU runs on (``<idle>-0`` when none): an interrupt
handler runs on the task it interrupted, and the flags say so.  FLAGS are ftrace's latency
columns: ``d`` interrupts off (else ``.``), need-resched (always ``.``), ``h`` hard IRQ / ``s``
softirq / ``H`` hard IRQ inside a softirq (else ``.``), and the preempt count (``.`` for 0).

The scheduler and interrupt events carry the kernel's tracepoint names and fields
(``sched_switch``, ``irq_handler_entry``/``irq_handler_exit``, ``softirq_entry``/``softirq_exit``);
the highmem events (``kmap_atomic``, ``kunmap_atomic``, ``set_pte``, ``pte_clear``,
``flush_tlb_one``, ``flush_tlb_all``, ``tlb_fill``, ``kmap``, ``kunmap``, ``pkmap_flush``, ``load``,
``store``, ``bounce``, ``irq_flags``, ``fault``, ``bug``, ``warn``) are this model's own, named after
the kernel function.  Task PIDs are numbered from 1 in order of first appearance, IRQ numbers from
1 in order of first interrupt, softirq vectors likewise.

A name or text value that would break the layout (spaces, ``=``, control characters,
backslashes, anything outside printable ASCII) is written with ``\\xNN`` escapes of its UTF-8
bytes, so every line splits unambiguously; :func:`unescape` reverses it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from highmem.report.timeline_model import STATE_KINDS, _int
from highmem.report.trace_io import MAX_CPUS

__all__ = ["ftrace_text", "write_ftrace", "escape", "unescape", "LINE_RE"]

#: One event line (what a test or a script parses back).
LINE_RE = re.compile(r"^\s*(?P<comm>\S+)-(?P<pid>\d+)\s+\[(?P<cpu>\d{3})\]\s+(?P<flags>\S{4})\s+"
                     r"(?P<ts>\d+\.\d{6}): (?P<event>\w+): ?(?P<fields>.*)$")

_SAFE = re.compile(r"[!-~]")


def escape(v: Any) -> str:
    """``v`` as one token: printable ASCII except ``\\``, ``=`` and ``"`` kept, the rest ``\\xNN``; ``""`` if empty."""
    out = []
    for ch in str(v):
        if _SAFE.fullmatch(ch) and ch not in '\\="':
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "replace"))
    return "".join(out) or '""'


def unescape(s: str) -> str:
    """The text :func:`escape` wrote ``s`` for."""
    if s == '""':
        return ""
    raw = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), s.encode("ascii", "replace"))
    return raw.decode("utf-8", "replace")


def _hex(v: Any) -> str:
    return f"{v:#x}" if isinstance(v, int) and not isinstance(v, bool) else escape(v)


def _ts(step: int) -> str:
    return f"{step // 1_000_000}.{step % 1_000_000:06d}"


class _Cpu:
    __slots__ = ("stack", "irq_on", "preempt")

    def __init__(self) -> None:
        self.stack: list[tuple[str, str]] = []    # (context, kind), task at the bottom
        self.irq_on = True
        self.preempt = 0


def ftrace_text(header: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The ftrace text of a highmem trace (``header``, ``records``)."""
    cpus = min(MAX_CPUS, max(1, _int(header.get("cpus"), 1),
                             1 + max((_int(r.get("cpu")) for r in records if _int(r.get("cpu")) < MAX_CPUS),
                                     default=0)))
    st = [_Cpu() for _ in range(cpus)]
    pids: dict[str, int] = {}
    irqs: dict[str, int] = {}
    vecs: dict[str, int] = {}
    last_out: dict[int, tuple[str, str]] = {}   # CPU -> (task, prev_state) switched out, not yet followed
    lines = [f"cpus={cpus}",
             f"# highmem: scenario {escape(header.get('scenario', '?'))}, profile {escape(header.get('profile', '?'))}"
             f", {_int(header.get('steps'), 0)} steps; one step = one microsecond"]

    def pid(name: str) -> int:
        return pids.setdefault(name, len(pids) + 1)

    def line(c: int, step: int, event: str, fields: str, as_task: str | None = None) -> None:
        s = st[c]
        task = as_task or next((n for n, k in s.stack if k == "task"), None)
        comm, p = (escape(task), pid(task)) if task is not None else ("<idle>", 0)
        kinds = [k for _n, k in s.stack]
        hs = "."
        if "hardirq" in kinds:
            hs = "H" if "softirq" in kinds else "h"
        elif "softirq" in kinds:
            hs = "s"
        flags = ("." if s.irq_on else "d") + "." + hs + (str(min(s.preempt, 9)) if s.preempt else ".")
        lines.append(f"{comm:>16}-{p:<5} [{c:03d}] {flags} {_ts(step):>12}: {event}: {fields}")

    def switch(c: int, step: int, prev: tuple[str, str] | None, nxt: str | None) -> None:
        pc, ps = (escape(prev[0]), pid(prev[0])) if prev else (f"swapper/{c}", 0)
        state = prev[1] if prev else "R"
        nc, np_ = (escape(nxt), pid(nxt)) if nxt else (f"swapper/{c}", 0)
        line(c, step, "sched_switch", f"prev_comm={pc} prev_pid={ps} prev_prio=120 prev_state={state} ==> "
                                       f"next_comm={nc} next_pid={np_} next_prio=120", prev[0] if prev else None)

    for n, r in enumerate(records):
        k = r.get("kind")
        c = _int(r.get("cpu"))
        if not 0 <= c < cpus or k in STATE_KINDS:
            if k == "cpu_state" and 0 <= c < cpus:
                st[c].irq_on = bool(r.get("irq_enabled", True))
                st[c].preempt = _int(r.get("preempt"), 0)
            continue
        step = _int(r.get("step"), 0)
        s = st[c]
        ctx = str(r.get("context", ""))
        g = r.get
        if k == "context":
            what, ck = g("what"), str(g("ctx_kind", "task"))
            ck = ck if ck in ("task", "hardirq", "softirq") else "task"
            if what in ("start", "switch_in"):
                switch(c, step, last_out.pop(c, None), ctx)
                s.stack.append((ctx, ck))
            elif what in ("switch_out", "end") and ck == "task":
                s.stack = [e for e in s.stack if e[0] != ctx]
                state = {"sleep": "S", "exit": "X"}.get(str(g("detail")), "R")
                nxt = next((x for x in records[n + 1:] if x.get("kind") == "context" and x.get("cpu") == c), None)
                if nxt is not None and nxt.get("what") in ("start", "switch_in") and nxt.get("step") == step:
                    last_out[c] = (ctx, state)
                else:
                    switch(c, step, (ctx, state), None)
            elif what == "irq_enter":
                name = str(g("detail") or ctx)
                s.stack.append((ctx, "hardirq"))
                line(c, step, "irq_handler_entry", f"irq={irqs.setdefault(name, len(irqs) + 1)} name={escape(name)}")
            elif what in ("irq_exit", "end") and ck == "hardirq":
                if any(e[0] == ctx for e in s.stack):
                    name = str(g("detail") or ctx)
                    line(c, step, "irq_handler_exit", f"irq={irqs.setdefault(name, len(irqs) + 1)} ret=handled")
                    s.stack = [e for e in s.stack if e[0] != ctx]
            elif what == "softirq_enter":
                name = str(g("detail") or ctx)
                s.stack.append((ctx, "softirq"))
                line(c, step, "softirq_entry", f"vec={vecs.setdefault(name, len(vecs))} action={escape(name)}")
            elif what in ("softirq_exit", "end") and ck == "softirq":
                if any(e[0] == ctx for e in s.stack):
                    name = str(g("detail") or ctx)
                    line(c, step, "softirq_exit", f"vec={vecs.setdefault(name, len(vecs))} action={escape(name)}")
                    s.stack = [e for e in s.stack if e[0] != ctx]
            elif what == "wake":
                line(c, step, "sched_wakeup", f"comm={escape(ctx)} pid={pid(ctx)} prio=120 target_cpu={c:03d}")
            continue
        if k == "irq_flags":
            s.irq_on = bool(g("enabled"))
        fields = _fields(r)
        if fields is not None:
            line(c, step, {"tlb_flush_one": "flush_tlb_one", "tlb_flush_all": "flush_tlb_all"}.get(str(k), str(k))
                 if re.fullmatch(r"\w+", str(k)) else "unknown", fields)
    return "\n".join(lines) + "\n"


def _fields(r: dict[str, Any]) -> str | None:
    k, g = r.get("kind"), r.get
    if k == "kmap_atomic":
        return f"page={_hex(g('pfn'))} type={escape(g('type'))} idx={_int(g('idx'))} vaddr={_hex(g('vaddr'))}"
    if k == "kunmap_atomic":
        return (f"type={escape(g('type'))} idx={_int(g('idx'))} vaddr={_hex(g('vaddr'))} "
                f"cleared={int(bool(g('cleared')))}")
    if k == "set_pte":
        return f"ptep={_hex(g('ptep'))} vaddr={_hex(g('vaddr'))} old={_hex(g('old'))} new={_hex(g('new'))}"
    if k == "pte_clear":
        return f"ptep={_hex(g('ptep'))} vaddr={_hex(g('vaddr'))} old={_hex(g('old'))}"
    if k == "tlb_flush_one":
        return f"vaddr={_hex(g('vaddr'))} present={int(bool(g('present')))}"
    if k == "tlb_flush_all":
        return f"global={int(bool(g('include_global')))} dropped={_int(g('dropped'), 0)}"
    if k == "tlb_fill":
        return f"vaddr={_hex(g('vaddr'))} page={_hex(g('pfn'))}"
    if k in ("load", "store"):
        return (f"vaddr={_hex(g('vaddr'))} size={_int(g('size'), 0)} page={_hex(g('pfn'))} "
                f"tlb={'hit' if g('tlb') else 'walk'}")
    if k in ("kmap", "kunmap"):
        return f"page={_hex(g('pfn'))} vaddr={_hex(g('vaddr'))} nr={_int(g('nr'))} count={_int(g('pkmap_count'))}"
    if k == "pkmap_flush":
        return f"cleared={_int(g('cleared'), 0)}"
    if k == "bounce":
        return (f"what={escape(g('what'))} rw={escape(g('rw'))} block={_int(g('block'))} page={_hex(g('pfn'))} "
                f"bounce={_hex(g('bounce_pfn'))}")
    if k == "irq_flags":
        return f"op={escape(g('op'))} enabled={int(bool(g('enabled')))}"
    if k == "fault":
        return f"vaddr={_hex(g('vaddr'))} write={int(bool(g('write')))} message={escape(g('message'))}"
    if k in ("bug", "warn"):
        return f"function={escape(g('function'))} message={escape(g('message'))}"
    rest = {a: b for a, b in r.items() if a not in ("step", "kind", "cpu", "context")}
    return " ".join(f"{escape(a)}={escape(b)}" for a, b in sorted(rest.items()))


def write_ftrace(path: str | Path, header: dict[str, Any], records: list[dict[str, Any]]) -> None:
    """Write :func:`ftrace_text` to ``path`` (one sentence on a bad path)."""
    from highmem.report.output import write_text

    write_text(path, ftrace_text(header, records), "trace file")
