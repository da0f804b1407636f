/* The libuv/libcurl HTTP client against a real local server on the same loop (TCP and unix). */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cJSON.h>

#include "utils/http.h"
#include "http_test_server.h"

#define WATCHDOG_MS 10000

struct fx {
	uv_loop_t loop;
	uv_timer_t watchdog;
	bool expired;
	struct ts_server srv;
	struct http *http;
	bool closed;
	char tcp[64]; /* "http://127.0.0.1:<port>" */
	struct http_conn unix_conn;
};

/* What a request's callbacks saw. */
struct rec {
	struct fx *f;
	struct http_req *req;
	int done_calls;
	enum http_result result;
	long status;
	char body[8192];
	size_t body_len;
	char error[512];
	char api_version[32];
	char x_test[32];
	double elapsed_ms;
	int data_calls;
	int data_after_done;
	char stream[1024];
	size_t stream_len;
	int cancel_after_chunks; /* on_data cancels its request after this many (0: never) */
	bool close_in_data;      /* on_data closes the whole client */
	struct rec *chain;       /* on_data starts this request (re-entry) */
	int pushes_left;         /* on_data asks the server for this many more chunks */
};

/* Every test callback that can change a RUN_UNTIL condition calls this: in libuv 1.44 a callback
 * run from the timer phase (curl's timeouts) is followed by a poll that blocks until the next
 * event, so UV_RUN_ONCE would not come back to check the condition until then. */
static void wake(struct fx *f)
{
	uv_stop(&f->loop);
}

static void on_watchdog(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, watchdog);
	f->expired = true;
	wake(f);
}

/* Run the loop until `cond` holds; the watchdog turns a hang into a failure, never a sleep. */
#define RUN_UNTIL(f, cond)                                                                         \
	do {                                                                                       \
		uv_timer_start(&(f)->watchdog, on_watchdog, WATCHDOG_MS, 0);                       \
		while (!(cond) && !(f)->expired)                                                   \
			uv_run(&(f)->loop, UV_RUN_ONCE);                                           \
		uv_timer_stop(&(f)->watchdog);                                                     \
		assert_true(cond);                                                                 \
	} while (0)

static void fx_init(struct fx *f, const struct http_options *o)
{
	memset(f, 0, sizeof *f);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->watchdog);
	assert_int_equal(ts_start(&f->srv, &f->loop), 0);
	snprintf(f->tcp, sizeof f->tcp, "http://127.0.0.1:%d", f->srv.port);
	f->unix_conn.unix_socket = f->srv.sock_path;
	f->http = http_new(&f->loop, o);
	assert_non_null(f->http);
}

static void on_closed(struct http *h, void *arg)
{
	struct fx *f = arg;
	assert_ptr_equal(h, f->http);
	f->closed = true;
	wake(f);
}

static void fx_close_http(struct fx *f)
{
	http_close(f->http, on_closed, f);
	RUN_UNTIL(f, f->closed);
	http_free(f->http);
	f->http = NULL;
}

