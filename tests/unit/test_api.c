/* The HTTP API without sockets: routing, methods, tokens, body checks, the JSON documents and
 * the control actions on a task table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/api.h"
#include "utils/log.h"

#define TOKEN "s3cret"

struct fx {
	struct task_table tt;
	struct telemetry tel;
	struct events events;
	struct api api;
	struct api_status st;
	int dry_run_calls;
	bool dry_run_last;
};

static void on_dry_run(void *arg, bool on)
{
	struct fx *f = arg;
	f->dry_run_calls++;
	f->dry_run_last = on;
	f->st.dry_run = on;
}

static struct task *add_task(struct task_table *tt, const char *name, int prio, int min, int max)
{
	struct task *t = task_new(name);
	t->priority = prio;
	t->min = min;
	t->max = max;
	task_table_add(tt, t);
	return t;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	task_table_init(&f->tt);
	f->tt.budget.containers = 10;
	struct task *web = add_task(&f->tt, "web", 1, 1, 8);
	web->demand = 3;
	web->requested = 3;
	web->running = 2;
	web->pending_starts = 1;
	web->reading = (struct reading){.value = 120, .valid = true, .at_ms = 1000};
	add_task(&f->tt, "worker", 2, 0, 5);
	telemetry_init(&f->tel);
	events_init(&f->events);
	api_init(&f->api);
	f->api.tasks = &f->tt;
	f->api.tel = &f->tel;
	f->api.events = &f->events;
	f->api.token = TOKEN;
	f->api.set_dry_run = on_dry_run;
	f->api.arg = f;
	f->st = (struct api_status){.scheduler = "TOY",
	                            .engine = "LOCAL",
	                            .config_loaded = true,
	                            .backend_ready = true,
	                            .backend_reachable = true,
	                            .cpu_seconds = -1,
	                            .rss_bytes = -1,
	                            .open_fds = -1};
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	api_free(&f->api);
	events_free(&f->events);
	telemetry_free(&f->tel);
	task_table_free(&f->tt);
	free(f);
	return 0;
}

/* One whole request through api_precheck and api_handle, as the server does it. */
static struct api_response call(struct fx *f, enum api_method m, const char *path,
                                const char *query, const char *auth, const char *body)
{
	struct api_request rq = {
	    .method = m,
	    .path = path,
	    .query = query ? query : "",
	    .auth = auth,
	    .body = body,
	    .body_len = body ? strlen(body) : 0,
	    .content_length = body ? (long long)strlen(body) : -1,
	};
	struct api_response r;
	if (api_precheck(&f->api, &rq, &r) == 0)
		api_handle(&f->api, &rq, &f->st, 2000, 1700000000000ULL, &r);
	return r;
}

static cJSON *body_json(const struct api_response *r)
{
	cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
	assert_non_null(j);
	return j;
}

/* The answer's "error" mentions `needle`. */
static void assert_error(const struct api_response *r, int status, const char *needle)
{
	assert_int_equal(r->status, status);
	cJSON *j = body_json(r);
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	assert_true(cJSON_IsString(e));
	if (!strstr(e->valuestring, needle))
		fail_msg("error '%s' lacks '%s'", e->valuestring, needle);
	cJSON_Delete(j);
}

#define BEARER "Bearer " TOKEN

/* ---- routing --------------------------------------------------------------------------------- */

static void test_routes_the_documented_paths(void **state)
{
	char task[64];
	assert_int_equal(api_route("/", task, sizeof task), API_R_DASHBOARD);
	assert_int_equal(api_route("/metrics", task, sizeof task), API_R_METRICS);
	assert_int_equal(api_route("/healthz", task, sizeof task), API_R_HEALTHZ);
	assert_int_equal(api_route("/readyz", task, sizeof task), API_R_READYZ);
	assert_int_equal(api_route("/api/v1/tasks", task, sizeof task), API_R_TASKS);
	assert_int_equal(api_route("/api/v1/tasks/web-1.a_b", task, sizeof task), API_R_TASK);
	assert_string_equal(task, "web-1.a_b");
	assert_int_equal(api_route("/api/v1/events", task, sizeof task), API_R_EVENTS);
	assert_int_equal(api_route("/api/v1/history", task, sizeof task), API_R_HISTORY);
	assert_int_equal(api_route("/api/v1/pause", task, sizeof task), API_R_PAUSE);
	assert_int_equal(api_route("/api/v1/resume", task, sizeof task), API_R_RESUME);
	assert_int_equal(api_route("/api/v1/dry-run", task, sizeof task), API_R_DRY_RUN);
}

