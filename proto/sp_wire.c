/* nng's SP wire format: see acexy/sp_wire.h. */
#include "acexy/sp_wire.h"

#include <string.h>

void sp_header_make(uint16_t proto, uint8_t out[SP_HEADER_LEN])
{
	out[0] = 0;
	out[1] = 'S';
	out[2] = 'P';
	out[3] = 0;
	out[4] = (uint8_t)(proto >> 8);
	out[5] = (uint8_t)proto;
	out[6] = 0;
	out[7] = 0;
}

bool sp_header_parse(const uint8_t in[SP_HEADER_LEN], uint16_t *proto)
{
	if (in[0] != 0 || in[1] != 'S' || in[2] != 'P' || in[3] != 0 || in[6] != 0 || in[7] != 0)
		return false;
	*proto = (uint16_t)(in[4] << 8 | in[5]);
	return true;
}

enum sp_frame_rc sp_frame_next(const uint8_t *buf, size_t len, bool ipc, uint64_t max,
                               const uint8_t **msg, size_t *msglen, size_t *used, size_t *need)
{
	size_t pre = ipc ? 9 : 8;
	*need = 0;
	if (ipc && len > 0 && buf[0] != 0x01)
		return SP_FRAME_BAD;
	if (len < pre)
		return SP_FRAME_MORE;
	uint64_t n = 0;
	for (size_t i = pre - 8; i < pre; i++)
		n = n << 8 | buf[i];
	if (n > max)
		return SP_FRAME_TOO_BIG;
	*need = pre + (size_t)n;
	if (len - pre < n)
		return SP_FRAME_MORE;
	*msg = buf + pre;
	*msglen = (size_t)n;
	*used = pre + (size_t)n;
	return SP_FRAME_OK;
}

size_t sp_frame_prefix(bool ipc, uint64_t msglen, uint8_t out[SP_FRAME_PREFIX_MAX])
{
	size_t h = 0;
	if (ipc)
		out[h++] = 0x01;
	for (int i = 7; i >= 0; i--)
		out[h + (size_t)(7 - i)] = (uint8_t)(msglen >> (8 * i));
	return h + 8;
}

size_t sp_req_backtrace(const uint8_t *msg, size_t len)
{
	for (size_t w = 0; w < SP_BACKTRACE_MAX && 4 * w + 4 <= len; w++)
		if (msg[4 * w] & 0x80)
			return 4 * w + 4;
	return 0;
}
