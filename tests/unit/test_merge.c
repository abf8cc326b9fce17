/* The three-way merge (common/merge.h) as a decision table. An entry spec
 * is "d:path", "f:path:content" or "l:path:target" (the root is implied);
 * a file's content is its one blob's hash byte, in pack "content". */
#include "testutil.h"

#include "engine/merge.h"

#define MAXE 8

struct merge_case {
	char name[48];
	char base[MAXE][24], ours[MAXE][24], theirs[MAXE][24];
	char want[MAXE][24];
	int conflicts;
	char conflict_path[16];
};

static void build(struct nv_manifest *m, char spec[MAXE][24])
{
	struct nv_entry root;
	int i;

	nv_manifest_init(m);
	m->dataset = strdup("ComfyUI/custom_nodes");
	memset(&root, 0, sizeof(root));
	root.path = "";
	root.type = NV_ENT_DIR;
	root.mode = 0755;
	cr_assert_eq(nv_manifest_add_entry(m, &root, NULL, NULL), NV_OK);
	for (i = 0; i < MAXE && spec[i][0]; i++) {
		char buf[24], *path = buf + 2, *arg;
		struct nv_entry e;

		memcpy(buf, spec[i], sizeof(buf));
		arg = strchr(path, ':');
		if (arg)
			*arg++ = '\0';
		memset(&e, 0, sizeof(e));
		e.path = path;
		e.mode = 0644;
		e.mtime_sec = 1700000000;
		if (buf[0] == 'd') {
			e.type = NV_ENT_DIR;
			e.mode = 0755;
		} else if (buf[0] == 'l') {
			e.type = NV_ENT_SYMLINK;
			e.link = arg;
		} else {
			struct nv_chunk c;
			unsigned char pack[NV_HASH_LEN] = {0};
			uint32_t pi;

			memset(&c, 0, sizeof(c));
			c.hash[0] = (unsigned char)arg[0];
			pack[0] = (unsigned char)arg[0];
			cr_assert_eq(nv_manifest_add_pack(m, pack, &pi, NULL), NV_OK);
			c.pack = pi;
			c.off = 8;
			c.clen = c.ulen = 1;
			e.type = NV_ENT_FILE;
			e.size = 1;
			e.first_chunk = m->nchunks;
			e.nchunks = 1;
			cr_assert_eq(nv_manifest_add_chunk(m, &c, NULL), NV_OK);
		}
		cr_assert_eq(nv_manifest_add_entry(m, &e, NULL, NULL), NV_OK, "%s", spec[i]);
	}
}

/* out's entries (without the root) as specs */
static void describe(const struct nv_manifest *m, size_t i, char *out, size_t n)
{
	const struct nv_entry *e = &m->entries[i];

	if (e->type == NV_ENT_DIR)
		snprintf(out, n, "d:%s", e->path);
	else if (e->type == NV_ENT_SYMLINK)
		snprintf(out, n, "l:%s:%s", e->path, e->link);
	else
		snprintf(out, n, "f:%s:%c", e->path, (char)m->chunks[e->first_chunk].hash[0]);
}

