/* Error out-parameter (crun style): each layer adds its context in front, so the final line reads
 * like a chain: "scale web: start container 3/5: docker POST /containers/create: 404 No such image". */
#ifndef MSS_ERR_H
#define MSS_ERR_H

#define ERR_MSG_MAX 512

struct err {
	int code;              /* 0: no error; otherwise a module-defined non-zero value (often -1) */
	char msg[ERR_MSG_MAX]; /* one line, no trailing newline; truncated if longer */
};

#define ERR_INIT {0, {0}}

/* Set the message (printf format) and code -1. Returns -1 so callers can `return err_set(...)`. */
int err_set(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix existing message with context: "ctx: old". Keeps the code. Returns -1. */
int err_wrap(struct err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void err_clear(struct err *e);

#endif
