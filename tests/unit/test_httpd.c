/* The HTTP API's server on a real loop: one libwebsockets context serving both the server and
 * the websocket client (ws.c follows /api/v1/events on it), answers read by the libcurl client on
 * the same loop, an SSE stream, a follower that stops reading being dropped, and the two-destroy
 * shutdown with everything open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor/httpd.h"
#include "utils/http.h"
#include "utils/log.h"
#include "utils/lwsctx.h"
#include "utils/util.h"
#include "utils/ws.h"

#define WATCHDOG_MS 8000
#define TOKEN       "tok"

struct fx {
	uv_loop_t loop;
	uv_timer_t pump, watchdog;
	bool expired;
	struct task_table tt;
	struct telemetry tel;
	struct events events;
	struct api api;
	struct lwsctx *lws;
	struct httpd *httpd;
	struct http *http;
	bool http_closed;
	char base[64];
	/* The websocket follower (ws.c on the same context). */
	struct ws *ws;
	int ws_ups, ws_messages;
	char ws_last[512];
	/* The latest answer. */
	int done;
	long status;
	char body[16384];
	char allow[64];
	char stream[8192];
	size_t stream_len;
};

static void on_pump(uv_timer_t *t)
{
}

static void on_watchdog(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, watchdog);
	f->expired = true;
}

#define RUN_UNTIL(f, cond)                                                                         \
	do {                                                                                       \
		(f)->expired = false;                                                              \
		uv_timer_start(&(f)->pump, on_pump, 2, 2);                                         \
		uv_timer_start(&(f)->watchdog, on_watchdog, WATCHDOG_MS, 0);                       \
		while (!(cond) && !(f)->expired)                                                   \
			uv_run(&(f)->loop, UV_RUN_ONCE);                                           \
		uv_timer_stop(&(f)->watchdog);                                                     \
		uv_timer_stop(&(f)->pump);                                                         \
		assert_true(cond);                                                                 \
	} while (0)

static void status_hook(void *arg, struct api_status *st)
{
	st->scheduler = "TOY";
	st->engine = "LOCAL";
	st->config_loaded = st->backend_ready = st->backend_reachable = true;
}

static void on_ws_message(const char *buf, size_t len, void *arg)
{
	struct fx *f = arg;
	f->ws_messages++;
	snprintf(f->ws_last, sizeof f->ws_last, "%.*s", (int)len, buf);
}

static void on_ws_link(bool up, void *arg)
{
	struct fx *f = arg;
	if (up)
		f->ws_ups++;
}

static struct fx *fx_start(void)
{
	struct fx *f = xcalloc(1, sizeof *f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->pump);
	uv_timer_init(&f->loop, &f->watchdog);
	task_table_init(&f->tt);
	f->tt.budget.containers = 5;
	struct task *t = task_new("web");
	t->max = 5;
	t->demand = t->requested = t->running = 2;
	task_table_add(&f->tt, t);
	telemetry_init(&f->tel);
	events_init(&f->events);
	api_init(&f->api);
	f->api.tasks = &f->tt;
	f->api.tel = &f->tel;
	f->api.events = &f->events;
	f->api.token = TOKEN;
	struct err e = ERR_INIT;
	f->lws = lwsctx_new(&f->loop, &(struct lwsctx_options){0}, &e);
	assert_non_null(f->lws);
	f->httpd = httpd_new(&f->loop,
	                     &(struct httpd_options){.host = "127.0.0.1",
	                                             .port = 0,
	                                             .lws = f->lws,
	                                             .api = &f->api,
	                                             .events = &f->events,
	                                             .status = status_hook,
	                                             .arg = f},
	                     &e);
	assert_non_null(f->httpd);
	assert_true(httpd_port(f->httpd) > 0);
	snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", httpd_port(f->httpd));
	f->http = http_new(&f->loop, &(struct http_options){.max_in_flight = 4});
	return f;
}

static void on_http_closed(struct http *h, void *arg)
{
	struct fx *f = arg;
	f->http_closed = true;
}

/* The documented order: first destroys (through close) inside the loop, drain, second destroy,
 * then the users, then the loop. */
static void fx_stop(struct fx *f)
{
	if (f->ws)
		ws_close(f->ws);
	httpd_close(f->httpd);
	lwsctx_close(f->lws);
	http_close(f->http, on_http_closed, f);
	uv_close((uv_handle_t *)&f->pump, NULL);
	uv_close((uv_handle_t *)&f->watchdog, NULL);
	while (uv_run(&f->loop, UV_RUN_DEFAULT) != 0)
		;
	assert_true(f->http_closed);
	lwsctx_free(f->lws);
	ws_free(f->ws);
	httpd_free(f->httpd);
	http_free(f->http);
	api_free(&f->api);
	events_free(&f->events);
	telemetry_free(&f->tel);
	task_table_free(&f->tt);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
}

