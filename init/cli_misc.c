/* Small verbs: version and help. */
#include <stdio.h>

#include "base/buf.h"
#include "cli.h"
#include "base/version.h"

int nv_cli_version(int argc, char **argv)
{
	struct nv_buf libs = NV_BUF_INIT(4096);

	(void)argc;
	(void)argv;
	nv_version_libs(&libs, NULL);
	printf("netvol %s (commit %s)\n%s\n", nv_version(), nv_git_commit(), libs.p);
	nv_buf_release(&libs);
	return NV_EXIT_OK;
}

int nv_cli_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	nv_cli_print_usage(stdout);
	return NV_EXIT_OK;
}
