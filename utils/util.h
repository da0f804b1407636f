/* Small helpers every module uses: container_of, array length, checked allocation, clock. */
#ifndef MSS_UTIL_H
#define MSS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Recover the struct that embeds a handle (libuv style). */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Allocation that cannot fail: on exhaustion the process logs and aborts, because a scaler that
 * silently skips work is worse than one that restarts. Returned memory is owned by the caller. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s); /* NULL in, NULL out */

/* Monotonic milliseconds (for deadlines and ages) and wall-clock milliseconds since the epoch (for
 * timestamps that leave the process). Only edges call these: the decision gets time passed in. */
uint64_t util_mono_ms(void);
uint64_t util_wall_ms(void);
/* Local time (the process's TZ, which the agent sets from MSS_TZ) of wall_ms as minutes since
 * Monday 00:00, 0..10079: what schedule floors are written in. */
int util_week_minute(uint64_t wall_ms);

/* Parse a whole decimal integer / float; no trailing junk, no overflow. Return 0 on success. */
int util_parse_long(const char *s, long long min, long long max, long long *out);
int util_parse_double(const char *s, double *out);
/* Parse a duration into milliseconds: one or more <number><unit> with units ms, s, m, h (decimals
 * allowed: "250ms", "1.5s", "1m30s", "2h"), or "0". Whole milliseconds, at most max_ms. 0 on
 * success, -1 otherwise. */
int util_parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out);

/* True when a URL ("scheme://user:pass@host/...", or "user@host:port" without a scheme) has user
 * info before its host. Such URLs are refused where they are configured: the URL is logged
 * (debug lines, errors), and the password with it. */
bool util_url_has_userinfo(const char *url);

/* Free a NULL-terminated vector of strings and the strings themselves. */
void util_strv_free(char **v);

#endif
