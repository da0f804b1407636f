/* Settings: defaults, every accepted value, and every bad value refused with the variable named. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils/settings.h"

extern char **environ;

/* Every test starts from an environment without MSS_* and DOCKER_* variables. */
static int clear_env(void **state)
{
	char names[256][64];
	size_t n = 0;
	for (char **p = environ; *p && n < 256; p++) {
		const char *eq = strchr(*p, '=');
		size_t len = eq ? (size_t)(eq - *p) : strlen(*p);
		bool ours = strncmp(*p, "MSS_", 4) == 0 || strncmp(*p, "DOCKER_", 7) == 0;
		if (ours && len < sizeof names[0]) {
			memcpy(names[n], *p, len);
			names[n++][len] = '\0';
		}
	}
	for (size_t i = 0; i < n; i++)
		unsetenv(names[i]);
	return 0;
}

#define assert_msg_has(e, needle)                                                                  \
	do {                                                                                       \
		if (!strstr((e)->msg, (needle)))                                                   \
			fail_msg("error '%s' does not contain '%s'", (e)->msg, (needle));          \
	} while (0)

static void load_ok(struct settings *s)
{
	struct err e = ERR_INIT;
	if (settings_load(s, &e) != 0)
		fail_msg("settings_load failed: %s", e.msg);
}

/* Set var=val, expect a failure whose message names var and contains needle. */
static void expect_bad(const char *var, const char *val, const char *needle)
{
	struct settings s;
	struct err e = ERR_INIT;
	setenv(var, val, 1);
	if (settings_load(&s, &e) != -1)
		fail_msg("%s='%s' was accepted", var, val);
	assert_msg_has(&e, var);
	assert_msg_has(&e, needle);
	assert_null(strchr(e.msg, '\n'));
	unsetenv(var);
}

static void test_defaults_when_nothing_is_set(void **state)
{
	struct settings s;
	load_ok(&s);
	assert_string_equal(s.scheduler, "DOCKER");
	assert_string_equal(s.engine, "LOCAL");
	assert_string_equal(s.config, "SERVER");
	assert_string_equal(s.config_data, "");
	assert_string_equal(s.config_file, "");
	assert_string_equal(s.monitor, "SERVER");
	assert_string_equal(s.user_id, "5k5gk");
	assert_string_equal(s.api_address, "app.microscaling.com");
	assert_true(s.pull_images);
	assert_string_equal(s.log_debug, "none");
	assert_int_equal(s.log_format, LOG_FMT_LOGFMT);
	assert_string_equal(s.docker_host, "unix:///var/run/docker.sock");
	assert_string_equal(s.marathon_api, "http://localhost:8080");
	assert_string_equal(s.instance_id, "default");
	assert_float_equal(s.gains.kp, 0.04, 1e-12);
	assert_float_equal(s.gains.ki, 0, 1e-12);
	assert_float_equal(s.gains.kd, 1.25, 1e-12);
	assert_int_equal(s.gains.vel_samples, 1);
	assert_int_equal(s.tick_ms, 500);
	assert_int_equal(s.shutdown_timeout_ms, 30000);
	assert_int_equal(s.toy_start_ms, 300);
	assert_int_equal(s.toy_stop_ms, 200);
}

static void test_every_table_row_has_name_default_and_help(void **state)
{
	size_t n = 0;
	for (const struct setting_def *d = settings_defs; d->name; d++, n++) {
		assert_non_null(d->def);
		assert_non_null(d->help);
		assert_true(strlen(d->help) > 0);
		assert_string_equal(settings_value(d->name), d->def);
	}
	assert_true(n >= 25);
}

