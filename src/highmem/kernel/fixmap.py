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
from highmem.kernel.config import KernelConfig

__all__ = ["Fixmap", "FIX_ACPI_PAGES", "NR_FIX_BTMAPS"]

FIX_ACPI_PAGES = 4
NR_FIX_BTMAPS = 16


class Fixmap:
    """The fixmap of one configuration: named indices and their addresses.

    Attributes named as in the kernel: ``FIXADDR_TOP``, ``FIXADDR_START``,
    ``FIX_KMAP_BEGIN``/``FIX_KMAP_END`` (None without HIGHMEM),
    ``__end_of_permanent_fixed_addresses`` (as ``end_of_permanent``) and
    ``__end_of_fixed_addresses`` (as ``end_of_fixed``).
    """

    def __init__(self, config: KernelConfig, km_type_nr: int, FIXADDR_TOP: int = 0xFFFFE000) -> None:
        opts = config.options
        self.FIXADDR_TOP = FIXADDR_TOP
        #: (name, first index, last index) in enum order; single entries have first == last.
        self.ranges: list[tuple[str, int, int]] = []
        n = 0

        def add(name: str, count: int = 1, end_name: str | None = None) -> None:
            nonlocal n
            self.ranges.append((name if end_name is None else f"{name}..{end_name}", n, n + count - 1))
            n += count

        if opts["X86_LOCAL_APIC"]:
            add("FIX_APIC_BASE")
        if opts["X86_IO_APIC"]:
            add("FIX_IO_APIC_BASE_0", config.MAX_IO_APICS, "FIX_IO_APIC_BASE_END")
        if opts["X86_VISWS_APIC"]:
            for name in ("FIX_CO_CPU", "FIX_CO_APIC", "FIX_LI_PCIA", "FIX_LI_PCIB"):
                add(name)
        if not opts["X86_F00F_WORKS_OK"]:
            add("FIX_F00F")
        if opts["X86_SUMMIT"]:
            add("FIX_CYCLONE_TIMER")
        self.FIX_KMAP_BEGIN: int | None = None
        self.FIX_KMAP_END: int | None = None
        if opts["HIGHMEM"]:
            self.FIX_KMAP_BEGIN = n
            self.FIX_KMAP_END = n + km_type_nr * config.NR_CPUS - 1
            add("FIX_KMAP_BEGIN", km_type_nr * config.NR_CPUS, "FIX_KMAP_END")
        if opts["ACPI_BOOT"]:
            add("FIX_ACPI_BEGIN", FIX_ACPI_PAGES, "FIX_ACPI_END")
        self.end_of_permanent = n
        self.FIX_BTMAP_END = n
        self.FIX_BTMAP_BEGIN = n + NR_FIX_BTMAPS - 1
        self.end_of_fixed = n + NR_FIX_BTMAPS
        self.FIXADDR_SIZE = self.end_of_permanent << PAGE_SHIFT
        self.FIXADDR_START = FIXADDR_TOP - self.FIXADDR_SIZE

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
        for label, first, last in self.ranges:
            parts = label.split("..")
            if parts[0] == name:
                return first
            if len(parts) == 2 and parts[1] == name:
                return last
        raise HighmemError(f"fixmap entry {name!r} does not exist in this configuration")

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
        return out
