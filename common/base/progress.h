/* progress.h - progress lines for long transfers.
 *
 * A transfer calls nv_progress_add() as bytes move (from any thread); at most
 * every interval_ms one "progress" log line is written with bytes done/total,
 * the rate in MB/s and the ETA. nv_progress_finish() logs nothing; callers
 * write their own summary line.
 */
#ifndef NV_PROGRESS_H
#define NV_PROGRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct nv_progress {
	const char *what;    /* e.g. "restore" */
	const char *subject; /* e.g. the dataset name */
	uint64_t total;	     /* 0 if unknown */
	atomic_uint_least64_t done;
	int64_t start_ms;
	atomic_int_least64_t last_ms;
	int interval_ms;
};

/* Monotonic milliseconds. */
int64_t nv_now_ms(void);

void nv_progress_start(struct nv_progress *p, const char *what, const char *subject, uint64_t total,
		       int interval_ms);
void nv_progress_set_total(struct nv_progress *p, uint64_t total);
void nv_progress_add(struct nv_progress *p, uint64_t n);

#endif
