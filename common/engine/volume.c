#include "engine/volume.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "base/hash.h"
#include "engine/snapshot.h"
#include "base/walk.h"

/* ---- probe ---- */

/* Runs in the child: writes [usable][reason 255][per path: exists, data]. */
static void probe_child(int wfd, const char *root, const char *const *paths, size_t n)
{
	unsigned char *out = calloc(1 + 255 + 2 * n, 1);
	char *reason;
	struct stat st;
	int fd = -1, nvfd = -1;
	size_t i;
	char name[64], sfx[17];

	if (!out)
		_exit(3);
	reason = (char *)out + 1;
	if (stat(root, &st) < 0) {
		snprintf(reason, 255, "cannot stat '%s': %s", root, strerror(errno));
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(reason, 255, "'%s' is not a directory", root);
		goto done;
	}
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || nv_fs_is_empty_dir_at(fd, ".") < 0) {
		snprintf(reason, 255, "'%s' is not readable: %s", root, strerror(errno));
		goto done;
	}
	if (mkdirat(fd, ".netvol", 0755) < 0 && errno != EEXIST) {
		snprintf(reason, 255, "'%s' is not writable: %s", root, strerror(errno));
		goto done;
	}
	nvfd = openat(fd, ".netvol", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	nv_fs_random_suffix(sfx);
	snprintf(name, sizeof(name), "probe.%s", sfx);
	if (nvfd < 0) {
		snprintf(reason, 255, "'%s/.netvol' is not a directory: %s", root, strerror(errno));
		goto done;
	}
	{
		int pf = openat(nvfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

		if (pf < 0 || nv_fs_write_full(pf, "ok", 2) < 0) {
			snprintf(reason, 255, "'%s' is not writable: %s", root, strerror(errno));
			if (pf >= 0)
				close(pf);
			goto done;
		}
		close(pf);
		unlinkat(nvfd, name, 0);
	}
	for (i = 0; i < n; i++) {
		if (fstatat(fd, paths[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		out[256 + 2 * i] = 1;
		if (S_ISDIR(st.st_mode) && nv_fs_is_empty_dir_at(fd, paths[i]) == 0)
			out[256 + 2 * i + 1] = 1;
	}
	out[0] = 1;
	snprintf(reason, 255, "ok");
done:
	nv_fs_write_full(wfd, out, 1 + 255 + 2 * n);
	_exit(0);
}

void nv_volume_probe_release(struct nv_volume_probe *p)
{
	nv_free(p->has_data);
	nv_free(p->exists);
	p->has_data = p->exists = NULL;
}

int nv_volume_probe(const char *root, const char *const *paths, size_t npaths, int64_t timeout_ms,
		    struct nv_volume_probe *out, struct nv_error *err)
{
	unsigned char *buf = NULL;
	size_t want = 1 + 255 + 2 * npaths, got = 0, i;
	int64_t end = nv_now_ms() + timeout_ms;
	int p[2] = {-1, -1}, rc = NV_OK, status;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	out->npaths = npaths;
	out->has_data = nv_calloc(npaths ? npaths : 1, sizeof(bool));
	out->exists = nv_calloc(npaths ? npaths : 1, sizeof(bool));
	buf = nv_calloc(want, 1);
	if (!out->has_data || !out->exists || !buf) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	if (!root) {
		snprintf(out->reason, sizeof(out->reason), "_NETWORK_VOLUME is not set");
		goto out;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "fork");
		goto out;
	}
	if (pid == 0) {
		/* A child stuck on a hung mount must not keep the caller's
		 * output open (a log pipe, a shell's $(...)): only the result
		 * pipe stays. */
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		close(p[0]);
		probe_child(p[1], root, paths, npaths);
	}
	close(p[1]);
	p[1] = -1;
	while (got < want) {
		struct pollfd pf = {p[0], POLLIN, 0};
		int64_t left = end - nv_now_ms();
		int r;
		ssize_t n;

		if (left <= 0)
			break;
		r = poll(&pf, 1, (int)(left > 1000000 ? 1000000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n = read(p[0], buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < want) {
		/* a hung mount: the child may sit in uninterruptible sleep;
		 * kill it and never wait for it */
		kill(pid, SIGKILL);
		/* it may stay blocked in the kernel; init reaps it later */
		(void)waitpid(pid, &status, WNOHANG);
		snprintf(out->reason, sizeof(out->reason),
			 "'%s' did not answer within %lld ms (hung mount?)", root,
			 (long long)timeout_ms);
		goto out;
	}
	waitpid(pid, &status, 0);
	out->usable = buf[0] == 1;
	memcpy(out->reason, buf + 1, 255);
	out->reason[255] = '\0';
	for (i = 0; i < npaths && out->usable; i++) {
		out->exists[i] = buf[256 + 2 * i];
		out->has_data[i] = buf[256 + 2 * i + 1];
	}
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	nv_free(buf);
	if (rc)
		nv_volume_probe_release(out);
	return rc;
}

/* ---- symlinks ---- */

int nv_volume_link(const char *root, const char *rel, const char *target, enum nv_link_result *res,
		   struct nv_error *err)
{
	struct nv_buf tmp = NV_BUF_INIT(4096), pathb = NV_BUF_INIT(NV_PATH_BUF * 2);
	const char *name, *path;
	char cur[NV_PATH_BUF], sfx[17];
	struct stat st;
	int pfd = -1, rc;

	if ((rc = nv_buf_addf(&pathb, err, "%s/%s", root, rel)) ||
	    (rc = nv_fs_open_parent_in(root, rel, 1, &pfd, &name, err)))
		goto out;
	path = pathb.p;
	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlinkat(pfd, name, cur, sizeof(cur) - 1);

			if (n >= 0) {
				cur[n] = '\0';
				if (!strcmp(cur, target)) {
					*res = NV_LINK_ALREADY;
					goto out;
				}
			}
		} else if (S_ISDIR(st.st_mode)) {
			int empty = nv_fs_is_empty_dir_at(pfd, name);

			if (empty != 1) {
				*res = NV_LINK_KEPT_LOCAL;
				goto out;
			}
			if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
				if (errno == ENOTEMPTY) {
					*res = NV_LINK_KEPT_LOCAL;
					goto out;
				}
				rc = nv_error_sys(err, NV_EIO, errno,
						  "cannot remove empty folder '%s'", path);
				goto out;
			}
		} else {
			*res = NV_LINK_KEPT_LOCAL; /* a file: never ours to remove */
			goto out;
		}
	}
	nv_fs_random_suffix(sfx);
	if ((rc = nv_buf_addf(&tmp, err, ".netvol-link.%s.%s", name, sfx)))
		goto out;
	if (symlinkat(target, pfd, tmp.p) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot create symlink next to '%s'", path);
		goto out;
	}
	if (renameat(pfd, tmp.p, pfd, name) < 0) {
		int e = errno;

		unlinkat(pfd, tmp.p, 0);
		if (e == EISDIR || e == ENOTEMPTY || e == EEXIST) {
			*res = NV_LINK_KEPT_LOCAL; /* a folder appeared meanwhile */
			goto out;
		}
		rc = nv_error_sys(err, NV_EIO, e, "cannot put symlink '%s' in place", path);
		goto out;
	}
	nv_fs_fsync_dir(pfd, NULL);
	*res = NV_LINK_CREATED;
out:
	nv_fs_close(&pfd);
	nv_buf_release(&pathb);
	nv_buf_release(&tmp);
	return rc;
}

/* ---- copies ---- */

static int copy_file(int sfd, int dfd, uint64_t size, const char *what, struct nv_error *err)
{
	uint64_t done = 0;
	char buf[1 << 16];

	while (done < size) {
		ssize_t n = copy_file_range(sfd, NULL, dfd, NULL, (size_t)(size - done), 0);

		if (n > 0) {
			done += (uint64_t)n;
			continue;
		}
		if (n == 0)
			break; /* the file shrank */
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP &&
		    errno != EPERM)
			return nv_error_sys(err, NV_EIO, errno, "cannot copy '%s'", what);
		/* no kernel copy between these file systems: read and write */
		for (;;) {
			ssize_t r = nv_fs_read_full(sfd, buf, sizeof(buf));

			if (r < 0)
				return nv_error_sys(err, NV_EIO, errno, "cannot read '%s'", what);
			if (r == 0)
				return NV_OK;
			if (nv_fs_write_full(dfd, buf, (size_t)r) < 0)
				return nv_error_sys(err, NV_EIO, errno, "cannot write '%s'", what);
		}
	}
	return NV_OK;
}

static int set_times(int dirfd, const char *path, const struct nv_walk_entry *e, bool chmod_too,
		     struct nv_error *err)
{
	struct timespec ts[2];
	const char *p = *path ? path : ".";

	ts[0].tv_sec = e->mtime_sec;
	ts[0].tv_nsec = e->mtime_nsec;
	ts[1] = ts[0];
	if (chmod_too && fchmodat(dirfd, p, e->mode & 07777, 0) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot set the mode of '%s'", path);
	if (utimensat(dirfd, p, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot set the times of '%s'", path);
	return NV_OK;
}

static int copy_entries(int srcfd, int dstfd, struct nv_walk *w, int64_t deadline_ms,
			int64_t progress_ms, uint64_t *bytes, struct nv_error *err)
{
	struct nv_blob_map inodes;
	struct nv_progress prog;
	size_t k;
	int rc = NV_OK;

	nv_blob_map_init(&inodes);
	nv_progress_start(&prog, "copy_to_nv", w->e[0].path, w->file_bytes, (int)progress_ms);
	for (k = 1; k < w->n && !rc; k++) {
		struct nv_walk_entry *e = &w->e[k];

		if (deadline_ms && nv_now_ms() >= deadline_ms) {
			rc = nv_error_set(err, NV_EDEADLINE, "deadline reached while copying");
			break;
		}
		if (S_ISDIR(e->mode)) {
			if (mkdirat(dstfd, e->path, 0700) < 0)
				rc =
				    nv_error_sys(err, NV_EIO, errno, "cannot create '%s'", e->path);
		} else if (S_ISLNK(e->mode)) {
			if (symlinkat(e->link, dstfd, e->path) < 0)
				rc = nv_error_sys(err, NV_EIO, errno, "cannot create symlink '%s'",
						  e->path);
		} else if (S_ISREG(e->mode)) {
			unsigned char ik[NV_HASH_LEN] = {0};
			struct nv_blob_loc v = {0, 0, 0, k};
			bool ins = true;
			int sfd, dfd;

			if (e->nlink > 1) {
				memcpy(ik, &e->dev, 8);
				memcpy(ik + 8, &e->ino, 8);
				ik[16] = 1;
				if ((rc = nv_blob_map_put(&inodes, ik, &v, &ins, err)))
					break;
				if (!ins) {
					const char *first =
					    w->e[nv_blob_map_get(&inodes, ik)->off].path;

					if (linkat(dstfd, first, dstfd, e->path, 0) < 0)
						rc = nv_error_sys(err, NV_EIO, errno,
								  "cannot link '%s'", e->path);
					continue;
				}
			}
			sfd = nv_fs_openat_beneath(srcfd, e->path, O_RDONLY, 0);
			if (sfd < 0) {
				rc = nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", e->path);
				break;
			}
			dfd =
			    nv_fs_openat_beneath(dstfd, e->path, O_WRONLY | O_CREAT | O_EXCL, 0600);
			if (dfd < 0) {
				rc =
				    nv_error_sys(err, NV_EIO, errno, "cannot create '%s'", e->path);
				close(sfd);
				break;
			}
			rc = copy_file(sfd, dfd, e->size, e->path, err);
			close(sfd);
			if (close(dfd) < 0 && !rc)
				rc = nv_error_sys(err, NV_EIO, errno, "cannot write '%s'", e->path);
			*bytes += e->size;
			nv_progress_add(&prog, e->size);
		}
	}
	nv_blob_map_release(&inodes);
	if (rc)
		return rc;
	for (k = 1; k < w->n && !rc; k++)
		if (!S_ISDIR(w->e[k].mode))
			rc = set_times(dstfd, w->e[k].path, &w->e[k], !S_ISLNK(w->e[k].mode), err);
	for (k = w->n; k-- > 0 && !rc;)
		if (S_ISDIR(w->e[k].mode))
			rc = set_times(dstfd, w->e[k].path, &w->e[k], true, err);
	return rc;
}

/* Is the tree at srcfd still what walk w saw (every entry's path, type,
 * size, mode, mtime, and link target)? NV_ECHANGED, naming the first
 * difference, when not. */
static int unchanged_since(int srcfd, const char *src, const struct nv_walk *w,
			   struct nv_error *err)
{
	struct nv_walk now;
	size_t k;
	int rc;

	nv_walk_init(&now);
	if ((rc = nv_walk_tree(srcfd, src, &now, err)))
		goto out;
	if (now.n != w->n) {
		rc = nv_error_set(err, NV_ECHANGED,
				  "'%s' changed while it was copied (%zu entries, now %zu)", src,
				  w->n, now.n);
		goto out;
	}
	for (k = 0; k < w->n; k++) {
		const struct nv_walk_entry *a = &w->e[k], *b = &now.e[k];

		if (strcmp(a->path, b->path) || a->mode != b->mode ||
		    (S_ISREG(a->mode) && a->size != b->size) ||
		    (!S_ISDIR(a->mode) &&
		     (a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec)) ||
		    (a->link && (!b->link || strcmp(a->link, b->link)))) {
			rc = nv_error_set(err, NV_ECHANGED, "'%s/%s' changed while it was copied",
					  src, a->path);
			goto out;
		}
	}
out:
	nv_walk_release(&now);
	return rc;
}

int nv_volume_copy_tree(const char *src, const char *root, const char *rel, int64_t deadline_ms,
			int64_t progress_ms, uint64_t *bytes, struct nv_error *err)
{
	struct nv_buf parent = NV_BUF_INIT(NV_PATH_BUF * 2), stage = NV_BUF_INIT(4096);
	struct nv_buf dstb = NV_BUF_INIT(NV_PATH_BUF * 2);
	struct nv_walk w;
	const char *name, *dst;
	char sfx[17];
	int srcfd = -1, pfd = -1, sfd = -1, rc;
	bool staged = false;

	*bytes = 0;
	nv_walk_init(&w);
	if ((rc = nv_buf_addf(&dstb, err, "%s/%s", root, rel)))
		goto out;
	dst = dstb.p;
	/* for messages: the folder the staging copy goes to */
	nv_buf_add(&parent, dst, (size_t)(strrchr(dst, '/') - dst), NULL);
	srcfd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (srcfd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", src);
		goto out;
	}
	if ((rc = nv_walk_tree(srcfd, src, &w, err)) ||
	    (rc = nv_fs_open_parent_in(root, rel, 1, &pfd, &name, err)))
		goto out;
	/* another pod may be copying right now: only old leftovers go */
	nv_volume_clean_stale(pfd, name, 3600);
	nv_fs_random_suffix(sfx);
	if ((rc = nv_buf_addf(&stage, err, ".netvol-stage.%s.%s", name, sfx)))
		goto out;
	if (mkdirat(pfd, stage.p, 0700) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot create staging folder in '%s'",
				  parent.p);
		goto out;
	}
	staged = true;
	sfd = openat(pfd, stage.p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot open staging folder in '%s'",
				  parent.p);
		goto out;
	}
	if ((rc = copy_entries(srcfd, sfd, &w, deadline_ms, progress_ms, bytes, err))) {
		nv_error_prefix(err, "copy of '%s' to '%s'", src, dst);
		goto out;
	}
	/* published only from a tree that did not change while it was copied
	 * (issue 15): another pod would link a half-updated folder */
	if ((rc = unchanged_since(srcfd, src, &w, err)))
		goto out;
	if (syncfs(sfd) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot flush the copy of '%s'", src);
		goto out;
	}
	if (renameat2(pfd, stage.p, pfd, name, RENAME_NOREPLACE) < 0) {
		if (errno == EEXIST) {
			rc = nv_error_set(err, NV_EEXISTS,
					  "'%s' appeared while copying (another pod was faster)",
					  dst);
			goto out;
		}
		rc = nv_error_sys(err, NV_EIO, errno, "cannot move the copy into '%s'", dst);
		goto out;
	}
	staged = false;
	nv_fs_fsync_dir(pfd, NULL);
out:
	nv_fs_close(&sfd);
	if (staged)
		nv_fs_rmtree_at(pfd, stage.p, NULL);
	nv_fs_close(&pfd);
	nv_fs_close(&srcfd);
	nv_walk_release(&w);
	nv_buf_release(&parent);
	nv_buf_release(&stage);
	nv_buf_release(&dstb);
	return rc;
}

int nv_volume_sync_source(const char *path, char **out, bool *is_link, struct nv_error *err)
{
	struct nv_buf b = NV_BUF_INIT(NV_PATH_BUF * 2);
	char target[NV_PATH_BUF];
	struct stat st;
	ssize_t n;
	int rc = NV_OK;

	*out = NULL;
	*is_link = false;
	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return nv_error_set(err, NV_ENOTFOUND, "'%s' does not exist", path);
		return nv_error_sys(err, NV_EIO, errno, "cannot stat '%s'", path);
	}
	if (S_ISDIR(st.st_mode)) {
		*out = nv_strdup(path);
		return *out ? NV_OK : nv_error_set(err, NV_ENOMEM, "out of memory");
	}
	if (!S_ISLNK(st.st_mode))
		return nv_error_set(err, NV_EINVALID, "'%s' is neither a folder nor a symlink",
				    path);
	*is_link = true;
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot read symlink '%s'", path);
	target[n] = '\0';
	if (target[0] != '/') {
		const char *slash = strrchr(path, '/');

		rc = nv_buf_add(&b, path, (size_t)(slash - path) + 1, err);
	}
	if (!rc)
		rc = nv_buf_addstr(&b, target, err);
	if (!rc && stat(b.p, &st) < 0)
		rc = nv_error_sys(err, NV_EINVALID, errno,
				  "symlink '%s' points to '%s', which is not a usable folder", path,
				  b.p);
	else if (!rc && !S_ISDIR(st.st_mode))
		rc = nv_error_set(err, NV_EINVALID,
				  "symlink '%s' points to '%s', which is not a folder", path, b.p);
	if (!rc)
		*out = nv_buf_detach(&b, NULL);
	nv_buf_release(&b);
	return rc;
}

int nv_volume_clean_stale(int parentfd, const char *name, int64_t min_age_s)
{
	static const char *const kinds[] = {".netvol-stage.", ".netvol-link."};
	struct dirent *de;
	DIR *d;
	int fd, removed = 0;
	size_t nl = strlen(name);
	time_t now = time(NULL);

	fd = dup(parentfd);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		struct stat st;
		size_t k;

		for (k = 0; k < 2; k++) {
			size_t kl = strlen(kinds[k]);

			if (strncmp(de->d_name, kinds[k], kl) ||
			    strncmp(de->d_name + kl, name, nl) || de->d_name[kl + nl] != '.')
				continue;
			if (fstatat(parentfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    (int64_t)(now - st.st_mtim.tv_sec) < min_age_s)
				continue;
			if (nv_fs_rmtree_at(parentfd, de->d_name, NULL) == NV_OK)
				removed++;
		}
	}
	closedir(d);
	return removed;
}

void nv_volume_stage_init(struct nv_volume_stage *st)
{
	memset(st, 0, sizeof(*st));
	st->parentfd = st->fd = -1;
}

int nv_volume_stage_begin(const char *root, const char *rel, int64_t min_age_s,
			  struct nv_volume_stage *st, struct nv_error *err)
{
	char sfx[17];
	int rc;

	nv_volume_stage_init(st);
	if ((rc = nv_fs_open_parent_in(root, rel, 1, &st->parentfd, &st->target, err)))
		return rc;
	nv_volume_clean_stale(st->parentfd, st->target, min_age_s);
	nv_fs_random_suffix(sfx);
	if ((size_t)snprintf(st->name, sizeof(st->name), ".netvol-stage.%s.%s", st->target, sfx) >=
	    sizeof(st->name))
		return nv_error_set(err, NV_EINVALID, "name too long: '%s'", rel);
	if (mkdirat(st->parentfd, st->name, 0700) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot create staging folder '%s/%s'",
				    root, st->name);
	st->live = true;
	st->fd = openat(st->parentfd, st->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (st->fd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open staging folder '%s/%s'", root,
				    st->name);
	return NV_OK;
}

int nv_volume_stage_publish(struct nv_volume_stage *st, const char *what, struct nv_error *err)
{
	struct stat sb;

	if (fstatat(st->parentfd, st->target, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(sb.st_mode)) {
		if (renameat2(st->parentfd, st->name, st->parentfd, st->target, RENAME_EXCHANGE) <
		    0)
			return nv_error_sys(err, NV_EIO, errno, "cannot move '%s' into place",
					    what);
		/* the staging name now holds the old symlink: release removes it */
	} else if (renameat(st->parentfd, st->name, st->parentfd, st->target) < 0) {
		if (errno == ENOTEMPTY || errno == EEXIST)
			return nv_error_set(err, NV_EEXISTS, "'%s' holds data", what);
		return nv_error_sys(err, NV_EIO, errno, "cannot move '%s' into place", what);
	} else {
		st->live = false;
	}
	nv_fs_fsync_dir(st->parentfd, NULL);
	return NV_OK;
}

static bool kept_name(const char *name, char *const *exclude, size_t n)
{
	size_t i, nl = strlen(name);

	for (i = 0; i < n; i++)
		if (!strncmp(exclude[i], name, nl) &&
		    (exclude[i][nl] == '\0' || exclude[i][nl] == '/'))
			return true;
	return false;
}

/* Call fn for each entry of the folder open at fd (not consumed); stops at
 * the first nonzero return. -1 with errno when the folder cannot be read. */
static int each_name(int fd, int (*fn)(const char *name, void *ud), void *ud)
{
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0), rc = 0;
	struct dirent *de;
	DIR *d;

	if (dfd < 0)
		return -1;
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return -1;
	}
	rewinddir(d);
	for (;;) {
		errno = 0; /* readdir's end and its errors look alike but for errno */
		if (!(de = readdir(d))) {
			if (errno)
				rc = -1;
			break;
		}
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    (rc = fn(de->d_name, ud)))
			break;
	}
	closedir(d);
	return rc;
}

struct only_ctx {
	char *const *exclude;
	size_t n, seen;
};

static int only_cb(const char *name, void *ud)
{
	struct only_ctx *o = ud;

	o->seen++;
	return kept_name(name, o->exclude, o->n) ? 0 : 1;
}

int nv_volume_only_excluded(int dirfd, const char *path, char *const *exclude, size_t n)
{
	struct only_ctx o = {exclude, n, 0};
	int fd, rc;

	if (!n)
		return 0;
	fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	rc = each_name(fd, only_cb, &o);
	close(fd);
	if (rc < 0)
		return -1;
	return rc == 0 && o.seen > 0;
}

struct move_ctx {
	int from, to;
	int stagefd; /* names that are there too: a conflict (-1: not checked) */
};

static int clash_cb(const char *name, void *ud)
{
	struct move_ctx *m = ud;
	struct stat sb;

	if (fstatat(m->stagefd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}

static int move_cb(const char *name, void *ud)
{
	struct move_ctx *m = ud;

	return renameat2(m->from, name, m->to, name, RENAME_NOREPLACE) < 0 ? -1 : 0;
}

/* The target holds only excluded entries (the datasets nested in it, a
 * models folder...): set it aside, rename the stage in, move the entries
 * back. Each step is a rename; nothing is copied or removed but the empty
 * aside folder. A failure half-way leaves the entries in the aside folder
 * (".netvol-keep.<name>.<random>", never cleaned automatically) and says so. */
static int publish_around(struct nv_volume_stage *st, const char *what, struct nv_error *err)
{
	struct move_ctx m = {-1, -1, st->fd};
	char aside[sizeof(st->name) + 16];
	const char *sfx = strrchr(st->name, '.');
	int tfd = -1, rc = NV_OK, r;

	tfd = openat(st->parentfd, st->target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", what);
	/* the new tree must not hold any of them: nothing is merged */
	r = each_name(tfd, clash_cb, &m);
	close(tfd);
	if (r > 0)
		return nv_error_set(err, NV_EEXISTS,
				    "'%s' holds data that the restored tree has too", what);
	if (r < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot read '%s'", what);
	if ((size_t)snprintf(aside, sizeof(aside), ".netvol-keep.%s%s", st->target,
			     sfx ? sfx : "") >= sizeof(aside))
		return nv_error_set(err, NV_EINVALID, "name too long: '%s'", what);
	if (renameat2(st->parentfd, st->target, st->parentfd, aside, RENAME_NOREPLACE) < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot move '%s' aside", what);
	if (renameat2(st->parentfd, st->name, st->parentfd, st->target, RENAME_NOREPLACE) < 0) {
		int e = errno;

		if (renameat2(st->parentfd, aside, st->parentfd, st->target, RENAME_NOREPLACE) < 0)
			return nv_error_sys(err, NV_EIO, errno,
					    "cannot move '%s' back into place: its entries are "
					    "in '%s' next to it",
					    what, aside);
		if (e == EEXIST || e == ENOTEMPTY)
			return nv_error_set(err, NV_EEXISTS, "'%s' holds data", what);
		return nv_error_sys(err, NV_EIO, e, "cannot move '%s' into place", what);
	}
	st->live = false;
	m.from = openat(st->parentfd, aside, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	m.to = openat(st->parentfd, st->target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (m.from < 0 || m.to < 0 || each_name(m.from, move_cb, &m) ||
	    unlinkat(st->parentfd, aside, AT_REMOVEDIR) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno,
				  "'%s' was restored, but what it held before could not all be "
				  "moved back: the rest is in '%s' next to it",
				  what, aside);
	} else {
		nv_fs_fsync_dir(m.to, NULL);
	}
	nv_fs_close(&m.from);
	nv_fs_close(&m.to);
	nv_fs_fsync_dir(st->parentfd, NULL);
	return rc;
}

int nv_volume_stage_publish_around(struct nv_volume_stage *st, const char *what,
				   char *const *exclude, size_t n, struct nv_error *err)
{
	struct stat sb;

	if (n && fstatat(st->parentfd, st->target, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISDIR(sb.st_mode) &&
	    nv_volume_only_excluded(st->parentfd, st->target, exclude, n) == 1)
		return publish_around(st, what, err);
	return nv_volume_stage_publish(st, what, err);
}

void nv_volume_stage_release(struct nv_volume_stage *st)
{
	struct nv_error e = NV_ERROR_INIT;

	nv_fs_close(&st->fd);
	if (st->live && st->parentfd >= 0 && nv_fs_rmtree_at(st->parentfd, st->name, &e)) {
		struct nv_log_rec r;

		nv_log_begin(&r, NV_LOG_WARN, "restore.cleanup_failed");
		nv_log_str(&r, "path", st->name);
		nv_log_str(&r, "error", e.msg);
		nv_log_end(&r);
	}
	st->live = false;
	nv_fs_close(&st->parentfd);
}