/* Close everything and prove nothing is left on the loop. */
static void fx_done(struct fx *f)
{
	if (f->http)
		fx_close_http(f);
	ts_stop(&f->srv);
	uv_close((uv_handle_t *)&f->watchdog, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f->srv.open_handles, 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	ts_cleanup(&f->srv);
}

static void on_done_rec(struct http_req *req, const struct http_response *res, void *arg)
{
	struct rec *r = arg;
	const char *v;
	assert_ptr_equal(req, r->req);
	r->done_calls++;
	r->result = res->result;
	r->status = res->status;
	r->body_len = res->body_len < sizeof r->body - 1 ? res->body_len : sizeof r->body - 1;
	memcpy(r->body, res->body, r->body_len);
	r->body[r->body_len] = '\0';
	snprintf(r->error, sizeof r->error, "%s", res->error);
	if ((v = http_header(res, "api-version")))
		snprintf(r->api_version, sizeof r->api_version, "%s", v);
	if ((v = http_header(res, "X-TEST")))
		snprintf(r->x_test, sizeof r->x_test, "%s", v);
	r->elapsed_ms = res->elapsed_ms;
	wake(r->f);
	/* A cancel from inside our own on_done is a no-op. */
	http_cancel(req);
}

static void on_data_rec(struct http_req *req, const char *data, size_t len, void *arg)
{
	struct rec *r = arg;
	struct err e = ERR_INIT;
	assert_ptr_equal(req, r->req);
	if (r->done_calls)
		r->data_after_done++;
	r->data_calls++;
	assert_true(r->stream_len + len < sizeof r->stream);
	memcpy(r->stream + r->stream_len, data, len);
	r->stream_len += len;
	r->stream[r->stream_len] = '\0';
	wake(r->f);
	if (r->chain && !r->chain->req) {
		r->chain->req =
		    http_start(r->f->http,
		               &(struct http_request){
		                   .url = r->f->tcp, .on_done = on_done_rec, .arg = r->chain},
		               &e);
		assert_non_null(r->chain->req);
	}
	if (r->close_in_data) {
		http_close(r->f->http, on_closed, r->f);
		return;
	}
	if (r->cancel_after_chunks && r->data_calls == r->cancel_after_chunks) {
		http_cancel(req);
		return;
	}
	/* The next chunk leaves the server only now: pieces provably arrive one by one. */
	if (r->pushes_left > 0) {
		char chunk[32];
		snprintf(chunk, sizeof chunk, "{\"n\":%d}\n", r->data_calls + 1);
		ts_stream_push(&r->f->srv, chunk);
		if (--r->pushes_left == 0)
			ts_stream_end(&r->f->srv);
	}
}

static struct http_req *start(struct fx *f, struct rec *r, struct http_request rq)
{
	struct err e = ERR_INIT;
	r->f = f;
	rq.on_done = on_done_rec;
	rq.arg = r;
	r->req = http_start(f->http, &rq, &e);
	if (!r->req)
		fail_msg("http_start: %s", e.msg);
	return r->req;
}

static char *url(struct fx *f, const char *path)
{
	static char buf[4][256];
	static int i;
	char *u = buf[i++ % 4];
	snprintf(u, sizeof buf[0], "%s%s", f->tcp, path);
	return u;
}

static void test_get_200_delivers_body_and_headers(void **state)
{
	struct fx f;
	struct rec r = {0};
	struct http_stats st;
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.url = url(&f, "/hello")});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.result, HTTP_OK);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "hello world");
	assert_string_equal(r.error, "");
	assert_string_equal(r.api_version, "1.41");
	assert_string_equal(r.x_test, "yes");
	assert_true(r.elapsed_ms > 0.0);
	assert_string_equal(f.srv.method, "GET");
	assert_non_null(strstr(f.srv.headers, "User-Agent: microscaler\r\n"));
	http_stats(f.http, &st);
	assert_int_equal(st.started, 1);
	assert_int_equal(st.completed, 1);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.bytes_in, 11);
	fx_done(&f);
}

static void test_post_json_body_reaches_server(void **state)
{
	struct fx f;
	struct rec r = {0};
	(void)state;
	fx_init(&f, NULL);
	cJSON *body = cJSON_CreateObject();
	cJSON_AddStringToObject(body, "Image", "app:v2");
	cJSON_AddNumberToObject(body, "n", 3);
	start(&f, &r,
	      (struct http_request){.method = "POST", .url = url(&f, "/echo"), .json = body});
	cJSON_Delete(body); /* serialised at once: the caller may drop it */
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.status, 201);
	assert_string_equal(f.srv.method, "POST");
	assert_string_equal(f.srv.path, "/echo");
	assert_string_equal(f.srv.content_type, "application/json");
	assert_string_equal(f.srv.body, "{\"Image\":\"app:v2\",\"n\":3}");
	assert_string_equal(r.body, "{\"Image\":\"app:v2\",\"n\":3}");
	assert_null(strstr(f.srv.headers, "Expect:"));
	fx_done(&f);
}

