"""enum fixed_addresses of 2.4.22 (spec 1.3, worked numbers of 1.4) and the kmap slot addresses."""

from __future__ import annotations

import pytest

import highmem
from highmem.errors import HighmemError
from highmem.profiles import PROFILE_NAMES, boot

FIXADDR_TOP = 0xFFFFE000
PAGE = 0x1000
PAGE_KERNEL_GLOBAL = 0x063 | 0x100
KM_2_4_22 = ["KM_BOUNCE_READ", "KM_SKB_SUNRPC_DATA", "KM_SKB_DATA_SOFTIRQ", "KM_USER0", "KM_USER1",
             "KM_BH_IRQ", "KM_SOFTIRQ0", "KM_SOFTIRQ1"]
KM_BOOK = KM_2_4_22[:6]

UP = {"config": {"SMP": False}}
UP_F00F = {"config": {"SMP": False, "X86_F00F_WORKS_OK": False}}
SMP32 = {}
CONF_A = {"nr_cpus": 4, "cpus": 4}
CONF_B = {"nr_cpus": 4, "cpus": 4, "km_types": "book"}

# Spec 1.4: FIX_KMAP_BEGIN, FIX_KMAP_END, __end_of_permanent, FIXADDR_START, BTMAP END, BTMAP BEGIN, __end_of_fixed
TABLE_1_4 = [
    ("up", UP, (0, 7, 8, 0xFFFF6000, 8, 23, 24)),
    ("up-f00f", UP_F00F, (1, 8, 9, 0xFFFF5000, 9, 24, 25)),
    ("smp32", SMP32, (9, 264, 265, 0xFFEF5000, 265, 280, 281)),
    ("a", CONF_A, (9, 40, 41, 0xFFFD5000, 41, 56, 57)),
    ("b", CONF_B, (9, 32, 33, 0xFFFDD000, 33, 48, 49)),
]


def _entry(machine: highmem.Machine, phys: int) -> int:
    """A page-table entry read straight from physical memory."""
    return int.from_bytes(machine.phys.read(phys, machine.pte_size), "little")


@pytest.mark.parametrize(("kwargs", "expected"), [(k, e) for _, k, e in TABLE_1_4], ids=[n for n, _, _ in TABLE_1_4])
def test_fixmap_matches_spec_table(kwargs: dict, expected: tuple) -> None:
    """The fixmap indices and FIXADDR_START of each configuration of spec 1.4 are exact."""
    fix = highmem.boot(**kwargs).fixmap
    got = (fix.FIX_KMAP_BEGIN, fix.FIX_KMAP_END, fix.end_of_permanent, fix.FIXADDR_START,
           fix.FIX_BTMAP_END, fix.FIX_BTMAP_BEGIN, fix.end_of_fixed)
    assert got == expected
    assert fix.FIXADDR_TOP == FIXADDR_TOP


@pytest.mark.parametrize(("kwargs", "expected"), [(k, e) for _, k, e in TABLE_1_4], ids=[n for n, _, _ in TABLE_1_4])
def test_fixmap_named_indices_match_spec_table(kwargs: dict, expected: tuple) -> None:
    """Fixmap.index() resolves the kernel's enumerator names to the spec 1.4 values."""
    fix = highmem.boot(**kwargs).fixmap
    names = ("FIX_KMAP_BEGIN", "FIX_KMAP_END", "__end_of_permanent_fixed_addresses", "FIX_BTMAP_END",
             "FIX_BTMAP_BEGIN", "__end_of_fixed_addresses")
    want = expected[:3] + expected[4:]
    assert tuple(fix.index(n) for n in names) == want


def test_fixmap_up_slot_addresses() -> None:
    """UP without F00F: slot t is at 0xffffe000 - t pages (KM_BOUNCE_READ .. KM_SOFTIRQ1 0xffff7000)."""
    m = highmem.boot(**UP)
    got = [m.kmap_slot(0, name) for name in KM_2_4_22]
    assert got == [(t, FIXADDR_TOP - t * PAGE) for t in range(8)]
    assert got[0][1] == 0xFFFFE000 and got[-1][1] == 0xFFFF7000


