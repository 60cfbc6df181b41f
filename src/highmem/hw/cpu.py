"""A CPU: its TLB and the kernel-mode loads and stores it performs.

The TLB is a per-CPU cache of translations, keyed by virtual page number.
It is **not** coherent with the page tables: changing a PTE changes nothing
a CPU already cached until that CPU flushes the entry
(``__flush_tlb_one``), reloads CR3 (``__flush_tlb``, which keeps global
entries) or flushes everything (``__flush_tlb_all``).  2.4.22's kernel PTEs
are global when the CPU has PGE (include/asm-i386/pgtable.h PAGE_KERNEL), so
only ``invlpg`` or a CR4.PGE toggle removes a kmap slot from a TLB.

A TLB entry is in one of three states relative to its PTE: *absent*,
*coherent* (it matches the PTE), or *stale* (the PTE changed or was cleared
since it was filled).  An access through a stale entry reaches the old
frame, exactly as on hardware; an access with no entry walks the page
tables and fills one, or faults when the translation is not present.

Departure from Linux (hardware): the TLB has unlimited capacity and never
evicts, so a stale entry survives until flushed.  Real TLBs evict under
pressure, which makes stale-TLB bugs intermittent; the model shows the
worst case, deterministically.  Large (PSE) pages are cached per 4 KiB page.
"""

from __future__ import annotations

from highmem.errors import HighmemError, PageFault
from highmem.events import EventBus, Fault, Load, Store, TlbFill, TlbFlushAll, TlbFlushOne
from highmem.hw.pagetable import _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_GLOBAL, _PAGE_PRESENT, _PAGE_PSE, Geometry, walk
from highmem.hw.physmem import PAGE_SHIFT, PAGE_SIZE, PhysicalMemory

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["CPU", "check_range"]

_ADDR_END = 1 << 32
# Events on the hot path are built with tuple.__new__ directly: the same immutable
# NamedTuple, without the Python-level __new__ frame.
_tnew = tuple.__new__
_OFF = PAGE_SIZE - 1
_ZERO = bytes(PAGE_SIZE)
#: The bits a write's walk sets in its entry.
_WANT_WRITE = _PAGE_ACCESSED | _PAGE_DIRTY


def check_range(vaddr: int, size: int) -> None:
    """Reject an access that is not inside the 32-bit virtual address space."""
    if not isinstance(vaddr, int) or isinstance(vaddr, bool):
        raise HighmemError(f"address {vaddr!r} is not an integer: addresses are 32-bit numbers")
    if size <= 0:
        raise HighmemError(f"access of {size} bytes at {vaddr:#x} is empty: a load or store moves at least one byte")
    if vaddr < 0 or vaddr + size > _ADDR_END:
        raise HighmemError(
            f"access of {size} bytes at {vaddr:#x} is out of range: "
            "virtual addresses of i386 run from 0x0 to 0xffffffff"
        )


