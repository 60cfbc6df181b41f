"""Kernel configuration of a simulated machine: Kconfig options, CPU features and machine size.

:func:`make_config` checks every setting against the :class:`~highmem.kernel.profile.Profile`
it is handed (options, defaults and Kconfig rules are the profile's) and returns a frozen
:class:`KernelConfig` that carries the profile as ``generation``.  Looking a profile up by
name is the registry's job (:func:`highmem.profiles.make_config`); this layer never does it.
Each profile's options and defaults are tabled in its module and in docs/profiles.md.

CPU features are not Kconfig: ``cpu_has_pse`` (PSE large pages for lowmem), ``cpu_has_pge``
(global TLB entries) and ``cpu_has_nx`` (the NX bit under PAE; its default is the profile's,
from the generation's typical hardware).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from highmem._record import field, record
from highmem.errors import HighmemError
from highmem.kernel.kmap_types import KM_TYPE_VARIANTS
from highmem.kernel.profile import Profile

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "KernelConfig",
    "parse_size",
    "parse_config_assignments",
    "make_config",
]

MiB = 1 << 20
GiB = 1 << 30
MIN_MEMORY = 16 * MiB
MAX_MEMORY_NONPAE = 4 * GiB
MAX_MEMORY_PAE = 64 * GiB
_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` such as ``2G``, ``512M``, ``1536MiB`` or a plain byte count."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    m = _SIZE_RE.match(str(text))
    if not m:
        raise HighmemError(
            f"memory size {text!r} is not a size: write a number with an optional unit, e.g. 512M or 2G"
        )
    n = int(m.group(1))
    unit = m.group(2).lower()
    return n << {"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[unit]


def _yn(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v == "y":
        return True
    if v == "n":
        return False
    raise HighmemError(f"config value {name}={value} is not y or n: Kconfig booleans here are y or n")


def parse_config_assignments(items: Iterable[str], prof: Profile) -> dict[str, bool]:
    """``["DEBUG_HIGHMEM=y", ...]`` as ``{"DEBUG_HIGHMEM": True, ...}``; rejects options the profile lacks."""
    profile = prof.name
    out: dict[str, bool] = {}
    for item in items:
        if "=" not in item:
            raise HighmemError(f"config setting {item!r} has no '=': write NAME=y or NAME=n")
        name, value = item.split("=", 1)
        name = name.strip()
        if name.startswith("CONFIG_"):
            name = name[len("CONFIG_") :]
        if name not in prof.options:
            hint = prof.notes.get(name)
            if hint:
                raise HighmemError(f"config option {name!r} does not apply to profile {profile}: {hint}")
            raise HighmemError(
                f"config option {name!r} is not modelled for profile {profile}: its options are "
                f"{', '.join(prof.options)}"
            )
        out[name] = _yn(name, value)
    return out


@record(frozen=True)
class KernelConfig:
    """A validated configuration: profile, Kconfig options, CPUs, memory, km types, CPU features.

    ``generation`` is the :class:`~highmem.kernel.profile.Profile` the configuration was checked
    against (``profile`` is its name); :class:`~highmem.kernel.machine.Machine` boots with it.
    """

    profile: str = "linux-2.4"
    options: Mapping[str, bool] = field(default_factory=lambda: MappingProxyType({}))
    NR_CPUS: int = 32
    cpus: int = 2
    memory: int = 2 * GiB
    km_types: str = "2.4.22"
    #: CPU features (not Kconfig): PSE large pages for lowmem, PGE global entries.
    cpu_has_pse: bool = True
    cpu_has_pge: bool = True
    #: A smaller LAST_PKMAP (a departure, see Machine); None keeps the kernel's.
    last_pkmap: int | None = None
    #: The CPU has NX (execute disable, bit 63 of a PAE entry); only PAE entries have the bit.
    cpu_has_nx: bool = False
    generation: Profile | None = field(default=None, compare=False, repr=False)

    def __getitem__(self, name: str) -> bool:
        return self.options[name]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # MappingProxyType does not pickle; configurations travel to worker processes.
        return (_rebuild_config, (self.profile, dict(self.options), self.NR_CPUS, self.cpus, self.memory,
                                  self.km_types, self.cpu_has_pse, self.cpu_has_pge, self.last_pkmap,
                                  self.cpu_has_nx, self.generation))

    @property
    def MAX_IO_APICS(self) -> int:
        """8, or 32 with X86_CLUSTERED_APIC (2.4.22 include/asm-i386/apicdef.h)."""
        return 32 if self.options.get("X86_CLUSTERED_APIC") else 8

    def get(self, name: str, default: bool = False) -> bool:
        """An option's value, or ``default`` when this profile does not have the option."""
        return self.options.get(name, default)

    def describe(self) -> str:
        """The options as a Kconfig-style list of ``CONFIG_NAME=y`` lines."""
        return "\n".join(
            f"CONFIG_{k}={'y' if v else 'n'}" for k, v in self.options.items()
        )


def _rebuild_config(profile: str, options: dict[str, bool], *rest: Any) -> KernelConfig:
    return KernelConfig(profile, MappingProxyType(options), *rest)


