/* A tiny HTTP/1.1 server on a libuv loop (TCP on 127.0.0.1 and a unix socket) for test_http.c. */
#ifndef MSS_HTTP_TEST_SERVER_H
#define MSS_HTTP_TEST_SERVER_H

/*
 * Header-only, everything static: only test_http.c includes it. Routes:
 *   GET  /hello    200 "hello world" with Api-Version and X-Test headers
 *   ANY  /echo     201, the request body back, application/json
 *   DELETE /thing  204 (405 for any other method)
 *   GET  /missing  404 {"message":"no such thing"}
 *   GET  /hang     never answers
 *   GET  /slow     200 "slow" after TS_SLOW_MS (to overlap requests)
 *   GET  /big      200 with TS_BIG_LEN bytes
 *   GET  /stream   200 chunked: "{\"n\":1}\n" at once, more with ts_stream_push, ts_stream_end
 * The server records the latest request and counts connections and requests being answered.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uv.h>

#include "test_http_head.h"
#include "test_tmpdir.h"
#include "utils/util.h"

#define TS_SLOW_MS 20
#define TS_BIG_LEN 5000

struct ts_server;

struct ts_conn {
	union {
		uv_stream_t stream;
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} io;
	uv_timer_t timer; /* a delayed answer (/slow) */
	struct ts_server *srv;
	struct ts_conn *next; /* in srv->conns */
	char *in;
	size_t in_len;
	bool busy; /* a request is being answered: parse no further */
	bool closing;
	int open_handles; /* io + timer, freed when both closed */
};

struct ts_server {
	uv_loop_t *loop;
	uv_tcp_t tcp;
	uv_pipe_t pipe;
	int port;
	char dir[64];
	char sock_path[128];
	struct ts_conn *conns;
	struct ts_conn *stream; /* the open /stream, if any */
	int open_handles;       /* listeners + connections not yet closed */

	int accepted;   /* connections ever accepted */
	int open_conns; /* connections open now */
	int requests;   /* requests received */
	int active;     /* received, not answered yet */
	int max_active;

	char method[16];
	char path[256];
	char content_type[128];
	char headers[2048]; /* raw header block of the latest request */
	char body[4096];
	size_t body_len;
	long content_length; /* -1 if the header was absent */
};

struct ts_write {
	uv_write_t req;
	char data[];
};

static void ts_on_written(uv_write_t *w, int status)
{
	(void)status;
	free(container_of(w, struct ts_write, req));
}

static void ts_send(struct ts_conn *c, const char *data, size_t len)
{
	if (c->closing)
		return;
	struct ts_write *w = xmalloc(sizeof *w + len);
	memcpy(w->data, data, len);
	uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
	if (uv_write(&w->req, &c->io.stream, &b, 1, ts_on_written) < 0)
		free(w);
}

static void ts_reply(struct ts_conn *c, int status, const char *extra, const char *body, size_t len)
{
	char head[512];
	int n =
	    snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n%s\r\n", status,
	             status == 200   ? "OK"
	             : status == 201 ? "Created"
	             : status == 204 ? "No Content"
	             : status == 404 ? "Not Found"
	                             : "Other",
	             len, extra ? extra : "");
	ts_send(c, head, (size_t)n);
	if (len)
		ts_send(c, body, len);
	c->srv->active--;
}

static void ts_on_conn_closed(uv_handle_t *h)
{
	struct ts_conn *c = h->data;
	if (--c->open_handles)
		return;
	c->srv->open_handles--;
	free(c->in);
	free(c);
}

