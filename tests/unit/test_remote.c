/* The SERVER engine: demand frames of every bad kind, clamping through decide(), the rate limit
 * on complaints, the link-down fallback policies, and MSS_API_ADDRESS forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demand/engine.h"
#include "demand/engine_remote.h"
#include "utils/log.h"
#include "utils/settings.h"
#include "utils/ws.h"

/* ---- helpers ---- */

struct fixture {
	struct task_table tt;
	struct task *web, *worker;
};

static struct task *add(struct task_table *tt, const char *name, int prio, int min, int max)
{
	struct task *t = task_new(name);
	t->priority = prio;
	t->min = min;
	t->max = max;
	t->max_step = max - min;
	task_table_add(tt, t);
	return t;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	task_table_init(&f->tt);
	f->tt.budget.containers = 10;
	f->web = add(&f->tt, "web", 1, 1, 8);
	f->worker = add(&f->tt, "worker", 2, 0, 6);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	task_table_free(&f->tt);
	free(f);
	return 0;
}

static int parse(struct fixture *f, const char *json, struct remote_parse *p)
{
	return remote_parse_demand(json, strlen(json), &f->tt, p);
}

/* Every kind other than `kind` is zero; `kind` has `n`. */
static void only_bad(const struct remote_parse *p, enum remote_bad kind, int n)
{
	for (int k = 0; k < REMOTE_BAD_KINDS; k++)
		if (p->bad[k] != (k == (int)kind ? n : 0))
			fail_msg("kind %s: %d problems, want %d (detail '%s')",
			         remote_bad_name(k), p->bad[k], k == (int)kind ? n : 0, p->detail[k]);
}

static void no_bad(const struct remote_parse *p)
{
	for (int k = 0; k < REMOTE_BAD_KINDS; k++)
		if (p->bad[k])
			fail_msg("unexpected %s: %s", remote_bad_name(k), p->detail[k]);
}

/* ---- the parser ---- */

static void test_go_demand_frame_sets_each_named_task(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	/* microscaling-go.md Appendix A, with our task names. */
	assert_int_equal(parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5},"
	                          "{\"app\":\"worker\",\"demandCount\":2}]}}",
	                       &p),
	                 0);
	no_bad(&p);
	assert_int_equal(p.entries, 2);
	assert_int_equal(p.applied, 2);
	assert_int_equal(f->web->remote_demand, 5);
	assert_int_equal(f->worker->remote_demand, 2);
}

static void test_tasks_never_named_keep_no_remote_demand(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	assert_int_equal(f->web->remote_demand, -1); /* task_new */
	assert_int_equal(parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"worker\",\"demandCount\":3}]}}",
	                       &p),
	                 0);
	assert_int_equal(f->web->remote_demand, -1);
	assert_int_equal(f->worker->remote_demand, 3);
}

static void test_keys_match_case_insensitively_and_extra_keys_are_ignored(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	assert_int_equal(parse(f, "{\"Demand\":{\"TASKS\":[{\"App\":\"web\",\"DemandCount\":4,"
	                          "\"colour\":\"red\"}],\"x\":1},\"y\":[]}",
	                       &p),
	                 0);
	no_bad(&p);
	assert_int_equal(f->web->remote_demand, 4);
}

static void test_app_names_match_exactly(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	assert_int_equal(parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"WEB\",\"demandCount\":4}]}}", &p),
	                 0);
	only_bad(&p, REMOTE_BAD_UNKNOWN_APP, 1);
	assert_int_equal(f->web->remote_demand, -1);
}

static void test_a_task_named_twice_takes_the_last_count(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":4},"
	         "{\"app\":\"web\",\"demandCount\":2}]}}",
	      &p);
	assert_int_equal(f->web->remote_demand, 2);
	assert_int_equal(p.applied, 2);
}

static void test_invalid_json_ignores_the_whole_frame(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = {"", "   ", "garbage", "{\"demand\":", "{\"demand\":{\"tasks\":[}}",
	                     "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":3}]}} junk",
	                     "\xff\xfe{}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct remote_parse p;
		assert_int_equal(parse(f, bad[i], &p), -1);
		only_bad(&p, REMOTE_BAD_JSON, 1);
		assert_non_null(strstr(p.detail[REMOTE_BAD_JSON], "byte"));
	}
	assert_int_equal(f->web->remote_demand, -1);
}

