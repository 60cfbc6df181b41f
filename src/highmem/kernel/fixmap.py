"""``enum fixed_addresses`` and the fixmap arithmetic (include/asm-i386/fixmap.h, 2.4.22).

The enum is computed from the configuration, each member present only under
its option, in the kernel's order:

1. FIX_APIC_BASE (X86_LOCAL_APIC)
2. FIX_IO_APIC_BASE_0 .. FIX_IO_APIC_BASE_END (X86_IO_APIC; MAX_IO_APICS)
3. FIX_CO_CPU, FIX_CO_APIC, FIX_LI_PCIA, FIX_LI_PCIB (X86_VISWS_APIC)
4. FIX_F00F (when X86_F00F_WORKS_OK is *not* set)
5. FIX_CYCLONE_TIMER (X86_SUMMIT)
6. FIX_KMAP_BEGIN .. FIX_KMAP_END = FIX_KMAP_BEGIN + KM_TYPE_NR*NR_CPUS - 1 (HIGHMEM)
7. FIX_ACPI_BEGIN .. FIX_ACPI_END (ACPI_BOOT; FIX_ACPI_PAGES = 4)
8. __end_of_permanent_fixed_addresses, then 16 boot-time slots
   FIX_BTMAP_END .. FIX_BTMAP_BEGIN, then __end_of_fixed_addresses.

A higher index is a lower address: ``__fix_to_virt(x) = FIXADDR_TOP - (x << PAGE_SHIFT)``.
FIXADDR_TOP is 0xffffe000 in 2.4.22 (the page at 0xfffff000 stays unused);
FIXADDR_START covers the permanent entries only.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.hw.physmem import PAGE_SHIFT
from highmem.kernel.profile import FixmapLayout

__all__ = ["Fixmap", "FIX_ACPI_PAGES", "NR_FIX_BTMAPS"]

FIX_ACPI_PAGES = 4
NR_FIX_BTMAPS = 16


class Fixmap:
    """The fixmap of one configuration: named indices and their addresses.

    Attributes named as in the kernel: ``FIXADDR_TOP``, ``FIXADDR_START``,
    ``FIX_KMAP_BEGIN``/``FIX_KMAP_END`` (None without HIGHMEM),
    ``__end_of_permanent_fixed_addresses`` (as ``end_of_permanent``) and
    ``__end_of_fixed_addresses`` (as ``end_of_fixed``).  The enumeration is the
    profile's (``Profile.fixmap``), computed by the machine at boot.
    """

    def __init__(self, layout: FixmapLayout, FIXADDR_TOP: int) -> None:
        self.FIXADDR_TOP = FIXADDR_TOP
        #: (name, first index, last index) in enum order; single entries have first == last.
        self.ranges: list[tuple[str, int, int]] = list(layout.ranges)
        #: entries after the boot-time slots (2.6: FIX_WP_TEST, ...)
        self.trailing = list(layout.trailing)
        self.FIX_KMAP_BEGIN: int | None = None
        self.FIX_KMAP_END: int | None = None
        for name, first, last in self.ranges:
            if name == "FIX_KMAP_BEGIN..FIX_KMAP_END":
                self.FIX_KMAP_BEGIN, self.FIX_KMAP_END = first, last
        self.end_of_permanent = layout.end_of_permanent
        self.FIX_BTMAP_END = layout.btmap_end
        self.FIX_BTMAP_BEGIN = layout.btmap_begin
        self.end_of_fixed = layout.end_of_fixed
        self.FIXADDR_SIZE = self.end_of_permanent << PAGE_SHIFT
        self.FIXADDR_START = FIXADDR_TOP - self.FIXADDR_SIZE
        #: FIXADDR_TOP - (__end_of_fixed_addresses << PAGE_SHIFT): the lowest fixmap address
        #: including the boot-time slots (2.6's FIXADDR_BOOT_START).
        self.FIXADDR_BOOT_START = FIXADDR_TOP - (self.end_of_fixed << PAGE_SHIFT)

    def index(self, name: str) -> int:
        """The value of enumerator ``name`` (e.g. ``FIX_APIC_BASE``) in this configuration."""
        special = {
            "FIX_KMAP_BEGIN": self.FIX_KMAP_BEGIN, "FIX_KMAP_END": self.FIX_KMAP_END,
            "__end_of_permanent_fixed_addresses": self.end_of_permanent,
            "FIX_BTMAP_END": self.FIX_BTMAP_END, "FIX_BTMAP_BEGIN": self.FIX_BTMAP_BEGIN,
            "__end_of_fixed_addresses": self.end_of_fixed,
        }
        if name in special and special[name] is not None:
            return special[name]  # type: ignore[return-value]
        for label, first, last in self.ranges + self.trailing:
            parts = label.split("..")
            if parts[0] == name:
                return first
            if len(parts) == 2 and parts[1] == name:
                return last
        raise HighmemError(f"fixmap entry {name!r} does not exist in this configuration")

    def name_of(self, idx: int) -> str:
        """The enumerator at fixmap index ``idx``: ``FIX_APIC_BASE``, ``FIX_BTMAP_END+3`` (inside a range),
        or a sentence part for an index outside the enum."""
        for label, first, last in self.ranges + [("FIX_BTMAP_END..FIX_BTMAP_BEGIN", self.FIX_BTMAP_END,
                                                   self.FIX_BTMAP_BEGIN)] + self.trailing:
            if first <= idx <= last:
                parts = label.split("..")
                if idx == first:
                    return parts[0]
                return parts[1] if idx == last and len(parts) == 2 else f"{parts[0]}+{idx - first}"
        if idx < 0:
            return f"index {idx}, above FIXADDR_TOP"
        if idx < self.FIX_BTMAP_END:
            return f"index {idx}, the gap before the boot-time entries"
        return f"index {idx}, past __end_of_fixed_addresses"

    def fix_to_virt_unchecked(self, idx: int) -> int:
        """``__fix_to_virt(idx)``: no range check, as the macro."""
        return self.FIXADDR_TOP - (idx << PAGE_SHIFT)

    def fix_to_virt(self, idx: int) -> int:
        """``fix_to_virt(idx)``: an index past ``__end_of_fixed_addresses`` does not exist.

        In the kernel that is a link-time error (``__this_fixmap_does_not_exist``);
        here it raises :class:`HighmemError` naming the index.
        """
        if not isinstance(idx, int) or idx < 0 or idx >= self.end_of_fixed:
            raise HighmemError(
                f"fixmap index {idx} does not exist: __end_of_fixed_addresses is {self.end_of_fixed} "
                "(the kernel fails to link: __this_fixmap_does_not_exist)"
            )
        return self.fix_to_virt_unchecked(idx)

    def entries(self) -> list[tuple[str, int, int, int, int]]:
        """Every permanent range and the boot slots: (name, first, last, top vaddr, bottom vaddr)."""
        out = [(name, a, b, self.fix_to_virt_unchecked(a), self.fix_to_virt_unchecked(b))
               for name, a, b in self.ranges]
        out.append(("FIX_BTMAP_END..FIX_BTMAP_BEGIN", self.FIX_BTMAP_END, self.FIX_BTMAP_BEGIN,
                    self.fix_to_virt_unchecked(self.FIX_BTMAP_END),
                    self.fix_to_virt_unchecked(self.FIX_BTMAP_BEGIN)))
        out += [(name, a, b, self.fix_to_virt_unchecked(a), self.fix_to_virt_unchecked(b))
                for name, a, b in self.trailing]
        return out
