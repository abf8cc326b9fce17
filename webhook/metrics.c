#include "metrics.h"

#include <stdatomic.h>

#include "tls.h"
#include "base/version.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const path_names[NV_MP__COUNT] = {"/mutate", "/healthz", "/readyz", "/metrics",
						     "other"};
/* Statuses the server answers with; anything else counts as "other". */
static const unsigned codes[] = {200, 400, 404, 405, 413, 415, 500, 503};
#define NCODES (NELEM(codes) + 1)

/* Upper bounds of the latency buckets, in microseconds. */
static const uint64_t bucket_us[] = {100,  250,	  500,	 1000,	 2500,
				     5000, 10000, 25000, 100000, 1000000};
#define NBUCKETS NELEM(bucket_us)

static atomic_ullong requests[NV_MP__COUNT][NCODES];
static atomic_ullong admissions[NV_ADM__COUNT];
static atomic_ullong lat_bucket[NBUCKETS + 1]; /* the last one is +Inf */
static atomic_ullong lat_sum_us, lat_count;

void nv_metrics_request(enum nv_metrics_path path, unsigned status)
{
	size_t i;

	if ((unsigned)path >= NV_MP__COUNT)
		path = NV_MP_OTHER;
	for (i = 0; i < NELEM(codes) && codes[i] != status; i++)
		;
	atomic_fetch_add_explicit(&requests[path][i], 1, memory_order_relaxed);
}

void nv_metrics_admission(enum nv_admission_result r, uint64_t duration_us)
{
	size_t i;

	if ((unsigned)r < NV_ADM__COUNT)
		atomic_fetch_add_explicit(&admissions[r], 1, memory_order_relaxed);
	for (i = 0; i < NBUCKETS && duration_us > bucket_us[i]; i++)
		;
	atomic_fetch_add_explicit(&lat_bucket[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_sum_us, duration_us, memory_order_relaxed);
	atomic_fetch_add_explicit(&lat_count, 1, memory_order_relaxed);
}

int nv_metrics_render(struct nv_buf *out, struct nv_error *err)
{
	unsigned long long cum = 0, n;
	size_t p, c, i;
	int rc;

	rc =
	    nv_buf_addstr(out,
			  "# HELP netvol_webhook_requests_total HTTP requests by path and status.\n"
			  "# TYPE netvol_webhook_requests_total counter\n",
			  err);
	for (p = 0; !rc && p < NV_MP__COUNT; p++) {
		for (c = 0; !rc && c < NCODES; c++) {
			n = atomic_load_explicit(&requests[p][c], memory_order_relaxed);
			if (!n)
				continue;
			if (c < NELEM(codes))
				rc = nv_buf_addf(
				    out, err,
				    "netvol_webhook_requests_total{path=\"%s\",code=\"%u\"} "
				    "%llu\n",
				    path_names[p], codes[c], n);
			else
				rc = nv_buf_addf(out, err,
						 "netvol_webhook_requests_total{path=\"%s\",code="
						 "\"other\"} %llu\n",
						 path_names[p], n);
		}
	}
	if (!rc)
		rc = nv_buf_addstr(
		    out,
		    "# HELP netvol_webhook_admissions_total Admission reviews by result.\n"
		    "# TYPE netvol_webhook_admissions_total counter\n",
		    err);
	for (i = 0; !rc && i < NV_ADM__COUNT; i++)
		rc = nv_buf_addf(out, err, "netvol_webhook_admissions_total{result=\"%s\"} %llu\n",
				 nv_admission_result_name((enum nv_admission_result)i),
				 atomic_load_explicit(&admissions[i], memory_order_relaxed));
	if (!rc)
		rc = nv_buf_addstr(
		    out,
		    "# HELP netvol_webhook_admission_duration_seconds Time to answer an admission "
		    "review, from its headers to the end of the response.\n"
		    "# TYPE netvol_webhook_admission_duration_seconds histogram\n",
		    err);
	for (i = 0; !rc && i <= NBUCKETS; i++) {
		cum += atomic_load_explicit(&lat_bucket[i], memory_order_relaxed);
		if (i < NBUCKETS)
			rc = nv_buf_addf(
			    out, err,
			    "netvol_webhook_admission_duration_seconds_bucket{le=\"%g\"} "
			    "%llu\n",
			    (double)bucket_us[i] / 1e6, cum);
		else
			rc = nv_buf_addf(
			    out, err,
			    "netvol_webhook_admission_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			    cum);
	}
	if (!rc)
		rc = nv_buf_addf(out, err,
				 "netvol_webhook_admission_duration_seconds_sum %.6f\n"
				 "netvol_webhook_admission_duration_seconds_count %llu\n",
				 (double)atomic_load_explicit(&lat_sum_us, memory_order_relaxed) /
				     1e6,
				 atomic_load_explicit(&lat_count, memory_order_relaxed));
	if (!rc)
		rc = nv_buf_addf(
		    out, err,
		    "# HELP netvol_webhook_tls_cert_not_after_seconds Expiry time of "
		    "the serving certificate (Unix time), 0 if none is loaded.\n"
		    "# TYPE netvol_webhook_tls_cert_not_after_seconds gauge\n"
		    "netvol_webhook_tls_cert_not_after_seconds %lld\n"
		    "# HELP netvol_webhook_tls_reloads_total Certificate pairs loaded.\n"
		    "# TYPE netvol_webhook_tls_reloads_total counter\n"
		    "netvol_webhook_tls_reloads_total %llu\n"
		    "# HELP netvol_webhook_tls_reload_errors_total Changed certificate "
		    "files that were refused (the old pair stayed).\n"
		    "# TYPE netvol_webhook_tls_reload_errors_total counter\n"
		    "netvol_webhook_tls_reload_errors_total %llu\n"
		    "# HELP netvol_webhook_tls_pairs Certificate pairs in memory (the current "
		    "one and replaced ones that open connections still use).\n"
		    "# TYPE netvol_webhook_tls_pairs gauge\n"
		    "netvol_webhook_tls_pairs %u\n",
		    (long long)nv_tls_not_after(), (unsigned long long)nv_tls_reloads(),
		    (unsigned long long)nv_tls_reload_errors(), nv_tls_pairs());
	if (!rc)
		rc = nv_buf_addf(out, err,
				 "# HELP netvol_webhook_build_info Build of the running webhook.\n"
				 "# TYPE netvol_webhook_build_info gauge\n"
				 "netvol_webhook_build_info{version=\"%s\",commit=\"%s\"} 1\n",
				 nv_version(), nv_git_commit());
	return rc;
}
