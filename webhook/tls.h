/* tls.h - the webhook's certificate, reloaded from its files while running.
 *
 * cert-manager and the kubelet replace the certificate and key files in place
 * (the kubelet swaps a `..data` symlink). nv_tls_poll(), called about once a
 * second, stats both files (following symlinks) and, when either changed,
 * loads the new pair. A pair that does not parse or whose key does not match
 * the certificate is refused: the old pair stays in use and the reason is
 * returned (logged by the caller once per change).
 *
 * Handshakes get the current pair through nv_tls_cert_cb (given to
 * libmicrohttpd as MHD_OPTION_HTTPS_CERT_CALLBACK). Each pair is reference
 * counted: a handshake takes a reference (remembered by session),
 * nv_tls_session_closed() (called when the connection closes) drops it, so a
 * replaced pair is freed only once no session uses it.
 *
 * One process-wide instance; functions are thread-safe.
 */
#ifndef NV_WEBHOOK_TLS_H
#define NV_WEBHOOK_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"

/* Remember the file names (copied). Nothing is loaded yet. */
int nv_tls_init(const char *cert_path, const char *key_path, struct nv_error *err);

/* Reload when the files changed since the last attempt (or on the first
 * call). Returns NV_OK with *changed = true when a new pair is in use,
 * NV_OK with *changed = false when nothing changed, or an error (the old
 * pair, if any, stays) -- only once per change of the files. */
int nv_tls_poll(bool *changed, struct nv_error *err);

/* A certificate is loaded. */
bool nv_tls_ready(void);
/* notAfter of the certificate in use (seconds since the epoch), 0 if none. */
int64_t nv_tls_not_after(void);
/* How many pairs were loaded, and reload attempts refused, so far. */
uint64_t nv_tls_reloads(void);
uint64_t nv_tls_reload_errors(void);
/* Pairs still in memory: the current one plus replaced ones that open
 * connections still hold. */
unsigned nv_tls_pairs(void);

/* gnutls_certificate_retrieve_function2 for the handshake. */
int nv_tls_cert_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		   const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		   gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey);

/* The connection of `session` is closing: drop its reference. */
void nv_tls_session_closed(gnutls_session_t session);

/* Free everything (after the server stopped). */
void nv_tls_shutdown(void);

#endif
