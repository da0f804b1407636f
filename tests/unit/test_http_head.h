/* For the test servers (http_test_server.h, fake_docker.h): one request header's value from a raw
 * HTTP head. */
#ifndef MSS_TEST_HTTP_HEAD_H
#define MSS_TEST_HTTP_HEAD_H

#include <string.h>
#include <strings.h>

/* Copy header `name`'s value (case-insensitive name, leading blanks skipped, truncated to `size`)
 * from `head` into out; NULL (and out "") when absent. */
static inline const char *test_http_header(const char *head, const char *name, char *out,
					   size_t size)
{
	size_t nl = strlen(name);
	out[0] = '\0';
	for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			size_t n = strcspn(v, "\r\n");
			if (n >= size)
				n = size - 1;
			memcpy(out, v, n);
			out[n] = '\0';
			return out;
		}
	}
	return NULL;
}

#endif
