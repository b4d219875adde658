/* The dataplane's side of the controlplane conversation, on the main loop:
 * hello at every (re)connect, a heartbeat every second whose reply carries
 * commands, and the calls workers make (assign, session started, stream
 * ended) with their replies delivered on the worker's own loop. Plus the
 * dataplane's own admin socket. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "acexy/ipc.h"
#include "acexy/log.h"
#include "acexy/proto.h"
#include "dataplane/control.h"
#include "dataplane/hello_chunk.h"

#define HEARTBEAT_S          1.0
#define HEARTBEAT_TIMEOUT_MS 800
#define ENDED_PENDING_MAX    4096

struct ended_rec {
	uint64_t lease;
	char reason[24];
	uint64_t bytes, duration_ms;
	/* so that a controlplane that restarted meanwhile (and never knew the
	 * lease) can still end the stream at the orchestrator */
	char container_id[128];
	char playback_session_id[128];
	bool fallback;
};

struct cc_client {
	struct dp *dp;
	_Atomic uint32_t sock_id; /* the REQ socket */
	char url[300];
	unsigned fail_streak; /* hello/heartbeat failures in a row */
	double sent_at;       /* when the hello/heartbeat in flight was sent */
	char refused[200];    /* why the controlplane refused our hello ("" = it did not) */
	_Atomic bool rehello; /* a new connection, or hello_required: hello first */
	struct ipc_mailbox *mb;
	ev_timer tick;
	_Atomic bool connected;
	bool hello_done;
	bool in_flight;
	unsigned hello_ended; /* pending ends carried by the hello in flight */
	/* a hello in pieces (hello_chunk.h): the next piece carries the
	 * streams from lease hello_from on */
	uint64_t hello_from, hello_next_from;
	bool hello_streams_left; /* the hello in flight left streams for the next piece */
	size_t hello_budget;
	bool encode_failed; /* logged once until an encode succeeds again */
	_Atomic uint64_t next_id;
	pthread_mutex_t mu;
	struct ended_rec ended[ENDED_PENDING_MAX];
	unsigned nended;
	uint64_t ended_dropped;
	struct ipc_server *admin;
	char admin_path[300];
};

static struct cc_client *cc_of(struct dp *dp)
{
	return dp->cc;
}

static uint64_t next_id(struct cc_client *cc)
{
	return atomic_fetch_add(&cc->next_id, 1) + 1;
}

const char *dp_control_refused(struct dp *dp)
{
	return dp->cc ? cc_of(dp)->refused : "";
}

bool dp_control_connected(struct dp *dp)
{
	return dp->cc && atomic_load(&cc_of(dp)->connected);
}

/* body: the typed struct proto_<body> of t */
static int send_msg(struct cc_client *cc, struct ipc_mailbox *mb, enum proto_type t,
                    const void *body, uint32_t timeout_ms, ipc_reply_fn cb, void *ud)
{
	uint8_t *buf;
	size_t len;
	int rc = proto_encode(t, next_id(cc), body, &buf, &len);
	if (rc < 0)
		return rc;
	nng_socket sock = {.id = atomic_load(&cc->sock_id)};
	rc = ipc_call(sock, mb, buf, len, timeout_ms, cb, ud);
	free(buf);
	return rc;
}

/* ---- pending stream ends (controlplane absent) ---- */

static void ended_push(struct cc_client *cc, const struct ended_rec *r)
{
	pthread_mutex_lock(&cc->mu);
	if (cc->nended < ENDED_PENDING_MAX) {
		cc->ended[cc->nended++] = *r;
	} else {
		cc->ended_dropped++;
		ALOG(ALOG_ERROR, "ended_report_dropped", ALOG_U("lease", r->lease),
		     ALOG_S("why", "pending list full"));
	}
	pthread_mutex_unlock(&cc->mu);
}

static struct proto_ended ended_body(const struct ended_rec *r)
{
	return (struct proto_ended){.lease = r->lease,
	                            .reason = r->reason,
	                            .bytes = r->bytes,
	                            .duration_ms = r->duration_ms,
	                            .container_id = r->container_id,
	                            .playback_session_id = r->playback_session_id,
	                            .fallback = r->fallback};
}

