/* netvol-webhook: option parsing and wiring. The mutation lives in
 * mutate.c (settings: mutate_config.c, patch helpers: jsonpatch.c), the
 * HTTPS server in server.c, certificate reloads in tls.c. main() runs the
 * phases parse, load, serve, drain on one struct app.
 *
 * Exit codes: 0 clean shutdown (SIGTERM/SIGINT) or --help, 1 the server
 * could not start, 2 usage or configuration error. */
#include <cjson/cJSON.h>
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
#include "arena.h"
#include "mutate.h"
#include "mutate_config.h"
#include "server.h"
#include "tls.h"
#include "base/version.h"

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
    "  --review FILE            offline: print the JSON Patch (decoded) the\n"
    "                           settings give the Pod or AdmissionReview in FILE\n"
    "                           (\"-\": stdin) and its warnings (to stderr); exit 0,\n"
    "                           2 when FILE is not one; needs no certificate\n"
    "  --shutdown-delay SECONDS  on SIGTERM keep serving this long with /readyz\n"
    "                           failing before draining, so the Service drops\n"
    "                           this endpoint first (default 0)\n"
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
	OPT_REVIEW,
	OPT_DELAY,
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
    {"review", required_argument, NULL, OPT_REVIEW},
    {"shutdown-delay", required_argument, NULL, OPT_DELAY},
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
	const char *review; /* --review FILE */
	uint64_t threads, max_body, conn_limit, timeout_s, shutdown_s, delay_s;
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

/* The whole program's state, phase by phase. */
struct app {
	struct opts o;
	const char *flag_vals[sizeof(setting_flags) / sizeof(setting_flags[0])];
	struct nv_config cfg;
	struct nv_mutate_config mc;
	bool cfg_loaded, mc_loaded;
	struct nv_server *srv;
	sigset_t sigs;
	int sig; /* the signal that ended serve() */
	struct nv_error err;
};

/* Phase 1: the command line. -1 to go on, else the exit code. */
static int parse(struct app *a, int argc, char **argv)
{
	struct opts *o = &a->o;
	size_t i;
	int c;

	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case OPT_LISTEN:
			o->listen = optarg;
			break;
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_CONFIG:
			o->config = optarg;
			break;
		case OPT_RESTORE:
			o->restore = true;
			break;
		case OPT_POD_ID:
			o->pod_id = true;
			break;
		case OPT_THREADS:
			if (number("threads", optarg, 1, 256, &o->threads))
				return 2;
			break;
		case OPT_MAX_BODY:
			if (number("max-body", optarg, 1024, 64u << 20, &o->max_body))
				return 2;
			break;
		case OPT_CONN:
			if (number("connection-limit", optarg, 1, 100000, &o->conn_limit))
				return 2;
			break;
		case OPT_TIMEOUT:
			if (number("timeout", optarg, 1, 3600, &o->timeout_s))
				return 2;
			break;
		case OPT_SHUTDOWN:
			if (number("shutdown-timeout", optarg, 0, 3600, &o->shutdown_s))
				return 2;
			break;
		case OPT_DELAY:
			if (number("shutdown-delay", optarg, 0, 300, &o->delay_s))
				return 2;
			break;
		case OPT_REVIEW:
			o->review = optarg;
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
			a->flag_vals[i] = optarg;
			break;
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	return -1;
}

/* Phase 2a: the mutation settings, the config file then the flags. */
static int load_settings(struct app *a)
{
	size_t i;
	int rc;

	if ((rc = nv_mutate_config_init(&a->mc, &a->err)))
		return rc;
	a->mc_loaded = true;
	if (a->o.config && (rc = nv_mutate_config_read(&a->mc, a->o.config, &a->err)))
		return rc;
	for (i = 0; i < sizeof(setting_flags) / sizeof(setting_flags[0]); i++)
		if (a->flag_vals[i] && (rc = nv_mutate_config_set(&a->mc, setting_flags[i].key,
								  a->flag_vals[i], &a->err)))
			return rc;
	if (a->o.restore)
		a->mc.restore.enabled = true;
	if (a->o.pod_id)
		a->mc.restore.pod_id_from_pod_name = true;
	return nv_mutate_config_check(&a->mc, &a->err);
}

/* Phase 2: environment, logging, settings and the certificate. -1 to go
 * on, else the exit code. */
static int load(struct app *a)
{
	struct opts *o = &a->o;
	bool changed;
	long ncpu;
	int rc;

	if (nv_config_load(&a->cfg, &a->err)) {
		fprintf(stderr, "netvol-webhook: %s\n", a->err.msg);
		return 2;
	}
	a->cfg_loaded = true;
	nv_log_setup(a->cfg.log_format, a->cfg.log_level, 2);
	if (!o->cert)
		o->cert = a->cfg.tls_cert;
	if (!o->key)
		o->key = a->cfg.tls_key;
	if (o->review) {
		if (load_settings(a)) {
			fprintf(stderr, "netvol-webhook: %s\n", a->err.msg);
			return 2;
		}
		return -1;
	}
	if (!o->cert || !*o->cert || !o->key || !*o->key)
		return usage_error("%s", "no TLS certificate: give --tls-cert and --tls-key (or "
					 "NETVOL_TLS_CERT and NETVOL_TLS_KEY)");
	nv_arena_use(true);
	if (load_settings(a) || nv_tls_init(o->cert, o->key, &a->err)) {
		fprintf(stderr, "netvol-webhook: %s\n", a->err.msg);
		return 2;
	}
	if (!o->threads) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		o->threads = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (uint64_t)ncpu;
	}
	rc = nv_tls_poll(&changed, &a->err);
	log_tls(rc, changed, &a->err);
	return -1;
}

