#include "store/s3/s3.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/s3/aws_cred.h"
#include "store/s3/http.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/progress.h"
#include "base/retry.h"
#include "store/s3/sigv4.h"
#include "store/s3/xml.h"

#define LIST_PAGE_MAX (32u << 20)
#define SMALL_ANSWER_MAX (1u << 20)
#define RETRY_CAP_MS 20000

struct s3_store {
	struct nv_store base;
	char *bucket;
	char *prefix;	 /* "" or ending with '/' */
	char *origin;	 /* scheme://host[:port] */
	char *host;	 /* the Host header */
	char *path_base; /* endpoint path + "/bucket" (path style), or endpoint path */
	char *region;
	struct nv_http_pool *http;
	struct nv_aws_cred *cred;
	struct nv_sigv4_signer signer;
	int max_attempts;
	uint64_t mpu_threshold;
	uint64_t part_size;
	int list_max_keys;
	int retry_base_ms;
};

static struct s3_store *s3store(struct nv_store *s)
{
	return (struct s3_store *)s;
}

/* ---- policy ---- */

static bool code_in(const char *code, const char *const *list)
{
	if (!code || !*code)
		return false;
	for (; *list; list++)
		if (!strcmp(code, *list))
			return true;
	return false;
}

static const char *const auth_codes[] = {"AccessDenied",	  "SignatureDoesNotMatch",
					 "InvalidAccessKeyId",	  "ExpiredToken",
					 "InvalidToken",	  "TokenRefreshRequired",
					 "InvalidSecurity",	  "AccountProblem",
					 "AllAccessDisabled",	  "InvalidIdentityToken",
					 "ExpiredTokenException", "InvalidClientTokenId",
					 "RequestTimeTooSkewed",  NULL};

static const char *const token_codes[] = {"ExpiredToken", "InvalidToken", "TokenRefreshRequired",
					  "ExpiredTokenException", NULL};

enum nv_code nv_s3_error_code(long status, const char *s3_code)
{
	if (code_in(s3_code, auth_codes))
		return NV_EAUTH;
	if (s3_code && !strcmp(s3_code, "NoSuchBucket"))
		return NV_ECONFIG;
	if (s3_code && (!strcmp(s3_code, "NoSuchKey") || !strcmp(s3_code, "NoSuchUpload")))
		return NV_ENOTFOUND;
	if (s3_code && !strcmp(s3_code, "PreconditionFailed"))
		return NV_EEXISTS;
	switch (status) {
	case 401:
	case 403:
		return NV_EAUTH;
	case 404:
		return NV_ENOTFOUND;
	case 412:
		return NV_EEXISTS;
	case 416:
		return NV_ECORRUPT;
	}
	return NV_EREMOTE;
}

/* ---- one request, with retries ---- */

struct call {
	const char *op; /* "get", "put"... for messages */
	const char *method;
	const char *key; /* relative to the prefix; NULL: the bucket itself */
	const struct nv_sigv4_kv *query;
	size_t nquery;
	const struct nv_sigv4_kv *hdr; /* extra headers, signed */
	size_t nhdr;
	const void *body;
	size_t body_len;
	const char *payload_hash; /* NULL: empty payload */
	struct nv_buf *out;
};

#define MAX_HDR 12

/* The failure in err becomes NV_EDEADLINE: a retry would have slept past
 * NETVOL_DEADLINE, so the caller stops cleanly instead (HEAD untouched). */
static int past_deadline_error(struct nv_error *err)
{
	nv_error_prefix(err, "deadline reached, no time left to retry");
	if (err)
		err->code = NV_EDEADLINE;
	return NV_EDEADLINE;
}

static int build_url(struct s3_store *s, const struct call *c, struct nv_buf *path,
		     struct nv_buf *url, struct nv_error *err)
{
	int rc;

	nv_buf_reset(path);
	nv_buf_reset(url);
	if ((rc = nv_buf_addstr(path, s->path_base, err)))
		return rc;
	if (c->key) {
		if ((rc = nv_buf_addch(path, '/', err)) ||
		    (rc = nv_sigv4_uri_encode(path, s->prefix, strlen(s->prefix), true, err)) ||
		    (rc = nv_sigv4_uri_encode(path, c->key, strlen(c->key), true, err)))
			return rc;
	} else if (!path->len && (rc = nv_buf_addch(path, '/', err))) {
		return rc;
	}
	if ((rc = nv_buf_addf(url, err, "%s%s", s->origin, path->p)))
		return rc;
	if (c->nquery) {
		if ((rc = nv_buf_addch(url, '?', err)) ||
		    (rc = nv_sigv4_canonical_query(url, c->query, c->nquery, err)))
			return rc;
	}
	return NV_OK;
}

