/* Apps JSON (Go format plus container fields) to a task table, strictly checked; the built-in
 * HARDCODED and DEMO documents; loading from MSS_CONFIG_DATA or a file; the check-config table. */
#include "config.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../utils/settings.h"
#include "../utils/json.h"
#include "../utils/util.h"
#include "metric.h"

/* Per task and for the budget: keeps every sum far from overflow. */
#define CONFIG_MAX_CONTAINERS 1000000
#define CONFIG_MAX_PRIORITY   1000000
#define CONFIG_MAX_CPUS       1e6
#define CONFIG_FILE_MAX       (4u << 20)
#define CONFIG_NAME_MAX       63
#define RESERVED_LABEL_PREFIX "com.microscaling."
#define CONFIG_VERSION        2 /* the newest apps JSON schema (docs/config.md) */

/* Field lookup. Keys match case-insensitively (cJSON_GetObjectItem), like Go's decoder. A JSON null
 * counts as absent: Go's decoder leaves the field at its zero value for null. */
static const cJSON *field(const cJSON *obj, const char *key)
{
	const cJSON *f = cJSON_GetObjectItem(obj, key);
	return cJSON_IsNull(f) ? NULL : f;
}

/* "path.key", or "key" at the top level. */
static const char *where(char *buf, size_t n, const char *path, const char *key)
{
	snprintf(buf, n, "%s%s%s", path, *path ? "." : "", key);
	return buf;
}

/* Each getter leaves *out alone when the key is absent and returns 0; -1 with e naming the field
 * when the value has the wrong type or range. */
static int get_ll(const cJSON *obj, const char *path, const char *key, long long min, long long max,
                  long long *out, struct err *e)
{
	char w[128];
	const cJSON *f = field(obj, key);
	if (!f)
		return 0;
	if (!cJSON_IsNumber(f))
		return err_set(e, "%s: expected an integer, got %s", where(w, sizeof w, path, key),
		               json_type_name(f));
	double d = f->valuedouble;
	/* cJSON keeps only the double: 2.0 and 1e2 pass as integers, where Go refused them. */
	if (!isfinite(d) || floor(d) != d)
		return err_set(e, "%s: expected an integer, got %g", where(w, sizeof w, path, key),
		               d);
	if (d < (double)min || d > (double)max)
		return err_set(e, "%s: expected an integer from %lld to %lld, got %.0f",
		               where(w, sizeof w, path, key), min, max, d);
	*out = (long long)d;
	return 0;
}

static int get_int(const cJSON *obj, const char *path, const char *key, int min, int max, int *out,
                   struct err *e)
{
	long long v = *out;
	if (get_ll(obj, path, key, min, max, &v, e) != 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int get_number(const cJSON *obj, const char *path, const char *key, double *out,
                      bool *present, struct err *e)
{
	char w[128];
	const cJSON *f = field(obj, key);
	if (!f)
		return 0;
	if (!cJSON_IsNumber(f))
		return err_set(e, "%s: expected a number, got %s", where(w, sizeof w, path, key),
		               json_type_name(f));
	*out = f->valuedouble;
	if (present)
		*present = true;
	return 0;
}

static int get_bool(const cJSON *obj, const char *path, const char *key, bool *out, struct err *e)
{
	char w[128];
	const cJSON *f = field(obj, key);
	if (!f)
		return 0;
	if (!cJSON_IsBool(f))
		return err_set(e, "%s: expected a bool, got %s", where(w, sizeof w, path, key),
		               json_type_name(f));
	*out = cJSON_IsTrue(f);
	return 0;
}

/* *out borrows from the document. */
static int get_str(const cJSON *obj, const char *path, const char *key, const char **out,
                   struct err *e)
{
	char w[128];
	const cJSON *f = field(obj, key);
	if (!f)
		return 0;
	if (!cJSON_IsString(f))
		return err_set(e, "%s: expected a string, got %s", where(w, sizeof w, path, key),
		               json_type_name(f));
	*out = f->valuestring;
	return 0;
}

/* An optional string field copied into an owned one. "" means unset: missing strings were "" in
 * Go, and the API server sent empty values for fields it did not use. */
static int get_owned_str(const cJSON *obj, const char *path, const char *key, char **out,
                         struct err *e)
{
	const char *v = NULL;
	if (get_str(obj, path, key, &v, e) != 0)
		return -1;
	if (v && *v) {
		free(*out);
		*out = xstrdup(v);
	}
	return 0;
}

/* A name that becomes a label value, a container-name part or a service name. */
static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > CONFIG_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '.' && *s != '-')
			return false;
	return true;
}

/* A growable NULL-terminated string vector. */
struct strv {
	char **v;
	size_t len, cap;
};

static void strv_push(struct strv *sv, const char *s, size_t n)
{
	if (sv->len + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = xrealloc(sv->v, sv->cap * sizeof *sv->v);
	}
	char *c = xmalloc(n + 1);
	memcpy(c, s, n);
	c[n] = '\0';
	sv->v[sv->len++] = c;
	sv->v[sv->len] = NULL;
}

/* The finished vector, or NULL when empty. */
static char **strv_take(struct strv *sv)
{
	char **v = sv->v;
	sv->v = NULL;
	sv->len = sv->cap = 0;
	return v;
}

static void strv_clear(struct strv *sv)
{
	util_strv_free(sv->v);
	sv->v = NULL;
	sv->len = sv->cap = 0;
}

/* Split a command string into words as a POSIX shell does, without any expansion: blanks separate
 * words; '...' is literal; inside "..." a backslash quotes only $ ` " \ and newline; elsewhere a
 * backslash quotes the next character; backslash-newline is removed. Returns NULL on success or a
 * static reason. The Go program split on whitespace only, so quoted arguments broke apart. */
static const char *split_command(const char *s, struct strv *out)
{
	char *word = xmalloc(strlen(s) + 1); /* a word is never longer than the input */
	size_t w = 0;
	bool in_word = false;
	const char *why = NULL;

	for (const char *p = s; *p && !why; p++) {
		if (*p == '\\') {
			if (!p[1]) {
				why = "trailing backslash";
				break;
			}
			p++;
			if (*p != '\n')
				word[w++] = *p;
			in_word = in_word || *p != '\n';
		} else if (*p == '\'') {
			const char *q = strchr(p + 1, '\'');
			if (!q) {
				why = "unterminated single quote";
				break;
			}
			memcpy(word + w, p + 1, (size_t)(q - p - 1));
			w += (size_t)(q - p - 1);
			p = q;
			in_word = true;
		} else if (*p == '"') {
			in_word = true;
			for (p++; *p != '"'; p++) {
				if (!*p) {
					why = "unterminated double quote";
					break;
				}
				if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
					p++;
					if (*p == '\n')
						continue;
				}
				word[w++] = *p;
			}
			if (why)
				break;
		} else if (*p == ' ' || *p == '\t' || *p == '\n') {
			if (in_word)
				strv_push(out, word, w);
			w = 0;
			in_word = false;
		} else {
			word[w++] = *p;
			in_word = true;
		}
	}
	if (!why && in_word)
		strv_push(out, word, w);
	free(word);
	if (why)
		strv_clear(out);
	return why;
}

