/* sync: snapshot a folder into the store, uploading only new blobs.
 *
 * 1. Read HEAD and its manifest, the local stat cache and the list of packs
 *    in the store; every blob they name (in packs that exist) is "known".
 *    Packs that no manifest names (left by a sync that was killed) are
 *    known through their index objects, so their blobs are not sent again.
 * 2. Walk the folder. A file whose path, size, mtime, ctime and inode match
 *    the stat cache (or HEAD) reuses its chunk list without being read.
 * 3. Worker threads read, hash and (for unknown blobs) compress the other
 *    files; new blobs are appended to a pack; full packs go to uploader
 *    threads (pack, then its index).
 * 4. When everything is stored: the manifest, then HEAD. A sync that fails
 *    or hits its deadline before that leaves HEAD as it was.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "base/fs.h"
#include "store/keys.h"
#include "engine/gc.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "base/walk.h"

#define QUEUE_MAX 1
#define UPLOADERS_MAX 8
/* pack buffers kept for reuse: at most this many packs exist at once */
#define SPARE_MAX (QUEUE_MAX + UPLOADERS_MAX + 1)

struct job {
	size_t walk_index;
	struct nv_chunk *chunks; /* chunk.pack = run pack index */
	uint32_t nchunks, cap;
	uint64_t size;
	bool done;     /* from the stat cache */
	bool vanished; /* gone between the walk and the read: left out */
};

struct pack_item {
	struct nv_buf data;
	struct nv_idx_entry *idx;
	size_t nidx;
	uint32_t run_index;
};

struct ctx {
	const struct nv_engine_opts *o;
	const char *prefix;
	int rootfd;
	struct nv_walk walk;
	int walk_rc; /* the walk thread's result and error */
	struct nv_error walk_err;

	pthread_mutex_t lock;	     /* map, run packs, open pack */
	struct nv_blob_map map;	     /* blob hash -> location (pack = run index) */
	struct nv_blob_map pack_ids; /* pack id -> run index (in .pack) */
	unsigned char (*rpacks)[NV_HASH_LEN];
	size_t nrpacks, rpcap;
	struct nv_buf pack;
	struct nv_idx_entry *pidx;
	size_t npidx, pidxcap;
	uint32_t pack_run;
	bool pack_open;

	pthread_mutex_t qlock;
	pthread_cond_t qnonempty, qspace;
	struct pack_item *queue[QUEUE_MAX];
	size_t qhead, qlen;
	bool qclosed;
	struct nv_buf spare[SPARE_MAX]; /* uploaded packs' buffers, for reuse */
	size_t nspare;

	atomic_int failed;
	pthread_mutex_t elock;
	struct nv_error first;

	struct job *jobs;
	size_t njobs;
	struct nv_mem_pool slab; /* chunk lists of the jobs the stat cache settled */
	atomic_size_t next_job;

	atomic_uint_least64_t bytes_hashed, bytes_new, bytes_uploaded, blobs_new, packs_new;
	struct nv_progress progress;
};

static void fail(struct ctx *c, const struct nv_error *e)
{
	pthread_mutex_lock(&c->elock);
	if (!atomic_load(&c->failed)) {
		c->first = *e;
		atomic_store(&c->failed, 1);
	}
	pthread_mutex_unlock(&c->elock);
	pthread_mutex_lock(&c->qlock);
	pthread_cond_broadcast(&c->qspace);
	pthread_cond_broadcast(&c->qnonempty);
	pthread_mutex_unlock(&c->qlock);
}

static bool past_deadline(const struct ctx *c)
{
	return c->o->deadline_ms && nv_now_ms() >= c->o->deadline_ms;
}

static int check_deadline(struct ctx *c)
{
	struct nv_error e = NV_ERROR_INIT;

	if (!past_deadline(c))
		return NV_OK;
	nv_error_set(&e, NV_EDEADLINE, "deadline reached before '%s' was synced", c->o->ds->path);
	fail(c, &e);
	return NV_EDEADLINE;
}

/* Room for one more run pack (lock held or single threaded). */
static int grow_rpacks(struct ctx *c, struct nv_error *err)
{
	if (NV_GROW(c->rpacks, c->nrpacks, c->rpcap, 64))
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	return NV_OK;
}

/* A run pack index for a pack id, adding it if new (lock held or single
 * threaded). */
static int run_pack_index(struct ctx *c, const unsigned char id[NV_HASH_LEN], uint32_t *out,
			  struct nv_error *err)
{
	const struct nv_blob_loc *l = nv_blob_map_get(&c->pack_ids, id);
	struct nv_blob_loc v = {0, 0, 0, 0};
	int rc;

	if (l) {
		*out = l->pack;
		return NV_OK;
	}
	if ((rc = grow_rpacks(c, err)))
		return rc;
	memcpy(c->rpacks[c->nrpacks], id, NV_HASH_LEN);
	v.pack = (uint32_t)c->nrpacks;
	if ((rc = nv_blob_map_put(&c->pack_ids, id, &v, NULL, err)))
		return rc;
	*out = (uint32_t)c->nrpacks++;
	return NV_OK;
}

