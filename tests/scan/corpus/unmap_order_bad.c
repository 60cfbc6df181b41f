// SPDX-License-Identifier: MIT
/* Copies one page into another, releasing the mappings in the order they were made. */
#include <linux/highmem.h>

static void copy_block(struct page *dpage, struct page *spage, size_t len)
{
	char *src = kmap_local_page(spage);
	char *dst = kmap_local_page(dpage);

	memcpy(dst, src, len);
	kunmap_local(src);
	kunmap_local(dst);
}