/* `command`: a shell-like string or an array of strings. Empty means the image's default CMD. */
static int parse_command(const cJSON *cfg, const char *path, char ***out, struct err *e)
{
	char w[128];
	const cJSON *f = field(cfg, "command");
	struct strv sv = {0};
	if (!f)
		return 0;
	where(w, sizeof w, path, "command");
	if (cJSON_IsString(f)) {
		const char *why = split_command(f->valuestring, &sv);
		if (why)
			return err_set(e, "%s: %s", w, why);
	} else if (cJSON_IsArray(f)) {
		size_t i = 0;
		for (const cJSON *a = f->child; a; a = a->next, i++) {
			if (!cJSON_IsString(a)) {
				strv_clear(&sv);
				return err_set(e, "%s[%zu]: expected a string, got %s", w, i,
				               json_type_name(a));
			}
			strv_push(&sv, a->valuestring, strlen(a->valuestring));
		}
	} else {
		return err_set(e, "%s: expected a string or an array of strings, got %s", w,
		               json_type_name(f));
	}
	util_strv_free(*out);
	*out = strv_take(&sv);
	return 0;
}

static bool env_key_ok(const char *k, size_t n)
{
	return n > 0 && !memchr(k, '=', n);
}

/* `env`: ["K=V", ...] or {"K": "V", ...}. Only the task's own variables reach its containers. */
static int parse_env(const cJSON *cfg, const char *path, char ***out, struct err *e)
{
	char w[128];
	const cJSON *f = field(cfg, "env");
	struct strv sv = {0};
	if (!f)
		return 0;
	where(w, sizeof w, path, "env");
	if (cJSON_IsArray(f)) {
		size_t i = 0;
		for (const cJSON *a = f->child; a; a = a->next, i++) {
			if (!cJSON_IsString(a)) {
				strv_clear(&sv);
				return err_set(e, "%s[%zu]: expected a string, got %s", w, i,
				               json_type_name(a));
			}
			const char *eq = strchr(a->valuestring, '=');
			if (!eq || eq == a->valuestring) {
				strv_clear(&sv);
				return err_set(e, "%s[%zu]: expected \"NAME=value\", got '%s'", w,
				               i, a->valuestring);
			}
			strv_push(&sv, a->valuestring, strlen(a->valuestring));
		}
	} else if (cJSON_IsObject(f)) {
		for (const cJSON *a = f->child; a; a = a->next) {
			const char *k = a->string;
			if (!env_key_ok(k, strlen(k))) {
				strv_clear(&sv);
				return err_set(e, "%s: invalid variable name '%s'", w, k);
			}
			if (!cJSON_IsString(a)) {
				strv_clear(&sv);
				return err_set(e, "%s.%s: expected a string, got %s", w, k,
				               json_type_name(a));
			}
			size_t kl = strlen(k), vl = strlen(a->valuestring);
			char *kv = xmalloc(kl + vl + 2);
			memcpy(kv, k, kl);
			kv[kl] = '=';
			memcpy(kv + kl + 1, a->valuestring, vl + 1);
			strv_push(&sv, kv, kl + vl + 1);
			free(kv);
		}
	} else {
		return err_set(e, "%s: expected an array or an object, got %s", w, json_type_name(f));
	}
	util_strv_free(*out);
	*out = strv_take(&sv);
	return 0;
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (tolower((unsigned char)*s) != tolower((unsigned char)*prefix))
			return false;
	return true;
}

/* `labels`: {"key": "value"}. The com.microscaling. prefix is ours (ownership labels). */
static int parse_labels(const cJSON *cfg, const char *path, struct container_spec *sp,
                        struct err *e)
{
	char w[128];
	const cJSON *f = field(cfg, "labels");
	if (!f)
		return 0;
	where(w, sizeof w, path, "labels");
	if (!cJSON_IsObject(f))
		return err_set(e, "%s: expected an object, got %s", w, json_type_name(f));
	for (const cJSON *a = f->child; a; a = a->next) {
		const char *k = a->string;
		if (!*k)
			return err_set(e, "%s: empty label key", w);
		/* Case-insensitive so no spelling of ours can be mistaken for an owner label. */
		if (has_prefix_nocase(k, RESERVED_LABEL_PREFIX))
			return err_set(e, "%s: key '%s' is reserved for microscaler", w, k);
		if (!cJSON_IsString(a))
			return err_set(e, "%s.%s: expected a string, got %s", w, k, json_type_name(a));
	}
	for (const cJSON *a = f->child; a; a = a->next) {
		sp->labels = xrealloc(sp->labels, (sp->labels_len + 1) * sizeof *sp->labels);
		sp->labels[sp->labels_len++] =
		    (struct kv){xstrdup(a->string), xstrdup(a->valuestring)};
	}
	return 0;
}

/* Bytes: an integer, or a string of digits with an optional k/m/g suffix (powers of 1024, any
 * case, an optional trailing b as Docker allows: "512m", "2G", "64kb"). */
