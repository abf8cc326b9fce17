#include "store/store.h"

#include <string.h>

#include "store/keys.h"

int nv_store_check_key(const char *key, struct nv_error *err)
{
	const char *p = key;

	if (!*key || strlen(key) > 1024)
		return nv_error_set(err, NV_EINVALID, "invalid store key (empty or too long)");
	if (*key == '/')
		return nv_error_set(err, NV_EINVALID, "store key '%s' must be relative", key);
	while (*p) {
		size_t n = strcspn(p, "/");
		size_t i;

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return nv_error_set(err, NV_EINVALID,
					    "store key '%s' has an empty, '.' or '..' component",
					    key);
		for (i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return nv_error_set(err, NV_EINVALID,
						    "store key has a control character");
		p += n;
		if (*p == '/') {
			p++;
			if (!*p)
				return nv_error_set(err, NV_EINVALID,
						    "store key '%s' ends with '/'", key);
		}
	}
	return NV_OK;
}

int nv_store_open_url(const char *url, const struct nv_config *cfg, struct nv_store **out,
		      struct nv_error *err)
{
	*out = NULL;
	if (!url)
		return nv_error_set(err, NV_ECONFIG, "no store configured");
	if (!strncmp(url, "file://", 7))
		return nv_store_file_open(url + 7, out, err);
	if (!strncmp(url, "s3://", 5))
		return nv_store_s3_open(url, cfg, out, err);
	return nv_error_set(err, NV_ECONFIG, "unknown store URL '%s': want s3:// or file://", url);
}

int nv_store_open_user(const struct nv_config *cfg, const char *user, struct nv_store **out,
		       struct nv_error *err)
{
	struct nv_buf url = NV_BUF_INIT(8192);
	int rc;

	*out = NULL;
	if (!cfg->store_base)
		return nv_config_require_store(cfg, err);
	if ((rc = nv_config_check_identity("user", user, err)))
		return rc;
	if (!user)
		return nv_config_require_store(cfg, err);
	if (!(rc = nv_keys_user_root(cfg->store_base, user, &url, err)))
		rc = nv_store_open_url(url.p, cfg, out, err);
	nv_buf_release(&url);
	return rc;
}

int nv_store_open(const struct nv_config *cfg, struct nv_store **out, struct nv_error *err)
{
	return nv_store_open_user(cfg, cfg->pod_user, out, err);
}

int nv_store_open_base(const struct nv_config *cfg, struct nv_store **out, struct nv_error *err)
{
	*out = NULL;
	if (!cfg->store_base)
		return nv_config_require_store(cfg, err);
	return nv_store_open_url(cfg->store_base, cfg, out, err);
}

void nv_store_set_deadline(struct nv_store *s, int64_t deadline_ms)
{
	if (s)
		s->deadline_ms = deadline_ms;
}

void nv_store_close(struct nv_store *s)
{
	if (s)
		s->ops->close(s);
}

int nv_store_get(struct nv_store *s, const char *key, struct nv_buf *out, struct nv_error *err)
{
	int rc = nv_store_check_key(key, err);

	return rc ? rc : s->ops->get(s, key, out, err);
}

int nv_store_get_range(struct nv_store *s, const char *key, uint64_t off, uint64_t len,
		       struct nv_buf *out, struct nv_error *err)
{
	int rc = nv_store_check_key(key, err);

	if (rc)
		return rc;
	if (len == 0)
		return NV_OK;
	return s->ops->get_range(s, key, off, len, out, err);
}

int nv_store_put(struct nv_store *s, const char *key, const void *data, size_t len, unsigned flags,
		 struct nv_error *err)
{
	int rc = nv_store_check_key(key, err);

	return rc ? rc : s->ops->put(s, key, data, len, flags, err);
}

int nv_store_head(struct nv_store *s, const char *key, struct nv_store_stat *st,
		  struct nv_error *err)
{
	int rc = nv_store_check_key(key, err);

	return rc ? rc : s->ops->head(s, key, st, err);
}

int nv_store_list(struct nv_store *s, const char *prefix, nv_store_list_fn fn, void *ud,
		  struct nv_error *err)
{
	return s->ops->list(s, prefix, fn, ud, err);
}

int nv_store_del(struct nv_store *s, const char *key, struct nv_error *err)
{
	int rc = nv_store_check_key(key, err);

	return rc ? rc : s->ops->del(s, key, err);
}
