// SPDX-License-Identifier: MIT
/* 2.4-style km_type code: the source and the bounce page share one slot. */
#include <linux/highmem.h>

static void bounce_fill(struct page *src_page, struct page *bounce, unsigned int len)
{
	unsigned long flags;
	char *src, *dst;

	local_irq_save(flags);
	src = kmap_atomic(src_page, KM_IRQ0);
	dst = kmap_atomic(bounce, KM_IRQ0);
	memcpy(dst, src, len);
	kunmap_atomic(dst, KM_IRQ0);
	kunmap_atomic(src, KM_IRQ0);
	local_irq_restore(flags);
}

static int page_compare(struct page *a, struct page *b)
{
	char *pa = kmap_atomic(a, KM_USER0);
	char *pb = kmap_atomic(b, KM_USER0);
	int r = memcmp(pa, pb, PAGE_SIZE);

	kunmap_atomic(pb, KM_USER0);
	kunmap_atomic(pa, KM_USER0);
	return r;
}