static void log_retry(struct s3_store *s, const struct call *c, int attempt, long status,
		      const char *code, const char *why, uint64_t delay_ms)
{
	struct nv_log_rec r;

	nv_log_begin(&r, NV_LOG_WARN, "s3.retry");
	nv_log_str(&r, "op", c->op);
	nv_log_str(&r, "store", s->base.url);
	if (c->key)
		nv_log_str(&r, "key", c->key);
	nv_log_i64(&r, "attempt", attempt);
	if (status)
		nv_log_i64(&r, "status", status);
	if (code && *code)
		nv_log_str(&r, "code", code);
	if (why && *why)
		nv_log_str(&r, "error", why);
	nv_log_u64(&r, "delay_ms", delay_ms);
	nv_log_end(&r);
}

static int s3_do(struct s3_store *s, const struct call *c, struct nv_http_resp *resp,
		 struct nv_error *err)
{
	struct nv_buf path = NV_BUF_INIT(16384), url = NV_BUF_INIT(32768);
	struct nv_aws_keys keys;
	struct nv_sigv4_result sig;
	struct nv_xml_s3_error xe;
	struct nv_error terr = NV_ERROR_INIT;
	size_t out_base = c->out ? c->out->len : 0;
	const char *phash = c->payload_hash ? c->payload_hash : NV_SIGV4_EMPTY_SHA256;
	struct nv_retry policy = {s->max_attempts, (uint64_t)s->retry_base_ms, RETRY_CAP_MS,
				  s->base.deadline_ms};
	bool refreshed = false, past_deadline = false;
	int attempt = 0, rc = NV_OK, trc = NV_OK;

	nv_aws_keys_init(&keys);
	nv_sigv4_result_init(&sig);
	if (c->nhdr > MAX_HDR - 5)
		return nv_error_set(err, NV_EINTERNAL, "s3: too many headers");
	rc = build_url(s, c, &path, &url, err);
	if (rc)
		goto out;

	for (;;) {
		struct nv_sigv4_kv h[MAX_HDR];
		struct nv_http_header hh[MAX_HDR + 1];
		char amz_date[17];
		size_t nh = 0, i;
		enum nv_retry_verdict v;
		enum nv_retry_stop stop;
		uint64_t delay;

		attempt++;
		if (c->out)
			nv_buf_setlen(c->out, out_base);
		nv_error_clear(&terr);
		if ((rc = nv_aws_cred_get(s->cred, s->base.deadline_ms, &keys, err)))
			goto out;
		nv_sigv4_amz_date(time(NULL), amz_date);
		h[nh++] = (struct nv_sigv4_kv){"host", s->host};
		h[nh++] = (struct nv_sigv4_kv){"x-amz-content-sha256", phash};
		h[nh++] = (struct nv_sigv4_kv){"x-amz-date", amz_date};
		if (keys.session_token.len)
			h[nh++] =
			    (struct nv_sigv4_kv){"x-amz-security-token", keys.session_token.p};
		for (i = 0; i < c->nhdr; i++)
			h[nh++] = c->hdr[i];
		{
			struct nv_sigv4_creds cr = {keys.access_key_id.p, keys.secret_access_key.p,
						    keys.session_token.p};
			struct nv_sigv4_req sr;

			memset(&sr, 0, sizeof(sr));
			sr.method = c->method;
			sr.canonical_uri = path.p;
			sr.query = c->query;
			sr.nquery = c->nquery;
			sr.headers = h;
			sr.nheaders = nh;
			sr.payload_hash = phash;
			sr.amz_date = amz_date;
			sr.region = s->region;
			sr.service = "s3";
			if ((rc = nv_sigv4_sign(&s->signer, &sr, &cr, &sig, err)))
				goto out;
		}
		for (i = 0; i < nh; i++)
			hh[i] = (struct nv_http_header){h[i].name, h[i].value};
		hh[nh] = (struct nv_http_header){"Authorization", sig.authorization.p};
		{
			struct nv_http_req req = {c->method, url.p,	  hh,	 nh + 1,
						  c->body,   c->body_len, c->out};

			trc = nv_http_do(s->http, &req, resp, &terr);
		}
		memset(&xe, 0, sizeof(xe));
		if (!trc && (resp->status < 200 || resp->status > 299) && resp->err_body.len)
			nv_xml_s3_error(resp->err_body.p, resp->err_body.len, &xe, NULL);
		if (!xe.request_id[0])
			snprintf(xe.request_id, sizeof(xe.request_id), "%s", resp->request_id);
		v = nv_retry_verdict(trc, trc ? 0 : resp->status, xe.code);
		if (v == NV_RETRY_DONE) {
			rc = NV_OK;
			goto out;
		}
		if (v == NV_RETRY_FAIL && !trc && !refreshed && code_in(xe.code, token_codes) &&
		    nv_aws_cred_invalidate(s->cred)) {
			/* temporary keys expired early: fetch new ones once */
			refreshed = true;
			log_retry(s, c, attempt, resp->status, xe.code, "credentials refresh", 0);
			continue;
		}
		if (v == NV_RETRY_FAIL)
			break;
		stop = nv_retry_plan(&policy, attempt, nv_retry_random(), nv_now_ms(), &delay);
		if (stop != NV_RETRY_GO) {
			past_deadline = stop == NV_RETRY_PAST_DEADLINE;
			break;
		}
		log_retry(s, c, attempt, trc ? 0 : resp->status, xe.code, trc ? terr.msg : NULL,
			  delay);
		nv_retry_sleep_ms(delay);
	}

