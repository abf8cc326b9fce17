/* The webhook's settings (webhook/mutate_config.c): the config file, flags,
 * the whole-config checks. JSON in the tables is written with single quotes
 * (turned into double quotes before use). */
#include "testutil.h"

#include <errno.h>

#include "mutate_config.h"

static void unquote(char *s)
{
	for (; *s; s++)
		if (*s == '\'')
			*s = '"';
}

static void config_from(struct nv_mutate_config *cfg, const char *json)
{
	struct nv_error err = NV_ERROR_INIT;
	char buf[1024];

	cr_assert_eq(nv_mutate_config_init(cfg, &err), 0, "%s", err.msg);
	if (json && *json) {
		snprintf(buf, sizeof(buf), "%s", json);
		unquote(buf);
		cr_assert_eq(nv_mutate_config_parse(cfg, buf, strlen(buf), "test", &err), 0, "%s",
			     err.msg);
	}
}

/* ---- the config file ---- */

struct cfgcase {
	char json[400];
	char err[96]; /* "" = must parse */
};

static struct cfgcase cfg_cases[] = {
    {"{}", ""},
    {"{'workspaceVolume':'workspace','envName':'_NETWORK_VOLUME','restoreSync':{'enabled':"
     "false,'image':'netvol-init:0.1.0','imagePullPolicy':'IfNotPresent','dataVolume':'data',"
     "'storeSecret':'netvol-store','runAsUser':null,'resources':{'requests':{'cpu':'100m',"
     "'memory':'128Mi'},'limits':{'memory':'512Mi'}}}}",
     ""},
    {"{'restoreSync':{'runAsUser':1337,'resources':null}}", ""},
    {"{'restoreSync':{'podIdFromPodName':true}}", ""},
    {"{'restoreSync':{'podIdFromPodName':'true'}}",
     "restoreSync.podIdFromPodName must be true or false"},
    {"{'restoreSync':{'podIdFromPodName':null}}",
     "restoreSync.podIdFromPodName must be true or false"},
    {"{'restoreSync':{'podidfrompodname':true}}", "unknown key 'restoreSync.podidfrompodname'"},
    {"", "not valid JSON"},
    {"[]", "must be a JSON object"},
    {"{'workspacevolume':'x'}", "unknown key 'workspacevolume'"},
    {"{'restoreSync':{'enable':true}}", "unknown key 'restoreSync.enable'"},
    {"{'restoreSync':true}", "restoreSync must be an object"},
    {"{'workspaceVolume':7}", "workspaceVolume must be a string"},
    {"{'workspaceVolume':'Not_A_Name'}", "not a valid volume name"},
    {"{'envName':'A=B'}", "not a valid environment variable name"},
    {"{'envName':''}", "not a valid environment variable name"},
    {"{'restoreSync':{'enabled':'yes'}}", "must be true or false"},
    {"{'restoreSync':{'imagePullPolicy':'Sometimes'}}", "want Always, IfNotPresent or Never"},
    {"{'restoreSync':{'runAsUser':-1}}", "must be null or a user id"},
    {"{'restoreSync':{'runAsUser':1.5}}", "must be null or a user id"},
    {"{'restoreSync':{'resources':[]}}", "must be an object or null"},
    {"{'restoreSync':{'image':''}}", "not a valid image"},
    {"{'restoreSync':{'storeSecret':'-bad'}}", "not a valid secret name"},
};

ParameterizedTestParameters(mutate_config, table)
{
	return cr_make_param_array(struct cfgcase, cfg_cases,
				   sizeof(cfg_cases) / sizeof(cfg_cases[0]));
}

ParameterizedTest(struct cfgcase *c, mutate_config, table)
{
	struct nv_mutate_config cfg;
	struct nv_error err = NV_ERROR_INIT;
	char json[sizeof(c->json)];
	int rc;

	snprintf(json, sizeof(json), "%s", c->json);
	unquote(json);
	config_from(&cfg, NULL);
	rc = nv_mutate_config_parse(&cfg, json, strlen(json), "cfg.json", &err);
	if (!c->err[0]) {
		cr_assert_eq(rc, 0, "%s: %s", json, err.msg);
	} else {
		cr_assert_eq(rc, NV_ECONFIG, "%s", json);
		cr_assert(strstr(err.msg, c->err), "'%s' lacks '%s'", err.msg, c->err);
		cr_assert(strstr(err.msg, "cfg.json"), "'%s' names no file", err.msg);
		/* a failed parse keeps the old values */
		cr_assert_str_eq(cfg.workspace_volume, "workspace");
	}
	nv_mutate_config_release(&cfg);
}

