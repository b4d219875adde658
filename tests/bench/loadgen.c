/* acexy-loadgen: the benchmark's HTTP client (libev, one thread).
 *
 *   acexy-loadgen --url URL [--conns N] [--seconds S] [--mode stream|ttfb]
 *                 [--direct] [--ramp-ms MS]
 *
 * stream: N connections read for S seconds (a "%d" in URL becomes the
 *   connection's number: distinct contents). Every body byte is checked
 *   for the MPEG-TS sync byte at each 188-byte boundary; the longest gap
 *   between two reads of one connection is kept.
 * ttfb: N starts one after the other; the time from connect to the first
 *   body byte of each.
 * --direct: do what a proxy does against the engine itself: GET the URL
 *   (which must ask for format=json), then its playback_url, following
 *   302s at once.
 * Bodies may be chunked (the engine) or not (acexy). Prints one JSON object;
 * "bottleneck" is true when this process used more than 90% of a core. */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF (256 * 1024)

struct url {
	char host[300];
	char port[8];
	char path[4096];
};

enum phase { P_API, P_PLAY };

struct conn {
	int idx;
	int fd;
	ev_io io;
	enum phase phase;
	char url[4096];
	char head[16384];
	size_t head_len;
	bool in_body, chunked;
	uint64_t chunk_left; /* chunked: bytes left in this chunk; 0 = size line next */
	char sizeline[32];
	size_t sizeline_len;
	bool chunk_crlf; /* a chunk's trailing CRLF pending */
	int status;
	char api[65536];
	size_t api_len;
	uint64_t bytes, ts_pos;
	uint64_t ts_errors;
	double t0, t_first, t_last, max_gap;
	bool done, failed;
	char error[128];
};

static struct {
	struct ev_loop *loop;
	struct conn *conns;
	int n, open;
	double seconds;
	bool direct, ttfb_mode;
	const char *url_pattern;
	double t_start;
	int next_seq;
	double *ttfbs;
	int nttfb;
	unsigned char *scratch;
} G;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_url(const char *s, struct url *u)
{
	if (strncmp(s, "http://", 7) != 0)
		return -1;
	s += 7;
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	char hp[300];
	if (hl >= sizeof(hp))
		return -1;
	memcpy(hp, s, hl);
	hp[hl] = '\0';
	char *colon = strrchr(hp, ':');
	if (colon) {
		*colon = '\0';
		snprintf(u->port, sizeof(u->port), "%s", colon + 1);
	} else {
		snprintf(u->port, sizeof(u->port), "80");
	}
	snprintf(u->host, sizeof(u->host), "%s", hp);
	snprintf(u->path, sizeof(u->path), "%s", slash ? slash : "/");
	return 0;
}

static void conn_fail(struct conn *c, const char *why);
static void on_io(struct ev_loop *loop, ev_io *w, int revents);
static void start_conn(struct conn *c, const char *url);

static void conn_end(struct conn *c)
{
	if (c->fd >= 0) {
		ev_io_stop(G.loop, &c->io);
		close(c->fd);
		c->fd = -1;
		G.open--;
	}
	c->done = true;
}

static void conn_fail(struct conn *c, const char *why)
{
	if (!c->failed)
		snprintf(c->error, sizeof(c->error), "%s", why);
	c->failed = true;
	conn_end(c);
}

static void start_conn(struct conn *c, const char *url)
{
	struct url u;
	if (strlen(url) >= sizeof(c->url)) {
		conn_fail(c, "url too long");
		return;
	}
	snprintf(c->url, sizeof(c->url), "%s", url);
	if (parse_url(url, &u) < 0) {
		conn_fail(c, "bad url");
		return;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	if (getaddrinfo(u.host, u.port, &hints, &res) != 0 || !res) {
		conn_fail(c, "resolve");
		return;
	}
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(res);
		conn_fail(c, "socket");
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, res->ai_addr, res->ai_addrlen) < 0 && errno != EINPROGRESS) {
		freeaddrinfo(res);
		close(fd);
		conn_fail(c, "connect");
		return;
	}
	freeaddrinfo(res);
	char req[5000];
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: acexy-loadgen\r\n"
	                 "Connection: close\r\n\r\n",
	                 u.path, u.host, u.port);
	/* the request fits in the empty socket buffer once connected */
	c->fd = fd;
	c->head_len = 0;
	c->in_body = c->chunked = false;
	c->chunk_left = 0;
	c->sizeline_len = 0;
	c->chunk_crlf = false;
	c->status = 0;
	G.open++;
	ev_io_init(&c->io, on_io, fd, EV_WRITE);
	c->io.data = c;
	ev_io_start(G.loop, &c->io);
	memcpy(c->head, req, (size_t)n); /* request kept here until sent */
	c->head_len = (size_t)n;
}

