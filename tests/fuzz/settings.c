/* Fuzz target: the environment microscaler reads. Input: lines "NAME=value" for any of the
 * settings_defs variables (others are ignored; the rest stay unset), then settings_load and what
 * the backends do with the values it accepts: DOCKER_HOST, MSS_API_ADDRESS, MSS_MARATHON_API and
 * MSS_MARATHON_TOKEN parsed as at start-up. */
/* fuzz-flags: -max_len=4096 -dict=tests/fuzz/settings.dict */
#include "fuzz.h"

#include "scheduler/docker.h"
#include "scheduler/marathon.h"
#include "utils/err.h"
#include "utils/http.h"
#include "utils/settings.h"
#include "utils/ws.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_LOGFMT);
	unsetenv("TZDIR");
	return 0;
}

static bool known(const char *name)
{
	for (const struct setting_def *d = settings_defs; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return true;
	return false;
}

static void after_load(const struct settings *s)
{
	struct err e = ERR_INIT;
	FUZZ_ASSERT(s->tick_ms >= 10 && s->tick_ms <= 60000);
	FUZZ_ASSERT(s->http_port >= 0 && s->http_port <= 65535);
	FUZZ_ASSERT(memchr(s->http_host, '\0', sizeof s->http_host));
	FUZZ_ASSERT(s->api_max_frame >= 1024 && s->docker_concurrency >= 1);
	struct docker_endpoint ep;
	(void)docker_parse_host(s->docker_host, s->docker_tls_verify, &ep, &e);
	struct ws_url u;
	FUZZ_ASSERT(ws_parse_url(s->api_address, &u, &e) == 0); /* settings_load checked it */
	char hp[300];
	ws_url_hostport(&u, hp, sizeof hp);
	FUZZ_ASSERT(u.port > 0 && u.port <= 65535 && !strpbrk(hp, " \r\n/"));
	char url[512], hdr[1024];
	(void)marathon_base_url(s->marathon_api, url, sizeof url, &e);
	if (*s->marathon_token)
		(void)marathon_token_header(s->marathon_token, hdr, sizeof hdr, &e);
	/* MSS_CONFIG=SERVER: GET http(s)://host/apps/<MSS_USER_ID>, the user escaped. */
	char *user = http_escape(s->user_id);
	FUZZ_ASSERT(user);
	FUZZ_ASSERT(
	    strspn(user, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%") ==
	    strlen(user));
	free(user);
	for (const struct setting_def *d = settings_defs; d->name; d++)
		FUZZ_ASSERT(settings_value(d->name) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (const struct setting_def *d = settings_defs; d->name; d++)
		unsetenv(d->name);
	struct fuzz_in in = {data, size};
	while (in.n) {
		char *line = fuzz_field(&in, '\n', NULL);
		char *eq = strchr(line, '=');
		if (eq) {
			*eq = '\0';
			if (known(line))
				setenv(line, eq + 1, 1);
		}
		free(line);
	}
	struct settings s;
	struct err e = ERR_INIT;
	if (settings_load(&s, &e) == 0)
		after_load(&s);
	else
		FUZZ_ASSERT(e.msg[0] && !strpbrk(e.msg, "\r\n"));
	if (fuzz_verbose())
		fprintf(stderr, "settings: %s\n", e.msg[0] ? e.msg : "ok");
	return 0;
}
