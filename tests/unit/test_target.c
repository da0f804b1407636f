/* Targets: Go's target tests (queue thresholds, PD sequence, SimpleQueue, Remainder) and more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "demand/target.h"

static struct target queue_with(double length, double kp, double ki, double kd, int vel)
{
	struct pid_gains g = {.kp = kp, .ki = ki, .kd = kd, .vel_samples = vel};
	struct target t;
	target_init_queue(&t, length, &g);
	return t;
}

/* Go queueTargetTest: length 10, so min_length 7. */
static void check_thresholds(const struct target *t)
{
	assert_true(target_meeting(t, 10));
	assert_false(target_meeting(t, 11));
	assert_true(target_exceeding(t, 5));
	assert_true(target_meeting(t, 5));
	assert_false(target_exceeding(t, 9));
	assert_true(target_meeting(t, 9));
}

static void test_queue_meets_up_to_length_and_exceeds_up_to_min_length(void **state)
{
	(void)state;
	struct target t;
	target_init_queue(&t, 10, NULL);
	assert_int_equal(t.kind, TARGET_QUEUE);
	check_thresholds(&t);
}

static void test_simple_queue_shares_queue_thresholds(void **state)
{
	(void)state;
	struct target t;
	target_init_simple_queue(&t, 10);
	assert_int_equal(t.kind, TARGET_SIMPLE_QUEUE);
	check_thresholds(&t);
}

static void test_min_length_is_floor_of_seventy_percent(void **state)
{
	(void)state;
	struct target t;
	target_init_queue(&t, 10, NULL);
	assert_true(t.min_length == 7);
	target_init_queue(&t, 50, NULL);
	assert_true(t.min_length == 35);
	target_init_simple_queue(&t, 15);
	assert_true(t.min_length == 10); /* 10.5 */
	target_init_simple_queue(&t, 1);
	assert_true(t.min_length == 0);
}

static void test_default_gains_are_ziegler_nichols_pd(void **state)
{
	(void)state;
	struct pid_gains g;
	pid_gains_default(&g);
	assert_true(g.kp > 0.0399999 && g.kp < 0.0400001);
	assert_true(g.ki == 0.0);
	assert_true(g.kd == 1.25);
	assert_int_equal(g.vel_samples, 1);

	struct target t;
	target_init_queue(&t, 10, NULL); /* NULL gains: the defaults */
	assert_true(t.gains.kd == 1.25);
	assert_int_equal(t.gains.vel_samples, 1);
}

static void test_vel_samples_kept_within_window(void **state)
{
	(void)state;
	struct target t = queue_with(10, 1, 0, 1, 0);
	assert_int_equal(t.gains.vel_samples, 1);
	t = queue_with(10, 1, 0, 1, TARGET_VEL_SAMPLES_MAX + 50);
	assert_int_equal(t.gains.vel_samples, TARGET_VEL_SAMPLES_MAX);
}

static void test_queue_pd_sequence_matches_go(void **state)
{
	(void)state;
	struct target t = queue_with(10, 1, 0, 1, 1);
	assert_int_equal(target_delta(&t, 20), 10); /* first call: no velocity */
	assert_int_equal(target_delta(&t, 30), 30); /* err 20 + vel 10 */
	assert_int_equal(target_delta(&t, 30), 20); /* err 20 + vel 0 */
	assert_int_equal(target_delta(&t, 5), -30); /* err -5 + vel -25 */
}

static void test_default_gains_give_worked_example_deltas(void **state)
{
	(void)state;
	/* §3.2 examples A-D: depth 200 three ticks, then 0, against a target of 50. */
	struct target t;
	target_init_queue(&t, 50, NULL);
	assert_int_equal(target_delta(&t, 200), 6); /* 0.04 * 150, no velocity */
	assert_int_equal(target_delta(&t, 200), 6); /* + 1.25 * 0 */
	assert_int_equal(target_delta(&t, 200), 6);
	assert_int_equal(target_delta(&t, 0), -252); /* 0.04 * -50 + 1.25 * -200 */
}

static void test_integral_off_until_target_reached_from_below(void **state)
{
	(void)state;
	struct target t = queue_with(10, 0, 1, 0, 1);
	assert_int_equal(target_delta(&t, 5), 0); /* below, last below: no integral (cum -5) */
	assert_int_equal(target_delta(&t, 8), 0); /* still below (cum -7) */
	assert_false(t.use_i);
	assert_int_equal(target_delta(&t, 12), -5); /* crossed: integral on, cum -5 */
	assert_true(t.use_i);
	assert_int_equal(target_delta(&t, 12), -3); /* stays on (cum -3) */
	assert_int_equal(target_delta(&t, 3), -10); /* still on without a crossing (cum -10) */
}

