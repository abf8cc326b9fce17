/* verify: see verify.h. Packs are read whole and each blob decoded through
 * pack.h; blobs are then known by (pack id, offset), so a snapshot's chunk
 * list is checked against what the packs really hold. */
#include "engine/verify.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "base/hash.h"
#include "base/mem.h"
#include "engine/engine.h"
#include "engine/pack.h"
#include "engine/snapshot.h"
#include "store/keys.h"

struct vstate {
	struct nv_store *s;
	nv_verify_report_fn report;
	void *ud;
	struct nv_blob_map at; /* sha256(pack id || offset) -> index into hashes */
	unsigned char (*hashes)[NV_HASH_LEN];
	size_t nhashes, hcap;
	struct nv_verify_result r;
};

static void problem(struct vstate *v, const char *what, const char *msg)
{
	v->r.problems++;
	v->report(v->ud, NV_VERIFY_PROBLEM, what, msg);
}

static void at_key(const unsigned char *pack, uint64_t off, unsigned char out[NV_HASH_LEN])
{
	unsigned char b[NV_HASH_LEN + 8];

	memcpy(b, pack, NV_HASH_LEN);
	memcpy(b + NV_HASH_LEN, &off, 8);
	nv_sha256(b, sizeof(b), out);
}

static void verify_pack(struct vstate *v, const char *packkey, ZSTD_DCtx *dctx,
			unsigned char *plain)
{
	struct nv_buf data = NV_BUF_INIT(1ull << 31), idx = NV_BUF_INIT(64u << 20),
		      key = NV_BUF_INIT(4096);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_idx_entry *ent = NULL;
	unsigned char id[NV_HASH_LEN];
	const char *name = strrchr(packkey, '/') + 1;
	size_t n = 0, i;
	int rc;

	v->r.packs++;
	if (nv_hex_decode(name, 64, id)) {
		problem(v, packkey, "pack name is not a SHA-256");
		goto out;
	}
	if (nv_store_get(v->s, packkey, &data, &e)) {
		problem(v, packkey, e.msg);
		goto out;
	}
	v->r.bytes += data.len;
	if (nv_pack_check_object(data.p, data.len, id)) {
		problem(v, packkey, "pack content does not match its name or magic");
		goto out;
	}
	nv_buf_add(&key, packkey, strlen(packkey) - 5, NULL);
	nv_buf_addstr(&key, ".idx", NULL);
	rc = nv_store_get(v->s, key.p, &idx, &e);
	if (rc == NV_ENOTFOUND) {
		/* a sync killed between the pack and its index: no manifest
		 * names this pack (indexes are stored before manifests), so it
		 * is garbage, not damage; gc removes it. A snapshot that did name
		 * it fails its own check below. */
		v->r.unindexed_packs++;
		v->report(v->ud, NV_VERIFY_NOTE, packkey,
			  "a pack without its index, left by an interrupted sync; netvol gc "
			  "removes it");
		goto out;
	}
	if (rc || nv_idx_decode(idx.p, idx.len, &ent, &n, &e)) {
		problem(v, key.p, e.msg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct nv_blob_loc loc = {0, 0, 0, 0};
		unsigned char ak[NV_HASH_LEN];

		if (ent[i].off + ent[i].clen > data.len) {
			problem(v, packkey, "index entry points past the end of the pack");
			continue;
		}
		if (nv_pack_blob_decode(dctx, data.p + ent[i].off, ent[i].clen, ent[i].ulen,
					ent[i].hash, plain, &e)) {
			nv_error_prefix(&e, "blob at %llu", (unsigned long long)ent[i].off);
			problem(v, packkey, e.msg);
			nv_error_clear(&e);
			continue;
		}
		v->r.blobs++;
		if (NV_GROW(v->hashes, v->nhashes, v->hcap, 1024)) {
			problem(v, packkey, "out of memory");
			break;
		}
		memcpy(v->hashes[v->nhashes], ent[i].hash, NV_HASH_LEN);
		loc.off = v->nhashes++;
		loc.clen = ent[i].clen;
		loc.ulen = ent[i].ulen;
		at_key(id, ent[i].off, ak);
		nv_blob_map_put(&v->at, ak, &loc, NULL, NULL);
	}
out:
	nv_free(ent);
	nv_buf_release(&data);
	nv_buf_release(&idx);
	nv_buf_release(&key);
}

static void verify_snapshot(struct vstate *v, const char *snapkey)
{
	struct nv_buf prefix = NV_BUF_INIT(4096);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_manifest m;
	unsigned char id[NV_HASH_LEN];
	const char *name = strrchr(snapkey, '/') + 1;
	size_t i;

	nv_manifest_init(&m);
	v->r.snapshots++;
	nv_buf_add(&prefix, snapkey, (size_t)(name - snapkey) - strlen("snapshots/"), NULL);
	if (strlen(name) != 64 || nv_hex_decode(name, 64, id)) {
		problem(v, snapkey, "snapshot name is not a SHA-256");
		goto out;
	}
	if (nv_engine_read_manifest(v->s, prefix.p, id, &m, &e)) {
		problem(v, snapkey, e.msg);
		goto out;
	}
	for (i = 0; i < m.nchunks; i++) {
		const struct nv_chunk *c = &m.chunks[i];
		unsigned char ak[NV_HASH_LEN];
		const struct nv_blob_loc *l;

		at_key(m.packs[c->pack], c->off, ak);
		l = nv_blob_map_get(&v->at, ak);
		if (!l || l->clen != c->clen || l->ulen != c->ulen ||
		    memcmp(v->hashes[l->off], c->hash, NV_HASH_LEN)) {
			problem(v, snapkey, "a file's blob is missing or differs from the pack's");
			break;
		}
	}
out:
	nv_manifest_release(&m);
	nv_buf_release(&prefix);
}

struct keylist {
	char **k;
	size_t n, cap;
};

static int collect(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct keylist *l = ud;

	(void)st;
	if (NV_GROW(l->k, l->n, l->cap, 64))
		return NV_ENOMEM;
	l->k[l->n] = nv_strdup(key);
	if (!l->k[l->n])
		return NV_ENOMEM;
	l->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The kind of a listed key, judged below its user root. */
static enum nv_key_kind kind_of(bool all_users, const char *key)
{
	size_t ul = all_users ? nv_keys_user_len(key) : 0, pl;

	if (all_users && !ul)
		return NV_KEY_OTHER;
	return nv_keys_classify(all_users ? key + ul + 1 : key, &pl, NULL);
}

int nv_verify_store(struct nv_store *s, bool all_users, nv_verify_report_fn report, void *ud,
		    struct nv_verify_result *res, struct nv_error *err)
{
	struct vstate v;
	struct keylist l = {NULL, 0, 0};
	ZSTD_DCtx *dctx = NULL;
	unsigned char *plain = NULL;
	size_t i;
	int rc;

	memset(&v, 0, sizeof(v));
	v.s = s;
	v.report = report;
	v.ud = ud;
	nv_blob_map_init(&v.at);
	dctx = ZSTD_createDCtx();
	plain = nv_malloc(NV_BLOB_SIZE);
	if (!dctx || !plain) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	if ((rc = nv_store_list(s, "", collect, &l, err))) {
		if (rc == NV_ENOMEM)
			nv_error_set(err, NV_ENOMEM, "out of memory listing the store");
		goto out;
	}
	if (l.n)
		qsort(l.k, l.n, sizeof(*l.k), cmp_str);
	for (i = 0; i < l.n; i++)
		if (kind_of(all_users, l.k[i]) == NV_KEY_PACK)
			verify_pack(&v, l.k[i], dctx, plain);
	for (i = 0; i < l.n; i++)
		if (kind_of(all_users, l.k[i]) == NV_KEY_SNAPSHOT)
			verify_snapshot(&v, l.k[i]);
	for (i = 0; i < l.n; i++) {
		struct nv_error e = NV_ERROR_INIT;
		unsigned char id[NV_HASH_LEN];
		struct nv_buf prefix = NV_BUF_INIT(4096);
		struct nv_manifest m;

		if (kind_of(all_users, l.k[i]) != NV_KEY_HEAD)
			continue;
		nv_manifest_init(&m);
		nv_buf_add(&prefix, l.k[i], strlen(l.k[i]) - 4, NULL);
		if (nv_engine_read_head(s, prefix.p, id, &e) ||
		    nv_engine_read_manifest(s, prefix.p, id, &m, &e))
			problem(&v, l.k[i], e.msg);
		nv_manifest_release(&m);
		nv_buf_release(&prefix);
	}
	*res = v.r;
out:
	ZSTD_freeDCtx(dctx);
	nv_free(plain);
	nv_free(v.hashes);
	nv_blob_map_release(&v.at);
	for (i = 0; i < l.n; i++)
		nv_free(l.k[i]);
	nv_free(l.k);
	return rc;
}
