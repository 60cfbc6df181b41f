"""Per-profile layout constants: fixmap order, KM_TYPE_NR / KM_MAX_IDX, PKMAP_BASE, VMALLOC_END, MAXMEM.

Every expected number is derived in the test from kernel-facts.md sections 2.1, 2.4, 3 and 4 and the
enum orders quoted there; nothing is copied from running the model.
"""

from __future__ import annotations

import json

import pytest

import highmem
from highmem.cli import main
from highmem.errors import HighmemError
from highmem.profiles import PROFILE_NAMES

PAGE_SIZE = 4096
PAGE_OFFSET = 0xC0000000
VMALLOC_RESERVE = 128 << 20
FIXADDR_TOP_2_6 = 0xFFFFF000
PMD_MASK = {False: 0xFFC00000, True: 0xFFE00000}   # 4 MiB non-PAE (PMD folded into PGD), 2 MiB PAE


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(argv)
    except SystemExit as e:
        rc = int(e.code)  # type: ignore[arg-type]
    out, err = capsys.readouterr()
    return rc, out, err


def fixmap_2_6_32(km_type_nr: int, nr_cpus: int = 8) -> dict[str, int]:
    """2.6.32 arch/x86/include/asm/fixmap.h (x86-32) for SMP + PCI_MMCONFIG, no VISWS/F00F/CYCLONE/PARAVIRT:
    FIX_HOLE, FIX_VDSO, FIX_DBGP_BASE, FIX_EARLYCON_MEM_BASE, FIX_APIC_BASE, 64 IO-APICs, KMAP,
    FIX_PCIE_MCFG, FIX_TEXT_POKE1, FIX_TEXT_POKE0, end of permanent, BTMAPs (64*4) starting at the next
    256 boundary, FIX_WP_TEST, end of fixed."""
    f: dict[str, int] = {"FIX_HOLE": 0, "FIX_VDSO": 1, "FIX_DBGP_BASE": 2, "FIX_EARLYCON_MEM_BASE": 3,
                         "FIX_APIC_BASE": 4, "FIX_IO_APIC_BASE_0": 5, "FIX_IO_APIC_BASE_END": 5 + 64 - 1}
    f["FIX_KMAP_BEGIN"] = f["FIX_IO_APIC_BASE_END"] + 1
    f["FIX_KMAP_END"] = f["FIX_KMAP_BEGIN"] + km_type_nr * nr_cpus - 1
    f["FIX_PCIE_MCFG"] = f["FIX_KMAP_END"] + 1
    f["FIX_TEXT_POKE1"] = f["FIX_PCIE_MCFG"] + 1
    f["FIX_TEXT_POKE0"] = f["FIX_TEXT_POKE1"] + 1
    end = f["__end_of_permanent_fixed_addresses"] = f["FIX_TEXT_POKE0"] + 1
    f["FIX_BTMAP_END"] = end + 256 - (end & 255)
    f["FIX_BTMAP_BEGIN"] = f["FIX_BTMAP_END"] + 64 * 4 - 1
    f["FIX_WP_TEST"] = f["FIX_BTMAP_BEGIN"] + 1
    f["__end_of_fixed_addresses"] = f["FIX_WP_TEST"] + 1
    return f


def areas_2_6_32(end_of_fixed: int, pae: bool = False) -> tuple[int, int, int]:
    """2.6.32 arch/x86/include/asm/pgtable_32_types.h: PKMAP_BASE, VMALLOC_END, MAXMEM."""
    last_pkmap = 512 if pae else 1024
    fixaddr_boot_start = FIXADDR_TOP_2_6 - (end_of_fixed << 12)
    pkmap_base = (fixaddr_boot_start - PAGE_SIZE * (last_pkmap + 1)) & PMD_MASK[pae]
    vmalloc_end = pkmap_base - 2 * PAGE_SIZE
    return pkmap_base, vmalloc_end, vmalloc_end - PAGE_OFFSET - VMALLOC_RESERVE


def test_profiles_layout_2_6_fixaddr_top() -> None:
    """2.6.32 arch/x86/mm/pgtable_32.c: __FIXADDR_TOP = 0xfffff000 (2.4.22's 0xffffe000 page is FIX_VDSO now)."""
    m = highmem.boot("linux-2.6")
    assert m.FIXADDR_TOP == 0xFFFFF000
    assert m.fixmap.fix_to_virt_unchecked(1) == 0xFFFFE000


