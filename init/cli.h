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

/* Shared by the verbs: load config and set up logging (exit code). */
struct nv_config;
struct nv_error;
int nv_cli_setup(struct nv_config *cfg, const char *verb);
/* NV_ECONFIG/NV_EUSAGE -> 2, anything else -> 1. */
int nv_cli_exit_for(int code);
void nv_cli_log_error(const char *event, const char *dataset, const struct nv_error *e);

int nv_cli_restore(int argc, char **argv);
int nv_cli_sync(int argc, char **argv);
int nv_cli_install(int argc, char **argv);
int nv_cli_ls(int argc, char **argv);
int nv_cli_log(int argc, char **argv);
int nv_cli_verify(int argc, char **argv);
int nv_cli_gc(int argc, char **argv);
int nv_cli_export(int argc, char **argv);
int nv_cli_version(int argc, char **argv);
int nv_cli_help(int argc, char **argv);

#endif
