/* A scripted Docker engine on a unix socket, on the test's own libuv loop, for the backend tests. */
#ifndef MSS_FAKE_DOCKER_H
#define MSS_FAKE_DOCKER_H

/*
 * Header-only, everything static: only test_docker_backend.c includes it. It models just enough
 * of the Engine API (1.41 paths, with or without the /vX.Y prefix) for the Docker backend:
 *   GET    /version                          {"ApiVersion":"1.41","MinAPIVersion":"1.12"}
 *   GET    /events?filters=...               200 chunked, one JSON line per event, kept open
 *   GET    /containers/json?all=1&filters=   the containers whose labels match the filter
 *   POST   /containers/create?name=          201 {"Id":...}; the labels and restart policy kept
 *   POST   /containers/{id}/start            204 (+ "start" event), 304 running, 404 unknown
 *   POST   /containers/{id}/stop?t=          204 (+ "die" event), 304 not running, 404 unknown
 *   DELETE /containers/{id}?v=1&force=1      204 (+ "die" if running, "destroy"), 404 unknown
 *   GET    /containers/{id}/json             {"Id":...,"State":{"Status":...}}, 404 unknown
 * Events are sent before the reply (as the real engine often does). A test scripts the rest:
 *   fd->status[route]   answer the requests of that route with this status and change nothing
 *                       (0: the model's own answer);
 *   fd->hold[route]     keep the next request of that route: a list is answered from a snapshot
 *                       taken on arrival, anything else acts only when released;
 *   fd->drop[route]     close the connection of every request of that route on arrival (a
 *                       transport error: curl retries once on a reused connection, this too);
 *   fd_release / fd_drop  answer the held requests, or close their connections;
 *   fd_exit, fd_restart, fd_event  what the engine does on its own: exits, restart policies.
 */

#include <cjson/cJSON.h>
#include <inttypes.h>
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

enum fd_route { FD_VERSION, FD_EVENTS, FD_LIST, FD_CREATE, FD_START, FD_STOP, FD_DELETE, FD_INSPECT,
		FD_OTHER, FD_ROUTES };

struct fd_container {
	char id[65];
	char state[16]; /* created | running | restarting | exited */
	char listed[16]; /* what lists say instead, when they lag (fd->list_lags); "" = state */
	char restart[32];
	int64_t created;
	cJSON *labels; /* owned */
	struct fd_container *next;
};

struct fd_engine;

struct fd_conn {
	uv_pipe_t pipe;
	struct fd_engine *fd;
	struct fd_conn *next;
	char *in;
	size_t in_len;
	bool busy;    /* a request is held or streaming: parse no further */
	bool stream;  /* an open /events stream */
	bool closing;
	enum fd_route held_route;
	char held_method[16], held_path[512];
	char *held_body;      /* the request body of a held request */
	char *held_reply;     /* a snapshot reply (lists) */
};

struct fd_engine {
	uv_loop_t *loop;
	uv_pipe_t listener;
	char dir[64];
	char sock_path[128];
	char host[160]; /* "unix://<sock_path>" for DOCKER_HOST */
	struct fd_conn *conns;
	int open_handles;
	struct fd_container *containers;
	unsigned seq;

	int requests[FD_ROUTES]; /* received, per route */
	int status[FD_ROUTES];   /* scripted status, 0: the model's own answer */
	bool hold[FD_ROUTES];    /* hold every request of the route while set */
	bool drop[FD_ROUTES];    /* close the connection of every request of the route */
	int held[FD_ROUTES];     /* held now */
	int streams;             /* open /events streams */
	int max_streams;
	bool list_lags;          /* lists show a container's state before its last exit (as
				    dockerd 20.10 does for a moment after "die": its list view is
				    written after the event; inspect waits for the container) */
	int deleted_ids;         /* DELETE requests naming an existing container */
	char last_deleted[65];
};

