/* netvol restore / netvol sync / netvol install: the pod-facing verbs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli.h"
#include "base/config.h"
#include "engine/engine.h"
#include "base/fs.h"
#include "engine/legacy.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "store/keys.h"
#include "store/store.h"
#include "engine/volume.h"

int nv_cli_setup(struct nv_config *cfg, const char *verb)
{
	struct nv_error e = NV_ERROR_INIT;

	if (nv_config_load(cfg, &e)) {
		fprintf(stderr, "netvol %s: %s\n", verb, e.msg);
		return NV_EXIT_USAGE;
	}
	nv_log_setup(cfg->log_format, cfg->log_level, 2);
	return NV_EXIT_OK;
}

int nv_cli_exit_for(int code)
{
	return code == NV_ECONFIG || code == NV_EUSAGE ? NV_EXIT_USAGE : NV_EXIT_FAILED;
}

void nv_cli_log_error(const char *event, const char *dataset, const struct nv_error *e)
{
	struct nv_log_rec r;

	nv_log_begin(&r, NV_LOG_ERROR, event);
	if (dataset)
		nv_log_str(&r, "dataset", dataset);
	nv_log_str(&r, "code", nv_code_name(e->code));
	nv_log_str(&r, "error", e->msg);
	nv_log_end(&r);
}

/* Datasets named on the command line (all when none); unknown -> exit 2. */
static int select_datasets(const struct nv_config *cfg, int argc, char **argv, bool *sel,
			   const char *verb)
{
	size_t i;
	int a;

	for (i = 0; i < cfg->ndatasets; i++)
		sel[i] = argc == 0;
	for (a = 0; a < argc; a++) {
		bool found = false;

		for (i = 0; i < cfg->ndatasets; i++)
			if (!strcmp(cfg->datasets[i].path, argv[a]))
				sel[i] = found = true;
		if (!found) {
			fprintf(stderr, "netvol %s: '%s' is not a configured dataset\n", verb,
				argv[a]);
			return NV_EXIT_USAGE;
		}
	}
	return NV_EXIT_OK;
}

static int check_pod_scope(const struct nv_config *cfg, const bool *sel, const char *verb)
{
	size_t i;

	for (i = 0; i < cfg->ndatasets; i++)
		if (sel[i] && cfg->datasets[i].scope == NV_SCOPE_POD && !cfg->pod_id) {
			fprintf(stderr,
				"netvol %s: dataset '%s' is pod-scoped but POD_ID is not set (set "
				"POD_ID, "
				"or leave it out with NETVOL_DATASETS)\n",
				verb, cfg->datasets[i].path);
			return NV_EXIT_USAGE;
		}
	return NV_EXIT_OK;
}

static int path_join(struct nv_buf *b, const char *root, const char *rel)
{
	nv_buf_reset(b);
	return nv_buf_addf(b, NULL, "%s/%s", root, rel);
}

/* Probe the network volume for the selected shared datasets. */
static int probe(const struct nv_config *cfg, const bool *sel, struct nv_volume_probe *p,
		 struct nv_error *e)
{
	const char **paths = nv_calloc(cfg->ndatasets ? cfg->ndatasets : 1, sizeof(*paths));
	struct nv_log_rec r;
	size_t i;
	int rc;
	bool any = false;

	if (!paths)
		return nv_error_set(e, NV_ENOMEM, "out of memory");
	for (i = 0; i < cfg->ndatasets; i++) {
		paths[i] = cfg->datasets[i].path;
		any |= sel[i] && cfg->datasets[i].scope == NV_SCOPE_SHARED;
	}
	rc = nv_volume_probe(any ? cfg->shared_volume : NULL, paths, cfg->ndatasets,
			     cfg->nv_timeout_ms, p, e);
	nv_free(paths);
	if (rc)
		return rc;
	if (!any)
		snprintf(p->reason, sizeof(p->reason), "no shared dataset selected");
	nv_log_begin(&r, p->usable ? NV_LOG_INFO : (cfg->shared_volume ? NV_LOG_WARN : NV_LOG_INFO),
		     "network_volume");
	nv_log_str(&r, "path", cfg->shared_volume ? cfg->shared_volume : "");
	nv_log_bool(&r, "usable", p->usable);
	nv_log_str(&r, "reason", p->reason);
	nv_log_end(&r);
	return NV_OK;
}

