/* walk.h - a depth-first walk of a folder with sorted names, never following
 * symlinks: the order of manifest entries (nv_path_cmp). */
#ifndef NV_WALK_H
#define NV_WALK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/err.h"
#include "base/mem.h"

#ifndef NV_PATH_BUF
#define NV_PATH_BUF 4097 /* as in snapshot.h */
#endif

struct nv_walk_entry {
	char *path; /* relative; "" for the root */
	char *link; /* symlink target */
	uint64_t size;
	uint64_t ino;
	uint64_t dev;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
	uint32_t mode; /* st_mode: type and permission bits */
	uint32_t nlink;
};

struct nv_walk {
	struct nv_walk_entry *e;
	size_t n, cap;
	uint64_t skipped; /* sockets, FIFOs, devices */
	/* Set before nv_walk_tree: relative paths left out with everything
	 * below them (a dataset's excluded paths); counted in excluded. */
	char *const *exclude;
	size_t nexclude;
	uint64_t excluded;
	uint64_t file_bytes; /* sum of regular file sizes */
	uint64_t files, dirs, symlinks;
	struct nv_mem_pool strings; /* entries' path and link */
};

void nv_walk_init(struct nv_walk *w);
void nv_walk_release(struct nv_walk *w);
/* Walk the directory open at rootfd. `what` names it in messages and logs
 * (skipped special files are logged as warnings). */
int nv_walk_tree(int rootfd, const char *what, struct nv_walk *w, struct nv_error *err);

#endif
