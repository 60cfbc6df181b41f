"""Pieces the 2.6+ profiles share: preempt counts, WARN, and the 2.6-era address-space areas."""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.events import KmapAtomic, SetPte, Warn
from highmem.hw.pagetable import __PAGE_KERNEL, _PAGE_GLOBAL, _PAGE_NX
from highmem.kernel.config import KernelConfig
from highmem.kernel.profile import FixmapLayout
from highmem.kernel.sched import _bug

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.machine import Machine

__all__ = ["PAGE_OFFSET", "VMALLOC_RESERVE", "FIXADDR_TOP", "with_fences", "preempt_count", "preempt_disable",
           "preempt_enable", "pagefault_disable", "pagefault_enable", "warn", "warn_once", "irqs_disabled",
           "areas_2_6", "VMALLOC_OFFSET", "KM_2_6_32", "map_slot", "smp_apics",
           "kconfig_2_6", "pagefault_disabled_inc", "pagefault_disabled_dec", "kmap_prot_2_6"]

VMALLOC_OFFSET = 8 << 20
VMALLOC_RESERVE = 128 << 20
PAGE_OFFSET = 0xC0000000
FIXADDR_TOP = 0xFFFFF000

#: include/asm-generic/kmap_types.h (2.6.32), in enum order.
KM_2_6_32 = ("KM_BOUNCE_READ", "KM_SKB_SUNRPC_DATA", "KM_SKB_DATA_SOFTIRQ", "KM_USER0", "KM_USER1",
             "KM_BIO_SRC_IRQ", "KM_BIO_DST_IRQ", "KM_PTE0", "KM_PTE1", "KM_IRQ0", "KM_IRQ1", "KM_SOFTIRQ0",
             "KM_SOFTIRQ1", "KM_SYNC_ICACHE", "KM_SYNC_DCACHE", "KM_UML_USERCOPY", "KM_IRQ_PTE", "KM_NMI",
             "KM_NMI_PTE")


def smp_apics(opts: dict[str, bool], given: dict[str, bool], io_apic: bool = True) -> None:
    """An SMP kernel has X86_LOCAL_APIC (and X86_IO_APIC when ``io_apic``): set them, refuse ``=n``.
    Without SMP each is as given (default n): the uniprocessor APIC options."""
    smp = opts["SMP"]
    for apic, forced in (("X86_LOCAL_APIC", True), ("X86_IO_APIC", io_apic)):
        if smp and forced and given.get(apic) is False:
            raise HighmemError(f"config {apic}=n conflicts with SMP=y: an SMP kernel always has it; set SMP=n too")
        opts[apic] = given.get(apic, smp and forced)


def kconfig_2_6(opts: dict[str, bool], given: dict[str, bool]) -> None:
    """The Kconfig rules of the x86-32 2.6+ profiles: SMP selects both APICs (arch/x86/Kconfig);
    DEBUG_HIGHMEM depends on HIGHMEM and DEBUG_PREEMPT on PREEMPT (lib/Kconfig.debug, 2.6.39 and 5.15)."""
    smp_apics(opts, given)
    if opts.get("DEBUG_HIGHMEM") and not opts["HIGHMEM"]:
        raise HighmemError("config DEBUG_HIGHMEM=y needs HIGHMEM=y: Kconfig makes DEBUG_HIGHMEM depend on HIGHMEM")
    if opts.get("DEBUG_PREEMPT") and not opts.get("PREEMPT"):
        raise HighmemError("config DEBUG_PREEMPT=y needs PREEMPT=y: Kconfig makes DEBUG_PREEMPT depend on a "
                           "preemptible kernel")


def with_fences(names: tuple[str, ...]) -> tuple[str, ...]:
    """The enum with ``__KM_FENCE_n`` before every member and before KM_TYPE_NR (x86-32 DEBUG_HIGHMEM)."""
    out: list[str] = []
    for i, n in enumerate(names):
        out += [f"__KM_FENCE_{i}", n]
    out.append(f"__KM_FENCE_{len(names)}")
    return tuple(out)


def preempt_count(m: Machine) -> int:
    """The current context's preempt count (2.6+: per thread_info)."""
    return int(m.current.data.get("preempt_count", 0))


def preempt_disable(m: Machine) -> None:
    m.current.data["preempt_count"] = preempt_count(m) + 1
    # Whether the scheduler may preempt depends on the count: the engine's options change.
    if m.engine is not None:
        m.engine._ver += 1


