#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"

#define MAX_SECRETS 32

static enum nv_log_format log_format = NV_LOG_TEXT;
static enum nv_log_level log_min = NV_LOG_INFO;
static int log_fd = 2;
static pthread_mutex_t secrets_lock = PTHREAD_MUTEX_INITIALIZER;
static char *secrets[MAX_SECRETS];
static size_t nsecrets;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void nv_log_setup(enum nv_log_format fmt, enum nv_log_level min_level, int fd)
{
	log_format = fmt;
	log_min = min_level;
	log_fd = fd;
}

int nv_log_format_parse(const char *s)
{
	if (!strcmp(s, "text") || !strcmp(s, "logfmt"))
		return NV_LOG_TEXT;
	if (!strcmp(s, "json"))
		return NV_LOG_JSON;
	return -1;
}

int nv_log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (!strcmp(s, level_names[i]))
			return (int)i;
	if (!strcmp(s, "warning"))
		return NV_LOG_WARN;
	return -1;
}

const char *nv_log_level_name(enum nv_log_level lvl)
{
	if ((unsigned)lvl > NV_LOG_ERROR)
		return "info";
	return level_names[lvl];
}

bool nv_log_enabled(enum nv_log_level lvl)
{
	return lvl >= log_min;
}

void nv_log_add_secret(const char *secret)
{
	char *copy;
	size_t i;

	if (!secret || strlen(secret) < 4)
		return;
	copy = nv_strdup(secret);
	if (!copy)
		return;
	pthread_mutex_lock(&secrets_lock);
	for (i = 0; i < nsecrets; i++)
		if (!strcmp(secrets[i], copy))
			break;
	if (i < nsecrets) {
		nv_free(copy); /* known already */
	} else if (nsecrets < MAX_SECRETS) {
		secrets[nsecrets++] = copy;
	} else {
		/* full: drop the oldest (refreshed credentials replace it) */
		nv_free(secrets[0]);
		memmove(secrets, secrets + 1, (MAX_SECRETS - 1) * sizeof(*secrets));
		secrets[MAX_SECRETS - 1] = copy;
	}
	pthread_mutex_unlock(&secrets_lock);
}

void nv_log_clear_secrets(void)
{
	pthread_mutex_lock(&secrets_lock);
	while (nsecrets)
		nv_free(secrets[--nsecrets]);
	pthread_mutex_unlock(&secrets_lock);
}

static void put(struct nv_log_rec *r, const char *s, size_t n)
{
	/* keep 3 bytes for the closing brace, newline and NUL */
	size_t room = r->len < sizeof(r->line) - 3 ? sizeof(r->line) - 3 - r->len : 0;

	if (n > room) {
		n = room;
		r->truncated = true;
	}
	memcpy(r->line + r->len, s, n);
	r->len += n;
}

static void putc1(struct nv_log_rec *r, char c)
{
	put(r, &c, 1);
}

static void put_json_string(struct nv_log_rec *r, const char *s, size_t n)
{
	size_t i;

	putc1(r, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			putc1(r, '\\');
			putc1(r, (char)c);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(r, esc, 6);
		} else {
			putc1(r, (char)c);
		}
	}
	putc1(r, '"');
}

static bool needs_quotes(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

static void put_text_value(struct nv_log_rec *r, const char *s, size_t n)
{
	size_t i;

	if (!needs_quotes(s, n)) {
		put(r, s, n);
		return;
	}
	putc1(r, '"');
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			putc1(r, '\\');
			putc1(r, (char)c);
		} else if (c == '\n') {
			put(r, "\\n", 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", c);
			put(r, esc, 4);
		} else {
			putc1(r, (char)c);
		}
	}
	putc1(r, '"');
}

static void put_key(struct nv_log_rec *r, const char *key)
{
	if (r->json) {
		putc1(r, ',');
		put_json_string(r, key, strlen(key));
		putc1(r, ':');
	} else {
		putc1(r, ' ');
		put(r, key, strlen(key));
		putc1(r, '=');
	}
}

/* this thread's last formatted second */
static _Thread_local time_t tcache_sec;
static _Thread_local char tcache[32];
static _Thread_local size_t tcache_len;

