/* netvol-webhook: option parsing and wiring. The mutation lives in
 * mutate.c, the HTTPS server in server.c, certificate reloads in tls.c.
 *
 * Exit codes: 0 clean shutdown (SIGTERM/SIGINT) or --help, 1 the server
 * could not start, 2 usage or configuration error. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/mem.h"
#include "mutate.h"
#include "server.h"
#include "tls.h"
#include "base/version.h"

#define CONFIG_FILE_MAX (1u << 20)

static const char usage[] =
    "usage: netvol-webhook [options]\n"
    "\n"
    "HTTPS mutating admission webhook: POST /mutate adds _NETWORK_VOLUME (and,\n"
    "with restore-sync, the netvol restore init container and sync hook) to pods.\n"
    "Also GET /healthz, /readyz, /metrics. See docs/WEBHOOK.md.\n"
    "\n"
    "  --listen ADDR            address to serve on (default :8443; HOST:PORT, [V6]:PORT)\n"
    "  --tls-cert FILE          certificate chain, PEM (or NETVOL_TLS_CERT)\n"
    "  --tls-key FILE           private key, PEM (or NETVOL_TLS_KEY)\n"
    "                           both are reloaded when the files change\n"
    "  --config FILE            JSON mutation settings (workspaceVolume, envName,\n"
    "                           restoreSync{...}); flags below override it\n"
    "  --workspace-volume NAME  workspace volume name (default workspace)\n"
    "  --env-name NAME          env var to set (default _NETWORK_VOLUME)\n"
    "  --restore-sync           turn the full injection on for every pod\n"
    "  --pod-id-from-pod-name   inject POD_ID = the pod's name into a target\n"
    "                           container that sets none\n"
    "  --restore-image IMAGE    image of the netvol-restore init container\n"
    "  --data-volume NAME       volume holding NETWORK_VOLUME (default data)\n"
    "  --store-secret NAME      secret with the store settings (default netvol-store)\n"
    "  --threads N              server threads (default: the number of CPUs)\n"
    "  --max-body BYTES         largest request body (default 4194304)\n"
    "  --connection-limit N     open connections at most (default 1000)\n"
    "  --timeout SECONDS        idle connection timeout (default 10)\n"
    "  --shutdown-timeout SECONDS  wait this long for requests in flight on\n"
    "                           SIGTERM (default 20)\n"
    "  --version                print the version\n"
    "  --help                   this text\n"
    "\n"
    "Logs: NETVOL_LOG_FORMAT=text|json, NETVOL_LOG_LEVEL=debug|info|warn|error.\n"
    "Exit codes: 0 shut down cleanly, 1 cannot serve, 2 usage or configuration.\n";

enum {
	OPT_LISTEN = 256,
	OPT_CERT,
	OPT_KEY,
	OPT_CONFIG,
	OPT_WORKSPACE,
	OPT_ENV,
	OPT_RESTORE,
	OPT_POD_ID,
	OPT_IMAGE,
	OPT_DATA,
	OPT_SECRET,
	OPT_THREADS,
	OPT_MAX_BODY,
	OPT_CONN,
	OPT_TIMEOUT,
	OPT_SHUTDOWN,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option options[] = {
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"tls-cert", required_argument, NULL, OPT_CERT},
    {"tls-key", required_argument, NULL, OPT_KEY},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"workspace-volume", required_argument, NULL, OPT_WORKSPACE},
    {"env-name", required_argument, NULL, OPT_ENV},
    {"restore-sync", no_argument, NULL, OPT_RESTORE},
    {"pod-id-from-pod-name", no_argument, NULL, OPT_POD_ID},
    {"restore-image", required_argument, NULL, OPT_IMAGE},
    {"data-volume", required_argument, NULL, OPT_DATA},
    {"store-secret", required_argument, NULL, OPT_SECRET},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"connection-limit", required_argument, NULL, OPT_CONN},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN},
    {"version", no_argument, NULL, OPT_VERSION},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* Flags that set a mutation setting, by config-file key. */
static const struct {
	int opt;
	const char *key;
} setting_flags[] = {
    {OPT_WORKSPACE, "workspaceVolume"},	     {OPT_ENV, "envName"},
    {OPT_IMAGE, "restoreSync.image"},	     {OPT_DATA, "restoreSync.dataVolume"},
    {OPT_SECRET, "restoreSync.storeSecret"},
};

struct opts {
	const char *listen;
	const char *cert, *key, *config;
	uint64_t threads, max_body, conn_limit, timeout_s, shutdown_s;
	bool restore, pod_id;
};

