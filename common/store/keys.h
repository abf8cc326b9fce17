/* keys.h - where everything lives in a store: the one owner of the key layout.
 *
 * docs/FORMAT.md is the specification. A store is addressed by a base URL
 * (NETVOL_STORE, or s3://$AWS_BUCKET_NAME/pod_sessions); every user's data
 * lives below that user's own root, `<base>/<user>`, so no configuration
 * lets two users share a key (DESIGN rule 7). Below a user root:
 *
 *   user/<ds>/...          a user-scoped dataset
 *   pod/<pod>/<ds>/...     a pod-scoped dataset of one of the user's pods
 *
 * with `<ds>` and `<pod>` percent-escaped (nv_keys_escape). Nobody else
 * builds or parses these names.
 */
#ifndef NV_KEYS_H
#define NV_KEYS_H

#include <stddef.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"

/* The user root URL: base + "/" + user, in out. user must have passed
 * nv_config_check_identity (NV_EINVALID otherwise: a key never holds free
 * text). A trailing '/' of base is not doubled. */
int nv_keys_user_root(const char *base, const char *user, struct nv_buf *out, struct nv_error *err);

/* Every byte outside [A-Za-z0-9._-] as %XX (upper-case hex). */
int nv_keys_escape(const char *s, struct nv_buf *out, struct nv_error *err);
/* Reverse of nv_keys_escape for n bytes of s; NV_EINVALID on a bad escape. */
int nv_keys_unescape(const char *s, size_t n, struct nv_buf *out, struct nv_error *err);

/* "user/<ds>/" or "pod/<pod>/<ds>/" below a user root. NV_ECONFIG when a
 * pod-scoped dataset has no pod id. */
int nv_keys_dataset_prefix(const struct nv_dataset *ds, const char *pod_id, struct nv_buf *out,
			   struct nv_error *err);

/* The dataset prefix a key below a user root belongs to: its length (the
 * bytes of "user/<ds>/" or "pod/<pod>/<ds>/" at the start of key), or 0
 * when the key is not a dataset's (a legacy object, say). */
size_t nv_keys_dataset_prefix_len(const char *key);

/* What a key below a user root is. */
enum nv_key_kind {
	NV_KEY_OTHER,	 /* not netvol's (a legacy object, another tool's) */
	NV_KEY_HEAD,	 /* <prefix>HEAD */
	NV_KEY_SNAPSHOT, /* <prefix>snapshots/<64 hex> */
	NV_KEY_PACK,	 /* <prefix>packs/<64 hex>.pack */
	NV_KEY_IDX,	 /* <prefix>packs/<64 hex>.idx */
	NV_KEY_LOCK,	 /* <prefix>locks/<name> */
};

/* Classify key; for a netvol key, *prefix_len is the length of its dataset
 * prefix and id (when not NULL) gets the object id of a snapshot, pack or
 * index. Only the exact shapes above count: a legacy object whose path
 * happens to contain "snapshots/" or end in "HEAD" is NV_KEY_OTHER. */
enum nv_key_kind nv_keys_classify(const char *key, size_t *prefix_len, unsigned char *id);

/* The key of an object of the dataset at prefix, appended to out:
 * NV_KEY_HEAD "HEAD", NV_KEY_SNAPSHOT "snapshots/<hex id>", NV_KEY_PACK
 * "packs/<hex id>.pack", NV_KEY_IDX "packs/<hex id>.idx" (id unused for
 * HEAD). */
int nv_keys_object(const char *prefix, enum nv_key_kind kind, const unsigned char *id,
		   struct nv_buf *out, struct nv_error *err);
/* The folder below prefix that holds objects of kind (NV_KEY_SNAPSHOT
 * "snapshots/", NV_KEY_PACK and NV_KEY_IDX "packs/", NV_KEY_LOCK "locks/"),
 * for listing. */
int nv_keys_dir(const char *prefix, enum nv_key_kind kind, struct nv_buf *out,
		struct nv_error *err);
/* A lock: prefix + "locks/<kind>-<suffix>". */
int nv_keys_lock(const char *prefix, const char *kind, const char *suffix, struct nv_buf *out,
		 struct nv_error *err);

/* Split a dataset prefix into its pod id ("" for a user-scoped dataset) and
 * dataset path, unescaped. NV_EINVALID when prefix is not one. */
int nv_keys_split_dataset_prefix(const char *prefix, struct nv_buf *pod, struct nv_buf *ds);

/* The user a key below a store base belongs to: the length of its first
 * component when that is a valid identity followed by a dataset's key, else
 * 0 (the key is not netvol's, e.g. a legacy object or another tool's). */
size_t nv_keys_user_len(const char *key);

/* Where store format 1 kept the HEAD of a user-scoped dataset directly below
 * the base, shared by all users ("user/<ds>/HEAD"). Read only to warn that
 * such data is not restored (docs/FORMAT.md, "Format 1 stores"). */
int nv_keys_format1_head(const struct nv_dataset *ds, struct nv_buf *out, struct nv_error *err);

#endif
