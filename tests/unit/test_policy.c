/* Policies from the apps JSON (version 2 schema): parsing and its errors, the Threshold rule,
 * schedule floors in decide(), the missing-metric policy end to end, and the resource budget
 * fields. All pure: no loop, no server. (decide()'s cooldowns, windows and steps themselves are in
 * test_decide.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demand/config.h"
#include "demand/decide.h"
#include "demand/metric.h"

#define NOW 1000000u

/* Monday 00:00 + d days + h:m, as decide() takes it. */
#define WEEK_AT(d, h, m) ((d)*24 * 60 + (h)*60 + (m))

static int parse(const char *json, struct task_table *tt, struct err *e)
{
	task_table_init(tt);
	return config_parse_apps(json, strlen(json), NULL, tt, e);
}

/* One app with the given extra fields, in a version-1 or version-2 document. */
static int parse_app(int version, const char *app_fields, struct task_table *tt, struct err *e)
{
	char doc[4096];
	snprintf(doc, sizeof doc,
	         "{%s\"maxContainers\":20,\"apps\":[{\"name\":\"w\",\"minContainers\":1,"
	         "\"maxContainers\":10%s%s}]}",
	         version == 2 ? "\"version\":2," : "", *app_fields ? "," : "", app_fields);
	return parse(doc, tt, e);
}

static void expect_error(int version, const char *app_fields, const char *want)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	if (parse_app(version, app_fields, &tt, &e) == 0)
		fail_msg("parsed: %s", app_fields);
	if (strcmp(e.msg, want) != 0)
		fail_msg("got  '%s'\nwant '%s'", e.msg, want);
	task_table_free(&tt);
}

static struct task *expect_ok(int version, const char *app_fields, struct task_table *tt)
{
	struct err e = ERR_INIT;
	if (parse_app(version, app_fields, tt, &e) != 0)
		fail_msg("%s: %s", app_fields, e.msg);
	return tt->tasks[0];
}

/* ---- parsing ---- */

static void test_policy_fields_parse_into_the_task(void **state)
{
	struct task_table tt;
	struct task *t = expect_ok(
	    2,
	    "\"policy\":{\"up\":{\"window\":\"30s\",\"cooldown\":\"1m\",\"maxStep\":4,"
	    "\"maxStepPercent\":50},\"down\":{\"window\":\"5m\",\"cooldown\":120,\"maxStep\":1},"
	    "\"maxAge\":\"10s\",\"onMissing\":{\"fallback\":3},\"schedule\":[{\"days\":\"mon-fri\","
	    "\"from\":\"08:00\",\"to\":\"18:00\",\"min\":4},{\"days\":\"sat,sun\",\"from\":\"22:"
	    "00\","
	    "\"to\":\"06:00\",\"min\":2}]}",
	    &tt);
	const struct policy *p = &t->policy;
	assert_int_equal(p->up_window_ms, 30000);
	assert_int_equal(p->up_cooldown_ms, 60000);
	assert_int_equal(p->max_step_up, 4);
	assert_int_equal(p->max_step_up_pct, 50);
	assert_int_equal(p->down_window_ms, 300000);
	assert_int_equal(p->down_cooldown_ms, 120000);
	assert_int_equal(p->max_step_down, 1);
	assert_int_equal(p->max_step_down_pct, 0);
	assert_int_equal(p->max_age_ms, 10000);
	assert_int_equal(p->missing, MISSING_FALLBACK);
	assert_int_equal(p->fallback, 3);
	assert_int_equal(p->schedule_len, 2);
	assert_int_equal(p->schedule[0].days, 0x1f);
	assert_int_equal(p->schedule[0].from, 480);
	assert_int_equal(p->schedule[0].to, 1080);
	assert_int_equal(p->schedule[0].min, 4);
	assert_int_equal(p->schedule[1].days, 0x60);
	task_table_free(&tt);
}

static void test_no_policy_means_the_go_behaviour(void **state)
{
	struct task_table tt;
	struct task *t = expect_ok(0, "", &tt);
	struct policy zero = {0};
	assert_memory_equal(&t->policy, &zero, sizeof zero);
	task_table_free(&tt);
}

