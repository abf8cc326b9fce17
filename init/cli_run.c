/* netvol restore / netvol sync / netvol install: the pod-facing verbs. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "engine.h"
#include "fs.h"
#include "keys.h"
#include "log.h"
#include "mem.h"
#include "progress.h"
#include "store.h"
#include "volume.h"

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
    {"dry-run", no_argument, NULL, 'n'},
    {"install-to", required_argument, NULL, 'i'},
    {"snapshot", required_argument, NULL, 's'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
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
		    "usage: netvol sync [--dry-run] [DATASET...]\n\n"
		    "In the preStop hook: for each dataset, copy it onto the network volume when\n"
		    "that is usable and lacks it, then upload a snapshot of the folder the pod\n"
		    "used to the store (only new data is sent; HEAD moves last). NETVOL_DEADLINE\n"
		    "makes it stop cleanly, HEAD untouched, before the pod is killed.\n\n"
		    "  --dry-run  say what would be uploaded, change nothing\n\n"
		    "exit codes: 0 ok, 1 a dataset failed, 2 usage or configuration error\n");
}

struct run {
	struct nv_config cfg;
	struct nv_store *store;
	struct nv_store *base; /* NETVOL_STORE itself, opened for the format-1 check */
	struct nv_volume_probe probe;
	bool *sel;
	bool dry_run;
	const char *install_to;
	unsigned char snapshot[NV_HASH_LEN];
	bool has_snapshot;
	int64_t start_ms, deadline_ms;
};

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
		case 'h':
			run_usage(stdout, restore);
			return -1;
		default:
			goto usage;
		}
	}
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

		rc = nv_restore_dataset(&o, &res, &e);
		if (!rc && res.fresh)
			warn_format1(r, ds);
		if (!rc) {
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
			   r->dry_run	       ? "would_copy"
			   : crc == NV_OK      ? "copied"
			   : crc == NV_EEXISTS ? "lost_race_discarded"
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

int nv_cli_sync(int argc, char **argv)
{
	struct run r;
	struct nv_buf target = NV_BUF_INIT(NV_PATH_BUF * 2);
	size_t i, failed = 0, done = 0;
	int ex;

	memset(&r, 0, sizeof(r));
	ex = run_setup(&r, argc, argv, false);
	if (ex)
		goto out;
	for (i = 0; i < r.cfg.ndatasets; i++) {
		if (!r.sel[i])
			continue;
		done++;
		if (sync_one(&r, i, &target))
			failed++;
	}
	ex = summary("sync.summary", &r, done, failed);
out:
	run_release(&r);
	nv_buf_release(&target);
	return ex < 0 ? NV_EXIT_OK : ex;
}