static void test_a_frame_without_the_demand_shape_is_ignored_whole(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = {"[]", "3", "\"demand\"", "null", "{}", "{\"demand\":3}",
	                     "{\"demand\":null}", "{\"demand\":{}}", "{\"demand\":{\"tasks\":{}}}",
	                     "{\"demand\":{\"tasks\":\"web=3\"}}",
	                     /* the metrics frame echoed back */
	                     "{\"user\":\"u\",\"metrics\":{\"tasks\":[]}}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct remote_parse p;
		assert_int_equal(parse(f, bad[i], &p), -1);
		only_bad(&p, REMOTE_BAD_SHAPE, 1);
	}
}

static void test_an_empty_task_list_is_a_valid_frame(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	assert_int_equal(parse(f, "{\"demand\":{\"tasks\":[]}}", &p), 0);
	no_bad(&p);
	assert_int_equal(p.entries, 0);
}

static void test_bad_entries_are_skipped_and_the_others_applied(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	assert_int_equal(
	    parse(f,
	          "{\"demand\":{\"tasks\":["
	          "3,"                                           /* entry not an object */
	          "{\"app\":\"web\"},"                           /* missing demandCount */
	          "{\"demandCount\":2},"                         /* missing app */
	          "{\"app\":\"web\",\"demandCount\":null},"      /* null counts as missing */
	          "{\"app\":7,\"demandCount\":2},"               /* app not a string */
	          "{\"app\":\"web\",\"demandCount\":\"7\"},"     /* count a string */
	          "{\"app\":\"web\",\"demandCount\":true},"      /* count a bool */
	          "{\"app\":\"web\",\"demandCount\":[1]},"       /* count an array */
	          "{\"app\":\"web\",\"demandCount\":1.5},"       /* not an integer */
	          "{\"app\":\"web\",\"demandCount\":-1},"        /* negative */
	          "{\"app\":\"web\",\"demandCount\":1e300},"     /* huge */
	          "{\"app\":\"web\",\"demandCount\":1000001},"   /* above the ceiling */
	          "{\"app\":\"web\",\"demandCount\":99999999999999999999},"
	          "{\"app\":\"nope\",\"demandCount\":1},"        /* unknown app */
	          "{\"app\":\"worker\",\"demandCount\":4}"       /* the one good entry */
	          "]}}",
	          &p),
	    0);
	assert_int_equal(p.entries, 15);
	assert_int_equal(p.applied, 1);
	assert_int_equal(p.bad[REMOTE_BAD_ENTRY], 1);
	assert_int_equal(p.bad[REMOTE_BAD_MISSING], 3);
	assert_int_equal(p.bad[REMOTE_BAD_TYPE], 4);
	assert_int_equal(p.bad[REMOTE_BAD_NOT_INTEGER], 1);
	assert_int_equal(p.bad[REMOTE_BAD_RANGE], 4);
	assert_int_equal(p.bad[REMOTE_BAD_UNKNOWN_APP], 1);
	assert_int_equal(p.bad[REMOTE_BAD_JSON], 0);
	assert_int_equal(f->web->remote_demand, -1);
	assert_int_equal(f->worker->remote_demand, 4);
	/* The first problem of each kind is kept, naming the entry. */
	assert_string_equal(p.detail[REMOTE_BAD_ENTRY], "tasks[0]: expected an object, got number");
	assert_string_equal(p.detail[REMOTE_BAD_MISSING], "tasks[1]: no demandCount");
	assert_string_equal(p.detail[REMOTE_BAD_TYPE], "tasks[4].app: expected a string, got number");
	assert_string_equal(p.detail[REMOTE_BAD_NOT_INTEGER],
	                    "tasks[8].demandCount: expected an integer, got 1.5");
	assert_string_equal(p.detail[REMOTE_BAD_RANGE], "tasks[9].demandCount: -1 is outside 0..1000000");
	assert_string_equal(p.detail[REMOTE_BAD_UNKNOWN_APP], "tasks[13]: unknown app 'nope'");
}

