/* Helpers shared by the unit tests.
 *
 * Criterion re-executes the test binary for each test, so parameter structs
 * must hold their data inline (char arrays), never pointers to strings. */
#ifndef NV_TESTUTIL_H
#define NV_TESTUTIL_H

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh temporary directory; removed by nv_test_rmdir. */
static inline char *nv_test_tmpdir(void)
{
	char *t = strdup("/tmp/nvtest.XXXXXX");

	cr_assert(t && mkdtemp(t));
	return t;
}

static inline void nv_test_rmdir(char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert(system(cmd) == 0);
	free(dir);
}

static inline int nv_test_is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

#endif
