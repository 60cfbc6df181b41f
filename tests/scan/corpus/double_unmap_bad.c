// SPDX-License-Identifier: MIT
/* A checksum whose failure path unmaps twice. */
#include <linux/highmem.h>

static int check_block(struct page *page, u32 want)
{
	void *addr = kmap_local_page(page);
	u32 sum = crc32(0, addr, PAGE_SIZE);

	if (sum != want) {
		kunmap_local(addr);
		pr_warn("bad checksum\n");
	}
	kunmap_local(addr);
	return sum == want ? 0 : -EIO;
}
