#include "base/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"

ssize_t nv_fs_read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)p + got, n - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t nv_fs_pread_full(int fd, void *p, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)p + got, n - got, off + (off_t)got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int nv_fs_write_full(int fd, const void *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(fd, (const char *)p + done, n - done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

int nv_fs_pwrite_full(int fd, const void *p, size_t n, off_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = pwrite(fd, (const char *)p + done, n - done, off + (off_t)done);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		done += (size_t)w;
	}
	return 0;
}

void nv_fs_close(int *fd)
{
	int saved = errno;

	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	errno = saved;
}

int nv_fs_read_fd(int fd, const char *name, struct nv_buf *out, struct nv_error *err)
{
	char chunk[65536];
	int rc;

	for (;;) {
		ssize_t n = nv_fs_read_full(fd, chunk, sizeof(chunk));

		if (n < 0)
			return nv_error_sys(err, NV_EIO, errno, "cannot read '%s'", name);
		if (n == 0)
			return NV_OK;
		rc = nv_buf_add(out, chunk, (size_t)n, err);
		if (rc)
			return nv_error_prefix(err, "cannot read '%s'", name);
		if ((size_t)n < sizeof(chunk))
			return NV_OK;
	}
}

int nv_fs_read_file_at(int dirfd, const char *name, struct nv_buf *out, struct nv_error *err)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), rc;

	if (fd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", name);
	rc = nv_fs_read_fd(fd, name, out, err);
	nv_fs_close(&fd);
	return rc;
}

void nv_fs_random_suffix(char out[17])
{
	unsigned char r[8];
	size_t got = 0;

	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* fall back to something unique enough per process */
			unsigned long v = (unsigned long)getpid() ^ (unsigned long)(uintptr_t)out;
			memcpy(r, &v, sizeof(r) < sizeof(v) ? sizeof(r) : sizeof(v));
			break;
		}
		got += (size_t)n;
	}
	nv_hex_encode(r, sizeof(r), out);
}

int nv_fs_fsync_dir(int dirfd, struct nv_error *err)
{
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return nv_error_sys(err, NV_EIO, errno, "cannot fsync directory");
	return NV_OK;
}

int nv_fs_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			    struct nv_error *err)
{
	struct nv_buf tmp = NV_BUF_INIT(4096);
	char sfx[17];
	int fd = -1, rc;

	nv_fs_random_suffix(sfx);
	rc = nv_buf_addf(&tmp, err, ".tmp.%s.%s", sfx, name);
	if (rc)
		goto out;
	fd = openat(dirfd, tmp.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot create '%s'", tmp.p);
		goto out;
	}
	if (nv_fs_write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot write '%s'", tmp.p);
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = nv_error_sys(err, NV_EIO, errno, "cannot write '%s'", tmp.p);
		goto out;
	}
	fd = -1;
	if (renameat(dirfd, tmp.p, dirfd, name) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot rename '%s' to '%s'", tmp.p, name);
		goto out;
	}
	rc = nv_fs_fsync_dir(dirfd, err);
out:
	if (fd >= 0)
		nv_fs_close(&fd);
	if (rc && tmp.len)
		unlinkat(dirfd, tmp.p, 0);
	nv_buf_release(&tmp);
	return rc;
}

int nv_fs_open_dir_beneath(int rootfd, const char *relpath, int create, int *out_fd,
			   struct nv_error *err)
{
	char comp[256];
	const char *p = relpath;
	int cur = -1, rc = NV_OK;

	cur = openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cur < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open root directory");
	while (*p) {
		size_t n = strcspn(p, "/");
		int next;

		if (n == 0 || (n == 1 && p[0] == '.')) {
			p += n + (p[n] == '/');
			continue;
		}
		if (n >= sizeof(comp) || (n == 2 && p[0] == '.' && p[1] == '.')) {
			rc = nv_error_set(err, NV_EUNSAFE, "unsafe path '%s'", relpath);
			goto out;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
				rc = nv_error_sys(err, NV_EIO, errno,
						  "cannot create directory '%s'", relpath);
				goto out;
			}
			next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			if (errno == ELOOP || errno == ENOTDIR) {
				struct stat st;

				if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(st.st_mode)) {
					rc = nv_error_set(
					    err, NV_EUNSAFE,
					    "path '%s' leads through a symlink at '%s'", relpath,
					    comp);
					goto out;
				}
			}
			rc =
			    nv_error_sys(err, NV_EIO, errno, "cannot open directory '%s'", relpath);
			goto out;
		}
		close(cur);
		cur = next;
		p += n + (p[n] == '/');
	}
	*out_fd = cur;
	cur = -1;
out:
	nv_fs_close(&cur);
	return rc;
}

static int rmtree_fd(int dirfd, struct nv_error *err, int depth)
{
	DIR *d;
	struct dirent *de;
	int fd, rc = NV_OK;

	if (depth > 4096)
		return nv_error_set(err, NV_EINVALID, "directory tree too deep");
	fd = dup(dirfd);
	if (fd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot dup");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return nv_error_sys(err, NV_EIO, errno, "cannot read directory");
	}
	while ((errno = 0, de = readdir(d))) {
		int sub;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0 || errno == ENOENT)
			continue;
		if (errno != EISDIR && errno != EPERM) {
			rc = nv_error_sys(err, NV_EIO, errno, "cannot remove '%s'", de->d_name);
			break;
		}
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0) {
			rc = nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", de->d_name);
			break;
		}
		/* a read-only directory would make unlinks fail */
		fchmod(sub, 0700);
		rc = rmtree_fd(sub, err, depth + 1);
		close(sub);
		if (rc)
			break;
		if (unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
			rc = nv_error_sys(err, NV_EIO, errno, "cannot remove '%s'", de->d_name);
			break;
		}
	}
	closedir(d);
	return rc;
}

