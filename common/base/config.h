/* config.h - configuration from the environment, validated once.
 *
 * Only config.c reads the environment. nv_config_load() checks every value
 * and fails with NV_ECONFIG and a message that names the variable; the rest
 * of the program gets a `const struct nv_config *`. Variables are those of
 * the shell scripts netvol replaces (see docs/CONFIG.md and DESIGN.md).
 */
#ifndef NV_CONFIG_H
#define NV_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum nv_scope {
	NV_SCOPE_SHARED, /* user-scoped, may be symlinked from _NETWORK_VOLUME */
	NV_SCOPE_USER,	 /* user-scoped, never on the network volume */
	NV_SCOPE_POD,	 /* pod-scoped: only the same POD_ID gets it back */
};

struct nv_dataset {
	char *path; /* relative to NETWORK_VOLUME, e.g. "ComfyUI/custom_nodes" */
	enum nv_scope scope;
	/* Paths relative to the dataset that are not part of it: the ones the
	 * entry names (exclude=...), then the datasets nested in it, added by
	 * nv_config_parse_datasets. Sync does not walk them; restore keeps
	 * what is there (docs/CONFIG.md). */
	char **exclude;
	size_t nexclude;
	size_t nexclude_given; /* the first ones, named by the entry */
};

enum nv_s3_addressing { NV_S3_AUTO, NV_S3_PATH, NV_S3_VIRTUAL };

struct nv_aws_config {
	char *access_key_id;	       /* AWS_ACCESS_KEY_ID */
	char *secret_access_key;       /* AWS_SECRET_ACCESS_KEY (secret) */
	char *session_token;	       /* AWS_SESSION_TOKEN (secret) */
	char *region;		       /* AWS_REGION, else AWS_DEFAULT_REGION, else us-east-1 */
	bool region_set;	       /* a region variable was given */
	char *endpoint_url;	       /* AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL */
	char *sts_endpoint_url;	       /* AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL */
	char *web_identity_token_file; /* AWS_WEB_IDENTITY_TOKEN_FILE */
	char *role_arn;		       /* AWS_ROLE_ARN */
	char *role_session_name;       /* AWS_ROLE_SESSION_NAME, default "netvol" */
	char *container_credentials_full_uri;	  /* AWS_CONTAINER_CREDENTIALS_FULL_URI */
	char *container_authorization_token_file; /* AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE */
	char *container_authorization_token;	  /* AWS_CONTAINER_AUTHORIZATION_TOKEN (secret) */
	char *ca_bundle;			  /* AWS_CA_BUNDLE */
	int max_attempts;			  /* AWS_MAX_ATTEMPTS, default 5 */
	enum nv_s3_addressing addressing;	  /* NETVOL_S3_ADDRESSING */
	int64_t
	    stall_timeout_ms; /* NETVOL_S3_STALL_TIMEOUT, default 30s: abort a stalled transfer */
};

