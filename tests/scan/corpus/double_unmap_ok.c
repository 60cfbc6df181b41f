// SPDX-License-Identifier: MIT
/* The same checksum, unmapped once on every path. */
#include <linux/highmem.h>

static int check_block(struct page *page, u32 want)
{
	void *addr = kmap_local_page(page);
	u32 sum = crc32(0, addr, PAGE_SIZE);

	kunmap_local(addr);
	if (sum != want)
		pr_warn("bad checksum\n");
	return sum == want ? 0 : -EIO;
}