static int parse_bytes_text(const char *s, long long *out)
{
	const char *p = s;
	long long v = 0;
	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (LLONG_MAX - 9) / 10)
			return -1;
		v = v * 10 + (*p - '0');
	}
	long long mult = 1;
	switch (tolower((unsigned char)*p)) {
	case 'k':
		mult = 1LL << 10;
		p++;
		break;
	case 'm':
		mult = 1LL << 20;
		p++;
		break;
	case 'g':
		mult = 1LL << 30;
		p++;
		break;
	default:
		break;
	}
	if (tolower((unsigned char)*p) == 'b')
		p++;
	if (*p || v > LLONG_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int get_bytes(const cJSON *obj, const char *path, const char *key, long long min,
                     long long *out, struct err *e)
{
	char w[128];
	const cJSON *f = field(obj, key);
	long long v;
	if (!f)
		return 0;
	where(w, sizeof w, path, key);
	if (cJSON_IsNumber(f)) {
		double d = f->valuedouble;
		/* 2^53: beyond it a double no longer holds every integer. */
		if (!isfinite(d) || floor(d) != d || d < (double)min || d > 9007199254740992.0)
			return err_set(e, "%s: expected a whole number of bytes >= %lld, got %g", w,
			               min, d);
		v = (long long)d;
	} else if (cJSON_IsString(f)) {
		if (parse_bytes_text(f->valuestring, &v) != 0 || v < min)
			return err_set(e, "%s: expected bytes like \"512m\" or \"2g\", got '%s'", w,
			               f->valuestring);
	} else {
		return err_set(e, "%s: expected an integer or a string like \"512m\", got %s", w,
		               json_type_name(f));
	}
	*out = v;
	return 0;
}

/* CPUs as a decimal count, stored in billionths like Docker's NanoCpus. */
static int get_cpus(const cJSON *obj, const char *path, const char *key, bool zero_ok,
                    long long *out, struct err *e)
{
	char w[128];
	double d = 0;
	bool present = false;
	if (get_number(obj, path, key, &d, &present, e) != 0)
		return -1;
	if (!present)
		return 0;
	long long nano = d >= 0 && d <= CONFIG_MAX_CPUS ? llround(d * 1e9) : -1;
	if (nano < 0 || (!zero_ok && nano < 1))
		return err_set(e, "%s: expected a number of CPUs %s, got %g",
		               where(w, sizeof w, path, key), zero_ok ? ">= 0" : "above 0", d);
	*out = nano;
	return 0;
}

static bool restart_policy_ok(const char *v)
{
	static const char *const ok[] = {"no", "always", "unless-stopped", "on-failure"};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++)
		if (strcmp(v, ok[i]) == 0)
			return true;
	long long n;
	const char *pre = "on-failure:";
	return strncmp(v, pre, strlen(pre)) == 0 && isdigit((unsigned char)v[strlen(pre)]) &&
	       util_parse_long(v + strlen(pre), 0, INT_MAX, &n) == 0;
}

/* SIGTERM, TERM, 15, SIGRTMIN+3: the engine interprets it; we only refuse what cannot be one. */
static bool signal_ok(const char *v)
{
	size_t n = strlen(v);
	if (n > 32)
		return false;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '+' && *v != '-')
			return false;
	return true;
}

/* The app's `config` object: what a backend needs to create its containers. */
static int parse_spec(const cJSON *cfg, const char *path, struct container_spec *sp, struct err *e)
{
	char w[128];
	long long stop = sp->stop_timeout_s;
	if (get_owned_str(cfg, path, "image", &sp->image, e) ||
	    parse_command(cfg, path, &sp->command, e) || parse_env(cfg, path, &sp->env, e) ||
	    parse_labels(cfg, path, sp, e) ||
	    get_owned_str(cfg, path, "networkMode", &sp->network_mode, e) ||
	    get_bool(cfg, path, "publishAllPorts", &sp->publish_all_ports, e) ||
	    get_owned_str(cfg, path, "restartPolicy", &sp->restart_policy, e) ||
	    get_cpus(cfg, path, "cpus", false, &sp->nano_cpus, e) ||
	    get_bytes(cfg, path, "memory", 1, &sp->memory_bytes, e) ||
	    get_owned_str(cfg, path, "stopSignal", &sp->stop_signal, e) ||
	    get_ll(cfg, path, "stopTimeout", 0, 3600, &stop, e) ||
	    get_owned_str(cfg, path, "service", &sp->service, e) ||
	    get_bool(cfg, path, "create", &sp->create_service, e) ||
	    get_bool(cfg, path, "healthyOnly", &sp->healthy_only, e))
		return -1;
	sp->stop_timeout_s = (int)stop;
	if (sp->restart_policy && !restart_policy_ok(sp->restart_policy))
		return err_set(e,
		               "%s: unknown value '%s' (want no, always, unless-stopped or "
		               "on-failure[:N])",
		               where(w, sizeof w, path, "restartPolicy"), sp->restart_policy);
	if (sp->stop_signal && !signal_ok(sp->stop_signal))
		return err_set(e, "%s: not a signal name or number: '%s'",
		               where(w, sizeof w, path, "stopSignal"), sp->stop_signal);
	return 0;
}

/* Queue rules: the target length is config.targetQueueLength, as in Go. Go parsed the app's
 * top-level targetValue and ignored it; we use it when targetQueueLength is absent, since that is
 * what a reader of such a config expects. Neither: length 0, as in Go. */
static int queue_length(const cJSON *app, const cJSON *cfg, const char *path, double *out,
                        struct err *e)
{
	char cpath[64], w[128];
	double len = 0;
	bool present = false;
	snprintf(cpath, sizeof cpath, "%s.config", path);
	const char *at = cpath, *key = "targetQueueLength";
	if (cfg && get_number(cfg, cpath, key, &len, &present, e) != 0)
		return -1;
	if (!present) {
		at = path;
		key = "targetValue";
		if (get_number(app, path, key, &len, &present, e) != 0)
			return -1;
	}
	if (!(len >= 0) || len > 1e12)
		return err_set(e, "%s: expected a number from 0 to 1e12, got %g",
		               where(w, sizeof w, at, key), len);
	*out = len;
	return 0;
}

/* The metric source's messages name a field relative to the app ("metricType: ...",
 * "config.toyStart: ..."), so join them with '.' to read as one path. */
static int make_metric(struct task *t, const char *type, const cJSON *cfg, const char *path,
                       struct err *e)
{
	t->metric = metric_new(type, cfg, e);
	if (t->metric)
		return 0;
	char inner[ERR_MSG_MAX];
	memcpy(inner, e->msg, sizeof inner);
	return err_set(e, "%s.%s", path, inner);
}

/* The app's name and config object, checked before anything is built. */
static int app_basics(const cJSON *app, const char *path, const char *cpath, const char **name,
                      const cJSON **cfg, struct err *e)
{
	if (!cJSON_IsObject(app))
		return err_set(e, "%s: expected an object, got %s", path, json_type_name(app));
	if (get_str(app, path, "name", name, e) != 0)
		return -1;
	if (!*name || !**name)
		return err_set(e, "%s.name: required", path);
	if (!name_ok(*name))
		return err_set(e, "%s.name: '%s' is not 1 to %d characters of A-Z a-z 0-9 _ . -",
		               path, *name, CONFIG_NAME_MAX);
	*cfg = field(app, "config");
	if (*cfg && !cJSON_IsObject(*cfg))
		return err_set(e, "%s: expected an object, got %s", cpath, json_type_name(*cfg));
	return 0;
}

/* ---- version 2: unknown keys are errors ---- */

