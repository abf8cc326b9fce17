/* verify.h - `netvol verify`: read every pack of a store (one user's root,
 * or a whole base), check every blob's length and hash, that every
 * snapshot's blobs are where its manifest says, and every HEAD. Only keys
 * of netvol's own shapes are read (store/keys.h): legacy objects are left
 * alone. What is found is reported through a callback; the CLI logs it.
 */
#ifndef NV_VERIFY_H
#define NV_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

enum nv_verify_kind {
	NV_VERIFY_PROBLEM, /* damage: the object cannot be trusted */
	NV_VERIFY_NOTE,	   /* worth knowing, not damage (an unindexed pack) */
};

typedef void (*nv_verify_report_fn)(void *ud, enum nv_verify_kind kind, const char *object,
				    const char *msg);

struct nv_verify_result {
	uint64_t packs, blobs, bytes, snapshots, unindexed_packs, problems;
};

/* Verify the store s. all_users: s is a base, its keys start with the user
 * (nv_keys_user_len). NV_OK when the store could be read (problems are
 * counted in res and reported), an error when listing it failed. */
int nv_verify_store(struct nv_store *s, bool all_users, nv_verify_report_fn report, void *ud,
		    struct nv_verify_result *res, struct nv_error *err);

#endif
