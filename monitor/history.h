/* The last 15 minutes of each task's demand, requested and running counts, for the dashboard's
 * charts: a point is added only when a count changed (at most one a second per task), so a
 * steady task costs one point. Pure: time is passed in. */
#ifndef MSS_HISTORY_H
#define MSS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "../demand/task.h"

#define HISTORY_WINDOW_MS (15 * 60 * 1000)

struct history_point {
	uint64_t wall_ms;
	int demand, requested, running;
};

struct history_series {
	const struct task *task; /* compared only, never dereferenced */
	char name[64];
	struct history_point *pts; /* oldest first; owned */
	size_t len, cap;
};

struct history {
	struct history_series *series; /* in table order; owned */
	size_t len;
};

void history_init(struct history *h);
void history_free(struct history *h);
/* Record the table's counts at wall_ms: one point per task whose counts changed since its last
 * point (a point less than a second old is overwritten instead), points older than the window
 * dropped except the newest of them (the value the window starts with). Tasks no longer in the
 * table are forgotten. */
void history_sample(struct history *h, const struct task_table *tt, uint64_t wall_ms);
/* The series of a task by name, or NULL. */
const struct history_series *history_find(const struct history *h, const char *name);

#endif