class CPU:
    """One simulated i386 CPU (any context; the caller is the code running on it).

    ``context`` names whatever currently runs on the CPU; the kernel model
    keeps it up to date and it labels this CPU's events.
    """

    __slots__ = ("id", "tlb", "mem", "geo", "pgd_phys", "bus", "context", "has_pge", "_walk2")

    def __init__(self, cpu_id: int, mem: PhysicalMemory, geo: Geometry, pgd_phys: int,
                 bus: EventBus, has_pge: bool = True) -> None:
        self.id = cpu_id
        #: virtual page number -> (pfn, entry the walk found)
        self.tlb: dict[int, tuple[int, int]] = {}
        self.mem = mem
        self.geo = geo
        self.pgd_phys = pgd_phys
        self.bus = bus
        self.context = f"cpu{cpu_id}"
        self.has_pge = has_pge
        #: What _fill's inlined two-level walk reads of the geometry, gathered once (None: three levels).
        self._walk2: tuple[Any, Any, int, int, int, int, int] | None = (
            (geo.struct.unpack_from, geo.struct.pack_into, geo.PGDIR_SHIFT, geo.PTRS_PER_PGD - 1,
             geo.PTRS_PER_PTE - 1, geo.entry_size, geo.addr_mask) if geo.levels == 2 else None)

    def __repr__(self) -> str:
        return f"<CPU {self.id}: {len(self.tlb)} TLB entries>"

    # -- translation -------------------------------------------------------
    def _fill(self, vaddr: int, write: bool) -> tuple[int, int]:
        w2 = self._walk2
        if w2 is not None:
            # walk(), inlined for two-level (non-PAE) tables down to a present 4 KiB PTE, with the
            # rest of the fill (a fill follows every kmap_atomic's flush); every other case, a fault
            # included, is walk()'s and the general path's below.
            unpack_from, pack_into, pgdir_shift, pgd_mask, pte_mask, esz, addr_mask = w2
            frames = self.mem.frames
            ptep = self.pgd_phys + ((vaddr >> pgdir_shift) & pgd_mask) * esz
            fr = frames.get(ptep >> PAGE_SHIFT)
            if fr is not None:
                entry = unpack_from(fr, ptep & 0xFFF)[0]
                if entry & _PAGE_PRESENT and not entry & _PAGE_PSE:
                    ptep = (entry & addr_mask) + ((vaddr >> PAGE_SHIFT) & pte_mask) * esz
                    fr = frames.get(ptep >> PAGE_SHIFT)
                    if fr is not None:
                        off = ptep & 0xFFF
                        entry = unpack_from(fr, off)[0]
                        if entry & _PAGE_PRESENT:
                            want = _WANT_WRITE if write else _PAGE_ACCESSED
                            if entry & want != want:
                                # The walker sets the accessed (and on a write, dirty) bit in the PTE
                                # (every fill after a kmap_atomic does: the new PTE has neither).
                                entry |= want
                                pack_into(fr, off, entry)
                            e = ((entry & addr_mask) >> PAGE_SHIFT, entry)
                            self.tlb[vaddr >> PAGE_SHIFT] = e
                            bus = self.bus
                            if bus.active and (bus.judges is None or TlbFill in bus.judges):
                                bus.emit(_tnew(TlbFill, (self.id, vaddr & ~_OFF, e[0])))
                            return e
        geo = self.geo
        pfn, entry, ptep, level = walk(self.mem, geo, self.pgd_phys, vaddr)
        bus = self.bus
        if pfn < 0:
            err = PageFault(vaddr, self.id, write, level)
            if bus.active:
                bus.emit(Fault(self.id, self.context, vaddr, write, str(err)))
            raise err
        want = _PAGE_ACCESSED | (_PAGE_DIRTY if write else 0)
        if entry & want != want:
            # The walker sets the accessed (and on a write, dirty) bit in memory.
            self.mem.write(ptep, geo.struct.pack(entry | want))
        e = (pfn, entry | want)
        self.tlb[vaddr >> PAGE_SHIFT] = e
        if bus.active and (bus.judges is None or TlbFill in bus.judges):
            bus.emit(_tnew(TlbFill, (self.id, vaddr & ~_OFF, pfn)))
        return e

    def translate(self, vaddr: int, write: bool = False) -> int:
        """The frame that an access at ``vaddr`` reaches now; fills the TLB or faults."""
        check_range(vaddr, 1)
        e = self.tlb.get(vaddr >> PAGE_SHIFT)
        if e is None:
            e = self._fill(vaddr, write)
        return e[0]

    # -- loads and stores --------------------------------------------------
    def load(self, vaddr: int, size: int) -> bytes:
        """Read ``size`` bytes at ``vaddr`` through the TLB (page faults are Oopses)."""
        if type(vaddr) is not int or not 0 <= vaddr < _ADDR_END or size <= 0:
            check_range(vaddr, size)
        off = vaddr & _OFF
        if off + size > PAGE_SIZE:
            if vaddr + size > _ADDR_END:
                check_range(vaddr, size)
            return b"".join(self.load(a, n) for a, n in _pieces(vaddr, size))
        vpn = vaddr >> PAGE_SHIFT
        e = self.tlb.get(vpn)
        hit = e is not None
        if e is None:
            e = self._fill(vaddr, False)
        fr = self.mem.frames.get(e[0])
        data = _ZERO[:size] if fr is None else bytes(fr[off : off + size])
        bus = self.bus
        if bus.active:
            if bus.on_access is not None:
                bus.on_access(self.id, self.context, vaddr, size, e[0], hit, False)
            else:
                bus.emit(_tnew(Load, (self.id, self.context, vaddr, size, e[0], hit)))
        return data

    def store(self, vaddr: int, data: bytes) -> None:
        """Write ``data`` at ``vaddr`` through the TLB (page faults are Oopses)."""
        size = len(data)
        if vaddr < 0 or size <= 0 or vaddr + size > _ADDR_END or type(vaddr) is not int:
            check_range(vaddr, size)
        off = vaddr & _OFF
        if off + size > PAGE_SIZE:
            pos = 0
            for a, n in _pieces(vaddr, size):
                self.store(a, data[pos : pos + n])
                pos += n
            return
        e = self.tlb.get(vaddr >> PAGE_SHIFT)
        hit = e is not None
        if e is None or not e[1] & _PAGE_DIRTY:
            e = self._fill(vaddr, True)
        frames = self.mem.frames
        fr = frames.get(e[0])
        if fr is None:
            fr = frames[e[0]] = bytearray(PAGE_SIZE)
        fr[off : off + size] = data
        bus = self.bus
        if bus.active:
            if bus.on_access is not None:
                bus.on_access(self.id, self.context, vaddr, size, e[0], hit, True)
            else:
                bus.emit(_tnew(Store, (self.id, self.context, vaddr, size, e[0], hit)))

    def copy(self, dst: int, src: int, size: int) -> None:
        """``memcpy(dst, src, size)``: a load then a store, without an intermediate buffer
        when both sides lie within one page each."""
        so = src & _OFF
        do = dst & _OFF
        if do + size > PAGE_SIZE or so + size > PAGE_SIZE or size <= 0 or src < 0 or dst < 0 \
                or src + size > _ADDR_END or dst + size > _ADDR_END:
            # Crossing pages (or bad input, which load and store reject).
            self.store(dst, self.load(src, size))
            return
        tlb = self.tlb
        se = tlb.get(src >> PAGE_SHIFT)
        shit = se is not None
        if se is None:
            se = self._fill(src, False)
        de = tlb.get(dst >> PAGE_SHIFT)
        dhit = de is not None
        if de is None or not de[1] & _PAGE_DIRTY:
            de = self._fill(dst, True)
        frames = self.mem.frames
        sfr = frames.get(se[0])
        dfr = frames.get(de[0])
        if dfr is None:
            dfr = frames[de[0]] = bytearray(PAGE_SIZE)
        if sfr is None:
            dfr[do : do + size] = _ZERO[:size]
        elif size == PAGE_SIZE:
            dfr[:] = sfr
        else:
            # A slice of the frame, not a memoryview of it: bytearray's slice assignment takes a bytearray
            # as it is and first copies anything else into one (through a memoryview, three times the cost).
            dfr[do : do + size] = sfr[so : so + size]
        bus = self.bus
        if bus.active:
            if bus.on_access is not None:
                bus.on_access(self.id, self.context, src, size, se[0], shit, False)
                bus.on_access(self.id, self.context, dst, size, de[0], dhit, True)
            else:
                bus.emit(_tnew(Load, (self.id, self.context, src, size, se[0], shit)))
                bus.emit(_tnew(Store, (self.id, self.context, dst, size, de[0], dhit)))

    # -- TLB maintenance ---------------------------------------------------
    def flush_tlb_one(self, vaddr: int) -> None:
        """``__flush_tlb_one(vaddr)``: ``invlpg``, this CPU only."""
        present = self.tlb.pop(vaddr >> PAGE_SHIFT, None) is not None
        bus = self.bus
        if bus.active and (bus.judges is None or TlbFlushOne in bus.judges):
            bus.emit(TlbFlushOne(self.id, self.context, vaddr & ~_OFF, present))

    def flush_tlb(self) -> None:
        """``__flush_tlb()``: reload CR3, dropping every entry that is not global."""
        keep = {k: v for k, v in self.tlb.items() if self.has_pge and v[1] & _PAGE_GLOBAL}
        dropped = len(self.tlb) - len(keep)
        self.tlb = keep
        bus = self.bus
        if bus.active and (bus.judges is None or TlbFlushAll in bus.judges):
            bus.emit(TlbFlushAll(self.id, self.context, False, dropped))

    def flush_tlb_all(self) -> None:
        """``__flush_tlb_all()``: toggle CR4.PGE, dropping global entries too (this CPU only)."""
        dropped = len(self.tlb)
        self.tlb.clear()
        bus = self.bus
        if bus.active and (bus.judges is None or TlbFlushAll in bus.judges):
            bus.emit(TlbFlushAll(self.id, self.context, True, dropped))

    def tlb_lookup(self, vaddr: int) -> int | None:
        """The frame this CPU's TLB holds for ``vaddr``, or None (no side effects)."""
        e = self.tlb.get(vaddr >> PAGE_SHIFT)
        return None if e is None else e[0]


def _pieces(vaddr: int, size: int) -> list[tuple[int, int]]:
    out = []
    while size:
        n = min(size, PAGE_SIZE - (vaddr & _OFF))
        out.append((vaddr, n))
        vaddr += n
        size -= n
    return out
