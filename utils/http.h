/* HTTP client on the libuv loop: libcurl multi, a cap on requests in flight, streaming bodies. */
#ifndef MSS_HTTP_H
#define MSS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "utils/err.h"

/*
 * One `struct http` per loop is shared by every backend and metric source. Everything runs on the
 * loop thread; nothing here blocks (curl's resolver is threaded, sockets are watched by uv_poll).
 *
 *   struct http *h = http_new(loop, &(struct http_options){.max_in_flight = 8});
 *   struct http_req *r = http_start(h, &(struct http_request){
 *           .method = "POST", .url = "http://localhost/v1.41/containers/create",
 *           .conn = &docker_conn, .json = body, .on_done = on_created, .arg = ctx}, &e);
 *   ...
 *   static void on_created(struct http_req *r, const struct http_response *res, void *arg)
 *   {
 *           if (res->status == 201) ... else if (http_check(res, &e) < 0) ...
 *   }
 *
 * Guarantees:
 * - on_done runs exactly once for every request http_start accepted (returned non-NULL): success,
 *   HTTP error status, transport error, timeout, body over the cap, cancel or close. After it
 *   returns the request is freed: forget the pointer in on_done.
 * - on_done never runs inside http_start. on_data never runs after on_done.
 * - http_start, http_cancel and http_close may be called from inside on_data and on_done (of the
 *   same or another request). What libcurl forbids re-entrantly (adding or removing a handle
 *   inside its callbacks) is deferred to the end of the current loop callback, not to a later
 *   loop iteration; a request started from on_data is queued until then.
 */

struct http;
struct http_req;
struct cJSON;

/* Call once from main before anything else, while the process has one thread (libcurl's global
 * init must not race). Returns 0, or -1 with e set. http_global_cleanup at exit is optional. */
int http_global_init(struct err *e);
void http_global_cleanup(void);

struct http_options {
	unsigned max_in_flight;  /* requests on the wire at once; more wait in a FIFO; 0: 16 */
	long timeout_ms;         /* default total time per request; 0: 30000 */
	long connect_timeout_ms; /* connect (and TLS handshake) limit, streams too; 0: 10000 */
	size_t max_body;         /* buffered response body cap in bytes; 0: 8 MiB */
	const char *user_agent;  /* User-Agent; NULL: "microscaler"; copied */
	const char *name;        /* the client's name for the observer (e.g. "docker"); NULL: its
	                            requests are not observed; copied */
};

/* Make a client on `loop` (borrowed; must outlive the client). `o` may be NULL (all defaults) and
 * is read only during the call. Returns NULL only if libcurl cannot make a multi handle. */
struct http *http_new(uv_loop_t *loop, const struct http_options *o);

/* How to reach a server beyond its URL; usually one per backend, shared by all its requests. */
struct http_conn {
	const char *unix_socket; /* connect to this socket path; the URL's host is only the Host
	                            header, e.g. "http://localhost/v1.41/_ping" */
	const char *tls_cert;    /* client certificate, PEM file path; NULL: none */
	const char *tls_key;     /* its private key, PEM file; NULL: none, or inside tls_cert */
	const char *tls_ca;      /* CA bundle, PEM file path; NULL: the system store */
	bool insecure;           /* TLS without verifying the peer's certificate or host name */
};

#define HTTP_NO_TIMEOUT (-1L) /* http_request.timeout_ms for requests that may last forever */

struct http_response;

/* Streaming: a piece of a 2xx response body as it arrives (curl's buffer; copy what you keep). A
 * piece can hold several lines or part of one: split on your own delimiter. */
typedef void (*http_data_fn)(struct http_req *req, const char *data, size_t len, void *arg);
/* The end of a request; `res` and everything it points to are valid until this returns. */
typedef void (*http_done_fn)(struct http_req *req, const struct http_response *res, void *arg);

/* A request as the caller describes it. Every pointer is borrowed only during http_start: strings,
 * headers and the body are copied, `json` is serialised at once. */
struct http_request {
	const char *method;           /* "GET", "POST", "PUT", "DELETE", "HEAD", ...; NULL: "GET" */
	const char *url;              /* required; query already escaped (see http_escape) */
	const struct http_conn *conn; /* NULL: plain TCP, TLS with the system CA store */
	const char *user;             /* basic auth user name; NULL: none */
	const char *password;         /* basic auth password (with user) */
	const char *bearer;           /* "Authorization: Bearer <token>"; NULL: none */
	const char *aws_sigv4;        /* CURLOPT_AWS_SIGV4 provider, e.g. "aws:amz:eu-west-1:sqs":
	                                 sign with AWS SigV4, user = access key id, password =
	                                 secret key (not basic auth); NULL: none. No "Expect:"
	                                 removal header then (curl 7.88 signs removed headers) */
	const char *const *headers;   /* extra "Name: value" lines, NULL-terminated; NULL: none */
	const char *body;         /* request body (binary safe with body_len); NULL: none, except
	                             that POST, PUT and PATCH always send one (empty) */
	size_t body_len;          /* bytes of body; 0 with a body: strlen(body) */
	const char *content_type; /* Content-Type of the body; NULL: none sent */
	const struct cJSON *json; /* body from this object, Content-Type application/json (unless
	                             content_type says otherwise); exclusive with body */
	long timeout_ms;          /* total time limit; 0: the client's default; HTTP_NO_TIMEOUT:
	                             none (Docker /events; connect_timeout_ms still applies) */
	http_data_fn on_data;     /* NULL: the body is buffered and given to on_done. Set: 2xx
	                             bodies go here piece by piece and are not buffered; bodies of
	                             other statuses are still buffered for on_done (error message) */
	http_done_fn on_done;     /* required */
	void *arg;                /* passed to both callbacks; not touched */
	const char *op;           /* what the request does, for the observer ("container_start");
	                             must outlive the request (a literal); NULL: the method */
};

