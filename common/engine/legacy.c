/* legacy: the planner of the legacy restore (pure; see legacy.h). */
#include "engine/legacy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

enum stype { S_TAR, S_ZIP, S_LOOSE, S_MULTI, S_SINGLE };

#define POD 1u	       /* below <POD_ID>/, pod-scoped datasets only */
#define NOT_COMFYUI 2u /* not for datasets in ComfyUI/ */

struct source {
	const char *key; /* object, or prefix (LOOSE, MULTI, SINGLE) */
	enum stype type;
	const char *base;   /* where the object's root goes, relative to NV */
	const char *covers; /* the datasets it can hold: this and below ("" = all) */
	unsigned flags;
	const char *name;    /* for logs */
	const char *exclude; /* below the dataset, not restored */
};

/* In LEGACY.md's order: the first that has objects for a dataset wins. */
static const struct source sources[] = {
    {"shared/venv_chunks/", S_MULTI, "venv", "venv", 0, "venv_chunks", NULL},
    {"shared/venv_chunks/", S_SINGLE, "venv/comfyui", "venv", 0, "venv_chunks_single", NULL},
    {"shared/venv.tar.gz", S_TAR, "", "venv", 0, "venv.tar.gz", NULL},
    {"shared/venv/", S_LOOSE, "venv", "venv", 0, "loose", NULL},
    {"shared/venv.zip", S_ZIP, "venv", "venv", 0, "venv.zip", NULL},
    {"shared/_comfyui.tar.gz", S_TAR, "", ".comfyui", 0, "_comfyui.tar.gz", NULL},
    {"shared/.comfyui.tar.gz", S_TAR, "", ".comfyui", 0, ".comfyui.tar.gz", NULL},
    {"shared/.comfyui/", S_LOOSE, ".comfyui", ".comfyui", 0, "loose", NULL},
    {"shared/.comfyui.zip", S_ZIP, ".comfyui", ".comfyui", 0, ".comfyui.zip", NULL},
    {"shared/_cache.tar.gz", S_TAR, "", ".cache", 0, "_cache.tar.gz", "aws/"},
    {"ComfyUI/shared/custom_nodes.tar.gz", S_TAR, "ComfyUI", "ComfyUI/custom_nodes", 0,
     "custom_nodes.tar.gz", NULL},
    {"shared/custom_nodes.tar.gz", S_TAR, "ComfyUI", "ComfyUI/custom_nodes", 0,
     "shared/custom_nodes.tar.gz", NULL},
    {"ComfyUI/shared/custom_nodes/", S_LOOSE, "ComfyUI/custom_nodes", "ComfyUI/custom_nodes", 0,
     "loose", NULL},
    {"ComfyUI/shared/custom_nodes.zip", S_ZIP, "ComfyUI/custom_nodes", "ComfyUI/custom_nodes", 0,
     "custom_nodes.zip", NULL},
    {"comfyui_pod_specific_data.tar.gz", S_TAR, "ComfyUI", "ComfyUI", POD,
     "comfyui_pod_specific_data.tar.gz", NULL},
    {"ComfyUI/", S_LOOSE, "ComfyUI", "ComfyUI", POD, "loose", NULL},
    {"other_pod_specific_data.tar.gz", S_TAR, "", "", POD | NOT_COMFYUI,
     "other_pod_specific_data.tar.gz", NULL},
};
#define NSOURCES (sizeof(sources) / sizeof(sources[0]))

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (!n)
		return true;
	return !strncmp(path, dir, n) && (path[n] == '/' || path[n] == '\0');
}

static bool applies(const struct source *s, const struct nv_dataset *ds, const char *pod_id)
{
	if ((s->flags & POD) && (ds->scope != NV_SCOPE_POD || !pod_id))
		return false;
	if ((s->flags & NOT_COMFYUI) && under(ds->path, "ComfyUI"))
		return false;
	return under(ds->path, s->covers);
}

/* Members of an object rooted at base (relative to NV) that belong to
 * dataset d: those below *strip, placed at *dest. 1 = none can. */
static int map_for(const char *base, const char *d, struct nv_buf *strip, struct nv_buf *dest,
		   struct nv_error *err)
{
	size_t bl = strlen(base), dl = strlen(d);
	int rc = NV_OK;

