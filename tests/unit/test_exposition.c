/* The /metrics text: names, labels, types, counters and histograms, from a task table and the
 * telemetry, without a server; and the telemetry's own bookkeeping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/exposition.h"

static struct task *add_task(struct task_table *tt, const char *name)
{
	struct task *t = task_new(name);
	t->min = 1;
	t->max = 6;
	task_table_add(tt, t);
	return t;
}

static char *expose(const struct task_table *tt, const struct telemetry *tel,
                    const struct expo_info *info, uint64_t now)
{
	struct strbuf b = {0};
	exposition_write(&b, tt, tel, info, now);
	return strbuf_steal(&b);
}

static const struct expo_info info_default = {
    .version = "1.2.3",
    .revision = "abc",
    .scheduler = "TOY",
    .engine = "LOCAL",
    .ready = true,
    .start_time_s = 1700000000,
    .cpu_seconds = 1.5,
    .rss_bytes = 4096,
    .open_fds = 9,
};

#define assert_has(text, needle)                                                                   \
	do {                                                                                       \
		if (!strstr((text), (needle)))                                                     \
			fail_msg("missing: %s", (needle));                                         \
	} while (0)

#define assert_lacks(text, needle)                                                                 \
	do {                                                                                       \
		if (strstr((text), (needle)))                                                      \
			fail_msg("unexpected: %s", (needle));                                      \
	} while (0)

static void test_per_task_gauges_carry_the_task_label(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	tt.budget.containers = 10;
	struct task *web = add_task(&tt, "web");
	web->demand = 4;
	web->requested = 3;
	web->running = 2;
	web->pending_starts = 1;
	web->pending_stops = 0;
	web->override_max = 5;
	web->paused = true;
	struct telemetry tel;
	telemetry_init(&tel);
	char *s = expose(&tt, &tel, &info_default, 0);
	assert_has(s, "# TYPE microscaler_task_demand_containers gauge\n");
	assert_has(s, "microscaler_task_demand_containers{task=\"web\"} 4\n");
	assert_has(s, "microscaler_task_requested_containers{task=\"web\"} 3\n");
	assert_has(s, "microscaler_task_running_containers{task=\"web\"} 2\n");
	assert_has(s, "microscaler_task_pending_start_containers{task=\"web\"} 1\n");
	assert_has(s, "microscaler_task_pending_stop_containers{task=\"web\"} 0\n");
	assert_has(s, "microscaler_task_min_containers{task=\"web\"} 1\n");
	assert_has(s, "microscaler_task_max_containers{task=\"web\"} 5\n");
	assert_has(s, "microscaler_task_paused{task=\"web\"} 1\n");
	assert_has(s, "microscaler_budget_containers 10\n");
	assert_has(s, "microscaler_budget_used_containers 4\n");
	free(s);
	telemetry_free(&tel);
	task_table_free(&tt);
}

static void test_counters_end_in_total_and_count_by_direction(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = add_task(&tt, "worker");
	t->stats = (struct task_stats){.started = 7,
	                               .stopped = 5,
	                               .crashed = 1,
	                               .start_errors = 2,
	                               .stop_errors = 3,
	                               .scale_up = 4,
	                               .scale_down = 6,
	                               .metric_errors = 8};
	struct telemetry tel;
	telemetry_init(&tel);
	char *s = expose(&tt, &tel, &info_default, 0);
	assert_has(s, "# TYPE microscaler_containers_started_total counter\n");
	assert_has(s, "microscaler_containers_started_total{task=\"worker\"} 7\n");
	assert_has(s, "microscaler_containers_stopped_total{task=\"worker\"} 5\n");
	assert_has(s, "microscaler_containers_crashed_total{task=\"worker\"} 1\n");
	assert_has(s, "microscaler_container_start_errors_total{task=\"worker\"} 2\n");
	assert_has(s, "microscaler_container_stop_errors_total{task=\"worker\"} 3\n");
	assert_has(s, "microscaler_metric_read_errors_total{task=\"worker\"} 8\n");
	assert_has(s, "microscaler_scaling_actions_total{task=\"worker\",direction=\"up\"} 4\n");
	assert_has(s, "microscaler_scaling_actions_total{task=\"worker\",direction=\"down\"} 6\n");
	/* Every counter family's name ends in _total. */
	for (const char *p = s; (p = strstr(p, "# TYPE ")); p++) {
		char name[128], type[32];
		assert_int_equal(sscanf(p, "# TYPE %127s %31s", name, type), 2);
		if (strcmp(type, "counter") == 0) {
			size_t n = strlen(name);
			assert_true(n > 6 && strcmp(name + n - 6, "_total") == 0);
		}
	}
	free(s);
	telemetry_free(&tel);
	task_table_free(&tt);
}

