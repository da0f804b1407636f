/* Websocket client: libwebsockets on the agent's libuv loop, one connection kept up forever. */
#include "ws.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "log.h"
#include "lwsctx.h"
#include "util.h"

#define WS_DEFAULT_MAX_MESSAGE (1u << 20)
#define WS_DEFAULT_KEEPALIVE_S 20
#define WS_DEFAULT_BACKOFF_MIN 200
#define WS_DEFAULT_BACKOFF_MAX 10000
#define WS_BACKOFF_JITTER_PCT  20
#define WS_RX_CHUNK            16384 /* lws hands received data over in pieces this size */
#define WS_RX_KEEP             65536 /* a receive buffer larger than this is freed after use */
#define WS_HANDSHAKE_TIMEOUT_S 5     /* connect + TLS + upgrade */
#define WS_LOG_EVERY_MS        10000 /* oversized-message log lines: one per this period */
/* The Go client sent this Origin; servers written for it may check it. */
#define WS_ORIGIN "http://localhost/"

enum ws_state {
	WS_IDLE,       /* before ws_start */
	WS_RESOLVING,  /* uv_getaddrinfo in flight */
	WS_CONNECTING, /* lws connection in flight (TCP, TLS, upgrade) */
	WS_CONNECTED,  /* upgraded: frames flow */
	WS_WAITING,    /* the retry timer runs */
	WS_CLOSED,     /* ws_close: nothing more will start */
};

struct ws {
	uv_loop_t *loop;             /* borrowed */
	struct lwsctx *lws;          /* shared (borrowed) or our own (own_lws) */
	struct lws_vhost *vhost;     /* the client vhost on it; freed with the context */
	struct lws_protocols protocols[2];
	lws_retry_bo_t keepalive;    /* lws keeps a pointer to it per connection */
	char *auth;                  /* "Bearer <token>", or NULL */
	char *ca_file;               /* or NULL */
	size_t max_message;
	ws_message_fn on_message;
	ws_link_fn on_link;
	void *arg;

	uintptr_t gen;               /* attempt number, kept in each wsi's opaque user data */
	struct lws *wsi;             /* the connection in flight or up; NULL otherwise */
	struct lws *connect_wsi;     /* lws's pwsi slot (lws may clear it by itself) */
	uv_getaddrinfo_t resolve;
	uv_timer_t retry_timer;
	uv_timer_t flush_timer;      /* ws_close: deadline for the last frame, then the destroy */
	struct backoff backoff;
	uint64_t up_since_ms, down_since_ms;
	uint64_t rx_oversized_logged_ms, rx_oversized_suppressed;
	struct ws_stats stats;

	char *rx;                    /* the inbound message being reassembled */
	size_t rx_len, rx_cap;
	unsigned char *tx;           /* LWS_PRE + the pending frame */
	size_t tx_len, tx_cap;

	enum ws_state state;
	uint32_t attempt_at_connect; /* backoff.attempt before the reset at the last upgrade */
	uint32_t failures;           /* failed attempts in this outage */
	unsigned addr_pick;          /* which resolved address to try: moves on after a failure,
				      * so a name with an unreachable first address (::1 before
				      * 127.0.0.1) still connects on a later attempt */
	int in_callback;             /* depth of lws callbacks on the stack */
	bool insecure;
	bool resolving;              /* resolve request outstanding (even after ws_close) */
	bool ever_connected;
	bool outage_logged;          /* this outage has had its one log line */
	bool closing;
	bool closed;                 /* finish_close ran */
	bool own_lws;
	bool holding;                /* holds the shared context while the last frame goes out */
	bool rx_in_message, rx_discard;
	bool tx_pending;

	struct ws_url url;
	char hostport[300];          /* Host header */
	char address[INET6_ADDRSTRLEN];
	char close_reason[96];       /* what the server said in its close frame */
};

/* ---- MSS_API_ADDRESS --------------------------------------------------------------------- */

static bool bad_char(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f)
			return true;
	return false;
}

