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
#include "engine/merge.h"
#include "engine/gc.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "engine/sync_phases.h"
#include "base/walk.h"

struct nv_sync_pack_item {
	struct nv_buf data;
	struct nv_idx_entry *idx;
	size_t nidx;
	uint32_t run_index;
};

static void fail(struct nv_sync *c, const struct nv_error *e)
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

static bool past_deadline(const struct nv_sync *c)
{
	int64_t late = c->o->late_deadline_ms ? atomic_load(c->o->late_deadline_ms) : 0;
	int64_t now = nv_now_ms();

	return (c->o->deadline_ms && now >= c->o->deadline_ms) || (late && now >= late);
}

static int check_deadline(struct nv_sync *c)
{
	struct nv_error e = NV_ERROR_INIT;

	if (!past_deadline(c))
		return NV_OK;
	nv_error_set(&e, NV_EDEADLINE, "deadline reached before '%s' was synced", c->o->ds->path);
	fail(c, &e);
	return NV_EDEADLINE;
}

/* Room for one more run pack (lock held or single threaded). */
static int grow_rpacks(struct nv_sync *c, struct nv_error *err)
{
	if (NV_GROW(c->rpacks, c->nrpacks, c->rpcap, 64))
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	return NV_OK;
}

/* A run pack index for a pack id, adding it if new (lock held or single
 * threaded). */
