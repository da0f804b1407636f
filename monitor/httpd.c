/* The HTTP API's server on the shared libwebsockets context: requests, answers, event streams. */
#include "httpd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../utils/log.h"
#include "../utils/lwsctx.h"
#include "../utils/strbuf.h"
#include "../utils/util.h"

#define HTTPD_CHUNK       16384              /* bytes per write: an answer or a batch of events */
#define HTTPD_FLUSH_MS    250                /* at close, followers' time to get the last events */
#define HTTPD_DRAIN_MAX   (16 * 1024 * 1024) /* a refused body up to this is read, not cut off */
#define HTTPD_EVENTS_PATH "/api/v1/events"

enum conn_state {
	C_NEW,    /* nothing yet, or between two requests of a kept-alive connection */
	C_BODY,   /* reading the request body */
	C_ANSWER, /* headers sent, the body goes out at each writable */
	C_SSE,    /* an event stream over HTTP */
	C_WS,     /* an event stream over a websocket */
};

/* Per connection; lws allocates it (zeroed) and frees it when the connection closes. */
struct conn {
	struct httpd *h;
	struct lws *wsi;
	enum conn_state state;
	struct conn *next, *prev; /* in h->streams while C_SSE or C_WS */
	/* The request. */
	enum api_method method;
	char *path, *query, *auth; /* owned */
	long long content_length;
	bool has_body;
	char *body; /* owned */
	size_t body_len, body_cap;
	bool body_over;
	uint64_t started_ms;
	/* The answer. */
	struct api_response res;
	size_t sent;
	/* A stream. */
	uint64_t cursor; /* the last event sent */
	bool counts, counts_due, ping_due, hello_due;
	bool dropping; /* closed for falling behind; counted once */
};

struct httpd {
	uv_loop_t *loop;         /* borrowed */
	struct lwsctx *lws;      /* borrowed */
	struct lws_vhost *vhost; /* freed with the context */
	struct lws_protocols protocols[2];
	struct api *api;       /* borrowed */
	struct events *events; /* borrowed */
	httpd_status_fn status;
	void *arg;
	int port;
	uv_timer_t counts_timer; /* HTTPD_COUNTS_MS: history sample, counts event */
	uv_timer_t ping_timer;   /* HTTPD_PING_MS: SSE keep-alive */
	uv_timer_t flush_timer;  /* httpd_close: the last events' time to go out */
	struct conn *streams;    /* followers of the event stream */
	char *counts_json;       /* the latest counts event; owned */
	bool closing;
	bool holding; /* holds the lws context while the last events go out */
};

/* ---- process figures ------------------------------------------------------------------------ */

void httpd_process_stats(double *cpu_seconds, double *rss_bytes, double *open_fds)
{
	*cpu_seconds = *rss_bytes = *open_fds = -1;
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* After the command name in parentheses: state is field 3, utime 14, stime 15. */
		const char *p = strrchr(buf, ')');
		unsigned long long ut, st;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
		                &st) == 2)
			*cpu_seconds = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		unsigned long long size, resident;
		if (fscanf(f, "%llu %llu", &size, &resident) == 2)
			*rss_bytes = (double)resident * (double)sysconf(_SC_PAGESIZE);
		fclose(f);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		int n = 0;
		for (struct dirent *de; (de = readdir(d));)
			if (de->d_name[0] != '.')
				n++;
		closedir(d);
		*open_fds = n - 1; /* not the one opendir holds */
	}
}

/* ---- connections ---------------------------------------------------------------------------- */

static void stream_unlink(struct conn *c)
{
	if (c->state != C_SSE && c->state != C_WS)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else if (c->h->streams == c)
		c->h->streams = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
	if (c->h->api->tel && c->h->api->tel->stream_clients)
		c->h->api->tel->stream_clients--;
}

