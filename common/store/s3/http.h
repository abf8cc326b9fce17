/* http.h - HTTP requests over libcurl for the S3 store and the credential
 * providers.
 *
 * A pool holds at most `max_handles` curl easy handles; each keeps its
 * connection alive between requests, so the pool also caps the number of
 * connections. A thread borrows a handle for one request and gives it back
 * (nv_http_do does both), blocking while all are busy. DNS answers and TLS
 * sessions are shared between the handles (curl_share, with locks).
 * TLS peer and host verification are always on for https.
 *
 * nv_http_do makes ONE attempt: retries are the caller's policy.
 */
#ifndef NV_HTTP_H
#define NV_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct nv_http_pool;

struct nv_http_opts {
	int max_handles;       /* >= 1 */
	const char *ca_bundle; /* NULL: the system's CA store */
	long connect_timeout_ms;
	long stall_timeout_s;  /* abort when no byte moves for this long (0: 30) */
	long total_timeout_ms; /* 0: none */
};

int nv_http_pool_new(const struct nv_http_opts *o, struct nv_http_pool **out, struct nv_error *err);
void nv_http_pool_free(struct nv_http_pool *p);

struct nv_http_header {
	const char *name;
	const char *value;
};

struct nv_http_req {
	const char *method; /* GET HEAD PUT POST DELETE */
	const char *url;
	const struct nv_http_header *headers;
	size_t nheaders;
	const void *body; /* PUT/POST payload (may be NULL with body_len 0) */
	size_t body_len;
	/* Body of a 2xx answer is appended here (its cap applies: NV_ETOOBIG);
	 * NULL discards it. Bodies of other statuses go to resp->err_body. */
	struct nv_buf *out;
};

struct nv_http_resp {
	long status;
	int64_t content_length; /* -1 when the answer had none */
	uint64_t received;	/* body bytes received */
	char content_range[96];
	char etag[160];
	char last_modified[64];
	char request_id[128];
	char retry_after[32];
	struct nv_buf err_body; /* non-2xx body, capped at 64 KiB */
};

void nv_http_resp_init(struct nv_http_resp *r);
void nv_http_resp_release(struct nv_http_resp *r);

/* One request. NV_OK when an HTTP answer arrived (whatever its status);
 * NV_ENETWORK (connection failed, reset, truncated body...), NV_ETIMEOUT
 * (connect timeout, stall), NV_ETOOBIG (2xx body over out's cap) with curl's
 * message otherwise. resp is reset first. */
int nv_http_do(struct nv_http_pool *p, const struct nv_http_req *req, struct nv_http_resp *resp,
	       struct nv_error *err);

#endif