/* ---- hello and heartbeat ---- */

/* The live streams for a hello (full records) or a heartbeat, borrowing
 * the registry's strings: called and used under reg_mu. */
static size_t streams_count(struct dp *dp)
{
	size_t n = 0;
	for (struct stream_rec *r = dp->streams; r; r = r->next)
		n++;
	return n;
}

static struct proto_stream *streams_full(struct dp *dp, size_t n)
{
	struct proto_stream *a = n ? calloc(n, sizeof(*a)) : NULL;
	size_t i = 0;
	for (struct stream_rec *r = dp->streams; a && r && i < n; r = r->next, i++)
		a[i] = (struct proto_stream){.lease = r->lease_id,
		                             .bytes = atomic_load(&r->bytes),
		                             .viewers = atomic_load(&r->viewers),
		                             .content = r->content,
		                             .engine = r->engine,
		                             .playback_session_id = r->playback_session_id,
		                             .key_type = r->key_type,
		                             .key = r->key,
		                             .scheme = r->scheme,
		                             .host = r->host,
		                             .port = r->port,
		                             .container_id = r->container_id,
		                             .fallback = r->fallback,
		                             .stat_url = r->stat_url,
		                             .command_url = r->command_url,
		                             .is_live = r->is_live,
		                             .failovers = atomic_load(&r->failovers)};
	return a;
}

static struct proto_hb_stream *streams_short(struct dp *dp, size_t n)
{
	struct proto_hb_stream *a = n ? calloc(n, sizeof(*a)) : NULL;
	size_t i = 0;
	for (struct stream_rec *r = dp->streams; a && r && i < n; r = r->next, i++)
		a[i] = (struct proto_hb_stream){
		        .lease = r->lease_id,
		        .bytes = atomic_load(&r->bytes),
		        .viewers = atomic_load(&r->viewers),
		        .failovers = atomic_load(&r->failovers),
		        /* the engine's stat, read by this dataplane for both daemons' views
		         * (reg_mu is held until the message is encoded) */
		        .engine_status =
		                r->stat_at > 0 && r->stat_status[0] ? r->stat_status : NULL,
		        .engine_peers = r->stat_peers > 0 ? (uint64_t)r->stat_peers : 0,
		        .engine_speed_down =
		                r->stat_speed_down > 0 ? (uint64_t)r->stat_speed_down : 0,
		        .engine_speed_up = r->stat_speed_up > 0 ? (uint64_t)r->stat_speed_up : 0};
	return a;
}

static void set_connected(struct cc_client *cc, bool up)
{
	bool was = atomic_exchange(&cc->connected, up);
	if (was != up)
		ALOG(up ? ALOG_INFO : ALOG_WARN,
		     up ? "controlplane_connected" : "controlplane_lost",
		     ALOG_S("instance", cc->dp->instance));
}

void dp_control_apply(struct dp *dp, const char *cmd, uint64_t lease)
{
	if (!cmd || !cmd[0])
		return;
	ALOG(ALOG_INFO, "command", ALOG_S("cmd", cmd), ALOG_U("lease", lease));
	if (strcmp(cmd, "stop") == 0) {
		int worker = -1;
		pthread_mutex_lock(&dp->reg_mu);
		for (struct stream_rec *r = dp->streams; r; r = r->next)
			if (r->lease_id == lease)
				worker = r->worker;
		pthread_mutex_unlock(&dp->reg_mu);
		if (worker >= 0) {
			struct worker_cmd wc = {.type = WCMD_STOP_LEASE,
			                        .lease_id = lease,
			                        .reason = DP_END_STOPPED};
			worker_post(&dp->workers[worker], &wc);
		}
	} else if (strcmp(cmd, "drain") == 0) {
		atomic_store(&dp->draining, true);
	} else if (strcmp(cmd, "resume") == 0) {
		if (!atomic_load(&dp->shutting_down))
			atomic_store(&dp->draining, false);
	}
}

