"""Profile ``linux-5.11``: ``kmap_local_page`` and the kmap_atomic built on it, as in Linux 5.15 (x86-32).

Sources (5.15): mm/highmem.c (``kmap_local_idx_push``, ``__kmap_local_pfn_prot``,
``kunmap_local_indexed``, ``__kmap_local_sched_out``/``_in``),
include/linux/highmem-internal.h (``kmap_atomic`` = preempt_disable +
pagefault_disable + kmap_local), include/asm-generic/kmap_size.h (KM_MAX_IDX
16, or 33 with DEBUG_KMAP_LOCAL), include/linux/sched.h (``kmap_ctrl``),
arch/x86/include/asm/{fixmap.h, pgtable_32_areas.h}, kernel/sched/core.c.

The slot stack is per *task* (``kmap_ctrl``: idx and the PTE value of each
slot); interrupts push onto the stack of the task they interrupted.  A
kmap_local holder stays preemptible (migration disabled): on a context
switch ``kmap_local_sched_out`` clears and flushes its slots and
``kmap_local_sched_in`` writes them back.  Unmapping clears the top slot
whatever address is given (LIFO is the rule; otherwise finding
``unmap-order``).  KM_INCR is 2 with DEBUG_KMAP_LOCAL, leaving the even slots
as guard pages.  DEBUG_KMAP_LOCAL_FORCE_MAP maps even lowmem pages through
the fixmap.  DEBUG_HIGHMEM selects both debug options.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from highmem.errors import HighmemError
from highmem.events import KmapAtomic, KunmapAtomic, PteClear, SetPte
from highmem.hw.physmem import PAGE_MASK, PAGE_SHIFT, Page
from highmem.kernel import sched as _sched
from highmem.kernel.config import KernelConfig
from highmem.kernel.context import Context, ContextKind
from highmem.kernel.profile import FixmapLayout, Profile, build_fixmap
from highmem.profiles.common import (
    FIXADDR_TOP,
    KM_2_6_32,
    PAGE_OFFSET,
    VMALLOC_OFFSET,
    VMALLOC_RESERVE,
    irqs_disabled,
    kconfig_2_6,
    kmap_prot_2_6,
    map_slot,
    pagefault_disabled_dec,
    pagefault_disabled_inc,
    preempt_disable,
    preempt_enable,
    warn_once,
)
from highmem.profiles.linux_2_6 import kmap_atomic_to_page

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["PROFILE", "kmap_local_page", "kunmap_local", "kmap_atomic", "kunmap_atomic"]

OPTIONS = ("SMP", "X86_LOCAL_APIC", "X86_IO_APIC", "HIGHMEM", "PCI_MMCONFIG", "PARAVIRT_XXL", "ACPI_APEI_GHES",
           "DEBUG_HIGHMEM", "DEBUG_KMAP_LOCAL", "DEBUG_KMAP_LOCAL_FORCE_MAP", "X86_PAE", "PREEMPT", "DEBUG_PREEMPT")
DEFAULTS = {"SMP": True, "HIGHMEM": True, "PCI_MMCONFIG": True, "PARAVIRT_XXL": False, "ACPI_APEI_GHES": False,
            "DEBUG_HIGHMEM": False, "DEBUG_KMAP_LOCAL": False, "DEBUG_KMAP_LOCAL_FORCE_MAP": False,
            "X86_PAE": False, "PREEMPT": False, "DEBUG_PREEMPT": False}
MAX_IO_APICS = 64
#: Departure from Linux: sizeof(struct cpu_entry_area) depends on the configuration (GDT, guard
#: pages, entry and double-fault stacks, the TSS with its I/O bitmap, debug-store buffers); the model
#: takes 43 pages per CPU, derived from the 5.15 x86-32 layout, to place PKMAP_BASE.
CPU_ENTRY_AREA_PAGES_PER_CPU = 43


def _debug(config: KernelConfig) -> bool:
    o = config.options
    return o["DEBUG_KMAP_LOCAL"] or o["DEBUG_HIGHMEM"] or o["DEBUG_KMAP_LOCAL_FORCE_MAP"]


def _force_map(config: KernelConfig) -> bool:
    return config.options["DEBUG_KMAP_LOCAL_FORCE_MAP"] or config.options["DEBUG_HIGHMEM"]


def km_max_idx(config: KernelConfig) -> int:
    """KM_MAX_IDX: 16, or 33 with DEBUG_KMAP_LOCAL (include/asm-generic/kmap_size.h)."""
    return 33 if _debug(config) else 16


def km_type_names(config: KernelConfig) -> tuple[str, ...]:
    # No km_type exists any more; the argument of kmap_atomic(page, type) is dropped.  The
    # names of every earlier list are accepted so that old scenarios run unchanged.
    return KM_2_6_32 + ("KM_KDB", "KM_BH_IRQ")


def fixmap(config: KernelConfig, slots_per_cpu: int) -> FixmapLayout:
    o = config.options
    e: list[tuple[str, int]] = [("FIX_HOLE", 1), ("FIX_DBGP_BASE", 1), ("FIX_EARLYCON_MEM_BASE", 1)]
    if o["X86_LOCAL_APIC"]:
        e.append(("FIX_APIC_BASE", 1))
    if o["X86_IO_APIC"]:
        e.append(("FIX_IO_APIC_BASE_0..FIX_IO_APIC_BASE_END", MAX_IO_APICS))
    # Under CONFIG_KMAP_LOCAL, which X86_32 selects whatever HIGHMEM is (arch/x86/Kconfig, fixmap.h, 5.15).
    e.append(("FIX_KMAP_BEGIN..FIX_KMAP_END", slots_per_cpu * config.NR_CPUS))
    if o["PCI_MMCONFIG"]:
        e.append(("FIX_PCIE_MCFG", 1))
    if o["PARAVIRT_XXL"]:
        e.append(("FIX_PARAVIRT_BOOTMAP", 1))
    if o["ACPI_APEI_GHES"]:
        e += [("FIX_APEI_GHES_IRQ", 1), ("FIX_APEI_GHES_NMI", 1)]
    total = 64 * 8
    ptrs = 512 if o["X86_PAE"] else 1024

    def btmap(end: int) -> tuple[int, int]:
        first = end + total - (end & (total - 1)) if (end ^ (end + total - 1)) & -ptrs else end
        return first, first + total - 1

    return build_fixmap(e, btmap, [("FIX_WP_TEST", 1)])


def areas(config: KernelConfig, fix: FixmapLayout, last_pkmap: int) -> tuple[int, int, int]:
    """PKMAP_BASE below the LDT below the CPU entry area (arch/x86/include/asm/pgtable_32_areas.h)."""
    pmd_mask = ~((1 << (21 if config.options["X86_PAE"] else 22)) - 1) & 0xFFFFFFFF
    tot_start = FIXADDR_TOP - (fix.end_of_fixed << 12)
    cea_pages = config.NR_CPUS * CPU_ENTRY_AREA_PAGES_PER_CPU
    cea_base = (tot_start - 4096 * (cea_pages + 1)) & pmd_mask
    ldt_base = (cea_base - 4096) & pmd_mask
    pkmap_base = (ldt_base - 4096) & pmd_mask
    vmalloc_end = (pkmap_base if config.options["HIGHMEM"] else ldt_base) - 2 * 4096
    return pkmap_base, vmalloc_end, vmalloc_end - PAGE_OFFSET - VMALLOC_RESERVE


def _ctrl_owner(m: Machine) -> Context:
    """The task whose kmap_ctrl this context uses: itself, or the task an interrupt interrupted."""
    cur = m.current
    if cur.kind is ContextKind.TASK:
        return cur
    for c in m.cpu_state[cur.cpu].stack:
        if c.kind is ContextKind.TASK:
            return c
    return cur  # an interrupt on an idle CPU: the idle task's (its own) stack


def _ctrl(ctx: Context, m: Machine) -> dict[str, Any]:
    ctrl = ctx.data.get("kmap_ctrl")
    if ctrl is None:
        ctrl = ctx.data["kmap_ctrl"] = {"idx": 0, "pteval": [0] * m.KM_TYPE_NR}
    return ctrl


def kmap_local_page(m: Machine, page: Page) -> int:
    """``kmap_local_page(page)``: map ``page`` in the current task's next slot. Any context; the
    holder may be preempted (migration is disabled until ``kunmap_local``)."""
    if m.sched_point is not None:
        m.sched_point("kmap_local_page")
    page = m.check_page(page)
    return _map_local(m, page, "kmap_local_page")


def _map_local(m: Machine, page: Page, tname: str, atomic: bool = False) -> int:
    cur = m.current
    # Without HIGHMEM kmap_local_page is page_address(), FORCE_MAP or not (highmem-internal.h, 5.15).
    if not m.HIGHMEM or (page.pfn < m.highstart_pfn and not _force_map(m.config)):
        vaddr = m.mem_map.get_virtual(page.pfn)
        if m.bus.active:
            m.bus.emit(KmapAtomic(cur.cpu, cur.name, tname, -1, vaddr, page.pfn))
        return vaddr
    owner = _ctrl_owner(m)
    owner.data["migrate_disable"] = owner.data.get("migrate_disable", 0) + 1
    preempt_disable(m)
    cpu = cur.cpu
    ctrl = _ctrl(owner, m)
    if m.cpu_state[cpu].local_irq_count and not irqs_disabled(m):
        warn_once(m, "kmap_local_idx_push", "kmap_local_idx_push",
                  f"WARNING in kmap_local_idx_push on CPU {cpu}: pushed in hard-IRQ context with interrupts enabled")
    ctrl["idx"] += 2 if _debug(m.config) else 1
    if ctrl["idx"] >= m.KM_TYPE_NR:
        raise _sched._bug(m, "kmap_local_idx_push", f"the kmap_local stack of {owner.name} is full "
                          f"(KM_MAX_IDX {m.KM_TYPE_NR})")
    slot = ctrl["idx"] - 1
    idx = slot + m.KM_TYPE_NR * cpu
    vaddr = map_slot(m, idx, page.pfn, tname, "__kmap_local_pfn_prot", f"slot {slot}")
    _set_pteval(m, ctrl, slot, (page.pfn << PAGE_SHIFT) | m.kmap_prot)
    preempt_enable(m)
    return vaddr


def _set_pteval(m: Machine, ctrl: dict[str, Any], slot: int, value: int) -> None:
    """``current->kmap_ctrl.pteval[slot] = value``, unchecked as in C.  After an underflow the slot is -1:
    ``pteval[-1]`` is the 4 bytes of ``kmap_ctrl.idx`` (non-PAE), or the 8 bytes ending with them (PAE:
    pte_t is 4-byte aligned in the i386 ABI), so the store sets idx to the entry's (high) word."""
    if 0 <= slot < len(ctrl["pteval"]):
        ctrl["pteval"][slot] = value
    elif slot == -1:
        word = (value >> 32) if m.config.options["X86_PAE"] else value
        word &= 0xFFFFFFFF
        ctrl["idx"] = word - (1 << 32) if word & 0x80000000 else word
    # Departure from Linux: a store to pteval[slot < -1] hits task_struct fields before kmap_ctrl,
    # which the model does not have; it is dropped.


