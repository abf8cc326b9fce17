#include "base/mem.h"

#include <stdatomic.h>
#include <stdint.h>
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

int nv_mem_grow(void *slot, size_t *cap, size_t n, size_t elem, size_t first)
{
	void *p, *np;
	size_t nc;

	if (n < *cap)
		return 0;
	nc = *cap ? *cap : first ? first : 1;
	while (nc <= n) {
		if (nc > SIZE_MAX / 2)
			return -1;
		nc *= 2;
	}
	if (elem && nc > SIZE_MAX / elem)
		return -1;
	/* the slot holds a pointer of the caller's type: copy it, don't alias */
	memcpy(&p, slot, sizeof(p));
	np = nv_realloc(p, nc * elem);
	if (!np)
		return -1;
	memcpy(slot, &np, sizeof(np));
	*cap = nc;
	return 0;
}

/* ---- pool ---- */

#define POOL_BLOCK (64u * 1024)

struct nv_mem_block {
	struct nv_mem_block *next;
	size_t pad; /* data is 16-byte aligned */
	char data[];
};

void nv_mem_pool_init(struct nv_mem_pool *p)
{
	memset(p, 0, sizeof(*p));
}

void *nv_mem_pool_alloc(struct nv_mem_pool *p, size_t n)
{
	size_t at = (p->used + 15) & ~(size_t)15;
	void *d;

	if (!p->head || at > p->cap || p->cap - at < n) {
		size_t cap = n > POOL_BLOCK ? n : POOL_BLOCK;
		struct nv_mem_block *b;

		if (cap > SIZE_MAX - sizeof(*b))
			return NULL;
		b = nv_malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = p->head;
		p->head = b;
		p->cap = cap;
		at = 0;
	}
	d = p->head->data + at;
	p->used = at + n;
	return d;
}

char *nv_mem_pool_strndup(struct nv_mem_pool *p, const char *s, size_t n)
{
	char *d;

	if (n == SIZE_MAX)
		return NULL;
	if (!p->head || p->cap - p->used < n + 1) {
		if (!(d = nv_mem_pool_alloc(p, n + 1)))
			return NULL;
	} else { /* strings need no alignment */
		d = p->head->data + p->used;
		p->used += n + 1;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

void nv_mem_pool_adopt(struct nv_mem_pool *dst, struct nv_mem_pool *src)
{
	struct nv_mem_block *last;

	if (!src->head)
		return;
	if (!dst->head) {
		*dst = *src;
	} else {
		/* behind dst's head, which keeps its free room */
		for (last = src->head; last->next; last = last->next)
			;
		last->next = dst->head->next;
		dst->head->next = src->head;
	}
	memset(src, 0, sizeof(*src));
}

void nv_mem_pool_release(struct nv_mem_pool *p)
{
	while (p->head) {
		struct nv_mem_block *b = p->head;

		p->head = b->next;
		nv_free(b);
	}
	p->used = p->cap = 0;
}
