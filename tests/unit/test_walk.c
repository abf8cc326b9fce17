#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "engine/snapshot.h"
#include "base/walk.h"

Test(walk, order_types_and_skips)
{
	char *dir = nv_test_tmpdir();
	char cmd[1200];
	struct nv_walk w;
	struct nv_error e = NV_ERROR_INIT;
	const char *want[] = {
	    "", "a", "a/b", "a/b/deep", "a-b", "empty", "fifo-skipped-so-absent", "link", "z"};
	int fd;
	size_t i, k = 0;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p a/b empty && echo 1 > a/b/deep && echo 2 > a-b && "
		 "echo 3 > z && ln -s z link && mkfifo fifo",
		 dir);
	cr_assert(system(cmd) == 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	nv_walk_init(&w);
	cr_assert_eq(nv_walk_tree(fd, dir, &w, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(w.skipped, 1);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!strcmp(want[i], "fifo-skipped-so-absent"))
			continue;
		cr_assert(k < w.n);
		cr_assert_str_eq(w.e[k].path, want[i]);
		k++;
	}
	cr_assert_eq(k, w.n);
	for (i = 1; i < w.n; i++)
		cr_assert(nv_path_cmp(w.e[i - 1].path, w.e[i].path) < 0);
	cr_assert_str_eq(w.e[6].link, "z");
	cr_assert_eq(w.files, 3);
	cr_assert_eq(w.dirs, 4);
	cr_assert_eq(w.symlinks, 1);
	nv_walk_release(&w);
	/* the same descriptor walked again gives the same entries */
	nv_walk_init(&w);
	cr_assert_eq(nv_walk_tree(fd, dir, &w, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(w.n, k);
	nv_walk_release(&w);
	close(fd);
	nv_test_rmdir(dir);
}

Test(walk, not_a_directory)
{
	struct nv_walk w;
	struct nv_error e = NV_ERROR_INIT;
	int fd = open("/etc/hostname", O_RDONLY);

	nv_walk_init(&w);
	cr_assert_eq(nv_walk_tree(fd, "/etc/hostname", &w, &e), NV_EINVALID);
	nv_walk_release(&w);
	close(fd);
}

/* A wide and deep tree, walked on several threads: every entry once, in
 * nv_path_cmp order, with the counts a single `find` gives. */
Test(walk, many_directories_in_order)
{
	char *dir = nv_test_tmpdir();
	char cmd[1400];
	struct nv_walk w;
	struct nv_error e = NV_ERROR_INIT;
	FILE *f;
	size_t i, nfind = 0;
	int fd;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && for a in 0 1 2 3 4 5 6 7 8 9 a-b a.b; do for b in 0 1 2 3 4 5 6 7; do "
		 "mkdir -p \"$a/$b/x/y\" \"$a/$b-z\" && echo 1 > \"$a/$b/f\" && "
		 "echo 2 > \"$a/$b/x/y/g\" && ln -s f \"$a/$b/l\"; done; done && "
		 "mkdir -p deep && cd deep && for i in $(seq 1 60); do mkdir d && cd d; done && "
		 "echo end > end",
		 dir);
	cr_assert(system(cmd) == 0);
	snprintf(cmd, sizeof(cmd), "cd %s && find . | wc -l", dir);
	f = popen(cmd, "r");
	cr_assert(f && fscanf(f, "%zu", &nfind) == 1);
	pclose(f);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	nv_walk_init(&w);
	cr_assert_eq(nv_walk_tree(fd, dir, &w, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(w.n, nfind);
	cr_assert_str_eq(w.e[0].path, "");
	for (i = 1; i < w.n; i++)
		cr_assert(nv_path_cmp(w.e[i - 1].path, w.e[i].path) < 0, "'%s' before '%s'",
			  w.e[i - 1].path, w.e[i].path);
	cr_assert_eq(w.files, 12 * 8 * 2 + 1);
	cr_assert_eq(w.symlinks, 12 * 8);
	cr_assert_eq(w.dirs, nfind - w.files - w.symlinks);
	for (i = 0; i < w.n; i++)
		if (S_ISLNK(w.e[i].mode))
			cr_assert_str_eq(w.e[i].link, "f");
	nv_walk_release(&w);
	close(fd);
	nv_test_rmdir(dir);
}

Test(walk, too_deep_is_an_error)
{
	char *dir = nv_test_tmpdir();
	char cmd[600];
	struct nv_walk w;
	struct nv_error e = NV_ERROR_INIT;
	int fd;

	/* 520 levels of one-letter folders (paths stay under PATH_MAX) */
	snprintf(cmd, sizeof(cmd), "cd %s && p=$(printf 'd/%%.0s' $(seq 1 520)) && mkdir -p \"$p\"",
		 dir);
	cr_assert(system(cmd) == 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	nv_walk_init(&w);
	cr_assert_eq(nv_walk_tree(fd, dir, &w, &e), NV_EINVALID);
	cr_assert(strstr(e.msg, "deeper than 512"), "%s", e.msg);
	nv_walk_release(&w);
	close(fd);
	nv_test_rmdir(dir);
}

/* Excluded paths are left out with everything below them; a name that
 * only starts like one is not. */
Test(walk, excludes)
{
	char *dir = nv_test_tmpdir();
	char cmd[1200];
	char *ex[] = {"models", "a/nested", ".browser-session"};
	struct nv_walk w;
	struct nv_error e = NV_ERROR_INIT;
	const char *want[] = {"", "a", "a/keep", "a/nested-not", "models.txt", "z"};
	int fd;
	size_t i;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p models/checkpoints a/nested/deep a/nested-not .browser-session "
		 "&& echo 1 > models/checkpoints/x && echo 2 > a/nested/deep/f && echo 3 > a/keep "
		 "&& echo 4 > models.txt && echo 5 > z && echo 6 > .browser-session/c",
		 dir);
	cr_assert(system(cmd) == 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	nv_walk_init(&w);
	w.exclude = ex;
	w.nexclude = 3;
	cr_assert_eq(nv_walk_tree(fd, dir, &w, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(w.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < w.n; i++)
		cr_assert_str_eq(w.e[i].path, want[i]);
	cr_assert_eq(w.excluded, 3);
	cr_assert_eq(w.files, 3);
	nv_walk_release(&w);
	close(fd);
	nv_test_rmdir(dir);
}
