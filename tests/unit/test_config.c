#include "testutil.h"

#include "base/config.h"
#include "base/log.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *table_env(const char *name, void *ud)
{
	const char *const *kv = ud;

	for (; kv[0]; kv += 2)
		if (!strcmp(kv[0], name))
			return kv[1];
	return NULL;
}

Test(config, defaults)
{
	const char *env[] = {"NETWORK_VOLUME", "/workspace/", NULL};
	struct nv_config c;
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_config_load_from(&c, table_env, env, &e), NV_OK, "%s", e.msg);
	cr_assert_str_eq(c.network_volume, "/workspace");
	cr_assert_null(c.shared_volume);
	cr_assert_null(c.store_base);
	/* the shell scripts' scope: parents first, ComfyUI excluding the rest */
	cr_assert_eq(c.ndatasets, 5);
	cr_assert_str_eq(c.datasets[0].path, "venv");
	cr_assert_str_eq(c.datasets[1].path, ".comfyui");
	cr_assert_str_eq(c.datasets[2].path, ".cache");
	cr_assert_str_eq(c.datasets[3].path, "ComfyUI");
	cr_assert_eq(c.datasets[3].scope, NV_SCOPE_POD);
	cr_assert_eq(c.datasets[3].nexclude, 3);
	cr_assert_eq(c.datasets[3].nexclude_given, 2);
	cr_assert_str_eq(c.datasets[3].exclude[0], "models");
	cr_assert_str_eq(c.datasets[3].exclude[1], ".browser-session");
	cr_assert_str_eq(c.datasets[3].exclude[2], "custom_nodes");
	cr_assert_str_eq(c.datasets[4].path, "ComfyUI/custom_nodes");
	cr_assert_eq(c.datasets[4].scope, NV_SCOPE_SHARED);
	cr_assert_eq(c.datasets[4].nexclude, 0);
	cr_assert_eq(c.datasets[0].scope, NV_SCOPE_SHARED);
	cr_assert_eq(c.nv_timeout_ms, 5000);
	cr_assert_eq(c.sync_interval_ms, 300000);
	cr_assert_eq(c.parallel, 16);
	cr_assert_eq(c.aws.max_attempts, 5);
	cr_assert_str_eq(c.aws.region, "us-east-1");
	cr_assert_eq(nv_config_require_store(&c, &e), NV_ECONFIG);
	nv_config_release(&c);
}

Test(config, default_store_from_bucket)
{
	const char *env[] = {"AWS_BUCKET_NAME", "my-bucket", "POD_USER_NAME", "alice", NULL};
	struct nv_config c;

	cr_assert_eq(nv_config_load_from(&c, table_env, env, NULL), NV_OK);
	cr_assert_str_eq(c.store_base, "s3://my-bucket/pod_sessions");
	cr_assert_not(c.store_base_given);
	cr_assert_str_eq(c.pod_user, "alice");
	cr_assert_eq(nv_config_require_store(&c, NULL), NV_OK);
	cr_assert_eq(nv_config_require_volume(&c, NULL), NV_ECONFIG);
	nv_config_release(&c);
}

struct bad_case {
	char name[40];
	char value[64];
	char expect[40]; /* substring of the message */
};