	/* the final failure */
	if (c->out)
		nv_buf_setlen(c->out, out_base);
	if (trc) {
		rc = nv_error_set(err, trc, "cannot %s '%s%s%s': %s", c->op, s->base.url,
				  c->key ? "/" : "", c->key ? c->key : "", terr.msg);
		if (attempt > 1)
			nv_error_prefix(err, "after %d attempts", attempt);
		goto deadline;
	}
	rc = nv_s3_error_code(resp->status, xe.code);
	{
		char tries[32] = "";

		if (attempt > 1)
			snprintf(tries, sizeof(tries), ", %d attempts", attempt);
		if (rc == NV_ENOTFOUND && c->key)
			nv_error_set(err, rc, "object '%s/%s' not found (HTTP %ld%s%s%s)",
				     s->base.url, c->key, resp->status, xe.code[0] ? ", " : "",
				     xe.code, tries);
		else if (rc == NV_EEXISTS)
			nv_error_set(err, rc, "object '%s/%s' already exists", s->base.url,
				     c->key ? c->key : "");
		else
			nv_error_set(err, rc,
				     "cannot %s '%s%s%s': %s%s%s (HTTP %ld, RequestId %s%s)", c->op,
				     s->base.url, c->key ? "/" : "", c->key ? c->key : "",
				     xe.code[0] ? xe.code : nv_code_message(rc),
				     xe.message[0] ? ": " : "", xe.message, resp->status,
				     xe.request_id[0] ? xe.request_id : "none", tries);
	}
deadline:
	if (past_deadline) {
		rc = past_deadline_error(err);
	}
out:
	nv_aws_keys_release(&keys);
	nv_sigv4_result_release(&sig);
	nv_buf_release(&path);
	nv_buf_release(&url);
	return rc;
}

/* ---- store operations ---- */

static int s3_get(struct nv_store *st, const char *key, struct nv_buf *out, struct nv_error *err)
{
	struct s3_store *s = s3store(st);
	struct call c = {"get", "GET", key, NULL, 0, NULL, 0, NULL, 0, NULL, out};
	struct nv_http_resp resp;
	int rc;

	nv_http_resp_init(&resp);
	rc = s3_do(s, &c, &resp, err);
	nv_http_resp_release(&resp);
	return rc;
}

/* "bytes A-B/T" (T may be "*") */
static int parse_content_range(const char *v, uint64_t *a, uint64_t *b)
{
	const char *dash, *slash;

	if (strncmp(v, "bytes ", 6))
		return -1;
	v += 6;
	dash = strchr(v, '-');
	slash = dash ? strchr(dash, '/') : NULL;
	if (!dash || !slash)
		return -1;
	if (nv_str_to_u64((struct nv_str){v, (size_t)(dash - v)}, 0, UINT64_MAX, a) ||
	    nv_str_to_u64((struct nv_str){dash + 1, (size_t)(slash - dash - 1)}, 0, UINT64_MAX,
			  b) ||
	    *b < *a)
		return -1;
	return 0;
}

static int s3_get_range(struct nv_store *st, const char *key, uint64_t off, uint64_t len,
			struct nv_buf *out, struct nv_error *err)
{
	struct s3_store *s = s3store(st);
	char range[64];
	struct nv_sigv4_kv h[] = {{"range", range}};
	struct call c = {"get", "GET", key, NULL, 0, h, 1, NULL, 0, NULL, out};
	struct nv_http_resp resp;
	size_t base = out->len;
	uint64_t a, b;
	int rc;

