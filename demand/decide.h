/* The scaling decision: a pure function of the task table (wishes, counters, bounds, policies),
 * the budget and the time passed in, to new demands. No I/O, no clock reads. */
#ifndef MSS_DECIDE_H
#define MSS_DECIDE_H

#include <stddef.h>
#include <stdint.h>

#include "task.h"

struct change {
	struct task *task; /* borrowed from the table */
	int from, to;      /* demand before and after */
	char reason[120];  /* one human line: "queue 200 above target 50", "stolen by consumer" */
};

struct decision {
	struct change *changes; /* owned */
	size_t len, cap;
};

void decision_init(struct decision *d);
void decision_reset(struct decision *d); /* len = 0, keeps the buffer */
void decision_free(struct decision *d);

/* The local engine's wish for one task: from its target when the reading is fresh, else from the
 * task's missing-metric policy (hold / min / fallback), never as if the queue were empty.
 * Writes t->want; advances the target's controller state only on a fresh reading. */
void decide_want_local(struct task *t, uint64_t now_ms);

/* decide()'s week_minute when the wall time is not known: schedule floors are not applied. */
#define DECIDE_NO_WALL (-1)

/* The highest schedule floor in force at week_minute (local minutes since Monday 00:00,
 * 0..WEEK_MINUTES-1), 0 when no window is open. Pure. */
int decide_schedule_floor(const struct policy *p, int week_minute);

/* Turn every task's want into a demand (Go semantics, bugs fixed):
 *  - scale-down pass, lowest priority first; scale-up pass, highest first;
 *  - a task below its min is raised first, before any task grows above its own min; when nothing
 *    is free it takes from tasks above their min at any priority, lowest first;
 *  - a higher-priority task short of capacity steals from strictly lower-priority scalable tasks,
 *    down to their minimum; stolen capacity is usable once those containers are gone;
 *  - demand always within [min, max] and sum of demands within the budget;
 *  - a task with requests in flight is left alone until they finish (no permanent "mid-scale");
 *  - paused tasks keep their demand; retiring tasks go to 0; nothing runs while draining.
 * Appends one change per task whose demand moved. Returns the number of changes. */
size_t decide(struct task_table *tt, uint64_t now_ms, int week_minute, struct decision *out);

/* week_minute is the local wall time (MSS_TZ, default UTC) as minutes since Monday 00:00, or
 * DECIDE_NO_WALL: each task's schedule floor in force then is written to t->floor and raises its
 * min (task_min) for this round. now_ms is monotonic time for cooldowns and windows. */

/* Clamp a demand requested from outside (remote engine, HTTP override) into [min, max].
 * The budget is applied by decide(). */
int decide_clamp(const struct task *t, long long n);

#endif
