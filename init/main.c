/* netvol - the multi-call CLI: restore, sync and the admin verbs.
 *
 * Dispatch is a table of {name, function} (git.c); `netvol-restore` and
 * `netvol-sync` (argv[0]) are aliases of `netvol restore` / `netvol sync`.
 * Exit codes (a tested contract): 0 ok, 1 a dataset failed, 2 usage or
 * configuration error.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct nv_cli_verb verbs[] = {
    {"restore", nv_cli_restore, "symlink or restore the datasets (init container)"},
    {"sync", nv_cli_sync, "copy to the network volume and upload snapshots (preStop)"},
    {"ls", nv_cli_ls, "list the datasets in the store and their latest snapshots"},
    {"log", nv_cli_log, "show the snapshot history of a dataset"},
    {"verify", nv_cli_verify, "read every pack and check every hash in the store"},
    {"gc", nv_cli_gc, "drop old snapshots and unreferenced packs from the store"},
    {"export", nv_cli_export, "write the latest snapshots as the shell scripts' objects"},
    {"install", nv_cli_install, "copy this binary into a folder (for a preStop hook)"},
    {"version", nv_cli_version, "print version, git commit and library versions"},
    {"help", nv_cli_help, "show this help"},
};

static const size_t nverbs = sizeof(verbs) / sizeof(verbs[0]);

void nv_cli_print_usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: netvol <verb> [options]\n\nverbs:\n");
	for (i = 0; i < nverbs; i++)
		fprintf(out, "  %-10s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(out, "\n'netvol <verb> --help' shows a verb's options.\n"
		     "exit codes: 0 ok, 1 a dataset failed, 2 usage or configuration error\n");
}

static const struct nv_cli_verb *find_verb(const char *name)
{
	size_t i;

	for (i = 0; i < nverbs; i++)
		if (!strcmp(verbs[i].name, name))
			return &verbs[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/');
	const struct nv_cli_verb *v;

	prog = prog ? prog + 1 : argv[0];
	if (!strncmp(prog, "netvol-", 7) && (v = find_verb(prog + 7)))
		return v->fn(argc, argv);
	if (argc < 2) {
		nv_cli_print_usage(stderr);
		return NV_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return nv_cli_help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version"))
		return nv_cli_version(argc - 1, argv + 1);
	v = find_verb(argv[1]);
	if (!v) {
		fprintf(stderr, "netvol: unknown verb '%s'\n\n", argv[1]);
		nv_cli_print_usage(stderr);
		return NV_EXIT_USAGE;
	}
	return v->fn(argc - 1, argv + 1);
}