static inline struct fd_container *fd_find(struct fd_engine *fd, const char *id)
{
	for (struct fd_container *c = fd->containers; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static inline int fd_count(struct fd_engine *fd, const char *state)
{
	int n = 0;
	for (struct fd_container *c = fd->containers; c; c = c->next)
		if (!state || strcmp(c->state, state) == 0)
			n++;
	return n;
}

static inline void fd_on_written(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static inline void fd_send(struct fd_conn *c, const char *data, size_t len)
{
	if (c->closing || !len)
		return;
	uv_write_t *w = xcalloc(1, sizeof *w);
	char *copy = xmalloc(len);
	memcpy(copy, data, len);
	w->data = copy;
	uv_buf_t b = uv_buf_init(copy, (unsigned)len);
	if (uv_write(w, (uv_stream_t *)&c->pipe, &b, 1, fd_on_written) < 0) {
		free(copy);
		free(w);
	}
}

static inline void fd_reply(struct fd_conn *c, int status, const char *body)
{
	char head[256];
	size_t len = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d Fake\r\nContent-Type: application/json\r\nApi-Version: 1.41\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 status, len);
	fd_send(c, head, (size_t)n);
	fd_send(c, body, len);
}

/* One event line to every open stream. */
static inline void fd_event(struct fd_engine *fd, const struct fd_container *ct, const char *action,
		     int exit_code)
{
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "Type", "container");
	cJSON_AddStringToObject(ev, "Action", action);
	cJSON *actor = cJSON_AddObjectToObject(ev, "Actor");
	cJSON_AddStringToObject(actor, "ID", ct->id);
	cJSON *attrs = ct->labels ? cJSON_Duplicate(ct->labels, 1) : cJSON_CreateObject();
	cJSON_AddStringToObject(attrs, "image", "mss-test:latest");
	if (exit_code >= 0) {
		char code[16];
		snprintf(code, sizeof code, "%d", exit_code);
		cJSON_AddStringToObject(attrs, "exitCode", code);
	}
	cJSON_AddItemToObject(actor, "Attributes", attrs);
	cJSON_AddNumberToObject(ev, "timeNano", (double)util_wall_ms() * 1e6);
	char *line = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	size_t len = strlen(line);
	for (struct fd_conn *c = fd->conns; c; c = c->next) {
		if (!c->stream)
			continue;
		char head[32];
		int n = snprintf(head, sizeof head, "%zx\r\n", len + 1);
		fd_send(c, head, (size_t)n);
		fd_send(c, line, len);
		fd_send(c, "\n\r\n", 3);
	}
	cJSON_free(line);
}

/* A container of ours made by someone else (or before the agent started). */
static inline struct fd_container *fd_add(struct fd_engine *fd, const char *task, const char *owner,
				   const char *state)
{
	struct fd_container *c = xcalloc(1, sizeof *c);
	fd->seq++;
	snprintf(c->id, sizeof c->id, "%064x", fd->seq);
	memset(c->id, 'a', 8); /* ids look like Docker's: hex, not all digits */
	snprintf(c->state, sizeof c->state, "%s", state);
	c->created = 1700000000 + fd->seq;
	c->labels = cJSON_CreateObject();
	cJSON_AddStringToObject(c->labels, "com.microscaling.task", task);
	cJSON_AddStringToObject(c->labels, "com.microscaling.owner", owner);
	c->next = fd->containers;
	fd->containers = c;
	return c;
}

static inline void fd_remove(struct fd_engine *fd, struct fd_container *ct)
{
	for (struct fd_container **p = &fd->containers; *p; p = &(*p)->next)
		if (*p == ct) {
			*p = ct->next;
			cJSON_Delete(ct->labels);
			free(ct);
			return;
		}
}

/* The container's process ends. `restarting`: its restart policy brings it back (the engine
 * says "restarting" until fd_restart); else it stays "exited". */
static inline void fd_exit(struct fd_engine *fd, struct fd_container *ct, int code, bool restarting)
{
	if (fd->list_lags)
		snprintf(ct->listed, sizeof ct->listed, "%s", ct->state);
	snprintf(ct->state, sizeof ct->state, "%s", restarting ? "restarting" : "exited");
	fd_event(fd, ct, "die", code);
}

static inline void fd_restart(struct fd_engine *fd, struct fd_container *ct)
{
	ct->listed[0] = '\0';
	snprintf(ct->state, sizeof ct->state, "running");
	fd_event(fd, ct, "start", -1);
}

static inline enum fd_route fd_route_of(const char *method, const char *path, char *id, size_t idn)
{
	id[0] = '\0';
	if (strncmp(path, "/v", 2) == 0 && path[2] >= '0' && path[2] <= '9')
		path = strchr(path + 1, '/') ? strchr(path + 1, '/') : path;
	if (strncmp(path, "/version", 8) == 0)
		return FD_VERSION;
	if (strncmp(path, "/events", 7) == 0)
		return FD_EVENTS;
	if (strncmp(path, "/containers/json", 16) == 0)
		return FD_LIST;
	if (strncmp(path, "/containers/create", 18) == 0)
		return FD_CREATE;
	if (strncmp(path, "/containers/", 12) == 0) {
		const char *p = path + 12;
		size_t n = strcspn(p, "/?");
		snprintf(id, idn, "%.*s", (int)n, p);
		const char *rest = p + n;
		if (strcmp(method, "DELETE") == 0)
			return FD_DELETE;
		if (strncmp(rest, "/start", 6) == 0)
			return FD_START;
		if (strncmp(rest, "/stop", 5) == 0)
			return FD_STOP;
		if (strncmp(rest, "/json", 5) == 0)
			return FD_INSPECT;
	}
	return FD_OTHER;
}

static inline int fd_hex(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : (ch | 32) >= 'a' && (ch | 32) <= 'f' ? (ch | 32) - 'a' + 10 : -1;
}

/* The decoded value of query parameter `name`, or "" (into out). */
static inline void fd_query(const char *path, const char *name, char *out, size_t n)
{
	out[0] = '\0';
	const char *q = strchr(path, '?');
	size_t nl = strlen(name);
	while (q) {
		q++;
		if (strncmp(q, name, nl) == 0 && q[nl] == '=') {
			size_t o = 0;
			for (const char *p = q + nl + 1; *p && *p != '&' && o + 1 < n; p++) {
				if (*p == '%' && fd_hex(p[1]) >= 0 && fd_hex(p[2]) >= 0) {
					out[o++] = (char)(fd_hex(p[1]) * 16 + fd_hex(p[2]));
					p += 2;
				} else {
					out[o++] = *p == '+' ? ' ' : *p;
				}
			}
			out[o] = '\0';
			return;
		}
		q = strchr(q, '&');
	}
}

/* Does the container carry every label of the list filter ({"label":["k=v","k"]})? */
static inline bool fd_matches(const struct fd_container *ct, const cJSON *filters)
{
	const cJSON *labels = cJSON_GetObjectItemCaseSensitive(filters, "label");
	const cJSON *f;
	cJSON_ArrayForEach(f, labels)
	{
		if (!cJSON_IsString(f))
			continue;
		char key[256];
		snprintf(key, sizeof key, "%s", f->valuestring);
		char *eq = strchr(key, '=');
		if (eq)
			*eq++ = '\0';
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(ct->labels, key);
		if (!cJSON_IsString(v) || (eq && strcmp(v->valuestring, eq) != 0))
			return false;
	}
	return true;
}

static inline char *fd_list_body(struct fd_engine *fd, const char *path)
{
	char filter[1024];
	fd_query(path, "filters", filter, sizeof filter);
	cJSON *filters = cJSON_Parse(filter);
	cJSON *arr = cJSON_CreateArray();
	for (struct fd_container *ct = fd->containers; ct; ct = ct->next) {
		if (!fd_matches(ct, filters))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "Id", ct->id);
		cJSON_AddStringToObject(o, "State", ct->listed[0] ? ct->listed : ct->state);
		cJSON_AddStringToObject(o, "Status", "whatever humans read");
		cJSON_AddNumberToObject(o, "Created", (double)ct->created);
		cJSON_AddItemToObject(o, "Labels", cJSON_Duplicate(ct->labels, 1));
		cJSON_AddItemToArray(arr, o);
	}
	cJSON_Delete(filters);
	char *s = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return s;
}

