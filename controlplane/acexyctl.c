/* acexyctl: inspection and admin CLI over the daemons' admin sockets. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/proto.h"
#include "acexy/settings.h"
#include "controlplane/ctl_text.h"

#define EXIT_DAEMON_ERROR 1
#define EXIT_USAGE        2
#define EXIT_NO_DAEMON    3

static void usage(FILE *f)
{
	fprintf(f, "Usage: acexyctl [--run-dir DIR] [--dataplane] [--instance NAME] [--json] "
	           "COMMAND [ARG]\n\n"
	           "Commands:\n");
	/* the PROTO_ADMIN_COMMANDS table */
	for (int c = 0; c < PROTO_ADMIN_COUNT_; c++) {
		const struct proto_admin_desc *d = proto_admin(c);
		char name[32];
		snprintf(name, sizeof(name), "%s%s%s", d->name, d->arg ? " " : "",
		         d->arg ? d->arg : "");
		fprintf(f, "  %-13s %s%s\n", name, d->help,
		        d->where == PROTO_ADMIN_CP   ? " [controlplane]"
		        : d->where == PROTO_ADMIN_DP ? " [--dataplane]"
		                                     : "");
	}
	fprintf(f, "\n"
	           "Options:\n"
	           "  --run-dir DIR   sockets directory (default: ACEXY_RUN_DIR, the config file, "
	           "/run/acexy)\n"
	           "  --config FILE   settings file to read the run dir from (env ACEXY_CONFIG)\n"
	           "  --dataplane     talk to a dataplane's own socket (the only live one, or "
	           "--instance)\n"
	           "  --instance NAME a dataplane instance\n"
	           "  --json          print one JSON document\n"
	           "  -h, --help, --version\n\n"
	           "Exit status: 0 ok, 1 the daemon answered with an error, 2 usage error, 3 no "
	           "daemon answered within 2 s.\n");
}

/* Sends one admin request; returns the decoded result or NULL with exit code. */
static json_t *ask(const char *url, const struct proto_admin *req, int *ret_exit, char *err,
                   size_t errcap)
{
	nng_socket s;
	uint8_t *buf;
	size_t len;
	if (nng_req0_open(&s) != 0) {
		snprintf(err, errcap, "cannot create a socket");
		*ret_exit = EXIT_NO_DAEMON;
		return NULL;
	}
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, PROTO_MSG_MAX);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 2000);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
	if (nng_dial(s, url, NULL, 0) != 0) {
		snprintf(err, errcap, "no daemon answers on %s", url + 6);
		nng_close(s);
		*ret_exit = EXIT_NO_DAEMON;
		return NULL;
	}
	if (proto_encode_admin(1, req, &buf, &len) < 0) {
		nng_close(s);
		*ret_exit = EXIT_USAGE;
		snprintf(err, errcap, "request too large");
		return NULL;
	}
	int rv = nng_send(s, buf, len, 0);
	free(buf);
	void *rbuf = NULL;
	size_t rlen = 0;
	if (rv == 0)
		rv = nng_recv(s, &rbuf, &rlen, NNG_FLAG_ALLOC);
	nng_close(s);
	if (rv != 0) {
		snprintf(err, errcap, "no answer from %s within 2 s (%s)", url + 6,
		         nng_strerror(rv));
		*ret_exit = EXIT_NO_DAEMON;
		return NULL;
	}
	struct proto_msg m;
	char derr[256];
	int rc = proto_decode(rbuf, rlen, PROTO_DAEMON_TO_CTL, &m, derr, sizeof(derr));
	nng_free(rbuf, rlen);
	if (rc < 0) {
		snprintf(err, errcap, "unreadable answer: %s", derr);
		*ret_exit = EXIT_DAEMON_ERROR;
		return NULL;
	}
	if (m.type == PROTO_ERROR) {
		snprintf(err, errcap, "%s", m.error.message);
		proto_msg_clear(&m);
		*ret_exit = EXIT_DAEMON_ERROR;
		return NULL;
	}
	if (m.type != PROTO_ADMIN_REPLY) {
		snprintf(err, errcap, "unexpected answer: %s", proto_type_name(m.type));
		proto_msg_clear(&m);
		*ret_exit = EXIT_DAEMON_ERROR;
		return NULL;
	}
	json_t *res = json_incref(m.admin_reply.result);
	proto_msg_clear(&m);
	*ret_exit = 0;
	return res;
}

