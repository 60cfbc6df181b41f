"""The checker: a shadow state of every atomic mapping, and the findings it yields.

It is an observer of the machine's events.  For every ``kmap_atomic`` it
records which context mapped which slot to which page, on which CPU and at
which step, and follows that mapping through its life:

* *held* - between the map and the matching unmap;
* *clobbered* - still held, but another context mapped the same slot since
  (the silent takeover of a non-debug kernel);
* *released* - unmapped (kept to recognise later use of the address).

Loads, stores, faults, BUGs and context switches are judged against that
state and become :class:`~highmem.sim.findings.Finding` objects (see that
module for the kinds).  Step numbers come from the engine (``step_of``).
"""

from __future__ import annotations

from collections.abc import Callable

from highmem import events as ev
from highmem.hw.physmem import PAGE_MASK
from highmem.kernel.machine import Machine
from highmem.sim.findings import Finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple
else:
    from highmem._typing import NamedTuple

__all__ = ["Checker", "Mapping", "CONTEXT_EVENTS_JUDGED"]

_EMPTY: dict[int, Any] = {}


class Mapping:
    """One atomic mapping made by one context (see the module docstring for its states)."""

    __slots__ = ("context", "cpu", "type", "idx", "vaddr", "pfn", "step", "clobbered_by", "unmap_step")

    def __init__(self, context: str, cpu: int, type: str, idx: int, vaddr: int, pfn: int, step: int) -> None:
        self.context = context
        self.cpu = cpu
        self.type = type
        self.idx = idx
        self.vaddr = vaddr
        self.pfn = pfn
        self.step = step
        #: (context, step, pfn) of the first map that took the slot while this one was held.
        self.clobbered_by: tuple[str, int, int] | None = None
        #: the step of its kunmap (None while held)
        self.unmap_step: int | None = None


_new_mapping = object.__new__

#: No mappings (what ``held`` and ``released`` hold for a context that has none); never written.
_NONE_HELD: dict[int, Mapping] = {}


def _steps(*steps: int | None) -> list[int]:
    return [s for s in steps if s is not None]


#: The context events (``ContextEvent.what``) the checker judges; the engine hands it only these.
CONTEXT_EVENTS_JUDGED = frozenset({"switch_out", "end"})

#: The handler of each event type the checker judges, by method name.  Looked up on the instance at
#: each event rather than bound once per checker: bound methods kept in the checker would make every
#: checker a reference cycle, freed only by the cyclic garbage collector.
_HANDLERS: dict[type, str] = {
    ev.KmapAtomic: "_on_kmap",
    ev.KunmapAtomic: "_on_kunmap",
    ev.Load: "_on_access",
    ev.Store: "_on_access",
    ev.Fault: "_on_fault",
    ev.Bug: "_on_bug",
    ev.Warn: "_on_warn",
    ev.ContextEvent: "_on_context",
}

