/* Monitors: the Go metrics frame byte for byte, MSS_MONITOR parsing, the terminal table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor.h"
#include "utils/settings.h"

static struct task *add(struct task_table *tt, const char *name, int prio, int running,
			int requested)
{
	struct task *t = task_new(name);
	t->priority = prio;
	t->running = running;
	t->requested = requested;
	task_table_add(tt, t);
	return t;
}

static void test_server_frame_matches_the_go_format(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct task *c = add(&tt, "consumer", 1, 3, 3);
	c->target.kind = TARGET_QUEUE;
	c->reading.valid = true;
	c->reading.value = 57;
	add(&tt, "remainder", 2, 2, 2);
	char *frame = monitor_server_frame(&tt, "alice", 1795413570123ull);
	/* microscaling-go.md §6, the verified payload. */
	assert_string_equal(frame,
			    "{\"user\":\"alice\",\"metrics\":{\"tasks\":[{\"app\":\"consumer\",\"runningCount\":3,"
			    "\"pendingCount\":3,\"metric\":57},{\"app\":\"remainder\",\"runningCount\":2,"
			    "\"pendingCount\":2}],\"createdAt\":1795413570}}");
	free(frame);
	task_table_free(&tt);
}

static void test_server_frame_lists_tasks_by_ascending_priority_stably(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	add(&tt, "low", 5, 0, 0);
	add(&tt, "high", 1, 0, 0);
	add(&tt, "mid-a", 3, 0, 0);
	add(&tt, "mid-b", 3, 0, 0);
	char *frame = monitor_server_frame(&tt, "u", 0);
	const char *h = strstr(frame, "\"high\""), *a = strstr(frame, "\"mid-a\""),
		   *b = strstr(frame, "\"mid-b\""), *l = strstr(frame, "\"low\"");
	assert_true(h && a && b && l);
	assert_true(h < a && a < b && b < l);
	free(frame);
	task_table_free(&tt);
}

static void test_server_frame_pending_count_is_requested_not_demand(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = add(&tt, "web", 1, 4, 7);
	t->demand = 9;
	char *frame = monitor_server_frame(&tt, "u", 0);
	assert_non_null(strstr(frame, "\"runningCount\":4,\"pendingCount\":7"));
	free(frame);
	task_table_free(&tt);
}

static void test_server_frame_rounds_metric_and_omits_zero(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = add(&tt, "web", 1, 0, 0);
	t->reading.valid = true;
	t->reading.value = 12.5;
	char *frame = monitor_server_frame(&tt, "u", 0);
	assert_non_null(strstr(frame, "\"metric\":13"));
	free(frame);
	t->reading.value = 0.4;
	frame = monitor_server_frame(&tt, "u", 0);
	assert_null(strstr(frame, "metric\""));
	free(frame);
	task_table_free(&tt);
}

static int sent;
static int fake_send(void *ctx, const char *frame, size_t len)
{
	sent++;
	return *(int *)ctx;
}

static void test_server_monitor_drops_and_counts_frames_while_link_is_down(void **state)
{
	struct task_table tt;
	task_table_init(&tt);
	struct monitor_list l;
	struct err e = ERR_INIT;
	assert_int_equal(monitor_list_new(&l, "SERVER", NULL, &e), 0);
	monitor_list_send(&l, &tt, 1, 0); /* no websocket attached yet */
	assert_int_equal(l.items[0]->dropped, 1);
	int result = -1;
	monitor_server_attach(l.items[0], fake_send, &result);
	monitor_list_send(&l, &tt, 2, 0);
	assert_int_equal(l.items[0]->dropped, 2);
	result = 0;
	monitor_list_send(&l, &tt, 3, 0);
	assert_int_equal(l.items[0]->dropped, 2);
	assert_int_equal(sent, 2);
	monitor_list_free(&l);
	task_table_free(&tt);
}

static void test_monitor_list_parses_names_and_none(void **state)
{
	struct monitor_list l;
	struct err e = ERR_INIT;
	assert_int_equal(monitor_list_new(&l, "none", NULL, &e), 0);
	assert_int_equal(l.len, 0);
	monitor_list_free(&l);
	assert_int_equal(monitor_list_new(&l, "SERVER,LOG, TABLE,LOG", NULL, &e), 0);
	assert_int_equal(l.len, 3);
	assert_true(monitor_list_has(&l, "SERVER"));
	assert_true(monitor_list_has(&l, "LOG"));
	assert_true(monitor_list_has(&l, "TABLE"));
	monitor_list_free(&l);
}

static void test_unknown_monitor_is_an_error_naming_it(void **state)
{
	struct monitor_list l;
	struct err e = ERR_INIT;
	assert_int_equal(monitor_list_new(&l, "LOG,GRAPHITE", NULL, &e), -1);
	assert_non_null(strstr(e.msg, "MSS_MONITOR"));
	assert_non_null(strstr(e.msg, "GRAPHITE"));
	assert_int_equal(l.len, 0);
}

static void test_table_shows_every_task_and_the_budget(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct task_table tt;
	task_table_init(&tt);
	tt.budget.containers = 10;
	struct task *t = add(&tt, "consumer", 1, 3, 4);
	t->demand = 4;
	t->pending_starts = 1;
	add(&tt, "remainder", 2, 5, 5)->demand = 5;
	struct monitor *m = monitor_table_new(out);
	m->ops->send(m, &tt, 0, 0);
	fclose(out);
	assert_non_null(strstr(buf, "budget 9/10"));
	assert_non_null(strstr(buf, "consumer"));
	assert_non_null(strstr(buf, "remainder"));
	m->ops->free(m);
	free(m);
	free(buf);
	task_table_free(&tt);
}

static void test_table_monitor_runs_once_a_second(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	struct task_table tt;
	task_table_init(&tt);
	struct monitor_list l = {0};
	l.items = malloc(sizeof *l.items);
	l.items[0] = monitor_table_new(out);
	l.len = 1;
	monitor_list_send(&l, &tt, 1000, 0);
	monitor_list_send(&l, &tt, 1500, 0);
	monitor_list_send(&l, &tt, 2000, 0);
	fclose(out);
	int blocks = 0;
	for (const char *p = buf; (p = strstr(p, "budget")); p++)
		blocks++;
	assert_int_equal(blocks, 2);
	monitor_list_free(&l);
	free(buf);
	task_table_free(&tt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_frame_matches_the_go_format),
		cmocka_unit_test(test_server_frame_lists_tasks_by_ascending_priority_stably),
		cmocka_unit_test(test_server_frame_pending_count_is_requested_not_demand),
		cmocka_unit_test(test_server_frame_rounds_metric_and_omits_zero),
		cmocka_unit_test(test_server_monitor_drops_and_counts_frames_while_link_is_down),
		cmocka_unit_test(test_monitor_list_parses_names_and_none),
		cmocka_unit_test(test_unknown_monitor_is_an_error_naming_it),
		cmocka_unit_test(test_table_shows_every_task_and_the_budget),
		cmocka_unit_test(test_table_monitor_runs_once_a_second),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