static void test_on_missing_takes_hold_min_or_a_fallback(void **state)
{
	struct task_table tt;
	assert_int_equal(expect_ok(2, "\"policy\":{\"onMissing\":\"min\"}", &tt)->policy.missing,
	                 MISSING_MIN);
	task_table_free(&tt);
	assert_int_equal(expect_ok(2, "\"policy\":{\"onMissing\":\"hold\"}", &tt)->policy.missing,
	                 MISSING_HOLD);
	task_table_free(&tt);
	expect_error(2, "\"policy\":{\"onMissing\":\"zero\"}",
	             "apps[0].policy.onMissing: expected \"hold\", \"min\" or {\"fallback\": N}");
	expect_error(2, "\"policy\":{\"onMissing\":{\"fallback\":11}}",
	             "apps[0].policy.onMissing.fallback: 11 is outside the app's [1, 10]");
	expect_error(2, "\"policy\":{\"onMissing\":{\"fallback\":\"3\"}}",
	             "apps[0].policy.onMissing.fallback: expected an integer, got string");
}

static void test_policy_errors_name_the_field(void **state)
{
	expect_error(2, "\"policy\":5", "apps[0].policy: expected an object, got number");
	expect_error(2, "\"policy\":{\"up\":{\"cooldown\":\"soon\"}}",
	             "apps[0].policy.up.cooldown: expected a duration like \"30s\", \"1m30s\" or "
	             "\"500ms\" (at most 24h), got 'soon'");
	expect_error(2, "\"policy\":{\"down\":{\"window\":-1}}",
	             "apps[0].policy.down.window: expected a duration from 0 to 24h, got -1");
	expect_error(2, "\"policy\":{\"up\":{\"maxStep\":0}}",
	             "apps[0].policy.up.maxStep: expected an integer from 1 to 1000000, got 0");
	expect_error(2, "\"policy\":{\"down\":{\"maxStepPercent\":1.5}}",
	             "apps[0].policy.down.maxStepPercent: expected an integer, got 1.5");
	expect_error(
	    2, "\"policy\":{\"maxAge\":true}",
	    "apps[0].policy.maxAge: expected a duration (string like \"30s\", or seconds), "
	    "got bool");
	expect_error(2, "\"policy\":{\"up\":[]}",
	             "apps[0].policy.up: expected an object, got array");
}

static void test_schedule_windows_are_checked(void **state)
{
	expect_error(2, "\"policy\":{\"schedule\":{}}",
	             "apps[0].policy.schedule: expected an array, got object");
	expect_error(2,
	             "\"policy\":{\"schedule\":[{\"days\":\"weekdays\",\"from\":\"08:00\","
	             "\"to\":\"18:00\",\"min\":2}]}",
	             "apps[0].policy.schedule[0].days: expected days like \"mon-fri\", \"sat,sun\" "
	             "or \"daily\", got 'weekdays'");
	expect_error(2,
	             "\"policy\":{\"schedule\":[{\"from\":\"8:00\",\"to\":\"18:00\",\"min\":2}]}",
	             "apps[0].policy.schedule[0].from: expected a time \"HH:MM\", got '8:00'");
	expect_error(2, "\"policy\":{\"schedule\":[{\"from\":\"08:00\",\"min\":2}]}",
	             "apps[0].policy.schedule[0].to: expected a time \"HH:MM\" (24:00 allowed) "
	             "(required)");
	expect_error(2,
	             "\"policy\":{\"schedule\":[{\"from\":\"24:00\",\"to\":\"01:00\",\"min\":2}]}",
	             "apps[0].policy.schedule[0].from: expected a time \"HH:MM\", got '24:00'");
	expect_error(2, "\"policy\":{\"schedule\":[{\"from\":\"08:00\",\"to\":\"18:00\"}]}",
	             "apps[0].policy.schedule[0].min: required");
	expect_error(2,
	             "\"policy\":{\"schedule\":[{\"from\":\"08:00\",\"to\":\"18:00\",\"min\":11}]}",
	             "apps[0].policy.schedule[0].min: 11 is above the app's maxContainers 10");
	struct task_table tt;
	struct task *t =
	    expect_ok(2,
	              "\"policy\":{\"schedule\":[{\"days\":\"fri-mon\",\"from\":\"00:00\","
	              "\"to\":\"24:00\",\"min\":3},{\"days\":\"*\",\"from\":\"12:00\","
	              "\"to\":\"13:00\",\"min\":5}]}",
	              &tt);
	assert_int_equal(t->policy.schedule[0].days, 0x71); /* fri sat sun mon */
	assert_int_equal(t->policy.schedule[0].to, 0);      /* 24:00: the next midnight */
	assert_int_equal(t->policy.schedule[1].days, 0x7f);
	task_table_free(&tt);
}

