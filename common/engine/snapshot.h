/* snapshot.h - the store format: HEAD, packs, pack indexes and
 * snapshot manifests. docs/FORMAT.md is the normative description; this
 * module is its only reader and writer.
 *
 * Every object starts with an 8-byte magic whose last byte is the format
 * version; readers refuse versions they don't know. Everything decoded from
 * the store is validated here (sizes, counts, paths, ordering, references)
 * before any caller sees it, so restore can trust a decoded manifest.
 */
#ifndef NV_SNAPSHOT_H
#define NV_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"
#include "base/hash.h"
#include "base/mem.h"

#define NV_PACK_MAGIC "NVPACK\0\1"
#define NV_IDX_MAGIC "NVIDX\0\0\1"
#define NV_SNAP_MAGIC "NVSNAP\0\1"
#define NV_HEAD_MAGIC "netvol-head 1\n"
#define NV_MAGIC_LEN 8

#define NV_BLOB_SIZE (4u << 20)	      /* large files are cut in 4 MiB pieces */
#define NV_PACK_TARGET (16u << 20)    /* a pack is closed once this big */
#define NV_MANIFEST_MAX (1ull << 30)  /* decoded manifest size cap */
#define NV_FILE_SIZE_MAX (1ull << 40) /* 1 TiB: bigger is "absurd" */
#define NV_PATH_MAX 4096
#define NV_PATH_BUF (NV_PATH_MAX + 1)

/* ---- HEAD: the latest snapshot id of a dataset ---- */
int nv_head_encode(const unsigned char id[NV_HASH_LEN], struct nv_buf *out, struct nv_error *err);
int nv_head_decode(const char *data, size_t len, unsigned char id[NV_HASH_LEN],
		   struct nv_error *err);

/* ---- pack index: the blobs of one pack ---- */
struct nv_idx_entry {
	unsigned char hash[NV_HASH_LEN];
	uint64_t off;
	uint32_t clen;
	uint32_t ulen;
};
int nv_idx_encode(const struct nv_idx_entry *e, size_t n, struct nv_buf *out, struct nv_error *err);
/* Allocates *out (nv_free). */
int nv_idx_decode(const void *data, size_t len, struct nv_idx_entry **out, size_t *n,
		  struct nv_error *err);

/* ---- manifests ---- */
enum nv_entry_type {
	NV_ENT_FILE = 1,
	NV_ENT_DIR = 2,
	NV_ENT_SYMLINK = 3,
	NV_ENT_HARDLINK = 4, /* another name of an earlier file entry */
};

struct nv_chunk {
	unsigned char hash[NV_HASH_LEN];
	uint32_t pack; /* index into manifest packs */
	uint32_t clen;
	uint32_t ulen;
	uint64_t off;
};

struct nv_entry {
	char *path;	     /* relative, '/'-separated; "" is the root */
	char *link;	     /* symlink target (verbatim), else NULL */
	uint64_t size;	     /* files */
	uint64_t link_index; /* hardlinks: index of the file entry */
	uint64_t ino;	     /* stat cache (sync reuses hashes when it matches) */
	int64_t mtime_sec;
	int64_t ctime_sec;
	uint32_t mtime_nsec;
	uint32_t ctime_nsec;
	uint32_t mode; /* permission bits, 07777 */
	uint8_t type;
	uint32_t nchunks;
	size_t first_chunk; /* index into manifest chunks */
};

struct nv_manifest {
	int64_t created;
	char *dataset;
	bool has_parent;
	unsigned char parent[NV_HASH_LEN];
	/* a merge's second parent (body version 2, FORMAT.md); needs has_parent */
	bool has_parent2;
	unsigned char parent2[NV_HASH_LEN];
	unsigned char digest[NV_HASH_LEN]; /* content digest, see FORMAT.md */
	unsigned char (*packs)[NV_HASH_LEN];
	uint32_t npacks;
	size_t packs_cap;
	struct nv_entry *entries;
	size_t nentries, entries_cap;
	struct nv_chunk *chunks;
	size_t nchunks, chunks_cap;
	uint64_t total_bytes;	    /* sum of file sizes (computed) */
	struct nv_mem_pool strings; /* entries' path and link */
};

void nv_manifest_init(struct nv_manifest *m);
void nv_manifest_release(struct nv_manifest *m);
/* Make room for this many entries and chunks in all (no reallocation while
 * a sync that knows the counts appends them). */
int nv_manifest_reserve(struct nv_manifest *m, size_t nentries, size_t nchunks,
			struct nv_error *err);
/* Append an entry; path and link are copied. Returns its index in *idx. */
int nv_manifest_add_entry(struct nv_manifest *m, const struct nv_entry *e, size_t *idx,
			  struct nv_error *err);
/* The same, but path and link are used as they are: they must live as
 * long as m (in m->strings, or adopted into it). */
int nv_manifest_add_entry_ref(struct nv_manifest *m, const struct nv_entry *e, size_t *idx,
			      struct nv_error *err);
int nv_manifest_add_chunk(struct nv_manifest *m, const struct nv_chunk *c, struct nv_error *err);
int nv_manifest_add_pack(struct nv_manifest *m, const unsigned char id[NV_HASH_LEN], uint32_t *idx,
			 struct nv_error *err);
/* Compute m->digest from the content (not stat cache, not locations). */
int nv_manifest_compute_digest(struct nv_manifest *m, struct nv_error *err);
/* Serialize (magic + zstd frame). */
int nv_manifest_encode(const struct nv_manifest *m, int zstd_level, struct nv_buf *out,
		       struct nv_error *err);
/* Parse and validate everything; m must be freshly initialised. */
int nv_manifest_decode(const void *data, size_t len, struct nv_manifest *m, struct nv_error *err);

/* Component-wise path order ("a" < "a/b" < "a-b"): the order of a
 * depth-first walk with sorted names, the order of manifest entries. */
int nv_path_cmp(const char *a, const char *b);

/* Verify a relative manifest path: not absolute, no empty, '.' or '..'
 * component, no control-free check (any byte but NUL and '/' is allowed
 * in names), components <= 255 bytes, total <= NV_PATH_MAX. */
int nv_snap_check_path(const char *p, size_t n, struct nv_error *err);

#endif
