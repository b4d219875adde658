#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "acexy/ctlurl.h"
#include "acexy/settings.h"

static const struct acexy_program prog = {"acexy-test", "test program", ACEXY_OWN_BOTH};

struct run {
	int rc;
	char out[65536];
	char err[2048];
	struct acexy_config cfg;
};

static void run_load(struct run *r, int argc, char **argv, char **env)
{
	FILE *o = fmemopen(r->out, sizeof(r->out), "w");
	FILE *e = fmemopen(r->err, sizeof(r->err), "w");
	memset(r->out, 0, sizeof(r->out));
	memset(r->err, 0, sizeof(r->err));
	r->rc = acexy_config_load(&r->cfg, &prog, argc, argv, env, o, e);
	fclose(o);
	fclose(e);
}

static char *write_tmp(const char *content)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/acexy-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void test_defaults(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"x", NULL};
	char *env[] = {NULL};
	run_load(&r, 1, argv, env);
	assert_int_equal(r.rc, 0);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_BUFFER), 4404019);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_EMPTY_TIMEOUT), 60000);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_NO_RESPONSE_TIMEOUT), 10000);
	assert_int_equal(r.cfg.v[ACEXY_S_LISTEN_ADDR].addr.port, 8080);
	assert_true(acexy_cfg_b(&r.cfg, ACEXY_S_FALLBACK));
	assert_false(acexy_cfg_b(&r.cfg, ACEXY_S_DEBUG_MODE));
	assert_string_equal(acexy_cfg_s(&r.cfg, ACEXY_S_RUN_DIR), "/run/acexy");
	assert_int_equal(r.cfg.v[ACEXY_S_BUFFER].origin, ACEXY_ORIGIN_DEFAULT);
	acexy_config_free(&r.cfg);
}

static void test_names_derived(void **state)
{
	(void)state;
	int id = acexy_setting_by_env("ACEXY_ORCH_URL");
	assert_int_equal(id, ACEXY_S_ORCH_URL);
	assert_string_equal(acexy_setting(id)->key, "orch_url");
	assert_string_equal(acexy_setting(id)->flag, "--orch-url");
	id = acexy_setting_by_env("DEBUG_MODE");
	assert_string_equal(acexy_setting(id)->key, "debug_mode");
	assert_string_equal(acexy_setting(id)->flag, "--debug-mode");
	assert_int_equal(acexy_setting_by_env("ACEXY_ADDR"), ACEXY_S_LISTEN_ADDR);
	assert_int_equal(acexy_setting_by_key("max_streams_per_engine"),
	                 ACEXY_S_MAX_STREAMS_PER_ENGINE);
	assert_int_equal(acexy_setting_by_flag("multiplex-join-behind"),
	                 ACEXY_S_MULTIPLEX_JOIN_BEHIND);
	assert_int_equal(acexy_setting_by_key("nope"), -1);
	assert_null(acexy_setting(ACEXY_S_COUNT_));
}

static void test_precedence(void **state)
{
	(void)state;
	struct run r;
	char *path = write_tmp("buffer: 1MiB\nempty_timeout: 5s\nwrite_timeout: 7s\n"
	                       "workers: 3\n");
	char env_cfg[128];
	snprintf(env_cfg, sizeof(env_cfg), "ACEXY_CONFIG=%s", path);
	char *env[] = {env_cfg, "ACEXY_BUFFER=2MiB", "ACEXY_EMPTY_TIMEOUT=6s", NULL};
	char *argv[] = {"x", "--buffer", "3MiB", "--log-level=debug", "--m3u8", NULL};
	run_load(&r, 5, argv, env);
	assert_int_equal(r.rc, 0);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_BUFFER), 3 * 1048576); /* flag */
	assert_int_equal(r.cfg.v[ACEXY_S_BUFFER].origin, ACEXY_ORIGIN_FLAG);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_EMPTY_TIMEOUT), 6000); /* env */
	assert_string_equal(r.cfg.v[ACEXY_S_EMPTY_TIMEOUT].origin_where, "env ACEXY_EMPTY_TIMEOUT");
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_WRITE_TIMEOUT), 7000); /* file */
	char where[128];
	snprintf(where, sizeof(where), "%s:3", path);
	assert_string_equal(r.cfg.v[ACEXY_S_WRITE_TIMEOUT].origin_where, where);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_WORKERS), 3);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_LOG_LEVEL), 0);
	assert_true(acexy_cfg_b(&r.cfg, ACEXY_S_M3U8)); /* bare boolean flag */
	acexy_config_free(&r.cfg);
	unlink(path);
}