	if (len > UINT64_MAX - off)
		return nv_error_set(err, NV_EINVALID, "range overflows in '%s'", key);
	snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
		 (unsigned long long)(off + len - 1));
	nv_http_resp_init(&resp);
	rc = s3_do(s, &c, &resp, err);
	if (rc == NV_ECORRUPT) {
		rc = nv_error_set(err, NV_ECORRUPT,
				  "object '%s/%s' is shorter than expected (no bytes at offset "
				  "%llu)",
				  s->base.url, key, (unsigned long long)off);
		goto out;
	}
	if (rc)
		goto out;
	if (resp.status == 206) {
		if (parse_content_range(resp.content_range, &a, &b) || a != off) {
			rc = nv_error_set(err, NV_EREMOTE,
					  "get '%s/%s': bad Content-Range '%s' for bytes %llu-%llu",
					  s->base.url, key, resp.content_range,
					  (unsigned long long)off,
					  (unsigned long long)(off + len - 1));
			goto out;
		}
		if (b != off + len - 1 || out->len - base != len) {
			rc = nv_error_set(
			    err, NV_ECORRUPT,
			    "object '%s/%s' is shorter than expected (%zu of %llu bytes at offset "
			    "%llu)",
			    s->base.url, key, out->len - base, (unsigned long long)len,
			    (unsigned long long)off);
			goto out;
		}
	} else if (off == 0 && out->len - base == len) {
		/* 200 with the whole object, which is exactly the range */
	} else if (out->len - base < off + len) {
		rc = nv_error_set(err, NV_ECORRUPT,
				  "object '%s/%s' is shorter than expected (%zu bytes, wanted "
				  "%llu at offset %llu)",
				  s->base.url, key, out->len - base, (unsigned long long)len,
				  (unsigned long long)off);
		goto out;
	} else {
		rc = nv_error_set(err, NV_EREMOTE,
				  "get '%s/%s': the server ignored the Range header (HTTP %ld)",
				  s->base.url, key, resp.status);
		goto out;
	}
out:
	if (rc)
		nv_buf_setlen(out, base);
	nv_http_resp_release(&resp);
	return rc;
}

static int s3_head(struct nv_store *st, const char *key, struct nv_store_stat *out,
		   struct nv_error *err)
{
	struct s3_store *s = s3store(st);
	struct call c = {"head", "HEAD", key, NULL, 0, NULL, 0, NULL, 0, NULL, NULL};
	struct nv_http_resp resp;
	int rc;

