/* The webhook's mutation (webhook/mutate.c), without HTTP.
 *
 * JSON in the tables is written with single quotes (turned into double
 * quotes before use) to keep it readable. Every patch is also applied with an
 * independent JSON Patch implementation (Debian's python3-jsonpatch) and the
 * result fed back: the second review must return no patch. */
#include "testutil.h"

#include <cjson/cJSON.h>

#include "buf.h"
#include "mem.h"
#include "mutate.h"

#define PYTHON "/usr/bin/python3"

/* ' -> " and ^ -> ' (for the quotes inside warning messages). */
static void unquote(char *s)
{
	for (; *s; s++) {
		if (*s == '\'')
			*s = '"';
		else if (*s == '^')
			*s = '\'';
	}
}

/* An AdmissionReview around `pod` (JSON with single quotes). */
static void make_review(struct nv_buf *b, const char *op, const char *kind, const char *pod,
			const char *extra)
{
	cr_assert_eq(nv_buf_addf(b, NULL,
				 "{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview',"
				 "'request':{'uid':'705ab4f5-6393-11e8-b7cc-42010a800002',"
				 "'kind':{'group':'','version':'v1','kind':'%s'},"
				 "'resource':{'group':'','version':'v1','resource':'pods'},"
				 "'operation':'%s','namespace':'team-a'%s,'object':%s}}",
				 kind, op, extra ? extra : "", pod),
		     0);
	unquote(b->p);
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

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *p;
	long n;

	cr_assert(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = malloc((size_t)n + 1);
	cr_assert(p);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	return p;
}

static void write_all(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");

	cr_assert(f);
	cr_assert_eq(fwrite(s, 1, strlen(s), f), strlen(s));
	fclose(f);
}

/* Apply `patch` to `pod` with python3-jsonpatch; returns the new pod (malloc). */
static char *apply_patch(const char *pod, const char *patch)
{
	char *dir = nv_test_tmpdir(), cmd[2048], p1[512], p2[512], p3[512], *out;

	snprintf(p1, sizeof(p1), "%s/pod.json", dir);
	snprintf(p2, sizeof(p2), "%s/patch.json", dir);
	snprintf(p3, sizeof(p3), "%s/out.json", dir);
	write_all(p1, pod);
	write_all(p2, patch);
	snprintf(cmd, sizeof(cmd),
		 PYTHON " -c 'import json,sys,jsonpatch;"
			"pod=json.load(open(sys.argv[1]));ops=json.load(open(sys.argv[2]));"
			"assert all(o[\"op\"]==\"add\" for o in ops);"
			"json.dump(jsonpatch.apply_patch(pod,ops),open(sys.argv[3],\"w\"))' "
			"%s %s %s",
		 p1, p2, p3);
	cr_assert_eq(system(cmd), 0, "python3-jsonpatch could not apply %s", patch);
	out = read_all(p3);
	nv_test_rmdir(dir);
	return out;
}

enum { R_PATCHED = NV_ADM_PATCHED, R_UNCHANGED = NV_ADM_UNCHANGED, R_SKIPPED = NV_ADM_SKIPPED };

struct mcase {
	char name[64];
	char cfg[512];	 /* config JSON, "" = defaults */
	char op[12];	 /* CREATE, UPDATE, DELETE */
	char kind[16];	 /* Pod, Deployment... */
	char extra[128]; /* more request fields: ",'dryRun':true" */
	char pod[2560];
	int result;
	char patch[3072]; /* the exact JSONPatch, "" = none, "*" = not compared */
	char has[3][200]; /* substrings the response (or the patch) must hold */
	char hasnot[80];  /* a substring the response must not hold */
	char logname[32]; /* expected a.name, "" = not checked */
};

#define WS_MOUNT "{'name':'workspace','mountPath':'/workspace'}"
#define DATA_MOUNT "{'name':'data','mountPath':'/data'}"

static struct mcase cases[] = {
    {.name = "no env: the array is created",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}]}]",
     .hasnot = "warnings",
     .logname = "p"},
    {.name = "env present: appended with /env/-",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'env':[{'name':'A','value':'1'}],'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env/-','value':{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}}]"},
    {.name = "env null: the array is created",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'env':null,'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}]}]"},
    {.name = "several containers, each its own mountPath",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':["
	    "{'name':'a','image':'i','volumeMounts':[" WS_MOUNT "]},"
	    "{'name':'b','image':'i'},"
	    "{'name':'c','image':'i','env':[],'volumeMounts':[{'name':'other','mountPath':'/o'},"
	    "{'name':'workspace','mountPath':'/mnt/ws'}]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}]},{'op':'add','path':'/spec/containers/2/env/-','value':{"
	      "'name':'_NETWORK_VOLUME','value':'/mnt/ws'}}]"},
    {.name = "init containers too",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'setup','image':'i',"
	    "'volumeMounts':[{'name':'workspace','mountPath':'/ws'}]}],"
	    "'containers':[{'name':'c','image':'i','volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/initContainers/0/env','value':[{'name':"
	      "'_NETWORK_VOLUME','value':'/ws'}]},{'op':'add','path':'/spec/containers/0/env',"
	      "'value':[{'name':'_NETWORK_VOLUME','value':'/workspace'}]}]"},
    {.name = "volume mounted twice: the first mount wins",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'volumeMounts':[{'name':'workspace','mountPath':'/a'},{'name':'workspace',"
	    "'mountPath':'/b','subPath':'x'}]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/a'}]}]"},
    {.name = "already set: left alone",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'env':[{'name':'_NETWORK_VOLUME','value':'/elsewhere'}],'volumeMounts':[" WS_MOUNT
	    "]}]}}",
     .result = R_UNCHANGED,
     .patch = "",
     .hasnot = "warnings"},
    {.name = "set from valueFrom: left alone",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'env':[{'name':'_NETWORK_VOLUME','valueFrom':{'fieldRef':{'fieldPath':"
	    "'metadata.name'}}}],'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_UNCHANGED,
     .patch = ""},
    {.name = "opt-out annotation",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/inject':'false'}},'spec':{"
	    "'containers':[{'name':'c','image':'i','volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_SKIPPED,
     .patch = ""},
    {.name = "inject annotation other than false: injected",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/inject':'true'}},'spec':{"
	    "'containers':[{'name':'c','image':'i','volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "*"},
    {.name = "annotation names the workspace volume",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/workspace-volume':'shared'}},"
	    "'spec':{'containers':[{'name':'c','image':'i','volumeMounts':[" WS_MOUNT
	    ",{'name':'shared','mountPath':'/shared'}]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/shared'}]}]"},
    {.name = "generateName pod",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'generateName':'comfy-'},'spec':{'containers':[{'name':'c',"
	    "'image':'i','volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .logname = "comfy-"},
    {.name = "configured env name and volume",
     .cfg = "{'workspaceVolume':'ws','envName':'MY_NV'}",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'volumeMounts':[" WS_MOUNT ",{'name':'ws','mountPath':'/w'}]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'MY_NV',"
	      "'value':'/w'}]}]"},
    {.name = "no workspace mount: warning, no patch",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i'}]}}",
     .result = R_UNCHANGED,
     .patch = "",
     .has = {"'warnings':['netvol: no container mounts the workspace volume ^workspace^"}},
    {.name = "dryRun gets the same answer",
     .op = "CREATE",
     .kind = "Pod",
     .extra = ",'dryRun':true",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}]}]"},
    {.name = "not a pod",
     .op = "CREATE",
     .kind = "Deployment",
     .pod = "{'metadata':{'name':'d'},'spec':{}}",
     .result = R_SKIPPED,
     .patch = "",
     .has = {"'allowed':true", "'uid':'705ab4f5-6393-11e8-b7cc-42010a800002'"}},
    {.name = "UPDATE is skipped",
     .op = "UPDATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_SKIPPED,
     .patch = ""},
    {.name = "DELETE is skipped",
     .op = "DELETE",
     .kind = "Pod",
     .pod = "null",
     .result = R_SKIPPED,
     .patch = ""},
    {.name = "subresource is skipped",
     .op = "CREATE",
     .kind = "Pod",
     .extra = ",'subResource':'ephemeralcontainers'",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_SKIPPED,
     .patch = ""},
    {.name = "env not a list: warning",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'c','image':'i',"
	    "'env':{},'volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_UNCHANGED,
     .patch = "",
     .has = {"env is not a list"}},
    {.name = "no spec: warning",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'}}",
     .result = R_UNCHANGED,
     .patch = "",
     .has = {"the pod has no spec"}},

    /* ---- full injection (restore-sync) ---- */
    {.name = "full: annotation turns it on",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true'}},"
	    "'spec':{'containers':[{'name':'comfy','image':'i','volumeMounts':[" DATA_MOUNT
	    "," WS_MOUNT "]}],'volumes':[{'name':'data','emptyDir':{}}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'},{'name':'NETWORK_VOLUME','value':'/data'},{'name':"
	      "'NETVOL_DEADLINE','value':'20s'}]},"
	      "{'op':'add','path':'/spec/containers/0/volumeMounts/-','value':{'name':'netvol-bin',"
	      "'mountPath':'/netvol/bin','readOnly':true}},"
	      "{'op':'add','path':'/spec/containers/0/envFrom','value':[{'secretRef':{'name':"
	      "'netvol-store'}}]},"
	      "{'op':'add','path':'/spec/containers/0/lifecycle','value':{'preStop':{'exec':{"
	      "'command':['/netvol/bin/netvol','sync']}}}},"
	      "{'op':'add','path':'/spec/volumes/-','value':{'name':'netvol-bin','emptyDir':{}}},"
	      "{'op':'add','path':'/spec/initContainers','value':[{'name':'netvol-restore',"
	      "'image':'netvol-init:0.1.0','imagePullPolicy':'IfNotPresent','command':['/netvol',"
	      "'restore','--install-to','/netvol-bin'],'env':[{'name':'NETWORK_VOLUME','value':"
	      "'/data'},{'name':'_NETWORK_VOLUME','value':'/workspace'}],'envFrom':[{'secretRef':{"
	      "'name':'netvol-store'}}],'volumeMounts':[{'name':'netvol-bin','mountPath':"
	      "'/netvol-bin'},{'name':'data','mountPath':'/data'},{'name':'workspace','mountPath':"
	      "'/workspace'}]}]}]",
     .has = {"container ^comfy^ sets no POD_USER_NAME: every store key is scoped by the user",
	     "container ^comfy^ sets no POD_ID: netvol restore will exit 2 for pod-scoped "
	     "datasets; set POD_ID or restoreSync.podIdFromPodName"}},
    {.name = "full: deadline from a long grace period",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true'}},"
	    "'spec':{'terminationGracePeriodSeconds':120,'containers':[{'name':'comfy','image':"
	    "'i','volumeMounts':[" DATA_MOUNT "]}],'volumes':[{'name':'data','emptyDir':{}}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .has = {"{'name':'NETVOL_DEADLINE','value':'110s'}"}},
    {.name = "full: deadline from a short grace period",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true'}},"
	    "'spec':{'terminationGracePeriodSeconds':15,'containers':[{'name':'comfy','image':"
	    "'i','volumeMounts':[" DATA_MOUNT "]}],'volumes':[{'name':'data','emptyDir':{}}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .has = {"{'name':'NETVOL_DEADLINE','value':'10s'}"}},
    {.name = "full: the container's own deadline is kept",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true'}},"
	    "'spec':{'containers':[{'name':'comfy','image':'i','env':[{'name':'NETVOL_DEADLINE',"
	    "'value':'5m'}],'volumeMounts':[" DATA_MOUNT "]}],'volumes':[{'name':'data',"
	    "'emptyDir':{}}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .hasnot = "'name':'NETVOL_DEADLINE','value':'20s'"},
    {.name = "full: config, named container, existing lifecycle",
     .cfg = "{'restoreSync':{'enabled':true,'image':'reg/netvol-init:9','imagePullPolicy':"
	    "'Always','dataVolume':'pod-data','storeSecret':'s3-creds','runAsUser':1337,"
	    "'resources':{'requests':{'cpu':'100m'},'limits':{'memory':'512Mi'}}}}",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/container':'comfy'}},"
	    "'spec':{'initContainers':[{'name':'first','image':'i'}],'containers':[{'name':"
	    "'sidecar','image':'i'},{'name':'comfy','image':'i','env':[{'name':'X','value':'y'}],"
	    "'lifecycle':{'postStart':{'exec':{'command':['true']}}},'volumeMounts':[{'name':"
	    "'pod-data','mountPath':'/pod','subPath':'u1'}]}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .has = {"{'op':'add','path':'/spec/containers/1/lifecycle/preStop','value':{'exec':{"
	     "'command':['/netvol/bin/netvol','sync']}}}",
	     "'securityContext':{'runAsUser':1337}",
	     "{'op':'add','path':'/spec/initContainers/-','value':{'name':'netvol-restore',"
	     "'image':'reg/netvol-init:9','imagePullPolicy':'Always'"},
     .hasnot = "/spec/containers/0/"},
    {.name = "full: subPath copied, resources, secret",
     .cfg = "{'restoreSync':{'enabled':true,'dataVolume':'pod-data','storeSecret':'s3-creds',"
	    "'resources':{'limits':{'memory':'512Mi'}}}}",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'comfy','image':'i',"
	    "'volumeMounts':[{'name':'pod-data','mountPath':'/pod','subPath':'u1'}]}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .has = {"{'name':'pod-data','mountPath':'/pod','subPath':'u1'}",
	     "'resources':{'limits':{'memory':'512Mi'}}", "{'secretRef':{'name':'s3-creds'}}"},
     .hasnot = "securityContext"},
    {.name = "full: existing preStop is kept, with a warning",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true'}},"
	    "'spec':{'containers':[{'name':'comfy','image':'i','lifecycle':{'preStop':{'exec':{"
	    "'command':['/bin/save']}}},'volumeMounts':[" DATA_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .has = {"container ^comfy^ already has a preStop hook", "'name':'netvol-restore'"},
     .hasnot = "lifecycle"},
    {.name = "full: target lacks the data volume",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true'}},"
	    "'spec':{'containers':[{'name':'comfy','image':'i','volumeMounts':[" WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}]}]",
     .has = {"does not mount the data volume ^data^"}},
    {.name = "full: unknown target container",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true',"
	    "'netvol.io/container':'nope'}},'spec':{'containers':[{'name':'comfy','image':'i',"
	    "'volumeMounts':[" DATA_MOUNT "]}]}}",
     .result = R_UNCHANGED,
     .patch = "",
     .has = {"no container named ^nope^"}},
    {.name = "full: annotation false beats config",
     .cfg = "{'restoreSync':{'enabled':true}}",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'false'}},"
	    "'spec':{'containers':[{'name':'comfy','image':'i','volumeMounts':[" DATA_MOUNT
	    "," WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}]}]"},
    {.name = "full: data volume may not be netvol-bin",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true',"
	    "'netvol.io/data-volume':'netvol-bin'}},'spec':{'containers':[{'name':'comfy',"
	    "'image':'i','volumeMounts':[{'name':'netvol-bin','mountPath':'/b'}," WS_MOUNT "]}]}}",
     .result = R_PATCHED,
     .patch = "[{'op':'add','path':'/spec/containers/0/env','value':[{'name':'_NETWORK_VOLUME',"
	      "'value':'/workspace'}]}]",
     .has = {"the data volume may not be ^netvol-bin^"}},
    {.name = "full: data volume from annotation",
     .op = "CREATE",
     .kind = "Pod",
     .pod = "{'metadata':{'name':'p','annotations':{'netvol.io/restore-sync':'true',"
	    "'netvol.io/data-volume':'scratch'}},'spec':{'containers':[{'name':'comfy','image':"
	    "'i','volumeMounts':[{'name':'scratch','mountPath':'/s'}]}]}}",
     .result = R_PATCHED,
     .patch = "*",
     .has = {"{'name':'NETWORK_VOLUME','value':'/s'}", "{'name':'scratch','mountPath':'/s'}"},
     .hasnot = "'name':'_NETWORK_VOLUME'"},
};

ParameterizedTestParameters(mutate, table)
{
	return cr_make_param_array(struct mcase, cases, sizeof(cases) / sizeof(cases[0]));
}

/* Review `pod`; returns the response, fills *a. */
static void review(const struct nv_mutate_config *cfg, const struct mcase *c, const char *pod,
		   struct nv_admission *a)
{
	struct nv_buf body = NV_BUF_INIT(1 << 20);
	struct nv_error err = NV_ERROR_INIT;

	make_review(&body, c->op, c->kind, pod, c->extra);
	cr_assert_eq(nv_mutate_review(cfg, body.p, body.len, a, &err), 0, "%s: %s", c->name,
		     err.msg);
	nv_buf_release(&body);
}

ParameterizedTest(struct mcase *c, mutate, table)
{
	struct nv_mutate_config cfg;
	struct nv_admission a, again;
	char want[sizeof(c->patch)], sub[256];
	cJSON *resp, *r;
	char *patched;
	size_t i;

	config_from(&cfg, c->cfg);
	nv_admission_init(&a);
	review(&cfg, c, c->pod, &a);
	cr_assert_eq((int)a.result, c->result, "%s: result %s", c->name,
		     nv_admission_result_name(a.result));

	/* the response: allowed, the uid, a patch exactly when expected */
	resp = cJSON_Parse(a.response.p);
	cr_assert(resp, "%s: response is not JSON", c->name);
	r = cJSON_GetObjectItemCaseSensitive(resp, "response");
	cr_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r, "allowed")));
	cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(r, "uid")->valuestring,
			 "705ab4f5-6393-11e8-b7cc-42010a800002");
	cr_assert_eq(cJSON_GetObjectItemCaseSensitive(r, "patch") != NULL, c->result == R_PATCHED);
	cJSON_Delete(resp);

	snprintf(want, sizeof(want), "%s", c->patch);
	unquote(want);
	if (strcmp(want, "*"))
		cr_assert_str_eq(a.patch.p, want, "%s", c->name);
	for (i = 0; i < 3 && c->has[i][0]; i++) {
		snprintf(sub, sizeof(sub), "%s", c->has[i]);
		unquote(sub);
		cr_assert(strstr(a.response.p, sub) || strstr(a.patch.p, sub),
			  "%s: '%s' missing in %s / %s", c->name, sub, a.response.p, a.patch.p);
	}
	if (c->hasnot[0]) {
		snprintf(sub, sizeof(sub), "%s", c->hasnot);
		unquote(sub);
		cr_assert(!strstr(a.response.p, sub) && !strstr(a.patch.p, sub),
			  "%s: '%s' present in %s / %s", c->name, sub, a.response.p, a.patch.p);
	}
	if (c->logname[0])
		cr_assert_str_eq(a.name, c->logname);
	cr_assert_str_eq(a.namespace, "team-a");

	/* idempotent: apply with an independent implementation, review again */
	if (a.patch_ops) {
		char pod[sizeof(c->pod)];

		snprintf(pod, sizeof(pod), "%s", c->pod);
		unquote(pod);
		patched = apply_patch(pod, a.patch.p);
		nv_admission_init(&again);
		review(&cfg, c, patched, &again);
		cr_assert_eq(again.patch_ops, 0, "%s: second pass patched %s", c->name,
			     again.patch.p);
		cr_assert_eq((int)again.result, R_UNCHANGED);
		nv_admission_release(&again);
		free(patched);
	}
	nv_admission_release(&a);
	nv_mutate_config_release(&cfg);
}

