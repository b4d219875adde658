#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acexy/proto.h"

/* Encodes a typed body, decodes it, checks the envelope; the caller checks
 * the typed fields of *m and clears it. The decoded body re-encodes, and
 * from there encode(decode(x)) is x (absent optional strings decode as "",
 * so the first re-encoding may carry them). */
static void roundtrip(enum proto_type t, const void *body, struct proto_msg *m)
{
	uint8_t *buf, *buf2;
	size_t len, len2;
	assert_int_equal(proto_encode(t, 42, body, &buf, &len), 0);
	char err[256] = "";
	int rc = proto_decode(buf, len, PROTO_ANY, m, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", proto_type_name(t), err);
	assert_int_equal(m->type, t);
	assert_int_equal(m->id, 42);
	assert_int_equal(m->version, PROTO_VERSION);
	free(buf);
	assert_int_equal(proto_encode(t, 42, &m->hello, &buf, &len), 0);
	struct proto_msg again;
	assert_int_equal(proto_decode(buf, len, PROTO_ANY, &again, err, sizeof(err)), 0);
	assert_int_equal(proto_encode(t, 42, &again.hello, &buf2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(buf, buf2, len);
	proto_msg_clear(&again);
	free(buf);
	free(buf2);
}

static void test_roundtrip_every_message(void **state)
{
	(void)state;
	struct proto_msg m;
	struct proto_error e = {.code = "bad_request", .message = "nope"};
	roundtrip(PROTO_ERROR, &e, &m);
	assert_string_equal(m.error.code, "bad_request");
	assert_string_equal(m.error.message, "nope");
	proto_msg_clear(&m);
	roundtrip(PROTO_OK, NULL, &m);
	proto_msg_clear(&m);

	struct proto_stream st[2] = {{.lease = 7,
	                              .content = "content_id:abc",
	                              .bytes = 123456789012ULL,
	                              .port = 6878,
	                              .fallback = true,
	                              .is_live = true},
	                             {.lease = 8, .key = "k"}};
	struct proto_ended en = {
	        .lease = 6, .reason = "client_gone", .bytes = 5, .duration_ms = 100};
	struct proto_hello h = {.instance = "dp-1",
	                        .software = "0.1.0",
	                        .proto = PROTO_VERSION,
	                        .draining = true,
	                        .streams = st,
	                        .n_streams = 2,
	                        .ended = &en,
	                        .n_ended = 1};
	roundtrip(PROTO_HELLO, &h, &m);
	assert_string_equal(m.hello.instance, "dp-1");
	assert_true(m.hello.draining);
	assert_int_equal(m.hello.proto, PROTO_VERSION);
	assert_int_equal(m.hello.n_streams, 2);
	assert_int_equal(m.hello.streams[0].lease, 7);
	assert_int_equal(m.hello.streams[0].bytes, 123456789012ULL);
	assert_int_equal(m.hello.streams[0].port, 6878);
	assert_true(m.hello.streams[0].fallback && m.hello.streams[0].is_live);
	assert_string_equal(m.hello.streams[0].content, "content_id:abc");
	assert_string_equal(m.hello.streams[0].key, ""); /* absent reads as "" */
	assert_string_equal(m.hello.streams[1].key, "k");
	assert_int_equal(m.hello.n_ended, 1);
	assert_string_equal(m.hello.ended[0].reason, "client_gone");
	assert_int_equal(m.hello.ended[0].duration_ms, 100);
	proto_msg_clear(&m);

	struct proto_hello_reply hr = {.controlplane = "cp"};
	roundtrip(PROTO_HELLO_REPLY, &hr, &m);
	assert_string_equal(m.hello_reply.controlplane, "cp");
	proto_msg_clear(&m);
	struct proto_assign as = {.instance = "dp",
	                          .key_type = "content_id",
	                          .key = "abc",
	                          .params = "x=1",
	                          .avoid = "engine-1"};
	roundtrip(PROTO_ASSIGN, &as, &m);
	assert_string_equal(m.assign.key, "abc");
	assert_string_equal(m.assign.params, "x=1");
	assert_string_equal(m.assign.avoid, "engine-1");
	proto_msg_clear(&m);
	struct proto_lease le = {
	        .lease = 1, .scheme = "http", .host = "127.0.0.1", .port = 6878, .fallback = true};
	roundtrip(PROTO_LEASE, &le, &m);
	assert_int_equal(m.lease.lease, 1);
	assert_int_equal(m.lease.port, 6878);
	assert_true(m.lease.fallback);
	assert_string_equal(m.lease.container_id, "");
	proto_msg_clear(&m);
	struct proto_refusal rf = {.reason = "busy", .retry_after = 5};
	roundtrip(PROTO_REFUSAL, &rf, &m);
	assert_int_equal(m.refusal.retry_after, 5);
	proto_msg_clear(&m);
	struct proto_session_started ss = {.instance = "dp",
	                                   .lease = 1,
	                                   .playback_session_id = "ps",
	                                   .stat_url = "http://e/s",
	                                   .command_url = "http://e/c",
	                                   .is_live = true};
	roundtrip(PROTO_SESSION_STARTED, &ss, &m);
	assert_string_equal(m.session_started.command_url, "http://e/c");
	proto_msg_clear(&m);
	struct proto_stream_ended se = {.instance = "dp",
	                                .lease = 1,
	                                .reason = "upstream_eof",
	                                .bytes = 10,
	                                .duration_ms = 20};
	roundtrip(PROTO_STREAM_ENDED, &se, &m);
	assert_int_equal(m.stream_ended.bytes, 10);
	proto_msg_clear(&m);
	struct proto_hb_stream hs = {.lease = 1,
	                             .bytes = 99,
	                             .viewers = 1,
	                             .engine_status = "prebuf",
	                             .engine_peers = 3,
	                             .engine_speed_down = 128};
	struct proto_heartbeat hb = {.instance = "dp", .streams = &hs, .n_streams = 1};
	roundtrip(PROTO_HEARTBEAT, &hb, &m);
	assert_int_equal(m.heartbeat.streams[0].bytes, 99);
	assert_string_equal(m.heartbeat.streams[0].engine_status, "prebuf");
	assert_int_equal(m.heartbeat.streams[0].engine_peers, 3);
	assert_int_equal(m.heartbeat.streams[0].engine_speed_down, 128);
	proto_msg_clear(&m);
	struct proto_command cmds[2] = {{.cmd = "stop", .lease = 3}, {.cmd = "drain"}};
	struct proto_heartbeat_reply hbr = {.commands = cmds, .n_commands = 2};
	roundtrip(PROTO_HEARTBEAT_REPLY, &hbr, &m);
	assert_int_equal(m.heartbeat_reply.n_commands, 2);
	assert_string_equal(m.heartbeat_reply.commands[1].cmd, "drain");
	assert_int_equal(m.heartbeat_reply.commands[0].lease, 3);
	proto_msg_clear(&m);
	json_t *rec = json_pack("{s:s,s:f}", "event", "x", "ms", 1.5);
	struct proto_debug_event de = {.category = "streams", .record = rec};
	roundtrip(PROTO_DEBUG_EVENT, &de, &m);
	assert_true(json_equal(m.debug_event.record, rec));
	proto_msg_clear(&m);
	json_decref(rec);
	struct proto_admin ad = {.command = "stream", .arg = "12"};
	roundtrip(PROTO_ADMIN, &ad, &m);
	assert_string_equal(m.admin.arg, "12");
	assert_string_equal(m.admin.instance, "");
	proto_msg_clear(&m);
	json_t *res = json_pack("{s:n,s:i}", "x", "n", -5);
	struct proto_admin_reply ar = {.result = res};
	roundtrip(PROTO_ADMIN_REPLY, &ar, &m);
	assert_true(json_equal(m.admin_reply.result, res));
	proto_msg_clear(&m);
	json_decref(res);
}

/* The same bytes as before the field tables (the wire stays compatible):
 * a v1 lease answer written by hand. */
static void test_wire_compatible(void **state)
{
	(void)state;
	json_t *b = json_pack("{s:I,s:s,s:s,s:i,s:s,s:b}", "lease", (json_int_t)9, "scheme", "http",
	                      "host", "h", "port", 6878, "container_id", "c", "fallback", 0);
	uint8_t *buf;
	size_t len;
	assert_int_equal(proto_encode_json(PROTO_LEASE, 3, b, &buf, &len), 0);
	struct proto_msg m;
	char err[256];
	assert_int_equal(proto_decode(buf, len, PROTO_CP_TO_DP, &m, err, sizeof(err)), 0);
	assert_int_equal(m.lease.lease, 9);
	assert_string_equal(m.lease.host, "h");
	assert_string_equal(m.lease.container_id, "c");
	assert_false(m.lease.fallback);
	proto_msg_clear(&m);
	free(buf);
	json_decref(b);
}

/* Direction: each receiver takes only the messages that go its way. */
static void test_direction(void **state)
{
	(void)state;
	struct proto_hello h = {.instance = "dp", .software = "x"};
	uint8_t *buf;
	size_t len;
	assert_int_equal(proto_encode_hello(77, &h, &buf, &len), 0);
	struct proto_msg m;
	char err[256];
	assert_int_equal(proto_decode(buf, len, PROTO_DP_TO_CP, &m, err, sizeof(err)), 0);
	proto_msg_clear(&m);
	assert_int_equal(proto_decode(buf, len, PROTO_CP_TO_DP, &m, err, sizeof(err)), -EPROTOTYPE);
	assert_int_equal(m.id, 77);
	assert_int_equal(m.type, PROTO_HELLO);
	assert_non_null(strstr(err, "hello goes from dataplane to controlplane"));
	assert_string_equal(proto_decode_error_code(-EPROTOTYPE), "unexpected");
	assert_int_equal(proto_decode(buf, len, PROTO_CTL_TO_DAEMON, &m, err, sizeof(err)),
	                 -EPROTOTYPE);
	free(buf);
	/* error and ok are accepted everywhere */
	struct proto_error e = {.code = "x", .message = "y"};
	assert_int_equal(proto_encode_error(1, &e, &buf, &len), 0);
	for (int d = PROTO_DP_TO_CP; d <= PROTO_ANY; d++) {
		assert_int_equal(proto_decode(buf, len, d, &m, err, sizeof(err)), 0);
		proto_msg_clear(&m);
	}
	free(buf);
	/* an admin reply reaches acexyctl only */
	json_t *r = json_object();
	struct proto_admin_reply ar = {.result = r};
	assert_int_equal(proto_encode_admin_reply(1, &ar, &buf, &len), 0);
	assert_int_equal(proto_decode(buf, len, PROTO_DP_TO_CP, &m, err, sizeof(err)), -EPROTOTYPE);
	assert_int_equal(proto_decode(buf, len, PROTO_DAEMON_TO_CTL, &m, err, sizeof(err)), 0);
	proto_msg_clear(&m);
	free(buf);
	json_decref(r);
}

/* Typed fields: wrong types refused, nil for an optional field reads as
 * absent, negative where unsigned refused, records in lists checked. */
static void test_field_types(void **state)
{
	(void)state;
	struct {
		enum proto_type t;
		const char *json;
		int rc;
		const char *why;
	} cases[] = {
	        {PROTO_ASSIGN,
	         "{\"instance\":\"d\",\"key_type\":\"c\",\"key\":\"k\",\"params\":null}", 0, NULL},
	        {PROTO_ASSIGN, "{\"instance\":\"d\",\"key_type\":\"c\",\"key\":\"k\",\"params\":1}",
	         -EINVAL, "params"},
	        {PROTO_ASSIGN, "{\"instance\":\"d\",\"key_type\":\"c\",\"key\":null}", -EINVAL,
	         "key"},
	        {PROTO_STREAM_ENDED,
	         "{\"instance\":\"d\",\"lease\":-1,\"reason\":\"x\",\"bytes\":1,\"duration_ms\":1}",
	         -EINVAL, "lease"},
	        {PROTO_HELLO,
	         "{\"instance\":\"d\",\"software\":\"s\",\"streams\":[1],\"ended\":[]}", -EINVAL,
	         "streams[0]"},
	        {PROTO_HELLO,
	         "{\"instance\":\"d\",\"software\":\"s\",\"streams\":[{\"lease\":\"7\"}],"
	         "\"ended\":[]}",
	         -EINVAL, "hello.streams[0]: field 'lease'"},
	        {PROTO_HELLO,
	         "{\"instance\":\"d\",\"software\":\"s\",\"streams\":[],\"ended\":[],"
	         "\"draining\":\"yes\"}",
	         -EINVAL, "draining"},
	        {PROTO_LEASE,
	         "{\"lease\":1,\"scheme\":\"http\",\"host\":\"h\",\"port\":1,\"fallback\":0}",
	         -EINVAL, "fallback"},
	        {PROTO_ADMIN_REPLY, "{\"result\":[]}", -EINVAL, "result"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *b = json_loads(cases[i].json, 0, NULL);
		assert_non_null(b);
		uint8_t *buf;
		size_t len;
		assert_int_equal(proto_encode_json(cases[i].t, 5, b, &buf, &len), 0);
		struct proto_msg m;
		char err[256] = "";
		int rc = proto_decode(buf, len, PROTO_ANY, &m, err, sizeof(err));
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %d (%s)", i, rc, err);
		if (cases[i].why && !strstr(err, cases[i].why))
			fail_msg("case %zu: '%s' does not name '%s'", i, err, cases[i].why);
		if (rc < 0)
			assert_int_equal(m.id, 5);
		proto_msg_clear(&m);
		free(buf);
		json_decref(b);
	}
}

/* The admin table: lookup and the rows acexyctl prints. */
static void test_admin_table(void **state)
{
	(void)state;
	assert_int_equal(proto_admin_lookup("ping"), PROTO_ADMIN_PING);
	assert_int_equal(proto_admin_lookup("stop"), PROTO_ADMIN_STOP);
	assert_int_equal(proto_admin_lookup("nope"), -1);
	assert_int_equal(proto_admin_lookup(NULL), -1);
	assert_string_equal(proto_admin(PROTO_ADMIN_STREAM)->arg, "ID");
	assert_null(proto_admin(PROTO_ADMIN_STATUS)->arg);
	assert_null(proto_admin(PROTO_ADMIN_COUNT_));
	for (int c = 0; c < PROTO_ADMIN_COUNT_; c++)
		assert_true(proto_admin(c)->name && proto_admin(c)->help && proto_admin(c)->where);
}

static int decode(const uint8_t *b, size_t n, char *err)
{
	struct proto_msg m;
	int rc = proto_decode(b, n, PROTO_ANY, &m, err, 256);
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
	assert_int_equal(proto_decode(unknown, sizeof(unknown), PROTO_ANY, &m, err, sizeof(err)),
	                 -ENOMSG);
	assert_int_equal(m.id, 5);
	/* [9, 2, 1, {}]: version from the future */
	const uint8_t future[] = {0x94, 0x09, 0x02, 0x01, 0x80};
	assert_int_equal(decode(future, sizeof(future), err), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "version 9"));
	/* [1, 12 (assign), 1, {}]: required fields missing */
	const uint8_t missing[] = {0x94, 0x01, 0x0c, 0x01, 0x80};
	assert_int_equal(decode(missing, sizeof(missing), err), -EINVAL);
	assert_non_null(strstr(err, "instance"));
	/* a negative request id could not be answered (ids are unsigned) */
	const uint8_t negid[] = {0x94, 0x01, 0x02, 0xff, 0x80};
	assert_int_equal(decode(negid, sizeof(negid), err), -EINVAL);
	assert_non_null(strstr(err, "request id"));
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
	assert_int_equal(proto_encode_json(PROTO_OK, 1, b, &buf, &len), 0);
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
	assert_int_equal(proto_encode_json(PROTO_STREAM_ENDED, 9, b, &buf, &len), 0);
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(decode(buf, cut, err), 0);
	assert_int_equal(decode(buf, len, err), 0);
	free(buf);
	json_decref(b);
	/* a required field of the wrong type: lease as a string */
	b = json_pack("{s:s,s:s,s:s,s:I,s:I}", "instance", "dp", "lease", "1", "reason", "x",
	              "bytes", (json_int_t)1, "duration_ms", (json_int_t)1);
	assert_int_equal(proto_encode_json(PROTO_STREAM_ENDED, 1, b, &buf, &len), 0);
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
	assert_int_equal(proto_encode_json(PROTO_OK, 1, b, &buf, &len), -E2BIG);
	json_decref(b);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_every_message),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_malformed_more),
	        cmocka_unit_test(test_wire_compatible),
	        cmocka_unit_test(test_direction),
	        cmocka_unit_test(test_field_types),
	        cmocka_unit_test(test_admin_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
