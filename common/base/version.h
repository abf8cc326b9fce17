/* version.h - build and library versions, for `netvol version` and the
 * webhook's build_info metric. */
#ifndef NV_VERSION_H
#define NV_VERSION_H

#include "base/buf.h"

const char *nv_version(void);	 /* "0.1.0" */
const char *nv_git_commit(void); /* short hash or "unknown" */
/* "curl/7.88.1 OpenSSL/3.0.x zstd/1.5.4 expat/2.5.0" */
int nv_version_libs(struct nv_buf *out, struct nv_error *err);

#endif
