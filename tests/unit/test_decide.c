/* The scaling decision: Go's task vectors and worked examples, each fixed Go bug, policies, and
 * seeded random properties (budget, bounds, convergence by priority). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "demand/decide.h"

#define NOW 1000000u /* monotonic ms; any value far from 0 */

/* ---- Helpers ---- */

static struct task *add_task(struct task_table *tt, const char *name, int prio, int min, int max,
                             int step)
{
	struct task *t = task_new(name);
	t->priority = prio;
	t->min = min;
	t->max = max;
	t->max_step = step;
	task_table_add(tt, t);
	return t;
}

/* Counters of a task with nothing in flight. */
static void at(struct task *t, int demand, int requested, int running)
{
	t->demand = demand;
	t->requested = requested;
	t->running = running;
	t->pending_starts = 0;
	t->pending_stops = 0;
}

static void steady(struct task *t, int n)
{
	at(t, n, n, n);
}

static void want_abs(struct task *t, int ideal)
{
	t->want = (struct want){ideal, true, true, true, "remote demand"};
}

static void want_rel(struct task *t, int ideal, bool grow, bool shrink)
{
	t->want = (struct want){ideal, grow, shrink, false, "test"};
}

static const struct change *change_of(const struct decision *d, const struct task *t)
{
	for (size_t i = 0; i < d->len; i++)
		if (d->changes[i].task == t)
			return &d->changes[i];
	return NULL;
}

/* An instant scheduler: every demand carried out at once. */
static void carry_out(struct task_table *tt)
{
	for (size_t i = 0; i < tt->len; i++)
		steady(tt->tasks[i], tt->tasks[i]->demand);
}

/* A slow scheduler: requests follow demand at once, but containers start and stop one per task
 * per round, with the rest in flight. */
static void carry_out_slowly(struct task_table *tt)
{
	for (size_t i = 0; i < tt->len; i++) {
		struct task *t = tt->tasks[i];
		t->requested = t->demand;
		if (t->running < t->requested)
			t->running++;
		else if (t->running > t->requested)
			t->running--;
		t->pending_starts = t->requested > t->running ? t->requested - t->running : 0;
		t->pending_stops = t->running > t->requested ? t->running - t->requested : 0;
	}
}

static int sum_demand(const struct task_table *tt)
{
	int s = 0;
	for (size_t i = 0; i < tt->len; i++)
		s += tt->tasks[i]->demand;
	return s;
}

static int sum_committed(const struct task_table *tt)
{
	int s = 0;
	for (size_t i = 0; i < tt->len; i++)
		s += task_committed(tt->tasks[i]);
	return s;
}

static size_t run(struct task_table *tt, uint64_t now, struct decision *d)
{
	decision_reset(d);
	return decide(tt, now, DECIDE_NO_WALL, d);
}

/* ---- Go demand/task_test.go, through decide() on a one-task table ---- */

/* Go getTestTask: min 1, max 5, maxDelta 2, SimpleQueue length 10, toy metric. Returns the new
 * demand for a task at `requested` whose ideal is `ideal` with the metric at `metric`. */
static int go_task_case(int ideal, int requested, double metric)
{
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 100;
	struct task *t = add_task(&tt, "t", 1, 1, 5, 2);
	target_init_simple_queue(&t->target, 10);
	steady(t, requested);
	t->want = (struct want){ideal, !target_meeting(&t->target, metric),
	                        target_exceeding(&t->target, metric), false, "test"};
	run(&tt, NOW, &d);
	int demand = t->demand;
	decision_free(&d);
	task_table_free(&tt);
	return demand;
}

static void test_go_no_scale_up_while_meeting_target(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(2, 2, 0), 2);
}

static void test_go_scale_up_capped_by_max(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(10, 4, 100), 5); /* +1 */
}

static void test_go_scale_up_capped_by_max_step(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(10, 2, 100), 4); /* +2 */
}

static void test_go_scale_up_count_never_negative(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(1, 2, 100), 2);
}

static void test_go_scale_up_normal_case(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(4, 2, 100), 4);
}

static void test_go_no_scale_down_when_ideal_equals_requested(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(2, 2, 0), 2);
}

static void test_go_scale_down_floored_at_min(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(0, 2, 1), 1); /* -1 */
}

static void test_go_scale_down_capped_by_max_step(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(1, 5, 1), 3); /* -2 */
}

static void test_go_scale_down_count_never_positive(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(10, 5, 1), 5);
}

static void test_go_scale_down_normal_case(void **state)
{
	(void)state;
	assert_int_equal(go_task_case(4, 5, 1), 4); /* -1 */
}

/* Go CanScaleDown, seen from a thief that needs more than is free. */
static int donated_by(bool scalable, int min, int requested)
{
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = requested + 1;
	struct task *thief = add_task(&tt, "thief", 1, 0, 100, 100);
	struct task *v = add_task(&tt, "victim", 2, min, 100, 100);
	target_init_queue(&thief->target, 10, NULL);
	steady(thief, 1);
	want_rel(thief, 50, true, false);
	v->scalable = scalable;
	steady(v, requested);
	want_rel(v, requested, false, false);
	run(&tt, NOW, &d);
	int given = requested - v->demand;
	decision_free(&d);
	task_table_free(&tt);
	return given;
}

static void test_go_unscalable_task_gives_nothing(void **state)
{
	(void)state;
	assert_int_equal(donated_by(false, 3, 3), 0);
	assert_int_equal(donated_by(false, 3, 5), 0);
}

static void test_go_task_at_min_gives_nothing(void **state)
{
	(void)state;
	assert_int_equal(donated_by(true, 3, 3), 0);
}

static void test_go_task_gives_what_it_holds_above_min(void **state)
{
	(void)state;
	assert_int_equal(donated_by(true, 3, 5), 2);
}

/* ---- §3.2 worked examples, HARDCODED setup, zero policy ---- */

struct demo {
	struct task_table tt;
	struct decision d;
	struct task *consumer, *remainder;
};

static void demo_init(struct demo *x, double depth)
{
	task_table_init(&x->tt);
	decision_init(&x->d);
	x->tt.budget.containers = 10;
	x->consumer = add_task(&x->tt, "consumer", 1, 1, 10, 9);
	x->remainder = add_task(&x->tt, "remainder", 2, 1, 10, 9);
	target_init_queue(&x->consumer->target, 50, NULL);
	target_init_remainder(&x->remainder->target, 10);
	x->consumer->reading = (struct reading){depth, true, NOW};
}

static size_t demo_tick(struct demo *x, double depth, uint64_t now)
{
	x->consumer->reading = (struct reading){depth, true, now};
	for (size_t i = 0; i < x->tt.len; i++)
		decide_want_local(x->tt.tasks[i], now);
	return run(&x->tt, now, &x->d);
}

static void demo_free(struct demo *x)
{
	decision_free(&x->d);
	task_table_free(&x->tt);
}

