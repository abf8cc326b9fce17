/* cli.h - the verbs of the netvol CLI. Each takes (argc, argv) with argv[0]
 * the verb name and returns an exit code. */
#ifndef NV_CLI_H
#define NV_CLI_H

#include <stdio.h>

enum { NV_EXIT_OK = 0, NV_EXIT_FAILED = 1, NV_EXIT_USAGE = 2 };

struct nv_cli_verb {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

void nv_cli_print_usage(FILE *out);

int nv_cli_version(int argc, char **argv);
int nv_cli_help(int argc, char **argv);

#endif
