/* retry.h - the one retry policy of every remote call: S3 requests, the
 * multipart completion, and the STS / container-credentials exchanges.
 *
 * Which answers are worth another attempt (nv_retry_verdict), how long to
 * wait before it (capped exponential backoff with full jitter), and when to
 * stop: after max_attempts, or when the wait would end past the deadline
 * (NETVOL_DEADLINE, so a preStop sync never overruns it in a backoff sleep).
 *
 *   struct nv_retry r = {attempts, base_ms, cap_ms, deadline_ms};
 *   for (attempt = 1;; attempt++) {
 *       ... one exchange; verdict = nv_retry_verdict(...) ...
 *       if (verdict != NV_RETRY_AGAIN) break;
 *       stop = nv_retry_plan(&r, attempt, random, nv_now_ms(), &delay_ms);
 *       if (stop != NV_RETRY_GO) break;   (NV_RETRY_PAST_DEADLINE: NV_EDEADLINE)
 *       log; nv_retry_sleep_ms(delay_ms);
 *   }
 */
#ifndef NV_RETRY_H
#define NV_RETRY_H

#include <stdint.h>

enum nv_retry_verdict {
	NV_RETRY_DONE,	/* a 2xx answer */
	NV_RETRY_AGAIN, /* network error, timeout, 5xx, 429, throttling codes */
	NV_RETRY_FAIL,	/* anything else: retrying cannot help */
};

/* transport_rc: nv_http_do's return; status: the HTTP status (when
 * transport_rc is NV_OK); code: the S3/STS error code of the body, or
 * NULL/"". */
enum nv_retry_verdict nv_retry_verdict(int transport_rc, long status, const char *code);

/* Full-jitter backoff before the attempt after `attempt` (1-based):
 * rnd % (min(cap, base * 2^(attempt-1)) + 1); 0 for attempt < 1. */
uint64_t nv_retry_backoff_ms(int attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd);

struct nv_retry {
	int max_attempts;    /* attempts in all, >= 1 */
	uint64_t base_ms;    /* first backoff's upper bound */
	uint64_t cap_ms;     /* largest backoff */
	int64_t deadline_ms; /* absolute nv_now_ms() value; 0 = none */
};

enum nv_retry_stop {
	NV_RETRY_GO,	       /* wait *delay_ms, then try again */
	NV_RETRY_EXHAUSTED,    /* that was the last attempt */
	NV_RETRY_PAST_DEADLINE /* the wait would end at or past the deadline */
};

/* After attempt number `attempt` failed with NV_RETRY_AGAIN at now_ms:
 * whether and how long to wait. Pure (rnd and now_ms come from the
 * caller), so the table tests pin it down. */
enum nv_retry_stop nv_retry_plan(const struct nv_retry *r, int attempt, uint64_t rnd,
				 int64_t now_ms, uint64_t *delay_ms);

/* Sleep ms milliseconds (EINTR resumed). */
void nv_retry_sleep_ms(uint64_t ms);

/* A random 64-bit number for the jitter (not for secrets). */
uint64_t nv_retry_random(void);

#endif
