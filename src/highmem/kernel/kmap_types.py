"""``enum km_type``: the uses of atomic kmap slots (include/asm-i386/kmap_types.h).

Two variants of the 2.4 list are offered, because the seed and the source
disagree (spec section 1.2):

* ``"2.4.22"`` - vanilla 2.4.22's eight types, KM_TYPE_NR = 8.  KM_SOFTIRQ0/1
  serve only the CryptoAPI, a late 2.4 addition.
* ``"book"`` - Gorman's 10.3 footnote counts *six* uses on x86: the first six
  members above, same order, KM_TYPE_NR = 6.

``KM_TYPE_NR`` is the enum's last enumerator in C; here it is a separate
integer so that it can never be passed as a slot type by accident.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from highmem.errors import HighmemError

__all__ = ["KM_TYPE_VARIANTS", "km_type_for", "coerce_km_type"]

_KM_2_4_22 = (
    "KM_BOUNCE_READ",
    "KM_SKB_SUNRPC_DATA",
    "KM_SKB_DATA_SOFTIRQ",
    "KM_USER0",
    "KM_USER1",
    "KM_BH_IRQ",
    "KM_SOFTIRQ0",
    "KM_SOFTIRQ1",
)

#: Variant name -> member names in enum order.
KM_TYPE_VARIANTS: dict[str, tuple[str, ...]] = {
    "2.4.22": _KM_2_4_22,
    "book": _KM_2_4_22[:6],
}

_CACHE: dict[tuple[str, ...], Any] = {}


def km_type_for(names: tuple[str, ...]) -> type[IntEnum]:
    """The ``km_type`` enum class with members ``names`` (values 0, 1, ...); cached."""
    cls = _CACHE.get(names)
    if cls is None:
        cls = _CACHE[names] = IntEnum("km_type", [(n, i) for i, n in enumerate(names)])  # type: ignore[misc]
    return cls  # type: ignore[return-value,no-any-return]


def coerce_km_type(enum: type[IntEnum], value: object) -> IntEnum:
    """``value`` (a member, its name, or its number) as a member of ``enum``.

    Raises :class:`HighmemError` for anything outside the enum: in C nothing
    stops a bad type (it silently indexes another CPU's slot), but in the
    model it is a mistake in the scenario, reported as such.
    """
    if isinstance(value, enum):
        return value
    if isinstance(value, str):
        member = enum.__members__.get(value)
        if member is not None:
            return member
        raise HighmemError(
            f"km type {value!r} does not exist in this kernel: its km_type enum is {_names(enum)}"
        )
    if isinstance(value, IntEnum):
        # A member of another generation's enum: map by name.
        return coerce_km_type(enum, value.name)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(enum):
            return enum(value)
        raise HighmemError(
            f"km type {value} is outside enum km_type: valid values are 0 to {len(enum) - 1} ({_names(enum)})"
        )
    raise HighmemError(f"km type {value!r} is not a km_type: use one of {_names(enum)}")


def _names(enum: type[IntEnum]) -> str:
    return ", ".join(m.name for m in enum)