static void test_empty_value_means_default(void **state)
{
	struct settings s;
	const char *vars[] = {"MSS_SCHEDULER", "MSS_CONFIG", "MSS_TICK_MS", "MSS_PULL_IMAGES",
	                      "MSS_KU",        "MSS_KP",     "MSS_USER_ID", "MSS_SHUTDOWN_TIMEOUT"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		setenv(vars[i], "", 1);
	load_ok(&s);
	assert_string_equal(s.scheduler, "DOCKER");
	assert_string_equal(s.config, "SERVER");
	assert_int_equal(s.tick_ms, 500);
	assert_true(s.pull_images);
	assert_float_equal(s.gains.kp, 0.04, 1e-12);
	assert_string_equal(s.user_id, "5k5gk");
	assert_int_equal(s.shutdown_timeout_ms, 30000);
	assert_string_equal(settings_value("MSS_TICK_MS"), "500");
}

static void test_settings_value_prefers_the_environment(void **state)
{
	setenv("MSS_USER_ID", "hello", 1);
	assert_string_equal(settings_value("MSS_USER_ID"), "hello");
	assert_string_equal(settings_value("MSS_API_ADDRESS"), "app.microscaling.com");
	assert_null(settings_value("MSS_NO_SUCH_SETTING"));
}

/* Go settings_test TestSettings. */
static void test_strings_are_taken_verbatim(void **state)
{
	struct settings s;
	setenv("MSS_USER_ID", "hello", 1);
	setenv("MSS_API_ADDRESS", "localhost:8000", 1);
	setenv("MSS_MONITOR", "none", 1);
	setenv("MSS_LOG_DEBUG", "mssengine,mssscheduler", 1);
	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	setenv("MSS_MARATHON_API", "http://marathon:8080", 1);
	load_ok(&s);
	assert_string_equal(s.user_id, "hello");
	assert_string_equal(s.api_address, "localhost:8000");
	assert_string_equal(s.monitor, "none");
	assert_string_equal(s.log_debug, "mssengine,mssscheduler");
	assert_string_equal(s.docker_host, "tcp://127.0.0.1:2375");
	assert_string_equal(s.marathon_api, "http://marathon:8080");
}

static void test_scheduler_accepts_each_backend(void **state)
{
	const char *ok[] = {"TOY", "DOCKER", "SWARM", "MARATHON"};
	for (size_t i = 0; i < 4; i++) {
		struct settings s;
		setenv("MSS_SCHEDULER", ok[i], 1);
		load_ok(&s);
		assert_string_equal(s.scheduler, ok[i]);
	}
}

static void test_scheduler_refuses_unsupported_backends(void **state)
{
	const char *gone[] = {"KUBERNETES", "ECS", "NOMAD"};
	for (size_t i = 0; i < 3; i++) {
		struct settings s;
		struct err e = ERR_INIT;
		char want[128];
		setenv("MSS_SCHEDULER", gone[i], 1);
		assert_int_equal(settings_load(&s, &e), -1);
		snprintf(want, sizeof want, "MSS_SCHEDULER: %s is not supported by microscaler",
		         gone[i]);
		assert_string_equal(e.msg, want);
	}
}

static void test_scheduler_refuses_unknown_values(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;
	setenv("MSS_SCHEDULER", "BLAH", 1);
	assert_int_equal(settings_load(&s, &e), -1);
	assert_string_equal(e.msg, "MSS_SCHEDULER: unknown value 'BLAH' (want TOY, DOCKER, SWARM "
	                           "or MARATHON)");
	/* Values are case-sensitive, as in Go. */
	expect_bad("MSS_SCHEDULER", "toy", "unknown value 'toy'");
	expect_bad("MSS_SCHEDULER", "COMPOSE", "unknown value");
}

static void test_engine_accepts_local_server_and_remote_alias(void **state)
{
	struct settings s;
	setenv("MSS_DEMAND_ENGINE", "SERVER", 1);
	load_ok(&s);
	assert_string_equal(s.engine, "SERVER");
	setenv("MSS_DEMAND_ENGINE", "REMOTE", 1);
	load_ok(&s);
	assert_string_equal(s.engine, "SERVER");
	setenv("MSS_DEMAND_ENGINE", "LOCAL", 1);
	load_ok(&s);
	assert_string_equal(s.engine, "LOCAL");
}

static void test_engine_refuses_unknown_values(void **state)
{
	expect_bad("MSS_DEMAND_ENGINE", "local", "unknown value 'local' (want LOCAL or SERVER)");
	expect_bad("MSS_DEMAND_ENGINE", "RNG", "unknown value");
}

static void test_config_accepts_each_source(void **state)
{
	struct settings s;
	const char *plain[] = {"SERVER", "HARDCODED", "DEMO"};
	for (size_t i = 0; i < 3; i++) {
		setenv("MSS_CONFIG", plain[i], 1);
		load_ok(&s);
		assert_string_equal(s.config, plain[i]);
	}
	setenv("MSS_CONFIG", "ENVVAR", 1);
	setenv("MSS_CONFIG_DATA", "{\"apps\":[]}", 1);
	load_ok(&s);
	assert_string_equal(s.config, "ENVVAR");
	assert_string_equal(s.config_data, "{\"apps\":[]}");
	setenv("MSS_CONFIG", "FILE", 1);
	setenv("MSS_CONFIG_FILE", "/etc/microscaler/apps.json", 1);
	load_ok(&s);
	assert_string_equal(s.config, "FILE");
	assert_string_equal(s.config_file, "/etc/microscaler/apps.json");
}

static void test_config_refuses_label_and_unknown_sources(void **state)
{
	expect_bad("MSS_CONFIG", "LABEL", "LABEL is not supported by microscaler");
	expect_bad("MSS_CONFIG", "LABEL", "MicroBadger");
	expect_bad("MSS_CONFIG", "Blah", "unknown value 'Blah'");
}

static void test_config_file_requires_a_path(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;
	setenv("MSS_CONFIG", "FILE", 1);
	assert_int_equal(settings_load(&s, &e), -1);
	assert_string_equal(e.msg, "MSS_CONFIG_FILE: required when MSS_CONFIG=FILE");
}

static void test_config_envvar_requires_data(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;
	setenv("MSS_CONFIG", "ENVVAR", 1);
	setenv("MSS_CONFIG_DATA", "", 1);
	assert_int_equal(settings_load(&s, &e), -1);
	assert_string_equal(e.msg, "MSS_CONFIG_DATA: required when MSS_CONFIG=ENVVAR");
}

static void test_bools_accept_exactly_true_false_1_0(void **state)
{
	const char *vars[] = {"MSS_PULL_IMAGES", "MSS_SEND_METRICS_TO_API"};
	struct settings s;
	setenv("MSS_PULL_IMAGES", "false", 1);
	load_ok(&s);
	assert_false(s.pull_images);
	setenv("MSS_PULL_IMAGES", "1", 1);
	load_ok(&s);
	assert_true(s.pull_images);
	setenv("MSS_PULL_IMAGES", "0", 1);
	load_ok(&s);
	assert_false(s.pull_images);
	setenv("MSS_PULL_IMAGES", "true", 1);
	load_ok(&s);
	assert_true(s.pull_images);
	setenv("MSS_SEND_METRICS_TO_API", "false", 1);
	load_ok(&s);
	/* Go treated "TRUE" as false without a word. */
	for (size_t i = 0; i < 2; i++) {
		expect_bad(vars[i], "TRUE", "expected true, false, 1 or 0, got 'TRUE'");
		expect_bad(vars[i], "yes", "got 'yes'");
		expect_bad(vars[i], " true", "expected true");
	}
}

static void test_log_format_logfmt_or_json(void **state)
{
	struct settings s;
	setenv("MSS_LOG_FORMAT", "json", 1);
	load_ok(&s);
	assert_int_equal(s.log_format, LOG_FMT_JSON);
	setenv("MSS_LOG_FORMAT", "logfmt", 1);
	load_ok(&s);
	assert_int_equal(s.log_format, LOG_FMT_LOGFMT);
	expect_bad("MSS_LOG_FORMAT", "JSON", "unknown value 'JSON' (want logfmt or json)");
}

static void test_instance_id_alphabet_and_length(void **state)
{
	struct settings s;
	char long_id[80];
	memset(long_id, 'a', 63);
	long_id[63] = '\0';
	setenv("MSS_INSTANCE_ID", long_id, 1);
	load_ok(&s);
	assert_string_equal(s.instance_id, long_id);
	setenv("MSS_INSTANCE_ID", "prod-eu_1.a", 1);
	load_ok(&s);
	assert_string_equal(s.instance_id, "prod-eu_1.a");
	long_id[63] = 'a';
	long_id[64] = '\0';
	expect_bad("MSS_INSTANCE_ID", long_id, "expected 1 to 63 characters");
	expect_bad("MSS_INSTANCE_ID", "a b", "got 'a b'");
	expect_bad("MSS_INSTANCE_ID", "a/b", "got 'a/b'");
	expect_bad("MSS_INSTANCE_ID", "a=b", "got 'a=b'");
}

static void test_gain_defaults_derive_from_ku_and_tu(void **state)
{
	struct settings s;
	setenv("MSS_KU", "0.1", 1);
	setenv("MSS_TU", "16", 1);
	load_ok(&s);
	assert_float_equal(s.gains.kp, 0.08, 1e-12);
	assert_float_equal(s.gains.kd, 2, 1e-12);
	assert_float_equal(s.gains.ki, 0, 1e-12);
}

static void test_explicit_gains_override_the_derived_ones(void **state)
{
	struct settings s;
	setenv("MSS_KU", "0.1", 1);
	setenv("MSS_KP", "1", 1);
	setenv("MSS_KI", "0.25", 1);
	setenv("MSS_KD", "0", 1);
	setenv("MSS_VEL_SAMPLES", "100", 1);
	load_ok(&s);
	assert_float_equal(s.gains.kp, 1, 1e-12);
	assert_float_equal(s.gains.ki, 0.25, 1e-12);
	assert_float_equal(s.gains.kd, 0, 1e-12);
	assert_int_equal(s.gains.vel_samples, 100);
}

static void test_bad_gains_are_errors_not_warnings(void **state)
{
	const char *vars[] = {"MSS_KU", "MSS_TU", "MSS_KP", "MSS_KI", "MSS_KD"};
	const char *bad[] = {"abc", "-1", "nan", "inf", "1x", " 1", "0.5 "};
	for (size_t i = 0; i < 5; i++)
		for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++)
			expect_bad(vars[i], bad[j], "expected a number >= 0");
	expect_bad("MSS_KP", "abc", "MSS_KP: expected a number >= 0, got 'abc'");
}

