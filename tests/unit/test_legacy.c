/* The legacy planner (legacy.c), the path rules of extract.c and the
 * NETVOL_LEGACY configuration, as tables. */
#include "testutil.h"

#include "base/buf.h"
#include "base/config.h"
#include "engine/extract.h"
#include "engine/legacy.h"

#define MAXKEYS 12

struct plan_case {
	char what[48];
	char ds[32];
	int scope;
	char keys[MAXKEYS][72]; /* "" ends; sizes are strlen(key) */
	char source[40];	/* "" = no legacy data */
	char objs[512];		/* "K:key|strip|dest;..." K = T tar, Z zip, F file, S sums */
};

static const char kinds[] = "TZFS";

ParameterizedTestParameters(legacy, plan)
{
	static struct plan_case cases[] = {
	    {"per-venv folders win",
	     "venv",
	     NV_SCOPE_SHARED,
	     {"shared/venv_chunks/b/venv_chunk_1.tar.gz",
	      "shared/venv_chunks/a/venv_chunk_10.tar.gz",
	      "shared/venv_chunks/a/venv_chunk_2.tar.gz",
	      "shared/venv_chunks/a/venv_chunks.checksums", "shared/venv_chunks/a/source.checksum",
	      "shared/venv_chunks/a/venv_other_folders.zip",
	      "shared/venv_chunks/venv_chunk_1.tar.gz", "shared/venv.tar.gz"},
	     "venv_chunks",
	     "Z:shared/venv_chunks/a/venv_other_folders.zip||a/;"
	     "S:shared/venv_chunks/a/venv_chunks.checksums||a/;"
	     "T:shared/venv_chunks/a/venv_chunk_2.tar.gz||a/;"
	     "T:shared/venv_chunks/a/venv_chunk_10.tar.gz||a/;"
	     "T:shared/venv_chunks/b/venv_chunk_1.tar.gz||b/"},
	    {"single-venv folder",
	     "venv",
	     NV_SCOPE_SHARED,
	     {"shared/venv_chunks/venv_chunk_2.tar.gz", "shared/venv_chunks/venv_chunk_1.tar.gz",
	      "shared/venv_chunks/source.checksum", "shared/venv.tar.gz"},
	     "venv_chunks_single",
	     "T:shared/venv_chunks/venv_chunk_1.tar.gz||comfyui/;"
	     "T:shared/venv_chunks/venv_chunk_2.tar.gz||comfyui/"},
	    {"odd chunk names are no chunks",
	     "venv",
	     NV_SCOPE_SHARED,
	     {"shared/venv_chunks/venv_chunk_0.tar.gz", "shared/venv_chunks/venv_chunk_01.tar.gz",
	      "shared/venv_chunks/a/b/venv_chunk_1.tar.gz",
	      "shared/venv_chunks/venv_chunk_x.tar.gz", "shared/venv_chunks/venv_chunks.checksums",
	      "shared/venv.tar.gz"},
	     "venv.tar.gz",
	     "T:shared/venv.tar.gz|venv/|"},
	    {"loose venv before the zip",
	     "venv",
	     NV_SCOPE_SHARED,
	     {"shared/venv.zip", "shared/venv/comfyui/bin/pip", "shared/venv/comfyui/", ""},
	     "loose",
	     "F:shared/venv/comfyui/bin/pip||comfyui/bin/pip"},
	    {"venv.zip",
	     "venv",
	     NV_SCOPE_SHARED,
	     {"shared/venv.zip"},
	     "venv.zip",
	     "Z:shared/venv.zip||"},
	    {"loose, one venv at the root",
	     "venv",
	     NV_SCOPE_SHARED,
	     {"shared/venv/pyvenv.cfg", "shared/venv/bin/pip"},
	     "loose",
	     "F:shared/venv/pyvenv.cfg||comfyui/pyvenv.cfg;F:shared/venv/bin/pip||comfyui/bin/pip"},
	    {"_comfyui before .comfyui",
	     ".comfyui",
	     NV_SCOPE_SHARED,
	     {"shared/.comfyui.tar.gz", "shared/_comfyui.tar.gz", "shared/.comfyui.zip"},
	     "_comfyui.tar.gz",
	     "T:shared/_comfyui.tar.gz|.comfyui/|"},
	    {"older .comfyui name",
	     ".comfyui",
	     NV_SCOPE_SHARED,
	     {"shared/.comfyui.tar.gz", "shared/_cache.tar.gz"},
	     ".comfyui.tar.gz",
	     "T:shared/.comfyui.tar.gz|.comfyui/|"},
	    {"loose .comfyui",
	     ".comfyui",
	     NV_SCOPE_SHARED,
	     {"shared/.comfyui/a/b.json", "shared/.comfyui.zip"},
	     "loose",
	     "F:shared/.comfyui/a/b.json||a/b.json"},
	    {"cache",
	     ".cache",
	     NV_SCOPE_SHARED,
	     {"shared/_cache.tar.gz"},
	     "_cache.tar.gz",
	     "T:shared/_cache.tar.gz|.cache/|"},
	    {"custom_nodes: ComfyUI/shared first",
	     "ComfyUI/custom_nodes",
	     NV_SCOPE_SHARED,
	     {"shared/custom_nodes.tar.gz", "ComfyUI/shared/custom_nodes.tar.gz"},
	     "custom_nodes.tar.gz",
	     "T:ComfyUI/shared/custom_nodes.tar.gz|custom_nodes/|"},
	    {"custom_nodes in shared/",
	     "ComfyUI/custom_nodes",
	     NV_SCOPE_SHARED,
	     {"shared/custom_nodes.tar.gz", "P1/comfyui_pod_specific_data.tar.gz"},
	     "shared/custom_nodes.tar.gz",
	     "T:shared/custom_nodes.tar.gz|custom_nodes/|"},
	    {"custom_nodes zip",
	     "ComfyUI/custom_nodes",
	     NV_SCOPE_SHARED,
	     {"ComfyUI/shared/custom_nodes.zip"},
	     "custom_nodes.zip",
	     "Z:ComfyUI/shared/custom_nodes.zip||"},
	    {"pod archive",
	     "ComfyUI/user",
	     NV_SCOPE_POD,
	     {"P1/comfyui_pod_specific_data.tar.gz", "P1/ComfyUI/user/x",
	      "P2/comfyui_pod_specific_data.tar.gz"},
	     "comfyui_pod_specific_data.tar.gz",
	     "T:P1/comfyui_pod_specific_data.tar.gz|user/|"},
	    {"another pod's archive",
	     "ComfyUI/output",
	     NV_SCOPE_POD,
	     {"P2/comfyui_pod_specific_data.tar.gz", "P2/ComfyUI/output/a.png"},
	     "",
	     ""},
	    {"loose pod folder",
	     "ComfyUI/output",
	     NV_SCOPE_POD,
	     {"P1/ComfyUI/output/sub/a.png", "P1/ComfyUI/input/b.png", "P1/ComfyUI/outputs/c"},
	     "loose",
	     "F:P1/ComfyUI/output/sub/a.png||sub/a.png"},
	    {"other pod folders",
	     "extra",
	     NV_SCOPE_POD,
	     {"P1/other_pod_specific_data.tar.gz", "P1/comfyui_pod_specific_data.tar.gz"},
	     "other_pod_specific_data.tar.gz",
	     "T:P1/other_pod_specific_data.tar.gz|extra/|"},
	    {"not for ComfyUI/ datasets",
	     "ComfyUI/user",
	     NV_SCOPE_POD,
	     {"P1/other_pod_specific_data.tar.gz"},
	     "",
	     ""},
	    {"pod objects are not for shared datasets",
	     "ComfyUI/user",
	     NV_SCOPE_SHARED,
	     {"P1/comfyui_pod_specific_data.tar.gz"},
	     "",
	     ""},
	    {"a venv folder as its own dataset",
	     "venv/comfyui",
	     NV_SCOPE_SHARED,
	     {"shared/venv_chunks/other/venv_chunk_1.tar.gz", "shared/venv.tar.gz"},
	     "venv.tar.gz",
	     "T:shared/venv.tar.gz|venv/comfyui/|"},
	    {"nothing", "venv", NV_SCOPE_SHARED, {"shared/unrelated.tar.gz", "HEAD"}, "", ""},
	};

	return cr_make_param_array(struct plan_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct plan_case *c, legacy, plan)
{
	struct nv_dataset ds = {.path = c->ds, .scope = (enum nv_scope)c->scope};
	struct nv_legacy_key keys[MAXKEYS];
	struct nv_legacy_plan p;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf got = NV_BUF_INIT(4096);
	size_t n = 0, i;

	while (n < MAXKEYS && c->keys[n][0]) {
		keys[n].key = c->keys[n];
		keys[n].size = strlen(c->keys[n]);
		n++;
	}
	cr_assert_eq(nv_legacy_plan(&ds, "P1", keys, n, &p, &e), NV_OK, "%s: %s", c->what, e.msg);
	cr_assert_str_eq(p.source ? p.source : "", c->source, "%s", c->what);
	for (i = 0; i < p.nobjs; i++)
		nv_buf_addf(&got, NULL, "%s%c:%s|%s|%s", i ? ";" : "", kinds[p.objs[i].kind],
			    p.objs[i].key, p.objs[i].strip, p.objs[i].dest);
	cr_assert_str_eq(got.p, c->objs, "%s", c->what);
	nv_buf_release(&got);
	nv_legacy_plan_release(&p);
}

/* The places to look: deduplicated, in order, pod ones only with a pod. */
Test(legacy, probes)
{
	struct nv_dataset venv = {.path = "venv", .scope = NV_SCOPE_SHARED},
			  user = {.path = "ComfyUI/user", .scope = NV_SCOPE_POD};
	struct nv_legacy_probe *p;
	size_t n;

	cr_assert_eq(nv_legacy_probes(&venv, "P1", &p, &n, NULL), NV_OK);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(p[0].key, "shared/venv_chunks/");
	cr_assert(p[0].prefix);
	cr_assert_str_eq(p[1].key, "shared/venv.tar.gz");
	cr_assert(!p[1].prefix);
	cr_assert_str_eq(p[3].key, "shared/venv.zip");
	nv_legacy_probes_free(p, n);
	cr_assert_eq(nv_legacy_probes(&user, "P1", &p, &n, NULL), NV_OK);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(p[0].key, "P1/comfyui_pod_specific_data.tar.gz");
	cr_assert_str_eq(p[1].key, "P1/ComfyUI/");
	nv_legacy_probes_free(p, n);
	cr_assert_eq(nv_legacy_probes(&user, NULL, &p, &n, NULL), NV_OK);
	cr_assert_eq(n, 0);
	nv_legacy_probes_free(p, n);
}

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"

struct sums_case {
	char what[40];
	char sums[400];
	int code;
	char skipped[16]; /* per chunk 1..3: 's' skipped, 'x' extracted */
	size_t stale;
};

ParameterizedTestParameters(legacy, sums)
{
	static struct sums_case cases[] = {
	    {"all listed",
	     H1 " venv_chunk_1.tar.gz\n" H2 " venv_chunk_2.tar.gz\n" H1 " venv_chunk_3.tar.gz\n",
	     NV_OK, "xxx", 0},
	    {"a venv that shrank", H1 " venv_chunk_1.tar.gz\r\n" H2 " venv_chunk_2.tar.gz\r\n",
	     NV_OK, "xxs", 1},
	    {"blank lines, no final newline", "\n" H1 " venv_chunk_2.tar.gz", NV_OK, "sxs", 2},
	    {"a listed chunk is missing", H1 " venv_chunk_1.tar.gz\n" H1 " venv_chunk_4.tar.gz\n",
	     NV_ECORRUPT, "", 0},
	    {"other files listed are fine",
	     H1 " venv_chunk_1.tar.gz\n" H2 " venv_other_folders.zip\n", NV_OK, "xss", 2},
	    {"not hex",
	     "zz11111111111111111111111111111111111111111111111111111111111111 "
	     "venv_chunk_1.tar.gz\n",
	     NV_ECORRUPT, "", 0},
	    {"sha256sum's format", H1 "  venv_chunk_1.tar.gz\n" H1 " *venv_chunk_3.tar.gz\n", NV_OK,
	     "xsx", 1},
	    {"none listed", H1 " venv_chunk_9.tar.gz.old\n", NV_ECORRUPT, "", 0},
	    {"empty", "", NV_ECORRUPT, "", 0},
	    {"short line", "abc\n", NV_ECORRUPT, "", 0},
	};

	return cr_make_param_array(struct sums_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct sums_case *c, legacy, sums)
{
	static const char *names[] = {"shared/venv_chunks/a/venv_chunk_1.tar.gz",
				      "shared/venv_chunks/a/venv_chunk_2.tar.gz",
				      "shared/venv_chunks/a/venv_chunk_3.tar.gz",
				      "shared/venv_chunks/a/venv_chunks.checksums",
				      "shared/venv_chunks/b/venv_chunk_1.tar.gz"};
	struct nv_legacy_key keys[5];
	struct nv_dataset ds = {.path = "venv", .scope = NV_SCOPE_SHARED};
	struct nv_legacy_plan p;
	size_t i, s = SIZE_MAX, k = 0;
	int rc;

	for (i = 0; i < 5; i++)
		keys[i] = (struct nv_legacy_key){names[i], 100};
	cr_assert_eq(nv_legacy_plan(&ds, NULL, keys, 5, &p, NULL), NV_OK);
	for (i = 0; i < p.nobjs; i++)
		if (p.objs[i].kind == NV_LEGACY_SUMS)
			s = i;
	cr_assert_neq(s, SIZE_MAX);
	rc = nv_legacy_plan_sums(&p, s, c->sums, strlen(c->sums), NULL);
	cr_assert_eq(rc, c->code, "%s", c->what);
	if (!rc) {
		for (i = 0; i < p.nobjs; i++) {
			if (!p.objs[i].chunk)
				continue;
			if (strstr(p.objs[i].key, "/b/")) {
				cr_assert(!p.objs[i].skip, "%s: other venv untouched", c->what);
				continue;
			}
			cr_assert_eq(p.objs[i].skip, c->skipped[k] == 's', "%s: chunk %zu", c->what,
				     k + 1);
			if (!p.objs[i].skip)
				cr_assert(p.objs[i].has_sum);
			k++;
		}
		cr_assert_eq(k, 3);
		cr_assert_eq(p.stale, c->stale, "%s", c->what);
		cr_assert_eq(p.bytes, (4 - c->stale) * 100, "%s", c->what);
	}
	nv_legacy_plan_release(&p);
}

struct path_case {
	char in[64];
	int code;
	char out[64];
};

ParameterizedTestParameters(legacy, norm_path)
{
	static struct path_case cases[] = {
	    {"a/b", NV_OK, "a/b"},
	    {"./a//b/", NV_OK, "a/b"},
	    {"././x/./y", NV_OK, "x/y"},
	    {".", NV_OK, ""},
	    {"./", NV_OK, ""},
	    {"..", NV_EUNSAFE, ""},
	    {"a/../b", NV_EUNSAFE, ""},
	    {"/etc/passwd", NV_EUNSAFE, ""},
	    {"a/..", NV_EUNSAFE, ""},
	    {"..a/b..", NV_OK, "..a/b.."},
	    {".comfyui/x", NV_OK, ".comfyui/x"},
	};

	return cr_make_param_array(struct path_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct path_case *c, legacy, norm_path)
{
	struct nv_buf out = NV_BUF_INIT(4096);

	cr_assert_eq(nv_extract_norm_path(c->in, &out, NULL), c->code, "'%s'", c->in);
	if (!c->code)
		cr_assert_str_eq(out.p, c->out, "'%s'", c->in);
	nv_buf_release(&out);
}

struct link_case {
	char rel[48], target[48];
	bool inside;
};

ParameterizedTestParameters(legacy, link_inside)
{
	static struct link_case cases[] = {
	    {"a", "b", true},
	    {"d/a", "../b", true},
	    {"d/e/a", "../../b/c", true},
	    {"a", "../b", false},
	    {"d/a", "../../b", false},
	    {"d/a", "x/../../b", false},
	    {"d/a", "x/..", false}, /* x may be a link to "." */
	    {"a", "/etc/passwd", false},
	    {"a", "", false},
	    {"a", "./b/./c", true},
	    {"bin/python", "python3", true},
	    {"comfyui/bin/python3", "/usr/bin/python3", false},
	};

	return cr_make_param_array(struct link_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct link_case *c, legacy, link_inside)
{
	cr_assert_eq(nv_extract_link_inside(c->rel, c->target), c->inside, "%s -> %s", c->rel,
		     c->target);
}

Test(legacy, venv_root_members)
{
	cr_assert(nv_legacy_member_is_venv_root("bin/pip"));
	cr_assert(nv_legacy_member_is_venv_root("lib/python3.11/site-packages/x.py"));
	cr_assert(nv_legacy_member_is_venv_root("lib64/x"));
	cr_assert(nv_legacy_member_is_venv_root("pyvenv.cfg"));
	cr_assert(!nv_legacy_member_is_venv_root("numpy/__init__.py"));
	cr_assert(!nv_legacy_member_is_venv_root("library/x"));
	cr_assert(!nv_legacy_member_is_venv_root("_distutils_hack/__init__.py"));
}

struct pyvenv_case {
	char cfg[160];
	char home[40], version[16];
};

ParameterizedTestParameters(legacy, pyvenv)
{
	static struct pyvenv_case cases[] = {
	    {"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
	     "/usr/bin", "3.11.2"},
	    {"home=/opt/py/bin\r\nversion_info = 3.12.1.final.0\r\n", "/opt/py/bin",
	     "3.12.1.final.0"},
	    {"version_info = 3.10.0\nversion = 3.10.4\nhome = /x", "/x", "3.10.4"},
	    {"no equals here\n", "", ""},
	};

	return cr_make_param_array(struct pyvenv_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct pyvenv_case *c, legacy, pyvenv)
{
	struct nv_buf home = NV_BUF_INIT(4096), ver = NV_BUF_INIT(256);

	cr_assert_eq(nv_legacy_parse_pyvenv(c->cfg, strlen(c->cfg), &home, &ver, NULL), NV_OK);
	cr_assert_str_eq(home.p, c->home);
	cr_assert_str_eq(ver.p, c->version);
	nv_buf_release(&home);
	nv_buf_release(&ver);
}

/* ---- NETVOL_LEGACY / NETVOL_LEGACY_STORE ---- */

static const char *table_env(const char *name, void *ud)
{
	const char *const *kv = ud;

	for (; kv[0]; kv += 2)
		if (kv[1][0] && !strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

struct cfg_case {
	char legacy[16], store[48], bucket[16], user[16];
	int code;
	char root[64]; /* "" = off */
	char off[48];  /* substring of legacy_off, or of the error */
};

ParameterizedTestParameters(legacy, config)
{
	static struct cfg_case cases[] = {
	    {"", "", "bkt", "alice", NV_OK, "s3://bkt/pod_sessions/alice", ""},
	    {"auto", "file:///old/", "bkt", "alice", NV_OK, "file:///old/alice", ""},
	    {"", "s3://other/base", "", "bob", NV_OK, "s3://other/base/bob", ""},
	    {"off", "", "bkt", "alice", NV_OK, "", "NETVOL_LEGACY=off"},
	    {"", "", "bkt", "", NV_OK, "", "POD_USER_NAME"},
	    {"", "", "", "alice", NV_OK, "", "NETVOL_LEGACY_STORE"},
	    {"on", "", "bkt", "alice", NV_ECONFIG, "", "NETVOL_LEGACY='on'"},
	    {"", "ftp://x", "", "alice", NV_ECONFIG, "", "NETVOL_LEGACY_STORE"},
	    {"", "file://rel", "", "alice", NV_ECONFIG, "", "NETVOL_LEGACY_STORE"},
	    {"", "s3://ab/x", "", "alice", NV_ECONFIG, "", "bucket name"},
	};

	return cr_make_param_array(struct cfg_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct cfg_case *c, legacy, config)
{
	const char *env[] = {"NETVOL_LEGACY", c->legacy,	 "NETVOL_LEGACY_STORE",
			     c->store,	      "AWS_BUCKET_NAME", c->bucket,
			     "POD_USER_NAME", c->user,		 NULL};
	struct nv_config cfg;
	struct nv_error e = NV_ERROR_INIT;
	int rc = nv_config_load_from(&cfg, table_env, env, &e);

	cr_assert_eq(rc, c->code, "%s", e.msg);
	if (rc) {
		cr_assert(strstr(e.msg, c->off), "%s", e.msg);
		return;
	}
	if (c->root[0]) {
		cr_assert_str_eq(cfg.legacy_root_url, c->root);
	} else {
		cr_assert_null(cfg.legacy_root_url);
		cr_assert(cfg.legacy_off && strstr(cfg.legacy_off, c->off), "%s",
			  cfg.legacy_off ? cfg.legacy_off : "(null)");
	}
	nv_config_release(&cfg);
}
