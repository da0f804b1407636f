/* Docker backend internals shared with its tests and fuzz targets: parsers of everything the
 * engine sends back, and DOCKER_HOST handling. The backend itself is scheduler_docker_ops. */
#ifndef MSS_DOCKER_H
#define MSS_DOCKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../utils/err.h"

/* Labels on every container we create. The Go program's label is adopted too (see README). */
#define DOCKER_LABEL_TASK "com.microscaling.task"
#define DOCKER_LABEL_OWNER "com.microscaling.owner"
#define DOCKER_LABEL_LEGACY "com.microscaling.microscaling-in-a-box"

/* The newest API we speak and the oldest we accept. Docker 20.10 (Debian 12) speaks 1.41. */
#define DOCKER_API_MAX "1.47"
#define DOCKER_API_MIN "1.24"

/* Where the engine is: from DOCKER_HOST (unix:///path, tcp://host:port, http(s)://host:port,
 * or a bare host:port). */
struct docker_endpoint {
	char base_url[256];    /* "http://localhost" for a socket, "https://host:2376" for TLS */
	char socket_path[108]; /* unix socket path, "" for TCP */
	bool tls;
};

/* Parse DOCKER_HOST; `tls` asks for https on tcp:// (DOCKER_TLS_VERIFY or a cert path). */
int docker_parse_host(const char *docker_host, bool tls, struct docker_endpoint *out,
		      struct err *e);

/* "1.41" < "1.9"? Compares numerically: returns <0, 0, >0. Unparsable sorts lowest. */
int docker_version_cmp(const char *a, const char *b);

/* GET /version: pick min(ours, daemon's ApiVersion), refuse when above ours is below its minimum.
 * Writes the version ("1.41") into out. */
int docker_negotiate(const char *body, size_t len, char *out, size_t n, struct err *e);

/* One container as the list or an event shows it, filtered to ours. */
struct docker_seen {
	char id[65];
	char task[64];   /* value of our task label or the legacy label */
	char state[16];  /* list: created|running|paused|restarting|removing|exited|dead */
	int64_t created; /* list: Unix seconds */
	bool legacy;     /* carries only the Go program's label */
};

/* Is a container with these labels ours? owner must equal `owner`; the legacy label counts when
 * `adopt_legacy`. Fills task (and legacy). Labels come as a cJSON object (borrowed). */
struct cJSON;
bool docker_labels_ours(const struct cJSON *labels, const char *owner, bool adopt_legacy,
			struct docker_seen *out);

/* GET /containers/json: call `fn` for every container of ours (others are skipped). Returns the
 * number seen, or -1 with e on a body that is not a JSON array of containers: one element without
 * a valid Id or a State makes the whole reply an error (nothing is reported). */
int docker_parse_list(const char *body, size_t len, const char *owner, bool adopt_legacy,
		      void (*fn)(const struct docker_seen *c, void *arg), void *arg, struct err *e);

/* One line of GET /events. Returns 1 for a container event of ours (fields filled), 0 for any
 * other valid event, -1 for a line that is not an event object. */
struct docker_event {
	struct docker_seen c;
	char action[40];     /* start, die, destroy, oom, "health_status: unhealthy", ... */
	int exit_code;       /* die: exitCode attribute, -1 if absent */
	int64_t time_nano;
};
int docker_parse_event(const char *line, size_t len, const char *owner, bool adopt_legacy,
		       struct docker_event *ev);

/* GET /containers/{id}/json: State.Status ("running", "restarting", "exited", ...) into out. */
int docker_parse_inspect(const char *body, size_t len, char *out, size_t n, struct err *e);

/* POST /containers/create: the id from a 201 body into out (65 bytes). */
int docker_parse_created(const char *body, size_t len, char *out, struct err *e);

#endif
