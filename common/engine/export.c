/* export: netvol snapshots as the shell scripts' objects (see export.h). */
#include "engine/export.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "base/buf.h"
#include "base/hash.h"
#include "base/mem.h"
#include "engine/engine.h"
#include "engine/pack.h"
#include "engine/snapshot.h"
#include "store/keys.h"

#define OBJECT_MAX (8ull << 30) /* a legacy object built in memory, at most */

/* The export of one dataset: its manifest, where the blobs are read, and
 * the archive being built. */
struct ectx {
	const struct nv_export_opts *o;
	const struct nv_dataset *ds;
	struct nv_manifest m;
	struct nv_buf prefix, key, packed, out;
	unsigned char *plain;
	ZSTD_DCtx *dctx;
	struct archive *a;
	struct nv_error aerr; /* the first error of the write callback */
	uint64_t files;
	nv_export_report_fn report;
	void *ud;
};

static la_ssize_t write_cb(struct archive *a, void *ud, const void *p, size_t n)
{
	struct ectx *c = ud;

	(void)a;
	if (nv_buf_add(&c->out, p, n, &c->aerr))
		return -1;
	return (la_ssize_t)n;
}

static int arch_err(struct ectx *c, const char *what, struct nv_error *err)
{
	if (c->aerr.code)
		return nv_error_set(err, c->aerr.code, "%s: %s", what, c->aerr.msg);
	return nv_error_set(err, NV_EIO, "%s: %s", what,
			    c->a ? archive_error_string(c->a) : "libarchive");
}

