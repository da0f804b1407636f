/* logfmt / JSON line writer. JSON lines go through cJSON so escaping is never hand-rolled. */
#include "log.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static struct {
	enum log_format fmt;
	char *debug; /* owned copy of MSS_LOG_DEBUG */
	FILE *out;
} g_log = {LOG_FMT_LOGFMT, NULL, NULL};

static const char *level_name[] = {"debug", "info", "warn", "error"};

void log_setup(enum log_format fmt, const char *debug, FILE *out)
{
	g_log.fmt = fmt;
	free(g_log.debug);
	g_log.debug = (debug && *debug && strcmp(debug, "none") != 0) ? xstrdup(debug) : NULL;
	g_log.out = out;
}

bool log_enabled(enum log_level lvl, const char *comp)
{
	if (lvl != LOG_DEBUG)
		return true;
	if (!g_log.debug)
		return false;
	return strstr(g_log.debug, "all") || (comp && strstr(g_log.debug, comp));
}

static void timestamp(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* logfmt values are bare unless they hold a space, quote, '=' or control byte, or are empty. */
static void put_logfmt_value(FILE *o, const char *v)
{
	if (!v)
		v = "";
	bool quote = !*v;
	for (const char *p = v; *p && !quote; p++)
		quote = (unsigned char)*p <= ' ' || *p == '"' || *p == '=' || *p == '\\';
	if (!quote) {
		fputs(v, o);
		return;
	}
	fputc('"', o);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(o, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", o);
		else if (*p < ' ')
			fprintf(o, "\\x%02x", *p);
		else
			fputc(*p, o);
	}
	fputc('"', o);
}

static void write_logfmt(FILE *o, const char *ts, enum log_level lvl, const char *comp,
			 const char *msg, const struct log_field *f, int n)
{
	fprintf(o, "ts=%s level=%s comp=%s msg=", ts, level_name[lvl], comp ? comp : "agent");
	put_logfmt_value(o, msg);
	for (int i = 0; i < n; i++) {
		fprintf(o, " %s=", f[i].key);
		char num[64];
		switch (f[i].type) {
		case LOG_F_STR:
			put_logfmt_value(o, f[i].s);
			break;
		case LOG_F_INT:
			fprintf(o, "%lld", f[i].i);
			break;
		case LOG_F_DBL:
			snprintf(num, sizeof num, "%.6g", f[i].d);
			fputs(num, o);
			break;
		case LOG_F_BOOL:
			fputs(f[i].i ? "true" : "false", o);
			break;
		case LOG_F_END:
			break;
		}
	}
	fputc('\n', o);
}

static void write_json(FILE *o, const char *ts, enum log_level lvl, const char *comp,
		       const char *msg, const struct log_field *f, int n)
{
	cJSON *j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "ts", ts);
	cJSON_AddStringToObject(j, "level", level_name[lvl]);
	cJSON_AddStringToObject(j, "comp", comp ? comp : "agent");
	cJSON_AddStringToObject(j, "msg", msg ? msg : "");
	for (int i = 0; i < n; i++) {
		switch (f[i].type) {
		case LOG_F_STR:
			cJSON_AddStringToObject(j, f[i].key, f[i].s ? f[i].s : "");
			break;
		case LOG_F_INT:
			cJSON_AddNumberToObject(j, f[i].key, (double)f[i].i);
			break;
		case LOG_F_DBL:
			cJSON_AddNumberToObject(j, f[i].key, f[i].d);
			break;
		case LOG_F_BOOL:
			cJSON_AddBoolToObject(j, f[i].key, f[i].i != 0);
			break;
		case LOG_F_END:
			break;
		}
	}
	char *s = cJSON_PrintUnformatted(j);
	if (s) {
		fputs(s, o);
		fputc('\n', o);
		free(s);
	}
	cJSON_Delete(j);
}

void log_write(enum log_level lvl, const char *comp, const char *msg, const struct log_field *f, int n)
{
	FILE *o = g_log.out ? g_log.out : stdout;
	char ts[40];
	timestamp(ts, sizeof ts);
	if (g_log.fmt == LOG_FMT_JSON)
		write_json(o, ts, lvl, comp, msg, f, n);
	else
		write_logfmt(o, ts, lvl, comp, msg, f, n);
	fflush(o);
}
