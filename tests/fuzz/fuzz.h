/* Helpers shared by the fuzz targets: quiet logging and cutting one input into fields. Each
 * target is one file defining LLVMFuzzerTestOneInput (and optionally LLVMFuzzerInitialize); it is
 * linked either with libFuzzer (make fuzz) or with replay.c (make fuzz-replay). */
#ifndef MSS_FUZZ_H
#define MSS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Every log line is formatted (so escaping of hostile text runs) and thrown away. */
static inline void fuzz_quiet_logs(enum log_format fmt)
{
	static FILE *null;
	if (!null)
		null = fopen("/dev/null", "w");
	log_setup(fmt, "all", null);
}

/* FUZZ_VERBOSE=1 in the environment: targets print what each input parsed to (or why it was
 * refused) on stderr, to check that a new seed reaches what it is meant to. */
static inline bool fuzz_verbose(void)
{
	static int v = -1;
	if (v < 0)
		v = getenv("FUZZ_VERBOSE") != NULL;
	return v;
}

/* A cursor over the input. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* One byte (0 when the input is used up). */
static inline uint8_t fuzz_byte(struct fuzz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* The bytes up to the next `sep` (or the end), as a malloc'd NUL-terminated string of exactly that
 * size, so ASan sees any read past it; *len gets its length. The separator is consumed. */
static inline char *fuzz_field(struct fuzz_in *in, char sep, size_t *len)
{
	const uint8_t *end = memchr(in->p, sep, in->n);
	size_t n = end ? (size_t)(end - in->p) : in->n;
	char *s = malloc(n + 1);
	if (!s)
		abort();
	if (n)
		memcpy(s, in->p, n);
	s[n] = '\0';
	in->p += n;
	in->n -= n;
	if (end) {
		in->p++;
		in->n--;
	}
	if (len)
		*len = n;
	return s;
}

/* The rest of the input as an exact-size heap copy (not NUL-terminated: ASan catches a parser
 * that assumes one), or, with `nul`, followed by a NUL for APIs that document one. */
static inline char *fuzz_rest(struct fuzz_in *in, bool nul, size_t *len)
{
	size_t n = in->n;
	char *s = malloc(n + (nul ? 1 : 0) + (n == 0 && !nul));
	if (!s)
		abort();
	if (n)
		memcpy(s, in->p, n);
	if (nul)
		s[n] = '\0';
	in->p += n;
	in->n = 0;
	*len = n;
	return s;
}

/* An invariant the code promises was broken: a finding, like a crash. */
#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
