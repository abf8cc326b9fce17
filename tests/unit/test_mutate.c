/* The webhook's mutation (webhook/mutate.c), without HTTP.
 *
 * JSON in the tables is written with single quotes (turned into double
 * quotes before use) to keep it readable. Every patch is also applied with an
 * independent JSON Patch implementation (Debian's python3-jsonpatch) and the
 * result fed back: the second review must return no patch. */
#include "testutil.h"

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/mem.h"
#include "arena.h"
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

/* The same around a pod in real JSON (a fixture file: its quotes are kept). */
static void make_review_json(struct nv_buf *b, const char *pod)
{
	cr_assert_eq(nv_buf_addstr(b,
				   "{'apiVersion':'admission.k8s.io/v1','kind':'AdmissionReview',"
				   "'request':{'uid':'705ab4f5-6393-11e8-b7cc-42010a800002',"
				   "'kind':{'group':'','version':'v1','kind':'Pod'},"
				   "'resource':{'group':'','version':'v1','resource':'pods'},"
				   "'operation':'CREATE','namespace':'team-a','object':",
				   NULL),
		     0);
	unquote(b->p);
	cr_assert_eq(nv_buf_addstr(b, pod, NULL), 0);
	cr_assert_eq(nv_buf_addstr(b, "}}", NULL), 0);
}

/* Review a pod given in real JSON. */
static void review_json(const struct nv_mutate_config *cfg, const char *pod, struct nv_admission *a)
{
	struct nv_buf body = NV_BUF_INIT(1 << 20);
	struct nv_error err = NV_ERROR_INIT;

	make_review_json(&body, pod);
	cr_assert_eq(nv_mutate_review(cfg, body.p, body.len, a, &err), 0, "%s", err.msg);
	nv_buf_release(&body);
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

/* Apply `patch` to `pod` with python3-jsonpatch; returns the new pod (malloc).
 * only_add: fail unless every operation is an "add" (what the webhook may
 * send); false for the edits the tests make to a fixture. */
static char *apply_ops(const char *pod, const char *patch, bool only_add)
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
			"assert %s or all(o[\"op\"]==\"add\" for o in ops);"
			"json.dump(jsonpatch.apply_patch(pod,ops),open(sys.argv[3],\"w\"))' "
			"%s %s %s",
		 only_add ? "False" : "True", p1, p2, p3);
	cr_assert_eq(system(cmd), 0, "python3-jsonpatch could not apply %s", patch);
	out = read_all(p3);
	nv_test_rmdir(dir);
	return out;
}