static void test_vel_samples_range(void **state)
{
	struct settings s;
	setenv("MSS_VEL_SAMPLES", "1", 1);
	load_ok(&s);
	assert_int_equal(s.gains.vel_samples, 1);
	expect_bad("MSS_VEL_SAMPLES", "0", "expected an integer from 1 to 100, got '0'");
	expect_bad("MSS_VEL_SAMPLES", "-1", "got '-1'");
	expect_bad("MSS_VEL_SAMPLES", "101", "got '101'");
	expect_bad("MSS_VEL_SAMPLES", "1.5", "got '1.5'");
	expect_bad("MSS_VEL_SAMPLES", "two", "got 'two'");
}

static void test_tick_ms_range(void **state)
{
	struct settings s;
	struct err e = ERR_INIT;
	setenv("MSS_TICK_MS", "10", 1);
	load_ok(&s);
	assert_int_equal(s.tick_ms, 10);
	setenv("MSS_TICK_MS", "60000", 1);
	load_ok(&s);
	assert_int_equal(s.tick_ms, 60000);
	setenv("MSS_TICK_MS", "abc", 1);
	assert_int_equal(settings_load(&s, &e), -1);
	assert_string_equal(e.msg, "MSS_TICK_MS: expected an integer from 10 to 60000, got 'abc'");
	expect_bad("MSS_TICK_MS", "9", "got '9'");
	expect_bad("MSS_TICK_MS", "60001", "got '60001'");
	expect_bad("MSS_TICK_MS", "-500", "got '-500'");
	expect_bad("MSS_TICK_MS", "500ms", "got '500ms'");
	expect_bad("MSS_TICK_MS", " 500", "got ' 500'");
	expect_bad("MSS_TICK_MS", "99999999999999999999", "expected an integer");
}