/* ---- known blobs ---- */

struct listing {
	const char *prefix;
	size_t plen;
	struct nv_blob_map packs; /* id -> bit 1 .pack, bit 2 .idx (in loc.pack) */
	struct nv_error *err;
};

static int list_cb(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct listing *l = ud;
	unsigned char id[NV_HASH_LEN];
	struct nv_blob_loc *cur, v = {0, 0, 0, 0};
	size_t pl;
	enum nv_key_kind kind;
	unsigned bit;

	(void)st;
	if (strncmp(key, l->prefix, l->plen))
		return 0;
	kind = nv_keys_classify(key, &pl, id);
	if (kind == NV_KEY_PACK)
		bit = 1;
	else if (kind == NV_KEY_IDX)
		bit = 2;
	else
		return 0;
	cur = (struct nv_blob_loc *)nv_blob_map_get(&l->packs, id);
	if (cur) {
		cur->pack |= bit;
		return 0;
	}
	v.pack = bit;
	return nv_blob_map_put(&l->packs, id, &v, NULL, l->err);
}

static bool pack_present(const struct listing *l, const unsigned char id[NV_HASH_LEN])
{
	const struct nv_blob_loc *v = nv_blob_map_get(&l->packs, id);

	return v && v->pack == 3;
}

/* Add the blobs of manifest m that sit in present packs to the map. */
static int learn_manifest(struct ctx *c, const struct nv_manifest *m, const struct listing *l,
			  struct nv_error *err)
{
	size_t i;
	int rc;

	if ((rc = nv_blob_map_reserve(&c->map, c->map.count + m->nchunks, err)))
		return rc;
	for (i = 0; i < m->nchunks; i++) {
		const struct nv_chunk *ch = &m->chunks[i];
		struct nv_blob_loc v;

		if (!pack_present(l, m->packs[ch->pack]))
			continue;
		if ((rc = run_pack_index(c, m->packs[ch->pack], &v.pack, err)))
			return rc;
		v.off = ch->off;
		v.clen = ch->clen;
		v.ulen = ch->ulen;
		if ((rc = nv_blob_map_put(&c->map, ch->hash, &v, NULL, err)))
			return rc;
	}
	return NV_OK;
}

/* Packs in the store that no manifest we read names: read their index. */
static int learn_orphan_packs(struct ctx *c, const struct listing *l, struct nv_error *err)
{
	struct nv_buf key = NV_BUF_INIT(4096), data = NV_BUF_INIT(64u << 20);
	size_t i;
	int rc = NV_OK;

	for (i = 0; i < l->packs.cap && !rc; i++) {
		struct nv_idx_entry *e = NULL;
		size_t n = 0, j;
		uint32_t run;

		if (!l->packs.used[i] || l->packs.vals[i].pack != 3 ||
		    nv_blob_map_get(&c->pack_ids, l->packs.keys[i]))
			continue;
		nv_buf_reset(&key);
		nv_buf_reset(&data);
		if ((rc = nv_keys_object(c->prefix, NV_KEY_IDX, l->packs.keys[i], &key, err)))
			break;
		rc = nv_store_get(c->o->store, key.p, &data, err);
		if (rc == NV_OK)
			rc = nv_idx_decode(data.p, data.len, &e, &n, err);
		if (rc) {
			/* an unreadable index only costs a re-upload */
			struct nv_log_rec r;

			nv_log_begin(&r, NV_LOG_WARN, "sync.index_unreadable");
			nv_log_str(&r, "key", key.p);
			nv_log_str(&r, "error", err ? err->msg : "");
			nv_log_end(&r);
			rc = NV_OK;
			continue;
		}
		if ((rc = run_pack_index(c, l->packs.keys[i], &run, err))) {
			nv_free(e);
			break;
		}
		for (j = 0; j < n && !rc; j++) {
			struct nv_blob_loc v = {run, e[j].clen, e[j].ulen, e[j].off};

			rc = nv_blob_map_put(&c->map, e[j].hash, &v, NULL, err);
		}
		nv_free(e);
	}
	nv_buf_release(&key);
	nv_buf_release(&data);
	return rc;
}

/* ---- packs and uploads ---- */

static void free_item(struct pack_item *it)
{
	if (!it)
		return;
	nv_buf_release(&it->data);
	nv_free(it->idx);
	nv_free(it);
}

/* Free an uploaded item but keep its pack buffer for the next pack: each
 * buffer is allocated and paged in once, and malloc does not pile up freed
 * 16 MiB blocks in its per-thread arenas (peak RSS). */
static void recycle_item(struct ctx *c, struct pack_item *it)
{
	pthread_mutex_lock(&c->qlock);
	if (c->nspare < SPARE_MAX && it->data.alloc) {
		nv_buf_reset(&it->data);
		c->spare[c->nspare++] = it->data;
		nv_buf_init(&it->data, 0);
	}
	pthread_mutex_unlock(&c->qlock);
	free_item(it);
}