static bool key_in(const char *k, const char *const *list)
{
	for (; list && *list; list++)
		if (strcasecmp(k, *list) == 0)
			return true;
	return false;
}

/* With "version": 2 every key must be one this schema knows (a typo in a brake must not pass
 * silently, as Go's decoder let it). `more` is a second list (a metric source's keys). */
static int check_keys(const cJSON *obj, const char *path, const char *const *known,
                      const char *const *more, const char *const *more2, struct err *e)
{
	char w[160];
	for (const cJSON *f = obj ? obj->child : NULL; f; f = f->next)
		if (!key_in(f->string, known) && !key_in(f->string, more) &&
		    !key_in(f->string, more2))
			return err_set(e, "%s: unknown field (\"version\": 2 refuses unknown fields)",
			               where(w, sizeof w, path, f->string));
	return 0;
}

static const char *const top_keys[] = {"name",     "version",   "maxContainers", "maxCpus",
                                       "maxMemory", "apps",     NULL};
static const char *const app_keys[] = {
    "name",       "appType",   "priority",    "minContainers", "maxContainers",
    "maxDelta",   "isScalable", "ruleType",   "metricType",    "targetValue",
    "config",     "policy",    "threshold",   NULL};
static const char *const spec_keys[] = {
    "image",   "command",   "env",         "labels",       "networkMode",     "publishAllPorts",
    "restartPolicy", "cpus", "memory",     "stopSignal",   "stopTimeout",     "service",
    "create",  "healthyOnly", "targetQueueLength", "timeout", NULL};
static const char *const policy_keys[] = {"up", "down", "maxAge", "onMissing", "schedule", NULL};
static const char *const dir_keys[] = {"window", "cooldown", "maxStep", "maxStepPercent", NULL};
static const char *const window_keys[] = {"days", "from", "to", "min", NULL};
static const char *const threshold_keys[] = {"upper",  "lower",    "upFor", "downFor",
                                             "upStep", "downStep", "cooldown", NULL};

/* ---- policies and the threshold rule ---- */

#define CONFIG_MAX_DURATION_MS (24u * 3600u * 1000u)

/* A duration: "500ms", "30s", "1m30s", "2h", or a number of seconds. */
static int get_duration(const cJSON *obj, const char *path, const char *key, uint32_t *out,
                        struct err *e)
{
	char w[160];
	const cJSON *f = field(obj, key);
	uint64_t v = 0;
	if (!f)
		return 0;
	where(w, sizeof w, path, key);
	if (cJSON_IsNumber(f)) {
		double sec = f->valuedouble;
		if (!(sec >= 0) || sec * 1000 > CONFIG_MAX_DURATION_MS)
			return err_set(e, "%s: expected a duration from 0 to 24h, got %g", w, sec);
		v = (uint64_t)llround(sec * 1000);
	} else if (cJSON_IsString(f)) {
		if (util_parse_duration_ms(f->valuestring, CONFIG_MAX_DURATION_MS, &v) != 0)
			return err_set(e,
			               "%s: expected a duration like \"30s\", \"1m30s\" or \"500ms\" "
			               "(at most 24h), got '%s'",
			               w, f->valuestring);
	} else {
		return err_set(e, "%s: expected a duration (string like \"30s\", or seconds), got %s",
		               w, json_type_name(f));
	}
	*out = (uint32_t)v;
	return 0;
}

/* An optional object member. */
static int get_object(const cJSON *obj, const char *path, const char *key, const cJSON **out,
                      struct err *e)
{
	char w[160];
	const cJSON *f = field(obj, key);
	if (f && !cJSON_IsObject(f))
		return err_set(e, "%s: expected an object, got %s", where(w, sizeof w, path, key),
		               json_type_name(f));
	*out = f;
	return 0;
}

/* "up" or "down": stabilisation window, cooldown, largest step as a count and a percentage. */
static int parse_direction(const cJSON *pol, const char *path, const char *key, bool up,
                           struct policy *p, bool strict, struct err *e)
{
	char dp[128];
	const cJSON *d = NULL;
	if (get_object(pol, path, key, &d, e) != 0)
		return -1;
	if (!d)
		return 0;
	where(dp, sizeof dp, path, key);
	if (strict && check_keys(d, dp, dir_keys, NULL, NULL, e) != 0)
		return -1;
	return get_duration(d, dp, "window", up ? &p->up_window_ms : &p->down_window_ms, e) ||
	       get_duration(d, dp, "cooldown", up ? &p->up_cooldown_ms : &p->down_cooldown_ms,
	                    e) ||
	       get_int(d, dp, "maxStep", 1, CONFIG_MAX_CONTAINERS,
	               up ? &p->max_step_up : &p->max_step_down, e) ||
	       get_int(d, dp, "maxStepPercent", 1, 1000,
	               up ? &p->max_step_up_pct : &p->max_step_down_pct, e);
}

static int parse_hhmm(const char *s, bool end, int *out)
{
	if (strlen(s) != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
	    !isdigit((unsigned char)s[1]) || !isdigit((unsigned char)s[3]) ||
	    !isdigit((unsigned char)s[4]))
		return -1;
	int h = (s[0] - '0') * 10 + (s[1] - '0'), m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end)))
		return -1;
	*out = (h * 60 + m) % (24 * 60); /* "24:00" as an end is the next midnight */
	return 0;
}

static int day_index(const char *s, size_t n)
{
	static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	for (int i = 0; i < 7; i++)
		if (n == 3 && strncasecmp(s, names[i], 3) == 0)
			return i;
	return -1;
}

/* "mon-fri", "sat,sun", "mon,wed-fri", "fri-mon" (wraps), or "daily" / "*". */
static int parse_days(const char *s, uint8_t *out)
{
	uint8_t days = 0;
	if (strcasecmp(s, "daily") == 0 || strcmp(s, "*") == 0) {
		*out = 0x7f;
		return 0;
	}
	const char *p = s;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *dash = memchr(p, '-', n);
		int a, b;
		if (dash) {
			a = day_index(p, (size_t)(dash - p));
			b = day_index(dash + 1, (size_t)(p + n - dash - 1));
		} else {
			a = b = day_index(p, n);
		}
		if (a < 0 || b < 0)
			return -1;
		for (int d = a;; d = (d + 1) % 7) {
			days |= (uint8_t)(1u << d);
			if (d == b)
				break;
		}
		p += n;
		if (*p == ',' && !*++p)
			return -1;
	}
	*out = days;
	return days ? 0 : -1;
}