static void test_metric_value_and_age_only_for_tasks_with_a_reading(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct task *a = add_task(&tt, "a");
	add_task(&tt, "b");
	a->reading = (struct reading){.value = 42.5, .valid = true, .at_ms = 10000};
	struct telemetry tel;
	telemetry_init(&tel);
	char *s = expose(&tt, &tel, &info_default, 12500);
	assert_has(s, "microscaler_task_metric_value{task=\"a\"} 42.5\n");
	assert_has(s, "microscaler_task_metric_age_seconds{task=\"a\"} 2.5\n");
	assert_lacks(s, "microscaler_task_metric_value{task=\"b\"}");
	assert_lacks(s, "microscaler_task_metric_age_seconds{task=\"b\"}");
	free(s);
	telemetry_free(&tel);
	task_table_free(&tt);
}

static void test_label_values_are_escaped(void **state)
{
	struct strbuf b = {0};
	exposition_label_value(&b, "a\"b\\c\nd");
	assert_string_equal(b.p, "a\\\"b\\\\c\\nd");
	strbuf_free(&b);
	struct task_table tt;
	task_table_init(&tt);
	struct telemetry tel;
	telemetry_init(&tel);
	telemetry_request_done(&tel, "docker", "op\"x", "500", true, 0.01);
	char *s = expose(&tt, &tel, &info_default, 0);
	assert_has(s, "operation=\"op\\\"x\"");
	free(s);
	telemetry_free(&tel);
	task_table_free(&tt);
}

static void test_backend_requests_by_operation_and_status_with_errors_apart(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct telemetry tel;
	telemetry_init(&tel);
	telemetry_request_done(&tel, "docker", "container_create", "201", false, 0.012);
	telemetry_request_done(&tel, "docker", "container_create", "201", false, 0.020);
	telemetry_request_done(&tel, "docker", "container_create", "404", true, 0.003);
	telemetry_request_done(&tel, "docker", "container_list", "transport", true, 0.5);
	char *s = expose(&tt, &tel, &info_default, 0);
	assert_has(s, "microscaler_backend_requests_total{backend=\"docker\",operation="
	              "\"container_create\",status=\"201\"} 2\n");
	assert_has(s, "microscaler_backend_requests_total{backend=\"docker\",operation="
	              "\"container_create\",status=\"404\"} 1\n");
	assert_has(s, "microscaler_backend_request_errors_total{backend=\"docker\",operation="
	              "\"container_create\",status=\"404\"} 1\n");
	assert_has(s, "microscaler_backend_request_errors_total{backend=\"docker\",operation="
	              "\"container_list\",status=\"transport\"} 1\n");
	assert_lacks(s, "microscaler_backend_request_errors_total{backend=\"docker\",operation="
	                "\"container_create\",status=\"201\"}");
	/* Durations by operation: three creates, cumulative buckets. */
	assert_has(s, "microscaler_backend_request_duration_seconds_bucket{backend=\"docker\","
	              "operation=\"container_create\",le=\"0.005\"} 1\n");
	assert_has(s, "microscaler_backend_request_duration_seconds_bucket{backend=\"docker\","
	              "operation=\"container_create\",le=\"0.025\"} 3\n");
	assert_has(s, "microscaler_backend_request_duration_seconds_bucket{backend=\"docker\","
	              "operation=\"container_create\",le=\"+Inf\"} 3\n");
	assert_has(s, "microscaler_backend_request_duration_seconds_count{backend=\"docker\","
	              "operation=\"container_create\"} 3\n");
	assert_has(s, "microscaler_backend_request_duration_seconds_sum{backend=\"docker\","
	              "operation=\"container_create\"} 0.035\n");
	free(s);
	telemetry_free(&tel);
	task_table_free(&tt);
}

static void test_histogram_buckets_hold_values_at_their_bound(void **state)
{
	static const double bounds[] = {0.1, 1, 10};
	struct histogram h;
	histogram_init(&h, bounds, 3);
	histogram_observe(&h, 0.1); /* le 0.1 */
	histogram_observe(&h, 0.5); /* le 1 */
	histogram_observe(&h, 10);  /* le 10 */
	histogram_observe(&h, 11);  /* +Inf */
	assert_int_equal(h.buckets[0], 1);
	assert_int_equal(h.buckets[1], 1);
	assert_int_equal(h.buckets[2], 1);
	assert_int_equal(h.buckets[3], 1);
	assert_int_equal(h.count, 4);
	assert_float_equal(h.sum, 21.6, 1e-9);
}

static void test_decision_latency_counts_the_oldest_unanswered_decision(void **state)
{
	struct telemetry tel;
	telemetry_init(&tel);
	telemetry_backend_request(&tel, 5000000); /* no decision pending: nothing */
	assert_int_equal(tel.decision_latency.count, 0);
	telemetry_decision(&tel, 1000000000);
	telemetry_decision(&tel, 1500000000); /* a second decision before any request */
	telemetry_backend_request(&tel, 1002000000);
	telemetry_backend_request(&tel, 1003000000); /* the same round's further requests */
	assert_int_equal(tel.decision_latency.count, 1);
	assert_float_equal(tel.decision_latency.sum, 0.002, 1e-12);
	struct task_table tt;
	task_table_init(&tt);
	char *s = expose(&tt, &tel, &info_default, 0);
	assert_has(s, "# TYPE microscaler_decision_to_request_seconds histogram\n");
	assert_has(s, "microscaler_decision_to_request_seconds_bucket{le=\"0.001\"} 0\n");
	assert_has(s, "microscaler_decision_to_request_seconds_bucket{le=\"0.0025\"} 1\n");
	assert_has(s, "microscaler_decision_to_request_seconds_count 1\n");
	free(s);
	task_table_free(&tt);
	telemetry_free(&tel);
}

