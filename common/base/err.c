#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const code_names[] = {
#define NV_X_NAME(name, msg) #name,
    NV_ERROR_MAP(NV_X_NAME)
#undef NV_X_NAME
};

static const char *const code_messages[] = {
#define NV_X_MSG(name, msg) msg,
    NV_ERROR_MAP(NV_X_MSG)
#undef NV_X_MSG
};

const char *nv_code_name(int code)
{
	if (code < 0 || code >= NV_E__COUNT)
		return "UNKNOWN";
	return code_names[code];
}

const char *nv_code_message(int code)
{
	if (code < 0 || code >= NV_E__COUNT)
		return "unknown error";
	return code_messages[code];
}

void nv_error_clear(struct nv_error *e)
{
	if (!e)
		return;
	e->code = NV_OK;
	e->sys_errno = 0;
	e->msg[0] = '\0';
}

int nv_error_vset(struct nv_error *e, enum nv_code code, const char *fmt, va_list ap)
{
	if (!e)
		return code;
	e->code = code;
	e->sys_errno = 0;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	return code;
}

int nv_error_set(struct nv_error *e, enum nv_code code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nv_error_vset(e, code, fmt, ap);
	va_end(ap);
	return code;
}

enum nv_code nv_code_from_errno(int errnum)
{
	switch (errnum) {
	case ENOENT:
	case ENOTDIR:
		return NV_ENOTFOUND;
	case EEXIST:
	case ENOTEMPTY:
		return NV_EEXISTS;
	case ENOMEM:
		return NV_ENOMEM;
	case ENOSPC:
	case EDQUOT:
		return NV_ENOSPACE;
	case EACCES:
	case EPERM:
	case EROFS:
		return NV_EAUTH;
	case ELOOP:
		return NV_EUNSAFE;
	case ETIMEDOUT:
		return NV_ETIMEOUT;
	case EINVAL:
	case ENAMETOOLONG:
		return NV_EINVALID;
	case EFBIG:
		return NV_ETOOBIG;
	default:
		return NV_EIO;
	}
}

int nv_error_sys(struct nv_error *e, enum nv_code code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	if (code == NV_EIO)
		code = nv_code_from_errno(errnum);
	if (!e)
		return code;
	va_start(ap, fmt);
	nv_error_vset(e, code, fmt, ap);
	va_end(ap);
	e->sys_errno = errnum;
	n = strlen(e->msg);
	if (n < sizeof(e->msg) - 1)
		snprintf(e->msg + n, sizeof(e->msg) - n, ": %s", strerror(errnum));
	return code;
}

int nv_error_prefix(struct nv_error *e, const char *fmt, ...)
{
	char old[NV_ERROR_MSG_MAX];
	va_list ap;
	int n;

	if (!e)
		return NV_EINTERNAL;
	if (e->code == NV_OK)
		e->code = NV_EINTERNAL;
	memcpy(old, e->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(e->msg) - 2) {
		size_t len = (size_t)n, room = sizeof(e->msg) - len - 2;
		size_t olen = strnlen(old, sizeof(old) - 1);

		e->msg[len] = ':';
		e->msg[len + 1] = ' ';
		if (olen > room - 1)
			olen = room - 1;
		memcpy(e->msg + len + 2, old, olen);
		e->msg[len + 2 + olen] = '\0';
	}
	return e->code;
}
