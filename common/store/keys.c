#include "store/keys.h"

#include <stdbool.h>
#include <string.h>

#include "base/hash.h"

int nv_keys_user_root(const char *base, const char *user, struct nv_buf *out, struct nv_error *err)
{
	size_t bl = strlen(base);
	int rc;

	if ((rc = nv_config_check_identity("user", user, err)))
		return rc;
	if (!user)
		return nv_error_set(err, NV_EINVALID, "no user to scope the store by");
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if ((rc = nv_buf_add(out, base, bl, err)) || (rc = nv_buf_addch(out, '/', err)))
		return rc;
	return nv_buf_addstr(out, user, err);
}

static bool plain_key_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

int nv_keys_escape(const char *s, struct nv_buf *out, struct nv_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = NV_OK;

	for (; *s && !rc; s++) {
		unsigned char c = (unsigned char)*s;

		if (plain_key_byte(c)) {
			rc = nv_buf_addch(out, (char)c, err);
		} else {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};

			rc = nv_buf_add(out, e, 3, err);
		}
	}
	return rc;
}

int nv_keys_unescape(const char *s, size_t n, struct nv_buf *out, struct nv_error *err)
{
	size_t i;
	int rc = NV_OK;

	for (i = 0; i < n && !rc; i++) {
		unsigned char c;

		if (s[i] != '%') {
			rc = nv_buf_addch(out, s[i], err);
			continue;
		}
		if (i + 2 >= n || nv_hex_decode(s + i + 1, 2, &c))
			return nv_error_set(err, NV_EINVALID, "bad escape in '%.*s'", (int)n, s);
		rc = nv_buf_addch(out, (char)c, err);
		i += 2;
	}
	return rc;
}

int nv_keys_dataset_prefix(const struct nv_dataset *ds, const char *pod_id, struct nv_buf *out,
			   struct nv_error *err)
{
	int rc;

	if (ds->scope == NV_SCOPE_POD) {
		if (!pod_id)
			return nv_error_set(err, NV_ECONFIG,
					    "dataset '%s' is pod-scoped but POD_ID is not set",
					    ds->path);
		if ((rc = nv_buf_addstr(out, "pod/", err)) ||
		    (rc = nv_keys_escape(pod_id, out, err)) || (rc = nv_buf_addch(out, '/', err)))
			return rc;
	} else if ((rc = nv_buf_addstr(out, "user/", err))) {
		return rc;
	}
	if ((rc = nv_keys_escape(ds->path, out, err)))
		return rc;
	return nv_buf_addch(out, '/', err);
}

/* Length of n non-empty '/'-terminated components at the start of p, or 0. */
static size_t components(const char *p, size_t n)
{
	const char *q = p;

	while (n--) {
		const char *slash = strchr(q, '/');

		if (!slash || slash == q)
			return 0;
		q = slash + 1;
	}
	return (size_t)(q - p);
}

size_t nv_keys_dataset_prefix_len(const char *key)
{
	if (!strncmp(key, "user/", 5))
		return components(key, 2);
	if (!strncmp(key, "pod/", 4))
		return components(key, 3);
	return 0;
}

/* s is "<64 hex><ext>" exactly. */
static bool hex_name(const char *s, const char *ext, unsigned char *id)
{
	unsigned char tmp[NV_HASH_LEN];

	if (strlen(s) != 2 * NV_HASH_LEN + strlen(ext) || strcmp(s + 2 * NV_HASH_LEN, ext))
		return false;
	return nv_hex_decode(s, 2 * NV_HASH_LEN, id ? id : tmp) == NV_OK;
}

enum nv_key_kind nv_keys_classify(const char *key, size_t *prefix_len, unsigned char *id)
{
	size_t pl = nv_keys_dataset_prefix_len(key);
	const char *rest = key + pl;

