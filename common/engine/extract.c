/* extract: tar.gz and zip from a ranged byte source into a staging folder.
 *
 * libarchive reads through callbacks over the source: pieces of
 * NV_EXTRACT_PIECE bytes, the next one fetched by a helper thread while
 * libarchive works on the current one (tar.gz is read front to back; zip
 * seeks, and a seek outside the held piece drops the prefetch). Nothing is
 * copied to disk but the members, and at most two pieces are in memory.
 */
#include "engine/extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/mem.h"
#include "base/progress.h"

#define PATH_CAP 4096

/* ---- the byte source behind libarchive ---- */

struct piece {
	struct nv_buf buf;
	uint64_t off;
	int rc;
	struct nv_error err;
};

struct reader {
	const struct nv_extract_src *src;
	size_t piece;
	struct piece cur, next;
	bool have_cur, pending;
	pthread_t th;
	uint64_t pos; /* next byte libarchive gets */
	/* SHA-256 of the bytes in order, while the reads are sequential */
	struct nv_sha256 h;
	bool hashing;
	uint64_t hashed; /* bytes hashed so far (= offset of the next) */
	uint64_t fetched, requests;
	int rc;
	struct nv_error err;
};

static int fetch(struct reader *r, struct piece *p, uint64_t off)
{
	uint64_t len = r->src->size - off;

	if (len > r->piece)
		len = r->piece;
	p->off = off;
	nv_buf_reset(&p->buf);
	p->rc = r->src->read(r->src->ud, off, (size_t)len, &p->buf, &p->err);
	if (!p->rc && p->buf.len != len)
		p->rc = nv_error_set(&p->err, NV_ECORRUPT, "short read of '%s' at %llu",
				     r->src->name, (unsigned long long)off);
	return p->rc;
}

static void *prefetch_main(void *arg)
{
	struct reader *r = arg;

	fetch(r, &r->next, r->next.off);
	return NULL;
}

static void prefetch_wait(struct reader *r)
{
	if (r->pending) {
		pthread_join(r->th, NULL);
		r->pending = false;
	}
}

static void prefetch_start(struct reader *r, uint64_t off)
{
	if (off >= r->src->size)
		return;
	r->next.off = off;
	r->next.rc = NV_OK;
	if (pthread_create(&r->th, NULL, prefetch_main, r) == 0)
		r->pending = true;
}

/* Make r->cur hold the byte at pos. */
static int load(struct reader *r, uint64_t pos)
{
	struct piece tmp;

	if (r->src->deadline_ms && nv_now_ms() >= r->src->deadline_ms) {
		nv_error_set(&r->err, NV_EDEADLINE, "deadline reached while reading '%s'",
			     r->src->name);
		return r->rc = NV_EDEADLINE;
	}
	if (r->pending && r->next.off == pos) {
		prefetch_wait(r);
		if (r->next.rc) {
			r->err = r->next.err;
			return r->rc = r->next.rc;
		}
		tmp = r->cur;
		r->cur = r->next;
		r->next = tmp;
	} else {
		prefetch_wait(r);
		if (fetch(r, &r->cur, pos)) {
			r->err = r->cur.err;
			return r->rc = r->cur.rc;
		}
	}
	r->have_cur = true;
	r->fetched += r->cur.buf.len;
	if (r->src->progress)
		nv_progress_add(r->src->progress, r->cur.buf.len);
	r->requests++;
	if (r->hashing && r->cur.off == r->hashed) {
		nv_sha256_update(&r->h, r->cur.buf.p, r->cur.buf.len);
		r->hashed += r->cur.buf.len;
	} else {
		r->hashing = false;
	}
	prefetch_start(r, r->cur.off + r->cur.buf.len);
	return NV_OK;
}

static la_ssize_t read_cb(struct archive *a, void *ud, const void **out)
{
	struct reader *r = ud;
	uint64_t end;

	if (r->pos >= r->src->size)
		return 0;
	end = r->have_cur ? r->cur.off + r->cur.buf.len : 0;
	if (!r->have_cur || r->pos < r->cur.off || r->pos >= end) {
		if (load(r, r->pos)) {
			archive_set_error(a, EIO, "%s", r->err.msg);
			return -1;
		}
		end = r->cur.off + r->cur.buf.len;
	}
	*out = r->cur.buf.p + (r->pos - r->cur.off);
	{
		la_ssize_t n = (la_ssize_t)(end - r->pos);

		r->pos = end;
		return n;
	}
}

