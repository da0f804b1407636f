/* Marathon backend pure parts: API URL, app ids, token header, apps list and 409 parsers, and the
 * deployment-lock retry timeline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "scheduler/marathon.h"

static void test_base_url_appends_v2_like_go_and_keeps_a_path_prefix(void **state)
{
	char b[256];
	struct err e = ERR_INIT;
	assert_int_equal(marathon_base_url("http://m:8080", b, sizeof b, &e), 0);
	assert_string_equal(b, "http://m:8080/v2/");
	assert_int_equal(marathon_base_url("https://dcos.example/service/marathon", b, sizeof b, &e),
			 0);
	assert_string_equal(b, "https://dcos.example/service/marathon/v2/");
	assert_int_equal(marathon_base_url("http://m:8080/service/marathon//", b, sizeof b, &e), 0);
	assert_string_equal(b, "http://m:8080/service/marathon/v2/"); /* no "//v2/" */
	assert_int_equal(marathon_base_url("http://m/", b, sizeof b, &e), 0);
	assert_string_equal(b, "http://m/v2/");
}

static void test_bad_api_urls_are_errors_naming_the_setting(void **state)
{
	const char *bad[] = {"", "m:8080", "ftp://m", "http://", "http:///x", "http://m/?a=b",
			     "http://m /x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char b[256];
		struct err e = ERR_INIT;
		assert_int_equal(marathon_base_url(bad[i], b, sizeof b, &e), -1);
		assert_non_null(strstr(e.msg, "MSS_MARATHON_API"));
	}
	char b[16];
	struct err e = ERR_INIT;
	assert_int_equal(marathon_base_url("http://a-very-long-host:8080", b, sizeof b, &e), -1);
	/* A password in the URL would be logged with it: refused, and not repeated. */
	char b2[256];
	struct err e2 = ERR_INIT;
	assert_int_equal(marathon_base_url("https://u:pw-XYZ@m:8080/marathon", b2, sizeof b2, &e2),
	                 -1);
	assert_non_null(strstr(e2.msg, "user info"));
	assert_null(strstr(e2.msg, "pw-XYZ"));
}

/* Every byte of the base URL goes into each request's URL: a control character (not only CR,
 * LF and tab) is refused. Found by the marathon fuzz target. */
static void test_api_url_with_a_control_character_is_an_error(void **state)
{
	const char *bad[] = {"http://m\x01:8080", "https://m/service\x10/marathon", "http://m/\x7f",
			     "http://m\x1b[31m/"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char b[256];
		struct err e = ERR_INIT;
		assert_int_equal(marathon_base_url(bad[i], b, sizeof b, &e), -1);
		assert_non_null(strstr(e.msg, "control characters"));
	}
}

static void test_app_ids_become_absolute_and_group_ids_are_kept(void **state)
{
	char id[64];
	struct err e = ERR_INIT;
	assert_int_equal(marathon_app_id("web", id, sizeof id, &e), 0);
	assert_string_equal(id, "/web");
	assert_int_equal(marathon_app_id("/web", id, sizeof id, &e), 0);
	assert_string_equal(id, "/web");
	assert_int_equal(marathon_app_id("grp/app", id, sizeof id, &e), 0);
	assert_string_equal(id, "/grp/app");
	assert_int_equal(marathon_app_id("/prod/grp/app-2.v1/", id, sizeof id, &e), 0);
	assert_string_equal(id, "/prod/grp/app-2.v1");
}

static void test_ids_marathon_would_refuse_are_errors(void **state)
{
	const char *bad[] = {"", "/", "Web", "web_1", "grp//app", "-web", "web-", "a b", "grp/-x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char id[64];
		struct err e = ERR_INIT;
		if (marathon_app_id(bad[i], id, sizeof id, &e) != -1)
			fail_msg("'%s' was accepted as '%s'", bad[i], id);
		assert_non_null(strstr(e.msg, "app id"));
	}
	char small[4];
	struct err e = ERR_INIT;
	assert_int_equal(marathon_app_id("abcdef", small, sizeof small, &e), -1);
}

static void test_token_is_sent_as_dcos_does_or_verbatim(void **state)
{
	char h[128];
	struct err e = ERR_INIT;
	assert_int_equal(marathon_token_header("eyJhbGc.x.y", h, sizeof h, &e), 0);
	assert_string_equal(h, "Authorization: token=eyJhbGc.x.y");
	assert_int_equal(marathon_token_header("token=abc", h, sizeof h, &e), 0);
	assert_string_equal(h, "Authorization: token=abc");
	assert_int_equal(marathon_token_header("Bearer abc", h, sizeof h, &e), 0);
	assert_string_equal(h, "Authorization: Bearer abc");
	assert_int_equal(marathon_token_header("a b", h, sizeof h, &e), -1);
	assert_non_null(strstr(e.msg, "MSS_MARATHON_TOKEN"));
	assert_int_equal(marathon_token_header("abc\r\nX-Evil: 1", h, sizeof h, &e), -1);
}

struct seen {
	struct marathon_app apps[8];
	int n;
};

static void collect(const struct marathon_app *a, void *arg)
{
	struct seen *s = arg;
	if (s->n < 8)
		s->apps[s->n++] = *a;
}

