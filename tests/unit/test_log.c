#include "testutil.h"

#include <time.h>

#include "base/log.h"

static char *capture(int json, void (*fn)(void))
{
	static char out[8192];
	int p[2];
	ssize_t n;

	cr_assert(pipe(p) == 0);
	nv_log_setup(json ? NV_LOG_JSON : NV_LOG_TEXT, NV_LOG_INFO, p[1]);
	fn();
	close(p[1]);
	n = read(p[0], out, sizeof(out) - 1);
	close(p[0]);
	nv_log_setup(NV_LOG_TEXT, NV_LOG_INFO, 2);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static void emit(void)
{
	struct nv_log_rec r;

	nv_log_begin(&r, NV_LOG_INFO, "sync.done");
	nv_log_str(&r, "dataset", "venv");
	nv_log_str(&r, "path", "a b\"c");
	nv_log_u64(&r, "bytes", 42);
	nv_log_bool(&r, "used_nv", true);
	nv_log_end(&r);
	nv_log_begin(&r, NV_LOG_DEBUG, "hidden");
	nv_log_end(&r);
}

Test(log, text_line)
{
	char *o = capture(0, emit);

	cr_assert(strstr(o, " level=info event=sync.done dataset=venv path=\"a b\\\"c\" bytes=42 "
			    "used_nv=true\n"),
		  "%s", o);
	cr_assert_null(strstr(o, "hidden"));
	cr_assert_eq(strchr(o, '\n'), o + strlen(o) - 1, "one line");
}

Test(log, json_line)
{
	char *o = capture(1, emit);

	cr_assert(o[0] == '{', "%s", o);
	cr_assert(strstr(o, "\"level\":\"info\",\"event\":\"sync.done\",\"dataset\":\"venv\","
			    "\"path\":\"a b\\\"c\",\"bytes\":42,\"used_nv\":true}\n"),
		  "%s", o);
}

static void emit_long(void)
{
	struct nv_log_rec r;
	char big[10000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	nv_log_begin(&r, NV_LOG_WARN, "long");
	nv_log_str(&r, "v", big);
	nv_log_end(&r);
}

Test(log, long_values_are_cut_not_overflowed)
{
	char *o = capture(1, emit_long);

	cr_assert(strlen(o) < NV_LOG_LINE_MAX + 1);
	cr_assert_eq(o[strlen(o) - 1], '\n');
	cr_assert_eq(o[strlen(o) - 2], '}');
}

Test(log, parse)
{
	cr_assert_eq(nv_log_format_parse("json"), NV_LOG_JSON);
	cr_assert_eq(nv_log_format_parse("yaml"), -1);
	cr_assert_eq(nv_log_level_parse("warn"), NV_LOG_WARN);
	cr_assert_eq(nv_log_level_parse("x"), -1);
}

static void emit_over_a_second(void)
{
	struct nv_log_rec r;
	int i;

	for (i = 0; i < 3; i++) {
		nv_log_begin(&r, NV_LOG_INFO, "tick");
		nv_log_end(&r);
		if (i == 1)
			usleep(1100 * 1000);
	}
}

/* The formatted second is kept per thread: every line still carries its
 * own time, in UTC, and the second moves on. */
Test(log, timestamps_follow_the_clock)
{
	char *o = capture(0, emit_over_a_second), *line = o;
	char ts[3][32];
	int n = 0;
	time_t now = time(NULL);
	struct tm tm;
	char want[16];

	while (n < 3 && sscanf(line, "%31s level=info event=tick", ts[n]) == 1) {
		cr_assert_eq(strlen(ts[n]), 24, "%s", ts[n]);
		cr_assert(ts[n][10] == 'T' && ts[n][19] == '.' && ts[n][23] == 'Z', "%s", ts[n]);
		n++;
		line = strchr(line, '\n') + 1;
	}
	cr_assert_eq(n, 3, "%s", o);
	gmtime_r(&now, &tm);
	strftime(want, sizeof(want), "%Y-%m-%d", &tm);
	cr_assert(!strncmp(ts[2], want, 10) || now % 86400 < 5, "%s vs %s", ts[2], want);
	cr_assert(strcmp(ts[0], ts[1]) <= 0 && strncmp(ts[1], ts[2], 19) < 0, "%s %s %s", ts[0],
		  ts[1], ts[2]);
}