Test(mutate_config, table_values_and_flags)
{
	struct nv_mutate_config cfg;
	struct nv_error err = NV_ERROR_INIT;

	config_from(&cfg, "{'workspaceVolume':'ws','restoreSync':{'enabled':true,'runAsUser':1337,"
			  "'resources':{'limits':{'memory':'1Gi'}}}}");
	cr_assert_str_eq(cfg.workspace_volume, "ws");
	cr_assert_str_eq(cfg.env_name, "_NETWORK_VOLUME");
	cr_assert(cfg.restore.enabled);
	cr_assert(cfg.restore.run_as_user_set);
	cr_assert_eq(cfg.restore.run_as_user, 1337);
	cr_assert_str_eq(cfg.restore.resources_json, "{\"limits\":{\"memory\":\"1Gi\"}}");
	cr_assert_str_eq(cfg.restore.image, "netvol-init:0.1.0");
	cr_assert(!cfg.restore.pod_id_from_pod_name, "podIdFromPodName is off by default");
	nv_mutate_config_release(&cfg);
	config_from(&cfg, "{'restoreSync':{'podIdFromPodName':true}}");
	cr_assert(cfg.restore.pod_id_from_pod_name);
	/* a later document that does not name it keeps it */
	cr_assert_eq(nv_mutate_config_parse(&cfg, "{}", 2, "again", &err), 0);
	cr_assert(cfg.restore.pod_id_from_pod_name);
	cr_assert_eq(nv_mutate_config_set(&cfg, "envName", "NV2", &err), 0);
	cr_assert_str_eq(cfg.env_name, "NV2");
	cr_assert_eq(nv_mutate_config_set(&cfg, "restoreSync.dataVolume", "BAD", &err), NV_ECONFIG);
	cr_assert_eq(nv_mutate_config_set(&cfg, "nope", "x", &err), NV_ECONFIG);
	cr_assert_eq(nv_mutate_config_check(&cfg, &err), 0);
	cr_assert_eq(nv_mutate_config_set(&cfg, "restoreSync.dataVolume", "netvol-bin", &err), 0);
	cr_assert_eq(nv_mutate_config_check(&cfg, &err), NV_ECONFIG);
	cr_assert(strstr(err.msg, "reserved"));
	nv_mutate_config_release(&cfg);
}

/* ---- the config file on disk ---- */

Test(mutate_config, read_file)
{
	struct nv_mutate_config cfg;
	struct nv_error err = NV_ERROR_INIT;
	char *dir = nv_test_tmpdir(), path[512];
	FILE *f;

	config_from(&cfg, NULL);
	snprintf(path, sizeof(path), "%s/none.json", dir);
	cr_assert_eq(nv_mutate_config_read(&cfg, path, &err), NV_ECONFIG);
	cr_assert(strstr(err.msg, "cannot open config"), "%s", err.msg);
	cr_assert(strstr(err.msg, "none.json"), "%s", err.msg);

	snprintf(path, sizeof(path), "%s/bad.json", dir);
	cr_assert((f = fopen(path, "w")));
	fputs("{\"restoreSync\":{\"enable\":true}}", f);
	fclose(f);
	cr_assert_eq(nv_mutate_config_read(&cfg, path, &err), NV_ECONFIG);
	cr_assert(strstr(err.msg, "bad.json") && strstr(err.msg, "unknown key"), "%s", err.msg);

	snprintf(path, sizeof(path), "%s/good.json", dir);
	cr_assert((f = fopen(path, "w")));
	fputs("{\"workspaceVolume\":\"ws\",\"restoreSync\":{\"enabled\":true}}", f);
	fclose(f);
	cr_assert_eq(nv_mutate_config_read(&cfg, path, &err), 0, "%s", err.msg);
	cr_assert_str_eq(cfg.workspace_volume, "ws");
	cr_assert(cfg.restore.enabled);

	/* a directory cannot be read */
	cr_assert_eq(nv_mutate_config_read(&cfg, dir, &err), NV_ECONFIG);
	cr_assert(strstr(err.msg, "cannot read config"), "%s", err.msg);
	nv_mutate_config_release(&cfg);
	nv_test_rmdir(dir);
}
