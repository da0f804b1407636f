/* Docker backend parsers: DOCKER_HOST, version negotiation, ownership by label, list, events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <string.h>

#include "scheduler/docker.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_docker_host_forms_like_the_cli(void **state)
{
	struct docker_endpoint ep;
	struct err e = ERR_INIT;
	assert_int_equal(docker_parse_host(NULL, false, &ep, &e), 0);
	assert_string_equal(ep.socket_path, "/var/run/docker.sock");
	assert_string_equal(ep.base_url, "http://localhost");
	assert_int_equal(docker_parse_host("unix:///tmp/x/d.sock", false, &ep, &e), 0);
	assert_string_equal(ep.socket_path, "/tmp/x/d.sock");
	assert_int_equal(docker_parse_host("tcp://10.0.0.1:2375", false, &ep, &e), 0);
	assert_string_equal(ep.base_url, "http://10.0.0.1:2375");
	assert_string_equal(ep.socket_path, "");
	assert_int_equal(docker_parse_host("tcp://h:2376", true, &ep, &e), 0);
	assert_string_equal(ep.base_url, "https://h:2376");
	assert_true(ep.tls);
	assert_int_equal(docker_parse_host("h:2375", false, &ep, &e), 0); /* bare = tcp */
	assert_string_equal(ep.base_url, "http://h:2375");
	assert_int_equal(docker_parse_host("https://h:2376", false, &ep, &e), 0);
	assert_true(ep.tls);
}

static void test_bad_docker_host_is_an_error_naming_it(void **state)
{
	const char *bad[] = {"unix://relative/path", "ssh://user@host", "tcp://", "tcp://a b",
			     "ftp://x:1"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct docker_endpoint ep;
		struct err e = ERR_INIT;
		assert_int_equal(docker_parse_host(bad[i], false, &ep, &e), -1);
		assert_non_null(strstr(e.msg, "DOCKER_HOST"));
	}
	char longpath[300] = "unix:///";
	memset(longpath + 8, 'a', 200);
	struct docker_endpoint ep;
	struct err e = ERR_INIT;
	assert_int_equal(docker_parse_host(longpath, false, &ep, &e), -1);
}

static void test_versions_compare_numerically(void **state)
{
	assert_true(docker_version_cmp("1.41", "1.9") > 0);
	assert_true(docker_version_cmp("1.24", "1.41") < 0);
	assert_int_equal(docker_version_cmp("1.41", "1.41"), 0);
	assert_true(docker_version_cmp("2.0", "1.99") > 0);
	assert_true(docker_version_cmp("junk", "1.0") < 0);
}

static void test_negotiation_picks_the_lower_of_ours_and_the_engines(void **state)
{
	char v[16];
	struct err e = ERR_INIT;
	const char *old = "{\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}";
	assert_int_equal(docker_negotiate(old, strlen(old), v, sizeof v, &e), 0);
	assert_string_equal(v, "1.41");
	const char *new = "{\"ApiVersion\":\"1.99\",\"MinAPIVersion\":\"1.24\"}";
	assert_int_equal(docker_negotiate(new, strlen(new), v, sizeof v, &e), 0);
	assert_string_equal(v, DOCKER_API_MAX);
}

static void test_negotiation_refuses_an_engine_we_cannot_speak_to(void **state)
{
	char v[16];
	struct err e = ERR_INIT;
	const char *too_new = "{\"ApiVersion\":\"2.10\",\"MinAPIVersion\":\"2.0\"}";
	assert_int_equal(docker_negotiate(too_new, strlen(too_new), v, sizeof v, &e), -1);
	const char *too_old = "{\"ApiVersion\":\"1.12\"}";
	assert_int_equal(docker_negotiate(too_old, strlen(too_old), v, sizeof v, &e), -1);
	const char *junk[] = {"", "[]", "{\"ApiVersion\":5}", "not json", "{\"ApiVersion\":\"x\"}"};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		assert_int_equal(docker_negotiate(junk[i], strlen(junk[i]), v, sizeof v, &e), -1);
}

static bool ours(const char *labels_json, const char *owner, bool legacy, struct docker_seen *s)
{
	cJSON *l = cJSON_Parse(labels_json);
	bool r = docker_labels_ours(l, owner, legacy, s);
	cJSON_Delete(l);
	return r;
}

static void test_ownership_needs_our_owner_and_task_labels(void **state)
{
	struct docker_seen s;
	assert_true(ours("{\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"a\"}", "a",
			 false, &s));
	assert_string_equal(s.task, "web");
	assert_false(ours("{\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"b\"}", "a",
			  true, &s));
	assert_false(ours("{\"com.microscaling.task\":\"web\"}", "a", false, &s));
	assert_false(ours("{}", "a", true, &s));
	assert_false(ours("{\"com.microscaling.task\":5,\"com.microscaling.owner\":\"a\"}", "a",
			  false, &s));
	assert_false(ours("[]", "a", true, &s));
}

