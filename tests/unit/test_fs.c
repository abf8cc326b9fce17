#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "base/fs.h"

static int dirfd_of(const char *p)
{
	int fd = open(p, O_RDONLY | O_DIRECTORY);

	cr_assert(fd >= 0, "open %s", p);
	return fd;
}

Test(fs, atomic_write_and_read)
{
	char *dir = nv_test_tmpdir();
	int fd = dirfd_of(dir);
	struct nv_buf b = NV_BUF_INIT(100);
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_fs_write_file_atomic(fd, "f", "hello", 5, 0600, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_fs_write_file_atomic(fd, "f", "bye", 3, 0600, &e), NV_OK);
	cr_assert_eq(nv_fs_read_file_at(fd, "f", &b, &e), NV_OK);
	cr_assert_str_eq(b.p, "bye");
	nv_buf_reset(&b);
	cr_assert_eq(nv_fs_read_file_at(fd, "missing", &b, &e), NV_ENOTFOUND);
	cr_assert(strstr(e.msg, "cannot open 'missing'"));
	close(fd);
	nv_buf_release(&b);
	nv_test_rmdir(dir);
}

Test(fs, read_respects_the_cap)
{
	char *dir = nv_test_tmpdir();
	int fd = dirfd_of(dir);
	struct nv_buf b = NV_BUF_INIT(4);
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_fs_write_file_atomic(fd, "f", "hello", 5, 0600, NULL), NV_OK);
	cr_assert_eq(nv_fs_read_file_at(fd, "f", &b, &e), NV_ETOOBIG);
	close(fd);
	nv_buf_release(&b);
	nv_test_rmdir(dir);
}

Test(fs, beneath_refuses_symlinks)
{
	char *dir = nv_test_tmpdir();
	char p[600];
	int fd = dirfd_of(dir), sub = -1, f;
	struct nv_error e = NV_ERROR_INIT;

	snprintf(p, sizeof(p), "%s/real", dir);
	cr_assert(mkdir(p, 0755) == 0);
	snprintf(p, sizeof(p), "%s/link", dir);
	cr_assert(symlink("/tmp", p) == 0);
	cr_assert_eq(nv_fs_open_dir_beneath(fd, "real/a/b", 1, &sub, &e), NV_OK, "%s", e.msg);
	close(sub);
	cr_assert_eq(nv_fs_open_dir_beneath(fd, "link/x", 1, &sub, &e), NV_EUNSAFE);
	cr_assert(strstr(e.msg, "symlink"), "%s", e.msg);
	cr_assert_eq(nv_fs_open_dir_beneath(fd, "real/../..", 0, &sub, &e), NV_EUNSAFE);
	/* with openat2, and one component at a time as on older kernels */
	for (int fallback = 0; fallback < 2; fallback++) {
		nv_fs_test_without_openat2(fallback);
		f = nv_fs_openat_beneath(fd, "link/passwd", O_RDONLY, 0);
		cr_assert(f < 0 && errno == ELOOP, "fallback %d: %d", fallback, errno);
		f = nv_fs_openat_beneath(fd, "real/../link/passwd", O_RDONLY, 0);
		cr_assert(f < 0, "fallback %d", fallback);
		f = nv_fs_openat_beneath(fd, "../etc/passwd", O_RDONLY, 0);
		cr_assert(f < 0 && errno == EXDEV, "fallback %d: %d", fallback, errno);
		f = nv_fs_openat_beneath(fd, "/etc/passwd", O_RDONLY, 0);
		cr_assert(f < 0 && errno == EXDEV, "fallback %d: %d", fallback, errno);
		f = nv_fs_openat_beneath(fd, "real/link", O_RDONLY, 0);
		cr_assert(f < 0 && errno == ENOENT, "fallback %d: %d", fallback, errno);
		f = nv_fs_openat_beneath(fd, fallback ? "real/new2" : "real/new",
					 O_WRONLY | O_CREAT | O_EXCL, 0600);
		cr_assert(f >= 0, "%s", strerror(errno));
		close(f);
		f = nv_fs_openat_beneath(fd, "real//new", O_RDONLY, 0);
		cr_assert(f >= 0, "fallback %d: %s", fallback, strerror(errno));
		close(f);
	}
	nv_fs_test_without_openat2(0);
	cr_assert_eq(nv_fs_mkdirs_beneath(fd, "real/a/b/c", &e), NV_OK);
	close(fd);
	nv_test_rmdir(dir);
}

Test(fs, rmtree_removes_readonly_trees_but_not_link_targets)
{
	char *dir = nv_test_tmpdir(), *keep = nv_test_tmpdir();
	char cmd[1400];
	int fd = dirfd_of(dir);
	struct stat st;

	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/t/a/b && echo x > %s/t/a/b/f && echo k > %s/kept && "
		 "ln -s %s %s/t/a/link && chmod 500 %s/t/a/b %s/t/a",
		 dir, dir, keep, keep, dir, dir, dir);
	cr_assert(system(cmd) == 0);
	cr_assert_eq(nv_fs_rmtree_at(fd, "t", NULL), NV_OK);
	snprintf(cmd, sizeof(cmd), "%s/t", dir);
	cr_assert(lstat(cmd, &st) < 0);
	snprintf(cmd, sizeof(cmd), "%s/kept", keep);
	cr_assert(lstat(cmd, &st) == 0, "the symlink's target must survive");
	cr_assert_eq(nv_fs_rmtree_at(fd, "t", NULL), NV_OK, "missing is fine");
	cr_assert_eq(nv_fs_is_empty_dir_at(fd, "."), 1);
	close(fd);
	nv_test_rmdir(dir);
	nv_test_rmdir(keep);
}