def test_fixmap_up_f00f_shifts_slots_one_page_down() -> None:
    """UP with the FIX_F00F entry: FIX_F00F is 0 and every slot moves down one page."""
    m = highmem.boot(**UP_F00F)
    assert m.fixmap.index("FIX_F00F") == 0
    got = [m.kmap_slot(0, name) for name in KM_2_4_22]
    assert got == [(1 + t, 0xFFFFD000 - t * PAGE) for t in range(8)]


def test_fixmap_smp32_every_slot_address() -> None:
    """SMP NR_CPUS=32: cpu c, type t is at 0xffffe000 - (9 + t + 8c) pages, for all 32 CPUs."""
    m = highmem.boot()
    assert m.fixmap.index("FIX_APIC_BASE") == 0
    assert (m.fixmap.index("FIX_IO_APIC_BASE_0"), m.fixmap.index("FIX_IO_APIC_BASE_END")) == (1, 8)
    for c in range(32):
        for t, name in enumerate(KM_2_4_22):
            assert m.kmap_slot(c, name) == (9 + t + 8 * c, FIXADDR_TOP - (9 + t + 8 * c) * PAGE)
    assert m.kmap_slot(0, "KM_BOUNCE_READ")[1] == 0xFFFF5000
    assert m.kmap_slot(1, "KM_USER0")[1] == 0xFFFEA000
    assert m.kmap_slot(31, "KM_SOFTIRQ1")[1] == 0xFFEF6000


def test_fixmap_smp32_cpu31_kmap_atomic_returns_spec_address() -> None:
    """With 32 online CPUs, kmap_atomic on CPU 31 with KM_SOFTIRQ1 returns 0xffef6000."""
    m = highmem.boot(cpus=32)
    page = m.alloc_highpage()
    with m.process(cpu=31):
        assert m.kmap_atomic(page, "KM_SOFTIRQ1") == 0xFFEF6000
    assert m.kmap_vaddr[7 + 8 * 31] == 0xFFEF6000


def test_fixmap_config_a_slot_range() -> None:
    """(a) NR_CPUS=4: cpu 0 KM_BOUNCE_READ 0xffff5000 down to cpu 3 KM_SOFTIRQ1 0xfffd6000."""
    m = highmem.boot(**CONF_A)
    assert m.kmap_slot(0, "KM_BOUNCE_READ") == (9, 0xFFFF5000)
    assert m.kmap_slot(3, "KM_USER0") == (36, 0xFFFDA000)
    assert m.kmap_slot(3, "KM_SOFTIRQ1") == (40, 0xFFFD6000)
    assert len(m.kmap_vaddr) == 32
    assert m.kmap_vaddr == [FIXADDR_TOP - (9 + i) * PAGE for i in range(32)]


def test_fixmap_config_b_book_types_slots() -> None:
    """(b) book types: cpu 3 KM_USER0 is fixmap 30 at 0xfffe0000; the last slot, cpu 3 KM_BH_IRQ, 0xfffde000."""
    m = highmem.boot(**CONF_B)
    assert m.KM_TYPE_NR == 6
    assert m.kmap_slot(3, "KM_USER0") == (30, 0xFFFE0000)
    assert m.kmap_slot(3, "KM_BH_IRQ") == (32, 0xFFFDE000)
    for c in range(4):
        for t, name in enumerate(KM_BOOK):
            assert m.kmap_slot(c, name) == (9 + t + 6 * c, FIXADDR_TOP - (9 + t + 6 * c) * PAGE)


@pytest.mark.parametrize(("pae", "esz", "pgd", "pmd", "pte"), [(False, 4, 1023, None, 986), (True, 8, 3, 511, 474)],
                         ids=["non-pae", "pae"])
def test_fixmap_config_a_cpu3_user0_pte_geometry(pae: bool, esz: int, pgd: int, pmd: int | None, pte: int) -> None:
    """(a) cpu 3 KM_USER0: its PTE is kmap_pte - 27 entries and sits at the spec's pgd/pmd/pte indices."""
    m = highmem.boot(pae=pae, **CONF_A)
    vaddr = 0xFFFDA000
    ptrs_per_pte = 512 if pae else 1024
    assert (vaddr >> 12) & (ptrs_per_pte - 1) == pte
    assert vaddr >> (30 if pae else 22) == pgd
    addr_mask = (((1 << 36) - 1) if pae else 0xFFFFFFFF) & ~0xFFF
    # Walk swapper_pg_dir by hand.
    entry = _entry(m, m.swapper_pg_dir + pgd * esz)
    assert entry & 1
    if pae:
        assert (vaddr >> 21) & 511 == pmd
        entry = _entry(m, (entry & addr_mask) + pmd * esz)
        assert entry & 1
    ptep = (entry & addr_mask) + pte * esz
    assert m.kmap_pte - 27 * esz == ptep
    assert _entry(m, ptep) == 0
    page = m.alloc_highpage()
    with m.process(cpu=3):
        assert m.kmap_atomic(page, "KM_USER0") == vaddr
    assert _entry(m, ptep) == (page.pfn << 12) | PAGE_KERNEL_GLOBAL