static void test_zero_and_the_ceiling_are_accepted(void **state)
{
	struct fixture *f = *state;
	struct remote_parse p;
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":0},"
	         "{\"app\":\"worker\",\"demandCount\":1000000}]}}",
	      &p);
	no_bad(&p);
	assert_int_equal(f->web->remote_demand, 0);
	assert_int_equal(f->worker->remote_demand, 1000000);
}

static void test_frame_need_not_be_nul_terminated(void **state)
{
	struct fixture *f = *state;
	const char *s = "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":6}]}}XXXX";
	struct remote_parse p;
	assert_int_equal(remote_parse_demand(s, strlen(s) - 4, &f->tt, &p), 0);
	assert_int_equal(f->web->remote_demand, 6);
}

static void test_a_long_unknown_app_name_is_cut_in_the_detail(void **state)
{
	struct fixture *f = *state;
	char json[2048], name[1001];
	memset(name, 'x', 1000);
	name[1000] = '\0';
	snprintf(json, sizeof json, "{\"demand\":{\"tasks\":[{\"app\":\"%s\",\"demandCount\":1}]}}",
	         name);
	struct remote_parse p;
	parse(f, json, &p);
	only_bad(&p, REMOTE_BAD_UNKNOWN_APP, 1);
	assert_true(strlen(p.detail[REMOTE_BAD_UNKNOWN_APP]) < sizeof p.detail[0]);
}

/* Random bytes and mutations of a good frame: never a crash, never a demand out of range. */
static void test_random_frames_never_set_a_bad_demand(void **state)
{
	struct fixture *f = *state;
	const char *good = "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5},"
	                   "{\"app\":\"worker\",\"demandCount\":2}]}}";
	size_t n = strlen(good);
	char buf[256];
	uint64_t x = 0x2545F4914F6CDD1Dull;
	for (int round = 0; round < 20000; round++) {
		memcpy(buf, good, n);
		int flips = 1 + (int)(x % 4);
		for (int k = 0; k < flips; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[x % n] = (char)(x >> 24);
		}
		struct remote_parse p;
		remote_parse_demand(buf, n, &f->tt, &p);
		for (size_t i = 0; i < f->tt.len; i++) {
			int d = f->tt.tasks[i]->remote_demand;
			assert_true(d >= -1 && d <= REMOTE_MAX_COUNT);
		}
	}
}

/* ---- through decide() ---- */

static void steady(struct task *t, int n)
{
	t->demand = t->requested = t->running = n;
}

static int decide_remote(struct fixture *f, struct decision *d)
{
	for (size_t i = 0; i < f->tt.len; i++)
		remote_want(f->tt.tasks[i]);
	decision_reset(d);
	return (int)decide(&f->tt, 1000000, DECIDE_NO_WALL, d);
}

static void test_remote_demand_is_clamped_to_max_and_min(void **state)
{
	struct fixture *f = *state;
	struct decision d;
	decision_init(&d);
	steady(f->web, 2);
	steady(f->worker, 0);
	struct remote_parse p;
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":50},"
	         "{\"app\":\"worker\",\"demandCount\":0}]}}",
	      &p);
	decide_remote(f, &d);
	assert_int_equal(f->web->demand, 8); /* max */
	steady(f->web, 8);
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":0}]}}", &p);
	decide_remote(f, &d);
	assert_int_equal(f->web->demand, 1); /* min */
	assert_string_equal(d.changes[0].reason, "remote demand");
	decision_free(&d);
}

static void test_remote_demand_is_held_to_the_budget_by_priority(void **state)
{
	struct fixture *f = *state;
	struct decision d;
	decision_init(&d);
	steady(f->web, 1);
	steady(f->worker, 3);
	struct remote_parse p;
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":8},"
	         "{\"app\":\"worker\",\"demandCount\":6}]}}",
	      &p);
	decide_remote(f, &d);
	/* 6 free in a budget of 10: web (priority 1) takes them, and the server's demand being a
	 * decision by priority, it also takes 1 from the worker (priority 2), usable once gone. */
	assert_int_equal(f->web->demand, 7);
	assert_int_equal(f->worker->demand, 2);
	steady(f->worker, 2);
	decide_remote(f, &d);
	assert_int_equal(f->web->demand, 8);
	assert_int_equal(f->worker->demand, 2); /* wants 6, but nothing is free */
	steady(f->web, 8);
	/* The server lowers web: the worker grows into what web gives back, once it is gone. */
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":2}]}}", &p);
	decide_remote(f, &d);
	assert_int_equal(f->web->demand, 2);
	assert_int_equal(f->worker->demand, 2); /* web's 6 are still there until stopped */
	steady(f->web, 2);
	decide_remote(f, &d);
	assert_int_equal(f->worker->demand, 6);
	assert_true(f->web->demand + f->worker->demand <= 10);
	decision_free(&d);
}

