/* restore: a snapshot from the store into a folder, via a staging folder.
 *
 * The manifest is read and fully validated first (snapshot.c). Files are
 * written into a fresh staging folder next to the target: worker threads
 * fetch coalesced byte ranges of packs, decompress each blob, check its
 * SHA-256 and write it where the manifest says. Then hardlinks, symlinks,
 * modes and times; then one rename() makes the whole tree visible. Any
 * failure removes the staging folder and leaves the target as it was.
 */
#include "engine/engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "base/fs.h"
#include "engine/pack.h"
#include "store/keys.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "engine/volume.h"

#define RANGE_MAX (4u << 20)   /* bytes fetched by one request, at most */
#define RANGE_GAP (256u << 10) /* join pieces closer than this */

/* ---- shared store access ---- */

int nv_engine_read_head(struct nv_store *s, const char *prefix, unsigned char id[NV_HASH_LEN],
			struct nv_error *err)
{
	struct nv_buf key = NV_BUF_INIT(4096), data = NV_BUF_INIT(4096);
	int rc;

	if ((rc = nv_keys_object(prefix, NV_KEY_HEAD, NULL, &key, err)))
		goto out;
	rc = nv_store_get(s, key.p, &data, err);
	if (rc == NV_OK && (rc = nv_head_decode(data.p, data.len, id, err)))
		nv_error_prefix(err, "'%s'", key.p);
out:
	nv_buf_release(&key);
	nv_buf_release(&data);
	return rc;
}

int nv_engine_read_manifest(struct nv_store *s, const char *prefix,
			    const unsigned char id[NV_HASH_LEN], struct nv_manifest *m,
			    struct nv_error *err)
{
	struct nv_buf key = NV_BUF_INIT(4096), data = NV_BUF_INIT(NV_MANIFEST_MAX);
	unsigned char sum[NV_HASH_LEN];
	char hex[NV_HASH_HEX];
	int rc;

	nv_hex_encode(id, NV_HASH_LEN, hex);
	if ((rc = nv_keys_object(prefix, NV_KEY_SNAPSHOT, id, &key, err)))
		goto out;
	rc = nv_store_get(s, key.p, &data, err);
	if (rc == NV_ENOTFOUND) {
		rc = nv_error_set(err, NV_ECORRUPT,
				  "HEAD of '%s' names snapshot %s, which is missing from the store",
				  prefix, hex);
		goto out;
	}
	if (rc)
		goto out;
	nv_sha256(data.p, data.len, sum);
	if (memcmp(sum, id, NV_HASH_LEN)) {
		rc = nv_error_set(err, NV_ECORRUPT, "snapshot '%s' does not match its hash", key.p);
		goto out;
	}
	if ((rc = nv_manifest_decode(data.p, data.len, m, err)))
		nv_error_prefix(err, "snapshot '%s'", key.p);
out:
	nv_buf_release(&key);
	nv_buf_release(&data);
	return rc;
}

int nv_engine_cache_name(const char *prefix, struct nv_buf *out, struct nv_error *err)
{
	int rc = nv_keys_escape(prefix, out, err);

	return rc ? rc : nv_buf_addstr(out, "snap", err);
}

/* The stat cache file is the encoded manifest followed by a trailer: the
 * magic, the id of the snapshot whose content and blob locations it has,
 * and the SHA-256 of the manifest bytes (so a trailer never vouches for
 * other bytes). */
#define CACHE_MAGIC "NVCBASE1"
#define CACHE_TRAILER (8 + 2 * NV_HASH_LEN)

/* Keep the manifest as the local stat cache of the folder (best effort). */
int nv_engine_write_cache(const struct nv_engine_opts *o, const char *prefix,
			  struct nv_buf *manifest, const unsigned char base[NV_HASH_LEN],
			  struct nv_error *err)
{
	struct nv_buf name = NV_BUF_INIT(4096);
	struct nv_error local = NV_ERROR_INIT;
	int dirfd = -1, rc;

