/* fuzz_head - libFuzzer target: the HEAD decoder (nv_head_decode) on any
 * bytes. A HEAD that decodes must encode back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char id[NV_HASH_LEN];
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf out = NV_BUF_INIT(256);

	if (nv_head_decode((const char *)data, size, id, &e) == NV_OK) {
		if (nv_head_encode(id, &out, &e))
			abort();
		/* the decoder may accept a trailing newline variant, but the id
		 * must survive a round trip */
		{
			unsigned char id2[NV_HASH_LEN];

			if (nv_head_decode(out.p, out.len, id2, &e) || memcmp(id, id2, NV_HASH_LEN))
				abort();
		}
	} else if (!e.msg[0]) {
		abort(); /* an error always carries a message */
	}
	nv_buf_release(&out);
	return 0;
}