/* Act on a request and answer it. */
static inline void fd_act(struct fd_conn *c, enum fd_route route, const char *method, const char *path,
		   const char *body)
{
	struct fd_engine *fd = c->fd;
	char id[80];
	fd_route_of(method, path, id, sizeof id);
	int forced = fd->status[route];
	if (forced && route != FD_EVENTS) {
		/* Only the status: the model does not change (a 204 start starts nothing). */
		char msg[128];
		snprintf(msg, sizeof msg, "{\"message\":\"scripted %d\"}", forced);
		fd_reply(c, forced, forced >= 400 ? msg : NULL);
		return;
	}
	struct fd_container *ct = id[0] ? fd_find(fd, id) : NULL;
	switch (route) {
	case FD_VERSION:
		fd_reply(c, 200, "{\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\",\"Version\":\"fake\"}");
		return;
	case FD_EVENTS: {
		const char *h = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
				"Transfer-Encoding: chunked\r\n\r\n";
		fd_send(c, h, strlen(h));
		c->busy = true;
		c->stream = true;
		if (++fd->streams > fd->max_streams)
			fd->max_streams = fd->streams;
		return;
	}
	case FD_LIST: {
		char *s = fd_list_body(fd, path);
		fd_reply(c, 200, s);
		cJSON_free(s);
		return;
	}
	case FD_CREATE: {
		cJSON *b = cJSON_Parse(body ? body : "");
		struct fd_container *n = xcalloc(1, sizeof *n);
		fd->seq++;
		snprintf(n->id, sizeof n->id, "%064x", fd->seq);
		memset(n->id, 'c', 8);
		snprintf(n->state, sizeof n->state, "created");
		n->created = 1700000000 + fd->seq;
		const cJSON *labels = cJSON_GetObjectItemCaseSensitive(b, "Labels");
		n->labels = cJSON_IsObject(labels) ? cJSON_Duplicate(labels, 1) : cJSON_CreateObject();
		const cJSON *hc = cJSON_GetObjectItemCaseSensitive(b, "HostConfig");
		const cJSON *rp = cJSON_GetObjectItemCaseSensitive(hc, "RestartPolicy");
		const cJSON *rn = cJSON_GetObjectItemCaseSensitive(rp, "Name");
		if (cJSON_IsString(rn))
			snprintf(n->restart, sizeof n->restart, "%s", rn->valuestring);
		cJSON_Delete(b);
		n->next = fd->containers;
		fd->containers = n;
		char reply[160];
		snprintf(reply, sizeof reply, "{\"Id\":\"%s\",\"Warnings\":[]}", n->id);
		fd_reply(c, 201, reply);
		return;
	}
	case FD_START:
		if (!ct) {
			fd_reply(c, 404, "{\"message\":\"No such container\"}");
		} else if (strcmp(ct->state, "running") == 0) {
			fd_reply(c, 304, NULL);
		} else {
			fd_restart(fd, ct);
			fd_reply(c, 204, NULL);
		}
		return;
	case FD_STOP:
		if (!ct) {
			fd_reply(c, 404, "{\"message\":\"No such container\"}");
		} else if (strcmp(ct->state, "running") != 0) {
			fd_reply(c, 304, NULL);
		} else {
			fd_exit(fd, ct, 143, false);
			fd_reply(c, 204, NULL);
		}
		return;
	case FD_DELETE:
		if (!ct) {
			fd_reply(c, 404, "{\"message\":\"No such container\"}");
			return;
		}
		fd->deleted_ids++;
		snprintf(fd->last_deleted, sizeof fd->last_deleted, "%s", ct->id);
		if (strcmp(ct->state, "running") == 0)
			fd_event(fd, ct, "die", 137);
		fd_event(fd, ct, "destroy", -1);
		fd_remove(fd, ct);
		fd_reply(c, 204, NULL);
		return;
	case FD_INSPECT:
		if (!ct) {
			fd_reply(c, 404, "{\"message\":\"No such container\"}");
		} else {
			char reply[256];
			snprintf(reply, sizeof reply,
				 "{\"Id\":\"%s\",\"State\":{\"Status\":\"%s\",\"Running\":%s}}", ct->id,
				 ct->state, strcmp(ct->state, "running") == 0 ? "true" : "false");
			fd_reply(c, 200, reply);
		}
		return;
	case FD_OTHER:
	case FD_ROUTES:
		break;
	}
	fd_reply(c, 404, "{\"message\":\"page not found\"}");
}