ParameterizedTestParameters(config, bad_values)
{
	static struct bad_case cases[] = {
	    {"NETWORK_VOLUME", "relative/path", "NETWORK_VOLUME"},
	    {"_NETWORK_VOLUME", "nv", "_NETWORK_VOLUME"},
	    {"NETVOL_STORE", "ftp://x", "NETVOL_STORE"},
	    {"NETVOL_STORE", "file://relative", "absolute"},
	    {"NETVOL_STORE", "s3://ab", "bucket name"},
	    {"NETVOL_NV_TIMEOUT", "soon", "NETVOL_NV_TIMEOUT"},
	    {"NETVOL_NV_TIMEOUT", "0", "NETVOL_NV_TIMEOUT"},
	    {"NETVOL_DEADLINE", "-5", "NETVOL_DEADLINE"},
	    {"NETVOL_SYNC_INTERVAL", "500ms", "NETVOL_SYNC_INTERVAL"},
	    {"NETVOL_SYNC_INTERVAL", "often", "NETVOL_SYNC_INTERVAL"},
	    {"NETVOL_PARALLEL", "0", "NETVOL_PARALLEL"},
	    {"NETVOL_PARALLEL", "1000", "NETVOL_PARALLEL"},
	    {"NETVOL_ZSTD_LEVEL", "x", "NETVOL_ZSTD_LEVEL"},
	    {"NETVOL_LOG_FORMAT", "xml", "NETVOL_LOG_FORMAT"},
	    {"NETVOL_LOG_LEVEL", "loud", "NETVOL_LOG_LEVEL"},
	    {"NETVOL_DATASETS", "venv,../etc", "NETVOL_DATASETS"},
	    {"NETVOL_DATASETS", "/abs", "relative"},
	    {"NETVOL_DATASETS", "venv,venv", "twice"},
	    {"NETVOL_DATASETS", "ComfyUI,ComfyUI/user:pod", "which is shared"},
	    {"NETVOL_DATASETS", "venv:global", "entry 'venv:global': unknown option"},
	    {"NETVOL_DATASETS", "a//b", "empty component"},
	    {"NETVOL_DATASETS", " , ", "no dataset"},
	    {"AWS_MAX_ATTEMPTS", "many", "AWS_MAX_ATTEMPTS"},
	    {"AWS_ACCESS_KEY_ID", "AKIDONLY", "set together"},
	    {"AWS_ROLE_ARN", "arn:aws:iam::1:role/x", "set together"},
	    {"NETVOL_S3_ADDRESSING", "sideways", "NETVOL_S3_ADDRESSING"},
	    {"POD_ID", "../x", "POD_ID"},
	    {"POD_USER_NAME", "..", "POD_USER_NAME"},
	    {"POD_USER_NAME", "", "POD_USER_NAME is set but empty"},
	    {"POD_ID", "", "POD_ID is set but empty"},
	    {"POD_USER_NAME", "a/b", "contains '/'"},
	    {"POD_USER_NAME", "a..b", "contains '..'"},
	    {"POD_USER_NAME", "a\tb", "control character"},
	    {"POD_USER_NAME", "a\x7f", "control character"},
	    {"POD_USER_NAME", ".hidden", "must start with"},
	    {"POD_USER_NAME", "-x", "must start with"},
	    {"POD_USER_NAME", "al ice", "outside"},
	    {"POD_USER_NAME", "al%ice", "outside"},
	    {"POD_USER_NAME", "\xc3\xa9", "outside"},
	    {"POD_ID", "sess/42", "contains '/'"},
	    {"POD_ID", "a\nb", "control character"},
	};
	return cr_make_param_array(struct bad_case, cases, sizeof(cases) / sizeof(cases[0]));
}

/* Longer than NV_IDENTITY_MAX (the table's values are too short to hold it). */
Test(config, identity_too_long)
{
	char v[NV_IDENTITY_MAX + 2];
	const char *env[] = {"POD_USER_NAME", v, NULL};
	struct nv_config c;
	struct nv_error e = NV_ERROR_INIT;

	memset(v, 'a', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	cr_assert_eq(nv_config_load_from(&c, table_env, env, &e), NV_ECONFIG);
	cr_assert(strstr(e.msg, "longer than 128"), "%s", e.msg);
	v[NV_IDENTITY_MAX] = '\0';
	cr_assert_eq(nv_config_load_from(&c, table_env, env, &e), NV_OK, "%s", e.msg);
	nv_config_release(&c);
}

struct id_case {
	char value[40];
	int rc;
};

ParameterizedTestParameters(config, identities)
{
	static struct id_case cases[] = {
	    {"alice", NV_OK},	  {"Alice_01", NV_OK},	{"a.b@example.com", NV_OK},
	    {"user+tag", NV_OK},  {"_svc", NV_OK},	{"0", NV_OK},
	    {"sess-42.a", NV_OK}, {"user", NV_OK},	{"a.", NV_OK},
	    {"", NV_ECONFIG},	  {".", NV_ECONFIG},	{"..", NV_ECONFIG},
	    {"a..", NV_ECONFIG},  {"/", NV_ECONFIG},	{"a/", NV_ECONFIG},
	    {"@a", NV_ECONFIG},	  {"+a", NV_ECONFIG},	{"a b", NV_ECONFIG},
	    {"a:b", NV_ECONFIG},  {"a\\b", NV_ECONFIG}, {"a\rb", NV_ECONFIG},
	    {"a*", NV_ECONFIG},	  {"a?b", NV_ECONFIG},	{"a%2Fb", NV_ECONFIG},
	};
	return cr_make_param_array(struct id_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct id_case *ic, config, identities)
{
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_config_check_identity("POD_USER_NAME", ic->value, &e), ic->rc, "'%s': %s",
		     ic->value, e.msg);
	if (ic->rc)
		cr_assert(strstr(e.msg, "POD_USER_NAME"), "%s", e.msg);
}

Test(config, store_needs_the_user)
{
	const char *env[] = {"NETVOL_STORE", "s3://my-bucket/comfy", NULL};
	struct nv_config c;
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_config_load_from(&c, table_env, env, &e), NV_OK, "%s", e.msg);
	cr_assert_str_eq(c.store_base, "s3://my-bucket/comfy");
	cr_assert(c.store_base_given);
	cr_assert_eq(nv_config_require_store(&c, &e), NV_ECONFIG);
	cr_assert(strstr(e.msg, "POD_USER_NAME"), "%s", e.msg);
	nv_config_release(&c);
}

