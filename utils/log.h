/* Structured logging: one line per event, logfmt (default) or JSON, with a level and a component.
 *
 *   log_info("scheduler", "scale", LOG_S("task", t->name), LOG_I("from", 2), LOG_I("to", 5),
 *            LOG_S("reason", "queue above target"));
 *   -> ts=2026-11-23T06:48:41.123Z level=info comp=scheduler msg=scale task=web from=2 to=5 reason="queue above target"
 *
 * Fields are evaluated only when the line will be written. Strings are copied into the line at once:
 * the caller keeps ownership of everything it passes. */
#ifndef MSS_LOG_H
#define MSS_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FMT_LOGFMT, LOG_FMT_JSON };

enum log_field_type { LOG_F_END, LOG_F_STR, LOG_F_INT, LOG_F_DBL, LOG_F_BOOL };

struct log_field {
	const char *key;
	enum log_field_type type;
	const char *s; /* LOG_F_STR; NULL is written as an empty value */
	long long i;   /* LOG_F_INT, LOG_F_BOOL */
	double d;      /* LOG_F_DBL */
};

#define LOG_S(k, v) ((struct log_field){.key = (k), .type = LOG_F_STR, .s = (v)})
#define LOG_I(k, v) ((struct log_field){.key = (k), .type = LOG_F_INT, .i = (long long)(v)})
#define LOG_D(k, v) ((struct log_field){.key = (k), .type = LOG_F_DBL, .d = (double)(v)})
#define LOG_B(k, v) ((struct log_field){.key = (k), .type = LOG_F_BOOL, .i = (v) ? 1 : 0})

/* Configure once at start-up. `debug` is MSS_LOG_DEBUG: a component runs at DEBUG when its name is a
 * substring of it (so the Go names "mssscheduler", "mssengine" keep working) or it contains "all".
 * `out` is where lines go (stdout by default; not owned). */
void log_setup(enum log_format fmt, const char *debug, FILE *out);
bool log_enabled(enum log_level lvl, const char *comp);
void log_write(enum log_level lvl, const char *comp, const char *msg, const struct log_field *f, int n);

#define log_at(lvl, comp, msg, ...)                                                                \
	do {                                                                                       \
		if (log_enabled((lvl), (comp))) {                                                  \
			const struct log_field log_f_[] = {{0}, __VA_ARGS__};                      \
			log_write((lvl), (comp), (msg), log_f_ + 1,                                \
				  (int)(sizeof log_f_ / sizeof log_f_[0]) - 1);                    \
		}                                                                                  \
	} while (0)

#define log_debug(comp, msg, ...) log_at(LOG_DEBUG, comp, msg, __VA_ARGS__)
#define log_info(comp, msg, ...) log_at(LOG_INFO, comp, msg, __VA_ARGS__)
#define log_warn(comp, msg, ...) log_at(LOG_WARN, comp, msg, __VA_ARGS__)
#define log_error(comp, msg, ...) log_at(LOG_ERROR, comp, msg, __VA_ARGS__)

#endif
