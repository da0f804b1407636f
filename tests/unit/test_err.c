/* The error chain: context in front, truncation keeps the outer context, one line always. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "utils/err.h"

static void test_wrap_puts_context_in_front(void **state)
{
	struct err e = ERR_INIT;
	(void)state;
	err_set(&e, "404 No such image: %s", "app:v2");
	err_wrap(&e, "docker POST %s", "/containers/create");
	err_wrap(&e, "scale %s", "web");
	assert_string_equal(e.msg,
	                    "scale web: docker POST /containers/create: 404 No such image: app:v2");
	assert_int_equal(e.code, -1);
}

/* Outside text quoted in a message (an engine's multi-line "message", an XML <Message>) never
 * splits it: errors end up in plain-text lines (stderr at start-up, the table monitor). Found by
 * the docker fuzz target. */
static void test_error_message_is_one_line_whatever_it_quotes(void **state)
{
	struct err e = ERR_INIT;
	(void)state;
	err_set(&e, "500 %s", "pull access denied\nrepository does not exist\r");
	assert_string_equal(e.msg, "500 pull access denied repository does not exist ");
	err_wrap(&e, "GET %s", "/x\ty\x1b[31m");
	assert_string_equal(e.msg,
	                    "GET /x y [31m: 500 pull access denied repository does not exist ");
	assert_null(strpbrk(e.msg, "\r\n\t\x1b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wrap_puts_context_in_front),
	    cmocka_unit_test(test_error_message_is_one_line_whatever_it_quotes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
