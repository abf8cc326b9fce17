/* Admin verbs: ls, log, verify. They read the store only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "buf.h"
#include "keys.h"
#include "cli.h"
#include "config.h"
#include "engine.h"
#include "hash.h"
#include "log.h"
#include "mem.h"
#include "snapshot.h"
#include "store.h"

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

static void keylist_free(struct keylist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		nv_free(l->k[i]);
	nv_free(l->k);
	memset(l, 0, sizeof(*l));
}

/* Whose data an admin verb reads: --user U, else POD_USER_NAME; --all-users
 * reads the whole base (keys then start with the user). */
struct who {
	const char *user;
	bool all;
};

static int open_store(struct nv_config *cfg, struct nv_store **s, const char *verb,
		      const struct who *w)
{
	struct nv_error e = NV_ERROR_INIT;
	int ex = nv_cli_setup(cfg, verb), rc;

	if (ex)
		return ex;
	rc = w->all ? nv_store_open_base(cfg, s, &e)
		    : nv_store_open_user(cfg, w->user ? w->user : cfg->pod_user, s, &e);
	if (rc) {
		fprintf(stderr, "netvol %s: %s%s\n", verb, e.msg,
			e.code == NV_ECONFIG && !w->user && !cfg->pod_user
			    ? " (or name one with --user U, or use --all-users)"
			    : "");
		nv_config_release(cfg);
		return nv_cli_exit_for(e.code);
	}
	return NV_EXIT_OK;
}

/* The part of a listed key below its user root: all of it for one user;
 * after "<user>/" with --all-users (NULL when the key is no user's). */
static const char *below_user(const struct who *w, const char *key)
{
	size_t ul;

	if (!w->all)
		return key;
	ul = nv_keys_user_len(key);
	return ul ? key + ul + 1 : NULL;
}

static void fmt_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --user U / --all-users, shared by ls, log and verify: 0 when opt is one
 * of them (consumed), 1 when not, 2 on a bad user. */
static int who_opt(int c, struct who *w, const char *verb)
{
	struct nv_error e = NV_ERROR_INIT;

	if (c == 'u') {
		if (!*optarg || nv_config_check_identity("--user", optarg, &e)) {
			fprintf(stderr, "netvol %s: %s\n", verb,
				*optarg ? e.msg : "--user needs a user name");
			return 2;
		}
		w->user = optarg;
		return 0;
	}
	if (c == 'A') {
		w->all = true;
		return 0;
	}
	return 1;
}

#define WHO_OPTS                                    \
	{"user", required_argument, NULL, 'u'},     \
	{                                           \
		"all-users", no_argument, NULL, 'A' \
	}

static const char ls_usage[] =
    "usage: netvol ls [--user U | --all-users]\n\n"
    "List the datasets of a user (POD_USER_NAME, or --user U) in the store with\n"
    "their latest snapshot; --all-users lists every user below the store base.\n";