/* the next hello starts over: every stream, from the first piece */
static void hello_restart(struct cc_client *cc)
{
	cc->hello_done = false;
	cc->hello_from = 0;
	cc->hello_streams_left = false;
}

static void on_new_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)ev;
	struct cc_client *cc = arg;
	atomic_store(&cc->rehello, true);
}

static int cc_dial(struct cc_client *cc, nng_socket *ret)
{
	struct ipc_tls tls = {.cert = acexy_cfg_s(cc->dp->cfg, ACEXY_S_CONTROL_TLS_CERT),
	                      .key = acexy_cfg_s(cc->dp->cfg, ACEXY_S_CONTROL_TLS_KEY),
	                      .ca = acexy_cfg_s(cc->dp->cfg, ACEXY_S_CONTROL_TLS_CA)};
	char err[300];
	int rc = ipc_client_open_tls(cc->url, -1, &tls, ret, err, sizeof(err));
	if (rc < 0)
		ALOG(ALOG_ERROR, "controlplane_dial_failed", ALOG_S("url", cc->url),
		     ALOG_S("error", err));
	else /* every new connection starts with a hello */
		nng_pipe_notify(*ret, NNG_PIPE_EV_ADD_POST, on_new_pipe, cc);
	return rc;
}

/* One REQ socket for the daemon's life: nng's dialer reconnects by itself
 * (50 ms doubling to 500 ms). A redial after failed heartbeats used to
 * stand in for a dialer that "stayed away" from a restarted controlplane;
 * the cause was on the listening side (libnng's listener stopped accepting
 * when a peer hung up mid-handshake; the servers are acexy's own now) and closing
 * sockets mid-handshake was itself what set it off. */

