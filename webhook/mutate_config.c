#include "mutate_config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "base/fs.h"
#include "base/mem.h"
#include "base/version.h"

#define DEFAULT_WORKSPACE "workspace"
#define DEFAULT_ENV "_NETWORK_VOLUME"
#define DEFAULT_PULL_POLICY "IfNotPresent"
#define DEFAULT_DATA_VOLUME "data"
#define DEFAULT_STORE_SECRET "netvol-store"
#define CONFIG_FILE_MAX (1u << 20)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int set_str(char **dst, const char *v, struct nv_error *err)
{
	char *d = nv_strdup(v);

	if (!d)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	nv_free(*dst);
	*dst = d;
	return NV_OK;
}

int nv_mutate_config_init(struct nv_mutate_config *c, struct nv_error *err)
{
	struct nv_buf img = NV_BUF_INIT(256);
	int rc;

	nv_arena_use(nv_arena_in_use());
	memset(c, 0, sizeof(*c));
	if ((rc = nv_buf_addf(&img, err, "netvol-init:%s", nv_version())))
		goto out;
	if ((rc = set_str(&c->workspace_volume, DEFAULT_WORKSPACE, err)) ||
	    (rc = set_str(&c->env_name, DEFAULT_ENV, err)) ||
	    (rc = set_str(&c->restore.image, img.p, err)) ||
	    (rc = set_str(&c->restore.pull_policy, DEFAULT_PULL_POLICY, err)) ||
	    (rc = set_str(&c->restore.data_volume, DEFAULT_DATA_VOLUME, err)) ||
	    (rc = set_str(&c->restore.store_secret, DEFAULT_STORE_SECRET, err)))
		goto out;
out:
	nv_buf_release(&img);
	if (rc)
		nv_mutate_config_release(c);
	return rc;
}

void nv_mutate_config_release(struct nv_mutate_config *c)
{
	if (!c)
		return;
	nv_free(c->workspace_volume);
	nv_free(c->env_name);
	nv_free(c->restore.image);
	nv_free(c->restore.pull_policy);
	nv_free(c->restore.data_volume);
	nv_free(c->restore.store_secret);
	nv_free(c->restore.resources_json);
	memset(c, 0, sizeof(*c));
}

/* A Kubernetes object name usable as a volume/secret name: a DNS label
 * (lowercase alphanumerics and '-', 1..63, alphanumeric at both ends). */
static bool is_dns_label(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* A secret name: DNS subdomain (labels joined by '.', up to 253). */
static bool is_dns_subdomain(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 253)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.'))
			return false;
		if ((ch == '.' || ch == '-') && (i == 0 || i == n - 1))
			return false;
	}
	return true;
}

/* An env var name Kubernetes accepts: printable ASCII except '=', not empty. */
static bool is_env_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 256)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '=')
			return false;
	return true;
}

enum key_kind {
	K_WORKSPACE,
	K_ENV,
	K_ENABLED,
	K_IMAGE,
	K_PULL,
	K_DATA,
	K_SECRET,
	K_RUNAS,
	K_RES,
	K_PODID
};

static const struct cfg_key {
	const char *path;
	enum key_kind kind;
} cfg_keys[] = {
    {"workspaceVolume", K_WORKSPACE},	     {"envName", K_ENV},
    {"restoreSync.enabled", K_ENABLED},	     {"restoreSync.image", K_IMAGE},
    {"restoreSync.imagePullPolicy", K_PULL}, {"restoreSync.dataVolume", K_DATA},
    {"restoreSync.storeSecret", K_SECRET},   {"restoreSync.runAsUser", K_RUNAS},
    {"restoreSync.resources", K_RES},	     {"restoreSync.podIdFromPodName", K_PODID},
};

static const struct cfg_key *find_key(const char *path)
{
	size_t i;

	for (i = 0; i < NELEM(cfg_keys); i++)
		if (!strcmp(cfg_keys[i].path, path))
			return &cfg_keys[i];
	return NULL;
}

