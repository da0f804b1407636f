/* TABLE monitor: a compact table of every task once a second, for a person at a terminal
 * (`make run`). Plain text blocks, not a redraw, so log lines in between stay readable. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../utils/util.h"
#include "monitor.h"

struct tablemon {
	FILE *out; /* borrowed */
};

/* "0.4s", "12s", "3m": a reading's age, short. */
static void fmt_age(uint64_t ms, char *out, size_t n)
{
	if (ms < 10000)
		snprintf(out, n, "%.1fs", (double)ms / 1000);
	else if (ms < 120000)
		snprintf(out, n, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(out, n, "%llum", (unsigned long long)(ms / 60000));
}

static void table_send(struct monitor *m, const struct task_table *tt, uint64_t mono_ms,
		       uint64_t wall_ms)
{
	struct tablemon *tm = m->impl;
	FILE *o = tm->out;
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tmv;
	char clock[16];
	gmtime_r(&secs, &tmv);
	strftime(clock, sizeof clock, "%H:%M:%S", &tmv);
	int used = 0;
	for (size_t i = 0; i < tt->len; i++)
		used += task_committed(tt->tasks[i]);
	fprintf(o, "-- %sZ  budget %d/%d%s\n", clock, used, tt->budget.containers,
		tt->draining ? "  DRAINING" : "");
	fprintf(o, "%-16s %4s %6s %4s %4s %6s %5s %8s %5s %4s\n", "task", "prio", "demand", "req",
		"run", "+start", "-stop", "metric", "age", "err");
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		struct monitor_metric mm;
		char metric[24] = "-", age[32] = "-", errs[24] = "-";
		monitor_metric_view(t, mono_ms, &mm);
		if (t->target.kind != TARGET_REMAINDER) {
			if (mm.has_value) {
				snprintf(metric, sizeof metric, "%.0f", mm.value);
				fmt_age(mm.age_ms, age, sizeof age);
			}
			snprintf(errs, sizeof errs, "%llu", (unsigned long long)mm.errors);
		}
		fprintf(o, "%-16.16s %4d %6d %4d %4d %6d %5d %8s %5s %4s%s%s\n", t->name,
			t->priority, t->demand, t->requested, t->running, t->pending_starts,
			t->pending_stops, metric, age, errs, mm.failing ? " metric failing" : "",
			t->paused ? " paused" : "");
	}
	fflush(o);
}

static void table_free(struct monitor *m)
{
	free(m->impl);
}

static const struct monitor_ops table_ops = {.name = "TABLE", .send = table_send, .free = table_free};

struct monitor *monitor_table_new(FILE *out)
{
	struct monitor *m = xcalloc(1, sizeof *m);
	struct tablemon *tm = xcalloc(1, sizeof *tm);
	tm->out = out;
	m->ops = &table_ops;
	m->impl = tm;
	m->every_ms = 1000;
	return m;
}
