/* gc: drop old snapshots and the packs no kept snapshot needs.
 *
 * Kept: HEAD, the newest keep_last snapshots of HEAD's parent chain, every
 * snapshot created within keep_within, and every object younger than the
 * grace period (a sync may be about to name it). Deleted, in this order:
 * snapshots not kept, then packs (index first) no kept snapshot references.
 * A gc that dies half-way leaves only unreferenced objects, which the next
 * gc removes.
 */
#include "engine/gc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "base/fs.h"
#include "base/hash.h"
#include "store/keys.h"
#include "base/mem.h"
#include "engine/gc_phases.h"
#include "engine/snapshot.h"

/* ---- locks ---- */

int nv_lock_acquire(struct nv_store *s, const char *prefix, const char *kind,
		    struct nv_buf *key_out, struct nv_error *err)
{
	struct nv_buf body = NV_BUF_INIT(512);
	char sfx[17], host[128] = "?";
	int rc;

	nv_fs_random_suffix(sfx);
	gethostname(host, sizeof(host) - 1);
	nv_buf_reset(key_out);
	if ((rc = nv_keys_lock(prefix, kind, sfx, key_out, err)) ||
	    (rc = nv_buf_addf(&body, err, "netvol-lock 1\n%s %lld\n%s\n", kind,
			      (long long)time(NULL), host)))
		goto out;
	rc = nv_store_put(s, key_out->p, body.p, body.len, NV_PUT_IF_ABSENT, err);
out:
	nv_buf_release(&body);
	return rc;
}

void nv_lock_release(struct nv_store *s, const char *key)
{
	if (key && *key)
		nv_store_del(s, key, NULL);
}

struct lock_scan {
	struct nv_store *s;
	const char *kind;
	const char *mine;
	size_t plen;
	bool found;
	struct nv_buf stale; /* NUL-separated keys of stale locks */
};

static int lock_cb(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct lock_scan *l = ud;
	const char *name = strrchr(key, '/');
	struct nv_buf body = NV_BUF_INIT(512);
	long long t = 0;
	int64_t age;

	(void)st;
	name = name ? name + 1 : key;
	if (strncmp(name, l->kind, strlen(l->kind)) || name[strlen(l->kind)] != '-' ||
	    (l->mine && !strcmp(key, l->mine)))
		return 0;
	/* the time inside the lock, not the store's mtime: both are fine,
	 * but this one is the same for every backend */
	if (nv_store_get(l->s, key, &body, NULL) == NV_OK) {
		/* "netvol-lock 1\n<kind> <time>\n<host>\n" */
		const char *sp =
		    strncmp(body.p, "netvol-lock 1\n", 14) ? NULL : strchr(body.p + 14, ' ');
		char *end;

		if (sp)
			t = strtoll(sp + 1, &end, 10);
	}
	nv_buf_release(&body);
	age = (int64_t)time(NULL) - t;
	if (t > 0 && age < NV_LOCK_STALE_S)
		l->found = true;
	else
		nv_buf_add(&l->stale, key, strlen(key) + 1, NULL);
	return 0;
}

int nv_lock_find(struct nv_store *s, const char *prefix, const char *kind, const char *mine,
		 bool *found, struct nv_error *err)
{
	struct nv_buf lp = NV_BUF_INIT(4096);
	struct lock_scan l = {s, kind, mine, 0, false, NV_BUF_INIT(1 << 20)};
	int rc;

	if ((rc = nv_keys_dir(prefix, NV_KEY_LOCK, &lp, err)))
		goto out;
	l.plen = lp.len;
	rc = nv_store_list(s, lp.p, lock_cb, &l, err);
	*found = l.found;
out:
	nv_buf_release(&lp);
	nv_buf_release(&l.stale);
	return rc;
}

/* ---- gc ---- */

static int collect(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct nv_gc_objs *l = ud;

	if (NV_GROW(l->o, l->n, l->cap, 64))
		return NV_ENOMEM;
	l->o[l->n].key = nv_strdup(key);
	if (!l->o[l->n].key)
		return NV_ENOMEM;
	l->o[l->n].size = st->size;
	l->o[l->n].mtime = st->mtime;
	l->n++;
	return 0;
}

static void objs_free(struct nv_gc_objs *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		nv_free(l->o[i].key);
	nv_free(l->o);
}

/* Is key the dataset's (plen bytes of prefix) object of kind? Its id then. */
static bool id_of(const char *key, size_t plen, enum nv_key_kind kind,
		  unsigned char id[NV_HASH_LEN])
{
	size_t pl;

	return nv_keys_classify(key, &pl, id) == kind && pl == plen;
}

/* ---- mark and sweep (gc_phases.h) ---- */

