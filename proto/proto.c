#include "acexy/proto.h"

#include <errno.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *proto_type_name(enum proto_type t)
{
	switch (t) {
#define PROTO_X_NAME(id, code, name, dir)                                                          \
	case PROTO_##id:                                                                           \
		return name;
		PROTO_MESSAGES(PROTO_X_NAME)
#undef PROTO_X_NAME
	}
	return NULL;
}

/* Required fields per message type: the rest of a body is optional and
 * unknown fields are ignored. */
struct field_rule {
	enum proto_type type;
	const char *key;
	int jtype; /* JSON_STRING, JSON_INTEGER, JSON_ARRAY, JSON_OBJECT, JSON_TRUE (=bool) */
};

static const struct field_rule rules[] = {
        {PROTO_ERROR, "code", JSON_STRING},
        {PROTO_ERROR, "message", JSON_STRING},
        {PROTO_HELLO, "instance", JSON_STRING},
        {PROTO_HELLO, "software", JSON_STRING},
        {PROTO_HELLO, "streams", JSON_ARRAY},
        {PROTO_HELLO, "ended", JSON_ARRAY},
        {PROTO_ASSIGN, "instance", JSON_STRING},
        {PROTO_ASSIGN, "key_type", JSON_STRING},
        {PROTO_ASSIGN, "key", JSON_STRING},
        {PROTO_LEASE, "lease", JSON_INTEGER},
        {PROTO_LEASE, "scheme", JSON_STRING},
        {PROTO_LEASE, "host", JSON_STRING},
        {PROTO_LEASE, "port", JSON_INTEGER},
        {PROTO_LEASE, "fallback", JSON_TRUE},
        {PROTO_REFUSAL, "reason", JSON_STRING},
        {PROTO_REFUSAL, "retry_after", JSON_INTEGER},
        {PROTO_SESSION_STARTED, "instance", JSON_STRING},
        {PROTO_SESSION_STARTED, "lease", JSON_INTEGER},
        {PROTO_SESSION_STARTED, "playback_session_id", JSON_STRING},
        {PROTO_STREAM_ENDED, "instance", JSON_STRING},
        {PROTO_STREAM_ENDED, "lease", JSON_INTEGER},
        {PROTO_STREAM_ENDED, "reason", JSON_STRING},
        {PROTO_STREAM_ENDED, "bytes", JSON_INTEGER},
        {PROTO_STREAM_ENDED, "duration_ms", JSON_INTEGER},
        {PROTO_HEARTBEAT, "instance", JSON_STRING},
        {PROTO_HEARTBEAT, "streams", JSON_ARRAY},
        {PROTO_HEARTBEAT_REPLY, "commands", JSON_ARRAY},
        {PROTO_DEBUG_EVENT, "category", JSON_STRING},
        {PROTO_DEBUG_EVENT, "record", JSON_OBJECT},
        {PROTO_ADMIN, "command", JSON_STRING},
        {PROTO_ADMIN_REPLY, "result", JSON_OBJECT},
};

/* ---- encoding (msgpack-c packer) ---- */

static int pack_json(msgpack_packer *pk, const json_t *v, int depth)
{
	if (depth > PROTO_DEPTH_MAX)
		return -E2BIG;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *val;
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach((json_t *)v, k, val)
		{
			size_t kl = strlen(k);
			msgpack_pack_str(pk, kl);
			msgpack_pack_str_body(pk, k, kl);
			int rc = pack_json(pk, val, depth + 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *val;
		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, val)
		{
			int rc = pack_json(pk, val, depth + 1);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	case JSON_STRING: {
		size_t l = json_string_length(v);
		msgpack_pack_str(pk, l);
		msgpack_pack_str_body(pk, json_string_value(v), l);
		return 0;
	}
	case JSON_INTEGER:
		msgpack_pack_int64(pk, (int64_t)json_integer_value(v));
		return 0;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		return 0;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		return 0;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		return 0;
	case JSON_NULL:
		msgpack_pack_nil(pk);
		return 0;
	}
	return -EINVAL;
}

int proto_encode(enum proto_type type, uint64_t id, const json_t *body, uint8_t **ret_buf,
                 size_t *ret_len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 4);
	msgpack_pack_uint32(&pk, PROTO_VERSION);
	msgpack_pack_uint32(&pk, (uint32_t)type);
	msgpack_pack_uint64(&pk, id);
	int rc;
	if (body && json_is_object(body)) {
		rc = pack_json(&pk, body, 1);
	} else {
		msgpack_pack_map(&pk, 0);
		rc = 0;
	}
	if (rc == 0 && sb.size > PROTO_MSG_MAX)
		rc = -E2BIG;
	if (rc < 0) {
		msgpack_sbuffer_destroy(&sb);
		return rc;
	}
	*ret_len = sb.size;
	*ret_buf = (uint8_t *)msgpack_sbuffer_release(&sb);
	return 0;
}