static int parse_schedule(const cJSON *pol, const char *path, const struct task *t,
                          struct policy *p, bool strict, struct err *e)
{
	char sp[128], wp[144];
	const cJSON *sched = field(pol, "schedule");
	if (!sched)
		return 0;
	where(sp, sizeof sp, path, "schedule");
	if (!cJSON_IsArray(sched))
		return err_set(e, "%s: expected an array, got %s", sp, json_type_name(sched));
	if (cJSON_GetArraySize(sched) > POLICY_SCHEDULE_MAX)
		return err_set(e, "%s: at most %d windows", sp, POLICY_SCHEDULE_MAX);
	int i = 0;
	for (const cJSON *w = sched->child; w; w = w->next, i++) {
		const char *days = NULL, *from = NULL, *to = NULL;
		int min = -1, f = 0, u = 0;
		snprintf(wp, sizeof wp, "%s[%d]", sp, i);
		if (!cJSON_IsObject(w))
			return err_set(e, "%s: expected an object, got %s", wp, json_type_name(w));
		if ((strict && check_keys(w, wp, window_keys, NULL, NULL, e) != 0) ||
		    get_str(w, wp, "days", &days, e) || get_str(w, wp, "from", &from, e) ||
		    get_str(w, wp, "to", &to, e) ||
		    get_int(w, wp, "min", 0, CONFIG_MAX_CONTAINERS, &min, e))
			return -1;
		struct schedule_window *sw = &p->schedule[i];
		if (!days)
			days = "daily";
		if (parse_days(days, &sw->days) != 0)
			return err_set(e,
			               "%s.days: expected days like \"mon-fri\", \"sat,sun\" or "
			               "\"daily\", got '%s'",
			               wp, days);
		if (!from || parse_hhmm(from, false, &f) != 0)
			return err_set(e, "%s.from: expected a time \"HH:MM\"%s%s%s", wp,
			               from ? ", got '" : "", from ? from : " (required)",
			               from ? "'" : "");
		if (!to || parse_hhmm(to, true, &u) != 0)
			return err_set(e, "%s.to: expected a time \"HH:MM\" (24:00 allowed)%s%s%s", wp,
			               to ? ", got '" : "", to ? to : " (required)", to ? "'" : "");
		if (min < 0)
			return err_set(e, "%s.min: required", wp);
		if (min > t->max)
			return err_set(e, "%s.min: %d is above the app's maxContainers %d", wp, min,
			               t->max);
		sw->from = (uint16_t)f;
		sw->to = (uint16_t)u;
		sw->min = min;
	}
	p->schedule_len = i;
	return 0;
}

/* "hold" (default), "min", or {"fallback": N}. */
static int parse_missing(const cJSON *pol, const char *path, const struct task *t,
                         struct policy *p, struct err *e)
{
	char w[128];
	const cJSON *f = field(pol, "onMissing");
	if (!f)
		return 0;
	where(w, sizeof w, path, "onMissing");
	if (cJSON_IsString(f) && strcmp(f->valuestring, "hold") == 0) {
		p->missing = MISSING_HOLD;
		return 0;
	}
	if (cJSON_IsString(f) && strcmp(f->valuestring, "min") == 0) {
		p->missing = MISSING_MIN;
		return 0;
	}
	const cJSON *n = cJSON_IsObject(f) ? field(f, "fallback") : NULL;
	if (n && cJSON_GetArraySize(f) == 1) {
		int fb = -1;
		if (get_int(f, w, "fallback", 0, CONFIG_MAX_CONTAINERS, &fb, e) != 0)
			return -1;
		if (fb < t->min || fb > t->max)
			return err_set(e, "%s.fallback: %d is outside the app's [%d, %d]", w, fb,
			               t->min, t->max);
		p->missing = MISSING_FALLBACK;
		p->fallback = fb;
		return 0;
	}
	return err_set(e, "%s: expected \"hold\", \"min\" or {\"fallback\": N}", w);
}

static int parse_policy(const cJSON *app, const char *path, struct task *t, bool strict,
                        struct err *e)
{
	char pp[64];
	const cJSON *pol = NULL;
	struct policy *p = &t->policy;
	if (get_object(app, path, "policy", &pol, e) != 0)
		return -1;
	if (!pol)
		return 0;
	where(pp, sizeof pp, path, "policy");
	if (strict && check_keys(pol, pp, policy_keys, NULL, NULL, e) != 0)
		return -1;
	return parse_direction(pol, pp, "up", true, p, strict, e) ||
	       parse_direction(pol, pp, "down", false, p, strict, e) ||
	       get_duration(pol, pp, "maxAge", &p->max_age_ms, e) ||
	       parse_missing(pol, pp, t, p, e) || parse_schedule(pol, pp, t, p, strict, e);
}

/* ruleType "Threshold": the app's `threshold` object. */
static int parse_threshold(const cJSON *app, const char *path, struct task *t, bool strict,
                           struct err *e)
{
	char tp[64];
	const cJSON *o = NULL;
	struct threshold th = {.up_step = 1, .down_step = 1};
	bool has_upper = false, has_lower = false;
	if (get_object(app, path, "threshold", &o, e) != 0)
		return -1;
	where(tp, sizeof tp, path, "threshold");
	if (!o)
		return err_set(e, "%s: required for ruleType Threshold", tp);
	if ((strict && check_keys(o, tp, threshold_keys, NULL, NULL, e) != 0) ||
	    get_number(o, tp, "upper", &th.upper, &has_upper, e) ||
	    get_number(o, tp, "lower", &th.lower, &has_lower, e) ||
	    get_duration(o, tp, "upFor", &th.up_for_ms, e) ||
	    get_duration(o, tp, "downFor", &th.down_for_ms, e) ||
	    get_int(o, tp, "upStep", 1, CONFIG_MAX_CONTAINERS, &th.up_step, e) ||
	    get_int(o, tp, "downStep", 1, CONFIG_MAX_CONTAINERS, &th.down_step, e) ||
	    get_duration(o, tp, "cooldown", &th.cooldown_ms, e))
		return -1;
	if (!has_upper || !has_lower)
		return err_set(e, "%s.%s: required", tp, has_upper ? "lower" : "upper");
	if (!isfinite(th.upper) || !isfinite(th.lower) || th.lower > th.upper)
		return err_set(e, "%s.lower: %g is above upper %g", tp, th.lower, th.upper);
	target_init_threshold(&t->target, &th);
	return 0;
}

