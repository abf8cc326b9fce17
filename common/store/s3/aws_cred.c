#include "store/s3/aws_cred.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "base/fs.h"
#include "store/s3/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "base/retry.h"
#include "store/s3/sigv4.h"
#include "store/s3/xml.h"

#define REFRESH_MARGIN_S 300
#define TOKEN_MAX (64u << 10)
#define ANSWER_MAX (256u << 10)

enum source { SRC_ENV, SRC_WEB_IDENTITY, SRC_CONTAINER };

struct nv_aws_cred {
	enum source src;
	pthread_mutex_t lock;
	struct nv_aws_keys keys;
	bool stale;
	struct nv_http_pool *http; /* for STS / the container endpoint */
	int max_attempts;
	int64_t deadline_ms; /* of the get in progress (under lock): retries stop before it */
	char *region;
	char *sts_url;
	char *role_arn;
	char *session_name;
	char *token_file;
	char *container_uri;
	char *container_token; /* from the environment (secret) */
};

void nv_aws_keys_init(struct nv_aws_keys *k)
{
	nv_buf_init(&k->access_key_id, 1024);
	nv_buf_init(&k->secret_access_key, 1024);
	nv_buf_init(&k->session_token, 16384);
	k->expiration = 0;
}

static void wipe(struct nv_buf *b)
{
	if (b->alloc)
		OPENSSL_cleanse(b->p, b->alloc);
	nv_buf_release(b);
}

void nv_aws_keys_release(struct nv_aws_keys *k)
{
	wipe(&k->access_key_id);
	wipe(&k->secret_access_key);
	wipe(&k->session_token);
	k->expiration = 0;
}

static int keys_set(struct nv_aws_keys *k, const char *akid, size_t akid_len, const char *secret,
		    size_t secret_len, const char *token, size_t token_len, int64_t exp,
		    struct nv_error *err)
{
	int rc;

	nv_buf_reset(&k->access_key_id);
	nv_buf_reset(&k->secret_access_key);
	nv_buf_reset(&k->session_token);
	if ((rc = nv_buf_add(&k->access_key_id, akid, akid_len, err)) ||
	    (rc = nv_buf_add(&k->secret_access_key, secret, secret_len, err)) ||
	    (rc = nv_buf_add(&k->session_token, token ? token : "", token ? token_len : 0, err)))
		return rc;
	k->expiration = exp;
	return NV_OK;
}

/* Keys fresh from a source: masked in every log line from now on. Copies
 * made for each request are not registered again (the log module keeps a
 * bounded list of secrets). */
static void register_keys(const struct nv_aws_keys *k)
{
	nv_log_add_secret(k->secret_access_key.p);
	nv_log_add_secret(k->session_token.p);
}

static int keys_copy(struct nv_aws_keys *dst, const struct nv_aws_keys *src, struct nv_error *err)
{
	return keys_set(dst, src->access_key_id.p, src->access_key_id.len, src->secret_access_key.p,
			src->secret_access_key.len, src->session_token.p, src->session_token.len,
			src->expiration, err);
}

/* A whole small file, symlinks followed (Kubernetes projects tokens
 * through ..data symlinks), surrounding whitespace trimmed. */
static int read_token_file(const char *path, const char *var, struct nv_buf *out,
			   struct nv_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = NV_OK;
	char tmp[4096];
	ssize_t n;

	nv_buf_reset(out);
	if (fd < 0)
		return nv_error_sys(err, NV_ECONFIG, errno, "%s: cannot open '%s'", var, path);
	while ((n = nv_fs_read_full(fd, tmp, sizeof(tmp))) > 0) {
		if ((rc = nv_buf_add(out, tmp, (size_t)n, err))) {
			nv_error_prefix(err, "%s '%s'", var, path);
			goto out;
		}
		if ((size_t)n < sizeof(tmp))
			break;
	}
	if (n < 0) {
		rc = nv_error_sys(err, NV_ECONFIG, errno, "%s: cannot read '%s'", var, path);
		goto out;
	}
	while (out->len && strchr(" \t\r\n", out->p[out->len - 1]))
		nv_buf_setlen(out, out->len - 1);
	if (!out->len)
		rc = nv_error_set(err, NV_ECONFIG, "%s: '%s' is empty", var, path);
out:
	nv_fs_close(&fd);
	return rc;
}