static void body_bytes(struct conn *c, const unsigned char *p, size_t n)
{
	double t = now();
	if (c->bytes == 0) {
		c->t_first = t;
		if (G.ttfb_mode) {
			G.ttfbs[G.nttfb++] = t - c->t0;
			conn_end(c);
			return;
		}
	} else if (t - c->t_last > c->max_gap) {
		c->max_gap = t - c->t_last;
	}
	c->t_last = t;
	/* the sync byte at every packet boundary */
	uint64_t pos = c->ts_pos;
	size_t off = (size_t)((188 - pos % 188) % 188);
	for (size_t i = off; i < n; i += 188)
		if (p[i] != 0x47)
			c->ts_errors++;
	c->ts_pos += n;
	c->bytes += n;
}

static void api_body(struct conn *c, const unsigned char *p, size_t n)
{
	if (c->api_len + n >= sizeof(c->api)) {
		conn_fail(c, "api answer too large");
		return;
	}
	memcpy(c->api + c->api_len, p, n);
	c->api_len += n;
	c->api[c->api_len] = '\0';
}

/* Body bytes, de-chunked when needed. */
static void body(struct conn *c, const unsigned char *p, size_t n)
{
	while (n > 0 && !c->done) {
		if (!c->chunked) {
			if (c->phase == P_API)
				api_body(c, p, n);
			else
				body_bytes(c, p, n);
			return;
		}
		if (c->chunk_crlf) {
			if (*p == '\n')
				c->chunk_crlf = false;
			p++;
			n--;
			continue;
		}
		if (c->chunk_left == 0) {
			/* size line */
			while (n > 0 && *p != '\n') {
				if (c->sizeline_len + 1 < sizeof(c->sizeline))
					c->sizeline[c->sizeline_len++] = (char)*p;
				p++;
				n--;
			}
			if (n == 0)
				return;
			p++;
			n--;
			c->sizeline[c->sizeline_len] = '\0';
			c->chunk_left = strtoull(c->sizeline, NULL, 16);
			c->sizeline_len = 0;
			if (c->chunk_left == 0) { /* last chunk */
				if (c->phase == P_API)
					return; /* handled at EOF */
				conn_end(c);
				return;
			}
			continue;
		}
		size_t take = n < c->chunk_left ? n : (size_t)c->chunk_left;
		if (c->phase == P_API)
			api_body(c, p, take);
		else
			body_bytes(c, p, take);
		p += take;
		n -= take;
		c->chunk_left -= take;
		if (c->chunk_left == 0)
			c->chunk_crlf = true;
	}
}

static bool header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
			const char *v = p + 3 + nl;
			while (*v == ' ')
				v++;
			size_t l = strcspn(v, "\r\n");
			if (l >= cap)
				return false;
			memcpy(out, v, l);
			out[l] = '\0';
			return true;
		}
	}
	return false;
}

static void headers_done(struct conn *c, size_t head_end)
{
	c->head[head_end] = '\0';
	c->status = atoi(c->head + 9);
	char v[4096];
	c->chunked = header_value(c->head, "Transfer-Encoding", v, sizeof(v)) &&
	             strstr(v, "chunked") != NULL;
	if (c->status >= 300 && c->status < 400 &&
	    header_value(c->head, "Location", v, sizeof(v))) {
		/* follow at once, without waiting for the body */
		char url[4800];
		if (v[0] == '/') {
			struct url u;
			parse_url(c->url, &u);
			snprintf(url, sizeof(url), "http://%s:%s%s", u.host, u.port, v);
		} else {
			snprintf(url, sizeof(url), "%s", v);
		}
		ev_io_stop(G.loop, &c->io);
		close(c->fd);
		c->fd = -1;
		G.open--;
		start_conn(c, url);
		return;
	}
	if (c->status != 200) {
		char why[64];
		snprintf(why, sizeof(why), "HTTP %d", c->status);
		conn_fail(c, why);
		return;
	}
	c->in_body = true;
}