int ws_parse_url(const char *addr, struct ws_url *out, struct err *e)
{
	memset(out, 0, sizeof *out);
	if (!addr || !*addr)
		return err_set(e, "empty address (want host[:port] or ws[s]://host[:port]/path)");
	if (bad_char(addr))
		return err_set(e, "'%s' contains spaces or control characters", addr);
	const char *p = addr;
	const char *sep = strstr(addr, "://");
	if (sep) {
		size_t n = (size_t)(sep - addr);
		if (n == 2 && strncasecmp(addr, "ws", 2) == 0)
			out->tls = false;
		else if (n == 3 && strncasecmp(addr, "wss", 3) == 0)
			out->tls = true;
		else
			return err_set(e, "'%s': scheme must be ws:// or wss:// (or none: host[:port])",
				       addr);
		p = sep + 3;
	}
	out->port = out->tls ? 443 : 80;
	size_t auth_len = strcspn(p, "/?#");
	if (memchr(p, '@', auth_len))
		return err_set(e, "user info (user:password@) in the address is not supported, it "
		                  "would be logged: use MSS_API_TOKEN");
	if (strchr(p, '#'))
		return err_set(e, "'%s': a fragment (#...) has no meaning here", addr);
	const char *host = p, *host_end, *port = NULL;
	if (*p == '[') {
		host = p + 1;
		host_end = memchr(host, ']', auth_len);
		if (!host_end)
			return err_set(e, "'%s': unclosed '[' in an IPv6 address", addr);
		if (host_end + 1 < p + auth_len) {
			if (host_end[1] != ':')
				return err_set(e, "'%s': junk after ']'", addr);
			port = host_end + 2;
		}
	} else {
		host_end = memchr(p, ':', auth_len);
		if (host_end)
			port = host_end + 1;
		else
			host_end = p + auth_len;
	}
	size_t hlen = (size_t)(host_end - host);
	if (hlen == 0)
		return err_set(e, "'%s': no host", addr);
	if (hlen >= sizeof out->host)
		return err_set(e, "'%s': host name too long", addr);
	memcpy(out->host, host, hlen);
	if (*p != '[') {
		for (size_t i = 0; i < hlen; i++) {
			unsigned char c = (unsigned char)out->host[i];
			if (!isalnum(c) && c != '-' && c != '.' && c != '_')
				return err_set(e, "'%s': bad character '%c' in the host", addr, c);
		}
	} else {
		struct in6_addr a6;
		if (inet_pton(AF_INET6, out->host, &a6) != 1)
			return err_set(e, "'%s': '%s' is not an IPv6 address", addr, out->host);
	}
	if (port) {
		size_t plen = (size_t)(p + auth_len - port);
		char num[8];
		long long v;
		if (plen == 0 || plen >= sizeof num)
			return err_set(e, "'%s': bad port", addr);
		memcpy(num, port, plen);
		num[plen] = '\0';
		if (strspn(num, "0123456789") != plen || util_parse_long(num, 1, 65535, &v) != 0)
			return err_set(e, "'%s': port must be 1-65535", addr);
		out->port = (int)v;
	}
	const char *path = p + auth_len;
	if (!*path)
		path = "/";
	if (*path == '?')
		snprintf(out->path, sizeof out->path, "/%s", path);
	else if (strlen(path) >= sizeof out->path)
		return err_set(e, "'%s': path too long", addr);
	else
		snprintf(out->path, sizeof out->path, "%s", path);
	return 0;
}

void ws_url_hostport(const struct ws_url *u, char *buf, size_t len)
{
	bool v6 = strchr(u->host, ':') != NULL;
	bool dflt = u->port == (u->tls ? 443 : 80);
	if (dflt)
		snprintf(buf, len, "%s%s%s", v6 ? "[" : "", u->host, v6 ? "]" : "");
	else
		snprintf(buf, len, "%s%s%s:%d", v6 ? "[" : "", u->host, v6 ? "]" : "", u->port);
}

/* ---- connection state ---------------------------------------------------------------------- */

static void attempt(struct ws *w);

static void on_retry(uv_timer_t *t)
{
	struct ws *w = container_of(t, struct ws, retry_timer);
	if (!w->closing)
		attempt(w);
}