static void test_version_2_refuses_unknown_fields_everywhere(void **state)
{
	expect_error(2, "\"polcy\":{}",
	             "apps[0].polcy: unknown field (\"version\": 2 refuses unknown fields)");
	expect_error(2, "\"policy\":{\"up\":{\"cooldwn\":\"1m\"}}",
	             "apps[0].policy.up.cooldwn: unknown field (\"version\": 2 refuses unknown "
	             "fields)");
	expect_error(
	    2, "\"config\":{\"imagee\":\"x\"}",
	    "apps[0].config.imagee: unknown field (\"version\": 2 refuses unknown fields)");
	expect_error(2,
	             "\"ruleType\":\"Queue\",\"metricType\":\"Toy\",\"config\":{\"toyStart\":1,"
	             "\"topicName\":\"t\"}",
	             "apps[0].config.topicName: unknown field (\"version\": 2 refuses unknown "
	             "fields)");
	struct task_table tt;
	struct err e = ERR_INIT;
	assert_int_equal(
	    parse("{\"version\":2,\"maxContainers\":1,\"maxContainer\":2,\"apps\":[]}", &tt, &e),
	    -1);
	assert_string_equal(e.msg,
	                    "maxContainer: unknown field (\"version\": 2 refuses unknown fields)");
	task_table_free(&tt);
	/* A metric source's own fields and the container's are known. */
	task_table_free(&tt);
	expect_ok(2,
	          "\"ruleType\":\"Queue\",\"metricType\":\"HTTP\",\"config\":{\"image\":\"i\","
	          "\"url\":\"http://x/\",\"valuePath\":\"n\",\"timeout\":\"2s\","
	          "\"targetQueueLength\":5}",
	          &tt);
	task_table_free(&tt);
	/* Version 1 (or none) keeps Go's leniency. */
	expect_ok(0, "\"polcy\":{},\"config\":{\"imagee\":\"x\"}", &tt);
	task_table_free(&tt);
}

static void test_versions_other_than_1_and_2_are_refused(void **state)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	assert_int_equal(parse("{\"version\":3,\"maxContainers\":1,\"apps\":[]}", &tt, &e), -1);
	assert_string_equal(e.msg, "version: 3 is newer than this microscaler reads (1 or 2)");
	task_table_free(&tt);
	assert_int_equal(parse("{\"version\":\"2\",\"maxContainers\":1,\"apps\":[]}", &tt, &e), -1);
	assert_string_equal(e.msg, "version: expected an integer, got string");
	task_table_free(&tt);
	assert_int_equal(parse("{\"version\":1,\"maxContainers\":1,\"apps\":[]}", &tt, &e), 0);
	task_table_free(&tt);
}

static void test_threshold_rule_parses_and_checks_its_bounds(void **state)
{
	struct task_table tt;
	struct task *t =
	    expect_ok(2,
	              "\"ruleType\":\"Threshold\",\"metricType\":\"Toy\",\"threshold\":{"
	              "\"upper\":100,\"lower\":20,\"upFor\":\"30s\",\"downFor\":\"2m\","
	              "\"upStep\":3,\"downStep\":2,\"cooldown\":\"1m\"}",
	              &tt);
	assert_int_equal(t->target.kind, TARGET_THRESHOLD);
	assert_true(t->target.th.upper == 100 && t->target.th.lower == 20);
	assert_int_equal(t->target.th.up_for_ms, 30000);
	assert_int_equal(t->target.th.down_for_ms, 120000);
	assert_int_equal(t->target.th.up_step, 3);
	assert_int_equal(t->target.th.down_step, 2);
	assert_int_equal(t->target.th.cooldown_ms, 60000);
	assert_string_equal(t->metric->ops->type, "Toy");
	task_table_free(&tt);
	expect_error(2, "\"ruleType\":\"Threshold\",\"metricType\":\"Toy\"",
	             "apps[0].threshold: required for ruleType Threshold");
	expect_error(2, "\"ruleType\":\"Threshold\",\"threshold\":{\"upper\":1,\"lower\":0}",
	             "apps[0].metricType: required for ruleType Threshold");
	expect_error(
	    2, "\"ruleType\":\"Threshold\",\"metricType\":\"Toy\",\"threshold\":{\"upper\":1}",
	    "apps[0].threshold.lower: required");
	expect_error(2,
	             "\"ruleType\":\"Threshold\",\"metricType\":\"Toy\",\"threshold\":{\"upper\":1,"
	             "\"lower\":5}",
	             "apps[0].threshold.lower: 5 is above upper 1");
	expect_error(2,
	             "\"ruleType\":\"Threshold\",\"metricType\":\"Toy\",\"threshold\":{\"upper\":9,"
	             "\"lower\":5,\"upStep\":0}",
	             "apps[0].threshold.upStep: expected an integer from 1 to 1000000, got 0");
}