	if (!o->cache_dir)
		return NV_OK;
	if (!err) /* callers that ignore the error still get it in the warning */
		err = &local;
	if (mkdir(o->cache_dir, 0755) < 0 && errno != EEXIST) {
		/* the parent (.netvol) may be missing too */
		struct nv_buf parent = NV_BUF_INIT(4096);
		char *slash;

		nv_buf_addstr(&parent, o->cache_dir, NULL);
		slash = strrchr(parent.p, '/');
		if (slash && slash != parent.p) {
			*slash = '\0';
			mkdir(parent.p, 0755);
		}
		nv_buf_release(&parent);
		mkdir(o->cache_dir, 0755);
	}
	dirfd = open(o->cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc =
		    nv_error_sys(err, NV_EIO, errno, "cannot open cache folder '%s'", o->cache_dir);
		goto out;
	}
	if ((rc = nv_engine_cache_name(prefix, &name, err)))
		goto out;
	{
		unsigned char sum[NV_HASH_LEN];
		size_t mlen = manifest->len;

		nv_sha256(manifest->p, mlen, sum);
		if (!(rc = nv_buf_add(manifest, CACHE_MAGIC, 8, err)) &&
		    !(rc = nv_buf_add(manifest, base, NV_HASH_LEN, err)) &&
		    !(rc = nv_buf_add(manifest, sum, NV_HASH_LEN, err)))
			rc = nv_fs_write_file_atomic(dirfd, name.p, manifest->p, manifest->len,
						     0644, err);
		nv_buf_setlen(manifest, mlen); /* keeps the NUL invariant */
	}
out:
	if (rc) {
		struct nv_log_rec r;

		nv_log_begin(&r, NV_LOG_WARN, "cache.write_failed");
		nv_log_str(&r, "dataset", o->ds->path);
		nv_log_str(&r, "error", err->msg);
		nv_log_end(&r);
	}
	nv_fs_close(&dirfd);
	nv_buf_release(&name);
	return rc;
}

int nv_engine_read_cache(const struct nv_engine_opts *o, const char *prefix, struct nv_manifest *m,
			 unsigned char base[NV_HASH_LEN], bool *has_base)
{
	struct nv_buf name = NV_BUF_INIT(4096), data = NV_BUF_INIT(NV_MANIFEST_MAX + CACHE_TRAILER);
	struct nv_error e = NV_ERROR_INIT;
	int dirfd = -1, rc = NV_ENOTFOUND;
	size_t len;

	*has_base = false;
	if (!o->cache_dir)
		return NV_ENOTFOUND;
	dirfd = open(o->cache_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0 || nv_engine_cache_name(prefix, &name, &e))
		goto out;
	if (nv_fs_read_file_at(dirfd, name.p, &data, &e))
		goto out;
	len = data.len;
	if (len > CACHE_TRAILER && !memcmp(data.p + len - CACHE_TRAILER, CACHE_MAGIC, 8)) {
		unsigned char sum[NV_HASH_LEN];

		len -= CACHE_TRAILER;
		nv_sha256(data.p, len, sum);
		if (memcmp(sum, data.p + len + 8 + NV_HASH_LEN, NV_HASH_LEN)) {
			rc = nv_error_set(&e, NV_ECORRUPT, "it does not match its checksum");
		} else {
			memcpy(base, data.p + len + 8, NV_HASH_LEN);
			*has_base = true;
			rc = NV_OK;
		}
	} else {
		rc = NV_OK; /* no trailer: written by an earlier build */
	}
	if (!rc)
		rc = nv_manifest_decode(data.p, len, m, &e);
	if (rc) {
		struct nv_log_rec r;

		*has_base = false;
		rc = NV_ENOTFOUND;
		nv_log_begin(&r, NV_LOG_WARN, "cache.unreadable");
		nv_log_str(&r, "dataset", o->ds->path);
		nv_log_str(&r, "error", e.msg);
		nv_log_end(&r);
	}
out:
	nv_fs_close(&dirfd);
	nv_buf_release(&name);
	nv_buf_release(&data);
	return rc;
}

/* ---- restore ---- */

struct piece {
	size_t entry; /* manifest entry */
	size_t chunk; /* manifest chunk */
	uint64_t file_off;
	bool single; /* the file's only chunk: create the file with it */
};

struct range {
	uint32_t pack;
	uint64_t off, len;
	size_t first, n; /* pieces[first .. first+n) */
};

