/* buf.h - the one growable buffer of netvol, and a non-owning string view.
 *
 * struct nv_buf (like git's strbuf, curl's dynbuf) is always NUL-terminated:
 * b->p is valid (possibly the shared empty string) from NV_BUF_INIT on, and
 * b->p[b->len] == '\0'. Every buffer has a size cap set at init: appending
 * past it fails with NV_ETOOBIG, so an outside body (S3 response, XML,
 * AdmissionReview) cannot grow it without bound. Binary data is fine.
 *
 *   struct nv_buf b = NV_BUF_INIT(1 << 20);
 *   if (nv_buf_addf(&b, err, "%s/%s", root, name)) goto out;
 *   ...
 * out:
 *   nv_buf_release(&b);
 */
#ifndef NV_BUF_H
#define NV_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

extern char nv_buf_empty[1];

struct nv_buf {
	char *p;
	size_t len;
	size_t alloc; /* 0 while p == nv_buf_empty */
	size_t max;   /* cap on len */
};

#define NV_BUF_INIT(maxlen)                  \
	{                                    \
		nv_buf_empty, 0, 0, (maxlen) \
	}
#define NV_BUF_UNLIMITED SIZE_MAX

void nv_buf_init(struct nv_buf *b, size_t max);
/* Free the memory; b is back to its NV_BUF_INIT state (same cap). Safe twice. */
void nv_buf_release(struct nv_buf *b);
/* Empty the buffer, keep the memory. */
void nv_buf_reset(struct nv_buf *b);
/* Make room for `extra` more bytes. NV_ENOMEM or NV_ETOOBIG. */
int nv_buf_grow(struct nv_buf *b, size_t extra, struct nv_error *err);
int nv_buf_add(struct nv_buf *b, const void *data, size_t len, struct nv_error *err);
int nv_buf_addstr(struct nv_buf *b, const char *s, struct nv_error *err);
int nv_buf_addch(struct nv_buf *b, char c, struct nv_error *err);
int nv_buf_addf(struct nv_buf *b, struct nv_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int nv_buf_vaddf(struct nv_buf *b, struct nv_error *err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* Set the length (<= current allocation), keeping the NUL invariant. */
void nv_buf_setlen(struct nv_buf *b, size_t len);
/* Hand the memory to the caller (free with nv_free); b is reset. */
char *nv_buf_detach(struct nv_buf *b, size_t *len);

/* Append path component `name` to a path in b, adding '/' if needed. */
int nv_buf_addpath(struct nv_buf *b, const char *name, struct nv_error *err);

/* Non-owning view for parsing. */
struct nv_str {
	const char *p;
	size_t len;
};

#define NV_STR_LIT(s) ((struct nv_str){(s), sizeof(s) - 1})
struct nv_str nv_str_from(const char *s);
bool nv_str_eq(struct nv_str a, const char *s);
bool nv_str_has_prefix(struct nv_str a, const char *prefix);

/* Parse an unsigned decimal number that fills the whole view, in [min,max].
 * NV_EINVALID otherwise. */
int nv_str_to_u64(struct nv_str s, uint64_t min, uint64_t max, uint64_t *out);

/* Hex encoding of n bytes into out (2n+1 bytes). */
void nv_hex_encode(const unsigned char *in, size_t n, char *out);
/* Decode exactly 2n hex chars into n bytes. NV_EINVALID on bad input. */
int nv_hex_decode(const char *in, size_t hexlen, unsigned char *out);

#endif
