/* legacy_restore: a dataset from the shell scripts' objects (legacy.h).
 *
 * Phases on one context: find (HEAD/list the places LEGACY.md names, in
 * order, until one has data), plan (legacy.c, then the checksum files),
 * stage (a folder next to the target), extract (worker threads, one object
 * each, streamed from the store by extract.c; venv_other_folders.zip
 * before the chunks), fix the venvs' interpreter links, publish (one
 * rename). Any failure discards the staging folder.
 */
#include "engine/legacy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/extract.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "engine/volume.h"

#define KEYS_MAX 4000000u      /* keys of one listing, at most */
#define SUMS_MAX (1u << 20)    /* a venv_chunks.checksums */
#define PYVENV_MAX (64u << 10) /* a pyvenv.cfg */
#define WORKERS_MIN 10
#define WORKERS_MAX 16

struct pylink {
	char *rel, *target;
};

struct lctx {
	const struct nv_legacy_opts *o;
	struct nv_legacy_plan plan;
	struct nv_legacy_key *keys;
	size_t nkeys, capkeys;
	struct nv_volume_stage stage;
	/* extraction */
	bool phase_first;
	atomic_size_t next;
	atomic_int failed;
	pthread_mutex_t lock; /* first, stats, pylinks */
	struct nv_error first;
	struct nv_extract_stats st;
	struct pylink *links;
	size_t nlinks;
	struct nv_progress progress; /* bytes read of the objects */
};

/* ---- find ---- */

static int add_key(struct lctx *c, const char *key, uint64_t size, struct nv_error *err)
{
	if (c->nkeys == c->capkeys) {
		size_t cap = c->capkeys ? c->capkeys * 2 : 64;
		struct nv_legacy_key *n;

		if (c->nkeys >= KEYS_MAX)
			return nv_error_set(err, NV_ETOOBIG, "more than %u legacy keys", KEYS_MAX);
		n = nv_realloc(c->keys, cap * sizeof(*n));
		if (!n)
			return nv_error_set(err, NV_ENOMEM, "out of memory");
		c->keys = n;
		c->capkeys = cap;
	}
	c->keys[c->nkeys].key = nv_strdup(key);
	if (!c->keys[c->nkeys].key)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	c->keys[c->nkeys++].size = size;
	return NV_OK;
}

struct list_ud {
	struct lctx *c;
	struct nv_error *err;
};

static int list_cb(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct list_ud *u = ud;

	return add_key(u->c, key, st->size, u->err);
}

static int find(struct lctx *c, struct nv_error *err)
{
	struct nv_legacy_probe *probes = NULL;
	size_t np = 0, i;
	int rc;

	if ((rc = nv_legacy_probes(c->o->ds, c->o->pod_id, &probes, &np, err)))
		return rc;
	for (i = 0; i < np; i++) {
		if (probes[i].prefix) {
			struct list_ud u = {c, err};

			rc = nv_store_list(c->o->store, probes[i].key, list_cb, &u, err);
		} else {
			struct nv_store_stat st;

			rc = nv_store_head(c->o->store, probes[i].key, &st, err);
			if (rc == NV_ENOTFOUND)
				rc = NV_OK;
			else if (!rc)
				rc = add_key(c, probes[i].key, st.size, err);
		}
		if (rc)
			break;
		nv_legacy_plan_release(&c->plan);
		if ((rc = nv_legacy_plan(c->o->ds, c->o->pod_id, c->keys, c->nkeys, &c->plan, err)))
			break;
		if (c->plan.source)
			break;
	}
	nv_legacy_probes_free(probes, np);
	return rc;
}

static int read_sums(struct lctx *c, struct nv_error *err)
{
	struct nv_buf data = NV_BUF_INIT(SUMS_MAX);
	size_t i;
	int rc = NV_OK;

	for (i = 0; i < c->plan.nobjs && !rc; i++) {
		if (c->plan.objs[i].kind != NV_LEGACY_SUMS)
			continue;
		nv_buf_reset(&data);
		if (!(rc = nv_store_get(c->o->store, c->plan.objs[i].key, &data, err)))
			rc = nv_legacy_plan_sums(&c->plan, i, data.p, data.len, err);
	}
	nv_buf_release(&data);
	return rc;
}

