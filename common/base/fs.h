/* fs.h - filesystem helpers: full reads/writes, atomic publish, and
 * directory-fd relative walks that never follow a symlink out of a root.
 */
#ifndef NV_FS_H
#define NV_FS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"
#include "base/err.h"

/* read(2)/write(2)/pread/pwrite that retry EINTR and move the full length.
 * nv_fs_read_full returns the bytes read (short only at EOF) or -1. */
ssize_t nv_fs_read_full(int fd, void *p, size_t n);
ssize_t nv_fs_pread_full(int fd, void *p, size_t n, off_t off);
int nv_fs_write_full(int fd, const void *p, size_t n);
int nv_fs_pwrite_full(int fd, const void *p, size_t n, off_t off);

/* Close keeping errno; safe with -1. */
void nv_fs_close(int *fd);

/* Read a whole file (relative to dirfd, no symlink at the last component)
 * into out, which caps the size. `what` names the file in errors. */
int nv_fs_read_file_at(int dirfd, const char *name, struct nv_buf *out, struct nv_error *err);

/* Read everything left in fd into out (out's cap applies); name is for
 * messages. */
int nv_fs_read_fd(int fd, const char *name, struct nv_buf *out, struct nv_error *err);

/* Atomically replace dirfd/name with data: temp file, fsync, rename,
 * fsync of the directory. */
int nv_fs_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			    struct nv_error *err);

/* Open the directory at relpath below rootfd, component by component with
 * O_NOFOLLOW: a symlink anywhere on the way is NV_EUNSAFE. With create,
 * missing directories are made (mode 0755). relpath "" or "." opens root. */
int nv_fs_open_dir_beneath(int rootfd, const char *relpath, int create, int *out_fd,
			   struct nv_error *err);

/* Remove dirfd/name and everything below it, never following symlinks.
 * Missing is fine. */
int nv_fs_rmtree_at(int dirfd, const char *name, struct nv_error *err);

/* fsync a directory by fd. */
int nv_fs_fsync_dir(int dirfd, struct nv_error *err);

/* Random hex suffix for temporary names (16 chars + NUL). */
void nv_fs_random_suffix(char out[17]);

/* openat() that refuses to leave dirfd or pass through any symlink
 * (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS where the kernel has it,
 * else one openat per component, each with O_NOFOLLOW, ".." refused). Returns the fd or -1
 * with errno set (ELOOP/EXDEV for an escape). */
int nv_fs_openat_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* Test hook: behave as on a kernel without openat2 (1) or as detected (0). */
void nv_fs_test_without_openat2(int on);

/* mkdir -p of relpath below rootfd without following symlinks. */
int nv_fs_mkdirs_beneath(int rootfd, const char *relpath, struct nv_error *err);

/* Is dirfd/name an empty directory? 1 yes, 0 no (not empty or not a dir),
 * -1 error (errno). Does not follow a symlink at name. */
int nv_fs_is_empty_dir_at(int dirfd, const char *name);

/* Open the folder that holds root/rel's last component. root is opened as
 * it is (it comes from the configuration and may itself be a symlink); the
 * components of rel before the last are walked beneath it without following
 * any symlink, and created (0755) when create. *name points into rel. */
int nv_fs_open_parent_in(const char *root, const char *rel, int create, int *fd, const char **name,
			 struct nv_error *err);

#endif
