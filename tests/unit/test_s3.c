/* The S3 store's decisions: error mapping, URL and
 * credential checks at open time (no network needed). */
#include "testutil.h"

#include "base/mem.h"
#include "store/s3/s3.h"

struct code_case {
	long status;
	char code[40];
	int want;
};

static struct code_case codes[] = {
    {404, "NoSuchKey", NV_ENOTFOUND},
    {404, "", NV_ENOTFOUND}, /* HEAD has no body */
    {404, "NoSuchBucket", NV_ECONFIG},
    {412, "PreconditionFailed", NV_EEXISTS},
    {412, "", NV_EEXISTS},
    {403, "SignatureDoesNotMatch", NV_EAUTH},
    {403, "InvalidAccessKeyId", NV_EAUTH},
    {403, "AccessDenied", NV_EAUTH},
    {400, "ExpiredToken", NV_EAUTH},
    {403, "RequestTimeTooSkewed", NV_EAUTH},
    {403, "", NV_EAUTH},
    {401, "", NV_EAUTH},
    {416, "InvalidRange", NV_ECORRUPT},
    {400, "InvalidArgument", NV_EREMOTE},
    {503, "SlowDown", NV_EREMOTE},
    {500, "", NV_EREMOTE},
};

ParameterizedTestParameters(s3, error_code)
{
	return cr_make_param_array(struct code_case, codes, sizeof(codes) / sizeof(codes[0]));
}

ParameterizedTest(struct code_case *c, s3, error_code)
{
	cr_assert_eq(nv_s3_error_code(c->status, c->code), c->want, "status %ld code '%s'",
		     c->status, c->code);
}