struct nv_restored_stat {
	uint64_t ino;
	int64_t ctime_sec;
	uint32_t ctime_nsec;
	bool done;
};

struct rctx {
	const struct nv_engine_opts *o;
	const struct nv_manifest *m;
	const char *prefix;
	int stagefd;
	struct piece *pieces;
	size_t npieces;
	/* per entry: its inode and ctime, taken by the worker that finished it
	 * (files of one piece), so the stat cache needs no path lookup for it */
	struct nv_restored_stat *st;
	struct range *ranges;
	size_t nranges;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t elock;
	struct nv_error first;
	atomic_uint_least64_t bytes, fetched, requests;
	struct nv_progress progress;
};

static void rfail(struct rctx *c, const struct nv_error *e)
{
	pthread_mutex_lock(&c->elock);
	if (!atomic_load(&c->failed)) {
		c->first = *e;
		atomic_store(&c->failed, 1);
	}
	pthread_mutex_unlock(&c->elock);
}

static int piece_cmp(const void *a, const void *b, void *ud)
{
	const struct nv_manifest *m = ud;
	const struct nv_chunk *x = &m->chunks[((const struct piece *)a)->chunk];
	const struct nv_chunk *y = &m->chunks[((const struct piece *)b)->chunk];

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return 0;
}

static int write_piece(struct rctx *c, const struct piece *p, const void *data, size_t len,
		       struct nv_error *err)
{
	const struct nv_entry *e = &c->m->entries[p->entry];
	int flags = O_WRONLY | (p->single ? O_CREAT | O_EXCL : 0);
	/* a file of one piece is created with its final mode (the umask is 0
	 * while the tree is built, see nv_restore_dataset): the descriptor
	 * stays writable whatever the mode says */
	int fd =
	    nv_fs_openat_beneath(c->stagefd, e->path, flags, p->single ? e->mode & 07777 : 0600);
	int rc = NV_OK;

	if (fd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot create '%s/%s'", c->o->path,
				    e->path);
	if (nv_fs_pwrite_full(fd, data, len, (off_t)p->file_off) < 0)
		rc = nv_error_sys(err, NV_EIO, errno, "cannot write '%s/%s'", c->o->path, e->path);
	/* a file of one piece is complete now: its times are set here, on the
	 * descriptor, by this worker (its mode came with its creation): no path
	 * lookup for it in the serial metadata pass (build_tree) */
	if (!rc && p->single) {
		struct timespec ts[2] = {{(time_t)e->mtime_sec, (long)e->mtime_nsec},
					 {(time_t)e->mtime_sec, (long)e->mtime_nsec}};

		if (futimens(fd, ts) < 0)
			rc = nv_error_sys(err, NV_EIO, errno, "cannot set the times of '%s/%s'",
					  c->o->path, e->path);
		else if (c->st) {
			struct stat st;

			/* after the last change to the inode (a hardlink to it is
			 * made later: refresh_stat_cache takes those again) */
			if (fstat(fd, &st) == 0)
				c->st[p->entry] =
				    (struct nv_restored_stat){st.st_ino, st.st_ctim.tv_sec,
							      (uint32_t)st.st_ctim.tv_nsec, true};
		}
	}
	if (close(fd) < 0 && !rc)
		rc = nv_error_sys(err, NV_EIO, errno, "cannot write '%s/%s'", c->o->path, e->path);
	return rc;
}

static bool past_deadline(const struct rctx *c)
{
	return c->o->deadline_ms && nv_now_ms() >= c->o->deadline_ms;
}

