// SPDX-License-Identifier: MIT
/* The same copy, released in reverse order. */
#include <linux/highmem.h>

static void copy_block(struct page *dpage, struct page *spage, size_t len)
{
	char *src = kmap_local_page(spage);
	char *dst = kmap_local_page(dpage);

	memcpy(dst, src, len);
	kunmap_local(dst);
	kunmap_local(src);
}
