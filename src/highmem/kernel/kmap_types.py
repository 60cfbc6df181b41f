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

from highmem.errors import HighmemError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["KM_TYPE_VARIANTS", "km_type_for", "coerce_km_type", "KmTypeValue", "km_type_label",
           "unknown_km_type_message"]

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
#: Enum member names -> what the enum is, for messages ("2.4.22's enum km_type").
_LABELS: dict[tuple[str, ...], str] = {
    _KM_2_4_22: "2.4.22's enum km_type",
    _KM_2_4_22[:6]: 'the book\'s six km types (km_types = "book")',
}


def km_type_for(names: tuple[str, ...], label: str | None = None) -> type[IntEnum]:
    """The ``km_type`` enum class with members ``names`` (values 0, 1, ...); cached.  ``label`` says
    what the enum is in messages (the profile's version)."""
    cls = _CACHE.get(names)
    if cls is None:
        cls = _CACHE[names] = IntEnum("km_type", [(n, i) for i, n in enumerate(names)])  # type: ignore[misc]
    if label is not None:
        _LABELS.setdefault(names, label)
    return cls  # type: ignore[return-value,no-any-return]


def km_type_label(names: tuple[str, ...]) -> str:
    """What the enum with members ``names`` is, for a message ("2.4.22's enum km_type")."""
    return _LABELS.get(tuple(names), "this kernel's enum km_type")


def unknown_km_type_message(value: str, names: tuple[str, ...], label: str | None = None) -> str:
    """The one sentence for a km type name outside ``names`` (in enum order), naming the list's cause."""
    fenced = tuple(names)
    names = tuple(n for n in names if not n.startswith("__KM_FENCE"))
    what = label or _LABELS.get(fenced) or km_type_label(names)
    msg = f"km type {value!r} does not exist in {what}: its members are {', '.join(names)}"
    if names == _KM_2_4_22[:6] and value in _KM_2_4_22:
        msg += '; km_types = "2.4.22" has it'
    return msg


class KmTypeValue(int):
    """An integer km type outside ``enum km_type``, passed from the Python API.

    C does the slot arithmetic with it anyway (``type + KM_TYPE_NR * cpu``): the next CPU's slot,
    or a fixmap entry past FIX_KMAP_END.  The model follows, and the checker reports the map as
    ``slot-out-of-range``.  ``name`` reads like the C expression (``KM_TYPE_NR+1``).
    """

    name: str

    def __new__(cls, value: int, km_type_nr: int) -> KmTypeValue:
        obj = int.__new__(cls, value)
        obj.name = f"KM_TYPE_NR+{value - km_type_nr}" if value >= km_type_nr else str(value)
        return obj


def coerce_km_type(enum: type[IntEnum], value: object) -> IntEnum:
    """``value`` (a member, its name, or its number) as a member of ``enum``.

    A name outside the enum raises :class:`HighmemError` (in C it would not
    compile).  An integer outside it is returned as a :class:`KmTypeValue`:
    C computes a slot from it, and so does the model.
    """
    if isinstance(value, enum) or isinstance(value, KmTypeValue):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        member = enum.__members__.get(value)
        if member is not None:
            return member
        raise HighmemError(unknown_km_type_message(value, tuple(enum.__members__)))
    if isinstance(value, IntEnum):
        # A member of another generation's enum: map by name.
        return coerce_km_type(enum, value.name)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(enum):
            return enum(value)
        return KmTypeValue(value, len(enum))  # type: ignore[return-value]
    raise HighmemError(f"km type {value!r} is not a km_type: use one of {_names(enum)}")


def _names(enum: type[IntEnum]) -> str:
    return ", ".join(m.name for m in enum)
