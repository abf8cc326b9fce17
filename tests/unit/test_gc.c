/* gc as mark and sweep (common/gc_phases.h) on a file store. */
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "engine/engine.h"
#include "base/fs.h"
#include "engine/gc_phases.h"
#include "store/keys.h"
#include "base/log.h"
#include "store/store.h"

struct fx {
	char *dir;
	char src[600], storep[600];
	struct nv_config cfg;
	struct nv_dataset ds;
	struct nv_store *store;
	struct nv_engine_opts o;
	unsigned char snaps[3][NV_HASH_LEN]; /* oldest first; [2] is HEAD */
};

static void put_file(const char *dir, const char *rel, const char *data)
{
	char p[1200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_assert(fd >= 0, "%s", p);
	cr_assert_eq(nv_fs_write_full(fd, data, strlen(data)), 0);
	close(fd);
}

/* Three snapshots: b stays (first pack), a changes each time (one new pack
 * each). HEAD names packs 1 and 3; pack 2 only the middle snapshot. */
static void fx_setup(struct fx *f)
{
	static const char *const versions[] = {"a version one\n", "a version two\n",
					       "a version three\n"};
	struct nv_error e = NV_ERROR_INIT;
	int i;

	memset(f, 0, sizeof(*f));
	nv_log_setup(NV_LOG_TEXT, NV_LOG_ERROR, open("/dev/null", O_WRONLY | O_CLOEXEC));
	f->dir = nv_test_tmpdir();
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	snprintf(f->storep, sizeof(f->storep), "%s/store", f->dir);
	cr_assert_eq(mkdir(f->src, 0755), 0);
	cr_assert_eq(mkdir(f->storep, 0755), 0);
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
	f->o.workers = 1;
	put_file(f->src, "b", "bee\n");
	for (i = 0; i < 3; i++) {
		struct nv_sync_result res;

		put_file(f->src, "a", versions[i]);
		cr_assert_eq(nv_sync_dataset(&f->o, &res, &e), NV_OK, "%s", e.msg);
		cr_assert(!res.unchanged);
		memcpy(f->snaps[i], res.snapshot, NV_HASH_LEN);
	}
}

static void fx_teardown(struct fx *f)
{
	nv_store_close(f->store);
	nv_test_rmdir(f->dir);
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

static bool snapshot_there(struct fx *f, int i)
{
	struct nv_buf k = NV_BUF_INIT(4096);
	struct nv_store_stat st;
	bool there;

	cr_assert_eq(nv_keys_object("user/ds/", NV_KEY_SNAPSHOT, f->snaps[i], &k, NULL), NV_OK);
	there = nv_store_head(f->store, k.p, &st, NULL) == NV_OK;
	nv_buf_release(&k);
	return there;
}

/* HEAD restores whole after a gc. */
static void head_restores(struct fx *f)
{
	struct nv_engine_opts r = f->o;
	struct nv_restore_result rr;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf x = NV_BUF_INIT(4096);
	char target[700], p[1200];

	snprintf(p, sizeof(p), "%s/restored", f->dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(target, sizeof(target), "%s/restored/ds", f->dir);
	r.path = target;
	cr_assert_eq(nv_restore_dataset(&r, &rr, &e), NV_OK, "%s", e.msg);
	snprintf(p, sizeof(p), "%s/a", target);
	cr_assert_eq(nv_fs_read_file_at(AT_FDCWD, p, &x, &e), NV_OK, "%s", e.msg);
	cr_assert_str_eq(x.p, "a version three\n");
	nv_buf_release(&x);
}

struct gc_case {
	char name[48];
	unsigned keep_last;
	int64_t grace_s;
	bool dry_run;
	size_t marked_snaps, marked_packs;
	uint64_t snaps_deleted, packs_deleted, snaps_kept, packs_kept;
	bool kept[3]; /* which snapshots are in the store afterwards */
};

ParameterizedTestParameters(gc, mark_and_sweep)
{
	static struct gc_case cases[] = {
	    {"keep 1: older snapshots and pack 2 go", 1, 0, false, 1, 2, 2, 1, 1, 2, {0, 0, 1}},
	    {"keep 2: the oldest snapshot goes", 2, 0, false, 2, 3, 1, 0, 2, 3, {0, 1, 1}},
	    {"keep 3: nothing goes", 3, 0, false, 3, 3, 0, 0, 3, 3, {1, 1, 1}},
	    {"grace: young objects stay", 1, 3600, false, 3, 3, 0, 0, 3, 3, {1, 1, 1}},
	    {"dry run: counted, not deleted", 1, 0, true, 1, 2, 2, 1, 1, 2, {1, 1, 1}},
	};
	return cr_make_param_array(struct gc_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct gc_case *gc, gc, mark_and_sweep)
{
	struct fx f;
	struct nv_gc g;
	struct nv_gc_opts o = {gc->keep_last, 0, gc->grace_s, gc->dry_run};
	struct nv_gc_result res;
	struct nv_error e = NV_ERROR_INIT;
	int i;

	fx_setup(&f);
	cr_assert_eq(count_keys(&f, "user/ds/packs/"), 6); /* 3 packs + 3 indexes */
	nv_gc_init(&g, f.store, "user/ds/", &o, &res);
	cr_assert_eq(nv_gc_mark(&g, &e), NV_OK, "%s: %s", gc->name, e.msg);
	cr_assert(!g.busy && g.have_head && !memcmp(g.head, f.snaps[2], NV_HASH_LEN));
	cr_assert_eq(g.keep_snaps.count, gc->marked_snaps, "%s: %zu", gc->name, g.keep_snaps.count);
	cr_assert_eq(g.keep_packs.count, gc->marked_packs, "%s: %zu", gc->name, g.keep_packs.count);
	/* mark deletes nothing */
	cr_assert_eq(count_keys(&f, "user/ds/snapshots/"), 3);
	cr_assert_eq(nv_gc_sweep(&g, &e), NV_OK, "%s: %s", gc->name, e.msg);
	nv_gc_release(&g);
	cr_assert_eq(res.snapshots_deleted, gc->snaps_deleted, "%s", gc->name);
	cr_assert_eq(res.packs_deleted, gc->packs_deleted, "%s", gc->name);
	cr_assert_eq(res.snapshots_kept, gc->snaps_kept, "%s", gc->name);
	cr_assert_eq(res.packs_kept, gc->packs_kept, "%s", gc->name);
	cr_assert_eq(res.bytes_freed > 0, gc->snaps_deleted > 0, "%s", gc->name);
	for (i = 0; i < 3; i++)
		cr_assert_eq(snapshot_there(&f, i), gc->kept[i], "%s: snapshot %d", gc->name, i);
	cr_assert_eq(count_keys(&f, "user/ds/packs/"), gc->dry_run ? 6 : 2 * (int)gc->packs_kept,
		     "%s", gc->name);
	cr_assert_eq(count_keys(&f, "user/ds/locks/"), 0, "%s: gc lock left", gc->name);
	head_restores(&f);
	fx_teardown(&f);
}

Test(gc, sync_lock_makes_it_skip)
{
	struct fx f;
	struct nv_gc g;
	struct nv_gc_opts o = {1, 0, 0, false};
	struct nv_gc_result res;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf lock = NV_BUF_INIT(4096);

	fx_setup(&f);
	cr_assert_eq(nv_lock_acquire(f.store, "user/ds/", "sync", &lock, &e), NV_OK);
	nv_gc_init(&g, f.store, "user/ds/", &o, &res);
	cr_assert_eq(nv_gc_mark(&g, &e), NV_OK, "%s", e.msg);
	cr_assert(g.busy && res.skipped_busy);
	cr_assert_eq(nv_gc_sweep(&g, &e), NV_OK);
	nv_gc_release(&g);
	cr_assert_eq(res.snapshots_deleted + res.packs_deleted, 0);
	cr_assert_eq(count_keys(&f, "user/ds/snapshots/"), 3);
	nv_lock_release(f.store, lock.p);
	nv_buf_release(&lock);
	fx_teardown(&f);
}

Test(gc, leftovers_lone_index_and_stale_lock)
{
	struct fx f;
	struct nv_gc_opts o = {3, 0, 0, false};
	struct nv_gc_result res;
	struct nv_error e = NV_ERROR_INIT;
	struct timespec old[2] = {{1000, 0}, {1000, 0}};
	static const char lone[] = "user/ds/packs/"
				   "00000000000000000000000000000000"
				   "00000000000000000000000000000000.idx";
	static const char stale[] = "user/ds/locks/sync-0123456789abcdef";
	char p[1200];

	fx_setup(&f);
	cr_assert_eq(nv_store_put(f.store, lone, "x", 1, 0, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_store_put(f.store, stale, "netvol-lock 1\nsync 1000\nh\n", 26, 0, &e),
		     NV_OK);
	snprintf(p, sizeof(p), "%s/%s", f.storep, stale);
	cr_assert_eq(utimensat(AT_FDCWD, p, old, 0), 0);
	cr_assert_eq(nv_gc_dataset(f.store, "user/ds/", &o, &res, &e), NV_OK, "%s", e.msg);
	cr_assert(!res.skipped_busy); /* a stale sync lock is ignored */
	cr_assert_eq(res.locks_removed, 1);
	cr_assert_eq(count_keys(&f, "user/ds/locks/"), 0);
	cr_assert_eq(count_keys(&f, "user/ds/packs/"), 6); /* the lone index went */
	fx_teardown(&f);
}

Test(gc, unreadable_head_is_an_error)
{
	struct fx f;
	struct nv_gc_opts o = {1, 0, 0, false};
	struct nv_gc_result res;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf k = NV_BUF_INIT(4096);

	fx_setup(&f);
	cr_assert_eq(nv_keys_object("user/ds/", NV_KEY_SNAPSHOT, f.snaps[2], &k, NULL), NV_OK);
	cr_assert_eq(nv_store_del(f.store, k.p, &e), NV_OK);
	cr_assert_neq(nv_gc_dataset(f.store, "user/ds/", &o, &res, &e), NV_OK);
	cr_assert(e.msg[0]);
	cr_assert_eq(count_keys(&f, "user/ds/snapshots/"), 2); /* nothing deleted */
	cr_assert_eq(count_keys(&f, "user/ds/locks/"), 0);
	nv_buf_release(&k);
	fx_teardown(&f);
}
