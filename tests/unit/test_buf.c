#include "testutil.h"

#include "base/buf.h"
#include "base/mem.h"

Test(buf, grows_and_stays_terminated)
{
	struct nv_buf b = NV_BUF_INIT(NV_BUF_UNLIMITED);
	int i;

	cr_assert_str_eq(b.p, "");
	for (i = 0; i < 1000; i++)
		cr_assert_eq(nv_buf_addf(&b, NULL, "%d,", i), NV_OK);
	cr_assert_eq(b.p[b.len], '\0');
	cr_assert(strncmp(b.p, "0,1,2,", 6) == 0);
	nv_buf_release(&b);
	nv_buf_release(&b);
	cr_assert_str_eq(b.p, "");
}

Test(buf, cap_is_enforced)
{
	struct nv_buf b = NV_BUF_INIT(8);
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_buf_addstr(&b, "12345678", &e), NV_OK);
	cr_assert_eq(nv_buf_addch(&b, 'x', &e), NV_ETOOBIG);
	cr_assert(strstr(e.msg, "limit of 8 bytes"));
	cr_assert_str_eq(b.p, "12345678");
	nv_buf_release(&b);
}

Test(buf, allocation_failure_is_an_error)
{
	struct nv_buf b = NV_BUF_INIT(1024);

	nv_mem_fail_after(0);
	cr_assert_eq(nv_buf_addstr(&b, "x", NULL), NV_ENOMEM);
	nv_mem_fail_after(-1);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(nv_buf_addstr(&b, "x", NULL), NV_OK);
	nv_buf_release(&b);
}

Test(buf, addpath)
{
	struct nv_buf b = NV_BUF_INIT(100);

	nv_buf_addpath(&b, "/a", NULL);
	nv_buf_addpath(&b, "b", NULL);
	cr_assert_str_eq(b.p, "/a/b");
	nv_buf_reset(&b);
	nv_buf_addpath(&b, "/", NULL);
	nv_buf_addpath(&b, "c", NULL);
	cr_assert_str_eq(b.p, "/c");
	nv_buf_release(&b);
}

struct u64_case {
	char in[32];
	int rc;
	uint64_t v;
};

ParameterizedTestParameters(buf, to_u64)
{
	static struct u64_case cases[] = {
	    {"0", NV_OK, 0},
	    {"42", NV_OK, 42},
	    {"18446744073709551615", NV_OK, UINT64_MAX},
	    {"18446744073709551616", NV_EINVALID, 0},
	    {"", NV_EINVALID, 0},
	    {"-1", NV_EINVALID, 0},
	    {"12a", NV_EINVALID, 0},
	    {" 1", NV_EINVALID, 0},
	};
	return cr_make_param_array(struct u64_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct u64_case *c, buf, to_u64)
{
	uint64_t v = 0;

	cr_assert_eq(nv_str_to_u64(nv_str_from(c->in), 0, UINT64_MAX, &v), c->rc, "%s", c->in);
	if (c->rc == NV_OK)
		cr_assert_eq(v, c->v);
}

Test(buf, hex_roundtrip)
{
	unsigned char in[4] = {0, 0xab, 0x10, 0xff}, out[4];
	char hex[9];

	nv_hex_encode(in, 4, hex);
	cr_assert_str_eq(hex, "00ab10ff");
	cr_assert_eq(nv_hex_decode(hex, 8, out), NV_OK);
	cr_assert(memcmp(in, out, 4) == 0);
	cr_assert_eq(nv_hex_decode("0g", 2, out), NV_EINVALID);
	cr_assert_eq(nv_hex_decode("abc", 3, out), NV_EINVALID);
}
