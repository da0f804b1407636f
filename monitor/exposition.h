/* Prometheus text exposition (format 0.0.4) of the task table and the process's telemetry, for
 * GET /metrics. Pure: everything it prints is passed in, time included. Names: microscaler_
 * prefix, units in the name, _total on counters, a task="<name>" label on per-task series. */
#ifndef MSS_EXPOSITION_H
#define MSS_EXPOSITION_H

#include <stdbool.h>
#include <stdint.h>

#include "../demand/task.h"
#include "../utils/strbuf.h"
#include "telemetry.h"

#define EXPOSITION_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the exposition needs beyond the table and the telemetry. Strings borrowed. */
struct expo_info {
	const char *version, *revision; /* build_info labels */
	const char *scheduler, *engine;
	bool ready; /* what /readyz says */
	bool backend_reachable;
	bool draining;
	bool dry_run;
	bool ws_used; /* the agent has an API server websocket */
	bool ws_connected;
	uint64_t ws_reconnects; /* upgrades after the first one */
	double start_time_s;    /* process start, Unix seconds */
	double cpu_seconds;     /* user + system; < 0: unknown (not printed) */
	double rss_bytes;       /* < 0: unknown */
	double open_fds;        /* < 0: unknown */
};

/* Append the whole exposition to `out`. now_mono_ms is the monotonic time the reading ages are
 * measured against. */
void exposition_write(struct strbuf *out, const struct task_table *tt, const struct telemetry *tel,
                      const struct expo_info *info, uint64_t now_mono_ms);

/* Append `v` as a label value: backslash, double quote and newline escaped. */
void exposition_label_value(struct strbuf *out, const char *v);

#endif
