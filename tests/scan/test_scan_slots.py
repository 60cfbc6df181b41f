"""Stack slots: a mapping made again at the same depth has the stale pointer's address."""

from __future__ import annotations

from pathlib import Path

from scan_support import diag as _diag

_WALK = """#include <linux/highmem.h>

static int walk(struct page *page, struct page *other, int n)
{
	u32 *start, *p;
	int i;

	start = p = kmap_local_page(page);
	for (i = 0; i < n; i++, p++) {
		if (!*p)
			continue;
		kunmap_local(start);
		if (reclaim(page, i)) {
			%s
			break;
		}
		p = kmap_local_page(page) + i;
	}
	kunmap_local(start);
	return i;
}
"""


def test_slots_unmap_through_stale_pointer_releases_remap(tmp_path: Path) -> None:
    """Re-mapped (result kept or dropped) with nothing else live: unmapping the old pointer pops it."""
    assert _diag(tmp_path, _WALK % "kmap_local_page(page);") == []


def test_slots_remap_above_live_mapping_is_another_slot(tmp_path: Path) -> None:
    """With another mapping live at the re-map, the slot differs: the unmap is a double unmap."""
    text = (_WALK % "kmap_local_page(page);").replace(
        "		kunmap_local(start);\n		if (reclaim",
        "		kunmap_local(start);\n		kmap_local_page(other);\n		if (reclaim")
    assert [r for _, r, _ in _diag(tmp_path, text)][:1] == ["double-unmap"]


def test_slots_stale_pointer_read_after_remap_warns(tmp_path: Path) -> None:
    """A store through the stale pointer after the re-map is still reported as use-after-unmap."""
    assert _diag(tmp_path, _WALK % "kmap_local_page(page);\n\t\t\t*start = 0;") == [
        (15, "use-after-unmap", "'*start' dereferences 'p' after it was unmapped at line 12")]