static char *apply_patch(const char *pod, const char *patch)
{
	return apply_ops(pod, patch, true);
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
	      "'restore','--install-to','/netvol-bin'],"
	      "'terminationMessagePolicy':'FallbackToLogsOnError','env':[{'name':'NETWORK_VOLUME','"
	      "value':"
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

/* ---- full injection of the platform's pod (tests/webhook/pod-platform.json) ----
 *
 * The identity and store settings are on the app container 'comfyui' (some
 * by valueFrom, NETVOL_STORE built from $(VAR)s, a ConfigMap by envFrom, the
 * data mount with subPathExpr $(POD_USER_NAME)); each case edits the fixture
 * with a JSON Patch, reviews it, applies the answer and compares what the
 * netvol-restore init container got. Its env indices: 0 POD_USER_NAME,
 * 1 HF_TOKEN, 2 POD_ID, 3 PLATFORM_TENANT, 4 AWS_BUCKET_NAME, 5 STORE_BASE,
 * 6 NETVOL_STORE, 7 AWS_REGION, 8 NETWORK_VOLUME, 9 COMFY_EXTRA_ARGS, 10 POD_IP.
 * Unit tests run from the repository root. */
#define PLATFORM_POD "tests/webhook/pod-platform.json"

#define P_USER                                                          \
	"{'name':'POD_USER_NAME','valueFrom':{'fieldRef':{'fieldPath':" \
	"'metadata.labels[^platform.example/user^]'}}}"
#define P_PODID                                                  \
	"{'name':'POD_ID','valueFrom':{'fieldRef':{'fieldPath':" \
	"'metadata.labels[^platform.example/session^]'}}}"
#define P_TENANT                                                                               \
	"{'name':'PLATFORM_TENANT','valueFrom':{'configMapKeyRef':{'name':'platform-storage'," \
	"'key':'tenant'}}}"
#define P_BUCKET                                                                               \
	"{'name':'AWS_BUCKET_NAME','valueFrom':{'configMapKeyRef':{'name':'platform-storage'," \
	"'key':'bucket'}}}"
#define P_BASE "{'name':'STORE_BASE','value':'$(PLATFORM_TENANT)/pod_sessions'}"
#define P_STORE "{'name':'NETVOL_STORE','value':'s3://$(AWS_BUCKET_NAME)/$(STORE_BASE)'}"
#define P_REGION "{'name':'AWS_REGION','value':'eu-west-1'}"
#define P_NV "{'name':'NETWORK_VOLUME','value':'/data'}"
#define P_WS "{'name':'_NETWORK_VOLUME','value':'/workspace'}"
#define P_NAME_ID "{'name':'POD_ID','valueFrom':{'fieldRef':{'fieldPath':'metadata.name'}}}"
#define P_ENV P_USER "," P_PODID "," P_TENANT "," P_BUCKET "," P_BASE "," P_STORE "," P_REGION
#define P_CM "{'configMapRef':{'name':'comfy-session-alice'}}"
#define P_STORE_SECRET "{'secretRef':{'name':'netvol-store'}}"
#define P_FROM "[" P_CM "," P_STORE_SECRET "]"
#define P_SC "{'runAsUser':1000,'runAsGroup':1000,'runAsNonRoot':true}"
#define P_NO_CSC "{'op':'remove','path':'/spec/containers/0/securityContext'}"

struct platcase {
	char name[80];
	char cfg[160];	    /* config JSON, "" = defaults */
	char edit[512];	    /* JSON Patch applied to the fixture first, "" = none */
	char env[1536];	    /* the init container's env, exactly */
	char env_from[256]; /* its envFrom, exactly */
	char sc[128];	    /* its securityContext, exactly; "" = none */
	char pod_id[160];   /* the target's POD_ID entry afterwards; "" = none */
	char has[2][200];   /* substrings of the response (warnings) */
	char hasnot[2][80]; /* substrings neither the response nor the patch holds */
};

static struct platcase plat_cases[] = {
    {.name = "the platform pod as it is",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"'warnings'", "metadata.name"}},
    {.name = "podIdFromPodName: the target's own POD_ID still wins",
     .cfg = "{'restoreSync':{'podIdFromPodName':true}}",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"'warnings'", "metadata.name"}},
    {.name = "no POD_ID, podIdFromPodName off: a warning, no POD_ID anywhere",
     .edit = "[{'op':'remove','path':'/spec/containers/0/env/2'}]",
     .env = "[" P_USER "," P_TENANT "," P_BUCKET "," P_BASE "," P_STORE "," P_REGION "," P_NV
	    "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .has = {"container ^comfyui^ sets no POD_ID in env (its envFrom may): netvol restore will "
	     "exit 2 for pod-scoped datasets; set POD_ID or restoreSync.podIdFromPodName"},
     .hasnot = {"metadata.name", "POD_USER_NAME in env"}},
    {.name = "no POD_ID, podIdFromPodName on: metadata.name in both containers",
     .cfg = "{'restoreSync':{'podIdFromPodName':true}}",
     .edit = "[{'op':'remove','path':'/spec/containers/0/env/2'}]",
     .env = "[" P_USER "," P_TENANT "," P_BUCKET "," P_BASE "," P_STORE "," P_REGION "," P_NV
	    "," P_WS "," P_NAME_ID "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_NAME_ID,
     .hasnot = {"'warnings'"}},
    {.name = "no envFrom and no POD_ID: the warning has no envFrom hint",
     .edit = "[{'op':'remove','path':'/spec/containers/0/env/2'},"
	     "{'op':'remove','path':'/spec/containers/0/envFrom'}]",
     .env = "[" P_USER "," P_TENANT "," P_BUCKET "," P_BASE "," P_STORE "," P_REGION "," P_NV
	    "," P_WS "]",
     .env_from = "[" P_STORE_SECRET "]",
     .sc = P_SC,
     .has = {"container ^comfyui^ sets no POD_ID: netvol restore will exit 2"},
     .hasnot = {"comfy-session-alice"}},
    {.name = "no POD_USER_NAME: warned, and the subPathExpr needing it too",
     .edit = "[{'op':'remove','path':'/spec/containers/0/env/0'}]",
     .env = "[" P_PODID "," P_TENANT "," P_BUCKET "," P_BASE "," P_STORE "," P_REGION "," P_NV
	    "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .has = {"container ^comfyui^ sets no POD_USER_NAME in env (its envFrom may): every store "
	     "key is scoped by the user, netvol restore and sync will exit 2",
	     "container ^comfyui^ does not define $(POD_USER_NAME) in env (its envFrom may), "
	     "referenced by the subPathExpr of its mount of ^data^"},
     .hasnot = {"not-the-target"}},
    {.name = "a subPathExpr referencing an undefined variable: a warning",
     .edit = "[{'op':'replace','path':'/spec/containers/0/volumeMounts/0/subPathExpr',"
	     "'value':'$(POD_USER_NAME)/$(SESSION_DIR)'}]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .has = {"container ^comfyui^ does not define $(SESSION_DIR) in env (its envFrom may), "
	     "referenced by the subPathExpr of its mount of ^data^",
	     "{'name':'data','mountPath':'/data','subPathExpr':'$(POD_USER_NAME)/$(SESSION_DIR)'}"},
     .hasnot = {"sets no"}},
    {.name = "a subPathExpr variable is copied with what it references",
     .edit = "[{'op':'replace','path':'/spec/containers/0/volumeMounts/0/subPathExpr',"
	     "'value':'$(USER_DIR)'},{'op':'add','path':'/spec/containers/0/env/-','value':"
	     "{'name':'USER_DIR','value':'users/$(POD_USER_NAME)'}}]",
     .env = "[" P_ENV "," P_NV ",{'name':'USER_DIR','value':'users/$(POD_USER_NAME)'}," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"'warnings'"}},
    {.name = "an undefined reference in a copied value: a warning, and only what is used",
     .edit = "[{'op':'replace','path':'/spec/containers/0/env/6/value',"
	     "'value':'s3://$(AWS_BUCKET_NAME)/$(NOPE)'}]",
     .env = "[" P_USER "," P_PODID "," P_BUCKET ",{'name':'NETVOL_STORE','value':"
	    "'s3://$(AWS_BUCKET_NAME)/$(NOPE)'}," P_REGION "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .has = {"container ^comfyui^ does not define $(NOPE) in env (its envFrom may), referenced "
	     "by its env ^NETVOL_STORE^"},
     .hasnot = {"STORE_BASE','value'", "PLATFORM_TENANT"}},
    {.name = "a reference to a later variable keeps the target's order",
     .edit = "[{'op':'add','path':'/spec/containers/0/env/0','value':{'name':"
	     "'NETVOL_LOG_LEVEL','value':'$(PLATFORM_LOG_LEVEL)'}},{'op':'add','path':"
	     "'/spec/containers/0/env/-','value':{'name':'PLATFORM_LOG_LEVEL','value':'debug'}}]",
     .env = "[{'name':'NETVOL_LOG_LEVEL','value':'$(PLATFORM_LOG_LEVEL)'}," P_ENV "," P_NV
	    ",{'name':'PLATFORM_LOG_LEVEL','value':'debug'}," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"'warnings'"}},
    {.name = "a referenced name defined twice: both entries, in place",
     .edit = "[{'op':'add','path':'/spec/containers/0/env/-','value':{'name':'STORE_BASE',"
	     "'value':'$(PLATFORM_TENANT)/v2'}}]",
     .env = "[" P_ENV "," P_NV ",{'name':'STORE_BASE','value':'$(PLATFORM_TENANT)/v2'}," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"'warnings'"}},
    {.name = "$$( is an escape and $( without ) no reference",
     .edit = "[{'op':'add','path':'/spec/containers/0/env/-','value':{'name':'NETVOL_NOTE',"
	     "'value':'$$(HF_TOKEN) $(COMFY_EXTRA_ARGS'}}]",
     .env = "[" P_ENV "," P_NV ",{'name':'NETVOL_NOTE','value':'$$(HF_TOKEN) "
	    "$(COMFY_EXTRA_ARGS'}," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"'warnings'", "secretKeyRef"}},
    {.name = "the store Secret already in the target's envFrom: kept in place, not doubled",
     .edit = "[{'op':'add','path':'/spec/containers/0/envFrom/0','value':" P_STORE_SECRET "}]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = "[" P_STORE_SECRET "," P_CM "]",
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"/spec/containers/0/envFrom"}},
    {.name = "runAsUser: the container's wins over the chart's",
     .cfg = "{'restoreSync':{'runAsUser':1337}}",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .hasnot = {"1337"}},
    {.name = "runAsUser: the pod's applies by itself",
     .cfg = "{'restoreSync':{'runAsUser':1337}}",
     .edit = "[" P_NO_CSC ",{'op':'add','path':'/spec/securityContext/runAsUser','value':2000}]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .pod_id = P_PODID,
     .hasnot = {"1337", "securityContext"}},
    {.name = "runAsUser: the chart's when neither container nor pod sets one",
     .cfg = "{'restoreSync':{'runAsUser':1337}}",
     .edit = "[" P_NO_CSC "]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = "{'runAsUser':1337}",
     .pod_id = P_PODID},
    {.name = "runAsUser: none anywhere, none set",
     .edit = "[" P_NO_CSC "]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .pod_id = P_PODID,
     .hasnot = {"securityContext"}},
    {.name = "runAsGroup from the container, runAsUser from the chart",
     .cfg = "{'restoreSync':{'runAsUser':1337}}",
     .edit = "[{'op':'replace','path':'/spec/containers/0/securityContext','value':"
	     "{'runAsGroup':3000,'runAsNonRoot':true,'readOnlyRootFilesystem':true}}]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = "{'runAsUser':1337,'runAsGroup':3000,'runAsNonRoot':true}",
     .pod_id = P_PODID},
    {.name = "runAsUser: the chart's 0 with runAsNonRoot: a warning",
     .cfg = "{'restoreSync':{'runAsUser':0}}",
     .edit = "[" P_NO_CSC ",{'op':'add','path':'/spec/securityContext/runAsNonRoot','value':"
	     "true}]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = "{'runAsUser':0}",
     .pod_id = P_PODID,
     .has = {"restore-sync: restoreSync.runAsUser is 0 but container ^comfyui^ or the pod sets "
	     "runAsNonRoot: the kubelet will not start netvol-restore"}},
    {.name = "runAsUser: the chart's 0 without runAsNonRoot: no warning",
     .cfg = "{'restoreSync':{'runAsUser':0}}",
     .edit = "[" P_NO_CSC "]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = "{'runAsUser':0}",
     .pod_id = P_PODID,
     .hasnot = {"'warnings'"}},
    {.name = "runAsGroup from the container, runAsUser from the pod",
     .cfg = "{'restoreSync':{'runAsUser':1337}}",
     .edit = "[{'op':'replace','path':'/spec/containers/0/securityContext','value':"
	     "{'runAsGroup':3000}},{'op':'add','path':'/spec/securityContext/runAsUser',"
	     "'value':2000}]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = "{'runAsGroup':3000}",
     .pod_id = P_PODID,
     .hasnot = {"1337"}},
    {.name = "NETWORK_VOLUME not set by the target: the data mount's path, last",
     .edit = "[{'op':'remove','path':'/spec/containers/0/env/8'}]",
     .env = "[" P_ENV "," P_NV "," P_WS "]",
     .env_from = P_FROM,
     .sc = P_SC,
     .pod_id = P_PODID,
     .has = {"{'op':'add','path':'/spec/containers/0/env/-','value':" P_NV "}"}},
};