static la_int64_t seek_cb(struct archive *a, void *ud, la_int64_t off, int whence)
{
	struct reader *r = ud;
	int64_t base = whence == SEEK_SET   ? 0
		       : whence == SEEK_CUR ? (int64_t)r->pos
					    : (int64_t)r->src->size;

	(void)a;
	if (off > INT64_MAX - base || base + off < 0 || (uint64_t)(base + off) > r->src->size)
		return ARCHIVE_FATAL;
	r->pos = (uint64_t)(base + off);
	return (la_int64_t)r->pos;
}

static void reader_release(struct reader *r)
{
	prefetch_wait(r);
	nv_buf_release(&r->cur.buf);
	nv_buf_release(&r->next.buf);
	nv_sha256_release(&r->h);
}

/* The rest of the object into the hash (after libarchive's end). */
static int drain_hash(struct reader *r)
{
	while (r->hashing && r->hashed < r->src->size) {
		if (load(r, r->hashed))
			return r->rc;
	}
	return NV_OK;
}

static int store_read(void *ud, uint64_t off, size_t len, struct nv_buf *out, struct nv_error *err)
{
	struct nv_extract_store_src *s = ud;

	return nv_store_get_range(s->store, s->src.name, off, len, out, err);
}

void nv_extract_store_src_init(struct nv_extract_store_src *s, struct nv_store *store,
			       const char *key, uint64_t size)
{
	memset(s, 0, sizeof(*s));
	s->store = store;
	s->src.read = store_read;
	s->src.ud = s;
	s->src.size = size;
	s->src.name = key;
}

/* ---- paths ---- */

int nv_extract_norm_path(const char *in, struct nv_buf *out, struct nv_error *err)
{
	const char *p = in;

	nv_buf_reset(out);
	if (*in == '/')
		return nv_error_set(err, NV_EUNSAFE, "absolute path");
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return nv_error_set(err, NV_EUNSAFE, "'..' in the path");
		if (n && !(n == 1 && p[0] == '.')) {
			if (out->len && nv_buf_addch(out, '/', err))
				return NV_ETOOBIG;
			if (nv_buf_add(out, p, n, err))
				return NV_ETOOBIG;
		}
		p += n + (p[n] == '/');
	}
	return NV_OK;
}

bool nv_extract_link_inside(const char *rel, const char *target)
{
	const char *p;
	size_t depth = 0, up = 0;
	bool normal = false;

	if (!*target || *target == '/')
		return false;
	for (p = rel; *p; p++)
		depth += *p == '/';
	for (p = target; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (normal || ++up > depth)
				return false;
		} else if (n && !(n == 1 && p[0] == '.')) {
			normal = true;
		}
		p += n + (p[n] == '/');
	}
	return true;
}

/* ---- extraction ---- */

static const char *aerr(struct archive *a)
{
	const char *m = archive_error_string(a);

	return m ? m : "damaged data";
}

struct xctx {
	const struct nv_extract_src *src;
	const struct nv_extract_map *map;
	int stagefd;
	struct nv_extract_stats *st;
	struct nv_buf dest, member, rel, link;
	bool first_done;
	uint64_t budget; /* plain bytes this object may still produce */
};

static int fail(struct xctx *x, struct nv_error *err, enum nv_code code, const char *member,
		const char *why)
{
	if (!why)
		why = "damaged data";
	return nv_error_set(err, code, "legacy object '%s': member '%s': %s", x->src->name, member,
			    why);
}

/* Member path -> path below the staging folder in x->rel; 1 = not kept,
 * 2 = excluded. */
static int map_path(struct xctx *x, const char *raw, struct nv_error *err)
{
	struct nv_error e = NV_ERROR_INIT;
	size_t sl = strlen(x->map->strip), i;

	if (nv_extract_norm_path(raw, &x->member, &e))
		return fail(x, err, e.code, raw, e.msg);
	if (sl) {
		if (x->member.len + 1 == sl && !memcmp(x->member.p, x->map->strip, x->member.len))
			return 1; /* the kept folder itself */
		if (x->member.len < sl || memcmp(x->member.p, x->map->strip, sl))
			return 1;
	}
	if (x->member.len == sl)
		return 1; /* the root */
	if (x->map->exclude) {
		const char *rest = x->member.p + sl;
		size_t el = strlen(x->map->exclude);

		if (!strncmp(rest, x->map->exclude, el) ||
		    (strlen(rest) + 1 == el && !strncmp(rest, x->map->exclude, el - 1)))
			return 2;
	}
	if (!x->first_done && x->map->first) {
		x->first_done = true;
		if (x->map->first(x->map->ud, x->member.p + sl, &x->dest, &e))
			return fail(x, err, e.code, raw, e.msg);
	}
	x->first_done = true;
	nv_buf_reset(&x->rel);
	if (nv_buf_addstr(&x->rel, x->dest.p, NULL) ||
	    nv_buf_addstr(&x->rel, x->member.p + sl, NULL) || x->rel.len >= PATH_CAP)
		return fail(x, err, NV_EUNSAFE, raw, "path too long");
	for (i = 0; i < x->map->ds_nexclude; i++) {
		size_t el = strlen(x->map->ds_exclude[i]);

		if (!strncmp(x->rel.p, x->map->ds_exclude[i], el) &&
		    (x->rel.p[el] == '\0' || x->rel.p[el] == '/'))
			return 1; /* not the dataset's: a nested one, models... */
	}
	return NV_OK;
}