/* One element of apps[]: a new task owned by the caller, or NULL with e set. */
static struct task *parse_app(const cJSON *app, size_t i, const struct pid_gains *g,
                              const cJSON *empty, bool strict, struct err *e)
{
	char path[32], cpath[48];
	const char *name = NULL, *rule = NULL, *mtype = NULL, *ignored = NULL;
	const cJSON *cfg = NULL;
	snprintf(path, sizeof path, "apps[%zu]", i);
	snprintf(cpath, sizeof cpath, "%s.config", path);
	if (app_basics(app, path, cpath, &name, &cfg, e) != 0)
		return NULL;

	if (strict && check_keys(app, path, app_keys, NULL, NULL, e) != 0)
		return NULL;
	struct task *t = task_new(name);
	double length = 0;
	if (get_str(app, path, "appType", &ignored, e) ||
	    get_int(app, path, "priority", -CONFIG_MAX_PRIORITY, CONFIG_MAX_PRIORITY, &t->priority,
	            e) ||
	    get_int(app, path, "minContainers", 0, CONFIG_MAX_CONTAINERS, &t->min, e) ||
	    get_int(app, path, "maxContainers", 0, CONFIG_MAX_CONTAINERS, &t->max, e))
		goto fail;
	if (t->min > t->max) {
		err_set(e, "%s: minContainers %d > maxContainers %d", path, t->min, t->max);
		goto fail;
	}
	t->max_step = t->max - t->min; /* Go: MaxDelta = max - min */
	if (get_int(app, path, "maxDelta", 1, CONFIG_MAX_CONTAINERS, &t->max_step, e) ||
	    get_bool(app, path, "isScalable", &t->scalable, e) ||
	    get_str(app, path, "ruleType", &rule, e) || get_str(app, path, "metricType", &mtype, e))
		goto fail;
	if (cfg && parse_spec(cfg, cpath, &t->spec, e) != 0)
		goto fail;

	if (!cfg)
		cfg = empty;
	if (rule && (strcmp(rule, "Queue") == 0 || strcmp(rule, "SimpleQueue") == 0)) {
		/* Go left the metric nil here and crashed on the first tick. */
		if (!mtype || !*mtype) {
			err_set(e, "%s.metricType: required for ruleType %s", path, rule);
			goto fail;
		}
		if (queue_length(app, cfg, path, &length, e) != 0)
			goto fail;
		if (strcmp(rule, "Queue") == 0)
			target_init_queue(&t->target, length, g);
		else
			target_init_simple_queue(&t->target, length);
		if (make_metric(t, mtype, cfg, path, e) != 0)
			goto fail;
	} else if (rule && strcmp(rule, "Threshold") == 0) {
		if (!mtype || !*mtype) {
			err_set(e, "%s.metricType: required for ruleType %s", path, rule);
			goto fail;
		}
		if (parse_threshold(app, path, t, strict, e) != 0 ||
		    make_metric(t, mtype, cfg, path, e) != 0)
			goto fail;
	} else if (!rule || !*rule || strcmp(rule, "Remainder") == 0) {
		/* Go made any unrecognised ruleType a Remainder; only absent/"Remainder" do here. A
		 * Remainder never reads its metric, so metricType is ignored as in Go. */
		target_init_remainder(&t->target, t->max);
		if (make_metric(t, "Null", cfg, path, e) != 0)
			goto fail;
	} else {
		err_set(e,
		        "%s.ruleType: unknown value '%s' (want Queue, SimpleQueue, Threshold or "
		        "Remainder)",
		        path, rule);
		goto fail;
	}
	if (strict && cfg != empty &&
	    check_keys(cfg, cpath, spec_keys, t->metric->ops->keys, NULL, e) != 0)
		goto fail;
	if (parse_policy(app, path, t, strict, e) != 0)
		goto fail;
	return t;
fail:
	task_free(t);
	return NULL;
}

/* acc + a * b for non-negative values, saturating at LLONG_MAX (mins go up to 1e6, nano-CPUs to
 * 1e15 and bytes to 2^53, so the products can overflow). */
static long long add_product(long long acc, long long a, long long b)
{
	if (a && b > (LLONG_MAX - acc) / a)
		return LLONG_MAX;
	return acc + a * b;
}

/* Minimum reservations must fit every budget, or decide() could never satisfy them. */
static int check_minimums(const struct task_table *tt, struct err *e)
{
	long long n = 0, cpu = 0, mem = 0;
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		n += t->min;
		cpu = add_product(cpu, t->min, t->spec.nano_cpus);
		mem = add_product(mem, t->min, t->spec.memory_bytes);
	}
	if (n > tt->budget.containers)
		return err_set(e, "maxContainers: %d is less than the sum of minContainers (%lld)",
		               tt->budget.containers, n);
	if (tt->budget.nano_cpus && cpu > tt->budget.nano_cpus)
		return err_set(e, "maxCpus: %g is less than minContainers x cpus summed (%g)",
		               (double)tt->budget.nano_cpus / 1e9, (double)cpu / 1e9);
	if (tt->budget.memory_bytes && mem > tt->budget.memory_bytes)
		return err_set(e,
		               "maxMemory: %lld bytes is less than minContainers x memory summed "
		               "(%lld)",
		               tt->budget.memory_bytes, mem);
	return 0;
}

static int parse_doc(const cJSON *root, const struct pid_gains *g, struct task_table *out,
                     struct err *e)
{
	const char *ignored = NULL;
	long long containers = 0;
	if (!cJSON_IsObject(root))
		return err_set(e, "config: expected an object at the top level, got %s",
		               json_type_name(root));
	/* Top-level name is the Go user id: checked for type, otherwise ignored. Missing
	 * maxContainers is 0 as in Go: then any minContainers > 0 fails the budget check below. */
	long long version = 1;
	if (get_ll(root, "", "version", 1, 1000, &version, e))
		return -1;
	if (version > CONFIG_VERSION)
		return err_set(e, "version: %lld is newer than this microscaler reads (1 or %d)",
		               version, CONFIG_VERSION);
	bool strict = version >= 2;
	if (strict && check_keys(root, "", top_keys, NULL, NULL, e) != 0)
		return -1;
	if (get_str(root, "", "name", &ignored, e) ||
	    get_ll(root, "", "maxContainers", 0, CONFIG_MAX_CONTAINERS, &containers, e) ||
	    get_cpus(root, "", "maxCpus", true, &out->budget.nano_cpus, e) ||
	    get_bytes(root, "", "maxMemory", 0, &out->budget.memory_bytes, e))
		return -1;
	out->budget.containers = (int)containers;

	const cJSON *apps = field(root, "apps");
	if (!apps)
		return err_set(e, "apps: required");
	if (!cJSON_IsArray(apps))
		return err_set(e, "apps: expected an array, got %s", json_type_name(apps));