@pytest.mark.parametrize(("pae", "esz", "pte"), [(False, 4, 992), (True, 8, 480)], ids=["non-pae", "pae"])
def test_fixmap_config_b_cpu3_user0_pte_index(pae: bool, esz: int, pte: int) -> None:
    """(b) cpu 3 KM_USER0 (idx 21): its PTE is kmap_pte - 21 entries, at pte index 992 / 480 (PAE)."""
    m = highmem.boot(pae=pae, **CONF_B)
    ptep = m.kmap_pte - 21 * esz
    assert (ptep & 0xFFF) == pte * esz
    page = m.alloc_highpage()
    with m.process(cpu=3):
        assert m.kmap_atomic(page, "KM_USER0") == 0xFFFE0000
    assert _entry(m, ptep) == (page.pfn << 12) | PAGE_KERNEL_GLOBAL


def test_fixmap_fix_to_virt_last_valid_index() -> None:
    """fix_to_virt of __end_of_fixed_addresses - 1 (FIX_BTMAP_BEGIN) is FIXADDR_TOP minus that many pages."""
    fix = highmem.boot().fixmap
    assert fix.fix_to_virt(280) == FIXADDR_TOP - 280 * PAGE
    assert fix.fix_to_virt(0) == FIXADDR_TOP


@pytest.mark.parametrize("idx", [281, 1000, -1])
def test_fixmap_fix_to_virt_nonexistent_index_raises(idx: int) -> None:
    """fix_to_virt of an index outside 0..__end_of_fixed_addresses-1 is an error naming the index."""
    fix = highmem.boot().fixmap
    with pytest.raises(HighmemError) as exc:
        fix.fix_to_virt(idx)
    assert str(exc.value) == (
        f"fixmap index {idx} does not exist: __end_of_fixed_addresses is 281 "
        "(the kernel fails to link: __this_fixmap_does_not_exist)"
    )


def test_fixmap_acpi_boot_adds_four_entries_after_kmap() -> None:
    """ACPI_BOOT: FIX_ACPI_BEGIN..END (4 entries) follow FIX_KMAP_END; the permanent area grows by 4 pages."""
    fix = highmem.boot(config={"ACPI_BOOT": True}).fixmap
    assert (fix.FIX_KMAP_BEGIN, fix.FIX_KMAP_END) == (9, 264)
    assert (fix.index("FIX_ACPI_BEGIN"), fix.index("FIX_ACPI_END")) == (265, 268)
    assert fix.end_of_permanent == 269
    assert fix.FIXADDR_START == FIXADDR_TOP - 269 * PAGE
    assert (fix.FIX_BTMAP_END, fix.FIX_BTMAP_BEGIN, fix.end_of_fixed) == (269, 284, 285)


def test_fixmap_clustered_apic_has_32_io_apic_entries() -> None:
    """X86_CLUSTERED_APIC: MAX_IO_APICS is 32, so IO-APICs are 1..32 and FIX_KMAP_BEGIN is 33."""
    m = highmem.boot(config={"X86_CLUSTERED_APIC": True})
    fix = m.fixmap
    assert (fix.index("FIX_IO_APIC_BASE_0"), fix.index("FIX_IO_APIC_BASE_END")) == (1, 32)
    assert (fix.FIX_KMAP_BEGIN, fix.FIX_KMAP_END, fix.end_of_permanent) == (33, 288, 289)
    assert m.kmap_slot(1, "KM_USER0") == (33 + 11, FIXADDR_TOP - 44 * PAGE)


