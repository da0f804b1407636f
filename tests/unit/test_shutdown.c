/* The shutdown state machine: every transition and the exit status it leads to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "cmd/shutdown.h"

static void test_signal_while_running_starts_drain(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_SIGNAL), SHUTDOWN_ACT_DRAIN);
	assert_int_equal(sd.state, SHUTDOWN_DRAINING);
}

static void test_idle_while_running_does_nothing(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_IDLE), SHUTDOWN_ACT_NONE);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_DEADLINE), SHUTDOWN_ACT_NONE);
	assert_int_equal(sd.state, SHUTDOWN_RUNNING);
}

static void test_drain_reaching_zero_exits_0(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_IDLE), SHUTDOWN_ACT_EXIT);
	assert_int_equal(sd.state, SHUTDOWN_DONE);
	assert_int_equal(sd.exit_code, 0);
}

static void test_deadline_while_draining_forces_and_exits_1(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_DEADLINE), SHUTDOWN_ACT_FORCE);
	assert_int_equal(sd.state, SHUTDOWN_FORCING);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_IDLE), SHUTDOWN_ACT_EXIT);
	assert_int_equal(sd.exit_code, 1);
}

static void test_second_signal_stops_waiting_for_grace(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_SIGNAL), SHUTDOWN_ACT_FORCE);
	assert_int_equal(sd.exit_code, 1);
}

static void test_third_signal_exits_at_once(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_SIGNAL), SHUTDOWN_ACT_EXIT);
	assert_int_equal(sd.state, SHUTDOWN_DONE);
	assert_int_equal(sd.exit_code, 1);
}

static void test_force_deadline_exits_1_even_with_leftovers(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	shutdown_step(&sd, SHUTDOWN_EV_DEADLINE);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_FORCE_DEADLINE), SHUTDOWN_ACT_EXIT);
	assert_int_equal(sd.exit_code, 1);
}

static void test_a_stale_drain_deadline_does_not_end_the_force_phase(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	assert_int_equal(shutdown_step(&sd, SHUTDOWN_EV_DEADLINE), SHUTDOWN_ACT_NONE);
	assert_int_equal(sd.state, SHUTDOWN_FORCING);
}

static void test_done_ignores_everything(void **state)
{
	struct shutdown sd;
	shutdown_init(&sd);
	shutdown_step(&sd, SHUTDOWN_EV_SIGNAL);
	shutdown_step(&sd, SHUTDOWN_EV_IDLE);
	for (int ev = SHUTDOWN_EV_SIGNAL; ev <= SHUTDOWN_EV_FORCE_DEADLINE; ev++)
		assert_int_equal(shutdown_step(&sd, ev), SHUTDOWN_ACT_NONE);
	assert_int_equal(sd.exit_code, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signal_while_running_starts_drain),
		cmocka_unit_test(test_idle_while_running_does_nothing),
		cmocka_unit_test(test_drain_reaching_zero_exits_0),
		cmocka_unit_test(test_deadline_while_draining_forces_and_exits_1),
		cmocka_unit_test(test_second_signal_stops_waiting_for_grace),
		cmocka_unit_test(test_third_signal_exits_at_once),
		cmocka_unit_test(test_force_deadline_exits_1_even_with_leftovers),
		cmocka_unit_test(test_a_stale_drain_deadline_does_not_end_the_force_phase),
		cmocka_unit_test(test_done_ignores_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
