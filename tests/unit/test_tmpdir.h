/* Temp dirs of the unit-test servers, removed at exit too: a failed assertion longjmps past a
 * test's own cleanup, which left empty /tmp/mss-* dirs behind. */
#ifndef MSS_TEST_TMPDIR_H
#define MSS_TEST_TMPDIR_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_TMPDIR_MAX 256

static char test_tmpdirs[TEST_TMPDIR_MAX][64];
static int test_tmpdirs_len;

/* Remove every registered dir and the files in it (sockets; the servers make no subdirs). */
static void test_tmpdir_remove_all(void)
{
	for (int i = 0; i < test_tmpdirs_len; i++) {
		DIR *d = opendir(test_tmpdirs[i]);
		if (d) {
			struct dirent *de;
			while ((de = readdir(d)) != NULL)
				if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
					unlinkat(dirfd(d), de->d_name, 0);
			closedir(d);
		}
		rmdir(test_tmpdirs[i]);
	}
	test_tmpdirs_len = 0;
}

/* mkdtemp on TEMPLATE (at most 63 bytes, ending in XXXXXX), registered for removal at exit.
 * Returns TEMPLATE, or NULL as mkdtemp does. */
static inline char *test_tmpdir_make(char *template)
{
	if (!mkdtemp(template))
		return NULL;
	if (test_tmpdirs_len == 0)
		atexit(test_tmpdir_remove_all);
	if (test_tmpdirs_len < TEST_TMPDIR_MAX && strlen(template) < sizeof test_tmpdirs[0])
		strcpy(test_tmpdirs[test_tmpdirs_len++], template);
	return template;
}

#endif
