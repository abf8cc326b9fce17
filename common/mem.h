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

/* Test hook: fail the allocation that comes after `n` more succeed
 * (0 = the very next one). A negative value turns injection off.
 * Returns how many allocations were made since the last call. */
long nv_mem_fail_after(long n);

#endif
