/* Answers in the daemons' message format: typed replies, errors, and the
 * admin sockets' dispatch by PROTO_ADMIN_COMMANDS. */
#include <stdio.h>
#include <stdlib.h>

#include "acexy/ipc.h"
#include "acexy/proto.h"

void ipc_reply_msg(struct ipc_req *req, enum proto_type type, uint64_t id, const void *body)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (proto_encode(type, id, body, &buf, &len) < 0) {
		struct proto_error e = {.code = "internal", .message = "reply too large"};
		if (proto_encode_error(id, &e, &buf, &len) < 0) {
			buf = NULL;
			len = 0;
		}
	}
	ipc_reply(req, buf, len);
	free(buf);
}

void ipc_reply_error(struct ipc_req *req, uint64_t id, const char *code, const char *message)
{
	struct proto_error e = {.code = code, .message = message};
	ipc_reply_msg(req, PROTO_ERROR, id, &e);
}

bool ipc_admin_serve(struct ipc_req *req, const uint8_t *buf, size_t len,
                     const ipc_admin_fn handlers[PROTO_ADMIN_COUNT_], void *ctx,
                     const char *elsewhere, char *err, size_t errcap)
{
	struct proto_msg m;
	int rc = proto_decode(buf, len, PROTO_CTL_TO_DAEMON, &m, err, errcap);
	if (rc < 0) {
		ipc_reply_error(req, m.id, "malformed", err);
		proto_msg_clear(&m);
		return false;
	}
	int c = proto_admin_lookup(m.admin.command);
	json_t *res = NULL;
	char why[256] = "";
	if (c < 0)
		snprintf(why, sizeof(why), "unknown command '%s'", m.admin.command);
	else if (!handlers[c])
		snprintf(why, sizeof(why), "'%s' is answered by %s", m.admin.command, elsewhere);
	else
		res = handlers[c](ctx, &m.admin, why, sizeof(why));
	if (res) {
		struct proto_admin_reply r = {.result = res};
		ipc_reply_msg(req, PROTO_ADMIN_REPLY, m.id, &r);
		json_decref(res);
	} else {
		ipc_reply_error(req, m.id, "failed", why[0] ? why : "failed");
	}
	proto_msg_clear(&m);
	return true;
}
