#include "jsonpatch.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

int nv_jsonpatch_pointer_add(struct nv_buf *b, const char *seg, struct nv_error *err)
{
	int rc = nv_buf_addch(b, '/', err);

	for (; !rc && *seg; seg++) {
		if (*seg == '~')
			rc = nv_buf_add(b, "~0", 2, err);
		else if (*seg == '/')
			rc = nv_buf_add(b, "~1", 2, err);
		else
			rc = nv_buf_addch(b, *seg, err);
	}
	return rc;
}

int nv_jsonpatch_base64(struct nv_buf *out, const void *data, size_t n, struct nv_error *err)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	size_t i, need;
	char *o;
	int rc;

	if (n > (SIZE_MAX / 4) * 3 - 3)
		return nv_error_set(err, NV_ETOOBIG, "base64 input too large");
	need = (n + 2) / 3 * 4;
	if ((rc = nv_buf_grow(out, need, err)))
		return rc;
	o = out->p + out->len;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = tab[v >> 6 & 63];
		*o++ = tab[v & 63];
	}
	if (i < n) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0);

		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < n ? tab[v >> 6 & 63] : '=';
		*o++ = '=';
	}
	out->len += need;
	out->p[out->len] = '\0';
	return NV_OK;
}

int nv_jsonpatch_vpath(struct nv_buf *path, const struct nv_buf *prefix, va_list ap)
{
	const char *seg;
	int rc;

	nv_buf_reset(path);
	rc = nv_buf_add(path, prefix->p, prefix->len, NULL);
	while (!rc && (seg = va_arg(ap, const char *)))
		rc = nv_jsonpatch_pointer_add(path, seg, NULL);
	return rc;
}

int nv_jsonpatch_path(struct nv_buf *path, const struct nv_buf *prefix, ...)
{
	va_list ap;
	int rc;

	va_start(ap, prefix);
	rc = nv_jsonpatch_vpath(path, prefix, ap);
	va_end(ap);
	return rc;
}

bool nv_jsonpatch_add(cJSON *ops, const char *path, cJSON *value)
{
	cJSON *op = cJSON_CreateObject();

	if (!op || !value || !cJSON_AddStringToObject(op, "op", "add") ||
	    !cJSON_AddStringToObject(op, "path", path)) {
		cJSON_Delete(value);
		cJSON_Delete(op);
		return false;
	}
	if (!cJSON_AddItemToObject(op, "value", value)) {
		cJSON_Delete(value);
		cJSON_Delete(op);
		return false;
	}
	if (!cJSON_AddItemToArray(ops, op)) {
		cJSON_Delete(op);
		return false;
	}
	return true;
}

int nv_jsonpatch_encode(const cJSON *ops, struct nv_buf *json, struct nv_buf *b64,
			struct nv_error *err)
{
	char *s = cJSON_PrintUnformatted(ops);
	size_t n0 = json->len;
	int rc;

	if (!s)
		return nv_error_set(err, NV_ENOMEM, "out of memory printing the patch");
	if ((rc = nv_buf_addstr(json, s, err)) ||
	    (rc = nv_jsonpatch_base64(b64, json->p + n0, json->len - n0, err)))
		goto out;
out:
	cJSON_free(s);
	return rc;
}