static void schedule_retry(struct ws *w)
{
	w->state = WS_WAITING;
	uint32_t delay = backoff_next(&w->backoff);
	log_debug("ws", "retry scheduled", LOG_I("delay_ms", delay), LOG_I("failures", w->failures));
	uv_timer_start(&w->retry_timer, on_retry, delay, 0);
}

/* An attempt ended before the upgrade. The first failure of an outage is logged (with lws's own
 * last error, where a TLS problem is explained); the rest only at debug level. */
static void attempt_failed(struct ws *w, const char *why)
{
	if (w->closing) {
		w->state = WS_CLOSED;
		return;
	}
	w->wsi = NULL;
	w->failures++;
	w->addr_pick++;
	if (!w->outage_logged) {
		w->outage_logged = true;
		w->down_since_ms = util_mono_ms();
		log_warn("ws", "cannot connect to the API server, retrying with backoff",
			 LOG_S("url_host", w->hostport), LOG_S("path", w->url.path),
			 LOG_S("error", why), LOG_S("detail", lwsctx_last_error()));
	} else {
		log_debug("ws", "connect failed", LOG_S("error", why),
			  LOG_S("detail", lwsctx_last_error()),
			  LOG_I("failures", w->failures));
	}
	schedule_retry(w);
}

/* An established connection went away. */
static void connection_lost(struct ws *w, const char *why)
{
	w->wsi = NULL;
	w->tx_pending = false;
	w->rx_in_message = false;
	w->rx_len = 0;
	if (w->closing) {
		w->state = WS_CLOSED;
		return;
	}
	uint64_t now = util_mono_ms();
	uint64_t up = now - w->up_since_ms;
	w->stats.disconnects++;
	/* A connection that did not last is a failed attempt: keep backing off, so a server that
	 * accepts and drops at once is not hammered every 200 ms. */
	if (up < WS_STABLE_MS)
		w->backoff.attempt = w->attempt_at_connect;
	w->outage_logged = true;
	w->down_since_ms = now;
	w->failures = 0;
	log_warn("ws", "disconnected from the API server, reconnecting", LOG_S("reason", why),
		 LOG_S("close", w->close_reason), LOG_I("up_ms", up));
	w->close_reason[0] = '\0';
	if (w->on_link)
		w->on_link(false, w->arg);
	if (!w->closing)
		schedule_retry(w);
}

static void connected(struct ws *w, struct lws *wsi)
{
	uint64_t now = util_mono_ms();
	w->state = WS_CONNECTED;
	w->wsi = wsi;
	w->up_since_ms = now;
	w->stats.connects++;
	w->attempt_at_connect = w->backoff.attempt;
	backoff_reset(&w->backoff);
	if (!w->ever_connected)
		log_info("ws", "connected to the API server", LOG_S("url_host", w->hostport),
			 LOG_S("path", w->url.path), LOG_S("address", w->address),
			 LOG_B("tls", w->url.tls), LOG_B("insecure", w->insecure));
	else
		log_info("ws", "reconnected to the API server", LOG_S("address", w->address),
			 LOG_I("down_ms", now - w->down_since_ms), LOG_I("attempts", w->failures + 1));
	w->ever_connected = true;
	w->outage_logged = false;
	w->failures = 0;
	lwsctx_clear_error();
	if (w->on_link)
		w->on_link(true, w->arg);
}

