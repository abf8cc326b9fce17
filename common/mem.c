#include "mem.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_long fail_countdown = -1;
static atomic_long alloc_count;

long nv_mem_fail_after(long n)
{
	long c = atomic_exchange(&alloc_count, 0);

	atomic_store(&fail_countdown, n);
	return c;
}

static int should_fail(void)
{
	long c;

	atomic_fetch_add(&alloc_count, 1);
	c = atomic_load(&fail_countdown);
	if (c < 0)
		return 0;
	c = atomic_fetch_sub(&fail_countdown, 1);
	return c == 0;
}

void *nv_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	return malloc(n ? n : 1);
}

void *nv_calloc(size_t count, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(count ? count : 1, size ? size : 1);
}

void *nv_realloc(void *p, size_t n)
{
	if (should_fail())
		return NULL;
	return realloc(p, n ? n : 1);
}

char *nv_strndup(const char *s, size_t n)
{
	char *d = nv_malloc(n + 1);

	if (!d)
		return NULL;
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *nv_strdup(const char *s)
{
	return nv_strndup(s, strlen(s));
}

void nv_free(void *p)
{
	free(p);
}
