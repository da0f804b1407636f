/* libcurl multi driven by libuv: one uv_timer for curl's timeouts, one uv_poll per socket. */
#define _POSIX_C_SOURCE 200809L
#include "http.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>
#include <curl/curl.h>

#include "utils/log.h"
#include "utils/util.h"

#define DEFAULT_IN_FLIGHT          16
#define DEFAULT_TIMEOUT_MS         30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_BODY           ((size_t)8 << 20)
#define MAX_HEADER_BYTES           (64 * 1024) /* stored response headers; the rest is dropped */

/* Intrusive doubly-linked list; a lone head points at itself. */
struct link {
	struct link *prev, *next;
};

static void list_init(struct link *l)
{
	l->prev = l->next = l;
}

static bool list_empty(const struct link *l)
{
	return l->next == l;
}

static void list_push(struct link *head, struct link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static void list_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	list_init(l);
}

/* A growable byte buffer, always NUL-terminated once allocated. */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){0};
}

struct http {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer; /* curl's single timeout */
	unsigned max_in_flight;
	long timeout_ms, connect_timeout_ms;
	size_t max_body;
	char *user_agent;
	char *name; /* for the observer; NULL: not observed */

	struct link queue;   /* QUEUED requests, FIFO */
	struct link running; /* RUNNING requests: in the multi, on_done still owed */
	struct link zombies; /* cancelled but still in the multi: removed at the next settle */
	struct link socks;   /* live socket watchers */
	unsigned in_flight;  /* easy handles in the multi (running + zombies) */

	/* Re-entry: in_curl while curl_multi_socket_action runs (no curl_multi_* call allowed);
	 * depth counts nested entry points, and work deferred from inside them runs in settle()
	 * when the outermost one returns. */
	bool in_curl;
	int depth;

	bool closing;      /* http_close called: refuse new requests */
	bool multi_closed; /* curl_multi_cleanup done, timer closing */
	unsigned handles;  /* uv handles not yet through their close callback */
	http_closed_fn on_closed;
	void *closed_arg;

	struct http_stats stats;
};

struct http_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct http *h;
	struct link link; /* in h->socks while live */
};

enum req_state { REQ_QUEUED, REQ_RUNNING, REQ_ZOMBIE, REQ_DONE };

struct http_req {
	struct http *h;
	struct link link; /* in h->queue, h->running or h->zombies */
	enum req_state state;
	CURL *easy;
	struct curl_slist *headers;
	char *method, *url;
	http_data_fn on_data;
	http_done_fn on_done;
	void *arg;
	const char *op; /* borrowed: a literal */
	uint64_t queued_at, started_at; /* uv_hrtime() */

	long status;     /* from the latest status line */
	char reason[64]; /* its reason phrase */
	struct buf hdrs; /* "name\0value\0" pairs of the latest response */
	struct buf body;
	bool too_big;
	char errbuf[CURL_ERROR_SIZE];
};

int http_global_init(struct err *e)
{
	CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (rc != CURLE_OK)
		return err_set(e, "curl_global_init: %s", curl_easy_strerror(rc));
	return 0;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

static void settle(struct http *h);

static http_observe_fn observer;
static void *observer_arg;

void http_observe(http_observe_fn fn, void *arg)
{
	observer = fn;
	observer_arg = arg;
}

static void enter(struct http *h)
{
	h->depth++;
}

static void leave(struct http *h)
{
	if (--h->depth == 0)
		settle(h);
}

/* ---- requests ---- */

static void req_free(struct http_req *req)
{
	if (req->easy)
		curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->headers);
	buf_free(&req->hdrs);
	buf_free(&req->body);
	free(req->method);
	free(req->url);
	free(req);
}

static double ms_between(uint64_t from_ns, uint64_t to_ns)
{
	return from_ns && to_ns >= from_ns ? (double)(to_ns - from_ns) / 1e6 : 0.0;
}

/* Hand the result to the caller. The caller of deliver() sets req->state first (DONE, or ZOMBIE for
 * a cancel while curl still holds the handle), so http_cancel from inside on_done is a no-op. */