static void test_unknown_paths_and_impossible_task_names_are_not_routes(void **state)
{
	char task[64];
	char long_name[80];
	memset(long_name, 'a', sizeof long_name);
	snprintf(long_name, sizeof long_name, "/api/v1/tasks/%0*d", 64, 0);
	const char *bad[] = {"",
	                     "/metrics/",
	                     "/api/v1/tasks/",
	                     "/api/v1/tasks/a/b",
	                     "/api/v1/tasks/a b",
	                     "/api/v1/tasks/..%2f",
	                     "/api/v2/tasks",
	                     "/METRICS",
	                     long_name};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(api_route(bad[i], task, sizeof task), API_R_NONE);
	assert_int_equal(api_route(NULL, task, sizeof task), API_R_NONE);
}

static void test_unknown_path_is_404_naming_it(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_GET, "/nope", NULL, NULL, NULL);
	assert_error(&r, 404, "/nope");
	api_response_free(&r);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_POST, "/metrics", NULL, BEARER, NULL);
	assert_error(&r, 405, "GET, HEAD");
	assert_string_equal(r.allow, "GET, HEAD");
	api_response_free(&r);
	r = call(f, API_GET, "/api/v1/pause", NULL, NULL, NULL);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "POST");
	api_response_free(&r);
	r = call(f, API_DELETE, "/api/v1/tasks/web", NULL, BEARER, NULL);
	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, "GET, HEAD, PUT");
	api_response_free(&r);
	r = call(f, API_OTHER, "/", NULL, NULL, NULL);
	assert_int_equal(r.status, 405);
	api_response_free(&r);
}

static void test_query_values_are_found_by_exact_name(void **state)
{
	char v[32];
	assert_true(api_query_get("task=web&counts=1", "task", v, sizeof v));
	assert_string_equal(v, "web");
	assert_true(api_query_get("task=web&counts=1", "counts", v, sizeof v));
	assert_string_equal(v, "1");
	assert_true(api_query_get("flag", "flag", v, sizeof v));
	assert_string_equal(v, "");
	assert_false(api_query_get("tasks=web", "task", v, sizeof v));
	assert_false(api_query_get("", "task", v, sizeof v));
}

/* ---- tokens ---------------------------------------------------------------------------------- */

static void test_token_missing_is_401_wrong_is_403(void **state)
{
	const char *why;
	assert_int_equal(api_check_token(TOKEN, NULL, &why), 401);
	assert_int_equal(api_check_token(TOKEN, "", &why), 401);
	assert_int_equal(api_check_token(TOKEN, "Basic dXNlcjpwYXNz", &why), 401);
	assert_int_equal(api_check_token(TOKEN, "Bearer wrong", &why), 403);
	assert_string_equal(why, "wrong token");
	assert_int_equal(api_check_token(TOKEN, "Bearer " TOKEN "x", &why), 403);
	assert_int_equal(api_check_token(TOKEN, "Bearer s3cre", &why), 403);
	assert_int_equal(api_check_token(TOKEN, "Bearer ", &why), 403);
	assert_int_equal(api_check_token(TOKEN, "Bearer " TOKEN, &why), 0);
	assert_int_equal(api_check_token(TOKEN, "bearer  " TOKEN, &why), 0);
}

static void test_control_without_a_configured_token_is_disabled(void **state)
{
	struct fx *f = *state;
	f->api.token = "";
	struct api_response r = call(f, API_POST, "/api/v1/pause", NULL, "Bearer anything", NULL);
	assert_error(&r, 403, "MSS_HTTP_TOKEN");
	api_response_free(&r);
	assert_false(f->tt.tasks[0]->paused);
	/* Reading needs no token. */
	r = call(f, API_GET, "/api/v1/tasks", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	api_response_free(&r);
}

static void test_every_mutating_route_needs_the_token(void **state)
{
	struct fx *f = *state;
	static const struct {
		enum api_method m;
		const char *path;
	} routes[] = {{API_POST, "/api/v1/pause"},
	              {API_POST, "/api/v1/resume"},
	              {API_PUT, "/api/v1/tasks/web"},
	              {API_POST, "/api/v1/dry-run"}};
	for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
		struct api_response r = call(f, routes[i].m, routes[i].path, NULL, NULL, "{}");
		assert_int_equal(r.status, 401);
		assert_true(r.auth_challenge);
		api_response_free(&r);
		r = call(f, routes[i].m, routes[i].path, NULL, "Bearer nope", "{}");
		assert_int_equal(r.status, 403);
		api_response_free(&r);
	}
	assert_false(f->tt.tasks[0]->paused);
	assert_int_equal(f->dry_run_calls, 0);
}