/* Open the folder that holds rel (created, no symlinks on the way). */
static int open_parent(struct xctx *x, const char *rel, int create, int *fd, const char **base,
		       struct nv_error *err)
{
	char dir[PATH_CAP];
	const char *slash = strrchr(rel, '/');
	size_t n = slash ? (size_t)(slash - rel) : 0;

	memcpy(dir, rel, n);
	dir[n] = '\0';
	*base = slash ? slash + 1 : rel;
	return nv_fs_open_dir_beneath(x->stagefd, dir, create, fd, err);
}

static int write_file(struct archive *a, struct xctx *x, struct archive_entry *ent, const char *raw,
		      struct nv_error *err)
{
	struct nv_error e = NV_ERROR_INIT;
	const char *base;
	int dfd = -1, fd = -1, rc;
	int64_t declared = archive_entry_size_is_set(ent) ? archive_entry_size(ent) : -1;
	uint64_t written = 0, end = 0;
	struct timespec ts[2];

	if (declared > 0 &&
	    ((uint64_t)declared > NV_EXTRACT_MEMBER_MAX || (uint64_t)declared > x->budget))
		return fail(x, err, NV_ETOOBIG, raw, "absurd size");
	if ((rc = open_parent(x, x->rel.p, 1, &dfd, &base, &e))) {
		rc = fail(x, err, rc, raw, e.msg);
		goto out;
	}
	fd = openat(dfd, base, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "legacy object '%s': cannot create '%s'",
				  x->src->name, x->rel.p);
		goto out;
	}
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &len, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
			rc = fail(x, err, NV_ECORRUPT, raw, aerr(a));
			goto out;
		}
		if (off < 0 || (uint64_t)off + len > NV_EXTRACT_MEMBER_MAX ||
		    (declared >= 0 && (uint64_t)off + len > (uint64_t)declared) ||
		    written + len > x->budget) {
			rc = fail(x, err, NV_ETOOBIG, raw, "more data than its size");
			goto out;
		}
		if (nv_fs_pwrite_full(fd, buf, len, (off_t)off) < 0) {
			rc = nv_error_sys(err, NV_EIO, errno,
					  "legacy object '%s': cannot write '%s'", x->src->name,
					  x->rel.p);
			goto out;
		}
		written += len;
		if ((uint64_t)off + len > end)
			end = (uint64_t)off + len;
	}
	if (declared > 0 && (uint64_t)declared > end && ftruncate(fd, (off_t)declared) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "legacy object '%s': cannot size '%s'",
				  x->src->name, x->rel.p);
		goto out;
	}
	x->budget -= written;
	x->st->bytes += written;
	x->st->files++;
	if (fchmod(fd, archive_entry_perm(ent) & 0777) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "legacy object '%s': cannot chmod '%s'",
				  x->src->name, x->rel.p);
		goto out;
	}
	ts[0].tv_sec = archive_entry_mtime(ent);
	ts[0].tv_nsec = archive_entry_mtime_nsec(ent);
	ts[1] = ts[0];
	futimens(fd, ts);
	if (close(fd) < 0) {
		fd = -1;
		rc = nv_error_sys(err, NV_EIO, errno, "legacy object '%s': cannot write '%s'",
				  x->src->name, x->rel.p);
		goto out;
	}
	fd = -1;
out:
	nv_fs_close(&fd);
	nv_fs_close(&dfd);
	return rc;
}

