#include "store/s3/sigv4.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "base/mem.h"

#define SIGV4_TEXT_MAX (64u << 10) /* canonical request, string to sign... */

void nv_sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256(data, len, md);
	nv_hex_encode(md, sizeof(md), out);
}

void nv_sigv4_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			  unsigned char out[32])
{
	unsigned int n = 32;

	HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &n);
}

void nv_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, unsigned char key[32])
{
	struct nv_buf k = NV_BUF_INIT(4096);
	unsigned char a[32], b[32];

	/* "AWS4" + secret; a secret longer than the cap is refused by sign() */
	if (nv_buf_addstr(&k, "AWS4", NULL) || nv_buf_addstr(&k, secret, NULL)) {
		memset(key, 0, 32);
		nv_buf_release(&k);
		return;
	}
	nv_sigv4_hmac_sha256(k.p, k.len, date, strlen(date), a);
	nv_sigv4_hmac_sha256(a, 32, region, strlen(region), b);
	nv_sigv4_hmac_sha256(b, 32, service, strlen(service), a);
	nv_sigv4_hmac_sha256(a, 32, "aws4_request", 12, key);
	OPENSSL_cleanse(k.p, k.len);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(b, sizeof(b));
	nv_buf_release(&k);
}

void nv_sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int nv_sigv4_uri_encode(struct nv_buf *out, const char *s, size_t n, bool keep_slash,
			struct nv_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (unreserved(c) || (keep_slash && c == '/')) {
			rc = nv_buf_addch(out, (char)c, err);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			rc = nv_buf_add(out, e, 3, err);
		}
		if (rc)
			return rc;
	}
	return NV_OK;
}

struct qpair {
	char *k;
	char *v;
};

static int qpair_cmp(const void *a, const void *b)
{
	const struct qpair *x = a, *y = b;
	int c = strcmp(x->k, y->k);

	return c ? c : strcmp(x->v, y->v);
}

static char *encode_dup(const char *s, struct nv_error *err)
{
	struct nv_buf b = NV_BUF_INIT(SIGV4_TEXT_MAX);

	if (nv_sigv4_uri_encode(&b, s ? s : "", s ? strlen(s) : 0, false, err))
		return NULL;
	if (!b.alloc && nv_buf_grow(&b, 1, err)) /* a real allocation even for "" */
		return NULL;
	return nv_buf_detach(&b, NULL);
}

int nv_sigv4_canonical_query(struct nv_buf *out, const struct nv_sigv4_kv *q, size_t n,
			     struct nv_error *err)
{
	struct qpair *v = NULL;
	size_t i, made = 0;
	int rc = NV_OK;

	if (!n)
		return NV_OK;
	v = nv_calloc(n, sizeof(*v));
	if (!v)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	for (i = 0; i < n; i++, made++) {
		v[i].k = encode_dup(q[i].name, err);
		v[i].v = v[i].k ? encode_dup(q[i].value, err) : NULL;
		if (!v[i].k || !v[i].v) {
			made++;
			rc = err && err->code ? err->code : NV_ENOMEM;
			goto out;
		}
	}
	qsort(v, n, sizeof(*v), qpair_cmp);
	for (i = 0; i < n && !rc; i++)
		rc = nv_buf_addf(out, err, "%s%s=%s", i ? "&" : "", v[i].k, v[i].v);
out:
	for (i = 0; i < made; i++) {
		nv_free(v[i].k);
		nv_free(v[i].v);
	}
	nv_free(v);
	return rc;
}

/* Canonical header value: trimmed, inner runs of spaces collapsed to one. */
static int add_header_value(struct nv_buf *out, const char *s, struct nv_error *err)
{
	const char *end;
	bool space = false;
	int rc = NV_OK;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (; s < end && !rc; s++) {
		if (*s == ' ' || *s == '\t') {
			space = true;
			continue;
		}
		if (space)
			rc = nv_buf_addch(out, ' ', err);
		space = false;
		if (!rc)
			rc = nv_buf_addch(out, *s, err);
	}
	return rc;
}

