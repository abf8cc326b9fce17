/* fuzz_restore - libFuzzer target: a whole restore from a hostile store.
 *
 * Input: a 4-byte little-endian length L, L bytes of manifest body, and the
 * rest is a pack. The harness wraps the body into a manifest object; when
 * it decodes, every chunk hash is set to the hash of what the pack really
 * holds there (so that restores get past the blob check and write files),
 * the manifest is re-encoded and stored with a HEAD and the pack under each
 * pack id, in a file store in a fresh temp folder:
 *   ROOT/store/...   the store
 *   ROOT/out/ds      the restore target
 *   ROOT/outside/    must stay empty
 * After nv_restore_dataset, ROOT holds exactly store, out and outside,
 * outside is empty, and out holds nothing but "ds" (a failed restore leaves
 * no staging folder). Anything else is a bug: abort. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "engine/engine.h"
#include "base/fs.h"
#include "base/log.h"
#include "engine/snapshot.h"
#include "store/store.h"

#define MAX_PACKS 4

static char root[64];
static int rootfd = -1;

static void cleanup(void)
{
	if (rootfd >= 0 && !getenv("NV_FUZZ_KEEP")) {
		nv_fs_rmtree_at(AT_FDCWD, root, NULL);
		close(rootfd);
		rootfd = -1;
	}
}

static void setup(void)
{
	int fd;

	if (rootfd >= 0)
		return;
	snprintf(root, sizeof(root), "/tmp/nvfuzz-restore.XXXXXX");
	if (!mkdtemp(root))
		abort();
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (rootfd < 0 || fd < 0)
		abort();
	nv_log_setup(NV_LOG_TEXT, NV_LOG_ERROR, fd);
	atexit(cleanup);
}

static void put(int dfd, const char *rel, const void *p, size_t n)
{
	char dir[512];
	const char *slash = strrchr(rel, '/');
	int fd;

	if (slash) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - rel), rel);
		if (nv_fs_mkdirs_beneath(dfd, dir, NULL))
			abort();
	}
	fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || nv_fs_write_full(fd, p, n))
		abort();
	close(fd);
}

static size_t count_entries(const char *rel, const char *except)
{
	int fd = openat(rootfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	if (fd < 0)
		abort();
	d = fdopendir(fd);
	if (!d)
		abort();
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    (!except || strcmp(de->d_name, except)))
			n++;
	closedir(d);
	return n;
}

/* The hash of what the pack holds where chunk c says; false if nothing. */
static void fix_chunk(struct nv_chunk *c, const uint8_t *pack, size_t plen)
{
	void *buf;
	size_t n;

	if (c->off > plen || c->clen > plen - c->off || c->ulen > (1u << 20))
		return;
	buf = malloc(c->ulen ? c->ulen : 1);
	if (!buf)
		return;
	n = ZSTD_decompress(buf, c->ulen, pack + c->off, c->clen);
	if (!ZSTD_isError(n) && n == c->ulen)
		nv_sha256(buf, n, c->hash);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nv_manifest m;
	struct nv_buf obj = NV_BUF_INIT(NV_BUF_UNLIMITED), head = NV_BUF_INIT(256);
	struct nv_error e = NV_ERROR_INIT;
	struct nv_store *store = NULL;
	struct nv_config cfg;
	struct nv_dataset ds = {.path = "ds", .scope = NV_SCOPE_USER};
	struct nv_engine_opts o;
	struct nv_restore_result res;
	const uint8_t *body, *pack;
	unsigned char id[NV_HASH_LEN];
	char hex[NV_HASH_HEX], key[256], path[256];
	size_t blen, plen, cap, len, i;
	unsigned char *wrapped = NULL;

	if (size < 4)
		return 0;
	blen =
	    (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
	if (blen > size - 4)
		blen = size - 4;
	body = data + 4;
	pack = body + blen;
	plen = size - 4 - blen;
	setup();

	cap = ZSTD_compressBound(blen) + NV_MAGIC_LEN;
	wrapped = malloc(cap);
	if (!wrapped)
		return 0;
	memcpy(wrapped, NV_SNAP_MAGIC, NV_MAGIC_LEN);
	len = ZSTD_compress(wrapped + NV_MAGIC_LEN, cap - NV_MAGIC_LEN, body, blen, 1);
	if (ZSTD_isError(len))
		abort();
	nv_manifest_init(&m);
	if (nv_manifest_decode(wrapped, len + NV_MAGIC_LEN, &m, &e) || m.npacks > MAX_PACKS ||
	    m.total_bytes > (64u << 20)) {
		if (getenv("NV_FUZZ_DEBUG"))
			fprintf(stderr, "not a manifest: %s\n", e.msg);
		goto out;
	}
	for (i = 0; i < m.nchunks; i++)
		fix_chunk(&m.chunks[i], pack, plen);
	if (nv_manifest_encode(&m, 1, &obj, &e))
		abort();
	nv_sha256(obj.p, obj.len, id);
	nv_hex_encode(id, NV_HASH_LEN, hex);

	if (nv_fs_rmtree_at(rootfd, "store", NULL) || nv_fs_rmtree_at(rootfd, "out", NULL) ||
	    nv_fs_rmtree_at(rootfd, "outside", NULL))
		abort();
	if (mkdirat(rootfd, "out", 0755) || mkdirat(rootfd, "outside", 0755))
		abort();
	snprintf(key, sizeof(key), "store/user/ds/snapshots/%s", hex);
	put(rootfd, key, obj.p, obj.len);
	if (nv_head_encode(id, &head, &e))
		abort();
	put(rootfd, "store/user/ds/HEAD", head.p, head.len);
	for (i = 0; i < m.npacks; i++) {
		nv_hex_encode(m.packs[i], NV_HASH_LEN, hex);
		snprintf(key, sizeof(key), "store/user/ds/packs/%s.pack", hex);
		put(rootfd, key, pack, plen);
	}
	snprintf(path, sizeof(path), "%s/store", root);
	if (nv_store_file_open(path, &store, &e))
		abort();
	memset(&cfg, 0, sizeof(cfg));
	cfg.parallel = 2;
	cfg.zstd_level = 1;
	cfg.progress_interval_ms = 3600000;
	snprintf(path, sizeof(path), "%s/out/ds", root);
	memset(&o, 0, sizeof(o));
	o.cfg = &cfg;
	o.store = store;
	o.ds = &ds;
	o.path = path;
	o.workers = 2;
	if (nv_restore_dataset(&o, &res, &e)) {
		if (!e.msg[0])
			abort();
		if (getenv("NV_FUZZ_DEBUG"))
			fprintf(stderr, "restore failed: %s\n", e.msg);
	} else if (getenv("NV_FUZZ_DEBUG")) {
		fprintf(stderr, "restored %llu files, %llu bytes\n", (unsigned long long)res.files,
			(unsigned long long)res.bytes);
	}
	/* nothing outside the target, no staging left */
	if (count_entries(".", NULL) != 3 || count_entries("outside", NULL) != 0 ||
	    count_entries("out", "ds") != 0)
		abort();
out:
	nv_store_close(store);
	nv_manifest_release(&m);
	nv_buf_release(&obj);
	nv_buf_release(&head);
	free(wrapped);
	return 0;
}
