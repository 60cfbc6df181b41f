// SPDX-License-Identifier: MIT
/* The same read; both paths leave through the unmap. */
#include <linux/highmem.h>

static int read_header(struct page *page, struct hdr *out)
{
	struct hdr *h = kmap_local_page(page);
	int err = 0;

	if (h->magic != HDR_MAGIC) {
		err = -EINVAL;
		goto out;
	}
	*out = *h;
out:
	kunmap_local(h);
	return err;
}
