/* Fuzz target: HTTP API requests, from where libwebsockets hands them over (method, decoded path
 * and query, Authorization, Content-Length, Last-Event-ID, body) through what monitor/httpd.c does
 * with them (Content-Length parsed, the body capped, the 413 after a body over the cap) into
 * api_precheck and api_handle, the event stream's start, and a decision on the overrides.
 * Input: a flags byte, then requests separated by NUL bytes, each
 *   "METHOD /path?query\nAuthorization\nContent-Length\nLast-Event-ID\nbody"
 * (an empty header line: no such header). Flags: bit 0 config loaded, bit 1 backend ready,
 * bit 2 draining, bit 3 no token configured. */
/* fuzz-flags: -max_len=16384 -dict=tests/fuzz/api.dict */
#include "fuzz.h"
#include "fuzz_decide.h"

#include <cjson/cJSON.h>

#include "demand/config.h"
#include "monitor/api.h"
#include "utils/err.h"
#include "utils/strbuf.h"
#include "utils/util.h"

#define TOKEN "s3cret"

static const char apps[] =
    "{\"maxContainers\": 10, \"maxCpus\": 4, \"apps\": ["
    "{\"name\": \"web\", \"priority\": 1, \"minContainers\": 1, \"maxContainers\": 8, "
    "\"config\": {\"image\": \"a:1\", \"cpus\": 0.5}},"
    "{\"name\": \"worker\", \"priority\": 2, \"minContainers\": 0, \"maxContainers\": 5, "
    "\"ruleType\": \"Queue\", \"metricType\": \"Toy\", \"config\": {\"image\": \"b:1\"}},"
    "{\"name\": \"fixed.one\", \"priority\": 3, \"minContainers\": 1, \"maxContainers\": 1, "
    "\"isScalable\": false, \"config\": {\"image\": \"c:1\"}}]}";

struct state {
	struct task_table tt;
	struct telemetry tel;
	struct events events;
	struct api api;
	struct api_status st;
};

static void on_dry_run(void *arg, bool on)
{
	((struct state *)arg)->st.dry_run = on;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_JSON);
	return 0;
}

/* As httpd.c reads Content-Length: a bad or huge one counts as over the cap. */
static long long content_length(const char *text)
{
	long long n;
	if (!*text)
		return -1;
	return util_parse_long(text, 0, (long long)1 << 53, &n) == 0 ? n : API_MAX_BODY + 1;
}

static void check_answer(const struct api_response *r)
{
	FUZZ_ASSERT(r->status >= 100 && r->status <= 599);
	if (r->kind == API_STREAM)
		return;
	FUZZ_ASSERT(r->content_type);
	FUZZ_ASSERT(r->status != 405 || r->allow);
	FUZZ_ASSERT(r->status != 401 || r->auth_challenge);
	if (r->body) {
		FUZZ_ASSERT(strlen(r->body) == r->body_len);
		if (strncmp(r->content_type, "application/json", 16) == 0) {
			cJSON *j = cJSON_ParseWithLength(r->body, r->body_len);
			FUZZ_ASSERT(j);
			cJSON_Delete(j);
		}
	}
}

/* What an SSE follower gets first: the replay from its Last-Event-ID. */
static void stream(struct state *s, const char *last_id_text)
{
	long long id;
	long long last_id =
	    util_parse_long(last_id_text, 0, (long long)1 << 53, &id) == 0 ? id : -1;
	uint64_t cursor = events_start_cursor(&s->events, last_id);
	bool lost = false;
	const struct event *ev;
	struct strbuf b = {0};
	while ((ev = events_next(&s->events, cursor, &lost)) && !lost) {
		FUZZ_ASSERT(ev->seq > cursor);
		strbuf_printf(&b, "id: %llu\ndata: ", (unsigned long long)ev->seq);
		strbuf_add(&b, ev->json, ev->len);
		strbuf_puts(&b, "\n\n");
		FUZZ_ASSERT(!memchr(ev->json, '\n', ev->len)); /* one data: line per event */
		cursor = ev->seq;
	}
	strbuf_free(&b);
}