/* Finds the dataplane socket: the named instance, or the only live one. */
static int find_dataplane(const char *run_dir, const char *instance, char *url, size_t cap,
                          char *err, size_t errcap)
{
	if (instance) {
		snprintf(url, cap, "ipc://%s/dataplane-%s.sock", run_dir, instance);
		return 0;
	}
	DIR *d = opendir(run_dir);
	if (!d) {
		snprintf(err, errcap, "cannot read %s: %s", run_dir, strerror(errno));
		return EXIT_NO_DAEMON;
	}
	struct dirent *e;
	int live = 0;
	char names[512] = "";
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (strncmp(e->d_name, "dataplane-", 10) != 0 || l < 16 ||
		    strcmp(e->d_name + l - 5, ".sock") != 0)
			continue;
		char u[600];
		snprintf(u, sizeof(u), "ipc://%s/%s", run_dir, e->d_name);
		struct proto_admin ping = {.command = "ping"};
		int ex;
		char perr[256];
		json_t *r = ask(u, &ping, &ex, perr, sizeof(perr));
		if (!r)
			continue; /* a stale file of a killed dataplane */
		json_decref(r);
		live++;
		snprintf(url, cap, "%s", u);
		size_t nl = strlen(names);
		snprintf(names + nl, sizeof(names) - nl, "%s%.*s", nl ? ", " : "", (int)(l - 15),
		         e->d_name + 10);
	}
	closedir(d);
	if (live == 0) {
		snprintf(err, errcap, "no live dataplane in %s", run_dir);
		return EXIT_NO_DAEMON;
	}
	if (live > 1) {
		snprintf(err, errcap,
		         "several dataplanes are live (%s): choose one with --instance", names);
		return EXIT_USAGE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *run_dir = NULL, *instance = NULL, *config = NULL, *cmd = NULL, *arg = NULL;
	bool json = false, dataplane = false;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("acexyctl %s\n", ACEXY_VERSION);
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--dataplane") == 0) {
			dataplane = true;
		} else if ((strcmp(a, "--run-dir") == 0 || strcmp(a, "--instance") == 0 ||
		            strcmp(a, "--config") == 0) &&
		           i + 1 < argc) {
			const char **dst = a[2] == 'r'   ? &run_dir
			                   : a[2] == 'i' ? &instance
			                                 : &config;
			*dst = argv[++i];
		} else if (strncmp(a, "--run-dir=", 10) == 0) {
			run_dir = a + 10;
		} else if (strncmp(a, "--instance=", 11) == 0) {
			instance = a + 11;
		} else if (strncmp(a, "--config=", 9) == 0) {
			config = a + 9;
		} else if (a[0] == '-') {
			fprintf(stderr, "acexyctl: unknown option '%s' (see --help)\n", a);
			return EXIT_USAGE;
		} else if (!cmd) {
			cmd = a;
		} else if (!arg) {
			arg = a;
		} else {
			fprintf(stderr, "acexyctl: unexpected argument '%s'\n", a);
			return EXIT_USAGE;
		}
	}
	if (!cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	int c = proto_admin_lookup(cmd);
	if (c < 0) {
		fprintf(stderr, "acexyctl: unknown command '%s' (see --help)\n", cmd);
		return EXIT_USAGE;
	}
	bool needs_arg = proto_admin(c)->arg != NULL;
	if (needs_arg != (arg != NULL)) {
		fprintf(stderr, "acexyctl: '%s' %s\n", cmd,
		        needs_arg ? "needs a stream ID (see 'acexyctl streams')"
		                  : "takes no argument");
		return EXIT_USAGE;
	}
	/* the run dir: flag, else the shared settings (env, config file) */
	struct acexy_config cfg;
	char run_buf[512];
	if (!run_dir) {
		char *cargv[4] = {"acexyctl", NULL, NULL, NULL};
		int cargc = 1;
		if (config) {
			cargv[1] = "--config";
			cargv[2] = (char *)config;
			cargc = 3;
		}
		static const struct acexy_program p = {"acexyctl", "", ACEXY_OWN_BOTH};
		if (acexy_config_load(&cfg, &p, cargc, cargv, NULL, stdout, stderr) != 0)
			return EXIT_USAGE;
		snprintf(run_buf, sizeof(run_buf), "%s", acexy_cfg_s(&cfg, ACEXY_S_RUN_DIR));
		acexy_config_free(&cfg);
		run_dir = run_buf;
	}
	char url[700], err[600];
	if (dataplane || (instance && strcmp(cmd, "drain") != 0 && strcmp(cmd, "resume") != 0)) {
		int rc = find_dataplane(run_dir, instance, url, sizeof(url), err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "acexyctl: %s\n", err);
			return rc;
		}
	} else {
		snprintf(url, sizeof(url), "ipc://%s/admin.sock", run_dir);
	}
	struct proto_admin req = {
	        .command = cmd, .arg = arg ? arg : "", .instance = instance ? instance : ""};
	int ex = 0;
	json_t *res = ask(url, &req, &ex, err, sizeof(err));
	if (!res) {
		fprintf(stderr, "acexyctl: %s\n", err);
		return ex;
	}
	if (json) {
		char *t = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", t ? t : "{}");
		free(t);
	} else {
		ctl_print_text(stdout, cmd, res);
	}
	json_decref(res);
	return 0;
}