static void test_a_body_over_the_cap_is_413_and_closes(void **state)
{
	struct fx *f = *state;
	struct api_request rq = {.method = API_POST,
	                         .path = "/api/v1/pause",
	                         .query = "",
	                         .auth = BEARER,
	                         .content_length = API_MAX_BODY + 1};
	struct api_response r;
	assert_int_equal(api_precheck(&f->api, &rq, &r), 413);
	assert_true(r.close);
	api_response_free(&r);
	rq.content_length = API_MAX_BODY;
	assert_int_equal(api_precheck(&f->api, &rq, &r), 0);
}

/* ---- reading ----------------------------------------------------------------------------------
 */

static void test_tasks_json_has_counts_bounds_overrides_and_budget(void **state)
{
	struct fx *f = *state;
	f->tt.tasks[1]->override_max = 4;
	struct api_response r = call(f, API_GET, "/api/v1/tasks", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.content_type, "application/json");
	cJSON *j = body_json(&r);
	assert_string_equal(cJSON_GetObjectItem(j, "scheduler")->valuestring, "TOY");
	const cJSON *b = cJSON_GetObjectItem(j, "budget");
	assert_int_equal(cJSON_GetObjectItem(b, "containers")->valueint, 10);
	assert_int_equal(cJSON_GetObjectItem(b, "used")->valueint, 3);
	const cJSON *tasks = cJSON_GetObjectItem(j, "tasks");
	assert_int_equal(cJSON_GetArraySize(tasks), 2);
	const cJSON *web = cJSON_GetArrayItem(tasks, 0);
	assert_string_equal(cJSON_GetObjectItem(web, "name")->valuestring, "web");
	assert_int_equal(cJSON_GetObjectItem(web, "demand")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(web, "running")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(web, "pending_starts")->valueint, 1);
	const cJSON *m = cJSON_GetObjectItem(web, "metric");
	assert_int_equal(cJSON_GetObjectItem(m, "value")->valueint, 120);
	assert_float_equal(cJSON_GetObjectItem(m, "age_s")->valuedouble, 1.0, 1e-9);
	const cJSON *worker = cJSON_GetArrayItem(tasks, 1);
	assert_int_equal(cJSON_GetObjectItem(worker, "max")->valueint, 4);
	const cJSON *ov = cJSON_GetObjectItem(worker, "overrides");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(ov, "min")));
	assert_int_equal(cJSON_GetObjectItem(ov, "max")->valueint, 4);
	assert_true(
	    cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(worker, "metric"), "value")));
	cJSON_Delete(j);
	api_response_free(&r);
}

static void test_one_task_by_name_or_404(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_GET, "/api/v1/tasks/worker", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	cJSON *j = body_json(&r);
	assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "worker");
	cJSON_Delete(j);
	api_response_free(&r);
	r = call(f, API_GET, "/api/v1/tasks/nosuch", NULL, NULL, NULL);
	assert_error(&r, 404, "nosuch");
	api_response_free(&r);
}

static void test_readyz_names_what_is_missing(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_GET, "/readyz", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	api_response_free(&r);
	static const struct {
		size_t off;
		bool value;
		const char *why;
	} cases[] = {
	    {offsetof(struct api_status, config_loaded), false, "config server"},
	    {offsetof(struct api_status, backend_ready), false, "first view"},
	    {offsetof(struct api_status, backend_reachable), false, "does not answer"},
	    {offsetof(struct api_status, draining), true, "shutting down"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct api_status saved = f->st;
		*(bool *)((char *)&f->st + cases[i].off) = cases[i].value;
		r = call(f, API_GET, "/readyz", NULL, NULL, NULL);
		assert_int_equal(r.status, 503);
		cJSON *j = body_json(&r);
		assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "ready")));
		assert_non_null(
		    strstr(cJSON_GetObjectItem(j, "reason")->valuestring, cases[i].why));
		cJSON_Delete(j);
		api_response_free(&r);
		f->st = saved;
	}
	r = call(f, API_GET, "/healthz", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	api_response_free(&r);
}

