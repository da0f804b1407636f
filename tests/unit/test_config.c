/* Apps JSON parsing and config sources: Go fixtures, every field, every kind of invalid input. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demand/config.h"
#include "demand/metric.h"
#include "utils/settings.h"

#define assert_msg_has(e, needle)                                                                  \
	do {                                                                                       \
		if (!strstr((e)->msg, (needle)))                                                   \
			fail_msg("error '%s' does not contain '%s'", (e)->msg, (needle));          \
	} while (0)

static int parse(const char *json, struct task_table *tt, struct err *e)
{
	task_table_init(tt);
	return config_parse_apps(json, strlen(json), NULL, tt, e);
}

static void parse_ok(const char *json, struct task_table *tt)
{
	struct err e = ERR_INIT;
	if (parse(json, tt, &e) != 0)
		fail_msg("parse failed: %s\n  input: %s", e.msg, json);
}

/* The document must be refused, leave no task behind, and the one-line message must hold want. */
static void expect_fail(const char *json, const char *want)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	if (parse(json, &tt, &e) != -1)
		fail_msg("accepted: %s", json);
	assert_int_equal(tt.len, 0);
	assert_null(strchr(e.msg, '\n'));
	if (!strstr(e.msg, want))
		fail_msg("error '%s' does not contain '%s'\n  input: %s", e.msg, want, json);
	task_table_free(&tt);
}

/* One app with the given extra fields and a config object body. */
static void expect_app_fail(const char *app_fields, const char *config, const char *want)
{
	char doc[2048];
	snprintf(doc, sizeof doc,
	         "{\"maxContainers\": 10, \"apps\": [{\"name\": \"web\"%s%s, \"config\": {%s}}]}",
	         *app_fields ? ", " : "", app_fields, config);
	expect_fail(doc, want);
}

static struct task *one_app(struct task_table *tt, const char *app_fields, const char *config)
{
	char doc[2048];
	snprintf(doc, sizeof doc,
	         "{\"maxContainers\": 10, \"apps\": [{\"name\": \"web\"%s%s, \"config\": {%s}}]}",
	         *app_fields ? ", " : "", app_fields, config);
	parse_ok(doc, tt);
	assert_int_equal(tt->len, 1);
	return tt->tasks[0];
}

static void assert_argv(char **v, const char *const *want, size_t n)
{
	if (n == 0) {
		assert_null(v);
		return;
	}
	assert_non_null(v);
	for (size_t i = 0; i < n; i++) {
		if (!v[i])
			fail_msg("argv has %zu words, want %zu", i, n);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[n]);
}

static const char *metric_type(const struct task *t)
{
	assert_non_null(t->metric);
	return t->metric->ops->type;
}

/* Go config/env_var_test "basic match". */
static void test_go_basic_match_gives_two_tasks_in_order(void **state)
{
	struct task_table tt;
	parse_ok("{\"name\":\"hello\",\"maxContainers\":10,\"apps\":["
	         "{\"name\":\"priority1\",\"priority\":1,\"minContainers\":1,\"maxContainers\":5,"
	         "\"config\":{\"image\":\"microscaling/priority-1:latest\"}},"
	         "{\"name\":\"priority2\",\"priority\":2,\"minContainers\":1,\"maxContainers\":5,"
	         "\"config\":{\"image\":\"microscaling/priority-2:latest\"}}]}",
	         &tt);
	assert_int_equal(tt.len, 2);
	assert_int_equal(tt.budget.containers, 10);
	assert_string_equal(tt.tasks[0]->name, "priority1");
	assert_int_equal(tt.tasks[0]->priority, 1);
	assert_string_equal(tt.tasks[0]->spec.image, "microscaling/priority-1:latest");
	assert_string_equal(tt.tasks[1]->name, "priority2");
	assert_int_equal(tt.tasks[1]->priority, 2);
	assert_string_equal(tt.tasks[1]->spec.image, "microscaling/priority-2:latest");
	task_table_free(&tt);
}

/* Reference §3.5.3: apps without bounds are Remainders with min = max = 0 that never scale. */
static void test_go_envvar_example_gives_remainders_with_zero_bounds(void **state)
{
	struct task_table tt;
	parse_ok("{\"maxContainers\":10,\"apps\":[{\"name\":\"priority1\",\"priority\":1},"
	         "{\"name\":\"priority2\",\"priority\":2}]}",
	         &tt);
	assert_int_equal(tt.len, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct task *t = tt.tasks[i];
		assert_int_equal(t->min, 0);
		assert_int_equal(t->max, 0);
		assert_int_equal(t->max_step, 0);
		assert_true(t->scalable);
		assert_int_equal(t->target.kind, TARGET_REMAINDER);
		assert_int_equal(t->target.remainder_max, 0);
		assert_string_equal(metric_type(t), "Null");
		assert_null(t->spec.image);
		assert_null(t->spec.command);
	}
	task_table_free(&tt);
}

/* Go config/env_var_test "empty json". */
static void test_go_empty_json_is_an_error(void **state)
{
	expect_fail("", "config: empty document");
	expect_fail(" \n\t", "config: empty document");
}

/* Go config/env_var_test "invalid json": maxContainers as a string. */
static void test_go_max_containers_as_string_is_an_error(void **state)
{
	expect_fail("{\"maxContainers\":\"10\",\"apps\":[]}",
	            "maxContainers: expected an integer, got string");
}