static inline void fd_conn_close(struct fd_conn *c);

/* Handle one complete request at the front of c->in; return the bytes it used, 0 if incomplete. */
static inline size_t fd_handle(struct fd_conn *c)
{
	struct fd_engine *fd = c->fd;
	char *end = c->in ? strstr(c->in, "\r\n\r\n") : NULL;
	if (!end)
		return 0;
	size_t head_len = (size_t)(end - c->in) + 4;
	char val[32], method[16], path[512], id[80];
	long clen = test_http_header(c->in, "Content-Length", val, sizeof val) ? atol(val) : 0;
	size_t body_len = clen > 0 ? (size_t)clen : 0;
	if (c->in_len < head_len + body_len)
		return 0;
	if (sscanf(c->in, "%15s %511s", method, path) != 2)
		return head_len + body_len;
	char *body = xmalloc(body_len + 1);
	memcpy(body, c->in + head_len, body_len);
	body[body_len] = '\0';
	enum fd_route route = fd_route_of(method, path, id, sizeof id);
	fd->requests[route]++;
	if (fd->drop[route]) {
		free(body);
		fd_conn_close(c);
		return 0;
	}
	if (fd->hold[route]) {
		c->busy = true;
		c->held_route = route;
		snprintf(c->held_method, sizeof c->held_method, "%s", method);
		snprintf(c->held_path, sizeof c->held_path, "%s", path);
		c->held_body = body;
		if (route == FD_LIST)
			c->held_reply = fd_list_body(fd, path);
		fd->held[route]++;
		return head_len + body_len;
	}
	fd_act(c, route, method, path, body);
	free(body);
	return head_len + body_len;
}