def test_profiles_layout_2_6_fixmap_order_default_config() -> None:
    """2.6.32 arch/x86/include/asm/fixmap.h: FIX_HOLE 0, FIX_VDSO 1, FIX_DBGP_BASE 2, FIX_EARLYCON_MEM_BASE 3,
    FIX_APIC_BASE 4, IO-APIC 5..68 (MAX_IO_APICS 64), FIX_KMAP_BEGIN 69 (SMP, PCI_MMCONFIG); KM_TYPE_NR 19
    and NR_CPUS 8 give FIX_KMAP_END 69 + 152 - 1 = 220; BTMAPs from 256 (next 256 boundary above 224)."""
    m = highmem.boot("linux-2.6")
    exp = fixmap_2_6_32(19)
    assert (exp["FIX_KMAP_BEGIN"], exp["FIX_KMAP_END"], exp["FIX_BTMAP_END"]) == (69, 220, 256)
    fix = m.fixmap
    for name in ("FIX_HOLE", "FIX_VDSO", "FIX_DBGP_BASE", "FIX_EARLYCON_MEM_BASE", "FIX_APIC_BASE",
                 "FIX_IO_APIC_BASE_0", "FIX_IO_APIC_BASE_END", "FIX_KMAP_BEGIN", "FIX_KMAP_END", "FIX_PCIE_MCFG",
                 "FIX_TEXT_POKE1", "FIX_TEXT_POKE0", "__end_of_permanent_fixed_addresses", "FIX_BTMAP_END",
                 "FIX_BTMAP_BEGIN", "FIX_WP_TEST", "__end_of_fixed_addresses"):
        assert fix.index(name) == exp[name], name
    assert m.FIX_KMAP_BEGIN == 69 and m.FIX_KMAP_END == 220
    assert m.KM_TYPE_NR == 19 and m.NR_CPUS == 8
    assert m.FIXADDR_START == FIXADDR_TOP_2_6 - (exp["__end_of_permanent_fixed_addresses"] << 12)


def test_profiles_layout_2_6_debug_highmem_fences() -> None:
    """2.6.32 include/asm-generic/kmap_types.h: with DEBUG_HIGHMEM on x86-32 a __KM_FENCE_n precedes every
    member, so member k is 2k + 1 (KM_USER0 = 2*3 + 1 = 7) and KM_TYPE_NR = 2*19 + 1 = 39; the fixmap
    grows to FIX_KMAP_END 69 + 39*8 - 1 = 380 and the BTMAPs move to 512."""
    m = highmem.boot("linux-2.6", config={"DEBUG_HIGHMEM": True})
    assert m.KM_TYPE_NR == 39
    assert int(m.km_type["KM_USER0"]) == 7
    assert int(m.km_type["KM_BOUNCE_READ"]) == 1
    assert int(m.km_type["KM_NMI_PTE"]) == 2 * 18 + 1
    exp = fixmap_2_6_32(39)
    assert (m.FIX_KMAP_BEGIN, m.FIX_KMAP_END) == (69, 380)
    assert m.fixmap.FIX_BTMAP_END == exp["FIX_BTMAP_END"] == 512
    assert m.fixmap.end_of_fixed == exp["__end_of_fixed_addresses"]


@pytest.mark.parametrize(("debug", "pae"), [(False, False), (True, False), (False, True)],
                         ids=["default", "debug", "pae"])
def test_profiles_layout_2_6_pkmap_vmalloc_maxmem(debug: bool, pae: bool) -> None:
    """2.6.32 arch/x86/include/asm/pgtable_32_types.h: PKMAP_BASE = (FIXADDR_BOOT_START -
    PAGE_SIZE*(LAST_PKMAP + 1)) & PMD_MASK, VMALLOC_END = PKMAP_BASE - 2*PAGE_SIZE, MAXMEM = VMALLOC_END -
    PAGE_OFFSET - 128 MiB; FIXADDR_BOOT_START = FIXADDR_TOP - (__end_of_fixed_addresses << PAGE_SHIFT)."""
    m = highmem.boot("linux-2.6", pae=pae, config={"DEBUG_HIGHMEM": debug})
    exp = fixmap_2_6_32(39 if debug else 19)
    pkmap_base, vmalloc_end, maxmem = areas_2_6_32(exp["__end_of_fixed_addresses"], pae)
    assert m.LAST_PKMAP == (512 if pae else 1024)
    assert (m.PKMAP_BASE, m.VMALLOC_END, m.MAXMEM) == (pkmap_base, vmalloc_end, maxmem)
    if not debug and not pae:
        # 513 fixmap pages: 0xfffff000 - 0x201000 = 0xffdfe000; minus 1025 pages = 0xff9fd000 -> 0xff800000
        assert (pkmap_base, vmalloc_end, maxmem) == (0xFF800000, 0xFF7FE000, 0x377FE000)


