#include "arena.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define NV_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NV_ASAN 1
#endif
#endif
#ifdef NV_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#define REDZONE 16 /* poisoned gap after each block, so ASan sees overflows */
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#define REDZONE 0
#endif

#define ARENA_MIN (64u << 10)
#define ARENA_MAX (4u << 20)
#define ARENA_ALIGN 16

/* A per-thread bump allocator: blocks are never freed one by one, the whole
 * arena is reset when a review ends. A review that does not fit takes the
 * rest from malloc and the arena doubles for the next one. */
struct arena {
	char *base;
	size_t cap, used;
	bool active;	 /* inside nv_mutate_review */
	bool overflowed; /* some block came from malloc */
};

static _Thread_local struct arena *arena_tls;
static pthread_key_t arena_key;
static pthread_once_t arena_once = PTHREAD_ONCE_INIT;
static bool use_arena;

static void arena_destroy(void *p)
{
	struct arena *a = p;

	if (!a)
		return;
	UNPOISON(a->base, a->cap);
	free(a->base);
	free(a);
}

static void arena_key_init(void)
{
	/* the destructor frees a thread's arena when the thread exits */
	if (pthread_key_create(&arena_key, arena_destroy))
		abort();
}

static struct arena *arena_get(void)
{
	struct arena *a = arena_tls;

	if (a)
		return a;
	pthread_once(&arena_once, arena_key_init);
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->cap = ARENA_MIN;
	a->base = malloc(a->cap);
	if (!a->base || pthread_setspecific(arena_key, a)) {
		free(a->base);
		free(a);
		return NULL;
	}
	POISON(a->base, a->cap);
	arena_tls = a;
	return a;
}

static bool in_arena(const struct arena *a, const void *p)
{
	uintptr_t u = (uintptr_t)p, b = (uintptr_t)a->base;

	return u >= b && u < b + a->cap;
}

static void *arena_malloc(size_t n)
{
	struct arena *a = arena_tls;

	if (a && a->active) {
		size_t need = (n + REDZONE + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);

		if (need >= n && a->cap - a->used >= need) {
			char *p = a->base + a->used;

			a->used += need;
			UNPOISON(p, n);
			return p;
		}
		a->overflowed = true;
	}
	return malloc(n);
}

static void arena_free(void *p)
{
	struct arena *a = arena_tls;

	if (a && in_arena(a, p))
		return; /* freed with the whole arena */
	free(p);
}

void nv_arena_begin(void)
{
	struct arena *a;

	if (!use_arena || !(a = arena_get()))
		return;
	a->active = true;
	a->used = 0;
}

void nv_arena_end(void)
{
	struct arena *a = arena_tls;
	char *bigger;

	if (!use_arena || !a || !a->active)
		return;
	a->active = false;
	a->used = 0;
	POISON(a->base, a->cap);
	if (a->overflowed && a->cap < ARENA_MAX) {
		bigger = malloc(a->cap * 2);
		if (bigger) {
			UNPOISON(a->base, a->cap);
			free(a->base);
			a->base = bigger;
			a->cap *= 2;
			POISON(a->base, a->cap);
		}
	}
	a->overflowed = false;
}

static void *cjson_malloc(size_t n)
{
	return nv_malloc(n);
}

bool nv_arena_in_use(void)
{
	return use_arena;
}

void nv_arena_use(bool on)
{
	static cJSON_Hooks nv_hooks = {cjson_malloc, nv_free};
	static cJSON_Hooks arena_hooks = {arena_malloc, arena_free};

	use_arena = on;
	cJSON_InitHooks(on ? &arena_hooks : &nv_hooks);
}