/* Phase 3: start the server and serve until SIGTERM or SIGINT, polling the
 * certificate every second (and at once on SIGHUP). -1 when it stopped on
 * a signal, else the exit code. */
static int serve(struct app *a)
{
	struct nv_server_opts so;
	struct nv_log_rec l;
	bool changed;
	int rc;

	/* SIGTERM/SIGINT/SIGHUP go to sigtimedwait below, in every thread */
	sigemptyset(&a->sigs);
	sigaddset(&a->sigs, SIGTERM);
	sigaddset(&a->sigs, SIGINT);
	sigaddset(&a->sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &a->sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	so.listen = a->o.listen;
	so.threads = (unsigned)a->o.threads;
	so.max_body = (size_t)a->o.max_body;
	so.connection_limit = (unsigned)a->o.conn_limit;
	so.timeout_s = (unsigned)a->o.timeout_s;
	so.mutate = &a->mc;
	if ((rc = nv_server_start(&a->srv, &so, &a->err))) {
		nv_log_msg(NV_LOG_ERROR, "webhook.start_failed", "%s", a->err.msg);
		return rc == NV_EINVALID ? 2 : 1;
	}
	nv_log_begin(&l, NV_LOG_INFO, "webhook.start");
	nv_log_str(&l, "version", nv_version());
	nv_log_str(&l, "listen", a->o.listen);
	nv_log_u64(&l, "port", nv_server_port(a->srv));
	nv_log_u64(&l, "threads", a->o.threads);
	nv_log_str(&l, "workspace_volume", a->mc.workspace_volume);
	nv_log_str(&l, "env_name", a->mc.env_name);
	nv_log_bool(&l, "restore_sync", a->mc.restore.enabled);
	nv_log_bool(&l, "pod_id_from_pod_name", a->mc.restore.pod_id_from_pod_name);
	nv_log_bool(&l, "ready", nv_tls_ready());
	nv_log_end(&l);

	for (;;) {
		struct timespec tick = {1, 0};

		a->sig = sigtimedwait(&a->sigs, NULL, &tick);
		if (a->sig == SIGTERM || a->sig == SIGINT)
			return -1;
		rc = nv_tls_poll(&changed, &a->err);
		log_tls(rc, changed, &a->err);
	}
}

/* Phase 4a: --shutdown-delay. /readyz fails while requests are still
 * served, so the endpoint leaves the Service before connections are
 * refused; a second SIGTERM or SIGINT ends the wait. */
static void delay(struct app *a)
{
	struct timespec left = {(time_t)a->o.delay_s, 0};
	struct nv_log_rec l;

	if (!a->o.delay_s)
		return;
	nv_server_unready(a->srv);
	nv_log_begin(&l, NV_LOG_INFO, "webhook.unready");
	nv_log_str(&l, "signal", a->sig == SIGTERM ? "SIGTERM" : "SIGINT");
	nv_log_u64(&l, "delay_s", a->o.delay_s);
	nv_log_end(&l);
	for (;;) {
		int64_t t0 = now_ms(), spent;
		int sig = sigtimedwait(&a->sigs, NULL, &left);

		if (sig == SIGTERM || sig == SIGINT || (sig < 0 && errno == EAGAIN))
			return;
		spent = now_ms() - t0; /* SIGHUP or EINTR: wait for the rest */
		if (spent >= (int64_t)left.tv_sec * 1000)
			return;
		left.tv_sec -= (time_t)(spent / 1000);
	}
}

/* Phase 4: stop taking connections, wait up to --shutdown-timeout for the
 * requests in flight, stop. */
static void drain(struct app *a)
{
	int64_t t0 = now_ms(), deadline = t0 + (int64_t)a->o.shutdown_s * 1000;
	struct nv_log_rec l;
	unsigned left;

	nv_server_quiesce(a->srv);
	nv_log_begin(&l, NV_LOG_INFO, "webhook.stopping");
	nv_log_str(&l, "signal", a->sig == SIGTERM ? "SIGTERM" : "SIGINT");
	nv_log_u64(&l, "in_flight", nv_server_inflight(a->srv));
	nv_log_end(&l);
	while ((left = nv_server_inflight(a->srv)) > 0 && now_ms() < deadline) {
		struct timespec ms10 = {0, 10 * 1000 * 1000};

		nanosleep(&ms10, NULL);
	}
	nv_server_stop(a->srv);
	a->srv = NULL;
	nv_log_begin(&l, left ? NV_LOG_WARN : NV_LOG_INFO, "webhook.stop");
	nv_log_u64(&l, "abandoned", left);
	nv_log_u64(&l, "duration_ms", (uint64_t)(now_ms() - t0));
	nv_log_end(&l);
}

/* --review: read FILE whole (at most --max-body bytes). */
static int read_input(const char *path, struct nv_buf *b, struct nv_error *err)
{
	char chunk[8192];
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0, rc = NV_OK;
	ssize_t n;

	if (fd < 0)
		return nv_error_sys(err, NV_EINVALID, errno, "cannot open '%s'", path);
	while ((n = nv_fs_read_full(fd, chunk, sizeof(chunk))) > 0)
		if ((rc = nv_buf_add(b, chunk, (size_t)n, err))) {
			nv_error_prefix(err, "'%s'", path);
			break;
		}
	if (!rc && n < 0)
		rc = nv_error_sys(err, NV_EINVALID, errno, "cannot read '%s'", path);
	if (fd > 0)
		nv_fs_close(&fd);
	return rc;
}

/* --review: a Pod is wrapped into a CREATE AdmissionReview; an
 * AdmissionReview is reviewed as it is. */
static int review_body(const char *path, const struct nv_buf *in, struct nv_buf *body,
		       struct nv_error *err)
{
	cJSON *root = cJSON_ParseWithLength(in->p, in->len);
	const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
	int rc;

	if (!root || !cJSON_IsObject(root))
		rc = nv_error_set(err, NV_EINVALID, "'%s' is not a JSON object", path);
	else if (cJSON_IsString(kind) && !strcmp(kind->valuestring, "AdmissionReview"))
		rc = nv_buf_add(body, in->p, in->len, err);
	else if (cJSON_IsString(kind) && !strcmp(kind->valuestring, "Pod"))
		rc = nv_buf_addf(
		    body, err,
		    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		    "\"request\":{\"uid\":\"netvol-review\",\"kind\":{\"group\":\"\","
		    "\"version\":\"v1\",\"kind\":\"Pod\"},\"operation\":\"CREATE\","
		    "\"object\":%.*s}}",
		    (int)in->len, in->p);
	else
		rc = nv_error_set(err, NV_EINVALID, "'%s' is neither a Pod nor an AdmissionReview",
				  path);
	cJSON_Delete(root);
	return rc;
}

/* Phase 3 instead of serve(): --review FILE. The exit code. */
static int review(struct app *a)
{
	struct nv_buf in = NV_BUF_INIT((size_t)a->o.max_body);
	struct nv_buf body = NV_BUF_INIT((size_t)a->o.max_body + 4096);
	struct nv_admission adm;
	cJSON *resp = NULL, *patch = NULL, *w, *it;
	char *txt = NULL;
	int ret = 2;

	nv_arena_use(false);
	nv_admission_init(&adm);
	if (read_input(a->o.review, &in, &a->err) ||
	    review_body(a->o.review, &in, &body, &a->err) ||
	    nv_mutate_review(&a->mc, body.p, body.len, &adm, &a->err)) {
		fprintf(stderr, "netvol-webhook: --review: %s\n", a->err.msg);
		goto out;
	}
	resp = cJSON_Parse(adm.response.p);
	patch = adm.patch.len ? cJSON_Parse(adm.patch.p) : cJSON_CreateArray();
	if (!resp || !patch || !(txt = cJSON_Print(patch))) {
		fputs("netvol-webhook: --review: out of memory\n", stderr);
		ret = 1;
		goto out;
	}
	puts(txt);
	w = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(resp, "response"),
					     "warnings");
	cJSON_ArrayForEach(it, w)
	{
		if (cJSON_IsString(it))
			fprintf(stderr, "warning: %s\n", it->valuestring);
	}
	if (adm.reason[0])
		fprintf(stderr, "skipped: %s\n", adm.reason);
	ret = 0;
out:
	cJSON_free(txt);
	cJSON_Delete(patch);
	cJSON_Delete(resp);
	nv_admission_release(&adm);
	nv_buf_release(&in);
	nv_buf_release(&body);
	return ret;
}

static void release(struct app *a)
{
	nv_server_stop(a->srv);
	nv_tls_shutdown();
	if (a->mc_loaded)
		nv_mutate_config_release(&a->mc);
	if (a->cfg_loaded)
		nv_config_release(&a->cfg);
}

int main(int argc, char **argv)
{
	static struct app a = {.o = {.listen = ":8443",
				     .max_body = 4u << 20,
				     .conn_limit = 1000,
				     .timeout_s = 10,
				     .shutdown_s = 20},
			       .err = NV_ERROR_INIT};
	int ret;

	if ((ret = parse(&a, argc, argv)) >= 0)
		return ret;
	if ((ret = load(&a)) < 0 && a.o.review)
		ret = review(&a);
	else if (ret < 0 && (ret = serve(&a)) < 0) {
		delay(&a);
		drain(&a);
		ret = 0;
	}
	release(&a);
	return ret;
}