static int do_range(struct rctx *c, const struct range *r, struct nv_buf *buf, unsigned char *plain,
		    ZSTD_DCtx *dctx, struct nv_error *err)
{
	struct nv_buf key = NV_BUF_INIT(4096);
	size_t i;
	int rc;

	if ((rc = nv_keys_object(c->prefix, NV_KEY_PACK, c->m->packs[r->pack], &key, err)))
		goto out;
	nv_buf_reset(buf);
	rc = nv_store_get_range(c->o->store, key.p, r->off, r->len, buf, err);
	if (rc == NV_ENOTFOUND)
		rc = nv_error_set(err, NV_ECORRUPT, "pack '%s' is missing from the store", key.p);
	if (rc)
		goto out;
	atomic_fetch_add(&c->fetched, r->len);
	atomic_fetch_add(&c->requests, 1);
	for (i = 0; i < r->n; i++) {
		const struct piece *p = &c->pieces[r->first + i];
		const struct nv_chunk *ch = &c->m->chunks[p->chunk];
		size_t n;

		/* every worker starts its range at once: check the deadline per
		 * blob, not only per range */
		if (past_deadline(c)) {
			rc = nv_error_set(err, NV_EDEADLINE,
					  "deadline reached while restoring '%s'", c->o->ds->path);
			goto out;
		}
		if ((rc = nv_pack_blob_decode(dctx, buf->p + (ch->off - r->off), ch->clen, ch->ulen,
					      ch->hash, plain, err))) {
			nv_error_prefix(err, "blob at %llu in pack '%s' (for '%s')",
					(unsigned long long)ch->off, key.p,
					c->m->entries[p->entry].path);
			goto out;
		}
		n = ch->ulen;
		if ((rc = write_piece(c, p, plain, n, err)))
			goto out;
		atomic_fetch_add(&c->bytes, n);
		nv_progress_add(&c->progress, n);
	}
out:
	nv_buf_release(&key);
	return rc;
}

static void *restore_worker(void *arg)
{
	struct rctx *c = arg;
	struct nv_buf buf = NV_BUF_INIT(RANGE_MAX + ZSTD_COMPRESSBOUND(NV_BLOB_SIZE));
	unsigned char *plain = nv_malloc(NV_BLOB_SIZE);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	struct nv_error e = NV_ERROR_INIT;

	if (!plain || !dctx) {
		nv_error_set(&e, NV_ENOMEM, "out of memory for a restore worker");
		rfail(c, &e);
		goto out;
	}
	while (!atomic_load(&c->failed)) {
		size_t i = atomic_fetch_add(&c->next, 1);

		if (i >= c->nranges)
			break;
		if (past_deadline(c)) {
			nv_error_set(&e, NV_EDEADLINE, "deadline reached while restoring '%s'",
				     c->o->ds->path);
			rfail(c, &e);
			break;
		}
		if (do_range(c, &c->ranges[i], &buf, plain, dctx, &e)) {
			rfail(c, &e);
			break;
		}
	}
out:
	nv_buf_release(&buf);
	nv_free(plain);
	ZSTD_freeDCtx(dctx);
	return NULL;
}

/* Group pieces (sorted by pack and offset) into ranges. */
static int plan_ranges(struct rctx *c, struct nv_error *err)
{
	size_t i;

	c->ranges = nv_calloc(c->npieces ? c->npieces : 1, sizeof(*c->ranges));
	if (!c->ranges)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	for (i = 0; i < c->npieces; i++) {
		const struct nv_chunk *ch = &c->m->chunks[c->pieces[i].chunk];
		struct range *r = c->nranges ? &c->ranges[c->nranges - 1] : NULL;
		uint64_t end = ch->off + ch->clen;

		if (r && r->pack == ch->pack && ch->off >= r->off &&
		    ch->off <= r->off + r->len + RANGE_GAP && end - r->off <= RANGE_MAX) {
			if (end > r->off + r->len)
				r->len = end - r->off;
			r->n++;
			continue;
		}
		r = &c->ranges[c->nranges++];
		r->pack = ch->pack;
		r->off = ch->off;
		r->len = ch->clen;
		r->first = i;
		r->n = 1;
	}
	return NV_OK;
}

/* The mode a directory is created with: its own when that leaves it
 * writable and searchable by us (nearly always), else 0700 until the
 * metadata pass. */
static mode_t dir_mode_now(const struct nv_entry *e)
{
	return (e->mode & 0700) == 0700 ? (mode_t)(e->mode & 07777) : 0700;
}

static int set_meta(int dirfd, const char *path, const struct nv_entry *e, const char *what,
		    struct nv_error *err)
{
	struct timespec ts[2];
	const char *p = *path ? path : ".";

