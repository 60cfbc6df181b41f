"""The three kinds of failure highmem distinguishes.

* :class:`HighmemError` - the *user* asked for something impossible (a bad
  option, an unknown km type, an address outside the machine).  The message is
  one sentence naming the object and the rule it breaks; the CLI prints it and
  exits with status 2.  Raising it never leaves the machine half-changed.
* :class:`KernelBUG` and :class:`Oops` - the *modelled kernel* hit a ``BUG()``
  or took a kernel-mode page fault.  These are the behaviour under study, not
  mistakes of the tool: a scenario that triggers one gets a finding.
* :class:`SimulatorError` - highmem itself is wrong (an internal invariant
  failed).  Please report it.
"""

from __future__ import annotations

__all__ = ["HighmemError", "KernelBUG", "Oops", "PageFault", "SimulatorError"]


class HighmemError(ValueError):
    """Bad input from the user: a one-sentence message naming the value and the rule."""


class KernelBUG(Exception):
    """The modelled kernel executed ``BUG()`` (2.4's ``out_of_line_bug()``).

    ``function`` is the kernel function whose check failed and ``condition``
    says which check, in the kernel's terms.  ``str()`` reads like the kernel
    log line, e.g. ``kernel BUG in kmap_atomic: slot KM_USER0 of CPU 1
    (fixmap 20, 0xfffea000) is already mapped``.
    """

    def __init__(self, function: str, condition: str, *, cpu: int | None = None) -> None:
        self.function = function
        self.condition = condition
        self.cpu = cpu
        super().__init__(f"kernel BUG in {function}: {condition}")


class Oops(Exception):
    """A fatal kernel-mode exception of the modelled machine (base of :class:`PageFault`)."""


class PageFault(Oops):
    """A kernel-mode access through a virtual address with no present translation.

    In the modelled kernels a fault on a kernel address is an Oops: there is no
    fixup for kmap slots, so the access never completes.
    """

    def __init__(self, vaddr: int, cpu: int, write: bool, level: str) -> None:
        self.vaddr = vaddr
        self.cpu = cpu
        self.write = write
        self.level = level
        access = "write to" if write else "read from"
        super().__init__(
            f"Oops: page fault on CPU {cpu}: {access} {vaddr:#010x}, "
            f"whose {level} is not present"
        )


class SimulatorError(AssertionError):
    """An internal invariant of highmem failed: a bug in the simulator, not in the scenario."""
