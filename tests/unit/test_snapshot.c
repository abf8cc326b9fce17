#include "testutil.h"

#include "base/mem.h"
#include "engine/snapshot.h"

/* ---- helpers to build manifests ---- */

static void add(struct nv_manifest *m, const char *path, int type, const char *link, uint64_t size,
		uint64_t link_index)
{
	struct nv_entry e;

	memset(&e, 0, sizeof(e));
	e.path = (char *)path;
	e.type = (uint8_t)type;
	e.mode = type == NV_ENT_DIR ? 0755 : 0644;
	e.mtime_sec = 1700000000;
	e.mtime_nsec = 123;
	e.size = size;
	e.link = (char *)link;
	e.link_index = link_index;
	e.first_chunk = m->nchunks;
	if (type == NV_ENT_FILE && size) {
		struct nv_chunk c;

		memset(&c, 0, sizeof(c));
		c.hash[0] = (unsigned char)size;
		c.pack = 0;
		c.off = 8;
		c.clen = 10;
		c.ulen = (uint32_t)size;
		cr_assert_eq(nv_manifest_add_chunk(m, &c, NULL), NV_OK);
		e.nchunks = 1;
	}
	cr_assert_eq(nv_manifest_add_entry(m, &e, NULL, NULL), NV_OK);
}

static void base(struct nv_manifest *m)
{
	unsigned char pack[NV_HASH_LEN] = {1};
	uint32_t idx;

	nv_manifest_init(m);
	m->created = 1700000000;
	m->dataset = strdup("venv");
	cr_assert_eq(nv_manifest_add_pack(m, pack, &idx, NULL), NV_OK);
	add(m, "", NV_ENT_DIR, NULL, 0, 0);
}

static int roundtrip(struct nv_manifest *m, struct nv_manifest *out, struct nv_error *e)
{
	struct nv_buf b = NV_BUF_INIT(NV_BUF_UNLIMITED);
	int rc;

	cr_assert_eq(nv_manifest_compute_digest(m, NULL), NV_OK);
	cr_assert_eq(nv_manifest_encode(m, 3, &b, NULL), NV_OK);
	nv_manifest_init(out);
	rc = nv_manifest_decode(b.p, b.len, out, e);
	nv_buf_release(&b);
	return rc;
}