static bool is_pylink(const char *rel)
{
	const char *b = strstr(rel, "bin/python");
	const char *s;

	if (!b || strchr(b + 4, '/'))
		return false;
	/* "<venv>/bin/python*" or "bin/python*" */
	if (b == rel)
		return true;
	s = strchr(rel, '/');
	return s && s + 1 == b;
}

static int make_symlink(struct xctx *x, struct archive_entry *ent, const char *raw,
			struct nv_error *err)
{
	const char *target = archive_entry_symlink(ent);
	struct nv_error e = NV_ERROR_INIT;
	const char *base;
	int dfd = -1, rc;

	if (!target)
		target = archive_entry_symlink_utf8(ent);
	if (!target)
		return fail(x, err, NV_ECORRUPT, raw, "symlink without a target");
	if (!nv_extract_link_inside(x->rel.p, target)) {
		if (*target == '/' && x->map->pylink && is_pylink(x->rel.p)) {
			x->map->pylink(x->map->ud, x->rel.p, target);
			return NV_OK;
		}
		nv_buf_reset(&x->link);
		nv_buf_addf(&x->link, NULL, "symlink to '%s' points outside the target", target);
		return fail(x, err, NV_EUNSAFE, raw, x->link.p);
	}
	if ((rc = open_parent(x, x->rel.p, 1, &dfd, &base, &e)))
		return fail(x, err, rc, raw, e.msg);
	if (symlinkat(target, dfd, base) < 0)
		rc = nv_error_sys(err, NV_EIO, errno,
				  "legacy object '%s': cannot create symlink '%s'", x->src->name,
				  x->rel.p);
	else
		x->st->symlinks++;
	nv_fs_close(&dfd);
	return rc;
}

static int make_hardlink(struct xctx *x, const char *target_raw, const char *raw,
			 struct nv_error *err)
{
	struct nv_buf rel = NV_BUF_INIT(PATH_CAP);
	struct nv_error e = NV_ERROR_INIT;
	const char *sbase, *dbase;
	int sfd = -1, dfd = -1, rc;

	if ((rc = nv_buf_addstr(&rel, x->rel.p, err)))
		goto out;
	rc = map_path(x, target_raw, &e);
	if (rc) {
		nv_buf_reset(&x->link);
		nv_buf_addf(&x->link, NULL, "hardlink to '%s', outside the target", target_raw);
		rc = fail(x, err, NV_EUNSAFE, raw, x->link.p);
		goto out;
	}
	if ((rc = open_parent(x, x->rel.p, 0, &sfd, &sbase, &e)) ||
	    (rc = open_parent(x, rel.p, 1, &dfd, &dbase, &e))) {
		rc = fail(x, err, rc, raw, e.msg);
		goto out;
	}
	{
		/* a link to a symlink would be that symlink at another depth,
		 * where its target was never checked: regular files only */
		struct stat sb;

		if (fstatat(sfd, sbase, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode)) {
			nv_buf_reset(&x->link);
			nv_buf_addf(&x->link, NULL, "hardlink to '%s', not a file extracted before",
				    target_raw);
			rc = fail(x, err, NV_EUNSAFE, raw, x->link.p);
			goto out;
		}
	}
	if (linkat(sfd, sbase, dfd, dbase, 0) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno,
				  "legacy object '%s': member '%s': cannot link to '%s'",
				  x->src->name, raw, target_raw);
		goto out;
	}
	x->st->hardlinks++;
out:
	nv_fs_close(&sfd);
	nv_fs_close(&dfd);
	nv_buf_release(&rel);
	return rc;
}

static int one_entry(struct archive *a, struct xctx *x, struct archive_entry *ent,
		     struct nv_error *err)
{
	const char *raw = archive_entry_pathname(ent);
	const char *hl;
	int rc;

	if (!raw)
		raw = archive_entry_pathname_utf8(ent);
	if (!raw)
		return nv_error_set(err, NV_ECORRUPT, "legacy object '%s': a member without a name",
				    x->src->name);
	rc = map_path(x, raw, err);
	if (rc == 1 || rc == 2) {
		if (rc == 1)
			x->st->skipped++;
		else
			x->st->excluded++;
		return NV_OK;
	}
	if (rc)
		return rc;
	hl = archive_entry_hardlink(ent);
	if (!hl)
		hl = archive_entry_hardlink_utf8(ent);
	if (hl)
		return make_hardlink(x, hl, raw, err);
	switch (archive_entry_filetype(ent)) {
	case AE_IFREG:
		return write_file(a, x, ent, raw, err);
	case AE_IFDIR: {
		struct nv_error e = NV_ERROR_INIT;

		if ((rc = nv_fs_mkdirs_beneath(x->stagefd, x->rel.p, &e)))
			return fail(x, err, rc, raw, e.msg);
		x->st->dirs++;
		return NV_OK;
	}
	case AE_IFLNK:
		return make_symlink(x, ent, raw, err);
	default:
		return fail(x, err, NV_EUNSAFE, raw, "device, fifo or socket");
	}
}

