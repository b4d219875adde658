/* The benchmark's ceiling baseline: the least a TCP proxy can do on Linux.
 * One process per connection, blocking sockets, bytes moved between the two
 * sockets with splice(2) through a pipe in both directions, no parsing, no
 * buffering policy, no limits. Not a product: it shows what the extra TCP
 * hop itself costs on this machine, so acexy's throughput can be read
 * against it.
 *   acexy-splice-relay LISTEN_PORT TARGET_PORT      (both on 127.0.0.1) */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PIPE_BYTES (256 * 1024)

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* from -> to through pipe p: whatever is there, all of it. 0 at the end. */
static int move(int from, int to, int p[2])
{
	ssize_t n = splice(from, NULL, p[1], NULL, PIPE_BYTES, SPLICE_F_MOVE);
	if (n <= 0)
		return 0;
	while (n > 0) {
		ssize_t w = splice(p[0], NULL, to, NULL, (size_t)n, SPLICE_F_MOVE);
		if (w <= 0)
			return 0;
		n -= w;
	}
	return 1;
}

static void relay(int client, int target_port)
{
	int up = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in t = loopback(target_port);
	if (up < 0 || connect(up, (struct sockaddr *)&t, sizeof(t)) < 0)
		return;
	int down[2], upp[2];
	if (pipe(down) < 0 || pipe(upp) < 0)
		return;
	fcntl(down[1], F_SETPIPE_SZ, PIPE_BYTES);
	struct pollfd fds[2] = {{client, POLLIN, 0}, {up, POLLIN, 0}};
	for (;;) {
		if (poll(fds, 2, -1) < 0)
			return;
		if (fds[0].revents && !move(client, up, upp))
			return;
		if (fds[1].revents && !move(up, client, down))
			return;
	}
}

static void reap(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		; /* reaped: their CPU time shows in the parent's children times */
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: acexy-splice-relay LISTEN_PORT TARGET_PORT\n");
		return 2;
	}
	int port = atoi(argv[1]), target = atoi(argv[2]);
	signal(SIGCHLD, reap);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = loopback(port);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 128) < 0) {
		perror("acexy-splice-relay: listen");
		return 1;
	}
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0)
			continue;
		pid_t pid = fork();
		if (pid == 0) {
			close(l);
			relay(c, target);
			_exit(0);
		}
		close(c);
	}
}
