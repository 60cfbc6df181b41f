"""Profile ``linux-2.4``: Linux 2.4.22, i386 (the generation the seed describes).

Sources: include/asm-i386/{kmap_types.h, fixmap.h, highmem.h, page.h,
pgtable.h}, arch/i386/mm/init.c, mm/highmem.c (2.4.22).  One fixed fixmap
slot per km_type per CPU; ``kmap_atomic`` does not touch preemption (2.4 is
not preemptible) and flushes the slot's TLB entry on map; ``kunmap_atomic``
does nothing without CONFIG_DEBUG_HIGHMEM.  See :mod:`highmem.kernel.highmem`.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.kernel import highmem as _hm
from highmem.kernel.kmap_types import KM_TYPE_VARIANTS
from highmem.kernel.profile import FixmapLayout, Profile, build_fixmap
from highmem.profiles.common import smp_apics

TYPE_CHECKING = False

if TYPE_CHECKING:
    from highmem.kernel.config import KernelConfig
    from highmem.kernel.machine import Machine

__all__ = ["PROFILE"]

OPTIONS = ("SMP", "X86_LOCAL_APIC", "X86_IO_APIC", "X86_CLUSTERED_APIC", "X86_VISWS_APIC", "X86_F00F_WORKS_OK",
           "X86_SUMMIT", "HIGHMEM", "ACPI_BOOT", "DEBUG_HIGHMEM", "X86_PAE", "X86_INVLPG")
DEFAULTS = {"SMP": True, "X86_CLUSTERED_APIC": False, "X86_VISWS_APIC": False, "X86_F00F_WORKS_OK": True,
            "X86_SUMMIT": False, "HIGHMEM": True, "ACPI_BOOT": False, "DEBUG_HIGHMEM": False, "X86_PAE": False,
            "X86_INVLPG": True}
NR_FIX_BTMAPS = 16
VMALLOC_OFFSET = 8 << 20
FIX_ACPI_PAGES = 4
PKMAP_BASE = 0xFE000000
#: -PAGE_OFFSET - VMALLOC_RESERVE (include/asm-i386/page.h): 896 MiB.
MAXMEM = 0x38000000


def km_type_names(config: KernelConfig) -> tuple[str, ...]:
    return KM_TYPE_VARIANTS[config.km_types]


def fixmap(config: KernelConfig, slots_per_cpu: int) -> FixmapLayout:
    o = config.options
    e: list[tuple[str, int]] = []
    if o["X86_LOCAL_APIC"]:
        e.append(("FIX_APIC_BASE", 1))
    if o["X86_IO_APIC"]:
        e.append(("FIX_IO_APIC_BASE_0..FIX_IO_APIC_BASE_END", 32 if o["X86_CLUSTERED_APIC"] else 8))
    if o["X86_VISWS_APIC"]:
        e += [("FIX_CO_CPU", 1), ("FIX_CO_APIC", 1), ("FIX_LI_PCIA", 1), ("FIX_LI_PCIB", 1)]
    if not o["X86_F00F_WORKS_OK"]:
        e.append(("FIX_F00F", 1))
    if o["X86_SUMMIT"]:
        e.append(("FIX_CYCLONE_TIMER", 1))
    if o["HIGHMEM"]:
        e.append(("FIX_KMAP_BEGIN..FIX_KMAP_END", slots_per_cpu * config.NR_CPUS))
    if o["ACPI_BOOT"]:
        e.append(("FIX_ACPI_BEGIN..FIX_ACPI_END", FIX_ACPI_PAGES))
    return build_fixmap(e, lambda end: (end, end + NR_FIX_BTMAPS - 1), [])


def areas(config: KernelConfig, fix: FixmapLayout, last_pkmap: int) -> tuple[int, int, int]:
    fixaddr_start = 0xFFFFE000 - (fix.end_of_permanent << 12)
    vmalloc_end = (PKMAP_BASE if config.options["HIGHMEM"] else fixaddr_start) - 2 * 4096
    return PKMAP_BASE, vmalloc_end, MAXMEM


def kconfig(opts: dict[str, bool], given: dict[str, bool]) -> None:
    """2.4.22 arch/i386/config.in: SMP defines X86_LOCAL_APIC and X86_IO_APIC, except on an SGI Visual
    Workstation (X86_VISWS_APIC), which defines the local APIC only, SMP or not; X86_CLUSTERED_APIC
    widens the IO-APIC range and needs it; an M386 build (X86_INVLPG=n) defines X86_F00F_WORKS_OK=n."""
    visws = opts["X86_VISWS_APIC"]
    smp_apics(opts, given, io_apic=not visws)
    if visws and "X86_LOCAL_APIC" not in given:
        opts["X86_LOCAL_APIC"] = True
    if not opts["X86_INVLPG"] and "X86_F00F_WORKS_OK" not in given:
        opts["X86_F00F_WORKS_OK"] = False
    if opts["X86_CLUSTERED_APIC"] and not opts["X86_IO_APIC"]:
        raise HighmemError("config X86_CLUSTERED_APIC=y needs X86_IO_APIC=y: it only widens the IO-APIC range")


def install(m: Machine) -> None:
    m.bind("kmap_atomic", _hm.kmap_atomic)
    m.bind("kunmap_atomic", _hm.kunmap_atomic)


PROFILE = Profile(
    name="linux-2.4", version="2.4.22", source="hooao/linux-2.4.22", options=OPTIONS, defaults=DEFAULTS,
    nr_cpus_default=32, max_nr_cpus=32, FIXADDR_TOP=0xFFFFE000, km_type_names=km_type_names, fixmap=fixmap,
    areas=areas, install=install, slots_per_cpu=lambda c: len(km_type_names(c)), kconfig=kconfig, module=__name__,
    notes={"X86_F00F_BUG": "2.4 names it the other way round: use X86_F00F_WORKS_OK=n",
           "DEBUG_PREEMPT": "2.4 has no preemptible kernel, so no preempt count to debug",
           "PREEMPT": "2.4 has no preemptible kernel: use linux-2.6 or later",
           "DEBUG_KMAP_LOCAL": "kmap_local exists from 5.11: use --profile linux-5.11"},
    extra={"vmalloc_start": lambda high_memory: (high_memory + 2 * VMALLOC_OFFSET - 1) & ~(VMALLOC_OFFSET - 1)},
)
