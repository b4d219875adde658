#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acexy/proto.h"

static void roundtrip(enum proto_type t, json_t *body)
{
	uint8_t *buf;
	size_t len;
	assert_int_equal(proto_encode(t, 42, body, &buf, &len), 0);
	struct proto_msg m;
	char err[256] = "";
	int rc = proto_decode(buf, len, &m, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", proto_type_name(t), err);
	assert_int_equal(m.type, t);
	assert_int_equal(m.id, 42);
	assert_int_equal(m.version, PROTO_VERSION);
	assert_true(json_equal(m.body, body));
	proto_msg_clear(&m);
	free(buf);
	json_decref(body);
}

static void test_roundtrip_every_message(void **state)
{
	(void)state;
	roundtrip(PROTO_ERROR, proto_error_body("bad_request", "nope"));
	roundtrip(PROTO_OK, json_object());
	roundtrip(PROTO_HELLO,
	          json_pack("{s:s,s:s,s:[{s:I,s:s,s:I}],s:[{s:I,s:s,s:I,s:I}]}", "instance", "dp-1",
	                    "software", "0.1.0", "streams", "lease", (json_int_t)7, "content",
	                    "content_id:abc", "bytes", (json_int_t)123456789012LL, "ended", "lease",
	                    (json_int_t)6, "reason", "client_gone", "bytes", (json_int_t)5,
	                    "duration_ms", (json_int_t)100));
	roundtrip(PROTO_HELLO_REPLY, json_pack("{s:s}", "controlplane", "cp"));
	roundtrip(PROTO_ASSIGN, json_pack("{s:s,s:s,s:s,s:s}", "instance", "dp", "key_type",
	                                  "content_id", "key", "abc", "params", "x=1"));
	roundtrip(PROTO_LEASE,
	          json_pack("{s:I,s:s,s:s,s:i,s:s,s:b}", "lease", (json_int_t)1, "scheme", "http",
	                    "host", "127.0.0.1", "port", 6878, "container_id", "", "fallback", 1));
	roundtrip(PROTO_REFUSAL, json_pack("{s:s,s:i}", "reason", "busy", "retry_after", 5));
	roundtrip(PROTO_SESSION_STARTED,
	          json_pack("{s:s,s:I,s:s,s:s,s:s,s:b}", "instance", "dp", "lease", (json_int_t)1,
	                    "playback_session_id", "ps", "stat_url", "http://e/s", "command_url",
	                    "http://e/c", "is_live", 1));
	roundtrip(PROTO_STREAM_ENDED, json_pack("{s:s,s:I,s:s,s:I,s:I}", "instance", "dp", "lease",
	                                        (json_int_t)1, "reason", "upstream_eof", "bytes",
	                                        (json_int_t)10, "duration_ms", (json_int_t)20));
	roundtrip(PROTO_HEARTBEAT, json_pack("{s:s,s:b,s:[{s:I,s:I,s:i}]}", "instance", "dp",
	                                     "draining", 0, "streams", "lease", (json_int_t)1,
	                                     "bytes", (json_int_t)99, "viewers", 1));
	roundtrip(PROTO_HEARTBEAT_REPLY, json_pack("{s:[{s:s,s:I},{s:s}]}", "commands", "cmd",
	                                           "stop", "lease", (json_int_t)3, "cmd", "drain"));
	roundtrip(PROTO_DEBUG_EVENT, json_pack("{s:s,s:{s:s,s:f}}", "category", "streams", "record",
	                                       "event", "x", "ms", 1.5));
	roundtrip(PROTO_ADMIN, json_pack("{s:s,s:s}", "command", "stream", "arg", "12"));
	roundtrip(PROTO_ADMIN_REPLY, json_pack("{s:{s:n,s:i}}", "result", "x", "n", -5));
}

static int decode(const uint8_t *b, size_t n, char *err)
{
	struct proto_msg m;
	int rc = proto_decode(b, n, &m, err, 256);
	proto_msg_clear(&m);
	return rc;
}

static void test_malformed(void **state)
{
	(void)state;
	char err[256];
	/* the msgpack-c trap: a 32-bit map length on 5 bytes */
	const uint8_t hostile[] = {0xdd, 0x0f, 0xff, 0xff, 0xff};
	assert_int_equal(decode(hostile, sizeof(hostile), err), -EINVAL);
	const uint8_t hostile_map[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x00};
	assert_int_equal(decode(hostile_map, sizeof(hostile_map), err), -EINVAL);
	const uint8_t str_long[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
	assert_int_equal(decode(str_long, sizeof(str_long), err), -EINVAL);
	assert_non_null(strstr(err, "longer"));
	assert_int_equal(decode((const uint8_t *)"", 0, err), -EINVAL);
	const uint8_t not_array[] = {0x01};
	assert_int_equal(decode(not_array, 1, err), -EINVAL);
	const uint8_t bin[] = {0xc4, 0x01, 0x00};
	assert_int_equal(decode(bin, sizeof(bin), err), -EINVAL);
	/* [1, 999, 5, {}]: unknown type, id still reported */
	const uint8_t unknown[] = {0x94, 0x01, 0xcd, 0x03, 0xe7, 0x05, 0x80};
	struct proto_msg m;
	assert_int_equal(proto_decode(unknown, sizeof(unknown), &m, err, sizeof(err)), -ENOMSG);
	assert_int_equal(m.id, 5);
	/* [9, 2, 1, {}]: version from the future */
	const uint8_t future[] = {0x94, 0x09, 0x02, 0x01, 0x80};
	assert_int_equal(decode(future, sizeof(future), err), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "version 9"));
	/* [1, 12 (assign), 1, {}]: required fields missing */
	const uint8_t missing[] = {0x94, 0x01, 0x0c, 0x01, 0x80};
	assert_int_equal(decode(missing, sizeof(missing), err), -EINVAL);
	assert_non_null(strstr(err, "instance"));
	/* trailing bytes */
	const uint8_t trailing[] = {0x94, 0x01, 0x02, 0x01, 0x80, 0x00};
	assert_int_equal(decode(trailing, sizeof(trailing), err), -EINVAL);
	/* deep nesting */
	uint8_t deep[64];
	deep[0] = 0x94;
	deep[1] = 0x01;
	deep[2] = 0x02;
	deep[3] = 0x01;
	for (int i = 4; i < 64; i++)
		deep[i] = 0x91;
	assert_int_equal(decode(deep, sizeof(deep), err), -EINVAL);
	/* invalid UTF-8 string */
	const uint8_t badutf[] = {0x94, 0x01, 0x02, 0x01, 0x81, 0xa1, 'k', 0xa1, 0xff};
	assert_int_equal(decode(badutf, sizeof(badutf), err), -EINVAL);
	/* unknown fields are ignored */
	json_t *b = json_pack("{s:s,s:i}", "zzz", "x", "n", 1);
	uint8_t *buf;
	size_t len;
	assert_int_equal(proto_encode(PROTO_OK, 1, b, &buf, &len), 0);
	assert_int_equal(decode(buf, len, err), 0);
	free(buf);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_every_message),
	        cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
