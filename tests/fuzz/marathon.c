/* Fuzz target: what Marathon sends back, and the strings its settings and app ids go through.
 * Input: one selector byte, then the body. Selector % 5: 0 GET /v2/apps, 1 a 409 body's
 * deployments, 2 MSS_MARATHON_API, 3 an app id (config.service or the task name),
 * 4 MSS_MARATHON_TOKEN. */
/* fuzz-flags: -max_len=16384 -dict=tests/fuzz/marathon.dict */
#include "fuzz.h"

#include "scheduler/marathon.h"
#include "utils/err.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_LOGFMT);
	return 0;
}

static void on_app(const struct marathon_app *a, void *arg)
{
	FUZZ_ASSERT(memchr(a->id, '\0', sizeof a->id));
	FUZZ_ASSERT(a->instances >= 0 && a->instances <= 1000000);
	FUZZ_ASSERT(a->tasks_running >= 0 && a->tasks_healthy >= 0 && a->tasks_staged >= 0);
	FUZZ_ASSERT(a->deployments >= 0);
	++*(int *)arg;
}

/* No byte that would split a header or a URL. */
static bool clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t sel = fuzz_byte(&in);
	struct err e = ERR_INIT;
	size_t len;
	bool text = sel % 5 >= 2; /* settings and ids arrive as C strings */
	char *body = fuzz_rest(&in, text, &len);
	switch (sel % 5) {
	case 0: {
		int seen = 0;
		int n = marathon_parse_apps(body, len, on_app, &seen, &e);
		FUZZ_ASSERT(n == -1 ? seen == 0 && e.msg[0] : n == seen);
		break;
	}
	case 1: {
		/* The backend's buffer, and a small one that truncates. */
		char ids[512], small[8];
		marathon_parse_locked(body, len, ids, sizeof ids);
		marathon_parse_locked(body, len, small, sizeof small);
		FUZZ_ASSERT(memchr(ids, '\0', sizeof ids) && memchr(small, '\0', sizeof small));
		break;
	}
	case 2: {
		char url[512];
		if (marathon_base_url(body, url, sizeof url, &e) == 0) {
			size_t n = strlen(url);
			FUZZ_ASSERT(n >= 4 && strcmp(url + n - 4, "/v2/") == 0 && clean(url));
			FUZZ_ASSERT(!strpbrk(url, " ?#"));
		}
		break;
	}
	case 3: {
		char id[256];
		if (marathon_app_id(body, id, sizeof id, &e) == 0) {
			FUZZ_ASSERT(id[0] == '/' && id[1] && clean(id));
			FUZZ_ASSERT(!strstr(id, "//") && id[strlen(id) - 1] != '/');
			/* Already absolute: the same id again. */
			char again[256];
			FUZZ_ASSERT(marathon_app_id(id, again, sizeof again, &e) == 0 &&
			            strcmp(id, again) == 0);
		}
		break;
	}
	default: {
		char hdr[1024];
		if (marathon_token_header(body, hdr, sizeof hdr, &e) == 0)
			FUZZ_ASSERT(strncmp(hdr, "Authorization: ", 15) == 0 && clean(hdr));
	}
	}
	if (fuzz_verbose())
		fprintf(stderr, "marathon %d: %s\n", sel % 5, e.msg);
	free(body);
	return 0;
}
