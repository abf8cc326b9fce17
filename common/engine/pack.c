#include "engine/pack.h"

#include <string.h>

#include "engine/snapshot.h"

int nv_pack_blob_decode(ZSTD_DCtx *dctx, const void *src, size_t clen, uint64_t ulen,
			const unsigned char hash[NV_HASH_LEN], unsigned char *plain,
			struct nv_error *err)
{
	unsigned char sum[NV_HASH_LEN];
	size_t n;

	if (ulen > NV_BLOB_SIZE)
		return nv_error_set(err, NV_ECORRUPT, "is longer than a blob can be");
	n = ZSTD_decompressDCtx(dctx, plain, NV_BLOB_SIZE, src, clen);
	if (ZSTD_isError(n))
		return nv_error_set(err, NV_ECORRUPT, "is corrupt: %s", ZSTD_getErrorName(n));
	if (n != ulen)
		return nv_error_set(err, NV_ECORRUPT, "has the wrong length");
	nv_sha256(plain, n, sum);
	if (memcmp(sum, hash, NV_HASH_LEN))
		return nv_error_set(err, NV_ECORRUPT, "does not match its hash");
	return NV_OK;
}

int nv_pack_check_object(const void *data, size_t len, const unsigned char id[NV_HASH_LEN])
{
	unsigned char sum[NV_HASH_LEN];

	if (len < NV_MAGIC_LEN || memcmp(data, NV_PACK_MAGIC, NV_MAGIC_LEN))
		return NV_ECORRUPT;
	nv_sha256(data, len, sum);
	return memcmp(sum, id, NV_HASH_LEN) ? NV_ECORRUPT : NV_OK;
}
