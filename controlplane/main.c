/* acexy-controlplane: engine authority and bookkeeping. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "acexy/log.h"
#include "acexy/sdnotify.h"
#include "acexy/settings.h"
#include "acexy/sysinfo.h"
#include "controlplane/cp.h"

static const struct acexy_program prog = {
        .name = "acexy-controlplane",
        .summary = "acexy controlplane: decides which AceStream engine serves each request and "
                   "keeps the books.",
        .owner = ACEXY_OWN_CP,
};

static struct acexy_sd sd; /* systemd readiness and watchdog */

static void on_signal(struct ev_loop *loop, ev_signal *s, int revents)
{
	ALOG(ALOG_INFO, "stopping", ALOG_I("signal", s->signum));
	acexy_sd_stopping(&sd);
	ev_break(loop, EVBREAK_ALL);
}

int main(int argc, char **argv)
{
	struct acexy_config cfg;
	int rc = acexy_config_load(&cfg, &prog, argc, argv, NULL, stdout, stderr);
	if (rc == ACEXY_CONFIG_EXIT)
		return 0;
	if (rc < 0)
		return 2;
	alog_init(prog.name, (enum alog_level)acexy_cfg_u(&cfg, ACEXY_S_LOG_LEVEL),
	          (enum alog_format)acexy_cfg_u(&cfg, ACEXY_S_LOG_FORMAT));
	signal(SIGPIPE, SIG_IGN);
	signal(SIGXFSZ, SIG_IGN); /* a file size limit: EFBIG, handled like a full disk */
	acexy_raise_nofile();
	if (getuid() == 0)
		ALOG(ALOG_WARN, "running_as_root",
		     ALOG_S("hint", "run as an unprivileged user (see deploy/)"));
	static struct cp cp;
	cp.cfg = &cfg;
	cp.loop = ev_default_loop(EVFLAG_AUTO);
	if (acexy_cfg_s(&cfg, ACEXY_S_CONTAINER_ID)[0])
		snprintf(cp.container_id, sizeof(cp.container_id), "%s",
		         acexy_cfg_s(&cfg, ACEXY_S_CONTAINER_ID));
	else
		acexy_container_id(cp.container_id, sizeof(cp.container_id));
	const char *run_dir = acexy_cfg_s(&cfg, ACEXY_S_RUN_DIR);
	rc = cp_start(&cp);
	if (rc == -EADDRINUSE) {
		fprintf(stderr, "%s: another controlplane is already running in %s\n", prog.name,
		        run_dir);
		ALOG(ALOG_ERROR, "already_running", ALOG_S("run_dir", run_dir));
		alog_flush();
		return 1;
	}
	if (rc < 0 && cp.start_error[0]) {
		fprintf(stderr, "%s: %s\n", prog.name, cp.start_error);
		ALOG(ALOG_ERROR, "start_failed", ALOG_S("error", cp.start_error));
		alog_flush();
		return 1;
	}
	if (rc < 0) {
		fprintf(stderr, "%s: cannot listen in %s (ACEXY_RUN_DIR): %s\n", prog.name, run_dir,
		        strerror(-rc));
		alog_flush();
		return 1;
	}
	rc = cp_http_start(&cp);
	if (rc < 0) {
		char addr[80];
		acexy_value_format(ACEXY_T_ADDR, &cfg.v[ACEXY_S_CP_LISTEN_ADDR], addr,
		                   sizeof(addr));
		fprintf(stderr, "%s: cannot listen on %s (ACEXY_CP_LISTEN_ADDR): %s\n", prog.name,
		        addr, strerror(-rc));
		cp_stop(&cp);
		alog_flush();
		return 1;
	}
	ev_signal sig_term, sig_int;
	ev_signal_init(&sig_term, on_signal, SIGTERM);
	ev_signal_start(cp.loop, &sig_term);
	ev_signal_init(&sig_int, on_signal, SIGINT);
	ev_signal_start(cp.loop, &sig_int);
	ALOG(ALOG_INFO, "started", ALOG_S("version", ACEXY_VERSION), ALOG_S("run_dir", run_dir),
	     ALOG_S("mode",
	            acexy_cfg_s(&cfg, ACEXY_S_ORCH_URL)[0] ? "orchestrator" : "single-engine"),
	     ALOG_S("engine", acexy_cfg_s(&cfg, ACEXY_S_HOST)),
	     ALOG_U("engine_port", acexy_cfg_u(&cfg, ACEXY_S_PORT)),
	     ALOG_S("container_id", cp.container_id));
	acexy_sd_ready(cp.loop, &sd, "serving dataplanes");
	ev_run(cp.loop, 0);
	cp_http_stop(&cp);
	cp_stop(&cp);
	ALOG(ALOG_INFO, "stopped");
	alog_flush();
	acexy_config_free(&cfg);
	return 0;
}
