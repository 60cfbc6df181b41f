"""The wrapper table and suppression comments."""

from __future__ import annotations

from pathlib import Path

import pytest

from highmem.errors import HighmemError
from highmem.scan import builtin_table, load_wrappers, scan_source

LEAKY = b"""
void f(struct page *page)
{
	void *a = my_map(page);

	*(int *)a = 1;
}
"""


def test_wrappers_toml_adds_map_function(tmp_path: Path) -> None:
    """A [wrapper.NAME] entry makes my_map a local map, so its leak is found."""
    t = tmp_path / "w.toml"
    t.write_text('[wrapper.my_map]\naction = "map"\nkind = "local"\npage = 0\n')
    res = scan_source("x.c", LEAKY, load_wrappers(str(t)))
    assert [(f.rule, f.line) for f in res.findings] == [("kmap-leak", 7)]
    assert scan_source("x.c", LEAKY, builtin_table()).findings == []


def test_wrappers_toml_bad_kind_refused(tmp_path: Path) -> None:
    """An unknown kind is one sentence naming the file, the entry and the allowed kinds."""
    t = tmp_path / "w.toml"
    t.write_text('[wrapper.my_map]\naction = "map"\nkind = "fixmap"\n')
    with pytest.raises(HighmemError) as e:
        load_wrappers(str(t))
    assert str(e.value) == (f"wrapper table {str(t)!r}, entry 'my_map': 'kind' must be one of local, atomic, kmtype, "
                            f"pkmap, not 'fixmap'")


def test_wrappers_toml_sleeping_list_extended(tmp_path: Path) -> None:
    """[sleeping] functions adds a call that may sleep."""
    t = tmp_path / "w.toml"
    t.write_text('[sleeping]\nfunctions = ["my_io"]\n')
    src = b"void f(struct page *pg) { void *a = kmap_atomic(pg); my_io(a); kunmap_atomic(a); }\n"
    assert [f.rule for f in scan_source("x.c", src, load_wrappers(str(t))).findings] == ["sleep-in-atomic"]
    assert scan_source("x.c", src, builtin_table()).findings == []


def test_suppression_comment_on_line_hides_finding() -> None:
    """/* highmem: ignore unmap-order */ on the line hides that rule's finding there, and is counted."""
    src = (b"void f(struct page *a, struct page *b)\n{\n\tvoid *x = kmap_local_page(a);\n"
           b"\tvoid *y = kmap_local_page(b);\n\tkunmap_local(x); /* highmem: ignore unmap-order */\n"
           b"\tkunmap_local(y);\n}\n")
    res = scan_source("x.c", src, builtin_table())
    assert (res.findings, res.suppressed) == ([], 1)
    other = src.replace(b"ignore unmap-order", b"ignore kmap-leak")
    assert [f.rule for f in scan_source("x.c", other, builtin_table()).findings] == ["unmap-order"]