	ts[0].tv_sec = e->mtime_sec;
	ts[0].tv_nsec = e->mtime_nsec;
	ts[1] = ts[0];
	if (e->type != NV_ENT_SYMLINK &&
	    !(e->type == NV_ENT_DIR && *path && dir_mode_now(e) == (mode_t)(e->mode & 07777)) &&
	    fchmodat(dirfd, p, e->mode, 0) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot set the mode of '%s/%s'", what,
				    path);
	if (utimensat(dirfd, p, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot set the times of '%s/%s'", what,
				    path);
	return NV_OK;
}

/* Make the staging tree from the manifest (the caller removes it on error). */
static int build_tree(struct rctx *c, struct nv_restore_result *res, struct nv_error *err)
{
	const struct nv_manifest *m = c->m;
	const char *what = c->o->path;
	pthread_t th[16];
	int nworkers, started = 0, i, rc = NV_OK;
	size_t k;

	/* directories, empty and multi-chunk files */
	for (k = 1; k < m->nentries; k++) {
		const struct nv_entry *e = &m->entries[k];

		if (e->type == NV_ENT_DIR) {
			/* with its final mode when that lets us fill it (umask 0) */
			if (mkdirat(c->stagefd, e->path, dir_mode_now(e)) < 0)
				return nv_error_sys(err, NV_EIO, errno, "cannot create '%s/%s'",
						    what, e->path);
			res->dirs++;
		} else if (e->type == NV_ENT_FILE && e->nchunks != 1) {
			int fd = nv_fs_openat_beneath(c->stagefd, e->path,
						      O_WRONLY | O_CREAT | O_EXCL, 0600);

			if (fd < 0)
				return nv_error_sys(err, NV_EIO, errno, "cannot create '%s/%s'",
						    what, e->path);
			if (e->size && ftruncate(fd, (off_t)e->size) < 0) {
				rc = nv_error_sys(err, NV_EIO, errno, "cannot size '%s/%s'", what,
						  e->path);
				close(fd);
				return rc;
			}
			close(fd);
		}
	}
	/* file data */
	c->pieces = nv_calloc(m->nchunks ? m->nchunks : 1, sizeof(*c->pieces));
	if (!c->pieces)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	for (k = 0; k < m->nentries; k++) {
		const struct nv_entry *e = &m->entries[k];
		uint64_t off = 0;
		uint32_t j;

		if (e->type != NV_ENT_FILE)
			continue;
		res->files++;
		for (j = 0; j < e->nchunks; j++) {
			struct piece *p = &c->pieces[c->npieces++];

			p->entry = k;
			p->chunk = e->first_chunk + j;
			p->file_off = off;
			p->single = e->nchunks == 1;
			off += m->chunks[p->chunk].ulen;
		}
	}
	if (c->npieces)
		qsort_r(c->pieces, c->npieces, sizeof(*c->pieces), piece_cmp, (void *)m);
	if ((rc = plan_ranges(c, err)))
		return rc;
	nv_progress_start(&c->progress, "restore", c->o->ds->path, m->total_bytes,
			  (int)c->o->cfg->progress_interval_ms);
	nworkers = c->o->workers > 0 ? c->o->workers : c->o->cfg->parallel;
	if (nworkers > 16)
		nworkers = 16;
	if ((size_t)nworkers > c->nranges)
		nworkers = (int)(c->nranges ? c->nranges : 1);
	for (i = 0; i < nworkers; i++, started++)
		if (pthread_create(&th[i], NULL, restore_worker, c)) {
			struct nv_error e;

			nv_error_set(&e, NV_EINTERNAL, "cannot start a restore thread");
			rfail(c, &e);
			break;
		}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&c->failed)) {
		if (err)
			*err = c->first;
		return c->first.code;
	}
	res->bytes = atomic_load(&c->bytes);
	res->bytes_fetched = atomic_load(&c->fetched);
	res->requests = atomic_load(&c->requests);
	/* links, then metadata (directories last, deepest first) */
	for (k = 1; k < m->nentries; k++) {
		const struct nv_entry *e = &m->entries[k];

		if (e->type == NV_ENT_HARDLINK) {
			if (linkat(c->stagefd, m->entries[e->link_index].path, c->stagefd, e->path,
				   0) < 0)
				return nv_error_sys(err, NV_EIO, errno, "cannot link '%s/%s'", what,
						    e->path);
			res->hardlinks++;
		} else if (e->type == NV_ENT_SYMLINK) {
			if (symlinkat(e->link, c->stagefd, e->path) < 0)
				return nv_error_sys(err, NV_EIO, errno,
						    "cannot create symlink '%s/%s'", what, e->path);
			res->symlinks++;
		}
	}
	for (k = 1; k < m->nentries; k++) {
		const struct nv_entry *e = &m->entries[k];

		/* files of one piece got theirs when written (write_piece) */
		if (((e->type == NV_ENT_FILE && e->nchunks != 1) || e->type == NV_ENT_SYMLINK) &&
		    (rc = set_meta(c->stagefd, e->path, e, what, err)))
			return rc;
	}
	for (k = m->nentries; k-- > 0;) {
		const struct nv_entry *e = &m->entries[k];

		if (e->type == NV_ENT_DIR && (rc = set_meta(c->stagefd, e->path, e, what, err)))
			return rc;
	}
	return NV_OK;
}

