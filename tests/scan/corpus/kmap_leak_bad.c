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

/* The same with a persistent map: the early return keeps the pkmap entry for ever. */
static int read_index(struct page *page, u32 *out)
{
	u32 *idx = kmap(page);

	if (!idx[0])
		return -ENOENT;
	*out = idx[0];
	kunmap(page);
	return 0;
}

/* And with a stack kmap_atomic (2.6.37+): the short-record path returns still mapped. */
static int read_record(struct page *page, size_t off, struct rec *out)
{
	struct rec *r = kmap_atomic(page) + off;

	if (r->len < sizeof(*r))
		return -EIO;
	*out = *r;
	kunmap_atomic(r);
	return 0;
}