static void test_unnamed_tasks_keep_their_demand(void **state)
{
	struct fixture *f = *state;
	struct decision d;
	decision_init(&d);
	steady(f->web, 3);
	steady(f->worker, 4);
	struct remote_parse p;
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5}]}}", &p);
	decide_remote(f, &d);
	assert_int_equal(f->web->demand, 5);
	assert_int_equal(f->worker->demand, 4);
	decision_free(&d);
}

static void test_remote_demand_applies_while_requests_are_in_flight(void **state)
{
	struct fixture *f = *state;
	struct decision d;
	decision_init(&d);
	f->web->demand = 4;
	f->web->requested = 4;
	f->web->running = 2;
	f->web->pending_starts = 2;
	struct remote_parse p;
	parse(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":2}]}}", &p);
	decide_remote(f, &d);
	assert_int_equal(f->web->demand, 2);
	decision_free(&d);
}

/* ---- the complaint rate limit ---- */

static void test_limiter_logs_one_line_per_kind_per_period_with_the_suppressed_count(void **state)
{
	struct remote_limiter l;
	memset(&l, 0, sizeof l);
	uint64_t sup = 99;
	assert_true(remote_limiter_allow(&l, REMOTE_BAD_JSON, 1, 5000, &sup));
	assert_int_equal(sup, 0);
	assert_false(remote_limiter_allow(&l, REMOTE_BAD_JSON, 1, 5001, &sup));
	assert_false(remote_limiter_allow(&l, REMOTE_BAD_JSON, 3, 14999, &sup));
	/* Other kinds have their own budget. */
	assert_true(remote_limiter_allow(&l, REMOTE_BAD_UNKNOWN_APP, 2, 6000, &sup));
	assert_int_equal(sup, 0);
	assert_true(remote_limiter_allow(&l, REMOTE_BAD_JSON, 1, 15000, &sup));
	assert_int_equal(sup, 4);
	assert_false(remote_limiter_allow(&l, REMOTE_BAD_JSON, 0, 99999, &sup));
	/* The unknown-app line reported 1 of 2: the other counts as suppressed next time. */
	assert_true(remote_limiter_allow(&l, REMOTE_BAD_UNKNOWN_APP, 1, 16000, &sup));
	assert_int_equal(sup, 1);
}

/* ---- the fallback rule ---- */

static void test_fallback_link_up_is_always_server(void **state)
{
	for (int pol = REMOTE_FALLBACK_HOLD; pol <= REMOTE_FALLBACK_LOCAL; pol++)
		assert_int_equal(remote_mode_for(pol, true, 0, 0, 999999), REMOTE_MODE_SERVER);
}

static void test_fallback_hold_holds_forever(void **state)
{
	assert_int_equal(remote_mode_for(REMOTE_FALLBACK_HOLD, false, 1000, 30000, 1000),
	                 REMOTE_MODE_HOLD);
	assert_int_equal(remote_mode_for(REMOTE_FALLBACK_HOLD, false, 1000, 0, 1000000000),
	                 REMOTE_MODE_HOLD);
}

