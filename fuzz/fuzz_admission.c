/* libFuzzer target: the AdmissionReview parser and the mutation
 * (webhook/mutate.c), with the default settings and with the full
 * restore-sync injection, each with both allocators, plus the config-file
 * parser on the same bytes.
 * Checks that an accepted review always yields a JSON response that allows
 * the pod, and that a patch is a JSON array of "add" operations. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jsonpatch.h"
#include "mutate.h"

static struct nv_mutate_config plain, full;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char cfg[] = "{\"restoreSync\":{\"enabled\":true,\"runAsUser\":1337,"
				  "\"resources\":{\"limits\":{\"memory\":\"512Mi\"}}}}";

	(void)argc;
	(void)argv;
	if (nv_mutate_config_init(&plain, NULL) || nv_mutate_config_init(&full, NULL) ||
	    nv_mutate_config_parse(&full, cfg, strlen(cfg), "fuzz", NULL))
		abort();
	return 0;
}

static void check(const struct nv_admission *a)
{
	cJSON *resp = cJSON_Parse(a->response.p), *r, *ops, *op;

	if (!resp)
		abort();
	r = cJSON_GetObjectItemCaseSensitive(resp, "response");
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "allowed")))
		abort();
	if (a->patch_ops) {
		ops = cJSON_Parse(a->patch.p);
		if (!cJSON_IsArray(ops) || (size_t)cJSON_GetArraySize(ops) != a->patch_ops)
			abort();
		cJSON_ArrayForEach(op, ops)
		{
			const cJSON *o = cJSON_GetObjectItemCaseSensitive(op, "op");
			const cJSON *p = cJSON_GetObjectItemCaseSensitive(op, "path");

			if (!cJSON_IsString(o) || strcmp(o->valuestring, "add") ||
			    !cJSON_IsString(p) || strncmp(p->valuestring, "/spec/", 6))
				abort();
		}
		cJSON_Delete(ops);
	}
	cJSON_Delete(resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct nv_mutate_config *cfgs[] = {&plain, &full};
	struct nv_mutate_config scratch;
	size_t i;

	for (i = 0; i < 4; i++) {
		struct nv_admission a;

		/* both allocators: nv_malloc, and the server's per-thread arena */
		nv_arena_use(i >= 2);
		nv_admission_init(&a);
		if (nv_mutate_review(cfgs[i % 2], (const char *)data, size, &a, NULL) == 0)
			check(&a);
		nv_admission_release(&a);
	}
	if (nv_mutate_config_init(&scratch, NULL) == 0) {
		nv_mutate_config_parse(&scratch, (const char *)data, size, "fuzz", NULL);
		nv_mutate_config_release(&scratch);
	}
	return 0;
}
