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
#include "mutate_config.h"

#define NV_MUTATE_ANN_INJECT "netvol.io/inject"
#define NV_MUTATE_ANN_WORKSPACE "netvol.io/workspace-volume"
#define NV_MUTATE_ANN_RESTORE "netvol.io/restore-sync"
#define NV_MUTATE_ANN_DATA "netvol.io/data-volume"
#define NV_MUTATE_ANN_CONTAINER "netvol.io/container"

/* Names the full injection adds. */
#define NV_MUTATE_BIN_VOLUME NV_MUTATE_CONFIG_RESERVED_VOLUME
#define NV_MUTATE_BIN_PATH "/netvol/bin"
/* In the init container the image's binary is the file /netvol, so the
 * emptyDir cannot be mounted below it: it goes here instead. */
#define NV_MUTATE_INIT_BIN_PATH "/netvol-bin"
#define NV_MUTATE_INIT_NAME "netvol-restore"

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

#endif