static int upload_item(struct ctx *c, struct pack_item *it, struct nv_error *err)
{
	struct nv_buf key = NV_BUF_INIT(4096), idx = NV_BUF_INIT(NV_BUF_UNLIMITED);
	int rc;

	if ((rc = nv_keys_object(c->prefix, NV_KEY_PACK, c->rpacks[it->run_index], &key, err)))
		goto out;
	rc = nv_store_put(c->o->store, key.p, it->data.p, it->data.len, NV_PUT_IF_ABSENT, err);
	if (rc == NV_EEXISTS)
		rc = NV_OK; /* content-addressed: the same bytes */
	if (rc)
		goto out;
	atomic_fetch_add(&c->bytes_uploaded, it->data.len);
	if (past_deadline(c)) {
		rc = nv_error_set(err, NV_EDEADLINE, "deadline reached before '%s' was synced",
				  c->o->ds->path);
		goto out;
	}
	nv_buf_reset(&key);
	if ((rc = nv_keys_object(c->prefix, NV_KEY_IDX, c->rpacks[it->run_index], &key, err)) ||
	    (rc = nv_idx_encode(it->idx, it->nidx, &idx, err)))
		goto out;
	rc = nv_store_put(c->o->store, key.p, idx.p, idx.len, NV_PUT_IF_ABSENT, err);
	if (rc == NV_EEXISTS)
		rc = NV_OK;
	if (!rc) {
		atomic_fetch_add(&c->bytes_uploaded, idx.len);
		atomic_fetch_add(&c->packs_new, 1);
	}
out:
	nv_buf_release(&key);
	nv_buf_release(&idx);
	return rc;
}

static void *uploader(void *arg)
{
	struct ctx *c = arg;

	for (;;) {
		struct pack_item *it = NULL;
		struct nv_error e = NV_ERROR_INIT;

		pthread_mutex_lock(&c->qlock);
		while (!c->qlen && !c->qclosed)
			pthread_cond_wait(&c->qnonempty, &c->qlock);
		if (c->qlen) {
			it = c->queue[c->qhead];
			c->qhead = (c->qhead + 1) % QUEUE_MAX;
			c->qlen--;
			pthread_cond_signal(&c->qspace);
		}
		pthread_mutex_unlock(&c->qlock);
		if (!it)
			return NULL;
		if (!atomic_load(&c->failed) && upload_item(c, it, &e))
			fail(c, &e);
		recycle_item(c, it);
	}
}

static void enqueue(struct ctx *c, struct pack_item *it)
{
	pthread_mutex_lock(&c->qlock);
	while (c->qlen == QUEUE_MAX && !atomic_load(&c->failed))
		pthread_cond_wait(&c->qspace, &c->qlock);
	if (atomic_load(&c->failed)) {
		pthread_mutex_unlock(&c->qlock);
		free_item(it);
		return;
	}
	c->queue[(c->qhead + c->qlen) % QUEUE_MAX] = it;
	c->qlen++;
	pthread_cond_signal(&c->qnonempty);
	pthread_mutex_unlock(&c->qlock);
}

/* Close the open pack: name it and hand it to the uploaders (lock held). */
static int flush_pack(struct ctx *c, struct nv_error *err)
{
	struct pack_item *it;
	struct nv_blob_loc v = {0, 0, 0, 0};

	if (!c->pack_open)
		return NV_OK;
	c->pack_open = false;
	nv_sha256(c->pack.p, c->pack.len, c->rpacks[c->pack_run]);
	v.pack = c->pack_run;
	nv_blob_map_put(&c->pack_ids, c->rpacks[c->pack_run], &v, NULL, NULL);
	if (c->o->dry_run) {
		nv_buf_reset(&c->pack);
		c->npidx = 0;
		atomic_fetch_add(&c->packs_new, 1);
		return NV_OK;
	}
	it = nv_calloc(1, sizeof(*it));
	if (!it)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	it->data = c->pack;
	it->idx = c->pidx;
	it->nidx = c->npidx;
	it->run_index = c->pack_run;
	nv_buf_init(&c->pack, NV_PACK_TARGET + ZSTD_COMPRESSBOUND(NV_BLOB_SIZE) + 64);
	pthread_mutex_lock(&c->qlock);
	if (c->nspare)
		c->pack = c->spare[--c->nspare];
	pthread_mutex_unlock(&c->qlock);
	c->pidx = NULL;
	c->npidx = c->pidxcap = 0;
	enqueue(c, it);
	return NV_OK;
}

