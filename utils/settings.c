/* Settings: the table of environment variables and their start-up parsing and checks. */
#include "settings.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"
#include "ws.h"

/* To add a setting: append a row here (in the --help order you want), add a field to struct
 * settings, and read it in settings_load() with one of the get_* helpers below. */
const struct setting_def settings_defs[] = {
    {"MSS_SCHEDULER", "DOCKER", "scheduler backend: TOY, DOCKER, SWARM or MARATHON"},
    {"MSS_DEMAND_ENGINE", "LOCAL", "demand engine: LOCAL or SERVER (REMOTE is an alias)"},
    {"MSS_CONFIG", "SERVER", "task config source: SERVER, HARDCODED, ENVVAR, FILE or DEMO"},
    {"MSS_CONFIG_DATA", "", "apps JSON, for MSS_CONFIG=ENVVAR"},
    {"MSS_CONFIG_FILE", "", "path of the apps JSON file, for MSS_CONFIG=FILE"},
    {"MSS_MONITOR", "SERVER", "monitors, comma separated, or none"},
    {"MSS_USER_ID", "5k5gk", "user id for the API server"},
    {"MSS_API_ADDRESS", "app.microscaling.com",
     "API server: host[:port] (= ws://host[:port]/), or a ws:// or wss:// URL with a path"},
    {"MSS_API_TOKEN", "", "bearer token for the API server (websocket and config); empty: none"},
    {"MSS_API_CA_FILE", "", "PEM CA bundle that verifies the API server over TLS; empty: system"},
    {"MSS_API_INSECURE", "false", "true: do not verify the API server's TLS certificate (tests only)"},
    {"MSS_API_MAX_FRAME", "1048576", "largest websocket message accepted, bytes (1024-268435456)"},
    {"MSS_API_KEEPALIVE_S", "20", "websocket ping after this many idle seconds, hang up after 2x (1-3600)"},
    {"MSS_REMOTE_FALLBACK", "hold", "SERVER engine while the link is down: hold, min or local"},
    {"MSS_REMOTE_FALLBACK_AFTER_S", "30", "seconds the link is down before min or local applies (0-86400)"},
    {"MSS_PULL_IMAGES", "true", "pull each task's image at start-up: true or false"},
    {"MSS_SEND_METRICS_TO_API", "true", "accepted for compatibility; has no effect"},
    {"MSS_LOG_DEBUG", "none", "components logging at debug level (e.g. mssengine,docker), or all"},
    {"MSS_LOG_FORMAT", "logfmt", "log line format: logfmt or json"},
    {"MSS_HTTP_ADDR", "127.0.0.1:9180", "HTTP API and dashboard: host:port, [v6]:port, :port; off: none"},
    {"MSS_HTTP_TOKEN", "", "bearer token for the HTTP API's control calls; empty: control off"},
    {"DOCKER_HOST", "unix:///var/run/docker.sock", "Docker Engine endpoint"},
    {"DOCKER_TLS_VERIFY", "", "non-empty: https to the engine, verifying its certificate"},
    {"DOCKER_CERT_PATH", "", "directory with ca.pem, cert.pem and key.pem for engine TLS"},
    {"DOCKER_API_VERSION", "", "engine API version to use, e.g. 1.41; empty: negotiate"},
    {"MSS_DOCKER_CONCURRENCY", "32", "docker: container operations in flight at once (1-256)"},
    {"MSS_RECONCILE_S", "30", "docker, swarm: seconds between full re-reads (1-3600)"},
    {"MSS_MARATHON_API", "http://localhost:8080", "Marathon base URL, a path prefix allowed"},
    {"MSS_MARATHON_USER", "", "marathon: basic auth user name (with MSS_MARATHON_PASSWORD)"},
    {"MSS_MARATHON_PASSWORD", "", "marathon: basic auth password"},
    {"MSS_MARATHON_TOKEN", "", "marathon: DC/OS token, sent as 'Authorization: token=<t>'"},
    {"MSS_MARATHON_FORCE_AFTER_S", "0",
     "marathon: seconds an app may stay locked by a deployment before ?force=true; 0: never"},
    {"MSS_INSTANCE_ID", "default", "owner label value: 1-63 of A-Z a-z 0-9 _ . -"},
    {"MSS_KU", "0.05", "queue controller: ultimate gain (basis of the MSS_KP default)"},
    {"MSS_TU", "10", "queue controller: oscillation period (basis of the MSS_KD default)"},
    {"MSS_KP", "", "queue controller: proportional gain (default 0.8 x MSS_KU)"},
    {"MSS_KI", "0", "queue controller: integral gain"},
    {"MSS_KD", "", "queue controller: derivative gain (default MSS_TU / 8)"},
    {"MSS_VEL_SAMPLES", "1", "queue controller: samples averaged into the velocity (1-100)"},
    {"MSS_TICK_MS", "500", "decision period in milliseconds (10-60000)"},
    {"MSS_TZ", "UTC", "time zone of policy schedule windows: UTC or a zone name (Europe/Berlin)"},
    {"MSS_SHUTDOWN_TIMEOUT", "30", "seconds to wait for tasks to stop at shutdown (up to 86400)"},
    {"MSS_TOY_START_MS", "300", "toy scheduler: container start delay in ms (0-600000)"},
    {"MSS_TOY_STOP_MS", "200", "toy scheduler: container stop delay in ms (0-600000)"},
    {NULL, NULL, NULL},
};