	nv_http_resp_init(&resp);
	rc = s3_do(s, &c, &resp, err);
	if (!rc && out) {
		struct tm tm;
		const char *end;

		if (resp.content_length < 0) {
			rc = nv_error_set(err, NV_EREMOTE, "head '%s/%s': no Content-Length",
					  s->base.url, key);
			goto out;
		}
		out->size = (uint64_t)resp.content_length;
		out->mtime = 0;
		memset(&tm, 0, sizeof(tm));
		end = strptime(resp.last_modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
		if (end && !*end)
			out->mtime = (int64_t)timegm(&tm);
	}
out:
	nv_http_resp_release(&resp);
	return rc;
}

static int s3_del(struct nv_store *st, const char *key, struct nv_error *err)
{
	struct s3_store *s = s3store(st);
	struct call c = {"delete", "DELETE", key, NULL, 0, NULL, 0, NULL, 0, NULL, NULL};
	struct nv_http_resp resp;
	int rc;

	nv_http_resp_init(&resp);
	rc = s3_do(s, &c, &resp, err);
	nv_http_resp_release(&resp);
	if (rc == NV_ENOTFOUND) {
		nv_error_clear(err);
		rc = NV_OK;
	}
	return rc;
}

static int put_single(struct s3_store *s, const char *key, const void *data, size_t len,
		      unsigned flags, struct nv_error *err)
{
	char hash[65];
	struct nv_sigv4_kv h[] = {{"if-none-match", "*"}};
	struct call c = {"put", "PUT", key,  NULL, 0, h, (flags & NV_PUT_IF_ABSENT) ? 1 : 0,
			 data,	len,   hash, NULL};
	struct nv_http_resp resp;
	int rc;

	nv_sigv4_sha256_hex(data, len, hash);
	nv_http_resp_init(&resp);
	rc = s3_do(s, &c, &resp, err);
	nv_http_resp_release(&resp);
	return rc;
}

static int xml_escape_add(struct nv_buf *b, const char *s, struct nv_error *err)
{
	int rc = NV_OK;

	for (; *s && !rc; s++) {
		switch (*s) {
		case '&':
			rc = nv_buf_addstr(b, "&amp;", err);
			break;
		case '<':
			rc = nv_buf_addstr(b, "&lt;", err);
			break;
		case '>':
			rc = nv_buf_addstr(b, "&gt;", err);
			break;
		case '"':
			rc = nv_buf_addstr(b, "&quot;", err);
			break;
		default:
			rc = nv_buf_addch(b, *s, err);
		}
	}
	return rc;
}

static int put_multipart(struct s3_store *s, const char *key, const void *data, size_t len,
			 unsigned flags, struct nv_error *err)
{
	struct nv_buf upload_id = NV_BUF_INIT(4096), answer = NV_BUF_INIT(SMALL_ANSWER_MAX);
	struct nv_buf xml = NV_BUF_INIT(SMALL_ANSWER_MAX);
	struct nv_http_resp resp;
	size_t nparts = (len + s->part_size - 1) / s->part_size, i;
	char hash[65], partno[16];
	int rc, attempt;

	nv_http_resp_init(&resp);
	if (nparts > 10000) {
		rc =
		    nv_error_set(err, NV_ETOOBIG, "object '%s/%s': %zu bytes need over 10000 parts",
				 s->base.url, key, len);
		goto out;
	}
	if (flags & NV_PUT_IF_ABSENT) {
		struct nv_store_stat st;

		rc = s3_head(&s->base, key, &st, err);
		if (!rc) {
			rc = nv_error_set(err, NV_EEXISTS, "object '%s/%s' already exists",
					  s->base.url, key);
			goto out;
		}
		if (rc != NV_ENOTFOUND)
			goto out;
		nv_error_clear(err);
	}
	{
		struct nv_sigv4_kv q[] = {{"uploads", ""}};
		struct call c = {
		    "start upload of", "POST", key, q, 1, NULL, 0, "", 0, NULL, &answer};

		if ((rc = s3_do(s, &c, &resp, err)) ||
		    (rc = nv_xml_initiate_upload(answer.p, answer.len, &upload_id, err)))
			goto out;
	}
	if ((rc = nv_buf_addstr(&xml, "<CompleteMultipartUpload>", err)))
		goto abort;
	for (i = 0; i < nparts; i++) {
		size_t off = i * s->part_size;
		size_t n = len - off < s->part_size ? len - off : s->part_size;
		struct nv_sigv4_kv q[] = {{"partNumber", partno}, {"uploadId", upload_id.p}};
		struct call c = {"upload part of",	   "PUT", key,	q,   2, NULL, 0,
				 (const char *)data + off, n,	  hash, NULL};

		snprintf(partno, sizeof(partno), "%zu", i + 1);
		nv_sigv4_sha256_hex((const char *)data + off, n, hash);
		if ((rc = s3_do(s, &c, &resp, err)))
			goto abort;
		if (!resp.etag[0]) {
			rc = nv_error_set(err, NV_EREMOTE, "upload part %zu of '%s/%s': no ETag",
					  i + 1, s->base.url, key);
			goto abort;
		}
		if ((rc = nv_buf_addf(&xml, err, "<Part><PartNumber>%zu</PartNumber><ETag>",
				      i + 1)) ||
		    (rc = xml_escape_add(&xml, resp.etag, err)) ||
		    (rc = nv_buf_addstr(&xml, "</ETag></Part>", err)))
			goto abort;
	}
	if ((rc = nv_buf_addstr(&xml, "</CompleteMultipartUpload>", err)))
		goto abort;
	nv_sigv4_sha256_hex(xml.p, xml.len, hash);
	for (attempt = 1;; attempt++) {
		struct nv_sigv4_kv q[] = {{"uploadId", upload_id.p}};
		struct nv_sigv4_kv h[] = {{"if-none-match", "*"}};
		struct call c = {"complete upload of",
				 "POST",
				 key,
				 q,
				 1,
				 h,
				 (flags & NV_PUT_IF_ABSENT) ? 1 : 0,
				 xml.p,
				 xml.len,
				 hash,
				 &answer};

		nv_buf_reset(&answer);
		if ((rc = s3_do(s, &c, &resp, err)))
			goto abort;
		/* a 200 answer can still carry an <Error> */
		rc = nv_xml_complete_upload(answer.p, answer.len, err);
		if (!rc)
			goto out;
		if (rc != NV_EREMOTE)
			break;
		{
			struct nv_retry policy = {s->max_attempts, (uint64_t)s->retry_base_ms,
						  RETRY_CAP_MS, s->base.deadline_ms};
			uint64_t delay;
			enum nv_retry_stop stop =
			    nv_retry_plan(&policy, attempt, nv_retry_random(), nv_now_ms(), &delay);

			if (stop == NV_RETRY_PAST_DEADLINE) {
				rc = past_deadline_error(err);
			}
			if (stop != NV_RETRY_GO)
				break;
			nv_retry_sleep_ms(delay);
		}
	}
	nv_error_prefix(err, "complete upload of '%s/%s'", s->base.url, key);
abort:
	if (upload_id.len) {
		struct nv_sigv4_kv q[] = {{"uploadId", upload_id.p}};
		struct call c = {
		    "abort upload of", "DELETE", key, q, 1, NULL, 0, NULL, 0, NULL, NULL};
		struct nv_error e2 = NV_ERROR_INIT;

		s3_do(s, &c, &resp, &e2); /* best effort; the first error is kept */
	}
out:
	nv_buf_release(&upload_id);
	nv_buf_release(&answer);
	nv_buf_release(&xml);
	nv_http_resp_release(&resp);
	return rc;
}

static int s3_put(struct nv_store *st, const char *key, const void *data, size_t len,
		  unsigned flags, struct nv_error *err)
{
	struct s3_store *s = s3store(st);

	if (len > s->mpu_threshold)
		return put_multipart(s, key, data, len, flags, err);
	return put_single(s, key, data, len, flags, err);
}

struct list_ud {
	struct s3_store *s;
	nv_store_list_fn fn;
	void *ud;
	int user_rc;
};

static int on_entry(const struct nv_xml_list_entry *e, void *ud)
{
	struct list_ud *l = ud;
	size_t plen = strlen(l->s->prefix);
	struct nv_store_stat st = {e->size, e->mtime};
	int rc;

	if (strncmp(e->key, l->s->prefix, plen) || !e->key[plen])
		return 0;
	rc = l->fn(e->key + plen, &st, l->ud);
	if (rc)
		l->user_rc = rc;
	return rc;
}

static int s3_list(struct nv_store *st, const char *prefix, nv_store_list_fn fn, void *ud,
		   struct nv_error *err)
{
	struct s3_store *s = s3store(st);
	struct nv_buf full = NV_BUF_INIT(8192), token = NV_BUF_INIT(8192);
	struct nv_buf page = NV_BUF_INIT(LIST_PAGE_MAX), tok_copy = NV_BUF_INIT(8192);
	struct list_ud l = {s, fn, ud, 0};
	struct nv_http_resp resp;
	char maxkeys[16];
	bool truncated = true;
	int rc;