/* ---- extract ---- */

static void lfail(struct lctx *c, const struct nv_error *e)
{
	pthread_mutex_lock(&c->lock);
	if (!atomic_load(&c->failed)) {
		c->first = *e;
		atomic_store(&c->failed, 1);
	}
	pthread_mutex_unlock(&c->lock);
}

struct job {
	struct lctx *c;
	const struct nv_legacy_obj *obj;
};

/* X.Y of the venv already in the staging folder: lib/python3.* or pyvenv.cfg. */
static int venv_python_version(struct lctx *c, const char *venv, struct nv_buf *out,
			       struct nv_error *err)
{
	struct nv_buf path = NV_BUF_INIT(8192), cfg = NV_BUF_INIT(PYVENV_MAX),
		      home = NV_BUF_INIT(4096), ver = NV_BUF_INIT(256);
	int fd = -1, rc = NV_OK, found = 0;
	DIR *d = NULL;
	struct dirent *de;

	nv_buf_reset(out);
	nv_buf_addf(&path, NULL, "%s%slib", venv, *venv ? "/" : "");
	if (!nv_fs_open_dir_beneath(c->stage.fd, path.p, 0, &fd, NULL) && (d = fdopendir(fd))) {
		fd = -1;
		while ((de = readdir(d)))
			if (!strncmp(de->d_name, "python3.", 8) && strlen(de->d_name) < 16) {
				nv_buf_reset(out);
				nv_buf_addstr(out, de->d_name + 6, NULL);
				found++;
			}
	}
	if (found == 1)
		goto out;
	nv_buf_reset(out);
	nv_buf_reset(&path);
	nv_buf_addf(&path, NULL, "%s%spyvenv.cfg", venv, *venv ? "/" : "");
	fd = nv_fs_openat_beneath(c->stage.fd, path.p, O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0 && !nv_fs_read_fd(fd, path.p, &cfg, NULL) &&
	    !nv_legacy_parse_pyvenv(cfg.p, cfg.len, &home, &ver, NULL) && ver.len) {
		/* "3.11.9" -> "3.11" */
		const char *dot = strchr(ver.p, '.');
		const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;

		nv_buf_add(out, ver.p, dot2 ? (size_t)(dot2 - ver.p) : ver.len, NULL);
	}
	if (!out->len)
		rc = nv_error_set(err, NV_ECORRUPT,
				  "venv '%s': its chunks hold site-packages only, and neither "
				  "lib/python3.* nor pyvenv.cfg tells the Python version",
				  venv);
out:
	if (d)
		closedir(d);
	nv_fs_close(&fd);
	nv_buf_release(&path);
	nv_buf_release(&cfg);
	nv_buf_release(&home);
	nv_buf_release(&ver);
	return rc;
}

static int chunk_first(void *ud, const char *member, struct nv_buf *dest, struct nv_error *err)
{
	struct job *j = ud;
	struct nv_buf ver = NV_BUF_INIT(64);
	int rc;

	if (nv_legacy_member_is_venv_root(member))
		return NV_OK;
	if (!(rc = venv_python_version(j->c, j->obj->venv, &ver, err)))
		rc = nv_buf_addf(dest, err, "lib/python%s/site-packages/", ver.p);
	nv_buf_release(&ver);
	return rc;
}

static int one_venv_first(void *ud, const char *member, struct nv_buf *dest, struct nv_error *err)
{
	(void)ud;
	if (!nv_legacy_member_is_venv_root(member))
		return NV_OK;
	nv_buf_reset(dest);
	return nv_buf_addstr(dest, "comfyui/", err);
}

