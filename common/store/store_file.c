/* The file:// store: objects are files below a root folder.
 *
 * Keys map to paths below the root; every open walks the key component by
 * component with O_NOFOLLOW (nv_fs_open_dir_beneath), so neither a key nor a
 * symlink planted in the store can lead outside it. Objects are published
 * atomically (temp file, fsync, rename; link(2) for NV_PUT_IF_ABSENT).
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/mem.h"

#define NV_STORE_PATH_MAX 4096

struct file_store {
	struct nv_store base;
	int rootfd;
};

static struct file_store *fstore(struct nv_store *s)
{
	return (struct file_store *)s;
}

/* Split key into its directory (opened, maybe created) and last name. */
static int open_parent(struct file_store *fs, const char *key, int create, int *dirfd,
		       const char **name, struct nv_error *err)
{
	const char *slash = strrchr(key, '/');
	char *dir;
	int rc;

	if (!slash) {
		*name = key;
		*dirfd = dup(fs->rootfd);
		if (*dirfd < 0)
			return nv_error_sys(err, NV_EIO, errno, "dup");
		return NV_OK;
	}
	*name = slash + 1;
	dir = nv_strndup(key, (size_t)(slash - key));
	if (!dir)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	rc = nv_fs_open_dir_beneath(fs->rootfd, dir, create, dirfd, err);
	nv_free(dir);
	return rc;
}

static int open_object(struct file_store *fs, const char *key, int *fd, struct nv_error *err)
{
	const char *name;
	int dirfd = -1, rc;

	rc = open_parent(fs, key, 0, &dirfd, &name, err);
	if (rc) {
		if (rc == NV_ENOTFOUND)
			nv_error_set(err, NV_ENOTFOUND, "object '%s' not found", key);
		return rc;
	}
	*fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (*fd < 0)
		rc = errno == ENOENT
			 ? nv_error_set(err, NV_ENOTFOUND, "object '%s' not found", key)
			 : nv_error_sys(err, NV_EIO, errno, "cannot open object '%s'", key);
	nv_fs_close(&dirfd);
	return rc;
}

static int file_get_range(struct nv_store *s, const char *key, uint64_t off, uint64_t len,
			  struct nv_buf *out, struct nv_error *err)
{
	int fd = -1, rc;
	ssize_t n;

	rc = open_object(fstore(s), key, &fd, err);
	if (rc)
		return rc;
	if (len > SIZE_MAX / 2) {
		rc = nv_error_set(err, NV_ETOOBIG, "range too large in '%s'", key);
		goto out;
	}
	rc = nv_buf_grow(out, (size_t)len, err);
	if (rc)
		goto out;
	n = nv_fs_pread_full(fd, out->p + out->len, (size_t)len, (off_t)off);
	if (n < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot read object '%s'", key);
		goto out;
	}
	if ((uint64_t)n != len) {
		rc = nv_error_set(
		    err, NV_ECORRUPT,
		    "object '%s' is shorter than expected (%zd of %llu bytes at offset %llu)", key,
		    n, (unsigned long long)len, (unsigned long long)off);
		goto out;
	}
	nv_buf_setlen(out, out->len + (size_t)n);
out:
	nv_fs_close(&fd);
	return rc;
}

static int file_get(struct nv_store *s, const char *key, struct nv_buf *out, struct nv_error *err)
{
	struct stat st;
	int fd = -1, rc;
	ssize_t n;

	rc = open_object(fstore(s), key, &fd, err);
	if (rc)
		return rc;
	if (fstat(fd, &st) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot stat object '%s'", key);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = nv_error_set(err, NV_ECORRUPT, "object '%s' is not a file", key);
		goto out;
	}
	rc = nv_buf_grow(out, (size_t)st.st_size, err);
	if (rc) {
		nv_error_prefix(err, "object '%s'", key);
		goto out;
	}
	n = nv_fs_read_full(fd, out->p + out->len, (size_t)st.st_size);
	if (n < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot read object '%s'", key);
		goto out;
	}
	nv_buf_setlen(out, out->len + (size_t)n);
out:
	nv_fs_close(&fd);
	return rc;
}

static int file_put(struct nv_store *s, const char *key, const void *data, size_t len,
		    unsigned flags, struct nv_error *err)
{
	struct nv_buf tmp = NV_BUF_INIT(4096);
	const char *name;
	char sfx[17];
	int dirfd = -1, fd = -1, rc;

	rc = open_parent(fstore(s), key, 1, &dirfd, &name, err);
	if (rc)
		return rc;
	nv_fs_random_suffix(sfx);
	rc = nv_buf_addf(&tmp, err, ".tmp.%s.%s", sfx, name);
	if (rc)
		goto out;
	fd = openat(dirfd, tmp.p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot create object '%s'", key);
		goto out;
	}
	if (nv_fs_write_full(fd, data, len) < 0 || fsync(fd) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot write object '%s'", key);
		goto out;
	}
	nv_fs_close(&fd);
	if (flags & NV_PUT_IF_ABSENT) {
		if (linkat(dirfd, tmp.p, dirfd, name, 0) < 0) {
			rc = errno == EEXIST
				 ? nv_error_set(err, NV_EEXISTS, "object '%s' already exists", key)
				 : nv_error_sys(err, NV_EIO, errno, "cannot publish object '%s'",
						key);
			goto out;
		}
	} else if (renameat(dirfd, tmp.p, dirfd, name) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot publish object '%s'", key);
		goto out;
	} else {
		nv_buf_reset(&tmp); /* renamed: nothing to unlink */
	}
	rc = nv_fs_fsync_dir(dirfd, err);
out:
	nv_fs_close(&fd);
	if (tmp.len)
		unlinkat(dirfd, tmp.p, 0);
	nv_fs_close(&dirfd);
	nv_buf_release(&tmp);
	return rc;
}

