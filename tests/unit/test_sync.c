/* The phases of a sync (common/sync_phases.h), each on a file store. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "engine/engine.h"
#include "base/fs.h"
#include "engine/gc.h"
#include "store/keys.h"
#include "base/log.h"
#include "store/store.h"
#include "engine/sync_phases.h"

struct fx {
	char *dir;
	char src[600], storep[600], cache[600];
	struct nv_config cfg;
	struct nv_dataset ds;
	struct nv_store *store;
	struct nv_engine_opts o;
};

static void put_file(const char *dir, const char *rel, const char *data, size_t len)
{
	char p[1200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(fd >= 0, "%s", p);
	cr_assert_eq(nv_fs_write_full(fd, data, len), 0);
	close(fd);
}

/* src holds a, sub/b, sub/big (300 kB), hard (= a), link -> sub/b */
static void fx_setup(struct fx *f, bool with_cache)
{
	static char big[300000];
	struct nv_error e = NV_ERROR_INIT;
	char p[1200], q[1200];
	size_t i;

	memset(f, 0, sizeof(*f));
	nv_log_setup(NV_LOG_TEXT, NV_LOG_ERROR, open("/dev/null", O_WRONLY | O_CLOEXEC));
	f->dir = nv_test_tmpdir();
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	snprintf(f->storep, sizeof(f->storep), "%s/store", f->dir);
	snprintf(f->cache, sizeof(f->cache), "%s/.netvol/cache", f->dir);
	cr_assert_eq(mkdir(f->src, 0755), 0);
	cr_assert_eq(mkdir(f->storep, 0755), 0);
	snprintf(p, sizeof(p), "%s/sub", f->src);
	cr_assert_eq(mkdir(p, 0755), 0);
	put_file(f->src, "a", "hello\n", 6);
	put_file(f->src, "sub/b", "bee\n", 4);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 2654435761u >> 13);
	put_file(f->src, "sub/big", big, sizeof(big));
	snprintf(p, sizeof(p), "%s/a", f->src);
	snprintf(q, sizeof(q), "%s/hard", f->src);
	cr_assert_eq(link(p, q), 0);
	snprintf(q, sizeof(q), "%s/link", f->src);
	cr_assert_eq(symlink("sub/b", q), 0);
	f->cfg.parallel = 2;
	f->cfg.zstd_level = 1;
	f->cfg.progress_interval_ms = 3600000;
	f->ds.path = "ds";
	f->ds.scope = NV_SCOPE_USER;
	cr_assert_eq(nv_store_file_open(f->storep, &f->store, &e), NV_OK, "%s", e.msg);
	f->o.cfg = &f->cfg;
	f->o.store = f->store;
	f->o.ds = &f->ds;
	f->o.path = f->src;
	f->o.cache_dir = with_cache ? f->cache : NULL;
	f->o.workers = 2;
}

static void fx_teardown(struct fx *f)
{
	nv_store_close(f->store);
	nv_test_rmdir(f->dir);
}

static void full_sync(struct fx *f, struct nv_sync_result *res)
{
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_sync_dataset(&f->o, res, &e), NV_OK, "%s", e.msg);
}

static int count_cb(const char *key, const struct nv_store_stat *st, void *ud)
{
	(void)key;
	(void)st;
	(*(int *)ud)++;
	return 0;
}

static int count_keys(struct fx *f, const char *prefix)
{
	struct nv_error e = NV_ERROR_INIT;
	int n = 0;

	cr_assert_eq(nv_store_list(f->store, prefix, count_cb, &n, &e), NV_OK, "%s", e.msg);
	return n;
}

static void del_prefix(struct fx *f, const char *dir)
{
	char p[1200];

	snprintf(p, sizeof(p), "%s/%s", f->storep, dir);
	cr_assert_eq(nv_fs_rmtree_at(AT_FDCWD, p, NULL), 0);
}

/* ---- learn ---- */

Test(sync_learn, empty_store_knows_nothing_and_holds_a_lock)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;

	fx_setup(&f, true);
	nv_sync_init(&c, &f.o, &res);
	cr_assert_eq(nv_sync_learn(&c, &e), NV_OK, "%s", e.msg);
	cr_assert(!c.have_prev && !res.had_head && !c.cache_is_head);
	cr_assert_eq(c.map.count, 0);
	cr_assert_eq(count_keys(&f, "user/ds/locks/"), 1);
	nv_sync_release(&c);
	cr_assert_eq(count_keys(&f, "user/ds/locks/"), 0);
	nv_sync_release(&c); /* twice is fine */
	fx_teardown(&f);
}

