/* Worker threads: one libev loop each, an SO_REUSEPORT listener each, a
 * curl multi each. The kernel spreads new connections over the listeners;
 * a stream lives on the worker that accepted its viewer. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "acexy/clock.h"
#include "acexy/curl_ev.h"
#include "acexy/log.h"
#include "dataplane/conn.h"
#include "dataplane/dataplane.h"

static const char *const end_names[DP_END_COUNT_] = {
        "client_gone",    "empty_timeout",  "write_timeout", "upstream_eof",
        "upstream_error", "stopped",        "drain_timeout", "hls_idle",
        "shutdown",       "dataplane_lost", "failover",
};

const double dp_ttfb_bounds[DP_HIST_BOUNDS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                               0.5,   1,    2.5,   5,    10};
const double dp_failover_gap_bounds[DP_HIST_BOUNDS] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                       1,    2.5,   5,    10,  30};

void dp_hist_observe(struct dp_hist *h, const double bounds[DP_HIST_BOUNDS], double seconds)
{
	atomic_fetch_add(&h->sum_us, (uint64_t)(seconds * 1e6));
	atomic_fetch_add(&h->count, 1);
	for (int i = 0; i < DP_HIST_BOUNDS; i++)
		if (seconds <= bounds[i])
			atomic_fetch_add(&h->bucket[i], 1);
	atomic_fetch_add(&h->bucket[DP_HIST_BOUNDS], 1); /* +Inf */
}

const char *dp_end_reason_name(enum dp_end_reason r)
{
	return (unsigned)r < DP_END_COUNT_ ? end_names[r] : "unknown";
}

uint64_t dp_bytes_relayed(struct dp *dp)
{
	uint64_t n = 0;
	for (int i = 0; i < dp->nworkers; i++)
		n += atomic_load(&dp->workers[i].bytes_relayed);
	return n;
}

uint64_t dp_upstream_reads(struct dp *dp)
{
	uint64_t n = 0;
	for (int i = 0; i < dp->nworkers; i++)
		n += atomic_load(&dp->workers[i].upstream_reads);
	return n;
}

uint64_t dp_upstream_zcopy(struct dp *dp)
{
	uint64_t n = 0;
	for (int i = 0; i < dp->nworkers; i++)
		n += atomic_load(&dp->workers[i].upstream_zcopy);
	return n;
}

double dp_now(void)
{
	return acexy_now();
}

static int listen_socket(const struct acexy_addr *addr, int *ret_fd)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", addr->port);
	/* ":8080" binds the IPv6 wildcard with v4-mapped addresses (dual stack),
	 * falling back to IPv4 where IPv6 is unavailable */
	const char *host = addr->host[0] ? addr->host : NULL;
	hints.ai_family = host ? AF_UNSPEC : AF_INET6;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0 && !host) {
		hints.ai_family = AF_INET;
		rc = getaddrinfo(host, port, &hints, &res);
	}
	if (rc != 0)
		return -EADDRNOTAVAIL;
	int fd = -1, err = 0;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1, zero = 0;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		if (ai->ai_family == AF_INET6 && !host)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -(err ? err : EADDRNOTAVAIL);
	*ret_fd = fd;
	return 0;
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	struct worker *w = a->data;
	for (;;) {
		struct worker_cmd cmd;
		pthread_mutex_lock(&w->cmd_mu);
		if (w->cmd_len == 0) {
			pthread_mutex_unlock(&w->cmd_mu);
			break;
		}
		cmd = w->cmdq[w->cmd_head];
		w->cmd_head = (w->cmd_head + 1) % WORKER_CMDQ_MAX;
		w->cmd_len--;
		pthread_mutex_unlock(&w->cmd_mu);
		switch (cmd.type) {
		case WCMD_STOP_LEASE:
			worker_stop_lease(w, cmd.lease_id, cmd.reason);
			break;
		case WCMD_DRAIN_END:
			worker_close_all(w, cmd.reason);
			break;
		case WCMD_ADOPT:
			conn_adopt(w, cmd.handoff);
			break;
		case WCMD_SHUTDOWN:
			w->stopping = true;
			ev_io_stop(loop, &w->accept_w);
			ev_timer_stop(loop, &w->accept_pause);
			worker_close_all(w, DP_END_SHUTDOWN);
			/* engine stop commands (and API calls whose answer names a
			 * session to stop) finish without waking us: look again */
			ev_timer_start(loop, &w->stop_check);
			break;
		}
	}
	if (w->stopping && atomic_load(&w->nconns) == 0 && curl_ev_running(w->curl) == 0)
		ev_break(loop, EVBREAK_ALL);
}

bool worker_post(struct worker *w, const struct worker_cmd *cmd)
{
	bool ok = false;
	pthread_mutex_lock(&w->cmd_mu);
	if (w->cmd_len < WORKER_CMDQ_MAX) {
		w->cmdq[(w->cmd_head + w->cmd_len) % WORKER_CMDQ_MAX] = *cmd;
		w->cmd_len++;
		ok = true;
	} else {
		/* never silent: a full queue means a stuck worker */
		ALOG(ALOG_ERROR, "worker_queue_full", ALOG_I("worker", w->id));
	}
	pthread_mutex_unlock(&w->cmd_mu);
	ev_async_send(w->loop, &w->wake);
	return ok;
}

static void on_stop_check(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;
	if (atomic_load(&w->nconns) == 0 && curl_ev_running(w->curl) == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void on_accept_resume(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct worker *w = t->data;
	if (!w->stopping)
		ev_io_start(loop, &w->accept_w);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals go to the main thread */
	ev_run(w->loop, 0);
	return NULL;
}

int worker_start(struct dp *dp, struct worker *w, int id)
{
	w->dp = dp;
	w->id = id;
	pthread_mutex_init(&w->cmd_mu, NULL);
	w->loop = ev_loop_new(EVFLAG_AUTO | EVBACKEND_EPOLL);
	if (!w->loop)
		return -ENOMEM;
	int rc = listen_socket(&dp->cfg->v[ACEXY_S_LISTEN_ADDR].addr, &w->listen_fd);
	if (rc < 0)
		return rc;
	rc = curl_ev_new(w->loop, &w->curl);
	if (rc < 0)
		return rc;
	w->scratch = malloc(SCRATCH_SIZE);
	if (!w->scratch) {
		curl_ev_free(w->curl);
		w->curl = NULL;
		return -ENOMEM;
	}
	ev_io_init(&w->accept_w, conn_accept_cb, w->listen_fd, EV_READ);
	w->accept_w.data = w;
	ev_io_start(w->loop, &w->accept_w);
	ev_init(&w->accept_pause, on_accept_resume);
	w->accept_pause.data = w;
	ev_timer_init(&w->stop_check, on_stop_check, 0.05, 0.05);
	w->stop_check.data = w;
	ev_async_init(&w->wake, on_wake);
	w->wake.data = w;
	ev_async_start(w->loop, &w->wake);
	return 0;
}

int worker_run(struct worker *w)
{
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return -EAGAIN;
	return 0;
}

void worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
}