static void on_done(struct http_req *req, const struct http_response *res, void *arg)
{
	struct fx *f = arg;
	f->done++;
	f->status = res->status;
	snprintf(f->body, sizeof f->body, "%.*s", (int)res->body_len, res->body);
	const char *allow = http_header(res, "allow");
	snprintf(f->allow, sizeof f->allow, "%s", allow ? allow : "");
}

static void on_data(struct http_req *req, const char *data, size_t len, void *arg)
{
	struct fx *f = arg;
	size_t room = sizeof f->stream - 1 - f->stream_len;
	if (len > room)
		len = room;
	memcpy(f->stream + f->stream_len, data, len);
	f->stream_len += len;
	f->stream[f->stream_len] = '\0';
}

static void request(struct fx *f, const char *method, const char *path, const char *bearer,
                    const char *body)
{
	char url[256];
	snprintf(url, sizeof url, "%s%s", f->base, path);
	struct err e = ERR_INIT;
	int before = f->done;
	assert_non_null(
	    http_start(f->http,
	               &(struct http_request){.method = method,
	                                      .url = url,
	                                      .bearer = bearer,
	                                      .body = body,
	                                      .content_type = body ? "application/json" : NULL,
	                                      .on_done = on_done,
	                                      .arg = f},
	               &e));
	RUN_UNTIL(f, f->done > before);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_answers_over_http_on_the_loop(void **state)
{
	struct fx *f = fx_start();
	request(f, "GET", "/healthz", NULL, NULL);
	assert_int_equal(f->status, 200);
	assert_string_equal(f->body, "{\"status\":\"ok\"}");
	request(f, "GET", "/metrics", NULL, NULL);
	assert_int_equal(f->status, 200);
	assert_non_null(strstr(f->body, "microscaler_task_running_containers{task=\"web\"} 2"));
	request(f, "GET", "/nope", NULL, NULL);
	assert_int_equal(f->status, 404);
	request(f, "DELETE", "/api/v1/tasks/web", TOKEN, NULL);
	assert_int_equal(f->status, 405);
	assert_string_equal(f->allow, "GET, HEAD, PUT");
	request(f, "POST", "/api/v1/pause", NULL, NULL);
	assert_int_equal(f->status, 401);
	request(f, "PUT", "/api/v1/tasks/web", TOKEN, "{\"max\":3}");
	assert_int_equal(f->status, 200);
	assert_int_equal(f->tt.tasks[0]->override_max, 3);
	request(f, "PUT", "/api/v1/tasks/web", TOKEN, "{\"max\":");
	assert_int_equal(f->status, 400);
	assert_non_null(strstr(f->body, "invalid JSON"));
	char *big = xmalloc(API_MAX_BODY + 2);
	memset(big, ' ', API_MAX_BODY + 1);
	big[API_MAX_BODY + 1] = '\0';
	request(f, "POST", "/api/v1/pause", TOKEN, big);
	free(big);
	assert_int_equal(f->status, 413);
	/* A long answer goes out in pieces: the dashboard page is well over one. */
	request(f, "GET", "/", NULL, NULL);
	assert_int_equal(f->status, 200);
	assert_non_null(strstr(f->body, "<html"));
	assert_true(f->tel.http_requests >= 8);
	fx_stop(f);
}

static void test_one_context_serves_the_websocket_client_and_the_server(void **state)
{
	struct fx *f = fx_start();
	events_control(&f->events, "*", "pause", "before the follower came", util_wall_ms());
	char addr[64];
	snprintf(addr, sizeof addr, "ws://127.0.0.1:%d/api/v1/events", httpd_port(f->httpd));
	struct ws_url url;
	struct err e = ERR_INIT;
	assert_int_equal(ws_parse_url(addr, &url, &e), 0);
	f->ws = ws_new(&f->loop,
	               &(struct ws_options){.url = &url,
	                                    .lws = f->lws,
	                                    .on_message = on_ws_message,
	                                    .on_link = on_ws_link,
	                                    .arg = f},
	               &e);
	assert_non_null(f->ws);
	ws_start(f->ws);
	/* The replay: what happened before it connected. */
	RUN_UNTIL(f, f->ws_messages == 1);
	assert_int_equal(f->ws_ups, 1);
	assert_non_null(strstr(f->ws_last, "before the follower came"));
	assert_int_equal(f->tel.stream_clients, 1);
	/* Then each new event, at once. */
	struct change c = {.task = f->tt.tasks[0], .from = 2, .to = 4};
	snprintf(c.reason, sizeof c.reason, "queue above target");
	events_scale(&f->events, &c, "requested", util_wall_ms());
	RUN_UNTIL(f, f->ws_messages == 2);
	assert_non_null(
	    strstr(f->ws_last, "\"type\":\"scale\",\"task\":\"web\",\"from\":2,\"to\":4"));
	fx_stop(f);
}

static void test_sse_replays_then_streams_with_ids(void **state)
{
	struct fx *f = fx_start();
	events_control(&f->events, "web", "pause", "one", util_wall_ms());
	char url[128];
	snprintf(url, sizeof url, "%s/api/v1/events?counts=1", f->base);
	struct err e = ERR_INIT;
	struct http_req *r = http_start(f->http,
	                                &(struct http_request){.url = url,
	                                                       .timeout_ms = HTTP_NO_TIMEOUT,
	                                                       .on_data = on_data,
	                                                       .on_done = on_done,
	                                                       .arg = f},
	                                &e);
	assert_non_null(r);
	RUN_UNTIL(f, strstr(f->stream, "\"reason\":\"one\""));
	assert_non_null(strstr(f->stream, "retry: 2000\n\n"));
	assert_non_null(strstr(f->stream, "id: 1\ndata: {\"seq\":1,"));
	/* The counts event comes with the stream and then each second. */
	RUN_UNTIL(f, strstr(f->stream, "event: counts\ndata: {"));
	events_control(&f->events, "web", "resume", "two", util_wall_ms());
	RUN_UNTIL(f, strstr(f->stream, "id: 2\ndata: {\"seq\":2,"));
	assert_int_equal(f->tel.stream_clients, 1);
	http_cancel(r);
	fx_stop(f);
}

/* A follower that stops reading never costs more than the ring: once it is a whole ring behind,
 * it is closed. */
static void test_a_follower_that_stops_reading_is_dropped(void **state)
{
	struct fx *f = fx_start();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 4096;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)httpd_port(f->httpd))};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	static const char req[] = "GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n";
	assert_int_equal(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
	RUN_UNTIL(f, f->tel.stream_clients == 1);
	/* Long events, many of them, never read: the kernel's buffers fill, then the ring passes
	 * the follower by. */
	char reason[110];
	memset(reason, 'x', sizeof reason - 1);
	reason[sizeof reason - 1] = '\0';
	for (int i = 0; i < 200000 && f->tel.stream_dropped == 0; i++) {
		events_control(&f->events, "web", "pause", reason, util_wall_ms());
		if (i % 256 == 0)
			uv_run(&f->loop, UV_RUN_NOWAIT);
	}
	RUN_UNTIL(f, f->tel.stream_dropped == 1 && f->tel.stream_clients == 0);
	close(fd);
	/* The server goes on. */
	request(f, "GET", "/healthz", NULL, NULL);
	assert_int_equal(f->status, 200);
	fx_stop(f);
}

