#include "base/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

char nv_buf_empty[1];

void nv_buf_init(struct nv_buf *b, size_t max)
{
	b->p = nv_buf_empty;
	b->len = 0;
	b->alloc = 0;
	b->max = max;
}

void nv_buf_release(struct nv_buf *b)
{
	if (!b)
		return;
	if (b->alloc)
		nv_free(b->p);
	b->p = nv_buf_empty;
	b->len = 0;
	b->alloc = 0;
}

void nv_buf_reset(struct nv_buf *b)
{
	b->len = 0;
	if (b->alloc)
		b->p[0] = '\0';
}

int nv_buf_grow(struct nv_buf *b, size_t extra, struct nv_error *err)
{
	size_t need, n;
	char *p;

	if (extra > b->max || b->len > b->max - extra)
		return nv_error_set(err, NV_ETOOBIG, "buffer limit of %zu bytes exceeded", b->max);
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return NV_OK;
	n = b->alloc ? b->alloc : 64;
	while (n < need)
		n = n > SIZE_MAX / 2 ? need : n * 2;
	p = nv_realloc(b->alloc ? b->p : NULL, n);
	if (!p)
		return nv_error_set(err, NV_ENOMEM, "cannot allocate %zu bytes", n);
	if (!b->alloc)
		p[0] = '\0';
	b->p = p;
	b->alloc = n;
	return NV_OK;
}

int nv_buf_add(struct nv_buf *b, const void *data, size_t len, struct nv_error *err)
{
	int rc = nv_buf_grow(b, len, err);

	if (rc)
		return rc;
	if (len)
		memmove(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return NV_OK;
}

int nv_buf_addstr(struct nv_buf *b, const char *s, struct nv_error *err)
{
	return nv_buf_add(b, s, strlen(s), err);
}

int nv_buf_addch(struct nv_buf *b, char c, struct nv_error *err)
{
	return nv_buf_add(b, &c, 1, err);
}

int nv_buf_vaddf(struct nv_buf *b, struct nv_error *err, const char *fmt, va_list ap)
{
	va_list cp;
	int n, rc;

	va_copy(cp, ap);
	n = vsnprintf(NULL, 0, fmt, cp);
	va_end(cp);
	if (n < 0)
		return nv_error_set(err, NV_EINVALID, "bad format string");
	rc = nv_buf_grow(b, (size_t)n, err);
	if (rc)
		return rc;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return NV_OK;
}

int nv_buf_addf(struct nv_buf *b, struct nv_error *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = nv_buf_vaddf(b, err, fmt, ap);
	va_end(ap);
	return rc;
}

void nv_buf_setlen(struct nv_buf *b, size_t len)
{
	if (!b->alloc)
		return;
	if (len >= b->alloc)
		len = b->alloc - 1;
	b->len = len;
	b->p[len] = '\0';
}

char *nv_buf_detach(struct nv_buf *b, size_t *len)
{
	char *p;

	if (len)
		*len = b->len;
	if (!b->alloc) {
		p = nv_strdup("");
		return p;
	}
	p = b->p;
	b->p = nv_buf_empty;
	b->len = 0;
	b->alloc = 0;
	return p;
}

int nv_buf_addpath(struct nv_buf *b, const char *name, struct nv_error *err)
{
	int rc;

	if (b->len && b->p[b->len - 1] != '/') {
		rc = nv_buf_addch(b, '/', err);
		if (rc)
			return rc;
	}
	return nv_buf_addstr(b, name, err);
}

struct nv_str nv_str_from(const char *s)
{
	struct nv_str v = {s, s ? strlen(s) : 0};

	return v;
}

bool nv_str_eq(struct nv_str a, const char *s)
{
	size_t n = strlen(s);

	return a.len == n && (n == 0 || memcmp(a.p, s, n) == 0);
}

bool nv_str_has_prefix(struct nv_str a, const char *prefix)
{
	size_t n = strlen(prefix);

	return a.len >= n && memcmp(a.p, prefix, n) == 0;
}

int nv_str_to_u64(struct nv_str s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s.len == 0 || s.len > 20)
		return NV_EINVALID;
	for (i = 0; i < s.len; i++) {
		unsigned d;

		if (s.p[i] < '0' || s.p[i] > '9')
			return NV_EINVALID;
		d = (unsigned)(s.p[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return NV_EINVALID;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return NV_EINVALID;
	*out = v;
	return NV_OK;
}

void nv_hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nv_hex_decode(const char *in, size_t hexlen, unsigned char *out)
{
	size_t i;

	if (hexlen % 2)
		return NV_EINVALID;
	for (i = 0; i < hexlen / 2; i++) {
		int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return NV_EINVALID;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return NV_OK;
}