static void test_shutdown_timeout_is_seconds_stored_as_ms(void **state)
{
	struct settings s;
	setenv("MSS_SHUTDOWN_TIMEOUT", "0.5", 1);
	load_ok(&s);
	assert_int_equal(s.shutdown_timeout_ms, 500);
	setenv("MSS_SHUTDOWN_TIMEOUT", "86400", 1);
	load_ok(&s);
	assert_int_equal(s.shutdown_timeout_ms, 86400000);
	setenv("MSS_SHUTDOWN_TIMEOUT", "0.0001", 1);
	load_ok(&s);
	assert_int_equal(s.shutdown_timeout_ms, 1);
	expect_bad("MSS_SHUTDOWN_TIMEOUT", "0", "expected seconds above 0 and at most 86400");
	expect_bad("MSS_SHUTDOWN_TIMEOUT", "-1", "got '-1'");
	expect_bad("MSS_SHUTDOWN_TIMEOUT", "86401", "got '86401'");
	expect_bad("MSS_SHUTDOWN_TIMEOUT", "30s", "got '30s'");
	expect_bad("MSS_SHUTDOWN_TIMEOUT", "nan", "got 'nan'");
}

static void test_toy_delays_range(void **state)
{
	struct settings s;
	setenv("MSS_TOY_START_MS", "0", 1);
	setenv("MSS_TOY_STOP_MS", "600000", 1);
	load_ok(&s);
	assert_int_equal(s.toy_start_ms, 0);
	assert_int_equal(s.toy_stop_ms, 600000);
	expect_bad("MSS_TOY_START_MS", "600001", "expected an integer from 0 to 600000");
	expect_bad("MSS_TOY_STOP_MS", "-1", "got '-1'");
	expect_bad("MSS_TOY_STOP_MS", "fast", "got 'fast'");
}

