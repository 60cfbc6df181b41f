"""Argument checks of the public kernel API: one sentence (a :class:`HighmemError`) for a wrong
type or value, raised before the call changes anything.

The checks run at the top of each public entry point of :class:`highmem.kernel.machine.Machine`,
before its scheduling point, so a rejected call takes no step, writes no byte, takes no lock and
leaves every PTE, TLB entry and pkmap count as it was.  Hot paths check with ``type(x) is int``
first and build the message only when a check fails.
"""

from __future__ import annotations

from highmem.errors import HighmemError
from highmem.hw.cpu import check_range

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["ADDR_END", "MAX_ACCESS", "check_int", "check_vaddr", "check_size", "check_access", "check_data",
           "check_name"]

#: One past the last 32-bit virtual address.
ADDR_END = 1 << 32
#: Bytes one load, store or copy of the library moves (as the TOML loader's limit).
MAX_ACCESS = 16 << 20


def check_int(function: str, what: str, value: Any, lo: int, hi: int) -> int:
    """``value`` as an int in ``lo..hi-1`` (bool refused), else one sentence naming ``function``."""
    if type(value) is not int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise HighmemError(f"{function}: {what} must be an integer, not {_show(value)}")
        value = int(value)
    if not lo <= value < hi:
        raise HighmemError(f"{function}: {what} {value} is out of range: it is {lo} to {hi - 1}")
    return value


def check_vaddr(function: str, what: str, value: Any) -> int:
    """A 32-bit virtual address."""
    if type(value) is int and 0 <= value < ADDR_END:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise HighmemError(f"{function}: {what} must be an integer address, not {_show(value)}")
    raise HighmemError(f"{function}: {what} {value:#x} is not a 32-bit virtual address (0 to {ADDR_END - 1:#x})")


def check_size(function: str, value: Any, lo: int = 1) -> int:
    """A byte count, ``lo`` to :data:`MAX_ACCESS`."""
    if type(value) is int and lo <= value <= MAX_ACCESS:
        return value
    return check_int(function, "size", value, lo, MAX_ACCESS + 1)


def check_access(function: str, vaddr: Any, size: Any) -> None:
    """A load, store or copy of ``size`` bytes at ``vaddr``: a whole ``size`` up to :data:`MAX_ACCESS`,
    then the address space's own rule (:func:`highmem.hw.cpu.check_range`: integer, non-empty,
    inside the 32 bits)."""
    if type(size) is not int:
        if isinstance(size, bool) or not isinstance(size, int):
            raise HighmemError(f"{function}: size must be an integer, not {_show(size)}")
        size = int(size)
    if size > MAX_ACCESS:
        raise HighmemError(f"{function}: size {size} is too large: one access moves at most {MAX_ACCESS} bytes")
    check_range(vaddr, size)


def check_data(function: str, value: Any) -> bytes:
    """Bytes to store: bytes, bytearray or memoryview, at most :data:`MAX_ACCESS` of them (an empty
    store is refused by :func:`check_access`).

    An int is refused: ``bytes(5)`` would silently store five zero bytes.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        if len(data) > MAX_ACCESS:
            raise HighmemError(f"{function}: data of {len(data)} bytes is too large: one access moves at most "
                               f"{MAX_ACCESS} bytes")
        return data
    raise HighmemError(f"{function}: data must be bytes, not {_show(value)}")


def check_name(function: str, what: str, value: Any) -> str:
    """A name (lock, wait queue, completion, interrupt): a non-empty string."""
    if isinstance(value, str) and value:
        return value
    raise HighmemError(f"{function}: {what} must be a non-empty string, not {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    return (text[:60] + "...") if len(text) > 60 else text