static int usage_error(const char *fmt, const char *arg)
{
	fputs("netvol-webhook: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'netvol-webhook --help'.\n", stderr);
	return 2;
}

static int number(const char *name, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	if (nv_str_to_u64(nv_str_from(v), min, max, out)) {
		fprintf(stderr, "netvol-webhook: --%s '%s': want a number from %llu to %llu\n",
			name, v, (unsigned long long)min, (unsigned long long)max);
		return 2;
	}
	return 0;
}

static int read_config_file(const char *path, struct nv_mutate_config *mc, struct nv_error *err)
{
	struct nv_buf b = NV_BUF_INIT(CONFIG_FILE_MAX);
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = NV_OK;
	ssize_t n;

	if (fd < 0)
		return nv_error_sys(err, NV_ECONFIG, errno, "cannot open config '%s'", path);
	while ((n = nv_fs_read_full(fd, chunk, sizeof(chunk))) > 0) {
		if ((rc = nv_buf_add(&b, chunk, (size_t)n, err))) {
			nv_error_prefix(err, "config '%s'", path);
			goto out;
		}
	}
	if (n < 0) {
		rc = nv_error_sys(err, NV_ECONFIG, errno, "cannot read config '%s'", path);
		goto out;
	}
	rc = nv_mutate_config_parse(mc, b.p, b.len, path, err);
out:
	nv_fs_close(&fd);
	nv_buf_release(&b);
	return rc;
}