static int run_pack_index(struct nv_sync *c, const unsigned char id[NV_HASH_LEN], uint32_t *out,
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

static int list_cb(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct nv_sync_listing *l = ud;
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

static bool pack_present(const struct nv_sync_listing *l, const unsigned char id[NV_HASH_LEN])
{
	const struct nv_blob_loc *v = nv_blob_map_get(&l->packs, id);

	return v && v->pack == 3;
}

/* Add the blobs of manifest m that sit in present packs to the map. */
static int learn_manifest(struct nv_sync *c, const struct nv_manifest *m,
			  const struct nv_sync_listing *l, struct nv_error *err)
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
static int learn_orphan_packs(struct nv_sync *c, const struct nv_sync_listing *l,
			      struct nv_error *err)
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

static void free_item(struct nv_sync_pack_item *it)
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
static void recycle_item(struct nv_sync *c, struct nv_sync_pack_item *it)
{
	pthread_mutex_lock(&c->qlock);
	if (c->nspare < NV_SYNC_SPARE_MAX && it->data.alloc) {
		nv_buf_reset(&it->data);
		c->spare[c->nspare++] = it->data;
		nv_buf_init(&it->data, 0);
	}
	pthread_mutex_unlock(&c->qlock);
	free_item(it);
}

static int upload_item(struct nv_sync *c, struct nv_sync_pack_item *it, struct nv_error *err)
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
	struct nv_sync *c = arg;

	for (;;) {
		struct nv_sync_pack_item *it = NULL;
		struct nv_error e = NV_ERROR_INIT;

		pthread_mutex_lock(&c->qlock);
		while (!c->qlen && !c->qclosed)
			pthread_cond_wait(&c->qnonempty, &c->qlock);
		if (c->qlen) {
			it = c->queue[c->qhead];
			c->qhead = (c->qhead + 1) % NV_SYNC_QUEUE_MAX;
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

static void enqueue(struct nv_sync *c, struct nv_sync_pack_item *it)
{
	pthread_mutex_lock(&c->qlock);
	while (c->qlen == NV_SYNC_QUEUE_MAX && !atomic_load(&c->failed))
		pthread_cond_wait(&c->qspace, &c->qlock);
	if (atomic_load(&c->failed)) {
		pthread_mutex_unlock(&c->qlock);
		free_item(it);
		return;
	}
	c->queue[(c->qhead + c->qlen) % NV_SYNC_QUEUE_MAX] = it;
	c->qlen++;
	pthread_cond_signal(&c->qnonempty);
	pthread_mutex_unlock(&c->qlock);
}

/* Close the open pack: name it and hand it to the uploaders (lock held). */
static int flush_pack(struct nv_sync *c, struct nv_error *err)
{
	struct nv_sync_pack_item *it;
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
static int append_blob(struct nv_sync *c, const unsigned char hash[NV_HASH_LEN], const void *frame,
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

static int job_add_chunk(struct nv_sync_job *j, const unsigned char hash[NV_HASH_LEN],
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

/* Read, hash and pack the open file from its start into j's chunks. */
static int read_once(struct nv_sync *c, struct nv_sync_job *j, struct worker_bufs *wb, int fd,
		     struct nv_error *err)
{
	const struct nv_walk_entry *we = &c->walk.e[j->walk_index];
	int rc = NV_OK;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot seek '%s/%s'", c->o->path,
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
		pthread_mutex_lock(&c->lock_mu);
		known = nv_blob_map_get(&c->map, hash);
		if (known)
			loc = *known;
		pthread_mutex_unlock(&c->lock_mu);
		if (!known) {
			clen = ZSTD_compress2(wb->cctx, wb->out, wb->outcap, wb->in, (size_t)n);
			if (ZSTD_isError(clen)) {
				rc = nv_error_set(err, NV_EINTERNAL, "zstd: %s",
						  ZSTD_getErrorName(clen));
				break;
			}
			pthread_mutex_lock(&c->lock_mu);
			known = nv_blob_map_get(&c->map, hash);
			if (known)
				loc = *known;
			else
				rc = append_blob(c, hash, wb->out, clen, (size_t)n, &loc, err);
			pthread_mutex_unlock(&c->lock_mu);
			if (rc)
				break;
		}
		if ((rc = job_add_chunk(j, hash, &loc, err)))
			break;
		if ((size_t)n < NV_BLOB_SIZE)
			break;
	}
	return rc;
}

static bool same_version(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void log_changed(const struct nv_sync *c, const char *path, const char *action)
{
	struct nv_log_rec r;

	nv_log_begin(&r, NV_LOG_WARN, "sync.file_changed");
	nv_log_str(&r, "dataset", c->o->ds->path);
	nv_log_str(&r, "path", path);
	nv_log_str(&r, "action", action);
	nv_log_end(&r);
}

/* 1 when the file (stat *b) was modified over NV_SYNC_SETTLE_MS ago, or
 * is still the same after waiting until then (*tmp: its stat); 0 when it
 * changed meanwhile; minus an error code. A future mtime counts as old. */
static int settled(const struct nv_sync *c, const char *path, int fd, const struct stat *b,
		   struct stat *tmp, struct nv_error *err)
{
	struct timespec now, nap;
	int64_t age_ms;

	clock_gettime(CLOCK_REALTIME, &now);
	age_ms = ((int64_t)now.tv_sec - (int64_t)b->st_mtim.tv_sec) * 1000 +
		 ((int64_t)now.tv_nsec - (int64_t)b->st_mtim.tv_nsec) / 1000000;
	if (age_ms < 0 || age_ms >= NV_SYNC_SETTLE_MS)
		return 1;
	nap.tv_sec = 0;
	nap.tv_nsec = (long)(NV_SYNC_SETTLE_MS - age_ms) * 1000000L;
	while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
		;
	if (fstat(fd, tmp) < 0)
		return -nv_error_sys(err, NV_EIO, errno, "cannot stat '%s/%s'", c->o->path, path);
	return same_version(b, tmp);
}

/* Read the file until one read saw it unchanged from start to end (size,
 * inode, mtime and ctime equal before and after, and as many bytes read
 * as it has), at most NV_SYNC_READ_TRIES times; that read's stat goes
 * into the job. A file that kept changing is marked torn: nv_sync_build
 * keeps its previous version, or leaves it out. */
static int read_stable(struct nv_sync *c, struct nv_sync_job *j, struct worker_bufs *wb, int fd,
		       struct nv_error *err)
{
	const struct nv_walk_entry *we = &c->walk.e[j->walk_index];
	struct stat a, b;
	int tries, rc;

	for (tries = 1; tries <= NV_SYNC_READ_TRIES; tries++) {
		if (fstat(fd, &a) < 0)
			return nv_error_sys(err, NV_EIO, errno, "cannot stat '%s/%s'", c->o->path,
					    we->path);
		if ((rc = read_once(c, j, wb, fd, err)))
			return rc;
		if (fstat(fd, &b) < 0)
			return nv_error_sys(err, NV_EIO, errno, "cannot stat '%s/%s'", c->o->path,
					    we->path);
		if (!same_version(&a, &b) || j->size != (uint64_t)b.st_size)
			continue;
		/* modified just now: a writer may be between two writes (after
		 * the truncation, before the data) with the file still; it must
		 * stay the same for NV_SYNC_SETTLE_MS after its mtime */
		if ((rc = settled(c, we->path, fd, &b, &a, err)) < 0)
			return -rc;
		if (rc)
			break;
	}
	if (tries > NV_SYNC_READ_TRIES) {
		j->torn = true;
		return NV_OK;
	}
	j->have_stat = true;
	j->ino = (uint64_t)b.st_ino;
	j->mtime_sec = (int64_t)b.st_mtim.tv_sec;
	j->mtime_nsec = (uint32_t)b.st_mtim.tv_nsec;
	j->ctime_sec = (int64_t)b.st_ctim.tv_sec;
	j->ctime_nsec = (uint32_t)b.st_ctim.tv_nsec;
	if (tries > 1)
		log_changed(c, we->path, "reread");
	return NV_OK;
}

static int process_file(struct nv_sync *c, struct nv_sync_job *j, struct worker_bufs *wb,
			struct nv_error *err)
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
	rc = read_stable(c, j, wb, fd, err);
	close(fd);
	return rc;
}

static void *hash_worker(void *arg)
{
	struct nv_sync *c = arg;
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
static bool try_cache(struct nv_sync *c, const struct nv_manifest *m, const struct nv_entry *e,
		      const struct nv_walk_entry *we, struct nv_sync_job *j)
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

/* ---- the phases (sync_phases.h) ---- */

static void *walk_thread(void *arg)
{
	struct nv_sync *c = arg;

	c->walk_rc = nv_walk_tree(c->rootfd, c->o->path, &c->walk, &c->walk_err);
	return NULL;
}

void nv_sync_init(struct nv_sync *c, const struct nv_engine_opts *o, struct nv_sync_result *res)
{
	memset(res, 0, sizeof(*res));
	memset(c, 0, sizeof(*c));
	c->o = o;
	c->res = res;
	c->rootfd = -1;
	nv_buf_init(&c->prefix_buf, 4096);
	nv_buf_init(&c->key, 4096);
	nv_buf_init(&c->obj, NV_MANIFEST_MAX);
	nv_buf_init(&c->lock, 4096);
	nv_walk_init(&c->walk);
	c->walk.exclude = o->ds->exclude; /* not part of the dataset (config.h) */
	c->walk.nexclude = o->ds->nexclude;
	nv_blob_map_init(&c->map);
	nv_blob_map_init(&c->pack_ids);
	nv_buf_init(&c->pack, NV_PACK_TARGET + ZSTD_COMPRESSBOUND(NV_BLOB_SIZE) + 64);
	pthread_mutex_init(&c->lock_mu, NULL);
	pthread_mutex_init(&c->qlock, NULL);
	pthread_mutex_init(&c->elock, NULL);
	pthread_cond_init(&c->qnonempty, NULL);
	pthread_cond_init(&c->qspace, NULL);
	nv_manifest_init(&c->prev);
	nv_manifest_init(&c->cache);
	nv_manifest_init(&c->out);
	nv_blob_map_init(&c->l.packs);
}

/* Which blobs the store holds: those of HEAD's manifest, of the packs no
 * manifest names (their index), and of the stat cache, each only where
 * its pack is listed with its index. While a gc runs, only HEAD's packs
 * are sure to stay. */
static int learn_blobs(struct nv_sync *c, struct nv_error *err)
{
	int rc;

	if ((rc = nv_keys_dir(c->prefix, NV_KEY_PACK, &c->key, err)))
		return rc;
	c->l.prefix = c->key.p;
	c->l.plen = c->key.len;
	c->l.err = err;
	if ((rc = nv_store_list(c->o->store, c->key.p, list_cb, &c->l, err)))
		return rc;
	if (c->have_prev && (rc = learn_manifest(c, c->pm, &c->l, err)))
		return rc;
	if (c->gc_running)
		return NV_OK;
	if ((rc = learn_orphan_packs(c, &c->l, err)))
		return rc;
	if (c->cache.nentries &&
	    !(c->have_prev && !memcmp(c->cache.digest, c->pm->digest, NV_HASH_LEN)))
		rc = learn_manifest(c, &c->cache, &c->l, err);
	return rc;
}

int nv_sync_learn(struct nv_sync *c, struct nv_error *err)
{
	const struct nv_engine_opts *o = c->o;
	int rc;

	if ((rc = nv_keys_dataset_prefix(o->ds, o->pod_id, &c->prefix_buf, err)))
		return rc;
	c->prefix = c->prefix_buf.p;
	/* the folder is walked while the store is read (both mostly wait) */
	c->rootfd = open(o->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", o->path);
	if (pthread_create(&c->walker, NULL, walk_thread, c))
		return nv_error_set(err, NV_EINTERNAL, "cannot start the walk thread");
	c->walking = true;
	/* our lock first, then look for a gc: see gc.h */
	if (!o->dry_run && (rc = nv_lock_acquire(o->store, c->prefix, "sync", &c->lock, err)))
		return rc;
	if ((rc = nv_lock_find(o->store, c->prefix, "gc", NULL, &c->gc_running, err)))
		return rc;
	rc = nv_engine_read_head(o->store, c->prefix, c->head, err);
	if (rc != NV_OK && rc != NV_ENOTFOUND)
		return rc;
	c->have_prev = rc == NV_OK;
	c->res->had_head = c->have_prev;
	nv_engine_read_cache(o, c->prefix, &c->cache, c->cache_base, &c->cache_has_base);
	/* a cache made from HEAD's snapshot has its content and blob
	 * locations: HEAD's manifest need not be fetched and decoded (while
	 * a gc runs, HEAD's own manifest is the only safe source) */
	c->cache_is_head = c->have_prev && !c->gc_running && c->cache.nentries &&
			   c->cache_has_base && !memcmp(c->cache_base, c->head, NV_HASH_LEN);
	if (c->have_prev && !c->cache_is_head &&
	    (rc = nv_engine_read_manifest(o->store, c->prefix, c->head, &c->prev, err)))
		return rc;
	c->pm = c->cache_is_head ? &c->cache : &c->prev;
	return learn_blobs(c, err);
}

/* Another name of an earlier multi-link file? Then hl_first[k] names it
 * and *dup is set. inodes maps (dev, ino) to the first name's walk index. */
static int note_hardlink(struct nv_sync *c, struct nv_blob_map *inodes, size_t k, bool *dup,
			 struct nv_error *err)
{
	const struct nv_walk_entry *we = &c->walk.e[k];
	unsigned char ik[NV_HASH_LEN] = {0};
	struct nv_blob_loc v = {0, 0, 0, k};
	bool ins = false;
	int rc;

	*dup = false;
	if (we->nlink <= 1)
		return NV_OK;
	memcpy(ik, &we->dev, 8);
	memcpy(ik + 8, &we->ino, 8);
	ik[16] = 1; /* keep apart from a zero key */
	if ((rc = nv_blob_map_put(inodes, ik, &v, &ins, err)))
		return rc;
	if (!ins) {
		c->hl_first[k] = (size_t)nv_blob_map_get(inodes, ik)->off;
		*dup = true;
	}
	return NV_OK;
}

int nv_sync_plan(struct nv_sync *c, struct nv_error *err)
{
	struct nv_blob_map inodes;
	struct cursor cc = {NULL, 0}, pc = {NULL, 0};
	size_t k;
	int rc = NV_OK;

	pthread_join(c->walker, NULL);
	c->walking = false;
	if (c->walk_rc) {
		if (err)
			*err = c->walk_err;
		return c->walk_rc;
	}
	c->jobs = nv_calloc(c->walk.files ? c->walk.files : 1, sizeof(*c->jobs));
	c->hl_first = nv_malloc(c->walk.n * sizeof(*c->hl_first));
	c->mindex = nv_calloc(c->walk.n, sizeof(*c->mindex));
	if (!c->jobs || !c->hl_first || !c->mindex)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	memset(c->hl_first, 0xff, c->walk.n * sizeof(*c->hl_first));
	cc.m = c->cache.nentries ? &c->cache : NULL;
	pc.m = c->have_prev && !c->cache_is_head ? &c->prev : NULL;
	nv_blob_map_init(&inodes);
	for (k = 0; k < c->walk.n && !rc; k++) {
		const struct nv_walk_entry *we = &c->walk.e[k];
		struct nv_sync_job *j;
		bool dup;

		if (!S_ISREG(we->mode) || (rc = note_hardlink(c, &inodes, k, &dup, err)) || dup)
			continue;
		j = &c->jobs[c->njobs++];
		j->walk_index = k;
		if (try_cache(c, &c->cache, seek(&cc, we->path), we, j))
			c->from_cache++;
		else if (!try_cache(c, &c->prev, seek(&pc, we->path), we, j))
			c->to_hash += we->size;
	}
	nv_blob_map_release(&inodes);
	return rc;
}

/* Stop the uploaders once the queue is drained, and wait for them. */
static void stop_uploaders(struct nv_sync *c, pthread_t *upl, int n)
{
	int i;

	pthread_mutex_lock(&c->qlock);
	c->qclosed = true;
	pthread_cond_broadcast(&c->qnonempty);
	pthread_mutex_unlock(&c->qlock);
	for (i = 0; i < n; i++)
		pthread_join(upl[i], NULL);
}

int nv_sync_upload(struct nv_sync *c, struct nv_error *err)
{
	const struct nv_engine_opts *o = c->o;
	pthread_t *threads = NULL, upl[NV_SYNC_UPLOADERS_MAX];
	int nworkers, nupl, started = 0, upstarted = 0, rc = NV_OK, i;

	nv_progress_start(&c->progress, "sync", o->ds->path, c->to_hash,
			  (int)o->cfg->progress_interval_ms);
	nworkers = o->workers > 0 ? o->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (nworkers < 1)
		nworkers = 1;
	if (nworkers > 16)
		nworkers = 16;
	nupl = o->cfg->parallel < 4 ? o->cfg->parallel : 4;
	if (nupl > NV_SYNC_UPLOADERS_MAX)
		nupl = NV_SYNC_UPLOADERS_MAX;
	threads = nv_calloc((size_t)nworkers, sizeof(*threads));
	if (!threads)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	while (upstarted < nupl && !pthread_create(&upl[upstarted], NULL, uploader, c))
		upstarted++;
	if (upstarted < nupl)
		rc = nv_error_set(err, NV_EINTERNAL, "cannot start an upload thread");
	while (!rc && started < nworkers &&
	       !pthread_create(&threads[started], NULL, hash_worker, c))
		started++;
	if (!rc && started < nworkers)
		rc = nv_error_set(err, NV_EINTERNAL, "cannot start a hashing thread");
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	nv_free(threads);
	if (!rc && !atomic_load(&c->failed)) {
		struct nv_error fe = NV_ERROR_INIT;

		pthread_mutex_lock(&c->lock_mu);
		if (flush_pack(c, &fe))
			fail(c, &fe);
		pthread_mutex_unlock(&c->lock_mu);
	}
	stop_uploaders(c, upl, upstarted);
	if (rc)
		return rc;
	if (atomic_load(&c->failed)) {
		if (err)
			*err = c->first;
		return c->first.code;
	}
	return NV_OK;
}

/* The manifest entry of a file job: its chunks, with run pack indexes
 * turned into the manifest's pack table. */
static int add_file_chunks(struct nv_sync *c, const struct nv_sync_job *j, struct nv_entry *e,
			   struct nv_error *err)
{
	uint32_t q;
	int rc = NV_OK;

	e->type = NV_ENT_FILE;
	e->size = j->size;
	e->first_chunk = c->out.nchunks;
	e->nchunks = j->nchunks;
	for (q = 0; q < j->nchunks && !rc; q++) {
		struct nv_chunk ch = j->chunks[q];
		uint32_t run = ch.pack;

		if (c->run_to_m[run] == UINT32_MAX)
			rc = nv_manifest_add_pack(&c->out, c->rpacks[run], &c->run_to_m[run], err);
		ch.pack = c->run_to_m[run];
		if (!rc)
			rc = nv_manifest_add_chunk(&c->out, &ch, err);
	}
	return rc;
}

/* A torn file: its entry in HEAD's manifest, as it was, when that is a
 * file whose blobs are all known; NV_ENOTFOUND (nothing set) otherwise. */
static int keep_previous(struct nv_sync *c, const struct nv_walk_entry *we, struct nv_entry *e,
			 struct nv_error *err)
{
	struct cursor cur = {c->have_prev ? c->pm : NULL, c->torn_cur};
	const struct nv_entry *p = seek(&cur, we->path);
	uint32_t q;
	int rc;

	c->torn_cur = cur.i;
	if (!p || p->type != NV_ENT_FILE)
		return NV_ENOTFOUND;
	for (q = 0; q < p->nchunks; q++)
		if (!nv_blob_map_get(&c->map, c->pm->chunks[p->first_chunk + q].hash))
			return NV_ENOTFOUND;
	e->type = NV_ENT_FILE;
	e->size = p->size;
	e->mode = p->mode;
	e->mtime_sec = p->mtime_sec;
	e->mtime_nsec = p->mtime_nsec;
	/* never taken for the file on disk by the next sync's stat cache */
	e->ino = 0;
	e->ctime_sec = e->ctime_nsec = 0;
	e->first_chunk = c->out.nchunks;
	e->nchunks = p->nchunks;
	for (q = 0; q < p->nchunks; q++) {
		struct nv_chunk ch = c->pm->chunks[p->first_chunk + q];
		uint32_t run = nv_blob_map_get(&c->map, ch.hash)->pack;

		ch.pack = run;
		if (c->run_to_m[run] == UINT32_MAX &&
		    (rc = nv_manifest_add_pack(&c->out, c->rpacks[run], &c->run_to_m[run], err)))
			return rc;
		ch.pack = c->run_to_m[run];
		if ((rc = nv_manifest_add_chunk(&c->out, &ch, err)))
			return rc;
	}
	log_changed(c, we->path, "kept_previous");
	return NV_OK;
}

/* One walk entry into the manifest (or left out: mindex SIZE_MAX). *jn is
 * the next file job, in walk order. */
static int add_entry(struct nv_sync *c, size_t k, size_t *jn, struct nv_error *err)
{
	const struct nv_walk_entry *we = &c->walk.e[k];
	struct nv_sync_result *res = c->res;
	struct nv_entry e;
	int rc;

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
	} else if (c->hl_first[k] != SIZE_MAX) {
		if (c->mindex[c->hl_first[k]] == SIZE_MAX) { /* its file vanished */
			c->mindex[k] = SIZE_MAX;
			res->skipped++;
			return NV_OK;
		}
		e.type = NV_ENT_HARDLINK;
		e.link_index = c->mindex[c->hl_first[k]];
		res->hardlinks++;
	} else {
		const struct nv_sync_job *j = &c->jobs[(*jn)++];

		if (j->torn) {
			if ((rc = keep_previous(c, we, &e, err)) == NV_OK)
				goto add;
			if (rc != NV_ENOTFOUND)
				return rc;
			log_changed(c, we->path, "skipped");
		}
		if (j->vanished || j->torn) {
			c->mindex[k] = SIZE_MAX;
			res->skipped++;
			return NV_OK;
		}
		if (j->have_stat) {
			e.ino = j->ino;
			e.mtime_sec = j->mtime_sec;
			e.mtime_nsec = j->mtime_nsec;
			e.ctime_sec = j->ctime_sec;
			e.ctime_nsec = j->ctime_nsec;
		}
		if ((rc = add_file_chunks(c, j, &e, err)))
			return rc;
	add:
		res->files++;
		res->bytes_scanned += e.size;
	}
	return nv_manifest_add_entry_ref(&c->out, &e, &c->mindex[k], err);
}

/* The stat cache names the snapshot the folder came from (restore or this
 * pod's last sync): the base of a merge. */
static bool has_base(const struct nv_sync *c)
{
	return c->have_prev && c->cache_has_base && c->cache.nentries;
}

int nv_sync_build(struct nv_sync *c, struct nv_error *err)
{
	struct nv_sync_result *res = c->res;
	size_t k, jn = 0, nch = 0, nr = c->nrpacks ? c->nrpacks : 1;
	int rc = NV_OK;

	c->out.created = (int64_t)time(NULL);
	c->out.dataset = nv_strdup(c->o->ds->path);
	c->run_to_m = nv_malloc(nr * sizeof(*c->run_to_m));
	if (!c->out.dataset || !c->run_to_m)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	memset(c->run_to_m, 0xff, nr * sizeof(*c->run_to_m));
	/* the pod's own line: the snapshot its folder came from (the stat
	 * cache's base), else HEAD as it was read */
	if (c->have_prev) {
		c->out.has_parent = true;
		memcpy(c->out.parent, has_base(c) ? c->cache_base : c->head, NV_HASH_LEN);
	}
	for (k = 0; k < c->njobs; k++)
		nch += c->jobs[k].nchunks;
	if ((rc = nv_manifest_reserve(&c->out, c->walk.n, nch, err)))
		return rc;
	for (k = 0; k < c->walk.n && !rc; k++)
		rc = add_entry(c, k, &jn, err);
	/* out's paths are the walk's */
	nv_mem_pool_adopt(&c->out.strings, &c->walk.strings);
	if (rc || (rc = nv_manifest_compute_digest(&c->out, err)))
		return rc;
	res->skipped += c->walk.skipped;
	res->bytes_hashed = atomic_load(&c->bytes_hashed);
	res->bytes_new = atomic_load(&c->bytes_new);
	res->blobs_new = atomic_load(&c->blobs_new);
	res->packs_new = atomic_load(&c->packs_new);
	res->unchanged =
	    c->have_prev && !res->packs_new && !memcmp(c->out.digest, c->pm->digest, NV_HASH_LEN);
	/* unchanged, and every file matched the stat cache: the cache on disk
	 * already says all this, so neither encode nor rewrite it */
	c->cache_fresh = res->unchanged && c->cache_is_head && c->from_cache == c->njobs;
	if (!c->cache_fresh &&
	    (rc = nv_manifest_encode(&c->out, c->o->cfg->zstd_level, &c->obj, err)))
		return rc;
	if (res->unchanged)
		memcpy(res->snapshot, c->head, NV_HASH_LEN);
	else
		nv_sha256(c->obj.p, c->obj.len, res->snapshot);
	return NV_OK;
}

/* Store an encoded snapshot manifest under its id. */
static int store_snapshot(struct nv_sync *c, const struct nv_buf *obj,
			  const unsigned char id[NV_HASH_LEN], struct nv_error *err)
{
	int rc;

	nv_buf_reset(&c->key);
	if ((rc = nv_keys_object(c->prefix, NV_KEY_SNAPSHOT, id, &c->key, err)))
		return rc;
	rc = nv_store_put(c->o->store, c->key.p, obj->p, obj->len, NV_PUT_IF_ABSENT, err);
	if (rc == NV_EEXISTS)
		rc = NV_OK;
	if (!rc)
		c->res->bytes_uploaded += obj->len;
	return rc;
}

static int put_head(struct nv_sync *c, const unsigned char id[NV_HASH_LEN], struct nv_error *err)
{
	struct nv_buf hb = NV_BUF_INIT(256);
	int rc;

	nv_buf_reset(&c->key);
	if (!(rc = nv_keys_object(c->prefix, NV_KEY_HEAD, NULL, &c->key, err)) &&
	    !(rc = nv_head_encode(id, &hb, err)))
		rc = nv_store_put(c->o->store, c->key.p, hb.p, hb.len, 0, err);
	nv_buf_release(&hb);
	return rc;
}

/* HEAD now: *found false when there is none. */
static int head_now(struct nv_sync *c, unsigned char id[NV_HASH_LEN], bool *found,
		    struct nv_error *err)
{
	int rc = nv_engine_read_head(c->o->store, c->prefix, id, err);

	*found = rc == NV_OK;
	return rc == NV_ENOTFOUND ? NV_OK : rc;
}

static void log_merge(const struct nv_sync *c, const unsigned char theirs[NV_HASH_LEN],
		      const unsigned char merged[NV_HASH_LEN], const struct nv_merge_result *mr)
{
	char t[NV_HASH_HEX], m[NV_HASH_HEX], o[NV_HASH_HEX];
	struct nv_log_rec r;
	size_t off;

	nv_hex_encode(theirs, NV_HASH_LEN, t);
	nv_hex_encode(merged, NV_HASH_LEN, m);
	nv_hex_encode(c->res->snapshot, NV_HASH_LEN, o);
	nv_log_begin(&r, NV_LOG_INFO, "sync.merged");
	nv_log_str(&r, "dataset", c->o->ds->path);
	nv_log_str(&r, "ours", o);
	nv_log_str(&r, "theirs", t);
	nv_log_str(&r, "merged", m);
	nv_log_u64(&r, "from_theirs", mr->from_theirs);
	nv_log_u64(&r, "conflicts", mr->conflicts);
	nv_log_end(&r);
	for (off = 0; off < mr->conflict_paths.len; off += strlen(mr->conflict_paths.p + off) + 1) {
		nv_log_begin(&r, NV_LOG_WARN, "sync.merge_conflict");
		nv_log_str(&r, "dataset", c->o->ds->path);
		nv_log_str(&r, "path", mr->conflict_paths.p + off);
		nv_log_str(&r, "kept", "ours");
		nv_log_str(&r, "theirs_in", t);
		nv_log_end(&r);
	}
}

/* Does the history of snapshot from (its first parents, up to
 * NV_SYNC_CONFIRM_DEPTH, and their second parents) contain id? */
static bool reaches(struct nv_sync *c, const unsigned char from[NV_HASH_LEN],
		    const unsigned char id[NV_HASH_LEN])
{
	unsigned char cur[NV_HASH_LEN];
	int depth;

	memcpy(cur, from, NV_HASH_LEN);
	for (depth = 0; depth < NV_SYNC_CONFIRM_DEPTH; depth++) {
		struct nv_manifest m;
		bool hit, more;

		if (!memcmp(cur, id, NV_HASH_LEN))
			return true;
		nv_manifest_init(&m);
		if (nv_engine_read_manifest(c->o->store, c->prefix, cur, &m, NULL)) {
			nv_manifest_release(&m);
			return false;
		}
		hit = m.has_parent2 && !memcmp(m.parent2, id, NV_HASH_LEN);
		more = m.has_parent;
		memcpy(cur, m.parent, NV_HASH_LEN);
		nv_manifest_release(&m);
		if (hit)
			return true;
		if (!more)
			return false;
	}
	return false;
}

/* After HEAD was set to id: a pod that read HEAD just before us may have
 * overwritten it (the store has no compare-and-swap). Wait a moment, read
 * HEAD again: *kept when id is HEAD or in its recent history; else now is
 * the HEAD to merge into. No wait when the deadline is too close. */
static int confirm_head(struct nv_sync *c, const unsigned char id[NV_HASH_LEN],
			unsigned char now[NV_HASH_LEN], bool *kept, struct nv_error *err)
{
	struct timespec nap = {0, NV_SYNC_CONFIRM_MS * 1000000L};
	int64_t dl = c->o->deadline_ms;
	bool found;
	int rc;

	*kept = true;
	if (dl && nv_now_ms() + 2 * NV_SYNC_CONFIRM_MS > dl)
		return NV_OK;
	while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
		;
	if ((rc = head_now(c, now, &found, err)))
		return rc;
	*kept = !found || reaches(c, now, id);
	return NV_OK;
}

/* HEAD (theirs) is not the snapshot ours was built on: merge ours into it,
 * store the merge (parents: theirs, ours), and move HEAD to it unless it
 * moved again meanwhile (then merge again, at most NV_SYNC_MERGE_TRIES
 * times). When theirs already has everything ours changed, HEAD stays. */
static int merge_into_head(struct nv_sync *c, const struct nv_manifest *base,
			   unsigned char theirs_id[NV_HASH_LEN], struct nv_error *err)
{
	struct nv_buf enc = NV_BUF_INIT(NV_MANIFEST_MAX);
	unsigned char merged_id[NV_HASH_LEN], now[NV_HASH_LEN];
	int tries, rc = NV_OK;
	bool found = false;

	for (tries = 0; tries < NV_SYNC_MERGE_TRIES; tries++) {
		struct nv_manifest theirs, merged;
		struct nv_merge_result mr;

		nv_manifest_init(&theirs);
		nv_manifest_init(&merged);
		nv_merge_result_init(&mr);
		nv_buf_reset(&enc);
		if (!(rc = nv_engine_read_manifest(c->o->store, c->prefix, theirs_id, &theirs,
						   err)) &&
		    !(rc = nv_merge_manifests(base, &c->out, &theirs, &merged, &mr, err))) {
			merged.has_parent = merged.has_parent2 = true;
			memcpy(merged.parent, theirs_id, NV_HASH_LEN);
			memcpy(merged.parent2, c->res->snapshot, NV_HASH_LEN);
			if (!memcmp(merged.digest, theirs.digest, NV_HASH_LEN)) {
				found = false; /* nothing to add to HEAD */
				memcpy(merged_id, theirs_id, NV_HASH_LEN);
			} else if (!(rc = nv_manifest_encode(&merged, c->o->cfg->zstd_level, &enc,
							     err))) {
				found = true;
				nv_sha256(enc.p, enc.len, merged_id);
			}
			if (!rc)
				log_merge(c, theirs_id, merged_id, &mr);
		}
		nv_merge_result_release(&mr);
		nv_manifest_release(&theirs);
		nv_manifest_release(&merged);
		if (rc || !found)
			break; /* failed, or HEAD already holds the merge */
		if ((rc = check_deadline(c))) {
			if (err)
				*err = c->first;
			break;
		}
		if ((rc = store_snapshot(c, &enc, merged_id, err)))
			break;
		/* HEAD moves last, and only from the HEAD we merged into */
		if ((rc = head_now(c, now, &found, err)))
			break;
		if (found && !memcmp(now, theirs_id, NV_HASH_LEN)) {
			bool kept;

			if ((rc = put_head(c, merged_id, err)) ||
			    (rc = confirm_head(c, merged_id, now, &kept, err)) || kept)
				break;
		}
		if (!found) {
			rc = nv_error_set(err, NV_EBUSY, "HEAD of '%s' vanished while merging",
					  c->o->ds->path);
			break;
		}
		memcpy(theirs_id, now, NV_HASH_LEN);
	}
	if (!rc && tries == NV_SYNC_MERGE_TRIES)
		rc = nv_error_set(err, NV_EBUSY,
				  "HEAD of '%s' kept moving: not merged after %d tries; ours is "
				  "stored, HEAD left as it is",
				  c->o->ds->path, NV_SYNC_MERGE_TRIES);
	nv_buf_release(&enc);
	return rc;
}

/* The snapshot of the folder, then HEAD: straight when HEAD is still the
 * snapshot ours was built on, else a merge. HEAD moves last. */
static int store_snapshot_and_head(struct nv_sync *c, struct nv_error *err)
{
	unsigned char cur[NV_HASH_LEN];
	const unsigned char *base_id = c->out.has_parent ? c->out.parent : NULL;
	const struct nv_manifest *base = has_base(c) ? &c->cache : c->pm;
	bool found;
	int rc;

	if ((rc = check_deadline(c))) {
		if (err)
			*err = c->first;
		return rc;
	}
	c->res->bytes_uploaded = atomic_load(&c->bytes_uploaded);
	if (has_base(c) && !memcmp(c->out.digest, c->cache.digest, NV_HASH_LEN))
		/* the folder is its base: nothing of ours to store or merge but
		 * that snapshot (HEAD moved without us) */
		memcpy(c->res->snapshot, c->cache_base, NV_HASH_LEN);
	else if ((rc = store_snapshot(c, &c->obj, c->res->snapshot, err)))
		return rc;
	if ((rc = head_now(c, cur, &found, err)))
		return rc;
	if ((!found && !base_id) || (found && base_id && !memcmp(cur, base_id, NV_HASH_LEN))) {
		bool kept;

		if ((rc = put_head(c, c->res->snapshot, err)) ||
		    (rc = confirm_head(c, c->res->snapshot, cur, &kept, err)) || kept)
			return rc;
		found = true; /* overwritten: merge into what is there now */
	}
	if (!found)
		return nv_error_set(err, NV_EBUSY, "HEAD of '%s' vanished while syncing",
				    c->o->ds->path);
	/* no base: everything only in HEAD is theirs to keep */
	return merge_into_head(c, base_id ? base : NULL, cur, err);
}

int nv_sync_publish(struct nv_sync *c, struct nv_error *err)
{
	int rc;

	if (c->o->dry_run)
		return NV_OK;
	if (!c->res->unchanged && (rc = store_snapshot_and_head(c, err)))
		return rc;
	/* the folder's own snapshot: the base of the next merge */
	if (!c->cache_fresh)
		nv_engine_write_cache(c->o, c->prefix, &c->obj, c->res->snapshot, NULL);
	return NV_OK;
}

void nv_sync_release(struct nv_sync *c)
{
	size_t k;

	if (c->walking)
		pthread_join(c->walker, NULL);
	c->walking = false;
	if (c->lock.len)
		nv_lock_release(c->o->store, c->lock.p);
	nv_buf_release(&c->lock);
	nv_fs_close(&c->rootfd);
	for (k = 0; k < c->njobs; k++)
		if (c->jobs && c->jobs[k].cap)
			nv_free(c->jobs[k].chunks);
	c->njobs = 0;
	nv_mem_pool_release(&c->slab);
	nv_free(c->jobs);
	nv_free(c->run_to_m);
	nv_free(c->hl_first);
	nv_free(c->mindex);
	nv_free(c->rpacks);
	nv_free(c->pidx);
	c->jobs = NULL;
	c->run_to_m = NULL;
	c->hl_first = c->mindex = NULL;
	c->rpacks = NULL;
	c->pidx = NULL;
	nv_buf_release(&c->pack);
	for (k = 0; k < c->nspare; k++)
		nv_buf_release(&c->spare[k]);
	c->nspare = 0;
	nv_blob_map_release(&c->map);
	nv_blob_map_release(&c->pack_ids);
	nv_blob_map_release(&c->l.packs);
	nv_walk_release(&c->walk);
	nv_manifest_release(&c->prev);
	nv_manifest_release(&c->cache);
	nv_manifest_release(&c->out);
	nv_buf_release(&c->prefix_buf);
	nv_buf_release(&c->key);
	nv_buf_release(&c->obj);
	if (c->o) {
		pthread_mutex_destroy(&c->lock_mu);
		pthread_mutex_destroy(&c->qlock);
		pthread_mutex_destroy(&c->elock);
		pthread_cond_destroy(&c->qnonempty);
		pthread_cond_destroy(&c->qspace);
	}
	c->o = NULL;
}

int nv_sync_dataset(const struct nv_engine_opts *o, struct nv_sync_result *res,
		    struct nv_error *err)
{
	struct nv_sync c;
	int rc;

	nv_sync_init(&c, o, res);
	if (!(rc = nv_sync_learn(&c, err)) && !(rc = nv_sync_plan(&c, err)) &&
	    !(rc = nv_sync_upload(&c, err)) && !(rc = nv_sync_build(&c, err)))
		rc = nv_sync_publish(&c, err);
	nv_sync_release(&c);
	return rc;
}