	nv_buf_reset(strip);
	nv_buf_reset(dest);
	if (!strcmp(base, d))
		return NV_OK;
	if (!bl)
		rc = nv_buf_addf(strip, err, "%s/", d);
	else if (dl > bl && !strncmp(d, base, bl) && d[bl] == '/')
		rc = nv_buf_addf(strip, err, "%s/", d + bl + 1);
	else if (bl > dl && !strncmp(base, d, dl) && base[dl] == '/')
		rc = nv_buf_addf(dest, err, "%s/", base + dl + 1);
	else
		return 1;
	return rc;
}

static int full_key(const struct source *s, const char *pod_id, struct nv_buf *out,
		    struct nv_error *err)
{
	nv_buf_reset(out);
	if (s->flags & POD)
		return nv_buf_addf(out, err, "%s/%s", pod_id, s->key);
	return nv_buf_addstr(out, s->key, err);
}

void nv_legacy_probes_free(struct nv_legacy_probe *p, size_t n)
{
	size_t i;

	for (i = 0; p && i < n; i++)
		nv_free(p[i].key);
	nv_free(p);
}

int nv_legacy_probes(const struct nv_dataset *ds, const char *pod_id, struct nv_legacy_probe **out,
		     size_t *n, struct nv_error *err)
{
	struct nv_legacy_probe *p = nv_calloc(NSOURCES, sizeof(*p));
	struct nv_buf k = NV_BUF_INIT(4096);
	size_t i, j, np = 0;
	int rc = NV_OK;

	*out = NULL;
	*n = 0;
	if (!p)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	for (i = 0; i < NSOURCES; i++) {
		const struct source *s = &sources[i];
		bool prefix = s->type == S_LOOSE || s->type == S_MULTI || s->type == S_SINGLE;
		bool dup = false;

		if (!applies(s, ds, pod_id))
			continue;
		if ((rc = full_key(s, pod_id, &k, err)))
			goto out;
		for (j = 0; j < np; j++)
			dup |= !strcmp(p[j].key, k.p);
		if (dup)
			continue;
		p[np].prefix = prefix;
		if (!(p[np].key = nv_buf_detach(&k, NULL))) {
			rc = nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
		np++;
	}
out:
	nv_buf_release(&k);
	if (rc) {
		nv_legacy_probes_free(p, np);
		return rc;
	}
	*out = p;
	*n = np;
	return NV_OK;
}

void nv_legacy_plan_init(struct nv_legacy_plan *p)
{
	memset(p, 0, sizeof(*p));
}

void nv_legacy_plan_release(struct nv_legacy_plan *p)
{
	size_t i;

	for (i = 0; i < p->nobjs; i++) {
		nv_free(p->objs[i].key);
		nv_free(p->objs[i].strip);
		nv_free(p->objs[i].dest);
		nv_free(p->objs[i].venv);
	}
	nv_free(p->objs);
	nv_legacy_plan_init(p);
}

static char *dupstr(const char *s, size_t n)
{
	char *d = nv_malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

static int add_obj(struct nv_legacy_plan *p, const char *key, uint64_t size,
		   enum nv_legacy_kind kind, const char *strip, const char *dest, const char *venv,
		   struct nv_legacy_obj **out, struct nv_error *err)
{
	struct nv_legacy_obj *o;

	if (!p->nobjs || (p->nobjs >= 8 && !(p->nobjs & (p->nobjs - 1)))) {
		size_t cap = p->nobjs ? p->nobjs * 2 : 8;
		struct nv_legacy_obj *n = nv_realloc(p->objs, cap * sizeof(*n));

		if (!n)
			return nv_error_set(err, NV_ENOMEM, "out of memory");
		p->objs = n;
	}
	o = &p->objs[p->nobjs];
	memset(o, 0, sizeof(*o));
	o->size = size;
	o->kind = kind;
	o->key = dupstr(key, strlen(key));
	o->strip = dupstr(strip, strlen(strip));
	o->dest = dupstr(dest, strlen(dest));
	o->venv = venv ? dupstr(venv, strlen(venv)) : NULL;
	p->nobjs++;
	if (!o->key || !o->strip || !o->dest || (venv && !o->venv))
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	if (kind != NV_LEGACY_SUMS)
		p->bytes += size;
	if (out)
		*out = o;
	return NV_OK;
}

/* "venv_chunk_<n>.tar.gz" -> n (> 0), else 0. */
static uint64_t chunk_number(const char *name)
{
	static const char pre[] = "venv_chunk_", suf[] = ".tar.gz";
	size_t n = strlen(name), pl = sizeof(pre) - 1, sl = sizeof(suf) - 1;
	uint64_t v;

	if (n <= pl + sl || strncmp(name, pre, pl) || strcmp(name + n - sl, suf))
		return 0;
	if (name[pl] == '0' ||
	    nv_str_to_u64((struct nv_str){name + pl, n - pl - sl}, 1, 1000000, &v))
		return 0;
	return v;
}

static int chunk_cmp(const void *a, const void *b)
{
	const struct nv_legacy_obj *x = a, *y = b;
	const char *bx = strrchr(x->key, '/'), *by = strrchr(y->key, '/');
	int c = strcmp(x->venv ? x->venv : "", y->venv ? y->venv : "");
	uint64_t nx, ny;

	if (c)
		return c;
	if (x->first != y->first)
		return x->first ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind == NV_LEGACY_SUMS ? -1 : y->kind == NV_LEGACY_SUMS ? 1 : 0;
	nx = chunk_number(bx ? bx + 1 : x->key);
	ny = chunk_number(by ? by + 1 : y->key);
	return nx < ny ? -1 : nx > ny;
}

static bool safe_name(const char *s, size_t n)
{
	size_t i;

	if (!n || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '/' || s[i] == 0x7f)
			return false;
	return true;
}

/* One file of a venv chunk folder: name is the venv ("comfyui" for the
 * single-venv folder). */
static int plan_chunk_file(struct nv_legacy_plan *p, const struct nv_dataset *ds, const char *venv,
			   size_t vlen, const char *file, const struct nv_legacy_key *k,
			   struct nv_buf *strip, struct nv_buf *dest, struct nv_error *err)
{
	struct nv_buf base = NV_BUF_INIT(4096), vdir = NV_BUF_INIT(4096);
	struct nv_legacy_obj *o = NULL;
	enum nv_legacy_kind kind;
	bool first = false;
	int rc;

	if (chunk_number(file))
		kind = NV_LEGACY_TAR;
	else if (!strcmp(file, "venv_other_folders.zip"))
		kind = NV_LEGACY_ZIP, first = true;
	else if (!strcmp(file, "venv_chunks.checksums"))
		kind = NV_LEGACY_SUMS;
	else
		return NV_OK; /* source.checksum and anything else: no data */
	if ((rc = nv_buf_addf(&base, err, "venv/%.*s", (int)vlen, venv)))
		goto out;
	rc = map_for(base.p, ds->path, strip, dest, err);
	if (rc == 1) {
		rc = NV_OK;
		goto out;
	}
	if (rc)
		goto out;
	if (strip->len) {
		/* a dataset inside one venv (venv/comfyui/lib...): not supported */
		rc = NV_OK;
		goto out;
	}
	if ((rc = nv_buf_add(&vdir, dest->p, dest->len ? dest->len - 1 : 0, err)))
		goto out;
	if ((rc = add_obj(p, k->key, k->size, kind, "", dest->p, vdir.p, &o, err)))
		goto out;
	o->chunk = kind == NV_LEGACY_TAR;
	o->first = first;
out:
	nv_buf_release(&base);
	nv_buf_release(&vdir);
	return rc;
}

static int plan_source(const struct source *s, const struct nv_dataset *ds, const char *pod_id,
		       const struct nv_legacy_key *keys, size_t nkeys, struct nv_legacy_plan *p,
		       struct nv_error *err)
{
	struct nv_buf key = NV_BUF_INIT(4096), strip = NV_BUF_INIT(4096), dest = NV_BUF_INIT(4096),
		      file = NV_BUF_INIT(8192);
	size_t i, kl;
	int rc;

	if ((rc = full_key(s, pod_id, &key, err)))
		goto out;
	kl = key.len;
	if (s->type == S_TAR || s->type == S_ZIP) {
		rc = map_for(s->base, ds->path, &strip, &dest, err);
		if (rc == 1) {
			rc = NV_OK;
			goto out;
		}
		for (i = 0; !rc && i < nkeys; i++) {
			struct nv_legacy_obj *o = NULL;

			if (strcmp(keys[i].key, key.p))
				continue;
			rc = add_obj(p, key.p, keys[i].size,
				     s->type == S_TAR ? NV_LEGACY_TAR : NV_LEGACY_ZIP, strip.p,
				     dest.p, NULL, &o, err);
			/* the exclusion is relative to the dataset; only for the
			 * dataset the source covers exactly */
			if (!rc && s->exclude && !strcmp(ds->path, s->covers))
				o->exclude = s->exclude;
			/* venv.tar.gz / venv.zip of one venv, not one folder per
			 * venv: the first member tells (nv_legacy_member_is_venv_root) */
			if (!rc && !strcmp(s->covers, "venv") && !strcmp(ds->path, "venv"))
				o->one_venv_probe = true;
		}
		goto out;
	}
	/* loose shared/venv/ of one venv (pyvenv.cfg right below it): that is
	 * venv/comfyui, as in the single-venv chunk folder */
	bool one_venv = false;

	if (s->type == S_LOOSE && !strcmp(s->covers, "venv") && !strcmp(ds->path, "venv"))
		for (i = 0; i < nkeys; i++)
			one_venv |= !strncmp(keys[i].key, key.p, kl) &&
				    !strcmp(keys[i].key + kl, "pyvenv.cfg");
	for (i = 0; i < nkeys; i++) {
		const char *k = keys[i].key, *rest, *slash;

		if (strncmp(k, key.p, kl))
			continue;
		rest = k + kl;
		slash = strchr(rest, '/');
		if (s->type == S_MULTI) {
			if (!slash || strchr(slash + 1, '/') || !safe_name(rest, slash - rest))
				continue;
			rc = plan_chunk_file(p, ds, rest, (size_t)(slash - rest), slash + 1,
					     &keys[i], &strip, &dest, err);
		} else if (s->type == S_SINGLE) {
			if (slash)
				continue;
			rc = plan_chunk_file(p, ds, "comfyui", 7, rest, &keys[i], &strip, &dest,
					     err);
		} else { /* S_LOOSE: rest is the file's path below base */
			size_t rl = strlen(rest);

			if (!rl || rest[rl - 1] == '/')
				continue; /* folder markers */
			rc = map_for(s->base, ds->path, &strip, &dest, err);
			if (rc == 1) {
				rc = NV_OK;
				break;
			}
			if (rc)
				break;
			if (strip.len && (rl <= strip.len || strncmp(rest, strip.p, strip.len)))
				continue;
			nv_buf_reset(&file);
			if ((rc = nv_buf_addf(&file, err, "%s%s%s", one_venv ? "comfyui/" : "",
					      dest.p, rest + strip.len)) ||
			    (rc = add_obj(p, k, keys[i].size, NV_LEGACY_FILE, "", file.p, NULL,
					  NULL, err)))
				break;
		}
		if (rc)
			break;
	}
	if (!rc && p->nobjs && (s->type == S_MULTI || s->type == S_SINGLE))
		qsort(p->objs, p->nobjs, sizeof(*p->objs), chunk_cmp);
	/* a chunk folder with only a checksum file holds nothing */
	if (!rc && (s->type == S_MULTI || s->type == S_SINGLE)) {
		bool data = false;

		for (i = 0; i < p->nobjs; i++)
			data |= p->objs[i].kind != NV_LEGACY_SUMS;
		if (!data)
			nv_legacy_plan_release(p);
	}
out:
	nv_buf_release(&key);
	nv_buf_release(&strip);
	nv_buf_release(&dest);
	nv_buf_release(&file);
	return rc;
}

/* Loose objects at a path the dataset excludes (a nested dataset, models)
 * are not its data. (Archive members are filtered while extracting.) */
static void drop_excluded(const struct nv_dataset *ds, struct nv_legacy_plan *p)
{
	size_t i, k = 0;

	for (i = 0; i < p->nobjs; i++) {
		struct nv_legacy_obj *o = &p->objs[i];

		if (o->kind == NV_LEGACY_FILE && nv_dataset_excludes(ds, o->dest)) {
			p->bytes -= o->size;
			nv_free(o->key);
			nv_free(o->strip);
			nv_free(o->dest);
			nv_free(o->venv);
			continue;
		}
		p->objs[k++] = *o;
	}
	p->nobjs = k;
}

int nv_legacy_plan(const struct nv_dataset *ds, const char *pod_id,
		   const struct nv_legacy_key *keys, size_t nkeys, struct nv_legacy_plan *p,
		   struct nv_error *err)
{
	size_t i;
	int rc;

	nv_legacy_plan_init(p);
	for (i = 0; i < NSOURCES; i++) {
		if (!applies(&sources[i], ds, pod_id))
			continue;
		if ((rc = plan_source(&sources[i], ds, pod_id, keys, nkeys, p, err))) {
			nv_legacy_plan_release(p);
			return rc;
		}
		drop_excluded(ds, p);
		if (p->nobjs) {
			p->source = sources[i].name;
			return NV_OK;
		}
	}
	return NV_OK;
}

static bool same_dir(const char *a, const char *b)
{
	const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
	size_t la = sa ? (size_t)(sa - a) : 0, lb = sb ? (size_t)(sb - b) : 0;

	return la == lb && !strncmp(a, b, la);
}

static const char *basename_of(const char *k)
{
	const char *s = strrchr(k, '/');

	return s ? s + 1 : k;
}

int nv_legacy_plan_sums(struct nv_legacy_plan *p, size_t i, const char *data, size_t len,
			struct nv_error *err)
{
	const struct nv_legacy_obj *sums = &p->objs[i];
	const char *q = data, *end = data + len;
	size_t j;

	for (j = 0; j < p->nobjs; j++)
		if (p->objs[j].chunk && same_dir(p->objs[j].key, sums->key))
			p->objs[j].skip = true;
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);
		unsigned char sum[NV_HASH_LEN];
		bool found = false;
		const char *name;
		size_t nlen;

		if (n && q[n - 1] == '\r')
			n--;
		if (!n) {
			if (!nl)
				break;
			q = nl + 1;
			continue;
		}
		if (n < 66 || q[64] != ' ' || nv_hex_decode(q, 64, sum))
			return nv_error_set(err, NV_ECORRUPT,
					    "'%s': a line is not '<sha256> <name>'", sums->key);
		/* one space as the scripts wrote it; sha256sum's "  " and " *" too */
		name = q + 65;
		nlen = n - 65;
		while (nlen && (*name == ' ' || *name == '*'))
			name++, nlen--;
		for (j = 0; j < p->nobjs; j++) {
			struct nv_legacy_obj *o = &p->objs[j];
			const char *b = basename_of(o->key);

			if (!o->chunk || !same_dir(o->key, sums->key) || strlen(b) != nlen ||
			    memcmp(b, name, nlen))
				continue;
			memcpy(o->sum, sum, NV_HASH_LEN);
			o->has_sum = true;
			o->skip = false;
			found = true;
		}
		if (!found) {
			char nm[256];

			snprintf(nm, sizeof(nm), "%.*s", (int)(nlen < 200 ? nlen : 200), name);
			if (chunk_number(nm))
				return nv_error_set(
				    err, NV_ECORRUPT,
				    "'%s' lists '%s', which is missing from the store", sums->key,
				    nm);
		}
		if (!nl)
			break;
		q = nl + 1;
	}
	{
		size_t listed = 0;

		for (j = 0; j < p->nobjs; j++)
			listed += p->objs[j].chunk && !p->objs[j].skip &&
				  same_dir(p->objs[j].key, sums->key);
		if (!listed)
			return nv_error_set(err, NV_ECORRUPT, "'%s' lists none of the chunks",
					    sums->key);
	}
	for (j = 0; j < p->nobjs; j++) {
		struct nv_legacy_obj *o = &p->objs[j];

		if (o->chunk && o->skip && same_dir(o->key, sums->key)) {
			p->stale++;
			p->bytes -= o->size;
		}
	}
	return NV_OK;
}