static void test_metrics_and_dashboard_answer_with_their_types(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_GET, "/metrics", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "version=0.0.4"));
	assert_non_null(strstr(r.body, "microscaler_task_demand_containers{task=\"web\"} 3\n"));
	api_response_free(&r);
	r = call(f, API_HEAD, "/", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.content_type, "text/html"));
	assert_non_null(r.static_body);
	assert_int_equal(r.body_len, api_dashboard_html_len);
	assert_non_null(strstr(r.static_body, "<html"));
	assert_null(r.body);
}

static void test_events_route_asks_for_a_stream_with_or_without_counts(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_GET, "/api/v1/events", NULL, NULL, NULL);
	assert_int_equal(r.kind, API_STREAM);
	assert_false(r.stream_counts);
	r = call(f, API_GET, "/api/v1/events", "counts=1", NULL, NULL);
	assert_true(r.stream_counts);
	r = call(f, API_GET, "/api/v1/events", "counts=false", NULL, NULL);
	assert_false(r.stream_counts);
}

/* ---- pause and resume ------------------------------------------------------------------------ */

static void test_pause_without_a_target_pauses_every_task_and_resume_undoes_it(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, NULL);
	assert_int_equal(r.status, 200);
	assert_true(f->tt.tasks[0]->paused && f->tt.tasks[1]->paused);
	cJSON *j = body_json(&r);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "paused")), 2);
	cJSON_Delete(j);
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/resume", NULL, BEARER, "{}");
	assert_int_equal(r.status, 200);
	assert_false(f->tt.tasks[0]->paused || f->tt.tasks[1]->paused);
	api_response_free(&r);
	/* Each action is an event on the stream. */
	assert_int_equal(events_last(&f->events), 2);
	bool lost;
	const struct event *ev = events_next(&f->events, 0, &lost);
	assert_non_null(strstr(ev->json, "\"type\":\"control\""));
	assert_non_null(strstr(ev->json, "\"action\":\"pause\""));
	assert_non_null(strstr(ev->json, "\"task\":\"*\""));
}

static void test_pause_one_task_by_query_or_body(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_POST, "/api/v1/pause", "task=worker", BEARER, NULL);
	assert_int_equal(r.status, 200);
	assert_false(f->tt.tasks[0]->paused);
	assert_true(f->tt.tasks[1]->paused);
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, " {\"task\": \"web\"}\n");
	assert_int_equal(r.status, 200);
	assert_true(f->tt.tasks[0]->paused);
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/resume", "task=web", BEARER, "{\"task\":\"web\"}");
	assert_int_equal(r.status, 200);
	assert_false(f->tt.tasks[0]->paused);
	assert_true(f->tt.tasks[1]->paused);
	api_response_free(&r);
}

static void test_pause_refuses_bad_targets_and_bodies(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_POST, "/api/v1/pause", "task=nosuch", BEARER, NULL);
	assert_error(&r, 404, "nosuch");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/pause", "task=web", BEARER, "{\"task\":\"worker\"}");
	assert_error(&r, 400, "query says 'web'");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, "{\"task\":3}");
	assert_error(&r, 400, "task:");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, "{\"tasks\":\"web\"}");
	assert_error(&r, 400, "unknown field 'tasks'");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, "{\"task\":");
	assert_error(&r, 400, "invalid JSON at byte");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, "[\"web\"]");
	assert_error(&r, 400, "must be a JSON object");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, "{} trailing");
	assert_error(&r, 400, "invalid JSON at byte 3");
	api_response_free(&r);
	assert_false(f->tt.tasks[0]->paused || f->tt.tasks[1]->paused);
	assert_int_equal(events_last(&f->events), 0);
}

static void test_control_while_draining_is_409(void **state)
{
	struct fx *f = *state;
	f->st.draining = true;
	struct api_response r = call(f, API_POST, "/api/v1/pause", NULL, BEARER, NULL);
	assert_error(&r, 409, "shutting down");
	api_response_free(&r);
	r = call(f, API_PUT, "/api/v1/tasks/web", NULL, BEARER, "{\"min\":2}");
	assert_int_equal(r.status, 409);
	api_response_free(&r);
	assert_int_equal(f->tt.tasks[0]->override_min, -1);
}

