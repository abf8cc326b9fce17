/* hash.h - SHA-256 (OpenSSL) and the blob map: blob hash -> where it lives.
 *
 * The blob map is an open-addressing hash table keyed by a blob's SHA-256,
 * holding its location in the store (pack number, offset, compressed and
 * plain length). Not thread-safe: callers lock.
 */
#ifndef NV_HASH_H
#define NV_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define NV_HASH_LEN 32
#define NV_HASH_HEX 65 /* 64 hex digits + NUL */

struct nv_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

void nv_sha256(const void *data, size_t len, unsigned char out[NV_HASH_LEN]);
int nv_sha256_init(struct nv_sha256 *h, struct nv_error *err);
void nv_sha256_update(struct nv_sha256 *h, const void *data, size_t len);
void nv_sha256_final(struct nv_sha256 *h, unsigned char out[NV_HASH_LEN]);
void nv_sha256_release(struct nv_sha256 *h);

/* Where a blob is: pack number (an index the caller defines), byte offset of
 * its zstd frame in the pack, compressed and plain lengths. */
struct nv_blob_loc {
	uint32_t pack;
	uint32_t clen;
	uint32_t ulen;
	uint64_t off;
};

struct nv_blob_map {
	unsigned char (*keys)[NV_HASH_LEN];
	struct nv_blob_loc *vals;
	unsigned char *used;
	size_t cap; /* power of two */
	size_t count;
};

void nv_blob_map_init(struct nv_blob_map *m);
void nv_blob_map_release(struct nv_blob_map *m);
/* NULL if absent. The pointer is valid until the next insert. */
const struct nv_blob_loc *nv_blob_map_get(const struct nv_blob_map *m,
					  const unsigned char key[NV_HASH_LEN]);
/* Insert or keep the existing value; *inserted tells which (may be NULL). */
/* Make room for n keys in all without growing again. */
int nv_blob_map_reserve(struct nv_blob_map *m, size_t n, struct nv_error *err);
int nv_blob_map_put(struct nv_blob_map *m, const unsigned char key[NV_HASH_LEN],
		    const struct nv_blob_loc *val, bool *inserted, struct nv_error *err);

#endif