/* ---- decoding: a small bounded msgpack reader ----
 * msgpack-c's unpacker trusts declared lengths (5 hostile bytes can ask for
 * 8 GiB), so the wire is walked here with every length checked first. */

struct rd {
	const uint8_t *p, *end;
	size_t elems;
	const char *err;
};

static int need(struct rd *r, size_t n)
{
	if ((size_t)(r->end - r->p) < n) {
		r->err = "truncated message";
		return -EINVAL;
	}
	return 0;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

static json_t *read_value(struct rd *r, int depth);

static json_t *read_str(struct rd *r, size_t len)
{
	if (need(r, len) < 0)
		return NULL;
	json_t *s = json_stringn((const char *)r->p, len);
	if (!s)
		r->err = "string is not valid UTF-8";
	r->p += len;
	return s;
}

static json_t *read_array(struct rd *r, size_t n, int depth)
{
	/* every element takes at least one byte: check before allocating */
	if ((size_t)(r->end - r->p) < n || (r->elems += n) > PROTO_ELEMS_MAX) {
		r->err = "array longer than the message";
		return NULL;
	}
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++) {
		json_t *v = read_value(r, depth + 1);
		if (!v || json_array_append_new(a, v) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static json_t *read_map(struct rd *r, size_t n, int depth)
{
	if ((size_t)(r->end - r->p) / 2 < n || (r->elems += n) > PROTO_ELEMS_MAX) {
		r->err = "map longer than the message";
		return NULL;
	}
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		json_t *k = read_value(r, depth + 1);
		if (!k || !json_is_string(k)) {
			if (k && !r->err)
				r->err = "map key is not a string";
			json_decref(k);
			json_decref(o);
			return NULL;
		}
		json_t *v = read_value(r, depth + 1);
		if (!v) {
			json_decref(k);
			json_decref(o);
			return NULL;
		}
		if (strlen(json_string_value(k)) != json_string_length(k)) {
			r->err = "map key contains NUL";
			json_decref(k);
			json_decref(v);
			json_decref(o);
			return NULL;
		}
		json_object_set_new(o, json_string_value(k), v);
		json_decref(k);
	}
	return o;
}

static json_t *read_value(struct rd *r, int depth)
{
	if (depth > PROTO_DEPTH_MAX) {
		r->err = "nested too deeply";
		return NULL;
	}
	if (need(r, 1) < 0)
		return NULL;
	uint8_t t = *r->p++;
	if (t <= 0x7f)
		return json_integer(t);
	if (t >= 0xe0)
		return json_integer((int8_t)t);
	if ((t & 0xf0) == 0x80)
		return read_map(r, t & 0x0f, depth);
	if ((t & 0xf0) == 0x90)
		return read_array(r, t & 0x0f, depth);
	if ((t & 0xe0) == 0xa0)
		return read_str(r, t & 0x1f);
	int n = 0;
	switch (t) {
	case 0xc0:
		return json_null();
	case 0xc2:
		return json_false();
	case 0xc3:
		return json_true();
	case 0xcc:
	case 0xcd:
	case 0xce:
	case 0xcf: {
		n = 1 << (t - 0xcc);
		if (need(r, (size_t)n) < 0)
			return NULL;
		uint64_t v = be(r->p, n);
		r->p += n;
		if (v > INT64_MAX) {
			r->err = "integer out of range";
			return NULL;
		}
		return json_integer((json_int_t)v);
	}
	case 0xd0:
	case 0xd1:
	case 0xd2:
	case 0xd3: {
		n = 1 << (t - 0xd0);
		if (need(r, (size_t)n) < 0)
			return NULL;
		uint64_t v = be(r->p, n);
		r->p += n;
		int64_t s;
		if (n == 1)
			s = (int8_t)v;
		else if (n == 2)
			s = (int16_t)v;
		else if (n == 4)
			s = (int32_t)v;
		else
			s = (int64_t)v;
		return json_integer((json_int_t)s);
	}
	case 0xca:
	case 0xcb: {
		n = t == 0xca ? 4 : 8;
		if (need(r, (size_t)n) < 0)
			return NULL;
		uint64_t v = be(r->p, n);
		r->p += n;
		double d;
		if (n == 4) {
			uint32_t u = (uint32_t)v;
			float f;
			memcpy(&f, &u, 4);
			d = f;
		} else {
			memcpy(&d, &v, 8);
		}
		json_t *j = json_real(d);
		if (!j)
			r->err = "invalid number";
		return j;
	}
	case 0xd9:
	case 0xda:
	case 0xdb:
		n = 1 << (t - 0xd9);
		if (need(r, (size_t)n) < 0)
			return NULL;
		{
			uint64_t l = be(r->p, n);
			r->p += n;
			if (l > (uint64_t)(r->end - r->p)) {
				r->err = "string longer than the message";
				return NULL;
			}
			return read_str(r, (size_t)l);
		}
	case 0xdc:
	case 0xdd:
	case 0xde:
	case 0xdf: {
		n = (t == 0xdc || t == 0xde) ? 2 : 4;
		if (need(r, (size_t)n) < 0)
			return NULL;
		uint64_t l = be(r->p, n);
		r->p += n;
		if (l > (uint64_t)(r->end - r->p)) {
			r->err = "container longer than the message";
			return NULL;
		}
		return t <= 0xdd ? read_array(r, (size_t)l, depth) : read_map(r, (size_t)l, depth);
	}
	default:
		r->err = "unsupported msgpack type (bin, ext)";
		return NULL;
	}
}

static bool known_type(int64_t t)
{
	switch (t) {
#define PROTO_X_KNOWN(id, code, name, dir) case code:
		PROTO_MESSAGES(PROTO_X_KNOWN)
#undef PROTO_X_KNOWN
		return true;
	default:
		return false;
	}
}

int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *ret, char *err, size_t errcap)
{
	memset(ret, 0, sizeof(*ret));
	if (len > PROTO_MSG_MAX) {
		snprintf(err, errcap, "message larger than %d bytes", PROTO_MSG_MAX);
		return -EINVAL;
	}
	struct rd r = {.p = buf, .end = buf + len};
	json_t *root = read_value(&r, 0);
	int rc = -EINVAL;
	if (!root) {
		snprintf(err, errcap, "malformed message: %s", r.err ? r.err : "out of memory");
		return -EINVAL;
	}
	if (r.p != r.end) {
		snprintf(err, errcap, "malformed message: trailing bytes");
		goto out;
	}
	if (!json_is_array(root) || json_array_size(root) < 4 ||
	    !json_is_integer(json_array_get(root, 0)) ||
	    !json_is_integer(json_array_get(root, 1)) ||
	    !json_is_integer(json_array_get(root, 2)) || !json_is_object(json_array_get(root, 3))) {
		snprintf(err, errcap, "malformed message: expected [version, type, id, body]");
		goto out;
	}
	json_int_t ver = json_integer_value(json_array_get(root, 0));
	json_int_t type = json_integer_value(json_array_get(root, 1));
	json_int_t id = json_integer_value(json_array_get(root, 2));
	ret->id = (uint64_t)id;
	if (ver < PROTO_VERSION_MIN || ver > PROTO_VERSION) {
		snprintf(err, errcap,
		         "protocol version %lld not supported (this side speaks %d to %d)",
		         (long long)ver, PROTO_VERSION_MIN, PROTO_VERSION);
		rc = -EPROTONOSUPPORT;
		goto out;
	}
	if (!known_type(type)) {
		snprintf(err, errcap, "unknown message type %lld", (long long)type);
		rc = -ENOMSG;
		goto out;
	}
	json_t *body = json_array_get(root, 3);
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		if ((int64_t)rules[i].type != type)
			continue;
		json_t *f = json_object_get(body, rules[i].key);
		bool ok =
		        f && (rules[i].jtype == JSON_TRUE ? json_is_boolean(f)
		                                          : (int)json_typeof(f) == rules[i].jtype);
		if (!ok) {
			snprintf(err, errcap, "%s: field '%s' missing or of the wrong type",
			         proto_type_name((enum proto_type)type), rules[i].key);
			goto out;
		}
	}
	ret->version = (uint32_t)ver;
	ret->type = (enum proto_type)type;
	ret->body = json_incref(body);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void proto_msg_clear(struct proto_msg *m)
{
	if (!m)
		return;
	json_decref(m->body);
	m->body = NULL;
}

json_t *proto_error_body(const char *code, const char *message)
{
	return json_pack("{s:s, s:s}", "code", code, "message", message);
}
