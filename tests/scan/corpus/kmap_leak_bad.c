// SPDX-License-Identifier: MIT
/* Reads a header from a page; the error path forgets the unmap. */
#include <linux/highmem.h>

static int read_header(struct page *page, struct hdr *out)
{
	struct hdr *h = kmap_local_page(page);

	if (h->magic != HDR_MAGIC)
		goto fail;
	*out = *h;
	kunmap_local(h);
	return 0;
fail:
	return -EINVAL;
}
