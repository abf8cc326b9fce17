#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "engine/volume.h"

Test(volume, probe_reports_usable_and_data)
{
	char *dir = nv_test_tmpdir();
	char p[600];
	const char *paths[] = {"venv", "empty", "missing", "file"};
	struct nv_volume_probe pr;

	snprintf(p, sizeof(p), "mkdir -p %s/venv/bin %s/empty && touch %s/file", dir, dir, dir);
	cr_assert(system(p) == 0);
	cr_assert_eq(nv_volume_probe(dir, paths, 4, 5000, &pr, NULL), NV_OK);
	cr_assert(pr.usable, "%s", pr.reason);
	cr_assert(pr.has_data[0]);
	cr_assert(!pr.has_data[1] && pr.exists[1]);
	cr_assert(!pr.has_data[2] && !pr.exists[2]);
	cr_assert(!pr.has_data[3] && pr.exists[3]);
	nv_volume_probe_release(&pr);
	snprintf(p, sizeof(p), "%s/.netvol", dir);
	cr_assert(nv_test_is_dir(p), "probe keeps its files in .netvol");
	nv_test_rmdir(dir);
}

struct bad_nv {
	char path[64];
	char reason[48];
};

ParameterizedTestParameters(volume, probe_unusable)
{
	static struct bad_nv cases[] = {
	    {"/nonexistent/nv", "cannot stat"},
	    {"/etc/hostname", "not a directory"},
	    {"/proc/self", "not writable"},
	};
	return cr_make_param_array(struct bad_nv, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct bad_nv *b, volume, probe_unusable)
{
	const char *paths[] = {"venv"};
	struct nv_volume_probe pr;

	cr_assert_eq(nv_volume_probe(b->path, paths, 1, 5000, &pr, NULL), NV_OK);
	cr_assert(!pr.usable);
	cr_assert(strstr(pr.reason, b->reason), "%s", pr.reason);
	cr_assert(!pr.has_data[0]);
	nv_volume_probe_release(&pr);
}

Test(volume, link_rules)
{
	char *dir = nv_test_tmpdir();
	char path[600], target[600], root[600], cmd[4096], got[600];
	enum nv_link_result r;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/pod/sub/venv", dir);
	snprintf(root, sizeof(root), "%s/pod", dir);
	snprintf(target, sizeof(target), "%s/nv/venv", dir);
	cr_assert(mkdir(root, 0755) == 0);
	cr_assert_eq(nv_volume_link(root, "sub/venv", target, &r, NULL), NV_OK);
	cr_assert_eq(r, NV_LINK_CREATED);
	n = readlink(path, got, sizeof(got) - 1);
	cr_assert(n > 0);
	got[n] = 0;
	cr_assert_str_eq(got, target);
	cr_assert_eq(nv_volume_link(root, "sub/venv", target, &r, NULL), NV_OK);
	cr_assert_eq(r, NV_LINK_ALREADY);
	/* an empty folder is replaced, a folder with data is kept */
	snprintf(cmd, sizeof(cmd), "rm %s && mkdir %s", path, path);
	cr_assert(system(cmd) == 0);
	cr_assert_eq(nv_volume_link(root, "sub/venv", target, &r, NULL), NV_OK);
	cr_assert_eq(r, NV_LINK_CREATED);
	snprintf(cmd, sizeof(cmd), "rm %s && mkdir %s && touch %s/mine", path, path, path);
	cr_assert(system(cmd) == 0);
	cr_assert_eq(nv_volume_link(root, "sub/venv", target, &r, NULL), NV_OK);
	cr_assert_eq(r, NV_LINK_KEPT_LOCAL);
	nv_test_rmdir(dir);
}

Test(volume, copy_tree_and_race)
{
	char *dir = nv_test_tmpdir();
	char src[600], dst[600], root[600], cmd[4096];
	uint64_t bytes = 0;
	struct nv_error e = NV_ERROR_INIT;

	snprintf(src, sizeof(src), "%s/src", dir);
	snprintf(dst, sizeof(dst), "%s/nv/deep/venv", dir);
	snprintf(root, sizeof(root), "%s/nv", dir);
	cr_assert(mkdir(root, 0755) == 0);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/a && echo hello > %s/a/f && ln %s/a/f %s/a/g && ln -s f %s/a/l", src,
		 src, src, src, src);
	cr_assert(system(cmd) == 0);
	cr_assert_eq(nv_volume_copy_tree(src, root, "deep/venv", 0, 5000, &bytes, &e), NV_OK, "%s",
		     e.msg);
	cr_assert_eq(bytes, 6);
	snprintf(cmd, sizeof(cmd), "diff -r --no-dereference %s %s && test %s/a/f -ef %s/a/g", src,
		 dst, dst, dst);
	cr_assert(system(cmd) == 0);
	cr_assert_eq(nv_volume_copy_tree(src, root, "deep/venv", 0, 5000, &bytes, &e), NV_EEXISTS);
	cr_assert(strstr(e.msg, "another pod"), "%s", e.msg);
	snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A %s/nv/deep | grep -v '^venv$')\"", dir);
	cr_assert(system(cmd) == 0, "the loser's staging copy is gone");
	nv_test_rmdir(dir);
}