	cJSON *empty = cJSON_CreateObject();
	if (!empty)
		return err_set(e, "config: out of memory");
	size_t i = 0;
	int rc = 0;
	for (const cJSON *app = apps->child; app && rc == 0; app = app->next, i++) {
		struct task *t = parse_app(app, i, g, empty, strict, e);
		if (!t) {
			rc = -1;
			break;
		}
		if (task_table_find(out, t->name)) {
			rc = err_set(e, "apps[%zu].name: duplicate task name '%s'", i, t->name);
			task_free(t);
			break;
		}
		task_table_add(out, t);
	}
	cJSON_Delete(empty);
	return rc ? rc : check_minimums(out, e);
}

int config_parse_apps(const char *json, size_t len, const struct settings *s, struct task_table *tt,
                      struct err *e)
{
	struct pid_gains g;
	const char *end = NULL;
	size_t lead = 0;

	if (s)
		g = s->gains;
	else
		pid_gains_default(&g);
	while (lead < len && isspace((unsigned char)json[lead]))
		lead++;
	if (lead == len)
		return err_set(e, "config: empty document");
	/* Trailing bytes are checked here: cJSON's require_null_terminated wants the NUL inside
	 * len. */
	cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, false);
	if (root && end) {
		while (end < json + len && isspace((unsigned char)*end))
			end++;
		if (end < json + len) {
			cJSON_Delete(root);
			root = NULL;
		}
	}
	if (!root)
		return err_set(e, "config: malformed JSON at byte %zu",
		               end ? (size_t)(end - json) : (size_t)0);

	/* Build aside, so a failure leaves tt as it was. */
	struct task_table built;
	task_table_init(&built);
	int rc = parse_doc(root, &g, &built, e);
	cJSON_Delete(root);
	if (rc != 0) {
		task_table_free(&built);
		return -1;
	}
	for (size_t i = 0; i < built.len; i++)
		task_table_add(tt, built.tasks[i]);
	tt->budget = built.budget;
	built.len = 0;
	task_table_free(&built);
	return 0;
}

/* The Go program's HARDCODED config (§3.5.2), including what its converter forced (host network,
 * published ports). */
const char *config_hardcoded_json(void)
{
	return "{\"name\": \"hardcoded\", \"maxContainers\": 10, \"apps\": [\n"
	       " {\"name\": \"consumer\", \"appType\": \"Docker\", \"priority\": 1,\n"
	       "  \"minContainers\": 1, \"maxContainers\": 10, \"maxDelta\": 9,\n"
	       "  \"ruleType\": \"Queue\", \"metricType\": \"NSQ\",\n"
	       "  \"config\": {\"image\": \"microscaling/queue-demo:latest\",\n"
	       "   \"networkMode\": \"host\", \"publishAllPorts\": true,\n"
	       "   \"targetQueueLength\": 50,\n"
	       "   \"topicName\": \"microscaling-demo\", \"channelName\": "
	       "\"microscaling-demo\"}},\n"
	       " {\"name\": \"remainder\", \"appType\": \"Docker\", \"priority\": 2,\n"
	       "  \"minContainers\": 1, \"maxContainers\": 10, \"maxDelta\": 9,\n"
	       "  \"ruleType\": \"Remainder\",\n"
	       "  \"config\": {\"image\": \"microscaling/priority-2:latest\",\n"
	       "   \"networkMode\": \"host\", \"publishAllPorts\": true}}\n"
	       "]}\n";
}

/* `make run`: a queue consumer driven by the toy metric (a seeded random walk: toyStart is the
 * first value, toyStep the largest change per read, toyMax the ceiling, toySeed the seed) and a
 * remainder. The command keeps a busybox container alive and lets it stop at once on SIGTERM. */
const char *config_demo_json(void)
{
	return "{\"name\": \"demo\", \"maxContainers\": 10, \"apps\": [\n"
	       " {\"name\": \"consumer\", \"priority\": 1, \"minContainers\": 1, "
	       "\"maxContainers\": 8,\n"
	       "  \"ruleType\": \"Queue\", \"metricType\": \"Toy\",\n"
	       "  \"config\": {\"image\": \"busybox\",\n"
	       "   \"command\": [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; "
	       "done\"],\n"
	       "   \"targetQueueLength\": 50,\n"
	       "   \"toyStart\": 20, \"toyStep\": 15, \"toyMax\": 300, \"toySeed\": 1}},\n"
	       " {\"name\": \"remainder\", \"priority\": 2, \"minContainers\": 1, "
	       "\"maxContainers\": 10,\n"
	       "  \"ruleType\": \"Remainder\",\n"
	       "  \"config\": {\"image\": \"busybox\",\n"
	       "   \"command\": [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 1; "
	       "done\"]}}\n"
	       "]}\n";
}