static inline void fd_parse(struct fd_conn *c)
{
	size_t used;
	while (!c->busy && !c->closing && (used = fd_handle(c)) > 0) {
		memmove(c->in, c->in + used, c->in_len - used + 1);
		c->in_len -= used;
	}
}

static inline void fd_on_conn_closed(uv_handle_t *h)
{
	struct fd_conn *c = h->data;
	c->fd->open_handles--;
	free(c->in);
	free(c->held_body);
	cJSON_free(c->held_reply);
	free(c);
}

static inline void fd_conn_close(struct fd_conn *c)
{
	struct fd_engine *fd = c->fd;
	if (c->closing)
		return;
	c->closing = true;
	if (c->stream)
		fd->streams--;
	if (c->held_body || c->held_reply)
		fd->held[c->held_route]--;
	for (struct fd_conn **p = &fd->conns; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	uv_close((uv_handle_t *)&c->pipe, fd_on_conn_closed);
}

/* Answer every held request of `route` (in arrival order is not promised). */
static inline void fd_release(struct fd_engine *fd, enum fd_route route)
{
	for (struct fd_conn *c = fd->conns, *next; c; c = next) {
		next = c->next;
		if (c->closing || !c->busy || c->stream || c->held_route != route ||
		    !(c->held_body || c->held_reply))
			continue;
		fd->held[route]--;
		if (c->held_reply) {
			fd_reply(c, 200, c->held_reply);
			cJSON_free(c->held_reply);
			c->held_reply = NULL;
		} else {
			fd_act(c, route, c->held_method, c->held_path, c->held_body);
		}
		free(c->held_body);
		c->held_body = NULL;
		c->busy = false;
		fd_parse(c);
	}
}

/* Close the connections of every held request of `route`: the client sees a transport error. */
static inline void fd_drop(struct fd_engine *fd, enum fd_route route)
{
	for (struct fd_conn *c = fd->conns, *next; c; c = next) {
		next = c->next;
		if (!c->closing && c->busy && !c->stream && c->held_route == route &&
		    (c->held_body || c->held_reply))
			fd_conn_close(c);
	}
}

/* End every /events stream (as an engine that stops does). */
static inline void fd_end_streams(struct fd_engine *fd)
{
	for (struct fd_conn *c = fd->conns, *next; c; c = next) {
		next = c->next;
		if (c->stream) {
			fd_send(c, "0\r\n\r\n", 5);
			fd_conn_close(c);
		}
	}
}

static inline void fd_on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)h;
	(void)hint;
	*b = uv_buf_init(xmalloc(65536), 65536);
}

