#include "base/retry.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "base/err.h"

static bool code_in(const char *code, const char *const *list)
{
	if (!code || !*code)
		return false;
	for (; *list; list++)
		if (!strcmp(code, *list))
			return true;
	return false;
}

/* Error codes that mean "try again" whatever the status (S3 and STS). */
static const char *const retry_codes[] = {"SlowDown",
					  "RequestTimeout",
					  "InternalError",
					  "ServiceUnavailable",
					  "Throttling",
					  "ThrottlingException",
					  "RequestLimitExceeded",
					  "RequestThrottled",
					  "TooManyRequestsException",
					  "ConditionalRequestConflict",
					  "OperationAborted",
					  "IDPCommunicationError",
					  NULL};

enum nv_retry_verdict nv_retry_verdict(int transport_rc, long status, const char *code)
{
	if (transport_rc == NV_ENETWORK || transport_rc == NV_ETIMEOUT)
		return NV_RETRY_AGAIN;
	if (transport_rc != NV_OK)
		return NV_RETRY_FAIL;
	if (code_in(code, retry_codes))
		return NV_RETRY_AGAIN;
	if (status >= 200 && status <= 299)
		return NV_RETRY_DONE;
	if (status == 429 || status >= 500)
		return NV_RETRY_AGAIN;
	return NV_RETRY_FAIL;
}

uint64_t nv_retry_backoff_ms(int attempt, uint64_t base_ms, uint64_t cap_ms, uint64_t rnd)
{
	uint64_t top = base_ms;
	int i;

	if (attempt < 1)
		return 0;
	for (i = 1; i < attempt && top < cap_ms; i++)
		top *= 2;
	if (top > cap_ms)
		top = cap_ms;
	return rnd % (top + 1);
}

enum nv_retry_stop nv_retry_plan(const struct nv_retry *r, int attempt, uint64_t rnd,
				 int64_t now_ms, uint64_t *delay_ms)
{
	*delay_ms = 0;
	if (attempt >= r->max_attempts)
		return NV_RETRY_EXHAUSTED;
	*delay_ms = nv_retry_backoff_ms(attempt, r->base_ms, r->cap_ms, rnd);
	if (r->deadline_ms && now_ms + (int64_t)*delay_ms >= r->deadline_ms)
		return NV_RETRY_PAST_DEADLINE;
	return NV_RETRY_GO;
}

void nv_retry_sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

uint64_t nv_retry_random(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint64_t)time(NULL) * 6364136223846793005ull + (uint64_t)clock();
	return v;
}