/* ---- overrides ------------------------------------------------------------------------------- */

static void test_override_min_and_max_then_clear_with_null(void **state)
{
	struct fx *f = *state;
	struct task *web = f->tt.tasks[0];
	struct api_response r =
	    call(f, API_PUT, "/api/v1/tasks/web", NULL, BEARER, "{\"min\":2,\"max\":6}");
	assert_int_equal(r.status, 200);
	assert_int_equal(web->override_min, 2);
	assert_int_equal(web->override_max, 6);
	assert_int_equal(task_min(web), 2);
	assert_int_equal(task_max(web), 6);
	cJSON *j = body_json(&r);
	assert_int_equal(cJSON_GetObjectItem(j, "min")->valueint, 2);
	cJSON_Delete(j);
	api_response_free(&r);
	r = call(f, API_PUT, "/api/v1/tasks/web", NULL, BEARER, "{\"max\":null}");
	assert_int_equal(r.status, 200);
	assert_int_equal(web->override_min, 2);
	assert_int_equal(web->override_max, -1);
	api_response_free(&r);
	r = call(f, API_PUT, "/api/v1/tasks/web", NULL, BEARER, "{\"min\":null}");
	assert_int_equal(web->override_min, -1);
	assert_int_equal(task_min(web), 1);
	api_response_free(&r);
}

static void test_override_demand_pins_min_and_max(void **state)
{
	struct fx *f = *state;
	struct task *w = f->tt.tasks[1];
	struct api_response r =
	    call(f, API_PUT, "/api/v1/tasks/worker", NULL, BEARER, "{\"demand\":3}");
	assert_int_equal(r.status, 200);
	assert_int_equal(task_min(w), 3);
	assert_int_equal(task_max(w), 3);
	cJSON *j = body_json(&r);
	assert_int_equal(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "overrides"), "demand")->valueint, 3);
	cJSON_Delete(j);
	api_response_free(&r);
	r = call(f, API_PUT, "/api/v1/tasks/worker", NULL, BEARER, "{\"demand\":null}");
	assert_int_equal(r.status, 200);
	assert_int_equal(task_min(w), 0);
	assert_int_equal(task_max(w), 5);
	api_response_free(&r);
}

static void test_override_refuses_bad_values_naming_the_field(void **state)
{
	struct fx *f = *state;
	static const struct {
		const char *body, *needle;
	} bad[] = {
	    {"{\"min\":1.5}", "min: expected a whole number"},
	    {"{\"max\":\"3\"}", "max: expected a whole number"},
	    {"{\"demand\":-1}", "demand: expected a whole number"},
	    {"{\"demand\":true}", "demand: expected"},
	    {"{\"min\":1000001}", "from 0 to 1000000"},
	    {"{\"min\":7,\"max\":2}", "min 7 would be above max 2"},
	    {"{\"min\":9}", "min 9 would be above max 8"},
	    {"{\"demand\":2,\"min\":1}", "either demand or min/max"},
	    {"{}", "nothing to change"},
	    {"{\"replicas\":2}", "unknown field 'replicas'"},
	    {"", "a JSON object with min, max or demand"},
	    {"{\"min\":", "invalid JSON"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct api_response r =
		    call(f, API_PUT, "/api/v1/tasks/web", NULL, BEARER, bad[i].body);
		assert_error(&r, 400, bad[i].needle);
		api_response_free(&r);
	}
	assert_int_equal(f->tt.tasks[0]->override_min, -1);
	assert_int_equal(f->tt.tasks[0]->override_max, -1);
	struct api_response r =
	    call(f, API_PUT, "/api/v1/tasks/nosuch", NULL, BEARER, "{\"min\":1}");
	assert_error(&r, 404, "nosuch");
	api_response_free(&r);
}

/* ---- dry-run --------------------------------------------------------------------------------- */

static void test_dry_run_switches_through_the_hook(void **state)
{
	struct fx *f = *state;
	struct api_response r =
	    call(f, API_POST, "/api/v1/dry-run", NULL, BEARER, "{\"enabled\":true}");
	assert_int_equal(r.status, 200);
	assert_int_equal(f->dry_run_calls, 1);
	assert_true(f->dry_run_last);
	cJSON *j = body_json(&r);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "dry_run")));
	cJSON_Delete(j);
	api_response_free(&r);
	/* The same state again changes nothing. */
	r = call(f, API_POST, "/api/v1/dry-run", "enabled=on", BEARER, NULL);
	assert_int_equal(f->dry_run_calls, 1);
	api_response_free(&r);
	r = call(f, API_GET, "/api/v1/dry-run", NULL, NULL, NULL);
	assert_int_equal(r.status, 200);
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/dry-run", "enabled=false", BEARER, NULL);
	assert_int_equal(f->dry_run_calls, 2);
	assert_false(f->dry_run_last);
	api_response_free(&r);
}

