/* The JSON Patch helpers (webhook/jsonpatch.c): pointer escaping, paths,
 * add operations, the encoded patch. */
#include "testutil.h"

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "jsonpatch.h"

/* ---- JSON Pointer and base64 ---- */

struct ptrcase {
	char seg[32];
	char want[48];
};

static struct ptrcase ptr_cases[] = {
    {"env", "/env"},  {"-", "/-"},     {"", "/"},      {"a/b", "/a~1b"},
    {"m~n", "/m~0n"}, {"~/", "/~0~1"}, {"~1", "/~01"}, {"netvol.io/inject", "/netvol.io~1inject"},
};

ParameterizedTestParameters(jsonpatch, pointer)
{
	return cr_make_param_array(struct ptrcase, ptr_cases,
				   sizeof(ptr_cases) / sizeof(ptr_cases[0]));
}

ParameterizedTest(struct ptrcase *c, jsonpatch, pointer)
{
	struct nv_buf b = NV_BUF_INIT(256);

	cr_assert_eq(nv_jsonpatch_pointer_add(&b, c->seg, NULL), 0);
	cr_assert_str_eq(b.p, c->want);
	nv_buf_release(&b);
}

Test(jsonpatch, base64)
{
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"",	      "Zg==",	  "Zm8=",    "Zm9v",
					  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	struct nv_buf b = NV_BUF_INIT(64);
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		nv_buf_reset(&b);
		cr_assert_eq(nv_jsonpatch_base64(&b, in[i], strlen(in[i]), NULL), 0);
		cr_assert_str_eq(b.p, out[i]);
	}
	nv_buf_release(&b);
}

Test(jsonpatch, path_and_add_encode)
{
	struct nv_buf prefix = NV_BUF_INIT(64), path = NV_BUF_INIT(64);
	struct nv_buf json = NV_BUF_INIT(1024), b64 = NV_BUF_INIT(1024);
	struct nv_buf small = NV_BUF_INIT(8);
	cJSON *ops = cJSON_CreateArray();

	cr_assert_eq(nv_jsonpatch_path(&prefix, &path, "spec", "containers", "0", NULL), 0);
	cr_assert_str_eq(prefix.p, "/spec/containers/0");
	cr_assert_eq(nv_jsonpatch_path(&path, &prefix, "env", "-", NULL), 0);
	cr_assert_str_eq(path.p, "/spec/containers/0/env/-");
	/* the path is rebuilt, not appended to */
	cr_assert_eq(nv_jsonpatch_path(&path, &prefix, "a/b", NULL), 0);
	cr_assert_str_eq(path.p, "/spec/containers/0/a~1b");
	/* over the cap: an error, never a truncated pointer used */
	cr_assert_neq(nv_jsonpatch_path(&small, &prefix, "env", NULL), 0);

	cr_assert(nv_jsonpatch_add(ops, path.p, cJSON_CreateString("v")));
	cr_assert(!nv_jsonpatch_add(ops, path.p, NULL), "a failed value is reported");
	cr_assert_eq(cJSON_GetArraySize(ops), 1);
	cr_assert_eq(nv_jsonpatch_encode(ops, &json, &b64, NULL), 0);
	cr_assert_str_eq(json.p,
			 "[{\"op\":\"add\",\"path\":\"/spec/containers/0/a~1b\",\"value\":\"v\"}]");
	/* base64 of exactly that text */
	{
		struct nv_buf want = NV_BUF_INIT(1024);

		cr_assert_eq(nv_jsonpatch_base64(&want, json.p, json.len, NULL), 0);
		cr_assert_str_eq(b64.p, want.p);
		nv_buf_release(&want);
	}
	cJSON_Delete(ops);
	nv_buf_release(&prefix);
	nv_buf_release(&path);
	nv_buf_release(&json);
	nv_buf_release(&b64);
	nv_buf_release(&small);
}
