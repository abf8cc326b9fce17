/* store.h - the object store interface.
 *
 * A store holds immutable objects under string keys below one root (an S3
 * bucket+prefix, or a local folder). Keys are relative, '/'-separated, made
 * of printable bytes, with no empty, '.' or '..' component (nv_store_check_key).
 * Every backend implements the same operations and must be safe to call
 * from several threads at once on the same struct nv_store (restore and
 * sync run parallel workers).
 *
 * Return codes: NV_OK, NV_ENOTFOUND for a missing key (get, get_range, head,
 * del is fine with missing), NV_EEXISTS for put with NV_PUT_IF_ABSENT when the
 * key exists, otherwise an error with a message naming the key.
 */
#ifndef NV_STORE_H
#define NV_STORE_H

#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"

struct nv_store;

struct nv_store_stat {
	uint64_t size;
	int64_t mtime; /* seconds since the epoch, 0 if unknown */
};

/* Called for each key found by list, in no particular order. A non-zero
 * return stops the listing and is returned by list. */
typedef int (*nv_store_list_fn)(const char *key, const struct nv_store_stat *st, void *ud);

#define NV_PUT_IF_ABSENT 1u /* fail with NV_EEXISTS if the key exists */

struct nv_store_ops {
	const char *scheme; /* "file", "s3" */
	/* Whole object into out (out's cap applies: NV_ETOOBIG past it). */
	int (*get)(struct nv_store *s, const char *key, struct nv_buf *out, struct nv_error *err);
	/* Exactly len bytes from off into out; a shorter object is NV_ECORRUPT. */
	int (*get_range)(struct nv_store *s, const char *key, uint64_t off, uint64_t len,
			 struct nv_buf *out, struct nv_error *err);
	/* Store data under key; visible whole or not at all. */
	int (*put)(struct nv_store *s, const char *key, const void *data, size_t len,
		   unsigned flags, struct nv_error *err);
	int (*head)(struct nv_store *s, const char *key, struct nv_store_stat *st,
		    struct nv_error *err);
	/* Every key that starts with prefix ("" = all). */
	int (*list)(struct nv_store *s, const char *prefix, nv_store_list_fn fn, void *ud,
		    struct nv_error *err);
	int (*del)(struct nv_store *s, const char *key, struct nv_error *err);
	void (*close)(struct nv_store *s);
};

struct nv_store {
	const struct nv_store_ops *ops;
	char *url;	     /* for messages; never contains credentials */
	int64_t deadline_ms; /* absolute nv_now_ms(); 0 = none: retries never sleep past it */
};

/* Set (or clear, with 0) the deadline the store's retries honour
 * (retry.h). Set before the store is shared by threads. */
void nv_store_set_deadline(struct nv_store *s, int64_t deadline_ms);

/* Open the root of cfg->pod_user below cfg->store_base (keys.h): every
 * key of restore and sync is below it. NV_ECONFIG without a base or a user. */
int nv_store_open(const struct nv_config *cfg, struct nv_store **out, struct nv_error *err);
/* The same for another user (admin verbs' --user); user is validated. */
int nv_store_open_user(const struct nv_config *cfg, const char *user, struct nv_store **out,
		       struct nv_error *err);
/* The base itself, where every user's root is (admin verbs' --all-users).
 * Keys below it start with the user (nv_keys_user_len). */
int nv_store_open_base(const struct nv_config *cfg, struct nv_store **out, struct nv_error *err);
/* Open a store by URL with the rest of cfg (credentials, endpoints). */
int nv_store_open_url(const char *url, const struct nv_config *cfg, struct nv_store **out,
		      struct nv_error *err);
void nv_store_close(struct nv_store *s);

/* Key validation shared by backends. */
int nv_store_check_key(const char *key, struct nv_error *err);

/* Thin wrappers that validate the key, then call the backend. */
int nv_store_get(struct nv_store *s, const char *key, struct nv_buf *out, struct nv_error *err);
int nv_store_get_range(struct nv_store *s, const char *key, uint64_t off, uint64_t len,
		       struct nv_buf *out, struct nv_error *err);
int nv_store_put(struct nv_store *s, const char *key, const void *data, size_t len, unsigned flags,
		 struct nv_error *err);
int nv_store_head(struct nv_store *s, const char *key, struct nv_store_stat *st,
		  struct nv_error *err);
int nv_store_list(struct nv_store *s, const char *prefix, nv_store_list_fn fn, void *ud,
		  struct nv_error *err);
int nv_store_del(struct nv_store *s, const char *key, struct nv_error *err);

/* Backends. */
int nv_store_file_open(const char *path, struct nv_store **out, struct nv_error *err);
/* The S3 module (common/store/s3/s3.c; see s3.h and docs/S3.md). */
int nv_store_s3_open(const char *url, const struct nv_config *cfg, struct nv_store **out,
		     struct nv_error *err);

#endif
