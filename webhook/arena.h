/* arena.h - how the webhook's cJSON trees are allocated.
 *
 * Two modes, chosen once before any thread starts:
 *
 *   nv_arena_use(false)  (the default) cJSON allocates with nv_malloc/nv_free,
 *                        so the unit tests can fail the Nth allocation;
 *   nv_arena_use(true)   (the server) between nv_arena_begin() and
 *                        nv_arena_end() cJSON allocates from a per-thread bump
 *                        arena dropped as a whole at the end (parsing a pod
 *                        makes hundreds of small allocations; the arena turns
 *                        them into pointer bumps); outside, and for what does
 *                        not fit, malloc. A review that overflowed doubles the
 *                        thread's arena for the next one (up to 4 MiB).
 *
 * A tree built inside begin/end must be freed before nv_arena_end() (or not
 * at all): the arena is reused by the thread's next review. Under
 * AddressSanitizer the free parts of the arena are poisoned.
 */
#ifndef NV_ARENA_H
#define NV_ARENA_H

#include <stdbool.h>

/* Point cJSON's hooks at nv_malloc (false) or at the arena (true). */
void nv_arena_use(bool on);
/* The current choice (false until nv_arena_use(true)). */
bool nv_arena_in_use(void);
/* Start and end one review's use of the calling thread's arena (no-ops in
 * nv_malloc mode, or when the arena cannot be allocated: malloc then). */
void nv_arena_begin(void);
void nv_arena_end(void);

#endif
