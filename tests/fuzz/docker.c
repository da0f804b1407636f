/* Fuzz target: everything the Docker engine sends back. Input: one selector byte, then the body.
 * Selector & 7: 0 GET /version (negotiation), 1 GET /containers/json, 2 GET /events (a stream of
 * lines), 3 GET /containers/{id}/json, 4 POST /containers/create, 5 an error body through
 * http_check (status from the selector's high bits), 6 DOCKER_HOST, 7 two API versions compared
 * (separated by a newline). Selector bit 3 (list, events): adopt the Go program's label too. */
/* fuzz-flags: -max_len=16384 -dict=tests/fuzz/docker.dict */
#include "fuzz.h"

#include "scheduler/docker.h"
#include "utils/err.h"
#include "utils/http.h"

#define OWNER "default"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs(LOG_FMT_LOGFMT);
	return 0;
}

static bool is_id(const char *id)
{
	size_t n = strlen(id);
	return n >= 12 && n <= 64 && strspn(id, "0123456789abcdef") == n;
}

static void check_seen(const struct docker_seen *c)
{
	FUZZ_ASSERT(is_id(c->id));
	FUZZ_ASSERT(c->task[0] != '\0');
	FUZZ_ASSERT(memchr(c->task, '\0', sizeof c->task) &&
	            memchr(c->state, '\0', sizeof c->state));
}

static void on_listed(const struct docker_seen *c, void *arg)
{
	check_seen(c);
	++*(int *)arg;
}

/* Statuses an engine or a proxy in front of it may answer with. */
static const long statuses[] = {200, 204, 304, 400, 401,  403, 404, 409, 500, 502,
                                503, 0,   99,  600, 1000, -1,  302, 418, 429, 201};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint8_t sel = fuzz_byte(&in);
	bool legacy = sel & 8;
	struct err e = ERR_INIT;
	size_t len;
	char *body = fuzz_rest(&in, false, &len);
	switch (sel & 7) {
	case 0: {
		char v[16] = "";
		if (docker_negotiate(body, len, v, sizeof v, &e) == 0) {
			FUZZ_ASSERT(docker_version_cmp(v, DOCKER_API_MIN) >= 0 &&
			            docker_version_cmp(v, DOCKER_API_MAX) <= 0);
			FUZZ_ASSERT(strspn(v, "0123456789.") == strlen(v));
		} else {
			FUZZ_ASSERT(e.msg[0]);
		}
		break;
	}
	case 1: {
		int seen = 0;
		int n = docker_parse_list(body, len, OWNER, legacy, on_listed, &seen, &e);
		FUZZ_ASSERT(n == -1 ? seen == 0 && e.msg[0] : n == seen);
		break;
	}
	case 2: {
		/* As the backend reads the stream: newline-delimited, empty lines skipped. */
		size_t start = 0;
		for (size_t i = 0; i <= len; i++) {
			if (i < len && body[i] != '\n')
				continue;
			struct docker_event ev;
			if (i > start &&
			    docker_parse_event(body + start, i - start, OWNER, legacy, &ev) == 1) {
				check_seen(&ev.c);
				FUZZ_ASSERT(memchr(ev.action, '\0', sizeof ev.action));
				FUZZ_ASSERT(ev.exit_code >= -1000 && ev.exit_code <= 1000);
			}
			start = i + 1;
		}
		break;
	}
	case 3: {
		char st[16];
		if (docker_parse_inspect(body, len, st, sizeof st, &e) == 0)
			FUZZ_ASSERT(st[0] && memchr(st, '\0', sizeof st));
		break;
	}
	case 4: {
		char id[65];
		if (docker_parse_created(body, len, id, &e) == 0)
			FUZZ_ASSERT(is_id(id));
		break;
	}
	case 5: {
		/* http_check wants the NUL-terminated body the client always gives. */
		char *z = malloc(len + 1);
		if (len)
			memcpy(z, body, len);
		z[len] = '\0';
		struct http_response res = {.result = HTTP_OK,
		                            .status = statuses[(sel >> 3) % 20],
		                            .reason = "Reason",
		                            .error = "",
		                            .body = z,
		                            .body_len = len,
		                            .method = "GET",
		                            .url = "http://localhost/v1.41/containers/json"};
		int rc = http_check(&res, &e);
		bool ok = res.status >= 200 && res.status < 300;
		FUZZ_ASSERT(ok ? rc == 0 : rc == -1 && e.code == (int)res.status && e.msg[0]);
		FUZZ_ASSERT(!strchr(e.msg, '\n') && !strchr(e.msg, '\r'));
		free(z);
		break;
	}
	case 6: {
		char *host = malloc(len + 1);
		if (len)
			memcpy(host, body, len);
		host[len] = '\0';
		struct docker_endpoint ep;
		if (docker_parse_host(host, legacy, &ep, &e) == 0) {
			FUZZ_ASSERT(strncmp(ep.base_url, "http://", 7) == 0 ||
			            strncmp(ep.base_url, "https://", 8) == 0);
			FUZZ_ASSERT(!strpbrk(ep.base_url, " \r\n\t?#@"));
		}
		free(host);
		break;
	}
	default: {
		struct fuzz_in v = {(const uint8_t *)body, len};
		char *a = fuzz_field(&v, '\n', NULL), *b = fuzz_field(&v, '\n', NULL);
		int ab = docker_version_cmp(a, b), ba = docker_version_cmp(b, a);
		FUZZ_ASSERT((ab < 0) == (ba > 0) && (ab == 0) == (ba == 0));
		free(a);
		free(b);
	}
	}
	if (fuzz_verbose())
		fprintf(stderr, "docker %d: %s\n", sel & 7, e.msg);
	free(body);
	return 0;
}
