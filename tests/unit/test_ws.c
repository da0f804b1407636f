/* The websocket client against an in-process libwebsockets server on the same loop: whole
 * messages from many chunks, the inbound cap, one pending outbound frame (latest wins), refusal
 * while down, reconnect after the server drops it, the last frame flushed by ws_close, and the
 * two-destroy close leaving nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils/log.h"
#include "utils/util.h"
#include "utils/ws.h"

#define WATCHDOG_MS 5000

/* ---- a small server ---- */

struct srv {
	struct lws_context *ctx;
	int port;
	struct lws *conn;    /* the client's connection */
	int connections;     /* established so far */
	int received;        /* whole messages from the client */
	char last[256];      /* the last of them */
	char *to_send;       /* queued for the client (one at a time) */
	size_t to_send_len;
	bool drop;           /* close the connection at the next writable */
};

static struct srv *the_srv;

static int srv_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
	struct srv *s = the_srv;
	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED:
		s->conn = wsi;
		s->connections++;
		break;
	case LWS_CALLBACK_RECEIVE:
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			s->received++;
			snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)in);
		}
		break;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (s->drop) {
			s->drop = false;
			return -1;
		}
		if (s->to_send) {
			unsigned char *b = xmalloc(LWS_PRE + s->to_send_len);
			memcpy(b + LWS_PRE, s->to_send, s->to_send_len);
			int n = lws_write(wsi, b + LWS_PRE, s->to_send_len, LWS_WRITE_TEXT);
			free(b);
			free(s->to_send);
			s->to_send = NULL;
			if (n < 0)
				return -1;
		}
		break;
	case LWS_CALLBACK_CLOSED:
		if (wsi == s->conn)
			s->conn = NULL;
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static struct lws_protocols srv_protocols[] = {
    {"test", srv_cb, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void srv_send(struct srv *s, const char *data, size_t len)
{
	s->to_send = xmalloc(len);
	memcpy(s->to_send, data, len);
	s->to_send_len = len;
	lws_callback_on_writable(s->conn);
}

/* ---- the fixture ---- */

struct fx {
	uv_loop_t loop;
	uv_timer_t pump, watchdog;
	bool expired;
	struct srv srv;
	struct ws *ws;
	int ups, downs;
	int messages;
	size_t last_len;
	char last_head[64];
	bool last_all_x;
};

static void on_message(const char *buf, size_t len, void *arg)
{
	struct fx *f = arg;
	f->messages++;
	f->last_len = len;
	snprintf(f->last_head, sizeof f->last_head, "%.*s", (int)(len < 60 ? len : 60), buf);
	f->last_all_x = true;
	for (size_t i = 0; i < len; i++)
		if (buf[i] != 'x')
			f->last_all_x = false;
}

static void on_link(bool up, void *arg)
{
	struct fx *f = arg;
	if (up)
		f->ups++;
	else
		f->downs++;
}

static void on_pump(uv_timer_t *t)
{
}

static void on_watchdog(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, watchdog);
	f->expired = true;
}

/* Run the loop until `cond` holds; the pump makes UV_RUN_ONCE come back, the watchdog turns a
 * hang into a failure. */
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

static void fx_start(struct fx *f, size_t max_message)
{
	memset(f, 0, sizeof *f);
	the_srv = &f->srv;
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_timer_init(&f->loop, &f->pump);
	uv_timer_init(&f->loop, &f->watchdog);
	void *loops[1] = {&f->loop};
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.port = 0;
	info.iface = "127.0.0.1";
	info.protocols = srv_protocols;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DISABLE_IPV6; /* 127.0.0.1 only */
	info.foreign_loops = loops;
	info.pcontext = &f->srv.ctx;
	info.fd_limit_per_thread = 64;
	f->srv.ctx = lws_create_context(&info);
	assert_non_null(f->srv.ctx);
	f->srv.port = lws_get_vhost_listen_port(lws_get_vhost_by_name(f->srv.ctx, "default"));

	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%d", f->srv.port);
	struct ws_url url;
	struct err e = ERR_INIT;
	assert_int_equal(ws_parse_url(addr, &url, &e), 0);
	f->ws = ws_new(&f->loop,
	               &(struct ws_options){.url = &url,
	                                    .max_message = max_message,
	                                    .on_message = on_message,
	                                    .on_link = on_link,
	                                    .arg = f,
	                                    .backoff_min_ms = 20,
	                                    .backoff_max_ms = 100},
	               &e);
	assert_non_null(f->ws);
	ws_start(f->ws);
	RUN_UNTIL(f, f->ups == 1 && f->srv.conn);
}

/* The documented order: first destroys inside the loop, drain, second destroys, loop close. */
static void fx_stop(struct fx *f)
{
	ws_close(f->ws);
	lws_context_destroy(f->srv.ctx);
	uv_close((uv_handle_t *)&f->pump, NULL);
	uv_close((uv_handle_t *)&f->watchdog, NULL);
	while (uv_run(&f->loop, UV_RUN_DEFAULT) != 0)
		;
	ws_free(f->ws);
	if (f->srv.ctx)
		lws_context_destroy(f->srv.ctx);
	assert_null(f->srv.ctx);
	free(f->srv.to_send);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

/* ---- tests ---- */

static void test_a_large_message_arrives_whole_from_many_chunks(void **state)
{
	struct fx f;
	fx_start(&f, 0);
	size_t n = 200000;
	char *big = xmalloc(n);
	memset(big, 'x', n);
	srv_send(&f.srv, big, n);
	free(big);
	RUN_UNTIL(&f, f.messages == 1);
	assert_int_equal(f.last_len, n);
	assert_true(f.last_all_x);
	struct ws_stats st;
	ws_stats(f.ws, &st);
	assert_int_equal(st.rx_messages, 1);
	fx_stop(&f);
}

static void test_a_message_over_the_cap_is_dropped_and_the_connection_kept(void **state)
{
	struct fx f;
	fx_start(&f, 1024);
	char big[5000];
	memset(big, 'x', sizeof big);
	srv_send(&f.srv, big, sizeof big);
	RUN_UNTIL(&f, f.srv.to_send == NULL);
	srv_send(&f.srv, "{\"small\":1}", 11);
	RUN_UNTIL(&f, f.messages == 1);
	assert_string_equal(f.last_head, "{\"small\":1}");
	struct ws_stats st;
	ws_stats(f.ws, &st);
	assert_int_equal(st.rx_oversized, 1);
	assert_int_equal(st.disconnects, 0);
	assert_int_equal(f.srv.connections, 1);
	/* Exactly at the cap is fine. */
	memset(big, 'x', 1024);
	srv_send(&f.srv, big, 1024);
	RUN_UNTIL(&f, f.messages == 2);
	assert_int_equal(f.last_len, 1024);
	fx_stop(&f);
}

static void test_only_the_latest_pending_frame_is_sent(void **state)
{
	struct fx f;
	fx_start(&f, 0);
	assert_int_equal(ws_send_text(f.ws, "one", 3), 0);
	assert_int_equal(ws_send_text(f.ws, "two", 3), 0);
	assert_int_equal(ws_send_text(f.ws, "three", 5), 0);
	RUN_UNTIL(&f, f.srv.received >= 1);
	/* Give a stray second frame the chance to arrive. */
	for (int i = 0; i < 20; i++)
		uv_run(&f.loop, UV_RUN_NOWAIT);
	assert_int_equal(f.srv.received, 1);
	assert_string_equal(f.srv.last, "three");
	struct ws_stats st;
	ws_stats(f.ws, &st);
	assert_int_equal(st.tx_frames, 1);
	assert_int_equal(st.tx_replaced, 2);
	fx_stop(&f);
}

static void test_reconnects_after_the_server_drops_the_connection(void **state)
{
	struct fx f;
	fx_start(&f, 0);
	assert_true(ws_connected(f.ws));
	f.srv.drop = true;
	lws_callback_on_writable(f.srv.conn);
	RUN_UNTIL(&f, f.downs == 1);
	assert_false(ws_connected(f.ws));
	assert_int_equal(ws_send_text(f.ws, "lost", 4), -1); /* down: refused, not queued */
	RUN_UNTIL(&f, f.ups == 2 && f.srv.conn);
	assert_int_equal(f.srv.connections, 2);
	assert_int_equal(ws_send_text(f.ws, "back", 4), 0);
	RUN_UNTIL(&f, f.srv.received == 1);
	assert_string_equal(f.srv.last, "back");
	struct ws_stats st;
	ws_stats(f.ws, &st);
	assert_int_equal(st.connects, 2);
	assert_int_equal(st.disconnects, 1);
	assert_int_equal(st.tx_refused, 1);
	fx_stop(&f);
}

static void test_close_flushes_the_pending_frame_first(void **state)
{
	struct fx f;
	fx_start(&f, 0);
	assert_int_equal(ws_send_text(f.ws, "final counts", 12), 0);
	ws_close(f.ws);
	assert_int_equal(ws_send_text(f.ws, "late", 4), -1);
	RUN_UNTIL(&f, f.srv.received == 1 && f.srv.conn == NULL);
	assert_string_equal(f.srv.last, "final counts");
	assert_int_equal(f.downs, 0); /* no link callbacks once closing */
	fx_stop(&f);
}

static void test_nothing_listening_is_retried_with_backoff(void **state)
{
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct ws_url url;
	struct err e = ERR_INIT;
	assert_int_equal(ws_parse_url("127.0.0.1:1", &url, &e), 0);
	struct ws *w = ws_new(&loop,
	                      &(struct ws_options){.url = &url, .backoff_min_ms = 10,
	                                           .backoff_max_ms = 40},
	                      &e);
	assert_non_null(w);
	ws_start(w);
	uv_timer_t pump; /* keeps UV_RUN_ONCE coming back */
	uv_timer_init(&loop, &pump);
	uv_timer_start(&pump, on_pump, 5, 5);
	uint64_t end = uv_now(&loop) + 300;
	while (uv_now(&loop) < end)
		uv_run(&loop, UV_RUN_ONCE);
	struct ws_stats st;
	ws_stats(w, &st);
	/* 10, 20, 40, 40, ... ms less 20 % jitter: 300 ms hold between 6 and 12 attempts. */
	assert_true(st.attempts >= 5 && st.attempts <= 13);
	assert_int_equal(st.connects, 0);
	ws_close(w);
	uv_close((uv_handle_t *)&pump, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	ws_free(w);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL); /* until ws_new takes over lws's log */
	log_setup(LOG_FMT_LOGFMT, "", fopen("/dev/null", "w"));
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_large_message_arrives_whole_from_many_chunks),
	    cmocka_unit_test(test_a_message_over_the_cap_is_dropped_and_the_connection_kept),
	    cmocka_unit_test(test_only_the_latest_pending_frame_is_sent),
	    cmocka_unit_test(test_reconnects_after_the_server_drops_the_connection),
	    cmocka_unit_test(test_close_flushes_the_pending_frame_first),
	    cmocka_unit_test(test_nothing_listening_is_retried_with_backoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