static void on_pylink(void *ud, const char *rel, const char *target)
{
	struct job *j = ud;
	struct lctx *c = j->c;
	struct pylink *n;

	pthread_mutex_lock(&c->lock);
	n = nv_realloc(c->links, (c->nlinks + 1) * sizeof(*n));
	if (n) {
		c->links = n;
		n[c->nlinks].rel = nv_strdup(rel);
		n[c->nlinks].target = nv_strdup(target);
		if (n[c->nlinks].rel && n[c->nlinks].target) {
			c->nlinks++;
		} else {
			nv_free(n[c->nlinks].rel);
			nv_free(n[c->nlinks].target);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* A loose object: the whole object is one file. */
static int put_file(struct lctx *c, const struct nv_legacy_obj *obj, struct nv_extract_stats *st,
		    struct nv_error *err)
{
	struct nv_buf buf = NV_BUF_INIT(NV_EXTRACT_PIECE);
	const char *slash = strrchr(obj->dest, '/');
	char dir[4096];
	int dfd = -1, fd = -1, rc;
	uint64_t off = 0;
	size_t n = slash ? (size_t)(slash - obj->dest) : 0;
	bool exec =
	    slash && n >= 3 && !strncmp(slash - 3, "bin", 3) && (n == 3 || slash[-4] == '/');

	if (n >= sizeof(dir))
		return nv_error_set(err, NV_EUNSAFE, "legacy object '%s': path too long", obj->key);
	memcpy(dir, obj->dest, n);
	dir[n] = '\0';
	if ((rc = nv_fs_open_dir_beneath(c->stage.fd, dir, 1, &dfd, err))) {
		nv_error_prefix(err, "legacy object '%s'", obj->key);
		goto out;
	}
	fd = openat(dfd, slash ? slash + 1 : obj->dest,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, exec ? 0755 : 0644);
	if (fd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "legacy object '%s': cannot create '%s'",
				  obj->key, obj->dest);
		goto out;
	}
	while (off < obj->size) {
		uint64_t len = obj->size - off;

		if (len > NV_EXTRACT_PIECE)
			len = NV_EXTRACT_PIECE;
		nv_buf_reset(&buf);
		if ((rc = nv_store_get_range(c->o->store, obj->key, off, len, &buf, err)))
			goto out;
		if (nv_fs_write_full(fd, buf.p, buf.len) < 0) {
			rc = nv_error_sys(err, NV_EIO, errno,
					  "legacy object '%s': cannot write '%s'", obj->key,
					  obj->dest);
			goto out;
		}
		off += len;
		nv_progress_add(&c->progress, len);
		st->fetched += len;
		st->requests++;
	}
	st->bytes += obj->size;
	st->files++;
	if (close(fd) < 0) {
		fd = -1;
		rc = nv_error_sys(err, NV_EIO, errno, "legacy object '%s': cannot write '%s'",
				  obj->key, obj->dest);
	}
	fd = -1;
out:
	nv_fs_close(&fd);
	nv_fs_close(&dfd);
	nv_buf_release(&buf);
	return rc;
}

static int do_obj(struct lctx *c, const struct nv_legacy_obj *obj, struct nv_error *err)
{
	struct nv_extract_stats st;
	struct nv_log_rec r;
	struct job j = {c, obj};
	int64_t t0 = nv_now_ms();
	int rc;

	memset(&st, 0, sizeof(st));
	if (c->o->deadline_ms && t0 >= c->o->deadline_ms)
		return nv_error_set(err, NV_EDEADLINE, "deadline reached while restoring '%s'",
				    c->o->ds->path);
	if (obj->kind == NV_LEGACY_FILE) {
		rc = put_file(c, obj, &st, err);
	} else {
		struct nv_extract_store_src src;
		struct nv_extract_map map = {
		    .strip = obj->strip,
		    .dest = obj->dest,
		    .first = obj->chunk		   ? chunk_first
			     : obj->one_venv_probe ? one_venv_first
						   : NULL,
		    .pylink = on_pylink,
		    .ud = &j,
		    .sum = obj->has_sum ? obj->sum : NULL,
		    .exclude = obj->exclude,
		    .ds_exclude = c->o->ds->exclude,
		    .ds_nexclude = c->o->ds->nexclude,
		};

		nv_extract_store_src_init(&src, c->o->store, obj->key, obj->size);
		src.src.deadline_ms = c->o->deadline_ms;
		src.src.progress = &c->progress;
		rc = nv_extract_run(&src.src,
				    obj->kind == NV_LEGACY_ZIP ? NV_EXTRACT_ZIP : NV_EXTRACT_TARGZ,
				    &map, c->stage.fd, &st, err);
	}
	pthread_mutex_lock(&c->lock);
	c->st.files += st.files;
	c->st.dirs += st.dirs;
	c->st.symlinks += st.symlinks;
	c->st.hardlinks += st.hardlinks;
	c->st.skipped += st.skipped;
	c->st.excluded += st.excluded;
	c->st.bytes += st.bytes;
	c->st.fetched += st.fetched;
	c->st.requests += st.requests;
	pthread_mutex_unlock(&c->lock);
	if (!rc && obj->kind != NV_LEGACY_FILE) {
		nv_log_begin(&r, NV_LOG_INFO, "restore.legacy_object");
		nv_log_str(&r, "dataset", c->o->ds->path);
		nv_log_str(&r, "key", obj->key);
		nv_log_u64(&r, "bytes_fetched", st.fetched);
		nv_log_u64(&r, "bytes", st.bytes);
		nv_log_u64(&r, "files", st.files);
		nv_log_u64(&r, "skipped_members", st.skipped);
		nv_log_bool(&r, "checksum_verified", obj->has_sum);
		nv_log_i64(&r, "duration_ms", nv_now_ms() - t0);
		nv_log_end(&r);
	}
	if (!rc && st.excluded) {
		nv_log_begin(&r, NV_LOG_WARN, "restore.legacy_excluded");
		nv_log_str(&r, "dataset", c->o->ds->path);
		nv_log_str(&r, "key", obj->key);
		nv_log_str(&r, "folder", obj->exclude);
		nv_log_u64(&r, "members", st.excluded);
		nv_log_str(&r, "reason",
			   "the AWS CLI's config and credentials are not handed to ComfyUI");
		nv_log_end(&r);
	}
	return rc;
}

static bool in_phase(const struct lctx *c, const struct nv_legacy_obj *obj)
{
	return obj->kind != NV_LEGACY_SUMS && !obj->skip && obj->first == c->phase_first;
}

static void *worker(void *arg)
{
	struct lctx *c = arg;
	struct nv_error e = NV_ERROR_INIT;

	while (!atomic_load(&c->failed)) {
		size_t i = atomic_fetch_add(&c->next, 1);

		if (i >= c->plan.nobjs)
			break;
		if (!in_phase(c, &c->plan.objs[i]))
			continue;
		if (do_obj(c, &c->plan.objs[i], &e)) {
			lfail(c, &e);
			break;
		}
	}
	return NULL;
}

static int run_phase(struct lctx *c, bool first, struct nv_error *err)
{
	pthread_t th[WORKERS_MAX];
	int n = c->o->workers, started = 0, i;
	size_t k, todo = 0;

	c->phase_first = first;
	atomic_store(&c->next, 0);
	for (k = 0; k < c->plan.nobjs; k++)
		todo += in_phase(c, &c->plan.objs[k]);
	if (!todo)
		return NV_OK;
	if (n < WORKERS_MIN)
		n = WORKERS_MIN;
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	if ((size_t)n > todo)
		n = (int)todo;
	for (i = 0; i < n; i++, started++)
		if (pthread_create(&th[i], NULL, worker, c)) {
			struct nv_error e;

			nv_error_set(&e, NV_EINTERNAL, "cannot start a restore thread");
			lfail(c, &e);
			break;
		}
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (atomic_load(&c->failed)) {
		if (err)
			*err = c->first;
		return c->first.code;
	}
	return NV_OK;
}

/* ---- the venvs' interpreter links ---- */

static bool is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

/* venv: a folder below the staging folder ("" = the staging folder). */
static void fix_venv(struct lctx *c, const char *venv)
{
	struct nv_buf path = NV_BUF_INIT(8192), cfg = NV_BUF_INIT(PYVENV_MAX),
		      home = NV_BUF_INIT(4096), ver = NV_BUF_INIT(256), interp = NV_BUF_INIT(8192);
	static const char *const names[] = {"python", "python3"};
	int fd = -1, bfd = -1;
	size_t i;

	nv_buf_addf(&path, NULL, "%s%spyvenv.cfg", venv, *venv ? "/" : "");
	fd = nv_fs_openat_beneath(c->stage.fd, path.p, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0 || nv_fs_read_fd(fd, path.p, &cfg, NULL) ||
	    nv_legacy_parse_pyvenv(cfg.p, cfg.len, &home, &ver, NULL) || !home.len ||
	    home.p[0] != '/')
		goto out;
	nv_buf_reset(&path);
	nv_buf_addf(&path, NULL, "%s%sbin", venv, *venv ? "/" : "");
	if (nv_fs_open_dir_beneath(c->stage.fd, path.p, 1, &bfd, NULL))
		goto out;
	/* absolute links of the archive into the pyvenv.cfg home: as they were */
	for (i = 0; i < c->nlinks; i++) {
		const char *t = c->links[i].target, *slash = strrchr(c->links[i].rel, '/');
		size_t vl = strlen(venv);

		if (!slash || (size_t)(slash - c->links[i].rel) != vl + (vl ? 4 : 3) ||
		    strncmp(c->links[i].rel, venv, vl))
			continue;
		if (strncmp(t, home.p, home.len) || t[home.len] != '/' ||
		    strchr(t + home.len + 1, '/'))
			continue;
		if (symlinkat(t, bfd, slash + 1) == 0)
			c->st.symlinks++;
	}
	/* bin/python, bin/python3 -> the interpreter, when it exists here */
	if (ver.len) {
		const char *dot = strchr(ver.p, '.');
		const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;

		nv_buf_addf(&interp, NULL, "%s/python%.*s", home.p,
			    (int)(dot2 ? (size_t)(dot2 - ver.p) : ver.len), ver.p);
	}
	if (!interp.len || !is_file(interp.p)) {
		nv_buf_reset(&interp);
		nv_buf_addf(&interp, NULL, "%s/python3", home.p);
	}
	if (!is_file(interp.p)) {
		nv_buf_reset(&interp);
		nv_buf_addf(&interp, NULL, "%s/python", home.p);
	}
	if (!is_file(interp.p)) {
		struct nv_log_rec r;

		nv_log_begin(&r, NV_LOG_INFO, "restore.legacy_venv_interpreter");
		nv_log_str(&r, "dataset", c->o->ds->path);
		nv_log_str(&r, "venv", venv);
		nv_log_str(&r, "home", home.p);
		nv_log_str(&r, "result", "interpreter not in this container; bin/ kept as is");
		nv_log_end(&r);
		goto out;
	}
	for (i = 0; i < 2; i++) {
		struct stat st;
		int have = fstatat(bfd, names[i], &st, AT_SYMLINK_NOFOLLOW) == 0;

		if (have && !S_ISREG(st.st_mode))
			continue; /* a link already (or a folder): leave it */
		if (have && unlinkat(bfd, names[i], 0) < 0)
			continue;
		if (symlinkat(interp.p, bfd, names[i]) == 0)
			c->st.symlinks++;
	}
out:
	nv_fs_close(&fd);
	nv_fs_close(&bfd);
	nv_buf_release(&path);
	nv_buf_release(&cfg);
	nv_buf_release(&home);
	nv_buf_release(&ver);
	nv_buf_release(&interp);
}

static void fix_venvs(struct lctx *c)
{
	const char *d = c->o->ds->path;
	DIR *dir;
	struct dirent *de;
	int fd;

	if (strcmp(d, "venv") && strncmp(d, "venv/", 5))
		return;
	fix_venv(c, "");
	fd = openat(c->stage.fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		nv_fs_close(&fd);
		return;
	}
	while ((de = readdir(dir))) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		/* d_type may be DT_UNKNOWN (some file systems): ask */
		if (de->d_type == DT_DIR ||
		    (de->d_type == DT_UNKNOWN &&
		     fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     S_ISDIR(st.st_mode)))
			fix_venv(c, de->d_name);
	}
	closedir(dir);
}

/* ---- the whole ---- */

static void log_plan(struct lctx *c)
{
	size_t i;

	for (i = 0; i < c->plan.nobjs; i++) {
		const struct nv_legacy_obj *obj = &c->plan.objs[i];
		struct nv_log_rec r;

		if (obj->kind == NV_LEGACY_FILE && i > 0)
			continue; /* loose: the first stands for all */
		/* a dry run says it; a restore logs each object as it is read */
		nv_log_begin(&r, c->o->dry_run ? NV_LOG_INFO : NV_LOG_DEBUG,
			     c->o->dry_run ? "restore.legacy_would_read" : "restore.legacy_plan");
		nv_log_str(&r, "dataset", c->o->ds->path);
		nv_log_str(&r, "key", obj->key);
		nv_log_u64(&r, "size", obj->size);
		nv_log_str(&r, "use",
			   obj->kind == NV_LEGACY_SUMS	 ? "checksums"
			   : obj->skip			 ? "stale_chunk_skipped"
			   : obj->kind == NV_LEGACY_FILE ? "loose_objects"
							 : "extract");
		if (obj->kind == NV_LEGACY_FILE)
			nv_log_u64(&r, "objects", c->plan.nobjs);
		nv_log_end(&r);
	}
}

int nv_legacy_restore(const struct nv_legacy_opts *o, struct nv_legacy_result *res,
		      struct nv_error *err)
{
	struct lctx c;
	struct stat sb;
	size_t i;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.o = o;
	nv_legacy_plan_init(&c.plan);
	nv_volume_stage_init(&c.stage);
	pthread_mutex_init(&c.lock, NULL);

	if (lstat(o->path, &sb) == 0 && S_ISDIR(sb.st_mode) &&
	    nv_fs_is_empty_dir_at(AT_FDCWD, o->path) == 0 &&
	    nv_volume_only_excluded(AT_FDCWD, o->path, o->ds->exclude, o->ds->nexclude) != 1) {
		res->kept_local = true;
		rc = NV_OK;
		goto out;
	}
	if ((rc = find(&c, err)))
		goto out;
	if (!c.plan.source)
		goto out;
	if ((rc = read_sums(&c, err)))
		goto out;
	res->source = c.plan.source;
	res->stale = c.plan.stale;
	for (i = 0; i < c.plan.nobjs; i++)
		res->objects += c.plan.objs[i].kind != NV_LEGACY_SUMS && !c.plan.objs[i].skip;
	log_plan(&c);
	if (o->dry_run) {
		res->bytes_fetched = c.plan.bytes;
		goto out;
	}
	nv_progress_start(&c.progress, "restore_legacy", o->ds->path, c.plan.bytes,
			  (int)o->cfg->progress_interval_ms);
	if ((rc = nv_volume_stage_begin(o->root, o->ds->path, 0, &c.stage, err)) ||
	    (rc = run_phase(&c, true, err)) || (rc = run_phase(&c, false, err)))
		goto out;
	fix_venvs(&c);
	if (fchmod(c.stage.fd, 0755) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot set the mode of '%s'", o->path);
		goto out;
	}
	rc =
	    nv_volume_stage_publish_around(&c.stage, o->path, o->ds->exclude, o->ds->nexclude, err);
	if (rc == NV_EEXISTS) {
		res->kept_local = true;
		rc = NV_OK;
	}
	res->files = c.st.files;
	res->dirs = c.st.dirs;
	res->symlinks = c.st.symlinks;
	res->hardlinks = c.st.hardlinks;
	res->skipped = c.st.skipped;
	res->bytes = c.st.bytes;
	res->bytes_fetched = c.st.fetched;
	res->requests = c.st.requests;
out:
	if (rc)
		nv_error_prefix(err, "legacy restore of '%s'", o->ds->path);
	nv_volume_stage_release(&c.stage);
	nv_legacy_plan_release(&c.plan);
	for (i = 0; i < c.nkeys; i++)
		nv_free((char *)c.keys[i].key);
	nv_free(c.keys);
	for (i = 0; i < c.nlinks; i++) {
		nv_free(c.links[i].rel);
		nv_free(c.links[i].target);
	}
	nv_free(c.links);
	pthread_mutex_destroy(&c.lock);
	return rc;
}