static void test_budget_in_cpus_and_memory_is_parsed_and_checked(void **state)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	assert_int_equal(
	    parse("{\"maxContainers\":10,\"maxCpus\":2,\"maxMemory\":\"1g\",\"apps\":[{"
	          "\"name\":\"a\",\"minContainers\":2,\"maxContainers\":5,\"config\":{"
	          "\"cpus\":0.5,\"memory\":\"256m\"}}]}",
	          &tt, &e),
	    0);
	assert_int_equal(tt.budget.nano_cpus, 2000000000LL);
	assert_int_equal(tt.budget.memory_bytes, 1LL << 30);
	assert_int_equal(tt.tasks[0]->spec.nano_cpus, 500000000LL);
	task_table_free(&tt);
	assert_int_equal(
	    parse("{\"maxContainers\":10,\"maxCpus\":0.5,\"apps\":[{\"name\":\"a\","
	          "\"minContainers\":2,\"maxContainers\":5,\"config\":{\"cpus\":0.5}}]}",
	          &tt, &e),
	    -1);
	assert_string_equal(e.msg, "maxCpus: 0.5 is less than minContainers x cpus summed (1)");
	task_table_free(&tt);
}

static void test_check_config_prints_what_it_read_of_policies(void **state)
{
	struct task_table tt;
	expect_ok(2,
	          "\"ruleType\":\"Threshold\",\"metricType\":\"Toy\",\"threshold\":{\"upper\":100,"
	          "\"lower\":20,\"upFor\":\"90s\",\"upStep\":2,\"cooldown\":\"1h\"},\"policy\":{"
	          "\"up\":{\"cooldown\":\"30s\",\"maxStep\":4},\"down\":{\"window\":\"500ms\","
	          "\"maxStepPercent\":25},\"maxAge\":\"10s\",\"onMissing\":{\"fallback\":2},"
	          "\"schedule\":[{\"days\":\"mon-fri\",\"from\":\"08:00\",\"to\":\"18:30\","
	          "\"min\":4}]}",
	          &tt);
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	config_print_table(&tt, out);
	fclose(out);
	assert_non_null(strstr(buf, "threshold w: above 100 for 1m30s +2, below 20 for 0s -1, "
	                            "cooldown 1h\n"));
	assert_non_null(strstr(buf,
	                       "policy w: up(window 0s cooldown 30s maxStep 4) down(window "
	                       "500ms cooldown 0s maxStep 25%) maxAge 10s onMissing fallback 2 "
	                       "schedule mon,tue,wed,thu,fri 08:00-18:30 min 4\n"));
	free(buf);
	task_table_free(&tt);
}

/* ---- the Threshold rule ---- */

static struct target threshold(double upper, double lower, uint32_t up_for, uint32_t down_for,
                               int up_step, int down_step, uint32_t cooldown)
{
	struct threshold th = {.upper = upper,
	                       .lower = lower,
	                       .up_for_ms = up_for,
	                       .down_for_ms = down_for,
	                       .up_step = up_step,
	                       .down_step = down_step,
	                       .cooldown_ms = cooldown};
	struct target t;
	target_init_threshold(&t, &th);
	return t;
}

