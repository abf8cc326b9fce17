/* nv_version_libs (version.h), in its own object: it is the only part of
 * the version module that needs libcurl, expat, OpenSSL and zstd, and the
 * webhook, which links none of them, must not pull it in. */
#include "base/version.h"

#include <curl/curl.h>
#include <expat.h>
#include <openssl/crypto.h>
#include <zstd.h>

int nv_version_libs(struct nv_buf *out, struct nv_error *err)
{
	curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);

	return nv_buf_addf(out, err, "libcurl/%s %s zstd/%s %s", c ? c->version : "?",
			   OpenSSL_version(OPENSSL_VERSION), ZSTD_versionString(),
			   XML_ExpatVersion());
}
