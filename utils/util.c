/* Checked allocation, clocks and strict number parsing. */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(size_t n)
{
	fprintf(stderr, "level=fatal msg=\"out of memory\" bytes=%zu\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *xstrdup(const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = xmalloc(n);
	memcpy(d, s, n);
	return d;
}

uint64_t util_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t util_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int util_week_minute(uint64_t wall_ms)
{
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	if (!localtime_r(&secs, &tm))
		return 0;
	int day = (tm.tm_wday + 6) % 7; /* tm_wday 0 is Sunday */
	return day * 24 * 60 + tm.tm_hour * 60 + tm.tm_min;
}

int util_parse_long(const char *s, long long min, long long max, long long *out)
{
	if (!s || !*s)
		return -1;
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int util_parse_double(const char *s, double *out)
{
	if (!s || !*s)
		return -1;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int util_parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *out)
{
	static const struct {
		const char *unit;
		double ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	if (!s || !*s)
		return -1;
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	double total = 0;
	const char *p = s;
	while (*p) {
		/* Digits with an optional fraction, read by hand: strtod would also take hex,
		 * exponents and "inf". */
		double v = 0, scale = 1;
		const char *start = p;
		for (; isdigit((unsigned char)*p); p++)
			v = v * 10 + (*p - '0');
		if (*p == '.')
			for (p++; isdigit((unsigned char)*p); p++)
				v += (*p - '0') * (scale /= 10);
		if (p == start || (p - start == 1 && *start == '.') || v > 1e15)
			return -1;
		size_t i = 0;
		/* "ms" before "m": the longest unit that matches. */
		while (i < ARRAY_LEN(units) && strncmp(p, units[i].unit, strlen(units[i].unit)) != 0)
			i++;
		if (i == ARRAY_LEN(units))
			return -1;
		p += strlen(units[i].unit);
		total += v * units[i].ms;
		if (total > (double)max_ms)
			return -1;
	}
	*out = (uint64_t)(total + 0.5);
	return *out <= max_ms ? 0 : -1;
}

void util_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

bool util_url_has_userinfo(const char *url)
{
	if (!url)
		return false;
	const char *sep = strstr(url, "://");
	const char *host = sep ? sep + 3 : url;
	size_t len = strcspn(host, "/?#");
	return memchr(host, '@', len) != NULL;
}