static void test_large_body_is_sent_without_expect_continue(void **state)
{
	struct fx f;
	struct rec r = {0};
	char big[3000];
	(void)state;
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	fx_init(&f, NULL);
	start(&f, &r,
	      (struct http_request){.method = "PUT",
	                            .url = url(&f, "/echo"),
	                            .body = big,
	                            .content_type = "text/plain"});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.status, 201);
	assert_string_equal(f.srv.method, "PUT");
	assert_int_equal(f.srv.content_length, (long)strlen(big));
	assert_string_equal(f.srv.body, big);
	assert_string_equal(f.srv.content_type, "text/plain");
	assert_null(strstr(f.srv.headers, "Expect:"));
	fx_done(&f);
}

static void test_empty_post_sends_zero_length_and_no_form_type(void **state)
{
	struct fx f;
	struct rec r = {0};
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.method = "POST", .url = url(&f, "/echo")});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.status, 201);
	assert_string_equal(f.srv.method, "POST");
	assert_int_equal(f.srv.content_length, 0);
	assert_null(strstr(f.srv.headers, "Content-Type"));
	fx_done(&f);
}

static void test_delete_uses_delete_method(void **state)
{
	struct fx f;
	struct rec r = {0};
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.method = "DELETE", .url = url(&f, "/thing")});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.result, HTTP_OK);
	assert_int_equal(r.status, 204);
	assert_string_equal(f.srv.method, "DELETE");
	assert_int_equal(r.body_len, 0);
	fx_done(&f);
}

static void test_404_error_body_delivered_and_checked(void **state)
{
	struct fx f;
	struct rec r = {0};
	struct err e = ERR_INIT;
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.url = url(&f, "/missing")});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.result, HTTP_OK);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "{\"message\":\"no such thing\"}");

	/* http_check turns it into a one-line error with the JSON message and the status code. */
	struct http_response res = {.result = HTTP_OK,
	                            .status = 404,
	                            .reason = "Not Found",
	                            .body = r.body,
	                            .body_len = r.body_len};
	assert_int_equal(http_check(&res, &e), -1);
	assert_string_equal(e.msg, "404 no such thing");
	assert_int_equal(e.code, 404);
	res = (struct http_response){.result = HTTP_OK,
	                             .status = 400,
	                             .reason = "Bad Request",
	                             .body = "\n client is too old\nmore",
	                             .body_len = 24};
	http_check(&res, &e);
	assert_string_equal(e.msg, "400 client is too old");
	res = (struct http_response){
	    .result = HTTP_OK, .status = 409, .reason = "Conflict", .body = "", .body_len = 0};
	http_check(&res, &e);
	assert_string_equal(e.msg, "409 Conflict");
	res = (struct http_response){.result = HTTP_OK, .status = 204, .body = ""};
	assert_int_equal(http_check(&res, &e), 0);
	fx_done(&f);
}

/* A message with line breaks (JSON escapes or raw) still makes a one-line error: errors end up
 * in plain-text lines (stderr at start-up, logfmt). Found by the docker fuzz target. */
static void test_check_error_from_a_multiline_message_stays_one_line(void **state)
{
	struct err e = ERR_INIT;
	(void)state;
	const char *body = "{\"message\":\"pull access denied\\nrepository does not exist\\r\"}";
	struct http_response res = {.result = HTTP_OK,
	                            .status = 500,
	                            .reason = "Internal Server Error",
	                            .body = body,
	                            .body_len = strlen(body)};
	assert_int_equal(http_check(&res, &e), -1);
	assert_string_equal(e.msg, "500 pull access denied repository does not exist ");
	res.body = "\x1b[31mred\tand more\r\nsecond line";
	res.body_len = strlen(res.body);
	assert_int_equal(http_check(&res, &e), -1);
	assert_string_equal(e.msg, "500  [31mred and more");
}

