#include "testutil.h"

#include "mem.h"

/* Strings of every size, across many blocks, stay intact and NUL-ended. */
Test(mem, pool_keeps_every_string)
{
	struct nv_mem_pool p;
	char *got[3000], src[70000];
	size_t i, len[3000];

	for (i = 0; i < sizeof(src); i++)
		src[i] = (char)('a' + i % 26);
	nv_mem_pool_init(&p);
	for (i = 0; i < 3000; i++) {
		/* mostly short paths, now and then one bigger than a block */
		len[i] = i % 500 == 7 ? 65536 + i : (i * 37) % 300;
		got[i] = nv_mem_pool_strndup(&p, src + i % 26, len[i]);
		cr_assert(got[i]);
	}
	for (i = 0; i < 3000; i++) {
		cr_assert_eq(strlen(got[i]), len[i], "string %zu", i);
		cr_assert(!memcmp(got[i], src + i % 26, len[i]), "string %zu", i);
	}
	nv_mem_pool_release(&p);
	cr_assert_null(p.head);
	nv_mem_pool_release(&p); /* twice is harmless */
}

Test(mem, pool_adopt_moves_strings)
{
	struct nv_mem_pool a, b, empty;
	char *sa, *sb[200];
	int i;

	nv_mem_pool_init(&a);
	nv_mem_pool_init(&b);
	nv_mem_pool_init(&empty);
	sa = nv_mem_pool_strndup(&a, "first", 5);
	for (i = 0; i < 200; i++) /* several blocks in b */
		sb[i] = nv_mem_pool_strndup(&b, "0123456789abcdef", (size_t)(i % 16) + 1);
	for (i = 0; i < 200; i++) {
		char big[1000];

		memset(big, 'x', sizeof(big));
		cr_assert(nv_mem_pool_strndup(&b, big, sizeof(big)));
	}
	nv_mem_pool_adopt(&a, &b);
	cr_assert_null(b.head);
	nv_mem_pool_adopt(&a, &empty);
	/* a's head still has room: the next string goes there */
	cr_assert_str_eq(nv_mem_pool_strndup(&a, "after", 5), "after");
	cr_assert_str_eq(sa, "first");
	for (i = 0; i < 200; i++)
		cr_assert_eq(strlen(sb[i]), (size_t)(i % 16) + 1);
	nv_mem_pool_adopt(&empty, &a); /* into an empty pool */
	cr_assert_null(a.head);
	cr_assert_str_eq(sa, "first");
	nv_mem_pool_release(&empty);
	nv_mem_pool_release(&a);
}

Test(mem, pool_out_of_memory)
{
	struct nv_mem_pool p;

	nv_mem_pool_init(&p);
	nv_mem_fail_after(0);
	cr_assert_null(nv_mem_pool_strndup(&p, "x", 1));
	nv_mem_fail_after(-1);
	cr_assert_str_eq(nv_mem_pool_strndup(&p, "x", 1), "x");
	nv_mem_fail_after(0); /* fits in the block: no allocation */
	cr_assert_str_eq(nv_mem_pool_strndup(&p, "y", 1), "y");
	nv_mem_fail_after(-1);
	nv_mem_pool_release(&p);
}
