/* The event ring (numbering, replay, readers that fall behind), container events from counter
 * changes, and the dashboard's change-point history. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/events.h"
#include "monitor/history.h"

#define T0 1700000000000ULL

static int woken;
static uint64_t woken_seq;

static void on_event(const struct event *ev, void *arg)
{
	woken++;
	woken_seq = ev->seq;
}

static void add_control(struct events *ev, int i)
{
	char why[32];
	snprintf(why, sizeof why, "n%d", i);
	events_control(ev, "*", "pause", why, T0 + (uint64_t)i);
}

static void test_scale_event_json_has_time_task_from_to_reason_result(void **state)
{
	struct events ev;
	events_init(&ev);
	ev.on_event = on_event;
	woken = 0;
	struct task *t = task_new("web");
	struct change c = {.task = t, .from = 2, .to = 5};
	snprintf(c.reason, sizeof c.reason, "queue 200 above target 50");
	const struct event *e = events_scale(&ev, &c, "requested", T0 + 123);
	assert_int_equal(e->seq, 1);
	assert_string_equal(
	    e->json, "{\"seq\":1,\"time\":\"2023-11-14T22:13:20.123Z\",\"type\":\"scale\","
	             "\"task\":\"web\",\"from\":2,\"to\":5,\"reason\":\"queue 200 above target "
	             "50\",\"result\":\"requested\"}");
	assert_int_equal(e->len, strlen(e->json));
	assert_int_equal(woken, 1);
	assert_int_equal(woken_seq, 1);
	task_free(t);
	events_free(&ev);
}

static void test_readers_follow_with_a_cursor_and_new_ones_get_the_last_100(void **state)
{
	struct events ev;
	events_init(&ev);
	bool lost;
	assert_null(events_next(&ev, 0, &lost));
	assert_int_equal(events_start_cursor(&ev, -1), 0);
	for (int i = 1; i <= 250; i++)
		add_control(&ev, i);
	assert_int_equal(events_last(&ev), 250);
	uint64_t cur = events_start_cursor(&ev, -1);
	assert_int_equal(cur, 150); /* the next one read is 151: the last 100 */
	const struct event *e = events_next(&ev, cur, &lost);
	assert_false(lost);
	assert_int_equal(e->seq, 151);
	assert_null(events_next(&ev, 250, &lost));
	/* SSE Last-Event-ID: resume right after it while it is kept. */
	assert_int_equal(events_start_cursor(&ev, 240), 240);
	assert_int_equal(events_start_cursor(&ev, 0), 0);
	assert_int_equal(events_start_cursor(&ev, 999), 150); /* from the future: ignored */
	events_free(&ev);
}

static void test_a_reader_a_whole_ring_behind_has_lost_events(void **state)
{
	struct events ev;
	events_init(&ev);
	for (int i = 1; i <= EVENTS_RING + 10; i++)
		add_control(&ev, i);
	bool lost;
	const struct event *e = events_next(&ev, 5, &lost);
	assert_true(lost);
	assert_int_equal(e->seq, 11); /* the oldest still kept */
	e = events_next(&ev, 10, &lost);
	assert_false(lost);
	assert_int_equal(e->seq, 11);
	assert_non_null(strstr(e->json, "\"reason\":\"n11\""));
	/* A Last-Event-ID that fell out of the ring starts like a new reader. */
	assert_int_equal(events_start_cursor(&ev, 3), EVENTS_RING + 10 - EVENTS_REPLAY);
	events_free(&ev);
}