static int begin(struct ectx *c, struct nv_error *err)
{
	nv_buf_reset(&c->out);
	c->files = 0;
	c->aerr.code = NV_OK;
	c->a = archive_write_new();
	if (!c->a)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	/* GNU tar, as tar -czf wrote them (names as bytes, no charset) */
	if (archive_write_set_format_gnutar(c->a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(c->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(c->a, 1) != ARCHIVE_OK ||
	    archive_write_open2(c->a, c, NULL, write_cb, NULL, NULL) != ARCHIVE_OK)
		return arch_err(c, "cannot start an archive", err);
	return NV_OK;
}

static void drop(struct ectx *c)
{
	if (c->a)
		archive_write_free(c->a);
	c->a = NULL;
}

/* The plain bytes of file entry e, chunk by chunk, into the archive. */
static int put_data(struct ectx *c, const struct nv_entry *e, struct nv_error *err)
{
	uint32_t j;
	int rc;

	for (j = 0; j < e->nchunks; j++) {
		const struct nv_chunk *ch = &c->m.chunks[e->first_chunk + j];

		nv_buf_reset(&c->key);
		nv_buf_reset(&c->packed);
		if ((rc = nv_keys_object(c->prefix.p, NV_KEY_PACK, c->m.packs[ch->pack], &c->key,
					 err)) ||
		    (rc = nv_store_get_range(c->o->store, c->key.p, ch->off, ch->clen, &c->packed,
					     err)))
			return rc;
		if (c->packed.len != ch->clen)
			return nv_error_set(err, NV_ECORRUPT, "pack '%s' is shorter than its index",
					    c->key.p);
		if ((rc = nv_pack_blob_decode(c->dctx, c->packed.p, ch->clen, ch->ulen, ch->hash,
					      c->plain, err))) {
			nv_error_prefix(err, "blob of '%s' in pack '%s'", e->path, c->key.p);
			return rc;
		}
		if (archive_write_data(c->a, c->plain, ch->ulen) != (la_ssize_t)ch->ulen)
			return arch_err(c, "cannot write to an archive", err);
	}
	return NV_OK;
}

/* Entry e of the manifest as member name; files_only: regular files only
 * (venv chunks), a hardlink then written as a file of its own. */
static int put_entry(struct ectx *c, const struct nv_entry *e, const char *name, bool files_only,
		     struct nv_error *err)
{
	const struct nv_entry *data = e;
	struct archive_entry *ae = archive_entry_new();
	int rc = NV_OK;

	if (!ae)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	if (e->type == NV_ENT_HARDLINK) {
		if (e->link_index >= c->m.nentries) {
			rc =
			    nv_error_set(err, NV_ECORRUPT, "hardlink '%s' names no entry", e->path);
			goto out;
		}
		data = &c->m.entries[e->link_index];
	}
	archive_entry_set_pathname(ae, name);
	archive_entry_set_mtime(ae, e->mtime_sec, e->mtime_nsec);
	archive_entry_set_perm(ae, e->mode & 07777);
	switch (e->type) {
	case NV_ENT_DIR:
		archive_entry_set_filetype(ae, AE_IFDIR);
		break;
	case NV_ENT_SYMLINK:
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_symlink(ae, e->link);
		break;
	default:
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_size(ae, (la_int64_t)data->size);
		archive_entry_set_perm(ae, data->mode & 07777);
		break;
	}
	if ((files_only && e->type != NV_ENT_FILE && e->type != NV_ENT_HARDLINK))
		goto out;
	if (archive_write_header(c->a, ae) != ARCHIVE_OK) {
		rc = arch_err(c, "cannot write to an archive", err);
		goto out;
	}
	if (e->type == NV_ENT_FILE || e->type == NV_ENT_HARDLINK) {
		rc = put_data(c, data, err);
		c->files++;
	}
out:
	archive_entry_free(ae);
	return rc;
}

/* Close the archive: c->out holds it. */
static int finish(struct ectx *c, struct nv_error *err)
{
	if (archive_write_close(c->a) != ARCHIVE_OK)
		return arch_err(c, "cannot finish an archive", err);
	drop(c);
	return NV_OK;
}

static int store_object(struct ectx *c, const char *key, const void *p, size_t n, uint64_t files,
			struct nv_error *err)
{
	struct nv_store_stat st;
	struct nv_error he = NV_ERROR_INIT;
	int rc = nv_store_head(c->o->legacy, key, &st, &he);

	if (rc && rc != NV_ENOTFOUND) {
		if (err)
			*err = he;
		return rc;
	}
	if (!rc && !c->o->force) {
		c->report(c->ud, c->ds->path, key, st.size, files, "exists_kept");
		return NV_OK;
	}
	if (!c->o->dry_run &&
	    (rc = nv_store_put(c->o->legacy, key, p, n, c->o->force ? 0 : NV_PUT_IF_ABSENT, err)))
		return rc;
	c->report(c->ud, c->ds->path, key, n, files, c->o->dry_run ? "would_write" : "written");
	return NV_OK;
}

/* One tar.gz of the whole dataset, members below root ("custom_nodes",
 * ".comfyui"; "." for ./<entry>). */
static int export_tree(struct ectx *c, const char *root, const char *key, struct nv_error *err)
{
	struct nv_buf name = NV_BUF_INIT(NV_PATH_BUF * 2);
	size_t i;
	int rc;

	if ((rc = begin(c, err)))
		goto out;
	for (i = 0; i < c->m.nentries; i++) {
		const struct nv_entry *e = &c->m.entries[i];

		nv_buf_reset(&name);
		if ((rc = nv_buf_addf(&name, err, "%s/%s", root, e->path)))
			goto out;
		if (!*e->path)
			name.p[--name.len] = '\0'; /* the root folder itself */
		if ((rc = put_entry(c, e, name.p, false, err)))
			goto out;
	}
	if ((rc = finish(c, err)))
		goto out;
	rc = store_object(c, key, c->out.p, c->out.len, c->files, err);
out:
	drop(c);
	nv_buf_release(&name);
	return rc;
}

/* venv: per venv (first path component), chunks of regular files. */
static int export_venvs(struct ectx *c, struct nv_error *err)
{
	struct nv_buf key = NV_BUF_INIT(4096), sums = NV_BUF_INIT(1 << 20);
	uint64_t limit = c->o->chunk_bytes ? c->o->chunk_bytes : NV_EXPORT_CHUNK;
	size_t i = 0, j;
	int rc = NV_OK;

	while (i < c->m.nentries) {
		const struct nv_entry *e = &c->m.entries[i];
		const char *slash = strchr(e->path, '/');
		size_t vl, end;
		unsigned n = 0;

		if (!*e->path || slash) { /* the root, or loose entries of one venv */
			i++;
			continue;
		}
		if (e->type != NV_ENT_DIR) {
			i++;
			continue; /* a file directly in venv/: not a venv */
		}
		vl = strlen(e->path);
		for (end = i + 1; end < c->m.nentries; end++)
			if (strncmp(c->m.entries[end].path, e->path, vl) ||
			    c->m.entries[end].path[vl] != '/')
				break;
		nv_buf_reset(&sums);
		j = i + 1;
		for (;;) {
			uint64_t plain = 0;
			unsigned char sum[NV_HASH_LEN];
			char hex[NV_HASH_HEX];

			while (j < end && c->m.entries[j].type != NV_ENT_FILE &&
			       c->m.entries[j].type != NV_ENT_HARDLINK)
				j++;
			if (j == end && n)
				break;
			if ((rc = begin(c, err)))
				goto out;
			for (; j < end; j++) {
				const struct nv_entry *f = &c->m.entries[j];
				const struct nv_entry *d =
				    f->type == NV_ENT_HARDLINK && f->link_index < c->m.nentries
					? &c->m.entries[f->link_index]
					: f;

				if (f->type != NV_ENT_FILE && f->type != NV_ENT_HARDLINK)
					continue;
				if (plain && plain + d->size > limit)
					break; /* this group is full; one big file may exceed it */
				if ((rc = put_entry(c, f, f->path + vl + 1, true, err)))
					goto out;
				plain += d->size;
			}
			if ((rc = finish(c, err)))
				goto out;
			n++;
			nv_buf_reset(&key);
			if ((rc = nv_buf_addf(&key, err,
					      "shared/venv_chunks/%.*s/venv_chunk_%u.tar.gz",
					      (int)vl, e->path, n)))
				goto out;
			nv_sha256(c->out.p, c->out.len, sum);
			nv_hex_encode(sum, NV_HASH_LEN, hex);
			if ((rc = nv_buf_addf(&sums, err, "%s venv_chunk_%u.tar.gz\n", hex, n)) ||
			    (rc = store_object(c, key.p, c->out.p, c->out.len, c->files, err)))
				goto out;
		}
		nv_buf_reset(&key);
		if ((rc = nv_buf_addf(&key, err, "shared/venv_chunks/%.*s/venv_chunks.checksums",
				      (int)vl, e->path)) ||
		    (rc = store_object(c, key.p, sums.p, sums.len, 0, err)))
			goto out;
		i = end;
	}
out:
	drop(c);
	nv_buf_release(&key);
	nv_buf_release(&sums);
	return rc;
}

int nv_export_dataset(const struct nv_export_opts *o, const struct nv_dataset *ds,
		      nv_export_report_fn report, void *ud, struct nv_error *err)
{
	struct ectx c;
	struct nv_buf key = NV_BUF_INIT(4096);
	unsigned char head[NV_HASH_LEN];
	const char *root = NULL, *obj = NULL;
	int rc;

	memset(&c, 0, sizeof(c));
	c.o = o;
	c.ds = ds;
	c.report = report;
	c.ud = ud;
	nv_manifest_init(&c.m);
	nv_buf_init(&c.prefix, 4096);
	nv_buf_init(&c.key, 4096);
	nv_buf_init(&c.packed, NV_BLOB_SIZE + 4096);
	nv_buf_init(&c.out, OBJECT_MAX);

	if (!strcmp(ds->path, ".comfyui"))
		root = ".comfyui", obj = "shared/_comfyui.tar.gz";
	else if (!strcmp(ds->path, ".cache"))
		root = ".cache", obj = "shared/_cache.tar.gz";
	else if (!strcmp(ds->path, "ComfyUI/custom_nodes"))
		root = "custom_nodes", obj = "ComfyUI/shared/custom_nodes.tar.gz";
	else if (!strcmp(ds->path, "ComfyUI") && ds->scope == NV_SCOPE_POD)
		root = ".", obj = "comfyui_pod_specific_data.tar.gz";
	else if (strcmp(ds->path, "venv")) {
		rc = nv_error_set(err, NV_EINVALID, "the shell scripts kept no object for '%s'",
				  ds->path);
		goto out;
	}
	if (ds->scope == NV_SCOPE_POD && !o->pod_id) {
		rc =
		    nv_error_set(err, NV_ECONFIG, "'%s' is pod-scoped: POD_ID is needed", ds->path);
		goto out;
	}
	if ((rc = nv_keys_dataset_prefix(ds, o->pod_id, &c.prefix, err)) ||
	    (rc = nv_engine_read_head(o->store, c.prefix.p, head, err)) ||
	    (rc = nv_engine_read_manifest(o->store, c.prefix.p, head, &c.m, err)))
		goto out;
	c.plain = nv_malloc(NV_BLOB_SIZE);
	c.dctx = ZSTD_createDCtx();
	if (!c.plain || !c.dctx) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	if (!obj) {
		rc = export_venvs(&c, err);
	} else {
		if (ds->scope == NV_SCOPE_POD)
			rc = nv_buf_addf(&key, err, "%s/%s", o->pod_id, obj);
		else
			rc = nv_buf_addstr(&key, obj, err);
		if (!rc)
			rc = export_tree(&c, root, key.p, err);
	}
out:
	drop(&c);
	if (rc && rc != NV_EINVALID && rc != NV_ENOTFOUND)
		nv_error_prefix(err, "export of '%s'", ds->path);
	ZSTD_freeDCtx(c.dctx);
	nv_free(c.plain);
	nv_manifest_release(&c.m);
	nv_buf_release(&c.prefix);
	nv_buf_release(&c.key);
	nv_buf_release(&c.packed);
	nv_buf_release(&c.out);
	nv_buf_release(&key);
	return rc;
}
