"""The kernel model: one module per kernel role, named as in Linux."""

from highmem.kernel.config import KernelConfig, make_config
from highmem.kernel.machine import Machine, boot

__all__ = ["KernelConfig", "Machine", "boot", "make_config"]
