#include "base/hash.h"

#include <openssl/evp.h>
#include <string.h>

#include "base/mem.h"

void nv_sha256(const void *data, size_t len, unsigned char out[NV_HASH_LEN])
{
	unsigned int n = NV_HASH_LEN;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

int nv_sha256_init(struct nv_sha256 *h, struct nv_error *err)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	h->ctx = c;
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(c);
		h->ctx = NULL;
		return nv_error_set(err, NV_ENOMEM, "cannot set up SHA-256");
	}
	return NV_OK;
}

void nv_sha256_update(struct nv_sha256 *h, const void *data, size_t len)
{
	EVP_DigestUpdate(h->ctx, data, len);
}

void nv_sha256_final(struct nv_sha256 *h, unsigned char out[NV_HASH_LEN])
{
	unsigned int n = NV_HASH_LEN;

	EVP_DigestFinal_ex(h->ctx, out, &n);
}

void nv_sha256_release(struct nv_sha256 *h)
{
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

void nv_blob_map_init(struct nv_blob_map *m)
{
	memset(m, 0, sizeof(*m));
}

void nv_blob_map_release(struct nv_blob_map *m)
{
	nv_free(m->keys);
	nv_free(m->vals);
	nv_free(m->used);
	memset(m, 0, sizeof(*m));
}

static size_t slot_of(const unsigned char *key, size_t cap)
{
	uint64_t h;

	memcpy(&h, key, sizeof(h)); /* a SHA-256 is uniform already */
	return (size_t)h & (cap - 1);
}

static size_t find(const struct nv_blob_map *m, const unsigned char *key)
{
	size_t i = slot_of(key, m->cap);

	while (m->used[i] && memcmp(m->keys[i], key, NV_HASH_LEN))
		i = (i + 1) & (m->cap - 1);
	return i;
}

const struct nv_blob_loc *nv_blob_map_get(const struct nv_blob_map *m,
					  const unsigned char key[NV_HASH_LEN])
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = find(m, key);
	return m->used[i] ? &m->vals[i] : NULL;
}

/* Rehash into a table of at least `want` slots (a power of two). */
static int grow_to(struct nv_blob_map *m, size_t want, struct nv_error *err)
{
	struct nv_blob_map n;
	size_t i;

	n.cap = m->cap ? m->cap * 2 : 1024;
	while (n.cap < want)
		n.cap *= 2;
	n.count = 0;
	n.keys = nv_malloc(n.cap * NV_HASH_LEN);
	n.vals = nv_malloc(n.cap * sizeof(*n.vals));
	n.used = nv_calloc(n.cap, 1);
	if (!n.keys || !n.vals || !n.used) {
		nv_blob_map_release(&n);
		return nv_error_set(err, NV_ENOMEM, "out of memory for the blob map");
	}
	for (i = 0; i < m->cap; i++) {
		size_t j;

		if (!m->used[i])
			continue;
		j = find(&n, m->keys[i]);
		memcpy(n.keys[j], m->keys[i], NV_HASH_LEN);
		n.vals[j] = m->vals[i];
		n.used[j] = 1;
		n.count++;
	}
	nv_blob_map_release(m);
	*m = n;
	return NV_OK;
}

static int grow(struct nv_blob_map *m, struct nv_error *err)
{
	return grow_to(m, 0, err);
}

int nv_blob_map_reserve(struct nv_blob_map *m, size_t n, struct nv_error *err)
{
	if (n > SIZE_MAX / 8)
		return nv_error_set(err, NV_ENOMEM, "out of memory for the blob map");
	/* put grows when (count + 1) * 4 >= cap * 3 */
	if ((n + 1) * 4 < m->cap * 3)
		return NV_OK;
	return grow_to(m, (n + 1) * 4 / 3 + 1, err);
}

int nv_blob_map_put(struct nv_blob_map *m, const unsigned char key[NV_HASH_LEN],
		    const struct nv_blob_loc *val, bool *inserted, struct nv_error *err)
{
	size_t i;
	int rc;

	if ((m->count + 1) * 4 >= m->cap * 3) {
		rc = grow(m, err);
		if (rc)
			return rc;
	}
	i = find(m, key);
	if (m->used[i]) {
		if (inserted)
			*inserted = false;
		return NV_OK;
	}
	memcpy(m->keys[i], key, NV_HASH_LEN);
	m->vals[i] = *val;
	m->used[i] = 1;
	m->count++;
	if (inserted)
		*inserted = true;
	return NV_OK;
}
