/* Store-level tests of the s3:// backend against a real S3 server (radosgw
 * from tests/s3/rgw.sh) and through the fault proxy (tests/s3/faultproxy.py).
 *
 *   s3_store_test SECTION
 *
 * SECTION is mkbucket, basic, multipart, concurrent, auth, tls, virtual,
 * faults or credrefresh. The
 * environment holds what rgw.sh start prints; NV_TEST_BUCKET names the bucket
 * (created here), NV_TEST_PREFIX a fresh prefix, NV_PROXY_URL and
 * NV_PROXY_PLAN the fault proxy's address and plan file (faults only).
 * Prints "ok NAME" per check; exits 1 at the first failure.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/config.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "store/s3/s3.h"
#include "store/store.h"

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fprintf(stderr, "\n");                               \
			exit(1);                                             \
		}                                                            \
	} while (0)

static void ok(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("ok   ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

/* ---- configuration: the environment with overrides ---- */

#define MAX_OVR 16
static struct {
	const char *name;
	const char *value; /* NULL: unset */
} ovr[MAX_OVR];
static int novr;

static void set_ovr(const char *name, const char *value)
{
	int i;

	for (i = 0; i < novr; i++)
		if (!strcmp(ovr[i].name, name)) {
			ovr[i].value = value;
			return;
		}
	CHECK(novr < MAX_OVR, "too many overrides");
	ovr[novr].name = name;
	ovr[novr++].value = value;
}

static const char *env_fn(const char *name, void *ud)
{
	int i;

	(void)ud;
	for (i = 0; i < novr; i++)
		if (!strcmp(ovr[i].name, name))
			return ovr[i].value;
	return getenv(name);
}

static char store_url[1024];

static int open_store(struct nv_config *cfg, struct nv_store **s, struct nv_error *e)
{
	int rc = nv_config_load_from(cfg, env_fn, NULL, e);

	if (rc)
		return rc;
	rc = nv_store_open_url(store_url, cfg, s, e);
	if (rc)
		nv_config_release(cfg);
	return rc;
}

static struct nv_store *must_open(struct nv_config *cfg)
{
	struct nv_store *s = NULL;
	struct nv_error e = NV_ERROR_INIT;

	CHECK(open_store(cfg, &s, &e) == NV_OK, "open %s: %s", store_url, e.msg);
	return s;
}

