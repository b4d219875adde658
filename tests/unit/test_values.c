#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "acexy/netaddr.h"
#include "acexy/settings.h"
#include "acexy/sysinfo.h"

static uint64_t size_ok(const char *s)
{
	uint64_t v = 0;
	assert_int_equal(acexy_parse_size(s, &v), 0);
	return v;
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(size_ok("65536"), 65536);
	assert_int_equal(size_ok("0"), 0);
	assert_int_equal(size_ok("512KiB"), 524288);
	assert_int_equal(size_ok("4MiB"), 4194304);
	assert_int_equal(size_ok("4MB"), 4000000);
	assert_int_equal(size_ok("4.2MiB"), 4404019); /* floor(4.2 * 1048576) */
	assert_int_equal(size_ok("1GiB"), 1073741824ULL);
	assert_int_equal(size_ok("1GB"), 1000000000ULL);
	assert_int_equal(size_ok("1KB"), 1000);
	assert_int_equal(size_ok("0.5KiB"), 512);
	assert_int_equal(size_ok("10B"), 10);
	uint64_t v = 77;
	const char *bad[] = {"",     "4.2XB", "MiB",   "4 MiB", "-1",  "4.MiB", ".5MiB!",
	                     "4mib", "1.5",   "4MiBs", "0x10",  "1e3", " 4MiB", "4MiB "};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(acexy_parse_size(bad[i], &v), 0);
		assert_int_equal(v, 77); /* untouched on failure */
	}
	assert_int_equal(acexy_parse_size("99999999999999999999", &v), -ERANGE);
	assert_int_equal(acexy_parse_size("17179869184GiB", &v), -ERANGE);
	assert_int_equal(size_ok("18446744073709551615"), UINT64_MAX);
}

static uint64_t dur_ok(const char *s)
{
	uint64_t v = 0;
	assert_int_equal(acexy_parse_duration_ms(s, &v), 0);
	return v;
}

static void test_durations(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("500ms"), 500);
	assert_int_equal(dur_ok("10s"), 10000);
	assert_int_equal(dur_ok("1m"), 60000);
	assert_int_equal(dur_ok("1h"), 3600000);
	assert_int_equal(dur_ok("1m30s"), 90000);
	assert_int_equal(dur_ok("1h1m1s1ms"), 3661001);
	assert_int_equal(dur_ok("1.5s"), 1500);
	assert_int_equal(dur_ok("0"), 0);
	assert_int_equal(dur_ok("0s"), 0);
	assert_int_equal(dur_ok("2500us"), 2);
	uint64_t v = 5;
	const char *bad[] = {"", "10", "s", "10x", "1m30", "-1s", "1.s", "10 s", "ms", "1d"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(acexy_parse_duration_ms(bad[i], &v), 0);
		assert_int_equal(v, 5);
	}
	assert_int_equal(acexy_parse_duration_ms("99999999999999999h", &v), -ERANGE);
}

static void test_bools(void **state)
{
	(void)state;
	const char *t[] = {"true", "1", "yes", "TRUE", "Yes", "on"};
	const char *f[] = {"false", "0", "no", "False", "NO", "off"};
	for (size_t i = 0; i < 6; i++) {
		bool b = false;
		assert_int_equal(acexy_parse_bool(t[i], &b), 0);
		assert_true(b);
		assert_int_equal(acexy_parse_bool(f[i], &b), 0);
		assert_false(b);
	}
	bool b = true;
	assert_int_equal(acexy_parse_bool("", &b), -EINVAL);
	assert_int_equal(acexy_parse_bool("2", &b), -EINVAL);
	assert_int_equal(acexy_parse_bool("truee", &b), -EINVAL);
	assert_true(b);
}

