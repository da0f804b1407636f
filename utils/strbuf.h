/* A growable string buffer for the text the HTTP API builds (exposition, events). */
#ifndef MSS_STRBUF_H
#define MSS_STRBUF_H

#include <stddef.h>

/* Zero-initialised ({0}) is an empty buffer. `p` is NUL-terminated once anything was added;
 * owned by the buffer until strbuf_steal. Allocation failure aborts (util.h's x* rule). */
struct strbuf {
	char *p;
	size_t len, cap;
};

void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The text, NUL-terminated ("" when empty), now owned by the caller; the buffer is empty again. */
char *strbuf_steal(struct strbuf *b);
void strbuf_free(struct strbuf *b);

#endif