static int add_lower(struct nv_buf *out, const char *s, struct nv_error *err)
{
	int rc = NV_OK;

	for (; *s && !rc; s++)
		rc = nv_buf_addch(out, (char)tolower((unsigned char)*s), err);
	return rc;
}

static int hdr_cmp(const void *a, const void *b)
{
	const struct nv_sigv4_kv *x = *(const struct nv_sigv4_kv *const *)a;
	const struct nv_sigv4_kv *y = *(const struct nv_sigv4_kv *const *)b;

	return strcasecmp(x->name, y->name);
}

static int canonical_request(const struct nv_sigv4_req *r, struct nv_sigv4_result *res,
			     struct nv_error *err)
{
	struct nv_buf *cr = &res->canonical_request;
	const struct nv_sigv4_kv **h = NULL;
	size_t i;
	int rc;

	if (!r->nheaders)
		return nv_error_set(err, NV_EINVALID, "sigv4: no header to sign");
	h = nv_calloc(r->nheaders, sizeof(*h));
	if (!h)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	for (i = 0; i < r->nheaders; i++) {
		const char *p;

		h[i] = &r->headers[i];
		for (p = h[i]->name; *p; p++)
			if (*p <= ' ' || *p == ':' || *p == 0x7f)
				break;
		if (!*h[i]->name || *p || !h[i]->value || strpbrk(h[i]->value, "\r\n")) {
			rc = nv_error_set(err, NV_EINVALID, "sigv4: bad header '%s'", h[i]->name);
			goto out;
		}
	}
	qsort(h, r->nheaders, sizeof(*h), hdr_cmp);

	if ((rc = nv_buf_addf(cr, err, "%s\n%s\n", r->method, r->canonical_uri)) ||
	    (rc = nv_sigv4_canonical_query(cr, r->query, r->nquery, err)) ||
	    (rc = nv_buf_addch(cr, '\n', err)))
		goto out;
	for (i = 0; i < r->nheaders; i++) {
		bool same = i > 0 && !strcasecmp(h[i]->name, h[i - 1]->name);

		if (same) {
			/* repeated header: values joined with commas on one line */
			nv_buf_setlen(cr, cr->len - 1);
			rc = nv_buf_addch(cr, ',', err);
		} else {
			if (i)
				rc = nv_buf_addch(&res->signed_headers, ';', err);
			if (!rc)
				rc = add_lower(&res->signed_headers, h[i]->name, err);
			if (!rc)
				rc = add_lower(cr, h[i]->name, err);
			if (!rc)
				rc = nv_buf_addch(cr, ':', err);
		}
		if (!rc)
			rc = add_header_value(cr, h[i]->value, err);
		if (!rc)
			rc = nv_buf_addch(cr, '\n', err);
		if (rc)
			goto out;
	}
	rc = nv_buf_addf(cr, err, "\n%s\n%s", res->signed_headers.p, r->payload_hash);
out:
	nv_free(h);
	return rc;
}

static void get_key(struct nv_sigv4_signer *s, const struct nv_sigv4_creds *c, const char *date,
		    const struct nv_sigv4_req *r, unsigned char key[32])
{
	unsigned char sh[32];

	if (!s) {
		nv_sigv4_signing_key(c->secret_access_key, date, r->region, r->service, key);
		return;
	}
	SHA256((const unsigned char *)c->secret_access_key, strlen(c->secret_access_key), sh);
	pthread_mutex_lock(&s->lock);
	if (!s->valid || memcmp(sh, s->secret_hash, 32) || strcmp(date, s->date) ||
	    strcmp(r->region, s->region) || strcmp(r->service, s->service)) {
		nv_sigv4_signing_key(c->secret_access_key, date, r->region, r->service, s->key);
		memcpy(s->secret_hash, sh, 32);
		memcpy(s->date, date, 9);
		snprintf(s->region, sizeof(s->region), "%s", r->region);
		snprintf(s->service, sizeof(s->service), "%s", r->service);
		/* only cache what fits: a cut name would match another region */
		s->valid = strlen(r->region) < sizeof(s->region) &&
			   strlen(r->service) < sizeof(s->service);
	}
	memcpy(key, s->key, 32);
	pthread_mutex_unlock(&s->lock);
}

