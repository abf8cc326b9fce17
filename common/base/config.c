#include "base/config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"

/* The shell scripts' scope (LEGACY.md): the shared folders, and the pod's
 * whole ComfyUI tree but models, custom_nodes (its own dataset, nested) and
 * .browser-session. */
static const char default_datasets[] =
    "venv,.comfyui,.cache,ComfyUI:pod:exclude=models|.browser-session,ComfyUI/custom_nodes";

const char *nv_scope_name(enum nv_scope s)
{
	switch (s) {
	case NV_SCOPE_SHARED:
		return "shared";
	case NV_SCOPE_USER:
		return "user";
	case NV_SCOPE_POD:
		return "pod";
	}
	return "?";
}

int nv_config_parse_duration_ms(const char *s, int64_t *out_ms)
{
	int64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return NV_EINVALID;
	while (*p) {
		char *end;
		unsigned long long v;
		int64_t mult;

		if (*p < '0' || *p > '9')
			return NV_EINVALID;
		errno = 0;
		v = strtoull(p, &end, 10);
		if (errno || v > (unsigned long long)INT64_MAX / 3600000)
			return NV_EINVALID;
		if (!strncmp(end, "ms", 2)) {
			mult = 1;
			end += 2;
		} else if (*end == 's' || *end == '\0') {
			mult = 1000;
			if (*end)
				end++;
		} else if (*end == 'm') {
			mult = 60000;
			end++;
		} else if (*end == 'h') {
			mult = 3600000;
			end++;
		} else {
			return NV_EINVALID;
		}
		if ((int64_t)v * mult > INT64_MAX - total)
			return NV_EINVALID;
		total += (int64_t)v * mult;
		if (end == p)
			return NV_EINVALID;
		/* a bare number must be the whole string */
		if (mult == 1000 && end[-1] != 's' && *end)
			return NV_EINVALID;
		p = end;
	}
	*out_ms = total;
	return NV_OK;
}

int nv_config_check_relpath(const char *path, struct nv_error *err)
{
	const char *p = path;

	if (!*path)
		return nv_error_set(err, NV_EINVALID, "empty path");
	if (*path == '/')
		return nv_error_set(err, NV_EINVALID, "path '%s' must be relative", path);
	if (strlen(path) > 1024)
		return nv_error_set(err, NV_EINVALID, "path too long");
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 0)
			return nv_error_set(err, NV_EINVALID, "path '%s' has an empty component",
					    path);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return nv_error_set(err, NV_EINVALID,
					    "path '%s' may not contain '.' or '..'", path);
		if (!slash)
			break;
		p = slash + 1;
		if (!*p)
			return nv_error_set(err, NV_EINVALID, "path '%s' ends with '/'", path);
	}
	return NV_OK;
}

void nv_config_free_datasets(struct nv_dataset *d, size_t n)
{
	size_t i, j;

	if (!d)
		return;
	for (i = 0; i < n; i++) {
		nv_free(d[i].path);
		for (j = 0; j < d[i].nexclude; j++)
			nv_free(d[i].exclude[j]);
		nv_free(d[i].exclude);
	}
	nv_free(d);
}

static bool is_inside(const char *a, const char *b)
{
	size_t n = strlen(b);

	return !strncmp(a, b, n) && (a[n] == '/' || a[n] == '\0');
}

bool nv_dataset_excludes(const struct nv_dataset *ds, const char *path)
{
	size_t i;

	for (i = 0; i < ds->nexclude; i++)
		if (is_inside(path, ds->exclude[i]))
			return true;
	return false;
}

static int add_exclude(struct nv_dataset *d, const char *p, size_t len, struct nv_error *err)
{
	char *x = nv_strndup(p, len);
	void *n;

	if (!x)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	n = nv_realloc(d->exclude, (d->nexclude + 1) * sizeof(*d->exclude));
	if (!n) {
		nv_free(x);
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	}
	d->exclude = n;
	d->exclude[d->nexclude++] = x;
	return NV_OK;
}

