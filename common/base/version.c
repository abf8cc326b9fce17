#include "base/version.h"

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