static const struct setting_def *find_def(const char *name)
{
	for (const struct setting_def *d = settings_defs; d->name; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

const char *settings_value(const char *name)
{
	const char *v = getenv(name);
	if (v && *v)
		return v;
	const struct setting_def *d = find_def(name);
	return d ? d->def : NULL;
}

/* Like settings_value, for names settings_load reads: those must have a row in the table, so a
 * missing one is a programming error caught by the first test run. */
static const char *get(const char *name)
{
	if (!find_def(name)) {
		fprintf(stderr, "settings: %s has no row in settings_defs\n", name);
		abort();
	}
	return settings_value(name);
}

/* Number strings are taken whole: no leading blanks (strtoll/strtod would skip them, Go did not).
 */
static bool starts_blank(const char *v)
{
	return isspace((unsigned char)v[0]) != 0;
}

/* Go only warned on a bad number and used the default; a typo in a gain or a period silently
 * running with another value is worse than refusing to start, so every bad number is an error. */
static int get_number(const char *name, long long min, long long max, long long *out, struct err *e)
{
	const char *v = get(name);
	if (starts_blank(v) || util_parse_long(v, min, max, out) != 0)
		return err_set(e, "%s: expected an integer from %lld to %lld, got '%s'", name, min,
		               max, v);
	return 0;
}

static int get_uint(const char *name, unsigned min, unsigned max, unsigned *out, struct err *e)
{
	long long n = 0;
	if (get_number(name, min, max, &n, e) != 0)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int get_int(const char *name, int min, int max, int *out, struct err *e)
{
	long long n = 0;
	if (get_number(name, min, max, &n, e) != 0)
		return -1;
	*out = (int)n;
	return 0;
}

/* A gain: a finite number >= 0. An empty value with an empty default leaves *out alone (derived
 * defaults: MSS_KP, MSS_KD). */
static int get_gain(const char *name, double *out, struct err *e)
{
	const char *v = get(name);
	if (!*v)
		return 0;
	double d;
	if (starts_blank(v) || util_parse_double(v, &d) != 0 || d < 0)
		return err_set(e, "%s: expected a number >= 0, got '%s'", name, v);
	*out = d;
	return 0;
}

/* Exactly true/false/1/0. The Go program treated everything but "true" as false, so "TRUE" or
 * "yes" silently switched a feature off. */
static int get_bool(const char *name, bool *out, struct err *e)
{
	const char *v = get(name);
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return err_set(e, "%s: expected true, false, 1 or 0, got '%s'", name, v);
	return 0;
}

/* Copy an accepted upper-case choice into a fixed field. */
static void set_choice(char *dst, size_t n, const char *v)
{
	snprintf(dst, n, "%s", v);
}

static bool one_of(const char *v, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(v, *list) == 0)
			return true;
	return false;
}

static int load_scheduler(struct settings *s, struct err *e)
{
	static const char *const ok[] = {"TOY", "DOCKER", "SWARM", "MARATHON", NULL};
	static const char *const gone[] = {"KUBERNETES", "ECS", "NOMAD", NULL};
	const char *v = get("MSS_SCHEDULER");
	if (one_of(v, gone))
		return err_set(e, "MSS_SCHEDULER: %s is not supported by microscaler", v);
	if (!one_of(v, ok))
		return err_set(
		    e, "MSS_SCHEDULER: unknown value '%s' (want TOY, DOCKER, SWARM or MARATHON)",
		    v);
	set_choice(s->scheduler, sizeof s->scheduler, v);
	return 0;
}

static int load_engine(struct settings *s, struct err *e)
{
	const char *v = get("MSS_DEMAND_ENGINE");
	if (strcmp(v, "REMOTE") == 0)
		v = "SERVER";
	if (strcmp(v, "LOCAL") != 0 && strcmp(v, "SERVER") != 0)
		return err_set(e, "MSS_DEMAND_ENGINE: unknown value '%s' (want LOCAL or SERVER)",
		               v);
	set_choice(s->engine, sizeof s->engine, v);
	return 0;
}

static int load_config(struct settings *s, struct err *e)
{
	static const char *const ok[] = {"SERVER", "HARDCODED", "ENVVAR", "FILE", "DEMO", NULL};
	const char *v = get("MSS_CONFIG");
	if (strcmp(v, "LABEL") == 0)
		return err_set(e,
		               "MSS_CONFIG: LABEL is not supported by microscaler (the MicroBadger "
		               "service it reads labels from is gone)");
	if (!one_of(v, ok))
		return err_set(
		    e,
		    "MSS_CONFIG: unknown value '%s' (want SERVER, HARDCODED, ENVVAR, FILE "
		    "or DEMO)",
		    v);
	set_choice(s->config, sizeof s->config, v);
	s->config_data = get("MSS_CONFIG_DATA");
	s->config_file = get("MSS_CONFIG_FILE");
	if (strcmp(v, "ENVVAR") == 0 && !*s->config_data)
		return err_set(e, "MSS_CONFIG_DATA: required when MSS_CONFIG=ENVVAR");
	if (strcmp(v, "FILE") == 0 && !*s->config_file)
		return err_set(e, "MSS_CONFIG_FILE: required when MSS_CONFIG=FILE");
	return 0;
}

static int load_log_format(struct settings *s, struct err *e)
{
	const char *v = get("MSS_LOG_FORMAT");
	if (strcmp(v, "logfmt") == 0)
		s->log_format = LOG_FMT_LOGFMT;
	else if (strcmp(v, "json") == 0)
		s->log_format = LOG_FMT_JSON;
	else
		return err_set(e, "MSS_LOG_FORMAT: unknown value '%s' (want logfmt or json)", v);
	return 0;
}

/* The instance id ends up in a label value and in names, so keep it to a safe alphabet. */
static int load_instance_id(struct settings *s, struct err *e)
{
	const char *v = get("MSS_INSTANCE_ID");
	size_t n = strlen(v);
	bool ok = n >= 1 && n <= 63;
	for (const char *p = v; ok && *p; p++)
		ok = isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '-';
	if (!ok)
		return err_set(e,
		               "MSS_INSTANCE_ID: expected 1 to 63 characters of A-Z a-z 0-9 _ . -, "
		               "got '%s'",
		               v);
	s->instance_id = v;
	return 0;
}

/* Gains as the Go program derives them: kp = 0.8 ku, kd = tu / 8 unless set explicitly. */
static int load_gains(struct settings *s, struct err *e)
{
	double ku = 0, tu = 0;
	pid_gains_default(&s->gains);
	if (get_gain("MSS_KU", &ku, e) || get_gain("MSS_TU", &tu, e))
		return -1;
	s->gains.kp = 0.8 * ku;
	s->gains.kd = tu / 8;
	if (get_gain("MSS_KP", &s->gains.kp, e) || get_gain("MSS_KI", &s->gains.ki, e) ||
	    get_gain("MSS_KD", &s->gains.kd, e))
		return -1;
	return get_int("MSS_VEL_SAMPLES", 1, TARGET_VEL_SAMPLES_MAX, &s->gains.vel_samples, e);
}

/* Seconds in the environment (decimals allowed), milliseconds in the struct. */
static int load_shutdown_timeout(struct settings *s, struct err *e)
{
	const char *v = get("MSS_SHUTDOWN_TIMEOUT");
	double sec;
	if (starts_blank(v) || util_parse_double(v, &sec) != 0 || !(sec > 0) || sec > 86400)
		return err_set(e,
		               "MSS_SHUTDOWN_TIMEOUT: expected seconds above 0 and at most 86400, "
		               "got '%s'",
		               v);
	long long ms = llround(sec * 1000);
	s->shutdown_timeout_ms = ms < 1 ? 1 : (unsigned)ms;
	return 0;
}

/* The API server address: the websocket's URL rules (the config URL is derived from it). */
static int load_api(struct settings *s, struct err *e)
{
	struct ws_url url;
	s->api_address = get("MSS_API_ADDRESS");
	if (ws_parse_url(s->api_address, &url, e) != 0)
		return err_wrap(e, "MSS_API_ADDRESS");
	s->api_token = get("MSS_API_TOKEN");
	for (const char *p = s->api_token; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return err_set(e, "MSS_API_TOKEN: must not contain spaces or control "
			                  "characters");
	s->api_ca_file = get("MSS_API_CA_FILE");
	if (*s->api_ca_file && access(s->api_ca_file, R_OK) != 0)
		return err_set(e, "MSS_API_CA_FILE: cannot read '%s': %s", s->api_ca_file,
		               strerror(errno));
	if (get_bool("MSS_API_INSECURE", &s->api_insecure, e))
		return -1;
	return get_uint("MSS_API_MAX_FRAME", 1024, 268435456, &s->api_max_frame, e) ||
	       get_uint("MSS_API_KEEPALIVE_S", 1, 3600, &s->api_keepalive_s, e);
}

/* What the SERVER engine does while its link is down, and after how long. */
static int load_remote_fallback(struct settings *s, struct err *e)
{
	const char *v = get("MSS_REMOTE_FALLBACK");
	if (strcmp(v, "hold") == 0)
		s->remote_fallback = REMOTE_FALLBACK_HOLD;
	else if (strcmp(v, "min") == 0)
		s->remote_fallback = REMOTE_FALLBACK_MIN;
	else if (strcmp(v, "local") == 0)
		s->remote_fallback = REMOTE_FALLBACK_LOCAL;
	else
		return err_set(e, "MSS_REMOTE_FALLBACK: unknown value '%s' (want hold, min or local)",
		               v);
	v = get("MSS_REMOTE_FALLBACK_AFTER_S");
	double sec;
	if (starts_blank(v) || util_parse_double(v, &sec) != 0 || !(sec >= 0) || sec > 86400)
		return err_set(e,
		               "MSS_REMOTE_FALLBACK_AFTER_S: expected seconds from 0 to 86400, got "
		               "'%s'",
		               v);
	s->remote_fallback_after_ms = (unsigned)llround(sec * 1000);
	return 0;
}

int settings_parse_listen(const char *v, char *host, size_t hlen, int *port, struct err *e)
{
	static const char want[] = "expected host:port ([v6]:port, :port for every interface, or "
				   "off)";
	const char *colon;
	char h[64];
	unsigned char addr[sizeof(struct in6_addr)];
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (!close || close[1] != ':' || (size_t)(close - v - 1) >= sizeof h)
			return err_set(e, "MSS_HTTP_ADDR: %s, got '%s'", want, v);
		snprintf(h, sizeof h, "%.*s", (int)(close - v - 1), v + 1);
		if (inet_pton(AF_INET6, h, addr) != 1)
			return err_set(e, "MSS_HTTP_ADDR: '%s' is not an IPv6 address", h);
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || (size_t)(colon - v) >= sizeof h || memchr(v, ':', (size_t)(colon - v)))
			return err_set(e, "MSS_HTTP_ADDR: %s, got '%s'", want, v);
		snprintf(h, sizeof h, "%.*s", (int)(colon - v), v);
		if (strcmp(h, "localhost") == 0)
			snprintf(h, sizeof h, "127.0.0.1");
		else if (strcmp(h, "*") == 0)
			h[0] = '\0';
		else if (h[0] && inet_pton(AF_INET, h, addr) != 1)
			return err_set(e, "MSS_HTTP_ADDR: '%s' is not an IPv4 address, [IPv6] "
					  "address or localhost",
				       h);
	}
	long long p;
	if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    util_parse_long(colon + 1, 0, 65535, &p) != 0)
		return err_set(e, "MSS_HTTP_ADDR: port must be 0-65535 (0: any free port), got '%s'",
			       colon + 1);
	snprintf(host, hlen, "%s", h);
	*port = (int)p;
	return 0;
}

