// SPDX-License-Identifier: MIT
/* 2.4-style km_type code: each mapping live at once has its own slot; a slot reused in sequence. */
#include <linux/highmem.h>

static void bounce_fill(struct page *src_page, struct page *bounce, unsigned int len)
{
	unsigned long flags;
	char *src, *dst;

	local_irq_save(flags);
	src = kmap_atomic(src_page, KM_IRQ0);
	dst = kmap_atomic(bounce, KM_IRQ1);
	memcpy(dst, src, len);
	kunmap_atomic(dst, KM_IRQ1);
	kunmap_atomic(src, KM_IRQ0);
	local_irq_restore(flags);
}

static void pages_clear(struct page **pages, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		char *p = kmap_atomic(pages[i], KM_USER0);

		memset(p, 0, PAGE_SIZE);
		kunmap_atomic(p, KM_USER0);
	}
}
