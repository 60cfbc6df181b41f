// SPDX-License-Identifier: MIT
/* Each unmap matches its map. */
#include <linux/highmem.h>

void fill_local(struct page *page, int c)
{
	char *p = kmap_local_page(page);

	memset(p, c, PAGE_SIZE);
	kunmap_local(p);
}

void fill_pkmap(struct page *page, int c)
{
	char *p = kmap(page);

	memset(p, c, PAGE_SIZE);
	kunmap(page);
}

void fill_maybe(struct page *page, int c, bool map)
{
	char *p = NULL;

	if (map)
		p = kmap_local_page(page);
	if (p) {
		memset(p, c, PAGE_SIZE);
		kunmap_local(p);
	}
}