static void connect_now(struct ws *w)
{
	struct lws_client_connect_info ci;
	memset(&ci, 0, sizeof ci);
	ci.context = lwsctx_context(w->lws);
	ci.vhost = w->vhost;
	ci.address = w->address;
	ci.port = w->url.port;
	ci.path = w->url.path;
	ci.host = w->hostport;
	ci.origin = WS_ORIGIN;
	ci.local_protocol_name = w->protocols[0].name;
	ci.retry_and_idle_policy = &w->keepalive;
	ci.opaque_user_data = (void *)w->gen;
	ci.pwsi = &w->connect_wsi;
	if (w->url.tls) {
		ci.ssl_connection = LCCSCF_USE_SSL;
		if (w->insecure)
			ci.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_ALLOW_INSECURE |
					     LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
					     LCCSCF_ALLOW_EXPIRED;
	}
	w->state = WS_CONNECTING;
	uintptr_t gen = w->gen;
	lwsctx_clear_error();
	struct lws *wsi = lws_client_connect_via_info(&ci);
	/* NULL with no callback (e.g. no socket): still this attempt's end. A callback may already
	 * have ended it (and moved on), which gen tells. */
	if (!wsi && w->gen == gen && w->state == WS_CONNECTING)
		attempt_failed(w, "connect failed");
	else if (wsi && w->gen == gen && w->state == WS_CONNECTING)
		w->wsi = wsi;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct ws *w = container_of(req, struct ws, resolve);
	w->resolving = false;
	if (w->closing) {
		uv_freeaddrinfo(res);
		w->state = WS_CLOSED;
		return;
	}
	if (status < 0 || !res) {
		char why[300];
		snprintf(why, sizeof why, "resolve %s: %s", w->url.host, uv_strerror(status));
		uv_freeaddrinfo(res);
		attempt_failed(w, why);
		return;
	}
	unsigned n = 0;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next)
		n++;
	const struct addrinfo *ai = res;
	for (unsigned i = 0; i < w->addr_pick % n; i++)
		ai = ai->ai_next;
	if (ai->ai_family == AF_INET6)
		uv_ip6_name((const struct sockaddr_in6 *)ai->ai_addr, w->address, sizeof w->address);
	else
		uv_ip4_name((const struct sockaddr_in *)ai->ai_addr, w->address, sizeof w->address);
	uv_freeaddrinfo(res);
	connect_now(w);
}

/* One attempt: resolve off the loop (lws's resolver would block it), then connect. */
static void attempt(struct ws *w)
{
	w->gen++;
	w->stats.attempts++;
	log_debug("ws", "connecting", LOG_S("url_host", w->hostport), LOG_I("attempt", w->gen));
	unsigned char buf[sizeof(struct in6_addr)];
	if (inet_pton(AF_INET, w->url.host, buf) == 1 || inet_pton(AF_INET6, w->url.host, buf) == 1) {
		snprintf(w->address, sizeof w->address, "%.*s", (int)sizeof w->address - 1, w->url.host);
		connect_now(w);
		return;
	}
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	w->state = WS_RESOLVING;
	int rc = uv_getaddrinfo(w->loop, &w->resolve, on_resolved, w->url.host, NULL, &hints);
	if (rc != 0) {
		char why[300];
		snprintf(why, sizeof why, "resolve %s: %s", w->url.host, uv_strerror(rc));
		attempt_failed(w, why);
		return;
	}
	w->resolving = true;
}

/* ---- frames ---------------------------------------------------------------------------- */

static void rx_oversized(struct ws *w, size_t had)
{
	w->stats.rx_oversized++;
	uint64_t now = util_mono_ms();
	if (w->rx_oversized_logged_ms && now - w->rx_oversized_logged_ms < WS_LOG_EVERY_MS) {
		w->rx_oversized_suppressed++;
		return;
	}
	log_warn("ws", "message over MSS_API_MAX_FRAME discarded, connection kept",
		 LOG_I("max_bytes", w->max_message), LOG_I("received_bytes", had),
		 LOG_I("suppressed", w->rx_oversized_suppressed));
	w->rx_oversized_logged_ms = now;
	w->rx_oversized_suppressed = 0;
}