static void deliver(struct http_req *req, enum http_result result, const char *error)
{
	struct http *h = req->h;
	uint64_t now = uv_hrtime();
	bool ok = result == HTTP_OK;
	struct http_response res = {
	    .result = result,
	    .status = ok ? req->status : 0,
	    .reason = ok ? req->reason : "",
	    .error = ok ? "" : error,
	    .body = ok && req->body.p ? req->body.p : "",
	    .body_len = ok ? req->body.len : 0,
	    .method = req->method,
	    .url = req->url,
	    .elapsed_ms = ms_between(req->started_at, now),
	    .queued_ms = ms_between(req->queued_at, req->started_at ? req->started_at : now),
	    .req = req,
	};

	switch (result) {
	case HTTP_OK:
		h->stats.completed++;
		break;
	case HTTP_CANCELLED:
		h->stats.cancelled++;
		break;
	default:
		h->stats.failed++;
	}
	log_debug("http", "done", LOG_S("method", req->method), LOG_S("url", req->url),
	          LOG_I("status", res.status), LOG_S("error", res.error),
	          LOG_D("ms", res.elapsed_ms));
	if (observer && h->name && result != HTTP_CANCELLED)
		observer(h->name, req->op ? req->op : req->method, &res, observer_arg);
	req->on_done(req, &res, req->arg);
}

/* curl reports an ended transfer: map its code to our result. */
static void finish(struct http_req *req, CURLcode code)
{
	char msg[96];
	enum http_result result = HTTP_OK;
	const char *error = req->errbuf[0] ? req->errbuf : curl_easy_strerror(code);

	if (code == CURLE_OK) {
		long status = 0;
		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status)
			req->status = status;
	} else if (req->too_big) {
		snprintf(msg, sizeof msg, "response body over %zu bytes", req->h->max_body);
		result = HTTP_ERR_TOO_BIG;
		error = msg;
	} else if (code == CURLE_OPERATION_TIMEDOUT) {
		result = HTTP_ERR_TIMEOUT;
	} else {
		result = HTTP_ERR_TRANSPORT;
	}
	req->state = REQ_DONE;
	deliver(req, result, error);
}

/* Cancel without the entry bookkeeping (callers hold h->depth). */
static void cancel(struct http_req *req)
{
	/* The analyzer thinks http_close's loop can hand us a freed request: it does not see that
	 * list_del unlinks each one before req_free, so the list head moves on. */
	struct http *h = req->h; /* NOLINT(clang-analyzer-unix.Malloc) */

	if (req->state == REQ_QUEUED) {
		list_del(&req->link);
		h->stats.queued--;
		req->state = REQ_DONE;
		deliver(req, HTTP_CANCELLED, "cancelled");
		req_free(req);
	} else if (req->state == REQ_RUNNING) {
		/* curl may be mid-call (we may be inside this request's on_data): the handle leaves
		 * the multi in settle(); until then its callbacks see ZOMBIE and abort. */
		list_del(&req->link);
		list_push(&h->zombies, &req->link);
		req->state = REQ_ZOMBIE;
		deliver(req, HTTP_CANCELLED, "cancelled");
	}
}

void http_cancel(struct http_req *req)
{
	if (!req || (req->state != REQ_QUEUED && req->state != REQ_RUNNING))
		return;
	struct http *h = req->h;
	enter(h);
	cancel(req);
	leave(h);
}

/* ---- curl callbacks (run inside curl_multi_socket_action) ---- */

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *req = arg;
	size_t len = size * n, l = len;

	if (req->state != REQ_RUNNING)
		return 0;
	while (l && (p[l - 1] == '\r' || p[l - 1] == '\n'))
		l--;
	if (l >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (1xx, a proxy's CONNECT answer, the final one): start over. */
		size_t i = 5;
		req->hdrs.len = 0;
		req->status = 0;
		req->reason[0] = '\0';
		while (i < l && p[i] != ' ')
			i++;
		while (i < l && p[i] == ' ')
			i++;
		while (i < l && isdigit((unsigned char)p[i]))
			req->status = req->status * 10 + (p[i++] - '0');
		while (i < l && p[i] == ' ')
			i++;
		size_t rl = l - i < sizeof req->reason - 1 ? l - i : sizeof req->reason - 1;
		memcpy(req->reason, p + i, rl);
		req->reason[rl] = '\0';
		return len;
	}
	const char *colon = memchr(p, ':', l);
	if (!colon || req->hdrs.len + l + 2 > MAX_HEADER_BYTES)
		return len;
	size_t nl = (size_t)(colon - p);
	const char *v = colon + 1, *end = p + l;
	while (nl && (p[nl - 1] == ' ' || p[nl - 1] == '\t'))
		nl--;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	buf_add(&req->hdrs, p, nl);
	buf_add(&req->hdrs, "", 1);
	buf_add(&req->hdrs, v, (size_t)(end - v));
	buf_add(&req->hdrs, "", 1);
	return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct http_req *req = arg;
	struct http *h = req->h;
	size_t len = size * n;

	if (req->state != REQ_RUNNING)
		return 0; /* cancelled: any value other than len stops the transfer */
	h->stats.bytes_in += len;
	if (req->on_data && req->status >= 200 && req->status < 300) {
		req->on_data(req, p, len, req->arg);
		return req->state == REQ_RUNNING ? len : 0;
	}
	if (len > h->max_body - req->body.len) {
		req->too_big = true;
		return 0;
	}
	buf_add(&req->body, p, len);
	return len;
}

