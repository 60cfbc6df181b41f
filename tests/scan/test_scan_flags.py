"""Value reasoning: flag setters settle their tests, and a map cast to (void) is no leak."""

from __future__ import annotations

from pathlib import Path

from scan_support import diag as _diag

_STORE = """// SPDX-License-Identifier: MIT
#include <linux/highmem.h>

static int slot_store(struct slot_table *t, u32 index, struct page *page, void *dst, size_t len)
{
	void *src;

	if (len > SLOT_MAX_STORE) {
		%s(t, index, SLOT_RAW);
		src = kmap_atomic(page);
		memcpy(dst, src, PAGE_SIZE);
	} else {
		src = t->buffer;
		memcpy(dst, src, len);
	}
	if (unlikely(slot_test_flag(t, index, SLOT_RAW)))
		kunmap_atomic(src);
	return 0;
}
"""


def test_flags_set_flag_settles_the_test_before_the_unmap(tmp_path: Path) -> None:
    """slot_set_flag() before the map makes slot_test_flag() true: the unmap runs, no leak."""
    assert _diag(tmp_path, _STORE % "slot_set_flag") == []


def test_flags_clear_flag_leaves_the_leak(tmp_path: Path) -> None:
    """slot_clear_flag() before the map makes the test false: the mapping leaks at the return."""
    assert _diag(tmp_path, _STORE % "slot_clear_flag") == [
        (18, "kmap-leak", "'src' from kmap_atomic() at line 10 is not released on this path; call kunmap_atomic() "
                          "before returning")]


def test_flags_other_index_is_not_settled(tmp_path: Path) -> None:
    """A flag set on another index says nothing about this one: the leak stays reported."""
    text = (_STORE % "slot_set_flag").replace("slot_set_flag(t, index,", "slot_set_flag(t, index + 1,")
    assert [r for _, r, _ in _diag(tmp_path, text)] == ["kmap-leak"]


def test_flags_void_cast_map_is_no_leak(tmp_path: Path) -> None:
    """(void) kmap_atomic(...) is discarded on purpose (its unmap is elsewhere); a plain call is a leak."""
    body = """#include <linux/highmem.h>

static void entry_balance(struct entry *e, int balance)
{
	if (balance)
		%skmap_atomic(ZERO_PAGE(0), KM_USER1);
	kunmap_atomic(e, KM_USER0);
}
"""
    assert _diag(tmp_path, body % "(void) ") == []
    assert [r for _, r, _ in _diag(tmp_path, body % "")] == ["kmap-leak"]


_COPY = """#include <linux/highmem.h>

static int fill_page(struct page *page, const void __user *src)
{
	void *kaddr = kmap_atomic(page%s);
	int ret;

	ret = copy_from_user(kaddr, src, PAGE_SIZE);
	kunmap_atomic(kaddr%s);
	return ret ? -EFAULT : 0;
}
"""


def test_flags_uaccess_in_stack_kmap_atomic_is_no_sleep(tmp_path: Path) -> None:
    """2.6.37+ kmap_atomic() disables page faults: copy_from_user() fails fast there, it does not sleep."""
    assert _diag(tmp_path, _COPY % ("", "")) == []


def test_flags_uaccess_in_km_type_section_sleeps(tmp_path: Path) -> None:
    """2.4's kmap_atomic(page, KM_USER0) leaves page faults on: copy_from_user() there may sleep."""
    assert _diag(tmp_path, _COPY % (", KM_USER0", ", KM_USER0")) == [
        (8, "sleep-in-atomic", "copy_from_user() may sleep, but it is called inside the kmap_atomic() section of "
                               "'kaddr' (line 5)")]


_LOOKUP = """#include <linux/highmem.h>

static int table_lookup(struct page *page, u32 key, u32 *slot)
{
	struct table_entry *te;
	void *base = kmap_atomic(page);

	te = (struct table_entry *)base + key;
	kunmap_atomic(base);
	%s
}
"""


def test_flags_error_pointer_test_after_unmap_is_no_use(tmp_path: Path) -> None:
    """PTR_ERR_OR_ZERO() on a pointer into an unmapped page reads only its value: no use-after-unmap."""
    assert _diag(tmp_path, _LOOKUP % "return PTR_ERR_OR_ZERO(te);") == []


def test_flags_load_through_pointer_after_unmap_warns(tmp_path: Path) -> None:
    """A load through the same pointer after the unmap stays a use-after-unmap."""
    assert _diag(tmp_path, _LOOKUP % "return te->slot;") == [
        (10, "use-after-unmap", "'te->slot' dereferences 'base' after it was unmapped at line 9")]


_SINK = """#include <linux/highmem.h>

static char sink_page[PAGE_SIZE];

static int fill(struct page *page, char *spare, int bad)
{
	char *out;

	if (page)
		out = kmap_local_page(page);
	else
		out = %s;
	if (bad)
		goto fail;
	memset(out, 0, PAGE_SIZE);
fail:
	if (out != %s)
		kunmap_local(out);
	return 0;
}
"""


def test_flags_mapping_differs_from_static_buffer(tmp_path: Path) -> None:
    """A mapping never equals a static buffer's address: the unmap under `out != sink_page` runs."""
    assert _diag(tmp_path, _SINK % ("sink_page", "sink_page")) == []


