/* The servers' listening sockets: see sp_listen.h. */
#include "sp_listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* "host:port", "[v6]:port", ":port" or "*:port" */
int sp_listen_tcp(const char *url, const char *hp, int *ret, char *err, size_t errcap)
{
	char host[256];
	const char *port;
	if (hp[0] == '[') {
		const char *e = strchr(hp, ']');
		if (!e || e[1] != ':' || (size_t)(e - hp - 1) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(e - hp - 1), hp + 1);
		port = e + 2;
	} else {
		const char *e = strrchr(hp, ':');
		if (!e || (size_t)(e - hp) >= sizeof(host))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(e - hp), hp);
		port = e + 1;
	}
	if (!*port || strspn(port, "0123456789") != strlen(port))
		goto bad;
	bool any = !host[0] || strcmp(host, "*") == 0;
	/* a name resolves as in libnng's resolver (AI_ADDRCONFIG: a family
	 * this host has an address of); every result is tried in turn.
	 * ":port": IPv6 for both families where it exists, else IPv4 */
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST,
	                         .ai_family = any ? AF_INET6 : AF_UNSPEC},
	                *ai = NULL;
	int rc = getaddrinfo(any ? NULL : host, port, &hints, &ai);
	if (rc != 0 && !any) { /* a name (an address needs no configured family) */
		hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_ADDRCONFIG;
		rc = getaddrinfo(host, port, &hints, &ai);
	}
	if (any) {
		struct addrinfo h4 = hints, *ai4 = NULL;
		h4.ai_family = AF_INET;
		if (getaddrinfo(NULL, port, &h4, &ai4) == 0) {
			struct addrinfo **tail = rc == 0 ? &ai->ai_next : &ai;
			while (rc == 0 && *tail)
				tail = &(*tail)->ai_next;
			*tail = ai4; /* freed with the list: both from getaddrinfo */
			rc = 0;
		}
	}
	if (rc != 0) {
		snprintf(err, errcap, "cannot listen on %s: %s", url, gai_strerror(rc));
		return -EINVAL;
	}
	int e = EADDRNOTAVAIL, fd = -1;
	for (struct addrinfo *p = ai; p && fd < 0; p = p->ai_next) {
		fd = socket(p->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = errno;
			continue;
		}
		int one = 1, zero = 0;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (p->ai_family == AF_INET6 && any) /* both families on ":port" */
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, p->ai_addr, p->ai_addrlen) < 0 || listen(fd, 512) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(err, errcap, "cannot listen on %s: %s", url, strerror(e));
		return e == EADDRINUSE ? -EADDRINUSE : e == EACCES || e == EPERM ? -EACCES : -EIO;
	}
	*ret = fd;
	return 0;
bad:
	snprintf(err, errcap, "cannot listen on %s: not host:port", url);
	return -EINVAL;
}

/* A socket file nobody answers on is a leftover: replaced. One that answers
 * belongs to a live process: -EADDRINUSE. */
int sp_listen_ipc(const char *url, const char *path, int *ret, dev_t *dev, ino_t *ino, char *err,
                  size_t errcap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path) || !*path) {
		snprintf(err, errcap, "cannot listen on %s: the path is empty or too long", url);
		return -ENAMETOOLONG;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE)
			goto fail;
		/* non-blocking: a stopped owner with a full backlog is alive,
		 * not a reason to hang here */
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int live = probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		int perr = errno;
		if (probe >= 0)
			close(probe);
		if (live || probe < 0 || perr != ECONNREFUSED) {
			close(fd);
			snprintf(err, errcap, "cannot listen on %s: another process listens there",
			         url);
			return -EADDRINUSE;
		}
		unlink(path);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	struct stat st;
	if (chmod(path, 0660) < 0 || stat(path, &st) < 0 || listen(fd, 512) < 0)
		goto fail;
	*dev = st.st_dev;
	*ino = st.st_ino;
	*ret = fd;
	return 0;
fail:;
	int e = errno;
	if (fd >= 0)
		close(fd);
	snprintf(err, errcap, "cannot listen on %s: %s", url, strerror(e));
	return e == EACCES || e == EPERM ? -EACCES : -EIO;
}