Test(volume, sync_source)
{
	char *dir = nv_test_tmpdir();
	char p[600], cmd[1400];
	char *out = NULL;
	bool link;

	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir real && ln -s real rel && ln -s /nonexistent dangling", dir);
	cr_assert(system(cmd) == 0);
	snprintf(p, sizeof(p), "%s/real", dir);
	cr_assert_eq(nv_volume_sync_source(p, &out, &link, NULL), NV_OK);
	cr_assert(!link);
	cr_assert_str_eq(out, p);
	free(out);
	snprintf(p, sizeof(p), "%s/rel", dir);
	cr_assert_eq(nv_volume_sync_source(p, &out, &link, NULL), NV_OK);
	cr_assert(link);
	snprintf(p, sizeof(p), "%s/real", dir);
	cr_assert_str_eq(out, p);
	free(out);
	snprintf(p, sizeof(p), "%s/dangling", dir);
	cr_assert_eq(nv_volume_sync_source(p, &out, &link, NULL), NV_EINVALID);
	snprintf(p, sizeof(p), "%s/none", dir);
	cr_assert_eq(nv_volume_sync_source(p, &out, &link, NULL), NV_ENOTFOUND);
	nv_test_rmdir(dir);
}

/* A target holding only what the dataset excludes counts as empty; the
 * stage is renamed in around those entries, never over them. */
Test(volume, publish_around_excluded)
{
	char *dir = nv_test_tmpdir();
	char p[1200], *ex[] = {"models", "custom_nodes", "a/b"};
	struct nv_volume_stage st;
	struct nv_error e = NV_ERROR_INIT;
	int dfd;

	snprintf(p, sizeof(p),
		 "cd %s && mkdir -p C/models/l C/a/b && echo m > C/models/l/m && "
		 "ln -s /nv/custom_nodes C/custom_nodes && mkdir -p D/user && mkdir E",
		 dir);
	cr_assert(system(p) == 0);
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(nv_volume_only_excluded(dfd, "C", ex, 3), 1);
	cr_assert_eq(nv_volume_only_excluded(dfd, "D", ex, 3), 0, "user/ is the dataset's");
	cr_assert_eq(nv_volume_only_excluded(dfd, "E", ex, 3), 0, "empty: not 'only excluded'");
	cr_assert_eq(nv_volume_only_excluded(dfd, "C", ex, 0), 0);
	cr_assert_eq(nv_volume_only_excluded(dfd, "missing", ex, 3), -1);

	/* the staged tree has a name the target holds (a/): nothing changes */
	cr_assert_eq(nv_volume_stage_begin(dir, "C", 0, &st, &e), NV_OK, "%s", e.msg);
	cr_assert(mkdirat(st.fd, "a", 0755) == 0);
	cr_assert_eq(nv_volume_stage_publish_around(&st, "C", ex, 3, &e), NV_EEXISTS);
	nv_volume_stage_release(&st);
	snprintf(p, sizeof(p),
		 "cd %s && test \"$(ls -A C | tr '\\n' ' ')\" = 'a custom_nodes models ' "
		 "&& test \"$(ls -A | tr '\\n' ' ')\" = 'C D E '",
		 dir);
	cr_assert(system(p) == 0, "nothing changed");

	/* without the clash: the new tree, the entries moved back in */
	snprintf(p, sizeof(p), "rmdir %s/C/a/b %s/C/a", dir, dir);
	cr_assert(system(p) == 0);
	cr_assert_eq(nv_volume_stage_begin(dir, "C", 0, &st, &e), NV_OK, "%s", e.msg);
	cr_assert(mkdirat(st.fd, "user", 0755) == 0);
	cr_assert_eq(nv_volume_stage_publish_around(&st, "C", ex, 3, &e), NV_OK, "%s", e.msg);
	nv_volume_stage_release(&st);
	snprintf(p, sizeof(p),
		 "cd %s && test \"$(ls -A C | tr '\\n' ' ')\" = 'custom_nodes models user ' && "
		 "test \"$(cat C/models/l/m)\" = m && test \"$(readlink C/custom_nodes)\" = "
		 "/nv/custom_nodes && test \"$(ls -A | tr '\\n' ' ')\" = 'C D E '",
		 dir);
	cr_assert(system(p) == 0, "published around the kept entries");

	/* a target with data of its own: plain publish refuses it */
	cr_assert_eq(nv_volume_stage_begin(dir, "D", 0, &st, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_volume_stage_publish_around(&st, "D", ex, 3, &e), NV_EEXISTS);
	nv_volume_stage_release(&st);
	snprintf(p, sizeof(p), "cd %s && test \"$(ls -A D)\" = user", dir);
	cr_assert(system(p) == 0);
	close(dfd);
	nv_test_rmdir(dir);
}