static void test_threshold_steps_up_after_the_metric_stays_above_for_the_period(void **state)
{
	struct target t = threshold(100, 20, 3000, 0, 2, 1, 10000);
	struct want w;
	target_want_at(&t, 150, 4, NOW, &w);
	assert_int_equal(w.ideal, 4);
	assert_false(w.may_grow); /* above, but not for 3 s yet */
	target_want_at(&t, 150, 4, NOW + 2000, &w);
	assert_false(w.may_grow);
	target_want_at(&t, 90, 4, NOW + 2500, &w); /* dipped: the period starts again */
	target_want_at(&t, 150, 4, NOW + 3000, &w);
	target_want_at(&t, 150, 4, NOW + 5999, &w);
	assert_false(w.may_grow);
	target_want_at(&t, 150, 4, NOW + 6000, &w);
	assert_true(w.may_grow);
	assert_int_equal(w.ideal, 6);
	assert_string_equal(w.why, "metric above the upper threshold");
}

static void test_threshold_step_stands_through_its_cooldown(void **state)
{
	struct target t = threshold(100, 20, 0, 0, 2, 1, 10000);
	struct want w;
	target_want_at(&t, 150, 4, NOW, &w);
	assert_int_equal(w.ideal, 6);
	/* The budget held the step back: the goal stands during the cooldown. */
	target_want_at(&t, 150, 4, NOW + 5000, &w);
	assert_int_equal(w.ideal, 6);
	assert_true(w.may_grow);
	target_want_at(&t, 150, 6, NOW + 6000, &w); /* reached: no more in this cooldown */
	assert_false(w.may_grow);
	assert_int_equal(w.ideal, 6);
	target_want_at(&t, 150, 6, NOW + 10000, &w); /* cooldown over, still above: next step */
	assert_int_equal(w.ideal, 8);
}

static void test_threshold_steps_down_below_the_lower_bound_and_holds_between(void **state)
{
	struct target t = threshold(100, 20, 0, 2000, 1, 3, 0);
	struct want w;
	target_want_at(&t, 50, 5, NOW, &w);
	assert_false(w.may_grow || w.may_shrink);
	assert_int_equal(w.ideal, 5);
	assert_string_equal(w.why, "threshold: waiting");
	target_want_at(&t, 10, 5, NOW + 100, &w);
	assert_false(w.may_shrink);
	target_want_at(&t, 10, 5, NOW + 2100, &w);
	assert_true(w.may_shrink);
	assert_int_equal(w.ideal, 2);
	/* Exactly at a bound is inside the band. */
	struct target b = threshold(100, 20, 0, 0, 1, 1, 0);
	target_want_at(&b, 100, 5, NOW, &w);
	assert_false(w.may_grow);
	target_want_at(&b, 20, 5, NOW + 1, &w);
	assert_false(w.may_shrink);
}

static void test_threshold_forgets_its_period_while_the_metric_is_missing(void **state)
{
	struct target t = threshold(100, 20, 3000, 0, 1, 1, 0);
	struct want w;
	target_want_at(&t, 150, 4, NOW, &w);
	target_forget(&t); /* a stale reading for a while */
	target_want_at(&t, 150, 4, NOW + 60000, &w);
	assert_false(w.may_grow); /* the unwatched minute does not count */
	target_want_at(&t, 150, 4, NOW + 63000, &w);
	assert_true(w.may_grow);
}

/* ---- schedule floors ---- */

static struct policy weekday_floor(int from, int to, int min, uint8_t days)
{
	struct policy p = {0};
	p.schedule[0] = (struct schedule_window){days, (uint16_t)from, (uint16_t)to, min};
	p.schedule_len = 1;
	return p;
}

static void test_schedule_floor_is_in_force_only_inside_its_window(void **state)
{
	struct policy p = weekday_floor(8 * 60, 18 * 60, 4, 0x1f); /* mon-fri 08:00-18:00 */
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(0, 7, 59)), 0);
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(0, 8, 0)), 4);
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(4, 17, 59)), 4);
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(4, 18, 0)), 0);
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(5, 12, 0)), 0); /* saturday */
	assert_int_equal(decide_schedule_floor(&p, DECIDE_NO_WALL), 0);
}

static void test_schedule_window_across_midnight_and_the_week_end(void **state)
{
	struct policy p = weekday_floor(22 * 60, 6 * 60, 2, 0x40); /* sunday 22:00 - 06:00 */
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(6, 21, 59)), 0);
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(6, 23, 0)), 2);
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(0, 5, 59)), 2); /* monday morning */
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(0, 6, 0)), 0);
	/* Overlapping windows: the highest floor wins. */
	p.schedule[1] = (struct schedule_window){0x7f, 0, 0, 1}; /* all day, every day */
	p.schedule_len = 2;
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(3, 12, 0)), 1);
	assert_int_equal(decide_schedule_floor(&p, WEEK_AT(6, 23, 0)), 2);
}