static int check_string(const char *path, enum key_kind kind, const char *v, struct nv_error *err)
{
	switch (kind) {
	case K_WORKSPACE:
	case K_DATA:
		if (!is_dns_label(v))
			return nv_error_set(err, NV_ECONFIG,
					    "%s '%.64s' is not a valid volume name (DNS label)",
					    path, v);
		break;
	case K_SECRET:
		if (!is_dns_subdomain(v))
			return nv_error_set(err, NV_ECONFIG,
					    "%s '%.64s' is not a valid secret name", path, v);
		break;
	case K_ENV:
		if (!is_env_name(v))
			return nv_error_set(err, NV_ECONFIG,
					    "%s '%.64s' is not a valid environment variable name",
					    path, v);
		break;
	case K_IMAGE:
		if (!*v || strlen(v) > 1024 || strpbrk(v, " \t\r\n"))
			return nv_error_set(err, NV_ECONFIG, "%s '%.64s' is not a valid image",
					    path, v);
		break;
	case K_PULL:
		if (strcmp(v, "Always") && strcmp(v, "IfNotPresent") && strcmp(v, "Never"))
			return nv_error_set(err, NV_ECONFIG,
					    "%s '%.64s': want Always, IfNotPresent or Never", path,
					    v);
		break;
	default:
		return nv_error_set(err, NV_ECONFIG, "%s is not a string setting", path);
	}
	return NV_OK;
}

static char **string_slot(struct nv_mutate_config *c, enum key_kind kind)
{
	switch (kind) {
	case K_WORKSPACE:
		return &c->workspace_volume;
	case K_ENV:
		return &c->env_name;
	case K_IMAGE:
		return &c->restore.image;
	case K_PULL:
		return &c->restore.pull_policy;
	case K_DATA:
		return &c->restore.data_volume;
	case K_SECRET:
		return &c->restore.store_secret;
	default:
		return NULL;
	}
}

/* Apply one JSON value to `out` (a scratch copy of the config). */
static int apply_value(struct nv_mutate_config *out, const struct cfg_key *k, const cJSON *v,
		       struct nv_error *err)
{
	char **slot;
	char *json;

	switch (k->kind) {
	case K_ENABLED:
		if (!cJSON_IsBool(v))
			return nv_error_set(err, NV_ECONFIG, "%s must be true or false", k->path);
		out->restore.enabled = cJSON_IsTrue(v);
		return NV_OK;
	case K_PODID:
		if (!cJSON_IsBool(v))
			return nv_error_set(err, NV_ECONFIG, "%s must be true or false", k->path);
		out->restore.pod_id_from_pod_name = cJSON_IsTrue(v);
		return NV_OK;
	case K_RUNAS:
		if (cJSON_IsNull(v)) {
			out->restore.run_as_user_set = false;
			return NV_OK;
		}
		if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > INT32_MAX ||
		    v->valuedouble != (double)(int64_t)v->valuedouble)
			return nv_error_set(err, NV_ECONFIG,
					    "%s must be null or a user id (0..2147483647)",
					    k->path);
		out->restore.run_as_user_set = true;
		out->restore.run_as_user = (int64_t)v->valuedouble;
		return NV_OK;
	case K_RES:
		if (cJSON_IsNull(v)) {
			nv_free(out->restore.resources_json);
			out->restore.resources_json = NULL;
			return NV_OK;
		}
		if (!cJSON_IsObject(v))
			return nv_error_set(err, NV_ECONFIG, "%s must be an object or null",
					    k->path);
		json = cJSON_PrintUnformatted(v);
		if (!json)
			return nv_error_set(err, NV_ENOMEM, "out of memory");
		nv_free(out->restore.resources_json);
		out->restore.resources_json = json;
		return NV_OK;
	default:
		break;
	}
	if (!cJSON_IsString(v))
		return nv_error_set(err, NV_ECONFIG, "%s must be a string", k->path);
	if (check_string(k->path, k->kind, v->valuestring, err))
		return err ? err->code : NV_ECONFIG;
	slot = string_slot(out, k->kind);
	return set_str(slot, v->valuestring, err);
}

static int dup_config(struct nv_mutate_config *dst, const struct nv_mutate_config *src,
		      struct nv_error *err)
{
	const struct nv_restore_config *r = &src->restore;
	int rc;

	memset(dst, 0, sizeof(*dst));
	dst->restore.enabled = r->enabled;
	dst->restore.run_as_user_set = r->run_as_user_set;
	dst->restore.run_as_user = r->run_as_user;
	dst->restore.pod_id_from_pod_name = r->pod_id_from_pod_name;
	if ((rc = set_str(&dst->workspace_volume, src->workspace_volume, err)) ||
	    (rc = set_str(&dst->env_name, src->env_name, err)) ||
	    (rc = set_str(&dst->restore.image, r->image, err)) ||
	    (rc = set_str(&dst->restore.pull_policy, r->pull_policy, err)) ||
	    (rc = set_str(&dst->restore.data_volume, r->data_volume, err)) ||
	    (rc = set_str(&dst->restore.store_secret, r->store_secret, err)) ||
	    (r->resources_json &&
	     (rc = set_str(&dst->restore.resources_json, r->resources_json, err)))) {
		nv_mutate_config_release(dst);
		return rc;
	}
	return NV_OK;
}

