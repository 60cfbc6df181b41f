// SPDX-License-Identifier: MIT
/* Correct code that a careless checker would flag: every function here is right. */
#include <linux/highmem.h>

#define copy_bytes(d, s, n) do { memcpy((d), (s), (n)); } while (0)

/* Nested maps released in reverse order. */
static void copy_nested(struct page *dp, struct page *sp)
{
	void *s = kmap_local_page(sp);
	void *d = kmap_local_page(dp);

	copy_bytes(d, s, PAGE_SIZE);
	kunmap_local(d);
	kunmap_local(s);
}

/* A map and its unmap in each iteration of a loop, and of an iteration macro. */
static void sum_pages(struct page **pages, int n, struct list_head *head, u32 *sum)
{
	struct chunk *c;
	int i;

	for (i = 0; i < n; i++) {
		u32 *p = kmap_local_page(pages[i]);

		*sum += p[0];
		kunmap_local(p);
	}
	list_for_each_entry(c, head, list) {
		u32 *p = kmap_local_page(c->page);

		if (!p[0]) {
			kunmap_local(p);
			continue;
		}
		*sum += p[0];
		kunmap_local(p);
	}
}

/* Error paths that do unmap, through goto and through an early return. */
static int parse_block(struct page *page, struct blk *out)
{
	struct blk *b = kmap_local_page(page);
	int err = -EINVAL;

	if (b->magic != BLK_MAGIC) {
		kunmap_local(b);
		return -EIO;
	}
	if (b->len > BLK_MAX)
		goto out;
	*out = *b;
	err = 0;
out:
	kunmap_local(b);
	return err;
}

/* A map only when the page is in high memory, tested twice. */
static void touch(struct page *page)
{
	char *p;

	if (PageHighMem(page))
		p = kmap_local_page(page);
	else
		p = page_address(page);
	p[0] = 1;
	if (PageHighMem(page))
		kunmap_local(p);
}

/* An address (and a pointer derived from it) handed to a callee, unmapped after. */
static void hash_page(struct page *page, unsigned int off, struct hash *h)
{
	u8 *base = kmap_local_page(page);
	u8 *p = base + off;

	hash_update(h, p, PAGE_SIZE - off);
	kunmap_local(p);
}

/* Configuration branches are both paths; a statement expression computes a value. */
static int checked_copy(struct page *page, void *buf)
{
	void *addr = kmap_local_page(page);
	int ret = ({ int __n = PAGE_SIZE; memcpy(buf, addr, __n); __n; });

#ifdef CONFIG_DEBUG_PAGES
	check_bytes(addr, PAGE_SIZE);
	kunmap_local(addr);
#else
	kunmap_local(addr);
#endif
	return ret;
}

/* A page-table walk: the map may fail, and the lock is dropped with the unmap. */
static int count_present(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, unsigned long end)
{
	spinlock_t *ptl;
	pte_t *pte = pte_offset_map_lock(mm, pmd, addr, &ptl);
	int n = 0;

	if (!pte)
		return -EAGAIN;
	do {
		if (pte_present(ptep_get(pte)))
			n++;
	} while (pte++, addr += PAGE_SIZE, addr != end);
	pte_unmap_unlock(pte - 1, ptl);
	return n;
}

/* One helper returns a mapping, another releases it. */
static void *map_slot(struct page *page)
{
	return kmap_local_page(page);
}

static void unmap_slot(void *addr)
{
	kunmap_local(addr);
}

static int first_byte(struct page *page)
{
	u8 *p = map_slot(page);
	int b = p[0];

	unmap_slot(p);
	return b;
}

/* A switch whose cases all release the mapping. */
static int classify(struct page *page, int how)
{
	u8 *p = kmap_local_page(page);
	int r;

	switch (how) {
	case 0:
		r = p[0];
		break;
	case 1:
		r = p[1];
		kunmap_local(p);
		return r;
	default:
		r = -1;
	}
	kunmap_local(p);
	return r;
}

/* A persistent map kept past the function: the page is returned and the caller unmaps it. */
static struct page *get_dir_page(struct inode *dir, unsigned long n)
{
	struct page *page = read_mapping_page(dir->i_mapping, n, NULL);

	if (!IS_ERR(page))
		kmap(page);
	return page;
}

/* A balancing map cast to (void): its unmap lives elsewhere, on purpose; not a leak. */
static void entry_unmap_balanced(struct entry *e, int balance)
{
	if (balance)
		(void) kmap_atomic(ZERO_PAGE(0), KM_USER1);
	kunmap_atomic(e, KM_USER0);
}

