/* The one libwebsockets context on the agent's libuv loop, with explicit vhosts: the websocket
 * client (ws.c) and the HTTP server (monitor/httpd.c) each add their own vhost to it. */
#ifndef MSS_LWSCTX_H
#define MSS_LWSCTX_H

#include <stdbool.h>
#include <uv.h>

#include "err.h"

/*
 *   struct lwsctx *c = lwsctx_new(loop, &(struct lwsctx_options){.tls = false}, &e);
 *   ... lws_create_vhost(lwsctx_context(c), &vhost_info) by each user ...
 *   lwsctx_close(c);             // inside the loop: the first lws destroy (once no user holds it)
 *   uv_run(loop, UV_RUN_DEFAULT);  // drain: lws closes its uv handles
 *   lwsctx_free(c);              // the second destroy; then the users may be freed
 *
 * Users hold the context while they still need it after close was asked for (the websocket's
 * last frame): the first destroy waits for the last lwsctx_release. The vhosts' protocol arrays
 * and whatever their callbacks reach must stay valid until lwsctx_free returns (lws calls them
 * during both destroys), so users are freed after the context, never before.
 */

struct lwsctx;
struct lws_context;
struct lws_context_creation_info;

struct lwsctx_options {
	bool tls;          /* initialise TLS (costs ~4 MB of RSS): only for wss or https */
	unsigned fd_limit; /* lws's fd table; 0: 256 (instead of one sized from ulimit -n) */
};

/* Make the context on `loop` (borrowed; must outlive it). NULL with e when lws cannot (e.g. the
 * libwebsockets-evlib-uv plugin is missing). `o` is read during the call only. */
struct lwsctx *lwsctx_new(uv_loop_t *loop, const struct lwsctx_options *o, struct err *e);
/* A context of a single user, with that user's vhost made from `vhost` (protocols, user, TLS and
 * proxy fields) in the same call, so that a bad vhost fails the whole creation and leaves nothing
 * behind. Its vhost is then found with lws_get_vhost_by_name. `vhost` is modified (the context's
 * fields are filled in) and read during the call only. */
struct lwsctx *lwsctx_new_single(uv_loop_t *loop, struct lws_context_creation_info *vhost,
                                 const struct lwsctx_options *o, struct err *e);
/* The lws context, for lws_create_vhost and lws_client_connect_via_info; NULL after the second
 * destroy. Owned by c. */
struct lws_context *lwsctx_context(const struct lwsctx *c);
bool lwsctx_tls(const struct lwsctx *c);

void lwsctx_hold(struct lwsctx *c);
void lwsctx_release(struct lwsctx *c);
/* Ask for the first destroy. It runs from a loop callback of its own (never inside an lws
 * callback, where destroying the context is not allowed) once no user holds the context.
 * Idempotent. */
void lwsctx_close(struct lwsctx *c);
/* The second destroy and the memory: after the loop drained, before uv_loop_close. NULL is
 * ignored. */
void lwsctx_free(struct lwsctx *c);

/* lws logs through one process-wide hook: its lines go to our log at debug level (component
 * "lws"), and the last warning or error is kept, because lws puts the real reason for a TLS
 * failure only there. Installed by lwsctx_new. */
const char *lwsctx_last_error(void);
void lwsctx_clear_error(void);

#endif
