#include "testutil.h"

#include <sys/stat.h>

#include "store/store.h"

static int count_key(const char *key, const struct nv_store_stat *st, void *ud)
{
	(void)st;
	(void)key;
	(*(int *)ud)++;
	return 0;
}

Test(store_file, put_get_head_list_del)
{
	char *dir = nv_test_tmpdir();
	char url[600];
	struct nv_store *s = NULL;
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	struct nv_store_stat st;
	struct nv_error e = NV_ERROR_INIT;
	int n = 0;

	snprintf(url, sizeof(url), "file://%s/store", dir);
	cr_assert_eq(nv_store_open_url(url, NULL, &s, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_store_put(s, "a/b/c.pack", "hello world", 11, 0, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(nv_store_get(s, "a/b/c.pack", &b, &e), NV_OK);
	cr_assert_str_eq(b.p, "hello world");
	nv_buf_reset(&b);
	cr_assert_eq(nv_store_get_range(s, "a/b/c.pack", 6, 5, &b, &e), NV_OK);
	cr_assert_str_eq(b.p, "world");
	nv_buf_reset(&b);
	cr_assert_eq(nv_store_get_range(s, "a/b/c.pack", 6, 50, &b, &e), NV_ECORRUPT);
	cr_assert_eq(nv_store_head(s, "a/b/c.pack", &st, &e), NV_OK);
	cr_assert_eq(st.size, 11);
	cr_assert_eq(nv_store_head(s, "a/b/none", &st, &e), NV_ENOTFOUND);
	cr_assert_eq(nv_store_get(s, "zz/none", &b, &e), NV_ENOTFOUND);
	cr_assert_eq(nv_store_put(s, "a/b/c.pack", "x", 1, NV_PUT_IF_ABSENT, &e), NV_EEXISTS);
	cr_assert_eq(nv_store_put(s, "a/top", "x", 1, NV_PUT_IF_ABSENT, &e), NV_OK);
	cr_assert_eq(nv_store_list(s, "a/", count_key, &n, &e), NV_OK);
	cr_assert_eq(n, 2);
	n = 0;
	cr_assert_eq(nv_store_list(s, "a/b", count_key, &n, &e), NV_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(nv_store_del(s, "a/b/c.pack", &e), NV_OK);
	cr_assert_eq(nv_store_del(s, "a/b/c.pack", &e), NV_OK);
	cr_assert_eq(nv_store_head(s, "a/b/c.pack", &st, &e), NV_ENOTFOUND);
	nv_buf_release(&b);
	nv_store_close(s);
	nv_test_rmdir(dir);
}

struct key_case {
	char key[32];
	int ok;
};

ParameterizedTestParameters(store_file, keys)
{
	static struct key_case cases[] = {
	    {"a", 1},  {"a/b/c", 1}, {"", 0},	{"/a", 0},  {"a/../b", 0},
	    {"..", 0}, {"a//b", 0},  {"a/", 0}, {"./a", 0}, {"a\nb", 0},
	};
	return cr_make_param_array(struct key_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct key_case *kc, store_file, keys)
{
	cr_assert_eq(nv_store_check_key(kc->key, NULL) == NV_OK, kc->ok, "%s", kc->key);
}

Test(store_file, symlink_in_store_is_refused)
{
	char *dir = nv_test_tmpdir();
	char url[600], link[600], outside[600];
	struct nv_store *s = NULL;
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	struct nv_error e = NV_ERROR_INIT;

	snprintf(url, sizeof(url), "file://%s/store", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	snprintf(link, sizeof(link), "%s/store/evil", dir);
	cr_assert_eq(nv_store_open_url(url, NULL, &s, &e), NV_OK);
	cr_assert(mkdir(outside, 0755) == 0);
	cr_assert(symlink(outside, link) == 0);
	cr_assert_eq(nv_store_put(s, "evil/x", "data", 4, 0, &e), NV_EUNSAFE, "%s", e.msg);
	cr_assert_neq(nv_store_get(s, "evil/x", &b, &e), NV_OK);
	nv_buf_release(&b);
	nv_store_close(s);
	nv_test_rmdir(dir);
}

Test(store_file, relative_root_refused)
{
	struct nv_store *s = NULL;
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_store_open_url("file://rel", NULL, &s, &e), NV_ECONFIG);
	cr_assert_eq(nv_store_open_url("gopher://x", NULL, &s, &e), NV_ECONFIG);
	cr_assert_null(s);
}