@pytest.mark.parametrize(("debug", "nr"), [(False, 20), (True, 41)], ids=["default", "debug"])
def test_profiles_layout_2_6_37_km_type_nr(debug: bool, nr: int) -> None:
    """2.6.39 include/asm-generic/kmap_types.h: 20 members (2.6.32's 19 plus KM_KDB), 41 with fences;
    FIX_KMAP_END = FIX_KMAP_BEGIN + KM_TYPE_NR*NR_CPUS - 1 (fixmap.h)."""
    m = highmem.boot("linux-2.6.37", config={"DEBUG_HIGHMEM": debug})
    assert m.KM_TYPE_NR == nr
    assert m.NR_CPUS == 8
    assert m.FIX_KMAP_BEGIN == 69
    assert m.FIX_KMAP_END == 69 + nr * 8 - 1


@pytest.mark.parametrize(("config", "nr"), [({}, 16), ({"DEBUG_KMAP_LOCAL": True}, 33),
                                            ({"DEBUG_HIGHMEM": True}, 33)], ids=["default", "debug", "highmem-debug"])
def test_profiles_layout_5_11_km_max_idx(config: dict[str, bool], nr: int) -> None:
    """5.15 include/asm-generic/kmap_size.h: KM_MAX_IDX 16, 33 with DEBUG_KMAP_LOCAL (which DEBUG_HIGHMEM
    selects, lib/Kconfig.debug); 5.15 arch/x86/include/asm/fixmap.h: FIX_KMAP_END = FIX_KMAP_BEGIN +
    KM_MAX_IDX*NR_CPUS - 1."""
    m = highmem.boot("linux-5.11", config=config)
    assert m.KM_TYPE_NR == nr
    assert m.NR_CPUS == 8
    assert m.FIX_KMAP_END == m.FIX_KMAP_BEGIN + nr * 8 - 1
    assert len(m.kmap_vaddr) == nr * 8
    assert m.kmap_vaddr[0] == FIXADDR_TOP_2_6 - (m.FIX_KMAP_BEGIN << 12)


@pytest.mark.parametrize(("profile", "nr_cpus"), [("linux-2.4", 32), ("linux-2.6", 8), ("linux-2.6.37", 8),
                                                  ("linux-5.11", 8)])
def test_profiles_layout_nr_cpus_default(profile: str, nr_cpus: int) -> None:
    """2.4.22 include/linux/threads.h: NR_CPUS 32 with SMP (not configurable); 2.6.32 arch/x86/Kconfig:
    NR_CPUS defaults to 8 on SMP x86-32; every profile: 1 without SMP."""
    assert highmem.boot(profile).NR_CPUS == nr_cpus
    up = highmem.boot(profile, cpus=1, config={"SMP": False})
    assert up.NR_CPUS == 1