static void request(struct state *s, struct fuzz_in *in, uint64_t now)
{
	char *line = fuzz_field(in, '\n', NULL);
	char *auth = fuzz_field(in, '\n', NULL);
	char *cl = fuzz_field(in, '\n', NULL);
	char *last_id = fuzz_field(in, '\n', NULL);
	size_t body_len;
	char *body = fuzz_field(in, '\0', &body_len);
	char *sp = strchr(line, ' ');
	char *path = sp ? sp + 1 : line + strlen(line);
	if (sp)
		*sp = '\0';
	char *q = strchr(path, '?');
	if (q)
		*q++ = '\0';
	struct api_request rq = {.method = api_method_parse(line),
	                         .path = *path ? path : "/",
	                         .query = q ? q : "",
	                         .auth = *auth ? auth : NULL,
	                         .body = NULL,
	                         .body_len = 0,
	                         .content_length = content_length(cl)};
	struct api_response r;
	int refused = api_precheck(&s->api, &rq, &r);
	if (!refused && rq.content_length > 0 && (rq.method == API_POST || rq.method == API_PUT)) {
		/* The body as read: what arrived, cut at the cap (then the 413). */
		rq.body = body;
		rq.body_len = body_len > API_MAX_BODY ? API_MAX_BODY + 1 : body_len;
		if (rq.body_len > API_MAX_BODY) {
			api_response_free(&r);
			refused = api_precheck(&s->api, &rq, &r);
			FUZZ_ASSERT(refused == 413);
		}
	}
	if (!refused)
		api_handle(&s->api, &rq, &s->st, now, 1700000000000ULL + now, &r);
	check_answer(&r);
	if (fuzz_verbose())
		fprintf(stderr, "api: %s %s -> %d %.*s\n", line, path, r.status,
		        (int)(r.body_len > 200 ? 200 : r.body_len), r.body ? r.body : "");
	if (r.kind == API_STREAM)
		stream(s, last_id);
	api_response_free(&r);
	free(line);
	free(auth);
	free(cl);
	free(last_id);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t flags = fuzz_byte(&in);
	struct state s;
	struct err e = ERR_INIT;
	memset(&s, 0, sizeof s);
	task_table_init(&s.tt);
	FUZZ_ASSERT(config_parse_apps(apps, sizeof apps - 1, NULL, &s.tt, &e) == 0);
	telemetry_init(&s.tel);
	events_init(&s.events);
	api_init(&s.api);
	s.api.tasks = &s.tt;
	s.api.tel = &s.tel;
	s.api.events = &s.events;
	s.api.token = flags & 8 ? "" : TOKEN;
	s.api.set_dry_run = on_dry_run;
	s.api.arg = &s;
	s.st = (struct api_status){.scheduler = "TOY",
	                           .engine = "LOCAL",
	                           .config_loaded = flags & 1,
	                           .backend_ready = flags & 2,
	                           .backend_reachable = flags & 2,
	                           .draining = flags & 4,
	                           .cpu_seconds = -1,
	                           .rss_bytes = -1,
	                           .open_fds = -1};
	struct decision d;
	decision_init(&d);
	uint64_t now = 1000;
	for (int n = 0; in.n && n < 16; n++, now += 500) {
		request(&s, &in, now);
		/* The agent's round: overrides and pauses meet the decision. */
		for (size_t i = 0; i < s.tt.len; i++)
			s.tt.tasks[i]->want = (struct want){3, true, true, true, "fuzz"};
		decision_reset(&d);
		decide(&s.tt, now, DECIDE_NO_WALL, &d);
		fuzz_check_decision(&s.tt, &d);
		fuzz_carry_out(&s.tt);
		events_observe(&s.events, &s.tt, 1700000000000ULL + now);
		api_sample(&s.api, 1700000000000ULL + now);
	}
	decision_free(&d);
	api_free(&s.api);
	events_free(&s.events);
	telemetry_free(&s.tel);
	task_table_free(&s.tt);
	return 0;
}