void nv_gc_init(struct nv_gc *g, struct nv_store *s, const char *prefix, const struct nv_gc_opts *o,
		struct nv_gc_result *res)
{
	memset(res, 0, sizeof(*res));
	memset(g, 0, sizeof(*g));
	g->s = s;
	g->prefix = prefix;
	g->plen = strlen(prefix);
	g->o = o;
	g->res = res;
	g->now = (int64_t)time(NULL);
	nv_buf_init(&g->mylock, 4096);
	nv_blob_map_init(&g->keep_snaps);
	nv_blob_map_init(&g->keep_packs);
}

/* Keep snapshot id and every pack it names. */
static int keep_manifest(struct nv_gc *g, const unsigned char id[NV_HASH_LEN],
			 const struct nv_manifest *m, struct nv_error *err)
{
	struct nv_blob_loc one = {1, 0, 0, 0};
	uint32_t k;
	int rc;

	if ((rc = nv_blob_map_put(&g->keep_snaps, id, &one, NULL, err)))
		return rc;
	for (k = 0; k < m->npacks; k++)
		if ((rc = nv_blob_map_put(&g->keep_packs, m->packs[k], &one, NULL, err)))
			return rc;
	return NV_OK;
}

/* The kept snapshots of HEAD's chain: the newest keep_last, and those
 * created within keep_within. HEAD must be readable; older history that is
 * already gone ends the chain. */
static int mark_chain(struct nv_gc *g, struct nv_error *err)
{
	unsigned char id[NV_HASH_LEN];
	unsigned depth;
	int rc = NV_OK;

	memcpy(id, g->head, NV_HASH_LEN);
	for (depth = 0; depth <= 1000000; depth++) {
		struct nv_manifest m;
		bool keep, more;

		nv_manifest_init(&m);
		rc = nv_engine_read_manifest(g->s, g->prefix, id, &m, err);
		if (rc) {
			nv_manifest_release(&m);
			return depth == 0 ? rc : NV_OK;
		}
		keep = depth < g->o->keep_last ||
		       (g->o->keep_within_s && g->now - m.created < g->o->keep_within_s);
		if (keep)
			rc = keep_manifest(g, id, &m, err);
		more = !rc && m.has_parent;
		if (more)
			memcpy(id, m.parent, NV_HASH_LEN);
		nv_manifest_release(&m);
		if (!more)
			break;
	}
	return rc;
}

/* Snapshots not in the chain but young (a sync about to move HEAD) keep
 * their packs too. */
static void mark_young(struct nv_gc *g)
{
	unsigned char id[NV_HASH_LEN];
	size_t i;

	for (i = 0; i < g->all.n; i++) {
		struct nv_manifest m;

		if (!id_of(g->all.o[i].key, g->plen, NV_KEY_SNAPSHOT, id) ||
		    nv_blob_map_get(&g->keep_snaps, id) ||
		    g->now - g->all.o[i].mtime >= g->o->grace_s)
			continue;
		nv_manifest_init(&m);
		if (nv_engine_read_manifest(g->s, g->prefix, id, &m, NULL) == NV_OK)
			keep_manifest(g, id, &m, NULL);
		nv_manifest_release(&m);
	}
}

/* A sync that started after our first look has written its lock by now,
 * and what it stores is newer than our listing: if one is there, leave the
 * dataset for the next run. A sync starting after this check names no
 * object we are about to delete (it sees our lock, so it trusts only
 * HEAD's packs, which we keep). And a sync that finished meanwhile has
 * moved HEAD. */
static int recheck_busy(struct nv_gc *g, struct nv_error *err)
{
	unsigned char now_head[NV_HASH_LEN];
	int rc;

	if ((rc = nv_lock_find(g->s, g->prefix, "sync", NULL, &g->busy, err)))
		return rc;
	rc = nv_engine_read_head(g->s, g->prefix, now_head, err);
	if (rc && rc != NV_ENOTFOUND)
		return rc;
	if ((rc == NV_OK) != g->have_head ||
	    (g->have_head && memcmp(now_head, g->head, NV_HASH_LEN)))
		g->busy = true;
	return NV_OK;
}

int nv_gc_mark(struct nv_gc *g, struct nv_error *err)
{
	int rc;

	if (!g->o->dry_run && (rc = nv_lock_acquire(g->s, g->prefix, "gc", &g->mylock, err)))
		return rc;
	if ((rc = nv_lock_find(g->s, g->prefix, "sync", NULL, &g->busy, err)))
		return rc;
	if (g->busy) {
		g->res->skipped_busy = true;
		return NV_OK;
	}
	rc = nv_engine_read_head(g->s, g->prefix, g->head, err);
	if (rc && rc != NV_ENOTFOUND)
		return rc;
	g->have_head = rc == NV_OK;
	if (g->have_head && (rc = mark_chain(g, err)))
		return rc;
	if ((rc = nv_store_list(g->s, g->prefix, collect, &g->all, err)))
		return rc;
	mark_young(g);
	if ((rc = recheck_busy(g, err)))
		return rc;
	if (g->busy)
		g->res->skipped_busy = true;
	return NV_OK;
}

