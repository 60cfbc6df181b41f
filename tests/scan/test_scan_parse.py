"""Parsing kernel idioms: what the parser keeps, what it counts as a failure."""

from __future__ import annotations

from highmem.scan import builtin_table, scan_source
from highmem.scan.cfg import Alt, Loop, Seq, build
from highmem.scan.parse import parse_source

SRC = b"""
static void walk(struct list_head *head)
{
	struct item *it;
	char *p = kmap_local_page(pg);

	list_for_each_entry(it, head, list) {
		use(it);
	}
#ifdef CONFIG_X
	kunmap_local(p);
#else
	kunmap_local(p);
#endif
}
"""


def test_parse_iteration_macro_is_loop_and_ifdef_is_alt() -> None:
    """list_for_each_entry(...) { } becomes a Loop; #ifdef/#else an Alt of two branches."""
    sf = parse_source("x.c", SRC, builtin_table().pattern)
    [fn] = sf.functions
    body = build(fn.body)
    assert isinstance(body, Seq)
    kinds = [type(s).__name__ for s in body.items]
    assert kinds == ["Decl", "Decl", "Loop", "Alt"]
    loop, alt = body.items[2], body.items[3]
    assert isinstance(loop, Loop) and loop.min_iter == 0 and loop.max_iter == 2
    assert isinstance(alt, Alt) and len(alt.branches) == 2


def test_parse_do_while_zero_runs_once() -> None:
    """do { } while (0) is a loop of exactly one iteration."""
    sf = parse_source("x.c", b"void f(void) { do { kunmap_local(p); } while (0); }", builtin_table().pattern)
    [st] = build(sf.functions[0].body).items  # type: ignore[union-attr]
    assert isinstance(st, Loop) and (st.min_iter, st.max_iter) == (1, 1)


def test_parse_broken_function_counted_not_fatal() -> None:
    """A function whose mapping call sits in unparsable text is a counted failure; the others are scanned."""
    src = b"void bad(void) { p = kmap_local_page(pg) ) ) +; }\nvoid good(void) { kunmap_local(q); }\n"
    res = scan_source("x.c", src, builtin_table())
    assert (res.functions, res.failures) == (1, [("bad", 1)])


def test_parse_function_without_api_not_analysed() -> None:
    """Functions that name no mapping call are not parsed into the analysis at all."""
    res = scan_source("x.c", b"int f(int a) { return a + 1; }\n", builtin_table())
    assert (res.mentions, res.functions) == (False, 0)
