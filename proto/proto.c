#include "acexy/proto.h"

#include <errno.h>
#include <msgpack.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the tables, as data ---- */

enum pf_type { PF_STR, PF_INT, PF_UINT, PF_BOOL, PF_MAP, PF_LIST };

struct pf_record;
struct pf_field {
	const char *name;
	enum pf_type type;
	bool required;
	size_t off;                  /* the value in the struct */
	size_t count_off;            /* PF_LIST: the size_t count */
	const struct pf_record *rec; /* PF_LIST: the element */
};

struct pf_record {
	const char *name;
	size_t size;
	const struct pf_field *fields;
	size_t nfields;
};

#define REQ                          true
#define OPT                          false
#define PF_REC_none                  NULL
#define PF_DESC_STR(b, f, req, rec)  {#f, PF_STR, req, offsetof(struct proto_##b, f), 0, NULL},
#define PF_DESC_INT(b, f, req, rec)  {#f, PF_INT, req, offsetof(struct proto_##b, f), 0, NULL},
#define PF_DESC_UINT(b, f, req, rec) {#f, PF_UINT, req, offsetof(struct proto_##b, f), 0, NULL},
#define PF_DESC_BOOL(b, f, req, rec) {#f, PF_BOOL, req, offsetof(struct proto_##b, f), 0, NULL},
#define PF_DESC_MAP(b, f, req, rec)  {#f, PF_MAP, req, offsetof(struct proto_##b, f), 0, NULL},
#define PF_DESC_LIST(b, f, req, rec)                                                               \
	{                                                                                          \
	        #f,                                                                                \
	        PF_LIST,                                                                           \
	        req,                                                                               \
	        offsetof(struct proto_##b, f),                                                     \
	        offsetof(struct proto_##b, n_##f),                                                 \
	        &rec_##rec},
#define PF_DESC(b, f, T, req, rec) PF_DESC_##T(b, f, req, rec)
/* every field array ends with a {NULL} row (a body may have no field) */
#define PF_RECORD(b)                                                                               \
	static const struct pf_field fields_##b[] = {                                              \
	        PROTO_BODY_##b(PF_DESC){NULL, 0, 0, 0, 0, NULL}};                                  \
	static const struct pf_record rec_##b = {#b, sizeof(struct proto_##b), fields_##b,         \
	                                         sizeof(fields_##b) / sizeof(fields_##b[0]) - 1};
PROTO_RECORDS(PF_RECORD)
#define PF_MSG_RECORD(id, code, b, dir) PF_RECORD(b)
PROTO_MESSAGES(PF_MSG_RECORD)

struct msg_desc {
	enum proto_type type;
	const char *name;
	enum proto_dir dir;
	const struct pf_record *rec;
};

static const struct msg_desc messages[] = {
#define PF_MSG_DESC(id, code, b, d) {PROTO_##id, #b, d, &rec_##b},
        PROTO_MESSAGES(PF_MSG_DESC)};

static const struct msg_desc *msg_desc(int64_t type)
{
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++)
		if ((int64_t)messages[i].type == type)
			return &messages[i];
	return NULL;
}

const char *proto_type_name(enum proto_type t)
{
	const struct msg_desc *d = msg_desc(t);
	return d ? d->name : NULL;
}

enum proto_dir proto_type_dir(enum proto_type t)
{
	const struct msg_desc *d = msg_desc(t);
	return d ? d->dir : PROTO_ANY;
}

const char *proto_dir_name(enum proto_dir d)
{
	switch (d) {
	case PROTO_DP_TO_CP:
		return "dataplane to controlplane";
	case PROTO_CP_TO_DP:
		return "controlplane to dataplane";
	case PROTO_CTL_TO_DAEMON:
		return "acexyctl to a daemon";
	case PROTO_DAEMON_TO_CTL:
		return "a daemon to acexyctl";
	case PROTO_ANY:
		break;
	}
	return "any";
}

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

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t l = strlen(s);
	msgpack_pack_str(pk, l);
	msgpack_pack_str_body(pk, s, l);
}

static bool field_present(const struct pf_field *f, const uint8_t *base)
{
	if (f->required)
		return true;
	switch (f->type) {
	case PF_STR:
		return *(const char *const *)(base + f->off) != NULL;
	case PF_MAP:
		return *(json_t *const *)(base + f->off) != NULL;
	default:
		return true;
	}
}

static int pack_record(msgpack_packer *pk, const struct pf_record *rec, const uint8_t *base,
                       int depth)
{
	if (depth > PROTO_DEPTH_MAX)
		return -E2BIG;
	size_t n = 0;
	for (size_t i = 0; i < rec->nfields; i++)
		n += field_present(&rec->fields[i], base);
	msgpack_pack_map(pk, n);
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct pf_field *f = &rec->fields[i];
		const uint8_t *v = base + f->off;
		int rc = 0;
		if (!field_present(f, base))
			continue;
		pack_str(pk, f->name);
		switch (f->type) {
		case PF_STR: {
			const char *s = *(const char *const *)v;
			pack_str(pk, s ? s : "");
			break;
		}
		case PF_INT:
			msgpack_pack_int64(pk, *(const int64_t *)v);
			break;
		case PF_UINT:
			if (*(const uint64_t *)v > INT64_MAX)
				return -ERANGE; /* the decoder refuses it */
			msgpack_pack_uint64(pk, *(const uint64_t *)v);
			break;
		case PF_BOOL:
			if (*(const bool *)v)
				msgpack_pack_true(pk);
			else
				msgpack_pack_false(pk);
			break;
		case PF_MAP: {
			json_t *j = *(json_t *const *)v;
			if (j && json_is_object(j))
				rc = pack_json(pk, j, depth + 1);
			else
				msgpack_pack_map(pk, 0);
			break;
		}
		case PF_LIST: {
			const uint8_t *items = *(const uint8_t *const *)v;
			size_t cnt = *(const size_t *)(base + f->count_off);
			if (!items)
				cnt = 0;
			msgpack_pack_array(pk, cnt);
			for (size_t k = 0; k < cnt && rc == 0; k++)
				rc = pack_record(pk, f->rec, items + k * f->rec->size, depth + 2);
			break;
		}
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void pack_envelope(msgpack_packer *pk, enum proto_type type, uint64_t id)
{
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint32(pk, PROTO_VERSION);
	msgpack_pack_uint32(pk, (uint32_t)type);
	msgpack_pack_uint64(pk, id);
}

static int finish(msgpack_sbuffer *sb, int rc, uint8_t **ret_buf, size_t *ret_len)
{
	if (rc == 0 && sb->size > PROTO_MSG_MAX)
		rc = -E2BIG;
	if (rc < 0) {
		msgpack_sbuffer_destroy(sb);
		return rc;
	}
	*ret_len = sb->size;
	*ret_buf = (uint8_t *)msgpack_sbuffer_release(sb);
	return 0;
}

int proto_encode(enum proto_type type, uint64_t id, const void *body, uint8_t **ret_buf,
                 size_t *ret_len)
{
	const struct msg_desc *d = msg_desc(type);
	if (!d)
		return -EINVAL;
	/* a body of the largest kind, zeroed: NULL means "no fields" */
	static const struct proto_msg empty;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_envelope(&pk, type, id);
	int rc = pack_record(&pk, d->rec, body ? body : (const void *)&empty.hello, 1);
	return finish(&sb, rc, ret_buf, ret_len);
}

int proto_encode_json(enum proto_type type, uint64_t id, const json_t *body, uint8_t **ret_buf,
                      size_t *ret_len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack_envelope(&pk, type, id);
	int rc = 0;
	if (body && json_is_object(body))
		rc = pack_json(&pk, body, 1);
	else
		msgpack_pack_map(&pk, 0);
	return finish(&sb, rc, ret_buf, ret_len);
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

/* ---- the typed view of a decoded body ---- */

static void free_record(const struct pf_record *rec, uint8_t *base)
{
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct pf_field *f = &rec->fields[i];
		if (f->type != PF_LIST)
			continue;
		uint8_t **items = (uint8_t **)(base + f->off);
		size_t *cnt = (size_t *)(base + f->count_off);
		if (*items)
			for (size_t k = 0; k < *cnt; k++)
				free_record(f->rec, *items + k * f->rec->size);
		free(*items);
		*items = NULL;
		*cnt = 0;
	}
}

static const char *type_word(enum pf_type t)
{
	static const char *const w[] = {"a string",  "an integer", "an integer >= 0",
	                                "a boolean", "a map",      "an array of maps"};
	return w[t];
}

/* Fills the struct at base from obj; on error says which field. */
static int read_record(const struct pf_record *rec, json_t *obj, uint8_t *base, char *err,
                       size_t errcap, const char *where)
{
	for (size_t i = 0; i < rec->nfields; i++) {
		const struct pf_field *f = &rec->fields[i];
		json_t *j = json_object_get(obj, f->name);
		uint8_t *v = base + f->off;
		if (!j || (json_is_null(j) && !f->required)) {
			if (f->required)
				goto missing;
			if (f->type == PF_STR)
				*(const char **)v = "";
			continue;
		}
		switch (f->type) {
		case PF_STR:
			if (!json_is_string(j))
				goto wrong;
			*(const char **)v = json_string_value(j);
			break;
		case PF_INT:
			if (!json_is_integer(j))
				goto wrong;
			*(int64_t *)v = (int64_t)json_integer_value(j);
			break;
		case PF_UINT:
			if (!json_is_integer(j) || json_integer_value(j) < 0)
				goto wrong;
			*(uint64_t *)v = (uint64_t)json_integer_value(j);
			break;
		case PF_BOOL:
			if (!json_is_boolean(j))
				goto wrong;
			*(bool *)v = json_is_true(j);
			break;
		case PF_MAP:
			if (!json_is_object(j))
				goto wrong;
			*(json_t **)v = j;
			break;
		case PF_LIST: {
			if (!json_is_array(j))
				goto wrong;
			size_t n = json_array_size(j);
			uint8_t *items = n ? calloc(n, f->rec->size) : NULL;
			if (n && !items) {
				snprintf(err, errcap, "out of memory");
				return -ENOMEM;
			}
			*(uint8_t **)v = items;
			*(size_t *)(base + f->count_off) = n;
			for (size_t k = 0; k < n; k++) {
				json_t *e = json_array_get(j, k);
				char sub[96];
				snprintf(sub, sizeof(sub), "%s.%s[%zu]", where, f->name, k);
				if (!json_is_object(e)) {
					snprintf(err, errcap, "%s: not a map", sub);
					return -EINVAL;
				}
				int rc = read_record(f->rec, e, items + k * f->rec->size, err,
				                     errcap, sub);
				if (rc < 0)
					return rc;
			}
			break;
		}
		}
		continue;
	missing:
		snprintf(err, errcap, "%s: field '%s' missing", where, f->name);
		return -EINVAL;
	wrong:
		snprintf(err, errcap, "%s: field '%s' is not %s", where, f->name,
		         type_word(f->type));
		return -EINVAL;
	}
	return 0;
}

int proto_decode(const uint8_t *buf, size_t len, enum proto_dir accept, struct proto_msg *ret,
                 char *err, size_t errcap)
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
		goto free_json;
	}
	if (!json_is_array(root) || json_array_size(root) < 4 ||
	    !json_is_integer(json_array_get(root, 0)) ||
	    !json_is_integer(json_array_get(root, 1)) ||
	    !json_is_integer(json_array_get(root, 2)) || !json_is_object(json_array_get(root, 3))) {
		snprintf(err, errcap, "malformed message: expected [version, type, id, body]");
		goto free_json;
	}
	json_int_t ver = json_integer_value(json_array_get(root, 0));
	json_int_t type = json_integer_value(json_array_get(root, 1));
	json_int_t id = json_integer_value(json_array_get(root, 2));
	if (id < 0) {
		snprintf(err, errcap, "malformed message: negative request id");
		goto free_json;
	}
	ret->id = (uint64_t)id;
	if (ver < PROTO_VERSION_MIN || ver > PROTO_VERSION) {
		snprintf(err, errcap,
		         "protocol version %lld not supported (this side speaks %d to %d)",
		         (long long)ver, PROTO_VERSION_MIN, PROTO_VERSION);
		rc = -EPROTONOSUPPORT;
		goto free_json;
	}
	const struct msg_desc *d = msg_desc(type);
	if (!d) {
		snprintf(err, errcap, "unknown message type %lld", (long long)type);
		rc = -ENOMSG;
		goto free_json;
	}
	if (accept != PROTO_ANY && d->dir != PROTO_ANY && d->dir != accept) {
		snprintf(err, errcap, "%s goes from %s, not from %s", d->name,
		         proto_dir_name(d->dir), proto_dir_name(accept));
		ret->type = d->type;
		rc = -EPROTOTYPE;
		goto free_json;
	}
	json_t *body = json_array_get(root, 3);
	ret->type = d->type;
	ret->version = (uint32_t)ver;
	ret->json = json_incref(body);
	rc = read_record(d->rec, body, (uint8_t *)&ret->hello, err, errcap, d->name);
	if (rc < 0) {
		uint64_t keep = ret->id;
		proto_msg_clear(ret);
		ret->id = keep;
		rc = -EINVAL;
	}
free_json:
	json_decref(root);
	return rc;
}

void proto_msg_clear(struct proto_msg *m)
{
	if (!m)
		return;
	const struct msg_desc *d = m->json ? msg_desc(m->type) : NULL;
	if (d)
		free_record(d->rec, (uint8_t *)&m->hello);
	json_decref(m->json);
	memset(m, 0, sizeof(*m));
}

json_t *proto_debug_record(const struct proto_debug_event *d, char *event, size_t cap)
{
	json_t *f = d->record ? json_deep_copy(d->record) : json_object();
	const char *ev = json_string_value(json_object_get(f, "event"));
	snprintf(event, cap, "%s", ev && ev[0] ? ev : "dataplane_event");
	json_object_del(f, "event");
	return f;
}

const char *proto_decode_error_code(int rc)
{
	switch (rc) {
	case -EPROTONOSUPPORT:
		return "version";
	case -ENOMSG:
		return "unknown_type";
	case -EPROTOTYPE:
		return "unexpected";
	default:
		return "malformed";
	}
}

/* ---- admin commands ---- */

static const struct proto_admin_desc admin_cmds[] = {
#define PF_ADMIN(id, name, arg, where, help) [PROTO_ADMIN_##id] = {name, arg, help, where},
        PROTO_ADMIN_COMMANDS(PF_ADMIN)};

const struct proto_admin_desc *proto_admin(enum proto_admin_cmd c)
{
	return (unsigned)c < PROTO_ADMIN_COUNT_ ? &admin_cmds[c] : NULL;
}

int proto_admin_lookup(const char *name)
{
	for (int i = 0; name && i < PROTO_ADMIN_COUNT_; i++)
		if (strcmp(admin_cmds[i].name, name) == 0)
			return i;
	return -1;
}
