/* The retry policy (common/base/retry.c): which answers are retried, the
 * backoff, and when to stop (attempts, the deadline). */
#include "testutil.h"

#include "base/err.h"
#include "base/retry.h"

struct verdict_case {
	int transport;
	long status;
	char code[40];
	int want;
};

static struct verdict_case verdicts[] = {
    {NV_OK, 200, "", NV_RETRY_DONE},
    {NV_OK, 204, "", NV_RETRY_DONE},
    {NV_OK, 206, "", NV_RETRY_DONE},
    {NV_ENETWORK, 0, "", NV_RETRY_AGAIN}, /* reset, refused, truncated body */
    {NV_ETIMEOUT, 0, "", NV_RETRY_AGAIN}, /* connect timeout, stall */
    {NV_ETOOBIG, 0, "", NV_RETRY_FAIL},	  /* the caller's cap */
    {NV_ECONFIG, 0, "", NV_RETRY_FAIL},	  /* TLS verification */
    {NV_ENOMEM, 0, "", NV_RETRY_FAIL},
    {NV_OK, 500, "InternalError", NV_RETRY_AGAIN},
    {NV_OK, 500, "", NV_RETRY_AGAIN},
    {NV_OK, 502, "", NV_RETRY_AGAIN},
    {NV_OK, 503, "SlowDown", NV_RETRY_AGAIN},
    {NV_OK, 503, "ServiceUnavailable", NV_RETRY_AGAIN},
    {NV_OK, 504, "", NV_RETRY_AGAIN},
    {NV_OK, 429, "", NV_RETRY_AGAIN},
    {NV_OK, 400, "RequestTimeout", NV_RETRY_AGAIN},
    {NV_OK, 409, "ConditionalRequestConflict", NV_RETRY_AGAIN},
    {NV_OK, 200, "InternalError", NV_RETRY_AGAIN}, /* an error document with 200 */
    {NV_OK, 400, "BadDigest", NV_RETRY_FAIL},
    {NV_OK, 400, "InvalidArgument", NV_RETRY_FAIL},
    {NV_OK, 403, "SignatureDoesNotMatch", NV_RETRY_FAIL},
    {NV_OK, 403, "AccessDenied", NV_RETRY_FAIL},
    {NV_OK, 403, "InvalidAccessKeyId", NV_RETRY_FAIL},
    {NV_OK, 404, "NoSuchKey", NV_RETRY_FAIL},
    {NV_OK, 404, "", NV_RETRY_FAIL},
    {NV_OK, 412, "PreconditionFailed", NV_RETRY_FAIL},
    {NV_OK, 416, "InvalidRange", NV_RETRY_FAIL},
    {NV_OK, 301, "PermanentRedirect", NV_RETRY_FAIL},
};

ParameterizedTestParameters(retry, verdict)
{
	return cr_make_param_array(struct verdict_case, verdicts,
				   sizeof(verdicts) / sizeof(verdicts[0]));
}

ParameterizedTest(struct verdict_case *c, retry, verdict)
{
	cr_assert_eq(nv_retry_verdict(c->transport, c->status, c->code), c->want,
		     "transport %d status %ld code '%s'", c->transport, c->status, c->code);
}

Test(retry, backoff_full_jitter_bounds)
{
	uint64_t r;
	int a;

	cr_assert_eq(nv_retry_backoff_ms(0, 100, 20000, 12345), 0);
	for (a = 1; a < 12; a++) {
		uint64_t top = 100ull << (a - 1);

		if (top > 20000)
			top = 20000;
		/* the whole range [0, top] is reachable, nothing above it */
		cr_assert_eq(nv_retry_backoff_ms(a, 100, 20000, top), top);
		cr_assert_eq(nv_retry_backoff_ms(a, 100, 20000, top + 1), 0);
		for (r = 0; r < 100000; r += 997)
			cr_assert_leq(nv_retry_backoff_ms(a, 100, 20000, r * 7919), top);
	}
	cr_assert_leq(nv_retry_backoff_ms(1000, 100, 20000, UINT64_MAX), 20000);
}

struct plan_case {
	int max_attempts;
	int64_t deadline_ms; /* absolute; 0 = none */
	int attempt;
	uint64_t rnd;
	int64_t now_ms;
	enum nv_retry_stop want;
	uint64_t delay_ms;
};

/* base 100 ms, cap 2000 ms; rnd chosen so that the delay is rnd % (top + 1) */
static struct plan_case plans[] = {
    {5, 0, 1, 50, 1000, NV_RETRY_GO, 50},		/* top 100 */
    {5, 0, 2, 150, 1000, NV_RETRY_GO, 150},		/* top 200 */
    {5, 0, 4, 800, 1000, NV_RETRY_GO, 800},		/* top 800 */
    {5, 0, 4, 801, 1000, NV_RETRY_GO, 0},		/* 801 % 801 */
    {10, 0, 9, 2000, 1000, NV_RETRY_GO, 2000},		/* capped */
    {5, 0, 5, 50, 1000, NV_RETRY_EXHAUSTED, 0},		/* that was the last */
    {1, 0, 1, 50, 1000, NV_RETRY_EXHAUSTED, 0},		/* one attempt only */
    {5, 2000, 1, 50, 1000, NV_RETRY_GO, 50},		/* ends at 1050 < 2000 */
    {5, 1050, 1, 50, 1000, NV_RETRY_PAST_DEADLINE, 50}, /* would end at the deadline */
    {5, 1049, 1, 50, 1000, NV_RETRY_PAST_DEADLINE, 50},
    {5, 900, 1, 0, 1000, NV_RETRY_PAST_DEADLINE, 0},  /* already past */
    {5, 1040, 5, 50, 1000, NV_RETRY_EXHAUSTED, 0},    /* attempts end first */
    {100, 60000, 20, 1999, 57000, NV_RETRY_GO, 1999}, /* a long wait that still fits */
    {100, 60000, 20, 1999, 58000, NV_RETRY_GO, 1999},
    {100, 60000, 20, 1999, 58002, NV_RETRY_PAST_DEADLINE, 1999},
};

ParameterizedTestParameters(retry, plan)
{
	return cr_make_param_array(struct plan_case, plans, sizeof(plans) / sizeof(plans[0]));
}

ParameterizedTest(struct plan_case *c, retry, plan)
{
	struct nv_retry r = {c->max_attempts, 100, 2000, c->deadline_ms};
	uint64_t d = 12345;

	cr_assert_eq(nv_retry_plan(&r, c->attempt, c->rnd, c->now_ms, &d), c->want,
		     "attempt %d of %d at %lld, deadline %lld", c->attempt, c->max_attempts,
		     (long long)c->now_ms, (long long)c->deadline_ms);
	cr_assert_eq(d, c->delay_ms, "delay %llu", (unsigned long long)d);
}

Test(retry, sleep_and_random)
{
	uint64_t a = nv_retry_random(), b = nv_retry_random();

	cr_assert_neq(a, b, "two random draws were equal");
	nv_retry_sleep_ms(0);
	nv_retry_sleep_ms(2);
}
