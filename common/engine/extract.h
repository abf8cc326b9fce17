/* extract.h - extract a tar.gz or zip read from a byte source (an object in
 * the store, fetched in ranged GETs) into a staging folder, refusing every
 * member that could write outside it.
 *
 * Used by the legacy restore (legacy.h). libarchive parses; this module
 * decides what is written and writes it itself, relative to the staging
 * folder's fd, with O_NOFOLLOW and without ever passing through a symlink
 * (nv_fs_openat_beneath / nv_fs_open_dir_beneath). Refused, with a message
 * naming the object and the member:
 *   - absolute member paths and paths with a ".." component;
 *   - symlinks whose target is absolute or climbs above the staging folder,
 *     or has a ".." after a normal component (see nv_extract_link_inside);
 *   - hardlinks to a member outside the kept part of the archive;
 *   - devices, fifos, sockets;
 *   - members larger than NV_EXTRACT_MEMBER_MAX, or an object expanding to
 *     more than NV_EXTRACT_RATIO times its size (deflate cannot do more:
 *     anything beyond is a bomb);
 *   - truncated or corrupt data, and an object whose SHA-256 is not the
 *     expected one (map->sum).
 * Directory modes are not restored (directories are 0755); files keep their
 * permission bits without setuid/setgid/sticky, and their mtime.
 */
#ifndef NV_EXTRACT_H
#define NV_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/progress.h"
#include "store/store.h"

#define NV_EXTRACT_MEMBER_MAX (64ull << 30) /* one member: 64 GiB */
#define NV_EXTRACT_RATIO 1100ull	    /* plain bytes per stored byte, at most */
#define NV_EXTRACT_PIECE (8u << 20)	    /* one ranged read: 8 MiB */

/* Where the bytes come from. read fetches exactly len bytes at off into out
 * (reset first); size is the whole length; name is used in messages. */
struct nv_extract_src {
	int (*read)(void *ud, uint64_t off, size_t len, struct nv_buf *out, struct nv_error *err);
	void *ud;
	uint64_t size;
	const char *name;
	size_t piece;		      /* bytes per read; 0 = NV_EXTRACT_PIECE */
	int64_t deadline_ms;	      /* absolute nv_now_ms(); 0 = none: NV_EDEADLINE past it */
	struct nv_progress *progress; /* bytes read are added to it; NULL = none */
};

/* An object of the store as a source (ud is the store; key and size set by
 * the caller). */
struct nv_extract_store_src {
	struct nv_extract_src src;
	struct nv_store *store;
};
void nv_extract_store_src_init(struct nv_extract_store_src *s, struct nv_store *store,
			       const char *key, uint64_t size);

enum nv_extract_fmt { NV_EXTRACT_TARGZ, NV_EXTRACT_ZIP };

/* Which members are kept and where they go. A member path (normalized: no
 * "./", no empty or "." components) is kept when it starts with strip ("" =
 * all; strip ends with '/'); the rest, after dest ("" or ending with '/'),
 * is its path in the staging folder. Others are counted as skipped. */
struct nv_extract_map {
	const char *strip;
	const char *dest;
	/* Called once with the first kept member (after strip), before it is
	 * written; may rewrite *dest (NV_OK to go on). */
	int (*first)(void *ud, const char *member, struct nv_buf *dest, struct nv_error *err);
	/* A venv's interpreter link (an absolute symlink at <venv>/bin/python*):
	 * handed to this instead of being refused, not created. NULL = refuse. */
	void (*pylink)(void *ud, const char *rel, const char *target);
	void *ud;
	const unsigned char *sum; /* expected SHA-256 of the object, NULL = none */
	/* members (after strip) below this folder ("aws/") are not written but
	 * counted in excluded; NULL = none */
	const char *exclude;
	/* paths of the dataset (below the staging folder, after dest) that it
	 * excludes (config.h): members there and below are skipped */
	char *const *ds_exclude;
	size_t ds_nexclude;
};

struct nv_extract_stats {
	uint64_t files, dirs, symlinks, hardlinks, skipped, excluded;
	uint64_t bytes;	  /* plain bytes written */
	uint64_t fetched; /* bytes read from the source */
	uint64_t requests;
};

/* Extract src into the folder open at stagefd. On error the folder may hold
 * part of the data: the caller discards it. Stats are added to *st. */
int nv_extract_run(const struct nv_extract_src *src, enum nv_extract_fmt fmt,
		   const struct nv_extract_map *map, int stagefd, struct nv_extract_stats *st,
		   struct nv_error *err);

/* Normalize a member path into out ("./a//b/" -> "a/b"): NV_EUNSAFE for an
 * absolute path or a ".." component. An empty result means the root. */
int nv_extract_norm_path(const char *in, struct nv_buf *out, struct nv_error *err);

/* May a symlink at rel (relative to the staging folder) point to target?
 * Only relative targets whose ".." components all come first and do not
 * climb above the folder: every symlink then resolves inside, whatever the
 * other symlinks are. */
bool nv_extract_link_inside(const char *rel, const char *target);

#endif