static void test_docker_settings_defaults_and_cli_rules(void **state)
{
	struct settings s;
	load_ok(&s);
	assert_false(s.docker_tls_verify);
	assert_string_equal(s.docker_api_version, "");
	assert_int_equal(s.docker_concurrency, 32);
	assert_int_equal(s.reconcile_ms, 30000);
	setenv("DOCKER_TLS_VERIFY", "0", 1); /* the Docker CLI: any non-empty value verifies */
	setenv("DOCKER_API_VERSION", "1.41", 1);
	setenv("MSS_RECONCILE_S", "5", 1);
	load_ok(&s);
	assert_true(s.docker_tls_verify);
	assert_string_equal(s.docker_api_version, "1.41");
	assert_int_equal(s.reconcile_ms, 5000);
	unsetenv("DOCKER_TLS_VERIFY");
	unsetenv("DOCKER_API_VERSION");
	unsetenv("MSS_RECONCILE_S");
	expect_bad("DOCKER_API_VERSION", "v1.41", "like 1.41");
	expect_bad("DOCKER_API_VERSION", "1.", "like 1.41");
	expect_bad("MSS_DOCKER_CONCURRENCY", "0", "from 1 to 256");
	expect_bad("MSS_DOCKER_CONCURRENCY", "lots", "got 'lots'");
	expect_bad("MSS_RECONCILE_S", "3601", "from 1 to 3600");
}

static void test_marathon_settings_defaults_auth_and_force_after(void **state)
{
	struct settings s;
	load_ok(&s);
	assert_string_equal(s.marathon_user, "");
	assert_string_equal(s.marathon_password, "");
	assert_string_equal(s.marathon_token, "");
	assert_int_equal(s.marathon_force_after_ms, 0);
	setenv("MSS_MARATHON_USER", "ops", 1);
	setenv("MSS_MARATHON_PASSWORD", "s3cret", 1);
	setenv("MSS_MARATHON_TOKEN", "eyJ0", 1);
	setenv("MSS_MARATHON_FORCE_AFTER_S", "30", 1);
	load_ok(&s);
	assert_string_equal(s.marathon_user, "ops");
	assert_string_equal(s.marathon_password, "s3cret");
	assert_string_equal(s.marathon_token, "eyJ0");
	assert_int_equal(s.marathon_force_after_ms, 30000);
	unsetenv("MSS_MARATHON_USER");
	unsetenv("MSS_MARATHON_PASSWORD");
	unsetenv("MSS_MARATHON_TOKEN");
	unsetenv("MSS_MARATHON_FORCE_AFTER_S");
	expect_bad("MSS_MARATHON_FORCE_AFTER_S", "-1", "from 0 to 86400");
	expect_bad("MSS_MARATHON_FORCE_AFTER_S", "86401", "from 0 to 86400");
	expect_bad("MSS_MARATHON_FORCE_AFTER_S", "5s", "got '5s'");
}