static int walk_config(struct nv_mutate_config *out, const cJSON *obj, const char *prefix,
		       const char *origin, struct nv_error *err)
{
	const cJSON *it;
	char path[128];
	int rc;

	cJSON_ArrayForEach(it, obj)
	{
		const struct cfg_key *k;

		snprintf(path, sizeof(path), "%s%s", prefix, it->string ? it->string : "");
		if (!prefix[0] && !strcmp(path, "restoreSync")) {
			if (!cJSON_IsObject(it))
				return nv_error_set(err, NV_ECONFIG,
						    "config '%s': restoreSync must be an object",
						    origin);
			if ((rc = walk_config(out, it, "restoreSync.", origin, err)))
				return rc;
			continue;
		}
		k = find_key(path);
		if (!k)
			return nv_error_set(err, NV_ECONFIG, "config '%s': unknown key '%.64s'",
					    origin, path);
		if ((rc = apply_value(out, k, it, err)))
			return nv_error_prefix(err, "config '%s'", origin);
	}
	return NV_OK;
}

int nv_mutate_config_parse(struct nv_mutate_config *c, const char *json, size_t len,
			   const char *origin, struct nv_error *err)
{
	struct nv_mutate_config tmp;
	cJSON *root = NULL;
	int rc;

	if ((rc = dup_config(&tmp, c, err)))
		return rc;
	root = cJSON_ParseWithLength(json, len);
	if (!root) {
		rc = nv_error_set(err, NV_ECONFIG, "config '%s': not valid JSON", origin);
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		rc = nv_error_set(err, NV_ECONFIG, "config '%s': must be a JSON object", origin);
		goto out;
	}
	if ((rc = walk_config(&tmp, root, "", origin, err)))
		goto out;
	nv_mutate_config_release(c);
	*c = tmp;
	memset(&tmp, 0, sizeof(tmp));
out:
	cJSON_Delete(root);
	nv_mutate_config_release(&tmp);
	return rc;
}

int nv_mutate_config_set(struct nv_mutate_config *c, const char *key, const char *value,
			 struct nv_error *err)
{
	const struct cfg_key *k = find_key(key);
	char **slot;
	int rc;

	if (!k || !(slot = string_slot(c, k->kind)))
		return nv_error_set(err, NV_ECONFIG, "'%s' is not a string setting", key);
	if ((rc = check_string(key, k->kind, value, err)))
		return rc;
	return set_str(slot, value, err);
}

int nv_mutate_config_check(const struct nv_mutate_config *c, struct nv_error *err)
{
	if (!strcmp(c->restore.data_volume, NV_MUTATE_CONFIG_RESERVED_VOLUME) ||
	    !strcmp(c->workspace_volume, NV_MUTATE_CONFIG_RESERVED_VOLUME))
		return nv_error_set(err, NV_ECONFIG, "volume name '%s' is reserved for netvol",
				    NV_MUTATE_CONFIG_RESERVED_VOLUME);
	if (!strcmp(c->env_name, "NETWORK_VOLUME"))
		return nv_error_set(err, NV_ECONFIG,
				    "envName may not be NETWORK_VOLUME (that is the pod storage "
				    "root the restore-sync injection sets)");
	return NV_OK;
}

/* ---- the mutation ----------------------------------------------------- */

int nv_mutate_config_read(struct nv_mutate_config *c, const char *path, struct nv_error *err)
{
	struct nv_buf b = NV_BUF_INIT(CONFIG_FILE_MAX);
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = NV_OK;
	ssize_t n;

	if (fd < 0)
		return nv_error_sys(err, NV_ECONFIG, errno, "cannot open config '%s'", path);
	while ((n = nv_fs_read_full(fd, chunk, sizeof(chunk))) > 0) {
		if ((rc = nv_buf_add(&b, chunk, (size_t)n, err))) {
			nv_error_prefix(err, "config '%s'", path);
			goto out;
		}
	}
	if (n < 0) {
		rc = nv_error_sys(err, NV_ECONFIG, errno, "cannot read config '%s'", path);
		goto out;
	}
	rc = nv_mutate_config_parse(c, b.p, b.len, path, err);
out:
	nv_fs_close(&fd);
	nv_buf_release(&b);
	return rc;
}