ParameterizedTestParameters(merge, decisions)
{
	static struct merge_case cases[] = {
	    /* one side only: kept */
	    {"nothing changed", {"f:a:1"}, {"f:a:1"}, {"f:a:1"}, {"f:a:1"}, 0, ""},
	    {"ours added", {""}, {"f:a:1"}, {""}, {"f:a:1"}, 0, ""},
	    {"theirs added", {""}, {""}, {"f:b:2"}, {"f:b:2"}, 0, ""},
	    {"both added different", {""}, {"f:a:1"}, {"f:b:2"}, {"f:a:1", "f:b:2"}, 0, ""},
	    {"ours changed", {"f:a:1"}, {"f:a:2"}, {"f:a:1"}, {"f:a:2"}, 0, ""},
	    {"theirs changed", {"f:a:1"}, {"f:a:1"}, {"f:a:3"}, {"f:a:3"}, 0, ""},
	    {"ours deleted", {"f:a:1", "f:b:1"}, {"f:b:1"}, {"f:a:1", "f:b:1"}, {"f:b:1"}, 0, ""},
	    {"theirs deleted", {"f:a:1", "f:b:1"}, {"f:a:1", "f:b:1"}, {"f:a:1"}, {"f:a:1"}, 0, ""},
	    {"both deleted", {"f:a:1"}, {""}, {""}, {""}, 0, ""},
	    {"same change on both", {"f:a:1"}, {"f:a:2"}, {"f:a:2"}, {"f:a:2"}, 0, ""},
	    {"same addition on both", {""}, {"f:a:2"}, {"f:a:2"}, {"f:a:2"}, 0, ""},
	    /* both changed: ours, reported */
	    {"both changed", {"f:a:1"}, {"f:a:2"}, {"f:a:3"}, {"f:a:2"}, 1, "a"},
	    {"ours changed, theirs deleted", {"f:a:1"}, {"f:a:2"}, {""}, {"f:a:2"}, 1, "a"},
	    {"ours deleted, theirs changed", {"f:a:1"}, {""}, {"f:a:3"}, {""}, 1, "a"},
	    {"both added differently", {""}, {"f:a:1"}, {"f:a:2"}, {"f:a:1"}, 1, "a"},
	    {"symlink retargeted on both", {"l:s:x"}, {"l:s:y"}, {"l:s:z"}, {"l:s:y"}, 1, "s"},
	    /* custom nodes added by different pods */
	    {"two nodes in one folder",
	     {"d:n", "d:n/old", "f:n/old/i:1"},
	     {"d:n", "d:n/mine", "f:n/mine/i:2", "d:n/old", "f:n/old/i:1"},
	     {"d:n", "d:n/old", "f:n/old/i:1", "d:n/yours", "f:n/yours/i:3"},
	     {"d:n", "d:n/mine", "f:n/mine/i:2", "d:n/old", "f:n/old/i:1", "d:n/yours",
	      "f:n/yours/i:3"},
	     0,
	     ""},
	    /* the tree stays whole */
	    {"theirs deleted a dir ours added into",
	     {"d:n", "f:n/a:1"},
	     {"d:n", "f:n/a:1", "f:n/b:2"},
	     {""},
	     {"d:n", "f:n/b:2"},
	     0,
	     ""},
	    {"ours made a file where theirs added below",
	     {"d:n"},
	     {"f:n:1"},
	     {"d:n", "f:n/x:3"},
	     {"f:n:1"},
	     1,
	     "n/x"},
	};
	return cr_make_param_array(struct merge_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct merge_case *mc, merge, decisions)
{
	struct nv_manifest b, o, t, out;
	struct nv_merge_result res;
	struct nv_error e = NV_ERROR_INIT;
	char got[MAXE * 2][40];
	size_t i, n = 0;

	build(&b, mc->base);
	build(&o, mc->ours);
	build(&t, mc->theirs);
	nv_manifest_init(&out);
	nv_merge_result_init(&res);
	cr_assert_eq(nv_merge_manifests(&b, &o, &t, &out, &res, &e), NV_OK, "%s: %s", mc->name,
		     e.msg);
	cr_assert(out.nentries >= 1 && out.entries[0].path[0] == '\0', "%s: no root", mc->name);
	for (i = 1; i < out.nentries && n < MAXE * 2; i++)
		describe(&out, i, got[n++], sizeof(got[0]));
	for (i = 0; i < MAXE && mc->want[i][0]; i++) {
		cr_assert(i < n, "%s: missing %s", mc->name, mc->want[i]);
		cr_assert_str_eq(got[i], mc->want[i], "%s: entry %zu", mc->name, i);
	}
	cr_assert_eq(n, i, "%s: %zu entries, want %zu", mc->name, n, i);
	cr_assert_eq(res.conflicts, (uint64_t)mc->conflicts, "%s: %llu conflicts", mc->name,
		     (unsigned long long)res.conflicts);
	if (mc->conflict_path[0])
		cr_assert_str_eq(res.conflict_paths.p, mc->conflict_path, "%s", mc->name);
	/* a valid manifest: it encodes and decodes */
	{
		struct nv_buf enc = NV_BUF_INIT(NV_BUF_UNLIMITED);
		struct nv_manifest d;

		nv_manifest_init(&d);
		cr_assert_eq(nv_manifest_encode(&out, 3, &enc, &e), NV_OK, "%s", e.msg);
		cr_assert_eq(nv_manifest_decode(enc.p, enc.len, &d, &e), NV_OK, "%s: %s", mc->name,
			     e.msg);
		nv_manifest_release(&d);
		nv_buf_release(&enc);
	}
	nv_merge_result_release(&res);
	nv_manifest_release(&b);
	nv_manifest_release(&o);
	nv_manifest_release(&t);
	nv_manifest_release(&out);
}

Test(merge, no_base_keeps_both_additions)
{
	struct nv_manifest o, t, out;
	struct nv_merge_result res;
	struct nv_error e = NV_ERROR_INIT;
	char o_spec[MAXE][24] = {"f:a:1"}, t_spec[MAXE][24] = {"f:b:2"};

	build(&o, o_spec);
	build(&t, t_spec);
	nv_manifest_init(&out);
	nv_merge_result_init(&res);
	cr_assert_eq(nv_merge_manifests(NULL, &o, &t, &out, &res, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(out.nentries, 3);
	cr_assert_eq(out.npacks, 2);
	cr_assert_eq(res.conflicts, 0);
	nv_merge_result_release(&res);
	nv_manifest_release(&o);
	nv_manifest_release(&t);
	nv_manifest_release(&out);
}
