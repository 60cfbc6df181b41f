// SPDX-License-Identifier: MIT
/* The same code with interrupts off around the bounce slot and an interrupt slot in the handler. */
#include <linux/highmem.h>

static void bounce_copy(struct page *page, char *buf, int len)
{
	unsigned long flags;
	char *vto;

	local_irq_save(flags);
	vto = kmap_atomic(page, KM_BOUNCE_READ);
	memcpy(vto, buf, len);
	kunmap_atomic(vto, KM_BOUNCE_READ);
	local_irq_restore(flags);
}

static void dev_interrupt(int irq, void *dev_id, struct pt_regs *regs)
{
	struct dev *d = dev_id;
	char *p = kmap_atomic(d->page, KM_IRQ0);

	memcpy(d->buf, p, d->len);
	kunmap_atomic(p, KM_IRQ0);
}

int dev_open(struct dev *d)
{
	return request_irq(d->irq, dev_interrupt, SA_SHIRQ, "dev", d);
}

/* Interrupts go off only for a high page: a lowmem page's kmap_atomic() takes no slot. */
static void scrub_block(struct page *pg, unsigned long offset, u32 size)
{
	unsigned long flags = 0;
	void *virt;

	if (PageHighMem(pg))
		local_irq_save(flags);
	virt = kmap_atomic(pg, KM_BOUNCE_READ);
	scrub_words(virt + offset, size);
	kunmap_atomic(virt, KM_BOUNCE_READ);
	if (PageHighMem(pg))
		local_irq_restore(flags);
}

/*
 * No interrupt handling and no sleeping call of its own: the interrupt state is the caller's
 * (a queuecommand path runs under the host lock with interrupts off), which is not judged here.
 */
static void sense_copy(struct scsi_cmd *cmd, const u8 *sense, int len)
{
	u8 *p = kmap_atomic(cmd->sense_page, KM_IRQ0);

	memcpy(p + cmd->sense_offset, sense, len);
	kunmap_atomic(p, KM_IRQ0);
}
