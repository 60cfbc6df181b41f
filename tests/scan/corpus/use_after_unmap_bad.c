// SPDX-License-Identifier: MIT
/* Reads a record's length through a pointer into a mapping already released. */
#include <linux/highmem.h>

static unsigned int record_len(struct page *page, unsigned int off)
{
	u8 *base = kmap_local_page(page);
	struct rec *r = (struct rec *)(base + off);

	kunmap_local(base);
	return r->len;
}