void nv_log_begin(struct nv_log_rec *r, enum nv_log_level lvl, const char *event)
{
	struct timespec ts;
	char tbuf[40];
	int n;

	r->len = 0;
	r->truncated = false;
	r->active = nv_log_enabled(lvl);
	r->json = log_format == NV_LOG_JSON;
	if (!r->active)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* gmtime_r takes glibc's time zone lock: once a second per thread is
	 * enough (the webhook's threads log thousands of lines a second) */
	if (ts.tv_sec != tcache_sec || !tcache_len) {
		struct tm tm;

		gmtime_r(&ts.tv_sec, &tm);
		tcache_len = strftime(tcache, sizeof(tcache), "%Y-%m-%dT%H:%M:%S", &tm);
		tcache_sec = ts.tv_sec;
	}
	memcpy(tbuf, tcache, tcache_len);
	n = (int)tcache_len;
	snprintf(tbuf + n, sizeof(tbuf) - (size_t)n, ".%03ldZ", ts.tv_nsec / 1000000);
	if (r->json) {
		put(r, "{\"ts\":", 6);
		put_json_string(r, tbuf, strlen(tbuf));
		put(r, ",\"level\":", 9);
		put_json_string(r, nv_log_level_name(lvl), strlen(nv_log_level_name(lvl)));
		put(r, ",\"event\":", 9);
		put_json_string(r, event, strlen(event));
	} else {
		put(r, tbuf, strlen(tbuf));
		put(r, " level=", 7);
		put(r, nv_log_level_name(lvl), strlen(nv_log_level_name(lvl)));
		put(r, " event=", 7);
		put_text_value(r, event, strlen(event));
	}
}

void nv_log_mem(struct nv_log_rec *r, const char *key, const char *val, size_t n)
{
	size_t save;

	if (!r->active)
		return;
	if (!val) {
		val = "";
		n = 0;
	}
	save = r->len;
	put_key(r, key);
	if (r->json)
		put_json_string(r, val, n);
	else
		put_text_value(r, val, n);
	if (r->truncated) {
		/* too long for the line: keep the line well-formed */
		r->len = save;
		r->truncated = false;
		put_key(r, key);
		if (r->json)
			put(r, "\"[truncated]\"", 13);
		else
			put(r, "[truncated]", 11);
		if (r->truncated) {
			r->len = save;
			r->truncated = false;
		}
	}
}

void nv_log_str(struct nv_log_rec *r, const char *key, const char *val)
{
	nv_log_mem(r, key, val, val ? strlen(val) : 0);
}

static void put_raw_number(struct nv_log_rec *r, const char *key, const char *num)
{
	if (!r->active)
		return;
	put_key(r, key);
	put(r, num, strlen(num));
}

void nv_log_u64(struct nv_log_rec *r, const char *key, uint64_t val)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRIu64, val);
	put_raw_number(r, key, num);
}

void nv_log_i64(struct nv_log_rec *r, const char *key, int64_t val)
{
	char num[32];

	snprintf(num, sizeof(num), "%" PRId64, val);
	put_raw_number(r, key, num);
}

void nv_log_dbl(struct nv_log_rec *r, const char *key, double val, int decimals)
{
	char num[64];

	if (val != val || val > 1e300 || val < -1e300)
		val = 0; /* NaN/inf are not JSON numbers */
	snprintf(num, sizeof(num), "%.*f", decimals, val);
	put_raw_number(r, key, num);
}

void nv_log_bool(struct nv_log_rec *r, const char *key, bool val)
{
	put_raw_number(r, key, val ? "true" : "false");
}

static void redact(struct nv_log_rec *r)
{
	size_t i;

	pthread_mutex_lock(&secrets_lock);
	for (i = 0; i < nsecrets; i++) {
		size_t sl = strlen(secrets[i]);
		char *hit;

		r->line[r->len] = '\0';
		while ((hit = memmem(r->line, r->len, secrets[i], sl))) {
			static const char mask[] = "[REDACTED]";
			size_t ml = sizeof(mask) - 1;
			size_t tail = r->len - (size_t)(hit - r->line) - sl;

			if (sl >= ml) {
				memcpy(hit, mask, ml);
				memmove(hit + ml, hit + sl, tail);
				r->len -= sl - ml;
			} else {
				memset(hit, '*', sl);
			}
			r->line[r->len] = '\0';
		}
	}
	pthread_mutex_unlock(&secrets_lock);
}

void nv_log_end(struct nv_log_rec *r)
{
	size_t off = 0;

	if (!r->active)
		return;
	if (r->json)
		r->line[r->len++] = '}';
	r->line[r->len++] = '\n';
	redact(r);
	while (off < r->len) {
		ssize_t n = write(log_fd, r->line + off, r->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	r->active = false;
}

void nv_log_msg(enum nv_log_level lvl, const char *event, const char *fmt, ...)
{
	struct nv_log_rec r;
	char msg[NV_LOG_LINE_MAX];
	va_list ap;

	if (!nv_log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	nv_log_begin(&r, lvl, event);
	nv_log_str(&r, "msg", msg);
	nv_log_end(&r);
}
