"""enum km_type: the 2.4.22 source list and the book's list (spec 1.1, 1.2), and type coercion."""

from __future__ import annotations

import pytest

import highmem
from highmem.errors import HighmemError
from highmem.kernel.kmap_types import KM_TYPE_VARIANTS, coerce_km_type, km_type_for

KM_2_4_22 = ["KM_BOUNCE_READ", "KM_SKB_SUNRPC_DATA", "KM_SKB_DATA_SOFTIRQ", "KM_USER0", "KM_USER1",
             "KM_BH_IRQ", "KM_SOFTIRQ0", "KM_SOFTIRQ1"]
NAMES_2_4_22 = ", ".join(KM_2_4_22)
NAMES_BOOK = ", ".join(KM_2_4_22[:6])


def test_kmap_types_source_list_in_order() -> None:
    """The 2.4.22 machine's km_type has the source's eight members, values 0..7, and KM_TYPE_NR 8."""
    m = highmem.boot()
    assert [(t.name, int(t)) for t in m.km_type] == [(n, i) for i, n in enumerate(KM_2_4_22)]
    assert m.KM_TYPE_NR == 8


def test_kmap_types_book_list_in_order() -> None:
    """The book variant has the first six members in the same order and KM_TYPE_NR 6."""
    m = highmem.boot(km_types="book")
    assert [(t.name, int(t)) for t in m.km_type] == [(n, i) for i, n in enumerate(KM_2_4_22[:6])]
    assert m.KM_TYPE_NR == 6


def test_kmap_types_variants_table() -> None:
    """KM_TYPE_VARIANTS offers exactly the two lists of spec 1.2."""
    assert {k: list(v) for k, v in KM_TYPE_VARIANTS.items()} == {"2.4.22": KM_2_4_22, "book": KM_2_4_22[:6]}


def test_kmap_types_km_type_nr_is_not_a_member() -> None:
    """KM_TYPE_NR is a separate integer, never a usable slot type."""
    m = highmem.boot()
    assert "KM_TYPE_NR" not in m.km_type.__members__
    with pytest.raises(HighmemError):
        m.kmap_slot(0, "KM_TYPE_NR")


@pytest.mark.parametrize("value", ["KM_USER1", 4], ids=["name", "int"])
def test_kmap_types_coerce_by_name_and_int(value: object) -> None:
    """A name or an int in range coerces to the member with that name and value."""
    m = highmem.boot()
    t = coerce_km_type(m.km_type, value)
    assert t is m.km_type.KM_USER1
    assert (t.name, int(t)) == ("KM_USER1", 4)


def test_kmap_types_coerce_member_is_identity() -> None:
    """A member of the machine's own enum is returned as is."""
    m = highmem.boot()
    assert coerce_km_type(m.km_type, m.km_type.KM_BH_IRQ) is m.km_type.KM_BH_IRQ


def test_kmap_types_coerce_other_variant_member_by_name() -> None:
    """A member of the other variant's enum maps by name, not by number."""
    source = km_type_for(tuple(KM_2_4_22))
    book = km_type_for(tuple(KM_2_4_22[:6]))
    assert coerce_km_type(source, book.KM_USER0) is source.KM_USER0
    with pytest.raises(HighmemError) as exc:
        coerce_km_type(book, source.KM_SOFTIRQ0)
    assert str(exc.value) == (f"km type 'KM_SOFTIRQ0' does not exist in the book's six km types (km_types = "
                              f"\"book\"): its members are {NAMES_BOOK}; km_types = \"2.4.22\" has it")


def test_kmap_types_kmap_slot_accepts_every_form() -> None:
    """kmap_slot gives the same slot for a member, its name and its number."""
    m = highmem.boot()
    assert m.kmap_slot(1, m.km_type.KM_USER0) == m.kmap_slot(1, "KM_USER0") == m.kmap_slot(1, 3) == (20, 0xFFFEA000)


@pytest.mark.parametrize(
    ("km_types", "value", "message"),
    [
        ("2.4.22", "KM_FOO",
         f"km type 'KM_FOO' does not exist in 2.4.22's enum km_type: its members are {NAMES_2_4_22}"),
        ("book", "KM_SOFTIRQ1",
         f"km type 'KM_SOFTIRQ1' does not exist in the book's six km types (km_types = \"book\"): its members are "
         f"{NAMES_BOOK}; km_types = \"2.4.22\" has it"),
        ("2.4.22", 3.0, f"km type 3.0 is not a km_type: use one of {NAMES_2_4_22}"),
        ("2.4.22", True, f"km type True is not a km_type: use one of {NAMES_2_4_22}"),
        ("2.4.22", None, f"km type None is not a km_type: use one of {NAMES_2_4_22}"),
    ],
    ids=["bad-name", "book-lacks-softirq1", "float", "bool", "none"],
)
def test_kmap_types_outside_enum_raises(km_types: str, value: object, message: str) -> None:
    """A type outside the enum is a HighmemError with one sentence naming the value, from every entry point."""
    m = highmem.boot(km_types=km_types)
    page = m.alloc_highpage()
    for call in (lambda: m.kmap_atomic(page, value), lambda: m.kunmap_atomic(0xFFFEA000, value),
                 lambda: m.kmap_slot(0, value)):
        with pytest.raises(HighmemError) as exc:
            call()
        assert str(exc.value) == message
        assert "\n" not in str(exc.value)


def test_kmap_types_bad_type_changes_nothing(record) -> None:
    """kmap_atomic with a type name outside the enum writes no PTE and emits no event."""
    m = highmem.boot()
    page = m.alloc_highpage()
    events = record(m)
    before = m.phys.read(m.kmap_pte & ~0xFFF, 4096)
    with pytest.raises(HighmemError):
        m.kmap_atomic(page, "KM_FOO")
    assert events == []
    assert m.phys.read(m.kmap_pte & ~0xFFF, 4096) == before


def test_kmap_types_bad_variant_name_raises() -> None:
    """An unknown km type list is rejected naming it."""
    with pytest.raises(HighmemError) as exc:
        highmem.make_config(km_types="2.6")
    assert str(exc.value) == "km type list '2.6' does not exist: choose 2.4.22 or book"
