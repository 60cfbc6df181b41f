// SPDX-License-Identifier: MIT
/* A local mapping may sleep; the allocation under the lock does not. */
#include <linux/highmem.h>

static ssize_t dump_page(struct file *f, struct page *page, loff_t *pos)
{
	void *addr = kmap_local_page(page);
	ssize_t ret = kernel_write(f, addr, PAGE_SIZE, pos);

	kunmap_local(addr);
	return ret;
}

static void stash_page(struct stash *s, struct page *page)
{
	void *addr;

	spin_lock(&s->lock);
	addr = kmap_local_page(page);
	s->copy = kmalloc(PAGE_SIZE, GFP_ATOMIC);
	if (s->copy)
		memcpy(s->copy, addr, PAGE_SIZE);
	kunmap_local(addr);
	spin_unlock(&s->lock);
}