static void test_schedule_floor_raises_the_minimum_in_decide(void **state)
{
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *t = task_new("web");
	t->min = 1;
	t->max = 6;
	t->policy = weekday_floor(8 * 60, 18 * 60, 4, 0x1f);
	t->demand = t->requested = t->running = 1;
	t->want = (struct want){1, false, false, false, "test"};
	task_table_add(&tt, t);
	assert_int_equal(decide(&tt, NOW, WEEK_AT(0, 7, 0), &d), 0);
	assert_int_equal(t->demand, 1);
	assert_int_equal(decide(&tt, NOW, WEEK_AT(0, 8, 0), &d), 1);
	assert_int_equal(t->demand, 4);
	assert_string_equal(d.changes[0].reason, "below schedule floor 4");
	t->requested = t->running = 4;
	/* The window ends: the floor goes, and the want (hold) keeps 4 until it asks for less. */
	decision_reset(&d);
	assert_int_equal(decide(&tt, NOW + 1, WEEK_AT(0, 18, 0), &d), 0);
	assert_int_equal(task_min(t), 1);
	t->want = (struct want){1, false, true, false, "test"};
	assert_int_equal(decide(&tt, NOW + 2, WEEK_AT(0, 18, 1), &d), 1);
	assert_int_equal(t->demand, 1);
	/* A floor above max is held to max. */
	t->policy.schedule[0].min = 9;
	decide(&tt, NOW + 3, WEEK_AT(1, 9, 0), &d);
	assert_int_equal(task_min(t), 6);
	decision_free(&d);
	task_table_free(&tt);
}

/* ---- missing metric, end to end through decide_want_local ---- */

static void test_a_metric_source_down_holds_and_never_scales_to_zero(void **state)
{
	struct task_table tt;
	struct decision d;
	task_table_init(&tt);
	decision_init(&d);
	tt.budget.containers = 10;
	struct task *t = task_new("q");
	t->min = 0;
	t->max = 8;
	target_init_queue(&t->target, 10, NULL);
	t->policy.max_age_ms = 5000;
	t->demand = t->requested = t->running = 5;
	t->reading = (struct reading){200, true, NOW};
	task_table_add(&tt, t);
	/* The source stops answering: its last value ages out, and the task holds. */
	for (uint64_t now = NOW + 6000; now < NOW + 60000; now += 500) {
		decide_want_local(t, now);
		decision_reset(&d);
		decide(&tt, now, DECIDE_NO_WALL, &d);
		assert_int_equal(t->demand, 5);
	}
	assert_string_equal(t->want.why, "metric missing: holding");
	decision_free(&d);
	task_table_free(&tt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_policy_fields_parse_into_the_task),
	    cmocka_unit_test(test_no_policy_means_the_go_behaviour),
	    cmocka_unit_test(test_on_missing_takes_hold_min_or_a_fallback),
	    cmocka_unit_test(test_policy_errors_name_the_field),
	    cmocka_unit_test(test_schedule_windows_are_checked),
	    cmocka_unit_test(test_version_2_refuses_unknown_fields_everywhere),
	    cmocka_unit_test(test_versions_other_than_1_and_2_are_refused),
	    cmocka_unit_test(test_threshold_rule_parses_and_checks_its_bounds),
	    cmocka_unit_test(test_budget_in_cpus_and_memory_is_parsed_and_checked),
	    cmocka_unit_test(test_check_config_prints_what_it_read_of_policies),
	    cmocka_unit_test(test_threshold_steps_up_after_the_metric_stays_above_for_the_period),
	    cmocka_unit_test(test_threshold_step_stands_through_its_cooldown),
	    cmocka_unit_test(test_threshold_steps_down_below_the_lower_bound_and_holds_between),
	    cmocka_unit_test(test_threshold_forgets_its_period_while_the_metric_is_missing),
	    cmocka_unit_test(test_schedule_floor_is_in_force_only_inside_its_window),
	    cmocka_unit_test(test_schedule_window_across_midnight_and_the_week_end),
	    cmocka_unit_test(test_schedule_floor_raises_the_minimum_in_decide),
	    cmocka_unit_test(test_a_metric_source_down_holds_and_never_scales_to_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