static int file_head(struct nv_store *s, const char *key, struct nv_store_stat *out,
		     struct nv_error *err)
{
	struct stat st;
	int fd = -1, rc;

	rc = open_object(fstore(s), key, &fd, err);
	if (rc)
		return rc;
	if (fstat(fd, &st) < 0)
		rc = nv_error_sys(err, NV_EIO, errno, "cannot stat object '%s'", key);
	else if (!S_ISREG(st.st_mode))
		rc = nv_error_set(err, NV_ECORRUPT, "object '%s' is not a file", key);
	else if (out) {
		out->size = (uint64_t)st.st_size;
		out->mtime = st.st_mtim.tv_sec;
	}
	nv_fs_close(&fd);
	return rc;
}

static int file_del(struct nv_store *s, const char *key, struct nv_error *err)
{
	const char *name;
	int dirfd = -1, rc;

	rc = open_parent(fstore(s), key, 0, &dirfd, &name, err);
	if (rc == NV_ENOTFOUND)
		return NV_OK;
	if (rc)
		return rc;
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		rc = nv_error_sys(err, NV_EIO, errno, "cannot delete object '%s'", key);
	nv_fs_close(&dirfd);
	return rc;
}

struct walk {
	const char *prefix;
	nv_store_list_fn fn;
	void *ud;
	struct nv_error *err;
	struct nv_buf key;
};

static int walk_dir(struct walk *w, int dirfd, int depth)
{
	DIR *d = NULL;
	struct dirent *de;
	size_t base = w->key.len;
	int fd, rc = NV_OK;

	if (depth > 64)
		return nv_error_set(w->err, NV_EINVALID, "store tree too deep");
	fd = dup(dirfd);
	if (fd < 0)
		return nv_error_sys(w->err, NV_EIO, errno, "dup");
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return nv_error_sys(w->err, NV_EIO, errno, "cannot list store");
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		size_t plen = strlen(w->prefix);

		if (de->d_name[0] == '.' &&
		    (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		     !strncmp(de->d_name, ".tmp.", 5)))
			continue;
		nv_buf_setlen(&w->key, base);
		if (base)
			rc = nv_buf_addch(&w->key, '/', w->err);
		if (!rc)
			rc = nv_buf_addstr(&w->key, de->d_name, w->err);
		if (rc)
			break;
		/* prune subtrees that cannot match the prefix */
		if (strncmp(w->key.p, w->prefix, w->key.len < plen ? w->key.len : plen))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			rc = nv_error_sys(w->err, NV_EIO, errno, "cannot stat '%s'", w->key.p);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0) {
				rc = nv_error_sys(w->err, NV_EIO, errno, "cannot open '%s'",
						  w->key.p);
				break;
			}
			rc = walk_dir(w, sub, depth + 1);
			close(sub);
			if (rc)
				break;
		} else if (S_ISREG(st.st_mode) && w->key.len >= plen) {
			struct nv_store_stat ss = {(uint64_t)st.st_size, st.st_mtim.tv_sec};

			rc = w->fn(w->key.p, &ss, w->ud);
			if (rc)
				break;
		}
	}
	nv_buf_setlen(&w->key, base);
	closedir(d);
	return rc;
}

static int file_list(struct nv_store *s, const char *prefix, nv_store_list_fn fn, void *ud,
		     struct nv_error *err)
{
	struct walk w = {prefix, fn, ud, err, NV_BUF_INIT(8192)};
	int rc;

	rc = walk_dir(&w, fstore(s)->rootfd, 0);
	nv_buf_release(&w.key);
	return rc;
}

static void file_close(struct nv_store *s)
{
	struct file_store *fs = fstore(s);

	nv_fs_close(&fs->rootfd);
	nv_free(s->url);
	nv_free(fs);
}

static const struct nv_store_ops file_ops = {
    "file", file_get, file_get_range, file_put, file_head, file_list, file_del, file_close,
};

/* mkdir -p of the store folder (a user root below a base that may be new). */
static int make_root(const char *path, struct nv_error *err)
{
	char p[NV_STORE_PATH_MAX];
	size_t i, n = strlen(path);

	if (n >= sizeof(p))
		return nv_error_set(err, NV_ECONFIG, "file store path '%.64s...' is too long",
				    path);
	memcpy(p, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return nv_error_sys(err, NV_EIO, errno, "cannot create store folder '%s'",
					    p);
		p[i] = path[i];
	}
	return NV_OK;
}

int nv_store_file_open(const char *path, struct nv_store **out, struct nv_error *err)
{
	struct file_store *fs;
	struct nv_buf url = NV_BUF_INIT(8192);
	int rc;

	*out = NULL;
	if (path[0] != '/')
		return nv_error_set(err, NV_ECONFIG, "file store path '%s' must be absolute", path);
	if ((rc = make_root(path, err)))
		return rc;
	fs = nv_calloc(1, sizeof(*fs));
	if (!fs)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	fs->rootfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs->rootfd < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot open store folder '%s'", path);
		nv_free(fs);
		return rc;
	}
	rc = nv_buf_addf(&url, err, "file://%s", path);
	if (rc) {
		file_close(&fs->base);
		return rc;
	}
	fs->base.ops = &file_ops;
	fs->base.url = nv_buf_detach(&url, NULL);
	if (!fs->base.url) {
		file_close(&fs->base);
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	}
	*out = &fs->base;
	return NV_OK;
}
