/* Access helpers: the client behind trusted proxies, the query token, the
 * token comparison. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/access_pure.h"

static struct sockaddr_storage v4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &a->sin_addr);
	return ss;
}

static const char *text(const struct sockaddr_storage *ss)
{
	static char buf[64];
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, sizeof(buf));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf,
		          sizeof(buf));
	return buf;
}

static void test_client(void **state)
{
	(void)state;
	struct acexy_netlist trusted;
	assert_int_equal(acexy_netlist_parse("127.0.0.1, 10.0.0.0/8", &trusted), 0);
	struct sockaddr_storage peer = v4("127.0.0.1"), out;
	/* no header: the peer */
	access_client(&peer, NULL, &trusted, &out);
	assert_string_equal(text(&out), "127.0.0.1");
	/* the rightmost address that is not a trusted proxy */
	access_client(&peer, "203.0.113.9, 198.51.100.7, 10.1.1.1", &trusted, &out);
	assert_string_equal(text(&out), "198.51.100.7");
	access_client(&peer, " [2001:db8::1] ", &trusted, &out);
	assert_string_equal(text(&out), "2001:db8::1");
	/* all trusted: the leftmost */
	access_client(&peer, "10.0.0.5, 10.0.0.6", &trusted, &out);
	assert_string_equal(text(&out), "10.0.0.5");
	/* garbage: the last good hop seen (here none: the peer) */
	access_client(&peer, "nonsense", &trusted, &out);
	assert_string_equal(text(&out), "127.0.0.1");
	/* an untrusted peer's header is not believed */
	struct sockaddr_storage other = v4("192.0.2.1");
	access_client(&other, "198.51.100.7", &trusted, &out);
	assert_string_equal(text(&out), "192.0.2.1");
	/* one canonical form: a mapped peer or hop is its IPv4 address, and a
	 * mapped trusted-proxy entry trusts the IPv4 peer */
	assert_int_equal(acexy_netlist_parse("::ffff:127.0.0.0/104", &trusted), 0);
	access_client(&peer, "::ffff:198.51.100.8, ::ffff:127.0.0.9", &trusted, &out);
	assert_string_equal(text(&out), "198.51.100.8");
	struct sockaddr_storage mapped = {0};
	struct sockaddr_in6 *m6 = (struct sockaddr_in6 *)&mapped;
	m6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.9", &m6->sin6_addr);
	access_client(&mapped, NULL, &trusted, &out);
	assert_int_equal(out.ss_family, AF_INET);
	assert_string_equal(text(&out), "192.0.2.9");
}

static void test_token(void **state)
{
	(void)state;
	char out[64];
	assert_true(access_query_token("id=x&token=s%65cret&a=1", out, sizeof(out)));
	assert_string_equal(out, "secret");
	assert_true(access_query_token("id=x", out, sizeof(out)));
	assert_string_equal(out, "");
	assert_false(access_query_token("token=%zz", out, sizeof(out)));
	assert_false(access_query_token(
	        "token=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", out,
	        sizeof(out)));
	assert_true(access_token_equal("secret", 6, "secret"));
	assert_false(access_token_equal("secreT", 6, "secret"));
	assert_false(access_token_equal("secre", 5, "secret"));
	assert_false(access_token_equal("secrets", 7, "secret"));
	assert_false(access_token_equal("", 0, "secret"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_client),
	        cmocka_unit_test(test_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
