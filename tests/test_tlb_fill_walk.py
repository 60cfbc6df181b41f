"""A TLB fill translates exactly as the page-table walker does (CPU._fill inlines the two-level walk)."""

from __future__ import annotations

import random

import pytest

from highmem.errors import PageFault
from highmem.hw.pagetable import walk
from highmem.kernel.machine import Machine
from highmem.profiles import PROFILE_NAMES, make_config


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("pae", [False, True])
@pytest.mark.parametrize("pse", [False, True])
def test_fill_reaches_the_frame_the_walker_finds(profile: str, pae: bool, pse: bool) -> None:
    m = Machine(make_config(profile, cpus=2, memory="2G", pae=pae, cpu_has_pse=pse))
    # Map a few kmap slots so that present 4 KiB PTEs exist beside the direct map and holes.
    page = m.alloc_highpage()
    with m.process(cpu=1):
        for t in list(m.km_type)[:3]:
            m.kmap_atomic(page, t)
    rng = random.Random(7)
    vaddrs = [v for v in m.kmap_vaddr[:64]] + [m.PAGE_OFFSET + (i << 22) + rng.randrange(1 << 22) for i in range(8)]
    vaddrs += [rng.randrange(1 << 32) for _ in range(200)]
    cpu = m.cpus[1]
    for vaddr in vaddrs:
        w = walk(m.phys, m.geometry, m.swapper_pg_dir, vaddr)
        cpu.tlb.clear()
        try:
            pfn, _entry = cpu._fill(vaddr, False)
        except PageFault as e:
            assert w.pfn < 0 and e.level == w.level, hex(vaddr)
        else:
            assert w.pfn >= 0 and pfn == w.pfn, hex(vaddr)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("pae", [False, True])
@pytest.mark.parametrize("pse", [False, True])
def test_kernel_tables_name_the_entries_the_walker_reads(profile: str, pae: bool, pse: bool) -> None:
    """kernel_tables() (DPOR's map of the page tables) agrees with walk(): a walk that stops in a
    directory stops at the last entry dir_entries() names (a large one when it maps a PSE page), and
    one that reaches a PTE reads it in a page of PTEs whose first entry maps that page's 4 MiB/2 MiB."""
    from highmem.hw.pagetable import kernel_tables

    m = Machine(make_config(profile, cpus=2, memory="2G", pae=pae, cpu_has_pse=pse))
    t = kernel_tables(m.phys, m.geometry, m.swapper_pg_dir)
    rng = random.Random(3)
    vaddrs = list(m.kmap_vaddr[:16]) + [m.PAGE_OFFSET + rng.randrange(1 << 29) for _ in range(50)]
    vaddrs += [rng.randrange(1 << 32) for _ in range(100)]
    for vaddr in vaddrs:
        w = walk(m.phys, m.geometry, m.swapper_pg_dir, vaddr)
        dirs = t.dir_entries(vaddr)
        if w.level in ("pgd", "pmd"):
            assert w.ptep == dirs[-1], hex(vaddr)
            assert (w.pfn >= 0 and w.level == "pmd") == (dirs[-1] in t.large), hex(vaddr)
        else:
            base = t.pte_pages[w.ptep >> 12]
            assert base + (w.ptep & 0xFFF) // m.geometry.entry_size == vaddr >> 12, hex(vaddr)
            assert dirs[-1] not in t.large
