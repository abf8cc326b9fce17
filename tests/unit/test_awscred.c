/* The credential chain: order, IRSA web identity against a fake STS and
 * container credentials against a fake endpoint (tests/s3/fake_aws.py on
 * loopback), refresh before expiry, errors, secret redaction. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "store/s3/aws_cred.h"
#include "base/config.h"
#include "base/log.h"

struct env {
	const char *name[24];
	const char *value[24];
	int n;
};

static void env_set(struct env *e, const char *name, const char *value)
{
	e->name[e->n] = name;
	e->value[e->n++] = value;
}

static const char *env_fn(const char *name, void *ud)
{
	struct env *e = ud;
	int i;

	for (i = 0; i < e->n; i++)
		if (!strcmp(e->name[i], name))
			return e->value[i];
	return NULL;
}

static pid_t fake_pid = -1;

/* Start tests/s3/fake_aws.py MODE TOKEN EXPIRES; returns its port. */
static int start_fake(const char *mode, const char *token, int expires_s)
{
	int p[2];
	char exp[16], line[32] = "";
	ssize_t n;
	long port;

	cr_assert(pipe(p) == 0);
	snprintf(exp, sizeof(exp), "%d", expires_s);
	fake_pid = fork();
	cr_assert(fake_pid >= 0);
	if (fake_pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execlp("python3", "python3", "tests/s3/fake_aws.py", mode, token, exp,
		       (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* the whole first line, so the child never writes into a closed pipe */
	for (n = 0; n < (ssize_t)sizeof(line) - 1; n++)
		if (read(p[0], line + n, 1) != 1 || line[n] == '\n')
			break;
	line[n] = '\0';
	close(p[0]);
	cr_assert(n > 0, "fake_aws.py did not start (run from the repository root)");
	port = strtol(line, NULL, 10);
	cr_assert(port > 0 && port < 65536);
	return (int)port;
}

static void stop_fake(void)
{
	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
		fake_pid = -1;
	}
}

static char *write_file(const char *dir, const char *name, const char *text)
{
	char *path = malloc(512);
	FILE *f;

	snprintf(path, 512, "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static int load(struct env *e, struct nv_config *cfg)
{
	struct nv_error err = NV_ERROR_INIT;
	int rc = nv_config_load_from(cfg, env_fn, e, &err);

	cr_assert_eq(rc, NV_OK, "%s", err.msg);
	return rc;
}

Test(awscred, environment_comes_first)
{
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_aws_keys k;
	struct nv_error err = NV_ERROR_INIT;

	env_set(&e, "AWS_ACCESS_KEY_ID", "AKIDENV");
	env_set(&e, "AWS_SECRET_ACCESS_KEY", "envsecret");
	env_set(&e, "AWS_SESSION_TOKEN", "envtoken");
	/* the others point nowhere: they must not be tried */
	env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token");
	env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::1:role/x");
	env_set(&e, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1/");
	env_set(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(nv_aws_cred_source(c), "environment");
	nv_aws_keys_init(&k);
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK);
	cr_assert_str_eq(k.access_key_id.p, "AKIDENV");
	cr_assert_str_eq(k.secret_access_key.p, "envsecret");
	cr_assert_str_eq(k.session_token.p, "envtoken");
	cr_assert_eq(k.expiration, 0);
	cr_assert(!nv_aws_cred_invalidate(c), "static keys cannot refresh");
	nv_aws_keys_release(&k);
	nv_aws_cred_free(c);
	nv_config_release(&cfg);
}

Test(awscred, web_identity_before_container)
{
	char *dir = nv_test_tmpdir(), *tok, url[64];
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_aws_keys k;
	struct nv_error err = NV_ERROR_INIT;
	int port = start_fake("sts", "eyJ.fake.jwt", 3600);

	tok = write_file(dir, "token", "eyJ.fake.jwt\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", tok);
	env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/netvol");
	env_set(&e, "AWS_ENDPOINT_URL_STS", url);
	env_set(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/creds");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(nv_aws_cred_source(c), "web-identity");
	nv_aws_keys_init(&k);
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(k.access_key_id.p, "ASIAFAKESTS0001");
	cr_assert_str_eq(k.secret_access_key.p, "fakeStsSecretKey0001/EXAMPLEKEY");
	cr_assert_str_eq(k.session_token.p, "FAKESESSIONTOKEN0001+/=");
	cr_assert(k.expiration > time(NULL) + 3500 && k.expiration < time(NULL) + 3700);
	/* valid for an hour: no new STS call */
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK);
	cr_assert_str_eq(k.access_key_id.p, "ASIAFAKESTS0001");
	/* rejected by S3: refreshed at the next get */
	cr_assert(nv_aws_cred_invalidate(c));
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(k.access_key_id.p, "ASIAFAKESTS0002");
	nv_aws_keys_release(&k);
	nv_aws_cred_free(c);
	nv_config_release(&cfg);
	stop_fake();
	free(tok);
	nv_test_rmdir(dir);
}

Test(awscred, web_identity_refreshes_before_expiry)
{
	char *dir = nv_test_tmpdir(), *tok, url[64];
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_aws_keys k;
	struct nv_error err = NV_ERROR_INIT;
	/* expires in 200 s: inside the 5-minute margin, so every get refreshes */
	int port = start_fake("sts", "tok", 200);

	tok = write_file(dir, "token", "tok");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", tok);
	env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/netvol");
	env_set(&e, "AWS_ENDPOINT_URL", url); /* the STS endpoint falls back to it */
	env_set(&e, "AWS_MAX_ATTEMPTS", "2");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_OK, "%s", err.msg);
	nv_aws_keys_init(&k);
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(k.access_key_id.p, "ASIAFAKESTS0002");
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(k.access_key_id.p, "ASIAFAKESTS0003");
	/* STS gone: keys still valid 200 s, so the old ones are kept */
	stop_fake();
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(k.access_key_id.p, "ASIAFAKESTS0003");
	nv_aws_keys_release(&k);
	nv_aws_cred_free(c);
	nv_config_release(&cfg);
	free(tok);
	nv_test_rmdir(dir);
}

Test(awscred, web_identity_rejected_token)
{
	char *dir = nv_test_tmpdir(), *tok, url[64];
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_error err = NV_ERROR_INIT;
	int port = start_fake("sts", "good", 3600);

	tok = write_file(dir, "token", "bad");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", tok);
	env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/netvol");
	env_set(&e, "AWS_ENDPOINT_URL_STS", url);
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_EAUTH, "%d %s", err.code, err.msg);
	cr_assert_null(c);
	cr_assert(strstr(err.msg, "InvalidIdentityToken"), "%s", err.msg);
	cr_assert(strstr(err.msg, "AssumeRoleWithWebIdentity"), "%s", err.msg);
	nv_config_release(&cfg);
	stop_fake();
	free(tok);
	nv_test_rmdir(dir);
}

Test(awscred, web_identity_missing_token_file)
{
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_error err = NV_ERROR_INIT;

	env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token");
	env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/netvol");
	env_set(&e, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1/");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_ECONFIG, "%s", err.msg);
	cr_assert(strstr(err.msg, "AWS_WEB_IDENTITY_TOKEN_FILE"), "%s", err.msg);
	nv_config_release(&cfg);
}

Test(awscred, container_with_token_file)
{
	char *dir = nv_test_tmpdir(), *tok, url[64];
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_aws_keys k;
	struct nv_error err = NV_ERROR_INIT;
	int port = start_fake("container", "pod-identity-token", 3600);

	tok = write_file(dir, "token", "pod-identity-token\n");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/credentials", port);
	env_set(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
	env_set(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tok);
	env_set(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-a-file-is-set");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(nv_aws_cred_source(c), "container");
	nv_aws_keys_init(&k);
	cr_assert_eq(nv_aws_cred_get(c, 0, &k, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(k.access_key_id.p, "ASIAFAKECTR0001");
	cr_assert_str_eq(k.secret_access_key.p, "fakeCtrSecretKey0001/EXAMPLEKEY");
	cr_assert_str_eq(k.session_token.p, "FAKECONTAINERTOKEN0001");
	cr_assert(k.expiration > time(NULL));
	nv_aws_keys_release(&k);
	nv_aws_cred_free(c);
	nv_config_release(&cfg);
	stop_fake();
	free(tok);
	nv_test_rmdir(dir);
}

Test(awscred, container_with_token_env_and_wrong_token)
{
	char url[64];
	struct env e = {0}, bad = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_error err = NV_ERROR_INIT;
	int port = start_fake("container", "the-token", 3600);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/creds", port);
	env_set(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
	env_set(&e, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "the-token");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_OK, "%s", err.msg);
	nv_aws_cred_free(c);
	nv_config_release(&cfg);

	env_set(&bad, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
	env_set(&bad, "AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token");
	load(&bad, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_EAUTH, "%d %s", err.code, err.msg);
	cr_assert(strstr(err.msg, "HTTP 403"), "%s", err.msg);
	nv_config_release(&cfg);
	stop_fake();
}

struct uri_case {
	char uri[64];
	int ok;
};

static struct uri_case uri_cases[] = {
    {"http://127.0.0.1:1/creds", 1},   {"http://169.254.170.23/v1/credentials", 1},
    {"http://169.254.170.2/creds", 1}, {"http://[fd00:ec2::23]/v1/credentials", 1},
    {"http://localhost:1/x", 1},       {"https://creds.example.com/x", 1},
    {"http://creds.example.com/x", 0}, {"http://10.0.0.1/creds", 0},
    {"ftp://127.0.0.1/creds", 0},      {"not a url", 0},
};

ParameterizedTestParameters(awscred, container_uri_rules)
{
	return cr_make_param_array(struct uri_case, uri_cases,
				   sizeof(uri_cases) / sizeof(uri_cases[0]));
}

ParameterizedTest(struct uri_case *u, awscred, container_uri_rules)
{
	struct nv_error err = NV_ERROR_INIT;

	cr_assert_eq(nv_aws_cred_check_container_uri(u->uri, &err), u->ok ? NV_OK : NV_ECONFIG,
		     "%s: %s", u->uri, err.msg);
}

Test(awscred, container_uri_checked_at_open)
{
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_error err = NV_ERROR_INIT;

	env_set(&e, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://creds.example.com/x");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_ECONFIG, "%s", err.msg);
	cr_assert(strstr(err.msg, "plain http"), "%s", err.msg);
	nv_config_release(&cfg);
}

Test(awscred, nothing_configured_is_a_config_error)
{
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_error err = NV_ERROR_INIT;

	env_set(&e, "AWS_REGION", "eu-west-1");
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_ECONFIG);
	cr_assert(strstr(err.msg, "no AWS credentials"), "%s", err.msg);
	cr_assert_null(c);
	nv_config_release(&cfg);
}

struct json_case {
	char doc[256];
	int code;
};

static struct json_case json_cases[] = {
    {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Token\":\"T\","
     "\"Expiration\":\"2019-11-09T13:34:41Z\"}",
     NV_OK},
    {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\"}", NV_OK},
    {"{\"AccessKeyId\":\"A\"}", NV_ECORRUPT},
    {"{\"AccessKeyId\":1,\"SecretAccessKey\":\"S\"}", NV_ECORRUPT},
    {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"S\",\"Expiration\":\"tomorrow\"}", NV_ECORRUPT},
    {"{\"AccessKeyId\":\"A\",", NV_ECORRUPT},
    {"<html>502 Bad Gateway</html>", NV_ECORRUPT},
    {"", NV_ECORRUPT},
};

ParameterizedTestParameters(awscred, container_json)
{
	return cr_make_param_array(struct json_case, json_cases,
				   sizeof(json_cases) / sizeof(json_cases[0]));
}

ParameterizedTest(struct json_case *j, awscred, container_json)
{
	struct nv_aws_keys k;
	struct nv_error err = NV_ERROR_INIT;

	nv_aws_keys_init(&k);
	cr_assert_eq(nv_aws_cred_parse_container_json(j->doc, strlen(j->doc), &k, &err), j->code,
		     "'%s': %s", j->doc, err.msg);
	if (j->code == NV_OK)
		cr_assert_str_eq(k.access_key_id.p, "A");
	nv_aws_keys_release(&k);
}

Test(awscred, fetched_secrets_are_redacted_in_logs)
{
	char *dir = nv_test_tmpdir(), *tok, url[64], logpath[600], line[4096] = "";
	struct env e = {0};
	struct nv_config cfg;
	struct nv_aws_cred *c = NULL;
	struct nv_error err = NV_ERROR_INIT;
	int port = start_fake("sts", "jwt-secret-token", 3600), fd;
	FILE *f;

	tok = write_file(dir, "token", "jwt-secret-token");
	snprintf(logpath, sizeof(logpath), "%s/log", dir);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	nv_log_setup(NV_LOG_TEXT, NV_LOG_DEBUG, fd);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	env_set(&e, "AWS_WEB_IDENTITY_TOKEN_FILE", tok);
	env_set(&e, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/netvol");
	env_set(&e, "AWS_ENDPOINT_URL_STS", url);
	load(&e, &cfg);
	cr_assert_eq(nv_aws_cred_new(&cfg, &c, &err), NV_OK, "%s", err.msg);
	nv_log_msg(NV_LOG_INFO, "leak", "%s %s %s", "fakeStsSecretKey0001/EXAMPLEKEY",
		   "FAKESESSIONTOKEN0001+/=", "jwt-secret-token");
	close(fd);
	f = fopen(logpath, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		cr_assert(!strstr(line, "fakeStsSecretKey0001"), "secret in log: %s", line);
		cr_assert(!strstr(line, "FAKESESSIONTOKEN0001"), "token in log: %s", line);
		cr_assert(!strstr(line, "jwt-secret-token"), "web identity token in log: %s", line);
	}
	fclose(f);
	nv_aws_cred_free(c);
	nv_config_release(&cfg);
	stop_fake();
	free(tok);
	nv_test_rmdir(dir);
}