static void ts_conn_close(struct ts_conn *c)
{
	struct ts_server *srv = c->srv;
	if (c->closing)
		return;
	c->closing = true;
	if (c->busy)
		srv->active--;
	if (srv->stream == c)
		srv->stream = NULL;
	for (struct ts_conn **p = &srv->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	srv->open_conns--;
	uv_close((uv_handle_t *)&c->io.stream, ts_on_conn_closed);
	uv_close((uv_handle_t *)&c->timer, ts_on_conn_closed);
}

static void ts_parse(struct ts_conn *c);

static void ts_on_slow(uv_timer_t *t)
{
	struct ts_conn *c = container_of(t, struct ts_conn, timer);
	ts_reply(c, 200, NULL, "slow", 4);
	c->busy = false;
	ts_parse(c);
}

/* Answer one complete request at the front of c->in; return the bytes it used, 0 if incomplete. */
static size_t ts_handle(struct ts_conn *c)
{
	struct ts_server *srv = c->srv;
	char *end = c->in ? strstr(c->in, "\r\n\r\n") : NULL;
	char val[64], path[256], method[16];
	if (!end)
		return 0;
	size_t head_len = (size_t)(end - c->in) + 4;
	long clen = test_http_header(c->in, "Content-Length", val, sizeof val) ? atol(val) : -1;
	size_t body_len = clen > 0 ? (size_t)clen : 0;
	if (c->in_len < head_len + body_len)
		return 0;

	if (sscanf(c->in, "%15s %255s", method, path) != 2)
		return head_len;
	srv->requests++;
	if (++srv->active > srv->max_active)
		srv->max_active = srv->active;
	snprintf(srv->method, sizeof srv->method, "%s", method);
	snprintf(srv->path, sizeof srv->path, "%s", path);
	test_http_header(c->in, "Content-Type", srv->content_type, sizeof srv->content_type);
	size_t hl = head_len < sizeof srv->headers - 1 ? head_len : sizeof srv->headers - 1;
	memcpy(srv->headers, c->in, hl);
	srv->headers[hl] = '\0';
	srv->content_length = clen;
	srv->body_len = body_len < sizeof srv->body - 1 ? body_len : sizeof srv->body - 1;
	memcpy(srv->body, c->in + head_len, srv->body_len);
	srv->body[srv->body_len] = '\0';

	if (!strcmp(path, "/hello")) {
		ts_reply(c, 200, "Api-Version: 1.41\r\nX-Test:  yes \r\n", "hello world", 11);
	} else if (!strcmp(path, "/echo")) {
		ts_reply(c, 201, "Content-Type: application/json\r\n", c->in + head_len, body_len);
	} else if (!strcmp(path, "/thing")) {
		ts_reply(c, strcmp(method, "DELETE") ? 405 : 204, NULL, "", 0);
	} else if (!strcmp(path, "/missing")) {
		const char *b = "{\"message\":\"no such thing\"}";
		ts_reply(c, 404, "Content-Type: application/json\r\n", b, strlen(b));
	} else if (!strcmp(path, "/hang")) {
		c->busy = true;
	} else if (!strcmp(path, "/slow")) {
		c->busy = true;
		uv_timer_start(&c->timer, ts_on_slow, TS_SLOW_MS, 0);
	} else if (!strcmp(path, "/big")) {
		char *b = xmalloc(TS_BIG_LEN);
		memset(b, 'x', TS_BIG_LEN);
		ts_reply(c, 200, NULL, b, TS_BIG_LEN);
		free(b);
	} else if (!strcmp(path, "/stream")) {
		const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		                "Transfer-Encoding: chunked\r\n\r\n8\r\n{\"n\":1}\n\r\n";
		c->busy = true;
		srv->stream = c;
		ts_send(c, h, strlen(h));
	} else {
		ts_reply(c, 404, NULL, "", 0);
	}
	return head_len + body_len;
}

static void ts_parse(struct ts_conn *c)
{
	size_t used;
	while (!c->busy && !c->closing && (used = ts_handle(c)) > 0) {
		memmove(c->in, c->in + used, c->in_len - used + 1);
		c->in_len -= used;
	}
}

/* Send one more chunk on the open /stream. */
static void ts_stream_push(struct ts_server *srv, const char *data)
{
	char head[32];
	if (!srv->stream)
		return;
	int n = snprintf(head, sizeof head, "%zx\r\n", strlen(data));
	ts_send(srv->stream, head, (size_t)n);
	ts_send(srv->stream, data, strlen(data));
	ts_send(srv->stream, "\r\n", 2);
}

static void ts_stream_end(struct ts_server *srv)
{
	struct ts_conn *c = srv->stream;
	if (!c)
		return;
	ts_send(c, "0\r\n\r\n", 5);
	srv->stream = NULL;
	srv->active--;
	c->busy = false;
	ts_parse(c);
}

static void ts_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	(void)hint;
	*b = uv_buf_init(xmalloc(65536), 65536);
}

