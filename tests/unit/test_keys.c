#include "testutil.h"

#include "base/hash.h"
#include "store/keys.h"

/* ---- the user root: base + "/" + user, whatever the base ---- */

struct root_case {
	char base[48];
	char user[24];
	int rc;
	char want[64];
};

ParameterizedTestParameters(keys, user_root)
{
	static struct root_case cases[] = {
	    {"s3://b/pod_sessions", "alice", NV_OK, "s3://b/pod_sessions/alice"},
	    {"s3://b/comfy/", "bob", NV_OK, "s3://b/comfy/bob"},
	    {"s3://b", "bob", NV_OK, "s3://b/bob"},
	    {"file:///srv/netvol", "a.b@c+d", NV_OK, "file:///srv/netvol/a.b@c+d"},
	    {"file:///srv/netvol//", "user", NV_OK, "file:///srv/netvol/user"},
	    {"s3://b/x", "", NV_ECONFIG, ""},
	    {"s3://b/x", "..", NV_ECONFIG, ""},
	    {"s3://b/x", "a/b", NV_ECONFIG, ""},
	    {"s3://b/x", "a\nb", NV_ECONFIG, ""},
	};
	return cr_make_param_array(struct root_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct root_case *rc, keys, user_root)
{
	struct nv_buf b = NV_BUF_INIT(4096);
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_keys_user_root(rc->base, rc->user, &b, &e), rc->rc, "%s + %s: %s", rc->base,
		     rc->user, e.msg);
	if (!rc->rc)
		cr_assert_str_eq(b.p, rc->want);
	nv_buf_release(&b);
}

Test(keys, no_user_no_root)
{
	struct nv_buf b = NV_BUF_INIT(4096);

	cr_assert_neq(nv_keys_user_root("s3://b/x", NULL, &b, NULL), NV_OK);
	nv_buf_release(&b);
}

/* ---- dataset prefixes and escapes ---- */

Test(keys, prefixes_and_escapes)
{
	struct nv_dataset user = {.path = "ComfyUI/custom_nodes", .scope = NV_SCOPE_SHARED};
	struct nv_dataset pod = {.path = "ComfyUI/output", .scope = NV_SCOPE_POD};
	struct nv_buf b = NV_BUF_INIT(4096), u = NV_BUF_INIT(4096), p = NV_BUF_INIT(64);
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_keys_dataset_prefix(&user, NULL, &b, NULL), NV_OK);
	cr_assert_str_eq(b.p, "user/ComfyUI%2Fcustom_nodes/");
	cr_assert_eq(nv_keys_split_dataset_prefix(b.p, &p, &u), NV_OK);
	cr_assert_str_eq(u.p, "ComfyUI/custom_nodes");
	cr_assert_eq(p.len, 0);
	nv_buf_reset(&b);
	nv_buf_reset(&u);
	cr_assert_eq(nv_keys_dataset_prefix(&pod, "pod 1", &b, NULL), NV_OK);
	cr_assert_str_eq(b.p, "pod/pod%201/ComfyUI%2Foutput/");
	cr_assert_eq(nv_keys_split_dataset_prefix(b.p, &p, &u), NV_OK);
	cr_assert_str_eq(p.p, "pod 1");
	cr_assert_str_eq(u.p, "ComfyUI/output");
	nv_buf_reset(&b);
	cr_assert_eq(nv_keys_dataset_prefix(&pod, NULL, &b, &e), NV_ECONFIG);
	cr_assert(strstr(e.msg, "POD_ID"));
	nv_buf_reset(&u);
	cr_assert_eq(nv_keys_unescape("a%2Fb", 5, &u, NULL), NV_OK);
	cr_assert_str_eq(u.p, "a/b");
	cr_assert_eq(nv_keys_unescape("a%2", 3, &u, NULL), NV_EINVALID);
	cr_assert_eq(nv_keys_unescape("a%zz", 4, &u, NULL), NV_EINVALID);
	cr_assert_eq(nv_keys_split_dataset_prefix("user/x/y/", &p, &u), NV_EINVALID);
	cr_assert_eq(nv_keys_split_dataset_prefix("shared/x/", &p, &u), NV_EINVALID);
	nv_buf_release(&b);
	nv_buf_release(&u);
	nv_buf_release(&p);
}

/* ---- classifying listed keys: only netvol's exact shapes count ---- */

#define H64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct class_case {
	char key[160];
	enum nv_key_kind kind;
	size_t prefix_len;
};