static void on_tick_reply(void *ud, int err, const uint8_t *buf, size_t len)
{
	struct cc_client *cc = ud;
	struct dp *dp = cc->dp;
	cc->in_flight = false;
	if (err != 0) {
		hello_restart(cc);
		/* a deadline that passed while this loop itself stood still
		 * (SIGSTOP, a stalled host) says nothing about the controlplane:
		 * ask again at once before calling it gone */
		double late = dp_now() - cc->sent_at - HEARTBEAT_TIMEOUT_MS / 1000.0;
		if (err == NNG_ETIMEDOUT && late > 0.5 && cc->fail_streak == 0) {
			cc->fail_streak++;
			ev_feed_event(dp->main_loop, &cc->tick, EV_TIMER);
			return;
		}
		cc->fail_streak++;
		set_connected(cc, false);
		return;
	}
	cc->fail_streak = 0;
	struct proto_msg m;
	char perr[256];
	if (proto_decode(buf, len, PROTO_CP_TO_DP, &m, perr, sizeof(perr)) < 0) {
		atomic_fetch_add(&dp->stats.bad_messages, 1);
		ALOG(ALOG_WARN, "bad_message", ALOG_S("from", "controlplane"),
		     ALOG_S("error", perr));
		hello_restart(cc);
		set_connected(cc, false);
		return;
	}
	if (m.type == PROTO_HELLO_REPLY) {
		/* the hello delivered the ends it carried; later ones stay */
		pthread_mutex_lock(&cc->mu);
		unsigned n = cc->hello_ended <= cc->nended ? cc->hello_ended : cc->nended;
		memmove(cc->ended, cc->ended + n, (cc->nended - n) * sizeof(cc->ended[0]));
		cc->nended -= n;
		cc->hello_ended = 0;
		bool more = cc->nended > 0 || cc->hello_streams_left;
		pthread_mutex_unlock(&cc->mu);
		/* the next piece goes at once; a complete hello starts over */
		cc->hello_from = cc->hello_streams_left ? cc->hello_next_from : 0;
		cc->hello_streams_left = false;
		cc->hello_done = !more;
		cc->refused[0] = '\0';
		set_connected(cc, true);
		if (more)
			ev_feed_event(dp->main_loop, &cc->tick, EV_TIMER);
	} else if (m.type == PROTO_HEARTBEAT_REPLY) {
		set_connected(cc, true);
		for (size_t i = 0; i < m.heartbeat_reply.n_commands; i++)
			dp_control_apply(dp, m.heartbeat_reply.commands[i].cmd,
			                 m.heartbeat_reply.commands[i].lease);
	} else {
		/* e.g. hello_required after a controlplane restart */
		const char *code = m.type == PROTO_ERROR ? m.error.code : "";
		if (strcmp(code, "refused") == 0 || strcmp(code, "instance_in_use") == 0) {
			/* not let in: logged once (per reason), not ready meanwhile */
			if (strcmp(cc->refused, m.error.message) != 0)
				ALOG(ALOG_ERROR, "controlplane_refused", ALOG_S("code", code),
				     ALOG_S("why", m.error.message), ALOG_S("url", cc->url));
			snprintf(cc->refused, sizeof(cc->refused), "%s", m.error.message);
			set_connected(cc, false);
		} else if (strcmp(code, "hello_required") != 0) {
			ALOG(ALOG_WARN, "controlplane_error", ALOG_S("code", code[0] ? code : "?"));
		}
		hello_restart(cc);
	}
	proto_msg_clear(&m);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cc_client *cc = t->data;
	struct dp *dp = cc->dp;
	if (cc->in_flight)
		return;
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	/* encoded under the registry lock: the records borrow its strings */
	pthread_mutex_lock(&dp->reg_mu);
	size_t n = streams_count(dp);
	/* ends that could not be delivered on their own go with a hello, and
	 * every new connection starts with one */
	pthread_mutex_lock(&cc->mu);
	if (cc->nended > 0)
		cc->hello_done = false;
	pthread_mutex_unlock(&cc->mu);
	if (atomic_exchange(&cc->rehello, false))
		hello_restart(cc);
	bool hello = !cc->hello_done;
	if (hello) {
		/* the streams from hello_from on, and the pending ends, as many
		 * as fit one hello's budget; the rest in the next pieces */
		struct proto_stream *all = streams_full(dp, n);
		if (!all)
			n = 0;
		dp_hello_sort(all, n);
		size_t from = 0;
		while (from < n && all[from].lease < cc->hello_from)
			from++;
		pthread_mutex_lock(&cc->mu);
		unsigned nended = cc->nended;
		struct proto_ended *ended = nended ? calloc(nended, sizeof(*ended)) : NULL;
		if (!ended)
			nended = 0;
		for (unsigned i = 0; i < nended; i++)
			ended[i] = ended_body(&cc->ended[i]);
		const char *token = acexy_cfg_s(dp->cfg, ACEXY_S_CONTROL_TOKEN);
		struct proto_hello h = {.instance = dp->instance,
		                        .token = *token ? token : NULL,
		                        .software = ACEXY_VERSION,
		                        .proto = PROTO_VERSION,
		                        .draining = atomic_load(&dp->draining),
		                        .streams = all ? all + from : NULL,
		                        .n_streams = n - from,
		                        .ended = ended,
		                        .n_ended = nended};
		size_t ns = 0, ne = 0;
		rc = dp_hello_encode(&h, next_id(cc), cc->hello_budget, &ns, &ne, &buf, &len);
		/* sent in this hello; if it fails they are sent again next time */
		cc->hello_ended = rc == 0 ? (unsigned)ne : 0;
		cc->hello_streams_left = rc == 0 && from + ns < n;
		if (rc == 0 && ns > 0)
			cc->hello_next_from = all[from + ns - 1].lease + 1;
		pthread_mutex_unlock(&cc->mu);
		free(all);
		free(ended);
	} else {
		struct proto_heartbeat hb = {.instance = dp->instance,
		                             .draining = atomic_load(&dp->draining),
		                             .streams = streams_short(dp, n),
		                             .n_streams = n};
		if (!hb.streams)
			hb.n_streams = 0;
		rc = proto_encode_heartbeat(next_id(cc), &hb, &buf, &len);
		free(hb.streams);
	}
	pthread_mutex_unlock(&dp->reg_mu);
	if (rc < 0) {
		/* tried again every tick: said once */
		if (!cc->encode_failed)
			ALOG(ALOG_ERROR, "control_encode_failed",
			     ALOG_S("message", hello ? "hello" : "heartbeat"),
			     ALOG_S("error", strerror(-rc)), ALOG_U("streams", n));
		cc->encode_failed = true;
		return;
	}
	cc->encode_failed = false;
	cc->sent_at = dp_now();
	nng_socket sock = {.id = atomic_load(&cc->sock_id)};
	if (ipc_call(sock, cc->mb, buf, len, HEARTBEAT_TIMEOUT_MS, on_tick_reply, cc) == 0)
		cc->in_flight = true;
	free(buf);
}