static void rx_chunk(struct ws *w, struct lws *wsi, const char *in, size_t len)
{
	if (!w->rx_in_message) {
		w->rx_in_message = true;
		w->rx_discard = false;
		w->rx_len = 0;
	}
	if (!w->rx_discard) {
		if (len > w->max_message - w->rx_len) {
			rx_oversized(w, w->rx_len + len);
			w->rx_discard = true;
			w->rx_len = 0;
		} else if (len > 0) {
			if (w->rx_len + len + 1 > w->rx_cap) {
				size_t cap = w->rx_cap ? w->rx_cap : 4096;
				while (cap < w->rx_len + len + 1)
					cap *= 2;
				w->rx = xrealloc(w->rx, cap);
				w->rx_cap = cap;
			}
			memcpy(w->rx + w->rx_len, in, len);
			w->rx_len += len;
		}
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
		return;
	w->rx_in_message = false;
	lws_validity_confirmed(wsi); /* a whole message proves the server alive, like a PONG */
	if (!w->rx_discard) {
		w->stats.rx_messages++;
		if (!w->rx) { /* an empty message */
			w->rx = xmalloc(1);
			w->rx_cap = 1;
		}
		w->rx[w->rx_len] = '\0';
		if (w->on_message && !w->closing)
			w->on_message(w->rx, w->rx_len, w->arg);
	}
	w->rx_len = 0;
	if (w->rx_cap > WS_RX_KEEP) {
		free(w->rx);
		w->rx = NULL;
		w->rx_cap = 0;
	}
}

static int tx_write(struct ws *w, struct lws *wsi)
{
	if (!w->tx_pending || wsi != w->wsi)
		return 0; /* also called after lws sent a PING or PONG of its own */
	w->tx_pending = false;
	int n = lws_write(wsi, w->tx + LWS_PRE, w->tx_len, LWS_WRITE_TEXT);
	if (n < 0 || (size_t)n < w->tx_len) {
		log_debug("ws", "write failed, closing", LOG_I("len", w->tx_len), LOG_I("written", n));
		return -1; /* lws closes the connection: CLIENT_CLOSED follows */
	}
	w->stats.tx_frames++;
	return 0;
}

static void finish_close(struct ws *w);

static void on_flush_timer(uv_timer_t *t)
{
	finish_close(container_of(t, struct ws, flush_timer));
}

/* ---- the lws callback ---------------------------------------------------------------------- */

/* Whether a callback is about the attempt or connection we are tracking (lws can report on a
 * connection we already gave up on). */
static bool current(struct ws *w, struct lws *wsi)
{
	return (uintptr_t)lws_get_opaque_user_data(wsi) == w->gen &&
	       (w->state == WS_CONNECTING || w->state == WS_CONNECTED);
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		  size_t len)
{
	struct lws_vhost *vh = lws_get_vhost(wsi);
	struct ws *w = vh ? lws_get_vhost_user(vh) : NULL;
	if (!w)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	int rc = 0;
	w->in_callback++;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		if (w->auth) {
			unsigned char **p = (unsigned char **)in, *end = *p + len;
			if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
							 (const unsigned char *)w->auth,
							 (int)strlen(w->auth), p, end))
				rc = -1;
		}
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (current(w, wsi) && !w->closing)
			connected(w, wsi);
		break;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (current(w, wsi)) {
			char why[200];
			snprintf(why, sizeof why, "%.*s", in ? (int)len : 0, in ? (const char *)in : "");
			if (!why[0])
				snprintf(why, sizeof why, "connection error");
			if (w->state == WS_CONNECTED)
				connection_lost(w, why);
			else
				attempt_failed(w, why);
		}
		break;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		/* The only callback when the server accepted TCP but never answered the upgrade. */
		if (current(w, wsi)) {
			if (w->state == WS_CONNECTED)
				connection_lost(w, "closed");
			else
				attempt_failed(w, "no answer to the websocket upgrade");
		}
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		if (current(w, wsi) && in && len >= 2) {
			const unsigned char *b = in;
			snprintf(w->close_reason, sizeof w->close_reason, "%d %.*s", b[0] << 8 | b[1],
				 (int)(len - 2 > 80 ? 80 : len - 2), (const char *)in + 2);
		}
		break;
	case LWS_CALLBACK_CLIENT_CLOSED:
		if (current(w, wsi)) {
			if (w->state == WS_CONNECTED)
				connection_lost(w, "closed");
			else
				attempt_failed(w, "closed before the upgrade");
		}
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (wsi == w->wsi && w->state == WS_CONNECTED)
			rx_chunk(w, wsi, in, len);
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		rc = tx_write(w, wsi);
		if (rc == 0 && w->closing && !w->tx_pending)
			uv_timer_start(&w->flush_timer, on_flush_timer, 0, 0);
		break;
	default:
		rc = lws_callback_http_dummy(wsi, reason, user, in, len);
		break;
	}
	w->in_callback--;
	return rc;
}

