/* sigv4.h - AWS Signature Version 4 (header-based, single-chunk payload).
 *
 * The canonical request, string to sign and signature are built exactly as
 * the S3 API reference ("Signature Calculations for the Authorization
 * Header") describes; tests/unit/test_sigv4.c reproduces AWS's published
 * examples byte for byte.
 *
 *   struct nv_sigv4_kv hdr[] = {{"host", "examplebucket.s3.amazonaws.com"},
 *                               {"x-amz-content-sha256", NV_SIGV4_EMPTY_SHA256},
 *                               {"x-amz-date", amz_date}};
 *   struct nv_sigv4_req r = {"GET", "/test.txt", NULL, 0, hdr, 3,
 *                            NV_SIGV4_EMPTY_SHA256, amz_date, "us-east-1", "s3"};
 *   rc = nv_sigv4_sign(&signer, &r, &creds, &res, err);
 *   ... send "Authorization: " res.authorization.p
 *
 * Secrets (the secret key, the signing key, the signature) are never logged
 * here; callers must not log the Authorization header.
 */
#ifndef NV_SIGV4_H
#define NV_SIGV4_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"

/* SHA-256 of the empty string, the payload hash of GET/HEAD/DELETE. */
#define NV_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define NV_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* A name/value pair: a header or a query parameter (both unencoded). */
struct nv_sigv4_kv {
	const char *name;
	const char *value;
};

struct nv_sigv4_creds {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL or "" when none */
};

struct nv_sigv4_req {
	const char *method;		 /* "GET", "PUT"... */
	const char *canonical_uri;	 /* the URI-encoded path, e.g. "/test%24file.text" */
	const struct nv_sigv4_kv *query; /* unencoded; encoded and sorted here */
	size_t nquery;
	/* Every header to sign (names in any case; host, x-amz-date and
	 * x-amz-content-sha256 included). Values are trimmed and inner runs
	 * of spaces collapsed for the canonical form. */
	const struct nv_sigv4_kv *headers;
	size_t nheaders;
	const char *payload_hash; /* lowercase hex SHA-256, or UNSIGNED-PAYLOAD */
	const char *amz_date;	  /* "20130524T000000Z" */
	const char *region;	  /* "us-east-1" */
	const char *service;	  /* "s3", "sts" */
};

/* What signing produced. Release with nv_sigv4_result_release. */
struct nv_sigv4_result {
	struct nv_buf canonical_request;
	struct nv_buf string_to_sign;
	struct nv_buf signed_headers; /* "host;range;x-amz-date" */
	struct nv_buf authorization;  /* the Authorization header value */
	char signature[65];
};

void nv_sigv4_result_init(struct nv_sigv4_result *r);
void nv_sigv4_result_release(struct nv_sigv4_result *r);

/* Caches the signing key per (secret, date, region, service): one HMAC
 * chain per day instead of per request. Thread-safe. */
struct nv_sigv4_signer {
	pthread_mutex_t lock;
	bool valid;
	unsigned char secret_hash[32]; /* SHA-256 of the secret the key came from */
	char date[9];
	char region[64];
	char service[16];
	unsigned char key[32];
};

void nv_sigv4_signer_init(struct nv_sigv4_signer *s);
void nv_sigv4_signer_release(struct nv_sigv4_signer *s);

/* Sign r with creds: fills res (canonical request, string to sign,
 * signed headers, signature, Authorization value). signer may be NULL
 * (no caching). NV_EINVALID on a malformed request. */
int nv_sigv4_sign(struct nv_sigv4_signer *signer, const struct nv_sigv4_req *r,
		  const struct nv_sigv4_creds *creds, struct nv_sigv4_result *res,
		  struct nv_error *err);

/* UriEncode() as AWS specifies it: every byte except A-Z a-z 0-9 - . _ ~
 * becomes %XX (uppercase hex); '/' is kept when keep_slash (object key in a
 * path), encoded otherwise (query names and values). Appends to out. */
int nv_sigv4_uri_encode(struct nv_buf *out, const char *s, size_t n, bool keep_slash,
			struct nv_error *err);

/* The canonical query string: each name and value URI-encoded, sorted by
 * encoded name (then value), joined as "a=1&b=2" (a missing value is "").
 * The same string is valid as the request's query. Appends to out. */
int nv_sigv4_canonical_query(struct nv_buf *out, const struct nv_sigv4_kv *q, size_t n,
			     struct nv_error *err);

/* The signing key: HMAC chain "AWS4"+secret, date, region, service,
 * "aws4_request". */
void nv_sigv4_signing_key(const char *secret, const char *date, const char *region,
			  const char *service, unsigned char key[32]);

/* "20130524T000000Z" for t (UTC). out must hold 17 bytes. */
void nv_sigv4_amz_date(time_t t, char out[17]);

/* Lowercase hex SHA-256 of data into out (65 bytes). */
void nv_sigv4_sha256_hex(const void *data, size_t len, char out[65]);
void nv_sigv4_hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
			  unsigned char out[32]);

#endif