/* Refresh the stat-cache fields from the files just written. */
static void refresh_stat_cache(int stagefd, struct nv_manifest *m, struct nv_restored_stat *done)
{
	size_t k;

	/* a hardlink's target changed (its link count, so its ctime) after its
	 * worker's fstat: it is stat'ed here again */
	for (k = 0; done && k < m->nentries; k++)
		if (m->entries[k].type == NV_ENT_HARDLINK)
			done[m->entries[k].link_index].done = false;

	for (k = 0; k < m->nentries; k++) {
		struct nv_entry *e = &m->entries[k];
		struct stat st;

		if (done && done[k].done) {
			e->ino = done[k].ino;
			e->ctime_sec = done[k].ctime_sec;
			e->ctime_nsec = done[k].ctime_nsec;
			continue;
		}
		if (fstatat(stagefd, *e->path ? e->path : ".", &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		e->ino = st.st_ino;
		e->ctime_sec = st.st_ctim.tv_sec;
		e->ctime_nsec = (uint32_t)st.st_ctim.tv_nsec;
	}
}

static void log_kept(const struct nv_engine_opts *o, const char *why)
{
	struct nv_log_rec r;

	nv_log_begin(&r, NV_LOG_WARN, "restore.kept_local");
	nv_log_str(&r, "dataset", o->ds->path);
	nv_log_str(&r, "path", o->path);
	nv_log_str(&r, "reason", why);
	nv_log_end(&r);
}

int nv_restore_dataset(const struct nv_engine_opts *o, struct nv_restore_result *res,
		       struct nv_error *err)
{
	struct nv_buf prefix = NV_BUF_INIT(4096), parent = NV_BUF_INIT(NV_PATH_BUF);
	struct nv_buf root = NV_BUF_INIT(NV_PATH_BUF);
	struct nv_buf obj = NV_BUF_INIT(NV_MANIFEST_MAX);
	struct nv_volume_stage stage;
	struct nv_manifest m;
	struct rctx c;
	struct stat st;
	const char *slash;
	int parentfd = -1, rc, empty;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.stagefd = -1;
	nv_volume_stage_init(&stage);
	pthread_mutex_init(&c.elock, NULL);
	nv_manifest_init(&m);

	if ((rc = nv_keys_dataset_prefix(o->ds, o->pod_id, &prefix, err)))
		goto out;
	slash = strrchr(o->path, '/');
	if (!slash || !slash[1]) {
		rc = nv_error_set(err, NV_EINVALID, "restore target '%s' must be an absolute path",
				  o->path);
		goto out;
	}
	if ((rc = nv_buf_add(&parent, o->path, (size_t)(slash - o->path), err)))
		goto out;
	if (!parent.len && (rc = nv_buf_addch(&parent, '/', err)))
		goto out;
	/* o->path is <root>/<dataset path>: the root is configuration (it may
	 * be a symlink), the dataset's own folders are walked beneath it */
	{
		size_t pl = strlen(o->path), dl = strlen(o->ds->path);

		if (pl <= dl + 1 || strcmp(o->path + pl - dl, o->ds->path) ||
		    o->path[pl - dl - 1] != '/') {
			rc = nv_error_set(err, NV_EINVALID,
					  "restore target '%s' does not end with '%s'", o->path,
					  o->ds->path);
			goto out;
		}
		if ((rc = nv_buf_add(&root, o->path, pl - dl - 1, err)))
			goto out;
	}

	/* Rule 1: a folder with data in it is never overwritten */
	if (lstat(o->path, &st) == 0 && S_ISDIR(st.st_mode)) {
		empty = nv_fs_is_empty_dir_at(AT_FDCWD, o->path);
		if (empty < 0) {
			rc = nv_error_sys(err, NV_EIO, errno, "cannot read '%s'", o->path);
			goto out;
		}
		/* what the dataset excludes (nested datasets...) is not its data:
		 * kept, and the restored tree renamed in around it */
		if (!empty && nv_volume_only_excluded(AT_FDCWD, o->path, o->ds->exclude,
						      o->ds->nexclude) != 1) {
			res->kept_local = true;
			log_kept(o, "the folder already holds data; it is kept as it is");
			goto out;
		}
	}

	if (o->snapshot) {
		memcpy(res->snapshot, o->snapshot, NV_HASH_LEN);
		rc = NV_OK;
	} else {
		rc = nv_engine_read_head(o->store, prefix.p, res->snapshot, err);
	}
	if (rc == NV_ENOTFOUND) {
		res->fresh = true;
		rc = NV_OK;
		if (o->dry_run)
			goto out;
		if (lstat(o->path, &st) == 0 && S_ISLNK(st.st_mode) && unlink(o->path) < 0) {
			rc =
			    nv_error_sys(err, NV_EIO, errno, "cannot remove symlink '%s'", o->path);
			goto out;
		}
		{
			const char *nm;

			rc = nv_fs_open_parent_in(root.p, o->ds->path, 1, &parentfd, &nm, err);
			if (!rc && mkdirat(parentfd, nm, 0755) < 0 && errno != EEXIST)
				rc =
				    nv_error_sys(err, NV_EIO, errno, "cannot create '%s'", o->path);
		}
		goto out;
	}
	if (rc)
		goto out;
	if ((rc = nv_engine_read_manifest(o->store, prefix.p, res->snapshot, &m, err)))
		goto out;
	if (o->dry_run) {
		res->files = m.nentries;
		res->bytes = m.total_bytes;
		goto out;
	}

	/* the staging folder, next to the target; pod storage has one restore
	 * at a time: leftovers of a killed one go */
	if ((rc = nv_volume_stage_begin(root.p, o->ds->path, 0, &stage, err)))
		goto out;
	c.stagefd = stage.fd;
	c.o = o;
	c.m = &m;
	c.prefix = prefix.p;
	/* optional: without it every entry is stat'ed by path afterwards */
	c.st = nv_calloc(m.nentries ? m.nentries : 1, sizeof(*c.st));
	{
		/* files are created with their final modes (write_piece), which a
		 * umask would narrow: none while the staging tree is built. The
		 * umask is the process's; restore is the only thing this process
		 * creates files with meanwhile (the CLI runs datasets in turn). */
		mode_t um = umask(0);

		rc = build_tree(&c, res, err);
		umask(um);
		if (rc)
			goto out;
	}
	refresh_stat_cache(c.stagefd, &m, c.st);

	/* one rename makes it visible; a symlink there is swapped out */
	rc = nv_volume_stage_publish_around(&stage, o->path, o->ds->exclude, o->ds->nexclude, err);
	if (rc == NV_EEXISTS) {
		res->kept_local = true;
		log_kept(o, "data appeared in the folder during the restore; it is kept");
		rc = NV_OK;
		goto out;
	}
	if (rc)
		goto out;
	if (!nv_manifest_encode(&m, 1, &obj, NULL))
		nv_engine_write_cache(o, prefix.p, &obj, res->snapshot, NULL);
out:
	nv_volume_stage_release(&stage);
	c.stagefd = -1; /* closed with the stage */
	nv_fs_close(&parentfd);
	nv_free(c.pieces);
	nv_free(c.st);
	nv_free(c.ranges);
	pthread_mutex_destroy(&c.elock);
	nv_manifest_release(&m);
	nv_buf_release(&prefix);
	nv_buf_release(&parent);
	nv_buf_release(&root);
	nv_buf_release(&obj);
	return rc;
}
