#include "store/s3/xml.h"

#include <expat.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/mem.h"

struct walk {
	XML_Parser p;
	nv_xml_fn fn;
	void *ud;
	struct nv_buf path;
	size_t stack[NV_XML_DEPTH_MAX];
	int depth;
	struct nv_buf text;
	int rc; /* first failure */
	struct nv_error *err;
};

static void stop(struct walk *w, int rc)
{
	if (!w->rc)
		w->rc = rc;
	XML_StopParser(w->p, XML_FALSE);
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
	struct walk *w = ud;
	int rc;

	(void)attrs;
	if (w->rc)
		return;
	if (w->depth >= NV_XML_DEPTH_MAX) {
		stop(w, nv_error_set(w->err, NV_ECORRUPT, "XML nested too deep"));
		return;
	}
	w->stack[w->depth++] = w->path.len;
	rc = w->path.len ? nv_buf_addch(&w->path, '/', w->err) : NV_OK;
	if (!rc)
		rc = nv_buf_addstr(&w->path, name, w->err);
	if (rc)
		stop(w, rc);
	nv_buf_reset(&w->text);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct walk *w = ud;
	int rc;

	(void)name;
	if (w->rc)
		return;
	rc = w->fn(w->path.p, w->text.p, w->text.len, w->ud);
	if (rc) {
		stop(w, rc);
		return;
	}
	nv_buf_setlen(&w->path, w->stack[--w->depth]);
	nv_buf_reset(&w->text);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct walk *w = ud;
	int rc;

	if (w->rc || len <= 0)
		return;
	rc = nv_buf_add(&w->text, s, (size_t)len, w->err);
	if (rc)
		stop(w, rc);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
			       const XML_Char *pubid, int has_internal_subset)
{
	struct walk *w = ud;

	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	stop(w, nv_error_set(w->err, NV_ECORRUPT, "XML with a DTD is refused"));
}

int nv_xml_walk(const char *doc, size_t len, nv_xml_fn fn, void *ud, struct nv_error *err)
{
	struct walk w = {0};
	int rc = NV_OK;

	if (len > INT_MAX)
		return nv_error_set(err, NV_ETOOBIG, "XML document too large");
	w.p = XML_ParserCreate("UTF-8");
	if (!w.p)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	w.fn = fn;
	w.ud = ud;
	w.err = err;
	nv_buf_init(&w.path, 4096);
	nv_buf_init(&w.text, NV_XML_TEXT_MAX);
	XML_SetUserData(w.p, &w);
	XML_SetElementHandler(w.p, on_start, on_end);
	XML_SetCharacterDataHandler(w.p, on_text);
	XML_SetStartDoctypeDeclHandler(w.p, on_doctype);
	if (XML_Parse(w.p, doc, (int)len, XML_TRUE) != XML_STATUS_OK && !w.rc)
		rc = nv_error_set(err, NV_ECORRUPT, "malformed XML: %s at line %lu",
				  XML_ErrorString(XML_GetErrorCode(w.p)),
				  (unsigned long)XML_GetCurrentLineNumber(w.p));
	if (w.rc)
		rc = w.rc;
	XML_ParserFree(w.p);
	nv_buf_release(&w.path);
	nv_buf_release(&w.text);
	return rc;
}

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

struct err_ctx {
	struct nv_xml_s3_error *out;
	bool is_error;
};

static int on_error_elem(const char *path, const char *text, size_t len, void *ud)
{
	struct err_ctx *c = ud;

	/* STS and other query APIs wrap it: <ErrorResponse><Error>... */
	if (!strncmp(path, "ErrorResponse/", 14))
		path += 14;
	if (!strcmp(path, "Error"))
		c->is_error = true;
	else if (!strcmp(path, "Error/Code"))
		copy_field(c->out->code, sizeof(c->out->code), text, len);
	else if (!strcmp(path, "Error/Message"))
		copy_field(c->out->message, sizeof(c->out->message), text, len);
	else if (!strcmp(path, "Error/RequestId"))
		copy_field(c->out->request_id, sizeof(c->out->request_id), text, len);
	else if (!strcmp(path, "Error/Resource"))
		copy_field(c->out->resource, sizeof(c->out->resource), text, len);
	return 0;
}

