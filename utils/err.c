/* Error chain helpers: messages are built in a fixed buffer, so error paths never allocate. */
#include "err.h"

#include <stdarg.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* A message is one line whatever it quotes (an engine's multi-line "message", a metric source's
 * XML): line breaks and other control bytes become spaces. */
static void one_line(char *s)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s))
			*s = ' ';
}

int err_set(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	one_line(e->msg);
	e->code = -1;
	return -1;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
	if (!e)
		return -1;
	char prefix[ERR_MSG_MAX];
	char old[ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof old);
	/* Truncation is intended: the innermost context is the least important part to keep. */
	size_t n = strlen(prefix);
	memcpy(e->msg, prefix, n);
	if (n + 2 < sizeof e->msg) {
		memcpy(e->msg + n, ": ", 2);
		n += 2;
	}
	size_t rest = strnlen(old, sizeof old - 1);
	if (rest > sizeof e->msg - 1 - n)
		rest = sizeof e->msg - 1 - n;
	memcpy(e->msg + n, old, rest);
	e->msg[n + rest] = '\0';
	one_line(e->msg);
	if (!e->code)
		e->code = -1;
	return -1;
}

void err_clear(struct err *e)
{
	e->code = 0;
	e->msg[0] = '\0';
}