static int install_self(const char *dir, struct nv_error *e)
{
	struct nv_buf self = NV_BUF_INIT(256u << 20);
	int dfd = -1, sfd, rc;

	sfd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (sfd < 0)
		return nv_error_sys(e, NV_EIO, errno, "cannot open this program (/proc/self/exe)");
	rc = nv_fs_read_fd(sfd, "/proc/self/exe", &self, e);
	close(sfd);
	if (rc)
		goto out;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = nv_error_sys(e, NV_EIO, errno, "cannot create '%s'", dir);
		goto out;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = nv_error_sys(e, NV_EIO, errno, "cannot open '%s'", dir);
		goto out;
	}
	if ((rc = nv_fs_write_file_atomic(dfd, "netvol", self.p, self.len, 0755, e)))
		goto out;
	/* netvol-restore / netvol-sync name the same binary */
	unlinkat(dfd, "netvol-restore", 0);
	unlinkat(dfd, "netvol-sync", 0);
	if (symlinkat("netvol", dfd, "netvol-restore") < 0 ||
	    symlinkat("netvol", dfd, "netvol-sync") < 0)
		rc =
		    nv_error_sys(e, NV_EIO, errno, "cannot create the netvol-* links in '%s'", dir);
out:
	nv_fs_close(&dfd);
	nv_buf_release(&self);
	return rc;
}

int nv_cli_install(int argc, char **argv)
{
	struct nv_error e = NV_ERROR_INIT;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: netvol install DIR\n\nCopy this netvol binary into DIR (with the "
		       "netvol-restore and netvol-sync names), for a preStop hook in another "
		       "container.\n");
		return NV_EXIT_OK;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: netvol install DIR\n");
		return NV_EXIT_USAGE;
	}
	if (install_self(argv[1], &e)) {
		fprintf(stderr, "netvol install: %s\n", e.msg);
		return NV_EXIT_FAILED;
	}
	return NV_EXIT_OK;
}

static const struct option run_opts[] = {
    {"dry-run", no_argument, NULL, 'n'},	{"install-to", required_argument, NULL, 'i'},
    {"snapshot", required_argument, NULL, 's'}, {"loop", no_argument, NULL, 'l'},
    {"help", no_argument, NULL, 'h'},		{NULL, 0, NULL, 0},
};

static void run_usage(FILE *out, bool restore)
{
	if (restore)
		fprintf(
		    out,
		    "usage: netvol restore [--dry-run] [--install-to DIR] [DATASET...]\n"
		    "       netvol restore --snapshot ID DATASET\n\n"
		    "Before ComfyUI starts: for each dataset, symlink it from the network volume\n"
		    "(_NETWORK_VOLUME) when that is usable and holds it, else restore its latest\n"
		    "snapshot from the store (NETVOL_STORE) into NETWORK_VOLUME. A folder that\n"
		    "already holds data is never overwritten.\n\n"
		    "  --dry-run         say what would be done, change nothing\n"
		    "  --install-to DIR  first copy this binary into DIR (for the preStop hook)\n"
		    "  --snapshot ID     restore that snapshot (from netvol log) instead of the\n"
		    "                    latest; the target must be missing or empty\n\n"
		    "exit codes: 0 ok, 1 a dataset failed, 2 usage or configuration error\n");
	else
		fprintf(
		    out,
		    "usage: netvol sync [--dry-run] [--loop] [DATASET...]\n\n"
		    "In the preStop hook: for each dataset, copy it onto the network volume when\n"
		    "that is usable and lacks it, then upload a snapshot of the folder the pod\n"
		    "used to the store (only new data is sent; HEAD moves last). NETVOL_DEADLINE\n"
		    "makes it stop cleanly, HEAD untouched, before the pod is killed.\n\n"
		    "  --dry-run  say what would be uploaded, change nothing\n"
		    "  --loop     as a sidecar: sync every NETVOL_SYNC_INTERVAL (default 5m);\n"
		    "             on SIGTERM or SIGINT one final sync within NETVOL_DEADLINE\n"
		    "             (counted from the signal), whose exit code is the process's\n\n"
		    "exit codes: 0 ok, 1 a dataset failed, 2 usage or configuration error\n");
}

struct run {
	struct nv_config cfg;
	struct nv_store *store;
	struct nv_store *base;	 /* NETVOL_STORE itself, opened for the format-1 check */
	struct nv_store *legacy; /* the shell scripts' objects (restore only), or NULL */
	struct nv_volume_probe probe;
	bool *sel;
	bool dry_run;
	bool loop; /* sync --loop */
	/* sync --loop: the deadline from the SIGTERM, set by the signal thread */
	atomic_int_least64_t stop_deadline_ms;
	const char *install_to;
	unsigned char snapshot[NV_HASH_LEN];
	bool has_snapshot;
	int64_t start_ms, deadline_ms;
};

/* The legacy root (LEGACY.md) as its own store: read when a dataset has
 * no snapshot. */
