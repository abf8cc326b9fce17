/* alloc_torture - fail every allocation of a sync and of a restore in turn
 * (nv_mem_fail_after, curl's torture idea) and check that each failure is
 * an error with a message, never a crash, a leak (under `make asan`) or
 * half-written data: after a failed sync the store's HEAD is absent or
 * names a snapshot that restores whole; after a failed restore the target
 * does not exist and no staging folder is left. The same for a legacy
 * restore (a tar.gz made with tar(1) in a file store).
 * Usage: alloc_torture WORKDIR (an empty folder). Prints a summary line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/config.h"
#include "engine/engine.h"
#include "base/fs.h"
#include "engine/legacy.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/store.h"

#define MAX_STEPS 20000

static char work[1024];

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "alloc_torture: FAIL: %s%s%s\n", what, detail ? ": " : "",
		detail ? detail : "");
	exit(1);
}

static void path(char *out, size_t n, const char *rel)
{
	if ((size_t)snprintf(out, n, "%s/%s", work, rel) >= n)
		die("path too long", rel);
}

static void write_file(const char *rel, const char *data, size_t len)
{
	char p[1200];
	int fd;

	path(p, sizeof(p), rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || nv_fs_write_full(fd, data, len))
		die("cannot write", p);
	close(fd);
}

static void make_dir(const char *rel)
{
	char p[1200];

	path(p, sizeof(p), rel);
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		die("cannot mkdir", p);
}

/* Entries in work/rel other than `keep` and ".netvol". */
static int others_in(const char *rel, const char *keep)
{
	char p[1200];
	DIR *d;
	struct dirent *de;
	int n = 0;

	path(p, sizeof(p), rel);
	d = opendir(p);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    strcmp(de->d_name, ".netvol") && (!keep || strcmp(de->d_name, keep)))
			n++;
	closedir(d);
	return n;
}

static void same_file(const char *a, const char *b)
{
	struct nv_buf x = NV_BUF_INIT(1u << 24), y = NV_BUF_INIT(1u << 24);
	char pa[1200], pb[1200];

	path(pa, sizeof(pa), a);
	path(pb, sizeof(pb), b);
	if (nv_fs_read_file_at(AT_FDCWD, pa, &x, NULL) ||
	    nv_fs_read_file_at(AT_FDCWD, pb, &y, NULL) || x.len != y.len || memcmp(x.p, y.p, x.len))
		die("restored file differs", pb);
	nv_buf_release(&x);
	nv_buf_release(&y);
}

static void check_restored(const char *root)
{
	static const char *files[] = {"a", "sub/b", "sub/big", "hard"};
	char a[256], b[1400], l[64];
	size_t i;
	ssize_t n;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(a, sizeof(a), "pod/ds/%s", files[i]);
		snprintf(b, sizeof(b), "%s/ds/%s", root, files[i]);
		same_file(a, b);
	}
	snprintf(b, sizeof(b), "%s/%s/ds/link", work, root);
	n = readlink(b, l, sizeof(l) - 1);
	if (n < 0 || (size_t)n != strlen("sub/b") || memcmp(l, "sub/b", (size_t)n))
		die("restored symlink differs", b);
}

