#include "engine/snapshot.h"

#include <string.h>
#include <zstd.h>

#include "base/mem.h"

/* ---- HEAD ---- */

int nv_head_encode(const unsigned char id[NV_HASH_LEN], struct nv_buf *out, struct nv_error *err)
{
	char hex[NV_HASH_HEX];

	nv_hex_encode(id, NV_HASH_LEN, hex);
	return nv_buf_addf(out, err, "%s%s\n", NV_HEAD_MAGIC, hex);
}

int nv_head_decode(const char *data, size_t len, unsigned char id[NV_HASH_LEN],
		   struct nv_error *err)
{
	size_t ml = strlen(NV_HEAD_MAGIC);

	if (len < ml || memcmp(data, NV_HEAD_MAGIC, ml))
		return nv_error_set(err, NV_ECORRUPT, "HEAD has an unknown format or version");
	if (len != ml + 2 * NV_HASH_LEN + 1 || data[len - 1] != '\n' ||
	    nv_hex_decode(data + ml, 2 * NV_HASH_LEN, id))
		return nv_error_set(err, NV_ECORRUPT, "HEAD is malformed");
	return NV_OK;
}

/* ---- little-endian and varint helpers ---- */

struct rd {
	const unsigned char *p, *end;
	bool bad;
};

static int put_varint(struct nv_buf *b, uint64_t v, struct nv_error *err)
{
	unsigned char t[10];
	size_t n = 0;

	do {
		t[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	return nv_buf_add(b, t, n, err);
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static uint64_t get_varint(struct rd *r)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (!r->bad) {
		unsigned char c;

		if (r->p >= r->end || shift > 63) {
			r->bad = true;
			break;
		}
		c = *r->p++;
		if (shift == 63 && (c & 0x7e)) {
			r->bad = true;
			break;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
		shift += 7;
	}
	return 0;
}

static const unsigned char *get_bytes(struct rd *r, size_t n)
{
	const unsigned char *p = r->p;

	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		return NULL;
	}
	r->p += n;
	return p;
}

static size_t remaining(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

static void put_le64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- pack index ---- */

#define IDX_REC (NV_HASH_LEN + 8 + 4 + 4)

int nv_idx_encode(const struct nv_idx_entry *e, size_t n, struct nv_buf *out, struct nv_error *err)
{
	unsigned char rec[IDX_REC], sum[NV_HASH_LEN];
	size_t start = out->len, i;
	int rc;

	if ((rc = nv_buf_add(out, NV_IDX_MAGIC, NV_MAGIC_LEN, err)))
		return rc;
	put_le64(rec, n);
	if ((rc = nv_buf_add(out, rec, 8, err)))
		return rc;
	for (i = 0; i < n; i++) {
		memcpy(rec, e[i].hash, NV_HASH_LEN);
		put_le64(rec + NV_HASH_LEN, e[i].off);
		put_le64(rec + NV_HASH_LEN + 8, (uint64_t)e[i].clen | (uint64_t)e[i].ulen << 32);
		if ((rc = nv_buf_add(out, rec, IDX_REC, err)))
			return rc;
	}
	nv_sha256(out->p + start, out->len - start, sum);
	return nv_buf_add(out, sum, NV_HASH_LEN, err);
}

int nv_idx_decode(const void *data, size_t len, struct nv_idx_entry **out, size_t *n,
		  struct nv_error *err)
{
	const unsigned char *p = data;
	unsigned char sum[NV_HASH_LEN];
	struct nv_idx_entry *e;
	uint64_t count, i;

	*out = NULL;
	*n = 0;
	if (len < NV_MAGIC_LEN + 8 + NV_HASH_LEN || memcmp(p, NV_IDX_MAGIC, NV_MAGIC_LEN))
		return nv_error_set(err, NV_ECORRUPT,
				    "pack index has an unknown format or version");
	nv_sha256(p, len - NV_HASH_LEN, sum);
	if (memcmp(sum, p + len - NV_HASH_LEN, NV_HASH_LEN))
		return nv_error_set(err, NV_ECORRUPT, "pack index checksum mismatch");
	count = get_le64(p + NV_MAGIC_LEN);
	if (count != (len - NV_MAGIC_LEN - 8 - NV_HASH_LEN) / IDX_REC ||
	    (len - NV_MAGIC_LEN - 8 - NV_HASH_LEN) % IDX_REC)
		return nv_error_set(err, NV_ECORRUPT, "pack index length does not match its count");
	e = nv_calloc(count ? count : 1, sizeof(*e));
	if (!e)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	p += NV_MAGIC_LEN + 8;
	for (i = 0; i < count; i++, p += IDX_REC) {
		uint64_t lens = get_le64(p + NV_HASH_LEN + 8);

		memcpy(e[i].hash, p, NV_HASH_LEN);
		e[i].off = get_le64(p + NV_HASH_LEN);
		e[i].clen = (uint32_t)lens;
		e[i].ulen = (uint32_t)(lens >> 32);
		if (e[i].off < NV_MAGIC_LEN || !e[i].clen || e[i].ulen > NV_BLOB_SIZE ||
		    e[i].clen > ZSTD_compressBound(NV_BLOB_SIZE)) {
			nv_free(e);
			return nv_error_set(err, NV_ECORRUPT, "pack index entry %llu is invalid",
					    (unsigned long long)i);
		}
	}
	*out = e;
	*n = (size_t)count;
	return NV_OK;
}

/* ---- manifests ---- */

void nv_manifest_init(struct nv_manifest *m)
{
	memset(m, 0, sizeof(*m));
}

void nv_manifest_release(struct nv_manifest *m)
{
	if (!m)
		return;
	nv_mem_pool_release(&m->strings);
	nv_free(m->entries);
	nv_free(m->chunks);
	nv_free(m->packs);
	nv_free(m->dataset);
	memset(m, 0, sizeof(*m));
}

static int grow_array(void **arr, size_t *cap, size_t need, size_t elem, struct nv_error *err)
{
	size_t nc;
	void *p;

	if (need <= *cap)
		return NV_OK;
	nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	if (nc > SIZE_MAX / elem)
		return nv_error_set(err, NV_ETOOBIG, "too many manifest items");
	p = nv_realloc(*arr, nc * elem);
	if (!p)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	*arr = p;
	*cap = nc;
	return NV_OK;
}

int nv_manifest_reserve(struct nv_manifest *m, size_t nentries, size_t nchunks,
			struct nv_error *err)
{
	int rc =
	    grow_array((void **)&m->entries, &m->entries_cap, nentries, sizeof(*m->entries), err);

	return rc ? rc
		  : grow_array((void **)&m->chunks, &m->chunks_cap, nchunks, sizeof(*m->chunks),
			       err);
}

static int add_entry(struct nv_manifest *m, const struct nv_entry *e, bool copy, size_t *idx,
		     struct nv_error *err)
{
	struct nv_entry *d;
	int rc;

	rc = grow_array((void **)&m->entries, &m->entries_cap, m->nentries + 1, sizeof(*d), err);
	if (rc)
		return rc;
	d = &m->entries[m->nentries];
	*d = *e;
	if (copy) {
		d->path = nv_mem_pool_strndup(&m->strings, e->path, strlen(e->path));
		d->link =
		    e->link ? nv_mem_pool_strndup(&m->strings, e->link, strlen(e->link)) : NULL;
		if (!d->path || (e->link && !d->link))
			return nv_error_set(err, NV_ENOMEM, "out of memory");
	}
	if (idx)
		*idx = m->nentries;
	m->nentries++;
	if (e->type == NV_ENT_FILE)
		m->total_bytes += e->size;
	return NV_OK;
}

int nv_manifest_add_entry(struct nv_manifest *m, const struct nv_entry *e, size_t *idx,
			  struct nv_error *err)
{
	return add_entry(m, e, true, idx, err);
}

int nv_manifest_add_entry_ref(struct nv_manifest *m, const struct nv_entry *e, size_t *idx,
			      struct nv_error *err)
{
	return add_entry(m, e, false, idx, err);
}

int nv_manifest_add_chunk(struct nv_manifest *m, const struct nv_chunk *c, struct nv_error *err)
{
	int rc = grow_array((void **)&m->chunks, &m->chunks_cap, m->nchunks + 1, sizeof(*c), err);

	if (rc)
		return rc;
	m->chunks[m->nchunks++] = *c;
	return NV_OK;
}

int nv_manifest_add_pack(struct nv_manifest *m, const unsigned char id[NV_HASH_LEN], uint32_t *idx,
			 struct nv_error *err)
{
	int rc =
	    grow_array((void **)&m->packs, &m->packs_cap, (size_t)m->npacks + 1, NV_HASH_LEN, err);

	if (rc)
		return rc;
	memcpy(m->packs[m->npacks], id, NV_HASH_LEN);
	*idx = m->npacks++;
	return NV_OK;
}

int nv_path_cmp(const char *a, const char *b)
{
	for (;;) {
		unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca == cb) {
			if (!ca)
				return 0;
			a++;
			b++;
			continue;
		}
		/* '/' and the end sort before any other byte */
		if (!ca || ca == '/')
			return (!cb || cb == '/') ? (!ca ? -1 : 1) : -1;
		if (!cb || cb == '/')
			return 1;
		return ca < cb ? -1 : 1;
	}
}

int nv_snap_check_path(const char *p, size_t n, struct nv_error *err)
{
	size_t i = 0;

	if (n == 0)
		return NV_OK; /* the root */
	if (n > NV_PATH_MAX || memchr(p, '\0', n))
		return nv_error_set(err, NV_EUNSAFE, "path too long or has a NUL byte");
	if (p[0] == '/')
		return nv_error_set(err, NV_EUNSAFE, "absolute path '%.*s'", (int)n, p);
	while (i < n) {
		const char *c = p + i;
		const char *slash = memchr(c, '/', n - i);
		size_t cl = slash ? (size_t)(slash - c) : n - i;

		if (cl == 0 || cl > 255 || (cl == 1 && c[0] == '.') ||
		    (cl == 2 && c[0] == '.' && c[1] == '.'))
			return nv_error_set(err, NV_EUNSAFE,
					    "path '%.*s' has an empty, '.' or '..' component",
					    (int)n, p);
		i += cl + 1;
		if (slash && i == n)
			return nv_error_set(err, NV_EUNSAFE, "path '%.*s' ends with '/'", (int)n,
					    p);
	}
	return NV_OK;
}

/* The digest's byte stream goes through a 64 KiB staging buffer: one
 * SHA-256 update per buffer, not per 8-byte field (same bytes, same digest). */
struct dstream {
	struct nv_sha256 h;
	size_t n;
	unsigned char b[65536];
};

static void ds_add(struct dstream *d, const void *p, size_t len)
{
	if (d->n + len > sizeof(d->b)) {
		nv_sha256_update(&d->h, d->b, d->n);
		d->n = 0;
		if (len > sizeof(d->b)) {
			nv_sha256_update(&d->h, p, len);
			return;
		}
	}
	memcpy(d->b + d->n, p, len);
	d->n += len;
}

static void ds_u64(struct dstream *d, uint64_t v)
{
	unsigned char b[8];

	put_le64(b, v);
	ds_add(d, b, 8);
}

int nv_manifest_compute_digest(struct nv_manifest *m, struct nv_error *err)
{
	struct dstream *d = nv_malloc(sizeof(*d));
	size_t i, j;
	int rc;

	if (!d)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	d->n = 0;
	if ((rc = nv_sha256_init(&d->h, err))) {
		nv_free(d);
		return rc;
	}
	ds_u64(d, m->nentries);
	for (i = 0; i < m->nentries; i++) {
		const struct nv_entry *e = &m->entries[i];

		ds_add(d, e->path, strlen(e->path) + 1);
		ds_u64(d, e->type);
		ds_u64(d, e->mode);
		ds_u64(d, (uint64_t)e->mtime_sec);
		ds_u64(d, e->mtime_nsec);
		ds_u64(d, e->size);
		if (e->type == NV_ENT_SYMLINK)
			ds_add(d, e->link, strlen(e->link) + 1);
		if (e->type == NV_ENT_HARDLINK)
			ds_u64(d, e->link_index);
		for (j = 0; j < e->nchunks; j++)
			ds_add(d, m->chunks[e->first_chunk + j].hash, NV_HASH_LEN);
	}
	nv_sha256_update(&d->h, d->b, d->n);
	nv_sha256_final(&d->h, m->digest);
	nv_sha256_release(&d->h);
	nv_free(d);
	return NV_OK;
}

static int put_str(struct nv_buf *b, const char *s, struct nv_error *err)
{
	size_t n = strlen(s);
	int rc = put_varint(b, n, err);

	return rc ? rc : nv_buf_add(b, s, n, err);
}

int nv_manifest_encode(const struct nv_manifest *m, int zstd_level, struct nv_buf *out,
		       struct nv_error *err)
{
	struct nv_buf body = NV_BUF_INIT(NV_MANIFEST_MAX);
	size_t i, j, bound, n;
	int rc;

	/* version 1 unless there are two parents: readers of version 1 can
	 * still read every snapshot that is not a merge */
	bool two = m->has_parent && m->has_parent2;

	if ((rc = put_varint(&body, two ? 2 : 1, err)) ||
	    (rc = put_varint(&body, zigzag(m->created), err)) ||
	    (rc = put_str(&body, m->dataset ? m->dataset : "", err)) ||
	    (rc = nv_buf_addch(&body,
			       two	       ? 2
			       : m->has_parent ? 1
					       : 0,
			       err)))
		goto out;
	if (m->has_parent && (rc = nv_buf_add(&body, m->parent, NV_HASH_LEN, err)))
		goto out;
	if (two && (rc = nv_buf_add(&body, m->parent2, NV_HASH_LEN, err)))
		goto out;
	if ((rc = nv_buf_add(&body, m->digest, NV_HASH_LEN, err)) ||
	    (rc = put_varint(&body, m->npacks, err)))
		goto out;
	for (i = 0; i < m->npacks; i++)
		if ((rc = nv_buf_add(&body, m->packs[i], NV_HASH_LEN, err)))
			goto out;
	if ((rc = put_varint(&body, m->nentries, err)))
		goto out;
	for (i = 0; i < m->nentries && !rc; i++) {
		const struct nv_entry *e = &m->entries[i];

		if ((rc = put_str(&body, e->path, err)) ||
		    (rc = nv_buf_addch(&body, (char)e->type, err)) ||
		    (rc = put_varint(&body, e->mode, err)) ||
		    (rc = put_varint(&body, zigzag(e->mtime_sec), err)) ||
		    (rc = put_varint(&body, e->mtime_nsec, err)) ||
		    (rc = put_varint(&body, e->ino, err)) ||
		    (rc = put_varint(&body, zigzag(e->ctime_sec), err)) ||
		    (rc = put_varint(&body, e->ctime_nsec, err)))
			goto out;
		switch (e->type) {
		case NV_ENT_FILE:
			if ((rc = put_varint(&body, e->size, err)) ||
			    (rc = put_varint(&body, e->nchunks, err)))
				goto out;
			for (j = 0; j < e->nchunks; j++) {
				const struct nv_chunk *c = &m->chunks[e->first_chunk + j];

				if ((rc = nv_buf_add(&body, c->hash, NV_HASH_LEN, err)) ||
				    (rc = put_varint(&body, c->pack, err)) ||
				    (rc = put_varint(&body, c->off, err)) ||
				    (rc = put_varint(&body, c->clen, err)) ||
				    (rc = put_varint(&body, c->ulen, err)))
					goto out;
			}
			break;
		case NV_ENT_SYMLINK:
			rc = put_str(&body, e->link, err);
			break;
		case NV_ENT_HARDLINK:
			rc = put_varint(&body, e->link_index, err);
			break;
		default:
			break;
		}
	}
	if (rc)
		goto out;
	bound = ZSTD_compressBound(body.len);
	if ((rc = nv_buf_add(out, NV_SNAP_MAGIC, NV_MAGIC_LEN, err)) ||
	    (rc = nv_buf_grow(out, bound, err)))
		goto out;
	n = ZSTD_compress(out->p + out->len, bound, body.p, body.len, zstd_level);
	if (ZSTD_isError(n)) {
		rc = nv_error_set(err, NV_EINTERNAL, "zstd: %s", ZSTD_getErrorName(n));
		goto out;
	}
	nv_buf_setlen(out, out->len + n);
out:
	nv_buf_release(&body);
	return rc;
}

/* Read a length-prefixed string into a fresh NUL-terminated copy. */
static char *get_str(struct rd *r, struct nv_mem_pool *pool, size_t max, size_t *len)
{
	uint64_t n = get_varint(r);
	const unsigned char *p;
	char *s;

	if (r->bad || n > max) {
		r->bad = true;
		return NULL;
	}
	p = get_bytes(r, (size_t)n);
	if (!p)
		return NULL;
	/* no pool: a string of its own (the dataset name) */
	s = pool ? nv_mem_pool_strndup(pool, (const char *)p, (size_t)n)
		 : nv_strndup((const char *)p, (size_t)n);
	if (s && len)
		*len = (size_t)n;
	return s;
}

#define BAD(...) nv_error_set(err, NV_ECORRUPT, __VA_ARGS__)
#define UNSAFE(...) nv_error_set(err, NV_EUNSAFE, __VA_ARGS__)

static const char *parent_end(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s : path;
}

static int decode_body(struct rd *r, struct nv_manifest *m, struct nv_error *err)
{
	size_t *dirs = NULL, ndirs = 0, i; /* stack of ancestor directory entries */
	uint64_t v, nentries;
	int rc = NV_OK;

	uint64_t version, nparents;

	version = v = get_varint(r);
	if (r->bad || (v != 1 && v != 2))
		return BAD("manifest body version %llu is not supported", (unsigned long long)v);
	m->created = unzigzag(get_varint(r));
	m->dataset = get_str(r, NULL, NV_PATH_MAX, NULL);
	if (!m->dataset)
		return r->bad ? BAD("manifest header is truncated")
			      : nv_error_set(err, NV_ENOMEM, "out of memory");
	/* version 1: 0 or 1 parent; version 2: a list of 0 to 2 */
	nparents = get_varint(r);
	if (r->bad || nparents > version)
		return BAD("manifest header is malformed");
	m->has_parent = nparents >= 1;
	m->has_parent2 = nparents == 2;
	for (i = 0; i < nparents; i++) {
		const unsigned char *p = get_bytes(r, NV_HASH_LEN);

		if (!p)
			return BAD("manifest header is truncated");
		memcpy(i ? m->parent2 : m->parent, p, NV_HASH_LEN);
	}
	{
		const unsigned char *p = get_bytes(r, NV_HASH_LEN);

		if (!p)
			return BAD("manifest header is truncated");
		memcpy(m->digest, p, NV_HASH_LEN);
	}
	v = get_varint(r);
	if (r->bad || v > remaining(r) / NV_HASH_LEN || v > UINT32_MAX)
		return BAD("manifest pack count is invalid");
	if (v) {
		m->packs = nv_malloc((size_t)v * NV_HASH_LEN);
		if (!m->packs)
			return nv_error_set(err, NV_ENOMEM, "out of memory");
		memcpy(m->packs, get_bytes(r, (size_t)v * NV_HASH_LEN), (size_t)v * NV_HASH_LEN);
		m->npacks = (uint32_t)v;
		m->packs_cap = (size_t)v;
	}
	nentries = get_varint(r);
	/* every entry takes at least 8 bytes: bound the allocation by the data */
	if (r->bad || nentries == 0 || nentries > remaining(r) / 8)
		return BAD("manifest entry count %llu is invalid", (unsigned long long)nentries);
	m->entries = nv_calloc((size_t)nentries, sizeof(*m->entries));
	dirs = nv_malloc((size_t)nentries * sizeof(*dirs));
	if (!m->entries || !dirs) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	m->entries_cap = (size_t)nentries;
	for (i = 0; i < nentries; i++) {
		struct nv_entry *e = &m->entries[i];
		size_t plen = 0;
		uint64_t j;

		e->path = get_str(r, &m->strings, NV_PATH_MAX, &plen);
		if (!e->path) {
			rc = r->bad ? BAD("manifest entry %zu is truncated", i)
				    : nv_error_set(err, NV_ENOMEM, "out of memory");
			goto out;
		}
		m->nentries = i + 1;
		if ((rc = nv_snap_check_path(e->path, plen, err))) {
			nv_error_prefix(err, "manifest entry %zu", i);
			goto out;
		}
		{
			const unsigned char *t = get_bytes(r, 1);

			e->type = t ? *t : 0;
		}
		e->mode = (uint32_t)get_varint(r);
		e->mtime_sec = unzigzag(get_varint(r));
		e->mtime_nsec = (uint32_t)get_varint(r);
		e->ino = get_varint(r);
		e->ctime_sec = unzigzag(get_varint(r));
		e->ctime_nsec = (uint32_t)get_varint(r);
		if (r->bad) {
			rc = BAD("manifest entry '%s' is truncated", e->path);
			goto out;
		}
		if (e->mode & ~07777u || e->mtime_nsec >= 1000000000u ||
		    e->ctime_nsec >= 1000000000u) {
			rc = BAD("manifest entry '%s' has an invalid mode or time", e->path);
			goto out;
		}
		/* order and ancestry: entries come in nv_path_cmp order, the
		 * first is the root directory, the parent of every other entry
		 * is a directory entry on the stack of open ancestors */
		if (i == 0) {
			if (plen != 0 || e->type != NV_ENT_DIR) {
				rc = BAD("manifest does not start with its root directory");
				goto out;
			}
		} else {
			const char *pe = parent_end(e->path);
			size_t parent_len = (size_t)(pe - e->path);

			if (plen == 0 || nv_path_cmp(m->entries[i - 1].path, e->path) >= 0) {
				rc = BAD("manifest entry '%s' is a duplicate or out of order",
					 e->path);
				goto out;
			}
			while (ndirs > 0) {
				const char *dp = m->entries[dirs[ndirs - 1]].path;
				size_t dl = strlen(dp);

				if (dl == parent_len && !memcmp(dp, e->path, dl))
					break;
				ndirs--;
			}
			if (ndirs == 0) {
				rc = UNSAFE("manifest entry '%s' has no parent directory entry "
					    "(a path through a symlink or a file?)",
					    e->path);
				goto out;
			}
		}
		switch (e->type) {
		case NV_ENT_DIR:
			dirs[ndirs++] = i;
			break;
		case NV_ENT_FILE:
			e->size = get_varint(r);
			v = get_varint(r);
			if (r->bad || e->size > NV_FILE_SIZE_MAX || v > remaining(r) / 36 ||
			    v > UINT32_MAX) {
				rc = BAD("manifest entry '%s' has an absurd size or chunk count",
					 e->path);
				goto out;
			}
			e->nchunks = (uint32_t)v;
			e->first_chunk = m->nchunks;
			{
				uint64_t sum = 0;

				if ((rc = grow_array((void **)&m->chunks, &m->chunks_cap,
						     m->nchunks + e->nchunks, sizeof(*m->chunks),
						     err)))
					goto out;
				for (j = 0; j < e->nchunks; j++) {
					struct nv_chunk *c = &m->chunks[m->nchunks + j];
					const unsigned char *h = get_bytes(r, NV_HASH_LEN);
					uint64_t pk, off, cl, ul;

					if (!h)
						break;
					memcpy(c->hash, h, NV_HASH_LEN);
					pk = get_varint(r);
					off = get_varint(r);
					cl = get_varint(r);
					ul = get_varint(r);
					if (r->bad || pk >= m->npacks || off < NV_MAGIC_LEN ||
					    !cl || !ul || ul > NV_BLOB_SIZE ||
					    cl > ZSTD_compressBound(NV_BLOB_SIZE)) {
						r->bad = true;
						break;
					}
					c->pack = (uint32_t)pk;
					c->off = off;
					c->clen = (uint32_t)cl;
					c->ulen = (uint32_t)ul;
					sum += ul;
				}
				if (r->bad || sum != e->size) {
					rc = BAD("manifest entry '%s' has invalid chunks", e->path);
					goto out;
				}
				m->nchunks += e->nchunks;
			}
			m->total_bytes += e->size;
			break;
		case NV_ENT_SYMLINK: {
			size_t tl = 0;

			e->link = get_str(r, &m->strings, NV_PATH_MAX, &tl);
			if (!e->link) {
				rc = r->bad ? BAD("manifest entry '%s' is truncated", e->path)
					    : nv_error_set(err, NV_ENOMEM, "out of memory");
				goto out;
			}
			if (tl == 0 || memchr(e->link, '\0', tl)) {
				rc = BAD("symlink '%s' has an empty target or a NUL byte", e->path);
				goto out;
			}
			break;
		}
		case NV_ENT_HARDLINK:
			e->link_index = get_varint(r);
			if (r->bad || e->link_index >= i ||
			    m->entries[e->link_index].type != NV_ENT_FILE) {
				rc = BAD("hardlink '%s' does not name an earlier file", e->path);
				goto out;
			}
			break;
		default:
			rc = BAD("manifest entry '%s' has unknown type %u", e->path, e->type);
			goto out;
		}
	}
	if (r->p != r->end)
		rc = BAD("manifest has %zu trailing bytes", remaining(r));
out:
	nv_free(dirs);
	return rc;
}

int nv_manifest_decode(const void *data, size_t len, struct nv_manifest *m, struct nv_error *err)
{
	const unsigned char *p = data;
	unsigned long long sz;
	struct nv_buf body = NV_BUF_INIT(NV_MANIFEST_MAX);
	struct rd r;
	size_t n;
	int rc;

	if (len < NV_MAGIC_LEN || memcmp(p, NV_SNAP_MAGIC, NV_MAGIC_LEN - 1))
		return nv_error_set(err, NV_ECORRUPT, "not a netvol snapshot manifest");
	if (p[NV_MAGIC_LEN - 1] != NV_SNAP_MAGIC[NV_MAGIC_LEN - 1])
		return nv_error_set(err, NV_EUNSUPPORTED,
				    "snapshot manifest version %u is not supported by this netvol",
				    p[NV_MAGIC_LEN - 1]);
	sz = ZSTD_getFrameContentSize(p + NV_MAGIC_LEN, len - NV_MAGIC_LEN);
	if (sz == ZSTD_CONTENTSIZE_ERROR || sz == ZSTD_CONTENTSIZE_UNKNOWN)
		return nv_error_set(err, NV_ECORRUPT,
				    "snapshot manifest is not a valid zstd frame");
	if (sz > NV_MANIFEST_MAX || sz == 0)
		return nv_error_set(err, NV_ECORRUPT, "snapshot manifest size %llu is absurd", sz);
	if ((rc = nv_buf_grow(&body, (size_t)sz, err)))
		return rc;
	n = ZSTD_decompress(body.p, (size_t)sz, p + NV_MAGIC_LEN, len - NV_MAGIC_LEN);
	if (ZSTD_isError(n) || n != sz) {
		nv_buf_release(&body);
		return nv_error_set(err, NV_ECORRUPT, "snapshot manifest does not decompress: %s",
				    ZSTD_isError(n) ? ZSTD_getErrorName(n) : "short");
	}
	r.p = (const unsigned char *)body.p;
	r.end = r.p + n;
	r.bad = false;
	rc = decode_body(&r, m, err);
	nv_buf_release(&body);
	if (rc)
		nv_manifest_release(m);
	return rc;
}
