"""Why a finding's window was open: the CPU state that let the intruding context run.

A slot is shared by every context of one CPU, so a finding that involves two contexts (a mapping
and the context that took its slot, or cleared it) happened because the second one could run on
that CPU while the first held the slot.  For a hard interrupt that means EFLAGS.IF was set; for a
softirq, also no hard-IRQ and no bottom-half count (``in_interrupt()`` false); for a task, that
the holder left the CPU (slept, was preempted, or exited).  Replaying the finding's schedule with
:class:`CpuStateRecorder` records each CPU's state at every choice point (the only places where
an arrival can happen), and :func:`why_open` turns that into one sentence:

    interrupts were enabled on CPU 0 from step 13 to 21 while copier held KM_USER0, so ide0
    could run there

Used by the reports after exploration, never during it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from highmem.sim.strategy import SparseReplayStrategy

if TYPE_CHECKING:
    from highmem.events import ContextEvent
    from highmem.sim.engine import Option, Simulator
    from highmem.sim.findings import Finding

__all__ = ["CpuStateRecorder", "why_open"]

#: (irq_enabled, local_irq_count, local_bh_count) of one CPU
CpuFlags = tuple[bool, int, int]


class CpuStateRecorder(SparseReplayStrategy):
    """Replays a recorded schedule (strictly) and keeps ``points``: (step, each CPU's flags) at
    every choice point."""

    def __init__(self, choices: list[tuple[int, str]]) -> None:
        super().__init__(choices)
        self.points: list[tuple[int, tuple[CpuFlags, ...]]] = []

    def choose(self, opts: list[Option], sim: Simulator, at_point: bool) -> int:
        self.points.append((sim.step, tuple((st.irq_enabled, st.local_irq_count, st.local_bh_count)
                                            for st in sim.m.cpu_state)))
        return super().choose(opts, sim, at_point)


def _open(kind: str, flags: CpuFlags) -> bool:
    irq_enabled, irq_count, bh_count = flags
    if kind == "hardirq":
        return irq_enabled
    return irq_enabled and irq_count == 0 and bh_count == 0


def why_open(finding: Finding, points: list[tuple[int, tuple[CpuFlags, ...]]],
             ctx_events: list[tuple[int, ContextEvent]]) -> str | None:
    """One sentence on why ``finding``'s second context could run where the first held its slot,
    or None when the finding does not involve a slot shared by two contexts of one CPU."""
    if len(finding.contexts) < 2 or not finding.steps:
        return None
    holder, intruder = finding.contexts[0], finding.contexts[1]
    held_from = finding.steps[0]
    first: dict[str, tuple[int, Any]] = {}
    for step, e in ctx_events:
        first.setdefault(e.context, (step, e))
    if intruder not in first:
        return None
    arrival, ev = first[intruder]
    cpu = ev.cpu
    if finding.cpu is not None and finding.cpu != cpu:
        return None
    what = (f"while {holder} held {finding.slot['type']}" if finding.slot
            else f"after {holder} mapped at step {held_from}")
    name = intruder.split("#", 1)[0]
    if ev.ctx_kind in ("hardirq", "softirq"):
        start: int | None = None
        for step, flags in points:
            if step > arrival:
                break
            if cpu >= len(flags):
                return None
            if _open(ev.ctx_kind, flags[cpu]):
                if start is None:
                    start = step
            else:
                start = None
        if start is None:
            return None
        start = max(start, held_from)
        state = "interrupts were enabled" if ev.ctx_kind == "hardirq" else "bottom halves were enabled"
        return f"{state} on CPU {cpu} from step {start} to {arrival} {what}, so {name} could run there"
    for step, e in ctx_events:
        if held_from <= step <= arrival and e.context == holder and e.what in ("switch_out", "end"):
            how = "exited" if e.what == "end" else "left the CPU" + (f" ({e.detail})" if e.detail else "")
            return f"{holder} {how} at step {step} {what}, so {name} ran on CPU {cpu}"
    return None