def test_flags_mapping_may_equal_pointer_argument(tmp_path: Path) -> None:
    """Compared with a pointer argument the test is undecided: the path that skips the unmap leaks."""
    assert _diag(tmp_path, _SINK % ("spare", "spare")) == [
        (19, "kmap-leak", "'out' from kmap_local_page() at line 10 is not released on this path; call "
                          "kunmap_local() before returning")]


_BLOCKS = """#include <linux/highmem.h>

static int dir_find_space(struct address_space *mapping, int nr_pages, int need)
{
	struct page *page0, *page;
	void *meta, *p;
	int i;

	page0 = find_get_page(mapping, 0);
	meta = kmap(page0);
	for (i = 0; i < nr_pages; i++) {
		if (i == 0) {
			page = page0;
			p = meta;
		} else {
			page = find_get_page(mapping, %s);
			p = kmap(page);
		}
		if (!memchr_inv(p, 0, need))
			goto found;
		if (page != page0)
			kunmap(page);
	}
	kunmap(page0);
	return -ENOSPC;

found:
	memset(p, 0xff, need);
	if (page != page0)
		kunmap(page);
	kunmap(page0);
	return i;
}
"""


def test_flags_lookup_with_other_arguments_is_another_page(tmp_path: Path) -> None:
    """A page looked up at another index differs from page0: `page != page0` holds, the unmap runs."""
    assert _diag(tmp_path, _BLOCKS % "i") == []


def test_flags_same_lookup_may_be_the_same_page(tmp_path: Path) -> None:
    """The very same lookup may return page0 again: the path that skips the unmap leaks."""
    leak = "'p' from kmap() at line 17 is not released on this path; call kunmap() before returning"
    assert _diag(tmp_path, _BLOCKS % "0") == [(25, "kmap-leak", leak), (32, "kmap-leak", leak)]


_BLIT = """#include <linux/highmem.h>

struct blit {
	u8 *dst_addr, *src_addr;
	u32 mapped_dst, mapped_src;
	struct page **dst_pages, **src_pages;
};

static void blit_line(struct blit *d, u32 dst_offset, u32 src_offset, u32 bytes)
{
	while (bytes) {
		u32 dst_page = dst_offset >> PAGE_SHIFT;
		u32 src_page = src_offset >> PAGE_SHIFT;
		bool unmap_dst = d->dst_addr && dst_page != d->mapped_dst;
		bool unmap_src = d->src_addr && (%s);

		if (unmap_src) {
			kunmap_local(d->src_addr);
			d->src_addr = NULL;
		}
		if (unmap_dst) {
			kunmap_local(d->dst_addr);
			d->dst_addr = NULL;
		}
		if (!d->dst_addr) {
			d->dst_addr = kmap_local_page(d->dst_pages[dst_page]);
			d->mapped_dst = dst_page;
		}
		if (!d->src_addr) {
			d->src_addr = kmap_local_page(d->src_pages[src_page]);
			d->mapped_src = src_page;
		}
		memcpy(d->dst_addr, d->src_addr, 64);
		dst_offset += 64;
		src_offset += 64;
		bytes -= 64;
	}
}
"""


def test_flags_test_kept_in_local_settles_later_test(tmp_path: Path) -> None:
    """`unmap_src` is true whenever `unmap_dst` is: src is always released first, in stack order."""
    assert [r for _, r, _ in _diag(tmp_path, _BLIT % "src_page != d->mapped_src || unmap_dst")] == \
        ["escape", "escape"]


def test_flags_independent_local_tests_stay_open(tmp_path: Path) -> None:
    """Without `|| unmap_dst` the destination may be released while the later source is live."""
    assert [r for _, r, _ in _diag(tmp_path, _BLIT % "src_page != d->mapped_src")] == \
        ["unmap-order", "escape", "escape"]


_SCRUB = """#include <linux/highmem.h>

static void scrub_block(struct page *pg, unsigned long offset, u32 size)
{
	unsigned long flags = 0;
	void *virt;

	if (%s)
		local_irq_save(flags);
	virt = kmap_atomic(pg, KM_BOUNCE_READ);
	scrub_words(virt + offset, size);
	kunmap_atomic(virt, KM_BOUNCE_READ);
	if (%s)
		local_irq_restore(flags);
}
"""


def test_flags_lowmem_page_takes_no_slot(tmp_path: Path) -> None:
    """Interrupts off only `if (PageHighMem(pg))`: a lowmem page's kmap_atomic() uses no slot."""
    assert _diag(tmp_path, _SCRUB % ("PageHighMem(pg)", "PageHighMem(pg)")) == []


def test_flags_other_test_leaves_slot_exposed(tmp_path: Path) -> None:
    """Interrupts off under an unrelated test: the path with them on maps KM_BOUNCE_READ exposed."""
    assert _diag(tmp_path, _SCRUB % ("size > 64", "size > 64")) == [
        (10, "wrong-context", "kmap_atomic() maps the mapping of 'pg' in KM_BOUNCE_READ on a path where "
                              "interrupts are enabled; an interrupt that takes KM_BOUNCE_READ overwrites it")]
