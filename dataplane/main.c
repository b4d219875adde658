/* acexy-dataplane: serves viewers and relays engine streams. */
#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acexy/log.h"
#include "acexy/sdnotify.h"
#include "acexy/settings.h"
#include "acexy/sysinfo.h"
#include "dataplane/control.h"
#include "dataplane/dataplane.h"
#include "dataplane/playlist.h"

static const struct acexy_program prog = {
        .name = "acexy-dataplane",
        .summary = "acexy dataplane: serves viewers (/ace/getstream) and relays AceStream engine "
                   "streams; /ace/probe?id= tells whether a content is live, /ace/playlist.m3u "
                   "serves ACEXY_PLAYLIST_SOURCES pointed at this proxy, /ace/ is a status page.",
        .owner = ACEXY_OWN_DP,
};

static struct dp g_dp;
static ev_signal sig_term, sig_int;
static ev_timer drain_timer;
static ev_timer trim_timer;

/* Memory freed by ended streams stays in glibc's per-thread arenas; when
 * the dataplane is idle, give it back to the system so that RssAnon returns
 * to its baseline (measured by tests/bench/soak.py). */
static void on_trim_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct dp *dp = t->data;
	static bool busy_since_trim = true;
	bool idle = atomic_load(&dp->stats.streams_live) == 0 &&
	            atomic_load(&dp->stats.conns_open) == 0;
	if (!idle) {
		busy_since_trim = true;
		return;
	}
	if (busy_since_trim) {
		malloc_trim(0);
		busy_since_trim = false;
	}
}
static double drain_started;
static bool shutdown_posted;

static void shutdown_workers(struct dp *dp)
{
	if (shutdown_posted)
		return;
	shutdown_posted = true;
	atomic_store(&dp->shutting_down, true);
	for (int i = 0; i < dp->nworkers; i++) {
		struct worker_cmd cmd = {.type = WCMD_SHUTDOWN, .reason = DP_END_SHUTDOWN};
		worker_post(&dp->workers[i], &cmd);
	}
	for (int i = 0; i < dp->nworkers; i++)
		worker_join(&dp->workers[i]);
	ev_break(dp->main_loop, EVBREAK_ALL);
}

static void on_drain_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct dp *dp = t->data;
	double limit = (double)acexy_cfg_u(dp->cfg, ACEXY_S_DRAIN_TIMEOUT) / 1000.0;
	if (atomic_load(&dp->stats.streams_live) == 0 || dp_now() - drain_started >= limit) {
		if (atomic_load(&dp->stats.streams_live) > 0) {
			ALOG(ALOG_WARN, "drain_timeout",
			     ALOG_U("streams", atomic_load(&dp->stats.streams_live)));
			for (int i = 0; i < dp->nworkers; i++) {
				struct worker_cmd cmd = {.type = WCMD_DRAIN_END,
				                         .reason = DP_END_DRAIN_TIMEOUT};
				worker_post(&dp->workers[i], &cmd);
			}
		}
		ev_timer_stop(loop, t);
		dp_control_flush(dp, 2.0); /* let stream_ended reach the controlplane */
		shutdown_workers(dp);
	}
}

static struct acexy_sd sd; /* systemd readiness and watchdog */

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	struct dp *dp = s->data;
	if (atomic_load(&dp->draining) && drain_started > 0) {
		ALOG(ALOG_WARN, "second_signal_exit");
		shutdown_workers(dp);
		return;
	}
	ALOG(ALOG_INFO, "draining", ALOG_I("signal", s->signum),
	     ALOG_U("streams", atomic_load(&dp->stats.streams_live)));
	acexy_sd_stopping(&sd);
	atomic_store(&dp->draining, true);
	drain_started = dp_now();
	ev_timer_init(&drain_timer, on_drain_tick, 0., 0.1);
	drain_timer.data = dp;
	ev_timer_again(loop, &drain_timer);
}