/* ---- the loop side ---- */

static void handle_closed(struct http *h)
{
	/* The last close callback: nothing of ours remains on the loop, h may be freed by done. */
	if (--h->handles == 0 && h->multi_closed && h->on_closed)
		h->on_closed(h, h->closed_arg);
}

static void on_sock_closed(uv_handle_t *handle)
{
	struct http_sock *s = container_of((uv_poll_t *)handle, struct http_sock, poll);
	struct http *h = s->h;
	free(s);
	handle_closed(h);
}

static void sock_close(struct http_sock *s)
{
	/* Stop now: curl may announce the same fd again before the close callback runs, and a
	 * still-active poll would make uv_poll_init_socket fail with UV_EEXIST. The fd is curl's.
	 */
	uv_poll_stop(&s->poll);
	list_del(&s->link);
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static struct http_sock *sock_find(struct http *h, curl_socket_t fd)
{
	for (struct link *l = h->socks.next; l != &h->socks; l = l->next) {
		struct http_sock *s = container_of(l, struct http_sock, link);
		if (s->fd == fd)
			return s;
	}
	return NULL;
}

static void check_multi_info(struct http *h)
{
	CURLMsg *msg;
	int left;

	/* One message at a time: an on_done may cancel another request, and removing a handle
	 * also drops its pending message, so nothing read ahead can go stale. */
	while ((msg = curl_multi_info_read(h->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode code = msg->data.result;
		char *priv = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		struct http_req *req = (struct http_req *)(void *)priv;
		curl_multi_remove_handle(h->multi, easy);
		h->in_flight--;
		list_del(&req->link);
		if (req->state == REQ_RUNNING)
			finish(req, code);
		req_free(req);
	}
}

static void socket_action(struct http *h, curl_socket_t fd, int flags)
{
	int running;
	h->in_curl = true;
	CURLMcode rc = curl_multi_socket_action(h->multi, fd, flags, &running);
	h->in_curl = false;
	if (rc != CURLM_OK)
		log_debug("http", "socket action failed", LOG_I("fd", fd),
		          LOG_S("error", curl_multi_strerror(rc)));
}

static void on_poll(uv_poll_t *poll, int status, int events)
{
	struct http_sock *s = container_of(poll, struct http_sock, poll);
	struct http *h = s->h;
	int flags = 0;

	if (status < 0)
		flags |= CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	enter(h);
	socket_action(h, s->fd, flags); /* s may be closed from here on */
	check_multi_info(h);
	leave(h);
}

static void on_timeout(uv_timer_t *timer)
{
	struct http *h = container_of(timer, struct http, timer);
	enter(h);
	socket_action(h, CURL_SOCKET_TIMEOUT, 0);
	check_multi_info(h);
	leave(h);
}

/* CURLMOPT_TIMERFUNCTION: only arm the uv timer; acting here would re-enter curl. */
static int on_curl_timer(CURLM *multi, long ms, void *userp)
{
	struct http *h = userp;
	(void)multi;
	if (h->multi_closed)
		return 0;
	if (ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timeout, (uint64_t)ms, 0);
	return 0;
}

/* CURLMOPT_SOCKETFUNCTION. Watchers are found by fd, not by curl's socketp: after a REMOVE curl
 * re-announces the same fd, sometimes still carrying the pointer of the watcher we freed. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct http_sock *s = sock_find(h, fd);
	int events = 0, rc;
	(void)easy;
	(void)socketp;

	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_close(s);
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof *s);
		s->fd = fd;
		s->h = h;
		rc = uv_poll_init_socket(h->loop, &s->poll, fd);
		if (rc < 0) {
			log_debug("http", "poll init failed", LOG_I("fd", fd),
			          LOG_S("error", uv_strerror(rc)));
			free(s);
			return -1; /* curl fails the transfer: CURLE_ABORTED_BY_CALLBACK */
		}
		h->handles++;
		list_push(&h->socks, &s->link);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	rc = uv_poll_start(&s->poll, events, on_poll);
	if (rc < 0) {
		log_debug("http", "poll start failed", LOG_I("fd", fd),
		          LOG_S("error", uv_strerror(rc)));
		sock_close(s);
		return -1;
	}
	return 0;
}

static void on_timer_closed(uv_handle_t *handle)
{
	handle_closed(container_of((uv_timer_t *)handle, struct http, timer));
}

static int start_transfer(struct http_req *req, struct err *e)
{
	struct http *h = req->h;
	req->started_at = uv_hrtime();
	CURLMcode rc = curl_multi_add_handle(h->multi, req->easy);
	if (rc != CURLM_OK)
		return err_set(e, "curl_multi_add_handle: %s", curl_multi_strerror(rc));
	req->state = REQ_RUNNING;
	list_push(&h->running, &req->link);
	h->in_flight++;
	h->stats.started++;
	log_debug("http", "start", LOG_S("method", req->method), LOG_S("url", req->url),
	          LOG_D("queued_ms", ms_between(req->queued_at, req->started_at)));
	return 0;
}

static void close_multi(struct http *h)
{
	/* http_close cancelled every request and settle() reaped the zombies: only cached
	 * connections remain. Cleanup closes them (announcing REMOVE for watched ones). */
	h->multi_closed = true;
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	while (!list_empty(&h->socks))
		sock_close(container_of(h->socks.next, struct http_sock, link));
	uv_close((uv_handle_t *)&h->timer, on_timer_closed);
}

/* Deferred work, run when the outermost entry point returns (never inside curl): drop cancelled
 * handles, fill free slots from the queue, finish a close. */
static void settle(struct http *h)
{
	h->depth++;
	for (;;) {
		while (!list_empty(&h->zombies)) {
			struct http_req *req = container_of(h->zombies.next, struct http_req, link);
			/* list_del below unlinks req before req_free: the next head is another one. */
			curl_multi_remove_handle(h->multi, req->easy); /* NOLINT(clang-analyzer-unix.Malloc) */
			h->in_flight--;
			list_del(&req->link);
			req_free(req);
		}
		if (h->closing || h->in_flight >= h->max_in_flight || list_empty(&h->queue))
			break;
		struct http_req *req = container_of(h->queue.next, struct http_req, link);
		struct err e = ERR_INIT;
		list_del(&req->link);
		h->stats.queued--;
		if (start_transfer(req, &e) < 0) {
			req->state = REQ_DONE;
			deliver(req, HTTP_ERR_TRANSPORT, e.msg);
			req_free(req);
		}
	}
	h->depth--;
	if (h->closing && !h->multi_closed && h->depth == 0)
		close_multi(h);
}

/* ---- building a request ---- */

static bool is_method(const char *m, const char *want)
{
	return strcasecmp(m, want) == 0;
}

static int add_header(struct http_req *req, const char *line, struct err *e)
{
	struct curl_slist *l = curl_slist_append(req->headers, line);
	if (!l)
		return err_set(e, "out of memory for header");
	req->headers = l;
	return 0;
}

static int setup_easy(struct http_req *req, const struct http_request *rq, struct err *e)
{
	struct http *h = req->h;
	const struct http_conn *conn = rq->conn;
	const char *m = req->method;
	const char *body = rq->body;
	size_t body_len = rq->body && !rq->body_len ? strlen(rq->body) : rq->body_len;
	const char *ctype = rq->content_type;
	char *json = NULL;
	CURLcode rc = CURLE_OK;
	CURL *c;
	int ret = -1;

	if (rq->json && rq->body)
		return err_set(e, "both body and json given");
	c = req->easy = curl_easy_init();
	if (!c)
		return err_set(e, "curl_easy_init failed");
	if (rq->json) {
		json = cJSON_PrintUnformatted(rq->json);
		if (!json)
			return err_set(e, "cannot serialise the JSON body");
		body = json;
		body_len = strlen(json);
		if (!ctype)
			ctype = "application/json";
	}

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (rc == CURLE_OK)                                                                \
			rc = curl_easy_setopt(c, opt, val);                                        \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_PRIVATE, req);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, req->errbuf);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, req);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, req);
	SET(CURLOPT_USERAGENT, h->user_agent);
	SET(CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, rq->timeout_ms == 0  ? h->timeout_ms
	                        : rq->timeout_ms < 0 ? 0L
	                                             : rq->timeout_ms);
	/* Streams can be silent for hours: let the kernel notice a dead peer (no-op on unix). */
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 60L);
	SET(CURLOPT_TCP_KEEPINTVL, 20L);
	if (conn && conn->unix_socket)
		SET(CURLOPT_UNIX_SOCKET_PATH, conn->unix_socket);
	if (conn && conn->tls_cert)
		SET(CURLOPT_SSLCERT, conn->tls_cert);
	if (conn && conn->tls_key)
		SET(CURLOPT_SSLKEY, conn->tls_key);
	if (conn && conn->tls_ca)
		SET(CURLOPT_CAINFO, conn->tls_ca);
	if (conn && conn->insecure) {
		SET(CURLOPT_SSL_VERIFYPEER, 0L);
		SET(CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (rq->aws_sigv4)
		SET(CURLOPT_AWS_SIGV4, rq->aws_sigv4); /* also selects CURLAUTH_AWS_SIGV4 */
	if (rq->user) {
		if (!rq->aws_sigv4)
			SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, rq->user);
		SET(CURLOPT_PASSWORD, rq->password ? rq->password : "");
	}

	bool has_body =
	    body || is_method(m, "POST") || is_method(m, "PUT") || is_method(m, "PATCH");
	if (is_method(m, "HEAD")) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (has_body) {
		/* Size first: COPYPOSTFIELDS then copies exactly that many bytes (binary safe);
		 * an empty POST is "" with size 0. */
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
		SET(CURLOPT_COPYPOSTFIELDS, body ? body : "");
		if (!is_method(m, "POST"))
			SET(CURLOPT_CUSTOMREQUEST, m);
	} else if (!is_method(m, "GET")) {
		SET(CURLOPT_CUSTOMREQUEST, m);
	}
#undef SET
	if (rc != CURLE_OK) {
		err_set(e, "curl option: %s", curl_easy_strerror(rc));
		goto out;
	}

	/* No "Expect: 100-continue" round trip for bodies over 1 KB; no default form type. curl 7.88
	 * puts headers removed this way into a SigV4 signature although they are never sent, which
	 * the server then rejects: signed requests keep curl's defaults. */
	if (!rq->aws_sigv4 && add_header(req, "Expect:", e) < 0)
		goto out;
	if (has_body && (ctype || !rq->aws_sigv4)) {
		char line[256];
		if (ctype)
			snprintf(line, sizeof line, "Content-Type: %s", ctype);
		else
			snprintf(line, sizeof line, "Content-Type:");
		if (add_header(req, line, e) < 0)
			goto out;
	}
	if (rq->bearer) {
		size_t n = strlen(rq->bearer) + sizeof "Authorization: Bearer ";
		char *line = xmalloc(n);
		snprintf(line, n, "Authorization: Bearer %s", rq->bearer);
		int r = add_header(req, line, e);
		free(line);
		if (r < 0)
			goto out;
	}
	for (const char *const *hl = rq->headers; hl && *hl; hl++)
		if (add_header(req, *hl, e) < 0)
			goto out;
	rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, req->headers);
	if (rc != CURLE_OK) {
		err_set(e, "curl option: %s", curl_easy_strerror(rc));
		goto out;
	}
	ret = 0;