/* "models|.browser-session" (after "exclude=") into d's list. */
static int parse_excludes(struct nv_dataset *d, struct nv_str v, struct nv_error *err)
{
	const char *p = v.p, *end = v.p + v.len;
	size_t i;
	int rc;

	if (!v.len)
		return nv_error_set(err, NV_ECONFIG, "exclude= lists no path");
	while (p <= end) {
		const char *bar = memchr(p, '|', (size_t)(end - p));
		size_t n = bar ? (size_t)(bar - p) : (size_t)(end - p);

		struct nv_error pe = NV_ERROR_INIT;

		if ((rc = add_exclude(d, p, n, err)))
			return rc;
		if (nv_config_check_relpath(d->exclude[d->nexclude - 1], &pe))
			return nv_error_set(err, NV_ECONFIG, "excluded path '%.*s': %s", (int)n, p,
					    pe.msg);
		for (i = 0; i + 1 < d->nexclude; i++)
			if (is_inside(d->exclude[d->nexclude - 1], d->exclude[i]) ||
			    is_inside(d->exclude[i], d->exclude[d->nexclude - 1]))
				return nv_error_set(err, NV_ECONFIG,
						    "excluded paths '%s' and '%s' overlap",
						    d->exclude[i], d->exclude[d->nexclude - 1]);
		if (!bar)
			break;
		p = bar + 1;
	}
	d->nexclude_given = d->nexclude;
	return NV_OK;
}

/* One entry "path[:scope][:exclude=...]" (trimmed, not empty) into d. */
static int parse_entry(struct nv_dataset *d, const char *a, const char *b, struct nv_error *err)
{
	const char *colon = memchr(a, ':', (size_t)(b - a));
	const char *f = colon ? colon + 1 : b;
	bool has_scope = false, has_exclude = false;
	int rc;

	d->scope = NV_SCOPE_SHARED;
	d->path = nv_strndup(a, (size_t)((colon ? colon : b) - a));
	if (!d->path)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	if (nv_config_check_relpath(d->path, err))
		return err ? (err->code = NV_ECONFIG) : NV_ECONFIG;
	while (colon && f <= b) {
		const char *next = memchr(f, ':', (size_t)(b - f));
		struct nv_str o = {f, (size_t)((next ? next : b) - f)};

		if (nv_str_eq(o, "shared") || nv_str_eq(o, "user") || nv_str_eq(o, "pod")) {
			if (has_scope)
				return nv_error_set(err, NV_ECONFIG, "the scope is given twice");
			has_scope = true;
			d->scope = nv_str_eq(o, "shared") ? NV_SCOPE_SHARED
				   : nv_str_eq(o, "user") ? NV_SCOPE_USER
							  : NV_SCOPE_POD;
		} else if (o.len >= 8 && !memcmp(o.p, "exclude=", 8)) {
			if (has_exclude)
				return nv_error_set(err, NV_ECONFIG, "exclude= is given twice");
			has_exclude = true;
			if ((rc = parse_excludes(d, (struct nv_str){o.p + 8, o.len - 8}, err)))
				return rc;
		} else {
			return nv_error_set(err, NV_ECONFIG,
					    "unknown option '%.*s' (want a scope: shared, user or "
					    "pod, or exclude=path|path...)",
					    (int)o.len, o.p);
		}
		if (!next)
			break;
		f = next + 1;
	}
	return NV_OK;
}

static size_t depth_in(const struct nv_dataset *list, size_t n, const char *path)
{
	size_t i, d = 0;

	for (i = 0; i < n; i++)
		d += strcmp(list[i].path, path) && is_inside(path, list[i].path);
	return d;
}

/* Every dataset after the ones it is nested in (stable), each parent
 * excluding the datasets inside it. */
