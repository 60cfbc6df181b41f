"""HIGHMEM=n on every profile: what the kernels do without CONFIG_HIGHMEM, op for op."""

from __future__ import annotations

import pytest

import highmem
from highmem.errors import HighmemError

LATER = ("linux-2.6", "linux-2.6.37", "linux-5.11")


def test_highmem_off_2_4_kunmap_atomic_is_empty_even_with_debug() -> None:
    """2.4.22 include/linux/highmem.h: without CONFIG_HIGHMEM kunmap_atomic is an empty macro, so even
    DEBUG_HIGHMEM=y neither checks nor clears (the model used to raise IndexError here)."""
    m = highmem.boot(config={"HIGHMEM": False, "DEBUG_HIGHMEM": True})
    page = m.page(0x1000)
    v = m.kmap_atomic(page, "KM_USER0")
    m.kunmap_atomic(v, "KM_USER0")
    m.kunmap_atomic(0xFFFFF000, "KM_USER1")
    assert v == 0xC1000000


@pytest.mark.parametrize(("profile", "begin", "end"), [("linux-2.6", 69, 220), ("linux-2.6.37", 69, 228),
                                                        ("linux-5.11", 68, 195)])
def test_highmem_off_fix_kmap_range_exists(profile: str, begin: int, end: int) -> None:
    """2.6.39 arch/x86/include/asm/fixmap.h puts FIX_KMAP_BEGIN..END under CONFIG_X86_32, 5.15 under
    CONFIG_KMAP_LOCAL (selected by X86_32): the range exists without HIGHMEM (8 CPUs here)."""
    m = highmem.boot(profile, config={"HIGHMEM": False})
    assert (m.fixmap.FIX_KMAP_BEGIN, m.fixmap.FIX_KMAP_END) == (begin, end)


@pytest.mark.parametrize(("profile", "fixaddr_start", "vmalloc_end", "max_low_pfn"), [
    ("linux-2.6.37", 0xFFF17000, 0xFFF15000, 229141), ("linux-5.11", 0xFFF3A000, 0xFF3FE000, 226302)])
def test_highmem_off_areas_move_with_the_kmap_range(profile: str, fixaddr_start: int, vmalloc_end: int,
                                                    max_low_pfn: int) -> None:
    """2.6.39 pgtable_32_types.h / 5.15 pgtable_32_areas.h without HIGHMEM: VMALLOC_END is FIXADDR_START (resp.
    LDT_BASE_ADDR) minus 2 pages, MAXMEM = VMALLOC_END - PAGE_OFFSET - 128 MiB, all below the kmap range."""
    m = highmem.boot(profile, config={"HIGHMEM": False}, memory="2G")
    assert (m.FIXADDR_START, m.VMALLOC_END, m.MAXMEM, m.max_low_pfn) == (
        fixaddr_start, vmalloc_end, vmalloc_end - 0xC0000000 - (128 << 20), max_low_pfn)


@pytest.mark.parametrize("profile", LATER)
def test_highmem_off_kunmap_atomic_only_enables_pagefaults(profile: str) -> None:
    """2.6.39 include/linux/highmem.h / 5.15 highmem-internal.h without HIGHMEM: kmap_atomic is page_address
    plus the counts, kunmap_atomic drops the counts and touches no PTE, even for a kmap slot's address."""
    m = highmem.boot(profile, config={"HIGHMEM": False})
    before = m.phys.read(m.kmap_pte & ~0xFFF, 4096)
    v = m.kmap_atomic(m.page(0x1000), "KM_USER0")
    m.kunmap_atomic(v, "KM_USER0")
    m.kunmap_atomic(m.kmap_vaddr[0], "KM_USER0")
    assert (v, m.current.data["preempt_count"], m.phys.read(m.kmap_pte & ~0xFFF, 4096) == before) == (
        0xC1000000, -1, True)


def test_highmem_off_5_15_kmap_local_page_is_page_address_even_forced() -> None:
    """5.15 include/linux/highmem-internal.h: without HIGHMEM kmap_local_page is page_address, whatever
    DEBUG_KMAP_LOCAL_FORCE_MAP says, and kunmap_local does nothing."""
    m = highmem.boot("linux-5.11", config={"HIGHMEM": False, "DEBUG_KMAP_LOCAL_FORCE_MAP": True})
    v = m.kmap_local_page(m.page(0x1000))
    m.kunmap_local(v)
    assert (v, m.current.data.get("kmap_ctrl")) == (0xC1000000, None)


@pytest.mark.parametrize("profile", LATER)
def test_highmem_off_debug_highmem_refused(profile: str) -> None:
    """2.6.39 and 5.15 lib/Kconfig.debug: DEBUG_HIGHMEM depends on HIGHMEM; asking for both is one sentence."""
    with pytest.raises(HighmemError) as e:
        highmem.boot(profile, config={"HIGHMEM": False, "DEBUG_HIGHMEM": True})
    assert str(e.value) == "config DEBUG_HIGHMEM=y needs HIGHMEM=y: Kconfig makes DEBUG_HIGHMEM depend on HIGHMEM"
