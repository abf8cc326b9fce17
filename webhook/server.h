/* server.h - the webhook's HTTPS server (libmicrohttpd + GnuTLS).
 *
 * Routes (a static table): POST /mutate, GET /healthz, GET /readyz,
 * GET /metrics. Each request gets its state on the first callback; a body
 * goes into an nv_buf capped at max_body (over the cap: 413 on the last
 * call); the state is freed in the completion callback, which also logs the
 * admission and records its latency.
 *
 * Shutdown: nv_server_quiesce() stops accepting connections (requests on open
 * connections are still served, with "Connection: close");
 * nv_server_inflight() tells when the last one finished; nv_server_stop()
 * then closes everything.
 */
#ifndef NV_WEBHOOK_SERVER_H
#define NV_WEBHOOK_SERVER_H

#include <stddef.h>

#include "base/err.h"
#include "mutate.h"

struct nv_server_opts {
	const char *listen;	   /* ":8443", "127.0.0.1:0", "[::1]:8443" */
	unsigned threads;	   /* thread pool size, >= 1 */
	size_t max_body;	   /* bytes */
	unsigned connection_limit; /* open connections at most */
	unsigned timeout_s;	   /* idle connection timeout */
	const struct nv_mutate_config *mutate;
};

struct nv_server;

/* Bind and start serving. NV_EINVALID for a bad --listen value, NV_EIO (or
 * the errno's code) when the socket cannot be bound. */
int nv_server_start(struct nv_server **out, const struct nv_server_opts *o, struct nv_error *err);
/* The bound port (useful with port 0). */
unsigned nv_server_port(const struct nv_server *s);
/* Fail /readyz ("shutting down") and answer with Connection: close, but
 * keep accepting and serving: the first step of a shutdown, while the
 * endpoint is taken out of the Service (--shutdown-delay). */
void nv_server_unready(struct nv_server *s);
void nv_server_quiesce(struct nv_server *s);
/* Requests that have started and not completed. */
unsigned nv_server_inflight(const struct nv_server *s);
/* Stop and free; s may be NULL. */
void nv_server_stop(struct nv_server *s);

#endif
