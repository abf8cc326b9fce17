/* Admin verbs: ls, log, verify. They read the store only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "store/keys.h"
#include "cli.h"
#include "base/config.h"
#include "engine/engine.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/snapshot.h"
#include "engine/verify.h"
#include "store/store.h"

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
	struct nv_dataset ds = {.path = NULL, .scope = NV_SCOPE_SHARED};
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

static void verify_report(void *ud, enum nv_verify_kind kind, const char *object, const char *msg)
{
	struct nv_log_rec r;

	(void)ud;
	nv_log_begin(&r, kind == NV_VERIFY_PROBLEM ? NV_LOG_ERROR : NV_LOG_WARN,
		     kind == NV_VERIFY_PROBLEM ? "verify.problem" : "verify.note");
	nv_log_str(&r, "object", object);
	nv_log_str(&r, kind == NV_VERIFY_PROBLEM ? "error" : "note", msg);
	nv_log_end(&r);
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
	struct nv_store *s = NULL;
	struct nv_verify_result v;
	struct nv_error e = NV_ERROR_INIT;
	struct who w = {NULL, false};
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
	if ((ex = open_store(&cfg, &s, "verify", &w)))
		return ex;
	if (nv_verify_store(s, w.all, verify_report, NULL, &v, &e)) {
		nv_cli_log_error("verify.failed", NULL, &e);
		ex = NV_EXIT_FAILED;
		goto out;
	}
	printf("verify: %llu packs (%llu bytes), %llu blobs, %llu snapshots checked; %llu "
	       "problems\n",
	       (unsigned long long)v.packs, (unsigned long long)v.bytes,
	       (unsigned long long)v.blobs, (unsigned long long)v.snapshots,
	       (unsigned long long)v.problems);
	ex = v.problems ? NV_EXIT_FAILED : NV_EXIT_OK;
out:
	nv_store_close(s);
	nv_config_release(&cfg);
	return ex;
}