int nv_sigv4_sign(struct nv_sigv4_signer *signer, const struct nv_sigv4_req *r,
		  const struct nv_sigv4_creds *creds, struct nv_sigv4_result *res,
		  struct nv_error *err)
{
	unsigned char key[32], sig[32];
	char date[9], crhash[65];
	int rc;

	nv_buf_reset(&res->canonical_request);
	nv_buf_reset(&res->string_to_sign);
	nv_buf_reset(&res->signed_headers);
	nv_buf_reset(&res->authorization);
	res->signature[0] = '\0';
	if (!creds || !creds->access_key_id || !*creds->access_key_id ||
	    !creds->secret_access_key || !*creds->secret_access_key)
		return nv_error_set(err, NV_ECONFIG, "sigv4: no credentials to sign with");
	if (strlen(creds->secret_access_key) > 1024)
		return nv_error_set(err, NV_ECONFIG, "sigv4: secret access key too long");
	if (!r->amz_date || strlen(r->amz_date) != 16 || r->amz_date[8] != 'T')
		return nv_error_set(err, NV_EINVALID, "sigv4: bad x-amz-date");
	memcpy(date, r->amz_date, 8);
	date[8] = '\0';

	if ((rc = canonical_request(r, res, err)))
		return rc;
	nv_sigv4_sha256_hex(res->canonical_request.p, res->canonical_request.len, crhash);
	if ((rc = nv_buf_addf(&res->string_to_sign, err,
			      "AWS4-HMAC-SHA256\n%s\n%s/%s/%s/aws4_request\n%s", r->amz_date, date,
			      r->region, r->service, crhash)))
		return rc;
	get_key(signer, creds, date, r, key);
	nv_sigv4_hmac_sha256(key, sizeof(key), res->string_to_sign.p, res->string_to_sign.len, sig);
	OPENSSL_cleanse(key, sizeof(key));
	nv_hex_encode(sig, sizeof(sig), res->signature);
	return nv_buf_addf(&res->authorization, err,
			   "AWS4-HMAC-SHA256 Credential=%s/%s/%s/%s/aws4_request,SignedHeaders=%s,"
			   "Signature=%s",
			   creds->access_key_id, date, r->region, r->service, res->signed_headers.p,
			   res->signature);
}

void nv_sigv4_result_init(struct nv_sigv4_result *r)
{
	nv_buf_init(&r->canonical_request, SIGV4_TEXT_MAX);
	nv_buf_init(&r->string_to_sign, SIGV4_TEXT_MAX);
	nv_buf_init(&r->signed_headers, SIGV4_TEXT_MAX);
	nv_buf_init(&r->authorization, SIGV4_TEXT_MAX);
	r->signature[0] = '\0';
}

void nv_sigv4_result_release(struct nv_sigv4_result *r)
{
	nv_buf_release(&r->canonical_request);
	nv_buf_release(&r->string_to_sign);
	nv_buf_release(&r->signed_headers);
	if (r->authorization.alloc)
		OPENSSL_cleanse(r->authorization.p, r->authorization.len);
	nv_buf_release(&r->authorization);
	OPENSSL_cleanse(r->signature, sizeof(r->signature));
}

void nv_sigv4_signer_init(struct nv_sigv4_signer *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
}

void nv_sigv4_signer_release(struct nv_sigv4_signer *s)
{
	OPENSSL_cleanse(s->key, sizeof(s->key));
	s->valid = false;
	pthread_mutex_destroy(&s->lock);
}
