#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fs.h"
#include "base/mem.h"

#define TLS_FILE_MAX (1u << 20) /* a PEM chain or key larger than this is refused */
#define CHAIN_MAX 16

/* One loaded certificate chain and its key. */
struct pair {
	gnutls_pcert_st pcert[CHAIN_MAX];
	unsigned n;
	gnutls_privkey_t key;
	int64_t not_after;
	long refs; /* handshakes using it, +1 while it is the current pair */
	struct pair *next;
};

/* What a file looked like when we last tried it. */
struct sig {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	bool present;
};

/* Which pair a TLS session got, so its reference is dropped when the
 * connection closes (keyed by the session pointer, which libmicrohttpd
 * hands back on close). */
#define SESSION_BUCKETS 1024
struct session_ref {
	gnutls_session_t session;
	struct pair *pair;
	struct session_ref *next;
};

static struct {
	pthread_mutex_t lock;
	struct session_ref *sessions[SESSION_BUCKETS];
	char *cert_path, *key_path;
	struct pair *current;
	struct pair *pairs; /* every live pair, current included */
	struct sig cert_sig, key_sig;
	bool tried;
	_Atomic int64_t not_after;
	atomic_bool ready;
	atomic_ullong reloads, reload_errors;
} tls = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void sig_from(struct sig *s, const struct stat *st)
{
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->size = st->st_size;
	s->mtime = st->st_mtim;
	s->ctime = st->st_ctim;
	s->present = true;
}

static bool sig_eq(const struct sig *a, const struct sig *b)
{
	if (a->present != b->present)
		return false;
	if (!a->present)
		return true;
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
	       a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static void sig_stat(const char *path, struct sig *s)
{
	struct stat st;

	memset(s, 0, sizeof(*s));
	if (stat(path, &st) == 0)
		sig_from(s, &st);
}

int nv_tls_init(const char *cert_path, const char *key_path, struct nv_error *err)
{
	pthread_mutex_lock(&tls.lock);
	nv_free(tls.cert_path);
	nv_free(tls.key_path);
	tls.cert_path = nv_strdup(cert_path);
	tls.key_path = nv_strdup(key_path);
	tls.tried = false;
	pthread_mutex_unlock(&tls.lock);
	if (!tls.cert_path || !tls.key_path)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	return NV_OK;
}

/* Read a file (following symlinks: the kubelet's are expected) and the
 * signature of what was read. */
static int read_file(const char *path, struct nv_buf *out, struct sig *s, struct nv_error *err)
{
	struct stat st;
	char chunk[16384];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY), rc = NV_OK;

	if (fd < 0)
		return nv_error_sys(err, NV_EIO, errno, "cannot open '%s'", path);
	if (fstat(fd, &st) < 0) {
		rc = nv_error_sys(err, NV_EIO, errno, "cannot stat '%s'", path);
		goto out;
	}
	sig_from(s, &st);
	if (!S_ISREG(st.st_mode)) {
		rc = nv_error_set(err, NV_EINVALID, "'%s' is not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n = nv_fs_read_full(fd, chunk, sizeof(chunk));

		if (n < 0) {
			rc = nv_error_sys(err, NV_EIO, errno, "cannot read '%s'", path);
			goto out;
		}
		if (n == 0)
			break;
		if ((rc = nv_buf_add(out, chunk, (size_t)n, err))) {
			nv_error_prefix(err, "'%s'", path);
			goto out;
		}
		if ((size_t)n < sizeof(chunk))
			break;
	}
out:
	nv_fs_close(&fd);
	return rc;
}

static void pair_free(struct pair *p)
{
	unsigned i;

	if (!p)
		return;
	for (i = 0; i < p->n; i++)
		gnutls_pcert_deinit(&p->pcert[i]);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	nv_free(p);
}

static int gnutls_fail(struct nv_error *err, int grc, const char *what, const char *path)
{
	return nv_error_set(err, NV_EINVALID, "%s '%s': %s", what, path, gnutls_strerror(grc));
}

/* The public key of the certificate and of the private key must be the same. */
static int check_match(struct pair *p, const char *cert_path, struct nv_error *err)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	int grc, rc = NV_OK;

	if ((grc = gnutls_pubkey_init(&pub)) < 0 ||
	    (grc = gnutls_pubkey_import_privkey(pub, p->key, 0, 0)) < 0 ||
	    (grc = gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a)) < 0 ||
	    (grc = gnutls_pubkey_export2(p->pcert[0].pubkey, GNUTLS_X509_FMT_DER, &b)) < 0) {
		rc = gnutls_fail(err, grc, "cannot compare the key with", cert_path);
		goto out;
	}
	if (a.size != b.size || memcmp(a.data, b.data, a.size))
		rc = nv_error_set(err, NV_EINVALID,
				  "the private key does not match the certificate '%s'", cert_path);
