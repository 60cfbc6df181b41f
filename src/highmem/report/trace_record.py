"""Recording one schedule as a version-2 trace: every event, plus the machine state a player needs.

A version-1 trace has only the kernel's events.  From those alone a reader cannot say, at step N,
what a kmap slot's PTE holds, whether a CPU's TLB caches it, whether interrupts or bottom halves
are off, what the preempt count is, which spin locks are held or how many IPIs are pending: some
of that changes without an event (``local_bh_disable``, ``preempt_disable``, a lock taken, an
IPI queued), and the TLB's contents at the start are not events at all.

Version 2 adds *state records* (see ``docs/trace.md``), written whenever the state they describe
differs from the previous record of the same object:

* ``cpu_state`` (per CPU): ``irq_enabled`` (EFLAGS.IF), ``bh`` (``local_bh_count``), ``hardirq``
  (``local_irq_count``), ``preempt`` (the running context's preempt count), ``locks`` (spin locks
  held by contexts on the CPU), ``ipis`` (pending CALL_FUNCTION_VECTOR IPIs) and ``pending``
  (every pending hard IRQ, IPIs included) and ``spinning`` (what the running context busy-waits
  for, e.g. ``spin_lock(kmap_lock) held by wrapper``, or "");
* ``slot_state`` (per kmap slot of an online CPU): ``pte`` (the entry ``kmap_pte - idx``) and
  ``tlb`` (the frame the CPU's TLB caches for the slot's address, -1 when it caches none);
* ``pkmap_state`` (HIGHMEM only): how many of the LAST_PKMAP entries are ``free`` (count 0),
  ``used`` (count > 1: mapped and referenced) and ``unflushed`` (count 1: mapped, no user,
  waiting for ``flush_all_zero_pkmaps``).

The state is sampled at the start of every scheduling point, so a record's ``step`` is the step at
whose end the state held; one sample precedes the run (step 0) and one follows it.  The header's
``slots`` lists every slot sampled: ``[cpu, idx, type, vaddr, ptep]``.

The sampler is an observer of the scheduler's points: it wraps ``Machine.sched_point`` and changes
nothing the run does, so a recorded run takes the same schedule as an unrecorded one.
"""

from __future__ import annotations

from typing import Any

from highmem.errors import HighmemError

__all__ = ["StateSampler", "record_run"]