static int nest(struct nv_dataset *list, size_t n, struct nv_error *err)
{
	size_t i, j, placed = 0, d;
	int rc;

	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			const char *rel;

			if (i == j || !is_inside(list[j].path, list[i].path))
				continue;
			if (list[i].scope == NV_SCOPE_SHARED)
				return nv_error_set(err, NV_ECONFIG,
						    "dataset '%s' is inside '%s', which is shared "
						    "(linked whole from the network volume): make "
						    "'%s' user or pod",
						    list[j].path, list[i].path, list[i].path);
			rel = list[j].path + strlen(list[i].path) + 1;
			if (nv_dataset_excludes(&list[i], rel))
				continue;
			if ((rc = add_exclude(&list[i], rel, strlen(rel), err)))
				return rc;
		}
	/* a stable selection by nesting depth */
	for (d = 0; placed < n; d++)
		for (i = placed; i < n; i++) {
			if (depth_in(list, n, list[i].path) != d)
				continue;
			if (i != placed) {
				struct nv_dataset t = list[i];

				memmove(&list[placed + 1], &list[placed],
					(i - placed) * sizeof(*list));
				list[placed] = t;
			}
			placed++;
		}
	return NV_OK;
}

int nv_config_parse_datasets(const char *s, struct nv_dataset **out, size_t *n,
			     struct nv_error *err)
{
	struct nv_dataset *list = NULL;
	size_t count = 0, cap = 0, i;
	const char *p = s;
	int rc = NV_OK;

