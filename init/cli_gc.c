/* netvol gc: retention and garbage collection of the store. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "store/keys.h"
#include "cli.h"
#include "base/config.h"
#include "engine/gc.h"
#include "base/log.h"
#include "base/mem.h"
#include "engine/snapshot.h"
#include "store/store.h"

static void gc_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: netvol gc --keep-last N [--keep-within DURATION] [--grace DURATION]\n"
	    "                 [--dry-run] [--user U] [--pod POD_ID] [DATASET...]\n\n"
	    "Drop old snapshots and delete the packs no kept snapshot needs, for the\n"
	    "named datasets or every dataset of one user (POD_USER_NAME, or --user U)\n"
	    "in the store; nothing of another user is read or touched. Kept: HEAD, the newest N\n"
	    "snapshots of its history, those younger than --keep-within, and every\n"
	    "object younger than --grace (default 1h). Safe while pods sync: a dataset\n"
	    "with a sync in progress is left for the next run.\n\n"
	    "  --dry-run  report what would be freed, delete nothing\n\n"
	    "exit codes: 0 ok, 1 a dataset failed, 2 usage or configuration error\n");
}

struct prefixes {
	char **p;
	size_t n, cap;
};

/* Add the first pl bytes of key (a dataset prefix) once. */
static int add_prefix(struct prefixes *l, const char *key, size_t pl)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strlen(l->p[i]) == pl && !strncmp(l->p[i], key, pl))
			return 0;
	if (NV_GROW(l->p, l->n, l->cap, 16))
		return NV_ENOMEM;
	l->p[l->n] = nv_strndup(key, pl);
	if (!l->p[l->n])
		return NV_ENOMEM;
	l->n++;
	return 0;
}

/* Dataset prefixes ("user/x/", "pod/p/x/") of every netvol key of the user;
 * other keys (legacy objects) are never touched. */
static int prefix_cb(const char *key, const struct nv_store_stat *st, void *ud)
{
	size_t pl;

	(void)st;
	if (nv_keys_classify(key, &pl, NULL) == NV_KEY_OTHER)
		return 0;
	return add_prefix(ud, key, pl);
}

int nv_cli_gc(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"keep-last", required_argument, NULL, 'k'},
	    {"keep-within", required_argument, NULL, 'w'},
	    {"grace", required_argument, NULL, 'g'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"pod", required_argument, NULL, 'p'},
	    {"user", required_argument, NULL, 'u'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct nv_gc_opts go = {0, 0, 3600, false};
	struct nv_config cfg;
	struct nv_store *s = NULL;
	struct prefixes pl = {NULL, 0, 0};
	struct nv_error e = NV_ERROR_INIT;
	const char *pod = NULL, *user = NULL;
	uint64_t n, tot_freed = 0;
	int64_t ms;
	int c, ex = NV_EXIT_OK, failed = 0;
	size_t i;
	bool loaded = false;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (nv_str_to_u64(nv_str_from(optarg), 1, 1000000, &n))
				goto bad;
			go.keep_last = (unsigned)n;
			break;
		case 'w':
			if (nv_config_parse_duration_ms(optarg, &ms))
				goto bad;
			go.keep_within_s = ms / 1000;
			break;
		case 'g':
			if (nv_config_parse_duration_ms(optarg, &ms))
				goto bad;
			go.grace_s = ms / 1000;
			break;
		case 'n':
			go.dry_run = true;
			break;
		case 'p':
		case 'u':
			if (nv_config_check_identity(c == 'p' ? "--pod" : "--user", optarg, &e)) {
				fprintf(stderr, "netvol gc: %s\n", e.msg);
				return NV_EXIT_USAGE;
			}
			*(c == 'p' ? &pod : &user) = optarg;
			break;
		case 'h':
			gc_usage(stdout);
			return NV_EXIT_OK;
		default:
			gc_usage(stderr);
			return NV_EXIT_USAGE;
		}
	}
	if (!go.keep_last) {
		fprintf(stderr, "netvol gc: --keep-last N (N >= 1) is required\n");
		return NV_EXIT_USAGE;
	}
	if ((ex = nv_cli_setup(&cfg, "gc")))
		return ex;
	loaded = true;
	if (nv_store_open_user(&cfg, user ? user : cfg.pod_user, &s, &e)) {
		fprintf(stderr, "netvol gc: %s\n", e.msg);
		ex = nv_cli_exit_for(e.code);
		goto out;
	}
	if (optind < argc) {
		for (; optind < argc; optind++) {
			struct nv_dataset ds = {.path = argv[optind],
						.scope = pod ? NV_SCOPE_POD : NV_SCOPE_USER};
			struct nv_buf b = NV_BUF_INIT(4096);

			if (nv_config_check_relpath(ds.path, &e) ||
			    nv_keys_dataset_prefix(&ds, pod, &b, &e)) {
				fprintf(stderr, "netvol gc: %s\n", e.msg);
				nv_buf_release(&b);
				ex = NV_EXIT_USAGE;
				goto out;
			}
			if (add_prefix(&pl, b.p, b.len)) {
				nv_buf_release(&b);
				ex = NV_EXIT_FAILED;
				goto out;
			}
			nv_buf_release(&b);
		}
	} else if (nv_store_list(s, "", prefix_cb, &pl, &e)) {
		nv_cli_log_error("gc.failed", NULL, &e);
		ex = NV_EXIT_FAILED;
		goto out;
	}
	for (i = 0; i < pl.n; i++) {
		struct nv_gc_result r;
		struct nv_log_rec lr;

		if (nv_gc_dataset(s, pl.p[i], &go, &r, &e)) {
			nv_cli_log_error("gc.failed", pl.p[i], &e);
			failed++;
			continue;
		}
		tot_freed += r.bytes_freed;
		nv_log_begin(&lr, r.skipped_busy ? NV_LOG_WARN : NV_LOG_INFO, "gc.done");
		nv_log_str(&lr, "prefix", pl.p[i]);
		nv_log_str(&lr, "result",
			   r.skipped_busy ? "skipped_sync_in_progress"
			   : go.dry_run	  ? "dry_run"
					  : "done");
		nv_log_u64(&lr, "snapshots_kept", r.snapshots_kept);
		nv_log_u64(&lr, "snapshots_deleted", r.snapshots_deleted);
		nv_log_u64(&lr, "packs_kept", r.packs_kept);
		nv_log_u64(&lr, "packs_deleted", r.packs_deleted);
		nv_log_u64(&lr, "bytes_freed", r.bytes_freed);
		nv_log_end(&lr);
	}
	printf("gc: %zu datasets, %llu bytes %s%s\n", pl.n, (unsigned long long)tot_freed,
	       go.dry_run ? "would be freed" : "freed", failed ? " (some datasets failed)" : "");
	ex = failed ? NV_EXIT_FAILED : NV_EXIT_OK;
out:
	for (i = 0; i < pl.n; i++)
		nv_free(pl.p[i]);
	nv_free(pl.p);
	nv_store_close(s);
	if (loaded)
		nv_config_release(&cfg);
	return ex;
bad:
	fprintf(stderr, "netvol gc: bad value '%s' for --%s\n", optarg,
		c == 'k'   ? "keep-last"
		: c == 'w' ? "keep-within"
			   : "grace");
	return NV_EXIT_USAGE;
}
