"""The state budget: cutting paths at a join keeps every distinct set of mappings."""

from __future__ import annotations

from pathlib import Path

from scan_support import diag as _diag

from highmem.scan.analysis import MAX_STATES


def _tally(tests: int) -> str:
    # Each test is repeated after the unmap, so the analysis keeps its outcome: 2**tests paths
    # that differ only in what they know, and one of each set of them that leaks at `goto out`.
    first = "".join(f"\tif (f & {1 << i})\n\t\tn++;\n" for i in range(tests))
    again = "".join(f"\tif (f & {1 << i})\n\t\tn--;\n" for i in range(tests))
    return f"""#include <linux/highmem.h>

static int tally(struct page *page, unsigned int f, int n)
{{
	char *p;

{first}	p = kmap_local_page(page);
	if (n > 3)
		goto out;
	memset(p, 0, n);
	kunmap_local(p);
{again}out:
	return n;
}}
"""


def test_budget_leak_survives_state_cut(tmp_path: Path) -> None:
    """With twice MAX_STATES paths at the label, the leaking one is still analysed and reported."""
    tests = 7
    assert 2 ** tests > MAX_STATES
    line = 7 + 2 * tests
    assert _diag(tmp_path, _tally(tests)) == [
        (line + 5 + 2 * tests + 1, "kmap-leak",
         f"'p' from kmap_local_page() at line {line} is not released on this path; call kunmap_local() "
         "before returning")]


def test_budget_leak_found_under_budget(tmp_path: Path) -> None:
    """Under the budget the same function gives the same single leak (the cut changes nothing)."""
    assert [r for _, r, _ in _diag(tmp_path, _tally(3))] == ["kmap-leak"]
