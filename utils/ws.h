/* Websocket client on the libuv loop (libwebsockets on a foreign loop): one connection to the API
 * server, kept open forever with backoff, shared by the remote engine (reader) and the SERVER
 * monitor (writer). */
#ifndef MSS_WS_H
#define MSS_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "err.h"

/*
 *   struct ws *w = ws_new(loop, &(struct ws_options){.url = &url, .on_message = on_msg,
 *                                                     .on_link = on_link, .arg = ctx}, &e);
 *   ws_start(w);                       // connects, and reconnects forever
 *   ws_send_text(w, frame, len);       // 0 queued, -1 link down (dropped)
 *   ...
 *   ws_close(w);                       // inside the loop: our own context's first destroy
 *   uv_run(loop, UV_RUN_DEFAULT);      // drain: lws closes its handles
 *   ws_free(w);                        // its second destroy, then free; before uv_loop_close
 *
 * With .lws = a shared context (utils/lwsctx.h), ws only adds its client vhost to it; the
 * context's owner destroys it after ws_close and frees it before ws_free.
 *
 * Guarantees:
 * - At most one connection attempt is in flight, and a failed one (refused, DNS, TLS, no answer
 *   to the upgrade, non-101, closed) is retried after the next backoff delay (200 ms doubling to
 *   10 s, 20 % jitter): never more than one attempt per backoff step. The backoff starts again
 *   from 200 ms after a connection that stayed up at least WS_STABLE_MS; a server that accepts
 *   and drops at once is backed off like a refusal.
 * - State changes are logged once each (connecting, connected, lost, retrying, back); failures
 *   during an outage after the first only at debug level.
 * - on_message and on_link never run after ws_close, nor inside ws_start or ws_send_text.
 * - Host names are resolved with uv_getaddrinfo (off the loop); lws gets the address. Proxy
 *   variables are not used (lws would honour http_proxy with no no_proxy; see README).
 */

struct ws;
struct lwsctx;

/* MSS_API_ADDRESS, parsed. Go form host[:port] means ws://host[:port]/ (Go prefixed "ws://"). */
struct ws_url {
	bool tls;       /* wss:// */
	char host[256]; /* name or address; an IPv6 literal without its brackets */
	int port;       /* 80 / 443 unless given */
	char path[1024]; /* "/" unless given; with the query, if any */
};

/* Parse `addr`: "host", "host:port", "[v6]:port", optionally followed by a path, or a full
 * ws:// or wss:// URL. Refused: other schemes, user info, fragments, spaces or control characters,
 * a bad port. Returns 0, or -1 with e saying what is wrong (no variable name: the caller adds it). */
int ws_parse_url(const char *addr, struct ws_url *out, struct err *e);
/* "host[:port]" as it goes in a Host header or URL: brackets around IPv6, the port only when it is
 * not the scheme's default. */
void ws_url_hostport(const struct ws_url *u, char *buf, size_t len);

/* Message: one whole inbound text (or binary) message, reassembled, not NUL-terminated; borrowed
 * until the callback returns. */
typedef void (*ws_message_fn)(const char *buf, size_t len, void *arg);
/* Link: up = the upgrade succeeded; down = the connection (or the first attempt) was lost. */
typedef void (*ws_link_fn)(bool up, void *arg);

struct ws_options {
	const struct ws_url *url;  /* required; copied */
	const char *token;         /* "Authorization: Bearer <token>"; NULL or "": none; copied */
	const char *ca_file;       /* PEM bundle that verifies the server, instead of the system
				    * store; NULL or "": the system store; copied */
	bool insecure;             /* do not verify the server at all (tests only; logged) */
	size_t max_message;        /* inbound cap; larger messages are discarded (the connection
				    * is kept); 0: 1 MiB */
	unsigned keepalive_s;      /* PING after this many idle seconds, hang up after twice as
				    * many without any sign of life; 0: 20 */
	uint32_t backoff_min_ms;   /* 0: 200 */
	uint32_t backoff_max_ms;   /* 0: 10000 */
	struct lwsctx *lws;        /* the loop's shared lws context, to add our client vhost to
				    * (borrowed; freed after ws_close, before ws_free); needs TLS
				    * for wss. NULL: a context of our own */
	ws_message_fn on_message;  /* may be NULL */
	ws_link_fn on_link;        /* may be NULL */
	void *arg;                 /* passed to both; not touched */
};

#define WS_STABLE_MS 500

/* Add the client's vhost to o->lws, or create a context of our own on `loop` (borrowed; must
 * outlive the client; TLS initialised only for wss). Nothing connects until ws_start. NULL with e
 * when lws cannot make the context or vhost (e.g. the libwebsockets-evlib-uv plugin is missing). */
struct ws *ws_new(uv_loop_t *loop, const struct ws_options *o, struct err *e);
/* Begin connecting; reconnects forever until ws_close. */
void ws_start(struct ws *w);
/* Queue one text frame: copied, at most one pending (a newer one replaces an unsent one), written
 * when the socket is writable. Returns 0 if queued, -1 when the link is down or closing. */
int ws_send_text(struct ws *w, const char *buf, size_t len);
bool ws_connected(const struct ws *w);

/* Stop reconnecting and close. A frame still pending on an open connection gets up to
 * WS_FLUSH_MS to go out first (the final counts at exit): a shared context is held that long.
 * Then our own context's first destroy runs (a shared one's owner destroys it: the connection
 * closes then). The loop must then run until it is empty before ws_free. Idempotent. */
void ws_close(struct ws *w);
#define WS_FLUSH_MS 300
/* Our own context's second destroy, and the memory. Call after the loop drained (uv_run
 * returned), before uv_loop_close, and after a shared context was freed (lws calls our callback
 * until then). NULL is ignored. */
void ws_free(struct ws *w);

struct ws_stats {
	uint64_t attempts;      /* connection attempts started (DNS included) */
	uint64_t connects;      /* upgrades that succeeded */
	uint64_t disconnects;   /* established connections lost */
	uint64_t rx_messages;   /* whole messages delivered to on_message */
	uint64_t rx_oversized;  /* messages over max_message, discarded */
	uint64_t tx_frames;     /* frames written */
	uint64_t tx_replaced;   /* pending frames replaced by a newer one before they went out */
	uint64_t tx_refused;    /* ws_send_text calls refused because the link was down */
};
void ws_stats(const struct ws *w, struct ws_stats *out);

#endif