/* ---- malformed reviews: 400 with a reason ---- */

struct badcase {
	char body[512];
	char why[80];
};

static struct badcase bad_cases[] = {
    {"", "not valid JSON"},
    {"{", "not valid JSON"},
    {"{'apiVersion':'admission.k8s.io/v1'", "not valid JSON"},
    {"[]", "not a JSON object"},
    {"'str'", "not a JSON object"},
    {"{}", "apiVersion '(missing)'"},
    {"{'apiVersion':'admission.k8s.io/v1beta1','kind':'AdmissionReview','request':{'uid':'u'}}",
     "apiVersion 'admission.k8s.io/v1beta1' is not"},
    {"{'apiVersion':1,'kind':'AdmissionReview'}", "apiVersion '(missing)'"},
    {"{'apiVersion':'admission.k8s.io/v1','kind':'Pod','request':{'uid':'u'}}",
     "kind 'Pod' is not AdmissionReview"},
    {"{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview'}", "no request"},
    {"{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':null}", "no request"},
    {"{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{}}", "no uid"},
    {"{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{'uid':''}}",
     "no uid"},
    {"{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview','request':{'uid':7}}", "no uid"},
    /* cJSON lookups are case-insensitive unless asked: make sure we ask */
    {"{'APIVERSION':'admission.k8s.io/v1','kind':'AdmissionReview','request':{'uid':'u'}}",
     "apiVersion '(missing)'"},
};