static void test_addrs(void **state)
{
	(void)state;
	struct acexy_addr a;
	assert_int_equal(acexy_addr_parse(":8080", &a), 0);
	assert_string_equal(a.host, "");
	assert_int_equal(a.port, 8080);
	assert_int_equal(acexy_addr_parse("127.0.0.1:80", &a), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 80);
	assert_int_equal(acexy_addr_parse("[::]:8080", &a), 0);
	assert_string_equal(a.host, "::");
	assert_int_equal(acexy_addr_parse("[::1]:65535", &a), 0);
	assert_int_equal(a.port, 65535);
	assert_int_equal(acexy_addr_parse("localhost:8080", &a), 0);
	const char *bad[] = {"8080",    ":",        ":0",     ":65536", "::1:80", "[::1]80",
	                     "[zz]:80", "1.2.3.4:", "a b:80", "[]:80",  ":80x",   ":-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acexy_addr_parse(bad[i], &a), -EINVAL);
}

static void test_nets(void **state)
{
	(void)state;
	struct acexy_netlist l;
	assert_int_equal(acexy_netlist_parse("", &l), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(acexy_netlist_parse("10.0.0.0/8, 192.168.1.7,::1/128", &l), 0);
	assert_int_equal(l.n, 3);
	struct sockaddr_in in = {.sin_family = AF_INET};
	inet_pton(AF_INET, "10.2.3.4", &in.sin_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	inet_pton(AF_INET, "192.168.1.8", &in.sin_addr);
	assert_false(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	inet_pton(AF_INET, "192.168.1.7", &in.sin_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "::ffff:10.9.9.9", &in6.sin6_addr); /* v4-mapped */
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in6));
	assert_int_equal(acexy_netlist_parse("10.0.0.0/33", &l), -EINVAL);
	assert_int_equal(acexy_netlist_parse("10.0.0.0/", &l), -EINVAL);
	assert_int_equal(acexy_netlist_parse("10.0.0.0,", &l), -EINVAL);
	assert_int_equal(acexy_netlist_parse("a.b.c.d", &l), -EINVAL);
	assert_int_equal(acexy_netlist_parse("::1/129", &l), -EINVAL);
	assert_int_equal(acexy_netlist_parse(",", &l), -EINVAL);
	assert_int_equal(acexy_netlist_parse("1.2.3.0/24", &l), 0);
	inet_pton(AF_INET, "1.2.3.200", &in.sin_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	inet_pton(AF_INET, "1.2.4.1", &in.sin_addr);
	assert_false(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	/* issue 22 item 12: an IPv4-mapped entry holds IPv4 clients, and the
	 * other way round; one canonical form, whatever the listener */
	assert_int_equal(acexy_netlist_parse("::ffff:127.0.0.0/104", &l), 0);
	inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	inet_pton(AF_INET, "128.0.0.1", &in.sin_addr);
	assert_false(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	inet_pton(AF_INET6, "::ffff:127.9.9.9", &in6.sin6_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "::127.0.0.1", &in6.sin6_addr); /* IPv4-compatible: another address */
	assert_false(acexy_netlist_contains(&l, (struct sockaddr *)&in6));
	assert_int_equal(acexy_netlist_parse("::ffff:10.1.2.3", &l), 0);
	inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	inet_pton(AF_INET, "10.1.2.4", &in.sin_addr);
	assert_false(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	assert_int_equal(acexy_netlist_parse("127.0.0.0/8", &l), 0);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6.sin6_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in6));
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	assert_false(acexy_netlist_contains(&l, (struct sockaddr *)&in6));
	/* ::/0 is every address, IPv4 ones included */
	assert_int_equal(acexy_netlist_parse("::/0", &l), 0);
	inet_pton(AF_INET, "192.0.2.1", &in.sin_addr);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	assert_int_equal(acexy_netlist_parse("0.0.0.0/0", &l), 0);
	assert_true(acexy_netlist_contains(&l, (struct sockaddr *)&in));
	inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
	assert_false(acexy_netlist_contains(&l, (struct sockaddr *)&in6));
	/* the mapped form of a client is its IPv4 form */
	struct sockaddr_storage ss = {0}, c;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(80);
	inet_pton(AF_INET6, "::ffff:192.0.2.7", &s6->sin6_addr);
	acexy_addr_canonical(&ss, &c);
	assert_int_equal(c.ss_family, AF_INET);
	struct sockaddr_in *c4 = (struct sockaddr_in *)&c;
	assert_int_equal(ntohs(c4->sin_port), 80);
	char t[64];
	assert_string_equal(inet_ntop(AF_INET, &c4->sin_addr, t, sizeof(t)), "192.0.2.7");
	inet_pton(AF_INET6, "2001:db8::7", &s6->sin6_addr);
	acexy_addr_canonical(&ss, &ss); /* in place; not mapped: unchanged */
	assert_int_equal(ss.ss_family, AF_INET6);
}

static void test_typed_values(void **state)
{
	(void)state;
	struct acexy_value v;
	const char *exp = NULL;
	assert_int_equal(acexy_value_parse(ACEXY_T_WORKERS, "auto", &v, &exp), 0);
	assert_int_equal(v.u, 0);
	acexy_value_clear(&v);
	assert_int_equal(acexy_value_parse(ACEXY_T_WORKERS, "4", &v, &exp), 0);
	assert_int_equal(v.u, 4);
	acexy_value_clear(&v);
	assert_int_equal(acexy_value_parse(ACEXY_T_WORKERS, "0", &v, &exp), -EINVAL);
	assert_non_null(exp);
	assert_int_equal(acexy_value_parse(ACEXY_T_PORT, "0", &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_PORT, "65536", &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_SCHEME, "ftp", &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_URL, "", &v, &exp), 0);
	acexy_value_clear(&v);
	assert_int_equal(acexy_value_parse(ACEXY_T_URL, "http://orch:8000/api/v1", &v, &exp), 0);
	acexy_value_clear(&v);
	assert_int_equal(acexy_value_parse(ACEXY_T_URL, "orch:8000", &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_URL, "http://", &v, &exp), -EINVAL);
	/* playlist sources: URLs or paths, comma-separated, at most 32 */
	assert_int_equal(acexy_value_parse(ACEXY_T_SOURCES, "", &v, &exp), 0);
	acexy_value_clear(&v);
	assert_int_equal(
	        acexy_value_parse(ACEXY_T_SOURCES,
	                          "/etc/a.m3u, https://lists.example/b.m3u?k=1 ,, file://x", &v,
	                          &exp),
	        0);
	acexy_value_clear(&v);
	assert_int_equal(acexy_value_parse(ACEXY_T_SOURCES, "/a.m3u,http://", &v, &exp), -EINVAL);
	assert_non_null(strstr(exp, "comma-separated"));
	assert_int_equal(acexy_value_parse(ACEXY_T_SOURCES, "/a\n", &v, &exp), -EINVAL);
	char many[200] = "";
	for (int i = 0; i < 33; i++)
		strcat(many, "/x,");
	assert_int_equal(acexy_value_parse(ACEXY_T_SOURCES, many, &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_LOGLEVEL, "verbose", &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_NAME, "a/b", &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_STRING, "a\nb", &v, &exp), -EINVAL);
	assert_int_equal(acexy_value_parse(ACEXY_T_SECRET, "s3cret", &v, &exp), 0);
	char buf[32];
	acexy_value_format(ACEXY_T_SECRET, &v, buf, sizeof(buf));
	assert_string_equal(buf, "<set>");
	acexy_value_clear(&v);
	acexy_value_clear(NULL);
}

static void test_list_items(void **state)
{
	const char *p = " a.m3u ,, \thttp://x/y ,\t,b", *item;
	size_t len;
	assert_true(acexy_list_next(&p, &item, &len));
	assert_int_equal(len, 5);
	assert_memory_equal(item, "a.m3u", 5);
	assert_true(acexy_list_next(&p, &item, &len));
	assert_int_equal(len, 10);
	assert_memory_equal(item, "http://x/y", 10);
	assert_true(acexy_list_next(&p, &item, &len));
	assert_int_equal(len, 1);
	assert_memory_equal(item, "b", 1);
	assert_false(acexy_list_next(&p, &item, &len));
	assert_false(acexy_list_next(&p, &item, &len));
	p = " , ,";
	assert_false(acexy_list_next(&p, &item, &len));
}

static void test_cgroup_cpu_max(void **state)
{
	(void)state;
	assert_int_equal(acexy_cgroup_cpu_max_parse("max 100000\n"), 0);
	assert_int_equal(acexy_cgroup_cpu_max_parse("150000 100000\n"), 2);
	assert_int_equal(acexy_cgroup_cpu_max_parse("100000 100000"), 1);
	assert_int_equal(acexy_cgroup_cpu_max_parse("50000 100000"), 1);
	assert_int_equal(acexy_cgroup_cpu_max_parse("garbage"), 0);
	assert_int_equal(acexy_cgroup_cpu_max_parse("10 0"), 0);
	assert_true(acexy_usable_cpus() >= 1);
	char name[128];
	acexy_instance_name(name, sizeof(name));
	struct acexy_value v;
	const char *exp;
	assert_int_equal(acexy_value_parse(ACEXY_T_NAME, name, &v, &exp), 0);
	acexy_value_clear(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sizes),          cmocka_unit_test(test_durations),
	        cmocka_unit_test(test_bools),          cmocka_unit_test(test_addrs),
	        cmocka_unit_test(test_nets),           cmocka_unit_test(test_typed_values),
	        cmocka_unit_test(test_cgroup_cpu_max), cmocka_unit_test(test_list_items),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