int nv_cli_ls(int argc, char **argv)
{
	static const struct option opts[] = {WHO_OPTS, {"help", no_argument, NULL, 'h'}, {0}};
	struct nv_config cfg;
	struct nv_store *s = NULL;
	struct keylist l = {0};
	struct nv_error e = NV_ERROR_INIT;
	struct who w = {NULL, false};
	size_t i;
	int c, ex, bad = 0;

	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((ex = who_opt(c, &w, "ls")) == 0)
			continue;
		if (ex == 2)
			return NV_EXIT_USAGE;
		if (c == 'h') {
			fputs(ls_usage, stdout);
			return NV_EXIT_OK;
		}
		fputs(ls_usage, stderr);
		return NV_EXIT_USAGE;
	}
	if (optind < argc || (w.all && w.user)) {
		fputs(ls_usage, stderr);
		return NV_EXIT_USAGE;
	}
	if ((ex = open_store(&cfg, &s, "ls", &w)))
		return ex;
	if (nv_store_list(s, "", collect, &l, &e)) {
		nv_cli_log_error("ls.failed", NULL, &e);
		ex = NV_EXIT_FAILED;
		goto out;
	}
	if (l.n)
		qsort(l.k, l.n, sizeof(*l.k), cmp_str);
	if (w.all)
		printf("%-20s ", "USER");
	printf("%-28s %-14s %-12s %-20s %10s %14s\n", "DATASET", "POD", "SNAPSHOT", "CREATED",
	       "ENTRIES", "BYTES");
	for (i = 0; i < l.n; i++) {
		struct nv_buf prefix = NV_BUF_INIT(4096), pod = NV_BUF_INIT(1024),
			      ds = NV_BUF_INIT(4096);
		struct nv_manifest m;
		unsigned char id[NV_HASH_LEN];
		char hex[NV_HASH_HEX], when[32];
		const char *k = below_user(&w, l.k[i]);
		size_t pl;

		if (!k || nv_keys_classify(k, &pl, NULL) != NV_KEY_HEAD)
			continue;
		nv_manifest_init(&m);
		nv_buf_add(&prefix, l.k[i], (size_t)(k - l.k[i]) + pl, NULL);
		if (nv_keys_split_dataset_prefix(prefix.p + (k - l.k[i]), &pod, &ds) ||
		    nv_engine_read_head(s, prefix.p, id, &e) ||
		    nv_engine_read_manifest(s, prefix.p, id, &m, &e)) {
			if (!e.code)
				nv_error_set(&e, NV_ECORRUPT, "unexpected key '%s'", l.k[i]);
			nv_cli_log_error("ls.unreadable", prefix.p, &e);
			bad = 1;
		} else {
			nv_hex_encode(id, NV_HASH_LEN, hex);
			hex[12] = '\0';
			fmt_time(m.created, when, sizeof(when));
			if (w.all)
				printf("%-20.*s ", (int)(k - l.k[i] - 1), l.k[i]);
			printf("%-28s %-14s %-12s %-20s %10zu %14llu\n", ds.p,
			       pod.len ? pod.p : "-", hex, when, m.nentries,
			       (unsigned long long)m.total_bytes);
		}
		nv_error_clear(&e);
		nv_manifest_release(&m);
		nv_buf_release(&prefix);
		nv_buf_release(&pod);
		nv_buf_release(&ds);
	}
	ex = bad ? NV_EXIT_FAILED : NV_EXIT_OK;
out:
	keylist_free(&l);
	nv_store_close(s);
	nv_config_release(&cfg);
	return ex;
}

static const char log_usage[] =
    "usage: netvol log [--user U] [--pod POD_ID] DATASET\n\n"
    "Show the snapshot history of a dataset of a user (POD_USER_NAME, or --user U),\n"
    "newest first.\n";

int nv_cli_log(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"pod", required_argument, NULL, 'p'},
	    {"user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct nv_config cfg;
	struct nv_store *s = NULL;
	struct nv_dataset ds = {NULL, NV_SCOPE_SHARED};
	struct nv_buf prefix = NV_BUF_INIT(4096);
	struct nv_error e = NV_ERROR_INIT;
	struct who w = {NULL, false};
	unsigned char id[NV_HASH_LEN];
	const char *pod = NULL;
	int c, ex, n = 0;
	size_t i;

	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:h", opts, NULL)) != -1) {
		if ((ex = who_opt(c, &w, "log")) == 0)
			continue;
		if (ex == 2)
			return NV_EXIT_USAGE;
		if (c == 'p') {
			if (nv_config_check_identity("--pod", optarg, &e)) {
				fprintf(stderr, "netvol log: %s\n", e.msg);
				return NV_EXIT_USAGE;
			}
			pod = optarg;
		} else if (c == 'h') {
			fputs(log_usage, stdout);
			return NV_EXIT_OK;
		} else {
			fputs(log_usage, stderr);
			return NV_EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		fputs(log_usage, stderr);
		return NV_EXIT_USAGE;
	}
	if ((ex = open_store(&cfg, &s, "log", &w)))
		return ex;
	ds.path = argv[optind];
	for (i = 0; i < cfg.ndatasets; i++)
		if (!strcmp(cfg.datasets[i].path, ds.path))
			ds.scope = cfg.datasets[i].scope;
	if (pod)
		ds.scope = NV_SCOPE_POD;
	if (nv_keys_dataset_prefix(&ds, pod ? pod : cfg.pod_id, &prefix, &e)) {
		fprintf(stderr, "netvol log: %s\n", e.msg);
		ex = NV_EXIT_USAGE;
		goto out;
	}
	if (nv_engine_read_head(s, prefix.p, id, &e)) {
		if (e.code == NV_ENOTFOUND) {
			printf("no snapshot of '%s' in the store\n", ds.path);
			ex = NV_EXIT_OK;
		} else {
			nv_cli_log_error("log.failed", ds.path, &e);
			ex = NV_EXIT_FAILED;
		}
		goto out;
	}
	printf("%-64s %-20s %10s %14s\n", "SNAPSHOT", "CREATED", "ENTRIES", "BYTES");
	for (;;) {
		struct nv_manifest m;
		char hex[NV_HASH_HEX], when[32];
		bool more;

		nv_manifest_init(&m);
		nv_hex_encode(id, NV_HASH_LEN, hex);
		if (nv_engine_read_manifest(s, prefix.p, id, &m, &e)) {
			if (n == 0) {
				nv_cli_log_error("log.failed", ds.path, &e);
				ex = NV_EXIT_FAILED;
			} else {
				printf("%s (older history is gone: %s)\n", hex, e.msg);
			}
			break;
		}
		fmt_time(m.created, when, sizeof(when));
		printf("%-64s %-20s %10zu %14llu\n", hex, when, m.nentries,
		       (unsigned long long)m.total_bytes);
		if (m.has_parent2) { /* a merge: HEAD it replaced, then the pod's */
			char p1[NV_HASH_HEX], p2[NV_HASH_HEX];

			nv_hex_encode(m.parent, NV_HASH_LEN, p1);
			nv_hex_encode(m.parent2, NV_HASH_LEN, p2);
			printf("  merge of %s and %s\n", p1, p2);
		}
		more = m.has_parent && ++n < 100000;
		memcpy(id, m.parent, NV_HASH_LEN);
		nv_manifest_release(&m);
		if (!more)
			break;
	}
out:
	nv_buf_release(&prefix);
	nv_store_close(s);
	nv_config_release(&cfg);
	return ex;
}

