#include "server.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/mem.h"
#include "metrics.h"
#include "tls.h"

/* Bodies announced up to this size get their buffer at once. */
#define BODY_PREALLOC_MAX (64u << 10)

/* TLS 1.2 and 1.3 only. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%SERVER_PRECEDENCE"

struct nv_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	unsigned port;
	bool quiesced;
	atomic_uint inflight;
	atomic_bool closing;
	atomic_bool unready; /* --shutdown-delay: /readyz fails, requests still served */
	size_t max_body;
	const struct nv_mutate_config *mutate;
};

struct req;
typedef int (*route_fn)(struct nv_server *s, struct MHD_Connection *c, struct req *r);

struct route {
	const char *path;
	const char *method; /* GET routes answer HEAD too */
	enum nv_metrics_path metric;
	bool takes_body;
	route_fn handle;
};

/* Per-request state, from the first callback to the completion callback. */
struct req {
	const struct route *route;
	enum nv_metrics_path metric;
	unsigned status;    /* an error decided before the last call, 0 if none */
	unsigned sent;	    /* the status answered */
	const char *reason; /* its message */
	struct nv_buf body;
	struct timespec start;
	bool admission; /* log and time it as an admission */
	struct nv_admission adm;
	char error[NV_ERROR_MSG_MAX];
};

static uint64_t elapsed_us(const struct timespec *t0)
{
	struct timespec t;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &t);
	us = (int64_t)(t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
	return us < 0 ? 0 : (uint64_t)us;
}

/* Queue a response made from `len` bytes at p (owned: freed with nv_free). */
static int send_owned(struct nv_server *s, struct MHD_Connection *c, struct req *r, unsigned status,
		      const char *type, char *p, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	resp = MHD_create_response_from_buffer_with_free_callback(len, p, nv_free);
	if (!resp) {
		nv_free(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->route)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
					strcmp(r->route->method, "GET") ? r->route->method
									: "GET, HEAD");
	if (atomic_load(&s->closing) || atomic_load(&s->unready))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	r->sent = status;
	ok = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	nv_metrics_request(r->metric, status);
	return ok;
}

/* A short text answer: "message\n". */
static int send_text(struct nv_server *s, struct MHD_Connection *c, struct req *r, unsigned status,
		     const char *msg)
{
	struct nv_buf b = NV_BUF_INIT(NV_ERROR_MSG_MAX + 2);
	char *p;
	size_t len;

	if (nv_buf_addf(&b, NULL, "%s\n", msg))
		return MHD_NO;
	p = nv_buf_detach(&b, &len);
	if (!p)
		return MHD_NO;
	return send_owned(s, c, r, status, "text/plain; charset=utf-8", p, len);
}

