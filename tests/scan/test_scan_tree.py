"""Trees: the kernel version in the top-level Makefile decides what kmap_atomic's type argument means."""

from __future__ import annotations

from pathlib import Path

from highmem.scan import scan_paths

SRC = """\
static void bounce_copy(struct page *page, char *buf, int len)
{
\tchar *vto;

\tlock_page(page);
\tvto = kmap_atomic(page, KM_BOUNCE_READ);
\tmemcpy(vto, buf, len);
\tkunmap_atomic(vto, KM_BOUNCE_READ);
\tunlock_page(page);
}
"""


def _tree(tmp_path: Path, patchlevel: int, sublevel: int) -> Path:
    (tmp_path / "mm").mkdir()
    (tmp_path / "Makefile").write_text(f"VERSION = 2\nPATCHLEVEL = {patchlevel}\nSUBLEVEL = {sublevel}\n")
    (tmp_path / "mm" / "b.c").write_text(SRC)
    return tmp_path


def test_tree_before_2_6_37_checks_km_type_context(tmp_path: Path) -> None:
    """In a 2.6.36 tree KM_BOUNCE_READ with interrupts on is a wrong-context warning."""
    res = scan_paths([str(_tree(tmp_path, 6, 36))])
    assert [f.rule for f in res.findings] == ["wrong-context"]


def test_tree_from_2_6_37_ignores_km_type(tmp_path: Path) -> None:
    """From 2.6.37 the type argument is ignored (a stack map): no wrong-context."""
    assert scan_paths([str(_tree(tmp_path, 6, 37))]).findings == []
