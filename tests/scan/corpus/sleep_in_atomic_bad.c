// SPDX-License-Identifier: MIT
/* Writes a page to a file from inside an atomic mapping, and a local one under a spinlock. */
#include <linux/highmem.h>

static ssize_t dump_page(struct file *f, struct page *page, loff_t *pos)
{
	void *addr = kmap_atomic(page);
	ssize_t ret = kernel_write(f, addr, PAGE_SIZE, pos);

	kunmap_atomic(addr);
	return ret;
}

static void stash_page(struct stash *s, struct page *page)
{
	void *addr;

	spin_lock(&s->lock);
	addr = kmap_local_page(page);
	s->copy = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (s->copy)
		memcpy(s->copy, addr, PAGE_SIZE);
	kunmap_local(addr);
	spin_unlock(&s->lock);
}
