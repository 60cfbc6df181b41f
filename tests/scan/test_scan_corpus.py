"""The corpus: each rule finds its buggy file, exactly, and nothing in the fixed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from highmem.scan import scan_paths

CORPUS = Path(__file__).parent / "corpus"


def _diag(name: str) -> list[tuple[int, int, str, str]]:
    res = scan_paths([str(CORPUS / name)])
    return [(f.line, f.column, f.rule, f.message) for f in res.findings]


def _notes(name: str) -> list[list[tuple[int, int, str]]]:
    return [[(n.line, n.column, n.message) for n in f.notes] for f in scan_paths([str(CORPUS / name)]).findings]


def test_unmap_order_buggy_file_reported() -> None:
    """Releasing src before dst is reported at the first unmap with both map sites as notes."""
    assert _diag("unmap_order_bad.c") == [
        (11, 2, "unmap-order", "kunmap_local(src) releases 'src' (mapped at line 7) while the later mapping 'dst' "
                               "(line 8) is still live; local mappings must be released in reverse order")]
    assert _notes("unmap_order_bad.c") == [[(7, 14, "'src' mapped here with kmap_local_page()"),
                                            (8, 14, "the later mapping 'dst' mapped here with kmap_local_page()")]]


def test_kmap_leak_goto_error_path_reported() -> None:
    """The goto error path returns with 'h' still mapped; the early returns keep 'idx' and 'r' mapped."""
    assert _diag("kmap_leak_bad.c") == [
        (15, 2, "kmap-leak", "'h' from kmap_local_page() at line 7 is not released on this path; call kunmap_local() "
                             "before returning"),
        (24, 3, "kmap-leak", "'idx' from kmap() at line 21 is not released on this path; call kunmap() before "
                             "returning"),
        (36, 3, "kmap-leak", "'r' from kmap_atomic() at line 33 is not released on this path; call kunmap_atomic() "
                             "before returning")]


def test_wrong_unmap_four_kinds_reported() -> None:
    """kunmap on a local map, kunmap_local on kmap, the page for the address, and NULL on a path."""
    assert _diag("wrong_unmap_bad.c") == [
        (10, 2, "wrong-unmap", "kunmap(page) releases a kmap() mapping, but 'p' was mapped with kmap_local_page() at "
                               "line 7; use kunmap_local() on the address"),
        (18, 2, "wrong-unmap", "kunmap_local(p) releases a stack mapping, but 'p' was mapped with kmap() at line 15; "
                               "use kunmap(page)"),
        (26, 2, "wrong-unmap", "kunmap_local(page) passes the page pointer; kunmap_local() takes the address "
                               "kmap_local_page() returned for it at line 23"),
        (37, 2, "wrong-unmap", "kunmap_local(p): 'p' holds no mapping on this path"),
    ]


def test_double_unmap_failure_path_reported() -> None:
    """The checksum failure path releases 'addr' at line 11 and again at line 14."""
    assert _diag("double_unmap_bad.c") == [
        (14, 2, "double-unmap", "kunmap_local(addr) releases 'addr' again; it was already unmapped at line 11")]


def test_use_after_unmap_derived_pointer_reported() -> None:
    """r points into base; reading r->len after kunmap_local(base) is a use after unmap."""
    assert _diag("use_after_unmap_bad.c") == [
        (11, 9, "use-after-unmap", "'r->len' dereferences 'base' after it was unmapped at line 10")]


def test_sleep_in_atomic_both_sections_reported() -> None:
    """kernel_write() under kmap_atomic, GFP_KERNEL under a spinlock with a local map."""
    assert _diag("sleep_in_atomic_bad.c") == [
        (8, 16, "sleep-in-atomic", "kernel_write() may sleep, but it is called inside the kmap_atomic() section of "
                                   "'addr' (line 7)"),
        (20, 12, "sleep-in-atomic", "kmalloc() may sleep, but it is called inside the kmap_local_page() section of "
                                    "'addr' (line 19) while a spinlock is held"),
    ]


def test_wrong_context_irq_slot_and_handler_reported() -> None:
    """KM_BOUNCE_READ in process context (after lock_page()); KM_USER0 in a registered interrupt handler."""
    assert _diag("wrong_context_bad.c") == [
        (10, 8, "wrong-context", "kmap_atomic() maps the mapping of 'page' in KM_BOUNCE_READ on a path where "
                                 "interrupts are enabled; an interrupt that takes KM_BOUNCE_READ overwrites it"),
        (19, 12, "wrong-context", "kmap_atomic() maps the mapping of 'd->page' in KM_USER0 in interrupt handler "
                                  "dev_interrupt() (registered at line 27); interrupt code must use a KM_IRQ slot"),
    ]


def test_escape_struct_store_noted() -> None:
    """Storing a local mapping in a structure is a note, not a warning."""
    res = scan_paths([str(CORPUS / "escape_bad.c")])
    assert [(f.line, f.rule, f.severity, f.message) for f in res.findings] == [
        (7, "escape", "note", "'c->base' holds a kmap_local_page() mapping; a local mapping stays valid only "
                              "in this task until its unmap")]


def test_remap_held_slot_shared_slot_reported() -> None:
    """Source and bounce mapped in one KM_IRQ0, two pages compared through one KM_USER0: the first
    address is used after the second map took its slot."""
    assert _diag("remap_held_slot_bad.c") == [
        (13, 14, "remap-held-slot", "'src' passes 'src' in KM_IRQ0, but kmap_atomic() at line 12 mapped another "
                                    "page in KM_IRQ0 since; the access reaches that page"),
        (23, 17, "remap-held-slot", "'pa' passes 'pa' in KM_USER0, but kmap_atomic() at line 22 mapped another "
                                    "page in KM_USER0 since; the access reaches that page"),
    ]
    assert _notes("remap_held_slot_bad.c") == [
        [(11, 8, "'src' mapped here with kmap_atomic()"), (12, 8, "KM_IRQ0 mapped again here")],
        [(21, 13, "'pa' mapped here with kmap_atomic()"), (22, 13, "KM_USER0 mapped again here")]]


@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*_ok.c")))
def test_fixed_file_has_no_warning(name: str) -> None:
    """Every fixed file, and the tricky correct code, scans without a warning."""
    assert [f for f in scan_paths([str(CORPUS / name)]).findings if f.severity == "warning"] == []


def test_every_rule_has_buggy_and_fixed_file() -> None:
    """The corpus holds a buggy and a fixed file for each rule id."""
    from highmem.scan import RULES

    for rule in RULES:
        stem = rule.replace("-", "_")
        assert (CORPUS / f"{stem}_bad.c").is_file() and (CORPUS / f"{stem}_ok.c").is_file(), rule
