/* The SERVER (remote) engine's pure parts, exposed for tests: the demand frame parser, the
 * rate limit on its complaints and the link-down fallback rule. engine_remote.c wires them to the
 * websocket and decide(). */
#ifndef MSS_ENGINE_REMOTE_H
#define MSS_ENGINE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../utils/settings.h"
#include "task.h"

/* The largest demandCount taken (config.c's per-task ceiling); larger is refused, not clamped. */
#define REMOTE_MAX_COUNT 1000000
/* Each kind of bad input is logged at most once per this period, with how many were suppressed. */
#define REMOTE_LOG_EVERY_MS 10000

/* What can be wrong with a demand frame. The first two make the whole frame ignored; the others
 * only the entry they are in (the frame's other entries still apply). */
enum remote_bad {
	REMOTE_BAD_JSON,        /* frame: not JSON */
	REMOTE_BAD_SHAPE,       /* frame: not {"demand":{"tasks":[...]}} */
	REMOTE_BAD_ENTRY,       /* entry: not an object */
	REMOTE_BAD_MISSING,     /* entry: no "app" or no "demandCount" (or null) */
	REMOTE_BAD_TYPE,        /* entry: app not a string or demandCount not a number */
	REMOTE_BAD_NOT_INTEGER, /* entry: demandCount 1.5 */
	REMOTE_BAD_RANGE,       /* entry: demandCount negative or above REMOTE_MAX_COUNT */
	REMOTE_BAD_UNKNOWN_APP, /* entry: no task of that name */
	REMOTE_BAD_KINDS
};

struct remote_parse {
	int entries;                       /* entries in demand.tasks */
	int applied;                       /* entries that set a task's remote_demand */
	int bad[REMOTE_BAD_KINDS];         /* problems of each kind */
	char detail[REMOTE_BAD_KINDS][120]; /* the first problem of each kind, one line */
};

/* Apply one frame to tt: for each good entry, remote_demand of the task named `app` (exact name)
 * becomes demandCount; a task named twice takes the last. Keys match case-insensitively, like
 * Go's decoder; unknown keys are ignored. Nothing else in tt changes. `buf` need not be
 * NUL-terminated. Returns 0 when the frame had the demand shape (even if some entries were bad),
 * -1 when it was ignored whole (REMOTE_BAD_JSON or REMOTE_BAD_SHAPE counted in *out). */
int remote_parse_demand(const char *buf, size_t len, struct task_table *tt,
                        struct remote_parse *out);
const char *remote_bad_name(enum remote_bad k); /* "invalid_json", "unknown_app", ... */

struct remote_limiter {
	uint64_t next_ms[REMOTE_BAD_KINDS];    /* no line for that kind before this time */
	uint64_t suppressed[REMOTE_BAD_KINDS]; /* problems not logged since the last line */
};

/* Count `n` problems of `kind` at now_ms. True when a line should be written now; then
 * *suppressed is how many earlier ones went unlogged (and the count restarts). */
bool remote_limiter_allow(struct remote_limiter *l, enum remote_bad kind, int n, uint64_t now_ms,
                          uint64_t *suppressed);

/* What drives demand at a given moment. */
enum remote_mode {
	REMOTE_MODE_SERVER, /* link up: demand from the server's frames */
	REMOTE_MODE_HOLD,   /* link down: the last remote demand is kept */
	REMOTE_MODE_MIN,    /* link down past the delay, policy min: every task to its min */
	REMOTE_MODE_LOCAL,  /* link down past the delay, policy local: the LOCAL engine's logic */
};

/* The fallback rule. The link counts as down from `down_since_ms` (the engine's start, before the
 * first connection); min and local apply once it has been down for at least after_ms. */
enum remote_mode remote_mode_for(enum remote_fallback policy, bool link_up, uint64_t down_since_ms,
                                 uint64_t after_ms, uint64_t now_ms);
const char *remote_mode_name(enum remote_mode m); /* "server", "hold", "min", "local" */

/* The want for one task in SERVER and HOLD modes: its remote_demand as an absolute count, or,
 * for a task the server never named, "keep what you have". */
void remote_want(struct task *t);

#endif