def kunmap_local(m: Machine, addr: int) -> None:
    """``kunmap_local(addr)``: clear the current task's *top* slot and flush ``addr``. Any context."""
    if m.sched_point is not None:
        m.sched_point("kunmap_local")
    _unmap_local(m, addr, "kunmap_local")


def _unmap_local(m: Machine, addr: int, tname: str) -> None:
    if isinstance(addr, bool) or not isinstance(addr, int) or not 0 <= addr <= 0xFFFFFFFF:
        raise HighmemError(f"{tname} address {addr!r} is not a 32-bit kernel address")
    cur = m.current
    cpu = cur.cpu
    vaddr = addr & PAGE_MASK
    if not m.HIGHMEM:
        # __kunmap_local / __kunmap_atomic without HIGHMEM touch no PTE (highmem-internal.h, 5.15).
        if m.bus.active:
            m.bus.emit(KunmapAtomic(cpu, cur.name, tname, -1, addr, False))
        return
    lo, hi = m.kmap_vaddr[-1], m.kmap_vaddr[0]
    if not lo <= vaddr <= hi:
        if _force_map(m.config):
            warn_once(m, "kunmap_local_indexed:force", "kunmap_local_indexed",
                      f"WARNING in kunmap_local_indexed on CPU {cpu}: {addr:#010x} is not a kmap_local address")
        elif vaddr < m.PAGE_OFFSET:
            warn_once(m, "kunmap_local_indexed:user", "kunmap_local_indexed",
                      f"WARNING in kunmap_local_indexed on CPU {cpu}: {addr:#010x} is below PAGE_OFFSET")
        if m.bus.active:
            m.bus.emit(KunmapAtomic(cpu, cur.name, tname, -1, addr, False))
        return
    preempt_disable(m)
    owner = _ctrl_owner(m)
    ctrl = _ctrl(owner, m)
    slot = ctrl["idx"] - 1
    idx = slot + m.KM_TYPE_NR * cpu
    # No range check, as in C: on an empty stack idx is -1 + KM_MAX_IDX * cpu, the previous CPU's last
    # slot (on CPU 0 the fixmap entry below FIX_KMAP_BEGIN), and its PTE is cleared before the pop BUGs.
    top_vaddr, frame, off = m.slot_pte(idx)
    if vaddr != top_vaddr:
        warn_once(m, "kunmap_local_indexed:order", "kunmap_local_indexed",
                  f"WARNING in kunmap_local_indexed on CPU {cpu}: {addr:#010x} is not the top slot")
    old = m.pte_struct.unpack_from(frame, off)[0]
    m.pte_struct.pack_into(frame, off, 0)
    if m.bus.active and (m.bus.judges is None or PteClear in m.bus.judges):
        m.bus.emit(PteClear(cpu, cur.name, m.kmap_pte - idx * m.pte_size, top_vaddr, old))
    m.cpus[cpu].flush_tlb_one(vaddr)
    _set_pteval(m, ctrl, slot, 0)
    ctrl["idx"] -= 2 if _debug(m.config) else 1
    if ctrl["idx"] < 0:
        raise _sched._bug(m, "kmap_local_idx_pop", f"the kmap_local stack of {owner.name} underflowed")
    if m.bus.active:
        m.bus.emit(KunmapAtomic(cpu, cur.name, tname, idx, addr, True))
    preempt_enable(m)
    owner.data["migrate_disable"] = max(0, owner.data.get("migrate_disable", 0) - 1)