struct nv_config {
	/* restore / sync */
	char *network_volume; /* NETWORK_VOLUME */
	char *shared_volume;  /* _NETWORK_VOLUME, NULL when unset or empty */
	/* The store base: NETVOL_STORE, else s3://$AWS_BUCKET_NAME/pod_sessions;
	 * NULL if neither. netvol scopes it per user (keys.h). */
	char *store_base;
	bool store_base_given;	     /* it came from NETVOL_STORE */
	char *pod_user;		     /* POD_USER_NAME (nv_config_check_identity) */
	char *pod_id;		     /* POD_ID (nv_config_check_identity) */
	struct nv_dataset *datasets; /* NETVOL_DATASETS or the defaults */
	size_t ndatasets;
	int64_t nv_timeout_ms;	      /* NETVOL_NV_TIMEOUT, default 5s */
	int64_t deadline_ms;	      /* NETVOL_DEADLINE, 0 = none */
	int64_t sync_interval_ms;     /* NETVOL_SYNC_INTERVAL (sync --loop), default 5m, >= 1s */
	int parallel;		      /* NETVOL_PARALLEL, default 16 */
	int64_t progress_interval_ms; /* NETVOL_PROGRESS_INTERVAL, default 5s */
	int zstd_level;		      /* NETVOL_ZSTD_LEVEL, default 3 */
	int log_format;		      /* NETVOL_LOG_FORMAT: text|json */
	int log_level;		      /* NETVOL_LOG_LEVEL: debug|info|warn|error */
	struct nv_aws_config aws;
	/* the shell scripts' layout (LEGACY.md), read when a dataset has no
	 * snapshot: NETVOL_LEGACY=auto|off, NETVOL_LEGACY_STORE base */
	bool legacy;		/* NETVOL_LEGACY is auto (default) */
	char *legacy_base;	/* NETVOL_LEGACY_STORE or s3://$AWS_BUCKET_NAME/pod_sessions */
	char *legacy_root_url;	/* <legacy_base>/<POD_USER_NAME>; NULL = legacy off */
	const char *legacy_off; /* why legacy_root_url is NULL (for the log) */
	/* webhook */
	char *tls_cert; /* NETVOL_TLS_CERT */
	char *tls_key;	/* NETVOL_TLS_KEY */
	/* restore's one-line summary goes here when the file exists and is
	 * writable (the kubelet shows it in `kubectl describe pod`) */
	char *termination_log; /* NETVOL_TERMINATION_LOG, default /dev/termination-log */
};

/* Looks a variable up; returns NULL when unset. */
typedef const char *(*nv_env_fn)(const char *name, void *ud);

/* Load from the process environment (getenv). */
int nv_config_load(struct nv_config *cfg, struct nv_error *err);
/* Load through a lookup function (tests pass a table). */
int nv_config_load_from(struct nv_config *cfg, nv_env_fn env, void *ud, struct nv_error *err);
void nv_config_release(struct nv_config *cfg);

/* POD_USER_NAME and POD_ID are identities that become part of store keys:
 * 1 to NV_IDENTITY_MAX bytes of [A-Za-z0-9._@+-], the first one a letter,
 * a digit or '_', no "..". NULL (unset) passes; anything else that does not
 * fit is NV_ECONFIG with a message naming var. */
#define NV_IDENTITY_MAX 128
int nv_config_check_identity(const char *var, const char *v, struct nv_error *err);

/* Checks for the verbs that need them: NETWORK_VOLUME set and absolute. */
int nv_config_require_volume(const struct nv_config *cfg, struct nv_error *err);
/* A store base is configured and the user is known (so is the user root). */
int nv_config_require_store(const struct nv_config *cfg, struct nv_error *err);

/* "5", "5s", "250ms", "2m", "1h", "1m30s" -> milliseconds. A bare number is
 * seconds. NV_EINVALID on anything else or on overflow. */
int nv_config_parse_duration_ms(const char *s, int64_t *out_ms);

/* Parse a NETVOL_DATASETS value: entries separated by ',' or newlines,
 * each "path[:scope][:exclude=p1|p2...]" with scope shared|user|pod
 * (default shared). Paths (and excluded paths, relative to their dataset)
 * are relative, without '.', '..' or empty components, no duplicates. A
 * dataset may sit inside another one (not a shared one: that is linked
 * whole); the parent then excludes it, and the list is ordered parents
 * first (otherwise as given). Errors name the entry. */
int nv_config_parse_datasets(const char *s, struct nv_dataset **out, size_t *n,
			     struct nv_error *err);
void nv_config_free_datasets(struct nv_dataset *d, size_t n);
const char *nv_scope_name(enum nv_scope s);

/* Is path (relative to ds) excluded from ds: an excluded path or below one? */
bool nv_dataset_excludes(const struct nv_dataset *ds, const char *path);

/* Validate a relative dataset path (shared with the CLI). */
int nv_config_check_relpath(const char *path, struct nv_error *err);

#endif
