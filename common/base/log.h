/* log.h - one line per event, key=value (default) or JSON.
 *
 *   struct nv_log_rec r;
 *   nv_log_begin(&r, NV_LOG_INFO, "sync.done");
 *   nv_log_str(&r, "dataset", "venv");
 *   nv_log_u64(&r, "bytes_uploaded", n);
 *   nv_log_end(&r);
 *
 * text: 2026-11-30T22:10:00.123Z level=info event=sync.done dataset=venv bytes_uploaded=42
 * json: {"ts":"2026-11-30T22:10:00.123Z","level":"info","event":"sync.done","dataset":"venv","bytes_uploaded":42}
 *
 * Values with spaces, quotes, '=' or control bytes are quoted and escaped in
 * text mode. Each line is written with a single write(2), so lines from
 * several threads or processes never interleave. Registered secrets are
 * replaced by "[REDACTED]" in every line as a last line of defence; code must
 * still never pass a secret to the log.
 */
#ifndef NV_LOG_H
#define NV_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum nv_log_level { NV_LOG_DEBUG, NV_LOG_INFO, NV_LOG_WARN, NV_LOG_ERROR };
enum nv_log_format { NV_LOG_TEXT, NV_LOG_JSON };

#define NV_LOG_LINE_MAX 4096

struct nv_log_rec {
	char line[NV_LOG_LINE_MAX];
	size_t len;
	bool active; /* false when the level is filtered out */
	bool json;
	bool truncated;
};

/* Process-wide settings; call once at start (not thread-safe). fd is
 * where lines go (2 by default). */
void nv_log_setup(enum nv_log_format fmt, enum nv_log_level min_level, int fd);
/* Parse "text"/"json" and "debug"/"info"/"warn"/"error"; -1 if unknown. */
int nv_log_format_parse(const char *s);
int nv_log_level_parse(const char *s);
const char *nv_log_level_name(enum nv_log_level lvl);
bool nv_log_enabled(enum nv_log_level lvl);

/* Register a secret (copied) to be masked in every line. Strings shorter
 * than 4 bytes are ignored (they would mask ordinary words). */
void nv_log_add_secret(const char *secret);
void nv_log_clear_secrets(void);

void nv_log_begin(struct nv_log_rec *r, enum nv_log_level lvl, const char *event);
void nv_log_str(struct nv_log_rec *r, const char *key, const char *val);
/* A value that is not NUL-terminated (e.g. a file name from a manifest). */
void nv_log_mem(struct nv_log_rec *r, const char *key, const char *val, size_t n);
void nv_log_u64(struct nv_log_rec *r, const char *key, uint64_t val);
void nv_log_i64(struct nv_log_rec *r, const char *key, int64_t val);
void nv_log_dbl(struct nv_log_rec *r, const char *key, double val, int decimals);
void nv_log_bool(struct nv_log_rec *r, const char *key, bool val);
void nv_log_end(struct nv_log_rec *r);

/* One-liners: event plus a "msg" key. */
void nv_log_msg(enum nv_log_level lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