static void test_fallback_min_and_local_wait_for_the_delay(void **state)
{
	for (int pol = REMOTE_FALLBACK_MIN; pol <= REMOTE_FALLBACK_LOCAL; pol++) {
		enum remote_mode late = pol == REMOTE_FALLBACK_MIN ? REMOTE_MODE_MIN
		                                                   : REMOTE_MODE_LOCAL;
		assert_int_equal(remote_mode_for(pol, false, 1000, 30000, 1000), REMOTE_MODE_HOLD);
		assert_int_equal(remote_mode_for(pol, false, 1000, 30000, 30999), REMOTE_MODE_HOLD);
		assert_int_equal(remote_mode_for(pol, false, 1000, 30000, 31000), late);
		assert_int_equal(remote_mode_for(pol, false, 1000, 0, 1000), late);
		/* A clock before the outage start (cannot happen) counts as no time. */
		assert_int_equal(remote_mode_for(pol, false, 5000, 10, 1000), REMOTE_MODE_HOLD);
	}
}

/* ---- the engine, without a loop (tasks have no metric source) ---- */

struct engine_fixture {
	struct task_table tt;
	struct task *web, *fill;
	struct settings s;
	struct engine *e;
	int demand_calls;
};

static void count_demand(struct engine *e, const struct decision *d)
{
	struct engine_fixture *f = e->core;
	f->demand_calls++;
}

static struct engine_fixture *engine_fixture(enum remote_fallback pol, unsigned after_ms)
{
	struct engine_fixture *f = calloc(1, sizeof *f);
	task_table_init(&f->tt);
	f->tt.budget.containers = 10;
	f->web = add(&f->tt, "web", 1, 1, 6);
	f->fill = add(&f->tt, "fill", 2, 0, 4);
	target_init_remainder(&f->fill->target, 4); /* the local engine wants 4 of it */
	steady(f->web, 3);
	steady(f->fill, 2);
	f->s.remote_fallback = pol;
	f->s.remote_fallback_after_ms = after_ms;
	struct err e = ERR_INIT;
	f->e = engine_new("SERVER", NULL, &f->tt, &f->s, &e);
	assert_non_null(f->e);
	f->e->on_demand = count_demand;
	f->e->core = f;
	assert_int_equal(f->e->ops->start(f->e, &e), 0);
	return f;
}

static void engine_fixture_free(struct engine_fixture *f)
{
	engine_free(f->e);
	task_table_free(&f->tt);
	free(f);
}

static void send_frame(struct engine_fixture *f, const char *json)
{
	f->e->ops->message(f->e, json, strlen(json));
}

static void test_engine_is_registered_as_server(void **state)
{
	struct err e = ERR_INIT;
	struct task_table tt;
	task_table_init(&tt);
	struct engine *x = engine_new("SERVER", NULL, &tt, NULL, &e);
	assert_non_null(x);
	assert_string_equal(x->ops->name, "SERVER");
	assert_non_null(x->ops->message);
	assert_non_null(x->ops->link);
	engine_free(x);
	assert_null(engine_new("REMOTE", NULL, &tt, NULL, &e)); /* settings maps the alias */
}

static void test_engine_applies_a_frame_at_once_and_wakes_the_scheduler(void **state)
{
	struct engine_fixture *f = engine_fixture(REMOTE_FALLBACK_HOLD, 0);
	f->e->ops->link(f->e, true);
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5}]}}");
	assert_int_equal(f->web->demand, 5);
	assert_int_equal(f->fill->demand, 2);
	assert_int_equal(f->demand_calls, 1);
	/* The same frame again changes nothing and wakes nobody. */
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5}]}}");
	assert_int_equal(f->demand_calls, 1);
	/* Malformed frames leave everything as it was. */
	send_frame(f, "{\"demand\":");
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":-5}]}}");
	assert_int_equal(f->web->demand, 5);
	assert_int_equal(f->demand_calls, 1);
	engine_fixture_free(f);
}

static void test_engine_hold_keeps_the_last_demand_while_down(void **state)
{
	struct engine_fixture *f = engine_fixture(REMOTE_FALLBACK_HOLD, 0);
	f->e->ops->link(f->e, true);
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5}]}}");
	steady(f->web, 5);
	f->e->ops->link(f->e, false);
	for (int i = 0; i < 5; i++)
		f->e->ops->tick(f->e, 2000000 + (uint64_t)i * 500);
	assert_int_equal(f->web->demand, 5);
	assert_int_equal(f->fill->demand, 2);
	engine_fixture_free(f);
}