static void close_store(struct nv_config *cfg, struct nv_store *s)
{
	nv_store_close(s);
	nv_config_release(cfg);
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	size_t i;
	unsigned x = seed * 2654435761u + 1;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static int count_fn(const char *key, const struct nv_store_stat *st, void *ud)
{
	(void)key;
	(void)st;
	(*(long *)ud)++;
	return 0;
}

struct found {
	char key[256];
	uint64_t size;
	int64_t mtime;
	int n;
};

static int find_fn(const char *key, const struct nv_store_stat *st, void *ud)
{
	struct found *f = ud;

	if (!strcmp(key, f->key)) {
		f->size = st->size;
		f->mtime = st->mtime;
		f->n++;
	}
	return 0;
}

static int stop_fn(const char *key, const struct nv_store_stat *st, void *ud)
{
	(void)key;
	(void)st;
	(void)ud;
	return 42;
}

/* ---- sections ---- */

static void test_basic(void)
{
	struct nv_config cfg;
	struct nv_store *s = must_open(&cfg);
	struct nv_buf b = NV_BUF_INIT(1 << 20), small = NV_BUF_INIT(4);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_store_stat st;
	static const char *const odd[] = {
	    "sp ace/a+b",     "t~ilde/x=y&z", "caf\xc3\xa9/\xe2\x82\xac",
	    "deep/a/b/c/d/e", "pct%20lit",    "q?uestion#hash"};
	struct found f = {"a/b/c.pack", 0, 0, 0};
	long n = 0;
	size_t i;

	CHECK(nv_s3_create_bucket(s, &e) == NV_OK, "create bucket: %s", e.msg);
	CHECK(nv_s3_create_bucket(s, &e) == NV_OK, "create bucket again: %s", e.msg);
	ok("create bucket (twice)");

	CHECK(nv_store_put(s, "a/b/c.pack", "hello world", 11, 0, &e) == NV_OK, "put: %s", e.msg);
	CHECK(nv_store_get(s, "a/b/c.pack", &b, &e) == NV_OK, "get: %s", e.msg);
	CHECK(b.len == 11 && !memcmp(b.p, "hello world", 11), "get content '%s'", b.p);
	ok("put, get");

	nv_buf_reset(&b);
	CHECK(nv_store_get_range(s, "a/b/c.pack", 6, 5, &b, &e) == NV_OK, "range: %s", e.msg);
	CHECK(b.len == 5 && !memcmp(b.p, "world", 5), "range content '%s'", b.p);
	nv_buf_reset(&b);
	CHECK(nv_store_get_range(s, "a/b/c.pack", 0, 11, &b, &e) == NV_OK, "range: %s", e.msg);
	CHECK(b.len == 11, "whole range");
	nv_buf_reset(&b);
	CHECK(nv_store_get_range(s, "a/b/c.pack", 6, 50, &b, &e) == NV_ECORRUPT,
	      "short range: %d %s", e.code, e.msg);
	CHECK(b.len == 0, "a short range leaves no data");
	CHECK(nv_store_get_range(s, "a/b/c.pack", 20, 5, &b, &e) == NV_ECORRUPT,
	      "range past the end: %d %s", e.code, e.msg);
	CHECK(b.len == 0, "a failed range leaves no data");
	ok("get_range, short range -> NV_ECORRUPT (%s)", e.msg);

	CHECK(nv_store_get(s, "a/b/c.pack", &small, &e) == NV_ETOOBIG, "cap: %d %s", e.code, e.msg);
	ok("get over the buffer cap -> NV_ETOOBIG");

	CHECK(nv_store_head(s, "a/b/c.pack", &st, &e) == NV_OK, "head: %s", e.msg);
	CHECK(st.size == 11, "head size %llu", (unsigned long long)st.size);
	CHECK(st.mtime > time(NULL) - 3600 && st.mtime < time(NULL) + 3600, "head mtime %lld",
	      (long long)st.mtime);
	ok("head");

	CHECK(nv_store_head(s, "a/b/none", &st, &e) == NV_ENOTFOUND, "head none: %s", e.msg);
	CHECK(nv_store_get(s, "zz/none", &b, &e) == NV_ENOTFOUND, "get none: %s", e.msg);
	CHECK(strstr(e.msg, "zz/none") != NULL, "message names the key: %s", e.msg);
	CHECK(nv_store_get_range(s, "zz/none", 0, 1, &b, &e) == NV_ENOTFOUND, "range none: %s",
	      e.msg);
	ok("not found -> NV_ENOTFOUND (%s)", e.msg);

	CHECK(nv_store_put(s, "a/b/c.pack", "x", 1, NV_PUT_IF_ABSENT, &e) == NV_EEXISTS,
	      "if absent on existing: %d %s", e.code, e.msg);
	nv_buf_reset(&b);
	CHECK(nv_store_get(s, "a/b/c.pack", &b, &e) == NV_OK && b.len == 11,
	      "object unchanged after refused put");
	CHECK(nv_store_put(s, "a/top", "x", 1, NV_PUT_IF_ABSENT, &e) == NV_OK, "if absent new: %s",
	      e.msg);
	ok("put NV_PUT_IF_ABSENT (If-None-Match: *) -> NV_EEXISTS");

	CHECK(nv_store_put(s, "empty", "", 0, 0, &e) == NV_OK, "empty put: %s", e.msg);
	nv_buf_reset(&b);
	CHECK(nv_store_get(s, "empty", &b, &e) == NV_OK && b.len == 0, "empty get: %s", e.msg);
	ok("empty object");

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		struct found g;

		CHECK(nv_store_put(s, odd[i], odd[i], strlen(odd[i]), 0, &e) == NV_OK,
		      "put '%s': %s", odd[i], e.msg);
		nv_buf_reset(&b);
		CHECK(nv_store_get(s, odd[i], &b, &e) == NV_OK, "get '%s': %s", odd[i], e.msg);
		CHECK(!strcmp(b.p, odd[i]), "content of '%s'", odd[i]);
		memset(&g, 0, sizeof(g));
		snprintf(g.key, sizeof(g.key), "%s", odd[i]);
		CHECK(nv_store_list(s, odd[i], find_fn, &g, &e) == NV_OK, "list '%s': %s", odd[i],
		      e.msg);
		CHECK(g.n == 1 && g.size == strlen(odd[i]), "list finds '%s'", odd[i]);
	}
	ok("keys with spaces, +, ~, =, &, unicode, %%, ? and # round-trip");

	CHECK(nv_store_list(s, "a/", count_fn, &n, &e) == NV_OK, "list: %s", e.msg);
	CHECK(n == 2, "list a/ found %ld", n);
	n = 0;
	CHECK(nv_store_list(s, "a/b", count_fn, &n, &e) == NV_OK && n == 1, "list a/b: %ld", n);
	CHECK(nv_store_list(s, "", find_fn, &f, &e) == NV_OK, "list all: %s", e.msg);
	CHECK(f.n == 1 && f.size == 11 && f.mtime > 0, "list stat of a/b/c.pack");
	CHECK(nv_store_list(s, "a/", stop_fn, NULL, &e) == 42, "callback stops the listing");
	ok("list with prefix, stat, early stop");

	CHECK(nv_store_del(s, "a/b/c.pack", &e) == NV_OK, "del: %s", e.msg);
	CHECK(nv_store_del(s, "a/b/c.pack", &e) == NV_OK, "del again: %s", e.msg);
	CHECK(nv_store_head(s, "a/b/c.pack", &st, &e) == NV_ENOTFOUND, "gone");
	ok("delete (twice)");

	nv_buf_release(&b);
	nv_buf_release(&small);
	close_store(&cfg, s);
}