static const char *env_fn(const char *name, void *ud)
{
	const char *const *kv = ud;

	for (; *kv; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

struct open_case {
	char url[80];
	char endpoint[64];
	int creds;
	int want;
	char url_shown[80];
};

static struct open_case opens[] = {
    {"s3://bucket/some/prefix/", "", 1, NV_OK, "s3://bucket/some/prefix"},
    {"s3://bucket", "", 1, NV_OK, "s3://bucket"},
    {"s3://bucket/", "http://127.0.0.1:9000", 1, NV_OK, "s3://bucket"},
    {"s3://my.dotted.bucket/p", "", 1, NV_OK, "s3://my.dotted.bucket/p"},
    {"s3://bucket/p", "https://[::1]:9000/base/", 1, NV_OK, "s3://bucket/p"},
    {"s3://bucket/p", "", 0, NV_ECONFIG, ""},
    {"s3://ab/p", "", 1, NV_ECONFIG, ""},
    {"s3://bu cket/p", "", 1, NV_ECONFIG, ""},
    {"s3://bucket/a/../b", "", 1, NV_ECONFIG, ""},
    {"s3://bucket/a//b", "", 1, NV_ECONFIG, ""},
    {"s3://bucket/p", "ftp://127.0.0.1/", 1, NV_ECONFIG, ""},
    {"s3://bucket/p", "::not a url", 1, NV_ECONFIG, ""},
};

ParameterizedTestParameters(s3, open)
{
	return cr_make_param_array(struct open_case, opens, sizeof(opens) / sizeof(opens[0]));
}

ParameterizedTest(struct open_case *c, s3, open)
{
	const char *env[] = {"AWS_ACCESS_KEY_ID",
			     c->creds ? "AKIDTEST" : NULL,
			     "AWS_SECRET_ACCESS_KEY",
			     c->creds ? "secret" : NULL,
			     "AWS_ENDPOINT_URL_S3",
			     c->endpoint[0] ? c->endpoint : NULL,
			     NULL};
	struct nv_config cfg;
	struct nv_store *s = NULL;
	struct nv_error err = NV_ERROR_INIT;

	cr_assert_eq(nv_config_load_from(&cfg, env_fn, env, &err), NV_OK, "%s", err.msg);
	cr_assert_eq(nv_store_open_url(c->url, &cfg, &s, &err), c->want, "%s: %d %s", c->url,
		     err.code, err.msg);
	if (c->want == NV_OK) {
		cr_assert_str_eq(s->url, c->url_shown);
		cr_assert_str_eq(s->ops->scheme, "s3");
	} else {
		cr_assert_null(s);
	}
	nv_store_close(s);
	nv_config_release(&cfg);
}

struct ep_case {
	char url[48];
	char region[16];
	char endpoint[48];
	char addressing[12];
	char origin[64];
	char host[64];
	char path_base[32];
};

static struct ep_case eps[] = {
    /* AWS by region: virtual-hosted style */
    {"s3://bkt/p", "eu-west-1", "", "", "https://bkt.s3.eu-west-1.amazonaws.com",
     "bkt.s3.eu-west-1.amazonaws.com", ""},
    {"s3://bkt/p", "", "", "", "https://bkt.s3.us-east-1.amazonaws.com",
     "bkt.s3.us-east-1.amazonaws.com", ""},
    {"s3://bkt/p", "eu-west-1", "", "path", "https://s3.eu-west-1.amazonaws.com",
     "s3.eu-west-1.amazonaws.com", "/bkt"},
    /* a dotted bucket would not match the wildcard certificate */
    {"s3://my.bkt/p", "eu-west-1", "", "", "https://s3.eu-west-1.amazonaws.com",
     "s3.eu-west-1.amazonaws.com", "/my.bkt"},
    /* custom endpoints: path style unless told otherwise */
    {"s3://bkt/p", "us-east-1", "http://127.0.0.1:9000", "", "http://127.0.0.1:9000",
     "127.0.0.1:9000", "/bkt"},
    {"s3://bkt/p", "auto", "https://acct.r2.cloudflarestorage.com", "",
     "https://acct.r2.cloudflarestorage.com", "acct.r2.cloudflarestorage.com", "/bkt"},
    {"s3://bkt/p", "us-east-1", "https://minio.local:443/", "virtual", "https://bkt.minio.local",
     "bkt.minio.local", ""},
    {"s3://bkt/p", "us-east-1", "http://[::1]:8080/s3/", "", "http://[::1]:8080", "[::1]:8080",
     "/s3/bkt"},
    {"s3://bkt/p", "us-east-1", "http://Storage.Example.com:80", "", "http://storage.example.com",
     "storage.example.com", "/bkt"},
};

ParameterizedTestParameters(s3, endpoint)
{
	return cr_make_param_array(struct ep_case, eps, sizeof(eps) / sizeof(eps[0]));
}

ParameterizedTest(struct ep_case *c, s3, endpoint)
{
	const char *env[] = {"AWS_ACCESS_KEY_ID",
			     "AKIDTEST",
			     "AWS_SECRET_ACCESS_KEY",
			     "secret",
			     "AWS_REGION",
			     c->region[0] ? c->region : NULL,
			     "AWS_ENDPOINT_URL",
			     c->endpoint[0] ? c->endpoint : NULL,
			     "NETVOL_S3_ADDRESSING",
			     c->addressing[0] ? c->addressing : NULL,
			     NULL};
	struct nv_config cfg;
	struct nv_store *s = NULL;
	struct nv_error err = NV_ERROR_INIT;
	const char *origin, *host, *base;

	cr_assert_eq(nv_config_load_from(&cfg, env_fn, env, &err), NV_OK, "%s", err.msg);
	cr_assert_eq(nv_store_open_url(c->url, &cfg, &s, &err), NV_OK, "%s", err.msg);
	nv_s3_store_endpoint(s, &origin, &host, &base);
	cr_assert_str_eq(origin, c->origin, "%s %s", c->endpoint, c->addressing);
	cr_assert_str_eq(host, c->host);
	cr_assert_str_eq(base, c->path_base);
	nv_store_close(s);
	nv_config_release(&cfg);
}

Test(s3, open_allocation_failures)
{
	const char *env[] = {"AWS_ACCESS_KEY_ID",
			     "AKIDTEST",
			     "AWS_SECRET_ACCESS_KEY",
			     "secret",
			     "AWS_ENDPOINT_URL_S3",
			     "http://127.0.0.1:9000",
			     NULL};
	struct nv_config cfg;
	struct nv_error err = NV_ERROR_INIT;
	long n;
	int rc = -1;

	cr_assert_eq(nv_config_load_from(&cfg, env_fn, env, &err), NV_OK, "%s", err.msg);
	for (n = 0; n < 1000 && rc != NV_OK; n++) {
		struct nv_store *s = NULL;

		nv_mem_fail_after(n);
		rc = nv_store_open_url("s3://bucket/a/prefix", &cfg, &s, &err);
		nv_mem_fail_after(-1);
		cr_assert(rc == NV_OK || rc == NV_ENOMEM, "failing allocation %ld: %d %s", n, rc,
			  err.msg);
		cr_assert(rc == NV_OK || s == NULL);
		nv_store_close(s);
	}
	cr_assert_eq(rc, NV_OK);
	nv_config_release(&cfg);
}

struct stall_case {
	char value[16];
	int rc;
	long long ms;
};

static struct stall_case stalls[] = {
    {"", NV_OK, 30000}, {"2s", NV_OK, 2000},	  {"1m", NV_OK, 60000},
    {"5", NV_OK, 5000}, {"500ms", NV_ECONFIG, 0}, {"soon", NV_ECONFIG, 0},
};

ParameterizedTestParameters(s3, stall_timeout_config)
{
	return cr_make_param_array(struct stall_case, stalls, sizeof(stalls) / sizeof(stalls[0]));
}

ParameterizedTest(struct stall_case *c, s3, stall_timeout_config)
{
	const char *env[] = {"NETVOL_S3_STALL_TIMEOUT", c->value[0] ? c->value : NULL, NULL};
	struct nv_config cfg;
	struct nv_error err = NV_ERROR_INIT;

	cr_assert_eq(nv_config_load_from(&cfg, env_fn, env, &err), c->rc, "'%s': %s", c->value,
		     err.msg);
	if (c->rc == NV_OK) {
		cr_assert_eq(cfg.aws.stall_timeout_ms, c->ms);
		nv_config_release(&cfg);
	} else {
		cr_assert(strstr(err.msg, "NETVOL_S3_STALL_TIMEOUT"), "%s", err.msg);
	}
}