/* The HTTP API: on by default on loopback; set but empty (or off) switches it off, the one
 * setting where empty is not the default, as documented for MSS_HTTP_ADDR. */
static int load_http(struct settings *s, struct err *e)
{
	const char *raw = getenv("MSS_HTTP_ADDR");
	s->http_addr = get("MSS_HTTP_ADDR");
	s->http_enabled = !(raw && !*raw) && strcmp(s->http_addr, "off") != 0;
	if (!s->http_enabled)
		s->http_addr = "";
	else if (settings_parse_listen(s->http_addr, s->http_host, sizeof s->http_host,
				       &s->http_port, e) != 0)
		return -1;
	s->http_token = get("MSS_HTTP_TOKEN");
	for (const char *p = s->http_token; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return err_set(e, "MSS_HTTP_TOKEN: must not contain spaces or control "
					  "characters");
	return 0;
}

/* "1.41": digits, one dot, digits. */
static bool valid_api_version(const char *v)
{
	size_t major = strspn(v, "0123456789");
	if (major == 0 || major > 3 || v[major] != '.')
		return false;
	size_t minor = strspn(v + major + 1, "0123456789");
	return minor > 0 && minor <= 3 && v[major + 1 + minor] == '\0';
}

/* A zone glibc can load: UTC, or a file under /usr/share/zoneinfo (glibc silently falls back to
 * UTC for names it cannot find, which would shift every schedule window without a word). */
static int load_tz(struct settings *s, struct err *e)
{
	s->tz = get("MSS_TZ");
	if (strcmp(s->tz, "UTC") == 0)
		return 0;
	const char *dir = getenv("TZDIR");
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", s->tz);
	if (s->tz[0] == '/' || s->tz[0] == '.' || strstr(s->tz, "..") || access(path, R_OK) != 0)
		return err_set(e, "MSS_TZ: unknown time zone '%s' (want UTC or a name like "
				  "Europe/Berlin from the tz database)",
			       s->tz);
	return 0;
}

int settings_load(struct settings *s, struct err *e)
{
	bool send_metrics;
	memset(s, 0, sizeof *s);
	if (load_scheduler(s, e) || load_engine(s, e) || load_config(s, e))
		return -1;
	s->monitor = get("MSS_MONITOR");
	s->user_id = get("MSS_USER_ID");
	if (load_api(s, e) || load_remote_fallback(s, e))
		return -1;
	/* MSS_SEND_METRICS_TO_API is parsed and ignored, as in Go; still refuse a bad value. */
	if (get_bool("MSS_PULL_IMAGES", &s->pull_images, e) ||
	    get_bool("MSS_SEND_METRICS_TO_API", &send_metrics, e))
		return -1;
	if (load_tz(s, e))
		return -1;
	s->log_debug = get("MSS_LOG_DEBUG");
	if (load_log_format(s, e) || load_http(s, e))
		return -1;
	s->docker_host = get("DOCKER_HOST");
	/* The Docker CLI's rule: any non-empty DOCKER_TLS_VERIFY turns verification on. */
	s->docker_tls_verify = *get("DOCKER_TLS_VERIFY") != '\0';
	s->docker_cert_path = get("DOCKER_CERT_PATH");
	s->docker_api_version = get("DOCKER_API_VERSION");
	if (*s->docker_api_version && !valid_api_version(s->docker_api_version))
		return err_set(e, "DOCKER_API_VERSION: expected a version like 1.41, got '%s'",
			       s->docker_api_version);
	unsigned reconcile_s;
	if (get_uint("MSS_DOCKER_CONCURRENCY", 1, 256, &s->docker_concurrency, e) ||
	    get_uint("MSS_RECONCILE_S", 1, 3600, &reconcile_s, e))
		return -1;
	s->reconcile_ms = reconcile_s * 1000;
	s->marathon_api = get("MSS_MARATHON_API");
	s->marathon_user = get("MSS_MARATHON_USER");
	s->marathon_password = get("MSS_MARATHON_PASSWORD");
	s->marathon_token = get("MSS_MARATHON_TOKEN");
	unsigned force_after_s;
	if (get_uint("MSS_MARATHON_FORCE_AFTER_S", 0, 86400, &force_after_s, e))
		return -1;
	s->marathon_force_after_ms = force_after_s * 1000;
	if (load_instance_id(s, e) || load_gains(s, e))
		return -1;
	if (get_uint("MSS_TICK_MS", 10, 60000, &s->tick_ms, e) || load_shutdown_timeout(s, e) ||
	    get_uint("MSS_TOY_START_MS", 0, 600000, &s->toy_start_ms, e) ||
	    get_uint("MSS_TOY_STOP_MS", 0, 600000, &s->toy_stop_ms, e))
		return -1;
	return 0;
}

void settings_print_help(FILE *out)
{
	int wn = (int)strlen("VARIABLE"), wd = (int)strlen("DEFAULT");
	for (const struct setting_def *d = settings_defs; d->name; d++) {
		int n = (int)strlen(d->name), m = (int)strlen(d->def);
		wn = n > wn ? n : wn;
		wd = m > wd ? m : wd;
	}
	fprintf(out, "%-*s  %-*s  %s\n", wn, "VARIABLE", wd, "DEFAULT", "DESCRIPTION");
	for (const struct setting_def *d = settings_defs; d->name; d++)
		fprintf(out, "%-*s  %-*s  %s\n", wn, d->name, wd, *d->def ? d->def : "-", d->help);
}