	nv_http_resp_init(&resp);
	snprintf(maxkeys, sizeof(maxkeys), "%d", s->list_max_keys);
	if ((rc = nv_buf_addstr(&full, s->prefix, err)) ||
	    (rc = nv_buf_addstr(&full, prefix ? prefix : "", err)))
		goto out;
	while (truncated) {
		struct nv_sigv4_kv q[4] = {{"list-type", "2"},
					   {"prefix", full.p},
					   {"max-keys", maxkeys},
					   {"continuation-token", tok_copy.p}};
		struct call c = {"list", "GET", NULL, q,    tok_copy.len ? 4 : 3, NULL, 0,
				 NULL,	 0,	NULL, &page};

		nv_buf_reset(&page);
		if ((rc = s3_do(s, &c, &resp, err)))
			goto out;
		rc = nv_xml_list_v2(page.p, page.len, on_entry, &l, &truncated, &token, err);
		if (l.user_rc) {
			rc = l.user_rc;
			goto out;
		}
		if (rc) {
			nv_error_prefix(err, "list '%s/%s'", s->base.url, prefix ? prefix : "");
			goto out;
		}
		nv_buf_reset(&tok_copy);
		if (truncated && (rc = nv_buf_add(&tok_copy, token.p, token.len, err)))
			goto out;
	}
out:
	nv_buf_release(&full);
	nv_buf_release(&token);
	nv_buf_release(&tok_copy);
	nv_buf_release(&page);
	nv_http_resp_release(&resp);
	return rc;
}

static void s3_close(struct nv_store *st)
{
	struct s3_store *s = s3store(st);

	if (!s)
		return;
	nv_http_pool_free(s->http);
	nv_aws_cred_free(s->cred);
	nv_sigv4_signer_release(&s->signer);
	nv_free(s->bucket);
	nv_free(s->prefix);
	nv_free(s->origin);
	nv_free(s->host);
	nv_free(s->path_base);
	nv_free(s->region);
	nv_free(s->base.url);
	nv_free(s);
}

static const struct nv_store_ops s3_ops = {
    "s3", s3_get, s3_get_range, s3_put, s3_head, s3_list, s3_del, s3_close,
};

void nv_s3_store_tune(struct nv_store *st, uint64_t multipart_threshold, uint64_t part_size,
		      int list_max_keys, int retry_base_ms)
{
	struct s3_store *s = s3store(st);

	if (multipart_threshold)
		s->mpu_threshold = multipart_threshold;
	if (part_size)
		s->part_size = part_size;
	if (list_max_keys > 0 && list_max_keys <= 1000)
		s->list_max_keys = list_max_keys;
	if (retry_base_ms > 0)
		s->retry_base_ms = retry_base_ms;
}

void nv_s3_store_endpoint(struct nv_store *st, const char **origin, const char **host,
			  const char **path_base)
{
	struct s3_store *s = s3store(st);

	*origin = s->origin;
	*host = s->host;
	*path_base = s->path_base;
}

int nv_s3_create_bucket(struct nv_store *st, struct nv_error *err)
{
	struct s3_store *s = s3store(st);
	struct nv_buf body = NV_BUF_INIT(4096);
	struct nv_http_resp resp;
	char hash[65];
	int rc;

	nv_http_resp_init(&resp);
	if (strcmp(s->region, "us-east-1") &&
	    (rc = nv_buf_addf(&body, err,
			      "<CreateBucketConfiguration><LocationConstraint>%s"
			      "</LocationConstraint></CreateBucketConfiguration>",
			      s->region)))
		goto out;
	nv_sigv4_sha256_hex(body.p, body.len, hash);
	{
		struct call c = {"create bucket", "PUT",    NULL, NULL, 0, NULL, 0,
				 body.p,	  body.len, hash, NULL};

		rc = s3_do(s, &c, &resp, err);
	}
	if (rc && strstr(err ? err->msg : "", "BucketAlreadyOwnedByYou")) {
		nv_error_clear(err);
		rc = NV_OK;
	}
out:
	nv_buf_release(&body);
	nv_http_resp_release(&resp);
	return rc;
}

/* ---- open ---- */

static bool default_port(const char *scheme, const char *port)
{
	return (!strcmp(scheme, "http") && !strcmp(port, "80")) ||
	       (!strcmp(scheme, "https") && !strcmp(port, "443"));
}

static int setup_endpoint(struct s3_store *s, const struct nv_aws_config *a, struct nv_error *err)
{
	struct nv_buf origin = NV_BUF_INIT(4096), host = NV_BUF_INIT(4096),
		      base = NV_BUF_INIT(4096);
	CURLU *u = NULL;
	char *scheme = NULL, *h = NULL, *port = NULL, *path = NULL;
	bool virt;
	int rc = NV_OK;

	if (a->endpoint_url) {
		u = curl_url();
		if (!u) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
		if (curl_url_set(u, CURLUPART_URL, a->endpoint_url, 0) ||
		    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
		    curl_url_get(u, CURLUPART_HOST, &h, 0) ||
		    curl_url_get(u, CURLUPART_PATH, &path, 0)) {
			rc = nv_error_set(err, NV_ECONFIG, "S3 endpoint '%s' is not a URL",
					  a->endpoint_url);
			goto out;
		}
		if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
			rc = nv_error_set(err, NV_ECONFIG, "S3 endpoint '%s': want http or https",
					  a->endpoint_url);
			goto out;
		}
		if (curl_url_get(u, CURLUPART_PORT, &port, 0))
			port = NULL;
		for (char *q = h; *q; q++) /* host names are case-insensitive */
			*q = (char)tolower((unsigned char)*q);
		virt = a->addressing == NV_S3_VIRTUAL;
		rc = nv_buf_addf(&host, err, "%s%s%s%s%s", virt ? s->bucket : "", virt ? "." : "",
				 h, port && !default_port(scheme, port) ? ":" : "",
				 port && !default_port(scheme, port) ? port : "");
		if (!rc)
			rc = nv_buf_addf(&origin, err, "%s://%s", scheme, host.p);
		/* an endpoint path ("/s3") comes before the bucket */
		if (!rc && strcmp(path, "/")) {
			size_t n = strlen(path);

			while (n && path[n - 1] == '/')
				n--;
			rc = nv_buf_add(&base, path, n, err);
		}
	} else {
		/* AWS: virtual-hosted style, unless asked otherwise or a dotted bucket
		 * name would not match the TLS certificate */
		virt = a->addressing != NV_S3_PATH && !strchr(s->bucket, '.');
		rc = nv_buf_addf(&host, err, "%s%ss3.%s.amazonaws.com", virt ? s->bucket : "",
				 virt ? "." : "", s->region);
		if (!rc)
			rc = nv_buf_addf(&origin, err, "https://%s", host.p);
	}
	if (!rc && !virt) {
		rc = nv_buf_addch(&base, '/', err);
		if (!rc)
			rc = nv_sigv4_uri_encode(&base, s->bucket, strlen(s->bucket), false, err);
	}
	if (rc)
		goto out;
	s->origin = nv_buf_detach(&origin, NULL);
	s->host = nv_buf_detach(&host, NULL);
	s->path_base = nv_buf_detach(&base, NULL);
	if (!s->origin || !s->host || !s->path_base)
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
out:
	curl_free(scheme);
	curl_free(h);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	nv_buf_release(&origin);
	nv_buf_release(&host);
	nv_buf_release(&base);
	return rc;
}