static void log_tls(int rc, bool changed, const struct nv_error *err)
{
	struct nv_log_rec l;

	if (rc) {
		nv_log_begin(&l, NV_LOG_ERROR, "tls.reload_failed");
		nv_log_str(&l, "msg", err->msg);
		nv_log_bool(&l, "serving_old", nv_tls_ready());
		nv_log_end(&l);
	} else if (changed) {
		nv_log_begin(&l, NV_LOG_INFO, "tls.loaded");
		nv_log_i64(&l, "not_after", nv_tls_not_after());
		nv_log_end(&l);
	}
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct opts o = {.listen = ":8443",
			 .max_body = 4u << 20,
			 .conn_limit = 1000,
			 .timeout_s = 10,
			 .shutdown_s = 20};
	struct nv_config cfg;
	struct nv_mutate_config mc;
	struct nv_error err = NV_ERROR_INIT;
	struct nv_server *srv = NULL;
	struct nv_server_opts so;
	struct nv_log_rec l;
	const char *flag_vals[sizeof(setting_flags) / sizeof(setting_flags[0])] = {0};
	sigset_t sigs;
	long ncpu;
	int c, rc, ret = 2, sig = 0;
	size_t i;
	bool changed, cfg_loaded = false, mc_loaded = false;

	memset(&cfg, 0, sizeof(cfg));
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			o.listen = optarg;
			break;
		case OPT_CERT:
			o.cert = optarg;
			break;
		case OPT_KEY:
			o.key = optarg;
			break;
		case OPT_CONFIG:
			o.config = optarg;
			break;
		case OPT_RESTORE:
			o.restore = true;
			break;
		case OPT_POD_ID:
			o.pod_id = true;
			break;
		case OPT_THREADS:
			if (number("threads", optarg, 1, 256, &o.threads))
				return 2;
			break;
		case OPT_MAX_BODY:
			if (number("max-body", optarg, 1024, 64u << 20, &o.max_body))
				return 2;
			break;
		case OPT_CONN:
			if (number("connection-limit", optarg, 1, 100000, &o.conn_limit))
				return 2;
			break;
		case OPT_TIMEOUT:
			if (number("timeout", optarg, 1, 3600, &o.timeout_s))
				return 2;
			break;
		case OPT_SHUTDOWN:
			if (number("shutdown-timeout", optarg, 0, 3600, &o.shutdown_s))
				return 2;
			break;
		case OPT_VERSION:
			printf("netvol-webhook %s (%s)\n", nv_version(), nv_git_commit());
			return 0;
		case OPT_HELP:
			fputs(usage, stdout);
			return 0;
		default:
			for (i = 0; i < sizeof(setting_flags) / sizeof(setting_flags[0]); i++)
				if (setting_flags[i].opt == c)
					break;
			if (i == sizeof(setting_flags) / sizeof(setting_flags[0])) {
				fputs("Try 'netvol-webhook --help'.\n", stderr);
				return 2;
			}
			flag_vals[i] = optarg;
			break;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);

	if (nv_config_load(&cfg, &err)) {
		fprintf(stderr, "netvol-webhook: %s\n", err.msg);
		return 2;
	}
	cfg_loaded = true;
	nv_log_setup(cfg.log_format, cfg.log_level, 2);
	if (!o.cert)
		o.cert = cfg.tls_cert;
	if (!o.key)
		o.key = cfg.tls_key;
	if (!o.cert || !*o.cert || !o.key || !*o.key) {
		ret = usage_error("%s", "no TLS certificate: give --tls-cert and --tls-key (or "
					"NETVOL_TLS_CERT and NETVOL_TLS_KEY)");
		goto out;
	}

	nv_mutate_use_arena(true);
	if ((rc = nv_mutate_config_init(&mc, &err)))
		goto config_error;
	mc_loaded = true;
	if (o.config && (rc = read_config_file(o.config, &mc, &err)))
		goto config_error;
	for (i = 0; i < sizeof(setting_flags) / sizeof(setting_flags[0]); i++)
		if (flag_vals[i] &&
		    (rc = nv_mutate_config_set(&mc, setting_flags[i].key, flag_vals[i], &err)))
			goto config_error;
	if (o.restore)
		mc.restore.enabled = true;
	if (o.pod_id)
		mc.restore.pod_id_from_pod_name = true;
	if ((rc = nv_mutate_config_check(&mc, &err)))
		goto config_error;

	if (!o.threads) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o.threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (uint64_t)ncpu;
	}
	if ((rc = nv_tls_init(o.cert, o.key, &err)))
		goto config_error;
	rc = nv_tls_poll(&changed, &err);
	log_tls(rc, changed, &err);

	/* SIGTERM/SIGINT/SIGHUP go to sigtimedwait below, in every thread */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	so.listen = o.listen;
	so.threads = (unsigned)o.threads;
	so.max_body = (size_t)o.max_body;
	so.connection_limit = (unsigned)o.conn_limit;
	so.timeout_s = (unsigned)o.timeout_s;
	so.mutate = &mc;
	if ((rc = nv_server_start(&srv, &so, &err))) {
		nv_log_msg(NV_LOG_ERROR, "webhook.start_failed", "%s", err.msg);
		ret = rc == NV_EINVALID ? 2 : 1;
		goto out;
	}
	nv_log_begin(&l, NV_LOG_INFO, "webhook.start");
	nv_log_str(&l, "version", nv_version());
	nv_log_str(&l, "listen", o.listen);
	nv_log_u64(&l, "port", nv_server_port(srv));
	nv_log_u64(&l, "threads", o.threads);
	nv_log_str(&l, "workspace_volume", mc.workspace_volume);
	nv_log_str(&l, "env_name", mc.env_name);
	nv_log_bool(&l, "restore_sync", mc.restore.enabled);
	nv_log_bool(&l, "pod_id_from_pod_name", mc.restore.pod_id_from_pod_name);
	nv_log_bool(&l, "ready", nv_tls_ready());
	nv_log_end(&l);

	for (;;) {
		struct timespec tick = {1, 0};

		sig = sigtimedwait(&sigs, NULL, &tick);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* every second, and at once on SIGHUP: did the certificate change? */
		rc = nv_tls_poll(&changed, &err);
		log_tls(rc, changed, &err);
	}

	{
		int64_t t0 = now_ms(), deadline = t0 + (int64_t)o.shutdown_s * 1000;
		unsigned left;

		nv_server_quiesce(srv);
		nv_log_begin(&l, NV_LOG_INFO, "webhook.stopping");
		nv_log_str(&l, "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		nv_log_u64(&l, "in_flight", nv_server_inflight(srv));
		nv_log_end(&l);
		while ((left = nv_server_inflight(srv)) > 0 && now_ms() < deadline) {
			struct timespec ms10 = {0, 10 * 1000 * 1000};

			nanosleep(&ms10, NULL);
		}
		nv_server_stop(srv);
		srv = NULL;
		nv_log_begin(&l, left ? NV_LOG_WARN : NV_LOG_INFO, "webhook.stop");
		nv_log_u64(&l, "abandoned", left);
		nv_log_u64(&l, "duration_ms", (uint64_t)(now_ms() - t0));
		nv_log_end(&l);
	}
	ret = 0;
	goto out;

config_error:
	fprintf(stderr, "netvol-webhook: %s\n", err.msg);
	ret = 2;
out:
	nv_server_stop(srv);
	nv_tls_shutdown();
	if (mc_loaded)
		nv_mutate_config_release(&mc);
	if (cfg_loaded)
		nv_config_release(&cfg);
	return ret;
}