struct learn_case {
	char name[40];
	bool cache;	   /* a stat cache dir */
	bool drop_history; /* HEAD and snapshots deleted: only packs left */
	bool gc_lock;	   /* a gc holds the dataset */
	bool have_prev, cache_is_head, prev_read, knows_blobs;
};

ParameterizedTestParameters(sync_learn, sources)
{
	static struct learn_case cases[] = {
	    {"cache is HEAD's: no manifest read", true, false, false, true, true, false, true},
	    {"no cache: HEAD's manifest read", false, false, false, true, false, true, true},
	    {"orphan packs known by their index", false, true, false, false, false, false, true},
	    {"gc running: orphans not trusted", false, true, true, false, false, false, false},
	    {"gc running: HEAD read, not the cache", true, false, true, true, false, true, true},
	};
	return cr_make_param_array(struct learn_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct learn_case *lc, sync_learn, sources)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf gl = NV_BUF_INIT(4096);

	fx_setup(&f, lc->cache);
	full_sync(&f, &res);
	if (lc->drop_history) {
		del_prefix(&f, "user/ds/snapshots");
		cr_assert_eq(nv_store_del(f.store, "user/ds/HEAD", &e), NV_OK);
	}
	if (lc->gc_lock)
		cr_assert_eq(nv_lock_acquire(f.store, "user/ds/", "gc", &gl, &e), NV_OK);
	nv_sync_init(&c, &f.o, &res);
	cr_assert_eq(nv_sync_learn(&c, &e), NV_OK, "%s: %s", lc->name, e.msg);
	cr_assert_eq(c.have_prev, lc->have_prev, "%s", lc->name);
	cr_assert_eq(c.gc_running, lc->gc_lock, "%s", lc->name);
	cr_assert_eq(c.cache_is_head, lc->cache_is_head, "%s", lc->name);
	cr_assert_eq(c.prev.nentries > 0, lc->prev_read, "%s", lc->name);
	/* a, sub/b and sub/big (one blob each: under 4 MiB) */
	cr_assert_eq(c.map.count, lc->knows_blobs ? 3u : 0u, "%s: %zu", lc->name, c.map.count);
	nv_sync_release(&c);
	nv_buf_release(&gl);
	fx_teardown(&f);
}

Test(sync_learn, missing_folder_is_an_error)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;

	fx_setup(&f, false);
	f.o.path = "/nonexistent/netvol-test";
	nv_sync_init(&c, &f.o, &res);
	cr_assert_eq(nv_sync_learn(&c, &e), NV_ENOTFOUND, "%s", e.msg);
	cr_assert(strstr(e.msg, "cannot open '/nonexistent/netvol-test'"), "%s", e.msg);
	nv_sync_release(&c);
	fx_teardown(&f);
}

/* ---- plan ---- */

enum change { CH_NONE, CH_MODIFY, CH_ADD, CH_TOUCH };

struct plan_case {
	char name[40];
	bool cache;
	int change;
	size_t jobs, from_cache, settled;
	uint64_t to_hash;
};

ParameterizedTestParameters(sync_plan, stat_cache)
{
	static struct plan_case cases[] = {
	    {"unchanged, cache: all settled", true, CH_NONE, 3, 3, 3, 0},
	    {"unchanged, no cache: HEAD settles", false, CH_NONE, 3, 0, 3, 0},
	    {"a modified: re-read", true, CH_MODIFY, 3, 2, 2, 7},
	    {"new file: read", true, CH_ADD, 4, 3, 3, 5},
	    {"mtime touched: re-read", true, CH_TOUCH, 3, 2, 2, 4},
	};
	return cr_make_param_array(struct plan_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct plan_case *pc, sync_plan, stat_cache)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;
	struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 0}};
	char p[1200];
	size_t k, settled = 0;

	fx_setup(&f, pc->cache);
	full_sync(&f, &res);
	if (pc->change == CH_MODIFY)
		put_file(f.src, "a", "changed", 7);
	else if (pc->change == CH_ADD)
		put_file(f.src, "new", "fresh", 5);
	else if (pc->change == CH_TOUCH) {
		snprintf(p, sizeof(p), "%s/sub/b", f.src);
		cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	}
	nv_sync_init(&c, &f.o, &res);
	cr_assert_eq(nv_sync_learn(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_plan(&c, &e), NV_OK, "%s", e.msg);
	for (k = 0; k < c.njobs; k++)
		settled += c.jobs[k].done;
	cr_assert_eq(c.njobs, pc->jobs, "%s: %zu jobs", pc->name, c.njobs);
	cr_assert_eq(c.from_cache, pc->from_cache, "%s: %zu", pc->name, c.from_cache);
	cr_assert_eq(settled, pc->settled, "%s: %zu", pc->name, settled);
	cr_assert_eq(c.to_hash, pc->to_hash, "%s: %llu", pc->name, (unsigned long long)c.to_hash);
	nv_sync_release(&c);
	fx_teardown(&f);
}

