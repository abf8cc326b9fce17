#include "mutate.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "jsonpatch.h"
#include "base/mem.h"

#define NETWORK_VOLUME_ENV "NETWORK_VOLUME"
#define POD_ID_ENV "POD_ID"
#define POD_USER_ENV "POD_USER_NAME"
/* At most this many "references an undefined variable" warnings a review. */
#define UNDEFINED_WARN_MAX 8
#define POINTER_MAX 4096
#define PATCH_MAX (64u << 20)

static const char *const prestop_command[] = {NV_MUTATE_BIN_PATH "/netvol", "sync"};
static const char *const restore_command[] = {"/netvol", "restore", "--install-to",
					      NV_MUTATE_INIT_BIN_PATH};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- small helpers ---------------------------------------------------- */

static cJSON *member(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static const char *member_str(const cJSON *obj, const char *key)
{
	cJSON *v = member(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void copy_field(char *dst, const char *src)
{
	snprintf(dst, NV_ADM_FIELD_MAX, "%s", src ? src : "");
}

const char *nv_admission_result_name(enum nv_admission_result r)
{
	static const char *const names[] = {"patched", "unchanged", "skipped", "error"};

	return (unsigned)r < NELEM(names) ? names[r] : "?";
}

void nv_admission_init(struct nv_admission *a)
{
	memset(a, 0, sizeof(*a));
	a->result = NV_ADM_ERROR;
	nv_buf_init(&a->response, PATCH_MAX);
	nv_buf_init(&a->patch, PATCH_MAX);
}

void nv_admission_release(struct nv_admission *a)
{
	if (!a)
		return;
	nv_buf_release(&a->response);
	nv_buf_release(&a->patch);
}

struct mctx {
	const struct nv_mutate_config *cfg;
	cJSON *spec;	 /* the pod's spec */
	cJSON *ops;	 /* the JSONPatch */
	cJSON *warnings; /* strings */
	bool oom;
	const char *ws;	   /* workspace volume name */
	const char *data;  /* data volume name (full injection) */
	bool full;	   /* full injection for this pod */
	cJSON *target;	   /* the container that gets the preStop hook */
	cJSON *data_mount; /* target's mount of the data volume */
	cJSON *ws_mount;   /* target's (else any container's) workspace mount */
	long long grace_s; /* spec.terminationGracePeriodSeconds, 0 = default */
	bool ws_found;	   /* some container mounts the workspace volume */
};

static void warn(struct mctx *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct mctx *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	cJSON *s;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s = cJSON_CreateString(msg);
	if (!s || !cJSON_AddItemToArray(m->warnings, s)) {
		cJSON_Delete(s);
		m->oom = true;
	}
}

/* Attach item to obj under key; on failure item is freed. */
static bool put(cJSON *obj, const char *key, cJSON *item)
{
	if (item && obj && cJSON_AddItemToObject(obj, key, item))
		return true;
	cJSON_Delete(item);
	return false;
}

/* Takes ownership of value. */
static void add_op(struct mctx *m, const struct nv_buf *path, cJSON *value)
{
	if (!nv_jsonpatch_add(m->ops, path->p, value))
		m->oom = true;
}

/* path = prefix + segments (NULL-terminated), each escaped. */
static int mkpath(struct mctx *m, struct nv_buf *path, const struct nv_buf *prefix, ...)
{
	va_list ap;
	int rc;

	va_start(ap, prefix);
	rc = nv_jsonpatch_vpath(path, prefix, ap);
	va_end(ap);
	if (rc)
		m->oom = true;
	return rc;
}

static cJSON *str_array(const char *const *v, size_t n)
{
	return cJSON_CreateStringArray(v, (int)n);
}

static const char *cname(const cJSON *c)
{
	const char *n = member_str(c, "name");

	return n ? n : "?";
}

static cJSON *find_mount(const cJSON *c, const char *vol)
{
	cJSON *mounts = member(c, "volumeMounts"), *it;

	if (!cJSON_IsArray(mounts))
		return NULL;
	cJSON_ArrayForEach(it, mounts)
	{
		const char *n = member_str(it, "name");

		if (n && !strcmp(n, vol) && member_str(it, "mountPath"))
			return it;
	}
	return NULL;
}

static cJSON *find_named(const cJSON *arr, const char *name)
{
	cJSON *it;

	if (!cJSON_IsArray(arr))
		return NULL;
	cJSON_ArrayForEach(it, arr)
	{
		const char *n = member_str(it, "name");

		if (n && !strcmp(n, name))
			return it;
	}
	return NULL;
}

static bool has_env(const cJSON *c, const char *name)
{
	return find_named(member(c, "env"), name) != NULL;
}

static cJSON *env_value(const char *name, const char *value)
{
	cJSON *e = cJSON_CreateObject();

	if (!e || !cJSON_AddStringToObject(e, "name", name) ||
	    !cJSON_AddStringToObject(e, "value", value)) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

/* Add `entries` (an array, owned) to a container's env: create the array
 * when there is none, else append each entry with /env/-. */
static void add_to_list(struct mctx *m, const struct nv_buf *prefix, cJSON *c, const char *key,
			cJSON *entries)
{
	struct nv_buf path = NV_BUF_INIT(POINTER_MAX);
	cJSON *list = member(c, key), *e;

	if (!entries) {
		m->oom = true;
		return;
	}
	if (cJSON_GetArraySize(entries) == 0) {
		cJSON_Delete(entries);
		return;
	}
	if (!list || cJSON_IsNull(list)) {
		if (!mkpath(m, &path, prefix, key, NULL))
			add_op(m, &path, entries);
		else
			cJSON_Delete(entries);
	} else if (cJSON_IsArray(list)) {
		if (!mkpath(m, &path, prefix, key, "-", NULL)) {
			while ((e = cJSON_DetachItemFromArray(entries, 0)))
				add_op(m, &path, e);
		}
		cJSON_Delete(entries);
	} else {
		warn(m, "container '%.63s': %s is not a list; left alone", cname(c), key);
		cJSON_Delete(entries);
	}
	nv_buf_release(&path);
}

static bool is_our_prestop(const cJSON *prestop)
{
	const cJSON *cmd = member(member(prestop, "exec"), "command"), *it;
	size_t i = 0;

	if (!cJSON_IsArray(cmd) || cJSON_GetArraySize(cmd) != (int)NELEM(prestop_command))
		return false;
	cJSON_ArrayForEach(it, cmd)
	{
		if (!cJSON_IsString(it) || strcmp(it->valuestring, prestop_command[i++]))
			return false;
	}
	return true;
}

static cJSON *prestop_value(void)
{
	cJSON *ps = cJSON_CreateObject(), *exec = cJSON_CreateObject();
	cJSON *cmd = str_array(prestop_command, NELEM(prestop_command));

	if (!ps || !exec) {
		cJSON_Delete(cmd);
		cJSON_Delete(exec);
		cJSON_Delete(ps);
		return NULL;
	}
	if (!put(exec, "command", cmd)) {
		cJSON_Delete(exec);
		cJSON_Delete(ps);
		return NULL;
	}
	if (!put(ps, "exec", exec)) {
		cJSON_Delete(ps);
		return NULL;
	}
	return ps;
}

/* Wrap `v` as {key: v}; v is consumed. */
static cJSON *wrap(const char *key, cJSON *v)
{
	cJSON *o;

	if (!v)
		return NULL;
	o = cJSON_CreateObject();
	if (!o || !cJSON_AddItemToObject(o, key, v)) {
		cJSON_Delete(o);
		cJSON_Delete(v);
		return NULL;
	}
	return o;
}

/* How long the preStop sync may run in a pod with this grace period:
 * 10 s of margin for the kubelet, or a third of a short grace period. */
static long long deadline_for(long long grace_s)
{
	if (grace_s <= 0)
		grace_s = 30; /* the Kubernetes default */
	return grace_s > 30 ? grace_s - 10 : grace_s * 2 / 3 > 1 ? grace_s * 2 / 3 : 1;
}

/* POD_ID from the downward API: valueFrom.fieldRef.fieldPath. */
static cJSON *pod_id_env(void)
{
	cJSON *e = cJSON_CreateObject();

	if (!e || !cJSON_AddStringToObject(e, "name", POD_ID_ENV) ||
	    !put(e, "valueFrom",
		 wrap("fieldRef", wrap("fieldPath", cJSON_CreateString("metadata.name"))))) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

/* Does the container take env from ConfigMaps or Secrets? */
static bool has_env_from(const cJSON *c)
{
	const cJSON *from = member(c, "envFrom");

	return cJSON_IsArray(from) && cJSON_GetArraySize(from) > 0;
}

/* Does the container already take its env from this secret? */
static bool has_secret_env_from(const cJSON *c, const char *secret)
{
	const cJSON *from = member(c, "envFrom"), *it;

	if (!cJSON_IsArray(from))
		return false;
	cJSON_ArrayForEach(it, from)
	{
		const char *name = member_str(member(it, "secretRef"), "name");

		if (name && !strcmp(name, secret))
			return true;
	}
	return false;
}

static void target_ops(struct mctx *m, const struct nv_buf *prefix, cJSON *c)
{
	struct nv_buf path = NV_BUF_INIT(POINTER_MAX);
	cJSON *lc = member(c, "lifecycle"), *mounts;

	/* the netvol binary for the preStop hook */
	if (!find_named(member(c, "volumeMounts"), NV_MUTATE_BIN_VOLUME)) {
		cJSON *mnt = cJSON_CreateObject();

		if (!mnt || !cJSON_AddStringToObject(mnt, "name", NV_MUTATE_BIN_VOLUME) ||
		    !cJSON_AddStringToObject(mnt, "mountPath", NV_MUTATE_BIN_PATH) ||
		    !cJSON_AddTrueToObject(mnt, "readOnly")) {
			cJSON_Delete(mnt);
			m->oom = true;
		} else {
			mounts = cJSON_CreateArray();
			if (mounts && !cJSON_AddItemToArray(mounts, mnt)) {
				cJSON_Delete(mounts);
				mounts = NULL;
			}
			if (!mounts)
				cJSON_Delete(mnt);
			add_to_list(m, prefix, c, "volumeMounts", mounts);
		}
	}

	/* the store settings for the preStop sync (the init container's too) */
	if (!has_secret_env_from(c, m->cfg->restore.store_secret)) {
		cJSON *from = cJSON_CreateArray();
		cJSON *ref = wrap("secretRef",
				  wrap("name", cJSON_CreateString(m->cfg->restore.store_secret)));

		if (!from || !ref || !cJSON_AddItemToArray(from, ref)) {
			cJSON_Delete(from);
			cJSON_Delete(ref);
			m->oom = true;
		} else {
			add_to_list(m, prefix, c, "envFrom", from);
		}
	}

	/* preStop: netvol sync */
	if (!lc || cJSON_IsNull(lc)) {
		if (!mkpath(m, &path, prefix, "lifecycle", NULL))
			add_op(m, &path, wrap("preStop", prestop_value()));
	} else if (!cJSON_IsObject(lc)) {
		warn(m, "container '%.63s': lifecycle is not an object; preStop sync not added",
		     cname(c));
	} else {
		cJSON *ps = member(lc, "preStop");

		if (!ps || cJSON_IsNull(ps)) {
			if (!mkpath(m, &path, prefix, "lifecycle", "preStop", NULL))
				add_op(m, &path, prestop_value());
		} else if (!is_our_prestop(ps)) {
			warn(m,
			     "container '%.63s' already has a preStop hook: 'netvol sync' not "
			     "added, "
			     "data is not saved when the pod stops",
			     cname(c));
		}
	}
	nv_buf_release(&path);
}

/* restore and sync take the pod's identity from the target container's
 * own settings (the platform's): say what is missing. */
static void warn_identity(struct mctx *m, const cJSON *c)
{
	const char *from = has_env_from(c) ? " in env (its envFrom may)" : "";

	if (!has_env(c, POD_USER_ENV))
		warn(m,
		     "container '%.63s' sets no POD_USER_NAME%s: every store key is scoped by the "
		     "user, netvol restore and sync will exit 2; set POD_USER_NAME on it",
		     cname(c), from);
	if (!has_env(c, POD_ID_ENV) && !m->cfg->restore.pod_id_from_pod_name)
		warn(m,
		     "container '%.63s' sets no POD_ID%s: netvol restore will exit 2 for "
		     "pod-scoped datasets; set POD_ID or restoreSync.podIdFromPodName",
		     cname(c), from);
}

/* The env, mount and hook operations of one container. */
static void container_ops(struct mctx *m, const char *list, int idx, cJSON *c)
{
	const struct nv_buf noprefix = NV_BUF_INIT(0);
	struct nv_buf prefix = NV_BUF_INIT(POINTER_MAX);
	char num[24];
	cJSON *mount, *env;

	if (!cJSON_IsObject(c))
		return;
	snprintf(num, sizeof(num), "%d", idx);
	if (mkpath(m, &prefix, &noprefix, "spec", list, num, NULL))
		goto out;
	env = cJSON_CreateArray();
	if (!env) {
		m->oom = true;
		goto out;
	}
	mount = find_mount(c, m->ws);
	if (mount) {
		m->ws_found = true;
		if (!has_env(c, m->cfg->env_name)) {
			cJSON *e = env_value(m->cfg->env_name, member_str(mount, "mountPath"));

			if (!e || !cJSON_AddItemToArray(env, e)) {
				cJSON_Delete(e);
				m->oom = true;
			}
		}
	}
	if (m->full && c == m->target && !has_env(c, NETWORK_VOLUME_ENV)) {
		cJSON *e = env_value(NETWORK_VOLUME_ENV, member_str(m->data_mount, "mountPath"));

		if (!e || !cJSON_AddItemToArray(env, e)) {
			cJSON_Delete(e);
			m->oom = true;
		}
	}
	if (m->full && c == m->target && !has_env(c, "NETVOL_DEADLINE")) {
		/* the preStop sync must end before the kubelet kills the pod */
		char d[32];
		cJSON *e;

		snprintf(d, sizeof(d), "%llds", (long long)deadline_for(m->grace_s));
		e = env_value("NETVOL_DEADLINE", d);
		if (!e || !cJSON_AddItemToArray(env, e)) {
			cJSON_Delete(e);
			m->oom = true;
		}
	}
	if (m->full && c == m->target && !has_env(c, POD_ID_ENV) &&
	    m->cfg->restore.pod_id_from_pod_name) {
		/* the admin's choice: the pod's name is its POD_ID */
		cJSON *e = pod_id_env();

		if (!e || !cJSON_AddItemToArray(env, e)) {
			cJSON_Delete(e);
			m->oom = true;
		}
	}
	if (m->full && c == m->target)
		warn_identity(m, c);
	add_to_list(m, &prefix, c, "env", env);
	if (m->full && c == m->target)
		target_ops(m, &prefix, c);
out:
	nv_buf_release(&prefix);
}

/* A mount like `like` (same mountPath, subPath, subPathExpr) of volume `vol`. */
static cJSON *mount_like(const char *vol, const cJSON *like)
{
	static const char *const keep[] = {"mountPath", "subPath", "subPathExpr"};
	cJSON *mnt = cJSON_CreateObject();
	size_t i;

	if (!mnt || !cJSON_AddStringToObject(mnt, "name", vol))
		goto fail;
	for (i = 0; i < NELEM(keep); i++) {
		const char *v = member_str(like, keep[i]);

		if (v && !cJSON_AddStringToObject(mnt, keep[i], v))
			goto fail;
	}
	return mnt;
fail:
	cJSON_Delete(mnt);
	return NULL;
}

static bool push(cJSON *arr, cJSON *item)
{
	if (item && cJSON_AddItemToArray(arr, item))
		return true;
	cJSON_Delete(item);
	return false;
}

/* ---- the restore container's identity: the target's own settings ----- */

/* Env entries of the target that the init container always gets: who the
 * pod is, where its storage is, which store and how to reach it. */
static bool is_identity_env(const char *name)
{
	return !strcmp(name, NETWORK_VOLUME_ENV) || !strcmp(name, POD_USER_ENV) ||
	       !strcmp(name, POD_ID_ENV) || !strcmp(name, "AWS_BUCKET_NAME") ||
	       !strncmp(name, "NETVOL_", 7) || !strncmp(name, "AWS_", 4);
}

/* The next $(NAME) in *pos that Kubernetes expands (its expansion rules:
 * "$$" is a literal '$', "$(" without a ')' is literal, "$()" names
 * nothing). Moves *pos past it. */
static bool next_ref(const char **pos, struct nv_str *name)
{
	const char *p = *pos, *close;

	for (; *p; p++) {
		if (p[0] != '$' || !p[1])
			continue;
		if (p[1] == '$') {
			p++;
			continue;
		}
		if (p[1] != '(')
			continue;
		close = strchr(p + 2, ')');
		if (!close)
			break; /* no reference can be complete after this */
		if (close > p + 2) {
			name->p = p + 2;
			name->len = (size_t)(close - (p + 2));
			*pos = close + 1;
			return true;
		}
		p = close;
	}
	*pos = p;
	return false;
}

/* One named env entry of the target container. */
struct tenv {
	const char *name;
	const cJSON *item;
	bool sel; /* the init container gets it */
};

/* Choosing the target's env entries for the init container: by name, then
 * every variable a chosen value or a copied subPathExpr references. */
struct envsel {
	struct mctx *m;
	struct tenv *ent;	  /* in the target's order */
	struct tenv **byname;	  /* the same, sorted by name (then order) */
	const struct tenv **work; /* chosen, value not scanned yet (a queue) */
	size_t n, head, tail;
	struct nv_str warned[UNDEFINED_WARN_MAX]; /* undefined names warned about */
	size_t nwarned;
};

static int tenv_cmp(const void *a, const void *b)
{
	const struct tenv *x = *(const struct tenv *const *)a;
	const struct tenv *y = *(const struct tenv *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x > y) - (x < y);
}

/* Like strcmp(name, s) for a name that is not NUL-terminated. */
static int name_cmp(struct nv_str name, const char *s)
{
	size_t n = strlen(s);
	int c = memcmp(name.p, s, name.len < n ? name.len : n);

	return c ? c : (name.len > n) - (name.len < n);
}

/* Choose every entry called `name`; false when the target defines none. */
static bool choose(struct envsel *e, struct nv_str name)
{
	size_t lo = 0, hi = e->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (name_cmp(name, e->byname[mid]->name) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == e->n || name_cmp(name, e->byname[lo]->name))
		return false;
	if (e->byname[lo]->sel)
		return true; /* a name is always chosen as a whole */
	for (; lo < e->n && !name_cmp(name, e->byname[lo]->name); lo++) {
		e->byname[lo]->sel = true;
		e->work[e->tail++] = e->byname[lo];
	}
	return true;
}

static void undefined_ref(struct envsel *e, struct nv_str name, const char *where)
{
	size_t i;

	for (i = 0; i < e->nwarned; i++)
		if (e->warned[i].len == name.len && !memcmp(e->warned[i].p, name.p, name.len))
			return;
	if (e->nwarned == UNDEFINED_WARN_MAX)
		return;
	e->warned[e->nwarned++] = name;
	warn(e->m,
	     "restore-sync: container '%.63s' does not define $(%.*s)%s, referenced by %s; "
	     "netvol-restore gets the same reference and cannot resolve it either",
	     cname(e->m->target), name.len > 63 ? 63 : (int)name.len, name.p,
	     has_env_from(e->m->target) ? " in env (its envFrom may)" : "", where);
}

static void scan_refs(struct envsel *e, const char *s, const char *where)
{
	struct nv_str name;

	while (next_ref(&s, &name))
		if (!choose(e, name))
			undefined_ref(e, name, where);
}

static void mount_refs(struct envsel *e, const cJSON *mount)
{
	const char *expr = member_str(mount, "subPathExpr");
	char where[128];

	if (!expr)
		return;
	snprintf(where, sizeof(where), "the subPathExpr of its mount of '%.63s'",
		 member_str(mount, "name"));
	scan_refs(e, expr, where);
}

/* Does the init container mount the workspace volume (besides the data)? */
static bool ws_mount_copied(const struct mctx *m)
{
	return m->ws_mount &&
	       strcmp(member_str(m->ws_mount, "mountPath"), member_str(m->data_mount, "mountPath"));
}

/* The init container's env: the target's own entries for NETWORK_VOLUME,
 * POD_USER_NAME, POD_ID, AWS_BUCKET_NAME, NETVOL_* and AWS_*, and every
 * variable these values or the copied subPathExprs reference (transitively),
 * copied verbatim in the target's order (Kubernetes expands only variables
 * defined earlier in the list); then what the webhook adds to the target:
 * NETWORK_VOLUME (the data mount's path) when the target has none,
 * _NETWORK_VOLUME, and POD_ID from metadata.name when the admin asked for it.
 * So restore and the preStop sync see one identity. NULL when out of memory. */
static cJSON *restore_env(struct mctx *m)
{
	struct envsel e = {.m = m};
	const cJSON *tenv = member(m->target, "env"), *it;
	cJSON *env = cJSON_CreateArray();
	int n = cJSON_IsArray(tenv) ? cJSON_GetArraySize(tenv) : 0;
	char where[96];
	size_t i;

	if (!env)
		return NULL;
	if (n > 0) {
		e.ent = nv_calloc((size_t)n, sizeof(*e.ent));
		e.byname = nv_calloc((size_t)n, sizeof(*e.byname));
		e.work = nv_calloc((size_t)n, sizeof(*e.work));
		if (!e.ent || !e.byname || !e.work)
			goto fail;
		cJSON_ArrayForEach(it, tenv)
		{
			const char *name = member_str(it, "name");

			if (!name)
				continue;
			e.ent[e.n].name = name;
			e.ent[e.n].item = it;
			e.byname[e.n] = &e.ent[e.n];
			e.n++;
		}
		qsort(e.byname, e.n, sizeof(*e.byname), tenv_cmp);
	}

	/* by name, then what the copied mounts and the chosen values reference */
	for (i = 0; i < e.n; i++)
		if (!e.ent[i].sel && is_identity_env(e.ent[i].name))
			choose(&e, nv_str_from(e.ent[i].name));
	mount_refs(&e, m->data_mount);
	if (ws_mount_copied(m))
		mount_refs(&e, m->ws_mount);
	while (e.head < e.tail) {
		const struct tenv *t = e.work[e.head++];
		const char *v = member_str(t->item, "value");

		if (v) {
			snprintf(where, sizeof(where), "its env '%.63s'", t->name);
			scan_refs(&e, v, where);
		}
	}
	for (i = 0; i < e.n; i++)
		if (e.ent[i].sel && !push(env, cJSON_Duplicate(e.ent[i].item, 1)))
			goto fail;

	/* what the webhook gives the target too */
	if (!has_env(m->target, NETWORK_VOLUME_ENV) &&
	    !push(env, env_value(NETWORK_VOLUME_ENV, member_str(m->data_mount, "mountPath"))))
		goto fail;
	if (m->ws_mount && !find_named(env, m->cfg->env_name) &&
	    !push(env, env_value(m->cfg->env_name, member_str(m->ws_mount, "mountPath"))))
		goto fail;
	if (m->cfg->restore.pod_id_from_pod_name && !has_env(m->target, POD_ID_ENV) &&
	    !push(env, pod_id_env()))
		goto fail;
	goto out;
fail:
	cJSON_Delete(env);
	env = NULL;
out:
	nv_free(e.ent);
	nv_free(e.byname);
	nv_free(e.work);
	return env;
}

/* The init container's envFrom: the target's own entries (a ConfigMap with
 * the identity reaches the restore), verbatim and in order, then the store
 * Secret unless the target already names it. NULL when out of memory. */
static cJSON *restore_env_from(struct mctx *m)
{
	const char *secret = m->cfg->restore.store_secret;
	const cJSON *from = member(m->target, "envFrom"), *it;
	cJSON *list = cJSON_CreateArray();

	if (!list)
		return NULL;
	if (cJSON_IsArray(from)) {
		cJSON_ArrayForEach(it, from)
		{
			if (cJSON_IsObject(it) && !push(list, cJSON_Duplicate(it, 1)))
				goto fail;
		}
	}
	if (!has_secret_env_from(m->target, secret) &&
	    !push(list, wrap("secretRef", wrap("name", cJSON_CreateString(secret)))))
		goto fail;
	return list;
fail:
	cJSON_Delete(list);
	return NULL;
}

static bool is_set(const cJSON *v)
{
	return v && !cJSON_IsNull(v);
}

/* The init container runs as the user and group of the target container,
 * so the files it restores are ComfyUI's: the target's runAsUser,
 * runAsGroup and runAsNonRoot are copied; what the pod's securityContext
 * sets applies by itself; restoreSync.runAsUser only when neither the
 * target nor the pod sets runAsUser. Adds nothing when nothing is needed. */
static bool restore_security(struct mctx *m, cJSON *c)
{
	static const char *const keys[] = {"runAsUser", "runAsGroup", "runAsNonRoot"};
	const cJSON *tsc = member(m->target, "securityContext");
	const cJSON *psc = member(m->spec, "securityContext");
	const struct nv_restore_config *r = &m->cfg->restore;
	cJSON *sc = cJSON_CreateObject(), *v;
	bool fallback = false;
	size_t i;

	if (!sc)
		return false;
	for (i = 0; i < NELEM(keys); i++) {
		v = member(tsc, keys[i]);
		if (is_set(v)) {
			v = cJSON_Duplicate(v, 1);
		} else if (i == 0 && r->run_as_user_set && !is_set(member(psc, keys[i]))) {
			v = cJSON_CreateNumber((double)r->run_as_user);
			fallback = true;
		} else {
			continue;
		}
		if (!put(sc, keys[i], v)) {
			cJSON_Delete(sc);
			return false;
		}
	}
	if (fallback && r->run_as_user == 0 &&
	    (cJSON_IsTrue(member(tsc, "runAsNonRoot")) ||
	     cJSON_IsTrue(member(psc, "runAsNonRoot"))))
		warn(m,
		     "restore-sync: restoreSync.runAsUser is 0 but container '%.63s' or the pod "
		     "sets runAsNonRoot: the kubelet will not start netvol-restore; set runAsUser "
		     "on the container or the pod",
		     cname(m->target));
	if (!sc->child) {
		cJSON_Delete(sc);
		return true;
	}
	return put(c, "securityContext", sc);
}

static cJSON *restore_container(struct mctx *m)
{
	const struct nv_restore_config *r = &m->cfg->restore;
	cJSON *c = cJSON_CreateObject(), *mounts, *bin;
	bool ok;

	if (!c)
		return NULL;
	ok = cJSON_AddStringToObject(c, "name", NV_MUTATE_INIT_NAME) &&
	     cJSON_AddStringToObject(c, "image", r->image) &&
	     cJSON_AddStringToObject(c, "imagePullPolicy", r->pull_policy) &&
	     put(c, "command", str_array(restore_command, NELEM(restore_command))) &&
	     /* restore's summary line (or its log tail) in `kubectl describe pod` */
	     cJSON_AddStringToObject(c, "terminationMessagePolicy", "FallbackToLogsOnError");
	if (!ok)
		goto fail;

	if (!put(c, "env", restore_env(m)) || !put(c, "envFrom", restore_env_from(m)))
		goto fail;

	mounts = cJSON_AddArrayToObject(c, "volumeMounts");
	bin = cJSON_CreateObject();
	if (!mounts || !bin || !cJSON_AddStringToObject(bin, "name", NV_MUTATE_BIN_VOLUME) ||
	    !cJSON_AddStringToObject(bin, "mountPath", NV_MUTATE_INIT_BIN_PATH)) {
		cJSON_Delete(bin);
		goto fail;
	}
	if (!push(mounts, bin) || !push(mounts, mount_like(m->data, m->data_mount)))
		goto fail;
	if (ws_mount_copied(m) && !push(mounts, mount_like(m->ws, m->ws_mount)))
		goto fail;

	if (r->resources_json) {
		cJSON *res = cJSON_Parse(r->resources_json);

		if (!put(c, "resources", res))
			goto fail;
	}
	if (!restore_security(m, c))
		goto fail;
	return c;
fail:
	cJSON_Delete(c);
	return NULL;
}

/* The pod-level operations of the full injection. */
static void pod_ops(struct mctx *m, cJSON *spec)
{
	const struct nv_buf noprefix = NV_BUF_INIT(0);
	struct nv_buf prefix = NV_BUF_INIT(POINTER_MAX);
	cJSON *list;

	if (mkpath(m, &prefix, &noprefix, "spec", NULL))
		goto out;
	if (!find_named(member(spec, "volumes"), NV_MUTATE_BIN_VOLUME)) {
		cJSON *vol = cJSON_CreateObject();

		if (!vol || !cJSON_AddStringToObject(vol, "name", NV_MUTATE_BIN_VOLUME) ||
		    !put(vol, "emptyDir", cJSON_CreateObject())) {
			cJSON_Delete(vol);
			m->oom = true;
			goto out;
		}
		list = cJSON_CreateArray();
		if (!push(list, vol)) {
			cJSON_Delete(list);
			list = NULL;
		}
		add_to_list(m, &prefix, spec, "volumes", list);
	}
	if (!find_named(member(spec, "initContainers"), NV_MUTATE_INIT_NAME)) {
		list = cJSON_CreateArray();
		if (!push(list, restore_container(m))) {
			cJSON_Delete(list);
			list = NULL;
		}
		add_to_list(m, &prefix, spec, "initContainers", list);
	}
out:
	nv_buf_release(&prefix);
}

/* Is the full injection on for this pod, and can it be done? */
static void plan_full(struct mctx *m, const cJSON *ann, cJSON *spec)
{
	const char *want = member_str(ann, NV_MUTATE_ANN_RESTORE);
	const char *tname = member_str(ann, NV_MUTATE_ANN_CONTAINER);
	cJSON *ctrs = member(spec, "containers"), *it;

	m->full = m->cfg->restore.enabled;
	if (want && !strcmp(want, "true"))
		m->full = true;
	else if (want && !strcmp(want, "false"))
		m->full = false;
	else if (want)
		warn(m, "annotation %s='%.32s' is not \"true\" or \"false\"; ignored",
		     NV_MUTATE_ANN_RESTORE, want);
	if (!m->full)
		return;
	m->data = member_str(ann, NV_MUTATE_ANN_DATA);
	if (!m->data)
		m->data = m->cfg->restore.data_volume;
	it = member(spec, "terminationGracePeriodSeconds");
	m->grace_s = cJSON_IsNumber(it) && it->valuedouble > 0 && it->valuedouble < 1e9
			 ? (long long)it->valuedouble
			 : 0;
	if (tname) {
		m->target = find_named(ctrs, tname);
		if (!m->target) {
			warn(m, "restore-sync: no container named '%.63s'; not injected", tname);
			m->full = false;
			return;
		}
	} else {
		m->target = cJSON_IsArray(ctrs) ? cJSON_GetArrayItem(ctrs, 0) : NULL;
		if (!cJSON_IsObject(m->target)) {
			m->full = false;
			return;
		}
	}
	m->data_mount = find_mount(m->target, m->data);
	if (!m->data_mount) {
		warn(m,
		     "restore-sync: container '%.63s' does not mount the data volume '%.63s'; not "
		     "injected",
		     cname(m->target), m->data);
		m->full = false;
		return;
	}
	if (!strcmp(m->data, NV_MUTATE_BIN_VOLUME)) {
		warn(m, "restore-sync: the data volume may not be '%s'; not injected",
		     NV_MUTATE_BIN_VOLUME);
		m->full = false;
		return;
	}
	m->ws_mount = find_mount(m->target, m->ws);
	if (!m->ws_mount) {
		cJSON_ArrayForEach(it, ctrs)
		{
			if ((m->ws_mount = find_mount(it, m->ws)))
				break;
		}
	}
}

static void mutate_pod(struct mctx *m, cJSON *pod)
{
	cJSON *meta = member(pod, "metadata"), *ann = member(meta, "annotations");
	cJSON *spec = member(pod, "spec"), *list, *it;
	int i;

	m->ws = member_str(ann, NV_MUTATE_ANN_WORKSPACE);
	if (!m->ws || !*m->ws)
		m->ws = m->cfg->workspace_volume;
	if (!cJSON_IsObject(spec)) {
		warn(m, "netvol: the pod has no spec; nothing injected");
		return;
	}
	m->spec = spec;
	plan_full(m, ann, spec);

	list = member(spec, "initContainers");
	if (!cJSON_IsArray(list))
		list = NULL;
	i = 0;
	cJSON_ArrayForEach(it, list)
	{
		container_ops(m, "initContainers", i++, it);
	}
	list = member(spec, "containers");
	if (!cJSON_IsArray(list))
		list = NULL;
	i = 0;
	cJSON_ArrayForEach(it, list)
	{
		container_ops(m, "containers", i++, it);
	}
	if (m->full)
		pod_ops(m, spec);
	if (!m->ws_found)
		warn(m, "netvol: no container mounts the workspace volume '%.63s'; %s not set",
		     m->ws, m->cfg->env_name);
}

static int bad(struct nv_error *err, const char *what)
{
	return nv_error_set(err, NV_EINVALID, "%s", what);
}

/* Build the response review into a->response. */
static int respond(struct mctx *m, const char *uid, struct nv_admission *a, struct nv_error *err)
{
	cJSON *root = cJSON_CreateObject(), *resp;
	char *out = NULL;
	struct nv_buf b64 = NV_BUF_INIT(PATCH_MAX);
	int rc = NV_OK;

	if (!root || !cJSON_AddStringToObject(root, "apiVersion", "admission.k8s.io/v1") ||
	    !cJSON_AddStringToObject(root, "kind", "AdmissionReview") ||
	    !(resp = cJSON_AddObjectToObject(root, "response")) ||
	    !cJSON_AddStringToObject(resp, "uid", uid) || !cJSON_AddTrueToObject(resp, "allowed"))
		goto oom;
	if (m->ops && cJSON_GetArraySize(m->ops) > 0) {
		if ((rc = nv_jsonpatch_encode(m->ops, &a->patch, &b64, err)))
			goto out;
		if (!cJSON_AddStringToObject(resp, "patchType", "JSONPatch") ||
		    !cJSON_AddStringToObject(resp, "patch", b64.p))
			goto oom;
		a->patch_ops = (size_t)cJSON_GetArraySize(m->ops);
	}
	if (m->warnings && cJSON_GetArraySize(m->warnings) > 0) {
		cJSON *w = cJSON_Duplicate(m->warnings, 1);

		if (!put(resp, "warnings", w))
			goto oom;
	}
	out = cJSON_PrintUnformatted(root);
	if (!out)
		goto oom;
	nv_buf_reset(&a->response);
	rc = nv_buf_addstr(&a->response, out, err);
	goto out;
oom:
	rc = nv_error_set(err, NV_ENOMEM, "out of memory building the admission response");
out:
	cJSON_free(out);
	cJSON_Delete(root);
	nv_buf_release(&b64);
	return rc;
}

int nv_mutate_review(const struct nv_mutate_config *c, const char *body, size_t len,
		     struct nv_admission *a, struct nv_error *err)
{
	struct mctx m = {.cfg = c};
	cJSON *root = NULL, *req, *kind, *pod, *meta;
	const char *s, *uid, *op, *k, *group, *version, *sub;
	int rc;

	a->result = NV_ADM_ERROR;
	a->patch_ops = 0;
	nv_buf_reset(&a->patch);
	nv_buf_reset(&a->response);
	nv_arena_begin();
	root = cJSON_ParseWithLength(body, len);
	if (!root) {
		/* cJSON cannot tell a parse error from a failed allocation */
		rc = bad(err, "request body is not valid JSON");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		rc = bad(err, "request body is not a JSON object");
		goto out;
	}
	s = member_str(root, "apiVersion");
	if (!s || strcmp(s, "admission.k8s.io/v1")) {
		rc = nv_error_set(err, NV_EINVALID, "apiVersion '%.64s' is not admission.k8s.io/v1",
				  s ? s : "(missing)");
		goto out;
	}
	s = member_str(root, "kind");
	if (!s || strcmp(s, "AdmissionReview")) {
		rc = nv_error_set(err, NV_EINVALID, "kind '%.64s' is not AdmissionReview",
				  s ? s : "(missing)");
		goto out;
	}
	req = member(root, "request");
	if (!cJSON_IsObject(req)) {
		rc = bad(err, "the review has no request object");
		goto out;
	}
	uid = member_str(req, "uid");
	if (!uid || !*uid) {
		rc = bad(err, "the request has no uid");
		goto out;
	}
	copy_field(a->uid, uid);
	copy_field(a->namespace, member_str(req, "namespace"));
	copy_field(a->name, member_str(req, "name"));
	a->dry_run = cJSON_IsTrue(member(req, "dryRun"));

	m.ops = cJSON_CreateArray();
	m.warnings = cJSON_CreateArray();
	if (!m.ops || !m.warnings) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}

	kind = member(req, "kind");
	k = member_str(kind, "kind");
	group = member_str(kind, "group");
	version = member_str(kind, "version");
	op = member_str(req, "operation");
	sub = member_str(req, "subResource");
	pod = member(req, "object");
	meta = member(pod, "metadata");
	if (!k || strcmp(k, "Pod") || (group && *group) || (version && strcmp(version, "v1")) ||
	    (sub && *sub)) {
		a->result = NV_ADM_SKIPPED;
		copy_field(a->reason, "not a pod");
	} else if (!op || strcmp(op, "CREATE")) {
		a->result = NV_ADM_SKIPPED;
		copy_field(a->reason, "not a create");
	} else if (!cJSON_IsObject(pod)) {
		a->result = NV_ADM_SKIPPED;
		copy_field(a->reason, "no pod object");
		warn(&m, "netvol: the request has no pod object; nothing injected");
	} else {
		const char *inject = member_str(member(meta, "annotations"), NV_MUTATE_ANN_INJECT);

		if (!a->name[0])
			copy_field(a->name, member_str(meta, "name"));
		if (!a->name[0])
			copy_field(a->name, member_str(meta, "generateName"));
		if (!a->namespace[0])
			copy_field(a->namespace, member_str(meta, "namespace"));
		if (inject && !strcmp(inject, "false")) {
			a->result = NV_ADM_SKIPPED;
			copy_field(a->reason, "opted out");
		} else {
			mutate_pod(&m, pod);
			a->result = NV_ADM_UNCHANGED;
		}
	}
	if (m.oom) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory building the patch");
		goto out;
	}
	if ((rc = respond(&m, uid, a, err)))
		goto out;
	if (a->patch_ops)
		a->result = NV_ADM_PATCHED;
out:
	if (rc)
		a->result = NV_ADM_ERROR;
	cJSON_Delete(m.ops);
	cJSON_Delete(m.warnings);
	cJSON_Delete(root);
	nv_arena_end();
	return rc;
}
