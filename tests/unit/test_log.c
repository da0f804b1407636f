/* Logging: logfmt quoting, JSON lines that parse, levels, and MSS_LOG_DEBUG component matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "utils/log.h"

static char *buf;
static size_t len;
static FILE *out;

static int open_log(void **state)
{
	out = open_memstream(&buf, &len);
	return 0;
}

static int close_log(void **state)
{
	fclose(out);
	free(buf);
	buf = NULL;
	log_setup(LOG_FMT_LOGFMT, NULL, NULL);
	return 0;
}

static void test_logfmt_line_has_level_component_message_and_fields(void **state)
{
	log_setup(LOG_FMT_LOGFMT, NULL, out);
	log_info("scaler", "scale", LOG_S("task", "web"), LOG_I("from", 2), LOG_I("to", 5),
		 LOG_S("reason", "queue 200 above target 50"), LOG_B("dry", false), LOG_D("x", 1.5));
	fflush(out);
	assert_non_null(strstr(buf, " level=info comp=scaler msg=scale task=web from=2 to=5 "
				    "reason=\"queue 200 above target 50\" dry=false x=1.5\n"));
	assert_true(strncmp(buf, "ts=", 3) == 0);
}

static void test_logfmt_quotes_and_escapes_awkward_values(void **state)
{
	log_setup(LOG_FMT_LOGFMT, NULL, out);
	log_warn("docker", "x", LOG_S("a", ""), LOG_S("b", "say \"hi\"\nbye"), LOG_S("c", "k=v"),
		 LOG_S("d", NULL));
	fflush(out);
	assert_non_null(strstr(buf, "a=\"\" b=\"say \\\"hi\\\"\\nbye\" c=\"k=v\" d=\"\"\n"));
	assert_int_equal(strchr(buf, '\n') - buf + 1, (long)len); /* one line, whatever the input */
}

static void test_json_lines_parse_and_keep_types(void **state)
{
	log_setup(LOG_FMT_JSON, NULL, out);
	log_error("agent", "left behind", LOG_S("task", "we\"b"), LOG_I("running", 3),
		  LOG_B("forced", true));
	fflush(out);
	cJSON *j = cJSON_Parse(buf);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "level")->valuestring, "error");
	assert_string_equal(cJSON_GetObjectItem(j, "comp")->valuestring, "agent");
	assert_string_equal(cJSON_GetObjectItem(j, "msg")->valuestring, "left behind");
	assert_string_equal(cJSON_GetObjectItem(j, "task")->valuestring, "we\"b");
	assert_int_equal(cJSON_GetObjectItem(j, "running")->valueint, 3);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "forced")));
	cJSON_Delete(j);
}

static void test_debug_is_off_unless_the_component_is_named(void **state)
{
	log_setup(LOG_FMT_LOGFMT, "none", out);
	assert_false(log_enabled(LOG_DEBUG, "scheduler"));
	assert_true(log_enabled(LOG_INFO, "scheduler"));
	log_setup(LOG_FMT_LOGFMT, "docker,engine", out);
	assert_true(log_enabled(LOG_DEBUG, "docker"));
	assert_true(log_enabled(LOG_DEBUG, "engine"));
	assert_false(log_enabled(LOG_DEBUG, "scheduler"));
}

static void test_go_component_names_and_all_still_work(void **state)
{
	log_setup(LOG_FMT_LOGFMT, "mssscheduler,mssengine,detail", out);
	assert_true(log_enabled(LOG_DEBUG, "scheduler"));
	assert_true(log_enabled(LOG_DEBUG, "engine"));
	assert_false(log_enabled(LOG_DEBUG, "docker"));
	log_setup(LOG_FMT_LOGFMT, "all", out);
	assert_true(log_enabled(LOG_DEBUG, "anything"));
}

static int evaluated;
static const char *count_eval(void)
{
	evaluated++;
	return "v";
}

static void test_disabled_debug_lines_do_not_evaluate_their_fields(void **state)
{
	log_setup(LOG_FMT_LOGFMT, NULL, out);
	evaluated = 0;
	log_debug("docker", "x", LOG_S("k", count_eval()));
	assert_int_equal(evaluated, 0);
	fflush(out);
	assert_int_equal(len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_logfmt_line_has_level_component_message_and_fields, open_log, close_log),
		cmocka_unit_test_setup_teardown(test_logfmt_quotes_and_escapes_awkward_values, open_log, close_log),
		cmocka_unit_test_setup_teardown(test_json_lines_parse_and_keep_types, open_log, close_log),
		cmocka_unit_test_setup_teardown(test_debug_is_off_unless_the_component_is_named, open_log, close_log),
		cmocka_unit_test_setup_teardown(test_go_component_names_and_all_still_work, open_log, close_log),
		cmocka_unit_test_setup_teardown(test_disabled_debug_lines_do_not_evaluate_their_fields, open_log, close_log),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