def test_profiles_layout_2_4_unchanged() -> None:
    """2.4.22 include/asm-i386/fixmap.h and highmem.h: FIXADDR_TOP 0xffffe000, SMP32 FIX_KMAP_BEGIN 9 (APIC + 8
    IO-APICs), 8 km types, FIX_KMAP_END 9 + 8*32 - 1 = 264, PKMAP_BASE 0xfe000000, VMALLOC_END 0xfdffe000,
    MAXMEM 896 MiB (kernel-facts 0 and 1.4)."""
    m = highmem.boot("linux-2.4")
    assert (m.FIXADDR_TOP, m.FIX_KMAP_BEGIN, m.FIX_KMAP_END, m.KM_TYPE_NR) == (0xFFFFE000, 9, 264, 8)
    assert (m.PKMAP_BASE, m.VMALLOC_END, m.MAXMEM) == (0xFE000000, 0xFDFFE000, 0x38000000)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_profiles_layout_cli_json_every_profile(profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`highmem layout --profile P --json` works for every generation (2.4.22, 2.6.32, 2.6.39, 5.15) and its
    numbers are the machine's."""
    rc, out, err = _run(["layout", "--profile", profile, "--json"], capsys)
    assert (rc, err) == (0, "")
    d = json.loads(out)
    m = highmem.boot(profile)
    assert d["profile"] == profile
    assert (d["FIXADDR_TOP"], d["FIX_KMAP_BEGIN"], d["FIX_KMAP_END"], d["KM_TYPE_NR"], d["NR_CPUS"]) == (
        m.FIXADDR_TOP, m.FIX_KMAP_BEGIN, m.FIX_KMAP_END, m.KM_TYPE_NR, m.NR_CPUS)
    assert (d["PKMAP_BASE"], d["VMALLOC_END"]) == (m.PKMAP_BASE, m.VMALLOC_END)
    assert d["slot_stack"] == {"linux-2.4": None, "linux-2.6": None, "linux-2.6.37": "per-CPU",
                               "linux-5.11": "per-task"}[profile]


def test_profiles_layout_cli_json_2_6_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    """2.6.32 arch/x86/include/asm/fixmap.h, pgtable_32_types.h: the JSON carries the default-config numbers
    derived in fixmap_2_6_32 / areas_2_6_32."""
    rc, out, _ = _run(["layout", "--profile", "linux-2.6", "--json"], capsys)
    assert rc == 0
    d = json.loads(out)
    exp = fixmap_2_6_32(19)
    assert d["__end_of_permanent_fixed_addresses"] == exp["__end_of_permanent_fixed_addresses"]
    assert d["__end_of_fixed_addresses"] == exp["__end_of_fixed_addresses"]
    assert (d["PKMAP_BASE"], d["VMALLOC_END"]) == areas_2_6_32(exp["__end_of_fixed_addresses"])[:2]
    assert d["LAST_PKMAP"] == 1024
    # 2 online CPUs x 19 types; CPU 1 KM_USER0: fixmap 69 + 3 + 19 = 91
    slot = next(s for s in d["kmap_slots"] if s["cpu"] == 1 and s["type"] == "KM_USER0")
    assert (slot["idx"], slot["fixmap"], slot["vaddr"]) == (22, 91, FIXADDR_TOP_2_6 - 91 * PAGE_SIZE)


def test_profiles_layout_cli_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    """Profiles model 2.4.22, 2.6.32, 2.6.39 and 5.15 only: linux-3.0 exits 2 with one line."""
    rc, out, err = _run(["layout", "--profile", "linux-3.0"], capsys)
    assert (rc, out) == (2, "")
    assert err == ("highmem: profile 'linux-3.0' does not exist: available profiles are linux-2.4, linux-2.6, "
                   "linux-2.6.37, linux-5.11\n")


@pytest.mark.parametrize(("profile", "option", "line"), [
    ("linux-2.6", "X86_F00F_WORKS_OK",
     "highmem: config option 'X86_F00F_WORKS_OK' does not apply to profile linux-2.6: 2.6 has the opposite "
     "option: use X86_F00F_BUG=y for the FIX_F00F_IDT entry\n"),
    ("linux-5.11", "KUNMAP_POP_BEFORE_CLEAR",
     "highmem: config option 'KUNMAP_POP_BEFORE_CLEAR' does not apply to profile linux-5.11: the 2010 race "
     "exists only in --profile linux-2.6.37\n"),
    ("linux-2.4", "PREEMPT",
     "highmem: config option 'PREEMPT' does not apply to profile linux-2.4: 2.4 has no preemptible kernel: use "
     "linux-2.6 or later\n"),
], ids=["f00f-on-2.6", "pop-before-clear-on-5.11", "preempt-on-2.4"])
def test_profiles_layout_cli_option_of_another_generation(profile: str, option: str, line: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    """2.4.22 arch/i386/config.in has X86_F00F_WORKS_OK and no PREEMPT; 2.6.32 arch/x86/Kconfig.cpu has
    X86_F00F_BUG instead; KUNMAP_POP_BEFORE_CLEAR models 3e4d3af501cc (2.6.37-rc) only: an option from another
    generation exits 2 with one sentence naming it and what to use instead."""
    rc, out, err = _run(["layout", "--profile", profile, "--config", f"{option}=y"], capsys)
    assert (rc, out) == (2, "")
    assert err == line


@pytest.mark.parametrize("profile", ["linux-2.4", "linux-2.6", "linux-2.6.37"])
def test_profiles_layout_kmap_local_needs_5_11(profile: str) -> None:
    """5.15 include/linux/highmem.h: kmap_local_page / kunmap_local came with the v5.11 series (f3ba3c710ac5);
    earlier profiles refuse them naming the profile and what to use instead."""
    m = highmem.boot(profile)
    page = m.alloc_highpage()
    with pytest.raises(HighmemError) as e:
        m.kmap_local_page(page)
    assert str(e.value) == (f"kmap_local_page does not exist in profile {profile}: it came in Linux 5.11; use "
                            "--profile linux-5.11 or kmap_atomic")
    with pytest.raises(HighmemError) as e:
        m.kunmap_local(0xFFF00000)
    assert str(e.value) == (f"kunmap_local does not exist in profile {profile}: it came in Linux 5.11; use "
                            "--profile linux-5.11 or kunmap_atomic")


def test_profiles_layout_kmap_atomic_to_page_needs_2_6() -> None:
    """2.6.12-rc2 arch/i386/mm/highmem.c adds kmap_atomic_to_page; 2.4.22 has none."""
    m = highmem.boot("linux-2.4")
    with pytest.raises(HighmemError, match=r"^kmap_atomic_to_page does not exist in profile linux-2\.4"):
        m.kmap_atomic_to_page(0xFFF00000)
