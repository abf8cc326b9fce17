/* gc_phases.h - nv_gc_dataset (gc.h) as mark and sweep on one context
 * (internal; public for tests/unit/test_gc.c).
 *
 *	nv_gc_init(&g, store, prefix, opts, res);
 *	rc = nv_gc_mark(&g, err)	lock; kept snapshots and packs; listing
 *	  || nv_gc_sweep(&g, err);	delete what is not kept (nothing if busy)
 *	nv_gc_release(&g);
 */
#ifndef NV_GC_PHASES_H
#define NV_GC_PHASES_H

#include "engine/gc.h"
#include "base/hash.h"

struct nv_gc_obj {
	char *key;
	uint64_t size;
	int64_t mtime;
};

struct nv_gc_objs {
	struct nv_gc_obj *o;
	size_t n, cap;
};

struct nv_gc {
	struct nv_store *s;
	const char *prefix;
	size_t plen;
	const struct nv_gc_opts *o;
	struct nv_gc_result *res;
	int64_t now;
	struct nv_buf mylock;
	unsigned char head[NV_HASH_LEN];
	bool have_head;
	bool busy; /* a sync holds the dataset or moved HEAD: sweep nothing */
	struct nv_blob_map keep_snaps, keep_packs;
	struct nv_gc_objs all; /* every object below prefix */
};

void nv_gc_init(struct nv_gc *g, struct nv_store *s, const char *prefix, const struct nv_gc_opts *o,
		struct nv_gc_result *res);
/* Take the gc lock; unless a sync holds the dataset, keep HEAD's chain as
 * the options say and every young snapshot's packs; list the dataset; look
 * again for a sync (lock or moved HEAD). g->busy (and res->skipped_busy)
 * when a sync was seen. */
int nv_gc_mark(struct nv_gc *g, struct nv_error *err);
/* Unless busy: delete the snapshots not kept, then the packs (index
 * first) no kept snapshot names, then lone indexes and stale locks;
 * objects younger than the grace period stay. Counts go to res. */
int nv_gc_sweep(struct nv_gc *g, struct nv_error *err);
void nv_gc_release(struct nv_gc *g);

#endif
