/* mutate.h - the webhook's mutation: AdmissionReview JSON in, response JSON out.
 *
 * A pure module (no HTTP, no I/O): nv_mutate_review() reads one
 * admission.k8s.io/v1 AdmissionReview and builds the response review. For a
 * Pod CREATE it adds env `_NETWORK_VOLUME` (cfg->env_name) = the mountPath of
 * the workspace volume to every container and init container that mounts it,
 * and, when restore-sync is on for the pod, the netvol restore init container,
 * the netvol-bin emptyDir and the `netvol sync` preStop hook ("full
 * injection"). The init container takes the pod's identity from the target
 * container's own settings (its NETWORK_VOLUME, POD_USER_NAME, POD_ID,
 * AWS_BUCKET_NAME, NETVOL_* and AWS_* env with the $(VAR)s they reference,
 * its envFrom, its runAsUser/runAsGroup/runAsNonRoot), so restore and the
 * preStop sync agree on who the pod is; a missing POD_USER_NAME or POD_ID is
 * a warning. The answer is always `allowed: true` with the request's uid;
 * the JSONPatch is made of small `add` operations, never a replaced array,
 * and running the mutation on its own output yields no patch.
 *
 *   struct nv_mutate_config cfg;
 *   struct nv_admission adm;
 *   nv_mutate_config_init(&cfg, err);
 *   nv_admission_init(&adm);
 *   rc = nv_mutate_review(&cfg, body, len, &adm, err);
 *   rc == NV_OK:      send adm.response (HTTP 200)
 *   rc == NV_EINVALID: malformed review, err->msg says why (HTTP 400)
 *   otherwise:        NV_ENOMEM or NV_EINTERNAL (HTTP 500)
 *   nv_admission_release(&adm);
 *
 * Pod annotations read: netvol.io/inject ("false" opts out),
 * netvol.io/workspace-volume, netvol.io/restore-sync ("true"/"false"),
 * netvol.io/data-volume, netvol.io/container.
 */
#ifndef NV_MUTATE_H
#define NV_MUTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define NV_MUTATE_ANN_INJECT "netvol.io/inject"
#define NV_MUTATE_ANN_WORKSPACE "netvol.io/workspace-volume"
#define NV_MUTATE_ANN_RESTORE "netvol.io/restore-sync"
#define NV_MUTATE_ANN_DATA "netvol.io/data-volume"
#define NV_MUTATE_ANN_CONTAINER "netvol.io/container"

/* Names the full injection adds. */
#define NV_MUTATE_BIN_VOLUME "netvol-bin"
#define NV_MUTATE_BIN_PATH "/netvol/bin"
/* In the init container the image's binary is the file /netvol, so the
 * emptyDir cannot be mounted below it: it goes here instead. */
#define NV_MUTATE_INIT_BIN_PATH "/netvol-bin"
#define NV_MUTATE_INIT_NAME "netvol-restore"

/* restoreSync in the config file. */
struct nv_restore_config {
	bool enabled;	      /* restoreSync.enabled (pods may opt in/out by annotation) */
	char *image;	      /* restoreSync.image */
	char *pull_policy;    /* restoreSync.imagePullPolicy: Always|IfNotPresent|Never */
	char *data_volume;    /* restoreSync.dataVolume: the volume NETWORK_VOLUME lives on */
	char *store_secret;   /* restoreSync.storeSecret: envFrom secretRef of the init container */
	bool run_as_user_set; /* restoreSync.runAsUser is not null */
	int64_t run_as_user;  /* restoreSync.runAsUser: the init container's uid when
				 neither the target container nor the pod sets one */
	bool pod_id_from_pod_name; /* restoreSync.podIdFromPodName: inject POD_ID =
				      metadata.name when the target sets none */
	char *resources_json; /* restoreSync.resources as compact JSON, NULL when null/absent */
};

/* The mutation settings (the JSON config file, then flags on top). */
struct nv_mutate_config {
	char *workspace_volume; /* workspaceVolume, default "workspace" */
	char *env_name;		/* envName, default "_NETWORK_VOLUME" */
	struct nv_restore_config restore;
};

/* Defaults (see docs/WEBHOOK.md). Also points cJSON at nv_malloc/nv_free,
 * so call it once before any thread starts. NV_ENOMEM. */
int nv_mutate_config_init(struct nv_mutate_config *c, struct nv_error *err);
/* How the JSON trees are allocated. false (the default): nv_malloc/nv_free,
 * so tests can inject allocation failures. true (the server): during a
 * review, from a per-thread arena dropped as a whole at its end (parsing a
 * pod makes hundreds of small allocations; the arena turns them into pointer
 * bumps), else malloc. Call before any thread starts; nv_mutate_config_init
 * keeps the choice. */
void nv_mutate_use_arena(bool on);
/* Apply a JSON config document on top of c. Unknown keys, wrong types and bad
 * values fail with NV_ECONFIG and a message naming the key ("origin": the
 * file name, for messages). c keeps its earlier values on failure. */
int nv_mutate_config_parse(struct nv_mutate_config *c, const char *json, size_t len,
			   const char *origin, struct nv_error *err);
/* Set one string setting by its config-file path ("workspaceVolume",
 * "restoreSync.image"...), for command-line flags. NV_ECONFIG when the key is
 * unknown or the value invalid. */
int nv_mutate_config_set(struct nv_mutate_config *c, const char *key, const char *value,
			 struct nv_error *err);
/* Checks that need the whole config (run after file and flags). */
int nv_mutate_config_check(const struct nv_mutate_config *c, struct nv_error *err);
void nv_mutate_config_release(struct nv_mutate_config *c);

enum nv_admission_result {
	NV_ADM_PATCHED,	  /* a patch was returned */
	NV_ADM_UNCHANGED, /* a pod CREATE that needed nothing */
	NV_ADM_SKIPPED,	  /* not a pod CREATE, or opted out */
	NV_ADM_ERROR,	  /* malformed review or internal error (set by the server) */
	NV_ADM__COUNT
};

/* "patched", "unchanged", "skipped", "error". */
const char *nv_admission_result_name(enum nv_admission_result r);

#define NV_ADM_FIELD_MAX 256

/* The outcome of one review. Fields for the log line are truncated copies. */
struct nv_admission {
	enum nv_admission_result result;
	size_t patch_ops;
	bool dry_run;
	char uid[NV_ADM_FIELD_MAX];
	char namespace[NV_ADM_FIELD_MAX];
	char name[NV_ADM_FIELD_MAX];   /* metadata.name, else generateName */
	char reason[NV_ADM_FIELD_MAX]; /* why skipped, or "" */
	struct nv_buf response;	       /* the response AdmissionReview (JSON) */
	struct nv_buf patch;	       /* the JSONPatch before base64, "" if none */
};

void nv_admission_init(struct nv_admission *a);
void nv_admission_release(struct nv_admission *a);

/* Review one AdmissionReview body (need not be NUL-terminated). On NV_OK,
 * a->response holds the answer. NV_EINVALID: not JSON, wrong apiVersion or
 * kind, no request, no uid (err says which). */
int nv_mutate_review(const struct nv_mutate_config *c, const char *body, size_t len,
		     struct nv_admission *a, struct nv_error *err);

/* Append "/" and `seg` escaped as a JSON Pointer token (RFC 6901: '~' -> "~0",
 * '/' -> "~1"). */
int nv_mutate_pointer_add(struct nv_buf *b, const char *seg, struct nv_error *err);

/* Standard base64 (RFC 4648, with padding) of n bytes, appended to out. */
int nv_mutate_base64(struct nv_buf *out, const void *data, size_t n, struct nv_error *err);

#endif