static int read_file(const char *path, char **out, size_t *len, struct err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return err_set(e, "%s: %s", path, strerror(errno));
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 16384;
			buf = xrealloc(buf, cap + 1);
		}
		errno = 0;
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n > CONFIG_FILE_MAX) {
			rc = err_set(e, "%s: larger than %u MiB", path, CONFIG_FILE_MAX >> 20);
			break;
		}
		if (r == 0) {
			if (ferror(f))
				rc = err_set(e, "%s: %s", path, strerror(errno ? errno : EIO));
			break;
		}
	}
	fclose(f);
	if (rc != 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int config_load(const struct settings *s, struct task_table *tt, struct err *e)
{
	const char *src = s->config;
	if (strcmp(src, "ENVVAR") == 0) {
		const char *d = s->config_data ? s->config_data : "";
		if (!*d)
			return err_set(e, "MSS_CONFIG_DATA: required when MSS_CONFIG=ENVVAR");
		if (config_parse_apps(d, strlen(d), s, tt, e) != 0)
			return err_wrap(e, "MSS_CONFIG_DATA");
		return 0;
	}
	if (strcmp(src, "FILE") == 0) {
		const char *path = s->config_file ? s->config_file : "";
		char *buf = NULL;
		size_t n = 0;
		if (!*path)
			return err_set(e, "MSS_CONFIG_FILE: required when MSS_CONFIG=FILE");
		if (read_file(path, &buf, &n, e) != 0)
			return err_wrap(e, "MSS_CONFIG_FILE");
		int rc = config_parse_apps(buf, n, s, tt, e);
		free(buf);
		if (rc != 0)
			return err_wrap(e, "MSS_CONFIG_FILE: %s", path);
		return 0;
	}
	if (strcmp(src, "HARDCODED") == 0 || strcmp(src, "DEMO") == 0) {
		const char *doc = src[0] == 'H' ? config_hardcoded_json() : config_demo_json();
		if (config_parse_apps(doc, strlen(doc), s, tt, e) != 0)
			return err_wrap(e, "MSS_CONFIG=%s", src);
		return 0;
	}
	if (strcmp(src, "SERVER") == 0)
		return err_set(e, "MSS_CONFIG=SERVER is fetched over HTTP by the agent");
	return err_set(e, "MSS_CONFIG: unknown value '%s'", src);
}

/* One argv word, quoted for a POSIX shell when it needs it. */
static void put_word(FILE *out, const char *w)
{
	bool plain = *w != '\0';
	for (const char *p = w; *p && plain; p++)
		plain = isalnum((unsigned char)*p) || strchr("-_./:=,@%+", *p);
	if (plain) {
		fputs(w, out);
		return;
	}
	fputc('\'', out);
	for (const char *p = w; *p; p++) {
		if (*p == '\'')
			fputs("'\\''", out);
		else
			fputc(*p, out);
	}
	fputc('\'', out);
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

static const char *metric_type(const struct task *t)
{
	return t->metric && t->metric->ops ? t->metric->ops->type : "-";
}

/* "500ms", "30s", "1m30s", "2h". */
static void put_duration(FILE *out, uint32_t ms)
{
	if (ms == 0) {
		fputs("0s", out);
		return;
	}
	if (ms % 1000) {
		fprintf(out, "%ums", ms);
		return;
	}
	uint32_t s = ms / 1000, h = s / 3600, m = s / 60 % 60;
	if (h)
		fprintf(out, "%uh", h);
	if (m)
		fprintf(out, "%um", m);
	if (s % 60)
		fprintf(out, "%us", s % 60);
}

static void put_direction(FILE *out, const char *name, uint32_t window, uint32_t cooldown, int step,
                          int pct)
{
	fprintf(out, " %s(window ", name);
	put_duration(out, window);
	fputs(" cooldown ", out);
	put_duration(out, cooldown);
	if (step)
		fprintf(out, " maxStep %d", step);
	if (pct)
		fprintf(out, " maxStep %d%%", pct);
	fputc(')', out);
}

/* One line per task with a policy or a Threshold rule, under the table: what --check-config read. */
static void print_policy(const struct task *t, FILE *out)
{
	static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
	const struct policy *p = &t->policy;
	bool any = p->up_window_ms || p->down_window_ms || p->up_cooldown_ms ||
	           p->down_cooldown_ms || p->max_step_up || p->max_step_down ||
	           p->max_step_up_pct || p->max_step_down_pct || p->max_age_ms ||
	           p->missing != MISSING_HOLD || p->schedule_len;
	if (t->target.kind == TARGET_THRESHOLD) {
		const struct threshold *th = &t->target.th;
		fprintf(out, "threshold %s: above %g for ", t->name, th->upper);
		put_duration(out, th->up_for_ms);
		fprintf(out, " +%d, below %g for ", th->up_step, th->lower);
		put_duration(out, th->down_for_ms);
		fprintf(out, " -%d, cooldown ", th->down_step);
		put_duration(out, th->cooldown_ms);
		fputc('\n', out);
	}
	if (!any)
		return;
	fprintf(out, "policy %s:", t->name);
	put_direction(out, "up", p->up_window_ms, p->up_cooldown_ms, p->max_step_up,
	              p->max_step_up_pct);
	put_direction(out, "down", p->down_window_ms, p->down_cooldown_ms, p->max_step_down,
	              p->max_step_down_pct);
	fputs(" maxAge ", out);
	if (p->max_age_ms)
		put_duration(out, p->max_age_ms);
	else
		fputs("none", out);
	if (p->missing == MISSING_FALLBACK)
		fprintf(out, " onMissing fallback %d", p->fallback);
	else
		fprintf(out, " onMissing %s", p->missing == MISSING_MIN ? "min" : "hold");
	for (int i = 0; i < p->schedule_len; i++) {
		const struct schedule_window *w = &p->schedule[i];
		fputs(i ? ", " : " schedule ", out);
		for (int d = 0, first = 1; d < 7; d++)
			if (w->days & (1u << d)) {
				fprintf(out, "%s%s", first ? "" : ",", days[d]);
				first = 0;
			}
		fprintf(out, " %02d:%02d-%02d:%02d min %d", w->from / 60, w->from % 60, w->to / 60,
		        w->to % 60, w->min);
	}
	fputc('\n', out);
}

void config_print_table(const struct task_table *tt, FILE *out)
{
	int wn = 4, wr = 4, wm = 6, wi = 5;
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		wn = max_int(wn, (int)strlen(t->name));
		wr = max_int(wr, (int)strlen(target_kind_name(t->target.kind)));
		wm = max_int(wm, (int)strlen(metric_type(t)));
		wi = max_int(wi, t->spec.image ? (int)strlen(t->spec.image) : 1);
	}
	fprintf(out, "%-*s  %5s  %5s  %5s  %5s  %-*s  %6s  %-*s  %-*s  %s\n", wn, "NAME", "PRIO",
	        "MIN", "MAX", "STEP", wr, "RULE", "TARGET", wm, "METRIC", wi, "IMAGE", "COMMAND");
	for (size_t i = 0; i < tt->len; i++) {
		const struct task *t = tt->tasks[i];
		char target[32] = "-";
		if (t->target.kind != TARGET_REMAINDER)
			snprintf(target, sizeof target, "%g", t->target.length);
		fprintf(out, "%-*s  %5d  %5d  %5d  %5d  %-*s  %6s  %-*s  %-*s  ", wn, t->name,
		        t->priority, t->min, t->max, t->max_step, wr,
		        target_kind_name(t->target.kind), target, wm, metric_type(t), wi,
		        t->spec.image ? t->spec.image : "-");
		if (!t->spec.command)
			fputs("-", out);
		for (char **a = t->spec.command; a && *a; a++) {
			if (a != t->spec.command)
				fputc(' ', out);
			put_word(out, *a);
		}
		fputs(t->scalable ? "\n" : "  (not scalable)\n", out);
	}
	for (size_t i = 0; i < tt->len; i++)
		print_policy(tt->tasks[i], out);
	fprintf(out, "budget: maxContainers %d", tt->budget.containers);
	if (tt->budget.nano_cpus)
		fprintf(out, ", maxCpus %g", (double)tt->budget.nano_cpus / 1e9);
	if (tt->budget.memory_bytes)
		fprintf(out, ", maxMemory %lld bytes", tt->budget.memory_bytes);
	fputc('\n', out);
}
