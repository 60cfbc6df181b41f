"""Profile ``linux-2.6``: Linux 2.6.32, x86-32, fixed km_type slots with context checks.

Sources (2.6.32): include/asm-generic/kmap_types.h (19 types; with
DEBUG_HIGHMEM a ``__KM_FENCE_n`` before each, KM_TYPE_NR 39),
arch/x86/include/asm/fixmap.h and pgtable_32_types.h (FIXADDR_TOP
0xfffff000, PKMAP_BASE below the boot-time fixmap), arch/x86/mm/highmem_32.c
(``kmap_atomic_prot``, ``kunmap_atomic``, ``kmap_atomic_to_page``),
mm/highmem.c (``debug_kmap_atomic``), include/linux/uaccess.h
(``pagefault_disable``).

Differences from 2.4: kmap_atomic raises the preempt count first
(``pagefault_disable``), BUGs *unconditionally* on a busy slot, and does not
flush on map; kunmap_atomic always clears the PTE and flushes (debug or
not), and with a wrong type leaves the real slot mapped.  Under
DEBUG_HIGHMEM ``debug_kmap_atomic`` warns (finding ``wrong-context``) when
a type is used from a context it does not belong to, silent after 10.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

from highmem.errors import HighmemError
from highmem.events import KmapAtomic, KunmapAtomic, PteClear
from highmem.hw.physmem import PAGE_MASK, PAGE_SHIFT, Page
from highmem.kernel import sched as _sched
from highmem.kernel.config import KernelConfig
from highmem.kernel.kmap_types import coerce_km_type
from highmem.kernel.profile import FixmapLayout, Profile, build_fixmap
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
    warn,
    with_fences,
)

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["PROFILE", "kmap_atomic", "kunmap_atomic", "kmap_atomic_to_page", "debug_kmap_atomic",
           "fixmap_2_6", "OPTIONS"]

OPTIONS = ("SMP", "X86_LOCAL_APIC", "X86_IO_APIC", "X86_VISWS_APIC", "X86_F00F_BUG", "X86_CYCLONE_TIMER", "HIGHMEM",
           "PCI_MMCONFIG", "PARAVIRT", "DEBUG_HIGHMEM", "X86_PAE", "PREEMPT", "DEBUG_PREEMPT")
DEFAULTS = {"SMP": True, "X86_VISWS_APIC": False, "X86_F00F_BUG": False, "X86_CYCLONE_TIMER": False,
            "HIGHMEM": True, "PCI_MMCONFIG": True, "PARAVIRT": False, "DEBUG_HIGHMEM": False, "X86_PAE": False,
            "PREEMPT": False, "DEBUG_PREEMPT": False}
MAX_IO_APICS = 64
NOTES = {"X86_F00F_WORKS_OK": "2.6 has the opposite option: use X86_F00F_BUG=y for the FIX_F00F_IDT entry",
         "X86_SUMMIT": "2.6 keys the cyclone timer on X86_CYCLONE_TIMER",
         "X86_CLUSTERED_APIC": "2.6 has MAX_IO_APICS 64 without it",
         "ACPI_BOOT": "2.6.32's x86-32 fixmap has no ACPI entries",
         "DEBUG_KMAP_LOCAL": "kmap_local exists from 5.11: use --profile linux-5.11",
         "X86_INVLPG": "the 2.6+ profiles model a CPU with invlpg (2.6 chooses at run time, cpu_has_invlpg)"}


def km_type_names(config: KernelConfig) -> tuple[str, ...]:
    return with_fences(KM_2_6_32) if config.options["DEBUG_HIGHMEM"] else KM_2_6_32


def fixmap_2_6(config: KernelConfig, slots_per_cpu: int, btmap_2_6_39: bool = False) -> FixmapLayout:
    """2.6.32 (or, with ``btmap_2_6_39``, 2.6.39) x86-32 ``enum fixed_addresses``."""
    o = config.options
    e: list[tuple[str, int]] = [("FIX_HOLE", 1), ("FIX_VDSO", 1), ("FIX_DBGP_BASE", 1), ("FIX_EARLYCON_MEM_BASE", 1)]
    if o["X86_LOCAL_APIC"]:
        e.append(("FIX_APIC_BASE", 1))
    if o["X86_IO_APIC"]:
        e.append(("FIX_IO_APIC_BASE_0..FIX_IO_APIC_BASE_END", MAX_IO_APICS))
    if o["X86_VISWS_APIC"]:
        e += [("FIX_CO_CPU", 1), ("FIX_CO_APIC", 1), ("FIX_LI_PCIA", 1), ("FIX_LI_PCIB", 1)]
    if o["X86_F00F_BUG"]:
        e.append(("FIX_F00F_IDT", 1))
    if o["X86_CYCLONE_TIMER"]:
        e.append(("FIX_CYCLONE_TIMER", 1))
    # Under CONFIG_X86_32, not HIGHMEM: the slots exist in every x86-32 kernel (fixmap.h, 2.6.32 and 2.6.39).
    e.append(("FIX_KMAP_BEGIN..FIX_KMAP_END", slots_per_cpu * config.NR_CPUS))
    if o["PCI_MMCONFIG"]:
        e.append(("FIX_PCIE_MCFG", 1))
    if o["PARAVIRT"]:
        e.append(("FIX_PARAVIRT_BOOTMAP", 1))
    e += [("FIX_TEXT_POKE1", 1), ("FIX_TEXT_POKE0", 1)]
    total = 64 * 4

    def btmap(end: int) -> tuple[int, int]:
        if btmap_2_6_39:
            ptrs = 512 if o["X86_PAE"] else 1024
            first = end + total - (end & (total - 1)) if (end ^ (end + total - 1)) & -ptrs else end
        else:
            first = end + 256 - (end & 255)
        return first, first + total - 1

    return build_fixmap(e, btmap, [("FIX_WP_TEST", 1)])


def fixmap(config: KernelConfig, slots_per_cpu: int) -> FixmapLayout:
    return fixmap_2_6(config, slots_per_cpu)


_IRQ_TYPES = frozenset({"KM_IRQ0", "KM_IRQ1", "KM_BIO_SRC_IRQ", "KM_BIO_DST_IRQ", "KM_BOUNCE_READ", "KM_IRQ_PTE"})
_SOFTIRQ_OK = frozenset({"KM_IRQ0", "KM_IRQ1", "KM_SOFTIRQ0", "KM_SOFTIRQ1", "KM_SKB_SUNRPC_DATA",
                         "KM_SKB_DATA_SOFTIRQ", "KM_BOUNCE_READ"})
_IRQ_SLOTS = frozenset({"KM_IRQ0", "KM_IRQ1", "KM_BOUNCE_READ", "KM_BIO_SRC_IRQ", "KM_BIO_DST_IRQ", "KM_IRQ_PTE",
                        "KM_NMI", "KM_NMI_PTE"})


def debug_kmap_atomic(m: Machine, type: IntEnum) -> None:
    """2.6.32 ``debug_kmap_atomic``: which type is legal where; silent after 10 warnings.

    (No NMI context is modelled, so the NMI rows never apply.)
    """
    if not m.DEBUG_HIGHMEM:
        return
    count = m.__dict__.setdefault("_debug_kmap_warn_count", 10)
    if count < 0:
        return
    st = m.cpu_state[m.current.cpu]
    name = type.name
    hits: list[str] = []
    if st.local_irq_count + st.local_bh_count:
        if st.local_irq_count:
            if name not in _IRQ_TYPES:
                hits.append(f"{name} used in hard-IRQ context (only KM_IRQ0/1, KM_BIO_*_IRQ, KM_BOUNCE_READ, "
                            "KM_IRQ_PTE are allowed there)")
        elif not irqs_disabled(m) and name not in _SOFTIRQ_OK:
            hits.append(f"{name} used in softirq context with interrupts enabled")
    if name in _IRQ_SLOTS:
        if not irqs_disabled(m):
            hits.append(f"{name} is an interrupt slot but interrupts are enabled")
    elif name in ("KM_SOFTIRQ0", "KM_SOFTIRQ1"):
        if st.local_irq_count + st.local_bh_count == 0 and not irqs_disabled(m):
            hits.append(f"{name} is a softirq slot but neither softirqs nor interrupts are disabled")
    for h in hits:
        warn(m, "debug_kmap_atomic", f"WARNING in debug_kmap_atomic on CPU {m.current.cpu}: {h}")
        m.__dict__["_debug_kmap_warn_count"] -= 1


def kmap_atomic(m: Machine, page: Page, type: IntEnum | str | int) -> int:
    """2.6.32 ``kmap_atomic`` = ``kmap_atomic_prot(page, type, kmap_prot)``. Any context; disables
    preemption and page faults until ``kunmap_atomic``."""
    if m.sched_point is not None:
        m.sched_point("kmap_atomic")
    t = coerce_km_type(m.km_type, type)
    page = m.check_page(page)
    pagefault_disable(m)
    cur = m.current
    if page.pfn < m.highstart_pfn:
        vaddr = m.mem_map.get_virtual(page.pfn)
        if m.bus.active:
            m.bus.emit(KmapAtomic(cur.cpu, cur.name, t.name, -1, vaddr, page.pfn))
        return vaddr
    debug_kmap_atomic(m, t)
    idx = t + m.KM_TYPE_NR * cur.cpu
    return map_slot(m, idx, page.pfn, t.name, "kmap_atomic_prot", f"slot {t.name}")


def kunmap_atomic(m: Machine, kvaddr: int, type: IntEnum | str | int) -> None:
    """2.6.32 ``kunmap_atomic``: clear and flush the slot when the address is the type's slot;
    re-enable page faults and preemption. Any context."""
    if m.sched_point is not None:
        m.sched_point("kunmap_atomic")
    t = coerce_km_type(m.km_type, type)
    if isinstance(kvaddr, bool) or not isinstance(kvaddr, int) or not 0 <= kvaddr <= 0xFFFFFFFF:
        raise HighmemError(f"kunmap_atomic address {kvaddr!r} is not a 32-bit kernel address")
    cur = m.current
    cpu = cur.cpu
    vaddr = kvaddr & PAGE_MASK
    idx = t + m.KM_TYPE_NR * cpu
    cleared = False
    if not m.HIGHMEM:
        pass  # include/linux/highmem.h without HIGHMEM: kunmap_atomic is pagefault_enable() only
    elif vaddr == m.slot_vaddr(idx):
        # Any idx, as C computes it: an integer type outside the enum names another fixmap entry.
        _, frame, off = m.slot_pte(idx)
        old = m.pte_struct.unpack_from(frame, off)[0]
        m.pte_struct.pack_into(frame, off, 0)
        if m.bus.active and (m.bus.judges is None or PteClear in m.bus.judges):
            m.bus.emit(PteClear(cpu, cur.name, m.kmap_pte - idx * m.pte_size, vaddr, old))
        m.cpus[cpu].flush_tlb_one(vaddr)
        cleared = True
    elif m.DEBUG_HIGHMEM and (vaddr < m.PAGE_OFFSET or vaddr >= m.high_memory):
        raise _sched._bug(m, "kunmap_atomic", f"address {kvaddr:#010x} is neither the slot of {t.name} on CPU {cpu} "
                          "nor a lowmem address")
    if m.bus.active:
        m.bus.emit(KunmapAtomic(cpu, cur.name, t.name, idx if cleared else -1, kvaddr, cleared))
    pagefault_enable(m)


def kmap_atomic_to_page(m: Machine, ptr: int) -> Page:
    """``kmap_atomic_to_page(ptr)``: the page an atomic kmap address maps (or the lowmem page)."""
    vaddr = ptr & PAGE_MASK
    if vaddr < m.FIXADDR_START:
        if not m.PAGE_OFFSET <= vaddr < m.high_memory:
            raise HighmemError(f"address {ptr:#x} is neither a kmap slot nor lowmem: virt_to_page has no page")
        return m.page((vaddr - m.PAGE_OFFSET) >> PAGE_SHIFT)
    fix = (m.FIXADDR_TOP - vaddr) >> PAGE_SHIFT
    idx = fix - m.kmap_fixmap_base
    if not 0 <= idx < len(m.kmap_pte_at):
        raise _sched._bug(m, "kmap_atomic_to_page", f"address {ptr:#x} is a fixmap address but no kmap slot")
    frame, off = m.kmap_pte_at[idx]
    pte = m.pte_struct.unpack_from(frame, off)[0]
    return m.page((pte & m.geometry.addr_mask) >> PAGE_SHIFT)


def install(m: Machine) -> None:
    m.bind("kmap_atomic", kmap_atomic)
    m.bind("kunmap_atomic", kunmap_atomic)
    m.bind("kmap_atomic_to_page", kmap_atomic_to_page)
    m.preemptible = m.config.options["PREEMPT"]
    m.kmap_prot = kmap_prot_2_6(m)


PROFILE = Profile(
    name="linux-2.6", version="2.6.32", source="sndrzt/linux-2.6.32", options=OPTIONS, defaults=DEFAULTS,
    nr_cpus_default=8, max_nr_cpus=32, FIXADDR_TOP=FIXADDR_TOP, km_type_names=km_type_names, fixmap=fixmap,
    areas=areas_2_6, install=install, slots_per_cpu=lambda c: len(km_type_names(c)), preemptible_option=True,
    cpu_has_nx_default=True, kconfig=kconfig_2_6, module=__name__, notes=NOTES,
    extra={"vmalloc_start": lambda high_memory: high_memory + VMALLOC_OFFSET},
)