ParameterizedTest(struct bad_case *bc, config, bad_values)
{
	const char *env[] = {bc->name, bc->value, NULL};
	struct nv_config c;
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_config_load_from(&c, table_env, env, &e), NV_ECONFIG, "%s=%s", bc->name,
		     bc->value);
	cr_assert(strstr(e.msg, bc->expect), "message '%s' lacks '%s'", e.msg, bc->expect);
	cr_assert_null(c.network_volume); /* released on failure */
}

Test(config, datasets_override)
{
	const char *env[] = {"NETVOL_DATASETS", " venv:shared, data:user\nComfyUI/output:pod ,",
			     NULL};
	struct nv_config c;
	struct nv_error e = NV_ERROR_INIT;

	cr_assert_eq(nv_config_load_from(&c, table_env, env, &e), NV_OK, "%s", e.msg);
	cr_assert_eq(c.ndatasets, 3);
	cr_assert_str_eq(c.datasets[1].path, "data");
	cr_assert_eq(c.datasets[1].scope, NV_SCOPE_USER);
	cr_assert_eq(c.datasets[2].scope, NV_SCOPE_POD);
	nv_config_release(&c);
}

/* NETVOL_DATASETS: the parsed list, as "path:scope[-excl|excl]" joined by
 * ',' (the order after nesting), or the error's substring. */
struct ds_case {
	char in[96];
	int rc;
	char want[128];
};