static void test_go_label_is_adopted_only_when_asked(void **state)
{
	struct docker_seen s;
	const char *go = "{\"com.microscaling.microscaling-in-a-box\":\"consumer\"}";
	assert_false(ours(go, "default", false, &s));
	assert_true(ours(go, "default", true, &s));
	assert_string_equal(s.task, "consumer");
	assert_true(s.legacy);
	/* Owned by another instance under our label: never adopted through the Go label. */
	assert_false(ours("{\"com.microscaling.microscaling-in-a-box\":\"c\","
			  "\"com.microscaling.owner\":\"other\"}", "default", true, &s));
}

static int listed;
static char listed_state[16];
static void on_seen(const struct docker_seen *c, void *arg)
{
	listed++;
	strcpy(listed_state, c->state);
}

static void test_list_keeps_only_our_containers_and_reads_state_not_status(void **state)
{
	const char *body =
		"[{\"Id\":\"" ID "\",\"State\":\"running\",\"Status\":\"Up 4 days\",\"Created\":5,"
		"\"Labels\":{\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"a\"}},"
		"{\"Id\":\"" ID "\",\"State\":\"running\",\"Labels\":{\"app\":\"theirs\"}},"
		"{\"Id\":\"" ID "\",\"State\":\"exited\",\"Labels\":null}]";
	struct err e = ERR_INIT;
	listed = 0;
	assert_int_equal(docker_parse_list(body, strlen(body), "a", false, on_seen, NULL, &e), 1);
	assert_int_equal(listed, 1);
	assert_string_equal(listed_state, "running");
}

/* Found by the fault proxy: a list of junk read as "none of ours" made every container look
 * vanished, and the agent started them all again beside the real ones. */
static void test_list_with_an_element_that_is_not_a_container_is_an_error(void **state)
{
	const char *ours = "{\"Id\":\"" ID "\",\"State\":\"running\",\"Labels\":{"
			   "\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"a\"}}";
	const char *junk[] = {"7", "null", "\"x\"", "[]", "{\"State\":\"running\"}",
			      "{\"Id\":5,\"State\":[],\"Labels\":\"x\"}", "{\"Id\":\"zz\"}",
			      "{\"Id\":\"short\",\"State\":\"running\"}",
			      "{\"Id\":\"" ID "\",\"State\":3}"};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
		char body[1024];
		snprintf(body, sizeof body, "[%s,%s]", ours, junk[i]);
		struct err e = ERR_INIT;
		listed = 0;
		assert_int_equal(docker_parse_list(body, strlen(body), "a", false, on_seen, NULL, &e),
				 -1);
		assert_int_equal(listed, 0); /* nothing reported from a reply that is not trusted */
		assert_non_null(strstr(e.msg, "not a container"));
	}
}