static int open_legacy(struct run *r)
{
	struct nv_error e = NV_ERROR_INIT;
	struct nv_log_rec lr;

	const char *url = r->cfg.legacy_root_url;
	struct stat st;

	/* a file store would create its folder: a missing one is no data */
	if (url && !strncmp(url, "file://", 7) && stat(url + 7, &st) < 0 && errno == ENOENT)
		url = NULL;
	if (url && !r->has_snapshot && nv_store_open_url(url, &r->cfg, &r->legacy, &e)) {
		nv_cli_log_error("legacy.open_failed", NULL, &e);
		return nv_cli_exit_for(e.code);
	}
	nv_log_begin(&lr, NV_LOG_INFO, "legacy");
	nv_log_bool(&lr, "enabled", r->legacy != NULL);
	if (r->legacy)
		nv_log_str(&lr, "root", r->legacy->url);
	else
		nv_log_str(&lr, "reason",
			   r->has_snapshot	    ? "--snapshot"
			   : r->cfg.legacy_off	    ? r->cfg.legacy_off
			   : r->cfg.legacy_root_url ? "the user has no legacy folder"
						    : "off");
	nv_log_end(&lr);
	return NV_EXIT_OK;
}

static sigset_t stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	return set;
}

static int block_stop_signals(void)
{
	sigset_t set = stop_signals();

	return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static int run_setup(struct run *r, int argc, char **argv, bool restore)
{
	const char *verb = restore ? "restore" : "sync";
	struct nv_error e = NV_ERROR_INIT;
	int c, ex;

	optind = 1;
	while ((c = getopt_long(argc, argv, "nh", run_opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			r->dry_run = true;
			break;
		case 'i':
			if (!restore)
				goto usage;
			r->install_to = optarg;
			break;
		case 's':
			if (!restore || strlen(optarg) != 64 ||
			    nv_hex_decode(optarg, 64, r->snapshot)) {
				fprintf(stderr,
					"netvol restore: --snapshot wants a 64-digit snapshot "
					"id (see netvol log)\n");
				return NV_EXIT_USAGE;
			}
			r->has_snapshot = true;
			break;
		case 'l':
			if (restore)
				goto usage;
			r->loop = true;
			break;
		case 'h':
			run_usage(stdout, restore);
			return -1;
		default:
			goto usage;
		}
	}
	/* sync --loop takes SIGTERM/SIGINT in its own thread (loop_signals):
	 * block them before any thread (curl's, the engine's) exists */
	if (r->loop && block_stop_signals())
		return NV_EXIT_FAILED;
	if ((ex = nv_cli_setup(&r->cfg, verb)))
		return ex;
	r->start_ms = nv_now_ms();
	r->deadline_ms = r->cfg.deadline_ms ? r->start_ms + r->cfg.deadline_ms : 0;
	if (nv_config_require_volume(&r->cfg, &e) || nv_config_require_store(&r->cfg, &e)) {
		fprintf(stderr, "netvol %s: %s\n", verb, e.msg);
		return NV_EXIT_USAGE;
	}
	r->sel = nv_calloc(r->cfg.ndatasets, sizeof(bool));
	if (!r->sel)
		return NV_EXIT_FAILED;
	if ((ex = select_datasets(&r->cfg, argc - optind, argv + optind, r->sel, verb)) ||
	    (ex = check_pod_scope(&r->cfg, r->sel, verb)))
		return ex;
	if (r->has_snapshot && argc - optind != 1) {
		fprintf(stderr, "netvol restore: --snapshot needs exactly one DATASET\n");
		return NV_EXIT_USAGE;
	}
	if (nv_store_open(&r->cfg, &r->store, &e)) {
		nv_cli_log_error("store.open_failed", NULL, &e);
		return nv_cli_exit_for(e.code);
	}
	/* retries never sleep past NETVOL_DEADLINE (retry.h) */
	nv_store_set_deadline(r->store, r->deadline_ms);
	if (restore && (ex = open_legacy(r)))
		return ex;
	if (probe(&r->cfg, r->sel, &r->probe, &e)) {
		nv_cli_log_error("network_volume.probe_failed", NULL, &e);
		return NV_EXIT_FAILED;
	}
	return NV_EXIT_OK;
usage:
	run_usage(stderr, restore);
	return NV_EXIT_USAGE;
}

static void run_release(struct run *r)
{
	nv_store_close(r->store);
	nv_store_close(r->base);
	nv_store_close(r->legacy);
	nv_volume_probe_release(&r->probe);
	nv_free(r->sel);
	nv_config_release(&r->cfg);
}

static void hexid(const unsigned char *id, char *out)
{
	nv_hex_encode(id, NV_HASH_LEN, out);
	out[12] = '\0'; /* short form for logs */
}

/* The closing line of a run; its exit code. */
static int summary(const char *event, const struct run *r, size_t done, size_t failed)
{
	struct nv_log_rec lr;

	nv_log_begin(&lr, failed ? NV_LOG_ERROR : NV_LOG_INFO, event);
	nv_log_u64(&lr, "datasets", done);
	nv_log_u64(&lr, "failed", failed);
	nv_log_i64(&lr, "duration_ms", nv_now_ms() - r->start_ms);
	nv_log_end(&lr);
	return failed ? NV_EXIT_FAILED : NV_EXIT_OK;
}

/* restore's summary for `kubectl describe pod` (the container's
 * terminationMessagePath): only into a file that already exists and is
 * writable, never created; a failure changes nothing. */
static void termination_message(const struct run *r, size_t done, size_t failed)
{
	char line[160];
	int fd = open(r->cfg.termination_log, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW), n;

	if (fd < 0)
		return;
	n = snprintf(line, sizeof(line), "netvol restore: %zu datasets, %zu failed, %lld ms\n",
		     done, failed, (long long)(nv_now_ms() - r->start_ms));
	if (n > 0 && (size_t)n < sizeof(line))
		(void)nv_fs_write_full(fd, line, (size_t)n);
	nv_fs_close(&fd);
}

/* Format 1 kept user-scoped datasets directly below NETVOL_STORE, shared by
 * every user. Such data is never restored (it may be anyone's); say so once
 * per dataset that has nothing of its own (docs/FORMAT.md). */
static void warn_format1(struct run *r, const struct nv_dataset *ds)
{
	struct nv_buf key = NV_BUF_INIT(4096);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_store_stat st;
	struct nv_log_rec lr;

	if (!r->cfg.store_base_given || ds->scope == NV_SCOPE_POD)
		return;
	if (!r->base && nv_store_open_base(&r->cfg, &r->base, &e))
		goto out;
	if (nv_keys_format1_head(ds, &key, &e) || nv_store_head(r->base, key.p, &st, &e))
		goto out;
	nv_log_begin(&lr, NV_LOG_WARN, "restore.format1_data_ignored");
	nv_log_str(&lr, "dataset", ds->path);
	nv_log_str(&lr, "key", key.p);
	nv_log_str(&lr, "reason",
		   "store format 1 kept this dataset below NETVOL_STORE for all users alike; "
		   "it is not restored for any user (docs/FORMAT.md)");
	nv_log_end(&lr);
out:
	nv_buf_release(&key);
}

/* No snapshot: the dataset from the legacy objects, if there are any.
 * *found tells whether the restore.done line was logged here. */
static int restore_legacy(struct run *r, const struct nv_dataset *ds, const char *target,
			  int64_t t0, bool *found, struct nv_error *e)
{
	struct nv_legacy_opts o = {
	    .cfg = &r->cfg,
	    .store = r->legacy,
	    .ds = ds,
	    .pod_id = r->cfg.pod_id,
	    .root = r->cfg.network_volume,
	    .path = target,
	    .dry_run = r->dry_run,
	    .deadline_ms = r->deadline_ms,
	    .workers = r->cfg.parallel,
	};
	struct nv_legacy_result res;
	struct nv_log_rec lr;
	int rc = nv_legacy_restore(&o, &res, e);

	*found = !rc && (res.source || res.kept_local);
	if (rc) {
		/* nothing half-restored, and no empty folder a sync would snapshot
		 * over the legacy data (only an empty folder is removed) */
		if (!r->dry_run)
			rmdir(target);
		return rc;
	}
	if (!*found)
		return NV_OK;
	nv_log_begin(&lr, res.kept_local ? NV_LOG_WARN : NV_LOG_INFO, "restore.done");
	nv_log_str(&lr, "dataset", ds->path);
	nv_log_str(&lr, "path", target);
	nv_log_str(&lr, "result",
		   res.kept_local ? "kept_local_data"
		   : r->dry_run	  ? "would_restore"
				  : "restored");
	nv_log_str(&lr, "source", "legacy");
	nv_log_str(&lr, "legacy", res.source ? res.source : "");
	nv_log_u64(&lr, "objects", res.objects);
	nv_log_u64(&lr, "stale_chunks", res.stale);
	nv_log_u64(&lr, "files", res.files);
	nv_log_u64(&lr, "bytes", res.bytes);
	nv_log_u64(&lr, r->dry_run ? "bytes_to_read" : "bytes_fetched", res.bytes_fetched);
	nv_log_u64(&lr, "skipped_members", res.skipped);
	nv_log_bool(&lr, "used_nv", false);
	nv_log_i64(&lr, "duration_ms", nv_now_ms() - t0);
	nv_log_end(&lr);
	return NV_OK;
}

/* Datasets of earlier default lists that now lie inside ds (netvol kept
 * ComfyUI/user, ComfyUI/input and ComfyUI/output on their own before the
 * ComfyUI dataset): when ds has no snapshot yet, the latest snapshot of each
 * is restored into its folder below ds, so that the upgrade loses nothing;
 * the next sync writes ds's own snapshot. *found tells whether any was. */
struct earlier {
	struct nv_buf prefix; /* "pod/<pod>/<ds>%2F" */
	char **paths;
	size_t n, cap;
};

static int earlier_cb(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct earlier *l = ud;
	struct nv_buf pod = NV_BUF_INIT(1024), ds = NV_BUF_INIT(4096), pre = NV_BUF_INIT(4096);
	size_t pl;
	int rc = 0;

	(void)st;
	if (strncmp(key, l->prefix.p, l->prefix.len) ||
	    nv_keys_classify(key, &pl, NULL) != NV_KEY_HEAD)
		return 0;
	if (nv_buf_add(&pre, key, pl, NULL) || nv_keys_split_dataset_prefix(pre.p, &pod, &ds) ||
	    nv_config_check_relpath(ds.p, NULL))
		goto out; /* not a dataset name netvol would write: ignored */
	if (NV_GROW(l->paths, l->n, l->cap, 4) || !(l->paths[l->n] = nv_strdup(ds.p))) {
		rc = NV_ENOMEM;
		goto out;
	}
	l->n++;
out:
	nv_buf_release(&pod);
	nv_buf_release(&ds);
	nv_buf_release(&pre);
	return rc;
}

static int restore_earlier_datasets(struct run *r, const struct nv_dataset *ds,
				    const struct nv_engine_opts *base, bool *found,
				    struct nv_error *e)
{
	struct earlier l = {NV_BUF_INIT(4096), NULL, 0, 0};
	struct nv_buf target = NV_BUF_INIT(NV_PATH_BUF * 2);
	size_t i;
	int rc;

	*found = false;
	if ((rc = nv_keys_dataset_prefix(ds, r->cfg.pod_id, &l.prefix, e)))
		goto out;
	nv_buf_setlen(&l.prefix, l.prefix.len - 1); /* "pod/<pod>/<ds>" */
	if ((rc = nv_buf_addstr(&l.prefix, "%2F", e)) ||
	    (rc = nv_store_list(r->store, l.prefix.p, earlier_cb, &l, e)))
		goto out;
	for (i = 0; i < l.n && !rc; i++) {
		struct nv_dataset sub = *ds;
		struct nv_engine_opts o = *base;
		struct nv_restore_result res;
		struct nv_log_rec lr;

		sub.path = l.paths[i];
		sub.exclude = NULL;
		sub.nexclude = 0;
		path_join(&target, r->cfg.network_volume, sub.path);
		o.ds = &sub;
		o.path = target.p;
		if ((rc = nv_restore_dataset(&o, &res, e)))
			break;
		*found = true;
		nv_log_begin(&lr, res.kept_local ? NV_LOG_WARN : NV_LOG_INFO, "restore.done");
		nv_log_str(&lr, "dataset", ds->path);
		nv_log_str(&lr, "path", target.p);
		nv_log_str(&lr, "result",
			   res.kept_local ? "kept_local_data"
			   : r->dry_run	  ? "would_restore"
					  : "restored");
		nv_log_str(&lr, "source", "earlier_dataset");
		nv_log_str(&lr, "earlier_dataset", sub.path);
		nv_log_u64(&lr, "files", res.files);
		nv_log_u64(&lr, "bytes", res.bytes);
		nv_log_u64(&lr, "bytes_fetched", res.bytes_fetched);
		nv_log_end(&lr);
	}
out:
	for (i = 0; i < l.n; i++)
		nv_free(l.paths[i]);
	nv_free(l.paths);
	nv_buf_release(&l.prefix);
	nv_buf_release(&target);
	return rc;
}

static int restore_one(struct run *r, size_t i, struct nv_buf *target, struct nv_buf *cache)
{
	const struct nv_dataset *ds = &r->cfg.datasets[i];
	struct nv_buf nvpath = NV_BUF_INIT(NV_PATH_BUF * 2);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_log_rec lr;
	int64_t t0 = nv_now_ms();
	int rc = NV_OK;

	path_join(target, r->cfg.network_volume, ds->path);
	if (ds->scope == NV_SCOPE_SHARED && r->probe.usable && r->probe.has_data[i] &&
	    !r->has_snapshot) {
		enum nv_link_result lres = NV_LINK_CREATED;

		path_join(&nvpath, r->cfg.shared_volume, ds->path);
		if (!r->dry_run)
			rc = nv_volume_link(r->cfg.network_volume, ds->path, nvpath.p, &lres, &e);
		if (!rc) {
			nv_log_begin(&lr, lres == NV_LINK_KEPT_LOCAL ? NV_LOG_WARN : NV_LOG_INFO,
				     "restore.linked");
			nv_log_str(&lr, "dataset", ds->path);
			nv_log_str(&lr, "path", target->p);
			nv_log_str(&lr, "target", nvpath.p);
			nv_log_str(&lr, "result",
				   r->dry_run		     ? "would_link"
				   : lres == NV_LINK_CREATED ? "created"
				   : lres == NV_LINK_ALREADY ? "already_linked"
							     : "kept_local_data");
			nv_log_bool(&lr, "used_nv", lres != NV_LINK_KEPT_LOCAL);
			nv_log_i64(&lr, "duration_ms", nv_now_ms() - t0);
			nv_log_end(&lr);
		}
	} else {
		struct nv_engine_opts o = {
		    .cfg = &r->cfg,
		    .store = r->store,
		    .ds = ds,
		    .pod_id = r->cfg.pod_id,
		    .path = target->p,
		    .cache_dir = cache->p,
		    .dry_run = r->dry_run,
		    .deadline_ms = r->deadline_ms,
		    .snapshot = r->has_snapshot ? r->snapshot : NULL,
		};
		struct nv_restore_result res;
		char id[NV_HASH_HEX];

		bool legacy_done = false;

		rc = nv_restore_dataset(&o, &res, &e);
		if (!rc && res.fresh && !res.kept_local && ds->scope == NV_SCOPE_POD &&
		    !r->has_snapshot)
			rc = restore_earlier_datasets(r, ds, &o, &legacy_done, &e);
		if (!rc && res.fresh && !res.kept_local && r->legacy && !legacy_done)
			rc = restore_legacy(r, ds, target->p, t0, &legacy_done, &e);
		if (!rc && res.fresh && !legacy_done)
			warn_format1(r, ds);
		if (!rc && !legacy_done) {
			hexid(res.snapshot, id);
			nv_log_begin(&lr, res.kept_local ? NV_LOG_WARN : NV_LOG_INFO,
				     "restore.done");
			nv_log_str(&lr, "dataset", ds->path);
			nv_log_str(&lr, "path", target->p);
			nv_log_str(&lr, "result",
				   res.kept_local ? "kept_local_data"
				   : res.fresh ? (r->dry_run ? "would_create_empty" : "fresh_empty")
				   : r->dry_run ? "would_restore"
						: "restored");
			if (!res.fresh && !res.kept_local)
				nv_log_str(&lr, "snapshot", id);
			nv_log_u64(&lr, "files", res.files);
			nv_log_u64(&lr, "bytes", res.bytes);
			nv_log_u64(&lr, "bytes_fetched", res.bytes_fetched);
			nv_log_bool(&lr, "used_nv", false);
			nv_log_i64(&lr, "duration_ms", nv_now_ms() - t0);
			nv_log_end(&lr);
		}
	}
	if (rc)
		nv_cli_log_error("restore.failed", ds->path, &e);
	nv_buf_release(&nvpath);
	return rc;
}

int nv_cli_restore(int argc, char **argv)
{
	struct run r;
	struct nv_buf target = NV_BUF_INIT(NV_PATH_BUF * 2), cache = NV_BUF_INIT(NV_PATH_BUF);
	struct nv_error e = NV_ERROR_INIT;
	size_t i, failed = 0, done = 0;
	int ex;

	memset(&r, 0, sizeof(r));
	ex = run_setup(&r, argc, argv, true);
	if (ex)
		goto out;
	if (r.install_to && !r.dry_run && install_self(r.install_to, &e)) {
		nv_cli_log_error("install.failed", NULL, &e);
		ex = NV_EXIT_FAILED;
		goto out;
	}
	nv_buf_addf(&cache, NULL, "%s/.netvol/cache", r.cfg.network_volume);
	for (i = 0; i < r.cfg.ndatasets; i++) {
		if (!r.sel[i])
			continue;
		done++;
		if (restore_one(&r, i, &target, &cache))
			failed++;
	}
	ex = summary("restore.summary", &r, done, failed);
	termination_message(&r, done, failed);
out:
	run_release(&r);
	nv_buf_release(&target);
	nv_buf_release(&cache);
	return ex < 0 ? NV_EXIT_OK : ex;
}

/* Does a symlink at path point into root? (no access to root itself) */
static bool link_points_into(const char *path, const char *root)
{
	char t[NV_PATH_BUF];
	ssize_t n = readlink(path, t, sizeof(t) - 1);
	size_t rl;

	if (n < 0 || !root)
		return false;
	t[n] = '\0';
	rl = strlen(root);
	return !strncmp(t, root, rl) && (t[rl] == '/' || t[rl] == '\0');
}

static int sync_one(struct run *r, size_t i, struct nv_buf *target)
{
	const struct nv_dataset *ds = &r->cfg.datasets[i];
	struct nv_buf nvpath = NV_BUF_INIT(NV_PATH_BUF * 2), cache = NV_BUF_INIT(NV_PATH_BUF);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_log_rec lr;
	struct stat st;
	int64_t t0 = nv_now_ms();
	char *source = NULL;
	bool is_link = false, on_nv = false, copied = false;
	int rc = NV_OK;

	path_join(target, r->cfg.network_volume, ds->path);
	if (r->cfg.shared_volume)
		path_join(&nvpath, r->cfg.shared_volume, ds->path);
	/* a link into a network volume that is not usable: don't touch it */
	if (lstat(target->p, &st) == 0 && S_ISLNK(st.st_mode) &&
	    link_points_into(target->p, r->cfg.shared_volume) && !r->probe.usable) {
		rc = nv_error_set(&e, NV_EIO,
				  "'%s' links to the network volume, which is not usable (%s); "
				  "nothing was synced",
				  target->p, r->probe.reason);
		goto out;
	}
	rc = nv_volume_sync_source(target->p, &source, &is_link, &e);
	if (rc == NV_ENOTFOUND) {
		nv_log_begin(&lr, NV_LOG_INFO, "sync.skipped");
		nv_log_str(&lr, "dataset", ds->path);
		nv_log_str(&lr, "reason", "no folder in the pod");
		nv_log_end(&lr);
		rc = NV_OK;
		goto out;
	}
	if (rc)
		goto out;
	on_nv = is_link && link_points_into(target->p, r->cfg.shared_volume);
	/* copy_to_network_volume_and_sync(): the pod's own folder, when the
	 * network volume lacks it */
	if (!is_link && ds->scope == NV_SCOPE_SHARED && r->probe.usable && !r->probe.exists[i]) {
		uint64_t bytes = 0;
		struct nv_error ce = NV_ERROR_INIT;
		int crc = r->dry_run
			      ? NV_OK
			      : nv_volume_copy_tree(source, r->cfg.shared_volume, ds->path,
						    r->deadline_ms, r->cfg.progress_interval_ms,
						    &bytes, &ce);

		nv_log_begin(&lr, crc && crc != NV_EEXISTS ? NV_LOG_WARN : NV_LOG_INFO,
			     "sync.copy_to_nv");
		nv_log_str(&lr, "dataset", ds->path);
		nv_log_str(&lr, "to", nvpath.p);
		nv_log_str(&lr, "result",
			   r->dry_run		? "would_copy"
			   : crc == NV_OK	? "copied"
			   : crc == NV_EEXISTS	? "lost_race_discarded"
			   : crc == NV_ECHANGED ? "source_changed_discarded"
						: "failed");
		if (crc && crc != NV_EEXISTS)
			nv_log_str(&lr, "error", ce.msg);
		nv_log_u64(&lr, "bytes", bytes);
		nv_log_end(&lr);
		copied = crc == NV_OK && !r->dry_run;
	}
	nv_buf_addf(&cache, NULL, "%s/.netvol/cache",
		    on_nv ? r->cfg.shared_volume : r->cfg.network_volume);
	{
		struct nv_engine_opts o = {
		    .cfg = &r->cfg,
		    .store = r->store,
		    .ds = ds,
		    .pod_id = r->cfg.pod_id,
		    .path = source,
		    .cache_dir = cache.p,
		    .dry_run = r->dry_run,
		    .deadline_ms = r->deadline_ms,
		    .late_deadline_ms = r->loop ? &r->stop_deadline_ms : NULL,
		};
		struct nv_sync_result res;
		char id[NV_HASH_HEX];

		rc = nv_sync_dataset(&o, &res, &e);
		if (rc)
			goto out;
		hexid(res.snapshot, id);
		nv_log_begin(&lr, NV_LOG_INFO, "sync.done");
		nv_log_str(&lr, "dataset", ds->path);
		nv_log_str(&lr, "source", source);
		nv_log_str(&lr, "result",
			   res.unchanged ? "unchanged"
			   : r->dry_run	 ? "would_upload"
					 : "uploaded");
		nv_log_str(&lr, "snapshot", id);
		nv_log_u64(&lr, "files", res.files);
		nv_log_u64(&lr, "bytes_scanned", res.bytes_scanned);
		nv_log_u64(&lr, "bytes_read", res.bytes_hashed);
		nv_log_u64(&lr, "bytes_new", res.bytes_new);
		nv_log_u64(&lr, "bytes_uploaded", res.bytes_uploaded);
		nv_log_u64(&lr, "blobs_new", res.blobs_new);
		nv_log_u64(&lr, "packs_new", res.packs_new);
		nv_log_bool(&lr, "used_nv", on_nv || copied);
		nv_log_i64(&lr, "duration_ms", nv_now_ms() - t0);
		nv_log_end(&lr);
	}
out:
	if (rc) {
		if (rc == NV_EDEADLINE)
			nv_error_prefix(&e, "not synced, HEAD left at the previous snapshot");
		nv_cli_log_error("sync.failed", ds->path, &e);
	}
	nv_free(source);
	nv_buf_release(&nvpath);
	nv_buf_release(&cache);
	return rc;
}

/* One sync of every selected dataset; its summary line (with the round
 * number under --loop); the exit code. */
static int sync_round(struct run *r, struct nv_buf *target, unsigned round, bool final)
{
	struct nv_log_rec lr;
	int64_t t0 = nv_now_ms();
	size_t i, failed = 0, done = 0;

	for (i = 0; i < r->cfg.ndatasets; i++) {
		if (!r->sel[i])
			continue;
		done++;
		if (sync_one(r, i, target))
			failed++;
	}
	if (!r->loop)
		return summary("sync.summary", r, done, failed);
	nv_log_begin(&lr, failed ? NV_LOG_ERROR : NV_LOG_INFO, "sync.summary");
	nv_log_u64(&lr, "round", round);
	nv_log_bool(&lr, "final", final);
	nv_log_u64(&lr, "datasets", done);
	nv_log_u64(&lr, "failed", failed);
	nv_log_i64(&lr, "duration_ms", nv_now_ms() - t0);
	nv_log_end(&lr);
	return failed ? NV_EXIT_FAILED : NV_EXIT_OK;
}

/* sync --loop: the thread that waits for SIGTERM/SIGINT (blocked in every
 * thread) and wakes the loop. */
struct loop_wait {
	struct run *r;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC */
	bool stop;
	int signo;
};

static void *loop_signals(void *arg)
{
	struct loop_wait *w = arg;
	sigset_t set = stop_signals();
	int sig = 0;

	if (sigwait(&set, &sig))
		sig = SIGTERM;
	pthread_mutex_lock(&w->mu);
	w->signo = sig;
	w->stop = true;
	/* the deadline counts from the signal, also for a round under way */
	atomic_store(&w->r->stop_deadline_ms,
		     w->r->cfg.deadline_ms ? nv_now_ms() + w->r->cfg.deadline_ms : 0);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Sleep until until_ms (nv_now_ms) or a stop signal; true on the signal. */
static bool loop_sleep(struct loop_wait *w, int64_t until_ms)
{
	struct timespec ts;
	bool stop;

	ts.tv_sec = (time_t)(until_ms / 1000);
	ts.tv_nsec = (long)(until_ms % 1000) * 1000000L;
	pthread_mutex_lock(&w->mu);
	while (!w->stop && nv_now_ms() < until_ms)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT)
			break;
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

static bool loop_stopping(struct loop_wait *w)
{
	bool stop;

	pthread_mutex_lock(&w->mu);
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

/* Periodic rounds until a stop signal (a round under way then stops by the
 * deadline counted from the signal, HEAD untouched if it cannot finish),
 * then the final round of the quiet tree, network-volume copy included,
 * within that deadline; its exit code. nv_now_ms is CLOCK_MONOTONIC. */
static int sync_loop(struct run *r, struct nv_buf *target)
{
	struct loop_wait w = {r, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, 0};
	pthread_condattr_t ca;
	pthread_t th;
	struct nv_log_rec lr;
	unsigned round = 0;
	int64_t next;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&th, NULL, loop_signals, &w)) {
		pthread_cond_destroy(&w.cv);
		return NV_EXIT_FAILED;
	}
	nv_log_begin(&lr, NV_LOG_INFO, "sync.loop_started");
	nv_log_i64(&lr, "interval_ms", r->cfg.sync_interval_ms);
	nv_log_i64(&lr, "deadline_ms", r->cfg.deadline_ms);
	nv_log_end(&lr);
	for (;;) {
		next = nv_now_ms() + r->cfg.sync_interval_ms;
		sync_round(r, target, ++round, false);
		if (loop_stopping(&w) || loop_sleep(&w, next))
			break;
	}
	pthread_join(th, NULL);
	pthread_cond_destroy(&w.cv);
	r->deadline_ms = atomic_load(&r->stop_deadline_ms);
	/* nothing shares the store between rounds */
	nv_store_set_deadline(r->store, r->deadline_ms);
	nv_log_begin(&lr, NV_LOG_INFO, "sync.stopping");
	nv_log_str(&lr, "signal", w.signo == SIGINT ? "SIGINT" : "SIGTERM");
	nv_log_i64(&lr, "deadline_ms", r->cfg.deadline_ms);
	nv_log_end(&lr);
	return sync_round(r, target, ++round, true);
}

int nv_cli_sync(int argc, char **argv)
{
	struct run r;
	struct nv_buf target = NV_BUF_INIT(NV_PATH_BUF * 2);
	int ex;

	memset(&r, 0, sizeof(r));
	ex = run_setup(&r, argc, argv, false);
	if (ex)
		goto out;
	/* a single sync's deadline counts from its start; the loop's from
	 * the signal */
	if (r.loop) {
		r.deadline_ms = 0;
		nv_store_set_deadline(r.store, 0);
		ex = sync_loop(&r, &target);
	} else {
		ex = sync_round(&r, &target, 1, true);
	}
out:
	run_release(&r);
	nv_buf_release(&target);
	return ex < 0 ? NV_EXIT_OK : ex;
}
