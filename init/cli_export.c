/* netvol export --legacy: the latest snapshots as the shell scripts'
 * objects (engine/export.h), so a cluster can go back to the scripts. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/log.h"
#include "cli.h"
#include "engine/export.h"
#include "store/keys.h"
#include "store/store.h"

static const struct option export_opts[] = {
    {"legacy", no_argument, NULL, 'l'},
    {"user", required_argument, NULL, 'u'},
    {"dry-run", no_argument, NULL, 'n'},
    {"force", no_argument, NULL, 'f'},
    {"chunk-size", required_argument, NULL, 'c'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void export_usage(FILE *out)
{
	fprintf(
	    out,
	    "usage: netvol export --legacy [--user U] [--dry-run] [--force] [--chunk-size BYTES]\n"
	    "                     [DATASET...]\n\n"
	    "Write the latest snapshot of each dataset (all the scripts knew, when none is\n"
	    "named) as the shell scripts' objects below NETVOL_LEGACY_STORE/<user>: venv\n"
	    "chunks with their checksums, _comfyui.tar.gz, _cache.tar.gz, custom_nodes.tar.gz,\n"
	    "<POD_ID>/comfyui_pod_specific_data.tar.gz. An existing object is kept unless\n"
	    "--force.\n\n"
	    "  --legacy   the shell scripts' layout (the only export there is)\n"
	    "  --user U   this user (default POD_USER_NAME)\n"
	    "  --dry-run  build the objects, store nothing\n"
	    "  --force    overwrite legacy objects that exist\n\n"
	    "exit codes: 0 ok, 1 a dataset failed, 2 usage or configuration error\n");
}

struct report_ctx {
	size_t written, kept;
};

static void report(void *ud, const char *dataset, const char *key, uint64_t bytes, uint64_t files,
		   const char *result)
{
	struct report_ctx *r = ud;
	struct nv_log_rec lr;

	r->written += strcmp(result, "exists_kept") != 0;
	r->kept += strcmp(result, "exists_kept") == 0;
	nv_log_begin(&lr, strcmp(result, "exists_kept") ? NV_LOG_INFO : NV_LOG_WARN,
		     "export.object");
	nv_log_str(&lr, "dataset", dataset);
	nv_log_str(&lr, "key", key);
	nv_log_str(&lr, "result", result);
	nv_log_u64(&lr, "bytes", bytes);
	nv_log_u64(&lr, "files", files);
	nv_log_end(&lr);
}

int nv_cli_export(int argc, char **argv)
{
	struct nv_config cfg;
	struct nv_store *store = NULL, *legacy = NULL;
	struct nv_buf url = NV_BUF_INIT(4096);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_export_opts o = {0};
	struct report_ctx rc_ = {0, 0};
	const char *user = NULL;
	bool want_legacy = false;
	size_t i, failed = 0, done = 0;
	int c, a, ex;

	memset(&cfg, 0, sizeof(cfg));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", export_opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			want_legacy = true;
			break;
		case 'u':
			user = optarg;
			break;
		case 'n':
			o.dry_run = true;
			break;
		case 'f':
			o.force = true;
			break;
		case 'c':
			if (nv_str_to_u64((struct nv_str){optarg, strlen(optarg)}, 1, 1ull << 40,
					  &o.chunk_bytes)) {
				fprintf(stderr,
					"netvol export: --chunk-size wants bytes (1 to 2^40)\n");
				return NV_EXIT_USAGE;
			}
			break;
		case 'h':
			export_usage(stdout);
			return NV_EXIT_OK;
		default:
			export_usage(stderr);
			return NV_EXIT_USAGE;
		}
	}
	if (!want_legacy) {
		fprintf(stderr, "netvol export: say --legacy (the shell scripts' layout)\n");
		return NV_EXIT_USAGE;
	}
	if ((ex = nv_cli_setup(&cfg, "export")))
		return ex;
	if (nv_config_check_identity("--user", user, &e)) {
		fprintf(stderr, "netvol export: %s\n", e.msg);
		ex = NV_EXIT_USAGE;
		goto out;
	}
	if (!user)
		user = cfg.pod_user;
	if (!user || !cfg.legacy_base) {
		fprintf(stderr, "netvol export: %s\n",
			!user ? "no user: set POD_USER_NAME or name one with --user U"
			      : "no legacy base: set NETVOL_LEGACY_STORE or AWS_BUCKET_NAME");
		ex = NV_EXIT_USAGE;
		goto out;
	}
	for (a = optind; a < argc; a++) {
		bool found = false;

		for (i = 0; i < cfg.ndatasets; i++)
			found |= !strcmp(cfg.datasets[i].path, argv[a]);
		if (!found) {
			fprintf(stderr, "netvol export: '%s' is not a configured dataset\n",
				argv[a]);
			ex = NV_EXIT_USAGE;
			goto out;
		}
	}
	if (nv_store_open_user(&cfg, user, &store, &e) ||
	    nv_keys_user_root(cfg.legacy_base, user, &url, &e) ||
	    nv_store_open_url(url.p, &cfg, &legacy, &e)) {
		fprintf(stderr, "netvol export: %s\n", e.msg);
		ex = nv_cli_exit_for(e.code);
		goto out;
	}
	o.store = store;
	o.legacy = legacy;
	o.pod_id = cfg.pod_id;
	for (i = 0; i < cfg.ndatasets; i++) {
		const struct nv_dataset *ds = &cfg.datasets[i];
		bool named = optind == argc;
		int rc;

		for (a = optind; a < argc; a++)
			named |= !strcmp(ds->path, argv[a]);
		if (!named)
			continue;
		if (ds->scope == NV_SCOPE_POD && !cfg.pod_id && optind == argc)
			continue; /* all datasets: the pod's only with a POD_ID */
		rc = nv_export_dataset(&o, ds, report, &rc_, &e);
		if (rc == NV_ENOTFOUND || (rc == NV_EINVALID && optind == argc)) {
			struct nv_log_rec lr;

			nv_log_begin(&lr, NV_LOG_INFO, "export.skipped");
			nv_log_str(&lr, "dataset", ds->path);
			nv_log_str(&lr, "reason", rc == NV_ENOTFOUND ? "no snapshot" : e.msg);
			nv_log_end(&lr);
			e.code = NV_OK;
			continue;
		}
		done++;
		if (rc) {
			nv_cli_log_error("export.failed", ds->path, &e);
			failed++;
		}
	}
	{
		struct nv_log_rec lr;

		nv_log_begin(&lr, failed ? NV_LOG_ERROR : NV_LOG_INFO, "export.summary");
		nv_log_str(&lr, "user", user);
		nv_log_u64(&lr, "datasets", done);
		nv_log_u64(&lr, "failed", failed);
		nv_log_u64(&lr, "objects", rc_.written);
		nv_log_u64(&lr, "kept_existing", rc_.kept);
		nv_log_bool(&lr, "dry_run", o.dry_run);
		nv_log_end(&lr);
	}
	ex = failed ? NV_EXIT_FAILED : NV_EXIT_OK;
out:
	nv_store_close(store);
	nv_store_close(legacy);
	nv_buf_release(&url);
	nv_config_release(&cfg);
	return ex;
}