static void test_example_a_cold_start_consumer_6_remainder_4(void **state)
{
	(void)state;
	struct demo x;
	demo_init(&x, 200);
	assert_int_equal(demo_tick(&x, 200, NOW), 2);
	assert_int_equal(x.consumer->demand, 6);
	assert_int_equal(x.remainder->demand, 4);
	const struct change *c = change_of(&x.d, x.consumer);
	assert_non_null(c);
	assert_int_equal(c->from, 0);
	assert_int_equal(c->to, 6);
	assert_string_equal(c->reason, "queue 200 above target 50");
	c = change_of(&x.d, x.remainder);
	assert_int_equal(c->to, 4);
	assert_non_null(strstr(c->reason, "budget full"));
	demo_free(&x);
}

/* A then B then C then D on one table, so the consumer's controller state carries over. */
static void test_examples_b_c_d_steal_then_grow_then_hand_back(void **state)
{
	(void)state;
	struct demo x;
	demo_init(&x, 200);
	demo_tick(&x, 200, NOW);

	/* B: 6/6 and 4/4. The consumer wants 12, clamped to 10; nothing free, so it steals
	 * 4 - 1 = 3 from the remainder and grows by 0 this tick (same as Go). */
	carry_out(&x.tt);
	assert_int_equal(demo_tick(&x, 200, NOW + 500), 1);
	assert_int_equal(x.consumer->demand, 6);
	assert_int_equal(x.remainder->demand, 1);
	assert_string_equal(change_of(&x.d, x.remainder)->reason, "stolen by consumer");

	/* C: the remainder is stopping (2 running, 1 requested, 1 stop in flight). Go counted
	 * 10 - (6 + 1) = 3 free and gave the consumer 9 while the remainder's second container
	 * still ran: 9 + 2 = 11 of 10. The stopping container still counts here, so 2 are free
	 * and the consumer goes to 8; it gets the last one once the stop has finished. */
	at(x.remainder, 1, 1, 2);
	x.remainder->pending_stops = 1;
	assert_int_equal(demo_tick(&x, 200, NOW + 1000), 1);
	assert_int_equal(x.consumer->demand, 8);
	assert_int_equal(x.remainder->demand, 1);
	assert_true(sum_committed(&x.tt) <= 10);

	/* D: depth 0 with 9/9 and 1/1. Delta = 0.04 * -50 + 1.25 * -200 = -252: the consumer
	 * is exceeding and drops to its min 1 (same as Go). Go also gave the remainder the 8
	 * "freed" containers in the same tick (9 + 8 = 17 of 10 until the stops finished); here
	 * the remainder waits until the consumer's containers are gone. */
	steady(x.consumer, 9);
	steady(x.remainder, 1);
	assert_int_equal(demo_tick(&x, 0, NOW + 1500), 1);
	assert_int_equal(x.consumer->demand, 1);
	assert_int_equal(x.remainder->demand, 1);
	assert_string_equal(change_of(&x.d, x.consumer)->reason, "queue 0 below target 50");
	assert_true(sum_committed(&x.tt) <= 10);

	/* The stops have finished: now the remainder takes min(10, 9, 9) limited to 9 free,
	 * which is Go's number one tick later. */
	carry_out(&x.tt);
	assert_int_equal(demo_tick(&x, 0, NOW + 2000), 1);
	assert_int_equal(x.consumer->demand, 1);
	assert_int_equal(x.remainder->demand, 9);
	demo_free(&x);
}

static void test_example_e_metric_stuck_at_zero_consumer_min_remainder_rest(void **state)
{
	(void)state;
	struct demo x;
	demo_init(&x, 0);
	assert_int_equal(demo_tick(&x, 0, NOW), 2);
	assert_int_equal(x.consumer->demand, 1);
	assert_int_equal(x.remainder->demand, 9);
	carry_out(&x.tt);
	for (int i = 1; i <= 5; i++) {
		assert_int_equal(demo_tick(&x, 0, NOW + 500u * i), 0);
		carry_out(&x.tt);
	}
	assert_int_equal(x.consumer->demand, 1);
	assert_int_equal(x.remainder->demand, 9);
	demo_free(&x);
}

/* ---- Fix 1: capacity from committed counts ---- */