def test_fixmap_visws_adds_four_entries_before_kmap() -> None:
    """X86_VISWS_APIC: FIX_CO_CPU, FIX_CO_APIC, FIX_LI_PCIA, FIX_LI_PCIB are 9..12; kmap starts at 13."""
    fix = highmem.boot(config={"X86_VISWS_APIC": True, "X86_IO_APIC": True}).fixmap
    names = ("FIX_CO_CPU", "FIX_CO_APIC", "FIX_LI_PCIA", "FIX_LI_PCIB")
    assert [fix.index(n) for n in names] == [9, 10, 11, 12]
    assert (fix.FIX_KMAP_BEGIN, fix.FIX_KMAP_END, fix.end_of_permanent) == (13, 268, 269)


def test_fixmap_summit_adds_cyclone_timer() -> None:
    """X86_SUMMIT: FIX_CYCLONE_TIMER is 9 and kmap starts at 10."""
    fix = highmem.boot(config={"X86_SUMMIT": True}).fixmap
    assert fix.index("FIX_CYCLONE_TIMER") == 9
    assert (fix.FIX_KMAP_BEGIN, fix.FIX_KMAP_END, fix.end_of_permanent) == (10, 265, 266)


def test_fixmap_all_options_in_kernel_order() -> None:
    """Every optional entry at once lands in the enum order of spec 1.3."""
    fix = highmem.boot(config={"X86_CLUSTERED_APIC": True, "X86_VISWS_APIC": True, "X86_IO_APIC": True,
                               "X86_F00F_WORKS_OK": False,
                               "X86_SUMMIT": True, "ACPI_BOOT": True}).fixmap
    # APIC 0, IO-APIC 1..32, VISWS 33..36, F00F 37, CYCLONE 38, KMAP 39..294, ACPI 295..298
    assert fix.index("FIX_APIC_BASE") == 0
    assert fix.index("FIX_IO_APIC_BASE_END") == 32
    assert fix.index("FIX_CO_CPU") == 33 and fix.index("FIX_LI_PCIB") == 36
    assert fix.index("FIX_F00F") == 37
    assert fix.index("FIX_CYCLONE_TIMER") == 38
    assert (fix.FIX_KMAP_BEGIN, fix.FIX_KMAP_END) == (39, 294)
    assert (fix.index("FIX_ACPI_BEGIN"), fix.index("FIX_ACPI_END")) == (295, 298)
    assert (fix.end_of_permanent, fix.FIX_BTMAP_BEGIN, fix.end_of_fixed) == (299, 314, 315)


def test_fixmap_unknown_entry_name_raises() -> None:
    """Asking for an enumerator absent from this configuration is an error naming it."""
    fix = highmem.boot().fixmap
    with pytest.raises(HighmemError, match=r"^fixmap entry 'FIX_F00F' does not exist in this configuration$"):
        fix.index("FIX_F00F")


def test_fixmap_without_highmem_has_no_kmap_slots() -> None:
    """HIGHMEM=n: no FIX_KMAP range, FIXADDR_START covers only the APICs, kmap_slot is an error."""
    m = highmem.boot(config={"HIGHMEM": False})
    assert (m.fixmap.FIX_KMAP_BEGIN, m.fixmap.FIX_KMAP_END) == (None, None)
    assert m.fixmap.end_of_permanent == 9
    assert m.FIXADDR_START == FIXADDR_TOP - 9 * PAGE
    with pytest.raises(HighmemError, match="^this kernel has no kmap slots: it is built with HIGHMEM=n$"):
        m.kmap_slot(0, "KM_USER0")



def test_fixmap_kmap_slot_negative_cpu_raises() -> None:
    """kmap_slot for CPU -1 is a user mistake and raises HighmemError."""
    m = highmem.boot()
    with pytest.raises(HighmemError):
        m.kmap_slot(-1, "KM_USER0")



def test_fixmap_kmap_slot_cpu_beyond_nr_cpus_raises() -> None:
    """kmap_slot for CPU NR_CPUS (32) does not exist and raises HighmemError."""
    m = highmem.boot()
    with pytest.raises(HighmemError):
        m.kmap_slot(32, "KM_USER0")


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_fixmap_kmap_slot_addresses_fall_as_idx_rises(profile: str) -> None:
    """Slot idx's address is __fix_to_virt(FIX_KMAP_BEGIN + idx): each next slot is one page lower
    (the checker takes the slots' span from the first and last)."""
    m = boot(profile, cpus=4)
    assert m.kmap_vaddr, profile
    assert all(a - b == 4096 for a, b in zip(m.kmap_vaddr, m.kmap_vaddr[1:], strict=False))
