#include "version.h"

#include <curl/curl.h>
#include <expat.h>
#include <openssl/crypto.h>
#include <zstd.h>

#ifndef NV_VERSION
#define NV_VERSION "0.0.0"
#endif
#ifndef NV_GIT_COMMIT
#define NV_GIT_COMMIT "unknown"
#endif

const char *nv_version(void)
{
	return NV_VERSION;
}

const char *nv_git_commit(void)
{
	return NV_GIT_COMMIT;
}

int nv_version_libs(struct nv_buf *out, struct nv_error *err)
{
	curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);

	return nv_buf_addf(out, err, "libcurl/%s %s zstd/%s %s", c ? c->version : "?",
			   OpenSSL_version(OPENSSL_VERSION), ZSTD_versionString(),
			   XML_ExpatVersion());
}