static void ts_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct ts_conn *c = s->data;
	if (n < 0) {
		free(b->base);
		ts_conn_close(c);
		return;
	}
	c->in = xrealloc(c->in, c->in_len + (size_t)n + 1);
	memcpy(c->in + c->in_len, b->base, (size_t)n);
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	free(b->base);
	ts_parse(c);
}

static void ts_on_connection(uv_stream_t *listener, int status)
{
	struct ts_server *srv = listener->data;
	if (status < 0)
		return;
	struct ts_conn *c = xcalloc(1, sizeof *c);
	c->srv = srv;
	if (listener == (uv_stream_t *)&srv->tcp)
		uv_tcp_init(srv->loop, &c->io.tcp);
	else
		uv_pipe_init(srv->loop, &c->io.pipe, 0);
	uv_timer_init(srv->loop, &c->timer);
	c->io.stream.data = c;
	c->timer.data = c;
	c->open_handles = 2;
	srv->open_handles++;
	if (uv_accept(listener, &c->io.stream) < 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->io.stream, ts_on_conn_closed);
		uv_close((uv_handle_t *)&c->timer, ts_on_conn_closed);
		return;
	}
	c->next = srv->conns;
	srv->conns = c;
	srv->accepted++;
	srv->open_conns++;
	uv_read_start(&c->io.stream, ts_on_alloc, ts_on_read);
}

/* Listen on 127.0.0.1 (an ephemeral port, in srv->port) and on srv->sock_path in a fresh temp
 * dir. Returns 0 or a negative libuv error. */
static int ts_start(struct ts_server *srv, uv_loop_t *loop)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof bound, rc;

	memset(srv, 0, sizeof *srv);
	srv->loop = loop;
	snprintf(srv->dir, sizeof srv->dir, "/tmp/mss-http-test-XXXXXX");
	if (!test_tmpdir_make(srv->dir))
		return UV_EIO;
	snprintf(srv->sock_path, sizeof srv->sock_path, "%s/http.sock", srv->dir);

	uv_tcp_init(loop, &srv->tcp);
	uv_pipe_init(loop, &srv->pipe, 0);
	srv->tcp.data = srv->pipe.data = srv;
	srv->open_handles = 2;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	if ((rc = uv_tcp_bind(&srv->tcp, (const struct sockaddr *)&addr, 0)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&srv->tcp, 128, ts_on_connection)) < 0 ||
	    (rc = uv_tcp_getsockname(&srv->tcp, (struct sockaddr *)&bound, &len)) < 0 ||
	    (rc = uv_pipe_bind(&srv->pipe, srv->sock_path)) < 0 ||
	    (rc = uv_listen((uv_stream_t *)&srv->pipe, 128, ts_on_connection)) < 0)
		return rc;
	srv->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	return 0;
}

static void ts_on_listener_closed(uv_handle_t *h)
{
	struct ts_server *srv = h->data;
	srv->open_handles--;
}

/* Close every handle; the loop must then run until srv->open_handles is 0. */
static void ts_stop(struct ts_server *srv)
{
	while (srv->conns)
		ts_conn_close(srv->conns);
	uv_close((uv_handle_t *)&srv->tcp, ts_on_listener_closed);
	uv_close((uv_handle_t *)&srv->pipe, ts_on_listener_closed);
}

/* After the loop drained: remove the socket file and temp dir. */
static void ts_cleanup(struct ts_server *srv)
{
	unlink(srv->sock_path);
	rmdir(srv->dir);
}

#endif