/* ---- worker calls ---- */

struct assign_call {
	struct dp *dp;
	dp_assign_cb cb;
	void *ud;
};

static void on_assign_reply(void *ud, int err, const uint8_t *buf, size_t len)
{
	struct assign_call *ac = ud;
	struct proto_msg m;
	char perr[256];
	if (err != 0) {
		ac->cb(ac->ud, err == NNG_ETIMEDOUT ? -ETIMEDOUT : -ENOTCONN, NULL, NULL, 5);
	} else if (proto_decode(buf, len, PROTO_CP_TO_DP, &m, perr, sizeof(perr)) < 0) {
		atomic_fetch_add(&ac->dp->stats.bad_messages, 1);
		ALOG(ALOG_WARN, "bad_message", ALOG_S("from", "controlplane"),
		     ALOG_S("error", perr));
		ac->cb(ac->ud, -EPROTO, NULL, NULL, 5);
	} else {
		if (m.type == PROTO_LEASE) {
			struct dp_lease l;
			memset(&l, 0, sizeof(l));
			l.lease_id = m.lease.lease;
			snprintf(l.scheme, sizeof(l.scheme), "%s", m.lease.scheme);
			snprintf(l.host, sizeof(l.host), "%s", m.lease.host);
			l.port = (uint16_t)m.lease.port;
			snprintf(l.container_id, sizeof(l.container_id), "%s",
			         m.lease.container_id);
			l.fallback = m.lease.fallback;
			ac->cb(ac->ud, 0, &l, NULL, 0);
		} else if (m.type == PROTO_REFUSAL) {
			int64_t ra = m.refusal.retry_after;
			ac->cb(ac->ud, -EAGAIN, NULL, m.refusal.reason, ra > 0 ? (unsigned)ra : 5);
		} else if (m.type == PROTO_ERROR && strcmp(m.error.code, "hello_required") == 0) {
			/* a new connection (the controlplane restarted, or its
			 * listener was replaced) that has not carried our hello
			 * yet: say hello at once; the request waits as for an
			 * absent controlplane (ACEXY_CONTROL_WAIT) */
			struct cc_client *cc = ac->dp->cc;
			atomic_store(&cc->rehello, true);
			set_connected(cc, false);
			ac->cb(ac->ud, -ENOTCONN, NULL, NULL, 1);
		} else {
			const char *msg = m.type == PROTO_ERROR ? m.error.message : "";
			ac->cb(ac->ud, -EAGAIN, NULL, msg[0] ? msg : "controlplane error", 5);
		}
		proto_msg_clear(&m);
	}
	free(ac);
}

int dp_control_assign(struct worker *w, const char *key_type, const char *key, const char *params,
                      const char *avoid, uint32_t timeout_ms, dp_assign_cb cb, void *ud)
{
	struct cc_client *cc = cc_of(w->dp);
	struct assign_call *ac = calloc(1, sizeof(*ac));
	if (!ac)
		return -ENOMEM;
	ac->dp = w->dp;
	ac->cb = cb;
	ac->ud = ud;
	struct proto_assign body = {.instance = w->dp->instance,
	                            .key_type = key_type,
	                            .key = key,
	                            .params = params ? params : "",
	                            .avoid = avoid && avoid[0] ? avoid : NULL};
	int rc = send_msg(cc, w->mailbox, PROTO_ASSIGN, &body, timeout_ms, on_assign_reply, ac);
	if (rc < 0)
		free(ac);
	return rc;
}

