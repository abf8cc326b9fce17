/* nvcraft - write a hand-made (possibly hostile) snapshot and HEAD into a
 * store, for the tests. The encoder validates nothing, so any manifest can
 * be made. Usage: nvcraft STORE_URL PREFIX < spec
 * spec lines (tab-separated): "d PATH", "f PATH SIZE", "l PATH TARGET",
 * "h PATH INDEX". The root directory entry comes first automatically. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/snapshot.h"
#include "store/store.h"

int main(int argc, char **argv)
{
	struct nv_manifest m;
	struct nv_store *s = NULL;
	struct nv_buf obj = NV_BUF_INIT(NV_BUF_UNLIMITED), key = NV_BUF_INIT(4096),
		      head = NV_BUF_INIT(256);
	struct nv_error e = NV_ERROR_INIT;
	unsigned char pack[NV_HASH_LEN] = {7}, id[NV_HASH_LEN];
	char line[8192], hex[NV_HASH_HEX];
	uint32_t pi;
	struct nv_entry root;

	if (argc != 3) {
		fprintf(stderr, "usage: nvcraft STORE_URL PREFIX < spec\n");
		return 2;
	}
	nv_manifest_init(&m);
	m.dataset = strdup("crafted");
	nv_manifest_add_pack(&m, pack, &pi, NULL);
	memset(&root, 0, sizeof(root));
	root.path = "";
	root.type = NV_ENT_DIR;
	root.mode = 0755;
	nv_manifest_add_entry(&m, &root, NULL, NULL);
	while (fgets(line, sizeof(line), stdin)) {
		struct nv_entry en;
		char *f[3] = {NULL, NULL, NULL}, *p = line;
		int n = 0;

		line[strcspn(line, "\n")] = '\0';
		while (n < 3 && p) {
			f[n++] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		if (!f[1])
			continue;
		memset(&en, 0, sizeof(en));
		en.path = f[1];
		en.mode = 0644;
		en.first_chunk = m.nchunks;
		switch (f[0][0]) {
		case 'd':
			en.type = NV_ENT_DIR;
			en.mode = 0755;
			break;
		case 'f': {
			struct nv_chunk c;

			memset(&c, 0, sizeof(c));
			en.type = NV_ENT_FILE;
			en.size = f[2] ? strtoull(f[2], NULL, 10) : 1;
			c.off = 8;
			c.clen = 9;
			c.ulen = (uint32_t)en.size;
			if (en.size) {
				nv_manifest_add_chunk(&m, &c, NULL);
				en.nchunks = 1;
			}
			break;
		}
		case 'l':
			en.type = NV_ENT_SYMLINK;
			en.link = f[2];
			break;
		case 'h':
			en.type = NV_ENT_HARDLINK;
			en.link_index = f[2] ? strtoull(f[2], NULL, 10) : 0;
			break;
		}
		nv_manifest_add_entry(&m, &en, NULL, NULL);
	}
	if (nv_store_open_url(argv[1], NULL, &s, &e) || nv_manifest_encode(&m, 3, &obj, &e)) {
		fprintf(stderr, "nvcraft: %s\n", e.msg);
		return 1;
	}
	nv_sha256(obj.p, obj.len, id);
	nv_hex_encode(id, NV_HASH_LEN, hex);
	nv_buf_addf(&key, NULL, "%ssnapshots/%s", argv[2], hex);
	nv_head_encode(id, &head, NULL);
	if (nv_store_put(s, key.p, obj.p, obj.len, 0, &e)) {
		fprintf(stderr, "nvcraft: %s\n", e.msg);
		return 1;
	}
	nv_buf_reset(&key);
	nv_buf_addf(&key, NULL, "%sHEAD", argv[2]);
	if (nv_store_put(s, key.p, head.p, head.len, 0, &e)) {
		fprintf(stderr, "nvcraft: %s\n", e.msg);
		return 1;
	}
	nv_store_close(s);
	nv_manifest_release(&m);
	nv_buf_release(&obj);
	nv_buf_release(&key);
	nv_buf_release(&head);
	return 0;
}