int nv_xml_s3_error(const char *doc, size_t len, struct nv_xml_s3_error *out, struct nv_error *err)
{
	struct err_ctx c = {out, false};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = nv_xml_walk(doc, len, on_error_elem, &c, err);
	if (rc)
		return rc;
	if (!c.is_error || !out->code[0])
		return nv_error_set(err, NV_ECORRUPT, "not an S3 <Error> document");
	return NV_OK;
}

struct list_ctx {
	nv_xml_list_fn fn;
	void *ud;
	struct nv_buf key;
	uint64_t size;
	int64_t mtime;
	bool has_key, has_size, truncated, is_list;
	struct nv_buf *token;
	struct nv_error *err;
};

static int on_list_elem(const char *path, const char *text, size_t len, void *ud)
{
	struct list_ctx *c = ud;
	struct nv_str t = {text, len};
	int rc;

	if (strncmp(path, "ListBucketResult", 16))
		return nv_error_set(c->err, NV_ECORRUPT, "not a ListBucketResult document");
	path += 16;
	if (!*path) {
		c->is_list = true;
	} else if (!strcmp(path, "/Contents/Key")) {
		nv_buf_reset(&c->key);
		if ((rc = nv_buf_add(&c->key, text, len, c->err)))
			return rc;
		c->has_key = true;
	} else if (!strcmp(path, "/Contents/Size")) {
		if (nv_str_to_u64(t, 0, UINT64_MAX, &c->size))
			return nv_error_set(c->err, NV_ECORRUPT, "bad <Size> '%.*s' in listing",
					    (int)(len > 40 ? 40 : len), text);
		c->has_size = true;
	} else if (!strcmp(path, "/Contents/LastModified")) {
		char tmp[64];

		copy_field(tmp, sizeof(tmp), text, len);
		if (nv_iso8601_parse(tmp, &c->mtime))
			c->mtime = 0;
	} else if (!strcmp(path, "/Contents")) {
		struct nv_xml_list_entry e = {c->key.p, c->size, c->mtime};

		if (!c->has_key || !c->has_size)
			return nv_error_set(c->err, NV_ECORRUPT,
					    "listing entry without <Key> or <Size>");
		if (strlen(c->key.p) != c->key.len)
			return nv_error_set(c->err, NV_ECORRUPT, "listing key with a NUL byte");
		rc = c->fn(&e, c->ud);
		c->has_key = c->has_size = false;
		c->mtime = 0;
		return rc;
	} else if (!strcmp(path, "/IsTruncated")) {
		c->truncated = nv_str_eq(t, "true");
	} else if (!strcmp(path, "/NextContinuationToken")) {
		nv_buf_reset(c->token);
		return nv_buf_add(c->token, text, len, c->err);
	}
	return 0;
}

int nv_xml_list_v2(const char *doc, size_t len, nv_xml_list_fn fn, void *ud, bool *truncated,
		   struct nv_buf *next_token, struct nv_error *err)
{
	struct list_ctx c = {0};
	int rc;

	c.fn = fn;
	c.ud = ud;
	c.token = next_token;
	c.err = err;
	nv_buf_init(&c.key, 4096);
	nv_buf_reset(next_token);
	rc = nv_xml_walk(doc, len, on_list_elem, &c, err);
	nv_buf_release(&c.key);
	if (rc)
		return rc;
	if (!c.is_list)
		return nv_error_set(err, NV_ECORRUPT, "not a ListBucketResult document");
	if (c.truncated && !next_token->len)
		return nv_error_set(err, NV_ECORRUPT,
				    "truncated listing without a NextContinuationToken");
	*truncated = c.truncated;
	return NV_OK;
}

struct one_ctx {
	const char *want;
	const char *root;
	struct nv_buf *out;
	bool found, root_seen;
	struct nv_error *err;
};

static int on_one_elem(const char *path, const char *text, size_t len, void *ud)
{
	struct one_ctx *c = ud;

	if (!strcmp(path, c->root))
		c->root_seen = true;
	if (c->want && !strcmp(path, c->want)) {
		c->found = true;
		nv_buf_reset(c->out);
		return nv_buf_add(c->out, text, len, c->err);
	}
	return 0;
}

