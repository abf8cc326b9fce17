#include "testutil.h"

#include <stdint.h>

#include "base/mem.h"

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

struct grow_case {
	size_t cap, n, elem, first;
	int rc;
	size_t want_cap;
};

ParameterizedTestParameters(mem, grow)
{
	static struct grow_case cases[] = {
	    {0, 0, 8, 16, 0, 16},	    /* first allocation */
	    {0, 0, 8, 0, 0, 1},		    /* no first size: one element */
	    {0, 40, 8, 16, 0, 64},	    /* an index far past the first size */
	    {16, 15, 8, 16, 0, 16},	    /* room already: unchanged */
	    {16, 16, 8, 16, 0, 32},	    /* doubles */
	    {16, 100, 8, 16, 0, 128},	    /* doubles until n fits */
	    {4, SIZE_MAX - 1, 1, 4, -1, 4}, /* the element count would overflow */
	    {0, 1, SIZE_MAX / 2, 4, -1, 0}, /* the byte size would overflow */
	};
	return cr_make_param_array(struct grow_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct grow_case *gc, mem, grow)
{
	size_t cap = gc->cap;
	char *arr = gc->cap ? nv_malloc(gc->cap * gc->elem) : NULL;
	char *before = arr;

	cr_assert_eq(nv_mem_grow(&arr, &cap, gc->n, gc->elem, gc->first), gc->rc);
	cr_assert_eq(cap, gc->want_cap, "cap %zu", cap);
	if (gc->rc)
		cr_assert_eq(arr, before, "a failed grow changed the array");
	else
		arr[gc->n * gc->elem] = 1; /* the element is there (ASan checks) */
	nv_free(arr);
}

Test(mem, grow_macro_keeps_contents)
{
	int *v = NULL;
	size_t n, cap = 0;

	for (n = 0; n < 1000; n++) {
		cr_assert_eq(NV_GROW(v, n, cap, 4), 0);
		v[n] = (int)n;
	}
	cr_assert_geq(cap, 1000);
	for (n = 0; n < 1000; n++)
		cr_assert_eq(v[n], (int)n);
	nv_free(v);
}