int main(int argc, char **argv)
{
	struct acexy_config cfg;
	struct dp *dp = &g_dp;
	int rc = acexy_config_load(&cfg, &prog, argc, argv, NULL, stdout, stderr);
	if (rc == ACEXY_CONFIG_EXIT)
		return 0;
	if (rc < 0)
		return 2;
	alog_init(prog.name, (enum alog_level)acexy_cfg_u(&cfg, ACEXY_S_LOG_LEVEL),
	          (enum alog_format)acexy_cfg_u(&cfg, ACEXY_S_LOG_FORMAT));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file size limit: EFBIG, handled like a full disk */
	long nofile = acexy_raise_nofile();
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ALOG(ALOG_ERROR, "curl_init_failed");
		return 1;
	}
	dp->cfg = &cfg;
	dp->start_time = dp_now();
	pthread_mutex_init(&dp->reg_mu, NULL);
	if (acexy_cfg_s(&cfg, ACEXY_S_INSTANCE)[0])
		snprintf(dp->instance, sizeof(dp->instance), "%s",
		         acexy_cfg_s(&cfg, ACEXY_S_INSTANCE));
	else
		acexy_instance_name(dp->instance, sizeof(dp->instance));
	dp->nworkers = (int)acexy_cfg_u(&cfg, ACEXY_S_WORKERS);
	if (dp->nworkers <= 0)
		dp->nworkers = acexy_usable_cpus();
	if (getuid() == 0)
		ALOG(ALOG_WARN, "running_as_root",
		     ALOG_S("hint", "run as an unprivileged user (see deploy/)"));

	dp->main_loop = ev_default_loop(EVFLAG_AUTO);
	dp->workers = calloc((size_t)dp->nworkers, sizeof(struct worker));
	if (!dp->workers)
		return 1;
	for (int i = 0; i < dp->nworkers; i++) {
		rc = worker_start(dp, &dp->workers[i], i);
		if (rc < 0) {
			char addr[80];
			acexy_value_format(ACEXY_T_ADDR, &cfg.v[ACEXY_S_LISTEN_ADDR], addr,
			                   sizeof(addr));
			fprintf(stderr, "%s: cannot listen on %s (ACEXY_LISTEN_ADDR): %s\n",
			        prog.name, addr, strerror(-rc));
			ALOG(ALOG_ERROR, "listen_failed", ALOG_S("addr", addr),
			     ALOG_S("error", strerror(-rc)));
			alog_flush();
			return 1;
		}
	}
	rc = dp_control_start(dp);
	if (rc < 0) {
		fprintf(stderr, "%s: cannot set up the controlplane connection in %s: %s\n",
		        prog.name, acexy_cfg_s(&cfg, ACEXY_S_RUN_DIR), strerror(-rc));
		alog_flush();
		return 1;
	}
	rc = playlist_start(dp, &dp->playlist);
	if (rc < 0) {
		fprintf(stderr,
		        "%s: ACEXY_PLAYLIST_SOURCES: more than %d sources or one too long\n",
		        prog.name, PLAYLIST_SOURCES_MAX);
		alog_flush();
		return 2;
	}
	for (int i = 0; i < dp->nworkers; i++) {
		if (worker_run(&dp->workers[i]) < 0) {
			ALOG(ALOG_ERROR, "thread_start_failed");
			alog_flush();
			return 1;
		}
	}
	ev_timer_init(&trim_timer, on_trim_tick, 5., 5.);
	trim_timer.data = dp;
	ev_timer_start(dp->main_loop, &trim_timer);
	ev_signal_init(&sig_term, on_signal, SIGTERM);
	sig_term.data = dp;
	ev_signal_start(dp->main_loop, &sig_term);
	ev_signal_init(&sig_int, on_signal, SIGINT);
	sig_int.data = dp;
	ev_signal_start(dp->main_loop, &sig_int);
	char addr[80];
	acexy_value_format(ACEXY_T_ADDR, &cfg.v[ACEXY_S_LISTEN_ADDR], addr, sizeof(addr));
	ALOG(ALOG_INFO, "started", ALOG_S("version", ACEXY_VERSION),
	     ALOG_S("instance", dp->instance), ALOG_S("listen", addr),
	     ALOG_I("workers", dp->nworkers), ALOG_U("buffer", acexy_cfg_u(&cfg, ACEXY_S_BUFFER)),
	     ALOG_I("nofile", nofile), ALOG_S("run_dir", acexy_cfg_s(&cfg, ACEXY_S_RUN_DIR)));
	acexy_sd_ready(dp->main_loop, &sd, "serving viewers");
	ev_run(dp->main_loop, 0);
	playlist_stop(dp->playlist);
	dp->playlist = NULL;
	dp_control_stop(dp);
	ALOG(ALOG_INFO, "stopped", ALOG_S("instance", dp->instance));
	alog_flush();
	curl_global_cleanup();
	acexy_config_free(&cfg);
	return 0;
}