Test(snapshot, roundtrip_all_types)
{
	struct nv_manifest m, d;
	struct nv_error e = NV_ERROR_INIT;

	base(&m);
	add(&m, "bin", NV_ENT_DIR, NULL, 0, 0);
	add(&m, "bin/python", NV_ENT_SYMLINK, "/usr/bin/python3", 0, 0);
	add(&m, "bin/x", NV_ENT_FILE, NULL, 5, 0);
	add(&m, "bin/y", NV_ENT_HARDLINK, NULL, 0, 3);
	add(&m, "bin-2", NV_ENT_FILE, NULL, 0, 0);
	add(&m, "odd \n\x01\xff name", NV_ENT_FILE, NULL, 7, 0);
	cr_assert_eq(roundtrip(&m, &d, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(d.nentries, 7);
	cr_assert_str_eq(d.entries[2].link, "/usr/bin/python3");
	cr_assert_eq(d.entries[4].link_index, 3);
	cr_assert_eq(d.entries[3].nchunks, 1);
	cr_assert_eq(d.chunks[d.entries[3].first_chunk].ulen, 5);
	cr_assert_eq(d.total_bytes, 12);
	cr_assert_str_eq(d.dataset, "venv");
	cr_assert(memcmp(d.digest, m.digest, NV_HASH_LEN) == 0);
	cr_assert_eq(d.entries[6].mtime_nsec, 123);
	nv_manifest_release(&m);
	nv_manifest_release(&d);
}

/* Each hostile case builds on base() and must be refused with the code. */
struct hostile {
	char name[32];
	int code;
	char needle[48];
};

static void build_hostile(const char *name, struct nv_manifest *m)
{
	base(m);
	if (!strcmp(name, "absolute")) {
		add(m, "/etc/passwd", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "dotdot")) {
		add(m, "..", NV_ENT_DIR, NULL, 0, 0);
	} else if (!strcmp(name, "dotdot_inside")) {
		add(m, "a", NV_ENT_DIR, NULL, 0, 0);
		add(m, "a/../../x", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "through_symlink")) {
		add(m, "a", NV_ENT_SYMLINK, "/etc", 0, 0);
		add(m, "a/passwd", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "through_file")) {
		add(m, "a", NV_ENT_FILE, NULL, 1, 0);
		add(m, "a/b", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "no_parent")) {
		add(m, "x/y", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "duplicate")) {
		add(m, "a", NV_ENT_FILE, NULL, 1, 0);
		add(m, "a", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "out_of_order")) {
		add(m, "b", NV_ENT_FILE, NULL, 1, 0);
		add(m, "a", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "absurd_size")) {
		add(m, "a", NV_ENT_FILE, NULL, 0, 0);
		m->entries[1].size = NV_FILE_SIZE_MAX + 1;
	} else if (!strcmp(name, "size_mismatch")) {
		add(m, "a", NV_ENT_FILE, NULL, 5, 0);
		m->entries[1].size = 6;
	} else if (!strcmp(name, "bad_pack_index")) {
		add(m, "a", NV_ENT_FILE, NULL, 5, 0);
		m->chunks[0].pack = 7;
	} else if (!strcmp(name, "hardlink_forward")) {
		add(m, "a", NV_ENT_HARDLINK, NULL, 0, 2);
		add(m, "b", NV_ENT_FILE, NULL, 1, 0);
	} else if (!strcmp(name, "hardlink_to_dir")) {
		add(m, "a", NV_ENT_DIR, NULL, 0, 0);
		add(m, "b", NV_ENT_HARDLINK, NULL, 0, 1);
	} else if (!strcmp(name, "empty_symlink")) {
		add(m, "a", NV_ENT_SYMLINK, "", 0, 0);
	} else if (!strcmp(name, "bad_mode")) {
		add(m, "a", NV_ENT_FILE, NULL, 1, 0);
		m->entries[1].mode = 0170000;
	} else if (!strcmp(name, "root_not_first")) {
		m->entries[0].type = NV_ENT_FILE;
	} else if (!strcmp(name, "bad_type")) {
		add(m, "a", 9, NULL, 0, 0);
	} else if (!strcmp(name, "huge_blob")) {
		add(m, "a", NV_ENT_FILE, NULL, 5, 0);
		m->chunks[0].ulen = NV_BLOB_SIZE + 1;
		m->entries[1].size = NV_BLOB_SIZE + 1;
	}
}

ParameterizedTestParameters(snapshot, hostile_manifests)
{
	static struct hostile cases[] = {
	    {"absolute", NV_EUNSAFE, "absolute"},
	    {"dotdot", NV_EUNSAFE, ".."},
	    {"dotdot_inside", NV_EUNSAFE, ".."},
	    {"through_symlink", NV_EUNSAFE, "a/passwd"},
	    {"through_file", NV_EUNSAFE, "a/b"},
	    {"no_parent", NV_EUNSAFE, "x/y"},
	    {"duplicate", NV_ECORRUPT, "duplicate"},
	    {"out_of_order", NV_ECORRUPT, "out of order"},
	    {"absurd_size", NV_ECORRUPT, "absurd"},
	    {"size_mismatch", NV_ECORRUPT, "invalid chunks"},
	    {"bad_pack_index", NV_ECORRUPT, "invalid chunks"},
	    {"hardlink_forward", NV_ECORRUPT, "earlier file"},
	    {"hardlink_to_dir", NV_ECORRUPT, "earlier file"},
	    {"empty_symlink", NV_ECORRUPT, "empty target"},
	    {"bad_mode", NV_ECORRUPT, "invalid mode"},
	    {"root_not_first", NV_ECORRUPT, "root"},
	    {"bad_type", NV_ECORRUPT, "unknown type"},
	    {"huge_blob", NV_ECORRUPT, "invalid chunks"},
	};
	return cr_make_param_array(struct hostile, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct hostile *h, snapshot, hostile_manifests)
{
	struct nv_manifest m, d;
	struct nv_error e = NV_ERROR_INIT;

	build_hostile(h->name, &m);
	cr_assert_eq(roundtrip(&m, &d, &e), h->code, "%s: got %s (%s)", h->name,
		     nv_code_name(e.code), e.msg);
	cr_assert(strstr(e.msg, h->needle), "%s: message '%s' lacks '%s'", h->name, e.msg,
		  h->needle);
	cr_assert_eq(d.nentries, 0, "released on failure");
	nv_manifest_release(&m);
}

Test(snapshot, garbage_and_versions)
{
	struct nv_manifest m, d;
	struct nv_buf b = NV_BUF_INIT(NV_BUF_UNLIMITED);
	struct nv_error e = NV_ERROR_INIT;
	size_t cut;

	nv_manifest_init(&d);
	cr_assert_eq(nv_manifest_decode("xx", 2, &d, &e), NV_ECORRUPT);
	cr_assert_eq(nv_manifest_decode("NVSNAP\0\2zzzz", 12, &d, &e), NV_EUNSUPPORTED);
	cr_assert(strstr(e.msg, "version 2"));
	cr_assert_eq(nv_manifest_decode("NVSNAP\0\1zzzz", 12, &d, &e), NV_ECORRUPT);
	base(&m);
	add(&m, "a", NV_ENT_FILE, NULL, 3, 0);
	nv_manifest_compute_digest(&m, NULL);
	cr_assert_eq(nv_manifest_encode(&m, 3, &b, NULL), NV_OK);
	/* every truncation is refused, never a crash */
	for (cut = 0; cut < b.len; cut++) {
		nv_manifest_init(&d);
		cr_assert_neq(nv_manifest_decode(b.p, cut, &d, &e), NV_OK, "cut %zu", cut);
	}
	nv_buf_release(&b);
	nv_manifest_release(&m);
}

struct cmp_case {
	char a[16], b[16];
	int sign;
};

ParameterizedTestParameters(snapshot, path_order)
{
	static struct cmp_case cases[] = {
	    {"", "a", -1},     {"a", "a/b", -1}, {"a/b", "a-b", -1}, {"a-b", "a/b", 1},
	    {"a/z", "ab", -1}, {"a", "a", 0},	 {"b", "a/c", 1},    {"a/b/c", "a/b", 1},
	};
	return cr_make_param_array(struct cmp_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct cmp_case *c, snapshot, path_order)
{
	int d = nv_path_cmp(c->a, c->b);

	cr_assert_eq(d < 0 ? -1 : d > 0, c->sign, "'%s' vs '%s'", c->a, c->b);
}

Test(snapshot, head_codec)
{
	unsigned char id[NV_HASH_LEN], back[NV_HASH_LEN];
	struct nv_buf b = NV_BUF_INIT(256);

	memset(id, 0xab, sizeof(id));
	cr_assert_eq(nv_head_encode(id, &b, NULL), NV_OK);
	cr_assert_eq(nv_head_decode(b.p, b.len, back, NULL), NV_OK);
	cr_assert(memcmp(id, back, NV_HASH_LEN) == 0);
	cr_assert_eq(nv_head_decode(b.p, b.len - 1, back, NULL), NV_ECORRUPT);
	cr_assert_eq(nv_head_decode("netvol-head 2\n", 14, back, NULL), NV_ECORRUPT);
	b.p[20] = 'z';
	cr_assert_eq(nv_head_decode(b.p, b.len, back, NULL), NV_ECORRUPT);
	nv_buf_release(&b);
}

Test(snapshot, idx_codec)
{
	struct nv_idx_entry in[3], *out = NULL;
	struct nv_buf b = NV_BUF_INIT(NV_BUF_UNLIMITED);
	size_t n = 0;

	memset(in, 0, sizeof(in));
	in[0].off = 8;
	in[0].clen = 10;
	in[0].ulen = 20;
	in[1].off = 18;
	in[1].clen = 5;
	in[1].ulen = 5;
	in[2].off = 23;
	in[2].clen = 1;
	in[2].ulen = NV_BLOB_SIZE;
	in[2].hash[5] = 9;
	cr_assert_eq(nv_idx_encode(in, 3, &b, NULL), NV_OK);
	cr_assert_eq(nv_idx_decode(b.p, b.len, &out, &n, NULL), NV_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(out[2].ulen, NV_BLOB_SIZE);
	cr_assert_eq(out[2].hash[5], 9);
	free(out);
	b.p[20] ^= 1;
	cr_assert_eq(nv_idx_decode(b.p, b.len, &out, &n, NULL), NV_ECORRUPT);
	cr_assert_eq(nv_idx_decode(b.p, 10, &out, &n, NULL), NV_ECORRUPT);
	nv_buf_release(&b);
}

Test(snapshot, blob_map_grows)
{
	struct nv_blob_map m;
	unsigned char k[NV_HASH_LEN];
	struct nv_blob_loc v = {0, 0, 0, 0};
	bool ins;
	int i;

	nv_blob_map_init(&m);
	for (i = 0; i < 10000; i++) {
		nv_sha256(&i, sizeof(i), k);
		v.off = (uint64_t)i;
		cr_assert_eq(nv_blob_map_put(&m, k, &v, &ins, NULL), NV_OK);
		cr_assert(ins);
	}
	for (i = 0; i < 10000; i++) {
		nv_sha256(&i, sizeof(i), k);
		cr_assert_eq(nv_blob_map_get(&m, k)->off, (uint64_t)i);
	}
	nv_sha256(&i, sizeof(i), k);
	cr_assert_null(nv_blob_map_get(&m, k));
	v.off = 99;
	i = 5;
	nv_sha256(&i, sizeof(i), k);
	cr_assert_eq(nv_blob_map_put(&m, k, &v, &ins, NULL), NV_OK);
	cr_assert(!ins);
	cr_assert_eq(nv_blob_map_get(&m, k)->off, 5);
	nv_blob_map_release(&m);
}

/* Every allocation of encode/decode may fail: the result is NV_ENOMEM and
 * nothing leaks (the sanitizer run checks the leaks). */
Test(snapshot, allocation_failures)
{
	struct nv_manifest m, d;
	struct nv_buf b = NV_BUF_INIT(NV_BUF_UNLIMITED);
	long n;
	int rc;

	base(&m);
	add(&m, "a", NV_ENT_DIR, NULL, 0, 0);
	add(&m, "a/f", NV_ENT_FILE, NULL, 3, 0);
	add(&m, "a/l", NV_ENT_SYMLINK, "f", 0, 0);
	nv_manifest_compute_digest(&m, NULL);
	cr_assert_eq(nv_manifest_encode(&m, 3, &b, NULL), NV_OK);
	for (n = 0; n < 200; n++) {
		nv_manifest_init(&d);
		nv_mem_fail_after(n);
		rc = nv_manifest_decode(b.p, b.len, &d, NULL);
		nv_mem_fail_after(-1);
		cr_assert(rc == NV_OK || rc == NV_ENOMEM, "n=%ld rc=%d", n, rc);
		if (rc == NV_OK) {
			cr_assert_eq(d.nentries, 4);
			nv_manifest_release(&d);
			break;
		}
	}
	cr_assert_lt(n, 200, "decode never succeeded");
	for (n = 0; n < 200; n++) {
		struct nv_buf o = NV_BUF_INIT(NV_BUF_UNLIMITED);

		nv_mem_fail_after(n);
		rc = nv_manifest_encode(&m, 3, &o, NULL);
		nv_mem_fail_after(-1);
		nv_buf_release(&o);
		cr_assert(rc == NV_OK || rc == NV_ENOMEM, "n=%ld rc=%d", n, rc);
		if (rc == NV_OK)
			break;
	}
	nv_buf_release(&b);
	nv_manifest_release(&m);
}

/* Body version 1 (0 or 1 parent) unless a merge's two parents: version 2. */
struct parents_case {
	bool p1, p2;	 /* set before encoding */
	bool d1, d2;	 /* decoded */
	bool same_as_v1; /* encodes exactly as without parent2 */
};

ParameterizedTestParameters(snapshot, parents)
{
	static struct parents_case cases[] = {
	    {false, false, false, false, true},
	    {true, false, true, false, true},
	    {true, true, true, true, false},
	    {false, true, false, false, true}, /* a second parent needs a first */
	};
	return cr_make_param_array(struct parents_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct parents_case *pc, snapshot, parents)
{
	struct nv_manifest m, d;
	struct nv_error e = NV_ERROR_INIT;
	struct nv_buf a = NV_BUF_INIT(NV_BUF_UNLIMITED), b = NV_BUF_INIT(NV_BUF_UNLIMITED);

	base(&m);
	add(&m, "f", NV_ENT_FILE, NULL, 5, 0);
	m.has_parent = pc->p1;
	memset(m.parent, 0xaa, NV_HASH_LEN);
	m.has_parent2 = pc->p2;
	memset(m.parent2, 0xbb, NV_HASH_LEN);
	cr_assert_eq(roundtrip(&m, &d, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(d.has_parent, pc->d1);
	cr_assert_eq(d.has_parent2, pc->d2);
	if (pc->d1)
		cr_assert_eq(d.parent[0], 0xaa);
	if (pc->d2)
		cr_assert_eq(d.parent2[NV_HASH_LEN - 1], 0xbb);
	cr_assert_eq(nv_manifest_encode(&m, 3, &a, NULL), NV_OK);
	m.has_parent2 = false;
	cr_assert_eq(nv_manifest_encode(&m, 3, &b, NULL), NV_OK);
	cr_assert_eq(a.len == b.len && !memcmp(a.p, b.p, a.len), pc->same_as_v1);
	nv_buf_release(&a);
	nv_buf_release(&b);
	nv_manifest_release(&m);
	nv_manifest_release(&d);
}