bool nv_legacy_member_is_venv_root(const char *member)
{
	static const char *const roots[] = {"bin",     "lib",	     "lib64",	"include",
					    "share",   "pyvenv.cfg", "Scripts", "Lib",
					    "Include", "etc",	     "man"};
	size_t n = strcspn(member, "/"), i;

	for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (strlen(roots[i]) == n && !strncmp(member, roots[i], n))
			return true;
	return false;
}

static struct nv_str trim(const char *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\r'))
		n--;
	return (struct nv_str){p, n};
}

int nv_legacy_parse_pyvenv(const char *data, size_t len, struct nv_buf *home,
			   struct nv_buf *version, struct nv_error *err)
{
	const char *q = data, *end = data + len;
	bool have_version = false;
	int rc;

	nv_buf_reset(home);
	nv_buf_reset(version);
	while (q < end) {
		const char *nl = memchr(q, '\n', (size_t)(end - q));
		size_t n = nl ? (size_t)(nl - q) : (size_t)(end - q);
		const char *eq = memchr(q, '=', n);

		if (eq) {
			struct nv_str k = trim(q, (size_t)(eq - q));
			struct nv_str v = trim(eq + 1, n - (size_t)(eq - q) - 1);

			if (nv_str_eq(k, "home")) {
				nv_buf_reset(home);
				if ((rc = nv_buf_add(home, v.p, v.len, err)))
					return rc;
			} else if (nv_str_eq(k, "version") ||
				   (nv_str_eq(k, "version_info") && !have_version)) {
				have_version = nv_str_eq(k, "version");
				nv_buf_reset(version);
				if ((rc = nv_buf_add(version, v.p, v.len, err)))
					return rc;
			}
		}
		if (!nl)
			break;
		q = nl + 1;
	}
	return NV_OK;
}