	while (*p) {
		const char *end = p + strcspn(p, ",\n");
		const char *a = p, *b = end;

		while (a < b && (*a == ' ' || *a == '\t' || *a == '\r'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r'))
			b--;
		p = *end ? end + 1 : end;
		if (a == b)
			continue;
		if (NV_GROW(list, count, cap, 8)) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
		memset(&list[count], 0, sizeof(list[count]));
		count++;
		if ((rc = parse_entry(&list[count - 1], a, b, err))) {
			nv_error_prefix(err, "entry '%.*s'", (int)(b - a), a);
			goto out;
		}
		for (i = 0; i + 1 < count; i++)
			if (!strcmp(list[i].path, list[count - 1].path)) {
				rc = nv_error_set(err, NV_ECONFIG, "dataset '%s' is listed twice",
						  list[i].path);
				goto out;
			}
	}
	if (count == 0) {
		rc = nv_error_set(err, NV_ECONFIG, "no dataset listed");
		goto out;
	}
	if ((rc = nest(list, count, err)))
		goto out;
	*out = list;
	*n = count;
	list = NULL;
	count = 0;
out:
	nv_config_free_datasets(list, count);
	return rc;
}

static const char *real_getenv(const char *name, void *ud)
{
	(void)ud;
	return getenv(name);
}

int nv_config_load(struct nv_config *cfg, struct nv_error *err)
{
	return nv_config_load_from(cfg, real_getenv, NULL, err);
}

struct loader {
	nv_env_fn env;
	void *ud;
	struct nv_error *err;
};

/* Non-empty value of a variable, or NULL. */
static const char *val(struct loader *l, const char *name)
{
	const char *v = l->env(name, l->ud);

	return v && *v ? v : NULL;
}

static int dup_var(struct loader *l, const char *name, char **dst)
{
	const char *v = val(l, name);

	*dst = NULL;
	if (!v)
		return NV_OK;
	*dst = nv_strdup(v);
	if (!*dst)
		return nv_error_set(l->err, NV_ENOMEM, "out of memory");
	return NV_OK;
}

static int dup_first(struct loader *l, const char *a, const char *b, char **dst)
{
	int rc = dup_var(l, a, dst);

	if (rc || *dst || !b)
		return rc;
	return dup_var(l, b, dst);
}

static int duration_var(struct loader *l, const char *name, int64_t def, int64_t min_ms,
			int64_t *out)
{
	const char *v = val(l, name);

	*out = def;
	if (!v)
		return NV_OK;
	if (nv_config_parse_duration_ms(v, out) || *out < min_ms)
		return nv_error_set(l->err, NV_ECONFIG,
				    "%s='%s' is not a valid duration (like 5, 5s, 250ms, 2m)", name,
				    v);
	return NV_OK;
}

static int int_var(struct loader *l, const char *name, int def, int min, int max, int *out)
{
	const char *v = val(l, name);
	uint64_t n;

	*out = def;
	if (!v)
		return NV_OK;
	if (nv_str_to_u64(nv_str_from(v), (uint64_t)min, (uint64_t)max, &n))
		return nv_error_set(l->err, NV_ECONFIG,
				    "%s='%s' must be a whole number from %d to %d", name, v, min,
				    max);
	*out = (int)n;
	return NV_OK;
}

static int check_abs_dir_var(struct loader *l, const char *name, char *v)
{
	if (v && v[0] != '/')
		return nv_error_set(l->err, NV_ECONFIG, "%s='%s' must be an absolute path", name,
				    v);
	return NV_OK;
}

static void strip_trailing_slashes(char *p)
{
	size_t n;

	if (!p)
		return;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		p[--n] = '\0';
}

/* var: the variable the URL came from (NETVOL_STORE, or AWS_BUCKET_NAME for
 * the default store), named in the message. */
static int check_store_url(struct loader *l, const char *u, const char *var)
{
	if (!strncmp(u, "s3://", 5)) {
		const char *b = u + 5;
		size_t bl = strcspn(b, "/");

		if (bl < 3 || bl > 63)
			return nv_error_set(l->err, NV_ECONFIG,
					    "%s: bucket name of '%s' must be 3 to 63 characters",
					    var, u);
		return NV_OK;
	}
	if (!strncmp(u, "file://", 7)) {
		if (u[7] != '/')
			return nv_error_set(
			    l->err, NV_ECONFIG,
			    "%s='%s': a file store needs an absolute path (file:///path)", var, u);
		return NV_OK;
	}
	return nv_error_set(l->err, NV_ECONFIG, "%s='%s': want s3://bucket/prefix or file:///path",
			    var, u);
}

/* NETVOL_LEGACY and NETVOL_LEGACY_STORE: where the shell scripts' objects
 * are (LEGACY.md). The root is <base>/<POD_USER_NAME>; without a user, a
 * base or with NETVOL_LEGACY=off it is NULL and legacy_off says why. */
static int load_legacy(struct loader *l, struct nv_config *cfg)
{
	struct nv_buf b = NV_BUF_INIT(4096);
	const char *v = val(l, "NETVOL_LEGACY"), *bucket = val(l, "AWS_BUCKET_NAME");
	int rc;

	cfg->legacy = true;
	if (v && !strcmp(v, "off")) {
		cfg->legacy = false;
		cfg->legacy_off = "NETVOL_LEGACY=off";
	} else if (v && strcmp(v, "auto")) {
		return nv_error_set(l->err, NV_ECONFIG, "NETVOL_LEGACY='%s': want auto or off", v);
	}
	if ((rc = dup_var(l, "NETVOL_LEGACY_STORE", &cfg->legacy_base)))
		return rc;
	if (!cfg->legacy_base && bucket) {
		if ((rc = nv_buf_addf(&b, l->err, "s3://%s/pod_sessions", bucket)))
			goto out;
		if (!(cfg->legacy_base = nv_buf_detach(&b, NULL))) {
			rc = nv_error_set(l->err, NV_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (cfg->legacy_base) {
		strip_trailing_slashes(cfg->legacy_base);
		if ((rc = check_store_url(l, cfg->legacy_base,
					  val(l, "NETVOL_LEGACY_STORE") ? "NETVOL_LEGACY_STORE"
									: "AWS_BUCKET_NAME")))
			goto out;
	}
	if (!cfg->legacy)
		goto out;
	if (!cfg->legacy_base) {
		cfg->legacy_off = "no NETVOL_LEGACY_STORE or AWS_BUCKET_NAME";
		goto out;
	}
	if (!cfg->pod_user) {
		cfg->legacy_off = "POD_USER_NAME is not set";
		goto out;
	}
	if ((rc = nv_buf_addf(&b, l->err, "%s/%s", cfg->legacy_base, cfg->pod_user)))
		goto out;
	if (!(cfg->legacy_root_url = nv_buf_detach(&b, NULL)))
		rc = nv_error_set(l->err, NV_ENOMEM, "out of memory");
out:
	nv_buf_release(&b);
	return rc;
}

static bool identity_byte(unsigned char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
		return true;
	return !first && (c == '.' || c == '@' || c == '+' || c == '-');
}

int nv_config_check_identity(const char *var, const char *v, struct nv_error *err)
{
	const char *why = NULL;
	char shown[48];
	size_t i, n;

	if (!v)
		return NV_OK;
	n = strlen(v);
	if (n == 0)
		return nv_error_set(err, NV_ECONFIG, "%s is set but empty: it must name the %s",
				    var, strcmp(var, "POD_ID") ? "user" : "pod");
	if (n > NV_IDENTITY_MAX)
		why = "longer than 128 bytes";
	else if (strstr(v, ".."))
		why = "contains '..'";
	for (i = 0; i < n && !why; i++)
		if (!identity_byte((unsigned char)v[i], i == 0))
			why = v[i] == '/' ? "contains '/'"
			      : (unsigned char)v[i] < 0x20 || v[i] == 0x7f
				  ? "contains a control character"
			      : identity_byte((unsigned char)v[i], false)
				  ? "must start with a letter, a digit or '_'"
				  : "has a byte outside [A-Za-z0-9._@+-]";
	if (!why)
		return NV_OK;
	/* what was given, printable and short: it may be hostile */
	for (i = 0; i < n && i < sizeof(shown) - 4; i++)
		shown[i] = (unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f ? '?' : v[i];
	if (i < n)
		shown[i++] = '.', shown[i++] = '.', shown[i++] = '.';
	shown[i] = '\0';
	return nv_error_set(
	    err, NV_ECONFIG,
	    "%s='%s' is not a valid identity (%s): want 1 to 128 bytes of "
	    "[A-Za-z0-9._@+-], starting with a letter, a digit or '_', without '..'",
	    var, shown, why);
}

/* An identity variable, checked as given (set but empty is an error). */
static int identity_var(struct loader *l, const char *name, char **dst)
{
	const char *v = l->env(name, l->ud);
	int rc;

	*dst = NULL;
	if (!v)
		return NV_OK;
	if ((rc = nv_config_check_identity(name, v, l->err)))
		return rc;
	return dup_var(l, name, dst);
}

int nv_config_load_from(struct nv_config *cfg, nv_env_fn env, void *ud, struct nv_error *err)
{
	struct loader l = {env, ud, err};
	const char *v;
	int rc, lvl;

	memset(cfg, 0, sizeof(*cfg));
	cfg->log_format = NV_LOG_TEXT;
	cfg->log_level = NV_LOG_INFO;

	if ((v = val(&l, "NETVOL_LOG_FORMAT"))) {
		lvl = nv_log_format_parse(v);
		if (lvl < 0) {
			rc = nv_error_set(err, NV_ECONFIG,
					  "NETVOL_LOG_FORMAT='%s': want text or json", v);
			goto out;
		}
		cfg->log_format = lvl;
	}
	if ((v = val(&l, "NETVOL_LOG_LEVEL"))) {
		lvl = nv_log_level_parse(v);
		if (lvl < 0) {
			rc = nv_error_set(err, NV_ECONFIG,
					  "NETVOL_LOG_LEVEL='%s': want debug, info, warn or error",
					  v);
			goto out;
		}
		cfg->log_level = lvl;
	}

	if ((rc = dup_var(&l, "NETWORK_VOLUME", &cfg->network_volume)) ||
	    (rc = check_abs_dir_var(&l, "NETWORK_VOLUME", cfg->network_volume)) ||
	    (rc = dup_var(&l, "_NETWORK_VOLUME", &cfg->shared_volume)) ||
	    (rc = check_abs_dir_var(&l, "_NETWORK_VOLUME", cfg->shared_volume)) ||
	    (rc = identity_var(&l, "POD_USER_NAME", &cfg->pod_user)) ||
	    (rc = identity_var(&l, "POD_ID", &cfg->pod_id)))
		goto out;
	strip_trailing_slashes(cfg->network_volume);
	strip_trailing_slashes(cfg->shared_volume);

	/* the base; the user root below it is made where the store is opened */
	if ((rc = dup_var(&l, "NETVOL_STORE", &cfg->store_base)))
		goto out;
	cfg->store_base_given = cfg->store_base != NULL;
	if (!cfg->store_base && (v = val(&l, "AWS_BUCKET_NAME"))) {
		struct nv_buf b = NV_BUF_INIT(4096);

		rc = nv_buf_addf(&b, err, "s3://%s/pod_sessions", v);
		if (rc) {
			nv_buf_release(&b);
			goto out;
		}
		cfg->store_base = nv_buf_detach(&b, NULL);
		if (!cfg->store_base) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (cfg->store_base &&
	    (rc = check_store_url(&l, cfg->store_base,
				  cfg->store_base_given ? "NETVOL_STORE" : "AWS_BUCKET_NAME")))
		goto out;

	if ((rc = load_legacy(&l, cfg)))
		goto out;

	if ((v = val(&l, "NETVOL_DATASETS"))) {
		rc = nv_config_parse_datasets(v, &cfg->datasets, &cfg->ndatasets, err);
		if (rc) {
			nv_error_prefix(err, "NETVOL_DATASETS");
			goto out;
		}
	} else if ((rc = nv_config_parse_datasets(default_datasets, &cfg->datasets, &cfg->ndatasets,
						  err))) {
		goto out;
	}

	if ((rc = duration_var(&l, "NETVOL_NV_TIMEOUT", 5000, 1, &cfg->nv_timeout_ms)) ||
	    (rc = duration_var(&l, "NETVOL_DEADLINE", 0, 1, &cfg->deadline_ms)) ||
	    (rc = duration_var(&l, "NETVOL_SYNC_INTERVAL", 300000, 1000, &cfg->sync_interval_ms)) ||
	    (rc = duration_var(&l, "NETVOL_PROGRESS_INTERVAL", 5000, 1,
			       &cfg->progress_interval_ms)) ||
	    (rc = int_var(&l, "NETVOL_PARALLEL", 16, 1, 256, &cfg->parallel)) ||
	    (rc = int_var(&l, "NETVOL_ZSTD_LEVEL", 3, 1, 19, &cfg->zstd_level)))
		goto out;

	/* AWS */
	if ((rc = dup_var(&l, "AWS_ACCESS_KEY_ID", &cfg->aws.access_key_id)) ||
	    (rc = dup_var(&l, "AWS_SECRET_ACCESS_KEY", &cfg->aws.secret_access_key)) ||
	    (rc = dup_var(&l, "AWS_SESSION_TOKEN", &cfg->aws.session_token)) ||
	    (rc = dup_first(&l, "AWS_REGION", "AWS_DEFAULT_REGION", &cfg->aws.region)) ||
	    (rc = dup_first(&l, "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL",
			    &cfg->aws.endpoint_url)) ||
	    (rc = dup_first(&l, "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL",
			    &cfg->aws.sts_endpoint_url)) ||
	    (rc = dup_var(&l, "AWS_WEB_IDENTITY_TOKEN_FILE", &cfg->aws.web_identity_token_file)) ||
	    (rc = dup_var(&l, "AWS_ROLE_ARN", &cfg->aws.role_arn)) ||
	    (rc = dup_var(&l, "AWS_ROLE_SESSION_NAME", &cfg->aws.role_session_name)) ||
	    (rc = dup_var(&l, "AWS_CONTAINER_CREDENTIALS_FULL_URI",
			  &cfg->aws.container_credentials_full_uri)) ||
	    (rc = dup_var(&l, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
			  &cfg->aws.container_authorization_token_file)) ||
	    (rc = dup_var(&l, "AWS_CONTAINER_AUTHORIZATION_TOKEN",
			  &cfg->aws.container_authorization_token)) ||
	    (rc = dup_var(&l, "AWS_CA_BUNDLE", &cfg->aws.ca_bundle)) ||
	    (rc = int_var(&l, "AWS_MAX_ATTEMPTS", 5, 1, 100, &cfg->aws.max_attempts)) ||
	    (rc = duration_var(&l, "NETVOL_S3_STALL_TIMEOUT", 30000, 1000,
			       &cfg->aws.stall_timeout_ms)))
		goto out;
	cfg->aws.region_set = cfg->aws.region != NULL;
	if (!cfg->aws.region && !(cfg->aws.region = nv_strdup("us-east-1"))) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	if (!cfg->aws.role_session_name && !(cfg->aws.role_session_name = nv_strdup("netvol"))) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	if ((cfg->aws.access_key_id != NULL) != (cfg->aws.secret_access_key != NULL)) {
		rc = nv_error_set(
		    err, NV_ECONFIG,
		    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
		goto out;
	}
	if ((cfg->aws.web_identity_token_file != NULL) != (cfg->aws.role_arn != NULL)) {
		rc = nv_error_set(
		    err, NV_ECONFIG,
		    "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must be set together");
		goto out;
	}
	if ((v = val(&l, "NETVOL_S3_ADDRESSING"))) {
		if (!strcmp(v, "path"))
			cfg->aws.addressing = NV_S3_PATH;
		else if (!strcmp(v, "virtual"))
			cfg->aws.addressing = NV_S3_VIRTUAL;
		else if (!strcmp(v, "auto"))
			cfg->aws.addressing = NV_S3_AUTO;
		else {
			rc = nv_error_set(err, NV_ECONFIG,
					  "NETVOL_S3_ADDRESSING='%s': want path, virtual or auto",
					  v);
			goto out;
		}
	}
	nv_log_add_secret(cfg->aws.secret_access_key);
	nv_log_add_secret(cfg->aws.session_token);
	nv_log_add_secret(cfg->aws.container_authorization_token);

	/* webhook */
	if ((rc = dup_var(&l, "NETVOL_TLS_CERT", &cfg->tls_cert)) ||
	    (rc = dup_var(&l, "NETVOL_TLS_KEY", &cfg->tls_key)) ||
	    (rc = dup_var(&l, "NETVOL_TERMINATION_LOG", &cfg->termination_log)))
		goto out;
	if (!cfg->termination_log && !(cfg->termination_log = nv_strdup("/dev/termination-log"))) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	return NV_OK;
out:
	nv_config_release(cfg);
	return rc;
}

int nv_config_require_volume(const struct nv_config *cfg, struct nv_error *err)
{
	if (!cfg->network_volume)
		return nv_error_set(err, NV_ECONFIG,
				    "NETWORK_VOLUME is not set: it must name the pod storage root");
	return NV_OK;
}

int nv_config_require_store(const struct nv_config *cfg, struct nv_error *err)
{
	if (!cfg->store_base)
		return nv_error_set(err, NV_ECONFIG,
				    "no store configured: set NETVOL_STORE (s3://bucket/prefix or "
				    "file:///path), or AWS_BUCKET_NAME");
	if (!cfg->pod_user)
		return nv_error_set(
		    err, NV_ECONFIG,
		    "POD_USER_NAME is not set: every user's data lives below their "
		    "own prefix of the store ('%s/<POD_USER_NAME>'), so netvol needs "
		    "to know the user",
		    cfg->store_base);
	return NV_OK;
}

void nv_config_release(struct nv_config *cfg)
{
	struct nv_aws_config *a = &cfg->aws;

	nv_free(cfg->network_volume);
	nv_free(cfg->shared_volume);
	nv_free(cfg->store_base);
	nv_free(cfg->legacy_base);
	nv_free(cfg->legacy_root_url);
	nv_free(cfg->pod_user);
	nv_free(cfg->pod_id);
	nv_config_free_datasets(cfg->datasets, cfg->ndatasets);
	nv_free(a->access_key_id);
	nv_free(a->secret_access_key);
	nv_free(a->session_token);
	nv_free(a->region);
	nv_free(a->endpoint_url);
	nv_free(a->sts_endpoint_url);
	nv_free(a->web_identity_token_file);
	nv_free(a->role_arn);
	nv_free(a->role_session_name);
	nv_free(a->container_credentials_full_uri);
	nv_free(a->container_authorization_token_file);
	nv_free(a->container_authorization_token);
	nv_free(a->ca_bundle);
	nv_free(cfg->tls_cert);
	nv_free(cfg->tls_key);
	nv_free(cfg->termination_log);
	memset(cfg, 0, sizeof(*cfg));
}
