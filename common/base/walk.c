#include "base/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"

#define WALK_MAX_DEPTH 512
#define WALK_THREADS_MAX 4

/*
 * The walk runs on a few threads (an unchanged sync of 100k files is mostly
 * this walk: one fstatat per entry). Each directory is a task: a thread
 * reads its names, sorts them, stats each one and records the children in
 * the task, and every subdirectory becomes a new task on a shared stack.
 * When all tasks are done, the tree of tasks is flattened depth-first into
 * w->e, which gives the same order as a one-thread walk with sorted names.
 * A subdirectory is opened by its path below the root, never through a
 * symlink (nv_fs_openat_beneath), so pending tasks hold no descriptor.
 */
struct task {
	char *path; /* relative to the root; "" for the root */
	int depth;
	struct nv_walk_entry *e; /* children, sorted by name */
	struct task **kid;	 /* kid[i]: task of e[i] when it is a directory */
	size_t n, cap;
	uint64_t skipped, excluded, files, dirs, symlinks, file_bytes;
	struct task *next; /* on the stack of pending tasks */
};

struct shared {
	int rootfd;
	const char *what;
	char *const *exclude; /* from the nv_walk */
	size_t nexclude;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct task *stack;
	size_t pending; /* tasks pushed and not finished */
	int idle;	/* threads waiting for a task */
	bool stop;
	struct nv_error err; /* the first error */
};

struct worker {
	struct shared *sh;
	struct nv_mem_pool pool; /* paths of the entries it found */
};

void nv_walk_init(struct nv_walk *w)
{
	memset(w, 0, sizeof(*w));
}

void nv_walk_release(struct nv_walk *w)
{
	nv_mem_pool_release(&w->strings);
	nv_free(w->e);
	memset(w, 0, sizeof(*w));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void fill_entry(struct nv_walk_entry *e, char *path, const struct stat *st)
{
	memset(e, 0, sizeof(*e));
	e->path = path;
	e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	e->ino = st->st_ino;
	e->dev = st->st_dev;
	e->mtime_sec = st->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	e->ctime_sec = st->st_ctim.tv_sec;
	e->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
	e->mode = st->st_mode;
	e->nlink = (uint32_t)st->st_nlink;
}

static void free_tasks(struct task *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->n; i++)
		free_tasks(t->kid[i]);
	nv_free(t->e);
	nv_free(t->kid);
	nv_free(t);
}

/* Room for one more child in t. */
static int grow_task(struct task *t, struct nv_error *err)
{
	size_t nc = t->cap ? t->cap * 2 : 16;
	void *e, *k;

	if (t->n < t->cap)
		return NV_OK;
	e = nv_realloc(t->e, nc * sizeof(*t->e));
	if (e)
		t->e = e;
	k = e ? nv_realloc(t->kid, nc * sizeof(*t->kid)) : NULL;
	if (!k)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	t->kid = k;
	t->cap = nc;
	return NV_OK;
}