def preempt_enable(m: Machine) -> None:
    """``preempt_enable``: the count drops by one.  An unbalanced enable (the count is already 0) takes
    it to -1, as ``preempt_count_dec`` does; with DEBUG_PREEMPT ``preempt_count_sub`` WARNs and leaves
    the count alone instead (kernel/sched/core.c, 5.15; ``sub_preempt_count``, kernel/sched.c, 2.6.39)."""
    n = preempt_count(m)
    if n <= 0 and m.config.options.get("DEBUG_PREEMPT"):
        warn(m, "preempt_enable", f"WARNING in preempt_enable on CPU {m.current.cpu}: preempt count of "
             f"{m.current.name} would go negative (an unmap without a map?)")
        return
    m.current.data["preempt_count"] = n - 1
    if m.engine is not None:
        m.engine._ver += 1


#: pagefault_disable raises the preempt count (include/linux/uaccess.h, 2.6.32 and 2.6.39): preemption off too.
pagefault_disable = preempt_disable
pagefault_enable = preempt_enable


def pagefault_disabled_inc(m: Machine) -> None:
    """5.15 ``pagefault_disable``: ``current->pagefault_disabled`` + 1, a counter of its own
    (include/linux/uaccess.h); the preempt count is untouched."""
    d = m.current.data
    d["pagefault_disabled"] = int(d.get("pagefault_disabled", 0)) + 1


def pagefault_disabled_dec(m: Machine) -> None:
    """5.15 ``pagefault_enable``: ``current->pagefault_disabled`` - 1, unchecked (it may go negative)."""
    d = m.current.data
    d["pagefault_disabled"] = int(d.get("pagefault_disabled", 0)) - 1


def kmap_prot_2_6(m: Machine) -> int:
    """``kmap_prot = PAGE_KERNEL`` filtered by ``__supported_pte_mask``: _PAGE_GLOBAL with PGE, _PAGE_NX
    (bit 63) on a PAE kernel whose CPU has NX (arch/x86/mm/setup_nx.c ``x86_configure_nx``, 2.6.39/5.15)."""
    prot = __PAGE_KERNEL | (_PAGE_GLOBAL if m.config.cpu_has_pge else 0)
    if m.config.options["X86_PAE"] and m.config.cpu_has_nx:
        prot |= _PAGE_NX
    return prot


def irqs_disabled(m: Machine) -> bool:
    return not m.cpu_state[m.current.cpu].irq_enabled


def warn(m: Machine, function: str, message: str) -> None:
    """``WARN_ON(1)``: a non-fatal kernel warning, as an event."""
    if m.bus.active:
        cur = m.current
        m.bus.emit(Warn(cur.cpu, cur.name, function, message))


def warn_once(m: Machine, site: str, function: str, message: str) -> None:
    """``WARN_ON_ONCE``: only the first hit of ``site`` on this machine warns."""
    seen: set[str] = m.__dict__.setdefault("_warned_once", set())
    if site in seen:
        return
    seen.add(site)
    warn(m, function, message)


def areas_2_6(config: KernelConfig, fix: FixmapLayout, last_pkmap: int) -> tuple[int, int, int]:
    """PKMAP_BASE, VMALLOC_END, MAXMEM as 2.6.32 arch/x86/include/asm/pgtable_32_types.h computes them."""
    pmd_mask = ~((1 << (21 if config.options["X86_PAE"] else 22)) - 1) & 0xFFFFFFFF
    boot_start = FIXADDR_TOP - (fix.end_of_fixed << 12)
    pkmap_base = (boot_start - 4096 * (last_pkmap + 1)) & pmd_mask
    fixaddr_start = FIXADDR_TOP - (fix.end_of_permanent << 12)
    vmalloc_end = (pkmap_base if config.options["HIGHMEM"] else fixaddr_start) - 2 * 4096
    return pkmap_base, vmalloc_end, vmalloc_end - PAGE_OFFSET - VMALLOC_RESERVE


def map_slot(m: Machine, idx: int, pfn: int, tname: str, bug_function: str, slot_name: str) -> int:
    """Map frame ``pfn`` in kmap slot ``idx`` of this CPU, as every 2.6+ generation does: BUG
    (unconditionally) if the slot PTE is not none, then set it, with no TLB flush (the slot was
    flushed when it was cleared).  Returns the slot's address."""
    cur = m.current
    vaddr, frame, off = m.slot_pte(idx)
    old = m.pte_struct.unpack_from(frame, off)[0]
    if old != 0:
        raise _bug(m, bug_function, f"{slot_name} of CPU {cur.cpu} (fixmap {m.kmap_fixmap_base + idx}, "
                   f"{vaddr:#010x}) is already mapped")
    new = (pfn << 12) | m.kmap_prot
    m.pte_struct.pack_into(frame, off, new)
    if m.bus.active:
        if m.bus.judges is None or SetPte in m.bus.judges:
            m.bus.emit(SetPte(cur.cpu, cur.name, m.kmap_pte - idx * m.pte_size, vaddr, old, new))
        m.bus.emit(KmapAtomic(cur.cpu, cur.name, tname, idx, vaddr, pfn))
    return vaddr
