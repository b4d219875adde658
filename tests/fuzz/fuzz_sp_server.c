/* Any bytes from a peer of the daemons' servers (proto/ipc_server.c and the
 * SP wire format of acexy/sp_wire.h), arriving in pieces of any size: the
 * server answers, waits for more or drops the peer, and never crashes,
 * leaks or reads outside its buffers. The first input byte chooses the
 * piece sizes; requests whose body starts with 'L' are answered later
 * (after their peer may be gone), the rest at once. */
#include <errno.h>
#include <ev.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "acexy/ipc.h"
#include "acexy/sp_wire.h"

static struct ev_loop *loop;
static struct ipc_server *srv;
static char path[108];
static struct ipc_req *later[64];
static size_t nlater;

static void on_request(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	(void)ud;
	if (len > 0 && buf[0] == 'L' && nlater < sizeof(later) / sizeof(later[0])) {
		later[nlater++] = req;
		return;
	}
	ipc_reply(req, buf, len < 64 ? len : 64);
}

static void setup(void)
{
	char dir[] = "/tmp/acexy-fuzz-sp-XXXXXX", url[200];
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	snprintf(url, sizeof(url), "ipc://%s", path);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (ipc_server_open(loop, url, 4, true, on_request, NULL, &srv) != 0)
		abort();
}

static void turn(int n)
{
	for (int i = 0; i < n; i++)
		ev_run(loop, EVRUN_NOWAIT);
}

static void drain(int fd)
{
	uint8_t b[4096];
	while (recv(fd, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!loop)
		setup();
	if (size == 0)
		return 0;
	size_t piece = (size_t)(data[0] % 16) + 1;
	data++;
	size--;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		abort();
	/* a REQ peer's header, then the input: most of it framed, in pieces */
	uint8_t h[SP_HEADER_LEN];
	sp_header_make(SP_PROTO_REQ0, h);
	if (size == 0 || data[0] != 0xff) {
		if (send(fd, h, sizeof(h), MSG_NOSIGNAL) != (ssize_t)sizeof(h))
			abort();
	}
	turn(2);
	for (size_t off = 0; off < size; off += piece) {
		size_t n = size - off < piece ? size - off : piece;
		if (send(fd, data + off, n, MSG_NOSIGNAL) < 0 && errno != EAGAIN)
			break; /* dropped by the server */
		turn(1);
		drain(fd);
	}
	turn(3);
	drain(fd);
	close(fd);
	turn(3);
	/* answers to peers gone meanwhile go nowhere */
	for (size_t i = 0; i < nlater; i++)
		ipc_reply(later[i], "late", 4);
	nlater = 0;
	turn(2);
	return 0;
}