ParameterizedTestParameters(mutate, malformed)
{
	return cr_make_param_array(struct badcase, bad_cases,
				   sizeof(bad_cases) / sizeof(bad_cases[0]));
}

ParameterizedTest(struct badcase *c, mutate, malformed)
{
	struct nv_mutate_config cfg;
	struct nv_admission a;
	struct nv_error err = NV_ERROR_INIT;
	char body[sizeof(c->body)];

	snprintf(body, sizeof(body), "%s", c->body);
	unquote(body);
	config_from(&cfg, NULL);
	nv_admission_init(&a);
	cr_assert_eq(nv_mutate_review(&cfg, body, strlen(body), &a, &err), NV_EINVALID, "%s", body);
	cr_assert(strstr(err.msg, c->why), "'%s' lacks '%s'", err.msg, c->why);
	cr_assert_eq(a.result, NV_ADM_ERROR);
	cr_assert_eq(a.response.len, 0);
	nv_admission_release(&a);
	nv_mutate_config_release(&cfg);
}

Test(mutate, body_not_nul_terminated)
{
	struct nv_mutate_config cfg;
	struct nv_admission a;
	struct nv_error err = NV_ERROR_INIT;
	struct nv_buf body = NV_BUF_INIT(1 << 16);
	char *copy;

	config_from(&cfg, NULL);
	make_review(&body, "CREATE", "Pod", "{'spec':{'containers':[]}}", NULL);
	copy = malloc(body.len); /* exactly the bytes, no NUL after them */
	memcpy(copy, body.p, body.len);
	nv_admission_init(&a);
	cr_assert_eq(nv_mutate_review(&cfg, copy, body.len, &a, &err), 0, "%s", err.msg);
	cr_assert_eq(nv_mutate_review(&cfg, copy, body.len - 1, &a, &err), NV_EINVALID);
	free(copy);
	nv_buf_release(&body);
	nv_admission_release(&a);
	nv_mutate_config_release(&cfg);
}

