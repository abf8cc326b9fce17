#include "base/progress.h"

#include <time.h>

#include "base/log.h"

int64_t nv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void nv_progress_start(struct nv_progress *p, const char *what, const char *subject, uint64_t total,
		       int interval_ms)
{
	p->what = what;
	p->subject = subject;
	p->total = total;
	atomic_store(&p->done, 0);
	p->start_ms = nv_now_ms();
	atomic_store(&p->last_ms, p->start_ms);
	p->interval_ms = interval_ms > 0 ? interval_ms : 5000;
}

void nv_progress_set_total(struct nv_progress *p, uint64_t total)
{
	p->total = total;
}

void nv_progress_add(struct nv_progress *p, uint64_t n)
{
	uint64_t done = atomic_fetch_add(&p->done, n) + n;
	int64_t now = nv_now_ms();
	int64_t last = atomic_load(&p->last_ms);
	struct nv_log_rec r;
	double secs, rate;

	if (now - last < p->interval_ms)
		return;
	/* one thread wins the right to print this interval */
	if (!atomic_compare_exchange_strong(&p->last_ms, &last, now))
		return;
	secs = (double)(now - p->start_ms) / 1000.0;
	rate = secs > 0 ? (double)done / secs : 0;
	nv_log_begin(&r, NV_LOG_INFO, "progress");
	nv_log_str(&r, "op", p->what);
	if (p->subject)
		nv_log_str(&r, "dataset", p->subject);
	nv_log_u64(&r, "bytes_done", done);
	if (p->total)
		nv_log_u64(&r, "bytes_total", p->total);
	nv_log_dbl(&r, "mb_per_s", rate / 1e6, 1);
	if (p->total && rate > 0 && done <= p->total)
		nv_log_dbl(&r, "eta_s", (double)(p->total - done) / rate, 0);
	nv_log_end(&r);
}
