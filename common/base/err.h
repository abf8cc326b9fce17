/* err.h - the one error type of netvol.
 *
 * Every function that can fail returns an enum nv_code (NV_OK == 0) and, when
 * given a non-NULL struct nv_error, fills it with a complete message:
 *   what failed, the subject in quotes, then the cause
 *   ("cannot open '/x/venv/bin/python': Permission denied").
 * Library code never prints an error it returns; only the top (CLI main,
 * webhook request handler) logs and maps codes to exit codes or HTTP statuses.
 *
 * The codes come from one X-macro table (libuv's UV_ERRNO_MAP idea) that also
 * yields their names and default messages. New codes go at the end.
 */
#ifndef NV_ERR_H
#define NV_ERR_H

#include <stdarg.h>
#include <stddef.h>

#define NV_ERROR_MAP(X)                  \
	X(OK, "ok")                      \
	X(NOMEM, "out of memory")        \
	X(IO, "input/output error")      \
	X(NOTFOUND, "not found")         \
	X(EXISTS, "already exists")      \
	X(INVALID, "invalid argument")   \
	X(CONFIG, "configuration error") \
	X(USAGE, "usage error")          \
	X(CORRUPT, "corrupt data")       \
	X(UNSAFE, "unsafe path")         \
	X(TOOBIG, "too large")           \
	X(NETWORK, "network error")      \
	X(AUTH, "access denied")         \
	X(REMOTE, "object store error")  \
	X(TIMEOUT, "timed out")          \
	X(BUSY, "busy")                  \
	X(DEADLINE, "deadline reached")  \
	X(UNSUPPORTED, "unsupported")    \
	X(NOSPACE, "no space left")      \
	X(INTERNAL, "internal error")    \
	X(CANCELLED, "cancelled")        \
	X(CHANGED, "changed while it was read")

enum nv_code {
#define NV_X_ENUM(name, msg) NV_E##name,
	NV_ERROR_MAP(NV_X_ENUM)
#undef NV_X_ENUM
	    NV_E__COUNT
};
#define NV_OK NV_EOK

#define NV_ERROR_MSG_MAX 1024

struct nv_error {
	enum nv_code code;
	int sys_errno; /* errno behind the failure, 0 if none */
	char msg[NV_ERROR_MSG_MAX];
};

#define NV_ERROR_INIT     \
	{                 \
		NV_OK, 0, \
		{         \
			0 \
		}         \
	}

/* "NOTFOUND" for NV_ENOTFOUND. Never NULL. */
const char *nv_code_name(int code);
/* "not found" for NV_ENOTFOUND. Never NULL. */
const char *nv_code_message(int code);

void nv_error_clear(struct nv_error *e);

/* Fill e (may be NULL) with code and a formatted message; returns code. */
int nv_error_set(struct nv_error *e, enum nv_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int nv_error_vset(struct nv_error *e, enum nv_code code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* Like nv_error_set, with ": strerror(errnum)" appended. The code is derived
 * from errnum when code is NV_EIO (ENOENT -> NOTFOUND, ENOSPC -> NOSPACE...). */
int nv_error_sys(struct nv_error *e, enum nv_code code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Put context in front of an existing message: "restore 'venv': <old>".
 * Returns e->code (NV_EINTERNAL if e was empty). e may be NULL. */
int nv_error_prefix(struct nv_error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Map an errno value to the closest code. */
enum nv_code nv_code_from_errno(int errnum);

#endif