/* ---- lifecycle -------------------------------------------------------------------------- */

/* The client's vhost: no listener, our one protocol, TLS settings for wss, no proxy. */
static void vhost_info(struct ws *w, struct lws_context_creation_info *vi)
{
	memset(vi, 0, sizeof *vi);
	vi->vhost_name = "microscaler-ws";
	vi->port = CONTEXT_PORT_NO_LISTEN;
	vi->protocols = w->protocols;
	vi->user = w;
	vi->options = LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	if (w->url.tls) {
		vi->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		if (w->ca_file) {
			vi->options |= LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
			vi->client_ssl_ca_filepath = w->ca_file;
		}
	}
	/* An empty proxy address switches off lws's own reading of http_proxy, which has no
	 * no_proxy and would send even ws://127.0.0.1 to the proxy. (lws complains that "" has no
	 * port, and then uses no proxy: the port must stay 0, lws proxies whenever it is set.) */
	vi->http_proxy_address = "";
	vi->http_proxy_port = 0;
}

/* On a shared context a vhost of our own; otherwise a context of our own made with it. */
static int attach(struct ws *w, struct lwsctx *shared, struct err *e)
{
	struct lws_context_creation_info vi;
	vhost_info(w, &vi);
	lwsctx_clear_error();
	if (shared) {
		w->lws = shared;
		if (w->url.tls && !lwsctx_tls(shared))
			return err_set(e, "websocket: wss needs a libwebsockets context with TLS");
		w->vhost = lws_create_vhost(lwsctx_context(shared), &vi);
	} else {
		/* One connection: a small fd table instead of one sized from `ulimit -n`. */
		w->lws = lwsctx_new_single(w->loop, &vi,
					   &(struct lwsctx_options){.tls = w->url.tls, .fd_limit = 64},
					   e);
		if (!w->lws)
			return err_wrap(e, "websocket");
		w->own_lws = true;
		w->vhost = lws_get_vhost_by_name(lwsctx_context(w->lws), vi.vhost_name);
	}
	if (strstr(lwsctx_last_error(), "http_proxy"))
		lwsctx_clear_error();
	if (!w->vhost) /* only a shared context can get here: its owner closes it */
		return err_set(e, "websocket: cannot create the client vhost (%s)",
			       lwsctx_last_error());
	return 0;
}

struct ws *ws_new(uv_loop_t *loop, const struct ws_options *o, struct err *e)
{
	struct ws *w = xcalloc(1, sizeof *w);
	w->loop = loop;
	w->url = *o->url;
	ws_url_hostport(&w->url, w->hostport, sizeof w->hostport);
	if (o->token && *o->token) {
		size_t n = strlen(o->token) + sizeof "Bearer ";
		w->auth = xmalloc(n);
		snprintf(w->auth, n, "Bearer %s", o->token);
	}
	w->ca_file = o->ca_file && *o->ca_file ? xstrdup(o->ca_file) : NULL;
	w->insecure = o->insecure;
	w->max_message = o->max_message ? o->max_message : WS_DEFAULT_MAX_MESSAGE;
	w->on_message = o->on_message;
	w->on_link = o->on_link;
	w->arg = o->arg;
	unsigned ka = o->keepalive_s ? o->keepalive_s : WS_DEFAULT_KEEPALIVE_S;
	w->keepalive.secs_since_valid_ping = (uint16_t)(ka > 30000 ? 30000 : ka);
	w->keepalive.secs_since_valid_hangup = (uint16_t)(2 * w->keepalive.secs_since_valid_ping);
	backoff_init(&w->backoff, o->backoff_min_ms ? o->backoff_min_ms : WS_DEFAULT_BACKOFF_MIN,
		     o->backoff_max_ms ? o->backoff_max_ms : WS_DEFAULT_BACKOFF_MAX, 2,
		     WS_BACKOFF_JITTER_PCT, util_mono_ms() ^ (uint64_t)(uintptr_t)w);