static void test_timeout_fires_when_server_never_answers(void **state)
{
	struct fx f;
	struct rec r = {0};
	struct err e = ERR_INIT;
	struct http_stats st;
	(void)state;
	fx_init(&f, &(struct http_options){.timeout_ms = 5000});
	start(&f, &r, (struct http_request){.url = url(&f, "/hang"), .timeout_ms = 200});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.result, HTTP_ERR_TIMEOUT);
	assert_int_equal(r.status, 0);
	assert_true(r.elapsed_ms >= 190.0 && r.elapsed_ms < 4000.0);
	assert_non_null(strstr(r.error, "timed out"));
	struct http_response res = {.result = HTTP_ERR_TIMEOUT, .error = r.error, .body = ""};
	assert_int_equal(http_check(&res, &e), -1);
	assert_int_equal(e.code, -1);
	http_stats(f.http, &st);
	assert_int_equal(st.failed, 1);
	fx_done(&f);
}

static void test_default_timeout_applies_when_request_sets_none(void **state)
{
	struct fx f;
	struct rec r = {0};
	(void)state;
	fx_init(&f, &(struct http_options){.timeout_ms = 150});
	start(&f, &r, (struct http_request){.url = url(&f, "/hang")});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.result, HTTP_ERR_TIMEOUT);
	assert_true(r.elapsed_ms >= 140.0);
	fx_done(&f);
}

static void test_in_flight_cap_respected_and_all_complete(void **state)
{
	struct fx f;
	struct rec r[20];
	struct http_stats st;
	int done = 0;
	(void)state;
	memset(r, 0, sizeof r);
	fx_init(&f, &(struct http_options){.max_in_flight = 4});
	for (int i = 0; i < 20; i++)
		start(&f, &r[i], (struct http_request){.url = url(&f, "/slow")});
	http_stats(f.http, &st);
	assert_int_equal(st.in_flight, 4);
	assert_int_equal(st.queued, 16);
	uv_timer_start(&f.watchdog, on_watchdog, WATCHDOG_MS, 0);
	while (done < 20 && !f.expired) {
		uv_run(&f.loop, UV_RUN_ONCE);
		http_stats(f.http, &st);
		assert_true(st.in_flight <= 4);
		assert_true(f.srv.active <= 4);
		done = 0;
		for (int i = 0; i < 20; i++)
			done += r[i].done_calls;
	}
	uv_timer_stop(&f.watchdog);
	assert_int_equal(done, 20);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(r[i].done_calls, 1);
		assert_int_equal(r[i].status, 200);
		assert_string_equal(r[i].body, "slow");
	}
	assert_int_equal(f.srv.max_active, 4);
	assert_true(f.srv.accepted <= 4);
	http_stats(f.http, &st);
	assert_int_equal(st.started, 20);
	assert_int_equal(st.completed, 20);
	assert_int_equal(st.queued, 0);
	fx_done(&f);
}

static void test_stream_delivers_chunks_before_completion(void **state)
{
	struct fx f;
	struct rec r = {.pushes_left = 3};
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r,
	      (struct http_request){.url = url(&f, "/stream"),
	                            .timeout_ms = HTTP_NO_TIMEOUT,
	                            .on_data = on_data_rec});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.result, HTTP_OK);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.data_calls, 4);
	assert_int_equal(r.data_after_done, 0);
	assert_string_equal(r.stream, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n");
	assert_int_equal(r.body_len, 0); /* streamed, not buffered */
	fx_done(&f);
}

static void test_stream_error_status_body_is_buffered(void **state)
{
	struct fx f;
	struct rec r = {0};
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.url = url(&f, "/missing"), .on_data = on_data_rec});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.data_calls, 0);
	assert_string_equal(r.body, "{\"message\":\"no such thing\"}");
	fx_done(&f);
}

static void test_cancel_in_flight_calls_back_once(void **state)
{
	struct fx f;
	struct rec r = {0};
	struct http_stats st;
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.url = url(&f, "/hang")});
	RUN_UNTIL(&f, f.srv.requests == 1);
	http_cancel(r.req);
	assert_int_equal(r.done_calls, 1); /* before http_cancel returned */
	assert_int_equal(r.result, HTTP_CANCELLED);
	assert_int_equal(r.status, 0);
	assert_string_equal(r.error, "cancelled");
	RUN_UNTIL(&f, f.srv.open_conns == 0); /* curl really dropped the connection */
	assert_int_equal(r.done_calls, 1);
	http_stats(f.http, &st);
	assert_int_equal(st.cancelled, 1);
	assert_int_equal(st.in_flight, 0);
	fx_done(&f);
}