static void test_engine_min_sends_every_task_to_its_min_then_waits_for_the_server(void **state)
{
	struct engine_fixture *f = engine_fixture(REMOTE_FALLBACK_MIN, 0);
	f->e->ops->link(f->e, true);
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5}]}}");
	steady(f->web, 5);
	f->e->ops->link(f->e, false);
	f->e->ops->tick(f->e, 1); /* any time: after_ms is 0 */
	assert_int_equal(f->web->demand, 1);
	assert_int_equal(f->fill->demand, 0);
	assert_int_equal(f->web->remote_demand, -1); /* the stale count is forgotten */
	steady(f->web, 1);
	steady(f->fill, 0);
	/* Link back: tasks keep what they have until the server names them. */
	f->e->ops->link(f->e, true);
	f->e->ops->tick(f->e, 2);
	assert_int_equal(f->web->demand, 1);
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":4}]}}");
	assert_int_equal(f->web->demand, 4);
	engine_fixture_free(f);
}

static void test_engine_local_runs_the_local_logic_until_the_link_returns(void **state)
{
	struct engine_fixture *f = engine_fixture(REMOTE_FALLBACK_LOCAL, 0);
	f->e->ops->link(f->e, true);
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"fill\",\"demandCount\":1}]}}");
	assert_int_equal(f->fill->demand, 1);
	steady(f->fill, 1);
	f->e->ops->link(f->e, false);
	f->e->ops->tick(f->e, 5);
	/* The remainder target wants its max: the local engine gives it 4. */
	assert_int_equal(f->fill->demand, 4);
	steady(f->fill, 4);
	f->e->ops->link(f->e, true);
	f->e->ops->tick(f->e, 6);
	assert_int_equal(f->fill->demand, 4); /* held until the server speaks */
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"fill\",\"demandCount\":0}]}}");
	assert_int_equal(f->fill->demand, 0);
	engine_fixture_free(f);
}

static void test_engine_before_the_first_link_holds_what_runs(void **state)
{
	struct engine_fixture *f = engine_fixture(REMOTE_FALLBACK_HOLD, 0);
	f->e->ops->tick(f->e, 10);
	assert_int_equal(f->web->demand, 3);
	assert_int_equal(f->fill->demand, 2);
	engine_fixture_free(f);
}

static void test_engine_ignores_frames_once_stopped(void **state)
{
	struct engine_fixture *f = engine_fixture(REMOTE_FALLBACK_HOLD, 0);
	f->e->ops->link(f->e, true);
	f->e->ops->stop(f->e);
	send_frame(f, "{\"demand\":{\"tasks\":[{\"app\":\"web\",\"demandCount\":5}]}}");
	f->e->ops->tick(f->e, 10);
	assert_int_equal(f->web->demand, 3);
	assert_int_equal(f->demand_calls, 0);
	engine_fixture_free(f);
}

/* ---- MSS_API_ADDRESS ---- */

static void url_ok(const char *in, bool tls, const char *host, int port, const char *path)
{
	struct ws_url u;
	struct err e = ERR_INIT;
	if (ws_parse_url(in, &u, &e) != 0)
		fail_msg("'%s' refused: %s", in, e.msg);
	assert_int_equal(u.tls, tls);
	assert_string_equal(u.host, host);
	assert_int_equal(u.port, port);
	assert_string_equal(u.path, path);
}

static void url_bad(const char *in, const char *needle)
{
	struct ws_url u;
	struct err e = ERR_INIT;
	if (ws_parse_url(in, &u, &e) == 0)
		fail_msg("'%s' accepted", in);
	if (!strstr(e.msg, needle))
		fail_msg("'%s': error '%s' lacks '%s'", in, e.msg, needle);
}

static void test_url_go_form_host_and_port_means_ws_root(void **state)
{
	url_ok("app.microscaling.com", false, "app.microscaling.com", 80, "/");
	url_ok("localhost:8000", false, "localhost", 8000, "/");
	url_ok("127.0.0.1:1", false, "127.0.0.1", 1, "/");
	url_ok("[::1]:8081", false, "::1", 8081, "/");
	url_ok("[::1]", false, "::1", 80, "/");
	/* Go prefixed "ws://", so a path after the host worked there too. */
	url_ok("api.example.com/agents", false, "api.example.com", 80, "/agents");
}