ParameterizedTestParameters(keys, classify)
{
	static struct class_case cases[] = {
	    {"user/venv/HEAD", NV_KEY_HEAD, 10},
	    {"user/venv/snapshots/" H64, NV_KEY_SNAPSHOT, 10},
	    {"user/venv/packs/" H64 ".pack", NV_KEY_PACK, 10},
	    {"user/venv/packs/" H64 ".idx", NV_KEY_IDX, 10},
	    {"user/venv/locks/sync-0123", NV_KEY_LOCK, 10},
	    {"pod/sess-1/ComfyUI%2Fuser/HEAD", NV_KEY_HEAD, 26},
	    /* legacy objects and other tools' keys */
	    {"shared/_cache.tar.gz", NV_KEY_OTHER, 0},
	    {"shared/venv_chunks/comfyui/venv_chunk_1.tar.gz", NV_KEY_OTHER, 0},
	    {"ComfyUI/shared/custom_nodes/x/.git/HEAD", NV_KEY_OTHER, 0},
	    {"sess-1/comfyui_pod_specific_data.tar.gz", NV_KEY_OTHER, 0},
	    /* a legacy pod folder that happens to be called "user" */
	    {"user/comfyui_pod_specific_data.tar.gz", NV_KEY_OTHER, 0},
	    {"user/ComfyUI/input/HEAD.png", NV_KEY_OTHER, 0},
	    {"user/ComfyUI/snapshots/abc", NV_KEY_OTHER, 0},
	    {"user/venv/snapshots/" H64 "0", NV_KEY_OTHER, 0},
	    {"user/venv/packs/" H64 ".tar", NV_KEY_OTHER, 0},
	    {"user/venv/HEAD/x", NV_KEY_OTHER, 0},
	    {"user//HEAD", NV_KEY_OTHER, 0},
	    {"pod/x/HEAD", NV_KEY_OTHER, 0},
	    {"HEAD", NV_KEY_OTHER, 0},
	};
	return cr_make_param_array(struct class_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct class_case *cc, keys, classify)
{
	size_t pl = 99;

	cr_assert_eq(nv_keys_classify(cc->key, &pl, NULL), cc->kind, "%s", cc->key);
	cr_assert_eq(pl, cc->prefix_len, "%s: %zu", cc->key, pl);
}

struct user_case {
	char key[96];
	size_t len;
};

ParameterizedTestParameters(keys, user_of_key)
{
	static struct user_case cases[] = {
	    {"alice/user/venv/HEAD", 5},
	    {"bob/pod/s1/ComfyUI%2Fuser/HEAD", 3},
	    {"user/user/venv/HEAD", 4},
	    {"alice/shared/_cache.tar.gz", 0},
	    {"user/venv/HEAD", 0}, /* format 1: no user in the key */
	    {"..", 0},
	    {"a b/user/venv/HEAD", 0},
	};
	return cr_make_param_array(struct user_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct user_case *uc, keys, user_of_key)
{
	cr_assert_eq(nv_keys_user_len(uc->key), uc->len, "%s", uc->key);
}

Test(keys, format1_head)
{
	struct nv_dataset ds = {.path = "ComfyUI/custom_nodes", .scope = NV_SCOPE_SHARED};
	struct nv_dataset pod = {.path = "ComfyUI/output", .scope = NV_SCOPE_POD};
	struct nv_buf b = NV_BUF_INIT(4096);

	cr_assert_eq(nv_keys_format1_head(&ds, &b, NULL), NV_OK);
	cr_assert_str_eq(b.p, "user/ComfyUI%2Fcustom_nodes/HEAD");
	nv_buf_reset(&b);
	cr_assert_neq(nv_keys_format1_head(&pod, &b, NULL), NV_OK);
	nv_buf_release(&b);
}

/* ---- building object keys: each one classifies back to its kind and id ---- */

struct obj_case {
	enum nv_key_kind kind;
	char want[160];
};

ParameterizedTestParameters(keys, objects)
{
	static struct obj_case cases[] = {
	    {NV_KEY_HEAD, "user/venv/HEAD"},
	    {NV_KEY_SNAPSHOT, "user/venv/snapshots/" H64},
	    {NV_KEY_PACK, "user/venv/packs/" H64 ".pack"},
	    {NV_KEY_IDX, "user/venv/packs/" H64 ".idx"},
	};
	return cr_make_param_array(struct obj_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct obj_case *oc, keys, objects)
{
	struct nv_buf b = NV_BUF_INIT(4096);
	unsigned char id[NV_HASH_LEN], back[NV_HASH_LEN];
	size_t pl;

	nv_hex_decode(H64, 64, id);
	cr_assert_eq(nv_keys_object("user/venv/", oc->kind, id, &b, NULL), NV_OK);
	cr_assert_str_eq(b.p, oc->want);
	cr_assert_eq(nv_keys_classify(b.p, &pl, back), oc->kind);
	cr_assert_eq(pl, 10);
	if (oc->kind != NV_KEY_HEAD)
		cr_assert_arr_eq(back, id, NV_HASH_LEN);
	nv_buf_release(&b);
}

Test(keys, dirs_and_locks)
{
	struct nv_buf b = NV_BUF_INIT(4096);
	size_t pl;

	cr_assert_eq(nv_keys_dir("pod/p/x/", NV_KEY_PACK, &b, NULL), NV_OK);
	cr_assert_str_eq(b.p, "pod/p/x/packs/");
	nv_buf_reset(&b);
	cr_assert_eq(nv_keys_dir("pod/p/x/", NV_KEY_SNAPSHOT, &b, NULL), NV_OK);
	cr_assert_str_eq(b.p, "pod/p/x/snapshots/");
	nv_buf_reset(&b);
	cr_assert_eq(nv_keys_dir("pod/p/x/", NV_KEY_HEAD, &b, NULL), NV_EINTERNAL);
	nv_buf_reset(&b);
	cr_assert_eq(nv_keys_lock("user/venv/", "sync", "00ff", &b, NULL), NV_OK);
	cr_assert_str_eq(b.p, "user/venv/locks/sync-00ff");
	cr_assert_eq(nv_keys_classify(b.p, &pl, NULL), NV_KEY_LOCK);
	nv_buf_reset(&b);
	cr_assert_eq(nv_keys_object("user/venv/", NV_KEY_LOCK, NULL, &b, NULL), NV_EINTERNAL);
	nv_buf_release(&b);
}