static void test_multipart(void)
{
	struct nv_config cfg;
	struct nv_store *s = must_open(&cfg);
	struct nv_buf b = NV_BUF_INIT(64 << 20);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_store_stat st;
	size_t n = (11u << 20) + 12345;
	unsigned char *data = nv_malloc(n);

	CHECK(data, "malloc");
	fill(data, n, 7);
	/* 5 MiB parts above 6 MiB: 3 parts */
	nv_s3_store_tune(s, 6u << 20, 5u << 20, 0, 0);
	CHECK(nv_store_put(s, "big/one", data, n, 0, &e) == NV_OK, "multipart put: %s", e.msg);
	CHECK(nv_store_head(s, "big/one", &st, &e) == NV_OK && st.size == n, "head big");
	CHECK(nv_store_get(s, "big/one", &b, &e) == NV_OK, "get big: %s", e.msg);
	CHECK(b.len == n && !memcmp(b.p, data, n), "big content");
	nv_buf_reset(&b);
	/* a range across the first part boundary */
	CHECK(nv_store_get_range(s, "big/one", (5u << 20) - 100, 1000, &b, &e) == NV_OK,
	      "range across parts: %s", e.msg);
	CHECK(b.len == 1000 && !memcmp(b.p, data + (5u << 20) - 100, 1000), "range content");
	ok("multipart upload of %zu bytes in 3 parts, get and range across parts", n);

	CHECK(nv_store_put(s, "big/one", data, n, NV_PUT_IF_ABSENT, &e) == NV_EEXISTS,
	      "multipart if absent: %d %s", e.code, e.msg);
	CHECK(nv_store_put(s, "big/two", data, n, NV_PUT_IF_ABSENT, &e) == NV_OK,
	      "multipart if absent new: %s", e.msg);
	ok("multipart with NV_PUT_IF_ABSENT");
	nv_free(data);
	nv_buf_release(&b);
	close_store(&cfg, s);
}

#define NTHREADS 8
#define PER_THREAD 130

struct worker {
	pthread_t t;
	struct nv_store *s;
	int id;
	int phase; /* 0 put, 1 get */
	char msg[NV_ERROR_MSG_MAX + 128];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	unsigned char data[70000];
	struct nv_error e = NV_ERROR_INIT;
	char key[64];
	int i;

