"""Loops: counters change between passes, and exit tests are not evaluated."""

from __future__ import annotations

from pathlib import Path

from scan_support import diag as _diag

_SECOND_PASS = """#include <linux/highmem.h>

static void fill(struct page **pages, void *first, int n)
{
	void *p;
	int i;

	for (i = 0; i < n; i++) {
		if (i == 0)
			p = first;
		else
			p = kmap_local_page(pages[0]);
		memset(p, 0, PAGE_SIZE);
	}
}
"""


def test_loops_counter_is_not_zero_on_second_pass(tmp_path: Path) -> None:
    """After `i++` the test `i == 0` is open again: the map made on the second pass leaks."""
    assert _diag(tmp_path, _SECOND_PASS) == [
        (15, "kmap-leak", "'p' from kmap_local_page() at line 12 is not released on this path; call "
                          "kunmap_local() before returning")]


_FRAGS = """#include <linux/highmem.h>

static void gather(u8 *dest, struct page **frags, unsigned int nr, unsigned int len, unsigned int total)
{
	unsigned int frag = 0;
	u8 *src = kmap_local_page(frags[0]);
	bool unmap = true;

	%s
	while (len < total) {
		memcpy(dest, src, len);
		total -= len;
		dest += len;
		if (unmap) {
			kunmap_local(src);
			unmap = false;
		}
		if (frag < nr) {
			src = kmap_local_page(frags[++frag]);
			unmap = true;
		}
	}
	memcpy(dest, src, total);
	if (unmap)
		kunmap_local(src);
}
"""


def test_loops_use_after_exit_test_not_reported(tmp_path: Path) -> None:
    """The pointer unmapped in the loop's last pass is used after it only if the test allows."""
    assert _diag(tmp_path, _FRAGS % "") == []


def test_loops_unmap_before_loop_still_reported(tmp_path: Path) -> None:
    """Unmapped before the loop is entered: the copy after it reads a stale address on every path."""
    text = _FRAGS % "kunmap_local(src);\n\tunmap = false;"
    assert [(ln, r) for ln, r, _ in _diag(tmp_path, text)] == [(12, "use-after-unmap"), (24, "use-after-unmap")]


_LAST = """#include <linux/highmem.h>

static void pack(struct page *page, int n)
{
	u8 *acc = NULL;
	int i;

	for (i = 0; i < n; i++) {
		if (!acc)
			acc = kmap_local_page(page);
		acc[i] = 1;
		if (i == %s)
			kunmap_local(acc);
	}
}
"""


def test_loops_counting_loop_ends_after_last_pass(tmp_path: Path) -> None:
    """`for (i = 0; i < n; i++)` leaves only after the pass where `i == n - 1` held: released there."""
    assert _diag(tmp_path, _LAST % "n - 1") == []


def test_loops_release_on_another_pass_leaks(tmp_path: Path) -> None:
    """Released when `i == n - 2` instead: the loop can end with the mapping still held."""
    assert [r for _, r, _ in _diag(tmp_path, _LAST % "n - 2")] == ["kmap-leak"]


_DRAIN = """#include <linux/highmem.h>

static void drain(struct page *page, unsigned int len)
{
	u8 *p = kmap_local_page(page);

	while (len) {
		unsigned int n = min(len, 64u);

		memset(p, 0, n);
		len -= n;
		if (%s)
			kunmap_local(p);
	}
}
"""


def test_loops_skipped_loop_that_releases_is_no_leak(tmp_path: Path) -> None:
    """The loop that releases the mapping runs unless `len` is 0 at entry: that path is not a leak."""
    assert _diag(tmp_path, _DRAIN % "!len") == []


def test_loops_zero_test_is_negation(tmp_path: Path) -> None:
    """`len == 0` is the same fact as `!len`: the loop leaves exactly after the releasing pass."""
    assert _diag(tmp_path, _DRAIN % "len == 0") == []


def test_loops_release_under_other_test_leaks(tmp_path: Path) -> None:
    """Released under a test unrelated to the loop's: a pass can end the loop with it held."""
    assert [r for _, r, _ in _diag(tmp_path, _DRAIN % "n < 64")] == ["kmap-leak"]


_SUM = """#include <linux/highmem.h>

static u32 sum_pages(struct page *page, int n)
{
	u32 *v = NULL;
	u32 s = 0;
	int i;

	for (i = 0; i < n; i++) {
		v = kmap_local_page(page);
		s += v[0];
		kunmap_local(v);
	}
	return s + v[1];
}
"""


def test_loops_use_after_loop_that_always_unmaps_warns(tmp_path: Path) -> None:
    """Each pass maps first and unmaps last: the pointer is stale on every exit, so the use warns."""
    assert _diag(tmp_path, _SUM) == [
        (14, "use-after-unmap", "'v[1]' dereferences 'v' after it was unmapped at line 12")]
