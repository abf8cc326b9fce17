/* xml.h - the small XML documents of S3 and STS, parsed with expat.
 *
 * nv_xml_walk() runs expat over a whole document and calls back at the end
 * of every element with its path from the root ("ListBucketResult/Contents/Key")
 * and its text content. Documents with a DTD are refused (no entity tricks),
 * element depth and text size are capped. The parsers below build on it.
 */
#ifndef NV_XML_H
#define NV_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define NV_XML_DEPTH_MAX 16
#define NV_XML_TEXT_MAX (64u << 10)

/* Called at each element end. A non-zero return stops the walk; walk then
 * returns that code (fill err yourself). */
typedef int (*nv_xml_fn)(const char *path, const char *text, size_t len, void *ud);

/* NV_ECORRUPT with expat's message and line for malformed XML. */
int nv_xml_walk(const char *doc, size_t len, nv_xml_fn fn, void *ud, struct nv_error *err);

/* An S3 <Error> document. Fields are "" when absent. */
struct nv_xml_s3_error {
	char code[128];
	char message[512];
	char request_id[128];
	char resource[256];
};

/* Parse an S3 error body. NV_ECORRUPT if it is not XML or not an <Error>. */
int nv_xml_s3_error(const char *doc, size_t len, struct nv_xml_s3_error *out, struct nv_error *err);

struct nv_xml_list_entry {
	const char *key;
	uint64_t size;
	int64_t mtime; /* seconds since the epoch, 0 if unknown */
};

/* Called per <Contents>; non-zero stops the parse and is returned. */
typedef int (*nv_xml_list_fn)(const struct nv_xml_list_entry *e, void *ud);

/* Parse a ListObjectsV2 result: fn per object; *truncated and the next
 * continuation token (reset, then filled when truncated). A truncated
 * result without a token is NV_ECORRUPT. */
int nv_xml_list_v2(const char *doc, size_t len, nv_xml_list_fn fn, void *ud, bool *truncated,
		   struct nv_buf *next_token, struct nv_error *err);

/* <InitiateMultipartUploadResult><UploadId>: into upload_id (reset first). */
int nv_xml_initiate_upload(const char *doc, size_t len, struct nv_buf *upload_id,
			   struct nv_error *err);

/* <CompleteMultipartUploadResult>, which can also be an <Error> sent with
 * status 200: NV_OK for a result, NV_EREMOTE (S3 code and message in err)
 * for an error. */
int nv_xml_complete_upload(const char *doc, size_t len, struct nv_error *err);

/* STS AssumeRoleWithWebIdentity response: the <Credentials> fields. */
struct nv_xml_sts_creds {
	struct nv_buf access_key_id;
	struct nv_buf secret_access_key;
	struct nv_buf session_token;
	int64_t expiration; /* epoch seconds */
};
void nv_xml_sts_creds_init(struct nv_xml_sts_creds *c);
void nv_xml_sts_creds_release(struct nv_xml_sts_creds *c);
int nv_xml_sts_credentials(const char *doc, size_t len, struct nv_xml_sts_creds *out,
			   struct nv_error *err);

/* "2013-05-24T00:00:00Z", "2009-10-12T17:50:30.000Z", "...+00:00" -> epoch
 * seconds. NV_EINVALID otherwise. */
int nv_iso8601_parse(const char *s, int64_t *out);

#endif