out:
	cJSON_free(json);
	return ret;
}

/* ---- the public API ---- */

struct http *http_new(uv_loop_t *loop, const struct http_options *o)
{
	struct http_options d = o ? *o : (struct http_options){0};
	CURLM *multi = curl_multi_init();
	if (!multi)
		return NULL;

	struct http *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->multi = multi;
	h->max_in_flight = d.max_in_flight ? d.max_in_flight : DEFAULT_IN_FLIGHT;
	h->timeout_ms = d.timeout_ms > 0 ? d.timeout_ms : DEFAULT_TIMEOUT_MS;
	h->connect_timeout_ms =
	    d.connect_timeout_ms > 0 ? d.connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	h->max_body = d.max_body ? d.max_body : DEFAULT_MAX_BODY;
	h->user_agent = xstrdup(d.user_agent ? d.user_agent : "microscaler");
	h->name = xstrdup(d.name);
	list_init(&h->queue);
	list_init(&h->running);
	list_init(&h->zombies);
	list_init(&h->socks);
	uv_timer_init(loop, &h->timer);
	h->handles = 1;

	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(multi, CURLMOPT_TIMERDATA, h);
	/* Keep as many idle connections as may be busy at once: one per request in flight. */
	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)h->max_in_flight);
	return h;
}

