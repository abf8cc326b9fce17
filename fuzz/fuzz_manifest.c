/* fuzz_manifest - libFuzzer target: the snapshot manifest decoder
 * (nv_manifest_decode). The first input byte picks the mode:
 *   even: the rest is a whole object (magic + zstd frame), as in the store;
 *   odd:  the rest is a manifest body, which the harness wraps in the magic
 *         and a valid zstd frame, so that mutations reach the body parser.
 * A manifest that decodes must satisfy the documented rules and survive an
 * encode/decode round trip with the same content digest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "engine/snapshot.h"

static void check(const struct nv_manifest *m)
{
	struct nv_manifest m2;
	struct nv_buf enc = NV_BUF_INIT(NV_BUF_UNLIMITED);
	struct nv_error e = NV_ERROR_INIT;
	size_t i;

	if (!m->nentries || m->entries[0].path[0] || m->entries[0].type != NV_ENT_DIR)
		abort(); /* the root comes first */
	for (i = 1; i < m->nentries; i++) {
		const struct nv_entry *en = &m->entries[i];

		if (nv_path_cmp(m->entries[i - 1].path, en->path) >= 0)
			abort();
		if (nv_snap_check_path(en->path, strlen(en->path), NULL))
			abort();
		if (en->type == NV_ENT_HARDLINK &&
		    (en->link_index >= i || m->entries[en->link_index].type != NV_ENT_FILE))
			abort();
		if (en->first_chunk + en->nchunks > m->nchunks)
			abort();
	}
	for (i = 0; i < m->nchunks; i++)
		if (m->chunks[i].pack >= m->npacks)
			abort();
	nv_manifest_init(&m2);
	if (nv_manifest_encode(m, 1, &enc, &e) || nv_manifest_decode(enc.p, enc.len, &m2, &e))
		abort();
	if (m2.nentries != m->nentries || m2.nchunks != m->nchunks ||
	    memcmp(m2.digest, m->digest, NV_HASH_LEN))
		abort();
	nv_manifest_release(&m2);
	nv_buf_release(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nv_manifest m;
	struct nv_error e = NV_ERROR_INIT;
	unsigned char *obj = NULL;
	size_t len;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		size_t cap = ZSTD_compressBound(size - 1) + NV_MAGIC_LEN;

		obj = malloc(cap);
		if (!obj)
			return 0;
		memcpy(obj, NV_SNAP_MAGIC, NV_MAGIC_LEN);
		len = ZSTD_compress(obj + NV_MAGIC_LEN, cap - NV_MAGIC_LEN, data + 1, size - 1, 1);
		if (ZSTD_isError(len))
			abort();
		len += NV_MAGIC_LEN;
	} else {
		obj = malloc(size);
		if (!obj)
			return 0;
		memcpy(obj, data + 1, size - 1);
		len = size - 1;
	}
	nv_manifest_init(&m);
	if (nv_manifest_decode(obj, len, &m, &e) == NV_OK)
		check(&m);
	else if (!e.msg[0])
		abort();
	nv_manifest_release(&m);
	free(obj);
	return 0;
}