static void test_dry_run_refuses_a_missing_or_bad_value(void **state)
{
	struct fx *f = *state;
	struct api_response r = call(f, API_POST, "/api/v1/dry-run", NULL, BEARER, NULL);
	assert_error(&r, 400, "enabled");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/dry-run", "enabled=maybe", BEARER, NULL);
	assert_error(&r, 400, "maybe");
	api_response_free(&r);
	r = call(f, API_POST, "/api/v1/dry-run", NULL, BEARER, "{\"enabled\":\"yes\"}");
	assert_error(&r, 400, "enabled: expected true or false");
	api_response_free(&r);
	assert_int_equal(f->dry_run_calls, 0);
}

/* ---- the dashboard's documents --------------------------------------------------------------- */

static void test_counts_and_history_json(void **state)
{
	struct fx *f = *state;
	char *s = api_counts_json(&f->tt, true, 1700000000000ULL);
	cJSON *j = cJSON_Parse(s);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "dry_run")));
	const cJSON *web = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tasks"), 0);
	assert_int_equal(cJSON_GetObjectItem(web, "requested")->valueint, 3);
	cJSON_Delete(j);
	free(s);

	api_sample(&f->api, 1700000000000ULL);
	f->tt.tasks[0]->running = 3;
	api_sample(&f->api, 1700000002000ULL);
	struct api_response r = call(f, API_GET, "/api/v1/history", NULL, NULL, NULL);
	j = body_json(&r);
	assert_int_equal(cJSON_GetObjectItem(j, "window_s")->valueint, 900);
	const cJSON *pts =
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "tasks"), 0), "points");
	assert_int_equal(cJSON_GetArraySize(pts), 2);
	const cJSON *last = cJSON_GetArrayItem(pts, 1);
	assert_float_equal(cJSON_GetArrayItem(last, 0)->valuedouble, 1700000002000.0, 0.5);
	assert_int_equal(cJSON_GetArrayItem(last, 3)->valueint, 3);
	cJSON_Delete(j);
	api_response_free(&r);
}

int main(void)
{
	log_setup(LOG_FMT_LOGFMT, "", fopen("/dev/null", "w"));
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_routes_the_documented_paths),
	    T(test_unknown_paths_and_impossible_task_names_are_not_routes),
	    T(test_unknown_path_is_404_naming_it),
	    T(test_wrong_method_is_405_with_allow),
	    T(test_query_values_are_found_by_exact_name),
	    T(test_token_missing_is_401_wrong_is_403),
	    T(test_control_without_a_configured_token_is_disabled),
	    T(test_every_mutating_route_needs_the_token),
	    T(test_a_body_over_the_cap_is_413_and_closes),
	    T(test_tasks_json_has_counts_bounds_overrides_and_budget),
	    T(test_one_task_by_name_or_404),
	    T(test_readyz_names_what_is_missing),
	    T(test_metrics_and_dashboard_answer_with_their_types),
	    T(test_events_route_asks_for_a_stream_with_or_without_counts),
	    T(test_pause_without_a_target_pauses_every_task_and_resume_undoes_it),
	    T(test_pause_one_task_by_query_or_body),
	    T(test_pause_refuses_bad_targets_and_bodies),
	    T(test_control_while_draining_is_409),
	    T(test_override_min_and_max_then_clear_with_null),
	    T(test_override_demand_pins_min_and_max),
	    T(test_override_refuses_bad_values_naming_the_field),
	    T(test_dry_run_switches_through_the_hook),
	    T(test_dry_run_refuses_a_missing_or_bad_value),
	    T(test_counts_and_history_json),
	};
	return cmocka_run_group_tests_name("api", tests, NULL, NULL);
}