int nv_extract_run(const struct nv_extract_src *src, enum nv_extract_fmt fmt,
		   const struct nv_extract_map *map, int stagefd, struct nv_extract_stats *st,
		   struct nv_error *err)
{
	struct reader r;
	struct xctx x = {src,
			 map,
			 stagefd,
			 st,
			 NV_BUF_INIT(PATH_CAP),
			 NV_BUF_INIT(PATH_CAP * 2),
			 NV_BUF_INIT(PATH_CAP * 2),
			 NV_BUF_INIT(PATH_CAP * 2),
			 false,
			 0};
	struct archive *a = NULL;
	struct archive_entry *ent;
	int rc = NV_OK, ar;

	memset(&r, 0, sizeof(r));
	r.src = src;
	r.piece = src->piece ? src->piece : NV_EXTRACT_PIECE;
	nv_buf_init(&r.cur.buf, r.piece);
	nv_buf_init(&r.next.buf, r.piece);
	x.budget = src->size > (UINT64_MAX - (1u << 20)) / NV_EXTRACT_RATIO
		       ? UINT64_MAX
		       : src->size * NV_EXTRACT_RATIO + (1u << 20);
	if ((rc = nv_buf_addstr(&x.dest, map->dest, err)))
		goto out;
	if (map->sum) {
		if ((rc = nv_sha256_init(&r.h, err)))
			goto out;
		r.hashing = true;
	}
	a = archive_read_new();
	if (!a) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	if (fmt == NV_EXTRACT_TARGZ) {
		archive_read_support_filter_gzip(a);
		archive_read_support_format_tar(a);
		/* read to the physical end, so a cut gzip stream is seen */
		archive_read_set_format_option(a, "tar", "read_concatenated_archives", "1");
	} else {
		archive_read_support_format_zip_seekable(a);
		archive_read_set_seek_callback(a, seek_cb);
	}
	archive_read_set_read_callback(a, read_cb);
	archive_read_set_callback_data(a, &r);
	if (archive_read_open1(a) != ARCHIVE_OK) {
		rc = r.rc ? nv_error_set(err, r.rc, "legacy object '%s': %s", src->name, r.err.msg)
			  : nv_error_set(err, NV_ECORRUPT, "legacy object '%s' is not a %s: %s",
					 src->name, fmt == NV_EXTRACT_TARGZ ? "tar.gz" : "zip",
					 aerr(a));
		goto out;
	}
	while ((ar = archive_read_next_header(a, &ent)) != ARCHIVE_EOF) {
		if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) {
			rc = r.rc ? nv_error_set(err, r.rc, "legacy object '%s': %s", src->name,
						 r.err.msg)
				  : nv_error_set(err, NV_ECORRUPT,
						 "legacy object '%s' is damaged: %s", src->name,
						 aerr(a));
			goto out;
		}
		if ((rc = one_entry(a, &x, ent, err))) {
			if (r.rc)
				nv_error_set(err, r.rc, "legacy object '%s': %s", src->name,
					     r.err.msg);
			goto out;
		}
	}
	if (map->sum) {
		unsigned char sum[NV_HASH_LEN];

		if ((rc = drain_hash(&r))) {
			nv_error_set(err, rc, "legacy object '%s': %s", src->name, r.err.msg);
			goto out;
		}
		if (!r.hashing) {
			rc = nv_error_set(err, NV_EINTERNAL,
					  "legacy object '%s': not read in order", src->name);
			goto out;
		}
		nv_sha256_final(&r.h, sum);
		if (memcmp(sum, map->sum, NV_HASH_LEN)) {
			rc = nv_error_set(err, NV_ECORRUPT,
					  "legacy object '%s' does not match its SHA-256 in "
					  "venv_chunks.checksums",
					  src->name);
			goto out;
		}
	}
out:
	if (a)
		archive_read_free(a);
	st->fetched += r.fetched;
	st->requests += r.requests;
	reader_release(&r);
	nv_buf_release(&x.dest);
	nv_buf_release(&x.member);
	nv_buf_release(&x.rel);
	nv_buf_release(&x.link);
	return rc;
}
