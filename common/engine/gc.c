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

struct obj {
	char *key;
	uint64_t size;
	int64_t mtime;
};

struct objs {
	struct obj *o;
	size_t n, cap;
};

static int collect(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct objs *l = ud;

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

static void objs_free(struct objs *l)
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

int nv_gc_dataset(struct nv_store *s, const char *prefix, const struct nv_gc_opts *o,
		  struct nv_gc_result *res, struct nv_error *err)
{
	struct nv_buf mylock = NV_BUF_INIT(4096);
	struct nv_blob_map keep_snaps, keep_packs;
	struct objs all = {NULL, 0, 0};
	unsigned char head[NV_HASH_LEN], id[NV_HASH_LEN];
	struct nv_blob_loc one = {1, 0, 0, 0};
	size_t plen = strlen(prefix), i;
	int64_t now = (int64_t)time(NULL);
	bool busy = false, have_head;
	unsigned depth = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	nv_blob_map_init(&keep_snaps);
	nv_blob_map_init(&keep_packs);
	if (!o->dry_run && (rc = nv_lock_acquire(s, prefix, "gc", &mylock, err)))
		goto out;
	if ((rc = nv_lock_find(s, prefix, "sync", NULL, &busy, err)))
		goto out;
	if (busy) {
		res->skipped_busy = true;
		goto out;
	}
	rc = nv_engine_read_head(s, prefix, head, err);
	if (rc && rc != NV_ENOTFOUND)
		goto out;
	have_head = rc == NV_OK;
	rc = NV_OK;

	/* the kept snapshots: walk HEAD's chain */
	if (have_head) {
		memcpy(id, head, NV_HASH_LEN);
		for (;;) {
			struct nv_manifest m;
			bool keep;
			uint32_t k;

			nv_manifest_init(&m);
			rc = nv_engine_read_manifest(s, prefix, id, &m, err);
			if (rc) {
				if (depth == 0)
					goto out; /* HEAD must be readable */
				rc = NV_OK;	  /* older history already gone */
				break;
			}
			keep = depth < o->keep_last ||
			       (o->keep_within_s && now - m.created < o->keep_within_s);
			if (keep) {
				if ((rc = nv_blob_map_put(&keep_snaps, id, &one, NULL, err)))
					goto chain_out;
				for (k = 0; k < m.npacks && !rc; k++)
					rc = nv_blob_map_put(&keep_packs, m.packs[k], &one, NULL,
							     err);
			}
		chain_out:
			depth++;
			if (rc || !m.has_parent || depth > 1000000) {
				nv_manifest_release(&m);
				break;
			}
			memcpy(id, m.parent, NV_HASH_LEN);
			nv_manifest_release(&m);
		}
		if (rc)
			goto out;
	}
	if ((rc = nv_store_list(s, prefix, collect, &all, err)))
		goto out;
	/* snapshots not in the chain but young (a sync about to move HEAD)
	 * keep their packs too */
	for (i = 0; i < all.n; i++) {
		struct nv_manifest m;
		uint32_t k;

		if (!id_of(all.o[i].key, plen, NV_KEY_SNAPSHOT, id) ||
		    nv_blob_map_get(&keep_snaps, id) || now - all.o[i].mtime >= o->grace_s)
			continue;
		nv_manifest_init(&m);
		if (nv_engine_read_manifest(s, prefix, id, &m, NULL) == NV_OK) {
			nv_blob_map_put(&keep_snaps, id, &one, NULL, NULL);
			for (k = 0; k < m.npacks; k++)
				nv_blob_map_put(&keep_packs, m.packs[k], &one, NULL, NULL);
		}
		nv_manifest_release(&m);
	}
	/* A sync that started after our first look has written its lock by
	 * now, and what it stores is newer than our listing: if one is
	 * there, leave the dataset for the next run. A sync starting after
	 * this check names no object we are about to delete (it sees our
	 * lock, so it trusts only HEAD's packs, which we keep). */
	if ((rc = nv_lock_find(s, prefix, "sync", NULL, &busy, err)))
		goto out;
	/* and a sync that finished meanwhile has moved HEAD */
	{
		unsigned char now_head[NV_HASH_LEN];
		int hrc = nv_engine_read_head(s, prefix, now_head, err);

		if (hrc && hrc != NV_ENOTFOUND) {
			rc = hrc;
			goto out;
		}
		if ((hrc == NV_OK) != have_head ||
		    (have_head && memcmp(now_head, head, NV_HASH_LEN)))
			busy = true;
	}
	if (busy) {
		res->skipped_busy = true;
		res->snapshots_kept = res->packs_kept = 0;
		goto out;
	}
	/* delete: snapshots first, then packs (index before pack) */
	for (i = 0; i < all.n && !rc; i++) {
		if (!id_of(all.o[i].key, plen, NV_KEY_SNAPSHOT, id))
			continue;
		if (nv_blob_map_get(&keep_snaps, id) || now - all.o[i].mtime < o->grace_s) {
			res->snapshots_kept++;
			continue;
		}
		res->snapshots_deleted++;
		res->bytes_freed += all.o[i].size;
		if (!o->dry_run)
			rc = nv_store_del(s, all.o[i].key, err);
	}
	for (i = 0; i < all.n && !rc; i++) {
		struct nv_buf idx = NV_BUF_INIT(4096);
		size_t j;

		if (!id_of(all.o[i].key, plen, NV_KEY_PACK, id))
			continue;
		if (nv_blob_map_get(&keep_packs, id) || now - all.o[i].mtime < o->grace_s) {
			res->packs_kept++;
			continue;
		}
		res->packs_deleted++;
		res->bytes_freed += all.o[i].size;
		nv_keys_object(prefix, NV_KEY_IDX, id, &idx, NULL);
		for (j = 0; j < all.n; j++)
			if (!strcmp(all.o[j].key, idx.p))
				res->bytes_freed += all.o[j].size;
		if (!o->dry_run && !(rc = nv_store_del(s, idx.p, err)))
			rc = nv_store_del(s, all.o[i].key, err);
		nv_buf_release(&idx);
	}
	/* an index whose pack is gone, and stale locks */
	for (i = 0; i < all.n && !rc; i++) {
		const char *k = all.o[i].key;

		if (id_of(k, plen, NV_KEY_IDX, id) && !nv_blob_map_get(&keep_packs, id) &&
		    now - all.o[i].mtime >= o->grace_s) {
			struct nv_buf pk = NV_BUF_INIT(4096);
			size_t j;
			bool pack_there = false;

			nv_keys_object(prefix, NV_KEY_PACK, id, &pk, NULL);
			for (j = 0; j < all.n; j++)
				pack_there |= !strcmp(all.o[j].key, pk.p);
			nv_buf_release(&pk);
			if (!pack_there && !o->dry_run)
				rc = nv_store_del(s, k, err);
		} else if (id_of(k, plen, NV_KEY_LOCK, NULL) &&
			   now - all.o[i].mtime >= NV_LOCK_STALE_S) {
			res->locks_removed++;
			if (!o->dry_run)
				nv_store_del(s, k, NULL);
		}
	}
out:
	if (mylock.len)
		nv_lock_release(s, mylock.p);
	objs_free(&all);
	nv_blob_map_release(&keep_snaps);
	nv_blob_map_release(&keep_packs);
	nv_buf_release(&mylock);
	return rc;
}