out:
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (pub)
		gnutls_pubkey_deinit(pub);
	return rc;
}

static int load_pair(struct pair **out, struct sig *cs, struct sig *ks, struct nv_error *err)
{
	struct nv_buf cert = NV_BUF_INIT(TLS_FILE_MAX), key = NV_BUF_INIT(TLS_FILE_MAX);
	gnutls_x509_crt_t *crts = NULL;
	unsigned ncrt = 0, i;
	struct pair *p = NULL;
	gnutls_datum_t d;
	int grc, rc;

	if ((rc = read_file(tls.cert_path, &cert, cs, err)) ||
	    (rc = read_file(tls.key_path, &key, ks, err)))
		goto out;
	p = nv_calloc(1, sizeof(*p));
	if (!p) {
		rc = nv_error_set(err, NV_ENOMEM, "out of memory");
		goto out;
	}
	d.data = (unsigned char *)cert.p;
	d.size = (unsigned)cert.len;
	grc = gnutls_x509_crt_list_import2(&crts, &ncrt, &d, GNUTLS_X509_FMT_PEM,
					   GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED);
	if (grc < 0) {
		rc = gnutls_fail(err, grc, "cannot read the certificate", tls.cert_path);
		goto out;
	}
	if (ncrt == 0 || ncrt > CHAIN_MAX) {
		rc = nv_error_set(err, NV_EINVALID, "'%s' holds %u certificates (want 1 to %d)",
				  tls.cert_path, ncrt, CHAIN_MAX);
		goto out;
	}
	p->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crts[0]);
	i = ncrt;
	grc = gnutls_pcert_import_x509_list(p->pcert, crts, &i, 0);
	if (grc < 0) {
		rc = gnutls_fail(err, grc, "cannot use the certificate", tls.cert_path);
		goto out;
	}
	p->n = i;
	if ((grc = gnutls_privkey_init(&p->key)) < 0) {
		rc = gnutls_fail(err, grc, "cannot read the key", tls.key_path);
		goto out;
	}
	d.data = (unsigned char *)key.p;
	d.size = (unsigned)key.len;
	grc = gnutls_privkey_import_x509_raw(p->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (grc < 0) {
		rc = gnutls_fail(err, grc, "cannot read the key", tls.key_path);
		goto out;
	}
	if ((rc = check_match(p, tls.cert_path, err)))
		goto out;
	*out = p;
	p = NULL;
out:
	for (i = 0; i < ncrt; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	pair_free(p);
	nv_buf_release(&cert);
	/* the key material does not linger in freed memory */
	if (key.alloc)
		explicit_bzero(key.p, key.alloc);
	nv_buf_release(&key);
	return rc;
}

/* Drop one reference; free the pair when nobody uses it. Lock held. */
static void pair_unref_locked(struct pair *p)
{
	struct pair **pp;

	if (--p->refs > 0)
		return;
	for (pp = &tls.pairs; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	pair_free(p);
}

int nv_tls_poll(bool *changed, struct nv_error *err)
{
	struct sig cs, ks;
	struct pair *p = NULL;
	int rc;

	*changed = false;
	sig_stat(tls.cert_path, &cs);
	sig_stat(tls.key_path, &ks);
	if (tls.tried && sig_eq(&cs, &tls.cert_sig) && sig_eq(&ks, &tls.key_sig))
		return NV_OK;
	rc = load_pair(&p, &cs, &ks, err);
	/* remember what was tried, so a bad pair is reported once */
	tls.cert_sig = cs;
	tls.key_sig = ks;
	tls.tried = true;
	if (rc) {
		atomic_fetch_add(&tls.reload_errors, 1);
		return rc;
	}
	pthread_mutex_lock(&tls.lock);
	p->refs = 1;
	p->next = tls.pairs;
	tls.pairs = p;
	if (tls.current)
		pair_unref_locked(tls.current);
	tls.current = p;
	atomic_store(&tls.not_after, p->not_after);
	atomic_store(&tls.ready, true);
	pthread_mutex_unlock(&tls.lock);
	atomic_fetch_add(&tls.reloads, 1);
	*changed = true;
	return NV_OK;
}

bool nv_tls_ready(void)
{
	return atomic_load(&tls.ready);
}

int64_t nv_tls_not_after(void)
{
	return atomic_load(&tls.not_after);
}

uint64_t nv_tls_reloads(void)
{
	return atomic_load(&tls.reloads);
}

uint64_t nv_tls_reload_errors(void)
{
	return atomic_load(&tls.reload_errors);
}

unsigned nv_tls_pairs(void)
{
	const struct pair *p;
	unsigned n = 0;

	pthread_mutex_lock(&tls.lock);
	for (p = tls.pairs; p; p = p->next)
		n++;
	pthread_mutex_unlock(&tls.lock);
	return n;
}

static struct session_ref **session_slot(gnutls_session_t session)
{
	struct session_ref **pp = &tls.sessions[((uintptr_t)session >> 4) % SESSION_BUCKETS];

	while (*pp && (*pp)->session != session)
		pp = &(*pp)->next;
	return pp;
}

int nv_tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		   const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		   gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	struct session_ref **slot, *ref;
	struct pair *p;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	pthread_mutex_lock(&tls.lock);
	p = tls.current;
	if (!p)
		goto fail; /* no certificate yet: the handshake fails */
	slot = session_slot(session);
	ref = *slot;
	if (!ref) {
		/* the usual case: the session's first handshake */
		ref = nv_calloc(1, sizeof(*ref));
		if (!ref)
			goto fail;
		ref->session = session;
		*slot = ref;
	} else if (ref->pair != p) {
		/* called again for this session after a rotation */
		pair_unref_locked(ref->pair);
		ref->pair = NULL;
	}
	if (!ref->pair) {
		ref->pair = p;
		p->refs++;
	}
	pthread_mutex_unlock(&tls.lock);
	*pcert = p->pcert;
	*pcert_length = p->n;
	*pkey = p->key;
	return 0;
fail:
	pthread_mutex_unlock(&tls.lock);
	return -1;
}

void nv_tls_session_closed(gnutls_session_t session)
{
	struct session_ref **slot, *ref;

	if (!session)
		return;
	pthread_mutex_lock(&tls.lock);
	slot = session_slot(session);
	ref = *slot;
	if (ref) {
		*slot = ref->next;
		if (ref->pair)
			pair_unref_locked(ref->pair);
		nv_free(ref);
	}
	pthread_mutex_unlock(&tls.lock);
}

void nv_tls_shutdown(void)
{
	struct pair *p, *next;
	struct session_ref *r, *rnext;
	size_t i;

	pthread_mutex_lock(&tls.lock);
	for (i = 0; i < SESSION_BUCKETS; i++) {
		for (r = tls.sessions[i]; r; r = rnext) {
			rnext = r->next;
			nv_free(r);
		}
		tls.sessions[i] = NULL;
	}
	for (p = tls.pairs; p; p = next) {
		next = p->next;
		pair_free(p);
	}
	tls.pairs = NULL;
	tls.current = NULL;
	atomic_store(&tls.not_after, 0);
	atomic_store(&tls.ready, false);
	nv_free(tls.cert_path);
	nv_free(tls.key_path);
	tls.cert_path = tls.key_path = NULL;
	tls.tried = false;
	pthread_mutex_unlock(&tls.lock);
}
