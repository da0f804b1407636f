/* The HTTP API's server: a listening vhost on the loop's shared libwebsockets context that carries
 * requests to monitor/api.c and its answers back, and streams events (Server-Sent Events, or a
 * websocket on the same path) to every follower. */
#ifndef MSS_HTTPD_H
#define MSS_HTTPD_H

#include <stdbool.h>
#include <uv.h>

#include "../utils/err.h"
#include "api.h"
#include "events.h"

struct httpd;
struct lwsctx;

/*
 *   struct httpd *h = httpd_new(loop, &(struct httpd_options){.host = "127.0.0.1", .port = 9180,
 *                               .lws = shared, .api = &api, .events = &events,
 *                               .status = on_status, .arg = agent}, &e);
 *   ...
 *   httpd_close(h);        // timers closed; connections end with the context's first destroy
 *   lwsctx_close(shared); uv_run(...); lwsctx_free(shared);
 *   httpd_free(h);         // after the context is freed (lws calls into us until then)
 *
 * Guarantees:
 * - Requests are answered from the loop; a body is read only after the path, method, token and
 *   Content-Length were accepted, and never beyond API_MAX_BODY.
 * - An event stream starts with the last EVENTS_REPLAY events (or those after Last-Event-ID) and
 *   then gets each new one; its memory does not grow with the client's slowness: one that falls
 *   EVENTS_RING events behind is closed (counted in telemetry.stream_dropped). SSE streams get a
 *   comment line every HTTPD_PING_MS.
 */

typedef void (*httpd_status_fn)(void *arg, struct api_status *out);

struct httpd_options {
	const char *host;       /* address to listen on; "" or NULL: every interface */
	int port;               /* 0: any free port (see httpd_port) */
	struct lwsctx *lws;     /* borrowed; outlives the server until httpd_free */
	struct api *api;        /* borrowed */
	struct events *events;  /* borrowed; the server sets its on_event */
	httpd_status_fn status; /* fills what api_handle needs about the agent; required */
	void *arg;
};

#define HTTPD_PING_MS   15000 /* SSE keep-alive comment */
#define HTTPD_COUNTS_MS 1000  /* the counts event and the history sample */

/* Listen. NULL with e (naming the address) when the vhost cannot listen. `o` is copied. */
struct httpd *httpd_new(uv_loop_t *loop, const struct httpd_options *o, struct err *e);
int httpd_port(const struct httpd *h); /* the port it listens on */
/* Stop the timers; no new request is answered after this. Followers behind the last event get
 * up to 250 ms to receive it (the lws context is held that long). Idempotent. */
void httpd_close(struct httpd *h);
void httpd_free(struct httpd *h);

/* The process's CPU seconds, resident bytes and open fds from /proc (-1 each when unknown). */
void httpd_process_stats(double *cpu_seconds, double *rss_bytes, double *open_fds);

#endif
