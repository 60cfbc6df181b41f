"""The public kernel API keeps its promise: wrong arguments raise HighmemError and change nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import highmem
from highmem.errors import HighmemError, KernelBUG, Oops
from highmem.hw.physmem import Page
from highmem.profiles import PROFILE_NAMES

#: Values of the wrong type or range for any argument.
BAD = st.sampled_from([None, "x", "", -1, -(2**40), 2**32, 2**64, 1.5, True, b"", object(), [], {}, (1, 2),
                       "KM_NOPE", 10**9, float("nan")])
ANY_ARG = st.one_of(BAD, st.integers(-(2**33), 2**33), st.text(max_size=3), st.binary(max_size=3))

#: (primitive, arity) of the entry points driven with wrong values
CALLS = [("load", 2), ("store", 2), ("memcpy", 3), ("flush_tlb_one", 1), ("page", 1), ("page_bytes", 3),
         ("alloc_page", 1), ("kmap_atomic", 2), ("kunmap_atomic", 2), ("kmap", 1), ("kmap_nonblock", 1),
         ("kunmap", 1), ("kmap_slot", 2), ("spin_lock", 1), ("spin_unlock", 1), ("wake_up", 1),
         ("complete", 1), ("raise_irq", 2), ("raise_softirq", 2), ("page_address", 1), ("PageHighMem", 1)]


def state(m: Any) -> tuple[Any, ...]:
    """Everything a call could change: page bytes, PTEs (in their frames), TLBs, pkmap, locks, contexts."""
    frames = hashlib.sha256()
    for pfn in sorted(m.phys.frames):
        frames.update(pfn.to_bytes(8, "little"))
        frames.update(bytes(m.phys.frames[pfn]))
    return (frames.hexdigest(), [dict(c.tlb) for c in m.cpus], list(m.pkmap.pkmap_count), m.pkmap.last_pkmap_nr,
            m.pkmap.in_use, dict(m.locks), m.current.name, [[c.name for c in s.stack] for s in m.cpu_state],
            [(s.irq_enabled, s.local_irq_count, s.local_bh_count) for s in m.cpu_state],
            dict(m.mem_map.__dict__.get("_counts", {})), m.tlb_flush_all_count)


def _live(profile: str) -> tuple[Any, Page, int]:
    m = highmem.boot(profile, cpus=2, memory="2G")
    page = m.alloc_highpage()
    kmapped = m.alloc_highpage()
    with m.process(cpu=0):
        v = m.kmap(kmapped)
        m.store(v, b"pkmap")
    return m, page, v


@pytest.mark.parametrize("profile", PROFILE_NAMES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_kernel_api_wrong_values_change_nothing(profile: str, data: st.DataObject) -> None:
    """Each call with a wrong argument raises HighmemError (or a modelled BUG/Oops) and leaves the state."""
    m, page, v = _live(profile)
    with m.process(cpu=1):
        slot = m.kmap_atomic(page, "KM_USER0")
        m.store(slot, b"live mapping")
        rejected = 0
        for _ in range(data.draw(st.integers(1, 8), label="calls")):
            name, arity = data.draw(st.sampled_from(CALLS), label="call")
            good = {"load": [slot, 4], "store": [slot, b"ab"], "memcpy": [slot, slot + 64, 4],
                    "flush_tlb_one": [slot], "page": [page.pfn], "page_bytes": [page, 0, 4],
                    "alloc_page": ["GFP_KERNEL"], "kmap_atomic": [page, "KM_USER1"],
                    "kunmap_atomic": [slot, "KM_USER0"], "kmap": [page], "kmap_nonblock": [page],
                    "kunmap": [page], "kmap_slot": [0, "KM_USER0"], "spin_lock": ["l"], "spin_unlock": ["l"],
                    "wake_up": ["q"], "complete": ["c"], "raise_irq": ["eth0", 0], "raise_softirq": ["net", 0],
                    "page_address": [page], "PageHighMem": [page]}[name]
            args = list(good)
            # At least one argument wrong; the others may be right.
            wrong = data.draw(st.lists(st.integers(0, arity - 1), min_size=1, max_size=arity, unique=True))
            for i in wrong:
                args[i] = data.draw(st.one_of(BAD, ANY_ARG, st.builds(lambda n: Page(m.mem_map, n),
                                                                       st.sampled_from([-1, m.max_pfn, 10**9]))))
            before = state(m)
            rejected += 1
            try:
                getattr(m, name)(*args)
            except HighmemError:
                assert state(m) == before, f"{name}{tuple(args)!r} was rejected but changed the machine"
            except (KernelBUG, Oops):
                pass  # a type-correct misuse: the modelled kernel's own behaviour, not an argument check
            # A call that succeeds may change state (a right value drawn by chance): nothing to check.
        assert rejected >= 1


def test_kernel_api_kmap_beyond_ram_leaves_kmap_lock_free() -> None:
    """kmap of a page beyond RAM is refused before kmap_lock is taken: the next kmap works."""
    m = highmem.boot("linux-2.4", cpus=2, memory="2G")
    with m.process(cpu=0):
        with pytest.raises(HighmemError, match=r"^page frame 1000000000 does not exist: this machine has frames 0 "
                                               r"to 0x7ffff$"):
            m.kmap(Page(m.mem_map, 10**9))
        assert m.locks.get("kmap_lock") is None
        assert m.kmap(m.alloc_highpage()) > 0


def test_kernel_api_kmap_atomic_huge_pfn_keeps_live_mapping() -> None:
    """kmap_atomic of a huge page number fails before touching the slot's live PTE."""
    m = highmem.boot("linux-2.4", cpus=2, memory="2G")
    page = m.alloc_highpage()
    with m.process(cpu=0):
        v = m.kmap_atomic(page, "KM_USER0")
        m.store(v, b"live")
        with pytest.raises(HighmemError, match="does not exist"):
            m.kmap_atomic(Page(m.mem_map, 2**40), "KM_USER0")
        assert m.load(v, 4) == b"live"


def test_kernel_api_store_int_is_refused() -> None:
    """store(v, 5) is refused (bytes(5) would store five zero bytes)."""
    m = highmem.boot("linux-2.4", cpus=2, memory="2G")
    page = m.alloc_highpage()
    with m.process(cpu=0):
        v = m.kmap_atomic(page, "KM_USER0")
        with pytest.raises(HighmemError, match=r"^store: data must be bytes, not 5$"):
            m.store(v, 5)  # type: ignore[arg-type]
    assert m.page_bytes(page, 0, 5) == bytes(5) and m.phys.frames.get(page.pfn) is None