static void test_cancel_from_inside_on_data_stops_stream(void **state)
{
	struct fx f;
	struct rec r = {.cancel_after_chunks = 1, .pushes_left = 3};
	(void)state;
	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.url = url(&f, "/stream"), .on_data = on_data_rec});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.result, HTTP_CANCELLED);
	RUN_UNTIL(&f, f.srv.open_conns == 0);
	ts_stream_push(&f.srv, "late\n"); /* nobody listens any more */
	assert_int_equal(r.done_calls, 1);
	assert_int_equal(r.data_calls, 1);
	fx_done(&f);
}

static void test_cancel_queued_request_never_reaches_server(void **state)
{
	struct fx f;
	struct rec a = {0}, b = {0};
	(void)state;
	fx_init(&f, &(struct http_options){.max_in_flight = 1});
	start(&f, &a, (struct http_request){.url = url(&f, "/hang")});
	start(&f, &b, (struct http_request){.url = url(&f, "/hello")});
	RUN_UNTIL(&f, f.srv.requests == 1);
	http_cancel(b.req);
	assert_int_equal(b.done_calls, 1);
	assert_int_equal(b.result, HTTP_CANCELLED);
	http_cancel(a.req);
	assert_int_equal(a.done_calls, 1);
	RUN_UNTIL(&f, f.srv.open_conns == 0);
	assert_int_equal(f.srv.requests, 1);
	fx_done(&f);
}

static void test_start_from_inside_on_data_runs_after_callback(void **state)
{
	struct fx f;
	struct rec chained = {0};
	struct rec r = {.chain = &chained, .pushes_left = 1};
	(void)state;
	fx_init(&f, NULL);
	chained.f = &f;
	start(&f, &r, (struct http_request){.url = url(&f, "/stream"), .on_data = on_data_rec});
	RUN_UNTIL(&f, r.done_calls && chained.done_calls);
	assert_int_equal(r.status, 200);
	assert_int_equal(chained.status, 404); /* the server root */
	fx_done(&f);
}

static void test_connection_refused_is_transport_error(void **state)
{
	struct fx f;
	struct rec r = {0}, u = {0};
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof a;
	char dead[64];
	(void)state;
	/* A port that was free a moment ago and has no listener now. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	snprintf(dead, sizeof dead, "http://127.0.0.1:%d/hello", ntohs(a.sin_port));

	fx_init(&f, NULL);
	start(&f, &r, (struct http_request){.url = dead});
	struct http_conn nosock = {.unix_socket = "/nonexistent/docker.sock"};
	start(&f, &u, (struct http_request){.url = "http://localhost/_ping", .conn = &nosock});
	RUN_UNTIL(&f, r.done_calls && u.done_calls);
	assert_int_equal(r.result, HTTP_ERR_TRANSPORT);
	assert_int_equal(r.status, 0);
	assert_true(strlen(r.error) > 0);
	assert_int_equal(u.result, HTTP_ERR_TRANSPORT);
	assert_true(strlen(u.error) > 0);
	fx_done(&f);
}

static void test_body_over_cap_is_error(void **state)
{
	struct fx f;
	struct rec r = {0}, ok = {0};
	(void)state;
	fx_init(&f, &(struct http_options){.max_body = 1000});
	start(&f, &r, (struct http_request){.url = url(&f, "/big")});
	start(&f, &ok, (struct http_request){.url = url(&f, "/hello")});
	RUN_UNTIL(&f, r.done_calls && ok.done_calls);
	assert_int_equal(r.result, HTTP_ERR_TOO_BIG);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(r.error, "response body over 1000 bytes");
	assert_int_equal(ok.status, 200);
	fx_done(&f);
}

static void test_close_with_requests_in_flight_completes_cleanly(void **state)
{
	struct fx f;
	struct rec r[5];
	struct err e = ERR_INIT;
	(void)state;
	memset(r, 0, sizeof r);
	fx_init(&f, &(struct http_options){.max_in_flight = 3});
	for (int i = 0; i < 5; i++)
		start(&f, &r[i], (struct http_request){.url = url(&f, "/hang")});
	RUN_UNTIL(&f, f.srv.requests == 3);
	http_close(f.http, on_closed, &f);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(r[i].done_calls, 1);
		assert_int_equal(r[i].result, HTTP_CANCELLED);
	}
	assert_false(f.closed); /* done comes from a close callback, later */
	assert_null(
	    http_start(f.http, &(struct http_request){.url = f.tcp, .on_done = on_done_rec}, &e));
	assert_non_null(strstr(e.msg, "closing"));
	http_close(f.http, on_closed, &f); /* twice: no-op */
	RUN_UNTIL(&f, f.closed);
	http_free(f.http);
	f.http = NULL;
	RUN_UNTIL(&f, f.srv.open_conns == 0);
	fx_done(&f);
}