/* One HTTP exchange with retries on network errors, 5xx and throttling. */
static int fetch(struct nv_aws_cred *c, const struct nv_http_req *req, struct nv_http_resp *resp,
		 const char *what, struct nv_error *err)
{
	struct nv_retry policy = {c->max_attempts, 100, 2000, c->deadline_ms};
	int attempt, rc = NV_OK;

	for (attempt = 1;; attempt++) {
		struct nv_xml_s3_error xe;
		enum nv_retry_verdict v;
		uint64_t delay;

		if (req->out)
			nv_buf_reset(req->out);
		rc = nv_http_do(c->http, req, resp, err);
		memset(&xe, 0, sizeof(xe));
		if (!rc && (resp->status < 200 || resp->status > 299))
			nv_xml_s3_error(resp->err_body.p, resp->err_body.len, &xe, NULL);
		v = nv_retry_verdict(rc, resp->status, xe.code);
		if (v == NV_RETRY_DONE)
			return NV_OK;
		if (v == NV_RETRY_FAIL)
			break;
		switch (nv_retry_plan(&policy, attempt, nv_retry_random(), nv_now_ms(), &delay)) {
		case NV_RETRY_GO:
			nv_retry_sleep_ms(delay);
			continue;
		case NV_RETRY_PAST_DEADLINE:
			if (!rc)
				nv_error_set(err, NV_EREMOTE, "HTTP %ld", resp->status);
			nv_error_prefix(err, "%s: deadline reached, no time left to retry", what);
			if (err)
				err->code = NV_EDEADLINE;
			return NV_EDEADLINE;
		case NV_RETRY_EXHAUSTED:
			break;
		}
		break;
	}
	if (rc)
		return nv_error_prefix(err, "%s", what);
	{
		struct nv_xml_s3_error xe;
		bool auth = resp->status == 400 || resp->status == 401 || resp->status == 403;

		if (!nv_xml_s3_error(resp->err_body.p, resp->err_body.len, &xe, NULL))
			return nv_error_set(err, auth ? NV_EAUTH : NV_EREMOTE,
					    "%s: %s: %s (HTTP %ld, RequestId %s)", what, xe.code,
					    xe.message[0] ? xe.message : "no message", resp->status,
					    xe.request_id[0] ? xe.request_id : "none");
		return nv_error_set(err, auth ? NV_EAUTH : NV_EREMOTE, "%s: HTTP %ld", what,
				    resp->status);
	}
}

static int refresh_web_identity(struct nv_aws_cred *c, struct nv_error *err)
{
	struct nv_buf token = NV_BUF_INIT(TOKEN_MAX), body = NV_BUF_INIT(2 * TOKEN_MAX + 4096);
	struct nv_buf answer = NV_BUF_INIT(ANSWER_MAX);
	struct nv_xml_sts_creds sc;
	struct nv_http_resp resp;
	int rc;

	nv_xml_sts_creds_init(&sc);
	nv_http_resp_init(&resp);
	rc = read_token_file(c->token_file, "AWS_WEB_IDENTITY_TOKEN_FILE", &token, err);
	if (rc)
		goto out;
	nv_log_add_secret(token.p);
	{
		struct nv_sigv4_kv q[] = {{"Action", "AssumeRoleWithWebIdentity"},
					  {"RoleArn", c->role_arn},
					  {"RoleSessionName", c->session_name},
					  {"Version", "2011-06-15"},
					  {"WebIdentityToken", token.p}};
		struct nv_http_header h[] = {
		    {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
		    {"Accept", "application/xml"}};
		struct nv_http_req req = {"POST", c->sts_url, h, 2, NULL, 0, &answer};

		rc = nv_sigv4_canonical_query(&body, q, 5, err);
		if (rc)
			goto out;
		req.body = body.p;
		req.body_len = body.len;
		rc = fetch(c, &req, &resp, "STS AssumeRoleWithWebIdentity", err);
		if (rc)
			goto out;
	}
	rc = nv_xml_sts_credentials(answer.p, answer.len, &sc, err);
	if (rc) {
		nv_error_prefix(err, "STS AssumeRoleWithWebIdentity answer");
		goto out;
	}
	rc = keys_set(&c->keys, sc.access_key_id.p, sc.access_key_id.len, sc.secret_access_key.p,
		      sc.secret_access_key.len, sc.session_token.p, sc.session_token.len,
		      sc.expiration, err);
	if (!rc)
		register_keys(&c->keys);
out:
	wipe(&token);
	wipe(&body);
	wipe(&answer);
	nv_xml_sts_creds_release(&sc);
	nv_http_resp_release(&resp);
	return rc;
}

static const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) && v->valuestring && *v->valuestring ? v->valuestring : NULL;
}

int nv_aws_cred_parse_container_json(const char *doc, size_t len, struct nv_aws_keys *out,
				     struct nv_error *err)
{
	cJSON *root = cJSON_ParseWithLength(doc, len);
	const char *akid, *secret, *token, *exp;
	int64_t expiration = 0;
	int rc;