struct http_req *http_start(struct http *h, const struct http_request *rq, struct err *e)
{
	if (h->closing) {
		err_set(e, "http client closing");
		return NULL;
	}
	if (!rq || !rq->url || !rq->on_done) {
		err_set(e, "http request without %s", !rq || !rq->url ? "url" : "on_done");
		return NULL;
	}

	struct http_req *req = xcalloc(1, sizeof *req);
	req->h = h;
	list_init(&req->link);
	req->method = xstrdup(rq->method ? rq->method : "GET");
	req->url = xstrdup(rq->url);
	req->on_data = rq->on_data;
	req->on_done = rq->on_done;
	req->arg = rq->arg;
	req->op = rq->op;
	if (setup_easy(req, rq, e) < 0) {
		err_wrap(e, "%s %s", req->method, req->url);
		req_free(req);
		return NULL;
	}
	req->queued_at = uv_hrtime();
	/* Inside curl (from an on_data) a handle cannot be added: queue it, settle() starts it
	 * when the current loop callback unwinds. */
	if (!h->in_curl && h->in_flight < h->max_in_flight && list_empty(&h->queue)) {
		if (start_transfer(req, e) < 0) {
			req_free(req);
			return NULL;
		}
	} else {
		req->state = REQ_QUEUED;
		list_push(&h->queue, &req->link);
		h->stats.queued++;
	}
	return req;
}