static void api_done(struct conn *c)
{
	const char *k = strstr(c->api, "\"playback_url\"");
	const char *q = k ? strchr(k + 14, '"') : NULL;
	const char *e = q ? strchr(q + 1, '"') : NULL;
	if (!e) {
		conn_fail(c, "no playback_url");
		return;
	}
	char url[4096];
	size_t l = 0;
	for (const char *s = q + 1; s < e && l + 1 < sizeof(url); s++)
		if (!(s[0] == '\\' && s[1] == '/'))
			url[l++] = *s;
	url[l] = '\0';
	c->phase = P_PLAY;
	ev_io_stop(G.loop, &c->io);
	close(c->fd);
	c->fd = -1;
	G.open--;
	start_conn(c, url);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	if (revents & EV_WRITE) {
		ssize_t n = send(c->fd, c->head, c->head_len, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n != (ssize_t)c->head_len) {
			conn_fail(c, "send");
			return;
		}
		c->head_len = 0;
		ev_io_stop(loop, w);
		ev_io_set(w, c->fd, EV_READ);
		ev_io_start(loop, w);
		return;
	}
	for (int round = 0; round < 4 && !c->done && c->fd >= 0; round++) {
		ssize_t n;
		if (!c->in_body) {
			n = recv(c->fd, c->head + c->head_len, sizeof(c->head) - 1 - c->head_len,
			         0);
		} else {
			n = recv(c->fd, G.scratch, BUF, 0);
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			if (c->phase == P_API && c->in_body) {
				api_done(c);
				return;
			}
			if (c->bytes == 0)
				conn_fail(c, n == 0 ? "closed before data" : "recv");
			else
				conn_end(c);
			return;
		}
		if (!c->in_body) {
			c->head_len += (size_t)n;
			c->head[c->head_len] = '\0';
			char *end = strstr(c->head, "\r\n\r\n");
			if (!end) {
				if (c->head_len >= sizeof(c->head) - 1)
					conn_fail(c, "headers too long");
				continue;
			}
			size_t he = (size_t)(end - c->head) + 4;
			size_t rest = c->head_len - he;
			unsigned char tmp[16384];
			memcpy(tmp, c->head + he, rest);
			headers_done(c, he - 2);
			if (c->in_body && rest)
				body(c, tmp, rest);
			if (c->in_body && c->phase == P_API && c->api_len > 0 && !c->chunked &&
			    strstr(c->api, "}}") == NULL)
				continue;
			continue;
		}
		body(c, G.scratch, (size_t)n);
		if (c->phase == P_API && c->chunked && c->chunk_left == 0 && c->api_len > 0 &&
		    !c->chunk_crlf && strrchr(c->api, '}')) {
			/* a complete chunked JSON answer: go on without waiting for EOF */
			api_done(c);
			return;
		}
	}
}

static char *conn_url(int i)
{
	static char buf[4096];
	const char *p = strstr(G.url_pattern, "%d");
	if (!p) {
		snprintf(buf, sizeof(buf), "%s", G.url_pattern);
	} else {
		snprintf(buf, sizeof(buf), "%.*s%d%s", (int)(p - G.url_pattern), G.url_pattern, i,
		         p + 2);
	}
	return buf;
}

static void begin(struct conn *c, int i)
{
	memset(c, 0, sizeof(*c));
	c->idx = i;
	c->fd = -1;
	c->phase = G.direct ? P_API : P_PLAY;
	c->t0 = now();
	start_conn(c, conn_url(i));
}

static ev_timer stop_timer, ramp_timer, ttfb_timer;
static int ramped, ramp_batch = 10;
static double ramp_s;

static void on_stop(struct ev_loop *loop, ev_timer *t, int revents)
{
	ev_break(loop, EVBREAK_ALL);
}

static void on_ramp(struct ev_loop *loop, ev_timer *t, int revents)
{
	int batch = ramp_s > 0 ? ramp_batch : G.n;
	for (int k = 0; k < batch && ramped < G.n; k++, ramped++)
		begin(&G.conns[ramped], ramped);
	if (ramped >= G.n)
		ev_timer_stop(loop, t);
}

