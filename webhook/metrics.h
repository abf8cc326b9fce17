/* metrics.h - the webhook's Prometheus counters (process-wide, lock-free).
 *
 * Requests are counted by route and HTTP status, admissions by result, and
 * admission latency in a histogram; nv_metrics_render() writes them all,
 * plus the certificate expiry and build info, in the Prometheus text format
 * (version 0.0.4).
 */
#ifndef NV_WEBHOOK_METRICS_H
#define NV_WEBHOOK_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "mutate.h"

/* Route labels: the paths of the static route table, then "other". */
enum nv_metrics_path {
	NV_MP_MUTATE,
	NV_MP_HEALTHZ,
	NV_MP_READYZ,
	NV_MP_METRICS,
	NV_MP_OTHER,
	NV_MP__COUNT
};

void nv_metrics_request(enum nv_metrics_path path, unsigned status);
void nv_metrics_admission(enum nv_admission_result r, uint64_t duration_us);
int nv_metrics_render(struct nv_buf *out, struct nv_error *err);

#endif
