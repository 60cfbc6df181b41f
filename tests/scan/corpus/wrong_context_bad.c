// SPDX-License-Identifier: MIT
/* 2.4-style km_type code: an interrupt slot in process context, a user slot in a handler. */
#include <linux/highmem.h>

static void bounce_copy(struct page *page, char *buf, int len)
{
	char *vto;

	lock_page(page);
	vto = kmap_atomic(page, KM_BOUNCE_READ);
	memcpy(vto, buf, len);
	kunmap_atomic(vto, KM_BOUNCE_READ);
	unlock_page(page);
}

static void dev_interrupt(int irq, void *dev_id, struct pt_regs *regs)
{
	struct dev *d = dev_id;
	char *p = kmap_atomic(d->page, KM_USER0);

	memcpy(d->buf, p, d->len);
	kunmap_atomic(p, KM_USER0);
}

int dev_open(struct dev *d)
{
	return request_irq(d->irq, dev_interrupt, SA_SHIRQ, "dev", d);
}
