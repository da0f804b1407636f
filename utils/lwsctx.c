/* The shared libwebsockets context: created once on the loop, destroyed in two steps. */
#include "lwsctx.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define LWSCTX_FD_LIMIT  256
#define LWSCTX_TIMEOUT_S 5 /* connect + TLS + upgrade of the client; lws's per-step timeouts */

struct lwsctx {
	uv_loop_t *loop;          /* borrowed */
	struct lws_context *ctx;  /* NULLed by lws when the second destroy frees it */
	uv_timer_t destroy_timer; /* the first destroy, outside any lws callback */
	unsigned holds;
	bool tls;
	bool close_asked;
	bool destroyed_once;
};

/* ---- lws's own log --------------------------------------------------------------------- */

static char last_error[200];

static void on_lws_log(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
		n--;
	if (level & (LLL_ERR | LLL_WARN))
		snprintf(last_error, sizeof last_error, "%.*s", (int)n, line);
	if (log_enabled(LOG_DEBUG, "lws")) {
		char buf[512];
		snprintf(buf, sizeof buf, "%.*s", (int)n, line);
		log_debug("lws", "lws", LOG_S("line", buf));
	}
}

const char *lwsctx_last_error(void)
{
	return last_error;
}

void lwsctx_clear_error(void)
{
	last_error[0] = '\0';
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static struct lwsctx *create(uv_loop_t *loop, struct lws_context_creation_info *info,
                             const struct lwsctx_options *o, struct err *e)
{
	int lvl = LLL_ERR | LLL_WARN;
	if (log_enabled(LOG_DEBUG, "lws"))
		lvl |= LLL_NOTICE | LLL_INFO;
	lws_set_log_level(lvl, on_lws_log);

	struct lwsctx *c = xcalloc(1, sizeof *c);
	c->loop = loop;
	c->tls = o && o->tls;
	void *loops[1] = {loop};
	info->options |= LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
	/* TLS costs ~4 MB of RSS (the system CA store alone 1.3 MB): only when asked for. */
	if (c->tls)
		info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info->foreign_loops = loops;
	info->pcontext = &c->ctx;
	info->timeout_secs = LWSCTX_TIMEOUT_S;
	info->connect_timeout_secs = LWSCTX_TIMEOUT_S;
	info->fd_limit_per_thread = o && o->fd_limit ? o->fd_limit : LWSCTX_FD_LIMIT;
	lwsctx_clear_error();
	c->ctx = lws_create_context(info);
	if (!c->ctx) {
		err_set(e, "cannot create the libwebsockets context (%s)",
		        last_error[0] ? last_error : "is libwebsockets-evlib-uv installed?");
		free(c);
		return NULL;
	}
	uv_timer_init(loop, &c->destroy_timer);
	return c;
}

struct lwsctx *lwsctx_new(uv_loop_t *loop, const struct lwsctx_options *o, struct err *e)
{
	struct lws_context_creation_info info;
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
	return create(loop, &info, o, e);
}

struct lwsctx *lwsctx_new_single(uv_loop_t *loop, struct lws_context_creation_info *vhost,
                                 const struct lwsctx_options *o, struct err *e)
{
	return create(loop, vhost, o, e);
}

struct lws_context *lwsctx_context(const struct lwsctx *c)
{
	return c ? c->ctx : NULL;
}

bool lwsctx_tls(const struct lwsctx *c)
{
	return c && c->tls;
}

static void on_destroy_due(uv_timer_t *t)
{
	struct lwsctx *c = container_of(t, struct lwsctx, destroy_timer);
	if (c->holds > 0 || c->destroyed_once)
		return;
	c->destroyed_once = true;
	/* The first destroy closes every connection (their CLOSED callbacks run inside it) and
	 * lws's uv handles; the loop then drains them. */
	lws_context_destroy(c->ctx);
	uv_close((uv_handle_t *)&c->destroy_timer, NULL);
}

static void maybe_destroy(struct lwsctx *c)
{
	if (c->close_asked && c->holds == 0 && !c->destroyed_once)
		uv_timer_start(&c->destroy_timer, on_destroy_due, 0, 0);
}

void lwsctx_hold(struct lwsctx *c)
{
	c->holds++;
}

void lwsctx_release(struct lwsctx *c)
{
	if (c->holds > 0)
		c->holds--;
	maybe_destroy(c);
}

void lwsctx_close(struct lwsctx *c)
{
	if (!c || c->close_asked)
		return;
	c->close_asked = true;
	maybe_destroy(c);
}

void lwsctx_free(struct lwsctx *c)
{
	if (!c)
		return;
	if (c->ctx) /* the second destroy frees the context and NULLs c->ctx */
		lws_context_destroy(c->ctx);
	free(c);
}