def kmap_atomic(m: Machine, page: Page, type: object = None) -> int:
    """5.15 ``kmap_atomic``: preempt_disable, pagefault_disable, then kmap_local (the type is ignored)."""
    if m.sched_point is not None:
        m.sched_point("kmap_atomic")
    page = m.check_page(page)
    preempt_disable(m)
    pagefault_disabled_inc(m)
    return _map_local(m, page, "-" if type is None else str(getattr(type, "name", type)), atomic=True)


def kunmap_atomic(m: Machine, addr: int, type: object = None) -> None:
    """5.15 ``kunmap_atomic``: kunmap_local_indexed, pagefault_enable, preempt_enable."""
    if m.sched_point is not None:
        m.sched_point("kunmap_atomic")
    _unmap_local(m, addr, "-" if type is None else str(getattr(type, "name", type)))
    pagefault_disabled_dec(m)
    preempt_enable(m)


def _held_slots(m: Machine, task: Context) -> list[tuple[int, int]]:
    """(slot, saved pteval) of every slot ``task`` holds: the even guard slots of
    DEBUG_KMAP_LOCAL and empty ones are skipped, as the 5.15 loops skip them."""
    ctrl = task.data.get("kmap_ctrl")
    if not ctrl or not ctrl["idx"]:
        return []
    debug = _debug(m.config)
    return [(i, ctrl["pteval"][i]) for i in range(min(ctrl["idx"], m.KM_TYPE_NR))
            if not (debug and i % 2 == 0) and ctrl["pteval"][i] != 0]


