#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "controlplane/engine_url.h"

static void test_on_engine(void **state)
{
	(void)state;
	assert_true(engine_url_on("", "127.0.0.1", 6878));
	assert_true(engine_url_on(NULL, "127.0.0.1", 6878));
	assert_true(
	        engine_url_on("http://127.0.0.1:6878/ace/cmd/x?method=stop", "127.0.0.1", 6878));
	assert_true(engine_url_on("http://Engine.Local:6878/s", "engine.local", 6878));
	assert_true(engine_url_on("http://[::1]:6878/s", "::1", 6878));
	assert_true(engine_url_on("http://e:80/x", "e", 80));
	assert_true(engine_url_on("http://e/x", "e", 80));
	assert_true(engine_url_on("https://e/x", "e", 443));
	assert_true(engine_url_on("http://e:6878", "e", 6878));
}

static void test_elsewhere(void **state)
{
	(void)state;
	const char *bad[] = {
	        "http://127.0.0.1:9999/forged",
	        "http://127.0.0.2:6878/x",
	        "http://127.0.0.1:6878@evil:80/",
	        "http://evil/#@127.0.0.1:6878",
	        "ftp://127.0.0.1:6878/",
	        "http://127.0.0.1:6878x/",
	        "http://127.0.0.1:/x",
	        "http://127.0.0.1:068780/",
	        "http://[::1]6878/",
	        "http://[::1/",
	        "//127.0.0.1:6878/",
	        "http://127.0.0.1.evil:6878/",
	        "http://127.0.0.1:6878\\@e/",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(engine_url_on(bad[i], "127.0.0.1", 6878));
	assert_false(engine_url_on("http://[::2]:6878/", "::1", 6878));
	assert_false(engine_url_on("http://e:65542/", "e", 6));
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_on_engine),
	                                   cmocka_unit_test(test_elsewhere)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
