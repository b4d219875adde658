#include "acexy/curl_ev.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct sock_watch {
	ev_io io;
	struct curl_ev *ce;
	curl_socket_t fd;
};

struct xfer_ctx {
	curl_ev_done_fn done;
	curl_ev_connected_fn connected; /* CONNECT_ONLY transfers */
	void *ud;
	bool finished; /* its callback ran (a connected transfer stays added) */
};

struct curl_ev {
	struct ev_loop *loop;
	CURLM *multi;
	ev_timer timer;
	int running;    /* curl's own count, updated only by socket actions */
	int unfinished; /* added and not yet reported done: what shutdown waits for */
};

static void check_done(struct curl_ev *ce)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(ce->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode res = msg->data.result;
		struct xfer_ctx *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		if (x && x->connected) {
			curl_ev_connected_fn connected = x->connected;
			void *ud = x->ud;
			curl_socket_t sock = CURL_SOCKET_BAD;
			if (res == CURLE_OK &&
			    (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &sock) != CURLE_OK ||
			     sock == CURL_SOCKET_BAD))
				res = CURLE_COULDNT_CONNECT;
			ce->unfinished--;
			if (res != CURLE_OK) {
				curl_multi_remove_handle(ce->multi, easy);
				curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
				free(x);
				connected(ud, easy, res, -1);
			} else {
				/* stays in the multi handle until curl_ev_remove():
				 * removing a CONNECT_ONLY transfer closes its connection */
				x->connected = NULL;
				x->finished = true;
				connected(ud, easy, res, (int)sock);
			}
			continue;
		}
		curl_multi_remove_handle(ce->multi, easy);
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		if (x) {
			ce->unfinished--;
			curl_ev_done_fn done = x->done;
			void *ud = x->ud;
			free(x);
			if (done)
				done(ud, easy, res);
		}
	}
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct curl_ev *ce = w->data;
	curl_multi_socket_action(ce->multi, CURL_SOCKET_TIMEOUT, 0, &ce->running);
	check_done(ce);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curl_ev *ce = userp;
	ev_timer_stop(ce->loop, &ce->timer);
	if (timeout_ms >= 0) {
		/* never call curl from here (CURLM_RECURSIVE_API_CALL): arm a timer,
		 * 0 s included; divide as floating point so 500 ms is not 0 s */
		ev_timer_set(&ce->timer, (double)timeout_ms / 1000.0, 0.);
		ev_timer_start(ce->loop, &ce->timer);
	}
	return 0;
}

static void on_sock(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sock_watch *sw = w->data;
	struct curl_ev *ce = sw->ce;
	int action = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) |
	             ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);
	curl_multi_socket_action(ce->multi, sw->fd, action, &ce->running);
	/* no timer stop here: a done callback may just have added a transfer
	 * whose first step waits on the timer curl armed */
	check_done(ce);
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curl_ev *ce = userp;
	struct sock_watch *sw = socketp;
	if (what == CURL_POLL_REMOVE) {
		if (sw) {
			ev_io_stop(ce->loop, &sw->io);
			curl_multi_assign(ce->multi, s, NULL);
			free(sw);
		}
		return 0;
	}
	int events =
	        ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!sw) {
		sw = calloc(1, sizeof(*sw));
		if (!sw)
			return -1;
		sw->ce = ce;
		sw->fd = s;
		ev_io_init(&sw->io, on_sock, s, events);
		sw->io.data = sw;
		curl_multi_assign(ce->multi, s, sw);
	} else {
		ev_io_stop(ce->loop, &sw->io);
		ev_io_set(&sw->io, s, events);
	}
	ev_io_start(ce->loop, &sw->io);
	return 0;
}

int curl_ev_new(struct ev_loop *loop, struct curl_ev **ret)
{
	struct curl_ev *ce = calloc(1, sizeof(*ce));
	if (!ce)
		return -ENOMEM;
	ce->loop = loop;
	ce->multi = curl_multi_init();
	if (!ce->multi) {
		free(ce);
		return -ENOMEM;
	}
	ev_timer_init(&ce->timer, on_timer, 0., 0.);
	ce->timer.data = ce;
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_SOCKETDATA, ce);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(ce->multi, CURLMOPT_TIMERDATA, ce);
	/* HLS playlist and segment requests reuse connections to their engine;
	 * stream API calls and stop commands do not keep theirs */
	curl_multi_setopt(ce->multi, CURLMOPT_MAXCONNECTS, 16L);
	*ret = ce;
	return 0;
}

void curl_ev_free(struct curl_ev *ce)
{
	if (!ce)
		return;
	ev_timer_stop(ce->loop, &ce->timer);
	curl_multi_cleanup(ce->multi);
	free(ce);
}

static int add_xfer(struct curl_ev *ce, CURL *easy, curl_ev_done_fn done,
                    curl_ev_connected_fn connected, void *ud)
{
	struct xfer_ctx *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->done = done;
	x->connected = connected;
	x->ud = ud;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	if (curl_multi_add_handle(ce->multi, easy) != CURLM_OK) {
		curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
		free(x);
		return -EIO;
	}
	ce->unfinished++;
	return 0;
}

int curl_ev_add(struct curl_ev *ce, CURL *easy, curl_ev_done_fn done, void *ud)
{
	return add_xfer(ce, easy, done, NULL, ud);
}

int curl_ev_add_connect(struct curl_ev *ce, CURL *easy, curl_ev_connected_fn connected, void *ud)
{
	curl_easy_setopt(easy, CURLOPT_CONNECT_ONLY, 1L);
	return add_xfer(ce, easy, NULL, connected, ud);
}

void curl_ev_remove(struct curl_ev *ce, CURL *easy)
{
	struct xfer_ctx *x = NULL;
	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	curl_multi_remove_handle(ce->multi, easy);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	if (x && !x->finished)
		ce->unfinished--;
	free(x);
}

void curl_ev_kick(struct curl_ev *ce)
{
	/* after an unpause curl wants a timeout action to resume delivering */
	ev_timer_stop(ce->loop, &ce->timer);
	ev_timer_set(&ce->timer, 0., 0.);
	ev_timer_start(ce->loop, &ce->timer);
}

int curl_ev_running(const struct curl_ev *ce)
{
	/* curl's running count lags a transfer added since the last socket
	 * action (a stop command sent at shutdown would not be waited for) */
	return ce->unfinished;
}
