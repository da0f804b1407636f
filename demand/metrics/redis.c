/* Redis metric: the length of a list (LLEN) or a stream (XLEN), or a key's number (GET), over one
 * TCP connection on the loop, kept open between reads. Config: key (required), keyType ("list",
 * the default, "stream" or "value"), endpoint (host[:port], default 127.0.0.1:6379; [v6]:port),
 * user (Redis 6 ACL), password/passwordEnv (AUTH), db (SELECT), timeout. A missing list or stream
 * has length 0 (Redis's own rule); a missing value key, a wrong type or a non-number fails the
 * read.
 *
 * Why not hiredis's async client: Debian's libhiredis 0.14 has a libuv adapter, but its poll
 * callback drops socket errors (a broken connection then hangs the read), its async API has no
 * timeouts and its connect resolves names with a blocking getaddrinfo. So the I/O is ours
 * (uv_tcp_t, uv_getaddrinfo, a uv_timer per read), and hiredis does what it is good at: formatting
 * commands (redisFormatCommandArgv) and parsing RESP replies (redisReader). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "../../utils/util.h"
#include "../metric.h"

#define REDIS_DEFAULT_PORT "6379"

struct redis;

/* One connection. Freed by its close callback; `r` is NULL once the source let go of it. */
struct redis_conn {
	uv_tcp_t tcp;
	uv_connect_t connect;
	struct redis *r;
	redisReader *reader;
	bool connected;
};

/* A name lookup in flight (it cannot be cancelled once running); freed by its callback. */
struct redis_lookup {
	uv_getaddrinfo_t req;
	struct redis *r; /* NULL once abandoned */
};

struct redis {
	struct metric *m; /* NULL after free: the timer's close callback frees the rest */
	char *host, *port;
	char *key;
	enum metric_redis_kind kind;
	char *setup; /* AUTH / SELECT, sent first on every new connection; NULL: none */
	size_t setup_len;
	int setup_replies;
	char *cmd; /* the read command */
	size_t cmd_len;
	uv_timer_t timer; /* the read's time limit */
	bool timer_init;  /* initialised and not closing */
	bool timer_closing;
	struct redis_conn *conn;
	struct redis_lookup *lookup;
	bool reading;
	int expect; /* replies still due for this read */
};

struct redis_write {
	uv_write_t req;
	char data[];
};

static const char *const keys[] = {"key",      "keyType",     "endpoint", "user",
                                   "password", "passwordEnv", "db",       NULL};

/* A RESP request from argv (binary safe); *out is malloc'd. */
static size_t format_cmd(int argc, const char **argv, char **out)
{
	char *raw = NULL;
	int n = redisFormatCommandArgv(&raw, argc, argv, NULL);
	if (n < 0) {
		fprintf(stderr, "level=fatal msg=\"out of memory\" in=redis\n");
		abort();
	}
	*out = xmalloc((size_t)n);
	memcpy(*out, raw, (size_t)n);
	redisFreeCommand(raw);
	return (size_t)n;
}

static void append(char **buf, size_t *len, const char *more, size_t n)
{
	*buf = xrealloc(*buf, *len + n);
	memcpy(*buf + *len, more, n);
	*len += n;
}

static int parse_endpoint(const char *ep, char **host, char **port, struct err *e)
{
	const char *h = ep, *colon;
	size_t hl;
	if (*ep == '[') {
		const char *close = strchr(ep, ']');
		if (!close)
			return err_set(e, "config.endpoint: unclosed '[' in '%s'", ep);
		h = ep + 1;
		hl = (size_t)(close - h);
		colon = close[1] == ':' ? close + 1 : NULL;
		if (close[1] && !colon)
			return err_set(e, "config.endpoint: expected [host]:port, got '%s'", ep);
	} else {
		colon = strrchr(ep, ':');
		hl = colon ? (size_t)(colon - ep) : strlen(ep);
		if (colon && memchr(ep, ':', hl))
			return err_set(e, "config.endpoint: write an IPv6 address as [addr]:port");
	}
	long long p = 6379;
	if (hl == 0 || (colon && util_parse_long(colon + 1, 1, 65535, &p) != 0))
		return err_set(e, "config.endpoint: expected host[:port], got '%s'", ep);
	*host = xmalloc(hl + 1);
	memcpy(*host, h, hl);
	(*host)[hl] = '\0';
	char buf[8];
	snprintf(buf, sizeof buf, "%lld", p);
	*port = xstrdup(buf);
	return 0;
}

