/* sync_phases.h - the phases of nv_sync_dataset on one context (internal).
 *
 * nv_sync_dataset (engine.h) is these calls in order; they are public
 * only so that tests/unit/test_sync.c can run and check each one on its own:
 *
 *	nv_sync_init(&c, opts, res);
 *	rc = nv_sync_learn(&c, err)	HEAD, stat cache, packs: the known blobs
 *	  || nv_sync_plan(&c, err)	the walk; which files the cache settles
 *	  || nv_sync_upload(&c, err)	hash, compress, pack and upload the rest
 *	  || nv_sync_build(&c, err)	the manifest (and whether anything changed)
 *	  || nv_sync_publish(&c, err);	snapshot, then HEAD, then the stat cache
 *	nv_sync_release(&c);
 *
 * Each phase needs the ones before it to have succeeded; nv_sync_release
 * frees whatever the phases reached (safe after any failure, and twice).
 */
#ifndef NV_SYNC_PHASES_H
#define NV_SYNC_PHASES_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "engine/engine.h"
#include "base/hash.h"
#include "base/mem.h"
#include "base/progress.h"
#include "engine/snapshot.h"
#include "base/walk.h"

#define NV_SYNC_QUEUE_MAX 1
#define NV_SYNC_UPLOADERS_MAX 8
/* pack buffers kept for reuse: at most this many packs exist at once */
#define NV_SYNC_SPARE_MAX (NV_SYNC_QUEUE_MAX + NV_SYNC_UPLOADERS_MAX + 1)
/* reads of a file that changes while it is read (then: torn) */
#define NV_SYNC_READ_TRIES 3
/* a file modified less than this ago must stay still this long */
#define NV_SYNC_SETTLE_MS 100
/* merges when HEAD keeps moving while this sync publishes */
#define NV_SYNC_MERGE_TRIES 5
/* after moving HEAD: wait this long, then check it was not overwritten
 * (looking this many snapshots back) */
#define NV_SYNC_CONFIRM_MS 300
#define NV_SYNC_CONFIRM_DEPTH 8

/* One regular file of the walk (the first name of a hard-linked one). */
struct nv_sync_job {
	size_t walk_index;
	struct nv_chunk *chunks; /* chunk.pack = run pack index */
	uint32_t nchunks, cap;	 /* cap 0: chunks live in the context's slab */
	uint64_t size;
	bool done;	/* from the stat cache */
	bool vanished;	/* gone between the walk and the read: left out */
	bool torn;	/* changed during every read: previous version or left out */
	bool have_stat; /* the stat of the read that saw it unchanged: */
	uint64_t ino;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
};

struct nv_sync_pack_item;

/* The packs listed in the store. */
struct nv_sync_listing {
	const char *prefix;
	size_t plen;
	struct nv_blob_map packs; /* id -> bit 1 .pack, bit 2 .idx (in loc.pack) */
	struct nv_error *err;
};

struct nv_sync {
	const struct nv_engine_opts *o;
	struct nv_sync_result *res;
	const char *prefix; /* = prefix_buf.p */
	struct nv_buf prefix_buf, key, obj, lock;
	int rootfd;

	/* learn */
	struct nv_walk walk; /* filled by the walk thread, started in learn */
	pthread_t walker;
	bool walking;
	int walk_rc;
	struct nv_error walk_err;
	unsigned char head[NV_HASH_LEN];
	bool have_prev, gc_running;
	struct nv_manifest prev, cache;
	unsigned char cache_base[NV_HASH_LEN];
	bool cache_has_base, cache_is_head;
	const struct nv_manifest *pm; /* HEAD's manifest: &prev or &cache */
	struct nv_sync_listing l;

	/* known blobs, and the packs of this run (shared with the threads) */
	pthread_mutex_t lock_mu;     /* map, run packs, open pack */
	struct nv_blob_map map;	     /* blob hash -> location (pack = run index) */
	struct nv_blob_map pack_ids; /* pack id -> run index (in .pack) */
	unsigned char (*rpacks)[NV_HASH_LEN];
	size_t nrpacks, rpcap;
	struct nv_buf pack;
	struct nv_idx_entry *pidx;
	size_t npidx, pidxcap;
	uint32_t pack_run;
	bool pack_open;

	/* plan */
	struct nv_sync_job *jobs;
	size_t njobs;
	struct nv_mem_pool slab; /* chunk lists of the jobs the stat cache settled */
	size_t *hl_first;	 /* walk index -> walk index of its first name */
	uint64_t to_hash;	 /* bytes the stat cache did not settle */
	size_t from_cache;	 /* jobs settled by the local stat cache */

	/* upload */
	atomic_size_t next_job;
	pthread_mutex_t qlock;
	pthread_cond_t qnonempty, qspace;
	struct nv_sync_pack_item *queue[NV_SYNC_QUEUE_MAX];
	size_t qhead, qlen;
	bool qclosed;
	struct nv_buf spare[NV_SYNC_SPARE_MAX]; /* uploaded packs' buffers, for reuse */
	size_t nspare;
	atomic_int failed;
	pthread_mutex_t elock;
	struct nv_error first;
	atomic_uint_least64_t bytes_hashed, bytes_new, bytes_uploaded, blobs_new, packs_new;
	struct nv_progress progress;

	/* build */
	struct nv_manifest out;
	size_t *mindex;	    /* walk index -> manifest index */
	uint32_t *run_to_m; /* run pack index -> manifest pack index */
	size_t torn_cur;    /* cursor in *pm for torn files' previous versions */
	bool cache_fresh;   /* the stat cache on disk already says all this */
};

void nv_sync_init(struct nv_sync *c, const struct nv_engine_opts *o, struct nv_sync_result *res);
/* Start the walk; take the sync lock; read HEAD (and its manifest unless
 * the stat cache is HEAD's), the stat cache and the listing of packs; the
 * blobs of present packs become known. */
int nv_sync_learn(struct nv_sync *c, struct nv_error *err);
/* Wait for the walk; one job per file; settle from the stat cache (or
 * HEAD) every file whose path, size, times and inode match. */
int nv_sync_plan(struct nv_sync *c, struct nv_error *err);
/* Hash the unsettled files in worker threads; new blobs go into packs that
 * uploader threads store (pack, then index). */
int nv_sync_upload(struct nv_sync *c, struct nv_error *err);
/* The manifest of the walk, its digest, res's counts and res->unchanged;
 * encoded into c->obj unless c->cache_fresh. */
int nv_sync_build(struct nv_sync *c, struct nv_error *err);
/* Unless unchanged or a dry run: check the deadline, store the snapshot,
 * then HEAD; then rewrite the stat cache when it is not fresh. */
int nv_sync_publish(struct nv_sync *c, struct nv_error *err);
void nv_sync_release(struct nv_sync *c);

#endif