/* Append a compressed blob to the open pack (lock held). */
static int append_blob(struct ctx *c, const unsigned char hash[NV_HASH_LEN], const void *frame,
		       size_t clen, size_t ulen, struct nv_blob_loc *loc, struct nv_error *err)
{
	int rc;

	if (!c->pack_open) {
		/* reserve a run index; the id is known when the pack closes */
		if ((rc = grow_rpacks(c, err)))
			return rc;
		memset(c->rpacks[c->nrpacks], 0, NV_HASH_LEN);
		c->pack_run = (uint32_t)c->nrpacks++;
		c->pack_open = true;
		nv_buf_reset(&c->pack);
		if ((rc = nv_buf_add(&c->pack, NV_PACK_MAGIC, NV_MAGIC_LEN, err)))
			return rc;
	}
	if (NV_GROW(c->pidx, c->npidx, c->pidxcap, 256))
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	loc->pack = c->pack_run;
	loc->off = c->pack.len;
	loc->clen = (uint32_t)clen;
	loc->ulen = (uint32_t)ulen;
	if ((rc = nv_buf_add(&c->pack, frame, clen, err)))
		return rc;
	memcpy(c->pidx[c->npidx].hash, hash, NV_HASH_LEN);
	c->pidx[c->npidx].off = loc->off;
	c->pidx[c->npidx].clen = loc->clen;
	c->pidx[c->npidx].ulen = loc->ulen;
	c->npidx++;
	if ((rc = nv_blob_map_put(&c->map, hash, loc, NULL, err)))
		return rc;
	atomic_fetch_add(&c->blobs_new, 1);
	atomic_fetch_add(&c->bytes_new, ulen);
	if (c->pack.len >= NV_PACK_TARGET)
		return flush_pack(c, err);
	return NV_OK;
}

/* ---- hashing workers ---- */

struct worker_bufs {
	ZSTD_CCtx *cctx;
	unsigned char *in, *out;
	size_t outcap;
};

static int job_add_chunk(struct job *j, const unsigned char hash[NV_HASH_LEN],
			 const struct nv_blob_loc *l, struct nv_error *err)
{
	struct nv_chunk *ch;

	if (j->nchunks == j->cap) {
		uint32_t nc = j->cap ? j->cap * 2 : 1;
		void *p = nv_realloc(j->chunks, nc * sizeof(*j->chunks));

		if (!p)
			return nv_error_set(err, NV_ENOMEM, "out of memory");
		j->chunks = p;
		j->cap = nc;
	}
	ch = &j->chunks[j->nchunks++];
	memcpy(ch->hash, hash, NV_HASH_LEN);
	ch->pack = l->pack;
	ch->off = l->off;
	ch->clen = l->clen;
	ch->ulen = l->ulen;
	return NV_OK;
}

static int process_file(struct ctx *c, struct job *j, struct worker_bufs *wb, struct nv_error *err)
{
	const struct nv_walk_entry *we = &c->walk.e[j->walk_index];
	int fd, rc = NV_OK;

	fd = nv_fs_openat_beneath(c->rootfd, we->path, O_RDONLY, 0);
	if (fd < 0 && we->nlink > 1 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
		/* this name is gone, but the walk saw other names of the same
		 * file: read it through one of them (the snapshot keeps every
		 * name the walk saw, so no data is lost) */
		size_t k;

		for (k = 0; k < c->walk.n && fd < 0; k++) {
			const struct nv_walk_entry *o = &c->walk.e[k];

			struct stat st;

			if (k == j->walk_index || !S_ISREG(o->mode) || o->ino != we->ino ||
			    o->dev != we->dev)
				continue;
			fd = nv_fs_openat_beneath(c->rootfd, o->path, O_RDONLY, 0);
			/* still the same file, not a new one under that name */
			if (fd >= 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_ino != we->ino ||
					(uint64_t)st.st_dev != we->dev))
				nv_fs_close(&fd);
		}
		if (fd < 0)
			errno = ENOENT;
	}
	if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)) {
		/* removed (or replaced by a symlink) since the walk, as a running
		 * program's temp files are: it is left out of this snapshot, the
		 * rest is still synced */
		struct nv_log_rec r;

		nv_log_begin(&r, NV_LOG_WARN, "sync.vanished");
		nv_log_str(&r, "dataset", c->o->ds->path);
		nv_log_str(&r, "path", we->path);
		nv_log_str(&r, "reason", "removed or replaced while syncing; left out");
		nv_log_end(&r);
		j->vanished = true;
		return NV_OK;
	}
	if (fd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open '%s/%s'", c->o->path,
				    we->path);
	j->size = 0;
	j->nchunks = 0;
	for (;;) {
		unsigned char hash[NV_HASH_LEN];
		struct nv_blob_loc loc;
		const struct nv_blob_loc *known;
		ssize_t n = nv_fs_read_full(fd, wb->in, NV_BLOB_SIZE);
		size_t clen;

		if (n < 0) {
			rc = nv_error_sys(err, NV_EIO, errno, "cannot read '%s/%s'", c->o->path,
					  we->path);
			break;
		}
		if (n == 0)
			break;
		if (atomic_load(&c->failed) || (rc = check_deadline(c)))
			break;
		nv_sha256(wb->in, (size_t)n, hash);
		atomic_fetch_add(&c->bytes_hashed, (uint64_t)n);
		nv_progress_add(&c->progress, (uint64_t)n);
		j->size += (uint64_t)n;
		pthread_mutex_lock(&c->lock);
		known = nv_blob_map_get(&c->map, hash);
		if (known)
			loc = *known;
		pthread_mutex_unlock(&c->lock);
		if (!known) {
			clen = ZSTD_compress2(wb->cctx, wb->out, wb->outcap, wb->in, (size_t)n);
			if (ZSTD_isError(clen)) {
				rc = nv_error_set(err, NV_EINTERNAL, "zstd: %s",
						  ZSTD_getErrorName(clen));
				break;
			}
			pthread_mutex_lock(&c->lock);
			known = nv_blob_map_get(&c->map, hash);
			if (known)
				loc = *known;
			else
				rc = append_blob(c, hash, wb->out, clen, (size_t)n, &loc, err);
			pthread_mutex_unlock(&c->lock);
			if (rc)
				break;
		}
		if ((rc = job_add_chunk(j, hash, &loc, err)))
			break;
		if ((size_t)n < NV_BLOB_SIZE)
			break;
	}
	close(fd);
	return rc;
}