ParameterizedTestParameters(mutate, platform)
{
	return cr_make_param_array(struct platcase, plat_cases,
				   sizeof(plat_cases) / sizeof(plat_cases[0]));
}

/* Parse test JSON (single quotes) and compare it with `got`. */
static void expect_json(const char *what, const char *quoted, const cJSON *got)
{
	char *want = strdup(quoted), *g = got ? cJSON_PrintUnformatted(got) : NULL;
	cJSON *w;

	cr_assert(want);
	unquote(want);
	w = cJSON_Parse(want);
	cr_assert(w, "%s: the expected value is not JSON: %s", what, want);
	cr_assert(got && cJSON_Compare(w, got, true), "%s:\n want %s\n got  %s", what, want,
		  g ? g : "(nothing)");
	cJSON_Delete(w);
	cJSON_free(g);
	free(want);
}

static cJSON *named(const cJSON *arr, const char *name)
{
	cJSON *it;

	cJSON_ArrayForEach(it, arr)
	{
		cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");

		if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
			return it;
	}
	return NULL;
}

ParameterizedTest(struct platcase *c, mutate, platform)
{
	struct nv_mutate_config cfg;
	struct nv_admission a, again;
	char *pod = read_all(PLATFORM_POD), *edited, *patched, sub[256];
	cJSON *root, *spec, *init, *target, *it;
	int pod_ids = 0;
	size_t i;

	config_from(&cfg, c->cfg);
	if (c->edit[0]) {
		char edit[sizeof(c->edit)];

		snprintf(edit, sizeof(edit), "%s", c->edit);
		unquote(edit);
		edited = apply_ops(pod, edit, false);
		free(pod);
		pod = edited;
	}
	nv_admission_init(&a);
	review_json(&cfg, pod, &a);
	cr_assert_eq((int)a.result, R_PATCHED, "%s: %s", c->name, a.response.p);
	for (i = 0; i < 2 && c->has[i][0]; i++) {
		snprintf(sub, sizeof(sub), "%s", c->has[i]);
		unquote(sub);
		cr_assert(strstr(a.response.p, sub) || strstr(a.patch.p, sub),
			  "%s: '%s' missing in %s / %s", c->name, sub, a.response.p, a.patch.p);
	}
	for (i = 0; i < 2 && c->hasnot[i][0]; i++) {
		snprintf(sub, sizeof(sub), "%s", c->hasnot[i]);
		unquote(sub);
		cr_assert(!strstr(a.response.p, sub) && !strstr(a.patch.p, sub),
			  "%s: '%s' present in %s / %s", c->name, sub, a.response.p, a.patch.p);
	}

	/* what the containers of the patched pod have */
	patched = apply_patch(pod, a.patch.p);
	root = cJSON_Parse(patched);
	spec = cJSON_GetObjectItemCaseSensitive(root, "spec");
	init = named(cJSON_GetObjectItemCaseSensitive(spec, "initContainers"), "netvol-restore");
	cr_assert(init, "%s: no netvol-restore in %s", c->name, patched);
	expect_json("init env", c->env, cJSON_GetObjectItemCaseSensitive(init, "env"));
	expect_json("init envFrom", c->env_from, cJSON_GetObjectItemCaseSensitive(init, "envFrom"));
	if (c->sc[0])
		expect_json("init securityContext", c->sc,
			    cJSON_GetObjectItemCaseSensitive(init, "securityContext"));
	else
		cr_assert(!cJSON_GetObjectItemCaseSensitive(init, "securityContext"),
			  "%s: a securityContext was set", c->name);
	target = named(cJSON_GetObjectItemCaseSensitive(spec, "containers"), "comfyui");
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(target, "env"))
	{
		if (!strcmp(cJSON_GetObjectItemCaseSensitive(it, "name")->valuestring, "POD_ID")) {
			pod_ids++;
			expect_json("target POD_ID", c->pod_id, it);
		}
	}
	cr_assert_eq(pod_ids, c->pod_id[0] ? 1 : 0, "%s: %d POD_ID entries in the target", c->name,
		     pod_ids);

	/* idempotent */
	nv_admission_init(&again);
	review_json(&cfg, patched, &again);
	cr_assert_eq(again.patch_ops, 0, "%s: second pass patched %s", c->name, again.patch.p);
	nv_admission_release(&again);

	cJSON_Delete(root);
	free(patched);
	free(pod);
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