static int parse_url(struct s3_store *s, const char *url, struct nv_error *err)
{
	const char *b = url + 5, *slash;
	size_t bl, i;
	struct nv_buf prefix = NV_BUF_INIT(1024), u = NV_BUF_INIT(2048);
	int rc = NV_OK;

	slash = strchr(b, '/');
	bl = slash ? (size_t)(slash - b) : strlen(b);
	if (bl < 3 || bl > 63)
		return nv_error_set(err, NV_ECONFIG,
				    "store '%s': bucket name must be 3 to 63 characters", url);
	for (i = 0; i < bl; i++) {
		char ch = b[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '-' || ch == '_' || (ch >= 'A' && ch <= 'Z')))
			return nv_error_set(err, NV_ECONFIG,
					    "store '%s': bad character in the bucket name", url);
	}
	s->bucket = nv_strndup(b, bl);
	if (!s->bucket)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	if (slash) {
		const char *p = slash + 1;
		size_t n = strlen(p);

		while (n && p[n - 1] == '/')
			n--;
		if (n) {
			char *tmp = nv_strndup(p, n);

			if (!tmp)
				return nv_error_set(err, NV_ENOMEM, "out of memory");
			rc = nv_store_check_key(tmp, err);
			nv_free(tmp);
			if (rc)
				return nv_error_set(err, NV_ECONFIG,
						    "store '%s': bad prefix (empty, '.' or '..' "
						    "component, or a control character)",
						    url);
			if ((rc = nv_buf_add(&prefix, p, n, err)) ||
			    (rc = nv_buf_addch(&prefix, '/', err)))
				goto out;
		}
	}
	if ((rc = nv_buf_addf(&u, err, "s3://%s%s%.*s", s->bucket, prefix.len ? "/" : "",
			      prefix.len ? (int)prefix.len - 1 : 0, prefix.p)))
		goto out;
	s->prefix = nv_buf_detach(&prefix, NULL);
	s->base.url = nv_buf_detach(&u, NULL);
	if (!s->prefix || !s->base.url)
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
out:
	nv_buf_release(&prefix);
	nv_buf_release(&u);
	return rc;
}