static void test_budget_never_exceeded_while_containers_stop(void **state)
{
	(void)state;
	/* Go: 6 + 2 still stopping + 3 new = 11 of 10. */
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	struct task *b = add_task(&tt, "b", 2, 0, 10, 10);
	target_init_queue(&a->target, 10, NULL);
	steady(a, 6);
	want_rel(a, 10, true, false);
	at(b, 0, 0, 2); /* two containers still stopping */
	b->pending_stops = 2;
	want_rel(b, 0, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 8);
	assert_true(sum_committed(&tt) <= 10);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_capacity_from_scale_down_returns_only_when_gone(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 0, 10, 10);
	steady(hi, 5);
	want_rel(hi, 0, false, true); /* shrinks to 0 */
	steady(lo, 5);
	want_rel(lo, 10, true, false); /* wants the freed 5 */
	run(&tt, NOW, &d);
	assert_int_equal(hi->demand, 0);
	assert_int_equal(lo->demand, 5);
	/* The scheduler has not stopped anything yet: still nothing free. */
	run(&tt, NOW + 500, &d);
	assert_int_equal(lo->demand, 5);
	carry_out(&tt);
	run(&tt, NOW + 1000, &d);
	assert_int_equal(lo->demand, 10);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_growth_is_requested_plus_step_within_free_capacity(void **state)
{
	(void)state;
	/* Go set Demand = Max whenever the old Demand was >= Max, whatever was free. Here the
	 * new demand is always requested + d, and d never exceeds what is free. */
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 6;
	struct task *a = add_task(&tt, "a", 1, 0, 5, 5);
	struct task *b = add_task(&tt, "b", 2, 0, 5, 5);
	steady(a, 2);
	want_rel(a, 10, true, false);
	steady(b, 3);
	want_rel(b, 3, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 3); /* 2 + the 1 free */
	assert_true(sum_demand(&tt) <= 6);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- Fix 2: no stuck mid-scale ---- */

static void test_task_scaled_when_running_differs_from_requested_with_nothing_in_flight(void **st)
{
	(void)st;
	/* A container crashed: running 2, requested 3. Go skipped such a task for ever. */
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	at(a, 3, 3, 2);
	want_rel(a, 6, true, false);
	assert_int_equal(run(&tt, NOW, &d), 1);
	assert_int_equal(a->demand, 6);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_settling_task_waits_until_requests_finish(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	at(a, 3, 3, 2);
	a->pending_starts = 1;
	want_rel(a, 6, true, false);
	assert_int_equal(run(&tt, NOW, &d), 0);
	assert_int_equal(a->demand, 3);
	at(a, 3, 3, 3);
	assert_int_equal(run(&tt, NOW + 500, &d), 1);
	assert_int_equal(a->demand, 6);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_absolute_want_applied_while_settling(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	at(a, 3, 3, 1);
	a->pending_starts = 2;
	want_abs(a, 7);
	assert_int_equal(run(&tt, NOW, &d), 1);
	assert_int_equal(a->demand, 7);
	assert_string_equal(change_of(&d, a)->reason, "remote demand");
	decision_free(&d);
	task_table_free(&tt);
}

/* In SERVER mode every task keeps its default Remainder target; the server's demand for a
 * higher priority must still take capacity from a lower one holding more than its min. */
static void test_remote_demand_of_a_remainder_task_steals_from_lower_priority(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 2, 10, 10);
	assert_int_equal(hi->target.kind, TARGET_REMAINDER);
	steady(hi, 0);
	steady(lo, 10);
	want_abs(hi, 8);
	want_abs(lo, 10);
	run(&tt, NOW, &d);
	assert_int_equal(lo->demand, 2);          /* cut to make room for the higher priority */
	assert_string_equal(change_of(&d, lo)->reason, "stolen by hi");
	assert_true(hi->demand + task_committed(lo) <= 10); /* grows once lo's containers are gone */
	steady(lo, 2);                           /* the scheduler stopped them */
	decision_reset(&d);
	run(&tt, NOW + 1000, &d);
	assert_int_equal(hi->demand, 8);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- Fix 3: stealing ---- */

static void test_victim_mid_scale_up_never_cut_below_min(void **state)
{
	(void)state;
	/* Go: donor = Requested - Min = 2, new Demand = Running - 2 = 0 < min 3. */
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 8;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 3, 10, 10);
	target_init_queue(&hi->target, 10, NULL);
	steady(hi, 3);
	want_rel(hi, 8, true, false);
	at(lo, 5, 5, 2);
	lo->pending_starts = 3;
	want_rel(lo, 5, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(lo->demand, 3);
	assert_int_equal(hi->demand, 3);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_equal_priority_task_is_never_robbed(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 6;
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	struct task *b = add_task(&tt, "b", 1, 0, 10, 10);
	target_init_queue(&a->target, 10, NULL);
	steady(a, 3);
	want_rel(a, 6, true, false);
	steady(b, 3);
	want_rel(b, 3, false, false);
	assert_int_equal(run(&tt, NOW, &d), 0);
	assert_int_equal(b->demand, 3);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_lowest_priority_robbed_first(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 9;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *mid = add_task(&tt, "mid", 2, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 3, 1, 10, 10);
	target_init_queue(&hi->target, 10, NULL);
	steady(hi, 3);
	want_rel(hi, 7, true, false);
	steady(mid, 3);
	want_rel(mid, 3, false, false);
	steady(lo, 3);
	want_rel(lo, 3, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(lo->demand, 1);  /* 2 from the lowest, down to its min */
	assert_int_equal(mid->demand, 1); /* then 2 from the next */
	assert_int_equal(hi->demand, 3);  /* nothing free yet */
	carry_out(&tt);
	run(&tt, NOW + 500, &d);
	assert_int_equal(hi->demand, 7);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_slow_scheduler_does_not_cause_repeat_thefts(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 9;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *mid = add_task(&tt, "mid", 2, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 3, 0, 10, 10);
	target_init_queue(&hi->target, 10, NULL);
	steady(hi, 3);
	want_rel(hi, 5, true, false);
	steady(mid, 3);
	want_rel(mid, 3, false, false);
	steady(lo, 3);
	want_rel(lo, 3, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(lo->demand, 1);
	assert_int_equal(mid->demand, 3);
	/* Nothing carried out yet (lo still 3/3 with demand 1): the same 2 are on their way, so
	 * the second tick takes nothing more. */
	assert_int_equal(run(&tt, NOW + 500, &d), 0);
	assert_int_equal(mid->demand, 3);
	assert_int_equal(lo->demand, 1);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_paused_and_unscalable_tasks_are_not_robbed(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 8;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *p = add_task(&tt, "paused", 2, 0, 10, 10);
	struct task *u = add_task(&tt, "fixed", 3, 0, 10, 10);
	target_init_queue(&hi->target, 10, NULL);
	steady(hi, 2);
	want_rel(hi, 8, true, false);
	steady(p, 3);
	p->paused = true;
	steady(u, 3);
	u->scalable = false;
	assert_int_equal(run(&tt, NOW, &d), 0);
	assert_int_equal(p->demand, 3);
	assert_int_equal(u->demand, 3);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_remainder_never_steals(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 6;
	struct task *r = add_task(&tt, "rest", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 0, 10, 10);
	target_init_remainder(&r->target, 10);
	steady(r, 3);
	decide_want_local(r, NOW);
	steady(lo, 3);
	want_rel(lo, 3, false, false);
	assert_int_equal(run(&tt, NOW, &d), 0);
	assert_int_equal(lo->demand, 3);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_thief_uses_free_capacity_and_steals_only_the_rest(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 0, 10, 10);
	target_init_queue(&hi->target, 10, NULL);
	steady(hi, 2);
	want_rel(hi, 8, true, false);
	steady(lo, 6);
	want_rel(lo, 6, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(hi->demand, 4); /* the 2 free now */
	assert_int_equal(lo->demand, 2); /* 4 more for later */
	decision_free(&d);
	task_table_free(&tt);
}

static void test_stolen_task_does_not_regrow_in_the_same_round(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 1, 10, 10);
	target_init_queue(&hi->target, 10, NULL);
	steady(hi, 5);
	want_rel(hi, 10, true, false);
	steady(lo, 5);
	want_rel(lo, 10, true, false);
	run(&tt, NOW, &d);
	assert_int_equal(lo->demand, 1);
	/* Next tick, nothing carried out: lo must not take its containers back. */
	run(&tt, NOW + 500, &d);
	assert_int_equal(lo->demand, 1);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- Fix 4: bounds and budget ---- */

static void test_demand_raised_to_min(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 2, 10, 1);
	steady(a, 0);
	want_rel(a, 0, false, true);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 2); /* the bound outranks max_step 1 */
	assert_string_equal(change_of(&d, a)->reason, "below min 2");
	decision_free(&d);
	task_table_free(&tt);
}

static void test_operator_max_lowers_demand_at_once(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 0, 10, 2);
	steady(a, 8);
	a->pending_starts = 1; /* even while settling */
	a->override_max = 3;
	want_rel(a, 8, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 3);
	assert_string_equal(change_of(&d, a)->reason, "above max 3");
	decision_free(&d);
	task_table_free(&tt);
}

static void test_low_priority_cut_to_min_when_budget_short(void **state)
{
	(void)state;
	/* The budget shrank on reload: demands add up to 12 of 8. */
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 8;
	struct task *a = add_task(&tt, "a", 1, 1, 10, 10);
	struct task *b = add_task(&tt, "b", 2, 2, 10, 10);
	struct task *c = add_task(&tt, "c", 3, 2, 10, 10);
	steady(a, 4);
	steady(b, 4);
	steady(c, 4);
	run(&tt, NOW, &d);
	assert_int_equal(c->demand, 2);
	assert_int_equal(b->demand, 2);
	assert_int_equal(a->demand, 4);
	assert_string_equal(change_of(&d, c)->reason, "over budget");
	decision_free(&d);
	task_table_free(&tt);
}

static void test_min_outranks_priority(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 2, 10, 10);
	steady(hi, 10);
	want_rel(hi, 10, false, false);
	steady(lo, 0);
	run(&tt, NOW, &d);
	assert_int_equal(hi->demand, 8);
	assert_string_equal(change_of(&d, hi)->reason, "stolen by lo");
	assert_int_equal(lo->demand, 0);
	carry_out(&tt);
	run(&tt, NOW + 500, &d);
	assert_int_equal(lo->demand, 2);
	assert_int_equal(hi->demand, 8);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_mins_that_do_not_fit_lowest_priority_loses(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 3;
	struct task *a = add_task(&tt, "a", 1, 2, 5, 5);
	struct task *b = add_task(&tt, "b", 2, 2, 5, 5);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 2);
	assert_int_equal(b->demand, 1);
	assert_true(sum_demand(&tt) <= 3);
	/* And when the low one already holds its min, the high one takes from it. */
	steady(a, 1);
	steady(b, 2);
	run(&tt, NOW + 500, &d);
	assert_int_equal(b->demand, 1);
	carry_out(&tt);
	run(&tt, NOW + 1000, &d);
	assert_int_equal(a->demand, 2);
	assert_int_equal(b->demand, 1);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- Fix 5: resource budgets ---- */

static void test_growth_limited_by_cpu_budget(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget = (struct budget){10, 2000000000LL, 0};
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	a->spec.nano_cpus = 500000000LL;
	want_abs(a, 10);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 4);
	assert_non_null(strstr(change_of(&d, a)->reason, "budget full"));
	decision_free(&d);
	task_table_free(&tt);
}

static void test_growth_limited_by_memory_budget(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget = (struct budget){10, 0, 1024LL << 20};
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	struct task *b = add_task(&tt, "b", 2, 0, 10, 10);
	a->spec.memory_bytes = 256LL << 20;
	b->spec.memory_bytes = 0; /* reserves no memory: only the container count limits it */
	want_abs(a, 10);
	want_abs(b, 10);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 4);
	assert_int_equal(b->demand, 6);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_unbudgeted_dimension_ignored(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget = (struct budget){10, 0, 0};
	struct task *a = add_task(&tt, "a", 1, 0, 10, 10);
	a->spec.nano_cpus = 64000000000LL;
	a->spec.memory_bytes = 1LL << 40;
	want_abs(a, 10);
	run(&tt, NOW, &d);
	assert_int_equal(a->demand, 10);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_steal_covers_a_cpu_shortage(void **state)
{
	(void)state;
	/* CPU is the binding limit: two 1-CPU containers need four 0.5-CPU ones to go. */
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget = (struct budget){20, 4000000000LL, 0};
	struct task *hi = add_task(&tt, "hi", 1, 0, 10, 10);
	struct task *lo = add_task(&tt, "lo", 2, 0, 10, 10);
	target_init_queue(&hi->target, 10, NULL);
	hi->spec.nano_cpus = 1000000000LL;
	lo->spec.nano_cpus = 500000000LL;
	steady(hi, 0);
	want_abs(hi, 2);
	steady(lo, 8);
	want_rel(lo, 8, false, false);
	run(&tt, NOW, &d);
	assert_int_equal(lo->demand, 4);
	assert_int_equal(hi->demand, 0);
	carry_out(&tt);
	run(&tt, NOW + 500, &d);
	assert_int_equal(hi->demand, 2);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- Fix 6: paused, retiring, draining ---- */

static void test_paused_task_demand_untouched(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 2, 5, 5);
	steady(a, 7); /* above max, and the want says 0: frozen anyway */
	a->paused = true;
	want_abs(a, 0);
	assert_int_equal(run(&tt, NOW, &d), 0);
	assert_int_equal(a->demand, 7);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_retiring_task_goes_to_zero(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 2, 5, 5);
	steady(a, 3);
	a->retiring = true;
	want_abs(a, 5);
	assert_int_equal(run(&tt, NOW, &d), 1);
	assert_int_equal(a->demand, 0);
	assert_string_equal(change_of(&d, a)->reason, "removed from config");
	assert_int_equal(a->stats.scale_down, 1);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_draining_table_is_left_alone(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 2, 5, 5);
	steady(a, 3);
	task_table_drain(&tt);
	want_abs(a, 5);
	assert_int_equal(run(&tt, NOW, &d), 0);
	assert_int_equal(a->demand, 0);
	assert_int_equal(d.len, 0);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- Fix 7: policies ---- */

struct one {
	struct task_table tt;
	struct decision d;
	struct task *t;
};

static void one_init(struct one *x, int n)
{
	task_table_init(&x->tt);
	decision_init(&x->d);
	x->tt.budget.containers = 100;
	x->t = add_task(&x->tt, "a", 1, 0, 100, 100);
	steady(x->t, n);
}

static void one_free(struct one *x)
{
	decision_free(&x->d);
	task_table_free(&x->tt);
}

static int one_tick(struct one *x, int ideal, uint64_t now)
{
	want_abs(x->t, ideal);
	run(&x->tt, now, &x->d);
	carry_out(&x->tt);
	return x->t->demand;
}

static void test_up_cooldown_blocks_growth_until_quiet_time_passed(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 1);
	x.t->policy.up_cooldown_ms = 3000;
	assert_int_equal(one_tick(&x, 5, NOW), 5);
	assert_true(x.t->last_up_ms == NOW);
	assert_int_equal(one_tick(&x, 9, NOW + 2999), 5);
	assert_int_equal(one_tick(&x, 2, NOW + 2999), 2); /* the other direction is free */
	assert_int_equal(one_tick(&x, 9, NOW + 3000), 9);
	one_free(&x);
}

static void test_down_cooldown_blocks_shrink_until_quiet_time_passed(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 10);
	x.t->policy.down_cooldown_ms = 1000;
	assert_int_equal(one_tick(&x, 8, NOW), 8);
	assert_true(x.t->last_down_ms == NOW);
	assert_int_equal(one_tick(&x, 2, NOW + 500), 8);
	assert_int_equal(one_tick(&x, 2, NOW + 1000), 2);
	one_free(&x);
}

static void test_scale_down_uses_max_recommendation_over_window(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 10);
	x.t->policy.down_window_ms = 2000;
	assert_int_equal(one_tick(&x, 10, NOW), 10);
	assert_int_equal(one_tick(&x, 2, NOW + 500), 10); /* 10 still in the window */
	assert_int_equal(one_tick(&x, 6, NOW + 1000), 10);
	assert_int_equal(one_tick(&x, 3, NOW + 2001), 6); /* 10 has left; 6 is the max */
	assert_int_equal(one_tick(&x, 3, NOW + 3001), 3);
	one_free(&x);
}

static void test_scale_up_uses_min_recommendation_over_window(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 2);
	x.t->policy.up_window_ms = 1000;
	assert_int_equal(one_tick(&x, 2, NOW), 2);
	assert_int_equal(one_tick(&x, 20, NOW + 500), 2); /* a spike: 2 still in the window */
	assert_int_equal(one_tick(&x, 12, NOW + 1000), 2);
	assert_int_equal(one_tick(&x, 15, NOW + 1501), 12); /* 2 left; min of 20, 12, 15 */
	one_free(&x);
}

static void test_history_freed_with_the_task(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 5);
	x.t->policy.down_window_ms = 1000000;
	for (int i = 0; i < 10000; i++)
		one_tick(&x, 5 + (i % 2), NOW + 500u * i);
	/* Freed by task_free(): ASan would report a leak or a bad free. */
	one_free(&x);
}

static void test_max_step_up_count_limits_growth(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 1);
	x.t->policy.max_step_up = 3;
	assert_int_equal(one_tick(&x, 20, NOW), 4);
	assert_int_equal(one_tick(&x, 20, NOW + 500), 7);
	assert_int_equal(one_tick(&x, 0, NOW + 1000), 0); /* down is not limited */
	one_free(&x);
}

static void test_max_step_down_count_limits_shrink(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 10);
	x.t->policy.max_step_down = 2;
	assert_int_equal(one_tick(&x, 0, NOW), 8);
	one_free(&x);
}

static void test_max_step_pct_is_percent_of_requested_at_least_one(void **state)
{
	(void)state;
	struct one x;
	one_init(&x, 20);
	x.t->policy.max_step_down_pct = 10;
	x.t->policy.max_step_up_pct = 50;
	assert_int_equal(one_tick(&x, 0, NOW), 18);         /* 10% of 20 */
	assert_int_equal(one_tick(&x, 100, NOW + 500), 27); /* 50% of 18 */
	one_free(&x);
	one_init(&x, 3);
	x.t->policy.max_step_down_pct = 10;
	x.t->policy.max_step_up_pct = 10;
	assert_int_equal(one_tick(&x, 0, NOW), 2); /* 10% of 3 rounds to 0: at least 1 */
	assert_int_equal(one_tick(&x, 9, NOW + 500), 3);
	one_free(&x);
	one_init(&x, 0);
	x.t->policy.max_step_up_pct = 10;
	assert_int_equal(one_tick(&x, 9, NOW), 1); /* from 0: at least 1 */
	one_free(&x);
}

static void test_policy_step_tighter_than_task_max_step_wins_and_looser_does_not(void **st)
{
	(void)st;
	struct one x;
	one_init(&x, 0);
	x.t->max_step = 4;
	x.t->policy.max_step_up = 10;
	assert_int_equal(one_tick(&x, 50, NOW), 4);
	one_free(&x);
}

/* ---- Fix 8: decide_want_local ---- */

static struct task *queue_task(struct task_table *tt, int requested)
{
	struct task *t = add_task(tt, "q", 1, 2, 10, 10);
	target_init_queue(&t->target, 50, NULL);
	steady(t, requested);
	return t;
}

static void test_fresh_reading_drives_the_target(void **state)
{
	(void)state;
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = queue_task(&tt, 3);
	t->policy.max_age_ms = 1000;
	t->reading = (struct reading){200, true, NOW - 1000};
	decide_want_local(t, NOW);
	assert_int_equal(t->want.ideal, 9); /* 3 + 6 */
	assert_true(t->want.may_grow);
	assert_false(t->want.absolute);
	assert_int_equal(t->target.start_count, 1);
	task_table_free(&tt);
}

static void test_reading_never_stale_when_max_age_zero(void **state)
{
	(void)state;
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = queue_task(&tt, 3);
	t->reading = (struct reading){200, true, 1};
	decide_want_local(t, NOW * 1000);
	assert_int_equal(t->want.ideal, 9);
	task_table_free(&tt);
}

static void test_stale_reading_holds_without_advancing_controller(void **state)
{
	(void)state;
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = queue_task(&tt, 3);
	t->policy.max_age_ms = 1000;
	t->reading = (struct reading){0, true, NOW - 1001};
	decide_want_local(t, NOW);
	assert_int_equal(t->want.ideal, 3);
	assert_false(t->want.may_grow);
	assert_false(t->want.may_shrink);
	assert_int_equal(t->target.start_count, 0);
	assert_true(t->target.last_length == 0);
	task_table_free(&tt);
}

static void test_missing_reading_never_read_as_empty_queue(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *t = queue_task(&tt, 6);
	t->reading.valid = false; /* never read: a 0 here would shrink the task */
	decide_want_local(t, NOW);
	assert_int_equal(run(&tt, NOW, &d), 0);
	assert_int_equal(t->demand, 6);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_missing_reading_with_min_policy_goes_to_min(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *t = queue_task(&tt, 6);
	t->policy.missing = MISSING_MIN;
	decide_want_local(t, NOW);
	assert_int_equal(t->want.ideal, 2);
	assert_true(t->want.may_grow && t->want.may_shrink);
	run(&tt, NOW, &d);
	assert_int_equal(t->demand, 2);
	assert_string_equal(change_of(&d, t)->reason, "metric missing: going to min");
	decision_free(&d);
	task_table_free(&tt);
}

static void test_missing_reading_with_fallback_policy_goes_to_fallback(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *t = queue_task(&tt, 3);
	t->policy.missing = MISSING_FALLBACK;
	t->policy.fallback = 5;
	t->policy.max_age_ms = 100;
	t->reading = (struct reading){1000, true, NOW - 200};
	decide_want_local(t, NOW);
	assert_int_equal(t->want.ideal, 5);
	run(&tt, NOW, &d);
	assert_int_equal(t->demand, 5);
	assert_int_equal(t->target.start_count, 0);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_remainder_want_ignores_metric(void **state)
{
	(void)state;
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = add_task(&tt, "r", 1, 0, 10, 10);
	target_init_remainder(&t->target, 10);
	steady(t, 4);
	t->reading.valid = false;
	t->policy.missing = MISSING_MIN;
	decide_want_local(t, NOW);
	assert_int_equal(t->want.ideal, 14);
	assert_true(t->want.may_grow);
	assert_false(t->want.may_shrink);
	task_table_free(&tt);
}

/* ---- Fix 9: changes, reasons, stats; API ---- */

static void test_one_change_per_task_from_start_to_end_of_round(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *a = add_task(&tt, "a", 1, 1, 10, 10);
	struct task *b = add_task(&tt, "b", 2, 0, 10, 10);
	want_abs(a, 5); /* raised to min, then grown: one entry 0 -> 5 */
	steady(b, 2);
	b->override_max = 1; /* lowered, then left: one entry 2 -> 1 */
	want_abs(b, 1);
	assert_int_equal(run(&tt, NOW, &d), 2);
	assert_int_equal(d.len, 2);
	const struct change *c = change_of(&d, a);
	assert_int_equal(c->from, 0);
	assert_int_equal(c->to, 5);
	assert_string_equal(c->reason, "remote demand");
	assert_int_equal(a->stats.scale_up, 1);
	assert_int_equal(b->stats.scale_down, 1);
	assert_int_equal(a->stats.scale_down, 0);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_changes_append_to_the_decision(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 100;
	for (int i = 0; i < 40; i++) {
		char name[16];
		snprintf(name, sizeof name, "t%d", i);
		want_abs(add_task(&tt, name, i % 3, 0, 2, 2), 1);
	}
	assert_int_equal(decide(&tt, NOW, DECIDE_NO_WALL, &d), 40);
	for (size_t i = 0; i < tt.len; i++)
		want_abs(tt.tasks[i], 2);
	/* appended after the first 40 */
	assert_int_equal(decide(&tt, NOW + 1, DECIDE_NO_WALL, &d), 40);
	assert_int_equal(d.len, 80);
	decision_reset(&d);
	assert_int_equal(d.len, 0);
	assert_non_null(d.changes);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_decide_clamp_into_operator_bounds(void **state)
{
	(void)state;
	struct task *t = task_new("a");
	t->min = 1;
	t->max = 10;
	assert_int_equal(decide_clamp(t, -5), 1);
	assert_int_equal(decide_clamp(t, 5), 5);
	assert_int_equal(decide_clamp(t, 1LL << 40), 10);
	t->override_min = 3;
	t->override_max = 4;
	assert_int_equal(decide_clamp(t, 0), 3);
	assert_int_equal(decide_clamp(t, 9), 4);
	task_free(t);
}

static void test_empty_table_changes_nothing(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	assert_int_equal(decide(&tt, NOW, DECIDE_NO_WALL, &d), 0);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- Properties over seeded random tables ---- */

struct rng {
	uint64_t s;
};

static uint64_t rng_next(struct rng *g)
{
	/* xorshift64* */
	g->s ^= g->s >> 12;
	g->s ^= g->s << 25;
	g->s ^= g->s >> 27;
	return g->s * 0x2545F4914F6CDD1DULL;
}

static int rng_in(struct rng *g, int lo, int hi)
{
	return lo + (int)(rng_next(g) % (uint64_t)(hi - lo + 1));
}

static bool rng_pct(struct rng *g, int pct)
{
	return rng_in(g, 1, 100) <= pct;
}

struct sums {
	long long n, cpu, mem;
};

static struct sums sum_of(const struct task_table *tt, bool committed)
{
	struct sums s = {0, 0, 0};
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		long long k = committed ? task_committed(t) : t->demand;
		s.n += k;
		s.cpu += k * t->spec.nano_cpus;
		s.mem += k * t->spec.memory_bytes;
	}
	return s;
}

static bool within(const struct task_table *tt, struct sums s)
{
	const struct budget *b = &tt->budget;
	return s.n <= b->containers && (!b->nano_cpus || s.cpu <= b->nano_cpus) &&
	       (!b->memory_bytes || s.mem <= b->memory_bytes);
}

static void reset_to_min(struct task *t)
{
	steady(t, task_min(t));
}

/* A valid table: mins fit every budget, every demand within its bounds, everything committed
 * within the budget; counters, wants, flags and policies otherwise random. */
static void random_table(struct rng *g, struct task_table *tt)
{
	task_table_init(tt);
	struct budget *b = &tt->budget;
	b->containers = rng_in(g, 0, 30);
	bool res = rng_pct(g, 30);
	if (res) {
		b->nano_cpus = rng_pct(g, 70) ? rng_in(g, 1, 32) * 250000000LL : 0;
		b->memory_bytes = rng_pct(g, 50) ? rng_in(g, 1, 32) * (64LL << 20) : 0;
	}
	int n = rng_in(g, 1, 8);
	struct sums mins = {0, 0, 0};
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof name, "t%d", i);
		struct task *t = add_task(tt, name, rng_in(g, 0, 4), 0, 0, rng_in(g, 0, 10));
		if (res) {
			t->spec.nano_cpus = rng_in(g, 0, 4) * 250000000LL;
			t->spec.memory_bytes = rng_in(g, 0, 4) * (64LL << 20);
		}
		t->min = rng_in(g, 0, 3);
		while (t->min > 0) {
			struct sums m = {mins.n + t->min, mins.cpu + t->min * t->spec.nano_cpus,
			                 mins.mem + t->min * t->spec.memory_bytes};
			if (within(tt, m))
				break;
			t->min--;
		}
		mins.n += t->min;
		mins.cpu += t->min * t->spec.nano_cpus;
		mins.mem += t->min * t->spec.memory_bytes;
		t->max = t->min + rng_in(g, 0, 10);
		if (rng_pct(g, 10))
			t->override_max = rng_in(g, t->min, t->max);
		t->scalable = rng_pct(g, 85);
		t->paused = rng_pct(g, 10);
		t->retiring = rng_pct(g, 5);
		switch (rng_in(g, 0, 2)) {
		case 0:
			target_init_remainder(&t->target, t->max);
			break;
		case 1:
			target_init_queue(&t->target, 50, NULL);
			break;
		default:
			target_init_simple_queue(&t->target, 50);
		}
		t->demand = rng_in(g, task_min(t), task_max(t));
		t->requested = rng_pct(g, 60) ? t->demand : rng_in(g, 0, t->max + 2);
		t->running = rng_pct(g, 60) ? t->requested : rng_in(g, 0, t->max + 2);
		t->pending_starts = rng_pct(g, 20) ? rng_in(g, 1, 2) : 0;
		t->pending_stops = rng_pct(g, 20) ? rng_in(g, 1, 2) : 0;
		t->want = (struct want){rng_in(g, -5, 20), rng_pct(g, 50), rng_pct(g, 50),
		                        rng_pct(g, 20), "random"};
		if (rng_pct(g, 30)) {
			struct policy *p = &t->policy;
			p->up_window_ms = rng_pct(g, 50) ? (uint32_t)rng_in(g, 0, 3000) : 0;
			p->down_window_ms = rng_pct(g, 50) ? (uint32_t)rng_in(g, 0, 3000) : 0;
			p->up_cooldown_ms = rng_pct(g, 50) ? (uint32_t)rng_in(g, 0, 3000) : 0;
			p->down_cooldown_ms = rng_pct(g, 50) ? (uint32_t)rng_in(g, 0, 3000) : 0;
			p->max_step_up = rng_in(g, 0, 3);
			p->max_step_down = rng_in(g, 0, 3);
			p->max_step_up_pct = rng_in(g, 0, 100);
			p->max_step_down_pct = rng_in(g, 0, 100);
		}
	}
	/* Give back whatever does not fit, task by task, until everything committed does. */
	while (!within(tt, sum_of(tt, true)))
		reset_to_min(tt->tasks[rng_in(g, 0, n - 1)]);
}

static void check_one_round(struct rng *g, uint64_t seed)
{
	struct task_table tt;
	struct decision d;
	decision_init(&d);
	random_table(g, &tt);
	int before[8], paused_demand[8];
	for (size_t i = 0; i < tt.len; i++) {
		before[i] = tt.tasks[i]->demand;
		paused_demand[i] = tt.tasks[i]->paused ? tt.tasks[i]->demand : -1;
	}
	/* A few rounds with the counters left as they are (a slow scheduler). */
	for (int round = 0; round < 3; round++) {
		size_t changed = decide(&tt, NOW + 700u * round, DECIDE_NO_WALL, &d);
		(void)changed;
		if (!within(&tt, sum_of(&tt, false)))
			fail_msg("seed %llu: demands over budget", (unsigned long long)seed);
		if (!within(&tt, sum_of(&tt, true)))
			fail_msg("seed %llu: committed over budget", (unsigned long long)seed);
		for (size_t i = 0; i < tt.len; i++) {
			const struct task *t = tt.tasks[i];
			if (t->retiring) {
				if (t->demand != 0)
					fail_msg("seed %llu: retiring %s at %d",
					         (unsigned long long)seed, t->name, t->demand);
			} else if (t->paused) {
				if (t->demand != paused_demand[i])
					fail_msg("seed %llu: paused %s moved",
					         (unsigned long long)seed, t->name);
			} else if (t->demand < task_min(t) || t->demand > task_max(t)) {
				fail_msg("seed %llu round %d: %s demand %d outside [%d, %d]",
				         (unsigned long long)seed, round, t->name, t->demand,
				         task_min(t), task_max(t));
			}
		}
	}
	/* The change list says exactly which demands moved, from where to where. */
	size_t moved = 0;
	for (size_t i = 0; i < tt.len; i++)
		moved += tt.tasks[i]->demand != before[i];
	(void)moved;
	for (size_t k = 0; k < d.len; k++)
		if (d.changes[k].from == d.changes[k].to)
			fail_msg("seed %llu: empty change", (unsigned long long)seed);
	decision_free(&d);
	task_table_free(&tt);
}

static void test_random_tables_stay_within_budget_and_bounds(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20000; seed++) {
		struct rng g = {seed * 0x9E3779B97F4A7C15ULL};
		check_one_round(&g, seed);
	}
}

static void test_change_list_matches_demands_moved(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 5000; seed++) {
		struct rng g = {seed * 0x51AFD7ED558CCD1DULL};
		struct task_table tt;
		struct decision d;
		decision_init(&d);
		random_table(&g, &tt);
		int before[8];
		for (size_t i = 0; i < tt.len; i++)
			before[i] = tt.tasks[i]->demand;
		size_t n = decide(&tt, NOW, DECIDE_NO_WALL, &d);
		assert_int_equal(n, d.len);
		size_t moved = 0;
		for (size_t i = 0; i < tt.len; i++) {
			const struct task *t = tt.tasks[i];
			const struct change *c = change_of(&d, t);
			if (t->demand == before[i]) {
				assert_null(c);
				continue;
			}
			moved++;
			assert_non_null(c);
			assert_int_equal(c->from, before[i]);
			assert_int_equal(c->to, t->demand);
			assert_true(c->reason[0] != '\0');
		}
		assert_int_equal(moved, n);
		decision_free(&d);
		task_table_free(&tt);
	}
}

/* Fixed absolute wants and an instant scheduler: after enough rounds no higher-priority task
 * is short of its want while a strictly lower-priority scalable task holds more than its min. */
static void check_convergence(struct rng *g, uint64_t seed, bool slow)
{
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = rng_in(g, 1, 30);
	int n = rng_in(g, 2, 8), sum_min = 0;
	int want[8];
	for (int i = 0; i < n; i++) {
		char name[16];
		snprintf(name, sizeof name, "t%d", i);
		struct task *t = add_task(&tt, name, rng_in(g, 0, 4), 0, 0, rng_in(g, 1, 10));
		t->min = rng_in(g, 0, 3);
		if (sum_min + t->min > tt.budget.containers)
			t->min = tt.budget.containers - sum_min;
		sum_min += t->min;
		t->max = t->min + rng_in(g, 0, 10);
		/* An unscalable task is a fixed count: it is never a donor, so a span above its min
		 * would be capacity the others' mins could never get back. */
		t->scalable = rng_pct(g, 90);
		if (!t->scalable)
			t->max = t->min;
		if (rng_pct(g, 25))
			target_init_remainder(&t->target, t->max);
		else
			target_init_queue(&t->target, 50, NULL);
		want[i] = rng_in(g, 0, 15);
		if (rng_pct(g, 50))
			steady(t, rng_in(g, t->min, t->max));
	}
	while (sum_committed(&tt) > tt.budget.containers)
		reset_to_min(tt.tasks[rng_in(g, 0, n - 1)]);

	for (int round = 0; round < (slow ? 120 : 40); round++) {
		for (int i = 0; i < n; i++)
			want_abs(tt.tasks[i], want[i]);
		run(&tt, NOW + 500u * round, &d);
		if (sum_demand(&tt) > tt.budget.containers)
			fail_msg("seed %llu: over budget", (unsigned long long)seed);
		if (sum_committed(&tt) > tt.budget.containers)
			fail_msg("seed %llu: committed over budget", (unsigned long long)seed);
		if (slow)
			carry_out_slowly(&tt);
		else
			carry_out(&tt);
	}
	for (int h = 0; h < n; h++) {
		const struct task *hi = tt.tasks[h];
		if (hi->demand < hi->min || hi->demand > hi->max)
			fail_msg("seed %llu: %s outside bounds", (unsigned long long)seed,
			         hi->name);
		if (!hi->scalable || hi->target.kind == TARGET_REMAINDER)
			continue;
		int goal = want[h] < hi->min ? hi->min : want[h] > hi->max ? hi->max : want[h];
		if (hi->demand >= goal)
			continue;
		for (int l = 0; l < n; l++) {
			const struct task *lo = tt.tasks[l];
			if (lo->priority > hi->priority && lo->scalable && lo->demand > lo->min)
				fail_msg("seed %llu: %s (prio %d) at %d short of %d while %s (prio "
				         "%d) holds %d > min %d",
				         (unsigned long long)seed, hi->name, hi->priority,
				         hi->demand, goal, lo->name, lo->priority, lo->demand,
				         lo->min);
		}
	}
	decision_free(&d);
	task_table_free(&tt);
}

static void test_random_tables_converge_by_priority(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 3000; seed++) {
		struct rng g = {seed * 0xD1B54A32D192ED03ULL};
		check_convergence(&g, seed, false);
	}
}

static void test_random_tables_converge_with_a_slow_scheduler(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 2000; seed++) {
		struct rng g = {seed * 0xA0761D6478BD642FULL};
		check_convergence(&g, seed, true);
	}
}

static void test_decide_is_deterministic(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 500; seed++) {
		struct rng g1 = {seed * 0x9E3779B97F4A7C15ULL}, g2 = g1;
		struct task_table a, b;
		struct decision da, db;
		decision_init(&da);
		decision_init(&db);
		random_table(&g1, &a);
		random_table(&g2, &b);
		assert_int_equal(decide(&a, NOW, DECIDE_NO_WALL, &da),
		                 decide(&b, NOW, DECIDE_NO_WALL, &db));
		for (size_t k = 0; k < da.len; k++) {
			assert_string_equal(da.changes[k].task->name, db.changes[k].task->name);
			assert_int_equal(da.changes[k].to, db.changes[k].to);
			assert_string_equal(da.changes[k].reason, db.changes[k].reason);
		}
		decision_free(&da);
		decision_free(&db);
		task_table_free(&a);
		task_table_free(&b);
	}
}