	if (!root)
		return nv_error_set(err, NV_ECORRUPT, "container credentials: answer is not JSON");
	akid = json_str(root, "AccessKeyId");
	secret = json_str(root, "SecretAccessKey");
	token = json_str(root, "Token");
	exp = json_str(root, "Expiration");
	if (!akid || !secret) {
		rc = nv_error_set(err, NV_ECORRUPT,
				  "container credentials: answer lacks AccessKeyId or "
				  "SecretAccessKey");
		goto out;
	}
	if (exp && nv_iso8601_parse(exp, &expiration)) {
		rc = nv_error_set(err, NV_ECORRUPT, "container credentials: bad Expiration '%s'",
				  exp);
		goto out;
	}
	rc = keys_set(out, akid, strlen(akid), secret, strlen(secret), token,
		      token ? strlen(token) : 0, expiration, err);
	if (!rc)
		register_keys(out);
out:
	cJSON_Delete(root);
	return rc;
}

static int refresh_container(struct nv_aws_cred *c, struct nv_error *err)
{
	struct nv_buf token = NV_BUF_INIT(TOKEN_MAX), answer = NV_BUF_INIT(ANSWER_MAX);
	struct nv_http_resp resp;
	struct nv_http_header h[2] = {{"Accept", "application/json"}, {"Authorization", NULL}};
	struct nv_http_req req = {"GET", c->container_uri, h, 1, NULL, 0, &answer};
	int rc = NV_OK;

	nv_http_resp_init(&resp);
	if (c->token_file) {
		rc = read_token_file(c->token_file, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
				     &token, err);
		if (rc)
			goto out;
		nv_log_add_secret(token.p);
		h[1].value = token.p;
		req.nheaders = 2;
	} else if (c->container_token) {
		h[1].value = c->container_token;
		req.nheaders = 2;
	}
	rc = fetch(c, &req, &resp, "container credentials endpoint", err);
	if (!rc)
		rc = nv_aws_cred_parse_container_json(answer.p, answer.len, &c->keys, err);
out:
	wipe(&token);
	wipe(&answer);
	nv_http_resp_release(&resp);
	return rc;
}

static int refresh(struct nv_aws_cred *c, struct nv_error *err)
{
	int rc =
	    c->src == SRC_WEB_IDENTITY ? refresh_web_identity(c, err) : refresh_container(c, err);

	if (!rc) {
		struct nv_log_rec r;

		c->stale = false;
		nv_log_begin(&r, NV_LOG_INFO, "aws.credentials");
		nv_log_str(&r, "source", nv_aws_cred_source(c));
		nv_log_i64(&r, "expires_in_s",
			   c->keys.expiration ? c->keys.expiration - (int64_t)time(NULL) : -1);
		nv_log_end(&r);
	}
	return rc;
}

/* The container endpoint must be https, or http to a loopback or the
 * link-local addresses ECS and EKS Pod Identity use (as the SDKs require). */
int nv_aws_cred_check_container_uri(const char *uri, struct nv_error *err)
{
	static const char *const ok_hosts[] = {"localhost", "169.254.170.2", "169.254.170.23",
					       "[fd00:ec2::23]", "[::1]"};
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int rc = NV_OK;
	size_t i;

	if (!u)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, uri, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		rc = nv_error_set(err, NV_ECONFIG,
				  "AWS_CONTAINER_CREDENTIALS_FULL_URI='%s' is not a URL", uri);
		goto out;
	}
	if (!strcmp(scheme, "https"))
		goto out;
	if (strcmp(scheme, "http")) {
		rc = nv_error_set(err, NV_ECONFIG,
				  "AWS_CONTAINER_CREDENTIALS_FULL_URI='%s': want http or https",
				  uri);
		goto out;
	}
	if (!strncmp(host, "127.", 4))
		goto out;
	for (i = 0; i < sizeof(ok_hosts) / sizeof(ok_hosts[0]); i++)
		if (!strcmp(host, ok_hosts[i]))
			goto out;
	rc = nv_error_set(err, NV_ECONFIG,
			  "AWS_CONTAINER_CREDENTIALS_FULL_URI='%s': plain http is only allowed to "
			  "a loopback or the ECS/EKS link-local address",
			  uri);
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = nv_strdup(s);
	if (!d)
		*fail = true;
	return d;
}