static void test_close_from_inside_on_data_is_safe(void **state)
{
	struct fx f;
	struct rec s = {.close_in_data = true}, other = {0};
	(void)state;
	fx_init(&f, NULL);
	start(&f, &other, (struct http_request){.url = url(&f, "/hang")});
	start(&f, &s, (struct http_request){.url = url(&f, "/stream"), .on_data = on_data_rec});
	RUN_UNTIL(&f, f.closed);
	assert_int_equal(s.done_calls, 1);
	assert_int_equal(s.result, HTTP_CANCELLED);
	assert_int_equal(other.done_calls, 1);
	assert_int_equal(other.result, HTTP_CANCELLED);
	http_free(f.http);
	f.http = NULL;
	fx_done(&f);
}

struct seq {
	struct fx *f;
	struct rec r;
	int left, ok;
};

static void on_seq_done(struct http_req *req, const struct http_response *res, void *arg)
{
	struct seq *s = arg;
	struct err e = ERR_INIT;
	(void)req;
	wake(s->f);
	if (res->result == HTTP_OK && res->status == 200 && !strcmp(res->body, "hello world"))
		s->ok++;
	if (--s->left == 0)
		return;
	/* The next one starts from inside this completion: curl reuses the cached connection. */
	if (!http_start(s->f->http,
	                &(struct http_request){.url = "http://localhost/hello",
	                                       .conn = &s->f->unix_conn,
	                                       .on_done = on_seq_done,
	                                       .arg = s},
	                &e))
		fail_msg("http_start: %s", e.msg);
}

static void test_200_sequential_requests_reuse_unix_connection(void **state)
{
	struct fx f;
	struct seq s = {.left = 200};
	struct err e = ERR_INIT;
	(void)state;
	fx_init(&f, NULL);
	s.f = &f;
	assert_non_null(http_start(f.http,
	                           &(struct http_request){.url = "http://localhost/hello",
	                                                  .conn = &f.unix_conn,
	                                                  .on_done = on_seq_done,
	                                                  .arg = &s},
	                           &e));
	RUN_UNTIL(&f, s.left == 0);
	assert_int_equal(s.ok, 200);
	assert_int_equal(f.srv.requests, 200);
	assert_int_equal(f.srv.accepted, 1);
	fx_done(&f);
}

static void test_auth_and_extra_headers_sent(void **state)
{
	struct fx f;
	struct rec a = {0}, b = {0};
	const char *extra[] = {"X-Registry-Auth: abc", "Accept: application/json", NULL};
	(void)state;
	fx_init(&f, &(struct http_options){.max_in_flight = 1, .user_agent = "mss-test/1"});
	start(&f, &a,
	      (struct http_request){
	          .url = url(&f, "/hello"), .user = "user", .password = "pass", .headers = extra});
	RUN_UNTIL(&f, a.done_calls);
	assert_non_null(strstr(f.srv.headers, "Authorization: Basic dXNlcjpwYXNz\r\n"));
	assert_non_null(strstr(f.srv.headers, "X-Registry-Auth: abc\r\n"));
	assert_non_null(strstr(f.srv.headers, "Accept: application/json\r\n"));
	assert_non_null(strstr(f.srv.headers, "User-Agent: mss-test/1\r\n"));
	start(&f, &b, (struct http_request){.url = url(&f, "/hello"), .bearer = "tok3n"});
	RUN_UNTIL(&f, b.done_calls);
	assert_non_null(strstr(f.srv.headers, "Authorization: Bearer tok3n\r\n"));
	fx_done(&f);
}

