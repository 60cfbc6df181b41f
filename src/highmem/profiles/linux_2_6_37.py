"""Profile ``linux-2.6.37``: the stack-based kmap_atomic, as in Linux 2.6.39 (x86-32).

Sources (2.6.39): include/linux/highmem.h (``kmap_atomic_idx_push``,
``kmap_atomic_idx``, ``kmap_atomic_idx_pop``), include/asm-generic/kmap_types.h
(KM_TYPE_NR 20, 41 with fences), arch/x86/mm/highmem_32.c
(``kmap_atomic_prot``, ``__kunmap_atomic``); commit 3e4d3af501cc "mm: stack
based kmap_atomic()" and the race fix 20273941f212.

Each CPU has ``__kmap_atomic_idx``, the number of slots in use; a map
pushes, an unmap clears the *top* slot whatever address it is given and
pops.  The km_type argument is ignored.  LIFO is the rule: an out-of-order
unmap tears down another mapping (finding ``unmap-order``).  Debug checks:
WARN_ON_ONCE when pushing in hard-IRQ context with interrupts enabled, BUG
when the pushed slot is *greater than* KM_TYPE_NR (the historical
off-by-one: slot == KM_TYPE_NR is already the next CPU's first), BUG when a
pop goes negative; kmap_atomic BUGs on a busy slot in every build.

The model switch KUNMAP_POP_BEFORE_CLEAR (not a Kconfig option) selects the
first 2.6.37-rc code, which popped the index *before* clearing the PTE, in
two steps an interrupt can fall between (bug 5.3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from highmem.errors import HighmemError
from highmem.events import KmapAtomic, KunmapAtomic, PteClear
from highmem.hw.physmem import PAGE_MASK, Page
from highmem.kernel import sched as _sched
from highmem.kernel.config import KernelConfig
from highmem.kernel.profile import FixmapLayout, Profile
from highmem.profiles.common import (
    FIXADDR_TOP,
    KM_2_6_32,
    VMALLOC_OFFSET,
    areas_2_6,
    irqs_disabled,
    kconfig_2_6,
    kmap_prot_2_6,
    map_slot,
    pagefault_disable,
    pagefault_enable,
    warn_once,
    with_fences,
)
from highmem.profiles.linux_2_6 import DEFAULTS as DEFAULTS_2_6
from highmem.profiles.linux_2_6 import NOTES as NOTES_2_6
from highmem.profiles.linux_2_6 import OPTIONS as OPTIONS_2_6
from highmem.profiles.linux_2_6 import fixmap_2_6, kmap_atomic_to_page

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["PROFILE", "KM_2_6_39", "kmap_atomic", "kunmap_atomic"]

KM_2_6_39 = KM_2_6_32 + ("KM_KDB",)
OPTIONS = OPTIONS_2_6 + ("KUNMAP_POP_BEFORE_CLEAR",)
DEFAULTS = dict(DEFAULTS_2_6, KUNMAP_POP_BEFORE_CLEAR=False)


def km_type_names(config: KernelConfig) -> tuple[str, ...]:
    return with_fences(KM_2_6_39) if config.options["DEBUG_HIGHMEM"] else KM_2_6_39


def fixmap(config: KernelConfig, slots_per_cpu: int) -> FixmapLayout:
    return fixmap_2_6(config, slots_per_cpu, btmap_2_6_39=True)


def _type_name(type: object) -> str:
    """The km_type argument, ignored: ``kmap_atomic(page, args...)`` drops it in the preprocessor,
    so any name compiles (include/linux/highmem.h, 2.6.39)."""
    if type is None:
        return "-"
    return str(getattr(type, "name", type))


def _stack(m: Machine) -> list[int]:
    return m.__dict__.setdefault("kmap_atomic_idx", [0] * len(m.cpus))


def kmap_atomic_idx_push(m: Machine) -> int:
    """Push: the new top slot.  Debug: WARN in hard IRQ with interrupts on; BUG if slot > KM_TYPE_NR."""
    st = _stack(m)
    cpu = m.current.cpu
    st[cpu] += 1
    slot = st[cpu] - 1
    if m.DEBUG_HIGHMEM:
        if m.cpu_state[cpu].local_irq_count and not irqs_disabled(m):
            warn_once(m, "kmap_atomic_idx_push", "kmap_atomic_idx_push",
                      f"WARNING in kmap_atomic_idx_push on CPU {cpu}: pushed in hard-IRQ context with interrupts "
                      "enabled")
        if slot > m.KM_TYPE_NR:
            raise _sched._bug(m, "kmap_atomic_idx_push", f"stack slot {slot} of CPU {cpu} is past KM_TYPE_NR "
                              f"{m.KM_TYPE_NR}")
    return slot


def kmap_atomic_idx_pop(m: Machine) -> None:
    """Pop.  Debug: BUG if the index goes negative."""
    st = _stack(m)
    cpu = m.current.cpu
    st[cpu] -= 1
    if m.DEBUG_HIGHMEM and st[cpu] < 0:
        raise _sched._bug(m, "kmap_atomic_idx_pop", f"the kmap_atomic stack of CPU {cpu} underflowed")


def kmap_atomic(m: Machine, page: Page, type: object = None) -> int:
    """``kmap_atomic(page[, type])``: push a slot and map ``page`` there; the type is ignored.
    Any context; disables preemption and page faults until ``kunmap_atomic``."""
    if m.sched_point is not None:
        m.sched_point("kmap_atomic")
    tname = _type_name(type)
    page = m.check_page(page)
    pagefault_disable(m)
    cur = m.current
    if page.pfn < m.highstart_pfn:
        vaddr = m.mem_map.get_virtual(page.pfn)
        if m.bus.active:
            m.bus.emit(KmapAtomic(cur.cpu, cur.name, tname, -1, vaddr, page.pfn))
        return vaddr
    slot = kmap_atomic_idx_push(m)
    cpu = cur.cpu
    idx = slot + m.KM_TYPE_NR * cpu
    # No range check, as in C: after an underflow (non-debug) idx may be -1, a fixmap entry
    # below FIX_KMAP_BEGIN; past FIX_KMAP_END it is the next CPU's slot or beyond.
    return map_slot(m, idx, page.pfn, tname, "kmap_atomic_prot", f"stack slot {slot}")


def kunmap_atomic(m: Machine, kvaddr: int, type: object = None) -> None:
    """``__kunmap_atomic(kvaddr)``: clear the *top* slot, flush ``kvaddr``, pop. Any context."""
    if m.sched_point is not None:
        m.sched_point("kunmap_atomic")
    tname = _type_name(type)
    if isinstance(kvaddr, bool) or not isinstance(kvaddr, int) or not 0 <= kvaddr <= 0xFFFFFFFF:
        raise HighmemError(f"kunmap_atomic address {kvaddr!r} is not a 32-bit kernel address")
    cur = m.current
    cpu = cur.cpu
    vaddr = kvaddr & PAGE_MASK
    lo = m.kmap_vaddr[-1] if m.HIGHMEM else 0
    hi = m.kmap_vaddr[0] if m.HIGHMEM else -1
    # Without HIGHMEM kunmap_atomic is pagefault_enable() only (include/linux/highmem.h, 2.6.39).
    if lo <= vaddr <= hi:
        st = _stack(m)
        if m.config.options["KUNMAP_POP_BEFORE_CLEAR"]:
            # The first 2.6.37-rc code: pop, *then* clear the popped slot, two steps apart.
            kmap_atomic_idx_pop(m)
            slot = st[cpu]
            if m.sched_point is not None:
                m.sched_point("kunmap_atomic:clear")
        else:
            slot = st[cpu] - 1
        idx = slot + m.KM_TYPE_NR * cpu
        top_vaddr, frame, off = m.slot_pte(idx)
        if m.DEBUG_HIGHMEM and vaddr != top_vaddr:
            warn_once(m, "__kunmap_atomic", "__kunmap_atomic",
                      f"WARNING in __kunmap_atomic on CPU {cpu}: {kvaddr:#010x} is not the top slot")
        old = m.pte_struct.unpack_from(frame, off)[0]
        m.pte_struct.pack_into(frame, off, 0)
        if m.bus.active and (m.bus.judges is None or PteClear in m.bus.judges):
            m.bus.emit(PteClear(cpu, cur.name, m.kmap_pte - idx * m.pte_size, top_vaddr, old))
        m.cpus[cpu].flush_tlb_one(vaddr)
        if not m.config.options["KUNMAP_POP_BEFORE_CLEAR"]:
            kmap_atomic_idx_pop(m)
        if m.bus.active:
            m.bus.emit(KunmapAtomic(cpu, cur.name, tname, idx, kvaddr, True))
    else:
        if m.HIGHMEM and m.DEBUG_HIGHMEM and (vaddr < m.PAGE_OFFSET or vaddr >= m.high_memory):
            raise _sched._bug(m, "__kunmap_atomic", f"address {kvaddr:#010x} is neither a kmap slot nor lowmem")
        if m.bus.active:
            m.bus.emit(KunmapAtomic(cpu, cur.name, tname, -1, kvaddr, False))
    pagefault_enable(m)


def install(m: Machine) -> None:
    m.bind("kmap_atomic", kmap_atomic)
    m.bind("kunmap_atomic", kunmap_atomic)
    m.bind("kmap_atomic_to_page", kmap_atomic_to_page)
    m.preemptible = m.config.options["PREEMPT"]
    m.kmap_prot = kmap_prot_2_6(m)


PROFILE = Profile(
    name="linux-2.6.37", version="2.6.39", source="zouyalong-coder/linux-2.6.39", options=OPTIONS,
    defaults=DEFAULTS, nr_cpus_default=8, max_nr_cpus=32, FIXADDR_TOP=FIXADDR_TOP, km_type_names=km_type_names,
    fixmap=fixmap, areas=areas_2_6, install=install, slots_per_cpu=lambda c: len(km_type_names(c)),
    stack_slots=True, preemptible_option=True, cpu_has_nx_default=True,
    kconfig=kconfig_2_6, module=__name__, notes=dict(NOTES_2_6),
    extra={"vmalloc_start": lambda high_memory: high_memory + VMALLOC_OFFSET, "handlers_irqs_off": True},
)