static void on_ack(void *ud, int err, const uint8_t *buf, size_t len)
{
	(void)ud;
	(void)buf;
	(void)len;
}

void dp_control_debug_event(struct worker *w, enum debuglog_cat cat, json_t *record)
{
	if (!acexy_cfg_b(w->dp->cfg, ACEXY_S_DEBUG_MODE) ||
	    !atomic_load(&cc_of(w->dp)->connected)) {
		json_decref(record);
		return;
	}
	if (!record)
		return;
	struct proto_debug_event body = {.instance = w->dp->instance,
	                                 .category = debuglog_category_name(cat),
	                                 .record = record};
	send_msg(cc_of(w->dp), w->mailbox, PROTO_DEBUG_EVENT, &body, 2000, on_ack, NULL);
	json_decref(record);
}

void dp_control_session_started(struct worker *w, uint64_t lease_id,
                                const struct dp_session_info *info)
{
	struct cc_client *cc = cc_of(w->dp);
	struct proto_session_started body = {.instance = w->dp->instance,
	                                     .lease = lease_id,
	                                     .playback_session_id = info->playback_session_id,
	                                     .stat_url = info->stat_url,
	                                     .command_url = info->command_url,
	                                     .playback_url = info->playback_url,
	                                     .infohash = info->infohash,
	                                     .is_live = info->is_live};
	send_msg(cc, w->mailbox, PROTO_SESSION_STARTED, &body, 5000, on_ack, NULL);
}

struct ended_call {
	struct cc_client *cc;
	struct ended_rec rec;
};

static void on_ended_reply(void *ud, int err, const uint8_t *buf, size_t len)
{
	struct ended_call *ec = ud;
	bool delivered = false;
	if (err == 0) {
		/* an error answer (hello_required: a controlplane that restarted
		 * and has not heard our hello on this connection yet) is no
		 * delivery either */
		struct proto_msg m;
		char perr[128];
		if (proto_decode(buf, len, PROTO_CP_TO_DP, &m, perr, sizeof(perr)) == 0) {
			delivered = m.type == PROTO_OK;
			proto_msg_clear(&m);
		}
	}
	if (!delivered) /* reported again in the next hello */
		ended_push(ec->cc, &ec->rec);
	free(ec);
}

void dp_control_stream_ended(struct worker *w, const struct dp_lease *lease,
                             const char *playback_session_id, enum dp_end_reason reason,
                             uint64_t bytes, uint64_t duration_ms)
{
	struct cc_client *cc = cc_of(w->dp);
	struct ended_rec r = {.lease = lease->lease_id,
	                      .bytes = bytes,
	                      .duration_ms = duration_ms,
	                      .fallback = lease->fallback};
	snprintf(r.reason, sizeof(r.reason), "%s", dp_end_reason_name(reason));
	snprintf(r.container_id, sizeof(r.container_id), "%s", lease->container_id);
	snprintf(r.playback_session_id, sizeof(r.playback_session_id), "%s",
	         playback_session_id ? playback_session_id : "");
	struct ended_call *ec = atomic_load(&cc->connected) ? calloc(1, sizeof(*ec)) : NULL;
	if (!ec) {
		ended_push(cc, &r);
		return;
	}
	ec->cc = cc;
	ec->rec = r;
	struct proto_stream_ended body = {.instance = w->dp->instance,
	                                  .lease = r.lease,
	                                  .reason = ec->rec.reason,
	                                  .bytes = r.bytes,
	                                  .duration_ms = r.duration_ms,
	                                  .container_id = ec->rec.container_id,
	                                  .playback_session_id = ec->rec.playback_session_id,
	                                  .fallback = r.fallback};
	if (send_msg(cc, w->mailbox, PROTO_STREAM_ENDED, &body, 3000, on_ended_reply, ec) < 0) {
		ended_push(cc, &r);
		free(ec);
	}
}

