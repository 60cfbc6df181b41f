// SPDX-License-Identifier: MIT
/* The cursor keeps the page and maps it where it is used. */
#include <linux/highmem.h>

static void cursor_start(struct cursor *c, struct page *page)
{
	c->page = page;
	c->pos = 0;
}

static u8 cursor_byte(struct cursor *c)
{
	u8 *base = kmap_local_page(c->page);
	u8 b = base[c->pos];

	kunmap_local(base);
	return b;
}