/* The names in the directory open at fd, sorted, in pool. */
static int read_names(int fd, const char *what, const char *path, struct nv_mem_pool *pool,
		      char ***names, size_t *nnames, struct nv_error *err)
{
	char buf[32768];
	size_t cap = 0;
	ssize_t got;

	*names = NULL;
	*nnames = 0;
	while ((got = getdents64(fd, buf, sizeof(buf))) > 0) {
		ssize_t off = 0;

		while (off < got) {
			struct dirent64 *de = (struct dirent64 *)(void *)(buf + off);
			const char *nm = de->d_name;

			off += de->d_reclen;
			if (nm[0] == '.' && (!nm[1] || (nm[1] == '.' && !nm[2])))
				continue;
			if (NV_GROW(*names, *nnames, cap, 32))
				return nv_error_set(err, NV_ENOMEM, "out of memory");
			(*names)[*nnames] = nv_mem_pool_strndup(pool, nm, strlen(nm));
			if (!(*names)[*nnames])
				return nv_error_set(err, NV_ENOMEM, "out of memory");
			(*nnames)++;
		}
	}
	if (got < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot read '%s/%s'", what, path);
	if (*nnames)
		qsort(*names, *nnames, sizeof(**names), cmp_names);
	return NV_OK;
}

static void log_skip(const char *what, const char *path)
{
	struct nv_log_rec r;

	nv_log_begin(&r, NV_LOG_WARN, "walk.skip");
	nv_log_str(&r, "root", what);
	nv_log_str(&r, "path", path);
	nv_log_str(&r, "reason", "not a file, directory or symlink (socket, FIFO or device)");
	nv_log_end(&r);
}

static bool excluded(const struct shared *sh, const char *path)
{
	size_t i;

	for (i = 0; i < sh->nexclude; i++)
		if (!strcmp(path, sh->exclude[i]))
			return true;
	return false;
}

/* Read the directory of t; its subdirectories go on *kids. */
static int scan(struct worker *wk, struct task *t, struct task **kids, struct nv_error *err)
{
	struct shared *sh = wk->sh;
	struct nv_buf path = NV_BUF_INIT(NV_PATH_BUF);
	struct nv_mem_pool names_pool;
	char **names = NULL;
	size_t nnames = 0, i, base;
	int fd, rc;

	nv_mem_pool_init(&names_pool);
	if (t->depth > WALK_MAX_DEPTH)
		return nv_error_set(err, NV_EINVALID,
				    "directory tree deeper than %d levels at '%s/%s'",
				    WALK_MAX_DEPTH, sh->what, t->path);
	if (!t->path[0]) {
		fd = sh->rootfd;
		/* the caller's descriptor: read it from the start even if it
		 * was read before (getdents64 goes on from the file offset) */
		if (lseek(fd, 0, SEEK_SET) < 0)
			return nv_error_sys(err, NV_EIO, errno, "cannot read '%s'", sh->what);
	} else {
		fd = nv_fs_openat_beneath(sh->rootfd, t->path, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV)
				return NV_OK; /* removed or replaced since its stat: kept empty */
			return nv_error_sys(err, NV_EIO, errno, "cannot open '%s/%s'", sh->what,
					    t->path);
		}
	}
	if ((rc = read_names(fd, sh->what, t->path, &names_pool, &names, &nnames, err)) ||
	    (rc = nv_buf_addstr(&path, t->path, err)))
		goto out;
	base = path.len;
	for (i = 0; i < nnames && !rc; i++) {
		struct stat st;
		struct nv_walk_entry *e;
		char *p;

		nv_buf_setlen(&path, base);
		if ((base && (rc = nv_buf_addch(&path, '/', err))) ||
		    (rc = nv_buf_addstr(&path, names[i], err)))
			break;
		if (excluded(sh, path.p)) {
			t->excluded++;
			continue; /* not part of the dataset, nor what is below it */
		}
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* removed while we walk */
			rc = nv_error_sys(err, NV_EIO, errno, "cannot stat '%s/%s'", sh->what,
					  path.p);
			break;
		}
		if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode) && !S_ISDIR(st.st_mode)) {
			t->skipped++;
			log_skip(sh->what, path.p);
			continue;
		}
		if ((rc = grow_task(t, err)))
			break;
		p = nv_mem_pool_strndup(&wk->pool, path.p, path.len);
		if (!p) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			break;
		}
		e = &t->e[t->n];
		fill_entry(e, p, &st);
		t->kid[t->n] = NULL;
		if (S_ISREG(st.st_mode)) {
			t->files++;
			t->file_bytes += (uint64_t)st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			char target[NV_PATH_BUF];
			ssize_t n = readlinkat(fd, names[i], target, sizeof(target));

			if (n < 0 && (errno == ENOENT || errno == EINVAL))
				continue; /* removed or replaced since its stat */
			if (n < 0 || (size_t)n >= sizeof(target)) {
				rc = nv_error_sys(err, NV_EIO, n < 0 ? errno : ENAMETOOLONG,
						  "cannot read symlink '%s/%s'", sh->what, path.p);
				break;
			}
			e->link = nv_mem_pool_strndup(&wk->pool, target, (size_t)n);
			if (!e->link) {
				rc = nv_error_set(err, NV_ENOMEM, "out of memory");
				break;
			}
			t->symlinks++;
		} else {
			struct task *k = nv_calloc(1, sizeof(*k));

			if (!k) {
				rc = nv_error_set(err, NV_ENOMEM, "out of memory");
				break;
			}
			k->path = p;
			k->depth = t->depth + 1;
			k->next = *kids;
			*kids = k;
			t->kid[t->n] = k;
			t->dirs++;
		}
		t->n++;
	}
out:
	if (fd != sh->rootfd)
		close(fd);
	nv_mem_pool_release(&names_pool);
	nv_free(names);
	nv_buf_release(&path);
	return rc;
}

