#include "walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fs.h"
#include "log.h"
#include "mem.h"

#define WALK_MAX_DEPTH 512

void nv_walk_init(struct nv_walk *w)
{
	memset(w, 0, sizeof(*w));
}

void nv_walk_release(struct nv_walk *w)
{
	size_t i;

	for (i = 0; i < w->n; i++) {
		nv_free(w->e[i].path);
		nv_free(w->e[i].link);
	}
	nv_free(w->e);
	memset(w, 0, sizeof(*w));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_entry(struct nv_walk *w, const char *path, const struct stat *st,
		     struct nv_error *err)
{
	struct nv_walk_entry *e;

	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		void *p = nv_realloc(w->e, nc * sizeof(*w->e));

		if (!p)
			return nv_error_set(err, NV_ENOMEM, "out of memory");
		w->e = p;
		w->cap = nc;
	}
	e = &w->e[w->n];
	memset(e, 0, sizeof(*e));
	e->path = nv_strdup(path);
	if (!e->path)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	e->ino = st->st_ino;
	e->dev = st->st_dev;
	e->mtime_sec = st->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
	e->ctime_sec = st->st_ctim.tv_sec;
	e->ctime_nsec = (uint32_t)st->st_ctim.tv_nsec;
	e->mode = st->st_mode;
	e->nlink = (uint32_t)st->st_nlink;
	w->n++;
	return NV_OK;
}

static int walk_dir(int dirfd, struct nv_buf *path, const char *what, struct nv_walk *w, int depth,
		    struct nv_error *err)
{
	char **names = NULL;
	size_t nnames = 0, cap = 0, i, base = path->len;
	struct dirent *de;
	DIR *d = NULL;
	int fd, rc = NV_OK;

	if (depth > WALK_MAX_DEPTH)
		return nv_error_set(err, NV_EINVALID, "'%s/%s': directory tree deeper than %d",
				    what, path->p, WALK_MAX_DEPTH);
	fd = dup(dirfd);
	if (fd < 0)
		return nv_error_sys(err, NV_EIO, errno, "dup");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return nv_error_sys(err, NV_EIO, errno, "cannot read '%s/%s'", what, path->p);
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = nv_error_sys(err, NV_EIO, errno, "cannot read '%s/%s'", what,
						  path->p);
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (nnames == cap) {
			size_t nc = cap ? cap * 2 : 32;
			char **p = nv_realloc(names, nc * sizeof(*names));

			if (!p) {
				rc = nv_error_set(err, NV_ENOMEM, "out of memory");
				break;
			}
			names = p;
			cap = nc;
		}
		names[nnames] = nv_strdup(de->d_name);
		if (!names[nnames]) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			break;
		}
		nnames++;
	}
	if (rc)
		goto out;
	if (nnames)
		qsort(names, nnames, sizeof(*names), cmp_names);
	for (i = 0; i < nnames && !rc; i++) {
		struct stat st;

		nv_buf_setlen(path, base);
		if ((base && (rc = nv_buf_addch(path, '/', err))) ||
		    (rc = nv_buf_addstr(path, names[i], err)))
			break;
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue; /* removed while we walk */
			rc = nv_error_sys(err, NV_EIO, errno, "cannot stat '%s/%s'", what, path->p);
			break;
		}
		if (S_ISREG(st.st_mode)) {
			rc = add_entry(w, path->p, &st, err);
			w->files++;
			w->file_bytes += (uint64_t)st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			char target[NV_PATH_BUF];
			ssize_t n = readlinkat(dirfd, names[i], target, sizeof(target));

			if (n < 0 && (errno == ENOENT || errno == EINVAL))
				continue; /* removed or replaced since its stat */
			if (n < 0 || (size_t)n >= sizeof(target)) {
				rc = nv_error_sys(err, NV_EIO, n < 0 ? errno : ENAMETOOLONG,
						  "cannot read symlink '%s/%s'", what, path->p);
				break;
			}
			rc = add_entry(w, path->p, &st, err);
			if (!rc) {
				w->e[w->n - 1].link = nv_strndup(target, (size_t)n);
				if (!w->e[w->n - 1].link)
					rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			}
			w->symlinks++;
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			rc = add_entry(w, path->p, &st, err);
			if (rc)
				break;
			w->dirs++;
			sub = openat(dirfd, names[i],
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
				continue; /* removed or replaced since its stat: kept empty */
			if (sub < 0) {
				rc = nv_error_sys(err, NV_EIO, errno, "cannot open '%s/%s'", what,
						  path->p);
				break;
			}
			rc = walk_dir(sub, path, what, w, depth + 1, err);
			close(sub);
		} else {
			struct nv_log_rec r;

			w->skipped++;
			nv_log_begin(&r, NV_LOG_WARN, "walk.skip");
			nv_log_str(&r, "root", what);
			nv_log_str(&r, "path", path->p);
			nv_log_str(&r, "reason",
				   "not a file, directory or symlink (socket, FIFO or device)");
			nv_log_end(&r);
		}
	}
out:
	nv_buf_setlen(path, base);
	for (i = 0; i < nnames; i++)
		nv_free(names[i]);
	nv_free(names);
	closedir(d);
	return rc;
}

int nv_walk_tree(int rootfd, const char *what, struct nv_walk *w, struct nv_error *err)
{
	struct nv_buf path = NV_BUF_INIT(NV_PATH_BUF);
	struct stat st;
	int rc;

	if (fstat(rootfd, &st) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot stat '%s'", what);
	if (!S_ISDIR(st.st_mode))
		return nv_error_set(err, NV_EINVALID, "'%s' is not a directory", what);
	rc = add_entry(w, "", &st, err);
	if (!rc) {
		w->dirs++;
		rc = walk_dir(rootfd, &path, what, w, 0, err);
	}
	nv_buf_release(&path);
	return rc;
}