class StateSampler:
    """Appends ``cpu_state``/``slot_state``/``pkmap_state`` records to ``records`` when state changes.

    States: *idle* (built), *attached* (``attach`` wrapped the machine's scheduling point; every
    point samples), *finished* (``finish`` took the last sample).  Any context; it only reads.
    """

    def __init__(self, m: Any, sim: Any, records: list[dict[str, Any]]) -> None:
        from highmem.report.layout import layout_dict

        self.m = m
        self.sim = sim
        self.records = records
        self.slots: list[tuple[int, int, str, int, int]] = [
            (s["cpu"], s["idx"], s["type"], int(s["vaddr"]), s["pte"]) for s in layout_dict(m)["kmap_slots"]]
        self._pte_at = [m.kmap_pte_at[idx] for _c, idx, _t, _v, _p in self.slots]
        self._last_cpu: dict[int, tuple[Any, ...]] = {}
        self._last_slot: dict[int, tuple[int, int]] = {}
        self._last_pkmap: tuple[int, int, int] | None = None

    def header(self) -> dict[str, Any]:
        """What the trace header gains: the sampled slots and how to decode a PTE."""
        from highmem.sim.trace import TRACE_SCHEMA, TRACE_VERSION

        m = self.m
        return {"schema": TRACE_SCHEMA, "version": TRACE_VERSION, "slots": [list(s) for s in self.slots],
                "pte_size": m.pte_size, "phys_bits": m.geometry.phys_bits,
                "last_pkmap": m.LAST_PKMAP if m.HIGHMEM else None}

    def attach(self) -> None:
        """Wrap the machine's scheduling point so every point samples first."""
        inner = self.m.sched_point
        sample = self.sample

        def point(op: str) -> None:
            sample()
            inner(op)

        self.m.sched_point = point

    def sample(self) -> None:
        """Record what changed since the last sample, at the current step."""
        m, sim, out = self.m, self.sim, self.records
        step = sim.step
        on_cpu: dict[str, int] = {}
        for st in m.cpu_state:
            for ctx in st.stack:
                on_cpu[ctx.name] = st.cpu
        locks: dict[int, list[str]] = {}
        for lock, owner in m.locks.items():
            c = on_cpu.get(owner)
            if c is not None:
                locks.setdefault(c, []).append(str(lock))
        for st in m.cpu_state:
            c = st.cpu
            top = st.stack[-1] if st.stack else None
            preempt = int(top.data.get("preempt_count", 0)) if top is not None else 0
            pend = list(sim.pending_irq[c])
            held = sorted(locks.get(c, []))
            spin = top.data.get("spin") if top is not None else None
            spinning = str(spin[1]) if isinstance(spin, tuple) and len(spin) == 2 else ""
            now = (st.irq_enabled, st.local_bh_count, st.local_irq_count, preempt, tuple(held), tuple(pend), spinning)
            if self._last_cpu.get(c) != now:
                self._last_cpu[c] = now
                out.append({"step": step, "kind": "cpu_state", "cpu": c, "irq_enabled": st.irq_enabled,
                            "bh": st.local_bh_count, "hardirq": st.local_irq_count, "preempt": preempt,
                            "locks": held, "ipis": sum(1 for p in pend if p == _ipi_name()), "pending": pend,
                            "spinning": spinning})
        size = m.pte_size
        cpus = m.cpus
        for n, (c, idx, _t, vaddr, _p) in enumerate(self.slots):
            frame, off = self._pte_at[n]
            pte = int.from_bytes(frame[off:off + size], "little")
            e = cpus[c].tlb.get(vaddr >> 12)
            tlb = -1 if e is None else e[0]
            if self._last_slot.get(idx) != (pte, tlb):
                self._last_slot[idx] = (pte, tlb)
                out.append({"step": step, "kind": "slot_state", "cpu": c, "idx": idx, "vaddr": vaddr,
                            "pte": pte, "tlb": tlb})
        if m.HIGHMEM:
            counts = m.pkmap.pkmap_count
            free = counts.count(0)
            unflushed = counts.count(1)
            now_p = (free, len(counts) - free - unflushed, unflushed)
            if now_p != self._last_pkmap:
                self._last_pkmap = now_p
                out.append({"step": step, "kind": "pkmap_state", "free": now_p[0], "used": now_p[1],
                            "unflushed": now_p[2]})

    def finish(self) -> None:
        """The last sample, after the run."""
        self.sample()


def _ipi_name() -> str:
    from highmem.sim.hooks import IPI_NAME

    return IPI_NAME


def record_run(sc: Any, cfg: Any, strategy: Any) -> tuple[Any, list[dict[str, Any]], dict[str, Any]]:
    """Run one schedule of scenario ``sc`` on ``cfg`` with a recorder and a state sampler attached.

    Returns ``(result, records, header_extra)``.  Errors as :func:`highmem.sim.explore.run_once`
    (whose boot-and-run this repeats, with the sampler in between).
    """
    from highmem.kernel.machine import Machine
    from highmem.sim.engine import Simulator, StepBudgetExceeded
    from highmem.sim.trace import TraceRecorder

    m = Machine(cfg)
    sim = Simulator(m, sc.workload(m), strategy, max_steps=sc.max_steps, python_code=sc.python)
    rec = TraceRecorder(lambda: sim.step)
    sampler = StateSampler(m, sim, rec.records)
    sampler.sample()
    m.subscribe(rec)
    sampler.attach()
    try:
        res = sim.run()
    except HighmemError as e:
        raise HighmemError(f"scenario {sc.name}: {e}") from None
    except StepBudgetExceeded:
        raise HighmemError(f"scenario {sc.name} ({sc.source}): a context did not finish within the step budget "
                           f"of {sc.max_steps} steps; shorten its loops or raise [scenario] max_steps") from None
    sampler.finish()
    return res, rec.records, sampler.header()