static int redis_init(struct metric *m, const cJSON *cfg, struct err *e)
{
	const char *key = NULL, *kind = "list", *ep = "127.0.0.1:" REDIS_DEFAULT_PORT, *user = NULL,
	           *password = NULL;
	long long db = 0;
	if (metric_cfg_str(cfg, "key", true, &key, e) ||
	    metric_cfg_str(cfg, "keyType", false, &kind, e) ||
	    metric_cfg_str(cfg, "endpoint", false, &ep, e) ||
	    metric_cfg_str(cfg, "user", false, &user, e) ||
	    metric_cfg_secret(cfg, "password", &password, e) ||
	    metric_cfg_int(cfg, "db", 0, 1000000, &db, e))
		return -1;
	enum metric_redis_kind k;
	if (strcmp(kind, "list") == 0)
		k = METRIC_REDIS_LIST;
	else if (strcmp(kind, "stream") == 0)
		k = METRIC_REDIS_STREAM;
	else if (strcmp(kind, "value") == 0)
		k = METRIC_REDIS_VALUE;
	else
		return err_set(e, "config.keyType: unknown value '%s' (want list, stream or value)",
		               kind);
	if (user && !password)
		return err_set(e, "config.user: needs config.password");
	char *host = NULL, *port = NULL;
	if (parse_endpoint(ep, &host, &port, e) != 0)
		return -1;

	struct redis *r = xcalloc(1, sizeof *r);
	r->m = m;
	r->host = host;
	r->port = port;
	r->key = xstrdup(key);
	r->kind = k;
	char *one = NULL;
	size_t n;
	if (password) {
		const char *auth[] = {"AUTH", user ? user : password, password};
		n = format_cmd(user ? 3 : 2, auth, &one);
		append(&r->setup, &r->setup_len, one, n);
		free(one);
		r->setup_replies++;
	}
	if (db) {
		char dbs[16];
		snprintf(dbs, sizeof dbs, "%lld", db);
		const char *sel[] = {"SELECT", dbs};
		n = format_cmd(2, sel, &one);
		append(&r->setup, &r->setup_len, one, n);
		free(one);
		r->setup_replies++;
	}
	const char *verb = k == METRIC_REDIS_LIST     ? "LLEN"
	                   : k == METRIC_REDIS_STREAM ? "XLEN"
	                                              : "GET";
	const char *cmd[] = {verb, key};
	r->cmd_len = format_cmd(2, cmd, &r->cmd);
	m->impl = r;
	return 0;
}

/* ---- connections ---- */

static void on_conn_closed(uv_handle_t *h)
{
	struct redis_conn *c = container_of((uv_tcp_t *)h, struct redis_conn, tcp);
	if (c->reader)
		redisReaderFree(c->reader);
	free(c);
}

