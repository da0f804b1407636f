/* The toy scheduler, the reference backend: counts move through pending states to the demand,
 * stops happen before starts, force kills everything, close ends every handle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "scheduler/scheduler.h"
#include "utils/settings.h"
#include "utils/util.h"

struct fixture {
	uv_loop_t loop;
	struct task_table tt;
	struct settings s;
	struct scheduler *sched;
	int notifications;
	int max_total_running;
	int saw_pending_starts;
	bool closed;
	int closed_calls;     /* close's done callback: exactly once */
	bool close_when_idle; /* as the agent does when a drain ends */
	bool close_asked;
};

static void on_closed(struct scheduler *s);

static void on_counts(struct scheduler *s, struct task *t)
{
	struct fixture *f = s->core;
	f->notifications++;
	int total = 0;
	for (size_t i = 0; i < f->tt.len; i++) {
		total += f->tt.tasks[i]->running;
		if (f->tt.tasks[i]->pending_starts)
			f->saw_pending_starts = 1;
	}
	if (total > f->max_total_running)
		f->max_total_running = total;
	if (f->close_when_idle && !f->close_asked && task_table_idle(&f->tt)) {
		f->close_asked = true;
		s->ops->close(s, on_closed);
	}
}

static struct task *add(struct fixture *f, const char *name, int demand)
{
	struct task *t = task_new(name);
	t->max = 100;
	t->demand = demand;
	task_table_add(&f->tt, t);
	return t;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	uv_loop_init(&f->loop);
	task_table_init(&f->tt);
	f->s.toy_start_ms = 20;
	f->s.toy_stop_ms = 10;
	struct err e = ERR_INIT;
	f->sched = scheduler_new("TOY", &f->loop, &f->tt, &f->s, &e);
	assert_non_null(f->sched);
	f->sched->on_counts = on_counts;
	f->sched->core = f;
	*state = f;
	return 0;
}

static void on_closed(struct scheduler *s)
{
	struct fixture *f = s->core;
	f->closed = true;
	f->closed_calls++;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (!f->sched->impl)
		f->closed = true; /* never started: nothing to close */
	else if (!f->closed && !f->close_asked)
		f->sched->ops->close(f->sched, on_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
	assert_true(f->closed_calls <= 1);
	scheduler_free(f->sched);
	task_table_free(&f->tt);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

/* Run the loop until every task has settled at its demand (or the loop has nothing left). */
static void settle(struct fixture *f)
{
	uv_run(&f->loop, UV_RUN_DEFAULT);
}

static void test_unknown_backend_is_an_error_naming_the_setting(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	assert_null(scheduler_new("NOPE", &f->loop, &f->tt, &f->s, &e));
	assert_non_null(strstr(e.msg, "MSS_SCHEDULER"));
}

static void test_start_reports_ready(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	assert_int_equal(f->sched->ops->start(f->sched, &e), 0);
	assert_true(f->sched->ready);
	assert_true(f->notifications > 0);
}

static void test_scale_up_passes_through_pending_then_running(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 3);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	assert_int_equal(t->pending_starts, 3);
	assert_int_equal(t->requested, 3);
	assert_int_equal(t->running, 0);
	settle(f);
	assert_int_equal(t->running, 3);
	assert_int_equal(t->pending_starts, 0);
	assert_int_equal(t->stats.started, 3);
}

static void test_sync_is_idempotent_while_requests_are_in_flight(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 2);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	f->sched->ops->sync(f->sched);
	f->sched->ops->sync(f->sched);
	assert_int_equal(t->pending_starts, 2);
	settle(f);
	assert_int_equal(t->running, 2);
}

static void test_scale_down_stops_only_running_containers(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 4);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	settle(f);
	t->demand = 1;
	f->sched->ops->sync(f->sched);
	assert_int_equal(t->pending_stops, 3);
	assert_int_equal(t->requested, 1);
	settle(f);
	assert_int_equal(t->running, 1);
	assert_int_equal(t->stats.stopped, 3);
}

static void test_demand_cut_while_starting_converges(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 5);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	t->demand = 1; /* nothing runs yet: nothing to stop until the starts land */
	f->sched->ops->sync(f->sched);
	assert_int_equal(t->pending_stops, 0);
	settle(f);
	f->sched->ops->sync(f->sched);
	settle(f);
	assert_int_equal(t->running, 1);
}

static void test_stops_are_issued_before_starts_in_one_sync(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	f->s.toy_start_ms = 10;
	f->s.toy_stop_ms = 10;
	struct task *a = add(f, "a", 4);
	struct task *b = add(f, "b", 0);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	settle(f);
	f->max_total_running = 0;
	a->demand = 0;
	b->demand = 4;
	f->sched->ops->sync(f->sched);
	settle(f);
	/* Equal delays and stops queued first: the total never exceeds the 4 we had. */
	assert_int_equal(f->max_total_running, 4);
	assert_int_equal(a->running, 0);
	assert_int_equal(b->running, 4);
}

static void test_force_kills_everything_at_once(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 3);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	f->sched->ops->force(f->sched);
	assert_int_equal(t->running, 0);
	assert_int_equal(t->pending_starts, 0);
	assert_true(task_table_idle(&f->tt));
}

static void test_forget_detaches_in_flight_work_from_the_task(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 3);
	add(f, "other", 1);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	f->sched->ops->forget(f->sched, t);
	task_table_remove(&f->tt, t); /* freed: a use after this would show under ASan */
	settle(f);
	assert_int_equal(f->tt.tasks[0]->running, 1);
}

static void test_close_with_work_in_flight_ends_every_handle(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	add(f, "web", 3);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	f->sched->ops->close(f->sched, on_closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->closed);
}

/* The agent closes the scheduler from inside the counts callback that ends a drain: the last
 * stop landing, or force. */
static void test_close_from_inside_the_last_stop_reports_closed_once(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 2);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	settle(f);
	t->demand = 0;
	f->close_when_idle = true;
	f->sched->ops->sync(f->sched);
	settle(f);
	assert_true(f->close_asked);
	assert_int_equal(f->closed_calls, 1);
}

static void test_close_from_inside_force_reports_closed_once(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;
	struct task *t = add(f, "web", 2);
	f->sched->ops->start(f->sched, &e);
	f->sched->ops->sync(f->sched);
	settle(f);
	t->demand = 0;
	f->sched->ops->sync(f->sched); /* stops in flight */
	f->close_when_idle = true;
	f->sched->ops->force(f->sched);
	settle(f);
	assert_true(f->close_asked);
	assert_int_equal(f->closed_calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unknown_backend_is_an_error_naming_the_setting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_reports_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_up_passes_through_pending_then_running, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync_is_idempotent_while_requests_are_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scale_down_stops_only_running_containers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_demand_cut_while_starting_converges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stops_are_issued_before_starts_in_one_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_force_kills_everything_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_detaches_in_flight_work_from_the_task, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_with_work_in_flight_ends_every_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_inside_the_last_stop_reports_closed_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_from_inside_force_reports_closed_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