static void test_url_full_ws_and_wss_forms(void **state)
{
	url_ok("ws://h", false, "h", 80, "/");
	url_ok("wss://h", true, "h", 443, "/");
	url_ok("WSS://h:8443/v1/agents?team=a", true, "h", 8443, "/v1/agents?team=a");
	url_ok("ws://h:9/", false, "h", 9, "/");
	url_ok("ws://h?x=1", false, "h", 80, "/?x=1");
	url_ok("wss://[2001:db8::1]:443/ws", true, "2001:db8::1", 443, "/ws");
}

static void test_url_bad_forms_are_refused(void **state)
{
	url_bad("", "empty");
	url_bad("http://h", "scheme");
	url_bad("ftp://h/x", "scheme");
	url_bad("ws://", "no host");
	url_bad("ws://:80/", "no host");
	url_bad("h:0", "port");
	url_bad("h:65536", "port");
	url_bad("h:80x", "port");
	url_bad("h:", "port");
	url_bad("h: 80", "spaces");
	url_bad("ws://user:pw@h/", "user info");
	url_bad("ws://h/#frag", "fragment");
	url_bad("[::1", "unclosed");
	url_bad("[zz::1]:80", "IPv6");
	url_bad("[::1]x", "junk");
	url_bad("h\tx", "control");
	url_bad("h%41", "bad character");
}

static void test_url_hostport_for_headers(void **state)
{
	struct ws_url u;
	struct err e = ERR_INIT;
	char b[300];
	ws_parse_url("wss://h:443/x", &u, &e);
	ws_url_hostport(&u, b, sizeof b);
	assert_string_equal(b, "h");
	ws_parse_url("h:8081", &u, &e);
	ws_url_hostport(&u, b, sizeof b);
	assert_string_equal(b, "h:8081");
	ws_parse_url("[::1]:8081", &u, &e);
	ws_url_hostport(&u, b, sizeof b);
	assert_string_equal(b, "[::1]:8081");
}

int main(void)
{
	log_setup(LOG_FMT_LOGFMT, "", fopen("/dev/null", "w"));
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_go_demand_frame_sets_each_named_task, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tasks_never_named_keep_no_remote_demand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keys_match_case_insensitively_and_extra_keys_are_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_app_names_match_exactly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_task_named_twice_takes_the_last_count, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_invalid_json_ignores_the_whole_frame, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_frame_without_the_demand_shape_is_ignored_whole, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_an_empty_task_list_is_a_valid_frame, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_entries_are_skipped_and_the_others_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_zero_and_the_ceiling_are_accepted, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_frame_need_not_be_nul_terminated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_long_unknown_app_name_is_cut_in_the_detail, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_frames_never_set_a_bad_demand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_demand_is_clamped_to_max_and_min, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_demand_is_held_to_the_budget_by_priority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unnamed_tasks_keep_their_demand, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remote_demand_applies_while_requests_are_in_flight, setup, teardown),
	    cmocka_unit_test(test_limiter_logs_one_line_per_kind_per_period_with_the_suppressed_count),
	    cmocka_unit_test(test_fallback_link_up_is_always_server),
	    cmocka_unit_test(test_fallback_hold_holds_forever),
	    cmocka_unit_test(test_fallback_min_and_local_wait_for_the_delay),
	    cmocka_unit_test(test_engine_is_registered_as_server),
	    cmocka_unit_test(test_engine_applies_a_frame_at_once_and_wakes_the_scheduler),
	    cmocka_unit_test(test_engine_hold_keeps_the_last_demand_while_down),
	    cmocka_unit_test(test_engine_min_sends_every_task_to_its_min_then_waits_for_the_server),
	    cmocka_unit_test(test_engine_local_runs_the_local_logic_until_the_link_returns),
	    cmocka_unit_test(test_engine_before_the_first_link_holds_what_runs),
	    cmocka_unit_test(test_engine_ignores_frames_once_stopped),
	    cmocka_unit_test(test_url_go_form_host_and_port_means_ws_root),
	    cmocka_unit_test(test_url_full_ws_and_wss_forms),
	    cmocka_unit_test(test_url_bad_forms_are_refused),
	    cmocka_unit_test(test_url_hostport_for_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