static void test_apps_list_gives_instances_and_task_counts(void **state)
{
	const char *body =
	    "{\"apps\":[{\"id\":\"/web\",\"instances\":5,\"tasksRunning\":3,\"tasksHealthy\":2,"
	    "\"tasksStaged\":2,\"tasksUnhealthy\":1,\"deployments\":[{\"id\":\"d1\"}]},"
	    "{\"id\":\"/grp/worker\",\"instances\":1},"     /* counts not embedded: 0 */
	    "{\"id\":\"/bad\",\"instances\":\"3\"},"        /* wrong type: skipped */
	    "{\"instances\":2},"                            /* no id: skipped */
	    "{\"id\":\"/neg\",\"instances\":2,\"tasksRunning\":-4}]}";
	struct seen s = {0};
	struct err e = ERR_INIT;
	assert_int_equal(marathon_parse_apps(body, strlen(body), collect, &s, &e), 3);
	assert_string_equal(s.apps[0].id, "/web");
	assert_int_equal(s.apps[0].instances, 5);
	assert_int_equal(s.apps[0].tasks_running, 3);
	assert_int_equal(s.apps[0].tasks_healthy, 2);
	assert_int_equal(s.apps[0].tasks_staged, 2);
	assert_int_equal(s.apps[0].deployments, 1);
	assert_string_equal(s.apps[1].id, "/grp/worker");
	assert_int_equal(s.apps[1].tasks_running, 0);
	assert_int_equal(s.apps[2].tasks_running, 0);
}

static void test_apps_list_that_is_not_one_is_an_error(void **state)
{
	const char *bad[] = {"", "[]", "{\"app\":{}}", "{\"apps\":{}}", "<html>"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct seen s = {0};
		struct err e = ERR_INIT;
		assert_int_equal(marathon_parse_apps(bad[i], strlen(bad[i]), collect, &s, &e), -1);
		assert_int_equal(s.n, 0);
	}
}

static void test_409_body_names_the_deployments_holding_the_lock(void **state)
{
	const char *body = "{\"message\":\"App is locked by one or more deployments. Override with "
			   "the option '?force=true'. View details at "
			   "'/v2/deployments/<DEPLOYMENT_ID>'.\",\"deployments\":[{\"id\":\"a1\"},"
			   "{\"id\":\"b2\"}]}";
	char ids[64];
	marathon_parse_locked(body, strlen(body), ids, sizeof ids);
	assert_string_equal(ids, "a1,b2");
	marathon_parse_locked("{}", 2, ids, sizeof ids);
	assert_string_equal(ids, "");
	marathon_parse_locked(body, strlen(body), ids, 4); /* too small: whole ids only */
	assert_string_equal(ids, "a1");
}

static void test_lock_backoff_is_gos_250ms_doubling_then_capped_at_5s(void **state)
{
	struct backoff b;
	marathon_lock_backoff_init(&b);
	const uint32_t want[] = {250, 500, 1000, 2000, 4000, 5000, 5000, 5000};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		assert_int_equal(backoff_next(&b), want[i]);
	backoff_reset(&b);
	assert_int_equal(backoff_next(&b), 250);
}

static void test_force_only_after_the_lock_lasted_force_after(void **state)
{
	assert_false(marathon_should_force(1000, 5000, 0));    /* off */
	assert_false(marathon_should_force(0, 5000, 1000));    /* not locked */
	assert_false(marathon_should_force(1000, 1999, 1000));
	assert_true(marathon_should_force(1000, 2000, 1000));
	assert_false(marathon_should_force(3000, 2000, 1000)); /* clock before the lock */
	/* The retry timeline with force after 1 s: 0, 250, 750 refused; the one at 1750 forces. */
	struct backoff b;
	marathon_lock_backoff_init(&b);
	uint64_t t = 10000, locked = t;
	int forced_at = -1;
	for (int i = 0; i < 5 && forced_at < 0; i++) {
		if (marathon_should_force(locked, t, 1000))
			forced_at = (int)(t - locked);
		t += backoff_next(&b);
	}
	assert_int_equal(forced_at, 1750);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_url_appends_v2_like_go_and_keeps_a_path_prefix),
	    cmocka_unit_test(test_bad_api_urls_are_errors_naming_the_setting),
	    cmocka_unit_test(test_api_url_with_a_control_character_is_an_error),
	    cmocka_unit_test(test_app_ids_become_absolute_and_group_ids_are_kept),
	    cmocka_unit_test(test_ids_marathon_would_refuse_are_errors),
	    cmocka_unit_test(test_token_is_sent_as_dcos_does_or_verbatim),
	    cmocka_unit_test(test_apps_list_gives_instances_and_task_counts),
	    cmocka_unit_test(test_apps_list_that_is_not_one_is_an_error),
	    cmocka_unit_test(test_409_body_names_the_deployments_holding_the_lock),
	    cmocka_unit_test(test_lock_backoff_is_gos_250ms_doubling_then_capped_at_5s),
	    cmocka_unit_test(test_force_only_after_the_lock_lasted_force_after),
	};
	return cmocka_run_group_tests_name("marathon", tests, NULL, NULL);
}