	w->protocols[0] = (struct lws_protocols){
	    .name = "microscaler",
	    .callback = on_lws,
	    .rx_buffer_size = WS_RX_CHUNK,
	};

	if (attach(w, o->lws, e) != 0)
		goto fail;
	uv_timer_init(loop, &w->retry_timer);
	uv_timer_init(loop, &w->flush_timer);
	if (w->insecure && w->url.tls)
		log_warn("ws", "TLS verification of the API server is OFF (MSS_API_INSECURE=true): for "
			       "tests only, anyone on the path can impersonate the server",
			 LOG_S("url_host", w->hostport));
	return w;
fail:
	free(w->auth);
	free(w->ca_file);
	free(w);
	return NULL;
}

void ws_start(struct ws *w)
{
	if (w->state != WS_IDLE || w->closing)
		return;
	log_info("ws", "connecting to the API server", LOG_S("url_host", w->hostport),
		 LOG_S("path", w->url.path), LOG_B("tls", w->url.tls),
		 LOG_B("token", w->auth != NULL));
	w->down_since_ms = util_mono_ms();
	attempt(w);
}

int ws_send_text(struct ws *w, const char *buf, size_t len)
{
	if (!w || w->closing || w->state != WS_CONNECTED || !w->wsi) {
		if (w)
			w->stats.tx_refused++;
		return -1;
	}
	if (w->tx_pending)
		w->stats.tx_replaced++;
	if (LWS_PRE + len > w->tx_cap) {
		w->tx_cap = LWS_PRE + len;
		w->tx = xrealloc(w->tx, w->tx_cap);
	}
	memcpy(w->tx + LWS_PRE, buf, len);
	w->tx_len = len;
	w->tx_pending = true;
	lws_callback_on_writable(w->wsi);
	return 0;
}

bool ws_connected(const struct ws *w)
{
	return w && w->state == WS_CONNECTED;
}

static void finish_close(struct ws *w)
{
	if (w->closed)
		return;
	if (w->in_callback) { /* never close from inside an lws callback */
		uv_timer_start(&w->flush_timer, on_flush_timer, 0, 0);
		return;
	}
	w->closed = true;
	w->state = WS_CLOSED;
	uv_timer_stop(&w->retry_timer);
	uv_timer_stop(&w->flush_timer);
	uv_close((uv_handle_t *)&w->retry_timer, NULL);
	uv_close((uv_handle_t *)&w->flush_timer, NULL);
	/* Our own context: its first destroy closes the connection (CLIENT_CLOSED runs inside it;
	 * `closing` keeps it from reconnecting). A shared one: its owner destroys it, we only stop
	 * holding it. */
	if (w->own_lws)
		lwsctx_close(w->lws);
	else if (w->holding) {
		w->holding = false;
		lwsctx_release(w->lws);
	}
}

void ws_close(struct ws *w)
{
	if (!w || w->closing)
		return;
	w->closing = true;
	uv_timer_stop(&w->retry_timer);
	if (w->resolving)
		uv_cancel((uv_req_t *)&w->resolve); /* if it already runs, on_resolved sees closing */
	if (w->state == WS_CONNECTED && w->tx_pending) {
		if (!w->own_lws) {
			w->holding = true;
			lwsctx_hold(w->lws);
		}
		uv_timer_start(&w->flush_timer, on_flush_timer, WS_FLUSH_MS, 0);
		return;
	}
	finish_close(w);
}

void ws_free(struct ws *w)
{
	if (!w)
		return;
	/* lws calls our callback during the second destroy: a shared context must be freed by its
	 * owner before this; our own is freed here, before the memory its callbacks reach. */
	if (w->own_lws)
		lwsctx_free(w->lws);
	free(w->rx);
	free(w->tx);
	free(w->auth);
	free(w->ca_file);
	free(w);
}

void ws_stats(const struct ws *w, struct ws_stats *out)
{
	*out = w->stats;
}