static void test_config_flag_overrides_env(void **state)
{
	(void)state;
	struct run r;
	char *p1 = strdup(write_tmp("buffer: 1MiB\n"));
	char *p2 = strdup(write_tmp("buffer: 2MiB\n"));
	char env_cfg[128];
	snprintf(env_cfg, sizeof(env_cfg), "ACEXY_CONFIG=%s", p1);
	char *env[] = {env_cfg, NULL};
	char *argv[] = {"x", "--config", p2, NULL};
	run_load(&r, 3, argv, env);
	assert_int_equal(r.rc, 0);
	assert_int_equal(acexy_cfg_u(&r.cfg, ACEXY_S_BUFFER), 2 * 1048576);
	acexy_config_free(&r.cfg);
	unlink(p1);
	unlink(p2);
	free(p1);
	free(p2);
}

static void test_alias(void **state)
{
	(void)state;
	struct run r;
	char *env1[] = {"ACEXY_ADDR=127.0.0.1:9000", NULL};
	char *argv[] = {"x", NULL};
	run_load(&r, 1, argv, env1);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.cfg.v[ACEXY_S_LISTEN_ADDR].addr.port, 9000);
	acexy_config_free(&r.cfg);
	char *env2[] = {"ACEXY_ADDR=:9000", "ACEXY_LISTEN_ADDR=:9001", NULL};
	run_load(&r, 1, argv, env2);
	assert_int_equal(r.cfg.v[ACEXY_S_LISTEN_ADDR].addr.port, 9001); /* primary wins */
	acexy_config_free(&r.cfg);
}

static void expect_error(char **argv, int argc, char **env, const char *const *needles)
{
	struct run r;
	run_load(&r, argc, argv, env);
	assert_int_equal(r.rc, -EINVAL);
	/* exactly one line */
	char *nl = strchr(r.err, '\n');
	assert_non_null(nl);
	assert_int_equal(nl[1], '\0');
	for (const char *const *n = needles; *n; n++) {
		if (!strstr(r.err, *n))
			fail_msg("error '%s' lacks '%s'", r.err, *n);
	}
}

static void test_errors(void **state)
{
	(void)state;
	char *argv1[] = {"x", NULL};
	char *env1[] = {"ACEXY_BUFFER=4.2XB", NULL};
	expect_error(
	        argv1, 1, env1,
	        (const char *const[]){"ACEXY_BUFFER", "4.2XB", "env ACEXY_BUFFER", "size", NULL});
	char *argv2[] = {"x", "--empty-timeout", "10", NULL};
	char *env0[] = {NULL};
	expect_error(argv2, 3, env0,
	             (const char *const[]){"ACEXY_EMPTY_TIMEOUT", "\"10\"", "flag --empty-timeout",
	                                   "duration", NULL});
	char *argv3[] = {"x", "--no-such", "1", NULL};
	expect_error(argv3, 3, env0, (const char *const[]){"unknown option", "--no-such", NULL});
	char *argv4[] = {"x", "--buffer", NULL};
	expect_error(argv4, 2, env0, (const char *const[]){"needs a value", NULL});
	char *argv5[] = {"x", "stray", NULL};
	expect_error(argv5, 2, env0, (const char *const[]){"unexpected argument", NULL});
	char *env2[] = {"ACEXY_BUFFER=1KiB", NULL};
	expect_error(argv1, 1, env2, (const char *const[]){"ACEXY_BUFFER", "64KiB", NULL});
	char *env3[] = {"ACEXY_ORCH_APIKEY=bad\x01key", NULL};
	struct run r;
	run_load(&r, 1, argv1, env3);
	assert_int_equal(r.rc, -EINVAL);
	assert_null(strstr(r.err, "bad")); /* secrets are never printed */
	assert_non_null(strstr(r.err, "<secret>"));
	char *env4[] = {"ACEXY_CONFIG=/nonexistent/acexy.yaml", NULL};
	expect_error(argv1, 1, env4, (const char *const[]){"/nonexistent/acexy.yaml", NULL});
}

