"""kmap_atomic, kunmap_atomic, loads, stores and TLB flushes on several CPUs against an independent reference model."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import highmem
from highmem.errors import KernelBUG, PageFault

FIXADDR_TOP = 0xFFFFE000
FIX_KMAP_BEGIN = 9  # SMP, NR_CPUS 32: FIX_APIC_BASE 0, IO-APICs 1..8 (spec 1.4)
KM_TYPE_NR = 8
PAGE_OFFSET = 0xC0000000
PTE_MAPPED = 0x163  # PAGE_KERNEL | GLOBAL; ACCESSED and DIRTY already set, so a walk never rewrites it
TYPES = {"KM_USER0": 3, "KM_USER1": 4, "KM_BH_IRQ": 5}
NAMES = sorted(TYPES)
N_HIGH = 3


def slot_idx(cpu: int, t: int) -> int:
    return t + KM_TYPE_NR * cpu


def slot_vaddr(cpu: int, t: int) -> int:
    return FIXADDR_TOP - ((FIX_KMAP_BEGIN + slot_idx(cpu, t)) << 12)


class KmapModel(RuleBasedStateMachine):
    """Reference: per-slot PTE pfn, per-CPU TLB (vpn -> pfn), page bytes per pfn."""

    NCPUS = 2
    DEBUG = False

    def __init__(self) -> None:
        super().__init__()
        self.m = highmem.boot(cpus=self.NCPUS, memory="2G", config={"DEBUG_HIGHMEM": self.DEBUG})
        self.high = [self.m.alloc_highpage() for _ in range(N_HIGH)]
        self.low = self.m.alloc_page()
        assert self.low.pfn < 0x38000 <= self.high[0].pfn
        self.pte: dict[tuple[int, int], int] = {}
        self.tlb: list[dict[int, int]] = [{} for _ in range(self.NCPUS)]
        self.mem: dict[int, bytearray] = {p.pfn: bytearray(4096) for p in [*self.high, self.low]}

    # -- rules ---------------------------------------------------------------------
    @rule(data=st.data(), name=st.sampled_from(NAMES), which=st.integers(0, N_HIGH))
    def kmap(self, data: st.DataObject, name: str, which: int) -> None:
        """kmap_atomic of a high page (which < N_HIGH) or of the lowmem page."""
        cpu = data.draw(st.integers(0, self.NCPUS - 1), label="cpu")
        t = TYPES[name]
        page = self.low if which == N_HIGH else self.high[which]
        with self.m.process(cpu=cpu):
            if page is self.low:
                assert self.m.kmap_atomic(page, name) == PAGE_OFFSET + (page.pfn << 12)
                return
            if self.DEBUG and (cpu, t) in self.pte:
                fix = FIX_KMAP_BEGIN + slot_idx(cpu, t)
                msg = (f"kernel BUG in kmap_atomic: slot {name} of CPU {cpu} "
                       f"(fixmap {fix}, {slot_vaddr(cpu, t):#010x}) is already mapped")
                with pytest.raises(KernelBUG) as exc:
                    self.m.kmap_atomic(page, name)
                assert str(exc.value) == msg
                return
            assert self.m.kmap_atomic(page, name) == slot_vaddr(cpu, t)
        self.pte[(cpu, t)] = page.pfn
        self.tlb[cpu].pop(slot_vaddr(cpu, t) >> 12, None)

    @rule(data=st.data(), name=st.sampled_from(NAMES), mode=st.sampled_from(["own", "own", "any", "low"]),
          off=st.integers(0, 4095))
    def kunmap(self, data: st.DataObject, name: str, mode: str, off: int) -> None:
        """kunmap_atomic(addr, name) on cpu: addr is its own slot, any CPU's slot of any type, or a lowmem address."""
        cpu = data.draw(st.integers(0, self.NCPUS - 1), label="cpu")
        t = TYPES[name]
        tcpu, tname = cpu, name
        if mode == "any":
            tcpu = data.draw(st.integers(0, self.NCPUS - 1), label="tcpu")
            tname = data.draw(st.sampled_from(NAMES), label="tname")
        low = mode == "low"
        kvaddr = PAGE_OFFSET + (self.low.pfn << 12) + off if low else slot_vaddr(tcpu, TYPES[tname]) + off
        with self.m.process(cpu=cpu):
            if not self.DEBUG or low:
                self.m.kunmap_atomic(kvaddr, name)
                return
            if (tcpu, TYPES[tname]) != (cpu, t):
                msg = (f"kernel BUG in kunmap_atomic: address {kvaddr:#010x} is not the slot of {name} on CPU {cpu} "
                       f"(fixmap {FIX_KMAP_BEGIN + slot_idx(cpu, t)}, {slot_vaddr(cpu, t):#010x})")
                with pytest.raises(KernelBUG) as exc:
                    self.m.kunmap_atomic(kvaddr, name)
                assert str(exc.value) == msg
                return
            self.m.kunmap_atomic(kvaddr, name)
        self.pte.pop((cpu, t), None)
        self.tlb[cpu].pop(slot_vaddr(cpu, t) >> 12, None)

    def _expect(self, cpu: int, tcpu: int, t: int) -> int | None:
        """The frame an access by cpu through (tcpu, t)'s slot must reach, filling the reference TLB."""
        vpn = slot_vaddr(tcpu, t) >> 12
        if vpn in self.tlb[cpu]:
            return self.tlb[cpu][vpn]
        pfn = self.pte.get((tcpu, t))
        if pfn is not None:
            self.tlb[cpu][vpn] = pfn
        return pfn

    @rule(data=st.data(), tname=st.sampled_from(NAMES), off=st.integers(0, 4095),
          payload=st.binary(min_size=1, max_size=16), is_store=st.booleans())
    def access(self, data: st.DataObject, tname: str, off: int, payload: bytes, is_store: bool) -> None:
        """A load or store by cpu through the slot of (tcpu, tname) (tcpu may be another CPU)."""
        cpu = data.draw(st.integers(0, self.NCPUS - 1), label="cpu")
        if self.pte and data.draw(st.booleans(), label="mapped slot"):
            tcpu, t = data.draw(st.sampled_from(sorted(self.pte)), label="slot")
        else:
            tcpu = data.draw(st.sampled_from([cpu, *range(self.NCPUS)]), label="tcpu")
            t = TYPES[tname]
        off = min(off, 4096 - len(payload))
        vaddr = slot_vaddr(tcpu, t) + off
        pfn = self._expect(cpu, tcpu, t)
        with self.m.process(cpu=cpu):
            if pfn is None:
                verb = "write to" if is_store else "read from"
                with pytest.raises(PageFault) as exc:
                    if is_store:
                        self.m.store(vaddr, payload)
                    else:
                        self.m.load(vaddr, len(payload))
                msg = f"Oops: page fault on CPU {cpu}: {verb} {vaddr:#010x}, whose pte is not present"
                assert str(exc.value) == msg
                return
            if is_store:
                self.m.store(vaddr, payload)
                self.mem[pfn][off : off + len(payload)] = payload
            else:
                assert self.m.load(vaddr, len(payload)) == bytes(self.mem[pfn][off : off + len(payload)])

    @rule(data=st.data(), off=st.integers(0, 4080), payload=st.binary(min_size=1, max_size=16))
    def lowmem_store(self, data: st.DataObject, off: int, payload: bytes) -> None:
        """A store through the direct map of the lowmem page always lands in it."""
        cpu = data.draw(st.integers(0, self.NCPUS - 1), label="cpu")
        with self.m.process(cpu=cpu):
            self.m.store(PAGE_OFFSET + (self.low.pfn << 12) + off, payload)
        self.mem[self.low.pfn][off : off + len(payload)] = payload

    @rule(data=st.data(), tname=st.sampled_from(NAMES), scope=st.sampled_from(["one", "one", "one", "all"]))
    def flush(self, data: st.DataObject, tname: str, scope: str) -> None:
        """__flush_tlb_one of a slot address on one CPU, or flush_tlb_all on every CPU."""
        cpu = data.draw(st.integers(0, self.NCPUS - 1), label="cpu")
        with self.m.process(cpu=cpu):
            if scope == "all":
                self.m.flush_tlb_all()
                for tlb in self.tlb:
                    tlb.clear()
                return
            tcpu = data.draw(st.integers(0, self.NCPUS - 1), label="tcpu")
            vaddr = slot_vaddr(tcpu, TYPES[tname])
            self.m.flush_tlb_one(vaddr)
        self.tlb[cpu].pop(vaddr >> 12, None)

    @rule(data=st.data(), size=st.integers(1, 16))
    def load_other_cpus_slot(self, data: st.DataObject, size: int) -> None:
        """A CPU loads through another CPU's mapped slot: its own TLB caches it, which is how stale entries arise."""
        others = [(c, t) for (c, t) in sorted(self.pte)]
        if not others:
            return
        tcpu, t = data.draw(st.sampled_from(others), label="slot")
        cpu = data.draw(st.sampled_from([c for c in range(self.NCPUS) if c != tcpu]), label="cpu")
        pfn = self._expect(cpu, tcpu, t)
        assert pfn is not None
        with self.m.process(cpu=cpu):
            assert self.m.load(slot_vaddr(tcpu, t), size) == bytes(self.mem[pfn][:size])

    # -- invariants ----------------------------------------------------------------
    @invariant()
    def page_bytes_match(self) -> None:
        """Every tracked frame holds exactly the reference bytes."""
        for page in [*self.high, self.low]:
            assert self.m.page_bytes(page) == bytes(self.mem[page.pfn])

    @invariant()
    def slot_ptes_match(self) -> None:
        """Each slot PTE (kmap_pte - idx) is none or maps the reference frame with PAGE_KERNEL|GLOBAL."""
        for cpu in range(self.NCPUS):
            for t in TYPES.values():
                ptep = self.m.kmap_pte - slot_idx(cpu, t) * 4
                pte = int.from_bytes(self.m.phys.read(ptep, 4), "little")
                pfn = self.pte.get((cpu, t))
                assert pte == (0 if pfn is None else (pfn << 12) | PTE_MAPPED)

    @invariant()
    def tlbs_match(self) -> None:
        """Each CPU's TLB holds exactly the reference entries for every slot address."""
        for cpu in range(self.NCPUS):
            for tcpu in range(self.NCPUS):
                for t in TYPES.values():
                    vaddr = slot_vaddr(tcpu, t)
                    assert self.m.cpus[cpu].tlb_lookup(vaddr) == self.tlb[cpu].get(vaddr >> 12)


def _case(ncpus: int, debug: bool) -> type:
    cls = type(f"KmapModel{ncpus}{'Debug' if debug else ''}", (KmapModel,), {"NCPUS": ncpus, "DEBUG": debug})
    cls.TestCase.settings = settings(max_examples=60, stateful_step_count=50, deadline=None)
    cls.TestCase.__doc__ = f"Random runs on {ncpus} CPUs (DEBUG_HIGHMEM={debug}) match the reference model."
    return cls.TestCase


test_kmap_stateful_two_cpus = _case(2, False)
test_kmap_stateful_two_cpus_debug = _case(2, True)
test_kmap_stateful_three_cpus = _case(3, False)
test_kmap_stateful_three_cpus_debug = _case(3, True)
