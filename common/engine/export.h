/* export.h - the latest netvol snapshots written back as the shell scripts'
 * objects (/work/shared/LEGACY.md; docs/CONFIG.md "Going back to the shell
 * scripts"), so a cluster can return to them.
 *
 * Each dataset the scripts knew becomes its legacy objects, built in memory
 * with libarchive from the blobs of its latest snapshot (read through
 * pack.h, hashes checked) and stored with the store interface:
 *
 *   venv                  shared/venv_chunks/<name>/venv_chunk_<n>.tar.gz per
 *                         venv (regular files, paths from the venv root,
 *                         grouped up to NV_EXPORT_CHUNK plain bytes) and
 *                         shared/venv_chunks/<name>/venv_chunks.checksums
 *   .comfyui              shared/_comfyui.tar.gz      (members .comfyui/...)
 *   .cache                shared/_cache.tar.gz        (members .cache/...)
 *   ComfyUI/custom_nodes  ComfyUI/shared/custom_nodes.tar.gz (custom_nodes/...)
 *   ComfyUI (pod)         <POD_ID>/comfyui_pod_specific_data.tar.gz (./<entry>)
 *
 * An existing legacy object is never overwritten unless force is set
 * (DESIGN rule 8: the user's legacy objects may be their only copy).
 */
#ifndef NV_EXPORT_H
#define NV_EXPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "store/store.h"

#define NV_EXPORT_CHUNK (100ull << 20) /* plain bytes per venv chunk, about */

struct nv_export_opts {
	struct nv_store *store;	 /* the user's netvol root */
	struct nv_store *legacy; /* the user's legacy root */
	const char *pod_id;	 /* for the pod-scoped ComfyUI; NULL = none */
	bool force;		 /* overwrite legacy objects that exist */
	bool dry_run;		 /* build, but store nothing */
	uint64_t chunk_bytes;	 /* venv chunk group size; 0 = NV_EXPORT_CHUNK */
};

/* One legacy object: key below the legacy root, its size, and the result:
 * "written", "would_write", "exists_kept" (there, not overwritten). */
typedef void (*nv_export_report_fn)(void *ud, const char *dataset, const char *key, uint64_t bytes,
				    uint64_t files, const char *result);

/* Export ds. NV_ENOTFOUND when it has no snapshot; NV_EINVALID when the
 * scripts had no object for it (nothing done). */
int nv_export_dataset(const struct nv_export_opts *o, const struct nv_dataset *ds,
		      nv_export_report_fn report, void *ud, struct nv_error *err);

#endif