/* Appendix A's ENVVAR example, with the metric types not built yet replaced by Toy. */
static void test_go_appendix_a_example(void **state)
{
	struct task_table tt;
	parse_ok("{\"maxContainers\":12,\"apps\":[\n"
	         " {\"name\":\"nsqworker\",\"priority\":1,\"minContainers\":1,\"maxContainers\":8,"
	         "\"ruleType\":\"Queue\",\"metricType\":\"Toy\",\n"
	         "  \"config\":{\"image\":\"org/worker:1\",\"command\":\"/worker -v\","
	         "\"targetQueueLength\":50,\"topicName\":\"jobs\",\"channelName\":\"workers\"}},\n"
	         " {\"name\":\"sqsworker\",\"priority\":2,\"minContainers\":0,\"maxContainers\":4,"
	         "\"ruleType\":\"SimpleQueue\",\"metricType\":\"Toy\",\n"
	         "  \"config\":{\"image\":\"org/sqs:1\",\"targetQueueLength\":20,"
	         "\"queueURL\":\"https://sqs.eu-west-1.amazonaws.com/123456789012/jobs\"}},\n"
	         " {\"name\":\"filler\",\"priority\":3,\"minContainers\":0,\"maxContainers\":12,"
	         "\"config\":{\"image\":\"org/batch:1\"}}\n"
	         "]}",
	         &tt);
	assert_int_equal(tt.len, 3);
	assert_int_equal(tt.budget.containers, 12);

	const struct task *q = tt.tasks[0];
	const char *const argv[] = {"/worker", "-v"};
	assert_string_equal(q->name, "nsqworker");
	assert_int_equal(q->target.kind, TARGET_QUEUE);
	assert_float_equal(q->target.length, 50, 0);
	assert_float_equal(q->target.min_length, 35, 0);
	assert_int_equal(q->max_step, 7);
	assert_string_equal(metric_type(q), "Toy");
	assert_argv(q->spec.command, argv, 2);

	const struct task *s = tt.tasks[1];
	assert_int_equal(s->target.kind, TARGET_SIMPLE_QUEUE);
	assert_float_equal(s->target.length, 20, 0);
	assert_int_equal(s->max_step, 4);

	const struct task *f = tt.tasks[2];
	assert_int_equal(f->target.kind, TARGET_REMAINDER);
	assert_int_equal(f->target.remainder_max, 12);
	assert_string_equal(metric_type(f), "Null");
	task_table_free(&tt);
}

static void test_defaults_of_a_bare_app(void **state)
{
	struct task_table tt;
	parse_ok("{\"apps\":[{\"name\":\"a\"}]}", &tt);
	const struct task *t = tt.tasks[0];
	assert_int_equal(tt.budget.containers, 0);
	assert_int_equal(tt.budget.nano_cpus, 0);
	assert_int_equal(tt.budget.memory_bytes, 0);
	assert_int_equal(t->priority, 0);
	assert_true(t->scalable);
	assert_int_equal(t->target.kind, TARGET_REMAINDER);
	assert_null(t->spec.image);
	assert_null(t->spec.command);
	assert_null(t->spec.env);
	assert_int_equal(t->spec.labels_len, 0);
	assert_null(t->spec.network_mode);
	assert_false(t->spec.publish_all_ports);
	assert_null(t->spec.restart_policy);
	assert_int_equal(t->spec.nano_cpus, 0);
	assert_int_equal(t->spec.memory_bytes, 0);
	assert_null(t->spec.stop_signal);
	assert_int_equal(t->spec.stop_timeout_s, 10);
	assert_null(t->spec.service);
	assert_false(t->spec.create_service);
	assert_false(t->spec.healthy_only);
	task_table_free(&tt);
}

static void test_empty_apps_array_is_valid(void **state)
{
	struct task_table tt;
	parse_ok("{\"maxContainers\":3,\"apps\":[]}", &tt);
	assert_int_equal(tt.len, 0);
	assert_int_equal(tt.budget.containers, 3);
	task_table_free(&tt);
}

static void test_keys_match_case_insensitively_like_go(void **state)
{
	struct task_table tt;
	parse_ok("{\"MAXCONTAINERS\":5,\"Apps\":[{\"NAME\":\"a\",\"MinContainers\":1,"
	         "\"maxcontainers\":3,\"RULETYPE\":\"Queue\",\"MetricType\":\"Toy\","
	         "\"Config\":{\"IMAGE\":\"x\",\"TargetQueueLength\":7}}]}",
	         &tt);
	assert_int_equal(tt.budget.containers, 5);
	assert_int_equal(tt.tasks[0]->min, 1);
	assert_int_equal(tt.tasks[0]->max, 3);
	assert_string_equal(tt.tasks[0]->spec.image, "x");
	assert_float_equal(tt.tasks[0]->target.length, 7, 0);
	task_table_free(&tt);
}

static void test_unknown_keys_are_ignored_and_null_is_absent(void **state)
{
	struct task_table tt;
	parse_ok("{\"maxContainers\":5,\"future\":{\"x\":1},\"apps\":[{\"name\":\"a\","
	         "\"appType\":\"Docker\",\"somethingNew\":[1,2],\"priority\":null,"
	         "\"config\":{\"queueName\":\"\",\"image\":null,\"extra\":true}}]}",
	         &tt);
	assert_int_equal(tt.tasks[0]->priority, 0);
	assert_null(tt.tasks[0]->spec.image);
	task_table_free(&tt);
}

static void test_max_step_is_max_minus_min_unless_max_delta(void **state)
{
	struct task_table tt;
	parse_ok("{\"maxContainers\":10,\"apps\":["
	         "{\"name\":\"a\",\"minContainers\":1,\"maxContainers\":5},"
	         "{\"name\":\"b\",\"minContainers\":1,\"maxContainers\":5,\"maxDelta\":2},"
	         "{\"name\":\"c\",\"isScalable\":false}]}",
	         &tt);
	assert_int_equal(tt.tasks[0]->max_step, 4);
	assert_int_equal(tt.tasks[1]->max_step, 2);
	assert_true(tt.tasks[0]->scalable);
	assert_false(tt.tasks[2]->scalable);
	task_table_free(&tt);
}