class Checker:
    """Observer that turns events into findings; ``findings`` is the de-duplicated list."""

    #: The event types the checker acts on (every other one it ignores): see EventBus.judges.
    judges: frozenset[type] = frozenset(_HANDLERS)

    def __init__(self, m: Machine, step_of: Callable[[], int]) -> None:
        self.m = m
        self.step_of = step_of
        self.findings: list[Finding] = []
        self._keys: set[tuple[Any, ...]] = set()
        #: context -> page-aligned vaddr -> mapping it holds
        self.held: dict[str, dict[int, Mapping]] = {}
        #: context -> page-aligned vaddr -> the last mapping it released there
        self.released: dict[str, dict[int, Mapping]] = {}
        #: slot idx -> the mapping its PTE was last set for
        self.slot_owner: dict[int, Mapping] = {}
        #: slot vaddr -> (context, step) of the kunmap that last cleared its PTE
        self.cleared_by: dict[int, tuple[str, int]] = {}
        # The span of the kmap slots: __fix_to_virt(FIX_KMAP_BEGIN + idx) falls as idx rises.
        span = (m.kmap_vaddr[-1], m.kmap_vaddr[0] + 4096) if m.kmap_vaddr else (0, 0)
        self.kmap_lo: int = span[0]
        self.kmap_hi: int = span[1]
        #: stack-based generations (2.6.37+, kmap_local): the type is ignored, unmap clears the top slot
        self.stack_slots = m.profile.stack_slots
        #: the names of the machine's enum km_type (``__members__`` builds a new proxy at every use)
        self._km_names = m.km_type._member_map_

    # -- observer entry point -------------------------------------------------
    def __call__(self, event: NamedTuple) -> None:
        h = _HANDLERS.get(type(event))
        if h is not None:
            getattr(self, h)(event)

    def report(self, f: Finding) -> None:
        """Add ``f`` unless an equal finding (same kind, contexts, slot) is already there."""
        f.contexts = list(dict.fromkeys(f.contexts))
        if f.key in self._keys:
            return
        self._keys.add(f.key)
        self.findings.append(f)

    def _pg(self, pfn: int) -> str:
        """A page as the scenario calls it: ``A (0x38000)``, or the frame number of a page it did not name."""
        name = self.m.page_names.get(pfn)
        return f"{name} ({pfn:#x})" if name else f"{pfn:#x}"

    def _slot(self, mp: Mapping) -> dict[str, Any]:
        return {"type": mp.type, "idx": mp.idx, "fixmap": self.m.kmap_fixmap_base + mp.idx, "vaddr": mp.vaddr}

    def _slot_text(self, mp: Mapping) -> str:
        if self.stack_slots:
            depth = mp.idx - self.m.KM_TYPE_NR * mp.cpu
            return (f"stack slot {depth} of CPU {mp.cpu} (fixmap {self.m.kmap_fixmap_base + mp.idx}, "
                    f"{mp.vaddr:#010x})")
        return f"slot {mp.type} of CPU {mp.cpu} (fixmap {self.m.kmap_fixmap_base + mp.idx}, {mp.vaddr:#010x})"

    # -- handlers -------------------------------------------------------------
    def _on_kmap(self, ev: Any) -> None:
        self.on_kmap(*ev)

    def _index_text(self, idx: int) -> str:
        """What kmap index ``idx`` (``kmap_pte - idx``) is: a slot of some CPU, or another fixmap entry."""
        m = self.m
        nr = m.KM_TYPE_NR
        fix = m.kmap_fixmap_base + idx
        if 0 <= idx < nr * m.NR_CPUS:
            cpu, n = divmod(idx, nr)
            if self.stack_slots:
                what = f"stack slot {n} of CPU {cpu}"
            else:
                what = f"slot {m.km_type(n).name} of CPU {cpu}"
            return f"{what} (fixmap {fix}, {m.slot_pte(idx)[0]:#010x})"
        return f"fixmap entry {m.fixmap.name_of(fix)} (fixmap {fix}, {m.slot_pte(idx)[0]:#010x})"

    def _holder(self, idx: int) -> Mapping | None:
        """The mapping slot ``idx`` holds for a context that has not unmapped it, if any."""
        mp = self.slot_owner.get(idx)
        if mp is not None and self.held.get(mp.context, {}).get(mp.vaddr) is mp:
            return mp
        return None

    def _remap_held(self, ev: Any, prev: Mapping, mp: Mapping, step: int) -> None:
        msg = (f"{ev.context} mapped page {self._pg(ev.pfn)} in {self._slot_text(mp)} at step {step} while it "
               f"still held the slot for page {self._pg(prev.pfn)} (mapped at step {prev.step}): the kernel "
               "silently replaced its own "
               "live mapping, and every later access through that address reaches the new page (a DEBUG_HIGHMEM "
               "kernel BUGs here)")
        self.report(Finding("remap-held-slot", msg, ev.cpu, [ev.context], self._slot(mp), [prev.pfn, ev.pfn],
                            [prev.step, step]))

    def _out_of_range(self, ev: Any, mp: Mapping, step: int) -> None:
        nr = self.m.KM_TYPE_NR
        value = ev.idx - nr * ev.cpu
        ctxs = [ev.context]
        steps = [step]
        pages = [ev.pfn]
        victim = self._holder(ev.idx)
        whose = ""
        if victim is not None and victim.context != ev.context:
            whose = f", which held {victim.context}'s mapping of page {self._pg(victim.pfn)} (step {victim.step})"
            ctxs.append(victim.context)
            steps = [victim.step, step]
            pages.append(victim.pfn)
        msg = (f"{ev.context} mapped page {self._pg(ev.pfn)} on CPU {ev.cpu} with km type {value} ({ev.type}), outside "
               f"enum km_type (KM_TYPE_NR is {nr}): idx = {value} + KM_TYPE_NR * {ev.cpu} = {ev.idx} is "
               f"{self._index_text(ev.idx)}{whose}")
        self.report(Finding("slot-out-of-range", msg, ev.cpu, ctxs, self._slot(mp), pages, steps))

    def _on_kunmap(self, ev: Any) -> None:
        self.on_kunmap(*ev)

    def _unmap_order(self, ev: Any, mp: Mapping) -> None:
        step = self.step_of()
        victim = self.slot_owner.get(ev.idx)
        whose = ""
        ctxs = [ev.context]
        pages = [mp.pfn]
        steps = [mp.step]
        if victim is not None:
            whose = f", which held {victim.context}'s mapping of page {self._pg(victim.pfn)} (step {victim.step})"
            if victim.context != ev.context:
                ctxs.append(victim.context)
            pages.append(victim.pfn)
            steps.append(victim.step)
        msg = (f"{ev.context} unmapped {ev.vaddr:#010x} (its mapping of page {self._pg(mp.pfn)}, stack slot idx "
               f"{mp.idx}) "
               f"out of LIFO order on CPU {ev.cpu}: the kernel cleared the top slot idx {ev.idx}{whose}, and "
               f"{mp.vaddr:#010x} stays mapped")
        self.report(Finding("unmap-order", msg, ev.cpu, ctxs, self._slot(mp), pages, steps + [step]))

    def _on_warn(self, ev: Any) -> None:
        kind = {"debug_kmap_atomic": "wrong-context", "kmap_atomic_idx_push": "wrong-context",
                "kmap_local_idx_push": "wrong-context"}.get(ev.function, "kernel-warning")
        if ev.function in ("__kunmap_atomic", "kunmap_local_indexed") and "top slot" in ev.message:
            return  # reported as unmap-order from the shadow state, debug build or not
        step = self.step_of()
        self.report(Finding(kind, f"{ev.context} on CPU {ev.cpu}: {ev.message}", ev.cpu, [ev.context],
                            None, [], [step]))

    def on_access(self, cpu: int, context: str, vaddr: int, size: int, pfn: int, tlb: bool, write: bool) -> None:
        """Fast path for loads and stores when the checker is the only observer (see EventBus.on_access):
        an event is built only for an access that must be judged."""
        page = vaddr & PAGE_MASK
        if not self.kmap_lo <= page < self.kmap_hi:
            return
        mp = self.held.get(context, _EMPTY).get(page)
        if mp is not None and pfn == mp.pfn:
            return
        event = (ev.Store if write else ev.Load)(cpu, context, vaddr, size, pfn, tlb)
        self._judge_access(event, page, mp)

    def on_kmap(self, cpu: int, context: str, type: str, idx: int, vaddr: int, pfn: int) -> None:
        """A kmap_atomic (the fields of :class:`~highmem.events.KmapAtomic`); also the direct hook when
        the checker is the only observer (EventBus.on_kmap): the event is built only to be reported."""
        step = self.step_of()
        # Mapping(context, cpu, type, idx, vaddr, pfn, step), without its __init__ frame.
        mp = _new_mapping(Mapping)
        mp.context = context
        mp.cpu = cpu
        mp.type = type
        mp.idx = idx
        mp.vaddr = vaddr
        mp.pfn = pfn
        mp.step = step
        mp.clobbered_by = None
        mp.unmap_step = None
        if idx >= 0:
            if not self.stack_slots and type not in self._km_names:
                self._out_of_range(ev.KmapAtomic(cpu, context, type, idx, vaddr, pfn), mp, step)
            slot_owner = self.slot_owner
            prev = slot_owner.get(idx)
            if prev is not None:
                # Kernels that BUG on a busy slot (2.4 debug, 2.6.32) never emit this map: no check needed.
                if (prev.context == context and not self.stack_slots
                        and self.held.get(prev.context, _NONE_HELD).get(prev.vaddr) is prev):
                    self._remap_held(ev.KmapAtomic(cpu, context, type, idx, vaddr, pfn), prev, mp, step)
                if prev.context != context and prev.clobbered_by is None:
                    if self.held.get(prev.context, _NONE_HELD).get(prev.vaddr) is prev:
                        prev.clobbered_by = (context, step, pfn)
            slot_owner[idx] = mp
        held = self.held.get(context)
        if held is None:
            held = self.held[context] = {}
        held[vaddr & PAGE_MASK] = mp

    def on_kunmap(self, cpu: int, context: str, type: str, idx: int, vaddr: int, cleared: bool) -> None:
        """A kunmap_atomic (the fields of :class:`~highmem.events.KunmapAtomic`); also the direct hook
        when the checker is the only observer (EventBus.on_kunmap)."""
        page = vaddr & PAGE_MASK
        held = self.held.get(context, _NONE_HELD)
        mp = held.get(page)
        if cleared:
            self.cleared_by[self.m.slot_pte(idx)[0] if idx >= 0 else page] = (context, self.step_of())
        if mp is not None and (self.stack_slots or mp.type == type):
            mp.unmap_step = self.step_of()
            del held[page]
            rel = self.released.get(context)
            if rel is None:
                rel = self.released[context] = {}
            rel[page] = mp
            if self.stack_slots and idx >= 0 and mp.idx >= 0 and idx != mp.idx:
                self._unmap_order(ev.KunmapAtomic(cpu, context, type, idx, vaddr, cleared), mp)
            return
        if mp is None and not (self.kmap_lo <= page < self.kmap_hi):
            return  # a lowmem (or other direct) address: kunmap_atomic ignores it
        step = self.step_of()
        if mp is not None:
            msg = (f"{context} unmapped {vaddr:#010x} as {type} on CPU {cpu}, but mapped it "
                   f"as {mp.type} at step {mp.step}: the {mp.type} slot stays mapped")
            self.report(Finding("wrong-unmap", msg, cpu, [context], self._slot(mp), [mp.pfn],
                                [mp.step, step]))
        else:
            msg = (f"{context} unmapped {vaddr:#010x} as {type} on CPU {cpu} but holds no "
                   "atomic mapping at that address")
            self.report(Finding("wrong-unmap", msg, cpu, [context], None, [], [step]))

    def _on_access(self, ev: Any) -> None:
        page = ev.vaddr & PAGE_MASK
        if not self.kmap_lo <= page < self.kmap_hi:
            return
        mp = self.held.get(ev.context, {}).get(page)
        if mp is not None and ev.pfn == mp.pfn:
            return
        self._judge_access(ev, page, mp)

    def _judge_access(self, ev: Any, page: int, mp: Mapping | None) -> None:
        what = "load from" if ev.kind == "load" else "store to"
        step = self.step_of()
        if mp is not None:
            if mp.clobbered_by is not None:
                who, at, _pfn = mp.clobbered_by
                cause = f"{who} mapped the slot at step {at}"
                ctxs = [ev.context, who]
                steps = [mp.step, at, step]
            else:
                cause = "a stale TLB entry outlived the slot's PTE"
                ctxs = [ev.context]
                steps = [mp.step, step]
            msg = (f"{ev.context} did a {what} {ev.vaddr:#010x} on CPU {ev.cpu} expecting page {self._pg(mp.pfn)} "
                   f"(mapped in {self._slot_text(mp)} at step {mp.step}) but reached page {self._pg(ev.pfn)}: {cause}")
            self.report(Finding("stale-access", msg, ev.cpu, ctxs, self._slot(mp), [mp.pfn, ev.pfn], steps))
            return
        rel = self.released.get(ev.context, {}).get(page)
        if rel is not None:
            if ev.pfn != rel.pfn:
                msg = (f"{ev.context} did a {what} {ev.vaddr:#010x} on CPU {ev.cpu} after unmapping it; the slot "
                       f"held page {self._pg(rel.pfn)} for it but now reaches page {self._pg(ev.pfn)}")
                self.report(Finding("stale-access", msg, ev.cpu, [ev.context], self._slot(rel),
                                    [rel.pfn, ev.pfn], [rel.step, step]))
            else:
                msg = (f"{ev.context} did a {what} {ev.vaddr:#010x} on CPU {ev.cpu} after unmapping it at step "
                       f"{rel.unmap_step} ({self._slot_text(rel)}, mapped at step {rel.step}); it still reached page "
                       f"{self._pg(ev.pfn)} only because nobody reused the slot yet")
                self.report(Finding("use-after-unmap", msg, ev.cpu, [ev.context], self._slot(rel), [ev.pfn],
                                    _steps(rel.step, rel.unmap_step, step)))
            return
        owner = self._owner_of_vaddr(page)
        ctxs = [ev.context] + ([owner.context] if owner is not None else [])
        msg = (f"{ev.context} did a {what} {ev.vaddr:#010x} on CPU {ev.cpu}, a kmap slot it never mapped"
               + (f" ({owner.context} mapped it at step {owner.step})" if owner is not None else ""))
        self.report(Finding("foreign-slot", msg, ev.cpu, ctxs, None if owner is None else self._slot(owner),
                            [ev.pfn], [step]))

    def _owner_of_vaddr(self, page: int) -> Mapping | None:
        for mp in self.slot_owner.values():
            if mp.vaddr == page:
                return mp
        return None

    def _on_fault(self, ev: Any) -> None:
        step = self.step_of()
        page = ev.vaddr & PAGE_MASK
        rel = self.released.get(ev.context, {}).get(page)
        detail = ""
        slot = None
        steps = [step]
        ctxs = [ev.context]
        if rel is not None:
            detail = f" after unmapping it at step {rel.unmap_step} ({self._slot_text(rel)})"
            slot = self._slot(rel)
            steps = _steps(rel.step, rel.unmap_step, step)
        else:
            owner = self._owner_of_vaddr(page)
            clearer = self.cleared_by.get(page)
            if owner is not None:
                detail = f", {self._slot_text(owner)}, which {owner.context} mapped at step {owner.step}"
                slot = self._slot(owner)
                steps = [owner.step, step]
                if clearer is not None:
                    detail += f" and {clearer[0]} cleared at step {clearer[1]}"
                    ctxs += [owner.context, clearer[0]]
                    steps = [owner.step, clearer[1], step]
                else:
                    ctxs.append(owner.context)
        msg = f"{ev.context} faulted on CPU {ev.cpu} at {ev.vaddr:#010x}{detail}: {ev.message}"
        self.report(Finding("page-fault", msg, ev.cpu, ctxs, slot, [], steps))

    def _on_bug(self, ev: Any) -> None:
        step = self.step_of()
        kind = {"kmap_atomic": "slot-in-use", "kmap_atomic_prot": "slot-in-use",
                "__kmap_local_pfn_prot": "slot-in-use", "kunmap_atomic": "wrong-unmap",
                "__kunmap_atomic": "wrong-unmap"}.get(ev.function, "kernel-bug")
        ctxs = [ev.context]
        steps = [step]
        slot = None
        pages: list[int] = []
        if kind == "slot-in-use":
            owner = self._owner_for_bug(ev)
            if owner is not None:
                ctxs.append(owner.context)
                steps = [owner.step, step]
                slot = self._slot(owner)
                pages = [owner.pfn]
        msg = f"{ev.context} on CPU {ev.cpu}: {ev.message}"
        if ev.function in ("kmap_local_idx_pop", "kmap_atomic_idx_pop"):
            # The pop BUGs after the unmap cleared kmap_pte - idx for the top index -1, unchecked.
            idx = self.m.KM_TYPE_NR * ev.cpu - 1
            msg += f"; before the BUG the unmap cleared the PTE of {self._index_text(idx)}"
            victim = self._holder(idx)
            if victim is not None:
                msg += f", destroying {victim.context}'s mapping of page {self._pg(victim.pfn)} (step {victim.step})"
                if victim.context not in ctxs:
                    ctxs.append(victim.context)
                steps = [victim.step, step]
                slot = self._slot(victim)
                pages = [victim.pfn]
        self.report(Finding(kind, msg, ev.cpu, ctxs, slot, pages, steps))

    def _owner_for_bug(self, ev: Any) -> Mapping | None:
        for mp in self.slot_owner.values():
            if (mp.cpu == ev.cpu and f"{mp.vaddr:#010x}" in ev.message
                    and self.held.get(mp.context, {}).get(mp.vaddr) is mp):
                return mp
        for mp in self.slot_owner.values():
            if mp.cpu == ev.cpu and f"{mp.vaddr:#010x}" in ev.message:
                return mp
        return None

    def _on_context(self, ev: Any) -> None:
        self.on_context(*ev)

    def on_context(self, cpu: int, context: str, ctx_kind: str, what: str, detail: str) -> None:
        """A context event (the fields of :class:`~highmem.events.ContextEvent`); also the engine's direct
        hook when the checker is the only observer (see CONTEXT_EVENTS_JUDGED)."""
        if what == "switch_out" and detail in ("schedule", "sleep"):
            if not self.held.get(context):
                return  # nothing held: nothing to report
            for mp in self._held_high(context):
                step = self.step_of()
                verb = "called schedule()" if detail == "schedule" else "went to sleep"
                risk = (f"the next task on CPU {cpu} may take the slot" if not self.stack_slots else
                        "kmap_atomic disabled preemption and page faults, so it sleeps in atomic context")
                msg = (f"{context} {verb} on CPU {cpu} holding {self._slot_text(mp)} (page {self._pg(mp.pfn)}, "
                       f"mapped at step {mp.step}): {risk}")
                self.report(Finding("sleep-in-atomic", msg, cpu, [context], self._slot(mp), [mp.pfn],
                                    [mp.step, step]))
        elif what == "end":
            if self.held.get(context):
                for mp in self._held_high(context):
                    step = self.step_of()
                    if ctx_kind == "task":
                        msg = (f"{context} exited on CPU {cpu} holding {self._slot_text(mp)} "
                               f"(page {self._pg(mp.pfn)}, "
                               f"mapped at step {mp.step}) without kunmap_atomic")
                        kind = "exit-in-atomic"
                    else:
                        msg = (f"{ctx_kind} handler {context} returned on CPU {cpu} still holding "
                               f"{self._slot_text(mp)} (page {self._pg(mp.pfn)}, mapped at step {mp.step})")
                        kind = "leaked-mapping"
                    self.report(Finding(kind, msg, cpu, [context], self._slot(mp), [mp.pfn], [mp.step, step]))
            self.held.pop(context, None)
            self.released.pop(context, None)

    def _held_high(self, ctx: str) -> list[Mapping]:
        # kmap_local mappings may be held across a context switch: only atomic ones count.
        return [mp for mp in self.held.get(ctx, {}).values() if mp.idx >= 0 and mp.type != "kmap_local_page"]