unsigned dp_control_pending_ends(struct dp *dp)
{
	struct cc_client *cc = dp->cc;
	pthread_mutex_lock(&cc->mu);
	unsigned n = cc->nended;
	pthread_mutex_unlock(&cc->mu);
	return n;
}

/* Removes dataplane-*.sock files nobody listens on (killed instances). */
static void sweep_stale_sockets(const char *run_dir)
{
	DIR *d = opendir(run_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, "dataplane-", 10) != 0 || l < 16 ||
		    strcmp(e->d_name + l - 5, ".sock") != 0)
			continue;
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", run_dir, e->d_name);
		if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
			continue;
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED) {
			unlink(sa.sun_path);
			ALOG(ALOG_INFO, "stale_socket_removed", ALOG_S("path", sa.sun_path));
		}
		close(fd);
	}
	closedir(d);
}

int dp_control_start(struct dp *dp)
{
	struct cc_client *cc = calloc(1, sizeof(*cc));
	if (!cc)
		return -ENOMEM;
	cc->dp = dp;
	pthread_mutex_init(&cc->mu, NULL);
	cc->hello_budget = DP_HELLO_BUDGET;
	/* for tests only (not a setting): hellos in small pieces */
	const char *budget = getenv("ACEXY_TEST_HELLO_BUDGET");
	if (budget && atol(budget) > 0)
		cc->hello_budget = (size_t)atol(budget);
	dp->cc = cc;
	const char *run_dir = acexy_cfg_s(dp->cfg, ACEXY_S_RUN_DIR);
	char url[300], name[160];
	/* the run dir holds this dataplane's admin socket in every topology */
	int rc = ipc_url(run_dir, "control.sock", url, sizeof(url));
	if (rc < 0)
		return rc;
	acexy_cfg_control_url(dp->cfg, cc->url, sizeof(cc->url));
	nng_socket sock;
	rc = cc_dial(cc, &sock);
	if (rc < 0)
		return rc;
	atomic_store(&cc->sock_id, sock.id);
	rc = ipc_mailbox_new(dp->main_loop, &cc->mb);
	if (rc < 0)
		return rc;
	for (int i = 0; i < dp->nworkers; i++) {
		rc = ipc_mailbox_new(dp->workers[i].loop, &dp->workers[i].mailbox);
		if (rc < 0)
			return rc;
	}
	sweep_stale_sockets(run_dir);
	snprintf(name, sizeof(name), "dataplane-%s.sock", dp->instance);
	rc = ipc_url(run_dir, name, url, sizeof(url));
	if (rc < 0)
		return rc;
	rc = ipc_server_open(dp->main_loop, url, 4, true, dp_admin_request, dp, &cc->admin);
	if (rc < 0)
		return rc == -EADDRINUSE ? -EEXIST : rc;
	ev_timer_init(&cc->tick, on_tick, 0., HEARTBEAT_S);
	cc->tick.data = cc;
	ev_timer_start(dp->main_loop, &cc->tick);
	return 0;
}

void dp_control_flush(struct dp *dp, double seconds)
{
	/* stream ends reach the controlplane through worker mailboxes; give
	 * them a bounded moment, then what is left goes with no one */
	struct cc_client *cc = dp->cc;
	double until = dp_now() + seconds;
	while (dp_now() < until) {
		bool idle = true;
		for (int i = 0; i < dp->nworkers; i++)
			if (atomic_load(&dp->workers[i].nstreams) > 0)
				idle = false;
		if (idle)
			break;
		usleep(20000);
	}
	(void)cc;
}

void dp_control_stop(struct dp *dp)
{
	struct cc_client *cc = dp->cc;
	if (!cc)
		return;
	ev_timer_stop(dp->main_loop, &cc->tick);
	ipc_server_close(cc->admin);
	nng_socket sock = {.id = atomic_load(&cc->sock_id)};
	nng_close(sock);
}
