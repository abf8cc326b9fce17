/* pack.h - the pack (docs/FORMAT.md "Pack"): the blobs of a dataset as zstd
 * frames back to back after a magic. This module checks what is read from
 * a pack: restore and verify decode every blob through it, so a blob is
 * never written anywhere before its length and SHA-256 were checked. (The
 * pack writer is still part of sync.c's upload phase.)
 */
#ifndef NV_PACK_H
#define NV_PACK_H

#include <stddef.h>
#include <stdint.h>
#include <zstd.h>

#include "base/err.h"
#include "base/hash.h"

/* Decompress the blob frame of clen bytes at src into plain (room for
 * NV_BLOB_SIZE bytes) and check that it is ulen bytes whose SHA-256 is hash.
 * NV_ECORRUPT when it is not, with a message that says which ("is corrupt:
 * <zstd's reason>", "has the wrong length", "does not match its hash") for
 * the caller to prefix with where the blob is. */
int nv_pack_blob_decode(ZSTD_DCtx *dctx, const void *src, size_t clen, uint64_t ulen,
			const unsigned char hash[NV_HASH_LEN], unsigned char *plain,
			struct nv_error *err);

/* Does a whole pack object (its bytes) start with the pack magic and hash
 * to its id? */
int nv_pack_check_object(const void *data, size_t len, const unsigned char id[NV_HASH_LEN]);

#endif
