/* fuzz_config - libFuzzer target: configuration parsing. The input is an
 * environment, one NAME=VALUE per line, given to nv_config_load_from
 * through a table lookup; every value is also fed to
 * nv_config_parse_datasets and nv_config_parse_duration_ms. A failure must
 * be NV_ECONFIG/NV_EINVALID with a message (never a crash or a leak). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"

#define MAX_VARS 64

struct env {
	char *name[MAX_VARS];
	char *value[MAX_VARS];
	size_t n;
};

static const char *lookup(const char *name, void *ud)
{
	const struct env *e = ud;
	size_t i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->name[i], name))
			return e->value[i];
	return NULL;
}

static void one_value(const char *v)
{
	struct nv_dataset *d = NULL;
	struct nv_error e = NV_ERROR_INIT;
	size_t n = 0;
	int64_t ms = 0;

	if (nv_config_parse_datasets(v, &d, &n, &e) == NV_OK) {
		size_t i;

		for (i = 0; i < n; i++)
			if (nv_config_check_relpath(d[i].path, NULL))
				abort();
		nv_config_free_datasets(d, n);
	} else if (!e.msg[0]) {
		abort();
	}
	if (nv_config_parse_duration_ms(v, &ms) == NV_OK && ms < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct env env;
	struct nv_config cfg;
	struct nv_error e = NV_ERROR_INIT;
	char *text = malloc(size + 1), *p, *nl;
	size_t i;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	env.n = 0;
	for (p = text; p && *p && env.n < MAX_VARS; p = nl) {
		char *eq;

		nl = strchr(p, '\n');
		if (nl)
			*nl++ = '\0';
		eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		env.name[env.n] = p;
		env.value[env.n++] = eq + 1;
	}
	for (i = 0; i < env.n; i++)
		one_value(env.value[i]);
	rc = nv_config_load_from(&cfg, lookup, &env, &e);
	if (rc == NV_OK) {
		struct nv_error e2 = NV_ERROR_INIT;

		if (cfg.parallel < 1 || cfg.parallel > 256 || cfg.zstd_level < 1 ||
		    cfg.zstd_level > 19 || cfg.nv_timeout_ms < 0 || cfg.deadline_ms < 0)
			abort();
		nv_config_require_volume(&cfg, &e2);
		nv_config_require_store(&cfg, &e2);
		nv_config_release(&cfg);
	} else if (!e.msg[0]) {
		abort();
	}
	free(text);
	return 0;
}