static void test_process_build_and_state_gauges(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct telemetry tel;
	telemetry_init(&tel);
	telemetry_tick_lag(&tel, 0.003);
	tel.stream_clients = 2;
	tel.stream_dropped = 1;
	struct expo_info info = info_default;
	info.dry_run = true;
	info.ws_used = true;
	info.ws_connected = true;
	info.ws_reconnects = 3;
	char *s = expose(&tt, &tel, &info, 0);
	assert_has(s, "microscaler_build_info{version=\"1.2.3\",revision=\"abc\",scheduler=\"TOY\","
	              "engine=\"LOCAL\"} 1\n");
	assert_has(s, "microscaler_loop_tick_lag_seconds_count 1\n");
	assert_has(s, "microscaler_loop_tick_lag_last_seconds 0.003\n");
	assert_has(s, "microscaler_websocket_connected 1\n");
	assert_has(s, "microscaler_websocket_reconnects_total 3\n");
	assert_has(s, "microscaler_http_event_streams 2\n");
	assert_has(s, "microscaler_http_event_streams_dropped_total 1\n");
	assert_has(s, "microscaler_dry_run 1\n");
	assert_has(s, "microscaler_ready 1\n");
	assert_has(s, "process_start_time_seconds 1700000000\n");
	assert_has(s, "process_cpu_seconds_total 1.5\n");
	assert_has(s, "process_resident_memory_bytes 4096\n");
	assert_has(s, "process_open_fds 9\n");
	free(s);
	info.cpu_seconds = info.rss_bytes = info.open_fds = -1; /* unknown: not printed */
	s = expose(&tt, &tel, &info, 0);
	assert_lacks(s, "process_cpu_seconds_total");
	assert_lacks(s, "process_resident_memory_bytes");
	free(s);
	telemetry_free(&tel);
	task_table_free(&tt);
}

/* Every line is a comment or `name{labels} value`, every sample's family has HELP and TYPE
 * before it, and no family is declared twice. */
static void test_every_line_is_well_formed(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	add_task(&tt, "a")->reading.valid = true;
	add_task(&tt, "b");
	struct telemetry tel;
	telemetry_init(&tel);
	telemetry_request_done(&tel, "swarm", "service_update", "200", false, 0.1);
	telemetry_tick_lag(&tel, 0.0001);
	char *s = expose(&tt, &tel, &info_default, 5);
	regex_t sample, comment;
	assert_int_equal(
	    regcomp(&sample,
	            "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? "
	            "(-?[0-9.e+-]+|NaN|\\+Inf|-Inf)$",
	            REG_EXTENDED | REG_NOSUB),
	    0);
	assert_int_equal(regcomp(&comment, "^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$",
	                         REG_EXTENDED | REG_NOSUB),
	                 0);
	char types[4096] = " ";
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#') {
			if (regexec(&comment, line, 0, NULL, 0) != 0)
				fail_msg("bad comment: %s", line);
			char name[128], kind[16];
			if (sscanf(line, "# %15s %127s", kind, name) == 2 &&
			    !strcmp(kind, "TYPE")) {
				char key[140];
				snprintf(key, sizeof key, " %s ", name);
				if (strstr(types, key))
					fail_msg("declared twice: %s", name);
				strncat(types, key + 1, sizeof types - strlen(types) - 1);
			}
		} else if (regexec(&sample, line, 0, NULL, 0) != 0) {
			fail_msg("bad sample: %s", line);
		}
	}
	regfree(&sample);
	regfree(&comment);
	free(s);
	telemetry_free(&tel);
	task_table_free(&tt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_per_task_gauges_carry_the_task_label),
	    cmocka_unit_test(test_counters_end_in_total_and_count_by_direction),
	    cmocka_unit_test(test_metric_value_and_age_only_for_tasks_with_a_reading),
	    cmocka_unit_test(test_label_values_are_escaped),
	    cmocka_unit_test(test_backend_requests_by_operation_and_status_with_errors_apart),
	    cmocka_unit_test(test_histogram_buckets_hold_values_at_their_bound),
	    cmocka_unit_test(test_decision_latency_counts_the_oldest_unanswered_decision),
	    cmocka_unit_test(test_process_build_and_state_gauges),
	    cmocka_unit_test(test_every_line_is_well_formed),
	};
	return cmocka_run_group_tests_name("exposition", tests, NULL, NULL);
}
