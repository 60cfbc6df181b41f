"""NX under PAE: kmap_prot carries bit 63 through __supported_pte_mask on an NX-capable CPU (2.6+)."""

from __future__ import annotations

import pytest

import highmem
from highmem.errors import HighmemError

NX = 1 << 63


@pytest.mark.parametrize("profile", ["linux-2.6", "linux-2.6.37", "linux-5.11"])
def test_nx_pae_kmap_pte_has_bit_63(profile: str) -> None:
    """2.6.39 / 5.15 arch/x86/mm/setup_nx.c x86_configure_nx: with NX, __supported_pte_mask keeps _PAGE_NX, so
    the slot PTE kmap_atomic writes (mk_pte(page, kmap_prot)) has bit 63 on a PAE kernel."""
    m = highmem.boot(profile, pae=True, memory="8G", cpu_has_nx=True)
    page = m.alloc_highpage()
    v = m.kmap_atomic(page, "KM_USER0")
    _vaddr, frame, off = m.slot_pte(m.kmap_vaddr.index(v))
    assert m.pte_struct.unpack_from(frame, off)[0] == NX | page.pfn << 12 | 0x163


@pytest.mark.parametrize(("profile", "pae", "nx", "prot"), [
    ("linux-5.11", True, False, 0x163), ("linux-5.11", False, True, 0x163), ("linux-2.4", True, True, 0x163)])
def test_nx_absent_without_pae_nx_cpu_or_2_6(profile: str, pae: bool, nx: bool, prot: int) -> None:
    """No bit 63 without an NX CPU, without PAE (a 32-bit entry has no bit 63), or on 2.4.22 (no NX support)."""
    m = highmem.boot(profile, pae=pae, memory="2G", cpu_has_nx=nx)
    assert m.kmap_prot == prot


@pytest.mark.parametrize(("profile", "default"), [("linux-2.4", False), ("linux-2.6", True),
                                                  ("linux-2.6.37", True), ("linux-5.11", True)])
def test_nx_default_follows_the_generations_hardware(profile: str, default: bool) -> None:
    """cpu_has_nx defaults: off for 2.4.22 (it predates NX), on for the 2.6+ profiles (NX CPUs were the norm
    by 2.6.32, 2009; see docs/profiles.md)."""
    assert highmem.make_config(profile).cpu_has_nx is default


def test_nx_not_a_boolean_refused() -> None:
    """A cpu_has_nx that is not a boolean is one sentence."""
    with pytest.raises(HighmemError) as e:
        highmem.make_config("linux-5.11", cpu_has_nx="yes")  # type: ignore[arg-type]
    assert str(e.value) == "CPU feature cpu_has_nx='yes' is not a boolean: write true or false"