Test(sync_plan, hardlink_is_one_job)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;
	size_t k, links = 0;

	fx_setup(&f, false);
	nv_sync_init(&c, &f.o, &res);
	cr_assert_eq(nv_sync_learn(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_plan(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(c.njobs, 3); /* a (= hard), sub/b, sub/big */
	cr_assert_eq(c.to_hash, 6 + 4 + 300000);
	for (k = 0; k < c.walk.n; k++)
		if (c.hl_first[k] != SIZE_MAX) {
			links++;
			cr_assert_str_eq(c.walk.e[c.hl_first[k]].path, "a");
		}
	cr_assert_eq(links, 1);
	nv_sync_release(&c);
	fx_teardown(&f);
}

/* ---- upload ---- */

struct upload_case {
	char name[40];
	bool dry_run;
	bool second;	    /* after a first complete sync, nothing changed */
	int packs_in_store; /* .pack + .idx after the upload */
	uint64_t packs_new, blobs_new;
};

ParameterizedTestParameters(sync_upload, packs)
{
	static struct upload_case cases[] = {
	    {"first sync stores one pack", false, false, 2, 1, 3},
	    {"dry run stores nothing", true, false, 0, 1, 3},
	    {"unchanged tree stores nothing new", false, true, 2, 0, 0},
	};
	return cr_make_param_array(struct upload_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct upload_case *uc, sync_upload, packs)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;

	fx_setup(&f, true);
	if (uc->second)
		full_sync(&f, &res);
	f.o.dry_run = uc->dry_run;
	nv_sync_init(&c, &f.o, &res);
	cr_assert_eq(nv_sync_learn(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_plan(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_upload(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(count_keys(&f, "user/ds/packs/"), uc->packs_in_store, "%s", uc->name);
	cr_assert_eq(atomic_load(&c.packs_new), uc->packs_new, "%s", uc->name);
	cr_assert_eq(atomic_load(&c.blobs_new), uc->blobs_new, "%s", uc->name);
	cr_assert_eq(count_keys(&f, "user/ds/HEAD"), uc->second ? 1 : 0, "%s", uc->name);
	nv_sync_release(&c);
	fx_teardown(&f);
}

Test(sync_upload, deadline_passed_fails_and_stores_no_head)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;

	fx_setup(&f, false);
	f.o.deadline_ms = 1; /* long past */
	nv_sync_init(&c, &f.o, &res);
	cr_assert_eq(nv_sync_learn(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_plan(&c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_upload(&c, &e), NV_EDEADLINE, "%s", e.msg);
	cr_assert(strstr(e.msg, "deadline reached before 'ds' was synced"), "%s", e.msg);
	nv_sync_release(&c);
	cr_assert_eq(count_keys(&f, "user/ds/HEAD"), 0);
	fx_teardown(&f);
}

/* ---- build ---- */

static void phases_to_build(struct fx *f, struct nv_sync *c, struct nv_sync_result *res)
{
	struct nv_error e = NV_ERROR_INIT;

	nv_sync_init(c, &f->o, res);
	cr_assert_eq(nv_sync_learn(c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_plan(c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_upload(c, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_sync_build(c, &e), NV_OK, "%s", e.msg);
}

Test(sync_build, manifest_of_the_walk)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;

	fx_setup(&f, false);
	phases_to_build(&f, &c, &res);
	/* "", a, hard, link, sub, sub/b, sub/big */
	cr_assert_eq(c.out.nentries, 7);
	cr_assert_eq(res.files, 3);
	cr_assert_eq(res.dirs, 2);
	cr_assert_eq(res.symlinks, 1);
	cr_assert_eq(res.hardlinks, 1);
	cr_assert_eq(res.bytes_scanned, 6 + 4 + 300000);
	cr_assert_eq(c.out.npacks, 1);
	cr_assert(!c.out.has_parent && !res.unchanged && !c.cache_fresh);
	cr_assert(c.obj.len > 8 && !memcmp(c.obj.p, NV_SNAP_MAGIC, NV_MAGIC_LEN));
	nv_sync_release(&c);
	fx_teardown(&f);
}

struct build_case {
	char name[40];
	bool cache;
	bool modify;
	bool unchanged, cache_fresh;
};

ParameterizedTestParameters(sync_build, unchanged)
{
	static struct build_case cases[] = {
	    {"same tree, cache: nothing to write", true, false, true, true},
	    {"same tree, no cache: unchanged", false, false, true, false},
	    {"modified: a new snapshot", true, true, false, false},
	};
	return cr_make_param_array(struct build_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct build_case *bc, sync_build, unchanged)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result first, res;

	fx_setup(&f, bc->cache);
	full_sync(&f, &first);
	if (bc->modify)
		put_file(f.src, "sub/b", "wasp\n", 5);
	phases_to_build(&f, &c, &res);
	cr_assert_eq(res.unchanged, bc->unchanged, "%s", bc->name);
	cr_assert_eq(c.cache_fresh, bc->cache_fresh, "%s", bc->name);
	cr_assert(c.out.has_parent && !memcmp(c.out.parent, first.snapshot, NV_HASH_LEN));
	cr_assert_eq(!memcmp(res.snapshot, first.snapshot, NV_HASH_LEN), bc->unchanged, "%s",
		     bc->name);
	nv_sync_release(&c);
	fx_teardown(&f);
}

/* ---- publish ---- */

struct publish_case {
	char name[40];
	bool dry_run;
	bool late; /* the deadline passes between build and publish */
	int rc;
	bool head; /* HEAD names the new snapshot afterwards */
	bool cache_written;
};

ParameterizedTestParameters(sync_publish, head_last)
{
	static struct publish_case cases[] = {
	    {"snapshot then HEAD then cache", false, false, NV_OK, true, true},
	    {"dry run: nothing", true, false, NV_OK, false, false},
	    {"deadline: HEAD untouched", false, true, NV_EDEADLINE, false, false},
	};
	return cr_make_param_array(struct publish_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct publish_case *pc, sync_publish, head_last)
{
	struct fx f;
	struct nv_sync c;
	struct nv_sync_result res;
	struct nv_error e = NV_ERROR_INIT;
	unsigned char head[NV_HASH_LEN];
	struct stat st;
	char p[1200];

	fx_setup(&f, true);
	f.o.dry_run = pc->dry_run;
	phases_to_build(&f, &c, &res);
	if (pc->late)
		f.o.deadline_ms = 1;
	cr_assert_eq(nv_sync_publish(&c, &e), pc->rc, "%s: %s", pc->name, e.msg);
	nv_sync_release(&c);
	if (pc->head) {
		cr_assert_eq(nv_engine_read_head(f.store, "user/ds/", head, &e), NV_OK);
		cr_assert(!memcmp(head, res.snapshot, NV_HASH_LEN));
		cr_assert_eq(count_keys(&f, "user/ds/snapshots/"), 1);
	} else {
		cr_assert_eq(count_keys(&f, "user/ds/HEAD"), 0, "%s", pc->name);
		cr_assert_eq(count_keys(&f, "user/ds/snapshots/"), 0, "%s", pc->name);
	}
	snprintf(p, sizeof(p), "%s/user%%2Fds%%2Fsnap", f.cache);
	cr_assert_eq(stat(p, &st) == 0, pc->cache_written, "%s: %s", pc->name, p);
	fx_teardown(&f);
}

/* The phases in order are nv_sync_dataset: a second sync of the same tree
 * stores nothing and restores the same files. */
Test(sync_dataset, phases_make_a_restorable_snapshot)
{
	struct fx f;
	struct nv_sync_result a, b;
	struct nv_restore_result rr;
	struct nv_engine_opts r;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf x = NV_BUF_INIT(1 << 20);
	char target[700], p[1200];

	fx_setup(&f, true);
	full_sync(&f, &a);
	full_sync(&f, &b);
	cr_assert(!a.unchanged && b.unchanged && b.bytes_uploaded == 0 && b.bytes_hashed == 0);
	cr_assert(!memcmp(a.snapshot, b.snapshot, NV_HASH_LEN));
	r = f.o;
	snprintf(target, sizeof(target), "%s/restored/ds", f.dir);
	snprintf(p, sizeof(p), "%s/restored", f.dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	r.path = target;
	r.cache_dir = NULL;
	cr_assert_eq(nv_restore_dataset(&r, &rr, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(rr.files, 3);
	snprintf(p, sizeof(p), "%s/sub/b", target);
	cr_assert_eq(nv_fs_read_file_at(AT_FDCWD, p, &x, &e), NV_OK, "%s", e.msg);
	cr_assert_str_eq(x.p, "bee\n");
	nv_buf_release(&x);
	fx_teardown(&f);
}