def kmap_local_sched_out(m: Machine, task: Context) -> None:
    """``__kmap_local_sched_out``: clear and flush every slot the task holds (pteval kept)."""
    cpu = task.cpu
    for i, _val in _held_slots(m, task):
        idx = i + m.KM_TYPE_NR * cpu
        frame, off = m.kmap_pte_at[idx]
        old = m.pte_struct.unpack_from(frame, off)[0]
        m.pte_struct.pack_into(frame, off, 0)
        if m.bus.active and (m.bus.judges is None or PteClear in m.bus.judges):
            m.bus.emit(PteClear(cpu, task.name, m.kmap_pte - idx * m.pte_size, m.kmap_vaddr[idx], old))
        m.cpus[cpu].flush_tlb_one(m.kmap_vaddr[idx])


def kmap_local_sched_in(m: Machine, task: Context) -> None:
    """``__kmap_local_sched_in``: write back the PTEs of every slot the task holds."""
    cpu = task.cpu
    for i, val in _held_slots(m, task):
        idx = i + m.KM_TYPE_NR * cpu
        frame, off = m.kmap_pte_at[idx]
        old = m.pte_struct.unpack_from(frame, off)[0]
        m.pte_struct.pack_into(frame, off, val)
        if m.bus.active and (m.bus.judges is None or SetPte in m.bus.judges):
            m.bus.emit(SetPte(cpu, task.name, m.kmap_pte - idx * m.pte_size, m.kmap_vaddr[idx], old, val))


