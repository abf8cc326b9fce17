/* engine.h - restore and sync of one dataset between a folder and a store.
 *
 * These are the data-moving halves of `netvol restore` and `netvol sync`;
 * the decisions about symlinks and the network volume live in volume.h and
 * the CLI. Both honour a deadline and never make half-written data visible:
 * restore renames a complete staging folder into place, sync moves the
 * dataset's HEAD only after every pack and the manifest are stored.
 */
#ifndef NV_ENGINE_H
#define NV_ENGINE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "base/hash.h"
#include "engine/snapshot.h"
#include "store/store.h"

struct nv_engine_opts {
	const struct nv_config *cfg;
	struct nv_store *store;
	const struct nv_dataset *ds;
	const char *pod_id;
	/* sync: the folder to snapshot; restore: the target folder */
	const char *path;
	/* folder of the local stat cache (".../.netvol/cache"), NULL = none */
	const char *cache_dir;
	bool dry_run;
	int64_t deadline_ms; /* absolute nv_now_ms() value; 0 = none */
	/* sync: a second deadline another thread may set while the sync runs
	 * (sync --loop's SIGTERM); NULL or 0 = none. The earlier one applies. */
	const atomic_int_least64_t *late_deadline_ms;
	int workers; /* hashing/decompression threads; 0 = cores */
	/* restore: this snapshot instead of HEAD (NULL = HEAD) */
	const unsigned char *snapshot;
};

struct nv_sync_result {
	uint64_t files, dirs, symlinks, hardlinks, skipped;
	uint64_t bytes_scanned;	 /* sum of file sizes */
	uint64_t bytes_hashed;	 /* bytes read (stat-cache misses) */
	uint64_t bytes_new;	 /* plain bytes of new blobs */
	uint64_t bytes_uploaded; /* packs + indexes + manifest */
	uint64_t blobs_new, packs_new;
	bool unchanged; /* nothing stored, HEAD untouched */
	bool had_head;
	unsigned char snapshot[NV_HASH_LEN];
};

struct nv_restore_result {
	uint64_t files, dirs, symlinks, hardlinks;
	uint64_t bytes;		/* plain bytes written */
	uint64_t bytes_fetched; /* bytes read from the store */
	uint64_t requests;
	bool fresh;	 /* no snapshot in the store: empty folder made */
	bool kept_local; /* the target had data: left alone */
	unsigned char snapshot[NV_HASH_LEN];
};

int nv_sync_dataset(const struct nv_engine_opts *o, struct nv_sync_result *res,
		    struct nv_error *err);
int nv_restore_dataset(const struct nv_engine_opts *o, struct nv_restore_result *res,
		       struct nv_error *err);

/* Store access shared by restore, sync and the admin verbs. */
/* Read HEAD of the dataset at prefix; NV_ENOTFOUND when there is none. */
int nv_engine_read_head(struct nv_store *s, const char *prefix, unsigned char id[NV_HASH_LEN],
			struct nv_error *err);
/* Fetch, verify (hash = id) and decode a snapshot manifest. */
int nv_engine_read_manifest(struct nv_store *s, const char *prefix,
			    const unsigned char id[NV_HASH_LEN], struct nv_manifest *m,
			    struct nv_error *err);
/* Keep an encoded manifest as the stat cache in o->cache_dir (atomic;
 * failures are logged as warnings and returned). base is the snapshot whose
 * content digest and blob locations the manifest has (FORMAT.md, "The local
 * stat cache"); a trailer naming it is appended to manifest. */
int nv_engine_write_cache(const struct nv_engine_opts *o, const char *prefix,
			  struct nv_buf *manifest, const unsigned char base[NV_HASH_LEN],
			  struct nv_error *err);
/* Read and decode the stat cache into m; NV_ENOTFOUND when there is none or
 * it is unreadable (logged). *has_base tells whether base was read from a
 * trailer that matches the cache's bytes. */
int nv_engine_read_cache(const struct nv_engine_opts *o, const char *prefix, struct nv_manifest *m,
			 unsigned char base[NV_HASH_LEN], bool *has_base);
/* Path of the local stat cache file for a dataset prefix, in out. */
int nv_engine_cache_name(const char *prefix, struct nv_buf *out, struct nv_error *err);

#endif
