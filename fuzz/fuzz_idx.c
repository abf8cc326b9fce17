/* fuzz_idx - libFuzzer target: the pack index decoder (nv_idx_decode). An
 * index that decodes must re-encode to the very same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "engine/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nv_idx_entry *ent = NULL;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf out = NV_BUF_INIT(NV_BUF_UNLIMITED);
	size_t n = 0;

	if (nv_idx_decode(data, size, &ent, &n, &e) == NV_OK) {
		if (nv_idx_encode(ent, n, &out, &e))
			abort();
		if (out.len != size || memcmp(out.p, data, size))
			abort();
	} else if (!e.msg[0]) {
		abort();
	}
	nv_free(ent);
	nv_buf_release(&out);
	return 0;
}
