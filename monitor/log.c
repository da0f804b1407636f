/* LOG monitor: the counts as log lines, one per task, written when they change and at least once
 * a minute, so a quiet system does not flood the log every 500 ms. */
#include <stdlib.h>
#include <string.h>

#include "../utils/log.h"
#include "../utils/util.h"
#include "monitor.h"

#define LOG_MONITOR_HEARTBEAT_MS 60000

struct logmon {
	char *last;   /* the previous snapshot, to see what changed */
	size_t last_len;
	uint64_t last_full_ms;
};

#define LOG_SNAP 6 /* ints per task in a snapshot */

static void log_send(struct monitor *m, const struct task_table *tt, uint64_t mono_ms,
		     uint64_t wall_ms)
{
	struct logmon *lm = m->impl;
	size_t len = tt->len * LOG_SNAP * sizeof(int);
	int *now = xcalloc(tt->len ? tt->len * LOG_SNAP : 1, sizeof(int));
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		int *r = &now[i * LOG_SNAP];
		r[0] = t->demand;
		r[1] = t->requested;
		r[2] = t->running;
		r[3] = t->pending_starts;
		r[4] = t->pending_stops;
		r[5] = t->metric_failing; /* a source going down or coming back is news too */
	}
	bool heartbeat = wall_ms - lm->last_full_ms >= LOG_MONITOR_HEARTBEAT_MS;
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		bool same = lm->last && lm->last_len == len &&
			    memcmp(lm->last + i * LOG_SNAP * sizeof(int), &now[i * LOG_SNAP],
				   LOG_SNAP * sizeof(int)) == 0;
		if (same && !heartbeat)
			continue;
		struct monitor_metric mm;
		monitor_metric_view(t, mono_ms, &mm);
		if (t->target.kind == TARGET_REMAINDER)
			log_info("monitor", "counts", LOG_S("task", t->name),
				 LOG_I("demand", t->demand), LOG_I("requested", t->requested),
				 LOG_I("running", t->running),
				 LOG_I("pending_starts", t->pending_starts),
				 LOG_I("pending_stops", t->pending_stops),
				 LOG_D("metric", t->reading.value));
		else
			log_info("monitor", "counts", LOG_S("task", t->name),
				 LOG_I("demand", t->demand), LOG_I("requested", t->requested),
				 LOG_I("running", t->running),
				 LOG_I("pending_starts", t->pending_starts),
				 LOG_I("pending_stops", t->pending_stops),
				 LOG_D("metric", t->reading.value),
				 LOG_S("metric_type", mm.type),
				 LOG_I("metric_age_ms", mm.has_value ? (long long)mm.age_ms : -1),
				 LOG_B("metric_ok", !mm.failing && mm.has_value),
				 LOG_I("metric_errors", mm.errors));
	}
	if (heartbeat)
		lm->last_full_ms = wall_ms;
	free(lm->last);
	lm->last = (char *)now;
	lm->last_len = len;
}

static void log_free(struct monitor *m)
{
	struct logmon *lm = m->impl;
	free(lm->last);
	free(lm);
}

static const struct monitor_ops log_ops = {.name = "LOG", .send = log_send, .free = log_free};

struct monitor *monitor_log_new(void)
{
	struct monitor *m = xcalloc(1, sizeof *m);
	m->ops = &log_ops;
	m->impl = xcalloc(1, sizeof(struct logmon));
	return m;
}
