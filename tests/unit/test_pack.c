/* engine/pack: every blob read from a pack is checked before it is used. */
#include "testutil.h"

#include <zstd.h>

#include "base/hash.h"
#include "base/mem.h"
#include "engine/pack.h"
#include "engine/snapshot.h"

struct blob_case {
	char name[24];
	int damage; /* 0 none, 1 truncate frame, 2 claim a longer length, 3 other hash, 4 garbage */
	int rc;
	char msg[32];
};

ParameterizedTestParameters(pack, blob_decode)
{
	static struct blob_case cases[] = {
	    {"good", 0, NV_OK, ""},
	    {"truncated frame", 1, NV_ECORRUPT, "is corrupt"},
	    {"wrong length", 2, NV_ECORRUPT, "wrong length"},
	    {"wrong hash", 3, NV_ECORRUPT, "does not match its hash"},
	    {"not zstd", 4, NV_ECORRUPT, "is corrupt"},
	};
	return cr_make_param_array(struct blob_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct blob_case *bc, pack, blob_decode)
{
	char plain_in[5000];
	unsigned char hash[NV_HASH_LEN], frame[6000], *plain = nv_malloc(NV_BLOB_SIZE);
	struct nv_error e = NV_ERROR_INIT;
	ZSTD_DCtx *dctx;
	size_t clen, i;
	uint64_t ulen = sizeof(plain_in);

	for (i = 0; i < sizeof(plain_in); i++)
		plain_in[i] = (char)(i * 7 % 251);
	nv_sha256(plain_in, sizeof(plain_in), hash);
	clen = ZSTD_compress(frame, sizeof(frame), plain_in, sizeof(plain_in), 3);
	cr_assert(!ZSTD_isError(clen));
	if (bc->damage == 1)
		clen /= 2;
	if (bc->damage == 2)
		ulen++;
	if (bc->damage == 3)
		hash[0] ^= 1;
	if (bc->damage == 4)
		memset(frame, 'x', clen);
	dctx = ZSTD_createDCtx();
	cr_assert_eq(nv_pack_blob_decode(dctx, frame, clen, ulen, hash, plain, &e), bc->rc,
		     "%s: %s", bc->name, e.msg);
	ZSTD_freeDCtx(dctx);
	cr_assert(strstr(e.msg, bc->msg), "%s: '%s' lacks '%s'", bc->name, e.msg, bc->msg);
	if (!bc->rc)
		cr_assert_arr_eq(plain, plain_in, sizeof(plain_in));
	nv_free(plain);
}

Test(pack, blob_longer_than_a_blob)
{
	unsigned char hash[NV_HASH_LEN] = {0}, *plain = nv_malloc(NV_BLOB_SIZE);
	struct nv_error e = NV_ERROR_INIT;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();

	cr_assert_eq(nv_pack_blob_decode(dctx, "", 0, (uint64_t)NV_BLOB_SIZE + 1, hash, plain, &e),
		     NV_ECORRUPT);
	ZSTD_freeDCtx(dctx);
	nv_free(plain);
}

Test(pack, check_object)
{
	char obj[NV_MAGIC_LEN + 3];
	unsigned char id[NV_HASH_LEN];

	memcpy(obj, NV_PACK_MAGIC, NV_MAGIC_LEN);
	memcpy(obj + NV_MAGIC_LEN, "abc", 3);
	nv_sha256(obj, sizeof(obj), id);
	cr_assert_eq(nv_pack_check_object(obj, sizeof(obj), id), NV_OK);
	cr_assert_eq(nv_pack_check_object(obj, 4, id), NV_ECORRUPT); /* shorter than the magic */
	obj[0] = 'X';
	nv_sha256(obj, sizeof(obj), id);
	cr_assert_eq(nv_pack_check_object(obj, sizeof(obj), id), NV_ECORRUPT); /* bad magic */
	obj[0] = NV_PACK_MAGIC[0];
	cr_assert_eq(nv_pack_check_object(obj, sizeof(obj), id), NV_ECORRUPT); /* other hash */
}
