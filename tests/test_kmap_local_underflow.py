"""5.15 kunmap_local_indexed on an empty stack: the collateral PTE clear at index -1, then the BUG."""

from __future__ import annotations

from typing import Any

import pytest

import highmem
from highmem.errors import KernelBUG
from highmem.events import PteClear, TlbFlushOne
from highmem.scenarios import load_toml_text
from highmem.sim.explore import run_once
from highmem.sim.strategy import DefaultStrategy


def _events(m: highmem.Machine) -> list[Any]:
    out: list[Any] = []
    m.subscribe(out.append)
    return out


@pytest.mark.parametrize("config", [{}, {"DEBUG_KMAP_LOCAL": True}])
def test_kmap_local_underflow_clears_previous_cpus_last_slot(config: dict[str, bool]) -> None:
    """5.15 mm/highmem.c kunmap_local_indexed: idx = kmap_local_idx() = -1, so pte_clear(kmap_pte - idx) hits
    CPU 0's last slot (-1 + KM_MAX_IDX * 1), the flush is of the given address, then kmap_local_idx_pop BUGs."""
    m = highmem.boot("linux-5.11", config=config)
    victim = m.KM_TYPE_NR - 1
    vaddr, frame, off = m.slot_pte(victim)
    m.pte_struct.pack_into(frame, off, 0x1234163)
    events = _events(m)
    with m.process(cpu=1, name="t1"):
        addr = m.kmap_vaddr[m.KM_TYPE_NR]
        with pytest.raises(KernelBUG) as e:
            m.kunmap_local(addr)
        assert m.current.data["kmap_ctrl"]["idx"] == (-2 if config else -1)
    assert [ev for ev in events if isinstance(ev, PteClear | TlbFlushOne)] == [
        PteClear(1, "t1", m.kmap_pte - victim * m.pte_size, vaddr, 0x1234163), TlbFlushOne(1, "t1", addr, False)]
    assert (e.value.function, m.pte_struct.unpack_from(frame, off)[0]) == ("kmap_local_idx_pop", 0)


def test_kmap_local_underflow_on_cpu0_clears_the_entry_below_fix_kmap_begin() -> None:
    """5.15: on CPU 0 index -1 is FIX_KMAP_BEGIN - 1, FIX_IO_APIC_BASE_END on an SMP kernel (fixmap.h)."""
    m = highmem.boot("linux-5.11")
    events = _events(m)
    with pytest.raises(KernelBUG):
        m.kunmap_local(m.kmap_vaddr[0])
    [clear] = [ev for ev in events if isinstance(ev, PteClear)]
    assert (clear.vaddr, m.fixmap.name_of(m.FIX_KMAP_BEGIN - 1)) == (
        m.fixmap.fix_to_virt(m.FIX_KMAP_BEGIN - 1), "FIX_IO_APIC_BASE_END")


def test_kmap_local_underflow_then_map_overwrites_idx_with_the_pte() -> None:
    """5.15: after the BUG idx is -1; the next kmap_local_page pushes to 0, maps slot -1 and stores its pteval
    at kmap_ctrl.pteval[-1], which is kmap_ctrl.idx itself (pte_t is 4 bytes without PAE)."""
    m = highmem.boot("linux-5.11")
    page = m.alloc_highpage()
    with m.process(cpu=1, name="t1"):
        with pytest.raises(KernelBUG):
            m.kunmap_local(m.kmap_vaddr[m.KM_TYPE_NR])
        v = m.kmap_local_page(page)
        assert (v, m.current.data["kmap_ctrl"]["idx"]) == (m.kmap_vaddr[m.KM_TYPE_NR - 1], page.pfn << 12 | 0x163)


def test_kmap_local_underflow_checker_names_the_destroyed_entry() -> None:
    """The checker's kernel-bug finding says which PTE the unmap cleared before the BUG (CPU 0: the fixmap
    entry below FIX_KMAP_BEGIN)."""
    sc = load_toml_text("""
[machine]
profile = "linux-5.11"

[[task]]
name = "t"
ops = [{ op = "kunmap_local", addr = 0xfffbb000 }]
""", "t.toml")
    res, _ = run_once(sc, sc.config(), DefaultStrategy())
    assert [f.message for f in res.findings] == [
        "t on CPU 0: kernel BUG in kmap_local_idx_pop: the kmap_local stack of t underflowed; before the BUG "
        "the unmap cleared the PTE of fixmap entry FIX_IO_APIC_BASE_END (fixmap 67, 0xfffbc000)"]
