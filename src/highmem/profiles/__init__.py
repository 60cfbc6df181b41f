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

from highmem.errors import HighmemError
from highmem.kernel.profile import FixmapLayout, Profile, build_fixmap

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from highmem.kernel.config import KernelConfig
    from highmem.kernel.machine import Machine

__all__ = ["Profile", "FixmapLayout", "build_fixmap", "get_profile", "PROFILE_NAMES", "make_config", "boot"]


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


def make_config(profile: str | Profile = "linux-2.4", **kwargs: Any) -> KernelConfig:
    """:func:`highmem.kernel.config.make_config` for the profile called ``profile`` (or given as
    a :class:`Profile`); the name is checked here, one sentence for an unknown one."""
    from highmem.kernel.config import make_config as _make_config

    prof = profile if isinstance(profile, Profile) else get_profile(profile)
    return _make_config(prof, **kwargs)


def boot(profile: str | Profile = "linux-2.4", **kwargs: Any) -> Machine:
    """Boot a machine of the profile called ``profile``; keyword arguments as :func:`make_config`."""
    from highmem.kernel.machine import Machine

    return Machine(make_config(profile, **kwargs))
