/* mem.h - allocation wrappers with a fault-injection hook.
 *
 * All heap allocation in libnetvol goes through nv_malloc/nv_calloc/
 * nv_realloc/nv_strdup so that tests can make the Nth allocation fail
 * (curl's "torture" idea) and check that every error path cleans up.
 */
#ifndef NV_MEM_H
#define NV_MEM_H

#include <stddef.h>

void *nv_malloc(size_t n);
void *nv_calloc(size_t count, size_t size);
void *nv_realloc(void *p, size_t n);
char *nv_strdup(const char *s);
char *nv_strndup(const char *s, size_t n);
void nv_free(void *p);

/* Room for element number n in a growable array (git's ALLOC_GROW): when
 * n >= *cap, the array *slot points to grows to max(first, 2 * *cap, n + 1)
 * elements of elem bytes. 0 on success; -1 when out of memory or when the
 * size would overflow, with the array and *cap unchanged. slot is the
 * address of the array pointer (any pointer type): use NV_GROW. */
int nv_mem_grow(void *slot, size_t *cap, size_t n, size_t elem, size_t first);
#define NV_GROW(arr, n, cap, first) nv_mem_grow(&(arr), &(cap), (n), sizeof(*(arr)), (first))

/* A pool: many small strings (or arrays) copied into a few big blocks and
 * freed together. The paths of a walk or a manifest are 100k strings that
 * live exactly as long as their owner; one malloc/free pair each cost more
 * than the rest of an unchanged sync's bookkeeping. Strings never move. */
struct nv_mem_block;
struct nv_mem_pool {
	struct nv_mem_block *head;
	size_t used, cap; /* of head's data */
};

void nv_mem_pool_init(struct nv_mem_pool *p);
/* n bytes (16-byte aligned, uninitialized) in the pool; NULL when out of memory. */
void *nv_mem_pool_alloc(struct nv_mem_pool *p, size_t n);
/* A NUL-terminated copy of s[0..n) in the pool; NULL when out of memory. */
char *nv_mem_pool_strndup(struct nv_mem_pool *p, const char *s, size_t n);
/* Move every string of src into dst (they stay where they are); src ends empty. */
void nv_mem_pool_adopt(struct nv_mem_pool *dst, struct nv_mem_pool *src);
void nv_mem_pool_release(struct nv_mem_pool *p);

/* Test hook: fail the allocation that comes after `n` more succeed
 * (0 = the very next one). A negative value turns injection off.
 * Returns how many allocations were made since the last call. */
long nv_mem_fail_after(long n);

#endif