static void *hash_worker(void *arg)
{
	struct ctx *c = arg;
	struct worker_bufs wb = {NULL, NULL, NULL, ZSTD_compressBound(NV_BLOB_SIZE)};
	struct nv_error e = NV_ERROR_INIT;

	wb.cctx = ZSTD_createCCtx();
	wb.in = nv_malloc(NV_BLOB_SIZE);
	wb.out = nv_malloc(wb.outcap);
	if (!wb.cctx || !wb.in || !wb.out) {
		nv_error_set(&e, NV_ENOMEM, "out of memory for a hashing worker");
		fail(c, &e);
		goto out;
	}
	ZSTD_CCtx_setParameter(wb.cctx, ZSTD_c_compressionLevel, c->o->cfg->zstd_level);
	ZSTD_CCtx_setParameter(wb.cctx, ZSTD_c_contentSizeFlag, 1);
	ZSTD_CCtx_setParameter(wb.cctx, ZSTD_c_checksumFlag, 0);
	while (!atomic_load(&c->failed)) {
		size_t i = atomic_fetch_add(&c->next_job, 1);

		if (i >= c->njobs)
			break;
		if (c->jobs[i].done)
			continue;
		if (process_file(c, &c->jobs[i], &wb, &e)) {
			fail(c, &e);
			break;
		}
	}
out:
	ZSTD_freeCCtx(wb.cctx);
	nv_free(wb.in);
	nv_free(wb.out);
	return NULL;
}

/* ---- the stat cache ---- */

struct cursor {
	const struct nv_manifest *m;
	size_t i;
};

/* The entry of m at path, walking forward (paths come in order). */
static const struct nv_entry *seek(struct cursor *cur, const char *path)
{
	while (cur->m && cur->i < cur->m->nentries) {
		int d = nv_path_cmp(cur->m->entries[cur->i].path, path);

		if (d == 0)
			return &cur->m->entries[cur->i];
		if (d > 0)
			return NULL;
		cur->i++;
	}
	return NULL;
}

/* Reuse the chunks of a matching cache entry; false if not usable. */
static bool try_cache(struct ctx *c, const struct nv_manifest *m, const struct nv_entry *e,
		      const struct nv_walk_entry *we, struct job *j)
{
	uint32_t k;

	if (!e || e->type != NV_ENT_FILE || e->size != we->size || e->ino != we->ino ||
	    e->mtime_sec != we->mtime_sec || e->mtime_nsec != we->mtime_nsec ||
	    e->ctime_sec != we->ctime_sec || e->ctime_nsec != we->ctime_nsec)
		return false;
	/* every blob must be known (its pack present in the store) */
	for (k = 0; k < e->nchunks; k++)
		if (!nv_blob_map_get(&c->map, m->chunks[e->first_chunk + k].hash))
			return false;
	/* the chunk list lives in c->slab (cap 0: not the job's own) */
	if (e->nchunks &&
	    !(j->chunks = nv_mem_pool_alloc(&c->slab, e->nchunks * sizeof(*j->chunks))))
		return false;
	for (k = 0; k < e->nchunks; k++) {
		const struct nv_chunk *ch = &m->chunks[e->first_chunk + k];
		const struct nv_blob_loc *l = nv_blob_map_get(&c->map, ch->hash);
		struct nv_chunk *d = &j->chunks[k];

		memcpy(d->hash, ch->hash, NV_HASH_LEN);
		d->pack = l->pack;
		d->off = l->off;
		d->clen = l->clen;
		d->ulen = l->ulen;
	}
	j->nchunks = e->nchunks;
	j->cap = 0;
	j->size = e->size;
	j->done = true;
	return true;
}

/* ---- the whole sync ---- */

static void *walk_thread(void *arg)
{
	struct ctx *c = arg;

	c->walk_rc = nv_walk_tree(c->rootfd, c->o->path, &c->walk, &c->walk_err);
	return NULL;
}

