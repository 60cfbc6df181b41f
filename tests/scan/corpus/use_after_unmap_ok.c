// SPDX-License-Identifier: MIT
/* The length is read before the unmap. */
#include <linux/highmem.h>

static unsigned int record_len(struct page *page, unsigned int off)
{
	u8 *base = kmap_local_page(page);
	struct rec *r = (struct rec *)(base + off);
	unsigned int len = r->len;

	kunmap_local(base);
	return len;
}
