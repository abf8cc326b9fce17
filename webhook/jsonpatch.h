/* jsonpatch.h - building the JSON Patch (RFC 6902) an admission answer carries.
 *
 * The webhook's patch is made only of `add` operations; each names its
 * target by a JSON Pointer (RFC 6901) built from escaped segments, and the
 * whole patch travels base64-encoded in the AdmissionReview response:
 *
 *   struct nv_buf path = NV_BUF_INIT(4096), prefix = ...;
 *   nv_jsonpatch_path(&path, &prefix, "env", "-", NULL);   "/spec/containers/0/env/-"
 *   nv_jsonpatch_add(ops, path.p, value);                   ops += {op:add, path, value}
 *   nv_jsonpatch_encode(ops, &json, &b64, err);             the printed patch and its base64
 *
 * Pure: no I/O; allocation through nv_buf and cJSON's hooks (see arena.h).
 */
#ifndef NV_JSONPATCH_H
#define NV_JSONPATCH_H

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* Append "/" and `seg` escaped as a JSON Pointer token (RFC 6901: '~' -> "~0",
 * '/' -> "~1"). */
int nv_jsonpatch_pointer_add(struct nv_buf *b, const char *seg, struct nv_error *err);

/* path = prefix (already a pointer, may be empty) followed by the segments
 * (const char *, NULL-terminated), each escaped. NV_ENOMEM or NV_ETOOBIG
 * when path's cap is reached. */
int nv_jsonpatch_path(struct nv_buf *path, const struct nv_buf *prefix, ...);
int nv_jsonpatch_vpath(struct nv_buf *path, const struct nv_buf *prefix, va_list ap);

/* Append {"op":"add","path":path,"value":value} to the array ops. value is
 * consumed (freed on failure, NULL allowed: an earlier allocation failed).
 * false when out of memory. */
bool nv_jsonpatch_add(cJSON *ops, const char *path, cJSON *value);

/* Standard base64 (RFC 4648, with padding) of n bytes, appended to out. */
int nv_jsonpatch_base64(struct nv_buf *out, const void *data, size_t n, struct nv_error *err);

/* Append the compact JSON of ops to json and its base64 to b64. */
int nv_jsonpatch_encode(const cJSON *ops, struct nv_buf *json, struct nv_buf *b64,
			struct nv_error *err);

#endif