/* Every allocation failure is an error (or survived), never a crash or a
 * leak (run under ASan by `make asan`). */
Test(mutate, allocation_failures)
{
	struct nv_mutate_config cfg;
	struct nv_buf body = NV_BUF_INIT(1 << 16);
	long n;

	config_from(&cfg, "{'restoreSync':{'enabled':true,'runAsUser':1,'resources':{}}}");
	make_review(&body, "CREATE", "Pod",
		    "{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i','volumeMounts':"
		    "[" WS_MOUNT "]}],'containers':[{'name':'comfy','image':'i','env':[],"
		    "'volumeMounts':[" DATA_MOUNT "," WS_MOUNT "]}],'volumes':[]}}",
		    NULL);
	for (n = 0; n < 100000; n++) {
		struct nv_admission a;
		struct nv_error err = NV_ERROR_INIT;
		int rc;

		nv_admission_init(&a);
		nv_mem_fail_after(n);
		rc = nv_mutate_review(&cfg, body.p, body.len, &a, &err);
		nv_mem_fail_after(-1);
		nv_admission_release(&a);
		if (rc == 0) {
			cr_assert_eq(a.result, NV_ADM_PATCHED);
			break;
		}
		cr_assert(rc == NV_ENOMEM || rc == NV_EINVALID, "n=%ld rc=%d %s", n, rc, err.msg);
	}
	cr_assert_gt(n, 20, "the review should allocate");
	nv_buf_release(&body);
	nv_mutate_config_release(&cfg);
}