static void test_integral_on_at_first_sample_above_target(void **state)
{
	(void)state;
	/* lastLength starts at 0, so a first sample above target counts as a crossing (Go quirk).
	 */
	struct target t = queue_with(10, 0, 1, 0, 1);
	assert_int_equal(target_delta(&t, 15), 5);
	assert_true(t.use_i);
}

static void test_integral_on_when_exactly_on_target(void **state)
{
	(void)state;
	struct target t = queue_with(10, 0, 1, 0, 1);
	assert_int_equal(target_delta(&t, 5), 0);
	assert_int_equal(target_delta(&t, 10), -5); /* err 0: reached, cum -5 */
	assert_true(t.use_i);
}

static void test_integral_on_when_crossing_from_above(void **state)
{
	(void)state;
	struct target t = queue_with(10, 0, 1, 0, 1);
	t.last_length = 20; /* as if the previous sample was above target with the integral off */
	assert_int_equal(target_delta(&t, 4), -6);
	assert_true(t.use_i);
}

static void test_integral_unbounded_without_anti_windup(void **state)
{
	(void)state;
	struct target t = queue_with(10, 0, 1, 0, 1);
	for (int i = 0; i < 100; i++)
		target_delta(&t, 1010); /* err 1000 each; the Go clamp at 10*length is disabled */
	assert_true(t.cum_err == 100000.0);
}

static void test_velocity_averaged_over_vel_samples(void **state)
{
	(void)state;
	struct target t = queue_with(0, 0, 0, 1, 3);
	/* Velocities 10, 10, 20, 0, 60. The first three calls have no velocity term. */
	assert_int_equal(target_delta(&t, 10), 0);
	assert_int_equal(target_delta(&t, 20), 0);
	assert_int_equal(target_delta(&t, 40), 0);
	assert_int_equal(target_delta(&t, 40), 10);  /* (10 + 20 + 0) / 3 */
	assert_int_equal(target_delta(&t, 100), 27); /* (20 + 0 + 60) / 3 = 26.67 */
}

static void test_round_half_up_on_negative_values(void **state)
{
	(void)state;
	struct target t = queue_with(0, 0.5, 0, 0, 1);
	assert_int_equal(target_delta(&t, -3), -1); /* -1.5 rounds up to -1, not away from 0 */
	assert_int_equal(target_delta(&t, -5), -2); /* -2.5 -> -2 */
	assert_int_equal(target_delta(&t, -1), 0);  /* -0.5 -> 0 */
	assert_int_equal(target_delta(&t, -7), -3); /* -3.5 -> -3 */
	assert_int_equal(target_delta(&t, 3), 2);   /* 1.5 -> 2 */
	assert_int_equal(target_delta(&t, -6), -3); /* -3 exactly */
}

static void test_huge_reading_saturates_delta(void **state)
{
	(void)state;
	struct target t = queue_with(10, 1, 0, 0, 1);
	int d = target_delta(&t, 1e300);
	assert_true(d > 0);
	struct want w;
	target_want(&t, 1e300, 1000000, &w);
	assert_true(w.ideal > 0);
}

static void test_simple_queue_steps_one_outside_band(void **state)
{
	(void)state;
	struct target t;
	target_init_simple_queue(&t, 10);
	assert_int_equal(target_delta(&t, 20), 1);
	assert_int_equal(target_delta(&t, 5), -1);
	assert_int_equal(target_delta(&t, 11), 1);
	assert_int_equal(target_delta(&t, 10), 0);
	assert_int_equal(target_delta(&t, 8), 0);
}

static void test_simple_queue_holds_at_exactly_min_length(void **state)
{
	(void)state;
	struct target t;
	target_init_simple_queue(&t, 10);
	assert_true(target_exceeding(&t, 7));
	assert_int_equal(target_delta(&t, 7), 0); /* strict < against <= in exceeding */
	assert_int_equal(target_delta(&t, 6), -1);
}

