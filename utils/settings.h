/* Settings: every environment variable microscaler reads, with its default, parsed and checked once
 * at start-up. Unset and empty both mean "use the default" (Go rule). A bad value is an error that
 * names the variable; main() turns it into exit status 2. */
#ifndef MSS_SETTINGS_H
#define MSS_SETTINGS_H

#include <stdbool.h>
#include <stdio.h>

#include "../demand/target.h"
#include "err.h"
#include "log.h"

struct setting_def {
	const char *name; /* environment variable */
	const char *def;  /* default as text ("" = empty) */
	const char *help; /* one line for --help */
};

/* Every setting, in --help order; terminated by a {NULL} entry. */
extern const struct setting_def settings_defs[];

/* MSS_REMOTE_FALLBACK: the SERVER engine's policy while its link is down. */
enum remote_fallback {
	REMOTE_FALLBACK_HOLD,  /* keep the last demand (default) */
	REMOTE_FALLBACK_MIN,   /* every task to its min, after remote_fallback_after_ms */
	REMOTE_FALLBACK_LOCAL, /* the LOCAL engine's logic, after remote_fallback_after_ms */
};

struct settings {
	/* Pieces, selected by name (upper case, as the Go program). */
	char scheduler[16];     /* MSS_SCHEDULER: TOY | DOCKER | SWARM | MARATHON */
	char engine[16];        /* MSS_DEMAND_ENGINE: LOCAL | SERVER (alias REMOTE, stored as SERVER) */
	char config[16];        /* MSS_CONFIG: SERVER | HARDCODED | ENVVAR | FILE | DEMO */
	const char *config_data; /* MSS_CONFIG_DATA (borrowed); "" when unset, never NULL */
	const char *config_file; /* MSS_CONFIG_FILE; "" when unset, never NULL */
	const char *monitor;     /* MSS_MONITOR, e.g. "SERVER,LOG" or "none" */
	const char *user_id;     /* MSS_USER_ID */
	const char *api_address; /* MSS_API_ADDRESS: valid for ws_parse_url */
	const char *api_token;   /* MSS_API_TOKEN: bearer token; "" = none */
	const char *api_ca_file; /* MSS_API_CA_FILE: readable PEM file; "" = the system store */
	bool api_insecure;       /* MSS_API_INSECURE: no TLS verification (tests only) */
	unsigned api_max_frame;  /* MSS_API_MAX_FRAME: inbound websocket message cap, bytes */
	unsigned api_keepalive_s; /* MSS_API_KEEPALIVE_S: ping after this idle time */
	enum remote_fallback remote_fallback;  /* MSS_REMOTE_FALLBACK */
	unsigned remote_fallback_after_ms;     /* MSS_REMOTE_FALLBACK_AFTER_S (seconds in env) */
	bool pull_images;        /* MSS_PULL_IMAGES */
	const char *log_debug;   /* MSS_LOG_DEBUG */
	enum log_format log_format; /* MSS_LOG_FORMAT: logfmt | json */
	bool http_enabled;       /* MSS_HTTP_ADDR is not off (or set but empty) */
	const char *http_addr;   /* MSS_HTTP_ADDR as given; "" when off */
	char http_host[64];      /* its address; "" = every interface */
	int http_port;           /* its port; 0 = any free port */
	const char *http_token;  /* MSS_HTTP_TOKEN: bearer token of the control calls; "" = none
				  * (control refused) */
	const char *docker_host; /* DOCKER_HOST */
	const char *marathon_api; /* MSS_MARATHON_API */
	const char *marathon_user;     /* MSS_MARATHON_USER: basic auth; "" = none */
	const char *marathon_password; /* MSS_MARATHON_PASSWORD */
	const char *marathon_token;    /* MSS_MARATHON_TOKEN: "" = none */
	unsigned marathon_force_after_ms; /* MSS_MARATHON_FORCE_AFTER_S (seconds in the env); 0 = off */
	const char *instance_id; /* MSS_INSTANCE_ID: owner label value */
	struct pid_gains gains;  /* MSS_KU, MSS_TU, MSS_KP, MSS_KI, MSS_KD, MSS_VEL_SAMPLES */
	unsigned tick_ms;        /* MSS_TICK_MS: decision period */
	const char *tz;          /* MSS_TZ: "UTC" or a tz database name, checked to exist */
	unsigned shutdown_timeout_ms; /* MSS_SHUTDOWN_TIMEOUT (seconds in the environment) */
	unsigned toy_start_ms;   /* MSS_TOY_START_MS: toy scheduler start delay */
	unsigned toy_stop_ms;    /* MSS_TOY_STOP_MS: toy scheduler stop delay */
	/* Docker backend (DOCKER_* as the Docker CLI reads them). */
	bool docker_tls_verify;        /* DOCKER_TLS_VERIFY: non-empty = verify the daemon's cert */
	const char *docker_cert_path;  /* DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem */
	const char *docker_api_version; /* DOCKER_API_VERSION: fixed version; empty = negotiate */
	unsigned docker_concurrency;   /* MSS_DOCKER_CONCURRENCY: container operations in flight */
	unsigned reconcile_ms;         /* MSS_RECONCILE_S (seconds in the environment) */
};

/* Read the process environment. All pointers in *s borrow from the environment (or static
 * defaults), so *s must not outlive it and needs no free. Returns 0, or -1 with e naming the
 * variable and the bad value. */
int settings_load(struct settings *s, struct err *e);
/* MSS_HTTP_ADDR's form: "a.b.c.d:port", "[v6]:port", "localhost:port", ":port" or "*:port"
 * (every interface: host ""). Returns 0, or -1 with e naming the variable. */
int settings_parse_listen(const char *v, char *host, size_t hlen, int *port, struct err *e);
/* The value a setting has now (env or default), for --help and --check-config. */
const char *settings_value(const char *name);
/* Print the --help table: name, default, description. */
void settings_print_help(FILE *out);

#endif