	*prefix_len = pl;
	if (!pl)
		return NV_KEY_OTHER;
	if (!strcmp(rest, "HEAD"))
		return NV_KEY_HEAD;
	if (!strncmp(rest, "snapshots/", 10) && hex_name(rest + 10, "", id))
		return NV_KEY_SNAPSHOT;
	if (!strncmp(rest, "packs/", 6) && hex_name(rest + 6, ".pack", id))
		return NV_KEY_PACK;
	if (!strncmp(rest, "packs/", 6) && hex_name(rest + 6, ".idx", id))
		return NV_KEY_IDX;
	if (!strncmp(rest, "locks/", 6) && rest[6] && !strchr(rest + 6, '/'))
		return NV_KEY_LOCK;
	*prefix_len = 0;
	return NV_KEY_OTHER;
}

int nv_keys_dir(const char *prefix, enum nv_key_kind kind, struct nv_buf *out, struct nv_error *err)
{
	const char *dir = kind == NV_KEY_SNAPSHOT		      ? "snapshots/"
			  : kind == NV_KEY_PACK || kind == NV_KEY_IDX ? "packs/"
			  : kind == NV_KEY_LOCK			      ? "locks/"
								      : NULL;
	int rc;

	if (!dir)
		return nv_error_set(err, NV_EINTERNAL, "no folder for key kind %d", (int)kind);
	if ((rc = nv_buf_addstr(out, prefix, err)))
		return rc;
	return nv_buf_addstr(out, dir, err);
}

int nv_keys_object(const char *prefix, enum nv_key_kind kind, const unsigned char *id,
		   struct nv_buf *out, struct nv_error *err)
{
	char hex[NV_HASH_HEX];
	int rc;

	if (kind == NV_KEY_HEAD) {
		if ((rc = nv_buf_addstr(out, prefix, err)))
			return rc;
		return nv_buf_addstr(out, "HEAD", err);
	}
	if (kind != NV_KEY_SNAPSHOT && kind != NV_KEY_PACK && kind != NV_KEY_IDX)
		return nv_error_set(err, NV_EINTERNAL, "no object name for key kind %d", (int)kind);
	nv_hex_encode(id, NV_HASH_LEN, hex);
	if ((rc = nv_keys_dir(prefix, kind, out, err)) || (rc = nv_buf_addstr(out, hex, err)))
		return rc;
	return kind == NV_KEY_PACK  ? nv_buf_addstr(out, ".pack", err)
	       : kind == NV_KEY_IDX ? nv_buf_addstr(out, ".idx", err)
				    : NV_OK;
}

int nv_keys_lock(const char *prefix, const char *kind, const char *suffix, struct nv_buf *out,
		 struct nv_error *err)
{
	return nv_buf_addf(out, err, "%slocks/%s-%s", prefix, kind, suffix);
}

int nv_keys_split_dataset_prefix(const char *prefix, struct nv_buf *pod, struct nv_buf *ds)
{
	const char *p = prefix, *slash;

	if (nv_keys_dataset_prefix_len(prefix) != strlen(prefix))
		return NV_EINVALID;
	if (!strncmp(p, "pod/", 4)) {
		p += 4;
		slash = strchr(p, '/');
		if (nv_keys_unescape(p, (size_t)(slash - p), pod, NULL))
			return NV_EINVALID;
		p = slash + 1;
	} else {
		p += 5;
	}
	slash = strchr(p, '/');
	return nv_keys_unescape(p, (size_t)(slash - p), ds, NULL);
}

size_t nv_keys_user_len(const char *key)
{
	const char *slash = strchr(key, '/');
	char user[NV_IDENTITY_MAX + 1];
	size_t n;

	if (!slash || (n = (size_t)(slash - key)) > NV_IDENTITY_MAX)
		return 0;
	memcpy(user, key, n);
	user[n] = '\0';
	if (nv_config_check_identity("user", user, NULL) || !nv_keys_dataset_prefix_len(slash + 1))
		return 0;
	return n;
}

int nv_keys_format1_head(const struct nv_dataset *ds, struct nv_buf *out, struct nv_error *err)
{
	int rc;

	if (ds->scope == NV_SCOPE_POD)
		return nv_error_set(err, NV_EINVALID, "format 1 kept pod datasets by pod id");
	if ((rc = nv_buf_addstr(out, "user/", err)) || (rc = nv_keys_escape(ds->path, out, err)))
		return rc;
	return nv_buf_addstr(out, "/HEAD", err);
}