/* Fail every allocation of one review in turn: an error, never a crash or
 * a leak (run under ASan by `make asan`); without failures it patches. */
static void allocation_sweep(const char *cfg_json, const struct nv_buf *body, const char *must)
{
	struct nv_mutate_config cfg;
	long n;

	config_from(&cfg, cfg_json);
	for (n = 0; n < 100000; n++) {
		struct nv_admission a;
		struct nv_error err = NV_ERROR_INIT;
		int rc;

		nv_admission_init(&a);
		nv_mem_fail_after(n);
		rc = nv_mutate_review(&cfg, body->p, body->len, &a, &err);
		nv_mem_fail_after(-1);
		if (rc == 0) {
			cr_assert_eq(a.result, NV_ADM_PATCHED);
			cr_assert(strstr(a.patch.p, must), "'%s' missing in %s", must, a.patch.p);
			nv_admission_release(&a);
			break;
		}
		nv_admission_release(&a);
		cr_assert(rc == NV_ENOMEM || rc == NV_EINVALID, "n=%ld rc=%d %s", n, rc, err.msg);
	}
	cr_assert_gt(n, 20, "the review should allocate");
	nv_mutate_config_release(&cfg);
}

Test(mutate, allocation_failures)
{
	struct nv_buf body = NV_BUF_INIT(1 << 16);

	make_review(&body, "CREATE", "Pod",
		    "{'metadata':{'name':'p'},'spec':{'initContainers':[{'name':'i','volumeMounts':"
		    "[" WS_MOUNT "]}],'containers':[{'name':'comfy','image':'i','env':[],"
		    "'volumeMounts':[" DATA_MOUNT "," WS_MOUNT "]}],'volumes':[]}}",
		    NULL);
	allocation_sweep("{'restoreSync':{'enabled':true,'runAsUser':1,'resources':{}}}", &body,
			 "\"securityContext\":{\"runAsUser\":1}");
	nv_buf_release(&body);
}

/* The same for the platform pod: the copied env, envFrom, securityContext,
 * the warnings (POD_ID removed, a reference left undefined). */
Test(mutate, allocation_failures_platform)
{
	struct nv_buf body = NV_BUF_INIT(1 << 20);
	char
	    *pod = read_all(PLATFORM_POD),
	    edit[] =
		"[{'op':'remove','path':'/spec/containers/0/env/2'},{'op':'replace','path':"
		"'/spec/containers/0/volumeMounts/0/subPathExpr','value':'$(POD_USER_NAME)/$(X)'}]";
	char *edited;

	unquote(edit);
	edited = apply_ops(pod, edit, false);
	make_review_json(&body, edited);
	allocation_sweep("{'restoreSync':{'runAsUser':1,'podIdFromPodName':false}}", &body,
			 "{\"name\":\"PLATFORM_TENANT\"");
	nv_buf_release(&body);
	free(edited);
	free(pod);
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
		nv_arena_use(round == 1);
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
	nv_arena_use(false);
	nv_buf_release(&first);
	nv_buf_release(&pod);
	nv_buf_release(&body);
}
