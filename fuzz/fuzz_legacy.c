/* fuzz_legacy - libFuzzer target: a hostile legacy archive (extract.c).
 *
 * Input: one byte of options, then the object. Bit 0: zip (else tar.gz);
 * bit 1: keep only ".comfyui/" members; bit 2: put them below "v/" and hand
 * absolute bin/python* links to a callback; bit 3: expect a SHA-256 (all
 * zeros: must fail if anything was read to the end). The object is read
 * through a memory source in 4 KiB pieces (piece boundaries, prefetch and
 * zip seeks get exercised) and extracted into ROOT/out/stage:
 *   ROOT/outside/  must stay empty
 * After the run ROOT holds exactly out and outside, out holds only stage,
 * and below stage there is no device, fifo or socket and no symlink that is
 * absolute or resolves outside stage. Anything else is a bug: abort. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/extract.h"
#include "base/fs.h"
#include "base/log.h"

static char root[64], stage[128];
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
	snprintf(root, sizeof(root), "/tmp/nvfuzz-legacy.XXXXXX");
	if (!mkdtemp(root))
		abort();
	snprintf(stage, sizeof(stage), "%s/out/stage", root);
	rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (rootfd < 0 || fd < 0)
		abort();
	nv_log_setup(NV_LOG_TEXT, NV_LOG_ERROR, fd);
	atexit(cleanup);
}

struct mem {
	const uint8_t *p;
	size_t n;
};

static int mem_read(void *ud, uint64_t off, size_t len, struct nv_buf *out, struct nv_error *err)
{
	struct mem *m = ud;

	if (off > m->n || len > m->n - off)
		return nv_error_set(err, NV_ECORRUPT, "read past the end");
	return nv_buf_add(out, m->p + off, len, err);
}

static void pylink(void *ud, const char *rel, const char *target)
{
	(void)ud;
	if (target[0] != '/' || strstr(rel, "..") == rel)
		abort();
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		abort();
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* Lexical resolution of link dir + target must stay below stage. */
static void check_link(const char *path)
{
	char t[PATH_MAX], full[2 * PATH_MAX], real[PATH_MAX];
	ssize_t n = readlink(path, t, sizeof(t) - 1);
	size_t sl = strlen(stage);

	if (n < 0)
		abort();
	t[n] = '\0';
	if (t[0] == '/')
		abort();
	snprintf(full, sizeof(full), "%s/../%s", path, t);
	if (realpath(full, real) && (strncmp(real, stage, sl) || (real[sl] && real[sl] != '/')))
		abort();
	{
		/* dangling: walk the components */
		const char *p = t;
		long depth = 0;
		const char *q;

		for (q = path + sl; *q; q++)
			depth += *q == '/';
		depth--; /* the link's own name */
		while (*p) {
			size_t k = strcspn(p, "/");

			if (k == 2 && p[0] == '.' && p[1] == '.')
				depth--;
			else if (k && !(k == 1 && p[0] == '.'))
				depth++;
			if (depth < 0)
				abort();
			p += k + (p[k] == '/');
		}
	}
}

static void check_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		abort();
	while ((de = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0)
			abort();
		if (S_ISLNK(st.st_mode))
			check_link(p);
		else if (S_ISDIR(st.st_mode))
			check_tree(p);
		else if (!S_ISREG(st.st_mode))
			abort();
		else if (st.st_mode & (S_ISUID | S_ISGID))
			abort();
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char zero[NV_HASH_LEN];
	struct mem m;
	struct nv_extract_src src;
	struct nv_extract_map map;
	struct nv_extract_stats st;
	int fd, rc;

	if (size < 1)
		return 0;
	setup();
	nv_fs_rmtree_at(rootfd, "out", NULL);
	nv_fs_rmtree_at(rootfd, "outside", NULL);
	if (mkdirat(rootfd, "out", 0755) < 0 || mkdirat(rootfd, "outside", 0755) < 0 ||
	    mkdirat(rootfd, "out/stage", 0700) < 0)
		abort();
	fd = openat(rootfd, "out/stage", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		abort();
	m.p = data + 1;
	m.n = size - 1;
	memset(&src, 0, sizeof(src));
	src.read = mem_read;
	src.ud = &m;
	src.size = m.n;
	src.name = "fuzz.obj";
	src.piece = 4096;
	memset(&map, 0, sizeof(map));
	map.strip = data[0] & 2 ? ".comfyui/" : "";
	map.dest = data[0] & 4 ? "v/" : "";
	map.pylink = data[0] & 4 ? pylink : NULL;
	map.sum = data[0] & 8 ? zero : NULL;
	memset(&st, 0, sizeof(st));
	rc = nv_extract_run(&src, data[0] & 1 ? NV_EXTRACT_ZIP : NV_EXTRACT_TARGZ, &map, fd, &st,
			    NULL);
	close(fd);
	if (!rc && map.sum)
		abort(); /* nothing hashes to all zeros */
	if (count_entries(root) != 2)
		abort();
	{
		char out[128], outside[128];

		snprintf(out, sizeof(out), "%s/out", root);
		snprintf(outside, sizeof(outside), "%s/outside", root);
		if (count_entries(out) != 1 || count_entries(outside) != 0)
			abort();
	}
	check_tree(stage);
	return 0;
}