static void test_queue_gains_come_from_settings_or_defaults(void **state)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	struct settings s;
	const char *doc =
	    "{\"apps\":[{\"name\":\"q\",\"ruleType\":\"Queue\",\"metricType\":\"Toy\","
	    "\"config\":{\"targetQueueLength\":10}}]}";
	memset(&s, 0, sizeof s);
	s.gains = (struct pid_gains){.kp = 1, .ki = 0.5, .kd = 2, .vel_samples = 3};
	task_table_init(&tt);
	assert_int_equal(config_parse_apps(doc, strlen(doc), &s, &tt, &e), 0);
	assert_float_equal(tt.tasks[0]->target.gains.kp, 1, 0);
	assert_float_equal(tt.tasks[0]->target.gains.ki, 0.5, 0);
	assert_float_equal(tt.tasks[0]->target.gains.kd, 2, 0);
	assert_int_equal(tt.tasks[0]->target.gains.vel_samples, 3);
	task_table_free(&tt);

	parse_ok(doc, &tt);
	assert_float_equal(tt.tasks[0]->target.gains.kp, 0.04, 1e-12);
	assert_float_equal(tt.tasks[0]->target.gains.kd, 1.25, 1e-12);
	task_table_free(&tt);
}

/* Go read the queue length from config.targetQueueLength only; targetValue is our fallback. */
static void test_target_value_is_a_fallback_for_target_queue_length(void **state)
{
	struct task_table tt;
	struct task *t = one_app(
	    &tt, "\"ruleType\":\"SimpleQueue\",\"metricType\":\"Toy\",\"targetValue\":30", "");
	assert_float_equal(t->target.length, 30, 0);
	task_table_free(&tt);
	t = one_app(&tt, "\"ruleType\":\"Queue\",\"metricType\":\"Toy\",\"targetValue\":30",
	            "\"targetQueueLength\":50");
	assert_float_equal(t->target.length, 50, 0);
	task_table_free(&tt);
	t = one_app(&tt, "\"ruleType\":\"Queue\",\"metricType\":\"Toy\"", "");
	assert_float_equal(t->target.length, 0, 0);
	task_table_free(&tt);
}

static void test_every_container_field(void **state)
{
	struct task_table tt;
	struct task *t = one_app(
	    &tt, "",
	    "\"image\":\"nginx:1.25\",\"command\":[\"nginx\",\"-g\",\"daemon off;\"],"
	    "\"env\":[\"A=1\",\"B=x=y\",\"C=\"],\"labels\":{\"tier\":\"web\",\"team\":\"core\"},"
	    "\"networkMode\":\"bridge\",\"publishAllPorts\":true,\"restartPolicy\":\"on-failure:"
	    "3\","
	    "\"cpus\":0.5,\"memory\":\"512m\",\"stopSignal\":\"SIGQUIT\",\"stopTimeout\":25,"
	    "\"service\":\"web-svc\",\"create\":true,\"healthyOnly\":true");
	const char *const argv[] = {"nginx", "-g", "daemon off;"};
	const char *const env[] = {"A=1", "B=x=y", "C="};
	assert_string_equal(t->spec.image, "nginx:1.25");
	assert_argv(t->spec.command, argv, 3);
	assert_argv(t->spec.env, env, 3);
	assert_int_equal(t->spec.labels_len, 2);
	assert_string_equal(t->spec.labels[0].key, "tier");
	assert_string_equal(t->spec.labels[0].value, "web");
	assert_string_equal(t->spec.labels[1].key, "team");
	assert_string_equal(t->spec.labels[1].value, "core");
	assert_string_equal(t->spec.network_mode, "bridge");
	assert_true(t->spec.publish_all_ports);
	assert_string_equal(t->spec.restart_policy, "on-failure:3");
	assert_int_equal(t->spec.nano_cpus, 500000000);
	assert_int_equal(t->spec.memory_bytes, 512LL << 20);
	assert_string_equal(t->spec.stop_signal, "SIGQUIT");
	assert_int_equal(t->spec.stop_timeout_s, 25);
	assert_string_equal(t->spec.service, "web-svc");
	assert_true(t->spec.create_service);
	assert_true(t->spec.healthy_only);
	task_table_free(&tt);
}

/* Go fields the API server filled with "" mean "unset", not "the empty image". */
static void test_empty_strings_mean_unset(void **state)
{
	struct task_table tt;
	struct task *t = one_app(&tt, "\"ruleType\":\"\"",
	                         "\"image\":\"\",\"command\":\"\",\"networkMode\":\"\","
	                         "\"restartPolicy\":\"\",\"stopSignal\":\"\",\"service\":\"\"");
	assert_int_equal(t->target.kind, TARGET_REMAINDER);
	assert_null(t->spec.image);
	assert_null(t->spec.command);
	assert_null(t->spec.network_mode);
	assert_null(t->spec.restart_policy);
	assert_null(t->spec.stop_signal);
	assert_null(t->spec.service);
	task_table_free(&tt);
}

struct split_case {
	const char *json; /* the command as a JSON string literal body */
	const char *argv[6];
	size_t n;
};