	for (i = 0; i < PER_THREAD; i++) {
		size_t n = (size_t)((w->id * 7919 + i * 104729) % 65536);

		snprintf(key, sizeof(key), "conc/t%d/obj%03d", w->id, i);
		fill(data, n, (unsigned)(w->id * 1000 + i));
		if (w->phase == 0) {
			if (nv_store_put(w->s, key, data, n, 0, &e)) {
				snprintf(w->msg, sizeof(w->msg), "put %s: %s", key, e.msg);
				break;
			}
		} else {
			size_t off = n / 3, len = n - off;

			nv_buf_reset(&b);
			if (nv_store_get(w->s, key, &b, &e) || b.len != n || memcmp(b.p, data, n)) {
				snprintf(w->msg, sizeof(w->msg), "get %s: %s", key,
					 e.code ? e.msg : "wrong data");
				break;
			}
			if (!len)
				continue;
			nv_buf_reset(&b);
			if (nv_store_get_range(w->s, key, off, len, &b, &e) || b.len != len ||
			    memcmp(b.p, data + off, len)) {
				snprintf(w->msg, sizeof(w->msg), "range %s: %s", key,
					 e.code ? e.msg : "wrong data");
				break;
			}
		}
	}
	nv_buf_release(&b);
	return NULL;
}

