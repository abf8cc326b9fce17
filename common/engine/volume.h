/* volume.h - the shared network volume (_NETWORK_VOLUME): is it usable,
 * which datasets does it hold, symlinks to it, and staged copies onto it.
 *
 * Everything that touches the network volume first goes through
 * nv_volume_probe(), which runs in a child process with a deadline: a
 * missing, unreadable, read-only or hung (stuck NFS) volume turns the
 * optimization off instead of blocking the pod (DESIGN rule 5).
 */
#ifndef NV_VOLUME_H
#define NV_VOLUME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

struct nv_volume_probe {
	bool usable;
	char reason[256]; /* why not usable, or "ok" */
	bool *has_data;	  /* per path: a non-empty real directory */
	bool *exists;	  /* per path: anything there at all */
	size_t npaths;
};

/* Probe root (may be NULL: "not set") within timeout_ms: it must exist, be
 * a directory, readable, searchable and writable (a file is really created
 * and removed under root/.netvol/). For each relative path, report whether
 * root/path exists and is a non-empty directory (not a symlink). */
int nv_volume_probe(const char *root, const char *const *paths, size_t npaths, int64_t timeout_ms,
		    struct nv_volume_probe *out, struct nv_error *err);
void nv_volume_probe_release(struct nv_volume_probe *p);

enum nv_link_result {
	NV_LINK_CREATED,
	NV_LINK_ALREADY,    /* the right symlink was there */
	NV_LINK_KEPT_LOCAL, /* a folder with data is there: left alone */
};

/* Make root/rel a symlink to `target`, atomically (a temp link renamed
 * over it). An empty directory or another symlink there is replaced; a
 * non-empty directory is kept. Missing parents below root are created; a
 * symlink among them is refused (root itself may be one). */
int nv_volume_link(const char *root, const char *rel, const char *target, enum nv_link_result *res,
		   struct nv_error *err);

/* Copy folder `src` to root/rel (which must not exist): into a staging
 * folder next to it, then one rename. NV_EEXISTS if it appeared meanwhile
 * (another pod won the race; our copy is discarded). Keeps modes, times,
 * symlinks and hardlinks; uses copy_file_range where the kernel can. Logs
 * progress every progress_ms (NETVOL_PROGRESS_INTERVAL). */
int nv_volume_copy_tree(const char *src, const char *root, const char *rel, int64_t deadline_ms,
			int64_t progress_ms, uint64_t *bytes, struct nv_error *err);

/* The folder a dataset really lives in: path itself if it is a directory,
 * the target of the symlink at path otherwise (relative targets resolve
 * against path's parent). NV_ENOTFOUND if nothing is there. *is_link tells
 * which. out is set to a new string (nv_free). */
int nv_volume_sync_source(const char *path, char **out, bool *is_link, struct nv_error *err);

/* Remove leftovers of killed runs next to `name` in the folder open at
 * parentfd: ".netvol-stage.<name>.*" and ".netvol-link.<name>.*" entries
 * whose mtime is at least min_age_s seconds old (0: all). Returns how many
 * were removed; failures are ignored (best effort). */
int nv_volume_clean_stale(int parentfd, const char *name, int64_t min_age_s);

/* A staging folder next to root/rel, published by one rename (DESIGN
 * rules 1 and 2): nv_volume_stage_begin opens rel's parent below root
 * (created, no symlinks), removes leftovers of killed runs (min_age_s as
 * nv_volume_clean_stale) and makes ".netvol-stage.<name>.<random>";
 * nv_volume_stage_publish renames it onto rel, which must be missing, an
 * empty folder or a symlink (swapped out); NV_EEXISTS when rel holds data
 * (nothing changed). nv_volume_stage_release removes what was not
 * published; safe after nv_volume_stage_init and twice. */
struct nv_volume_stage {
	int parentfd, fd;   /* -1 when closed */
	char name[4096];    /* the staging folder's name in the parent */
	const char *target; /* rel's last component (points into rel) */
	bool live;	    /* staging folder exists and is ours */
};
void nv_volume_stage_init(struct nv_volume_stage *st);
int nv_volume_stage_begin(const char *root, const char *rel, int64_t min_age_s,
			  struct nv_volume_stage *st, struct nv_error *err);
int nv_volume_stage_publish(struct nv_volume_stage *st, const char *what, struct nv_error *err);
void nv_volume_stage_release(struct nv_volume_stage *st);

/* A dataset's target that holds only what the dataset excludes (config.h:
 * the datasets nested in it, excluded paths) counts as empty for a
 * restore. nv_volume_only_excluded: 1 when the folder dirfd/path is not
 * empty and each of its entries is an excluded path or on the way to one
 * (the first component of one), 0 if not, -1 with errno when it cannot be
 * read. nv_volume_stage_publish_around publishes like
 * nv_volume_stage_publish, and into such a folder as well: the folder is
 * renamed aside, the stage renamed in, and its entries renamed back into
 * it (never copied, never overwritten: NV_EEXISTS, nothing changed, when
 * the staged tree has one of their names). If a step after the stage is in
 * fails, the entries left are in ".netvol-keep.<name>.<random>" next to
 * the target, and the error names it. */
int nv_volume_only_excluded(int dirfd, const char *path, char *const *exclude, size_t n);
int nv_volume_stage_publish_around(struct nv_volume_stage *st, const char *what,
				   char *const *exclude, size_t n, struct nv_error *err);

#endif
