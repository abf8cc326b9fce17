/* merge: the three-way merge of snapshot manifests (merge.h). */
#include "engine/merge.h"

#include <string.h>

#include "base/hash.h"
#include "base/mem.h"

void nv_merge_result_init(struct nv_merge_result *r)
{
	memset(r, 0, sizeof(*r));
	nv_buf_init(&r->conflict_paths, 1u << 20);
}

void nv_merge_result_release(struct nv_merge_result *r)
{
	nv_buf_release(&r->conflict_paths);
}

/* An entry with the manifest it belongs to. */
struct side {
	const struct nv_manifest *m;
	const struct nv_entry *e; /* NULL: absent */
};

/* A file's content entry: a hard link's target. */
static const struct nv_entry *content_of(const struct side *s)
{
	if (s->e->type == NV_ENT_HARDLINK && s->e->link_index < s->m->nentries)
		return &s->m->entries[s->e->link_index];
	return s->e;
}

static bool same(const struct side *a, const struct side *b)
{
	const struct nv_entry *x, *y;
	uint32_t k;

	if (!a->e || !b->e)
		return !a->e && !b->e;
	x = content_of(a);
	y = content_of(b);
	/* a folder's mtime moves with every file added to it: two folders
	 * are the same folder (their entries are merged one by one) */
	if (x->type == NV_ENT_DIR && y->type == NV_ENT_DIR)
		return true;
	if (x->type != y->type || x->mode != y->mode || x->mtime_sec != y->mtime_sec ||
	    x->mtime_nsec != y->mtime_nsec || x->size != y->size || x->nchunks != y->nchunks)
		return false;
	if (x->type == NV_ENT_SYMLINK)
		return x->link && y->link && !strcmp(x->link, y->link);
	for (k = 0; k < x->nchunks; k++)
		if (memcmp(a->m->chunks[x->first_chunk + k].hash,
			   b->m->chunks[y->first_chunk + k].hash, NV_HASH_LEN))
			return false;
	return true;
}