def install(m: Machine) -> None:
    m.bind("kmap_atomic", kmap_atomic)
    m.bind("kunmap_atomic", kunmap_atomic)
    m.bind("kmap_local_page", kmap_local_page)
    m.bind("kunmap_local", kunmap_local)
    m.bind("kmap_atomic_to_page", kmap_atomic_to_page)
    m.preemptible = m.config.options["PREEMPT"]
    m.kmap_prot = kmap_prot_2_6(m)
    m.sched_out_hook = kmap_local_sched_out
    m.sched_in_hook = kmap_local_sched_in


PROFILE = Profile(
    name="linux-5.11", version="5.15", source="sndrzt/linux-5.15", options=OPTIONS, defaults=DEFAULTS,
    nr_cpus_default=8, max_nr_cpus=32, FIXADDR_TOP=FIXADDR_TOP, km_type_names=km_type_names, fixmap=fixmap,
    areas=areas, install=install, slots_per_cpu=km_max_idx, stack_slots=True, has_kmap_local=True,
    preemptible_option=True, cpu_has_nx_default=True,
    kconfig=kconfig_2_6, module=__name__,
    notes={"X86_F00F_WORKS_OK": "5.15's x86-32 fixmap has no F00F entry", "X86_F00F_BUG": "5.15's x86-32 fixmap "
           "has no F00F entry", "KUNMAP_POP_BEFORE_CLEAR": "the 2010 race exists only in --profile linux-2.6.37",
           "PARAVIRT": "5.15 names it PARAVIRT_XXL",
           "X86_INVLPG": "the 2.6+ profiles model a CPU with invlpg (5.15 has no M386 build)"},
    extra={"vmalloc_start": lambda high_memory: high_memory + VMALLOC_OFFSET, "handlers_irqs_off": True},
)