static uint64_t ws_attempts(const struct ws *w)
{
	struct ws_stats st;
	ws_stats(w, &st);
	return st.attempts;
}

static void test_a_websocket_on_another_path_is_refused(void **state)
{
	struct fx *f = fx_start();
	char addr[64];
	snprintf(addr, sizeof addr, "ws://127.0.0.1:%d/metrics", httpd_port(f->httpd));
	struct ws_url url;
	struct err e = ERR_INIT;
	assert_int_equal(ws_parse_url(addr, &url, &e), 0);
	f->ws = ws_new(&f->loop,
	               &(struct ws_options){.url = &url,
	                                    .lws = f->lws,
	                                    .backoff_min_ms = 20,
	                                    .backoff_max_ms = 40,
	                                    .on_link = on_ws_link,
	                                    .arg = f},
	               &e);
	ws_start(f->ws);
	RUN_UNTIL(f, ws_attempts(f->ws) >= 3);
	assert_int_equal(f->ws_ups, 0);
	assert_int_equal(f->tel.stream_clients, 0);
	fx_stop(f);
}

int main(void)
{
	log_setup(LOG_FMT_LOGFMT, "", fopen("/dev/null", "w"));
	struct err e = ERR_INIT;
	http_global_init(&e);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_answers_over_http_on_the_loop),
	    cmocka_unit_test(test_one_context_serves_the_websocket_client_and_the_server),
	    cmocka_unit_test(test_sse_replays_then_streams_with_ids),
	    cmocka_unit_test(test_a_follower_that_stops_reading_is_dropped),
	    cmocka_unit_test(test_a_websocket_on_another_path_is_refused),
	};
	int rc = cmocka_run_group_tests_name("httpd", tests, NULL, NULL);
	http_global_cleanup();
	return rc;
}
