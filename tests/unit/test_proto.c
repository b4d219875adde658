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

/* More malformed-input classes: every truncation of a valid message, field
 * types, keys, integer range, ext, size cap, envelope shape. */
static void test_malformed_more(void **state)
{
	(void)state;
	char err[256];
	json_t *b = json_pack("{s:s,s:I,s:s,s:I,s:I}", "instance", "dp", "lease", (json_int_t)1,
	                      "reason", "upstream_eof", "bytes", (json_int_t)10, "duration_ms",
	                      (json_int_t)20);
	uint8_t *buf;
	size_t len;
	assert_int_equal(proto_encode(PROTO_STREAM_ENDED, 9, b, &buf, &len), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(decode(buf, cut, err), 0);
	assert_int_equal(decode(buf, len, err), 0);
	free(buf);
	json_decref(b);
	/* a required field of the wrong type: lease as a string */
	b = json_pack("{s:s,s:s,s:s,s:I,s:I}", "instance", "dp", "lease", "1", "reason", "x",
	              "bytes", (json_int_t)1, "duration_ms", (json_int_t)1);
	assert_int_equal(proto_encode(PROTO_STREAM_ENDED, 1, b, &buf, &len), 0);
	assert_int_equal(decode(buf, len, err), -EINVAL);
	assert_non_null(strstr(err, "lease"));
	free(buf);
	json_decref(b);
	/* map key that is not a string: [1, 2, 1, {1: 1}] */
	const uint8_t intkey[] = {0x94, 0x01, 0x02, 0x01, 0x81, 0x01, 0x01};
	assert_int_equal(decode(intkey, sizeof(intkey), err), -EINVAL);
	/* NUL inside a map key */
	const uint8_t nulkey[] = {0x94, 0x01, 0x02, 0x01, 0x81, 0xa2, 'a', 0x00, 0x01};
	assert_int_equal(decode(nulkey, sizeof(nulkey), err), -EINVAL);
	/* uint64 above INT64_MAX */
	const uint8_t big[] = {0x94, 0x01, 0x02, 0x01, 0x81, 0xa1, 'n',  0xcf,
	                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	assert_int_equal(decode(big, sizeof(big), err), -EINVAL);
	/* ext type */
	const uint8_t ext[] = {0x94, 0x01, 0x02, 0x01, 0x81, 0xa1, 'e', 0xd4, 0x01, 0x00};
	assert_int_equal(decode(ext, sizeof(ext), err), -EINVAL);
	/* envelope of three elements; body that is not a map */
	const uint8_t three[] = {0x93, 0x01, 0x02, 0x01};
	assert_int_equal(decode(three, sizeof(three), err), -EINVAL);
	const uint8_t body_arr[] = {0x94, 0x01, 0x02, 0x01, 0x90};
	assert_int_equal(decode(body_arr, sizeof(body_arr), err), -EINVAL);
	/* version 0 (below PROTO_VERSION_MIN) */
	const uint8_t old[] = {0x94, 0x00, 0x02, 0x01, 0x80};
	assert_int_equal(decode(old, sizeof(old), err), -EPROTONOSUPPORT);
	/* larger than PROTO_MSG_MAX: refused by size before parsing */
	size_t n = PROTO_MSG_MAX + 16;
	uint8_t *huge = calloc(1, n);
	assert_non_null(huge);
	assert_int_equal(decode(huge, n, err), -EINVAL);
	assert_non_null(strstr(err, "larger"));
	free(huge);
	/* the encoder refuses what the decoder would */
	char *s = malloc(PROTO_MSG_MAX + 1);
	assert_non_null(s);
	memset(s, 'a', PROTO_MSG_MAX);
	s[PROTO_MSG_MAX] = '\0';
	b = json_pack("{s:s}", "x", s);
	assert_int_equal(proto_encode(PROTO_OK, 1, b, &buf, &len), -E2BIG);
	json_decref(b);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_every_message),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_malformed_more),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