static const char *const env_table[][2] = {
    {"NETWORK_VOLUME", "/w/"},
    {"_NETWORK_VOLUME", "/nv"},
    {"POD_USER_NAME", "u"},
    {"POD_ID", "p"},
    {"AWS_BUCKET_NAME", "bucket"},
    {"NETVOL_DATASETS", "venv,a/b:user,c:pod"},
    {"NETVOL_DEADLINE", "1m30s"},
    {"AWS_ACCESS_KEY_ID", "AK"},
    {"AWS_SECRET_ACCESS_KEY", "SK"},
    {"AWS_SESSION_TOKEN", "ST"},
    {"AWS_REGION", "eu-west-1"},
    {"AWS_ENDPOINT_URL", "http://127.0.0.1:9"},
    {"AWS_WEB_IDENTITY_TOKEN_FILE", "/t"},
    {"AWS_ROLE_ARN", "arn"},
    {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:8"},
    {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "tok"},
    {"AWS_CA_BUNDLE", "/ca"},
    {"NETVOL_TLS_CERT", "/c"},
    {"NETVOL_TLS_KEY", "/k"},
};

static const char *env_lookup(const char *name, void *ud)
{
	size_t i;

	(void)ud;
	for (i = 0; i < sizeof(env_table) / sizeof(env_table[0]); i++)
		if (!strcmp(env_table[i][0], name))
			return env_table[i][1];
	return NULL;
}

/* nv_config_load_from with every allocation failing in turn. */
static long config_torture(long *failures)
{
	struct nv_config cfg;
	struct nv_error e = NV_ERROR_INIT;
	long n;

	for (n = 0; n < MAX_STEPS; n++) {
		int rc;

		nv_mem_fail_after(n);
		rc = nv_config_load_from(&cfg, env_lookup, NULL, &e);
		nv_mem_fail_after(-1);
		if (rc == NV_OK) {
			if (cfg.ndatasets != 3 || strcmp(cfg.network_volume, "/w"))
				die("config loaded wrong", cfg.network_volume);
			nv_config_release(&cfg);
			return n + 1;
		}
		if (rc != NV_ENOMEM || !e.msg[0])
			die("config: an allocation failure gave another error", e.msg);
		(*failures)++;
	}
	die("config never loaded", NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct nv_config cfg;
	struct nv_dataset ds = {.path = "ds", .scope = NV_SCOPE_USER};
	struct nv_store *store = NULL;
	struct nv_error e = NV_ERROR_INIT;
	char storep[1200], src[1200], target[1200], cache[1200], big[300000];
	long n, sync_steps = 0, restore_steps = 0, legacy_steps = 0, config_steps, failures = 0;
	size_t i;
	int rc, logfd;

	if (argc != 2 || strlen(argv[1]) > 900)
		die("usage: alloc_torture WORKDIR", NULL);
	snprintf(work, sizeof(work), "%s", argv[1]);
	logfd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	config_steps = config_torture(&failures);
	nv_log_setup(NV_LOG_TEXT, NV_LOG_ERROR, logfd);
	make_dir("pod");
	make_dir("pod/ds");
	make_dir("pod/ds/sub");
	make_dir("pod/ds/empty");
	write_file("pod/ds/a", "hello\n", 6);
	write_file("pod/ds/sub/b", "bee\n", 4);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 2654435761u >> 13);
	write_file("pod/ds/sub/big", big, sizeof(big));
	path(src, sizeof(src), "pod/ds/a");
	path(target, sizeof(target), "pod/ds/hard");
	if (link(src, target) < 0)
		die("link", target);
	path(target, sizeof(target), "pod/ds/link");
	if (symlink("sub/b", target) < 0)
		die("symlink", target);

	memset(&cfg, 0, sizeof(cfg));
	cfg.parallel = 2;
	cfg.zstd_level = 1;
	cfg.progress_interval_ms = 3600000;
	path(storep, sizeof(storep), "store");
	path(src, sizeof(src), "pod/ds");
	path(cache, sizeof(cache), "pod/.netvol/cache");

	/* sync: fail allocation n, for n = 0, 1, ... until a sync succeeds */
	for (n = 0; n < MAX_STEPS; n++) {
		struct nv_engine_opts o = {.cfg = &cfg,
					   .store = NULL,
					   .ds = &ds,
					   .pod_id = NULL,
					   .path = src,
					   .cache_dir = cache,
					   .dry_run = false,
					   .deadline_ms = 0,
					   .workers = 2};
		struct nv_sync_result res;

		nv_fs_rmtree_at(AT_FDCWD, storep, NULL);
		nv_fs_rmtree_at(AT_FDCWD, cache, NULL);
		if (mkdir(storep, 0755) < 0 || nv_store_file_open(storep, &store, &e))
			die("store", e.msg);
		o.store = store;
		nv_mem_fail_after(n);
		rc = nv_sync_dataset(&o, &res, &e);
		nv_mem_fail_after(-1);
		sync_steps++;
		if (rc == NV_OK) {
			nv_store_close(store);
			break;
		}
		failures++;
		if (!e.msg[0])
			die("a failed sync left no message", NULL);
		/* HEAD absent, or a snapshot that restores whole */
		{
			struct nv_engine_opts r = {.cfg = &cfg,
						   .store = store,
						   .ds = &ds,
						   .pod_id = NULL,
						   .path = NULL,
						   .cache_dir = NULL,
						   .dry_run = false,
						   .deadline_ms = 0,
						   .workers = 2};
			struct nv_restore_result rr;
			unsigned char id[NV_HASH_LEN];

			if (nv_engine_read_head(store, "user/ds/", id, &e) == NV_OK) {
				path(target, sizeof(target), "check/ds");
				nv_fs_rmtree_at(AT_FDCWD, target, NULL);
				r.path = target;
				if (nv_restore_dataset(&r, &rr, &e))
					die("HEAD after a failed sync does not restore", e.msg);
				check_restored("check");
			}
		}
		nv_store_close(store);
		store = NULL;
	}
	if (n == MAX_STEPS)
		die("sync never succeeded", NULL);

	/* restore: fail allocation n until a restore succeeds */
	if (nv_store_file_open(storep, &store, &e))
		die("store", e.msg);
	path(target, sizeof(target), "out/ds");
	path(cache, sizeof(cache), "out/.netvol/cache");
	for (n = 0; n < MAX_STEPS; n++) {
		struct nv_engine_opts o = {.cfg = &cfg,
					   .store = store,
					   .ds = &ds,
					   .pod_id = NULL,
					   .path = target,
					   .cache_dir = cache,
					   .dry_run = false,
					   .deadline_ms = 0,
					   .workers = 2};
		struct nv_restore_result res;

		nv_fs_rmtree_at(AT_FDCWD, target, NULL);
		nv_mem_fail_after(n);
		rc = nv_restore_dataset(&o, &res, &e);
		nv_mem_fail_after(-1);
		restore_steps++;
		if (rc == NV_OK) {
			check_restored("out");
			break;
		}
		failures++;
		if (!e.msg[0])
			die("a failed restore left no message", NULL);
		if (others_in("out", NULL) != 0)
			die("a failed restore left something in the pod storage", e.msg);
	}
	if (n == MAX_STEPS)
		die("restore never succeeded", NULL);
	nv_store_close(store);
	store = NULL;

	/* legacy restore: .comfyui from shared/_comfyui.tar.gz */
	{
		struct nv_dataset lds = {.path = ".comfyui", .scope = NV_SCOPE_SHARED};
		char cmd[4000], lroot[1200], lsrc[1200];

		make_dir("lsrc");
		make_dir("lsrc/.comfyui");
		make_dir("lsrc/.comfyui/sub");
		write_file("lsrc/.comfyui/a", "hello\n", 6);
		write_file("lsrc/.comfyui/sub/big", big, sizeof(big));
		make_dir("legacy");
		make_dir("legacy/shared");
		path(lsrc, sizeof(lsrc), "lsrc");
		path(storep, sizeof(storep), "legacy");
		snprintf(cmd, sizeof(cmd), "tar -C '%s' -czf '%s/shared/_comfyui.tar.gz' .comfyui",
			 lsrc, storep);
		if (system(cmd) != 0)
			die("tar", cmd);
		if (nv_store_file_open(storep, &store, &e))
			die("store", e.msg);
		path(lroot, sizeof(lroot), "lout");
		path(target, sizeof(target), "lout/.comfyui");
		for (n = 0; n < MAX_STEPS; n++) {
			struct nv_legacy_opts o = {.cfg = &cfg,
						   .store = store,
						   .ds = &lds,
						   .pod_id = NULL,
						   .root = lroot,
						   .path = target,
						   .dry_run = false,
						   .deadline_ms = 0,
						   .workers = 2};
			struct nv_legacy_result res;

			nv_fs_rmtree_at(AT_FDCWD, lroot, NULL);
			nv_mem_fail_after(n);
			rc = nv_legacy_restore(&o, &res, &e);
			nv_mem_fail_after(-1);
			legacy_steps++;
			if (rc == NV_OK) {
				if (!res.source || res.files != 2)
					die("the legacy restore restored the wrong thing", NULL);
				same_file("lsrc/.comfyui/a", "lout/.comfyui/a");
				same_file("lsrc/.comfyui/sub/big", "lout/.comfyui/sub/big");
				break;
			}
			failures++;
			if (!e.msg[0])
				die("a failed legacy restore left no message", NULL);
			if (others_in("lout", NULL) != 0)
				die("a failed legacy restore left something in the pod storage",
				    e.msg);
		}
		if (n == MAX_STEPS)
			die("legacy restore never succeeded", NULL);
		nv_store_close(store);
	}
	close(logfd);
	printf("faults: alloc_torture config_allocs=%ld sync_allocs=%ld restore_allocs=%ld "
	       "legacy_allocs=%ld injected_failures=%ld bytes_lost=0\n",
	       config_steps, sync_steps, restore_steps, legacy_steps, failures);
	return 0;
}