/* ---- verify ---- */

struct vstate {
	struct nv_store *s;
	struct nv_blob_map at; /* sha256(pack id || offset) -> index into hashes */
	unsigned char (*hashes)[NV_HASH_LEN];
	size_t nhashes, hcap;
	uint64_t packs, blobs, bytes, snapshots, problems;
};

static void problem(struct vstate *v, const char *what, const char *msg)
{
	struct nv_log_rec r;

	v->problems++;
	nv_log_begin(&r, NV_LOG_ERROR, "verify.problem");
	nv_log_str(&r, "object", what);
	nv_log_str(&r, "error", msg);
	nv_log_end(&r);
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
	unsigned char id[NV_HASH_LEN], sum[NV_HASH_LEN];
	const char *name = strrchr(packkey, '/') + 1;
	size_t n = 0, i;
	int rc;

	v->packs++;
	if (nv_hex_decode(name, 64, id)) {
		problem(v, packkey, "pack name is not a SHA-256");
		goto out;
	}
	if (nv_store_get(v->s, packkey, &data, &e)) {
		problem(v, packkey, e.msg);
		goto out;
	}
	v->bytes += data.len;
	nv_sha256(data.p, data.len, sum);
	if (memcmp(sum, id, NV_HASH_LEN) || data.len < NV_MAGIC_LEN ||
	    memcmp(data.p, NV_PACK_MAGIC, NV_MAGIC_LEN)) {
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
		struct nv_log_rec r;

		nv_log_begin(&r, NV_LOG_WARN, "verify.unindexed_pack");
		nv_log_str(&r, "object", packkey);
		nv_log_str(&r, "note", "left by an interrupted sync; netvol gc removes it");
		nv_log_end(&r);
		goto out;
	}
	if (rc || nv_idx_decode(idx.p, idx.len, &ent, &n, &e)) {
		problem(v, key.p, e.msg);
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct nv_blob_loc loc = {0, 0, 0, 0};
		unsigned char ak[NV_HASH_LEN];
		size_t got;

		if (ent[i].off + ent[i].clen > data.len) {
			problem(v, packkey, "index entry points past the end of the pack");
			continue;
		}
		got = ZSTD_decompressDCtx(dctx, plain, NV_BLOB_SIZE, data.p + ent[i].off,
					  ent[i].clen);
		if (ZSTD_isError(got) || got != ent[i].ulen) {
			problem(v, packkey, "a blob does not decompress to its length");
			continue;
		}
		nv_sha256(plain, got, sum);
		if (memcmp(sum, ent[i].hash, NV_HASH_LEN)) {
			problem(v, packkey, "a blob does not match its hash");
			continue;
		}
		v->blobs++;
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
	v->snapshots++;
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

static const char verify_usage[] =
    "usage: netvol verify [--user U | --all-users]\n\n"
    "Read every pack of a user (POD_USER_NAME, or --user U; every user with\n"
    "--all-users), check every blob's hash, and check that every snapshot's blobs\n"
    "are there. exit 0 when all is well, 1 when a problem was found.\n";

int nv_cli_verify(int argc, char **argv)
{
	static const struct option opts[] = {WHO_OPTS, {"help", no_argument, NULL, 'h'}, {0}};
	struct nv_config cfg;
	struct vstate v;
	struct keylist l = {0};
	struct nv_error e = NV_ERROR_INIT;
	struct who w = {NULL, false};
	ZSTD_DCtx *dctx = NULL;
	unsigned char *plain = NULL;
	size_t i, pl;
	int c, ex;

	memset(&v, 0, sizeof(v));
	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((ex = who_opt(c, &w, "verify")) == 0)
			continue;
		if (ex == 2)
			return NV_EXIT_USAGE;
		if (c == 'h') {
			fputs(verify_usage, stdout);
			return NV_EXIT_OK;
		}
		fputs(verify_usage, stderr);
		return NV_EXIT_USAGE;
	}
	if (optind < argc || (w.all && w.user)) {
		fputs(verify_usage, stderr);
		return NV_EXIT_USAGE;
	}
	if ((ex = open_store(&cfg, &v.s, "verify", &w)))
		return ex;
	nv_blob_map_init(&v.at);
	dctx = ZSTD_createDCtx();
	plain = nv_malloc(NV_BLOB_SIZE);
	if (!dctx || !plain || nv_store_list(v.s, "", collect, &l, &e)) {
		if (!e.code)
			nv_error_set(&e, NV_ENOMEM, "out of memory");
		nv_cli_log_error("verify.failed", NULL, &e);
		ex = NV_EXIT_FAILED;
		goto out;
	}
	if (l.n)
		qsort(l.k, l.n, sizeof(*l.k), cmp_str);
	for (i = 0; i < l.n; i++)
		if (below_user(&w, l.k[i]) &&
		    nv_keys_classify(below_user(&w, l.k[i]), &pl, NULL) == NV_KEY_PACK)
			verify_pack(&v, l.k[i], dctx, plain);
	for (i = 0; i < l.n; i++)
		if (below_user(&w, l.k[i]) &&
		    nv_keys_classify(below_user(&w, l.k[i]), &pl, NULL) == NV_KEY_SNAPSHOT)
			verify_snapshot(&v, l.k[i]);
	for (i = 0; i < l.n; i++) {
		unsigned char id[NV_HASH_LEN];
		struct nv_buf prefix = NV_BUF_INIT(4096);
		struct nv_manifest m;

		if (!below_user(&w, l.k[i]) ||
		    nv_keys_classify(below_user(&w, l.k[i]), &pl, NULL) != NV_KEY_HEAD)
			continue;
		nv_manifest_init(&m);
		nv_buf_add(&prefix, l.k[i], strlen(l.k[i]) - 4, NULL);
		if (nv_engine_read_head(v.s, prefix.p, id, &e) ||
		    nv_engine_read_manifest(v.s, prefix.p, id, &m, &e))
			problem(&v, l.k[i], e.msg);
		nv_manifest_release(&m);
		nv_buf_release(&prefix);
	}
	printf("verify: %llu packs (%llu bytes), %llu blobs, %llu snapshots checked; %llu "
	       "problems\n",
	       (unsigned long long)v.packs, (unsigned long long)v.bytes,
	       (unsigned long long)v.blobs, (unsigned long long)v.snapshots,
	       (unsigned long long)v.problems);
	ex = v.problems ? NV_EXIT_FAILED : NV_EXIT_OK;
out:
	ZSTD_freeDCtx(dctx);
	nv_free(plain);
	nv_free(v.hashes);
	nv_blob_map_release(&v.at);
	keylist_free(&l);
	nv_store_close(v.s);
	nv_config_release(&cfg);
	return ex;
}
