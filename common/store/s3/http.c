#include "store/s3/http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/mem.h"

#define ERR_BODY_MAX (64u << 10)

struct nv_http_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	CURL **idle;
	int nidle;
	int created;
	int max;
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	char *ca_bundle;
	long connect_timeout_ms;
	long stall_timeout_s;
	long total_timeout_ms;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	struct nv_http_pool *p = ud;

	(void)h;
	(void)access;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&p->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	struct nv_http_pool *p = ud;

	(void)h;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&p->share_locks[data]);
}

int nv_http_pool_new(const struct nv_http_opts *o, struct nv_http_pool **out, struct nv_error *err)
{
	struct nv_http_pool *p;
	int i;

	*out = NULL;
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return nv_error_set(err, NV_EINTERNAL, "curl_global_init failed: %s",
				    curl_easy_strerror(global_rc));
	if (o->max_handles < 1)
		return nv_error_set(err, NV_EINVALID, "http pool needs at least one handle");
	p = nv_calloc(1, sizeof(*p));
	if (!p)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&p->share_locks[i], NULL);
	p->max = o->max_handles;
	p->connect_timeout_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 10000;
	p->stall_timeout_s = o->stall_timeout_s > 0 ? o->stall_timeout_s : 30;
	p->total_timeout_ms = o->total_timeout_ms;
	p->idle = nv_calloc((size_t)p->max, sizeof(*p->idle));
	if (!p->idle)
		goto nomem;
	if (o->ca_bundle && !(p->ca_bundle = nv_strdup(o->ca_bundle)))
		goto nomem;
	p->share = curl_share_init();
	if (!p->share)
		goto nomem;
	curl_share_setopt(p->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(p->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(p->share, CURLSHOPT_USERDATA, p);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(p->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = p;
	return NV_OK;
nomem:
	nv_http_pool_free(p);
	return nv_error_set(err, NV_ENOMEM, "out of memory");
}

void nv_http_pool_free(struct nv_http_pool *p)
{
	int i;

	if (!p)
		return;
	for (i = 0; i < p->nidle; i++)
		curl_easy_cleanup(p->idle[i]);
	if (p->share)
		curl_share_cleanup(p->share);
	for (i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&p->share_locks[i]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	nv_free(p->idle);
	nv_free(p->ca_bundle);
	nv_free(p);
}

static CURL *pool_take(struct nv_http_pool *p)
{
	CURL *h = NULL;

	pthread_mutex_lock(&p->lock);
	while (!p->nidle && p->created >= p->max)
		pthread_cond_wait(&p->cond, &p->lock);
	if (p->nidle) {
		h = p->idle[--p->nidle];
	} else {
		h = curl_easy_init();
		if (h)
			p->created++;
	}
	pthread_mutex_unlock(&p->lock);
	return h;
}

static void pool_give(struct nv_http_pool *p, CURL *h)
{
	pthread_mutex_lock(&p->lock);
	p->idle[p->nidle++] = h;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void nv_http_resp_init(struct nv_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	nv_buf_init(&r->err_body, ERR_BODY_MAX);
}

void nv_http_resp_release(struct nv_http_resp *r)
{
	nv_buf_release(&r->err_body);
}

static void resp_reset(struct nv_http_resp *r)
{
	struct nv_buf b = r->err_body;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	r->err_body = b;
	nv_buf_reset(&r->err_body);
}

struct xfer {
	CURL *h;
	const struct nv_http_req *req;
	struct nv_http_resp *resp;
	size_t sent;
	int sink_rc;	  /* why the write callback refused data */
	bool sized;	  /* out was grown to Content-Length */
	curl_off_t moved; /* bytes up + down at the last change */
	int64_t moved_ms; /* when they last changed */
	int64_t stall_ms;
	bool stalled;
	struct nv_error sink_err;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Abort a transfer when no byte moved for stall_ms (curl calls this about
 * once a second even when nothing happens). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = ud;
	int64_t now = mono_ms();

	(void)dltotal;
	(void)ultotal;
	if (dlnow + ulnow != x->moved || !x->moved_ms) {
		x->moved = dlnow + ulnow;
		x->moved_ms = now;
		return 0;
	}
	if (now - x->moved_ms >= x->stall_ms) {
		x->stalled = true;
		return 1;
	}
	return 0;
}

static size_t on_read(char *dst, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t room = size * nmemb, left = x->req->body_len - x->sent;
	size_t n = left < room ? left : room;

	if (n)
		memcpy(dst, (const char *)x->req->body + x->sent, n);
	x->sent += n;
	return n;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct xfer *x = ud;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > x->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->sent = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	size_t n = size * nmemb;
	long status = 0;

	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
	x->resp->received += n;
	if (status < 200 || status > 299) {
		/* keep what fits of an error body; the rest is not needed */
		size_t room = x->resp->err_body.max - x->resp->err_body.len;

		nv_buf_add(&x->resp->err_body, data, n < room ? n : room, NULL);
		return n;
	}
	if (!x->req->out)
		return n;
	if (!x->sized && x->resp->content_length > 0) {
		/* room for the whole body at once (and an early NV_ETOOBIG) */
		x->sized = true;
		x->sink_rc =
		    nv_buf_grow(x->req->out, (size_t)x->resp->content_length, &x->sink_err);
		if (x->sink_rc)
			return 0;
	}
	x->sink_rc = nv_buf_add(x->req->out, data, n, &x->sink_err);
	return x->sink_rc ? 0 : n;
}

static void set_field(char *dst, size_t cap, const char *v, size_t n)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *ud)
{
	struct xfer *x = ud;
	struct nv_http_resp *r = x->resp;
	size_t n = size * nmemb;
	const char *colon;
	size_t nl;

	if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
		/* a new status line (after a 100 Continue): forget earlier headers */
		r->content_length = -1;
		r->content_range[0] = r->etag[0] = r->last_modified[0] = '\0';
		r->request_id[0] = r->retry_after[0] = '\0';
		return n;
	}
	colon = memchr(line, ':', n);
	if (!colon)
		return n;
	nl = (size_t)(colon - line);
	colon++;
#define HDR(name) (nl == sizeof(name) - 1 && !strncasecmp(line, name, nl))
	if (HDR("content-length")) {
		char tmp[32];
		uint64_t v;

		set_field(tmp, sizeof(tmp), colon, n - nl - 1);
		if (!nv_str_to_u64(nv_str_from(tmp), 0, INT64_MAX, &v))
			r->content_length = (int64_t)v;
	} else if (HDR("content-range")) {
		set_field(r->content_range, sizeof(r->content_range), colon, n - nl - 1);
	} else if (HDR("etag")) {
		set_field(r->etag, sizeof(r->etag), colon, n - nl - 1);
	} else if (HDR("last-modified")) {
		set_field(r->last_modified, sizeof(r->last_modified), colon, n - nl - 1);
	} else if (HDR("x-amz-request-id")) {
		set_field(r->request_id, sizeof(r->request_id), colon, n - nl - 1);
	} else if (HDR("retry-after")) {
		set_field(r->retry_after, sizeof(r->retry_after), colon, n - nl - 1);
	}
#undef HDR
	return n;
}

int nv_http_do(struct nv_http_pool *p, const struct nv_http_req *req, struct nv_http_resp *resp,
	       struct nv_error *err)
{
	struct xfer x = {0};
	struct curl_slist *hl = NULL, *t;
	struct nv_buf line = NV_BUF_INIT(1 << 16);
	char ebuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode cc;
	size_t i;
	int rc = NV_OK;
	bool upload = !strcmp(req->method, "PUT") || !strcmp(req->method, "POST");

	resp_reset(resp);
	h = pool_take(p);
	if (!h)
		return nv_error_set(err, NV_ENOMEM, "cannot create a curl handle");
	curl_easy_reset(h);
	x.h = h;
	x.req = req;
	x.resp = resp;

	for (i = 0; i < req->nheaders; i++) {
		nv_buf_reset(&line);
		rc = nv_buf_addf(&line, err, "%s: %s", req->headers[i].name, req->headers[i].value);
		if (rc)
			goto out;
		t = curl_slist_append(hl, line.p);
		if (!t) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
		hl = t;
	}
	/* no "Expect: 100-continue" round trip; no default content type */
	if (upload) {
		bool has_type = false;

		for (i = 0; i < req->nheaders; i++)
			has_type |= !strcasecmp(req->headers[i].name, "Content-Type");
		if (!(t = curl_slist_append(hl, "Expect:")))
			goto nomem;
		hl = t;
		if (!has_type && !(t = curl_slist_append(hl, "Content-Type:")))
			goto nomem;
		hl = t;
	}

	curl_easy_setopt(h, CURLOPT_SHARE, p->share);
	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (p->ca_bundle)
		curl_easy_setopt(h, CURLOPT_CAINFO, p->ca_bundle);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms);
	x.stall_ms = p->stall_timeout_s * 1000;
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x);
	if (p->total_timeout_ms)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, p->total_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(req->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	} else if (upload) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 256L * 1024);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &x);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, &x);
		if (!strcmp(req->method, "POST"))
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "POST");
	} else {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (cc == CURLE_WRITE_ERROR && x.sink_rc) {
		rc = x.sink_rc;
		if (err)
			*err = x.sink_err;
	} else if (cc == CURLE_ABORTED_BY_CALLBACK && x.stalled) {
		rc = nv_error_set(err, NV_ETIMEOUT, "transfer stalled: no data for %ld s",
				  p->stall_timeout_s);
	} else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
		   cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CRL_BADFILE ||
		   cc == CURLE_SSL_ISSUER_ERROR || cc == CURLE_SSL_PINNEDPUBKEYNOTMATCH ||
		   cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
		/* retrying cannot help: a configuration matter (AWS_CA_BUNDLE, URL) */
		rc = nv_error_set(err, NV_ECONFIG, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = nv_error_set(err, NV_ETIMEOUT, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
	} else if (cc != CURLE_OK) {
		rc = nv_error_set(err, NV_ENETWORK, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cc));
	} else if (resp->content_length >= 0 && strcmp(req->method, "HEAD") &&
		   resp->received != (uint64_t)resp->content_length) {
		rc = nv_error_set(err, NV_ENETWORK, "body has %llu bytes, Content-Length said %lld",
				  (unsigned long long)resp->received,
				  (long long)resp->content_length);
	}
	goto out;
nomem:
	rc = nv_error_set(err, NV_ENOMEM, "out of memory");
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(h, CURLOPT_SHARE, NULL);
	pool_give(p, h);
	curl_slist_free_all(hl);
	nv_buf_release(&line);
	return rc;
}