def make_config(
    prof: Profile,
    *,
    cpus: int | None = None,
    nr_cpus: int | None = None,
    pae: bool = False,
    km_types: str = "2.4.22",
    memory: str | int = "2G",
    config: Mapping[str, bool] | Iterable[str] | None = None,
    cpu_has_pse: bool = True,
    cpu_has_pge: bool = True,
    cpu_has_nx: bool | None = None,
    last_pkmap: int | None = None,
) -> KernelConfig:
    """Check every setting against profile ``prof`` and return the :class:`KernelConfig`; one
    sentence on the first bad one.  ``cpu_has_nx`` None takes the profile's default."""
    if not isinstance(prof, Profile):
        raise HighmemError(f"{prof!r} is not a kernel profile: look one up with highmem.profiles.get_profile "
                           "or call highmem.make_config, which takes a profile name")
    profile = prof.name
    if km_types not in KM_TYPE_VARIANTS:
        raise HighmemError(
            f"km type list {km_types!r} does not exist: choose {' or '.join(KM_TYPE_VARIANTS)}"
        )
    if km_types != "2.4.22" and profile != "linux-2.4":
        raise HighmemError(f"km type list {km_types!r} applies only to profile linux-2.4: {profile} has its own "
                           "km_type enum; drop the setting")
    if config is None:
        given: dict[str, bool] = {}
    elif isinstance(config, Mapping):
        given = parse_config_assignments((f"{k}={'y' if v else 'n'}" if isinstance(v, bool) else f"{k}={v}"
                                          for k, v in config.items()), prof)
    else:
        given = parse_config_assignments(config, prof)
    if pae:
        if given.get("X86_PAE") is False:
            raise HighmemError("--pae contradicts X86_PAE=n: drop one of them")
        given["X86_PAE"] = True
    opts = dict(prof.defaults)
    opts.update({k: v for k, v in given.items() if k in prof.defaults})
    prof.kconfig(opts, given)
    if opts["X86_PAE"] and not opts["HIGHMEM"]:
        raise HighmemError("config X86_PAE=y needs HIGHMEM=y: PAE is CONFIG_HIGHMEM64G, a highmem option")
    ordered = {k: opts[k] for k in prof.options}
    smp = ordered["SMP"]

    if nr_cpus is None:
        nr_cpus = prof.nr_cpus_default if smp else 1
    if not isinstance(nr_cpus, int) or isinstance(nr_cpus, bool) or nr_cpus < 1:
        raise HighmemError(f"NR_CPUS={nr_cpus} is invalid: it must be a whole number of at least 1")
    if not smp and nr_cpus != 1:
        raise HighmemError(f"NR_CPUS={nr_cpus} needs SMP=y: a uniprocessor kernel has NR_CPUS 1")
    if nr_cpus > prof.max_nr_cpus:
        why = ("2.4's i386 CPU masks are one 32-bit word" if profile == "linux-2.4"
               else f"i386 {prof.version} allows at most {prof.max_nr_cpus} (X86_BIGSMP)")
        raise HighmemError(f"NR_CPUS={nr_cpus} is above {prof.max_nr_cpus}: {why}")
    if cpus is None:
        cpus = min(2, nr_cpus)
    if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1:
        raise HighmemError(f"online CPU count {cpus} is invalid: at least one CPU must be online")
    if cpus > nr_cpus:
        raise HighmemError(f"{cpus} online CPUs exceed NR_CPUS={nr_cpus}: a kernel runs at most NR_CPUS CPUs")

    size = parse_size(memory)
    limit = MAX_MEMORY_PAE if ordered["X86_PAE"] else MAX_MEMORY_NONPAE
    if size < MIN_MEMORY:
        raise HighmemError(f"memory size {_fmt(size)} is below the minimum of 16 MiB: the model needs ZONE_DMA whole")
    if size > limit:
        arch = ("PAE (X86_PAE=y) addresses 64 GiB" if ordered["X86_PAE"]
                else "non-PAE i386 addresses 4 GiB; add --pae for up to 64 GiB")
        raise HighmemError(f"memory size {_fmt(size)} is above the architecture's limit: {arch}")
    if last_pkmap is not None:
        full = 512 if ordered["X86_PAE"] else 1024
        if (isinstance(last_pkmap, bool) or not isinstance(last_pkmap, int) or last_pkmap < 2
                or last_pkmap & (last_pkmap - 1) or last_pkmap > full):
            raise HighmemError(f"LAST_PKMAP={last_pkmap} is invalid: it must be a power of two from 2 to {full} "
                               "(LAST_PKMAP_MASK needs a power of two)")
    for feature, value in (("cpu_has_pse", cpu_has_pse), ("cpu_has_pge", cpu_has_pge), ("cpu_has_nx", cpu_has_nx)):
        if value is not None and not isinstance(value, bool):
            raise HighmemError(f"CPU feature {feature}={value!r} is not a boolean: write true or false")
    nx = prof.cpu_has_nx_default if cpu_has_nx is None else cpu_has_nx
    return KernelConfig(profile, MappingProxyType(ordered), nr_cpus, cpus, size & ~0xFFF, km_types,
                        cpu_has_pse, cpu_has_pge, last_pkmap, nx, prof)


def _fmt(size: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} bytes"