static void run_workers(struct nv_store *s, int phase)
{
	struct worker w[NTHREADS];
	int i;

	memset(w, 0, sizeof(w));
	for (i = 0; i < NTHREADS; i++) {
		w[i].s = s;
		w[i].id = i;
		w[i].phase = phase;
		CHECK(!pthread_create(&w[i].t, NULL, worker_main, &w[i]), "pthread_create");
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(w[i].t, NULL);
	for (i = 0; i < NTHREADS; i++)
		CHECK(!w[i].msg[0], "thread %d: %s", i, w[i].msg);
}

struct racer {
	pthread_t t;
	struct nv_store *s;
	int id;
	int rc;
	char msg[NV_ERROR_MSG_MAX];
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct nv_error e = NV_ERROR_INIT;
	char body[32];

	snprintf(body, sizeof(body), "winner %d", r->id);
	r->rc = nv_store_put(r->s, "race/HEAD", body, strlen(body), NV_PUT_IF_ABSENT, &e);
	memcpy(r->msg, e.msg, sizeof(r->msg));
	return NULL;
}

/* 8 threads create the same key with NV_PUT_IF_ABSENT: one wins, and the
 * object holds the winner's data. */
static void test_race(struct nv_store *s)
{
	struct racer r[NTHREADS];
	struct nv_buf b = NV_BUF_INIT(1024);
	struct nv_error e = NV_ERROR_INIT;
	char want[32];
	int i, wins = 0, winner = -1;

	memset(r, 0, sizeof(r));
	for (i = 0; i < NTHREADS; i++) {
		r[i].s = s;
		r[i].id = i;
		CHECK(!pthread_create(&r[i].t, NULL, racer_main, &r[i]), "pthread_create");
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(r[i].t, NULL);
	for (i = 0; i < NTHREADS; i++) {
		CHECK(r[i].rc == NV_OK || r[i].rc == NV_EEXISTS, "racer %d: %s", i, r[i].msg);
		if (r[i].rc == NV_OK) {
			wins++;
			winner = i;
		}
	}
	CHECK(wins == 1, "%d threads won the conditional put", wins);
	snprintf(want, sizeof(want), "winner %d", winner);
	CHECK(nv_store_get(s, "race/HEAD", &b, &e) == NV_OK && !strcmp(b.p, want),
	      "the object holds '%s', want '%s'", b.p, want);
	nv_buf_release(&b);
	ok("%d threads race a conditional put on one key: exactly one wins", NTHREADS);
}

static void test_concurrent(void)
{
	struct nv_config cfg;
	struct nv_store *s;
	struct nv_error e = NV_ERROR_INIT;
	int64_t t0;
	long n = 0;

	set_ovr("NETVOL_PARALLEL", "4"); /* 8 threads share 4 connections */
	s = must_open(&cfg);
	t0 = nv_now_ms();
	run_workers(s, 0);
	ok("%d threads put %d objects (%lld ms)", NTHREADS, NTHREADS * PER_THREAD,
	   (long long)(nv_now_ms() - t0));
	t0 = nv_now_ms();
	run_workers(s, 1);
	ok("%d threads get and range-get them back, data checked (%lld ms)", NTHREADS,
	   (long long)(nv_now_ms() - t0));
	CHECK(nv_store_list(s, "conc/", count_fn, &n, &e) == NV_OK, "list: %s", e.msg);
	CHECK(n == NTHREADS * PER_THREAD, "listed %ld keys", n);
	ok("list of %ld keys with the default page size (continuation past 1000)", n);
	n = 0;
	nv_s3_store_tune(s, 0, 0, 7, 0);
	CHECK(nv_store_list(s, "conc/t3/", count_fn, &n, &e) == NV_OK, "list: %s", e.msg);
	CHECK(n == PER_THREAD, "listed %ld keys with max-keys 7", n);
	ok("list of %ld keys in pages of 7", n);
	test_race(s);
	close_store(&cfg, s);
}

static void test_auth(void)
{
	struct nv_config cfg;
	struct nv_store *s;
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	struct nv_error e = NV_ERROR_INIT;
	const char *secret = getenv("AWS_SECRET_ACCESS_KEY");

	set_ovr("AWS_SECRET_ACCESS_KEY", "wrongwrongwrongwrongwrongwrongwrongwrong");
	s = must_open(&cfg);
	CHECK(nv_store_get(s, "any", &b, &e) == NV_EAUTH, "wrong secret get: %d %s", e.code, e.msg);
	CHECK(strstr(e.msg, "SignatureDoesNotMatch") && strstr(e.msg, "RequestId") &&
		  strstr(e.msg, "'any'") == NULL && strstr(e.msg, "/any"),
	      "message: %s", e.msg);
	ok("wrong secret -> NV_EAUTH: %s", e.msg);
	CHECK(nv_store_put(s, "any", "x", 1, 0, &e) == NV_EAUTH, "wrong secret put: %s", e.msg);
	close_store(&cfg, s);

	set_ovr("AWS_ACCESS_KEY_ID", "NOSUCHKEY0000000000X");
	set_ovr("AWS_SECRET_ACCESS_KEY", secret);
	s = must_open(&cfg);
	CHECK(nv_store_head(s, "any", NULL, &e) == NV_EAUTH, "unknown key head: %d %s", e.code,
	      e.msg);
	CHECK(nv_store_get(s, "any", &b, &e) == NV_EAUTH, "unknown key: %d %s", e.code, e.msg);
	CHECK(strstr(e.msg, "InvalidAccessKeyId"), "message: %s", e.msg);
	ok("unknown access key -> NV_EAUTH: %s", e.msg);
	close_store(&cfg, s);

	set_ovr("AWS_ACCESS_KEY_ID", NULL);
	set_ovr("AWS_SECRET_ACCESS_KEY", NULL);
	set_ovr("AWS_SESSION_TOKEN", NULL);
	set_ovr("AWS_WEB_IDENTITY_TOKEN_FILE", NULL);
	set_ovr("AWS_ROLE_ARN", NULL);
	set_ovr("AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL);
	s = NULL;
	CHECK(open_store(&cfg, &s, &e) == NV_ECONFIG, "no credentials: %d %s", e.code, e.msg);
	CHECK(!s && strstr(e.msg, "no AWS credentials"), "message: %s", e.msg);
	ok("no credentials -> NV_ECONFIG at open: %s", e.msg);
	novr = 0;

	/* a bucket that does not exist is a configuration error, not "no object" */
	snprintf(store_url, sizeof(store_url), "s3://nv-no-such-bucket/x");
	s = must_open(&cfg);
	CHECK(nv_store_get(s, "k", &b, &e) == NV_ECONFIG, "no bucket: %d %s", e.code, e.msg);
	CHECK(strstr(e.msg, "NoSuchBucket"), "message: %s", e.msg);
	ok("missing bucket -> NV_ECONFIG: %s", e.msg);
	close_store(&cfg, s);
	nv_buf_release(&b);
}

static void test_tls(void)
{
	struct nv_config cfg;
	struct nv_store *s;
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	struct nv_error e = NV_ERROR_INIT;

	set_ovr("AWS_ENDPOINT_URL_S3", getenv("NV_RGW_HTTPS_URL"));
	set_ovr("AWS_CA_BUNDLE", getenv("NV_RGW_CA_BUNDLE"));
	s = must_open(&cfg);
	CHECK(nv_store_put(s, "tls/x", "secure", 6, 0, &e) == NV_OK, "put over https: %s", e.msg);
	CHECK(nv_store_get(s, "tls/x", &b, &e) == NV_OK && b.len == 6, "get over https: %s", e.msg);
	ok("https with AWS_CA_BUNDLE");
	close_store(&cfg, s);

	set_ovr("AWS_CA_BUNDLE", NULL);
	s = must_open(&cfg);
	CHECK(nv_store_get(s, "tls/x", &b, &e) == NV_ECONFIG, "unverified: %d %s", e.code, e.msg);
	CHECK(strstr(e.msg, "certificate") && !strstr(e.msg, "attempts"), "message: %s", e.msg);
	ok("self-signed certificate without AWS_CA_BUNDLE is refused: %s", e.msg);
	close_store(&cfg, s);
	novr = 0;
	nv_buf_release(&b);
}

/* Virtual-hosted style (the AWS default) against the real server:
 * bucket.localhost:PORT (rgw dns name = localhost). */
static void test_virtual(void)
{
	struct nv_config cfg;
	struct nv_store *s;
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	struct nv_error e = NV_ERROR_INIT;
	const char *ep = getenv("AWS_ENDPOINT_URL_S3"), *port;
	const char *origin, *host, *base;
	char url[128];
	long n = 0;

	CHECK(ep && (port = strrchr(ep, ':')), "AWS_ENDPOINT_URL_S3 with a port needed");
	snprintf(url, sizeof(url), "http://localhost%s", port);
	set_ovr("AWS_ENDPOINT_URL_S3", url);
	set_ovr("NETVOL_S3_ADDRESSING", "virtual");
	s = must_open(&cfg);
	nv_s3_store_endpoint(s, &origin, &host, &base);
	CHECK(!strncmp(host, "nvtest.localhost:", 17) && !*base, "virtual host '%s' base '%s'",
	      host, base);
	CHECK(nv_store_put(s, "v/k 1", "virtual", 7, 0, &e) == NV_OK, "put: %s", e.msg);
	CHECK(nv_store_get(s, "v/k 1", &b, &e) == NV_OK && b.len == 7, "get: %s", e.msg);
	CHECK(nv_store_list(s, "v/", count_fn, &n, &e) == NV_OK && n == 1, "list: %ld %s", n,
	      e.msg);
	ok("virtual-hosted style requests (%s)", origin);
	close_store(&cfg, s);
	novr = 0;
	nv_buf_release(&b);
}

/* ---- faults through the proxy ---- */

static const char *plan_file;

static void plan(const char *p)
{
	FILE *f = fopen(plan_file, "w");

	CHECK(f, "open plan %s", plan_file);
	fputs(p, f);
	fclose(f);
}

static void test_faults(void)
{
	struct nv_config cfg;
	struct nv_store *s;
	struct nv_buf b = NV_BUF_INIT(4 << 20);
	struct nv_error e = NV_ERROR_INIT;
	size_t n = 3u << 20;
	unsigned char *data = nv_malloc(n);
	int64_t t0;

	CHECK(data, "malloc");
	fill(data, n, 99);
	plan_file = getenv("NV_PROXY_PLAN");
	CHECK(plan_file && getenv("NV_PROXY_URL"), "NV_PROXY_URL and NV_PROXY_PLAN needed");
	set_ovr("AWS_ENDPOINT_URL_S3", getenv("NV_PROXY_URL"));
	set_ovr("NETVOL_S3_STALL_TIMEOUT", "2s");
	set_ovr("AWS_MAX_ATTEMPTS", "4");
	s = must_open(&cfg);
	nv_s3_store_tune(s, 0, 0, 0, 20);

	plan("");
	CHECK(nv_store_put(s, "f/obj", data, n, 0, &e) == NV_OK, "put through proxy: %s", e.msg);
	ok("plain transfer through the proxy");

	plan("GET:reset\n");
	CHECK(nv_store_get(s, "f/obj", &b, &e) == NV_OK, "after reset: %s", e.msg);
	CHECK(b.len == n && !memcmp(b.p, data, n), "data after reset");
	ok("connection reset -> retried, correct data");

	nv_buf_reset(&b);
	plan("GET:503\nGET:503\n");
	CHECK(nv_store_get(s, "f/obj", &b, &e) == NV_OK, "after 503: %s", e.msg);
	CHECK(b.len == n && !memcmp(b.p, data, n), "data after 503");
	ok("503 SlowDown twice -> retried, correct data");

	nv_buf_reset(&b);
	plan("GET:truncate\n");
	CHECK(nv_store_get(s, "f/obj", &b, &e) == NV_OK, "after truncation: %s", e.msg);
	CHECK(b.len == n && !memcmp(b.p, data, n), "data after truncation");
	ok("truncated body -> retried, correct data");

	nv_buf_reset(&b);
	plan("GET:truncate\n");
	CHECK(nv_store_get_range(s, "f/obj", 1000, 2u << 20, &b, &e) == NV_OK,
	      "range after truncation: %s", e.msg);
	CHECK(b.len == 2u << 20 && !memcmp(b.p, data + 1000, 2u << 20), "range data");
	ok("truncated range body -> retried, correct data");

	nv_buf_reset(&b);
	plan("GET:stall\n");
	t0 = nv_now_ms();
	CHECK(nv_store_get(s, "f/obj", &b, &e) == NV_OK, "after stall: %s", e.msg);
	CHECK(b.len == n && !memcmp(b.p, data, n), "data after stall");
	CHECK(nv_now_ms() - t0 < 5000, "the stall took %lld ms to detect",
	      (long long)(nv_now_ms() - t0));
	ok("stalled transfer aborted after the stall timeout and retried (%lld ms)",
	   (long long)(nv_now_ms() - t0));

	plan("PUT:reset\nPUT:503\n");
	CHECK(nv_store_put(s, "f/obj2", data, 1000, 0, &e) == NV_OK, "put after faults: %s", e.msg);
	nv_buf_reset(&b);
	CHECK(nv_store_get(s, "f/obj2", &b, &e) == NV_OK && b.len == 1000, "get obj2");
	ok("put after a reset and a 503 -> retried");

	plan("GET:500\n");
	nv_buf_reset(&b);
	CHECK(nv_store_list(s, "f/", count_fn, &(long){0}, &e) == NV_OK, "list after 500: %s",
	      e.msg);
	ok("list after a 500 InternalError -> retried");

	/* more failures than attempts: a clean error, no data */
	nv_buf_reset(&b);
	plan("GET:truncate\nGET:reset\nGET:503\nGET:truncate\n");
	CHECK(nv_store_get(s, "f/obj", &b, &e) == NV_ENETWORK, "4 failures: %d %s", e.code, e.msg);
	CHECK(b.len == 0, "no data returned after failures");
	CHECK(strstr(e.msg, "4 attempts") && strstr(e.msg, "f/obj"), "message: %s", e.msg);
	ok("4 failures with AWS_MAX_ATTEMPTS=4 -> NV_ENETWORK, no data: %s", e.msg);

	plan("GET:503\nGET:503\nGET:503\nGET:503\n");
	CHECK(nv_store_get(s, "f/obj", &b, &e) == NV_EREMOTE, "4x503: %d %s", e.code, e.msg);
	CHECK(strstr(e.msg, "SlowDown") && b.len == 0, "message: %s", e.msg);
	ok("4 x 503 -> NV_EREMOTE: %s", e.msg);

	plan("GET:403\n");
	CHECK(nv_store_get(s, "f/obj", &b, &e) == NV_EAUTH, "403: %d %s", e.code, e.msg);
	ok("403 is not retried: %s", e.msg);
	plan("");
	nv_free(data);
	nv_buf_release(&b);
	close_store(&cfg, s);
	novr = 0;
}

/* Container credentials from tests/s3/fake_aws.py (handing out the server's
 * keys), and a refresh when the server answers ExpiredToken (injected by the
 * proxy). run.sh checks the fake endpoint was asked twice. */
static void test_credrefresh(void)
{
	struct nv_config cfg;
	struct nv_store *s;
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	struct nv_error e = NV_ERROR_INIT;

	plan_file = getenv("NV_PROXY_PLAN");
	CHECK(plan_file && getenv("NV_PROXY_URL") && getenv("NV_FAKE_CONTAINER_URL"),
	      "NV_PROXY_URL, NV_PROXY_PLAN and NV_FAKE_CONTAINER_URL needed");
	set_ovr("AWS_ENDPOINT_URL_S3", getenv("NV_PROXY_URL"));
	set_ovr("AWS_CONTAINER_CREDENTIALS_FULL_URI", getenv("NV_FAKE_CONTAINER_URL"));
	set_ovr("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-identity-token");
	set_ovr("AWS_ACCESS_KEY_ID", NULL);
	set_ovr("AWS_SECRET_ACCESS_KEY", NULL);
	plan("");
	s = must_open(&cfg);
	CHECK(nv_store_put(s, "cr/x", "abc", 3, 0, &e) == NV_OK, "put: %s", e.msg);
	ok("container credentials (EKS Pod Identity style) accepted by the server");
	plan("GET:expired\n");
	CHECK(nv_store_get(s, "cr/x", &b, &e) == NV_OK && b.len == 3, "get after expiry: %s",
	      e.msg);
	ok("ExpiredToken -> credentials fetched again, request retried");
	close_store(&cfg, s);
	novr = 0;

	/* static keys cannot be refreshed: a clean NV_EAUTH */
	set_ovr("AWS_ENDPOINT_URL_S3", getenv("NV_PROXY_URL"));
	s = must_open(&cfg);
	plan("GET:expired\n");
	nv_buf_reset(&b);
	CHECK(nv_store_get(s, "cr/x", &b, &e) == NV_EAUTH, "static expired: %d %s", e.code, e.msg);
	CHECK(strstr(e.msg, "ExpiredToken"), "message: %s", e.msg);
	ok("ExpiredToken with static keys -> NV_EAUTH: %s", e.msg);
	plan("");
	close_store(&cfg, s);
	novr = 0;
	nv_buf_release(&b);
}

int main(int argc, char **argv)
{
	const char *bucket = getenv("NV_TEST_BUCKET"), *prefix = getenv("NV_TEST_PREFIX");
	const char *sec = argc > 1 ? argv[1] : "";

	if (!bucket || !prefix) {
		fprintf(stderr, "usage: NV_TEST_BUCKET=b NV_TEST_PREFIX=p %s SECTION\n", argv[0]);
		return 2;
	}
	nv_log_setup(NV_LOG_TEXT, NV_LOG_DEBUG, 2);
	snprintf(store_url, sizeof(store_url), "s3://%s/%s/%s", bucket, prefix, sec);
	if (!strcmp(sec, "mkbucket")) {
		struct nv_config cfg;
		struct nv_store *s = must_open(&cfg);
		struct nv_error e = NV_ERROR_INIT;

		CHECK(nv_s3_create_bucket(s, &e) == NV_OK, "create bucket: %s", e.msg);
		close_store(&cfg, s);
	} else if (!strcmp(sec, "basic"))
		test_basic();
	else if (!strcmp(sec, "multipart"))
		test_multipart();
	else if (!strcmp(sec, "concurrent"))
		test_concurrent();
	else if (!strcmp(sec, "auth"))
		test_auth();
	else if (!strcmp(sec, "tls"))
		test_tls();
	else if (!strcmp(sec, "virtual"))
		test_virtual();
	else if (!strcmp(sec, "faults"))
		test_faults();
	else if (!strcmp(sec, "credrefresh"))
		test_credrefresh();
	else {
		fprintf(stderr, "unknown section '%s'\n", sec);
		return 2;
	}
	nv_log_clear_secrets();
	return failures ? 1 : 0;
}