int nv_sync_dataset(const struct nv_engine_opts *o, struct nv_sync_result *res,
		    struct nv_error *err)
{
	struct ctx c;
	struct nv_buf prefix = NV_BUF_INIT(4096), key = NV_BUF_INIT(4096);
	struct nv_buf obj = NV_BUF_INIT(NV_MANIFEST_MAX);
	struct nv_manifest prev, cache, out;
	struct listing l;
	pthread_t *threads = NULL, upl[UPLOADERS_MAX];
	int nworkers, nupl, started = 0, upstarted = 0, rc, i;
	uint32_t *run_to_m = NULL;
	size_t *hl_first = NULL; /* walk index -> walk index of its first name */
	size_t *mindex = NULL;	 /* walk index -> manifest index */
	unsigned char head[NV_HASH_LEN];
	bool have_prev = false, gc_running = false;
	struct nv_buf lock = NV_BUF_INIT(4096);
	struct cursor cc = {NULL, 0}, pc = {NULL, 0};
	uint64_t to_hash = 0;
	size_t k, from_cache = 0;
	bool cache_fresh, cache_has_base = false, cache_is_head = false;
	unsigned char cache_base[NV_HASH_LEN];
	const struct nv_manifest *pm;
	pthread_t walker;
	bool walking = false;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.o = o;
	c.rootfd = -1;
	nv_walk_init(&c.walk);
	c.walk.exclude = o->ds->exclude; /* not part of the dataset (config.h) */
	c.walk.nexclude = o->ds->nexclude;
	nv_blob_map_init(&c.map);
	nv_blob_map_init(&c.pack_ids);
	nv_buf_init(&c.pack, NV_PACK_TARGET + ZSTD_COMPRESSBOUND(NV_BLOB_SIZE) + 64);
	pthread_mutex_init(&c.lock, NULL);
	pthread_mutex_init(&c.qlock, NULL);
	pthread_mutex_init(&c.elock, NULL);
	pthread_cond_init(&c.qnonempty, NULL);
	pthread_cond_init(&c.qspace, NULL);
	nv_manifest_init(&prev);
	nv_manifest_init(&cache);
	nv_manifest_init(&out);
	memset(&l, 0, sizeof(l));
	nv_blob_map_init(&l.packs);

	if ((rc = nv_keys_dataset_prefix(o->ds, o->pod_id, &prefix, err)))
		goto done;
	c.prefix = prefix.p;
	/* the folder is walked while the store is read (both mostly wait) */
	c.rootfd = open(o->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c.rootfd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", o->path);
		goto done;
	}
	if (pthread_create(&walker, NULL, walk_thread, &c)) {
		rc = nv_error_set(err, NV_EINTERNAL, "cannot start the walk thread");
		goto done;
	}
	walking = true;
	/* our lock first, then look for a gc: see gc.h */
	if (!o->dry_run && (rc = nv_lock_acquire(o->store, prefix.p, "sync", &lock, err)))
		goto done;
	if ((rc = nv_lock_find(o->store, prefix.p, "gc", NULL, &gc_running, err)))
		goto done;

	/* 1. what the store knows */
	rc = nv_engine_read_head(o->store, prefix.p, head, err);
	if (rc != NV_OK && rc != NV_ENOTFOUND)
		goto done;
	have_prev = rc == NV_OK;
	res->had_head = have_prev;
	nv_engine_read_cache(o, prefix.p, &cache, cache_base, &cache_has_base);
	/* a cache made from HEAD's snapshot has its content and blob
	 * locations: HEAD's manifest need not be fetched and decoded (while
	 * a gc runs, HEAD's own manifest is the only safe source) */
	cache_is_head = have_prev && !gc_running && cache.nentries && cache_has_base &&
			!memcmp(cache_base, head, NV_HASH_LEN);
	if (have_prev && !cache_is_head &&
	    (rc = nv_engine_read_manifest(o->store, prefix.p, head, &prev, err)))
		goto done;
	pm = cache_is_head ? &cache : &prev;
	if ((rc = nv_keys_dir(prefix.p, NV_KEY_PACK, &key, err)))
		goto done;
	l.prefix = key.p;
	l.plen = key.len;
	l.err = err;
	if ((rc = nv_store_list(o->store, key.p, list_cb, &l, err)))
		goto done;
	/* while a gc runs, only HEAD's packs are sure to stay */
	if ((have_prev && (rc = learn_manifest(&c, pm, &l, err))) ||
	    (!gc_running && (rc = learn_orphan_packs(&c, &l, err))) ||
	    (!gc_running && cache.nentries &&
	     !(have_prev && !memcmp(cache.digest, pm->digest, NV_HASH_LEN)) &&
	     (rc = learn_manifest(&c, &cache, &l, err))))
		goto done;