/* The server's allocator (a per-thread arena reset after each review) gives
 * the same answers, also for a review too big for the first arena. */
Test(mutate, arena_allocator)
{
	struct nv_mutate_config cfg;
	struct nv_buf body = NV_BUF_INIT(1 << 22), pod = NV_BUF_INIT(1 << 22);
	struct nv_buf first = NV_BUF_INIT(1 << 22);
	struct nv_error err = NV_ERROR_INIT;
	int i, round;

	/* a pod with many containers: far over the first 64 KiB arena */
	cr_assert_eq(nv_buf_addstr(&pod, "{'metadata':{'name':'big'},'spec':{'containers':[", NULL),
		     0);
	for (i = 0; i < 400; i++)
		cr_assert_eq(nv_buf_addf(&pod, NULL,
					 "%s{'name':'c%d','image':'i','env':[{'name':'A','value':"
					 "'1'}],'volumeMounts':[{'name':'workspace','mountPath':"
					 "'/w%d'}]}",
					 i ? "," : "", i, i),
			     0);
	cr_assert_eq(nv_buf_addstr(&pod, "]}}", NULL), 0);
	make_review(&body, "CREATE", "Pod", pod.p, NULL);
	for (round = 0; round < 2; round++) {
		nv_mutate_use_arena(round == 1);
		config_from(&cfg, "{'restoreSync':{'enabled':true}}");
		for (i = 0; i < 3; i++) {
			struct nv_admission a;

			nv_admission_init(&a);
			cr_assert_eq(nv_mutate_review(&cfg, body.p, body.len, &a, &err), 0, "%s",
				     err.msg);
			cr_assert_eq(a.patch_ops, 400);
			if (round == 0 && i == 0)
				cr_assert_eq(nv_buf_add(&first, a.response.p, a.response.len, NULL),
					     0);
			else
				cr_assert_str_eq(a.response.p, first.p);
			nv_admission_release(&a);
		}
		nv_mutate_config_release(&cfg);
	}
	nv_mutate_use_arena(false);
	nv_buf_release(&first);
	nv_buf_release(&pod);
	nv_buf_release(&body);
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

ParameterizedTestParameters(mutate, config)
{
	return cr_make_param_array(struct cfgcase, cfg_cases,
				   sizeof(cfg_cases) / sizeof(cfg_cases[0]));
}

ParameterizedTest(struct cfgcase *c, mutate, config)
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

Test(mutate, config_values_and_flags)
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

/* ---- JSON Pointer and base64 ---- */

struct ptrcase {
	char seg[32];
	char want[48];
};

static struct ptrcase ptr_cases[] = {
    {"env", "/env"},  {"-", "/-"},     {"", "/"},      {"a/b", "/a~1b"},
    {"m~n", "/m~0n"}, {"~/", "/~0~1"}, {"~1", "/~01"}, {"netvol.io/inject", "/netvol.io~1inject"},
};

ParameterizedTestParameters(mutate, pointer)
{
	return cr_make_param_array(struct ptrcase, ptr_cases,
				   sizeof(ptr_cases) / sizeof(ptr_cases[0]));
}

ParameterizedTest(struct ptrcase *c, mutate, pointer)
{
	struct nv_buf b = NV_BUF_INIT(256);

	cr_assert_eq(nv_mutate_pointer_add(&b, c->seg, NULL), 0);
	cr_assert_str_eq(b.p, c->want);
	nv_buf_release(&b);
}

Test(mutate, base64)
{
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"",	      "Zg==",	  "Zm8=",    "Zm9v",
					  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	struct nv_buf b = NV_BUF_INIT(64);
	size_t i;

	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		nv_buf_reset(&b);
		cr_assert_eq(nv_mutate_base64(&b, in[i], strlen(in[i]), NULL), 0);
		cr_assert_str_eq(b.p, out[i]);
	}
	nv_buf_release(&b);
}
