/* gc.h - retention, garbage collection, and the store locks that make gc
 * safe while pods sync.
 *
 * Locks: small objects "<ds>/locks/<kind>-<random>" holding their creation
 * time. Each party writes its own lock first and then lists the others, so
 * of a sync and a gc that overlap, at least one sees the other: gc then
 * leaves the dataset alone; a sync that sees a gc lock trusts only the packs
 * of HEAD (which gc always keeps). gc looks for sync locks again, and reads
 * HEAD again, after listing the store and before deleting anything: a sync
 * that ran meanwhile makes it leave the dataset for the next run. Locks
 * older than NV_LOCK_STALE_S are leftovers of killed runs and are ignored
 * (and removed by gc).
 */
#ifndef NV_GC_H
#define NV_GC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "store/store.h"

#define NV_LOCK_STALE_S (2 * 3600)

/* Write a lock of `kind` ("sync" or "gc") under prefix; its key goes to
 * key_out for nv_lock_release. */
int nv_lock_acquire(struct nv_store *s, const char *prefix, const char *kind,
		    struct nv_buf *key_out, struct nv_error *err);
void nv_lock_release(struct nv_store *s, const char *key);
/* Is there a fresh lock of `kind` under prefix other than `mine`? */
int nv_lock_find(struct nv_store *s, const char *prefix, const char *kind, const char *mine,
		 bool *found, struct nv_error *err);

struct nv_gc_opts {
	unsigned keep_last;    /* keep the newest N snapshots of the HEAD chain (>= 1) */
	int64_t keep_within_s; /* and every snapshot younger than this; 0 = none */
	int64_t grace_s;       /* never delete an object younger than this */
	bool dry_run;
};

struct nv_gc_result {
	uint64_t snapshots_kept, snapshots_deleted;
	uint64_t packs_kept, packs_deleted;
	uint64_t bytes_freed; /* packs + indexes + manifests deleted (or that would be) */
	uint64_t locks_removed;
	bool skipped_busy; /* a sync held the dataset */
};

/* Collect garbage of the dataset at prefix ("user/venv/"). */
int nv_gc_dataset(struct nv_store *s, const char *prefix, const struct nv_gc_opts *o,
		  struct nv_gc_result *res, struct nv_error *err);

#endif