static void test_container_counter_changes_become_events(void **state)
{
	struct events ev;
	events_init(&ev);
	struct task_table tt;
	task_table_init(&tt);
	struct task *web = task_new("web");
	task_table_add(&tt, web);
	web->running = 2;
	web->stats.started = 2;
	events_observe(&ev, &tt, T0); /* first sight: recorded only */
	assert_int_equal(events_last(&ev), 0);
	web->stats.started = 5;
	web->running = 4;
	web->stats.crashed = 1;
	web->stats.start_errors = 1;
	events_observe(&ev, &tt, T0 + 500);
	assert_int_equal(events_last(&ev), 3);
	bool lost;
	const struct event *e = events_next(&ev, 0, &lost);
	assert_non_null(strstr(e->json,
	                       "\"type\":\"container\",\"task\":\"web\",\"action\":"
	                       "\"started\",\"count\":3,\"from\":2,\"to\":4,\"reason\":\"3 "
	                       "started\",\"result\":\"ok\""));
	e = events_next(&ev, 1, &lost);
	assert_non_null(strstr(e->json, "\"action\":\"crashed\""));
	assert_non_null(strstr(e->json, "\"result\":\"exited\""));
	e = events_next(&ev, 2, &lost);
	assert_non_null(strstr(e->json, "\"action\":\"start_failed\""));
	assert_non_null(strstr(e->json, "\"result\":\"error\""));
	events_observe(&ev, &tt, T0 + 1000); /* nothing moved */
	assert_int_equal(events_last(&ev), 3);
	/* A task that left the table is forgotten; one that comes back is new again. */
	task_table_remove(&tt, web);
	events_observe(&ev, &tt, T0 + 1500);
	assert_int_equal(ev.seen_len, 0);
	task_table_free(&tt);
	events_free(&ev);
}

static struct history_series const *series(const struct history *h, const char *name)
{
	const struct history_series *s = history_find(h, name);
	assert_non_null(s);
	return s;
}

static void test_history_keeps_change_points_at_most_one_a_second(void **state)
{
	struct history h;
	history_init(&h);
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = task_new("web");
	task_table_add(&tt, t);
	history_sample(&h, &tt, T0);
	history_sample(&h, &tt, T0 + 1000); /* no change: no point */
	assert_int_equal(series(&h, "web")->len, 1);
	t->demand = 3;
	history_sample(&h, &tt, T0 + 2000);
	t->requested = 3;
	history_sample(&h, &tt, T0 + 2400); /* within the second: folded into the last point */
	const struct history_series *s = series(&h, "web");
	assert_int_equal(s->len, 2);
	assert_int_equal(s->pts[1].wall_ms, T0 + 2000);
	assert_int_equal(s->pts[1].requested, 3);
	t->running = 3;
	history_sample(&h, &tt, T0 + 3000);
	assert_int_equal(series(&h, "web")->len, 3);
	task_table_free(&tt);
	history_free(&h);
}

static void test_history_drops_what_is_older_than_the_window_but_its_start(void **state)
{
	struct history h;
	history_init(&h);
	struct task_table tt;
	task_table_init(&tt);
	struct task *t = task_new("web");
	task_table_add(&tt, t);
	for (int i = 0; i < 100; i++) {
		t->demand = i % 7;
		history_sample(&h, &tt, T0 + (uint64_t)i * 20000); /* every 20 s for 33 minutes */
	}
	const struct history_series *s = series(&h, "web");
	uint64_t now = T0 + 99 * 20000;
	assert_true(s->pts[0].wall_ms <= now - HISTORY_WINDOW_MS);
	assert_true(s->pts[1].wall_ms > now - HISTORY_WINDOW_MS);
	assert_int_equal(s->pts[s->len - 1].wall_ms, now);
	assert_true(s->len <= HISTORY_WINDOW_MS / 20000 + 2);
	/* Tasks that leave the table leave the history. */
	task_table_remove(&tt, t);
	history_sample(&h, &tt, now + 1000);
	assert_null(history_find(&h, "web"));
	task_table_free(&tt);
	history_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_scale_event_json_has_time_task_from_to_reason_result),
	    cmocka_unit_test(test_readers_follow_with_a_cursor_and_new_ones_get_the_last_100),
	    cmocka_unit_test(test_a_reader_a_whole_ring_behind_has_lost_events),
	    cmocka_unit_test(test_container_counter_changes_become_events),
	    cmocka_unit_test(test_history_keeps_change_points_at_most_one_a_second),
	    cmocka_unit_test(test_history_drops_what_is_older_than_the_window_but_its_start),
	};
	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