const char *http_header(const struct http_response *res, const char *name)
{
	const struct buf *b = &res->req->hdrs;
	const char *found = NULL;

	for (size_t i = 0; i < b->len;) {
		const char *n = b->p + i;
		const char *v = n + strlen(n) + 1;
		if (strcasecmp(n, name) == 0)
			found = v;
		i = (size_t)(v - b->p) + strlen(v) + 1;
	}
	return found;
}

/* The most useful line of an error body: Docker's and Marathon's JSON "message", else the
 * body's first line. */
static void error_text(const struct http_response *res, char *out, size_t size)
{
	out[0] = '\0';
	if (res->body_len && res->body_len < 64 * 1024) {
		cJSON *j = cJSON_ParseWithLength(res->body, res->body_len);
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
		if (cJSON_IsString(m) && m->valuestring[0])
			snprintf(out, size, "%s", m->valuestring);
		cJSON_Delete(j);
		if (out[0])
			return;
	}
	const char *p = res->body;
	while (*p && isspace((unsigned char)*p))
		p++;
	size_t n = strcspn(p, "\r\n");
	if (n >= size)
		n = size - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	if (!out[0])
		snprintf(out, size, "%s", res->reason);
}

int http_check(const struct http_response *res, struct err *e)
{
	char text[300];

	if (res->result != HTTP_OK)
		return err_set(e, "%s", res->error);
	if (res->status >= 200 && res->status < 300)
		return 0;
	error_text(res, text, sizeof text);
	err_set(e, "%ld%s%s", res->status, text[0] ? " " : "", text);
	if (e)
		e->code = (int)res->status;
	return -1;
}

void http_stats(const struct http *h, struct http_stats *out)
{
	*out = h->stats;
	out->in_flight = h->in_flight;
}

void http_close(struct http *h, http_closed_fn done, void *arg)
{
	if (h->closing)
		return;
	h->closing = true;
	h->on_closed = done;
	h->closed_arg = arg;
	enter(h);
	while (!list_empty(&h->queue))
		cancel(container_of(h->queue.next, struct http_req, link));
	while (!list_empty(&h->running))
		cancel(container_of(h->running.next, struct http_req, link));
	leave(h);
}

void http_free(struct http *h)
{
	if (!h)
		return;
	if (h->handles) {
		/* Freeing under live uv handles would corrupt the loop: refuse loudly. */
		fprintf(stderr, "level=fatal msg=\"http_free before http_close completed\"\n");
		abort();
	}
	free(h->user_agent);
	free(h->name);
	free(h);
}

char *http_escape(const char *s)
{
	if (!s)
		return NULL;
	char *t = curl_easy_escape(NULL, s, (int)strlen(s));
	if (!t) {
		fprintf(stderr, "level=fatal msg=\"out of memory\" in=http_escape\n");
		abort();
	}
	char *r = xstrdup(t);
	curl_free(t);
	return r;
}
