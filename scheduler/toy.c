/* Toy scheduler: in-memory "containers" that start and stop after configurable delays
 * (MSS_TOY_START_MS, MSS_TOY_STOP_MS), so the demo and tests see pending states. It is the
 * reference for what a backend must do: stops before starts, pending = requests in flight,
 * requested = running + pending_starts - pending_stops, counts reported after every change. */
#include <stdlib.h>

#include "../utils/log.h"
#include "../utils/settings.h"
#include "../utils/util.h"
#include "scheduler.h"

/* One batch of starts or stops of one task, completing together when its timer fires. */
struct toy_op {
	uv_timer_t timer;
	struct toy *toy;
	struct task *task; /* NULL once the task was forgotten */
	int n;
	bool start;
	struct toy_op *next;
};

struct toy {
	unsigned start_ms, stop_ms;
	struct toy_op *ops; /* in flight, for force/forget/close */
	int open;           /* op timers not yet through their close callback */
	bool closing;
	void (*closed)(struct scheduler *s); /* close's done: called once, then NULL */
	struct scheduler *sched;
};

/* A toy container being stopped still runs until its stop lands. */
static void count(struct scheduler *s, struct task *t)
{
	t->requested = t->running + t->pending_starts - t->pending_stops;
	scheduler_counts_changed(s, t);
}

static void unlink_op(struct toy *toy, struct toy_op *op)
{
	for (struct toy_op **p = &toy->ops; *p; p = &(*p)->next)
		if (*p == op) {
			*p = op->next;
			return;
		}
}

/* Close is done once it was asked for and the last timer is through its close callback. It can
 * be asked for from inside finish_op (a count that ends the drain), before that op's timer is
 * even closing: counting open timers, not closing ones, makes done() run exactly once. */
static void maybe_closed(struct toy *toy)
{
	if (!toy->closing || toy->open > 0 || !toy->closed)
		return;
	void (*done)(struct scheduler *s) = toy->closed;
	toy->closed = NULL;
	done(toy->sched);
}

static void on_op_closed(uv_handle_t *h)
{
	struct toy_op *op = container_of(h, struct toy_op, timer);
	struct toy *toy = op->toy;
	free(op);
	toy->open--;
	maybe_closed(toy);
}

static void finish_op(struct toy_op *op, bool complete)
{
	struct toy *toy = op->toy;
	struct task *t = op->task;
	unlink_op(toy, op);
	if (t) {
		if (op->start) {
			t->pending_starts -= op->n;
			if (complete) {
				t->running += op->n;
				t->stats.started += (uint64_t)op->n;
			}
		} else {
			t->pending_stops -= op->n;
			if (complete) {
				t->running -= op->n;
				t->stats.stopped += (uint64_t)op->n;
			}
		}
		count(toy->sched, t);
	}
	uv_timer_stop(&op->timer);
	uv_close((uv_handle_t *)&op->timer, on_op_closed);
}

static void on_op_due(uv_timer_t *timer)
{
	finish_op(container_of(timer, struct toy_op, timer), true);
}

static void begin(struct scheduler *s, struct task *t, int n, bool start)
{
	struct toy *toy = s->impl;
	struct toy_op *op = xcalloc(1, sizeof *op);
	op->toy = toy;
	op->task = t;
	op->n = n;
	op->start = start;
	op->next = toy->ops;
	toy->ops = op;
	if (start)
		t->pending_starts += n;
	else
		t->pending_stops += n;
	uv_timer_init(s->loop, &op->timer);
	toy->open++;
	uv_timer_start(&op->timer, on_op_due, start ? toy->start_ms : toy->stop_ms, 0);
	log_info("scheduler", start ? "start" : "stop", LOG_S("task", t->name), LOG_I("n", n),
		 LOG_I("running", t->running), LOG_I("demand", t->demand));
	scheduler_request_started(s);
	count(s, t);
}

static int toy_start(struct scheduler *s, struct err *e)
{
	struct toy *toy = xcalloc(1, sizeof *toy);
	toy->start_ms = s->settings ? s->settings->toy_start_ms : 0;
	toy->stop_ms = s->settings ? s->settings->toy_stop_ms : 0;
	toy->sched = s;
	s->impl = toy;
	scheduler_ready(s);
	return 0;
}

/* How many the task will have once everything in flight lands. */
static int projected(const struct task *t)
{
	return t->running + t->pending_starts - t->pending_stops;
}

static void toy_sync(struct scheduler *s)
{
	struct task_table *tt = s->tasks;
	/* Stops first, so capacity is released before anything new is asked for. */
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		int excess = projected(t) - t->demand;
		int stoppable = t->running - t->pending_stops;
		if (excess > stoppable)
			excess = stoppable; /* the rest are still starting: stopped once they run */
		if (excess > 0)
			begin(s, t, excess, false);
	}
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		int missing = t->demand - projected(t);
		if (missing > 0)
			begin(s, t, missing, true);
	}
}

static void toy_force(struct scheduler *s)
{
	struct toy *toy = s->impl;
	/* Everything in flight lands now, then whatever runs is killed. */
	while (toy->ops)
		finish_op(toy->ops, true);
	for (size_t i = 0; i < s->tasks->len; i++) {
		struct task *t = s->tasks->tasks[i];
		if (t->running > 0) {
			t->stats.stopped += (uint64_t)t->running;
			t->running = 0;
			count(s, t);
		}
	}
}

static void toy_forget(struct scheduler *s, struct task *t)
{
	struct toy *toy = s->impl;
	for (struct toy_op *op = toy->ops; op; op = op->next)
		if (op->task == t)
			op->task = NULL;
}

static void toy_close(struct scheduler *s, void (*done)(struct scheduler *s))
{
	struct toy *toy = s->impl;
	toy->closing = true;
	toy->closed = done;
	while (toy->ops) {
		toy->ops->task = NULL;
		finish_op(toy->ops, false);
	}
	maybe_closed(toy);
}

static void toy_free(struct scheduler *s)
{
	free(s->impl);
}

const struct scheduler_ops scheduler_toy_ops = {
	.name = "TOY",
	.start = toy_start,
	.sync = toy_sync,
	.force = toy_force,
	.forget = toy_forget,
	.close = toy_close,
	.free = toy_free,
};
