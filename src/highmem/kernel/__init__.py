"""The kernel model: one module per kernel role, named as in Linux.

It boots the :class:`~highmem.kernel.profile.Profile` it is handed; looking profiles up by
name (``highmem.boot("linux-2.6")``) is :mod:`highmem.profiles`' job, one layer up.
"""

from highmem.kernel.config import KernelConfig
from highmem.kernel.machine import Machine

__all__ = ["KernelConfig", "Machine"]