static inline void fd_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct fd_conn *c = s->data;
	if (n < 0) {
		free(b->base);
		fd_conn_close(c);
		return;
	}
	c->in = xrealloc(c->in, c->in_len + (size_t)n + 1);
	memcpy(c->in + c->in_len, b->base, (size_t)n);
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	free(b->base);
	fd_parse(c);
}

static inline void fd_on_connection(uv_stream_t *listener, int status)
{
	struct fd_engine *fd = listener->data;
	if (status < 0)
		return;
	struct fd_conn *c = xcalloc(1, sizeof *c);
	c->fd = fd;
	uv_pipe_init(fd->loop, &c->pipe, 0);
	c->pipe.data = c;
	fd->open_handles++;
	if (uv_accept(listener, (uv_stream_t *)&c->pipe) < 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->pipe, fd_on_conn_closed);
		return;
	}
	c->next = fd->conns;
	fd->conns = c;
	uv_read_start((uv_stream_t *)&c->pipe, fd_on_alloc, fd_on_read);
}

/* Listen on a socket in a fresh temp dir; fd->host is the DOCKER_HOST to give the backend. */
static inline int fd_start(struct fd_engine *fd, uv_loop_t *loop)
{
	memset(fd, 0, sizeof *fd);
	fd->loop = loop;
	snprintf(fd->dir, sizeof fd->dir, "/tmp/mss-fake-docker-XXXXXX");
	if (!test_tmpdir_make(fd->dir))
		return UV_EIO;
	snprintf(fd->sock_path, sizeof fd->sock_path, "%s/docker.sock", fd->dir);
	snprintf(fd->host, sizeof fd->host, "unix://%s", fd->sock_path);
	uv_pipe_init(loop, &fd->listener, 0);
	fd->listener.data = fd;
	fd->open_handles = 1;
	int rc = uv_pipe_bind(&fd->listener, fd->sock_path);
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&fd->listener, 128, fd_on_connection);
	return rc;
}

static inline void fd_on_listener_closed(uv_handle_t *h)
{
	struct fd_engine *fd = h->data;
	fd->open_handles--;
}

/* Close every handle (the loop must then run until fd->open_handles is 0) and forget the model. */
static inline void fd_stop(struct fd_engine *fd)
{
	while (fd->conns)
		fd_conn_close(fd->conns);
	uv_close((uv_handle_t *)&fd->listener, fd_on_listener_closed);
	while (fd->containers)
		fd_remove(fd, fd->containers);
}

static inline void fd_cleanup(struct fd_engine *fd)
{
	unlink(fd->sock_path);
	rmdir(fd->dir);
}

#endif
