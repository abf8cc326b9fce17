/* temporary while the client is written */
#include "store.h"

int nv_store_s3_open(const char *url, const struct nv_config *cfg, struct nv_store **out,
		     struct nv_error *err)
{
	(void)cfg;
	*out = NULL;
	return nv_error_set(err, NV_EUNSUPPORTED, "store '%s': not yet", url);
}
