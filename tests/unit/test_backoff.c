/* Backoff: doubling from min to the cap, jitter inside its band, reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "utils/backoff.h"

static void test_delays_double_from_min_to_the_cap(void **state)
{
	struct backoff b;
	backoff_init(&b, 250, 5000, 2, 0, 1);
	const uint32_t want[] = {250, 500, 1000, 2000, 4000, 5000, 5000};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_int_equal(backoff_next(&b), want[i]);
}

static void test_reset_starts_again_from_min(void **state)
{
	struct backoff b;
	backoff_init(&b, 100, 1000, 2, 0, 1);
	backoff_next(&b);
	backoff_next(&b);
	backoff_reset(&b);
	assert_int_equal(backoff_next(&b), 100);
}

static void test_jitter_stays_inside_its_band_and_varies(void **state)
{
	struct backoff b;
	backoff_init(&b, 1000, 1000, 2, 50, 42);
	uint32_t lo = UINT32_MAX, hi = 0;
	for (int i = 0; i < 1000; i++) {
		uint32_t d = backoff_next(&b);
		assert_true(d >= 500 && d <= 1000);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	assert_true(hi - lo > 300); /* spread, so reconnecting agents do not stampede together */
}

static void test_many_failures_never_overflow(void **state)
{
	struct backoff b;
	backoff_init(&b, 200, 3200, 2, 0, 1);
	for (int i = 0; i < 100000; i++)
		assert_true(backoff_next(&b) <= 3200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delays_double_from_min_to_the_cap),
		cmocka_unit_test(test_reset_starts_again_from_min),
		cmocka_unit_test(test_jitter_stays_inside_its_band_and_varies),
		cmocka_unit_test(test_many_failures_never_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