/* The entry of m at path (binary search: entries are in path order). */
static const struct nv_entry *find(const struct nv_manifest *m, const char *path)
{
	size_t lo = 0, hi = m ? m->nentries : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = nv_path_cmp(m->entries[mid].path, path);

		if (!d)
			return &m->entries[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Is a a proper ancestor of b? ("" is everyone's) */
static bool ancestor(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (!n)
		return *b != '\0';
	return !strncmp(a, b, n) && b[n] == '/';
}

struct merger {
	struct nv_manifest *out;
	struct nv_merge_result *res;
	struct nv_blob_map packs; /* pack id -> index in out */
	/* out's indexes of the kept entries that are ancestors of the current
	 * one, outermost first */
	size_t *stack;
	size_t nstack, stackcap;
	/* per side (ours, theirs): entry index -> out index, SIZE_MAX if not in out */
	const struct nv_manifest *sides[2];
	size_t *map[2];
};

static size_t *out_index_of(struct merger *g, const struct nv_manifest *m, size_t i)
{
	int k;

	for (k = 0; k < 2; k++)
		if (g->sides[k] == m && g->map[k])
			return &g->map[k][i];
	return NULL;
}

static const struct nv_entry *top(const struct merger *g)
{
	return &g->out->entries[g->stack[g->nstack - 1]];
}

static int conflict(struct merger *g, const char *path, struct nv_error *err)
{
	g->res->conflicts++;
	return nv_buf_add(&g->res->conflict_paths, path, strlen(path) + 1, err);
}

/* Append s's entry to out (a hard link as a file with its target's chunks). */
static int emit(struct merger *g, const struct side *s, struct nv_error *err)
{
	const struct nv_entry *c = content_of(s);
	struct nv_entry e = *s->e;
	uint32_t k;
	size_t idx;
	int rc;

	if (NV_GROW(g->stack, g->nstack, g->stackcap, 32))
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	if (e.type == NV_ENT_HARDLINK) {
		/* another name of a file in out from the same side: still a
		 * hard link; else a file of its own */
		size_t *t = out_index_of(g, s->m, s->e->link_index);

		if (t && *t != SIZE_MAX) {
			e.link_index = *t;
			e.first_chunk = g->out->nchunks;
			e.nchunks = 0;
			goto add;
		}
		e.type = NV_ENT_FILE;
		e.size = c->size;
	}
	e.link_index = 0;
	e.first_chunk = g->out->nchunks;
	e.nchunks = e.type == NV_ENT_FILE ? c->nchunks : 0;
	for (k = 0; k < e.nchunks; k++) {
		struct nv_chunk ch = s->m->chunks[c->first_chunk + k];
		const unsigned char *pid = s->m->packs[ch.pack];
		const struct nv_blob_loc *l = nv_blob_map_get(&g->packs, pid);
		struct nv_blob_loc v = {0, 0, 0, 0};

		if (!l) {
			if ((rc = nv_manifest_add_pack(g->out, pid, &v.pack, err)) ||
			    (rc = nv_blob_map_put(&g->packs, pid, &v, NULL, err)))
				return rc;
			l = &v;
		}
		ch.pack = l->pack;
		if ((rc = nv_manifest_add_chunk(g->out, &ch, err)))
			return rc;
	}
add:
	if ((rc = nv_manifest_add_entry(g->out, &e, &idx, err)))
		return rc;
	if (e.type == NV_ENT_FILE) {
		size_t *me = out_index_of(g, s->m, (size_t)(s->e - s->m->entries));

		if (me)
			*me = idx;
	}
	g->stack[g->nstack++] = idx;
	return NV_OK;
}

/* Keep s: close the finished subtrees, bring back missing parent
 * directories (ours first), or drop it when its parent is not a
 * directory. */
static int keep(struct merger *g, const struct side *s, const struct nv_manifest *ours,
		struct nv_error *err)
{
	const char *path = s->e->path;
	int rc;

	while (g->nstack && !ancestor(top(g)->path, path))
		g->nstack--;
	if (g->nstack && top(g)->type != NV_ENT_DIR)
		return conflict(g, path, err);
	for (;;) {
		struct side anc;
		char buf[NV_PATH_BUF];
		size_t n = 0;

		if (!g->nstack) {
			if (!*path)
				break; /* the root itself */
		} else {
			const char *have = top(g)->path;
			const char *rest = *have ? path + strlen(have) + 1 : path;
			const char *next = strchr(rest, '/');

			if (!next)
				break; /* its parent is open */
			n = (size_t)(next - path);
		}
		/* the nearest missing ancestor ("" when even the root is) */
		memcpy(buf, path, n);
		buf[n] = '\0';
		anc.m = ours;
		anc.e = find(ours, buf);
		if (!anc.e || anc.e->type != NV_ENT_DIR) {
			anc.m = s->m;
			anc.e = find(s->m, buf);
		}
		if (!anc.e || anc.e->type != NV_ENT_DIR)
			return conflict(g, path, err);
		if ((rc = emit(g, &anc, err)))
			return rc;
	}
	return emit(g, s, err);
}

/* The smallest path among the three current entries. */
static const char *next_path(const struct side *b, const struct side *o, const struct side *t)
{
	const char *p = NULL;
	const struct side *all[3] = {b, o, t};
	int i;

	for (i = 0; i < 3; i++)
		if (all[i]->e && (!p || nv_path_cmp(all[i]->e->path, p) < 0))
			p = all[i]->e->path;
	return p;
}

/* Advance a side past path; its entry at path (or absent) in *at. */
static void take(struct side *cur, size_t *i, const char *path, struct side *at)
{
	at->m = cur->m;
	at->e = NULL;
	if (cur->e && !nv_path_cmp(cur->e->path, path)) {
		at->e = cur->e;
		(*i)++;
		cur->e = *i < cur->m->nentries ? &cur->m->entries[*i] : NULL;
	}
}

static void start(struct side *s, const struct nv_manifest *m)
{
	s->m = m;
	s->e = m && m->nentries ? &m->entries[0] : NULL;
}

int nv_merge_manifests(const struct nv_manifest *base, const struct nv_manifest *ours,
		       const struct nv_manifest *theirs, struct nv_manifest *out,
		       struct nv_merge_result *res, struct nv_error *err)
{
	struct merger g = {out, res, {0}, NULL, 0, 0, {NULL, NULL}, {NULL, NULL}};
	struct side cb, co, ct;
	size_t ib = 0, io = 0, it = 0;
	int rc = NV_OK;

	nv_blob_map_init(&g.packs);
	g.sides[0] = ours;
	g.sides[1] = theirs;
	g.map[0] = nv_malloc((ours->nentries ? ours->nentries : 1) * sizeof(size_t));
	g.map[1] = nv_malloc((theirs->nentries ? theirs->nentries : 1) * sizeof(size_t));
	if (!g.map[0] || !g.map[1]) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	memset(g.map[0], 0xff, (ours->nentries ? ours->nentries : 1) * sizeof(size_t));
	memset(g.map[1], 0xff, (theirs->nentries ? theirs->nentries : 1) * sizeof(size_t));
	out->created = ours->created;
	out->dataset = nv_strdup(ours->dataset ? ours->dataset : "");
	if (!out->dataset) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	start(&cb, base);
	start(&co, ours);
	start(&ct, theirs);
	for (;;) {
		const char *path = next_path(&cb, &co, &ct);
		struct side b, o, t;
		char pbuf[NV_PATH_MAX + 1];

		if (!path)
			break;
		/* the cursors move: keep the path */
		if (strlen(path) > NV_PATH_MAX) {
			rc = nv_error_set(err, NV_ECORRUPT, "manifest path too long");
			goto out;
		}
		memcpy(pbuf, path, strlen(path) + 1);
		take(&cb, &ib, pbuf, &b);
		take(&co, &io, pbuf, &o);
		take(&ct, &it, pbuf, &t);
		if (same(&o, &t) || same(&t, &b)) {
			if (o.e && (rc = keep(&g, &o, ours, err)))
				goto out;
			res->from_ours += o.e != NULL;
		} else if (same(&o, &b)) {
			if (t.e && (rc = keep(&g, &t, ours, err)))
				goto out;
			res->from_theirs += t.e != NULL;
		} else {
			/* changed on both sides: ours; theirs is in HEAD's history */
			if ((rc = conflict(&g, pbuf, err)) ||
			    (o.e && (rc = keep(&g, &o, ours, err))))
				goto out;
			res->from_ours += o.e != NULL;
		}
	}
	rc = nv_manifest_compute_digest(out, err);
out:
	nv_blob_map_release(&g.packs);
	nv_free(g.stack);
	nv_free(g.map[0]);
	nv_free(g.map[1]);
	return rc;
}