int nv_xml_initiate_upload(const char *doc, size_t len, struct nv_buf *upload_id,
			   struct nv_error *err)
{
	struct one_ctx c = {"InitiateMultipartUploadResult/UploadId",
			    "InitiateMultipartUploadResult",
			    upload_id,
			    false,
			    false,
			    err};
	int rc = nv_xml_walk(doc, len, on_one_elem, &c, err);

	if (rc)
		return rc;
	if (!c.found || !upload_id->len)
		return nv_error_set(err, NV_ECORRUPT,
				    "InitiateMultipartUpload answer without an UploadId");
	return NV_OK;
}

int nv_xml_complete_upload(const char *doc, size_t len, struct nv_error *err)
{
	struct nv_xml_s3_error e;
	struct one_ctx c = {NULL, "CompleteMultipartUploadResult", NULL, false, false, err};
	int rc;

	/* an <Error> can come with status 200 */
	if (nv_xml_s3_error(doc, len, &e, NULL) == NV_OK)
		return nv_error_set(err, NV_EREMOTE, "%s: %s (RequestId %s)", e.code,
				    e.message[0] ? e.message : "no message", e.request_id);
	rc = nv_xml_walk(doc, len, on_one_elem, &c, err);
	if (rc)
		return rc;
	if (!c.root_seen)
		return nv_error_set(err, NV_ECORRUPT,
				    "CompleteMultipartUpload answer is not a result document");
	return NV_OK;
}

void nv_xml_sts_creds_init(struct nv_xml_sts_creds *c)
{
	nv_buf_init(&c->access_key_id, 1024);
	nv_buf_init(&c->secret_access_key, 1024);
	nv_buf_init(&c->session_token, 16384);
	c->expiration = 0;
}

void nv_xml_sts_creds_release(struct nv_xml_sts_creds *c)
{
	nv_buf_release(&c->access_key_id);
	nv_buf_release(&c->secret_access_key);
	nv_buf_release(&c->session_token);
	c->expiration = 0;
}

struct sts_ctx {
	struct nv_xml_sts_creds *out;
	bool has_exp;
	struct nv_error *err;
};

static int on_sts_elem(const char *path, const char *text, size_t len, void *ud)
{
	static const char pfx[] =
	    "AssumeRoleWithWebIdentityResponse/AssumeRoleWithWebIdentityResult/Credentials/";
	struct sts_ctx *c = ud;
	struct nv_buf *dst = NULL;

	if (strncmp(path, pfx, sizeof(pfx) - 1))
		return 0;
	path += sizeof(pfx) - 1;
	if (!strcmp(path, "AccessKeyId"))
		dst = &c->out->access_key_id;
	else if (!strcmp(path, "SecretAccessKey"))
		dst = &c->out->secret_access_key;
	else if (!strcmp(path, "SessionToken"))
		dst = &c->out->session_token;
	else if (!strcmp(path, "Expiration")) {
		char tmp[64];

		copy_field(tmp, sizeof(tmp), text, len);
		if (nv_iso8601_parse(tmp, &c->out->expiration))
			return nv_error_set(c->err, NV_ECORRUPT, "STS: bad Expiration '%s'", tmp);
		c->has_exp = true;
	}
	if (!dst)
		return 0;
	nv_buf_reset(dst);
	return nv_buf_add(dst, text, len, c->err);
}

int nv_xml_sts_credentials(const char *doc, size_t len, struct nv_xml_sts_creds *out,
			   struct nv_error *err)
{
	struct sts_ctx c = {out, false, err};
	int rc = nv_xml_walk(doc, len, on_sts_elem, &c, err);

	if (rc)
		return rc;
	if (!out->access_key_id.len || !out->secret_access_key.len || !out->session_token.len ||
	    !c.has_exp)
		return nv_error_set(err, NV_ECORRUPT,
				    "STS answer lacks AccessKeyId, SecretAccessKey, SessionToken "
				    "or Expiration");
	return NV_OK;
}

int nv_iso8601_parse(const char *s, int64_t *out)
{
	struct tm tm;
	const char *p;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return NV_EINVALID;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return NV_EINVALID;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") && strcmp(p, "+00:00") && strcmp(p, "+0000"))
		return NV_EINVALID;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return NV_EINVALID;
	*out = (int64_t)t;
	return NV_OK;
}
