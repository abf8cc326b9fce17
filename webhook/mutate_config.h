/* mutate_config.h - the webhook's mutation settings: defaults, the JSON
 * config file the chart renders (deploy/helm/netvol/templates/configmap.yaml),
 * then command-line flags on top.
 *
 *   struct nv_mutate_config c;
 *   nv_mutate_config_init(&c, err);                       defaults
 *   nv_mutate_config_read(&c, "/etc/netvol/config.json", err);
 *   nv_mutate_config_set(&c, "restoreSync.image", flag, err);
 *   nv_mutate_config_check(&c, err);                      whole-config rules
 *   ... nv_mutate_review(&c, ...) from any thread (read-only) ...
 *   nv_mutate_config_release(&c);
 *
 * Every key, its type and its check are in one table (mutate_config.c); the
 * documented list is docs/WEBHOOK.md "Settings".
 */
#ifndef NV_MUTATE_CONFIG_H
#define NV_MUTATE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* The emptyDir the full injection adds: no setting may name it. */
#define NV_MUTATE_CONFIG_RESERVED_VOLUME "netvol-bin"

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

/* Defaults (see docs/WEBHOOK.md). Also sets cJSON's hooks (nv_arena_use
 * with the current choice), so call it once before any thread starts.
 * NV_ENOMEM. */
int nv_mutate_config_init(struct nv_mutate_config *c, struct nv_error *err);
/* Apply a JSON config document on top of c. Unknown keys, wrong types and bad
 * values fail with NV_ECONFIG and a message naming the key ("origin": the
 * file name, for messages). c keeps its earlier values on failure. */
int nv_mutate_config_parse(struct nv_mutate_config *c, const char *json, size_t len,
			   const char *origin, struct nv_error *err);
/* Read the JSON config file at path (at most 1 MiB) and apply it with
 * nv_mutate_config_parse. NV_ECONFIG when it cannot be opened or read. */
int nv_mutate_config_read(struct nv_mutate_config *c, const char *path, struct nv_error *err);
/* Set one string setting by its config-file path ("workspaceVolume",
 * "restoreSync.image"...), for command-line flags. NV_ECONFIG when the key is
 * unknown or the value invalid. */
int nv_mutate_config_set(struct nv_mutate_config *c, const char *key, const char *value,
			 struct nv_error *err);
/* Checks that need the whole config (run after file and flags). */
int nv_mutate_config_check(const struct nv_mutate_config *c, struct nv_error *err);
void nv_mutate_config_release(struct nv_mutate_config *c);

#endif