static void stream_link(struct conn *c, enum conn_state state)
{
	c->state = state;
	c->next = c->h->streams;
	c->prev = NULL;
	if (c->next)
		c->next->prev = c;
	c->h->streams = c;
	if (c->h->api->tel)
		c->h->api->tel->stream_clients++;
}

/* Free what the last request left (a kept-alive connection reuses the struct). */
static void conn_reset(struct conn *c)
{
	if (c->h)
		stream_unlink(c);
	free(c->path);
	free(c->query);
	free(c->auth);
	free(c->body);
	api_response_free(&c->res);
	struct httpd *h = c->h;
	struct lws *wsi = c->wsi;
	memset(c, 0, sizeof *c);
	c->h = h;
	c->wsi = wsi;
}

static char *header(struct lws *wsi, enum lws_token_indexes tok)
{
	int n = lws_hdr_total_length(wsi, tok);
	if (n <= 0)
		return NULL;
	char *s = xmalloc((size_t)n + 1);
	if (lws_hdr_copy(wsi, s, n + 1, tok) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* The query's decoded name=value fragments joined by '&'. */
static char *query(struct lws *wsi)
{
	struct strbuf b = {0};
	char frag[512];
	for (int i = 0; i < 64; i++) {
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0)
			break;
		if (b.len)
			strbuf_puts(&b, "&");
		strbuf_add(&b, frag, (size_t)n);
	}
	return strbuf_steal(&b);
}

static enum api_method method_of(struct lws *wsi)
{
	char *uri;
	int len;
	switch (lws_http_get_uri_and_method(wsi, &uri, &len)) {
	case LWSHUMETH_GET:
		return API_GET;
	case LWSHUMETH_HEAD:
		return API_HEAD;
	case LWSHUMETH_POST:
		return API_POST;
	case LWSHUMETH_PUT:
		return API_PUT;
	case LWSHUMETH_DELETE:
		return API_DELETE;
	case LWSHUMETH_PATCH:
		return API_PATCH;
	case LWSHUMETH_OPTIONS:
		return API_OPTIONS;
	default:
		return API_OTHER;
	}
}

static struct api_request request_of(const struct conn *c)
{
	return (struct api_request){
	    .method = c->method,
	    .path = c->path,
	    .query = c->query ? c->query : "",
	    .auth = c->auth,
	    .body = c->body,
	    .body_len = c->body_len,
	    .content_length = c->content_length,
	};
}

/* Every answered request: counted, and one debug line. */
static void answered(const struct conn *c)
{
	if (c->h->api->tel)
		c->h->api->tel->http_requests++;
	if (!log_enabled(LOG_DEBUG, "http"))
		return;
	static const char *const names[] = {"GET",    "HEAD",  "POST",    "PUT",
	                                    "DELETE", "PATCH", "OPTIONS", "?"};
	log_debug("http", "request", LOG_S("method", names[c->method]),
	          LOG_S("path", c->path ? c->path : ""), LOG_I("status", c->res.status),
	          LOG_I("bytes", c->res.body_len), LOG_I("ms", util_mono_ms() - c->started_ms));
}

/* Headers now, the body at the next writable (all of it for small answers). */
static int send_answer(struct conn *c)
{
	struct lws *wsi = c->wsi;
	struct api_response *r = &c->res;
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
	                                   *end = buf + sizeof buf - 1;
	/* A body we did not read would be taken for the next request: close instead. */
	if (c->has_body && c->state != C_BODY)
		r->close = true;
	if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->content_type,
	                                (lws_filepos_t)r->body_len, &p, end))
		return -1;
	static const char no_store[] = "no-store";
	if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (const unsigned char *)no_store, sizeof no_store - 1, &p,
	                                 end))
		return -1;
	if (r->allow && lws_add_http_header_by_name(
	                    wsi, (const unsigned char *)"allow:", (const unsigned char *)r->allow,
	                    (int)strlen(r->allow), &p, end))
		return -1;
	static const char bearer[] = "Bearer realm=\"microscaler\"";
	if (r->auth_challenge &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
	                                 (const unsigned char *)bearer, sizeof bearer - 1, &p, end))
		return -1;
	static const char close_[] = "close";
	if (r->close &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)close_,
	                                 sizeof close_ - 1, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	answered(c);
	c->state = C_ANSWER;
	c->sent = 0;
	if (c->method == API_HEAD || r->body_len == 0) {
		bool close = r->close;
		conn_reset(c);
		if (close)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	lws_callback_on_writable(wsi);
	return 0;
}

