/* LOCAL demand engine: each tick, start a read of every idle metric source, turn the latest
 * readings into wishes through the targets, and run decide(). A slow source never holds up the
 * others or the tick: its reading simply ages, and the missing-metric policy applies once it is
 * older than max_age. */
#include "../utils/log.h"
#include "../utils/util.h"
#include "engine.h"
#include "metric.h"

static int local_start(struct engine *e, struct err *err)
{
	return 0;
}

static void local_tick(struct engine *e, uint64_t now_ms)
{
	if (e->stopped || e->tasks->draining)
		return;
	struct task_table *tt = e->tasks;
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		engine_metric_attach(e, t); /* tasks may arrive with a config reload */
		if (t->metric)
			metric_poll(t->metric);
	}
	/* Sources that answer at once (Null, Toy) are fresh now; others from an earlier tick. */
	now_ms = util_mono_ms();
	for (size_t i = 0; i < tt->len; i++)
		decide_want_local(tt->tasks[i], now_ms);
	decision_reset(&e->decision);
	if (decide(tt, now_ms, util_week_minute(util_wall_ms()), &e->decision) > 0 && e->on_demand)
		e->on_demand(e, &e->decision);
}

static void local_stop(struct engine *e)
{
	e->stopped = 1;
}

const struct engine_ops engine_local_ops = {
	.name = "LOCAL",
	.start = local_start,
	.tick = local_tick,
	.stop = local_stop,
};
