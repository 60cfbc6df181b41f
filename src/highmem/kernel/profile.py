"""What the kernel model needs to know of a generation: the :class:`Profile` a profile module fills in.

The kernel layer never looks a generation up by name: :func:`highmem.kernel.config.make_config`
and :class:`highmem.kernel.machine.Machine` use the ``Profile`` object they are handed (carried by
:attr:`KernelConfig.generation <highmem.kernel.config.KernelConfig.generation>`).  The registry
of names lives one layer up, in :mod:`highmem.profiles`.

A profile is plain data and hooks: its Kconfig options and defaults, its km_type list (or slot
stack size), its ``enum fixed_addresses`` (:class:`FixmapLayout`), its address-space areas and
the ``install`` hook that binds its ``kmap_atomic`` and friends onto a booted machine.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from highmem._record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from highmem.kernel.config import KernelConfig
    from highmem.kernel.machine import Machine

__all__ = ["Profile", "FixmapLayout", "build_fixmap"]


@record
class FixmapLayout:
    """``enum fixed_addresses`` of one configuration: ranges up to the permanent end, the
    boot-time slots, and entries after them."""

    ranges: list[tuple[str, int, int]]
    end_of_permanent: int
    btmap_end: int
    btmap_begin: int
    trailing: list[tuple[str, int, int]]
    end_of_fixed: int


def build_fixmap(entries: list[tuple[str, int]], btmap: Callable[[int], tuple[int, int]],
                 trailing: list[tuple[str, int]]) -> FixmapLayout:
    """Number ``entries`` (name or "FIRST..LAST", count) from 0, place the boot slots with
    ``btmap(end_of_permanent) -> (FIX_BTMAP_END, FIX_BTMAP_BEGIN)``, then ``trailing``.
    Called by each profile's ``fixmap`` hook."""
    ranges: list[tuple[str, int, int]] = []
    n = 0
    for name, count in entries:
        ranges.append((name, n, n + count - 1))
        n += count
    end, begin = btmap(n)
    t: list[tuple[str, int, int]] = []
    k = begin + 1
    for name, count in trailing:
        t.append((name, k, k + count - 1))
        k += count
    return FixmapLayout(ranges, n, end, begin, t, k)


@record(eq=False)
class Profile:
    """One kernel generation.  ``install`` binds its primitives onto a booted machine.

    ``module`` is the dotted name of the module that defines the profile as ``PROFILE``: a
    configuration pickled for a worker process carries that name, not the hooks.
    """

    name: str
    version: str
    source: str
    options: tuple[str, ...]
    defaults: dict[str, bool]
    nr_cpus_default: int
    max_nr_cpus: int
    FIXADDR_TOP: int
    km_type_names: Callable[[KernelConfig], tuple[str, ...]]
    fixmap: Callable[[KernelConfig, int], FixmapLayout]
    #: (PKMAP_BASE, VMALLOC_END, MAXMEM) from the fixmap and configuration
    areas: Callable[[KernelConfig, FixmapLayout, int], tuple[int, int, int]]
    install: Callable[[Machine], None]
    #: slots per CPU in the fixmap (KM_TYPE_NR, or KM_MAX_IDX for kmap_local)
    slots_per_cpu: Callable[[KernelConfig], int]
    #: The generation's Kconfig rules: ``kconfig(opts, given)`` completes ``opts`` (defaults merged
    #: with the ``given`` settings) with the options Kconfig derives, in place, and raises
    #: HighmemError naming the option and the rule for a combination Kconfig cannot produce.
    kconfig: Callable[[dict[str, bool], dict[str, bool]], None] = lambda opts, given: None
    module: str = ""
    stack_slots: bool = False
    has_kmap_local: bool = False
    preemptible_option: bool = False
    #: CPU feature defaults of the generation's typical hardware (see docs/profiles.md)
    cpu_has_nx_default: bool = False
    #: Options that apply only to this profile, with what the others use instead.
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_load_profile, (self.module,))

    def __repr__(self) -> str:
        return f"<Profile {self.name} ({self.version})>"


def _load_profile(module: str) -> Profile:
    """The ``PROFILE`` of ``module`` (unpickling a configuration in a worker process)."""
    prof: Profile = importlib.import_module(module).PROFILE
    return prof