static int write_answer(struct conn *c)
{
	struct api_response *r = &c->res;
	const char *src = r->static_body ? r->static_body : r->body;
	size_t n = r->body_len - c->sent;
	if (n > HTTPD_CHUNK)
		n = HTTPD_CHUNK;
	bool last = c->sent + n == r->body_len;
	unsigned char buf[LWS_PRE + HTTPD_CHUNK];
	memcpy(buf + LWS_PRE, src + c->sent, n);
	if (lws_write(c->wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) < 0)
		return -1;
	c->sent += n;
	if (!last) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	bool close = r->close;
	struct lws *wsi = c->wsi;
	conn_reset(c);
	if (close)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- event streams -------------------------------------------------------------------------- */

static long long last_event_id(struct lws *wsi)
{
	char v[32];
	static const char name[] = "last-event-id:";
	int n = lws_hdr_custom_length(wsi, name, (int)sizeof name - 1);
	if (n <= 0 || n >= (int)sizeof v ||
	    lws_hdr_custom_copy(wsi, v, (int)sizeof v, name, (int)sizeof name - 1) < 0)
		return -1;
	long long id;
	return util_parse_long(v, 0, (long long)1 << 53, &id) == 0 ? id : -1;
}

static void refresh_counts(struct httpd *h)
{
	struct api_status st;
	memset(&st, 0, sizeof st);
	h->status(h->arg, &st);
	free(h->counts_json);
	h->counts_json = api_counts_json(h->api->tasks, st.dry_run, util_wall_ms());
}

static int start_sse(struct conn *c)
{
	struct lws *wsi = c->wsi;
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
	                                  *end = buf + sizeof buf - 1;
	static const char no_cache[] = "no-store";
	if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream",
	                                LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
	                                 (const unsigned char *)no_cache, sizeof no_cache - 1, &p,
	                                 end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	lws_http_mark_sse(wsi);
	answered(c);
	c->counts = c->res.stream_counts;
	api_response_free(&c->res);
	c->cursor = events_start_cursor(c->h->events, last_event_id(wsi));
	stream_link(c, C_SSE);
	c->hello_due = true;
	c->counts_due = c->counts;
	if (c->counts && !c->h->counts_json)
		refresh_counts(c->h);
	lws_callback_on_writable(wsi);
	return 0;
}

static int stream_lost(struct conn *c)
{
	if (!c->dropping) {
		c->dropping = true;
		if (c->h->api->tel)
			c->h->api->tel->stream_dropped++;
		log_warn("http", "event stream closed: the client fell too far behind",
		         LOG_I("behind", events_last(c->h->events) - c->cursor));
	}
	return -1;
}

static int write_sse(struct conn *c)
{
	struct strbuf b = {0};
	static const char pre[LWS_PRE];
	strbuf_add(&b, pre, LWS_PRE);
	if (c->hello_due)
		strbuf_puts(&b, "retry: 2000\n\n"); /* EventSource reconnects after 2 s */
	if (c->ping_due)
		strbuf_puts(&b, ": ping\n\n");
	c->hello_due = c->ping_due = false;
	bool lost = false;
	const struct event *ev;
	while (b.len < LWS_PRE + HTTPD_CHUNK &&
	       (ev = events_next(c->h->events, c->cursor, &lost))) {
		if (lost) {
			strbuf_free(&b);
			return stream_lost(c);
		}
		strbuf_printf(&b, "id: %llu\ndata: ", (unsigned long long)ev->seq);
		strbuf_add(&b, ev->json, ev->len);
		strbuf_puts(&b, "\n\n");
		c->cursor = ev->seq;
	}
	if (c->counts_due && c->h->counts_json) {
		strbuf_puts(&b, "event: counts\ndata: ");
		strbuf_puts(&b, c->h->counts_json);
		strbuf_puts(&b, "\n\n");
		c->counts_due = false;
	}
	int rc = 0;
	size_t n = b.len - LWS_PRE;
	if (n && lws_write(c->wsi, (unsigned char *)b.p + LWS_PRE, n, LWS_WRITE_HTTP) < 0)
		rc = -1;
	strbuf_free(&b);
	if (rc == 0 && events_next(c->h->events, c->cursor, &lost))
		lws_callback_on_writable(c->wsi);
	return rc;
}

/* One event per websocket message. */
static int write_ws(struct conn *c)
{
	bool lost = false;
	const struct event *ev = events_next(c->h->events, c->cursor, &lost);
	if (lost)
		return stream_lost(c);
	if (!ev)
		return 0;
	unsigned char *buf = xmalloc(LWS_PRE + ev->len);
	memcpy(buf + LWS_PRE, ev->json, ev->len);
	int n = lws_write(c->wsi, buf + LWS_PRE, ev->len, LWS_WRITE_TEXT);
	free(buf);
	if (n < 0)
		return -1;
	c->cursor = ev->seq;
	if (events_next(c->h->events, c->cursor, &lost))
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* A new event: wake every follower. One that is a whole ring behind has lost events already:
 * it is closed (from lws's own loop turn: not from here). */
static void on_event(const struct event *ev, void *arg)
{
	struct httpd *h = arg;
	for (struct conn *c = h->streams; c; c = c->next) {
		if (ev->seq - c->cursor > EVENTS_RING) {
			if (!c->dropping) {
				stream_lost(c);
				lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			}
		} else {
			lws_callback_on_writable(c->wsi);
		}
	}
}

static void on_counts_timer(uv_timer_t *t)
{
	struct httpd *h = container_of(t, struct httpd, counts_timer);
	api_sample(h->api, util_wall_ms());
	bool want = false;
	for (struct conn *c = h->streams; c && !want; c = c->next)
		want = c->counts;
	if (!want)
		return;
	refresh_counts(h);
	for (struct conn *c = h->streams; c; c = c->next)
		if (c->counts) {
			c->counts_due = true;
			lws_callback_on_writable(c->wsi);
		}
}

static void on_ping_timer(uv_timer_t *t)
{
	struct httpd *h = container_of(t, struct httpd, ping_timer);
	for (struct conn *c = h->streams; c; c = c->next)
		if (c->state == C_SSE) {
			c->ping_due = true;
			lws_callback_on_writable(c->wsi);
		}
}

/* ---- requests ------------------------------------------------------------------------------- */

static int handle(struct conn *c)
{
	struct httpd *h = c->h;
	struct api_request rq = request_of(c);
	struct api_status st;
	memset(&st, 0, sizeof st);
	st.cpu_seconds = st.rss_bytes = st.open_fds = -1;
	h->status(h->arg, &st);
	char name[64];
	if (api_route(c->path, name, sizeof name) == API_R_METRICS)
		httpd_process_stats(&st.cpu_seconds, &st.rss_bytes, &st.open_fds);
	api_handle(h->api, &rq, &st, util_mono_ms(), util_wall_ms(), &c->res);
	if (c->res.kind == API_STREAM)
		return start_sse(c);
	return send_answer(c);
}

static int on_http(struct conn *c, struct lws *wsi, const char *path)
{
	conn_reset(c);
	c->wsi = wsi;
	c->started_ms = util_mono_ms();
	c->method = method_of(wsi);
	c->path = xstrdup(path);
	c->query = query(wsi);
	c->auth = header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	c->content_length = -1;
	char *cl = header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	if (cl) {
		long long n;
		c->content_length =
		    util_parse_long(cl, 0, (long long)1 << 53, &n) == 0 ? n : API_MAX_BODY + 1;
		free(cl);
	}
	bool chunked = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0;
	c->has_body = c->content_length > 0 || chunked;
	struct api_request rq = request_of(c);
	int refused = api_precheck(c->h->api, &rq, &c->res);
	/* A body over the cap is read and thrown away before the 413, up to HTTPD_DRAIN_MAX: a
	 * client still sending would otherwise see the connection reset, not the answer. */
	if (refused == 413 && !chunked && c->content_length <= HTTPD_DRAIN_MAX) {
		api_response_free(&c->res);
		c->state = C_BODY;
		c->body_over = true;
		return 0;
	}
	if (refused)
		return send_answer(c);
	/* lws 4.1 drops a chunked request body (the client gets no answer at all): say why. */
	if (chunked) {
		api_answer_error(&c->res, 411, "send the body with a Content-Length, not chunked");
		return send_answer(c);
	}
	if (c->has_body && (c->method == API_POST || c->method == API_PUT)) {
		c->state = C_BODY;
		return 0;
	}
	return handle(c);
}

static void on_body(struct conn *c, const char *in, size_t len)
{
	if (c->state != C_BODY || c->body_over)
		return;
	if (len > API_MAX_BODY - c->body_len) {
		c->body_over = true; /* chunked, or longer than announced */
		return;
	}
	if (c->body_len + len + 1 > c->body_cap) {
		c->body_cap = (c->body_len + len + 1) * 2;
		c->body = xrealloc(c->body, c->body_cap);
	}
	memcpy(c->body + c->body_len, in, len);
	c->body_len += len;
	c->body[c->body_len] = '\0';
}

static int on_body_done(struct conn *c)
{
	if (c->state != C_BODY)
		return 0;
	if (c->body_over) {
		c->body_len = API_MAX_BODY + 1;
		struct api_request rq = request_of(c);
		api_precheck(c->h->api, &rq, &c->res); /* the 413 */
		c->res.close = false;                  /* the body was read whole */
		c->has_body = false;
		c->state = C_NEW;
		return send_answer(c);
	}
	c->state = C_NEW;
	c->has_body = false; /* read whole */
	return handle(c);
}

/* A websocket upgrade is only for the events path. */
static bool ws_path_ok(struct lws *wsi)
{
	char path[64];
	return lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) > 0 &&
	       strcmp(path, HTTPD_EVENTS_PATH) == 0;
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct httpd *h = vh ? lws_get_vhost_user(vh) : NULL;
	struct conn *c = user;
	if (!h)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	/* Between httpd_close and the context's destroy: nothing new, streams finish. */
	if (h->closing && (reason == LWS_CALLBACK_HTTP || reason == LWS_CALLBACK_ESTABLISHED ||
	                   reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION))
		return -1;
	if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION) { /* before any session data */
		if (ws_path_ok(wsi))
			return 0;
		lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND,
		                       "a websocket is only served on " HTTPD_EVENTS_PATH);
		return 1;
	}
	if (!c)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	if (!c->h) {
		c->h = h;
		c->wsi = wsi;
	}
	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return on_http(c, wsi, in ? (const char *)in : "/");
	case LWS_CALLBACK_HTTP_BODY:
		on_body(c, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return on_body_done(c);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (c->state == C_ANSWER)
			return write_answer(c);
		if (c->state == C_SSE)
			return write_sse(c);
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_CLOSED:
		conn_reset(c);
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
		conn_reset(c);
		c->cursor = events_start_cursor(h->events, -1);
		stream_link(c, C_WS);
		log_debug("http", "event websocket opened", LOG_I("from_seq", c->cursor));
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->state == C_WS ? write_ws(c) : 0;
	case LWS_CALLBACK_RECEIVE:
		return 0; /* followers have nothing to say */
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

struct httpd *httpd_new(uv_loop_t *loop, const struct httpd_options *o, struct err *e)
{
	struct httpd *h = xcalloc(1, sizeof *h);
	h->loop = loop;
	h->lws = o->lws;
	h->api = o->api;
	h->events = o->events;
	h->status = o->status;
	h->arg = o->arg;
	h->protocols[0] = (struct lws_protocols){
	    .name = "microscaler-http",
	    .callback = on_lws,
	    .per_session_data_size = sizeof(struct conn),
	    .rx_buffer_size = 4096,
	};
	struct lws_context_creation_info vi;
	memset(&vi, 0, sizeof vi);
	vi.vhost_name = "microscaler-http";
	vi.port = o->port;
	vi.iface = o->host && *o->host ? o->host : NULL;
	vi.protocols = h->protocols;
	vi.user = h;
	vi.keepalive_timeout = 30; /* an idle kept-alive connection is closed after this */
	/* lws 4.1 binds an IPv4 address given as iface on an IPv6 socket to every interface
	 * ([::]:port): an IPv4 address gets an IPv4 socket. */
	unsigned char a4[4];
	if (vi.iface && inet_pton(AF_INET, vi.iface, a4) == 1)
		vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	lwsctx_clear_error();
	h->vhost = lws_create_vhost(lwsctx_context(o->lws), &vi);
	if (!h->vhost) {
		err_set(e, "cannot listen on %s:%d (%s)", o->host && *o->host ? o->host : "*",
		        o->port, lwsctx_last_error()[0] ? lwsctx_last_error() : "address in use?");
		free(h);
		return NULL;
	}
	h->port = lws_get_vhost_listen_port(h->vhost);
	uv_timer_init(loop, &h->counts_timer);
	uv_timer_init(loop, &h->ping_timer);
	uv_timer_init(loop, &h->flush_timer);
	uv_timer_start(&h->counts_timer, on_counts_timer, HTTPD_COUNTS_MS, HTTPD_COUNTS_MS);
	uv_timer_start(&h->ping_timer, on_ping_timer, HTTPD_PING_MS, HTTPD_PING_MS);
	h->events->on_event = on_event;
	h->events->arg = h;
	api_sample(h->api, util_wall_ms());
	return h;
}

int httpd_port(const struct httpd *h)
{
	return h->port;
}

static void on_flush_timer(uv_timer_t *t)
{
	struct httpd *h = container_of(t, struct httpd, flush_timer);
	uv_close((uv_handle_t *)&h->flush_timer, NULL);
	if (h->holding) {
		h->holding = false;
		lwsctx_release(h->lws);
	}
}

void httpd_close(struct httpd *h)
{
	if (!h || h->closing)
		return;
	h->closing = true;
	uv_timer_stop(&h->counts_timer);
	uv_timer_stop(&h->ping_timer);
	uv_close((uv_handle_t *)&h->counts_timer, NULL);
	uv_close((uv_handle_t *)&h->ping_timer, NULL);
	/* Followers get the last events (the drain, the final stops) before the context goes. */
	bool behind = false;
	for (struct conn *c = h->streams; c && !behind; c = c->next)
		behind = c->cursor < events_last(h->events);
	if (behind) {
		h->holding = true;
		lwsctx_hold(h->lws);
		uv_timer_start(&h->flush_timer, on_flush_timer, HTTPD_FLUSH_MS, 0);
	} else {
		uv_close((uv_handle_t *)&h->flush_timer, NULL);
	}
}

void httpd_free(struct httpd *h)
{
	if (!h)
		return;
	if (h->events->on_event == on_event) {
		h->events->on_event = NULL;
		h->events->arg = NULL;
	}
	free(h->counts_json);
	free(h);
}