static void test_command_string_splits_like_a_shell(void **state)
{
	static const struct split_case cases[] = {
	    {"/run.sh --flag", {"/run.sh", "--flag"}, 2},
	    {"  a   b\\t c\\n ", {"a", "b", "c"}, 3},
	    {"sh -c 'echo \\\"hi there\\\"; exit 0'", {"sh", "-c", "echo \"hi there\"; exit 0"}, 3},
	    {"echo \\\"a \\\\\\\"b\\\\\\\" \\\\$HOME \\\\\\\\ \\\\x\\\"",
	     {"echo", "a \"b\" $HOME \\ \\x"},
	     2},
	    {"a\\\\ b c\\\\\\\\d", {"a b", "c\\d"}, 2},
	    {"'' \\\"\\\" x", {"", "", "x"}, 3},
	    {"a'b'\\\"c\\\"d", {"abcd"}, 1},
	    {"$HOME * ~ `id`", {"$HOME", "*", "~", "`id`"}, 4},
	    {"a\\\\\\nb", {"ab"}, 1},
	    {"'a\\\\b'", {"a\\b"}, 1},
	    {"   ", {NULL}, 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char cfg[256];
		struct task_table tt;
		snprintf(cfg, sizeof cfg, "\"command\":\"%s\"", cases[i].json);
		struct task *t = one_app(&tt, "", cfg);
		assert_argv(t->spec.command, cases[i].argv, cases[i].n);
		task_table_free(&tt);
	}
}

static void test_command_array_is_taken_as_argv(void **state)
{
	struct task_table tt;
	const char *const argv[] = {"sh", "-c", "x y", ""};
	struct task *t = one_app(&tt, "", "\"command\":[\"sh\",\"-c\",\"x y\",\"\"]");
	assert_argv(t->spec.command, argv, 4);
	task_table_free(&tt);
	t = one_app(&tt, "", "\"command\":[]");
	assert_null(t->spec.command);
	task_table_free(&tt);
}

static void test_bad_commands_are_refused(void **state)
{
	expect_app_fail("", "\"command\":\"echo 'abc\"",
	                "apps[0].config.command: unterminated single quote");
	expect_app_fail("", "\"command\":\"echo \\\"abc\"",
	                "apps[0].config.command: unterminated double quote");
	expect_app_fail("", "\"command\":\"echo abc\\\\\"",
	                "apps[0].config.command: trailing backslash");
	expect_app_fail("", "\"command\":5",
	                "apps[0].config.command: expected a string or an array of strings, got "
	                "number");
	expect_app_fail("", "\"command\":[\"a\",1]",
	                "apps[0].config.command[1]: expected a string, got number");
}

static void test_env_as_array_or_object(void **state)
{
	struct task_table tt;
	const char *const env[] = {"A=1", "B="};
	struct task *t = one_app(&tt, "", "\"env\":{\"A\":\"1\",\"B\":\"\"}");
	assert_argv(t->spec.env, env, 2);
	task_table_free(&tt);
	t = one_app(&tt, "", "\"env\":[]");
	assert_null(t->spec.env);
	task_table_free(&tt);
}

static void test_bad_env_is_refused(void **state)
{
	expect_app_fail("", "\"env\":\"A=1\"",
	                "apps[0].config.env: expected an array or an object, got string");
	expect_app_fail("", "\"env\":[\"A=1\",\"B\"]",
	                "apps[0].config.env[1]: expected \"NAME=value\", got 'B'");
	expect_app_fail("", "\"env\":[\"=x\"]", "apps[0].config.env[0]: expected \"NAME=value\"");
	expect_app_fail("", "\"env\":[true]", "apps[0].config.env[0]: expected a string, got bool");
	expect_app_fail("", "\"env\":{\"\":\"x\"}", "apps[0].config.env: invalid variable name ''");
	expect_app_fail("", "\"env\":{\"A=B\":\"x\"}",
	                "apps[0].config.env: invalid variable name 'A=B'");
	expect_app_fail("", "\"env\":{\"PORT\":8080}",
	                "apps[0].config.env.PORT: expected a string, got number");
}

static void test_bad_labels_are_refused(void **state)
{
	expect_app_fail("", "\"labels\":[]",
	                "apps[0].config.labels: expected an object, got array");
	expect_app_fail("", "\"labels\":{\"com.microscaling.task\":\"x\"}",
	                "apps[0].config.labels: key 'com.microscaling.task' is reserved");
	expect_app_fail("", "\"labels\":{\"COM.Microscaling.owner\":\"x\"}", "is reserved");
	expect_app_fail("", "\"labels\":{\"n\":1}",
	                "apps[0].config.labels.n: expected a string, got number");
	expect_app_fail("", "\"labels\":{\"\":\"x\"}", "apps[0].config.labels: empty label key");
}

static void test_memory_takes_bytes_or_suffixed_strings(void **state)
{
	static const struct {
		const char *json;
		long long bytes;
	} cases[] = {
	    {"\"512m\"", 512LL << 20}, {"\"2G\"", 2LL << 30},  {"\"64k\"", 64LL << 10},
	    {"\"64kb\"", 64LL << 10},  {"\"1MB\"", 1LL << 20}, {"\"1024\"", 1024},
	    {"1048576", 1LL << 20},    {"\"8g\"", 8LL << 30},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char cfg[64];
		struct task_table tt;
		snprintf(cfg, sizeof cfg, "\"memory\":%s", cases[i].json);
		struct task *t = one_app(&tt, "", cfg);
		assert_int_equal(t->spec.memory_bytes, cases[i].bytes);
		task_table_free(&tt);
	}
}

static void test_bad_memory_is_refused(void **state)
{
	const char *bad[] = {"\"lots\"", "\"1.5g\"",  "\"5t\"", "\"-1m\"",
	                     "\"m\"",    "\"512 m\"", "\"\"",   "\"99999999999g\""};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char cfg[64];
		snprintf(cfg, sizeof cfg, "\"memory\":%s", bad[i]);
		expect_app_fail("", cfg, "apps[0].config.memory: expected bytes like \"512m\"");
	}
	expect_app_fail("", "\"memory\":0",
	                "apps[0].config.memory: expected a whole number of bytes");
	expect_app_fail("", "\"memory\":1.5", "apps[0].config.memory: expected a whole number");
	expect_app_fail("", "\"memory\":true",
	                "apps[0].config.memory: expected an integer or a string like \"512m\", got "
	                "bool");
}

static void test_cpus_restart_policy_signal_and_timeouts(void **state)
{
	const char *ok[] = {"no", "always", "unless-stopped", "on-failure", "on-failure:0"};
	for (size_t i = 0; i < 5; i++) {
		char cfg[64];
		struct task_table tt;
		snprintf(cfg, sizeof cfg, "\"restartPolicy\":\"%s\"", ok[i]);
		struct task *t = one_app(&tt, "", cfg);
		assert_string_equal(t->spec.restart_policy, ok[i]);
		task_table_free(&tt);
	}
	struct task_table tt;
	struct task *t = one_app(&tt, "", "\"cpus\":2,\"stopTimeout\":0,\"stopSignal\":\"15\"");
	assert_int_equal(t->spec.nano_cpus, 2000000000LL);
	assert_int_equal(t->spec.stop_timeout_s, 0);
	assert_string_equal(t->spec.stop_signal, "15");
	task_table_free(&tt);
}