static void test_api_and_remote_settings_defaults(void **state)
{
	struct settings s;
	load_ok(&s);
	assert_string_equal(s.api_token, "");
	assert_string_equal(s.api_ca_file, "");
	assert_false(s.api_insecure);
	assert_int_equal(s.api_max_frame, 1048576);
	assert_int_equal(s.api_keepalive_s, 20);
	assert_int_equal(s.remote_fallback, REMOTE_FALLBACK_HOLD);
	assert_int_equal(s.remote_fallback_after_ms, 30000);
}

static void test_api_address_accepts_the_go_form_and_ws_urls(void **state)
{
	struct settings s;
	const char *ok[] = {"localhost", "localhost:8000", "[::1]:9", "ws://h/x", "wss://h:8443/a?b=c"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		setenv("MSS_API_ADDRESS", ok[i], 1);
		load_ok(&s);
		assert_string_equal(s.api_address, ok[i]);
	}
}

static void test_api_address_bad_forms_name_the_variable(void **state)
{
	expect_bad("MSS_API_ADDRESS", "http://h", "scheme must be ws:// or wss://");
	expect_bad("MSS_API_ADDRESS", "h:99999", "port must be 1-65535");
	expect_bad("MSS_API_ADDRESS", "ws://u:p@h", "user info");
	/* ...without repeating the password. */
	struct settings s;
	struct err e = ERR_INIT;
	setenv("MSS_API_ADDRESS", "wss://u:pw-XYZ@h/", 1);
	assert_int_equal(settings_load(&s, &e), -1);
	assert_null(strstr(e.msg, "pw-XYZ"));
	unsetenv("MSS_API_ADDRESS");
	expect_bad("MSS_API_ADDRESS", "h x", "spaces");
}

static void test_api_tls_token_and_frame_settings(void **state)
{
	struct settings s;
	setenv("MSS_API_TOKEN", "s3cret.token-_~+/=", 1);
	setenv("MSS_API_CA_FILE", "/dev/null", 1);
	setenv("MSS_API_INSECURE", "true", 1);
	setenv("MSS_API_MAX_FRAME", "1024", 1);
	setenv("MSS_API_KEEPALIVE_S", "1", 1);
	load_ok(&s);
	assert_string_equal(s.api_token, "s3cret.token-_~+/=");
	assert_string_equal(s.api_ca_file, "/dev/null");
	assert_true(s.api_insecure);
	assert_int_equal(s.api_max_frame, 1024);
	assert_int_equal(s.api_keepalive_s, 1);
	unsetenv("MSS_API_CA_FILE");
	expect_bad("MSS_API_TOKEN", "two words", "spaces");
	expect_bad("MSS_API_CA_FILE", "/no/such/ca.pem", "cannot read '/no/such/ca.pem'");
	expect_bad("MSS_API_INSECURE", "yes", "expected true, false, 1 or 0");
	expect_bad("MSS_API_MAX_FRAME", "1023", "from 1024 to 268435456");
	expect_bad("MSS_API_MAX_FRAME", "1MiB", "expected an integer");
	expect_bad("MSS_API_KEEPALIVE_S", "0", "from 1 to 3600");
}

static void test_remote_fallback_policies_and_delay(void **state)
{
	struct settings s;
	const char *names[] = {"hold", "min", "local"};
	const enum remote_fallback want[] = {REMOTE_FALLBACK_HOLD, REMOTE_FALLBACK_MIN,
	                                     REMOTE_FALLBACK_LOCAL};
	for (size_t i = 0; i < 3; i++) {
		setenv("MSS_REMOTE_FALLBACK", names[i], 1);
		load_ok(&s);
		assert_int_equal(s.remote_fallback, want[i]);
	}
	setenv("MSS_REMOTE_FALLBACK_AFTER_S", "0.25", 1);
	load_ok(&s);
	assert_int_equal(s.remote_fallback_after_ms, 250);
	setenv("MSS_REMOTE_FALLBACK_AFTER_S", "0", 1);
	load_ok(&s);
	assert_int_equal(s.remote_fallback_after_ms, 0);
	unsetenv("MSS_REMOTE_FALLBACK_AFTER_S");
	expect_bad("MSS_REMOTE_FALLBACK", "HOLD", "unknown value 'HOLD' (want hold, min or local)");
	expect_bad("MSS_REMOTE_FALLBACK", "zero", "unknown value");
	expect_bad("MSS_REMOTE_FALLBACK_AFTER_S", "-1", "from 0 to 86400");
	expect_bad("MSS_REMOTE_FALLBACK_AFTER_S", "86401", "from 0 to 86400");
	expect_bad("MSS_REMOTE_FALLBACK_AFTER_S", "soon", "from 0 to 86400");
	expect_bad("MSS_REMOTE_FALLBACK_AFTER_S", " 3", "from 0 to 86400");
}

