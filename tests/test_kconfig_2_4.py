"""2.4.22 Kconfig corners: a Visual Workstation SMP kernel, an M386 build without invlpg, integer km types."""

from __future__ import annotations

from typing import Any

import pytest

import highmem
from highmem.errors import HighmemError
from highmem.events import TlbFlushAll, TlbFlushOne


def test_kconfig_2_4_visws_smp_has_local_apic_only() -> None:
    """2.4.22 arch/i386/config.in: CONFIG_VISWS defines X86_VISWS_APIC and X86_LOCAL_APIC; the SMP branch
    that defines X86_IO_APIC is the non-VISWS one, so SMP=y VISWS has no IO-APIC entries."""
    c = highmem.make_config(config={"SMP": True, "X86_VISWS_APIC": True})
    fix = highmem.Machine(c).fixmap
    assert (c["X86_LOCAL_APIC"], c["X86_IO_APIC"], fix.index("FIX_CO_CPU")) == (True, False, 1)


def test_kconfig_2_4_visws_smp_accepts_io_apic_n() -> None:
    """SMP=y, X86_VISWS_APIC=y, X86_IO_APIC=n is a configuration 2.4.22's Kconfig produces: accepted."""
    c = highmem.make_config(config={"SMP": True, "X86_VISWS_APIC": True, "X86_IO_APIC": False})
    assert c["X86_IO_APIC"] is False


def test_kconfig_2_4_smp_io_apic_n_without_visws_refused() -> None:
    """Outside a VISWS an SMP kernel always has the IO-APIC: one sentence."""
    with pytest.raises(HighmemError) as e:
        highmem.make_config(config={"SMP": True, "X86_IO_APIC": False})
    assert str(e.value) == ("config X86_IO_APIC=n conflicts with SMP=y: an SMP kernel always has it; "
                            "set SMP=n too")


def _flushes(m: highmem.Machine) -> list[Any]:
    out: list[Any] = []
    m.subscribe(lambda e: out.append(e) if isinstance(e, TlbFlushOne | TlbFlushAll) else None)
    return out


def test_kconfig_2_4_no_invlpg_flushes_with_cr3() -> None:
    """2.4.22 include/asm-i386/pgtable.h: without CONFIG_X86_INVLPG, on a CPU without PGE, __flush_tlb_one(addr)
    is __flush_tlb(), a CR3 reload: kmap_atomic's flush drops every non-global TLB entry of the CPU."""
    m = highmem.boot(config={"X86_INVLPG": False, "DEBUG_HIGHMEM": True}, cpu_has_pge=False)
    flushes = _flushes(m)
    v = m.kmap_atomic(m.alloc_highpage(), "KM_USER0")
    m.kunmap_atomic(v, "KM_USER0")
    assert [(type(f).__name__, f.cpu, f.include_global) for f in flushes] == [
        ("TlbFlushAll", 0, False), ("TlbFlushAll", 0, False)]


def test_kconfig_2_4_no_invlpg_pge_cpu_still_invlpg() -> None:
    """2.4.22 include/asm-i386/pgtable.h: the M386 __flush_tlb_one tests cpu_has_pge and uses invlpg when set."""
    m = highmem.boot(config={"X86_INVLPG": False}, cpu_has_pge=True)
    flushes = _flushes(m)
    v = m.kmap_atomic(m.alloc_highpage(), "KM_USER0")
    assert flushes == [TlbFlushOne(0, "init", v, False)]


def test_kconfig_2_4_no_invlpg_implies_f00f_entry() -> None:
    """2.4.22 arch/i386/config.in: the M386 choice (no X86_INVLPG) defines X86_F00F_WORKS_OK=n: FIX_F00F exists."""
    c = highmem.make_config(config={"X86_INVLPG": False})
    assert c["X86_F00F_WORKS_OK"] is False


def test_kconfig_2_4_integer_type_past_the_enum_is_next_cpus_slot() -> None:
    """2.4.22 include/asm-i386/highmem.h: idx = type + KM_TYPE_NR * cpu, unchecked: type 8 on CPU 0 is
    KM_BOUNCE_READ's slot of CPU 1; kmap_slot reports the same address."""
    m = highmem.boot()
    v = m.kmap_atomic(m.alloc_highpage(), 8)
    assert (v, m.kmap_slot(0, 8)[1]) == (m.kmap_vaddr[8], m.kmap_vaddr[8])


def test_kconfig_2_4_integer_type_past_fix_kmap_end_is_a_boot_entry() -> None:
    """Past the last CPU's slots the index reaches the boot-time entries (FIX_BTMAP_END, ...), as in C."""
    m = highmem.boot(nr_cpus=1, cpus=1, config={"SMP": False})
    v = m.kmap_atomic(m.alloc_highpage(), 9)
    fix = m.FIX_KMAP_BEGIN + 9
    assert (v, m.fixmap.name_of(fix)) == (m.fixmap.fix_to_virt(fix), "FIX_BTMAP_END+1")


def test_kconfig_2_4_integer_type_outside_the_fixmap_refused() -> None:
    """An index past __end_of_fixed_addresses is not a fixmap PTE: one sentence, nothing written."""
    m = highmem.boot(nr_cpus=1, cpus=1, config={"SMP": False})
    with pytest.raises(HighmemError) as e:
        m.kmap_atomic(m.alloc_highpage(), 100)
    assert str(e.value) == ("km type 100 on CPU 0 gives fixmap index 100, outside the fixmap (0 to 23): "
                            "the PTE kmap_pte - 100 is not a fixmap entry")