static void *work(void *arg)
{
	struct worker *wk = arg;
	struct shared *sh = wk->sh;

	pthread_mutex_lock(&sh->lock);
	for (;;) {
		struct task *t, *kids = NULL;
		struct nv_error err = NV_ERROR_INIT;
		int rc;

		while (!sh->stack && sh->pending && !sh->stop) {
			sh->idle++;
			pthread_cond_wait(&sh->cond, &sh->lock);
			sh->idle--;
		}
		if (sh->stop || !sh->stack)
			break;
		t = sh->stack;
		sh->stack = t->next;
		pthread_mutex_unlock(&sh->lock);

		rc = scan(wk, t, &kids, &err);

		pthread_mutex_lock(&sh->lock);
		if (rc && !sh->stop) {
			sh->stop = true;
			sh->err = err;
		}
		while (kids) { /* reversed: the first name is popped first */
			struct task *k = kids;

			kids = k->next;
			k->next = sh->stack;
			sh->stack = k;
			sh->pending++;
		}
		sh->pending--;
		if (sh->idle && (sh->stop || !sh->pending || sh->stack))
			pthread_cond_broadcast(&sh->cond);
	}
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

/* Append t's children, each followed by its own subtree, to w. */
static void flatten(struct nv_walk *w, const struct task *t)
{
	size_t i;

	w->skipped += t->skipped;
	w->excluded += t->excluded;
	w->files += t->files;
	w->dirs += t->dirs;
	w->symlinks += t->symlinks;
	w->file_bytes += t->file_bytes;
	for (i = 0; i < t->n; i++) {
		w->e[w->n++] = t->e[i];
		if (t->kid[i])
			flatten(w, t->kid[i]);
	}
}

static size_t count(const struct task *t)
{
	size_t i, n = t->n;

	for (i = 0; i < t->n; i++)
		if (t->kid[i])
			n += count(t->kid[i]);
	return n;
}

int nv_walk_tree(int rootfd, const char *what, struct nv_walk *w, struct nv_error *err)
{
	struct shared sh;
	struct worker wk[WALK_THREADS_MAX];
	pthread_t th[WALK_THREADS_MAX];
	struct task *root = NULL;
	struct stat st;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int nth = ncpu < 1 ? 1 : ncpu > WALK_THREADS_MAX ? WALK_THREADS_MAX : (int)ncpu;
	int started = 0, i, rc = NV_OK;
	size_t n;
	char *rootpath;

	if (fstat(rootfd, &st) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot stat '%s'", what);
	if (!S_ISDIR(st.st_mode))
		return nv_error_set(err, NV_EINVALID, "'%s' is not a directory", what);
	memset(&sh, 0, sizeof(sh));
	sh.rootfd = rootfd;
	sh.what = what;
	sh.exclude = w->exclude;
	sh.nexclude = w->nexclude;
	pthread_mutex_init(&sh.lock, NULL);
	pthread_cond_init(&sh.cond, NULL);
	for (i = 0; i < nth; i++) {
		wk[i].sh = &sh;
		nv_mem_pool_init(&wk[i].pool);
	}
	root = nv_calloc(1, sizeof(*root));
	rootpath = nv_mem_pool_strndup(&w->strings, "", 0);
	if (!root || !rootpath) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	root->path = rootpath;
	sh.stack = root;
	sh.pending = 1;
	/* this thread works too; the others are a bonus */
	for (i = 1; i < nth; i++, started++)
		if (pthread_create(&th[i], NULL, work, &wk[i]))
			break;
	work(&wk[0]);
	for (i = 1; i <= started; i++)
		pthread_join(th[i], NULL);
	if (sh.stop) {
		rc = sh.err.code;
		if (err)
			*err = sh.err;
		goto out;
	}

	n = 1 + count(root);
	if (w->n + n > w->cap) {
		void *p = nv_realloc(w->e, (w->n + n) * sizeof(*w->e));

		if (!p) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
		w->e = p;
		w->cap = w->n + n;
	}
	fill_entry(&w->e[w->n++], rootpath, &st);
	w->dirs++;
	flatten(w, root);
out:
	/* the paths now belong to w (on error too: w is released as a whole) */
	for (i = 0; i < nth; i++)
		nv_mem_pool_adopt(&w->strings, &wk[i].pool);
	free_tasks(root);
	pthread_mutex_destroy(&sh.lock);
	pthread_cond_destroy(&sh.cond);
	return rc;
}