static void yaml_error(const char *text, const char *needle)
{
	struct acexy_config cfg;
	char err[512] = "";
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(acexy_config_defaults(&cfg), 0);
	int rc = acexy_config_load_yaml(&cfg, "f.yaml", text, strlen(text), err, sizeof(err));
	if (rc != -EINVAL || !strstr(err, needle))
		fail_msg("yaml %s: rc %d err '%s', wanted '%s'", text, rc, err, needle);
	acexy_config_free(&cfg);
}

static void test_yaml(void **state)
{
	(void)state;
	yaml_error("buffer: 1MiB\nbufer: 2\n", "f.yaml:2: unknown setting 'bufer'");
	yaml_error("\n\nbuffer: 4.2XB\n", "f.yaml:3");
	yaml_error("buffer: 4.2XB\n", "ACEXY_BUFFER");
	yaml_error("buffer: [1]\n", "single value");
	yaml_error("buffer:\n  a: 1\n", "single value");
	yaml_error("- a\n- b\n", "flat mapping");
	yaml_error("buffer: 1MiB\nbuffer: 2MiB\n", "given twice");
	yaml_error("buffer: \"4MiB\n", "invalid YAML");
	yaml_error("just a scalar\n", "flat mapping");
	yaml_error("trusted_proxies:\n  - 10.0.0.0/8\n  - nope\n", "ACEXY_TRUSTED_PROXIES");
	yaml_error("playlist_sources:\n  - /a.m3u\n  - http://\n", "ACEXY_PLAYLIST_SOURCES");

	struct acexy_config cfg;
	char err[512];
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(acexy_config_defaults(&cfg), 0);
	const char *ok =
	        "# comment\ntrusted_proxies:\n  - 10.0.0.0/8\n  - ::1/128\n"
	        "allow_nets: 192.168.0.0/16, 127.0.0.1\nm3u8: yes\norch_url:\n"
	        "playlist_sources:\n  - /etc/acexy/a.m3u\n  - http://lists.example/b.m3u\n";
	assert_int_equal(acexy_config_load_yaml(&cfg, "f.yaml", ok, strlen(ok), err, sizeof(err)),
	                 0);
	assert_int_equal(cfg.v[ACEXY_S_TRUSTED_PROXIES].nets.n, 2);
	assert_int_equal(cfg.v[ACEXY_S_ALLOW_NETS].nets.n, 2);
	assert_true(acexy_cfg_b(&cfg, ACEXY_S_M3U8));
	assert_string_equal(acexy_cfg_s(&cfg, ACEXY_S_ORCH_URL), "");
	assert_string_equal(acexy_cfg_s(&cfg, ACEXY_S_PLAYLIST_SOURCES),
	                    "/etc/acexy/a.m3u,http://lists.example/b.m3u");
	assert_string_equal(cfg.v[ACEXY_S_M3U8].origin_where, "f.yaml:6");
	acexy_config_free(&cfg);
	/* an empty file is fine */
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(acexy_config_defaults(&cfg), 0);
	assert_int_equal(acexy_config_load_yaml(&cfg, "f.yaml", "", 0, err, sizeof(err)), 0);
	acexy_config_free(&cfg);
}