static void test_http_api_listens_on_loopback_9180_by_default_without_control(void **state)
{
	struct settings s;
	load_ok(&s);
	assert_true(s.http_enabled);
	assert_string_equal(s.http_addr, "127.0.0.1:9180");
	assert_string_equal(s.http_host, "127.0.0.1");
	assert_int_equal(s.http_port, 9180);
	assert_string_equal(s.http_token, "");
}

static void test_http_addr_set_but_empty_or_off_disables_the_api(void **state)
{
	struct settings s;
	setenv("MSS_HTTP_ADDR", "", 1);
	load_ok(&s);
	assert_false(s.http_enabled);
	assert_string_equal(s.http_addr, "");
	setenv("MSS_HTTP_ADDR", "off", 1);
	load_ok(&s);
	assert_false(s.http_enabled);
}

static void test_http_addr_accepts_ipv4_ipv6_localhost_and_every_interface(void **state)
{
	static const struct {
		const char *v, *host;
		int port;
	} ok[] = {
	    {"127.0.0.1:9180", "127.0.0.1", 9180}, {"0.0.0.0:80", "0.0.0.0", 80},
	    {"[::1]:9999", "::1", 9999},           {"localhost:8080", "127.0.0.1", 8080},
	    {":9180", "", 9180},                   {"*:9180", "", 9180},
	    {"127.0.0.1:0", "127.0.0.1", 0},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct settings s;
		setenv("MSS_HTTP_ADDR", ok[i].v, 1);
		load_ok(&s);
		assert_true(s.http_enabled);
		assert_string_equal(s.http_host, ok[i].host);
		assert_int_equal(s.http_port, ok[i].port);
	}
}

static void test_bad_http_addr_is_one_line_naming_the_variable(void **state)
{
	expect_bad("MSS_HTTP_ADDR", "9180", "expected host:port");
	expect_bad("MSS_HTTP_ADDR", "127.0.0.1", "expected host:port");
	expect_bad("MSS_HTTP_ADDR", "127.0.0.1:", "port must be 0-65535");
	expect_bad("MSS_HTTP_ADDR", "127.0.0.1:65536", "port must be 0-65535");
	expect_bad("MSS_HTTP_ADDR", "127.0.0.1:http", "port must be 0-65535");
	expect_bad("MSS_HTTP_ADDR", "127.0.0.1:-1", "port must be 0-65535");
	expect_bad("MSS_HTTP_ADDR", "example.com:80", "not an IPv4 address");
	expect_bad("MSS_HTTP_ADDR", "::1:80", "expected host:port");
	expect_bad("MSS_HTTP_ADDR", "[::1]80", "expected host:port");
	expect_bad("MSS_HTTP_ADDR", "[nope]:80", "not an IPv6 address");
	expect_bad("MSS_HTTP_ADDR", "256.1.1.1:80", "not an IPv4 address");
}

static void test_http_token_is_taken_and_refuses_spaces(void **state)
{
	struct settings s;
	setenv("MSS_HTTP_TOKEN", "s3cret-token", 1);
	load_ok(&s);
	assert_string_equal(s.http_token, "s3cret-token");
	expect_bad("MSS_HTTP_TOKEN", "two words", "spaces or control characters");
	expect_bad("MSS_HTTP_TOKEN", "tab\there", "spaces or control characters");
}