/* Let go of the connection: after an error or a timeout its stream cannot be trusted. */
static void drop_conn(struct redis *r)
{
	struct redis_conn *c = r->conn;
	if (!c)
		return;
	r->conn = NULL;
	c->r = NULL;
	uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void drop_lookup(struct redis *r)
{
	if (!r->lookup)
		return;
	r->lookup->r = NULL;
	uv_cancel(
	    (uv_req_t *)&r->lookup->req); /* may fail if already running: the callback frees */
	r->lookup = NULL;
}

/* End the read in flight. */
static void finish(struct redis *r, bool ok, double value, const char *error)
{
	if (!r->reading)
		return;
	r->reading = false;
	uv_timer_stop(&r->timer);
	if (!ok)
		drop_conn(r);
	metric_done(r->m, ok, value, error);
}

static void fail(struct redis *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct redis *r, const char *fmt, ...)
{
	char msg[200];
	int n = snprintf(msg, sizeof msg, "redis %s:%s: ", r->host, r->port);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	va_end(ap);
	finish(r, false, 0, msg);
}

static void on_written(uv_write_t *w, int status)
{
	struct redis_write *rw = container_of(w, struct redis_write, req);
	struct redis_conn *c = container_of((uv_tcp_t *)w->handle, struct redis_conn, tcp);
	free(rw);
	if (status < 0 && c->r)
		fail(c->r, "write: %s", uv_strerror(status));
}

static void send_bytes(struct redis *r, const char *data, size_t len)
{
	struct redis_write *rw = xmalloc(sizeof *rw + len);
	memcpy(rw->data, data, len);
	uv_buf_t buf = uv_buf_init(rw->data, (unsigned)len);
	int rc = uv_write(&rw->req, (uv_stream_t *)&r->conn->tcp, &buf, 1, on_written);
	if (rc < 0) {
		free(rw);
		fail(r, "write: %s", uv_strerror(rc));
	}
}

int metric_redis_reply(enum metric_redis_kind kind, const struct redisReply *reply, const char *key,
                       double *value, char *why, size_t size)
{
	switch (reply->type) {
	case REDIS_REPLY_ERROR:
		/* "-\r\n" (or a NUL first) would be a failure without a reason. */
		snprintf(why, size, "%s", reply->str && reply->str[0] ? reply->str : "error reply");
		return -1;
	case REDIS_REPLY_INTEGER:
		if (kind == METRIC_REDIS_VALUE || reply->integer < 0)
			break;
		*value = (double)reply->integer;
		return 0;
	case REDIS_REPLY_NIL:
		if (kind != METRIC_REDIS_VALUE)
			break;
		snprintf(why, size, "key '%s' does not exist", key);
		return -1;
	case REDIS_REPLY_STRING: {
		double d;
		if (kind != METRIC_REDIS_VALUE)
			break;
		/* INCR and SET store decimal text; take an integer or a plain decimal. */
		char buf[64];
		if (reply->len == 0 || reply->len >= sizeof buf) {
			snprintf(why, size, "key '%s' does not hold a number", key);
			return -1;
		}
		memcpy(buf, reply->str, reply->len);
		buf[reply->len] = '\0';
		if (util_parse_double(buf, &d) != 0 || buf[0] == ' ' || buf[0] == '+') {
			snprintf(why, size, "key '%s' holds '%.40s', not a number", key, buf);
			return -1;
		}
		*value = d;
		return 0;
	}
	default:
		break;
	}
	snprintf(why, size, "unexpected reply type %d", reply->type);
	return -1;
}

static void on_reply(struct redis *r, redisReply *reply)
{
	char why[160];
	double v = 0;
	if (!r->reading)
		return; /* a late reply after a timeout: the connection is being dropped anyway */
	if (--r->expect > 0) {
		/* AUTH or SELECT: anything but +OK ends the read. */
		if (reply->type != REDIS_REPLY_STATUS)
			fail(r, "%s",
			     reply->type == REDIS_REPLY_ERROR ? reply->str
			                                      : "setup command failed");
		return;
	}
	if (metric_redis_reply(r->kind, reply, r->key, &v, why, sizeof why) != 0)
		fail(r, "%s", why);
	else
		finish(r, true, v, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = xmalloc(suggested);
	buf->len = suggested;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct redis_conn *c = container_of((uv_tcp_t *)s, struct redis_conn, tcp);
	struct redis *r = c->r;
	if (n > 0 && r && redisReaderFeed(c->reader, buf->base, (size_t)n) == REDIS_OK) {
		void *reply = NULL;
		int rc = REDIS_OK;
		/* fail() inside on_reply drops this connection: stop at once then. */
		while (c->r && (rc = redisReaderGetReply(c->reader, &reply)) == REDIS_OK && reply) {
			on_reply(r, reply);
			freeReplyObject(reply);
			reply = NULL;
		}
		if (c->r && rc != REDIS_OK)
			fail(r, "protocol error: %s", c->reader->errstr);
	} else if (n < 0 && r) {
		/* EOF while idle (server timeout, restart): reconnect on the next read. */
		if (r->reading)
			fail(r, "connection lost: %s", uv_strerror((int)n));
		else
			drop_conn(r);
	}
	free(buf->base);
}

static void send_read(struct redis *r, bool fresh)
{
	r->expect = 1 + (fresh ? r->setup_replies : 0);
	if (fresh && r->setup)
		send_bytes(r, r->setup, r->setup_len);
	if (r->reading && r->conn)
		send_bytes(r, r->cmd, r->cmd_len);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct redis_conn *c = container_of(req, struct redis_conn, connect);
	struct redis *r = c->r;
	if (!r)
		return;
	if (status < 0) {
		fail(r, "connect: %s", uv_strerror(status));
		return;
	}
	c->connected = true;
	int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
	if (rc < 0) {
		fail(r, "read: %s", uv_strerror(rc));
		return;
	}
	if (r->reading)
		send_read(r, true);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct redis_lookup *l = container_of(req, struct redis_lookup, req);
	struct redis *r = l->r;
	free(l);
	if (!r) {
		uv_freeaddrinfo(res);
		return;
	}
	r->lookup = NULL;
	if (status < 0) {
		uv_freeaddrinfo(res);
		fail(r, "resolve: %s", uv_strerror(status));
		return;
	}
	struct redis_conn *c = xcalloc(1, sizeof *c);
	c->r = r;
	c->reader = redisReaderCreate();
	uv_tcp_init(r->m->loop, &c->tcp);
	uv_tcp_nodelay(&c->tcp, 1);
	r->conn = c;
	int rc = uv_tcp_connect(&c->connect, &c->tcp, res->ai_addr, on_connect);
	uv_freeaddrinfo(res);
	if (rc < 0)
		fail(r, "connect: %s", uv_strerror(rc));
}

static void on_timeout(uv_timer_t *t)
{
	struct redis *r = container_of(t, struct redis, timer);
	fail(r, "no answer within %u ms", r->m->timeout_ms);
	drop_lookup(r);
}

static void redis_poll(struct metric *m)
{
	struct redis *r = m->impl;
	if (r->timer_closing) {
		metric_done(m, false, 0, "redis: the source is closing");
		return;
	}
	if (!r->timer_init) {
		uv_timer_init(m->loop, &r->timer);
		r->timer_init = true;
	}
	r->reading = true;
	uv_timer_start(&r->timer, on_timeout, m->timeout_ms, 0);
	if (r->conn && r->conn->connected) {
		send_read(r, false);
		return;
	}
	if (r->conn || r->lookup)
		return; /* connecting: on_connect sends it */
	struct redis_lookup *l = xcalloc(1, sizeof *l);
	l->r = r;
	r->lookup = l;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	int rc = uv_getaddrinfo(m->loop, &l->req, on_resolved, r->host, r->port, &hints);
	if (rc < 0) {
		free(l);
		r->lookup = NULL;
		fail(r, "resolve: %s", uv_strerror(rc));
	}
}

static void free_state(struct redis *r)
{
	free(r->host);
	free(r->port);
	free(r->key);
	free(r->setup);
	free(r->cmd);
	free(r);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct redis *r = container_of((uv_timer_t *)h, struct redis, timer);
	r->timer_closing = false;
	if (!r->m)
		free_state(r); /* the metric was freed while the timer closed */
}

/* Everything goes, the timer too: at shutdown the loop must be able to drain. */
static void redis_close(struct metric *m)
{
	struct redis *r = m->impl;
	r->reading = false;
	drop_conn(r);
	drop_lookup(r);
	if (r->timer_init) {
		r->timer_init = false;
		r->timer_closing = true;
		uv_close((uv_handle_t *)&r->timer, on_timer_closed);
	}
}

/* After redis_close (metric_free closes first). */
static void redis_free(struct metric *m)
{
	struct redis *r = m->impl;
	if (!r)
		return;
	r->m = NULL;
	if (!r->timer_closing)
		free_state(r);
}

const struct metric_ops metric_redis_ops = {
    .type = "Redis",
    .keys = keys,
    .init = redis_init,
    .poll = redis_poll,
    .close = redis_close,
    .free = redis_free,
};