static void on_ttfb(struct ev_loop *loop, ev_timer *t, int revents)
{
	/* one start at a time */
	struct conn *c = &G.conns[0];
	if (ramped > 0 && !c->done)
		return;
	if (ramped > 0 && c->failed) {
		fprintf(stderr, "start %d failed: %s\n", ramped, c->error);
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (ramped >= G.n) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	begin(c, ramped++);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	G.n = 1;
	G.seconds = 5;
	const char *mode = "stream";
	double ramp_ms = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--url") && i + 1 < argc)
			G.url_pattern = argv[++i];
		else if (!strcmp(argv[i], "--conns") && i + 1 < argc)
			G.n = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			G.seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "--direct"))
			G.direct = true;
		else if (!strcmp(argv[i], "--ramp-ms") && i + 1 < argc)
			ramp_ms = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ramp-batch") && i + 1 < argc)
			ramp_batch = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: acexy-loadgen --url URL [--conns N] [--seconds S] "
			                "[--mode stream|ttfb] [--direct] [--ramp-ms MS] "
			                "[--ramp-batch N]\n");
			return 2;
		}
	}
	if (!G.url_pattern || G.n < 1)
		return 2;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)G.n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	G.ttfb_mode = !strcmp(mode, "ttfb");
	G.loop = EV_DEFAULT;
	G.scratch = malloc(BUF);
	G.conns = calloc(G.ttfb_mode ? 1 : (size_t)G.n, sizeof(struct conn));
	G.ttfbs = calloc((size_t)G.n, sizeof(double));
	if (!G.scratch || !G.conns || !G.ttfbs)
		return 1;
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	G.t_start = now();
	if (G.ttfb_mode) {
		ev_timer_init(&ttfb_timer, on_ttfb, 0., 0.0001);
		ev_timer_start(G.loop, &ttfb_timer);
	} else {
		ramp_s = ramp_ms / 1000.0;
		ev_timer_init(&ramp_timer, on_ramp, 0., ramp_s > 0 ? ramp_s : 1.0);
		ev_timer_start(G.loop, &ramp_timer);
		ev_timer_init(&stop_timer, on_stop, G.seconds, 0.);
		ev_timer_start(G.loop, &stop_timer);
	}
	ev_run(G.loop, 0);
	double wall = now() - G.t_start;
	getrusage(RUSAGE_SELF, &ru1);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	             (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	             (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	if (G.ttfb_mode) {
		qsort(G.ttfbs, (size_t)G.nttfb, sizeof(double), cmp_d);
		double sum = 0;
		for (int i = 0; i < G.nttfb; i++)
			sum += G.ttfbs[i];
		printf("{\"mode\":\"ttfb\",\"starts\":%d,\"ok\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
		       "\"mean_ms\":%.3f,\"cpu_s\":%.3f,\"wall_s\":%.3f}\n",
		       G.n, G.nttfb, G.nttfb ? G.ttfbs[G.nttfb / 2] * 1000 : 0,
		       G.nttfb ? G.ttfbs[(int)((G.nttfb - 1) * 0.99)] * 1000 : 0,
		       G.nttfb ? sum / G.nttfb * 1000 : 0, cpu, wall);
		return G.nttfb == G.n ? 0 : 1;
	}
	uint64_t bytes = 0, ts_err = 0;
	int ok = 0, failed = 0;
	double max_gap = 0;
	const char *err = "";
	for (int i = 0; i < G.n; i++) {
		struct conn *c = &G.conns[i];
		bytes += c->bytes;
		ts_err += c->ts_errors;
		if (c->failed) {
			failed++;
			err = c->error;
		} else if (c->bytes > 0) {
			ok++;
		}
		if (c->max_gap > max_gap)
			max_gap = c->max_gap;
	}
	printf("{\"mode\":\"stream\",\"conns\":%d,\"ok\":%d,\"failed\":%d,\"bytes\":%llu,"
	       "\"gib_per_s\":%.4f,\"ts_errors\":%llu,\"max_gap_ms\":%.1f,\"cpu_s\":%.3f,"
	       "\"wall_s\":%.3f,\"bottleneck\":%s,\"last_error\":\"%s\"}\n",
	       G.n, ok, failed, (unsigned long long)bytes, bytes / wall / 1073741824.0,
	       (unsigned long long)ts_err, max_gap * 1000, cpu, wall,
	       cpu / wall > 0.9 ? "true" : "false", err);
	return 0;
}
