// SPDX-License-Identifier: MIT
/* A local mapping kept in a structure for later. */
#include <linux/highmem.h>

static void cursor_start(struct cursor *c, struct page *page)
{
	c->base = kmap_local_page(page);
	c->pos = 0;
}