int nv_aws_cred_new(const struct nv_config *cfg, struct nv_aws_cred **out, struct nv_error *err)
{
	const struct nv_aws_config *a = &cfg->aws;
	struct nv_aws_cred *c;
	struct nv_buf url = NV_BUF_INIT(4096);
	bool fail = false;
	int rc;

	*out = NULL;
	c = nv_calloc(1, sizeof(*c));
	if (!c)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	pthread_mutex_init(&c->lock, NULL);
	nv_aws_keys_init(&c->keys);
	c->max_attempts = a->max_attempts > 0 ? a->max_attempts : 5;

	if (a->access_key_id && a->secret_access_key) {
		c->src = SRC_ENV;
		rc = keys_set(&c->keys, a->access_key_id, strlen(a->access_key_id),
			      a->secret_access_key, strlen(a->secret_access_key), a->session_token,
			      a->session_token ? strlen(a->session_token) : 0, 0, err);
		/* config.c registered these secrets already */
		if (rc)
			goto out;
		*out = c;
		return NV_OK;
	}
	if (a->web_identity_token_file && a->role_arn) {
		c->src = SRC_WEB_IDENTITY;
		if (a->sts_endpoint_url)
			rc = nv_buf_addstr(&url, a->sts_endpoint_url, err);
		else
			rc = nv_buf_addf(&url, err, "https://sts.%s.amazonaws.com/", a->region);
		if (rc)
			goto out;
		c->sts_url = nv_buf_detach(&url, NULL);
		c->role_arn = dup_or_null(a->role_arn, &fail);
		c->session_name =
		    dup_or_null(a->role_session_name ? a->role_session_name : "netvol", &fail);
		c->token_file = dup_or_null(a->web_identity_token_file, &fail);
		if (fail || !c->sts_url) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
	} else if (a->container_credentials_full_uri) {
		c->src = SRC_CONTAINER;
		rc = nv_aws_cred_check_container_uri(a->container_credentials_full_uri, err);
		if (rc)
			goto out;
		c->container_uri = dup_or_null(a->container_credentials_full_uri, &fail);
		c->token_file = dup_or_null(a->container_authorization_token_file, &fail);
		c->container_token = dup_or_null(a->container_authorization_token, &fail);
		if (fail) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
	} else {
		rc = nv_error_set(
		    err, NV_ECONFIG,
		    "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
		    "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN (IRSA), or "
		    "AWS_CONTAINER_CREDENTIALS_FULL_URI (EKS Pod Identity)");
		goto out;
	}
	{
		struct nv_http_opts o = {1, a->ca_bundle, 5000, 10, 30000};

		rc = nv_http_pool_new(&o, &c->http, err);
		if (rc)
			goto out;
	}
	rc = refresh(c, err);
	if (rc)
		goto out;
	*out = c;
	nv_buf_release(&url);
	return NV_OK;
out:
	nv_buf_release(&url);
	nv_aws_cred_free(c);
	return rc;
}

void nv_aws_cred_free(struct nv_aws_cred *c)
{
	if (!c)
		return;
	nv_aws_keys_release(&c->keys);
	nv_http_pool_free(c->http);
	pthread_mutex_destroy(&c->lock);
	nv_free(c->sts_url);
	nv_free(c->role_arn);
	nv_free(c->session_name);
	nv_free(c->token_file);
	nv_free(c->container_uri);
	if (c->container_token)
		OPENSSL_cleanse(c->container_token, strlen(c->container_token));
	nv_free(c->container_token);
	nv_free(c);
}

int nv_aws_cred_get(struct nv_aws_cred *c, int64_t deadline_ms, struct nv_aws_keys *out,
		    struct nv_error *err)
{
	int rc = NV_OK;

	pthread_mutex_lock(&c->lock);
	c->deadline_ms = deadline_ms;
	if (c->src != SRC_ENV &&
	    (c->stale || (c->keys.expiration &&
			  (int64_t)time(NULL) + REFRESH_MARGIN_S >= c->keys.expiration))) {
		struct nv_error e2 = NV_ERROR_INIT;

		rc = refresh(c, &e2);
		/* keys still valid for a while: keep using them, try again later */
		if (rc && !c->stale && c->keys.expiration > (int64_t)time(NULL) + 30) {
			struct nv_log_rec r;

			nv_log_begin(&r, NV_LOG_WARN, "aws.credentials.refresh_failed");
			nv_log_str(&r, "msg", e2.msg);
			nv_log_end(&r);
			rc = NV_OK;
		} else if (rc && err) {
			*err = e2;
		}
	}
	if (!rc)
		rc = keys_copy(out, &c->keys, err);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

bool nv_aws_cred_invalidate(struct nv_aws_cred *c)
{
	if (c->src == SRC_ENV)
		return false;
	pthread_mutex_lock(&c->lock);
	c->stale = true;
	pthread_mutex_unlock(&c->lock);
	return true;
}

const char *nv_aws_cred_source(const struct nv_aws_cred *c)
{
	switch (c->src) {
	case SRC_ENV:
		return "environment";
	case SRC_WEB_IDENTITY:
		return "web-identity";
	case SRC_CONTAINER:
		return "container";
	}
	return "?";
}