ParameterizedTestParameters(config, datasets)
{
	static struct ds_case cases[] = {
	    {"venv", NV_OK, "venv:shared"},
	    {"a:pod:exclude=x|y/z", NV_OK, "a:pod-x|y/z"},
	    {"a:exclude=x:user", NV_OK, "a:user-x"},
	    /* nesting: the parent excludes the child and comes first */
	    {"a/b,a:pod", NV_OK, "a:pod-b,a/b:shared"},
	    {"a:pod:exclude=m,a/b/c:user,a/b:pod", NV_OK, "a:pod-m|b/c|b,a/b:pod-c,a/b/c:user"},
	    /* a child inside an excluded path is not added again */
	    {"a:pod:exclude=b,a/b/c", NV_OK, "a:pod-b,a/b/c:shared"},
	    {"x:user,ComfyUI:pod:exclude=models|.browser-session,ComfyUI/custom_nodes", NV_OK,
	     "x:user,ComfyUI:pod-models|.browser-session|custom_nodes,ComfyUI/custom_nodes:shared"},
	    {"ab,a:pod", NV_OK, "ab:shared,a:pod"},
	    {"a:pod:pod", NV_ECONFIG, "entry 'a:pod:pod': the scope is given twice"},
	    {"a:exclude=x:exclude=y", NV_ECONFIG, "exclude= is given twice"},
	    {"a:exclude=", NV_ECONFIG, "entry 'a:exclude=': exclude= lists no path"},
	    {"a:exclude=x||y", NV_ECONFIG, "excluded path '': empty path"},
	    {"a:exclude=../x", NV_ECONFIG, "may not contain '.' or '..'"},
	    {"a:exclude=/x", NV_ECONFIG, "must be relative"},
	    {"a:exclude=x|x/y", NV_ECONFIG, "excluded paths 'x' and 'x/y' overlap"},
	    {"a:exclude=x|x", NV_ECONFIG, "overlap"},
	    {"a:excludes=x", NV_ECONFIG, "unknown option 'excludes=x'"},
	    {"a:", NV_ECONFIG, "entry 'a:': unknown option ''"},
	    {":pod", NV_ECONFIG, "entry ':pod': empty path"},
	    {"a,a/b", NV_ECONFIG, "'a/b' is inside 'a', which is shared"},
	    {"a:pod,a:user", NV_ECONFIG, "dataset 'a' is listed twice"},
	};
	return cr_make_param_array(struct ds_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct ds_case *dc, config, datasets)
{
	struct nv_dataset *d = NULL;
	struct nv_error e = NV_ERROR_INIT;
	size_t n = 0, i, j;
	char got[256] = "";
	int rc = nv_config_parse_datasets(dc->in, &d, &n, &e);

	cr_assert_eq(rc, dc->rc, "'%s': %s", dc->in, e.msg);
	if (rc) {
		cr_assert(strstr(e.msg, dc->want), "'%s': message '%s' lacks '%s'", dc->in, e.msg,
			  dc->want);
		return;
	}
	for (i = 0; i < n; i++) {
		size_t l = strlen(got);

		snprintf(got + l, sizeof(got) - l, "%s%s:%s", i ? "," : "", d[i].path,
			 nv_scope_name(d[i].scope));
		for (j = 0; j < d[i].nexclude; j++) {
			l = strlen(got);
			snprintf(got + l, sizeof(got) - l, "%c%s", j ? '|' : '-', d[i].exclude[j]);
		}
	}
	cr_assert_str_eq(got, dc->want, "'%s'", dc->in);
	for (i = 0; i < n; i++)
		for (j = 0; j < d[i].nexclude; j++)
			cr_assert(nv_dataset_excludes(&d[i], d[i].exclude[j]));
	nv_config_free_datasets(d, n);
}

Test(config, dataset_excludes)
{
	struct nv_dataset *d = NULL;
	size_t n = 0;

	cr_assert_eq(
	    nv_config_parse_datasets("C:pod:exclude=models|a/b,C/custom_nodes", &d, &n, NULL),
	    NV_OK);
	cr_assert(nv_dataset_excludes(&d[0], "models"));
	cr_assert(nv_dataset_excludes(&d[0], "models/x.safetensors"));
	cr_assert(nv_dataset_excludes(&d[0], "custom_nodes/n/__init__.py"));
	cr_assert(nv_dataset_excludes(&d[0], "a/b"));
	cr_assert_not(nv_dataset_excludes(&d[0], "a"));
	cr_assert_not(nv_dataset_excludes(&d[0], "modelsx"));
	cr_assert_not(nv_dataset_excludes(&d[0], "user/default"));
	cr_assert_not(nv_dataset_excludes(&d[1], "models"));
	nv_config_free_datasets(d, n);
}

struct dur_case {
	char in[32];
	int rc;
	int64_t ms;
};

ParameterizedTestParameters(config, durations)
{
	static struct dur_case cases[] = {
	    {"5", NV_OK, 5000},	     {"5s", NV_OK, 5000},
	    {"250ms", NV_OK, 250},   {"2m", NV_OK, 120000},
	    {"1h", NV_OK, 3600000},  {"1m30s", NV_OK, 90000},
	    {"", NV_EINVALID, 0},    {"s", NV_EINVALID, 0},
	    {"5x", NV_EINVALID, 0},  {"-1", NV_EINVALID, 0},
	    {"1.5", NV_EINVALID, 0}, {"99999999999999999999", NV_EINVALID, 0},
	};
	return cr_make_param_array(struct dur_case, cases, sizeof(cases) / sizeof(cases[0]));
}

ParameterizedTest(struct dur_case *dc, config, durations)
{
	int64_t ms = -1;

	cr_assert_eq(nv_config_parse_duration_ms(dc->in, &ms), dc->rc, "%s", dc->in);
	if (dc->rc == NV_OK)
		cr_assert_eq(ms, dc->ms, "%s", dc->in);
}

Test(config, secrets_are_registered_for_redaction)
{
	const char *env[] = {"AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY",
			     "wJalrXUtnFEMIsecretKEY", NULL};
	struct nv_config c;
	int p[2];
	char out[4096] = {0};
	struct nv_log_rec r;

	cr_assert_eq(nv_config_load_from(&c, table_env, env, NULL), NV_OK);
	cr_assert(pipe(p) == 0);
	nv_log_setup(NV_LOG_TEXT, NV_LOG_INFO, p[1]);
	nv_log_begin(&r, NV_LOG_INFO, "leak");
	nv_log_str(&r, "oops", c.aws.secret_access_key);
	nv_log_end(&r);
	cr_assert(read(p[0], out, sizeof(out) - 1) > 0);
	cr_assert_null(strstr(out, "wJalrXUtnFEMIsecretKEY"));
	cr_assert(strstr(out, "oops=[REDACTED]"), "%s", out);
	nv_log_setup(NV_LOG_TEXT, NV_LOG_INFO, 2);
	nv_log_clear_secrets();
	nv_config_release(&c);
}