/* ---- Fix 10: cost ---- */

static void test_ten_thousand_tasks_with_stealing_decided_quickly(void **state)
{
	(void)state;
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	enum { N = 10000 };
	tt.budget.containers = 3 * N;
	for (int i = 0; i < N; i++) {
		char name[16];
		snprintf(name, sizeof name, "t%d", i);
		struct task *t = add_task(&tt, name, i, 1, 10, 10);
		target_init_queue(&t->target, 10, NULL);
		steady(t, 3);
		want_abs(t, 6); /* everyone short: every task steals from those below */
	}
	clock_t c0 = clock();
	for (int round = 0; round < 10; round++) {
		run(&tt, NOW + 500u * round, &d);
		if (round % 2)
			carry_out(&tt);
	}
	double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	assert_true(secs < 2.0);
	assert_true(sum_demand(&tt) <= 3 * N);
	decision_free(&d);
	task_table_free(&tt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_go_no_scale_up_while_meeting_target),
	    cmocka_unit_test(test_go_scale_up_capped_by_max),
	    cmocka_unit_test(test_go_scale_up_capped_by_max_step),
	    cmocka_unit_test(test_go_scale_up_count_never_negative),
	    cmocka_unit_test(test_go_scale_up_normal_case),
	    cmocka_unit_test(test_go_no_scale_down_when_ideal_equals_requested),
	    cmocka_unit_test(test_go_scale_down_floored_at_min),
	    cmocka_unit_test(test_go_scale_down_capped_by_max_step),
	    cmocka_unit_test(test_go_scale_down_count_never_positive),
	    cmocka_unit_test(test_go_scale_down_normal_case),
	    cmocka_unit_test(test_go_unscalable_task_gives_nothing),
	    cmocka_unit_test(test_go_task_at_min_gives_nothing),
	    cmocka_unit_test(test_go_task_gives_what_it_holds_above_min),
	    cmocka_unit_test(test_example_a_cold_start_consumer_6_remainder_4),
	    cmocka_unit_test(test_examples_b_c_d_steal_then_grow_then_hand_back),
	    cmocka_unit_test(test_example_e_metric_stuck_at_zero_consumer_min_remainder_rest),
	    cmocka_unit_test(test_budget_never_exceeded_while_containers_stop),
	    cmocka_unit_test(test_capacity_from_scale_down_returns_only_when_gone),
	    cmocka_unit_test(test_growth_is_requested_plus_step_within_free_capacity),
	    cmocka_unit_test(
	        test_task_scaled_when_running_differs_from_requested_with_nothing_in_flight),
	    cmocka_unit_test(test_settling_task_waits_until_requests_finish),
	    cmocka_unit_test(test_absolute_want_applied_while_settling),
	    cmocka_unit_test(test_remote_demand_of_a_remainder_task_steals_from_lower_priority),
	    cmocka_unit_test(test_victim_mid_scale_up_never_cut_below_min),
	    cmocka_unit_test(test_equal_priority_task_is_never_robbed),
	    cmocka_unit_test(test_lowest_priority_robbed_first),
	    cmocka_unit_test(test_slow_scheduler_does_not_cause_repeat_thefts),
	    cmocka_unit_test(test_paused_and_unscalable_tasks_are_not_robbed),
	    cmocka_unit_test(test_remainder_never_steals),
	    cmocka_unit_test(test_thief_uses_free_capacity_and_steals_only_the_rest),
	    cmocka_unit_test(test_stolen_task_does_not_regrow_in_the_same_round),
	    cmocka_unit_test(test_demand_raised_to_min),
	    cmocka_unit_test(test_operator_max_lowers_demand_at_once),
	    cmocka_unit_test(test_low_priority_cut_to_min_when_budget_short),
	    cmocka_unit_test(test_min_outranks_priority),
	    cmocka_unit_test(test_mins_that_do_not_fit_lowest_priority_loses),
	    cmocka_unit_test(test_growth_limited_by_cpu_budget),
	    cmocka_unit_test(test_growth_limited_by_memory_budget),
	    cmocka_unit_test(test_unbudgeted_dimension_ignored),
	    cmocka_unit_test(test_steal_covers_a_cpu_shortage),
	    cmocka_unit_test(test_paused_task_demand_untouched),
	    cmocka_unit_test(test_retiring_task_goes_to_zero),
	    cmocka_unit_test(test_draining_table_is_left_alone),
	    cmocka_unit_test(test_up_cooldown_blocks_growth_until_quiet_time_passed),
	    cmocka_unit_test(test_down_cooldown_blocks_shrink_until_quiet_time_passed),
	    cmocka_unit_test(test_scale_down_uses_max_recommendation_over_window),
	    cmocka_unit_test(test_scale_up_uses_min_recommendation_over_window),
	    cmocka_unit_test(test_history_freed_with_the_task),
	    cmocka_unit_test(test_max_step_up_count_limits_growth),
	    cmocka_unit_test(test_max_step_down_count_limits_shrink),
	    cmocka_unit_test(test_max_step_pct_is_percent_of_requested_at_least_one),
	    cmocka_unit_test(test_policy_step_tighter_than_task_max_step_wins_and_looser_does_not),
	    cmocka_unit_test(test_fresh_reading_drives_the_target),
	    cmocka_unit_test(test_reading_never_stale_when_max_age_zero),
	    cmocka_unit_test(test_stale_reading_holds_without_advancing_controller),
	    cmocka_unit_test(test_missing_reading_never_read_as_empty_queue),
	    cmocka_unit_test(test_missing_reading_with_min_policy_goes_to_min),
	    cmocka_unit_test(test_missing_reading_with_fallback_policy_goes_to_fallback),
	    cmocka_unit_test(test_remainder_want_ignores_metric),
	    cmocka_unit_test(test_one_change_per_task_from_start_to_end_of_round),
	    cmocka_unit_test(test_changes_append_to_the_decision),
	    cmocka_unit_test(test_decide_clamp_into_operator_bounds),
	    cmocka_unit_test(test_empty_table_changes_nothing),
	    cmocka_unit_test(test_random_tables_stay_within_budget_and_bounds),
	    cmocka_unit_test(test_change_list_matches_demands_moved),
	    cmocka_unit_test(test_random_tables_converge_by_priority),
	    cmocka_unit_test(test_random_tables_converge_with_a_slow_scheduler),
	    cmocka_unit_test(test_decide_is_deterministic),
	    cmocka_unit_test(test_ten_thousand_tasks_with_stealing_decided_quickly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