int nv_store_s3_open(const char *url, const struct nv_config *cfg, struct nv_store **out,
		     struct nv_error *err)
{
	static const struct nv_config empty_cfg;
	struct s3_store *s;
	int rc;

	*out = NULL;
	if (!cfg)
		cfg = &empty_cfg;
	if (strncmp(url, "s3://", 5))
		return nv_error_set(err, NV_ECONFIG, "'%s' is not an s3:// URL", url);
	s = nv_calloc(1, sizeof(*s));
	if (!s)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	s->base.ops = &s3_ops;
	nv_sigv4_signer_init(&s->signer);
	s->max_attempts = cfg->aws.max_attempts > 0 ? cfg->aws.max_attempts : 5;
	s->mpu_threshold = NV_S3_MULTIPART_THRESHOLD;
	s->part_size = NV_S3_PART_SIZE;
	s->list_max_keys = 1000;
	s->retry_base_ms = 200;
	if ((rc = parse_url(s, url, err)))
		goto fail;
	s->region = nv_strdup(cfg->aws.region ? cfg->aws.region : "us-east-1");
	if (!s->region) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = setup_endpoint(s, &cfg->aws, err)))
		goto fail;
	if ((rc = nv_aws_cred_new(cfg, &s->cred, err))) {
		nv_error_prefix(err, "store '%s'", s->base.url);
		goto fail;
	}
	{
		struct nv_http_opts o = {
		    cfg->parallel > 0 ? cfg->parallel : 16, cfg->aws.ca_bundle, 10000,
		    cfg->aws.stall_timeout_ms > 0 ? (long)((cfg->aws.stall_timeout_ms + 999) / 1000)
						  : 30,
		    0};

		if ((rc = nv_http_pool_new(&o, &s->http, err)))
			goto fail;
	}
	*out = &s->base;
	return NV_OK;
fail:
	s3_close(&s->base);
	return rc;
}