static void test_list_that_is_not_an_array_is_an_error(void **state)
{
	struct err e = ERR_INIT;
	const char *bad[] = {"{\"message\":\"boom\"}", "", "[", "null"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(docker_parse_list(bad[i], strlen(bad[i]), "a", false, on_seen, NULL,
						   &e), -1);
}

static void test_event_of_ours_is_parsed_with_its_exit_code(void **state)
{
	const char *line = "{\"status\":\"die\",\"id\":\"" ID "\",\"Type\":\"container\","
			   "\"Action\":\"die\",\"Actor\":{\"ID\":\"" ID "\",\"Attributes\":{"
			   "\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"a\","
			   "\"exitCode\":\"137\",\"name\":\"x\"}},\"time\":1,\"timeNano\":1000}";
	struct docker_event ev;
	assert_int_equal(docker_parse_event(line, strlen(line), "a", false, &ev), 1);
	assert_string_equal(ev.action, "die");
	assert_string_equal(ev.c.task, "web");
	assert_string_equal(ev.c.id, ID);
	assert_int_equal(ev.exit_code, 137);
}

static void test_events_of_others_and_junk_are_skipped(void **state)
{
	struct docker_event ev;
	const char *theirs = "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"" ID
			     "\",\"Attributes\":{\"image\":\"nginx\"}}}";
	assert_int_equal(docker_parse_event(theirs, strlen(theirs), "a", true, &ev), 0);
	const char *network = "{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{}}";
	assert_int_equal(docker_parse_event(network, strlen(network), "a", true, &ev), 0);
	const char *junk[] = {"", "{", "[1,2]", "\"str\"", "{\"Type\":7}"};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		assert_true(docker_parse_event(junk[i], strlen(junk[i]), "a", true, &ev) <= 0);
}

static void test_created_reply_gives_the_id(void **state)
{
	char id[65];
	struct err e = ERR_INIT;
	const char *ok = "{\"Id\":\"" ID "\",\"Warnings\":[]}";
	assert_int_equal(docker_parse_created(ok, strlen(ok), id, &e), 0);
	assert_string_equal(id, ID);
	const char *bad = "{\"Id\":\"../../etc\"}";
	assert_int_equal(docker_parse_created(bad, strlen(bad), id, &e), -1);
}

static void test_inspect_reply_gives_the_state_and_junk_is_an_error(void **state)
{
	char st[16];
	struct err e = ERR_INIT;
	const char *ok = "{\"Id\":\"" ID "\",\"State\":{\"Status\":\"restarting\",\"Restarting\":true}}";
	assert_int_equal(docker_parse_inspect(ok, strlen(ok), st, sizeof st, &e), 0);
	assert_string_equal(st, "restarting");
	const char *bad[] = {"", "not json", "[]", "{\"State\":7}", "{\"State\":{\"Status\":5}}",
			     "{\"State\":{\"Status\":\"\"}}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(docker_parse_inspect(bad[i], strlen(bad[i]), st, sizeof st, &e), -1);
}

static void test_engine_version_that_is_not_digits_dot_digits_is_refused(void **state)
{
	/* It goes into every URL path: "/v1.30/../x/containers/json" must never be asked for. */
	char v[16];
	struct err e = ERR_INIT;
	const char *bad[] = {"{\"ApiVersion\":\"1.30/../x\"}", "{\"ApiVersion\":\"1.30?a=b\"}",
			     "{\"ApiVersion\":\"1.30 \"}", "{\"ApiVersion\":\"1.\"}",
			     "{\"ApiVersion\":\".41\"}", "{\"ApiVersion\":\"1.41.2\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(docker_negotiate(bad[i], strlen(bad[i]), v, sizeof v, &e), -1);
	const char *ok = "{\"ApiVersion\":\"1.30\",\"MinAPIVersion\":\"1.12\"}";
	assert_int_equal(docker_negotiate(ok, strlen(ok), v, sizeof v, &e), 0);
	assert_string_equal(v, "1.30");
}

static int64_t seen_created;
static void on_created_seen(const struct docker_seen *c, void *arg)
{
	seen_created = c->created;
}

static void test_numbers_out_of_range_read_as_zero(void **state)
{
	struct err e = ERR_INIT;
	const char *list = "[{\"Id\":\"" ID "\",\"State\":\"running\",\"Created\":1e300,"
			   "\"Labels\":{\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"a\"}}]";
	seen_created = 42;
	assert_int_equal(docker_parse_list(list, strlen(list), "a", false, on_created_seen, NULL, &e), 1);
	assert_int_equal(seen_created, 0);
	const char *line = "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"" ID
			   "\",\"Attributes\":{\"com.microscaling.task\":\"web\",\"com.microscaling.owner\":\"a\"}},"
			   "\"timeNano\":-1e300}";
	struct docker_event ev;
	assert_int_equal(docker_parse_event(line, strlen(line), "a", false, &ev), 1);
	assert_int_equal(ev.time_nano, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_host_forms_like_the_cli),
		cmocka_unit_test(test_bad_docker_host_is_an_error_naming_it),
		cmocka_unit_test(test_versions_compare_numerically),
		cmocka_unit_test(test_negotiation_picks_the_lower_of_ours_and_the_engines),
		cmocka_unit_test(test_negotiation_refuses_an_engine_we_cannot_speak_to),
		cmocka_unit_test(test_ownership_needs_our_owner_and_task_labels),
		cmocka_unit_test(test_go_label_is_adopted_only_when_asked),
		cmocka_unit_test(test_list_keeps_only_our_containers_and_reads_state_not_status),
		cmocka_unit_test(test_list_that_is_not_an_array_is_an_error),
		cmocka_unit_test(test_list_with_an_element_that_is_not_a_container_is_an_error),
		cmocka_unit_test(test_event_of_ours_is_parsed_with_its_exit_code),
		cmocka_unit_test(test_events_of_others_and_junk_are_skipped),
		cmocka_unit_test(test_created_reply_gives_the_id),
		cmocka_unit_test(test_inspect_reply_gives_the_state_and_junk_is_an_error),
		cmocka_unit_test(test_engine_version_that_is_not_digits_dot_digits_is_refused),
		cmocka_unit_test(test_numbers_out_of_range_read_as_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