	/* 2. the folder */
	pthread_join(walker, NULL);
	walking = false;
	if ((rc = c.walk_rc)) {
		if (err)
			*err = c.walk_err;
		goto done;
	}
	c.jobs = nv_calloc(c.walk.files ? c.walk.files : 1, sizeof(*c.jobs));
	hl_first = nv_malloc(c.walk.n * sizeof(*hl_first));
	mindex = nv_calloc(c.walk.n, sizeof(*mindex));
	if (!c.jobs || !hl_first || !mindex) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto done;
	}
	memset(hl_first, 0xff, c.walk.n * sizeof(*hl_first));
	cc.m = cache.nentries ? &cache : NULL;
	pc.m = have_prev && !cache_is_head ? &prev : NULL;
	{
		struct nv_blob_map inodes; /* (dev, ino) of multi-link files -> walk index */

		nv_blob_map_init(&inodes);
		for (k = 0; k < c.walk.n; k++) {
			struct nv_walk_entry *we = &c.walk.e[k];
			struct job *j;

			if (!S_ISREG(we->mode))
				continue;
			if (we->nlink > 1) {
				unsigned char ik[NV_HASH_LEN] = {0};
				struct nv_blob_loc v = {0, 0, 0, k};
				bool ins = false;

				memcpy(ik, &we->dev, 8);
				memcpy(ik + 8, &we->ino, 8);
				ik[16] = 1; /* keep apart from a zero key */
				if ((rc = nv_blob_map_put(&inodes, ik, &v, &ins, err)))
					break;
				if (!ins) {
					/* another name of an earlier file */
					hl_first[k] = (size_t)nv_blob_map_get(&inodes, ik)->off;
					continue;
				}
			}
			j = &c.jobs[c.njobs++];
			j->walk_index = k;
			if (try_cache(&c, &cache, seek(&cc, we->path), we, j))
				from_cache++;
			else if (!try_cache(&c, &prev, seek(&pc, we->path), we, j))
				to_hash += we->size;
		}
		nv_blob_map_release(&inodes);
		if (rc)
			goto done;
	}

	/* 3. hash, compress, pack, upload */
	nv_progress_start(&c.progress, "sync", o->ds->path, to_hash,
			  (int)o->cfg->progress_interval_ms);
	nworkers = o->workers > 0 ? o->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nworkers < 1)
		nworkers = 1;
	if (nworkers > 16)
		nworkers = 16;
	nupl = o->cfg->parallel < 4 ? o->cfg->parallel : 4;
	if (nupl > UPLOADERS_MAX)
		nupl = UPLOADERS_MAX;
	threads = nv_calloc((size_t)nworkers, sizeof(*threads));
	if (!threads) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto done;
	}
	for (i = 0; i < nupl; i++, upstarted++)
		if (pthread_create(&upl[i], NULL, uploader, &c)) {
			rc = nv_error_set(err, NV_EINTERNAL, "cannot start an upload thread");
			goto join;
		}
	for (i = 0; i < nworkers; i++, started++)
		if (pthread_create(&threads[i], NULL, hash_worker, &c)) {
			rc = nv_error_set(err, NV_EINTERNAL, "cannot start a hashing thread");
			goto join;
		}