enum http_result {
	HTTP_OK,            /* a whole response arrived, whatever its status */
	HTTP_ERR_TRANSPORT, /* no (complete) response: refused, reset, DNS, TLS, ... */
	HTTP_ERR_TIMEOUT,   /* timeout_ms or connect_timeout_ms ran out */
	HTTP_ERR_TOO_BIG,   /* the buffered body would exceed max_body; transfer stopped */
	HTTP_CANCELLED,     /* http_cancel or http_close */
};

/* What on_done gets. All pointers are owned by the client, valid until on_done returns. */
struct http_response {
	enum http_result result;
	long status;        /* final HTTP status when result is HTTP_OK; otherwise 0 */
	const char *reason; /* status line's reason phrase ("Not Found"), "" if none */
	const char *error;  /* why not HTTP_OK: curl's text, "cancelled"...; "" if OK */
	const char *body;   /* buffered body, NUL-terminated, never NULL; "" on errors and for
	                       streamed 2xx bodies */
	size_t body_len;
	const char *method;         /* as requested */
	const char *url;            /* as requested */
	double elapsed_ms;          /* from the transfer's start (leaving the queue) to its end */
	double queued_ms;           /* time spent waiting for a slot under max_in_flight */
	const struct http_req *req; /* the request answered; for http_header */
};

/* Value of response header `name` (case-insensitive), trimmed, or NULL if absent; the last one if
 * repeated. Only the final response's headers count (not 1xx or a proxy's); they are kept also
 * when the transfer failed after they arrived. Valid while `res` is. */
const char *http_header(const struct http_response *res, const char *name);

/* 0 if `res` is HTTP_OK with a 2xx status. Otherwise -1 with e set to a one-line reason and
 * e->code to the status (or -1 with no response): "404 No such image: app:v2" (the JSON body's
 * "message" when there is one, else the body's first line, else the reason phrase), or curl's
 * error text. No method or URL: the caller wraps its own context around it (err_wrap). */
int http_check(const struct http_response *res, struct err *e);

/* Queue a request. Returns its handle (owned by the client, valid until on_done returns), or NULL
 * with e set when the request is malformed or the client is closing; then no callback runs. */
struct http_req *http_start(struct http *h, const struct http_request *rq, struct err *e);

/* Stop a request now: its on_done runs before this returns, with HTTP_CANCELLED, and nothing runs
 * for it after that. A no-op from inside the request's own on_done. NULL is ignored. */
void http_cancel(struct http_req *req);

struct http_stats {
	uint64_t started;   /* transfers put on the wire */
	uint64_t completed; /* HTTP_OK, any status */
	uint64_t failed;    /* transport errors, timeouts and bodies over the cap */
	uint64_t cancelled; /* http_cancel and http_close, queued or in flight */
	uint64_t bytes_in;  /* response body bytes received */
	unsigned in_flight; /* on the wire now */
	unsigned queued;    /* waiting for a slot now */
};

void http_stats(const struct http *h, struct http_stats *out);

/* Process-wide: called for every request of a named client that ended in any way but a cancel,
 * just before its on_done, with the client's name and the request's op (the /metrics counters).
 * One observer; NULL removes it. Loop thread only. */
typedef void (*http_observe_fn)(const char *client, const char *op,
                                const struct http_response *res, void *arg);
void http_observe(http_observe_fn fn, void *arg);

typedef void (*http_closed_fn)(struct http *h, void *arg);

/* Cancel everything (each on_done runs with HTTP_CANCELLED before this returns), refuse new
 * requests, release curl and close every uv handle; `done` (may be NULL) runs from a later loop
 * callback once the last handle is closed. Then, and only then, call http_free (it may be called
 * from inside `done`). Calling it twice is a no-op. */
void http_close(struct http *h, http_closed_fn done, void *arg);
void http_free(struct http *h);

/* URL-escape `s` (e.g. Docker's filters JSON for a query). Returns a string the caller frees with
 * free(), or NULL if s is NULL. */
char *http_escape(const char *s);

#endif