/* Is there a listed object with this key? */
static bool listed(const struct nv_gc *g, const char *key, uint64_t *size)
{
	size_t j;

	for (j = 0; j < g->all.n; j++)
		if (!strcmp(g->all.o[j].key, key)) {
			if (size)
				*size = g->all.o[j].size;
			return true;
		}
	return false;
}

static bool young(const struct nv_gc *g, const struct nv_gc_obj *ob)
{
	return g->now - ob->mtime < g->o->grace_s;
}

static int sweep_snapshots(struct nv_gc *g, struct nv_error *err)
{
	unsigned char id[NV_HASH_LEN];
	size_t i;
	int rc = NV_OK;

	for (i = 0; i < g->all.n && !rc; i++) {
		const struct nv_gc_obj *ob = &g->all.o[i];

		if (!id_of(ob->key, g->plen, NV_KEY_SNAPSHOT, id))
			continue;
		if (nv_blob_map_get(&g->keep_snaps, id) || young(g, ob)) {
			g->res->snapshots_kept++;
			continue;
		}
		g->res->snapshots_deleted++;
		g->res->bytes_freed += ob->size;
		if (!g->o->dry_run)
			rc = nv_store_del(g->s, ob->key, err);
	}
	return rc;
}

/* Packs no kept snapshot names, index first. */
static int sweep_packs(struct nv_gc *g, struct nv_error *err)
{
	unsigned char id[NV_HASH_LEN];
	struct nv_buf idx = NV_BUF_INIT(4096);
	size_t i;
	int rc = NV_OK;

	for (i = 0; i < g->all.n && !rc; i++) {
		const struct nv_gc_obj *ob = &g->all.o[i];
		uint64_t isize = 0;

		if (!id_of(ob->key, g->plen, NV_KEY_PACK, id))
			continue;
		if (nv_blob_map_get(&g->keep_packs, id) || young(g, ob)) {
			g->res->packs_kept++;
			continue;
		}
		g->res->packs_deleted++;
		g->res->bytes_freed += ob->size;
		nv_buf_reset(&idx);
		if ((rc = nv_keys_object(g->prefix, NV_KEY_IDX, id, &idx, err)))
			break;
		if (listed(g, idx.p, &isize))
			g->res->bytes_freed += isize;
		if (!g->o->dry_run && !(rc = nv_store_del(g->s, idx.p, err)))
			rc = nv_store_del(g->s, ob->key, err);
	}
	nv_buf_release(&idx);
	return rc;
}

/* An index whose pack is gone, and stale locks. */
static int sweep_leftovers(struct nv_gc *g, struct nv_error *err)
{
	unsigned char id[NV_HASH_LEN];
	struct nv_buf pk = NV_BUF_INIT(4096);
	size_t i;
	int rc = NV_OK;

	for (i = 0; i < g->all.n && !rc; i++) {
		const struct nv_gc_obj *ob = &g->all.o[i];

		if (id_of(ob->key, g->plen, NV_KEY_IDX, id) &&
		    !nv_blob_map_get(&g->keep_packs, id) && !young(g, ob)) {
			nv_buf_reset(&pk);
			if ((rc = nv_keys_object(g->prefix, NV_KEY_PACK, id, &pk, err)))
				break;
			if (!listed(g, pk.p, NULL) && !g->o->dry_run)
				rc = nv_store_del(g->s, ob->key, err);
		} else if (id_of(ob->key, g->plen, NV_KEY_LOCK, NULL) &&
			   g->now - ob->mtime >= NV_LOCK_STALE_S) {
			g->res->locks_removed++;
			if (!g->o->dry_run)
				nv_store_del(g->s, ob->key, NULL);
		}
	}
	nv_buf_release(&pk);
	return rc;
}

int nv_gc_sweep(struct nv_gc *g, struct nv_error *err)
{
	int rc;

	if (g->busy)
		return NV_OK;
	if ((rc = sweep_snapshots(g, err)) || (rc = sweep_packs(g, err)))
		return rc;
	return sweep_leftovers(g, err);
}

void nv_gc_release(struct nv_gc *g)
{
	if (g->mylock.len)
		nv_lock_release(g->s, g->mylock.p);
	nv_buf_release(&g->mylock);
	objs_free(&g->all);
	memset(&g->all, 0, sizeof(g->all));
	nv_blob_map_release(&g->keep_snaps);
	nv_blob_map_release(&g->keep_packs);
}

int nv_gc_dataset(struct nv_store *s, const char *prefix, const struct nv_gc_opts *o,
		  struct nv_gc_result *res, struct nv_error *err)
{
	struct nv_gc g;
	int rc;

	nv_gc_init(&g, s, prefix, o, res);
	if (!(rc = nv_gc_mark(&g, err)))
		rc = nv_gc_sweep(&g, err);
	nv_gc_release(&g);
	return rc;
}