static void test_container_fields_of_the_wrong_type_or_range(void **state)
{
	static const struct {
		const char *cfg, *want;
	} cases[] = {
	    {"\"image\":5", "apps[0].config.image: expected a string, got number"},
	    {"\"networkMode\":true", "apps[0].config.networkMode: expected a string, got bool"},
	    {"\"publishAllPorts\":\"true\"",
	     "apps[0].config.publishAllPorts: expected a bool, got string"},
	    {"\"restartPolicy\":\"sometimes\"",
	     "apps[0].config.restartPolicy: unknown value 'sometimes' (want no, always, "
	     "unless-stopped or on-failure[:N])"},
	    {"\"restartPolicy\":\"on-failure:\"", "apps[0].config.restartPolicy: unknown value"},
	    {"\"restartPolicy\":\"on-failure:-1\"", "apps[0].config.restartPolicy: unknown value"},
	    {"\"restartPolicy\":\"Always\"", "apps[0].config.restartPolicy: unknown value"},
	    {"\"cpus\":\"1\"", "apps[0].config.cpus: expected a number, got string"},
	    {"\"cpus\":0", "apps[0].config.cpus: expected a number of CPUs above 0, got 0"},
	    {"\"cpus\":-1", "apps[0].config.cpus: expected a number of CPUs above 0"},
	    {"\"cpus\":1e300", "apps[0].config.cpus: expected a number of CPUs above 0"},
	    {"\"stopSignal\":15", "apps[0].config.stopSignal: expected a string, got number"},
	    {"\"stopSignal\":\"SIG TERM\"", "apps[0].config.stopSignal: not a signal"},
	    {"\"stopTimeout\":3601",
	     "apps[0].config.stopTimeout: expected an integer from 0 to 3600, got 3601"},
	    {"\"stopTimeout\":-1", "apps[0].config.stopTimeout: expected an integer from 0"},
	    {"\"stopTimeout\":\"10\"",
	     "apps[0].config.stopTimeout: expected an integer, got string"},
	    {"\"stopTimeout\":1.5", "apps[0].config.stopTimeout: expected an integer, got 1.5"},
	    {"\"service\":[]", "apps[0].config.service: expected a string, got array"},
	    {"\"create\":1", "apps[0].config.create: expected a bool, got number"},
	    {"\"healthyOnly\":{}", "apps[0].config.healthyOnly: expected a bool, got object"},
	    {"\"targetQueueLength\":\"50\"",
	     "apps[0].config.targetQueueLength: expected a number, got string"},
	    {"\"targetQueueLength\":-1",
	     "apps[0].config.targetQueueLength: expected a number from 0 to 1e12, got -1"},
	    {"\"toyStart\":\"x\"", "apps[0].config.toyStart"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_app_fail("\"ruleType\":\"Queue\",\"metricType\":\"Toy\"", cases[i].cfg,
		                cases[i].want);
}

static void test_app_fields_of_the_wrong_type_or_range(void **state)
{
	static const struct {
		const char *fields, *want;
	} cases[] = {
	    {"\"priority\":\"1\"", "apps[0].priority: expected an integer, got string"},
	    {"\"priority\":1.5", "apps[0].priority: expected an integer, got 1.5"},
	    {"\"priority\":1e10", "apps[0].priority: expected an integer from -1000000 to 1000000"},
	    {"\"minContainers\":-1",
	     "apps[0].minContainers: expected an integer from 0 to 1000000, got -1"},
	    {"\"maxContainers\":\"x\"", "apps[0].maxContainers: expected an integer, got string"},
	    {"\"maxContainers\":2000000", "apps[0].maxContainers: expected an integer from 0"},
	    {"\"minContainers\":5,\"maxContainers\":2",
	     "apps[0]: minContainers 5 > maxContainers 2"},
	    {"\"maxContainers\":4,\"maxDelta\":0",
	     "apps[0].maxDelta: expected an integer from 1 to 1000000, got 0"},
	    {"\"isScalable\":\"yes\"", "apps[0].isScalable: expected a bool, got string"},
	    {"\"appType\":5", "apps[0].appType: expected a string, got number"},
	    {"\"ruleType\":\"queue\"",
	     "apps[0].ruleType: unknown value 'queue' (want Queue, SimpleQueue, Threshold or "
	     "Remainder)"},
	    {"\"ruleType\":\"Random\"", "apps[0].ruleType: unknown value 'Random'"},
	    {"\"ruleType\":1", "apps[0].ruleType: expected a string, got number"},
	    {"\"ruleType\":\"Queue\"", "apps[0].metricType: required for ruleType Queue"},
	    {"\"ruleType\":\"SimpleQueue\",\"metricType\":\"\"",
	     "apps[0].metricType: required for ruleType SimpleQueue"},
	    {"\"ruleType\":\"Queue\",\"metricType\":\"Bogus\"",
	     "apps[0].metricType: unknown value 'Bogus'"},
	    {"\"ruleType\":\"Queue\",\"metricType\":5",
	     "apps[0].metricType: expected a string, got number"},
	    {"\"ruleType\":\"Queue\",\"metricType\":\"Toy\",\"targetValue\":\"5\"",
	     "apps[0].targetValue: expected a number, got string"},
	    {"\"ruleType\":\"Queue\",\"metricType\":\"Toy\",\"targetValue\":-5",
	     "apps[0].targetValue: expected a number from 0 to 1e12, got -5"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_app_fail(cases[i].fields, "", cases[i].want);
}

static void test_config_must_be_an_object(void **state)
{
	expect_fail("{\"apps\":[{\"name\":\"a\",\"config\":\"x\"}]}",
	            "apps[0].config: expected an object, got string");
	expect_fail("{\"apps\":[5]}", "apps[0]: expected an object, got number");
}

static void test_bad_names_are_refused(void **state)
{
	char doc[256], name[80];
	expect_fail("{\"apps\":[{\"priority\":1}]}", "apps[0].name: required");
	expect_fail("{\"apps\":[{\"name\":\"\"}]}", "apps[0].name: required");
	expect_fail("{\"apps\":[{\"name\":5}]}", "apps[0].name: expected a string, got number");
	expect_fail("{\"apps\":[{\"name\":\"a b\"}]}",
	            "apps[0].name: 'a b' is not 1 to 63 characters of A-Z a-z 0-9 _ . -");
	expect_fail("{\"apps\":[{\"name\":\"a\"},{\"name\":\"web/1\"}]}", "apps[1].name: 'web/1'");
	memset(name, 'n', 64);
	name[64] = '\0';
	snprintf(doc, sizeof doc, "{\"apps\":[{\"name\":\"%s\"}]}", name);
	expect_fail(doc, "apps[0].name: 'nnnn");
	name[63] = '\0';
	snprintf(doc, sizeof doc, "{\"apps\":[{\"name\":\"%s\"}]}", name);
	struct task_table tt;
	parse_ok(doc, &tt);
	task_table_free(&tt);
}

static void test_duplicate_names_are_refused(void **state)
{
	expect_fail("{\"apps\":[{\"name\":\"web\"},{\"name\":\"db\"},{\"name\":\"web\"}]}",
	            "apps[2].name: duplicate task name 'web'");
}

static void test_top_level_errors(void **state)
{
	expect_fail("[]", "config: expected an object at the top level, got array");
	expect_fail("42", "config: expected an object at the top level, got number");
	expect_fail("{\"maxContainers\":10}", "apps: required");
	expect_fail("{\"apps\":{}}", "apps: expected an array, got object");
	expect_fail("{\"apps\":null}", "apps: required");
	expect_fail("{\"name\":5,\"apps\":[]}", "name: expected a string, got number");
	expect_fail("{\"maxContainers\":-1,\"apps\":[]}",
	            "maxContainers: expected an integer from 0 to 1000000, got -1");
	expect_fail("{\"maxContainers\":1.5,\"apps\":[]}",
	            "maxContainers: expected an integer, got 1.5");
	expect_fail("{\"maxCpus\":\"4\",\"apps\":[]}", "maxCpus: expected a number, got string");
	expect_fail("{\"maxCpus\":-1,\"apps\":[]}", "maxCpus: expected a number of CPUs >= 0");
	expect_fail("{\"maxMemory\":\"12q\",\"apps\":[]}", "maxMemory: expected bytes like");
	expect_fail("{\"maxMemory\":-1,\"apps\":[]}",
	            "maxMemory: expected a whole number of bytes");
}

static void test_resource_budget(void **state)
{
	struct task_table tt;
	parse_ok("{\"maxContainers\":4,\"maxCpus\":2.5,\"maxMemory\":\"8g\",\"apps\":[]}", &tt);
	assert_int_equal(tt.budget.nano_cpus, 2500000000LL);
	assert_int_equal(tt.budget.memory_bytes, 8LL << 30);
	task_table_free(&tt);
	parse_ok("{\"maxMemory\":1073741824,\"apps\":[]}", &tt);
	assert_int_equal(tt.budget.memory_bytes, 1LL << 30);
	task_table_free(&tt);
}

static void test_sum_of_minimums_must_fit_the_budget(void **state)
{
	expect_fail(
	    "{\"maxContainers\":3,\"apps\":[{\"name\":\"a\",\"minContainers\":2,"
	    "\"maxContainers\":2},{\"name\":\"b\",\"minContainers\":2,\"maxContainers\":4}]}",
	    "maxContainers: 3 is less than the sum of minContainers (4)");
	/* Missing maxContainers is 0, as in Go: then no minimum fits. */
	expect_fail("{\"apps\":[{\"name\":\"a\",\"minContainers\":1,\"maxContainers\":1}]}",
	            "maxContainers: 0 is less than the sum of minContainers (1)");
	expect_fail("{\"maxContainers\":10,\"maxCpus\":1,\"apps\":[{\"name\":\"a\","
	            "\"minContainers\":2,\"maxContainers\":4,\"config\":{\"cpus\":0.6}}]}",
	            "maxCpus: 1 is less than minContainers x cpus summed (1.2)");
	expect_fail("{\"maxContainers\":10,\"maxMemory\":\"1g\",\"apps\":[{\"name\":\"a\","
	            "\"minContainers\":3,\"maxContainers\":4,\"config\":{\"memory\":\"512m\"}}]}",
	            "maxMemory: 1073741824 bytes is less than minContainers x memory summed");

	struct task_table tt;
	parse_ok("{\"maxContainers\":4,\"apps\":[{\"name\":\"a\",\"minContainers\":2,"
	         "\"maxContainers\":2},{\"name\":\"b\",\"minContainers\":2,\"maxContainers\":9}]}",
	         &tt);
	task_table_free(&tt);
}

static void test_malformed_json_reports_the_byte_offset(void **state)
{
	expect_fail("{\"maxContainers\": 10,}", "config: malformed JSON at byte 21");
	expect_fail("{\"apps\": [}", "config: malformed JSON at byte 10");
	expect_fail("{\"apps\": []} x", "config: malformed JSON at byte 13");
	expect_fail("{\"apps\": [tru]}", "config: malformed JSON at byte 10");
}

/* A failure in a later app frees the earlier ones and leaves the caller's table alone. */
static void test_failure_leaves_the_table_untouched(void **state)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	const char *bad = "{\"maxContainers\":9,\"apps\":[{\"name\":\"a\"},{\"name\":\"b\"},"
	                  "{\"name\":\"c\",\"priority\":\"x\"}]}";
	task_table_init(&tt);
	task_table_add(&tt, task_new("existing"));
	tt.budget.containers = 3;
	assert_int_equal(config_parse_apps(bad, strlen(bad), NULL, &tt, &e), -1);
	assert_int_equal(tt.len, 1);
	assert_int_equal(tt.budget.containers, 3);
	assert_msg_has(&e, "apps[2].priority");
	task_table_free(&tt);
}

static struct settings source(const char *config)
{
	struct settings s;
	memset(&s, 0, sizeof s);
	snprintf(s.config, sizeof s.config, "%s", config);
	pid_gains_default(&s.gains);
	return s;
}

static void test_demo_config_parses_fully(void **state)
{
	struct settings s = source("DEMO");
	struct task_table tt;
	struct err e = ERR_INIT;
	task_table_init(&tt);
	if (config_load(&s, &tt, &e) != 0)
		fail_msg("DEMO: %s", e.msg);
	assert_int_equal(tt.budget.containers, 10);
	assert_int_equal(tt.len, 2);

	const struct task *c = tt.tasks[0], *r = tt.tasks[1];
	const char *const argv[] = {"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"};
	assert_string_equal(c->name, "consumer");
	assert_int_equal(c->priority, 1);
	assert_int_equal(c->min, 1);
	assert_int_equal(c->max, 8);
	assert_int_equal(c->max_step, 7);
	assert_int_equal(c->target.kind, TARGET_QUEUE);
	assert_float_equal(c->target.length, 50, 0);
	assert_string_equal(metric_type(c), "Toy");
	assert_string_equal(c->spec.image, "busybox");
	assert_argv(c->spec.command, argv, 3);

	assert_string_equal(r->name, "remainder");
	assert_int_equal(r->priority, 2);
	assert_int_equal(r->min, 1);
	assert_int_equal(r->max, 10);
	assert_int_equal(r->target.kind, TARGET_REMAINDER);
	assert_int_equal(r->target.remainder_max, 10);
	assert_string_equal(metric_type(r), "Null");
	assert_string_equal(r->spec.image, "busybox");
	task_table_free(&tt);
}

/* The NSQ metric exists now: HARDCODED loads whole, with Go's topic and channel. */
static void test_hardcoded_config_loads_with_the_nsq_metric(void **state)
{
	struct settings s = source("HARDCODED");
	struct task_table tt;
	struct err e = ERR_INIT;
	task_table_init(&tt);
	assert_int_equal(config_load(&s, &tt, &e), 0);
	assert_int_equal(tt.len, 2);
	assert_string_equal(metric_type(tt.tasks[0]), "NSQ");
	assert_string_equal(metric_type(tt.tasks[1]), "Null");
	task_table_free(&tt);
}

/* Go §3.5.2, every field but the metric (NSQ swapped for Toy until it exists). */
static void test_hardcoded_config_matches_go(void **state)
{
	const char *doc = config_hardcoded_json();
	const char *nsq = strstr(doc, "\"NSQ\"");
	assert_non_null(nsq);
	size_t n = strlen(doc), at = (size_t)(nsq - doc);
	char *copy = malloc(n + 8);
	memcpy(copy, doc, at);
	strcpy(copy + at, "\"Toy\"");
	strcpy(copy + at + 5, nsq + 5);

	struct task_table tt;
	parse_ok(copy, &tt);
	free(copy);
	assert_int_equal(tt.budget.containers, 10);
	assert_int_equal(tt.len, 2);
	const char *images[] = {"microscaling/queue-demo:latest", "microscaling/priority-2:latest"};
	for (size_t i = 0; i < 2; i++) {
		const struct task *t = tt.tasks[i];
		assert_string_equal(t->name, i ? "remainder" : "consumer");
		assert_int_equal(t->priority, (int)i + 1);
		assert_int_equal(t->min, 1);
		assert_int_equal(t->max, 10);
		assert_int_equal(t->max_step, 9);
		assert_true(t->scalable);
		assert_string_equal(t->spec.image, images[i]);
		assert_null(t->spec.command);
		assert_string_equal(t->spec.network_mode, "host");
		assert_true(t->spec.publish_all_ports);
	}
	assert_int_equal(tt.tasks[0]->target.kind, TARGET_QUEUE);
	assert_float_equal(tt.tasks[0]->target.length, 50, 0);
	assert_int_equal(tt.tasks[1]->target.kind, TARGET_REMAINDER);
	assert_int_equal(tt.tasks[1]->target.remainder_max, 10);
	assert_string_equal(metric_type(tt.tasks[1]), "Null");
	assert_non_null(strstr(doc, "\"topicName\": \"microscaling-demo\""));
	assert_non_null(strstr(doc, "\"channelName\": \"microscaling-demo\""));
	task_table_free(&tt);
}

static void test_envvar_source_wraps_errors_with_its_name(void **state)
{
	struct settings s = source("ENVVAR");
	struct task_table tt;
	struct err e = ERR_INIT;
	task_table_init(&tt);
	s.config_data = "{\"maxContainers\":1,\"apps\":[{\"name\":\"a\"}]}";
	assert_int_equal(config_load(&s, &tt, &e), 0);
	assert_int_equal(tt.len, 1);
	task_table_free(&tt);

	s.config_data = "{\"apps\":[{\"priority\":1}]}";
	assert_int_equal(config_load(&s, &tt, &e), -1);
	assert_string_equal(e.msg, "MSS_CONFIG_DATA: apps[0].name: required");
	s.config_data = "";
	assert_int_equal(config_load(&s, &tt, &e), -1);
	assert_msg_has(&e, "MSS_CONFIG_DATA: required");
	assert_int_equal(tt.len, 0);
}

static void test_server_source_is_left_to_the_agent(void **state)
{
	struct settings s = source("SERVER");
	struct task_table tt;
	struct err e = ERR_INIT;
	task_table_init(&tt);
	assert_int_equal(config_load(&s, &tt, &e), -1);
	assert_string_equal(e.msg, "MSS_CONFIG=SERVER is fetched over HTTP by the agent");
}

static char *temp_file(const char *content, size_t len)
{
	char *path = strdup("/tmp/test_config_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(content, 1, len, f), len);
	fclose(f);
	return path;
}

static void test_file_source_reads_the_file(void **state)
{
	const char *doc = "{\"maxContainers\":2,\"apps\":[{\"name\":\"a\",\"minContainers\":1,"
	                  "\"maxContainers\":2}]}";
	char *path = temp_file(doc, strlen(doc));
	struct settings s = source("FILE");
	struct task_table tt;
	struct err e = ERR_INIT;
	s.config_file = path;
	task_table_init(&tt);
	if (config_load(&s, &tt, &e) != 0)
		fail_msg("FILE: %s", e.msg);
	assert_int_equal(tt.len, 1);
	assert_int_equal(tt.budget.containers, 2);
	task_table_free(&tt);
	unlink(path);
	free(path);
}

static void test_file_source_errors_name_the_path(void **state)
{
	struct settings s = source("FILE");
	struct task_table tt;
	struct err e = ERR_INIT;
	char want[256];
	task_table_init(&tt);

	s.config_file = "/nonexistent/microscaler/apps.json";
	assert_int_equal(config_load(&s, &tt, &e), -1);
	assert_string_equal(e.msg, "MSS_CONFIG_FILE: /nonexistent/microscaler/apps.json: No such "
	                           "file or directory");

	s.config_file = "/tmp";
	assert_int_equal(config_load(&s, &tt, &e), -1);
	assert_msg_has(&e, "MSS_CONFIG_FILE: /tmp: ");

	char *path = temp_file("{\"apps\": [}", 11);
	s.config_file = path;
	assert_int_equal(config_load(&s, &tt, &e), -1);
	snprintf(want, sizeof want, "MSS_CONFIG_FILE: %s: config: malformed JSON at byte 10", path);
	assert_string_equal(e.msg, want);
	unlink(path);
	free(path);

	size_t big = (4u << 20) + 1;
	char *spaces = malloc(big);
	memset(spaces, ' ', big);
	path = temp_file(spaces, big);
	free(spaces);
	s.config_file = path;
	assert_int_equal(config_load(&s, &tt, &e), -1);
	snprintf(want, sizeof want, "MSS_CONFIG_FILE: %s: larger than 4 MiB", path);
	assert_string_equal(e.msg, want);
	assert_int_equal(tt.len, 0);
	unlink(path);
	free(path);
}

static void test_print_table_shows_tasks_and_budget(void **state)
{
	struct task_table tt;
	struct err e = ERR_INIT;
	char *buf = NULL;
	size_t len = 0;
	const char *doc = config_demo_json();
	task_table_init(&tt);
	assert_int_equal(config_parse_apps(doc, strlen(doc), NULL, &tt, &e), 0);
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	config_print_table(&tt, f);
	fclose(f);
	const char *want[] = {"NAME",
	                      "PRIO",
	                      "TARGET",
	                      "METRIC",
	                      "IMAGE",
	                      "COMMAND",
	                      "consumer",
	                      "Queue",
	                      "50",
	                      "Toy",
	                      "remainder",
	                      "Remainder",
	                      "Null",
	                      "busybox",
	                      "sh -c 'trap '\\''exit 0'\\'' TERM; while :; do sleep 1; done'",
	                      "budget: maxContainers 10"};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		if (!strstr(buf, want[i]))
			fail_msg("table lacks '%s':\n%s", want[i], buf);
	free(buf);
	task_table_free(&tt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_go_basic_match_gives_two_tasks_in_order),
	    cmocka_unit_test(test_go_envvar_example_gives_remainders_with_zero_bounds),
	    cmocka_unit_test(test_go_empty_json_is_an_error),
	    cmocka_unit_test(test_go_max_containers_as_string_is_an_error),
	    cmocka_unit_test(test_go_appendix_a_example),
	    cmocka_unit_test(test_defaults_of_a_bare_app),
	    cmocka_unit_test(test_empty_apps_array_is_valid),
	    cmocka_unit_test(test_keys_match_case_insensitively_like_go),
	    cmocka_unit_test(test_unknown_keys_are_ignored_and_null_is_absent),
	    cmocka_unit_test(test_max_step_is_max_minus_min_unless_max_delta),
	    cmocka_unit_test(test_queue_gains_come_from_settings_or_defaults),
	    cmocka_unit_test(test_target_value_is_a_fallback_for_target_queue_length),
	    cmocka_unit_test(test_every_container_field),
	    cmocka_unit_test(test_empty_strings_mean_unset),
	    cmocka_unit_test(test_command_string_splits_like_a_shell),
	    cmocka_unit_test(test_command_array_is_taken_as_argv),
	    cmocka_unit_test(test_bad_commands_are_refused),
	    cmocka_unit_test(test_env_as_array_or_object),
	    cmocka_unit_test(test_bad_env_is_refused),
	    cmocka_unit_test(test_bad_labels_are_refused),
	    cmocka_unit_test(test_memory_takes_bytes_or_suffixed_strings),
	    cmocka_unit_test(test_bad_memory_is_refused),
	    cmocka_unit_test(test_cpus_restart_policy_signal_and_timeouts),
	    cmocka_unit_test(test_container_fields_of_the_wrong_type_or_range),
	    cmocka_unit_test(test_app_fields_of_the_wrong_type_or_range),
	    cmocka_unit_test(test_config_must_be_an_object),
	    cmocka_unit_test(test_bad_names_are_refused),
	    cmocka_unit_test(test_duplicate_names_are_refused),
	    cmocka_unit_test(test_top_level_errors),
	    cmocka_unit_test(test_resource_budget),
	    cmocka_unit_test(test_sum_of_minimums_must_fit_the_budget),
	    cmocka_unit_test(test_malformed_json_reports_the_byte_offset),
	    cmocka_unit_test(test_failure_leaves_the_table_untouched),
	    cmocka_unit_test(test_demo_config_parses_fully),
	    cmocka_unit_test(test_hardcoded_config_loads_with_the_nsq_metric),
	    cmocka_unit_test(test_hardcoded_config_matches_go),
	    cmocka_unit_test(test_envvar_source_wraps_errors_with_its_name),
	    cmocka_unit_test(test_server_source_is_left_to_the_agent),
	    cmocka_unit_test(test_file_source_reads_the_file),
	    cmocka_unit_test(test_file_source_errors_name_the_path),
	    cmocka_unit_test(test_print_table_shows_tasks_and_budget),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