static int handle_mutate(struct nv_server *s, struct MHD_Connection *c, struct req *r)
{
	struct nv_error err = NV_ERROR_INIT;
	char *p;
	size_t len;
	int rc;

	r->admission = true;
	rc = nv_mutate_review(s->mutate, r->body.p, r->body.len, &r->adm, &err);
	if (rc == NV_EINVALID) {
		snprintf(r->error, sizeof(r->error), "%s", err.msg);
		return send_text(s, c, r, MHD_HTTP_BAD_REQUEST, err.msg);
	}
	if (rc) {
		snprintf(r->error, sizeof(r->error), "%s", err.msg);
		return send_text(s, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
	}
	p = nv_buf_detach(&r->adm.response, &len);
	if (!p) {
		r->adm.result = NV_ADM_ERROR;
		snprintf(r->error, sizeof(r->error), "out of memory");
		return send_text(s, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
	}
	return send_owned(s, c, r, MHD_HTTP_OK, "application/json", p, len);
}

static int handle_healthz(struct nv_server *s, struct MHD_Connection *c, struct req *r)
{
	return send_text(s, c, r, MHD_HTTP_OK, "ok");
}

static int handle_readyz(struct nv_server *s, struct MHD_Connection *c, struct req *r)
{
	if (!nv_tls_ready())
		return send_text(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "no certificate loaded");
	if (atomic_load(&s->closing) || atomic_load(&s->unready))
		return send_text(s, c, r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
	return send_text(s, c, r, MHD_HTTP_OK, "ready");
}

static int handle_metrics(struct nv_server *s, struct MHD_Connection *c, struct req *r)
{
	struct nv_buf b = NV_BUF_INIT(1 << 20);
	char *p;
	size_t len;

	if (nv_metrics_render(&b, NULL) ||
	    nv_buf_addf(&b, NULL,
			"# HELP netvol_webhook_requests_in_flight Requests being received or "
			"answered (this one included).\n"
			"# TYPE netvol_webhook_requests_in_flight gauge\n"
			"netvol_webhook_requests_in_flight %u\n",
			atomic_load(&s->inflight))) {
		nv_buf_release(&b);
		return send_text(s, c, r, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal error");
	}
	p = nv_buf_detach(&b, &len);
	if (!p)
		return MHD_NO;
	return send_owned(s, c, r, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", p, len);
}

static const struct route routes[] = {
    {"/mutate", "POST", NV_MP_MUTATE, true, handle_mutate},
    {"/healthz", "GET", NV_MP_HEALTHZ, false, handle_healthz},
    {"/readyz", "GET", NV_MP_READYZ, false, handle_readyz},
    {"/metrics", "GET", NV_MP_METRICS, false, handle_metrics},
};

static const struct route *find_route(const char *url)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(routes[i].path, url))
			return &routes[i];
	return NULL;
}

static bool method_ok(const struct route *rt, const char *method)
{
	if (!strcmp(rt->method, method))
		return true;
	return !strcmp(rt->method, "GET") && !strcmp(method, "HEAD");
}

/* "application/json" with optional parameters ("; charset=utf-8"). */
static bool is_json_type(const char *ct)
{
	static const char want[] = "application/json";
	size_t n = sizeof(want) - 1;

	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, want, n))
		return false;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Decide what can be decided from the headers alone. */
static void first_call(struct nv_server *s, struct MHD_Connection *c, struct req *r,
		       const char *url, const char *method)
{
	const char *cl;
	uint64_t n;

	r->route = find_route(url);
	r->metric = r->route ? r->route->metric : NV_MP_OTHER;
	if (!r->route) {
		r->status = MHD_HTTP_NOT_FOUND;
		r->reason = "not found";
		return;
	}
	if (!method_ok(r->route, method)) {
		r->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		r->reason = "method not allowed";
		return;
	}
	if (!r->route->takes_body)
		return;
	if (!is_json_type(
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		r->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		r->reason = "the body must be application/json";
		return;
	}
	cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && (nv_str_to_u64(nv_str_from(cl), 0, UINT64_MAX, &n) || n > s->max_body)) {
		r->status = MHD_HTTP_CONTENT_TOO_LARGE;
		r->reason = "request body too large";
	} else if (cl && n <= BODY_PREALLOC_MAX) {
		/* one allocation for a typical body; a big one grows as it comes
		 * in, so announcing 4 MiB and sending nothing costs nothing */
		nv_buf_grow(&r->body, (size_t)n, NULL);
	}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct nv_server *s = cls;
	struct req *r = *con_cls;

	(void)version;
	if (!r) {
		r = nv_calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		nv_buf_init(&r->body, s->max_body);
		nv_admission_init(&r->adm);
		*con_cls = r;
		atomic_fetch_add(&s->inflight, 1);
		first_call(s, c, r, url, method);
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* keep reading (and dropping) a body we already refused, so the
		 * connection stays usable for the answer */
		if (!r->status && r->route->takes_body) {
			struct nv_error err = NV_ERROR_INIT;

			if (nv_buf_add(&r->body, upload_data, *upload_data_size, &err)) {
				r->status = err.code == NV_ETOOBIG ? MHD_HTTP_CONTENT_TOO_LARGE
								   : MHD_HTTP_INTERNAL_SERVER_ERROR;
				r->reason = err.code == NV_ETOOBIG ? "request body too large"
								   : "internal error";
				nv_buf_release(&r->body);
			}
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->status) {
		if (r->route && r->route->metric == NV_MP_MUTATE) {
			r->admission = true;
			snprintf(r->error, sizeof(r->error), "%s", r->reason);
		}
		return send_text(s, c, r, r->status, r->reason);
	}
	return r->route->handle(s, c, r);
}

static void log_admission(const struct req *r, unsigned status, uint64_t us, bool aborted)
{
	struct nv_log_rec l;
	const struct nv_admission *a = &r->adm;

	nv_log_begin(&l, a->result == NV_ADM_ERROR ? NV_LOG_WARN : NV_LOG_INFO, "admission");
	if (a->namespace[0])
		nv_log_str(&l, "namespace", a->namespace);
	if (a->name[0])
		nv_log_str(&l, "pod", a->name);
	if (a->uid[0])
		nv_log_str(&l, "uid", a->uid);
	nv_log_str(&l, "result", nv_admission_result_name(a->result));
	nv_log_u64(&l, "patch_ops", a->patch_ops);
	if (a->dry_run)
		nv_log_bool(&l, "dry_run", true);
	if (a->reason[0])
		nv_log_str(&l, "reason", a->reason);
	if (status)
		nv_log_u64(&l, "status", status);
	if (r->error[0])
		nv_log_str(&l, "error", r->error);
	if (aborted)
		nv_log_bool(&l, "aborted", true);
	nv_log_dbl(&l, "duration_ms", (double)us / 1000.0, 3);
	nv_log_end(&l);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct nv_server *s = cls;
	struct req *r = *con_cls;

	(void)c;
	if (!r)
		return;
	*con_cls = NULL;
	if (r->admission) {
		uint64_t us = elapsed_us(&r->start);

		if (r->error[0])
			r->adm.result = NV_ADM_ERROR;
		nv_metrics_admission(r->adm.result, us);
		log_admission(r, r->sent, us, toe != MHD_REQUEST_TERMINATED_COMPLETED_OK);
	}
	nv_buf_release(&r->body);
	nv_admission_release(&r->adm);
	nv_free(r);
	atomic_fetch_sub(&s->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;

	(void)cls;
	(void)socket_context;
	if (toe != MHD_CONNECTION_NOTIFY_CLOSED)
		return;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci && ci->tls_session)
		nv_tls_session_closed((gnutls_session_t)ci->tls_session);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	nv_log_msg(NV_LOG_DEBUG, "http.mhd", "%s", msg);
}

/* A listening socket on sa; -errno on failure. */
static int listen_on(const struct sockaddr *sa, socklen_t len, bool dual_stack)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, zero = 0, e;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (dual_stack)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, sa, len) < 0 || listen(fd, 1024) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* Bind the --listen address. An empty host means every address: IPv6
 * dual-stack, or IPv4 where IPv6 is off. */
static int bind_listen(const char *spec, int *fd_out, int *family, unsigned *port,
		       struct nv_error *err)
{
	char host[256] = "", portstr[16];
	const char *colon;
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	uint64_t pnum;
	int fd = -EADDRNOTAVAIL, gai;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= sizeof(host))
			return nv_error_set(err, NV_EINVALID, "bad listen address '%s'", spec);
		memcpy(host, spec + 1, (size_t)(end - spec - 1));
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			return nv_error_set(err, NV_EINVALID,
					    "bad listen address '%s' (want HOST:PORT or :PORT)",
					    spec);
		memcpy(host, spec, (size_t)(colon - spec));
	}
	if (nv_str_to_u64(nv_str_from(colon + 1), 0, 65535, &pnum))
		return nv_error_set(err, NV_EINVALID, "bad port in listen address '%s'", spec);

	if (!host[0]) {
		struct sockaddr_in6 s6;
		struct sockaddr_in s4;

		memset(&s6, 0, sizeof(s6));
		s6.sin6_family = AF_INET6;
		s6.sin6_addr = in6addr_any;
		s6.sin6_port = htons((uint16_t)pnum);
		fd = listen_on((struct sockaddr *)&s6, sizeof(s6), true);
		if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
			memset(&s4, 0, sizeof(s4));
			s4.sin_family = AF_INET;
			s4.sin_addr.s_addr = htonl(INADDR_ANY);
			s4.sin_port = htons((uint16_t)pnum);
			fd = listen_on((struct sockaddr *)&s4, sizeof(s4), false);
		}
	} else {
		snprintf(portstr, sizeof(portstr), "%u", (unsigned)pnum);
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
		gai = getaddrinfo(host, portstr, &hints, &res);
		if (gai)
			return nv_error_set(err, NV_EINVALID,
					    "cannot resolve listen address '%s': %s", spec,
					    gai_strerror(gai));
		for (ai = res; ai && fd < 0; ai = ai->ai_next)
			fd = listen_on(ai->ai_addr, ai->ai_addrlen, false);
		freeaddrinfo(res);
	}
	if (fd < 0)
		return nv_error_sys(err, NV_EIO, -fd, "cannot listen on '%s'", spec);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		int e = errno;

		close(fd);
		return nv_error_sys(err, NV_EIO, e, "cannot listen on '%s'", spec);
	}
	*family = ss.ss_family;
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return NV_OK;
}