static void test_remainder_never_meets_never_exceeds_and_wants_max(void **state)
{
	(void)state;
	struct target t;
	target_init_remainder(&t, 100);
	assert_int_equal(t.remainder_max, 100);
	assert_false(target_meeting(&t, 0));
	assert_false(target_meeting(&t, 1e9));
	assert_false(target_exceeding(&t, 0));
	assert_int_equal(target_delta(&t, 0), 100);
	assert_int_equal(target_delta(&t, 12345), 100);
}

static void test_want_from_queue_is_running_plus_delta_with_flags(void **state)
{
	(void)state;
	struct target t;
	target_init_queue(&t, 50, NULL);
	struct want w = {.absolute = true};
	target_want(&t, 200, 3, &w);
	assert_int_equal(w.ideal, 9);
	assert_true(w.may_grow);
	assert_false(w.may_shrink);
	assert_false(w.absolute);
	assert_non_null(w.why);

	target_want(&t, 40, 9, &w); /* in the band: neither */
	assert_false(w.may_grow);
	assert_false(w.may_shrink);

	target_want(&t, 35, 9, &w); /* at min_length: may shrink, target met */
	assert_false(w.may_grow);
	assert_true(w.may_shrink);
}

static void test_want_ideal_may_be_negative(void **state)
{
	(void)state;
	struct target t;
	target_init_queue(&t, 50, NULL);
	struct want w;
	target_want(&t, 200, 9, &w);
	target_want(&t, 0, 9, &w);
	assert_int_equal(w.ideal, 9 - 252); /* 0.04 * -50 + 1.25 * (0 - 200) */
}

static void test_want_from_remainder_always_grows_never_shrinks(void **state)
{
	(void)state;
	struct target t;
	target_init_remainder(&t, 10);
	struct want w;
	target_want(&t, 0, 4, &w);
	assert_int_equal(w.ideal, 14);
	assert_true(w.may_grow);
	assert_false(w.may_shrink);
	assert_false(w.absolute);
	assert_non_null(w.why);
}

static void test_want_from_simple_queue(void **state)
{
	(void)state;
	struct target t;
	target_init_simple_queue(&t, 10);
	struct want w;
	target_want(&t, 20, 4, &w);
	assert_int_equal(w.ideal, 5);
	assert_true(w.may_grow);
	target_want(&t, 2, 4, &w);
	assert_int_equal(w.ideal, 3);
	assert_true(w.may_shrink);
}

static void test_kind_names_match_go_rule_types(void **state)
{
	(void)state;
	assert_string_equal(target_kind_name(TARGET_QUEUE), "Queue");
	assert_string_equal(target_kind_name(TARGET_SIMPLE_QUEUE), "SimpleQueue");
	assert_string_equal(target_kind_name(TARGET_REMAINDER), "Remainder");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_queue_meets_up_to_length_and_exceeds_up_to_min_length),
	    cmocka_unit_test(test_simple_queue_shares_queue_thresholds),
	    cmocka_unit_test(test_min_length_is_floor_of_seventy_percent),
	    cmocka_unit_test(test_default_gains_are_ziegler_nichols_pd),
	    cmocka_unit_test(test_vel_samples_kept_within_window),
	    cmocka_unit_test(test_queue_pd_sequence_matches_go),
	    cmocka_unit_test(test_default_gains_give_worked_example_deltas),
	    cmocka_unit_test(test_integral_off_until_target_reached_from_below),
	    cmocka_unit_test(test_integral_on_at_first_sample_above_target),
	    cmocka_unit_test(test_integral_on_when_exactly_on_target),
	    cmocka_unit_test(test_integral_on_when_crossing_from_above),
	    cmocka_unit_test(test_integral_unbounded_without_anti_windup),
	    cmocka_unit_test(test_velocity_averaged_over_vel_samples),
	    cmocka_unit_test(test_round_half_up_on_negative_values),
	    cmocka_unit_test(test_huge_reading_saturates_delta),
	    cmocka_unit_test(test_simple_queue_steps_one_outside_band),
	    cmocka_unit_test(test_simple_queue_holds_at_exactly_min_length),
	    cmocka_unit_test(test_remainder_never_meets_never_exceeds_and_wants_max),
	    cmocka_unit_test(test_want_from_queue_is_running_plus_delta_with_flags),
	    cmocka_unit_test(test_want_ideal_may_be_negative),
	    cmocka_unit_test(test_want_from_remainder_always_grows_never_shrinks),
	    cmocka_unit_test(test_want_from_simple_queue),
	    cmocka_unit_test(test_kind_names_match_go_rule_types),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