static void test_help_lists_every_setting_in_aligned_columns(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	settings_print_help(f);
	fclose(f);

	const char *line = buf;
	size_t def_col = 0, rows = 0;
	assert_int_equal(strncmp(line, "VARIABLE", 8), 0);
	def_col = (size_t)(strstr(line, "DEFAULT") - line);
	for (line = strchr(line, '\n') + 1; *line; line = strchr(line, '\n') + 1, rows++) {
		const struct setting_def *d = &settings_defs[rows];
		assert_non_null(d->name);
		assert_int_equal(strncmp(line, d->name, strlen(d->name)), 0);
		const char *def = *d->def ? d->def : "-";
		assert_int_equal(strncmp(line + def_col, def, strlen(def)), 0);
		assert_non_null(strstr(line, d->help));
	}
	assert_null(settings_defs[rows].name);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_defaults_when_nothing_is_set, clear_env),
	    cmocka_unit_test_setup(test_every_table_row_has_name_default_and_help, clear_env),
	    cmocka_unit_test_setup(test_empty_value_means_default, clear_env),
	    cmocka_unit_test_setup(test_settings_value_prefers_the_environment, clear_env),
	    cmocka_unit_test_setup(test_strings_are_taken_verbatim, clear_env),
	    cmocka_unit_test_setup(test_scheduler_accepts_each_backend, clear_env),
	    cmocka_unit_test_setup(test_scheduler_refuses_unsupported_backends, clear_env),
	    cmocka_unit_test_setup(test_scheduler_refuses_unknown_values, clear_env),
	    cmocka_unit_test_setup(test_engine_accepts_local_server_and_remote_alias, clear_env),
	    cmocka_unit_test_setup(test_engine_refuses_unknown_values, clear_env),
	    cmocka_unit_test_setup(test_config_accepts_each_source, clear_env),
	    cmocka_unit_test_setup(test_config_refuses_label_and_unknown_sources, clear_env),
	    cmocka_unit_test_setup(test_config_file_requires_a_path, clear_env),
	    cmocka_unit_test_setup(test_config_envvar_requires_data, clear_env),
	    cmocka_unit_test_setup(test_bools_accept_exactly_true_false_1_0, clear_env),
	    cmocka_unit_test_setup(test_log_format_logfmt_or_json, clear_env),
	    cmocka_unit_test_setup(test_instance_id_alphabet_and_length, clear_env),
	    cmocka_unit_test_setup(test_gain_defaults_derive_from_ku_and_tu, clear_env),
	    cmocka_unit_test_setup(test_explicit_gains_override_the_derived_ones, clear_env),
	    cmocka_unit_test_setup(test_bad_gains_are_errors_not_warnings, clear_env),
	    cmocka_unit_test_setup(test_vel_samples_range, clear_env),
	    cmocka_unit_test_setup(test_tick_ms_range, clear_env),
	    cmocka_unit_test_setup(test_shutdown_timeout_is_seconds_stored_as_ms, clear_env),
	    cmocka_unit_test_setup(test_toy_delays_range, clear_env),
	    cmocka_unit_test_setup(test_docker_settings_defaults_and_cli_rules, clear_env),
	    cmocka_unit_test_setup(test_marathon_settings_defaults_auth_and_force_after, clear_env),
	    cmocka_unit_test_setup(test_api_and_remote_settings_defaults, clear_env),
	    cmocka_unit_test_setup(test_api_address_accepts_the_go_form_and_ws_urls, clear_env),
	    cmocka_unit_test_setup(test_api_address_bad_forms_name_the_variable, clear_env),
	    cmocka_unit_test_setup(test_api_tls_token_and_frame_settings, clear_env),
	    cmocka_unit_test_setup(test_remote_fallback_policies_and_delay, clear_env),
	    cmocka_unit_test_setup(test_http_api_listens_on_loopback_9180_by_default_without_control,
				   clear_env),
	    cmocka_unit_test_setup(test_http_addr_set_but_empty_or_off_disables_the_api, clear_env),
	    cmocka_unit_test_setup(test_http_addr_accepts_ipv4_ipv6_localhost_and_every_interface,
				   clear_env),
	    cmocka_unit_test_setup(test_bad_http_addr_is_one_line_naming_the_variable, clear_env),
	    cmocka_unit_test_setup(test_http_token_is_taken_and_refuses_spaces, clear_env),
	    cmocka_unit_test_setup(test_help_lists_every_setting_in_aligned_columns, clear_env),
	};
	return cmocka_run_group_tests_name("settings", tests, NULL, NULL);
}