int nv_server_start(struct nv_server **out, const struct nv_server_opts *o, struct nv_error *err)
{
	struct nv_server *s;
	unsigned flags = MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_USE_ITC | MHD_USE_ERROR_LOG;
	int family = AF_INET, rc;

	*out = NULL;
	s = nv_calloc(1, sizeof(*s));
	if (!s)
		return nv_error_set(err, NV_ENOMEM, "out of memory");
	s->listen_fd = -1;
	s->max_body = o->max_body;
	s->mutate = o->mutate;
	if ((rc = bind_listen(o->listen, &s->listen_fd, &family, &s->port, err)))
		goto fail;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->daemon = MHD_start_daemon(
	    flags, 0, NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, s->listen_fd,
	    MHD_OPTION_HTTPS_CERT_CALLBACK, nv_tls_cert_cb, MHD_OPTION_HTTPS_PRIORITIES,
	    TLS_PRIORITIES, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_LIMIT,
	    o->connection_limit, MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
	    MHD_OPTION_THREAD_POOL_SIZE, o->threads > 1 ? o->threads : 0,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_END);
	if (!s->daemon) {
		rc = nv_error_set(err, NV_EIO, "cannot start the HTTPS server on '%s'", o->listen);
		goto fail;
	}
	*out = s;
	return NV_OK;
fail:
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	nv_free(s);
	return rc;
}

unsigned nv_server_port(const struct nv_server *s)
{
	return s->port;
}

void nv_server_unready(struct nv_server *s)
{
	if (s)
		atomic_store(&s->unready, true);
}

void nv_server_quiesce(struct nv_server *s)
{
	if (!s || s->quiesced)
		return;
	atomic_store(&s->closing, true);
	if (MHD_quiesce_daemon(s->daemon) != MHD_INVALID_SOCKET)
		s->quiesced = true;
}

unsigned nv_server_inflight(const struct nv_server *s)
{
	return atomic_load(&((struct nv_server *)s)->inflight);
}

void nv_server_stop(struct nv_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	/* after quiesce the listen socket is ours to close */
	if (s->quiesced && s->listen_fd >= 0)
		close(s->listen_fd);
	nv_free(s);
}