/* Ranges come from ACEXY_SETTING_RANGES: the bounds themselves pass, one
 * past them is refused with the range in the setting's own syntax. */
static void test_ranges(void **state)
{
	(void)state;
	char range[96];
	acexy_setting_range_text(acexy_setting(ACEXY_S_BUFFER), range, sizeof(range));
	assert_string_equal(range, "a size from 64KiB to 1GiB");
	acexy_setting_range_text(acexy_setting(ACEXY_S_CONTROL_WAIT), range, sizeof(range));
	assert_string_equal(range, "a duration up to 1h");
	acexy_setting_range_text(acexy_setting(ACEXY_S_DATAPLANE_LOST_AFTER), range, sizeof(range));
	assert_string_equal(range, "a duration from 500ms to 1h");
	acexy_setting_range_text(acexy_setting(ACEXY_S_MAX_STREAMS_PER_ENGINE), range,
	                         sizeof(range));
	assert_string_equal(range, "a number from 1 to 1000");
	assert_false(acexy_setting(ACEXY_S_PORT)->ranged);
	yaml_error("buffer: 65535\n", "expected a size from 64KiB to 1GiB");
	yaml_error("max_header_bytes: 1048577\n", "expected a size from 1KiB to 1MiB");
	yaml_error("empty_timeout: 25h\n", "expected a duration from 10ms to 24h");
	yaml_error("max_streams_per_engine: 0\n", "expected a number from 1 to 1000");
	struct acexy_config cfg;
	char err[512];
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(acexy_config_defaults(&cfg), 0);
	const char *edges = "buffer: 64KiB\nmax_header_bytes: 1MiB\nempty_timeout: 24h\n"
	                    "control_wait: 0s\nmax_streams_per_engine: 1000\n";
	assert_int_equal(
	        acexy_config_load_yaml(&cfg, "f.yaml", edges, strlen(edges), err, sizeof(err)), 0);
	acexy_config_free(&cfg);
}

static void test_help_lists_everything(void **state)
{
	(void)state;
	struct run r;
	char *argv[] = {"x", "--help", NULL};
	char *env[] = {NULL};
	run_load(&r, 2, argv, env);
	assert_int_equal(r.rc, ACEXY_CONFIG_EXIT);
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const struct acexy_setting_desc *d = acexy_setting(i);
		assert_non_null(strstr(r.out, d->env));
		assert_non_null(strstr(r.out, d->flag));
	}
	assert_non_null(strstr(r.out, "ACEXY_ADDR"));
	char *argv2[] = {"x", "--print-sample-config", NULL};
	run_load(&r, 2, argv2, env);
	assert_int_equal(r.rc, ACEXY_CONFIG_EXIT);
	/* the sample, uncommented, is itself a valid config with the defaults */
	char *uncommented = malloc(sizeof(r.out));
	size_t o = 0;
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' && line[1] != ' ' && line[1] != '\0')
			o += (size_t)sprintf(uncommented + o, "%s\n", line + 1);
	}
	struct acexy_config cfg;
	char err[512] = "";
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(acexy_config_defaults(&cfg), 0);
	int rc = acexy_config_load_yaml(&cfg, "sample", uncommented, o, err, sizeof(err));
	if (rc != 0)
		fail_msg("sample config: %s", err);
	assert_int_equal(cfg.v[ACEXY_S_BUFFER].origin, ACEXY_ORIGIN_FILE);
	assert_int_equal(acexy_cfg_u(&cfg, ACEXY_S_BUFFER), 4404019);
	acexy_config_free(&cfg);
	free(uncommented);
}

