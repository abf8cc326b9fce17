/* merge.h - the three-way merge of snapshot manifests (DESIGN rule 8).
 *
 * When HEAD moved since a pod's base snapshot (another pod of the user
 * synced), the pod's sync merges instead of replacing HEAD:
 * base = the snapshot the pod started from, ours = its folder now,
 * theirs = HEAD. Per path:
 *
 *	ours == theirs             that (both made the same change, or none)
 *	ours == base               theirs (a change, a deletion or an addition)
 *	theirs == base             ours
 *	otherwise (both changed)   ours; the path is reported as a conflict
 *	                           (theirs stays reachable: HEAD is a parent)
 *
 * "==" compares what the content digest covers: type, mode, mtime, size,
 * symlink target and blob hashes (not the stat cache, not where blobs sit);
 * two directories are always the same (their mtimes move with every file
 * added; their entries merge one by one): the folder of ours is kept.
 * Then the tree is made whole: a kept entry whose parent directory was
 * dropped brings it back (ours if there, else theirs); an entry whose
 * parent would be a file or a symlink is dropped and reported. A hard link
 * becomes a plain file with its target's chunks.
 *
 * A pure function: no store, no file system.
 */
#ifndef NV_MERGE_H
#define NV_MERGE_H

#include "base/buf.h"
#include "base/err.h"
#include "engine/snapshot.h"

struct nv_merge_result {
	uint64_t from_ours, from_theirs; /* entries taken from each side */
	uint64_t conflicts;		 /* paths changed on both sides: ours kept */
	struct nv_buf conflict_paths;	 /* NUL-separated, for the warning */
};

void nv_merge_result_init(struct nv_merge_result *r);
void nv_merge_result_release(struct nv_merge_result *r);

/* out (initialised, empty) gets the merged entries, their chunks and a
 * pack table of the packs they use, the dataset and created of ours, and
 * its digest; parents are the caller's. base may be NULL (no common
 * snapshot: every path only on one side is an addition). */
int nv_merge_manifests(const struct nv_manifest *base, const struct nv_manifest *ours,
		       const struct nv_manifest *theirs, struct nv_manifest *out,
		       struct nv_merge_result *res, struct nv_error *err);

#endif