join:
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	if (!rc && !atomic_load(&c.failed)) {
		struct nv_error fe = NV_ERROR_INIT;

		pthread_mutex_lock(&c.lock);
		if (flush_pack(&c, &fe))
			fail(&c, &fe);
		pthread_mutex_unlock(&c.lock);
	}
	pthread_mutex_lock(&c.qlock);
	c.qclosed = true;
	pthread_cond_broadcast(&c.qnonempty);
	pthread_mutex_unlock(&c.qlock);
	for (i = 0; i < upstarted; i++)
		pthread_join(upl[i], NULL);
	if (rc)
		goto done;
	if (atomic_load(&c.failed)) {
		rc = c.first.code;
		if (err)
			*err = c.first;
		goto done;
	}

	/* 4. the manifest */
	out.created = (int64_t)time(NULL);
	out.dataset = nv_strdup(o->ds->path);
	run_to_m = nv_malloc((c.nrpacks ? c.nrpacks : 1) * sizeof(*run_to_m));
	if (!out.dataset || !run_to_m) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto done;
	}
	memset(run_to_m, 0xff, (c.nrpacks ? c.nrpacks : 1) * sizeof(*run_to_m));
	if (have_prev) {
		out.has_parent = true;
		memcpy(out.parent, head, NV_HASH_LEN);
	}
	{
		size_t jn = 0, nch = 0;

		for (k = 0; k < c.njobs; k++)
			nch += c.jobs[k].nchunks;
		if ((rc = nv_manifest_reserve(&out, c.walk.n, nch, err)))
			goto done;
		for (k = 0; k < c.walk.n && !rc; k++) {
			const struct nv_walk_entry *we = &c.walk.e[k];
			struct nv_entry e;
			uint32_t q;

			memset(&e, 0, sizeof(e));
			e.path = we->path;
			e.mode = we->mode & 07777;
			e.mtime_sec = we->mtime_sec;
			e.mtime_nsec = we->mtime_nsec;
			e.ctime_sec = we->ctime_sec;
			e.ctime_nsec = we->ctime_nsec;
			e.ino = we->ino;
			if (S_ISDIR(we->mode)) {
				e.type = NV_ENT_DIR;
				res->dirs++;
			} else if (S_ISLNK(we->mode)) {
				e.type = NV_ENT_SYMLINK;
				e.link = we->link;
				res->symlinks++;
			} else if (hl_first[k] != SIZE_MAX) {
				if (mindex[hl_first[k]] == SIZE_MAX) { /* its file vanished */
					mindex[k] = SIZE_MAX;
					res->skipped++;
					continue;
				}
				e.type = NV_ENT_HARDLINK;
				e.link_index = mindex[hl_first[k]];
				res->hardlinks++;
			} else {
				struct job *j = &c.jobs[jn++];

				if (j->vanished) {
					mindex[k] = SIZE_MAX;
					res->skipped++;
					continue;
				}
				e.type = NV_ENT_FILE;
				e.size = j->size;
				e.first_chunk = out.nchunks;
				e.nchunks = j->nchunks;
				for (q = 0; q < j->nchunks && !rc; q++) {
					struct nv_chunk ch = j->chunks[q];
					uint32_t run = ch.pack;

					if (run_to_m[run] == UINT32_MAX)
						rc = nv_manifest_add_pack(&out, c.rpacks[run],
									  &run_to_m[run], err);
					ch.pack = run_to_m[run];
					if (!rc)
						rc = nv_manifest_add_chunk(&out, &ch, err);
				}
				res->files++;
				res->bytes_scanned += j->size;
			}
			if (!rc)
				rc = nv_manifest_add_entry_ref(&out, &e, &mindex[k], err);
		}
	}
	/* out's paths are the walk's */
	nv_mem_pool_adopt(&out.strings, &c.walk.strings);
	if (rc)
		goto done;
	if ((rc = nv_manifest_compute_digest(&out, err)))
		goto done;
	res->skipped += c.walk.skipped;
	res->bytes_hashed = atomic_load(&c.bytes_hashed);
	res->bytes_new = atomic_load(&c.bytes_new);
	res->blobs_new = atomic_load(&c.blobs_new);
	res->packs_new = atomic_load(&c.packs_new);
	res->unchanged =
	    have_prev && !res->packs_new && !memcmp(out.digest, pm->digest, NV_HASH_LEN);
	/* unchanged, and every file matched the stat cache: the cache on disk
	 * already says all this, so neither encode nor rewrite it */
	cache_fresh = res->unchanged && cache_is_head && from_cache == c.njobs;
	if (!cache_fresh && (rc = nv_manifest_encode(&out, o->cfg->zstd_level, &obj, err)))
		goto done;
	if (res->unchanged) {
		memcpy(res->snapshot, head, NV_HASH_LEN);
	} else {
		nv_sha256(obj.p, obj.len, res->snapshot);
		if (o->dry_run)
			goto done;
		if ((rc = check_deadline(&c))) {
			if (err)
				*err = c.first;
			goto done;
		}
		nv_buf_reset(&key);
		if ((rc = nv_keys_object(prefix.p, NV_KEY_SNAPSHOT, res->snapshot, &key, err)))
			goto done;
		rc = nv_store_put(o->store, key.p, obj.p, obj.len, NV_PUT_IF_ABSENT, err);
		if (rc == NV_EEXISTS)
			rc = NV_OK;
		if (rc)
			goto done;
		res->bytes_uploaded = atomic_load(&c.bytes_uploaded) + obj.len;
		/* HEAD moves last */
		nv_buf_reset(&key);
		{
			struct nv_buf hb = NV_BUF_INIT(256);

			if (!(rc = nv_keys_object(prefix.p, NV_KEY_HEAD, NULL, &key, err)) &&
			    !(rc = nv_head_encode(res->snapshot, &hb, err)))
				rc = nv_store_put(o->store, key.p, hb.p, hb.len, 0, err);
			nv_buf_release(&hb);
			if (rc)
				goto done;
		}
	}
	if (!o->dry_run && !cache_fresh)
		nv_engine_write_cache(o, prefix.p, &obj, res->snapshot, NULL);
done:
	if (walking)
		pthread_join(walker, NULL);
	if (lock.len)
		nv_lock_release(o->store, lock.p);
	nv_buf_release(&lock);
	if (c.rootfd >= 0)
		close(c.rootfd);
	for (k = 0; k < c.njobs; k++)
		if (c.jobs[k].cap)
			nv_free(c.jobs[k].chunks);
	nv_mem_pool_release(&c.slab);
	nv_free(c.jobs);
	nv_free(threads);
	nv_free(run_to_m);
	nv_free(hl_first);
	nv_free(mindex);
	nv_free(c.rpacks);
	nv_free(c.pidx);
	nv_buf_release(&c.pack);
	for (k = 0; k < c.nspare; k++)
		nv_buf_release(&c.spare[k]);
	nv_blob_map_release(&c.map);
	nv_blob_map_release(&c.pack_ids);
	nv_blob_map_release(&l.packs);
	nv_walk_release(&c.walk);
	nv_manifest_release(&prev);
	nv_manifest_release(&cache);
	nv_manifest_release(&out);
	nv_buf_release(&prefix);
	nv_buf_release(&key);
	nv_buf_release(&obj);
	pthread_mutex_destroy(&c.lock);
	pthread_mutex_destroy(&c.qlock);
	pthread_mutex_destroy(&c.elock);
	pthread_cond_destroy(&c.qnonempty);
	pthread_cond_destroy(&c.qspace);
	return rc;
}
