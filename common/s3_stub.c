/* Placeholder until the S3 module lands (issue 3): s3:// stores are
 * refused with a clear error instead of failing to link. The S3 module
 * replaces this file. */
#include "store.h"

int nv_store_s3_open(const char *url, const struct nv_config *cfg, struct nv_store **out,
		     struct nv_error *err)
{
	(void)cfg;
	*out = NULL;
	return nv_error_set(err, NV_EUNSUPPORTED,
			    "store '%s': s3:// stores are not built into this binary", url);
}
