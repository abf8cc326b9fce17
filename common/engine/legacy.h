/* legacy.h - the shell scripts' layout in the store (/work/shared/LEGACY.md
 * in the project notes, docs/CONFIG.md "Legacy data"): which objects hold a
 * dataset that has no netvol snapshot yet, and restoring it from them.
 *
 * The planner is pure: from the keys found under the legacy root (the
 * user's folder, <NETVOL_LEGACY_STORE>/<POD_USER_NAME>) it picks the first
 * generation that has objects for the dataset, in LEGACY.md's order, and
 * says for every object which of its members belong to the dataset and
 * where they go below the dataset's folder:
 *
 *   venv          shared/venv_chunks/<name>/ (one folder per venv)
 *                 > shared/venv_chunks/ (one venv, "comfyui")
 *                 > shared/venv.tar.gz > loose shared/venv/ > shared/venv.zip
 *                 (one venv at their root, not a folder per venv: venv/comfyui)
 *   .comfyui      shared/_comfyui.tar.gz > shared/.comfyui.tar.gz
 *                 > loose shared/.comfyui/ > shared/.comfyui.zip
 *   .cache        shared/_cache.tar.gz, without .cache/aws/ (the AWS CLI's config
 *                 and credentials: store credentials never reach ComfyUI)
 *   ComfyUI/custom_nodes
 *                 ComfyUI/shared/custom_nodes.tar.gz > shared/custom_nodes.tar.gz
 *                 > loose ComfyUI/shared/custom_nodes/ > ComfyUI/shared/custom_nodes.zip
 *   pod-scoped ComfyUI (whole) or ComfyUI/<x>
 *                 <POD_ID>/comfyui_pod_specific_data.tar.gz (members ./<x>/...)
 *                 > loose <POD_ID>/ComfyUI/<x>/
 *                 (members and loose objects at the dataset's excluded
 *                 paths, config.h, are left out)
 *   other pod-scoped <d>
 *                 <POD_ID>/other_pod_specific_data.tar.gz (members ./<d>/...)
 *
 * Venv chunks: with a venv_chunks.checksums, chunks it does not list are
 * stale and left out, a listed chunk that is missing is an error, and each
 * chunk's SHA-256 is checked while it is read. venv_other_folders.zip is
 * extracted first; a chunk whose first member is not a venv-root entry
 * (bin/, lib/, lib64/, include/, share/, pyvenv.cfg...) holds site-packages
 * contents and goes to lib/pythonX.Y/site-packages (X.Y from what is already
 * there: lib/python3.*, or pyvenv.cfg).
 */
#ifndef NV_LEGACY_H
#define NV_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"
#include "base/hash.h"
#include "store/store.h"

enum nv_legacy_kind {
	NV_LEGACY_TAR,	/* tar.gz */
	NV_LEGACY_ZIP,	/* zip */
	NV_LEGACY_FILE, /* a loose object: one file at dest */
	NV_LEGACY_SUMS, /* a venv_chunks.checksums to read (nv_legacy_plan_sums) */
};

struct nv_legacy_obj {
	char *key; /* relative to the legacy root */
	uint64_t size;
	enum nv_legacy_kind kind;
	char *strip; /* members kept: those below it ("" = all; ends with '/') */
	char *dest;  /* their place below the dataset folder ("" or ending with '/');
		      * for a FILE, the file's path */
	char *venv;  /* venv chunks: the venv's folder below the dataset ("comfyui") */
	bool chunk;  /* a venv chunk: its first member decides dest */
	bool first;  /* extract before the others (venv_other_folders.zip) */
	bool skip;   /* stale chunk, not extracted */
	bool has_sum;
	unsigned char sum[NV_HASH_LEN];
	/* members below this folder of the dataset are not restored (static
	 * string): the AWS CLI's credentials in .cache/aws/ (DESIGN rule 6) */
	const char *exclude;
	/* venv.tar.gz/venv.zip: if the first member is a venv-root entry
	 * (bin/, lib/, pyvenv.cfg...), the archive is one venv, restored as
	 * venv/comfyui (older generations had NV/venv as the venv itself) */
	bool one_venv_probe;
};

struct nv_legacy_plan {
	const char *source; /* the generation: "venv_chunks", "venv.tar.gz"... NULL = none */
	struct nv_legacy_obj *objs;
	size_t nobjs;
	size_t stale;	/* chunks left out */
	uint64_t bytes; /* sizes of the objects that will be read */
};

/* A key found under the legacy root. */
struct nv_legacy_key {
	const char *key;
	uint64_t size;
};

/* One place to look: an object (HEAD) or a prefix (list). */
struct nv_legacy_probe {
	char *key;
	bool prefix;
};

void nv_legacy_plan_init(struct nv_legacy_plan *p);
void nv_legacy_plan_release(struct nv_legacy_plan *p);

/* The places to look for dataset ds, in order, into *out (nv_legacy_probes_free).
 * pod_id may be NULL (pod-scoped datasets then have none). */
int nv_legacy_probes(const struct nv_dataset *ds, const char *pod_id, struct nv_legacy_probe **out,
		     size_t *n, struct nv_error *err);
void nv_legacy_probes_free(struct nv_legacy_probe *p, size_t n);

/* Plan the restore of ds from the keys found (any order). An empty plan
 * (source NULL) means no legacy data for it. */
int nv_legacy_plan(const struct nv_dataset *ds, const char *pod_id,
		   const struct nv_legacy_key *keys, size_t nkeys, struct nv_legacy_plan *p,
		   struct nv_error *err);

/* Apply the contents of the checksum object p->objs[i] (kind SUMS):
 * chunks of that venv it does not list become skip, listed ones get their
 * hash; a listed chunk that is missing, or a bad line, is NV_ECORRUPT. */
int nv_legacy_plan_sums(struct nv_legacy_plan *p, size_t i, const char *data, size_t len,
			struct nv_error *err);

/* Is the first member of a venv chunk a path from the venv's root (1) or
 * from site-packages (0)? */
bool nv_legacy_member_is_venv_root(const char *member);

/* From a pyvenv.cfg: "home" (interpreter folder) and "version" ("3.11.9", or
 * version_info) into home and version (empty when absent). */
int nv_legacy_parse_pyvenv(const char *data, size_t len, struct nv_buf *home,
			   struct nv_buf *version, struct nv_error *err);

/* ---- the restore ---- */

struct nv_legacy_opts {
	const struct nv_config *cfg;
	struct nv_store *store; /* the legacy root */
	const struct nv_dataset *ds;
	const char *pod_id;
	const char *root; /* NETWORK_VOLUME */
	const char *path; /* root/ds->path */
	bool dry_run;
	int64_t deadline_ms;
	int workers; /* parallel objects; at least 10 */
};

struct nv_legacy_result {
	const char *source; /* generation used; NULL = no legacy data */
	size_t objects, stale;
	uint64_t files, dirs, symlinks, hardlinks, skipped;
	uint64_t bytes, bytes_fetched, requests;
	bool kept_local; /* data appeared in the target meanwhile: left alone */
};

/* Restore ds from the legacy objects into o->path (missing or empty):
 * everything into a staging folder next to it, one rename when all of it
 * succeeded. Logs each object read (restore.legacy_object). Legacy objects
 * are only read. */
int nv_legacy_restore(const struct nv_legacy_opts *o, struct nv_legacy_result *res,
		      struct nv_error *err);

#endif
