"""Kernel generations: one small module of data and hooks per profile, over one kernel model.

A :class:`Profile` says how a generation differs: its Kconfig options and
defaults, its km_type list (or per-CPU / per-task slot stack), its fixmap
enumeration and address-space layout, and the functions that implement
``kmap_atomic`` and friends.  :func:`get_profile` finds one by name.

=================  ==========  ===================================================
profile            as of       atomic kmap design
=================  ==========  ===================================================
``linux-2.4``      2.4.22      one fixed slot per km_type per CPU (the seed)
``linux-2.6``      2.6.32      fixed slots, preempt count, debug context checks
``linux-2.6.37``   2.6.39      per-CPU stack of slots, the type ignored
``linux-5.11``     5.15        kmap_local_page: per-task stack, preemptible
=================  ==========  ===================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from highmem.errors import HighmemError

if TYPE_CHECKING:
    from highmem.kernel.config import KernelConfig
    from highmem.kernel.machine import Machine

__all__ = ["Profile", "FixmapLayout", "get_profile", "PROFILE_NAMES"]


@dataclass
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
    ``btmap(end_of_permanent) -> (FIX_BTMAP_END, FIX_BTMAP_BEGIN)``, then ``trailing``."""
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


@dataclass
class Profile:
    """One kernel generation.  ``install`` binds its primitives onto a booted machine."""

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
    stack_slots: bool = False
    has_kmap_local: bool = False
    preemptible_option: bool = False
    #: Options that apply only to this profile, with what the others use instead.
    notes: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


PROFILE_NAMES = ("linux-2.4", "linux-2.6", "linux-2.6.37", "linux-5.11")


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a one-sentence error for an unknown one."""
    module = _MODULES.get(name)
    if module is None:
        raise HighmemError(f"profile {name!r} does not exist: available profiles are {', '.join(PROFILE_NAMES)}")
    import importlib

    prof: Profile = importlib.import_module(f"highmem.profiles.{module}").PROFILE
    return prof


_MODULES = {"linux-2.4": "linux_2_4", "linux-2.6": "linux_2_6", "linux-2.6.37": "linux_2_6_37",
            "linux-5.11": "linux_5_11"}