static void test_bad_requests_refused_without_callback(void **state)
{
	struct fx f;
	struct rec r = {0};
	struct err e = ERR_INIT;
	cJSON *j = cJSON_CreateObject();
	(void)state;
	fx_init(&f, NULL);
	assert_null(http_start(f.http, &(struct http_request){.on_done = on_done_rec}, &e));
	assert_non_null(strstr(e.msg, "url"));
	assert_null(http_start(f.http, &(struct http_request){.url = f.tcp}, &e));
	assert_non_null(strstr(e.msg, "on_done"));
	assert_null(http_start(
	    f.http,
	    &(struct http_request){.url = f.tcp, .body = "x", .json = j, .on_done = on_done_rec},
	    &e));
	cJSON_Delete(j);
	/* Only http and https: anything else fails as a transfer, through on_done. */
	start(&f, &r, (struct http_request){.url = "file:///etc/passwd"});
	RUN_UNTIL(&f, r.done_calls);
	assert_int_equal(r.result, HTTP_ERR_TRANSPORT);
	assert_int_equal(r.body_len, 0);
	fx_done(&f);
}

static void test_escape_for_query(void **state)
{
	(void)state;
	char *s = http_escape("{\"label\":[\"com.microscaling.task=web\"]}");
	assert_string_equal(s, "%7B%22label%22%3A%5B%22com.microscaling.task%3Dweb%22%5D%7D");
	free(s);
	assert_null(http_escape(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_get_200_delivers_body_and_headers),
	    cmocka_unit_test(test_post_json_body_reaches_server),
	    cmocka_unit_test(test_large_body_is_sent_without_expect_continue),
	    cmocka_unit_test(test_empty_post_sends_zero_length_and_no_form_type),
	    cmocka_unit_test(test_delete_uses_delete_method),
	    cmocka_unit_test(test_404_error_body_delivered_and_checked),
	    cmocka_unit_test(test_check_error_from_a_multiline_message_stays_one_line),
	    cmocka_unit_test(test_timeout_fires_when_server_never_answers),
	    cmocka_unit_test(test_default_timeout_applies_when_request_sets_none),
	    cmocka_unit_test(test_in_flight_cap_respected_and_all_complete),
	    cmocka_unit_test(test_stream_delivers_chunks_before_completion),
	    cmocka_unit_test(test_stream_error_status_body_is_buffered),
	    cmocka_unit_test(test_cancel_in_flight_calls_back_once),
	    cmocka_unit_test(test_cancel_from_inside_on_data_stops_stream),
	    cmocka_unit_test(test_cancel_queued_request_never_reaches_server),
	    cmocka_unit_test(test_start_from_inside_on_data_runs_after_callback),
	    cmocka_unit_test(test_connection_refused_is_transport_error),
	    cmocka_unit_test(test_body_over_cap_is_error),
	    cmocka_unit_test(test_close_with_requests_in_flight_completes_cleanly),
	    cmocka_unit_test(test_close_from_inside_on_data_is_safe),
	    cmocka_unit_test(test_200_sequential_requests_reuse_unix_connection),
	    cmocka_unit_test(test_auth_and_extra_headers_sent),
	    cmocka_unit_test(test_bad_requests_refused_without_callback),
	    cmocka_unit_test(test_escape_for_query),
	};
	struct err e = ERR_INIT;
	/* Loopback must not go through a proxy from the environment. */
	unsetenv("http_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("https_proxy");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	if (http_global_init(&e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return failed;
}