static void test_control_url(void **state)
{
	(void)state;
	struct acexy_ctlurl u;
	assert_int_equal(acexy_ctlurl_parse("tcp://[::1]:9000", &u), 0);
	assert_int_equal(u.scheme, ACEXY_CTL_TCP);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 9000);
	assert_int_equal(acexy_ctlurl_parse("tls+tcp://cp.acexy.svc:7000", &u), 0);
	assert_int_equal(u.scheme, ACEXY_CTL_TLS);
	assert_string_equal(u.host, "cp.acexy.svc");
	assert_int_equal(acexy_ctlurl_parse("tcp://0.0.0.0:1", &u), 0);
	assert_int_equal(acexy_ctlurl_parse("ipc:///run/acexy/control.sock", &u), 0);
	assert_int_equal(u.scheme, ACEXY_CTL_IPC);
	const char *bad[] = {"tcp://[::1:9000",  "tcp://host",   "tcp://host:0",
	                     "tcp://host:65536", "udp://host:1", "ipc://relative",
	                     "tcp://a b:1",      "tcp://[]:1",   "tcp://h:1x",
	                     "tls+tcp://[zz]:1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(acexy_ctlurl_parse(bad[i], &u), -EINVAL);
}

static void test_control_token_and_files(void **state)
{
	(void)state;
	static struct run r;
	char *argv[] = {"x", NULL};
	/* tcp:// without a token: a configuration error */
	char *env1[] = {"ACEXY_CONTROL_URL=tcp://127.0.0.1:9000", NULL};
	run_load(&r, 1, argv, env1);
	assert_int_equal(r.rc, -EINVAL);
	assert_non_null(strstr(r.err, "ACEXY_CONTROL_TOKEN"));
	/* a token from a file: trailing newline dropped, never printed */
	char *path = strdup(write_tmp("s3cr3t-token\n"));
	char envf[128];
	snprintf(envf, sizeof(envf), "ACEXY_CONTROL_TOKEN_FILE=%s", path);
	char *env2[] = {"ACEXY_CONTROL_URL=tcp://127.0.0.1:9000", envf, NULL};
	char *argv2[] = {"x", "--check-config", NULL};
	run_load(&r, 2, argv2, env2);
	assert_int_equal(r.rc, ACEXY_CONFIG_EXIT);
	assert_non_null(strstr(r.out, "ACEXY_CONTROL_TOKEN=<set>"));
	assert_null(strstr(r.out, "s3cr3t"));
	run_load(&r, 1, argv, env2);
	assert_int_equal(r.rc, 0);
	assert_string_equal(acexy_cfg_s(&r.cfg, ACEXY_S_CONTROL_TOKEN), "s3cr3t-token");
	acexy_config_free(&r.cfg);
	/* both the secret and its file: refused */
	char *env3[] = {"ACEXY_CONTROL_TOKEN=x", envf, NULL};
	run_load(&r, 1, argv, env3);
	assert_int_equal(r.rc, -EINVAL);
	unlink(path);
	/* a missing file: refused, naming the setting */
	char *env4[] = {"ACEXY_ORCH_APIKEY_FILE=/nonexistent/key", NULL};
	run_load(&r, 1, argv, env4);
	assert_int_equal(r.rc, -EINVAL);
	assert_non_null(strstr(r.err, "ACEXY_ORCH_APIKEY_FILE"));
	/* tls+tcp:// needs its certificate files */
	char *env5[] = {"ACEXY_CONTROL_URL=tls+tcp://[::1]:9000", "ACEXY_CONTROL_TOKEN=t", NULL};
	run_load(&r, 1, argv, env5);
	assert_int_equal(r.rc, -EINVAL);
	assert_non_null(strstr(r.err, "ACEXY_CONTROL_TLS_CERT"));
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_names_derived),
	        cmocka_unit_test(test_precedence),
	        cmocka_unit_test(test_config_flag_overrides_env),
	        cmocka_unit_test(test_alias),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_yaml),
	        cmocka_unit_test(test_help_lists_everything),
	        cmocka_unit_test(test_ranges),
	        cmocka_unit_test(test_control_url),
	        cmocka_unit_test(test_control_token_and_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