/* A flag set before the map says the unmap is due; the test before the unmap is then true. */
static int slot_store(struct slot_table *t, u32 index, struct page *page, void *dst, size_t len)
{
	void *src;

	if (len > SLOT_MAX_STORE) {
		slot_set_flag(t, index, SLOT_RAW);
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

/*
 * A pointer into the mapping tested for an error code after the unmap: IS_ERR() and
 * PTR_ERR_OR_ZERO() look at the pointer's value, never through it.
 */
static struct table_entry *table_find(void *base, u32 key)
{
	struct table_entry *te = base;
	int i;

	for (i = 0; i < TABLE_ENTRIES; i++, te++)
		if (te->key == key)
			return te;
	return ERR_PTR(-ENOENT);
}

static int table_lookup(struct page *page, u32 key, u32 *slot, bool sorted)
{
	struct table_entry *te;
	void *base = kmap_atomic(page);

	if (sorted)
		te = table_find(base, key);
	else
		te = base;
	if (!IS_ERR(te))
		*slot = te->slot;
	kunmap_atomic(base);
	return PTR_ERR_OR_ZERO(te);
}

/*
 * Pages without a struct page are filled through a static sink buffer; the test against the
 * sink's address before the unmap is true whenever the pointer holds a mapping.
 */
static char fill_sink[PAGE_SIZE];

static int fill_pages(struct page **pages, int n, int stop)
{
	char *out = NULL;
	int i, err = 0;

	for (i = 0; i < n; i++) {
		if (pages[i])
			out = kmap_local_page(pages[i]);
		else
			out = fill_sink;
		if (i == stop) {
			err = -EINTR;
			goto done;
		}
		memset(out, i, PAGE_SIZE);
		if (out != fill_sink)
			kunmap_local(out);
		out = NULL;
	}
done:
	if (out && out != (char *)&fill_sink)
		kunmap_local(out);
	return err;
}

/*
 * The table is unmapped around a call that may sleep and mapped again, and the loop's end
 * unmaps through the first pointer: the new mapping sits in the same stack slot, at the same
 * address, so that unmap releases it.
 */
static int table_reclaim(struct page *page, int n)
{
	u32 *start, *p;
	int i;

	start = p = kmap_local_page(page);
	for (i = 0; i < n; i++, p++) {
		if (!*p)
			continue;
		kunmap_local(start);
		if (reclaim_entry(page, i)) {
			kmap_local_page(page);
			break;
		}
		p = kmap_local_page(page) + i;
	}
	kunmap_local(start);
	return i;
}

/*
 * Fragments are mapped one at a time; the last pass unmaps the last fragment and the tail copy
 * after the loop then has nothing left to copy (the loop's test ends it exactly there).
 */
static void frags_gather(u8 *dest, struct page **frags, unsigned int nr, unsigned int len,
			 unsigned int total)
{
	unsigned int frag = 0;
	u8 *src = kmap_local_page(frags[0]);
	bool unmap = true;

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

/*
 * A copy loop keeps both pages mapped across passes; the source is released whenever the
 * destination is (the test kept in unmap_src says so), so releases stay in stack order.
 */
struct line_blit {
	u8 *dst_addr, *src_addr;
	u32 mapped_dst, mapped_src;
	struct page **dst_pages, **src_pages;
};

static void line_blit_copy(struct line_blit *lb, u32 dst_offset, u32 src_offset, u32 bytes)
{
	while (bytes) {
		u32 dst_page = dst_offset >> PAGE_SHIFT;
		u32 src_page = src_offset >> PAGE_SHIFT;
		bool unmap_dst = lb->dst_addr && dst_page != lb->mapped_dst;
		bool unmap_src = lb->src_addr && (src_page != lb->mapped_src || unmap_dst);

		if (unmap_src) {
			kunmap_local(lb->src_addr);
			lb->src_addr = NULL;
		}
		if (unmap_dst) {
			kunmap_local(lb->dst_addr);
			lb->dst_addr = NULL;
		}
		if (!lb->dst_addr) {
			lb->dst_addr = kmap_local_page(lb->dst_pages[dst_page]);
			lb->mapped_dst = dst_page;
		}
		if (!lb->src_addr) {
			lb->src_addr = kmap_local_page(lb->src_pages[src_page]);
			lb->mapped_src = src_page;
		}
		memcpy(lb->dst_addr + (dst_offset & ~PAGE_MASK), lb->src_addr + (src_offset & ~PAGE_MASK), 64);
		dst_offset += 64;
		src_offset += 64;
		bytes -= 64;
	}
}