int nv_fs_rmtree_at(int dirfd, const char *name, struct nv_error *err)
{
	int sub, rc;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return NV_OK;
	if (errno != EISDIR && errno != EPERM)
		return nv_error_sys(err, NV_EIO, errno, "cannot remove '%s'", name);
	sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", name);
	fchmod(sub, 0700);
	rc = rmtree_fd(sub, err, 0);
	close(sub);
	if (rc)
		return nv_error_prefix(err, "cannot remove '%s'", name);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return nv_error_sys(err, NV_EIO, errno, "cannot remove '%s'", name);
	return NV_OK;
}

#include <linux/openat2.h>
#include <sys/syscall.h>

static int no_openat2;

void nv_fs_test_without_openat2(int on)
{
	__atomic_store_n(&no_openat2, on, __ATOMIC_RELAXED);
}

int nv_fs_openat_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
#ifdef SYS_openat2
	if (!__atomic_load_n(&no_openat2, __ATOMIC_RELAXED)) {
		struct open_how how;
		long fd;

		memset(&how, 0, sizeof(how));
		how.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW);
		how.mode = (flags & O_CREAT) ? mode : 0;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		do {
			fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		} while (fd < 0 && (errno == EINTR || errno == EAGAIN));
		if (fd >= 0 || (errno != ENOSYS && errno != EPERM))
			return (int)fd;
		/* ENOSYS: old kernel; EPERM: a seccomp profile blocks it */
		__atomic_store_n(&no_openat2, 1, __ATOMIC_RELAXED);
	}
#endif
	/* no openat2: one component at a time, none of them followed */
	{
		const char *p = path, *slash;
		int cur = dirfd, fd;

		if (*p == '/') {
			errno = EXDEV;
			return -1;
		}
		while ((slash = strchr(p, '/'))) {
			char comp[256];
			size_t n = (size_t)(slash - p);
			int next;

			if (n >= sizeof(comp) || (n == 2 && p[0] == '.' && p[1] == '.')) {
				if (cur != dirfd)
					close(cur);
				errno = n >= sizeof(comp) ? ENAMETOOLONG : EXDEV;
				return -1;
			}
			memcpy(comp, p, n);
			comp[n] = '\0';
			next =
			    n ? openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			      : cur;
			if (next < 0 && errno == ENOTDIR) { /* a symlink is an escape, as above */
				struct stat st;

				if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
				    S_ISLNK(st.st_mode))
					errno = ELOOP;
				else
					errno = ENOTDIR;
			}
			if (cur != dirfd && next != cur) {
				int e = errno;

				close(cur);
				errno = e;
			}
			if (next < 0)
				return -1;
			cur = next;
			p = slash + 1;
		}
		if (!strcmp(p, "..")) {
			if (cur != dirfd)
				close(cur);
			errno = EXDEV;
			return -1;
		}
		fd = openat(cur, p, flags | O_CLOEXEC | O_NOFOLLOW, mode);
		if (cur != dirfd) {
			int e = errno;

			close(cur);
			errno = e;
		}
		return fd;
	}
}

int nv_fs_mkdirs_beneath(int rootfd, const char *relpath, struct nv_error *err)
{
	int fd = -1;
	int rc = nv_fs_open_dir_beneath(rootfd, relpath, 1, &fd, err);

	nv_fs_close(&fd);
	return rc;
}

int nv_fs_is_empty_dir_at(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, empty = 1;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return (errno == ENOTDIR || errno == ELOOP) ? 0 : -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			empty = 0;
			break;
		}
	}
	closedir(d);
	return empty;
}

int nv_fs_open_parent_in(const char *root, const char *rel, int create, int *fd, const char **name,
			 struct nv_error *err)
{
	const char *slash = strrchr(rel, '/');
	char dir[4097];
	int rootfd, rc;

	*fd = -1;
	*name = slash ? slash + 1 : rel;
	if (!**name || (slash && (size_t)(slash - rel) >= sizeof(dir)))
		return nv_error_set(err, NV_EINVALID, "bad path '%s/%s'", root, rel);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0 && errno == ENOENT && create && root[0] == '/' &&
	    strlen(root) < sizeof(dir)) {
		/* a missing root is made like mkdir -p (it is configuration) */
		char *p;

		memcpy(dir, root, strlen(root) + 1);
		for (p = dir + 1;; p++) {
			if (*p == '/' || !*p) {
				char c = *p;

				*p = '\0';
				if (mkdir(dir, 0755) < 0 && errno != EEXIST)
					return nv_error_sys(err, NV_EIO, errno,
							    "cannot create '%s'", dir);
				*p = c;
				if (!c)
					break;
			}
		}
		rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (rootfd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", root);
	if (slash) {
		memcpy(dir, rel, (size_t)(slash - rel));
		dir[slash - rel] = '\0';
	} else {
		dir[0] = '\0';
	}
	rc = nv_fs_open_dir_beneath(rootfd, dir, create, fd, err);
	close(rootfd);
	return rc;
}
