/* Settings loader: defaults < YAML file < environment < flags. Everything is
 * driven by ACEXY_SETTINGS in settings_table.h. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "acexy/ctlurl.h"
#include "acexy/fsutil.h"
#include "acexy/settings.h"

#define KEY_MAX         48
#define CONFIG_FILE_MAX (1024 * 1024)

static struct acexy_setting_desc descs[ACEXY_S_COUNT_];
static char keys[ACEXY_S_COUNT_][KEY_MAX];
static char flags[ACEXY_S_COUNT_][KEY_MAX + 2];
static pthread_once_t descs_once = PTHREAD_ONCE_INIT;

static void descs_init(void)
{
	static const struct {
		const char *env;
		enum acexy_setting_type type;
		const char *def;
		enum acexy_setting_owner owner;
		const char *help;
	} raw[] = {
#define ACEXY_X_RAW(id, env, type, def, owner, help) {env, type, def, owner, help},
	        ACEXY_SETTINGS(ACEXY_X_RAW)
#undef ACEXY_X_RAW
	};
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const char *e = raw[i].env;
		if (strncmp(e, "ACEXY_", 6) == 0)
			e += 6;
		size_t n = strlen(e);
		for (size_t j = 0; j < n && j < KEY_MAX - 1; j++) {
			keys[i][j] = (char)tolower((unsigned char)e[j]);
			flags[i][j + 2] = keys[i][j] == '_' ? '-' : keys[i][j];
		}
		flags[i][0] = flags[i][1] = '-';
		descs[i] = (struct acexy_setting_desc){
		        .env = raw[i].env,
		        .key = keys[i],
		        .flag = flags[i],
		        .type = raw[i].type,
		        .def = raw[i].def,
		        .owner = raw[i].owner,
		        .help = raw[i].help,
		};
	}
#define ACEXY_X_RANGE(id, lo, hi)                                                                  \
	descs[ACEXY_S_##id].ranged = true;                                                         \
	descs[ACEXY_S_##id].min = (lo);                                                            \
	descs[ACEXY_S_##id].max = (hi);
	ACEXY_SETTING_RANGES(ACEXY_X_RANGE)
#undef ACEXY_X_RANGE
}

/* One bound in the setting's own syntax: 64KiB, 1h, 500ms, 1000. */
static void bound_text(enum acexy_setting_type t, uint64_t v, char *buf, size_t cap)
{
	static const struct {
		uint64_t unit;
		const char *name;
	} sizes[] = {{1ULL << 40, "TiB"},
	             {1ULL << 30, "GiB"},
	             {1ULL << 20, "MiB"},
	             {1ULL << 10, "KiB"}},
	  durations[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}};
	const bool size = t == ACEXY_T_SIZE, dur = t == ACEXY_T_DURATION;
	for (size_t i = 0; v && (size || dur) && i < (size ? 4u : 3u); i++) {
		uint64_t u = size ? sizes[i].unit : durations[i].unit;
		if (v % u == 0) {
			snprintf(buf, cap, "%llu%s", (unsigned long long)(v / u),
			         size ? sizes[i].name : durations[i].name);
			return;
		}
	}
	snprintf(buf, cap, "%llu%s", (unsigned long long)v, dur ? "ms" : "");
}

void acexy_setting_range_text(const struct acexy_setting_desc *d, char *buf, size_t cap)
{
	char lo[32], hi[32];
	const char *what = d->type == ACEXY_T_SIZE       ? "a size"
	                   : d->type == ACEXY_T_DURATION ? "a duration"
	                                                 : "a number";
	bound_text(d->type, d->min, lo, sizeof(lo));
	bound_text(d->type, d->max, hi, sizeof(hi));
	if (d->min == 0)
		snprintf(buf, cap, "%s up to %s", what, hi);
	else
		snprintf(buf, cap, "%s from %s to %s", what, lo, hi);
}

const struct acexy_setting_desc *acexy_setting(int id)
{
	pthread_once(&descs_once, descs_init);
	if (id < 0 || id >= ACEXY_S_COUNT_)
		return NULL;
	return &descs[id];
}

int acexy_setting_by_key(const char *key)
{
	for (int i = 0; i < ACEXY_S_COUNT_; i++)
		if (strcmp(acexy_setting(i)->key, key) == 0)
			return i;
	return -1;
}

int acexy_setting_by_env(const char *env)
{
	static const struct {
		int id;
		const char *env;
	} aliases[] = {
#define ACEXY_X_ALIAS(id, env) {ACEXY_S_##id, env},
	        ACEXY_SETTING_ALIASES(ACEXY_X_ALIAS)
#undef ACEXY_X_ALIAS
	};
	for (int i = 0; i < ACEXY_S_COUNT_; i++)
		if (strcmp(acexy_setting(i)->env, env) == 0)
			return i;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(aliases[i].env, env) == 0)
			return aliases[i].id;
	return -1;
}

int acexy_setting_by_flag(const char *flag)
{
	for (int i = 0; i < ACEXY_S_COUNT_; i++)
		if (strcmp(acexy_setting(i)->flag + 2, flag) == 0)
			return i;
	return -1;
}

static const char *const origin_names[] = {"default", "file", "env", "flag"};

static void report(char *errbuf, size_t errcap, int id, const char *value, const char *where,
                   const char *expect)
{
	const struct acexy_setting_desc *d = acexy_setting(id);
	bool secret = d->type == ACEXY_T_SECRET;
	snprintf(errbuf, errcap, "invalid %s (%s) value \"%.200s\" from %s: expected %s", d->env,
	         d->key, secret ? "<secret>" : value, where, expect);
}

/* Parses and stores one value; on error writes one line to errbuf. */
static int set_value(struct acexy_config *cfg, int id, const char *text, enum acexy_origin origin,
                     const char *where, char *errbuf, size_t errcap)
{
	const struct acexy_setting_desc *d = acexy_setting(id);
	struct acexy_value v;
	const char *expect = NULL;
	int rc = acexy_value_parse(d->type, text, &v, &expect);
	if (rc == -ENOMEM) {
		snprintf(errbuf, errcap, "out of memory");
		return rc;
	}
	if (rc < 0) {
		report(errbuf, errcap, id, text, where, expect);
		return -EINVAL;
	}
	if (d->ranged && (v.u < d->min || v.u > d->max)) {
		char range[96];
		acexy_setting_range_text(d, range, sizeof(range));
		report(errbuf, errcap, id, text, where, range);
		acexy_value_clear(&v);
		return -EINVAL;
	}
	v.origin = origin;
	v.origin_where = strdup(where);
	if (!v.origin_where) {
		acexy_value_clear(&v);
		snprintf(errbuf, errcap, "out of memory");
		return -ENOMEM;
	}
	acexy_value_clear(&cfg->v[id]);
	cfg->v[id] = v;
	return 0;
}

int acexy_config_defaults(struct acexy_config *cfg)
{
	char err[512];
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		int rc = set_value(cfg, i, acexy_setting(i)->def, ACEXY_ORIGIN_DEFAULT, "default",
		                   err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "BUG: default of %s: %s\n", acexy_setting(i)->env, err);
			return rc;
		}
	}
	return 0;
}

void acexy_config_free(struct acexy_config *cfg)
{
	if (!cfg)
		return;
	for (int i = 0; i < ACEXY_S_COUNT_; i++)
		acexy_value_clear(&cfg->v[i]);
	free(cfg->config_file);
	cfg->config_file = NULL;
}

/* ---- YAML ---- */

static const char *event_name(yaml_event_type_t t)
{
	switch (t) {
	case YAML_SEQUENCE_START_EVENT:
		return "a sequence";
	case YAML_MAPPING_START_EVENT:
		return "a mapping";
	case YAML_ALIAS_EVENT:
		return "an alias";
	default:
		return "something else";
	}
}

int acexy_config_load_yaml(struct acexy_config *cfg, const char *name, const char *data, size_t len,
                           char *errbuf, size_t errcap)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	bool seen[ACEXY_S_COUNT_] = {0};
	int rc = 0;
	int depth = 0; /* 0 = before the document mapping, 1 = inside it */
	bool done = false;

	if (len > CONFIG_FILE_MAX) {
		snprintf(errbuf, errcap, "%s: file larger than 1 MiB", name);
		return -EINVAL;
	}
	if (!yaml_parser_initialize(&parser)) {
		snprintf(errbuf, errcap, "%s: cannot initialise the YAML parser", name);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done && rc == 0) {
		if (!yaml_parser_parse(&parser, &ev)) {
			snprintf(errbuf, errcap, "%s:%zu: invalid YAML: %s", name,
			         parser.problem_mark.line + 1,
			         parser.problem ? parser.problem : "syntax error");
			rc = -EINVAL;
			break;
		}
		size_t line = ev.start_mark.line + 1;
		switch (ev.type) {
		case YAML_STREAM_START_EVENT:
		case YAML_DOCUMENT_START_EVENT:
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			if (depth != 0) {
				snprintf(errbuf, errcap,
				         "%s:%zu: the file must be one flat mapping of settings",
				         name, line);
				rc = -EINVAL;
			}
			depth = 1;
			break;
		case YAML_MAPPING_END_EVENT:
			depth = 2; /* only one mapping per file */
			break;
		case YAML_SCALAR_EVENT: {
			if (depth != 1) {
				/* an empty document is a scalar null at depth 0 */
				if (depth == 0 && ev.data.scalar.length == 0)
					break;
				snprintf(errbuf, errcap,
				         "%s:%zu: the file must be one flat mapping of settings",
				         name, line);
				rc = -EINVAL;
				break;
			}
			char key[KEY_MAX];
			snprintf(key, sizeof(key), "%s", (const char *)ev.data.scalar.value);
			int id = acexy_setting_by_key((const char *)ev.data.scalar.value);
			if (id < 0) {
				snprintf(
				        errbuf, errcap,
				        "%s:%zu: unknown setting '%.64s' (see --help for the keys)",
				        name, line, (const char *)ev.data.scalar.value);
				rc = -EINVAL;
				break;
			}
			if (seen[id]) {
				snprintf(errbuf, errcap, "%s:%zu: setting '%s' given twice", name,
				         line, key);
				rc = -EINVAL;
				break;
			}
			seen[id] = true;
			yaml_event_delete(&ev);
			if (!yaml_parser_parse(&parser, &ev)) {
				snprintf(errbuf, errcap, "%s:%zu: invalid YAML: %s", name,
				         parser.problem_mark.line + 1,
				         parser.problem ? parser.problem : "syntax error");
				rc = -EINVAL;
				goto free_parser; /* ev already deleted */
			}
			line = ev.start_mark.line + 1;
			char where[300];
			snprintf(where, sizeof(where), "%s:%zu", name, line);
			if (ev.type == YAML_SCALAR_EVENT) {
				const char *val = (const char *)ev.data.scalar.value;
				bool is_null =
				        ev.data.scalar.length == 0 && ev.data.scalar.plain_implicit;
				rc = set_value(cfg, id, is_null ? "" : val, ACEXY_ORIGIN_FILE,
				               where, errbuf, errcap);
			} else if (ev.type == YAML_SEQUENCE_START_EVENT &&
			           (acexy_setting(id)->type == ACEXY_T_NETS ||
			            acexy_setting(id)->type == ACEXY_T_SOURCES)) {
				/* a sequence (networks, sources): joined into the env syntax */
				char joined[4096] = "";
				size_t jl = 0;
				for (;;) {
					yaml_event_delete(&ev);
					if (!yaml_parser_parse(&parser, &ev)) {
						snprintf(errbuf, errcap, "%s:%zu: invalid YAML: %s",
						         name, parser.problem_mark.line + 1,
						         parser.problem ? parser.problem
						                        : "syntax error");
						rc = -EINVAL;
						goto free_parser;
					}
					if (ev.type == YAML_SEQUENCE_END_EVENT)
						break;
					if (ev.type != YAML_SCALAR_EVENT ||
					    jl + ev.data.scalar.length + 2 >= sizeof(joined)) {
						report(errbuf, errcap, id, "(sequence)", where,
						       "a list of networks such as 10.0.0.0/8");
						rc = -EINVAL;
						break;
					}
					jl += (size_t)snprintf(joined + jl, sizeof(joined) - jl,
					                       "%s%s", jl ? "," : "",
					                       (const char *)ev.data.scalar.value);
				}
				if (rc == 0)
					rc = set_value(cfg, id, joined, ACEXY_ORIGIN_FILE, where,
					               errbuf, errcap);
			} else {
				snprintf(errbuf, errcap,
				         "%s:%zu: setting '%s' (%s) must be a single value, not %s",
				         name, line, key, acexy_setting(id)->env,
				         event_name(ev.type));
				rc = -EINVAL;
			}
			break;
		}
		default:
			snprintf(errbuf, errcap,
			         "%s:%zu: the file must be one flat mapping of settings", name,
			         line);
			rc = -EINVAL;
			break;
		}
		yaml_event_delete(&ev);
	}
free_parser:
	yaml_parser_delete(&parser);
	return rc;
}

static int load_file(struct acexy_config *cfg, const char *path, char *errbuf, size_t errcap)
{
	char *buf = NULL;
	size_t n = 0;
	/* one byte over the cap: the YAML loader names the size error */
	int rc = acexy_read_file(path, CONFIG_FILE_MAX + 1, &buf, &n);
	if (rc == -ENOMEM) {
		snprintf(errbuf, errcap, "out of memory");
		return rc;
	}
	if (rc < 0) {
		snprintf(errbuf, errcap, "cannot open config file %s: %s", path, strerror(-rc));
		return -EINVAL;
	}
	rc = acexy_config_load_yaml(cfg, path, buf, n, errbuf, errcap);
	free(buf);
	return rc;
}

/* ---- checks across settings, secrets from files ---- */

#define SECRET_FILE_MAX 4096

/* Reads a secret from `path` into *ret (malloc'ed): at most SECRET_FILE_MAX
 * bytes, one trailing "\n" or "\r\n" dropped, no other control bytes. */
static int read_secret_file(const char *path, char **ret, char *why, size_t whycap)
{
	char *buf = NULL;
	size_t n = 0;
	int rc = acexy_read_file(path, SECRET_FILE_MAX, &buf, &n);
	if (rc == -EFBIG)
		snprintf(why, whycap, "larger than %d bytes", SECRET_FILE_MAX);
	else if (rc < 0)
		snprintf(why, whycap, "cannot read it: %s", strerror(-rc));
	if (rc < 0)
		return rc == -ENOMEM ? rc : -EINVAL;
	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)buf[i] < ' ' || buf[i] == 0x7f) {
			free(buf);
			snprintf(why, whycap, "it holds a control character or more than one line");
			return -EINVAL;
		}
	}
	if (n == 0) {
		free(buf);
		snprintf(why, whycap, "it is empty");
		return -EINVAL;
	}
	*ret = buf;
	return 0;
}

static int secret_from_file(struct acexy_config *cfg, enum acexy_setting_id secret,
                            enum acexy_setting_id file, char *errbuf, size_t errcap)
{
	const char *path = acexy_cfg_s(cfg, file);
	if (!*path)
		return 0;
	const struct acexy_setting_desc *ds = acexy_setting(secret), *df = acexy_setting(file);
	if (cfg->v[secret].origin != ACEXY_ORIGIN_DEFAULT) {
		snprintf(errbuf, errcap, "%s and %s are both set (from %s and %s): set one",
		         ds->env, df->env, cfg->v[secret].origin_where, cfg->v[file].origin_where);
		return -EINVAL;
	}
	char why[160], *val = NULL, where[300];
	int rc = read_secret_file(path, &val, why, sizeof(why));
	if (rc < 0) {
		snprintf(errbuf, errcap, "invalid %s (%s) \"%.200s\" from %s: %s", df->env, df->key,
		         path, cfg->v[file].origin_where, why);
		return rc;
	}
	snprintf(where, sizeof(where), "file %.200s (%s)", path, df->env);
	rc = set_value(cfg, secret, val, cfg->v[file].origin, where, errbuf, errcap);
	/* the secret's bytes do not outlive their use */
	memset(val, 0, strlen(val));
	free(val);
	return rc;
}

void acexy_cfg_control_url(const struct acexy_config *cfg, char *buf, size_t cap)
{
	const char *u = acexy_cfg_s(cfg, ACEXY_S_CONTROL_URL);
	if (*u)
		snprintf(buf, cap, "%s", u);
	else
		snprintf(buf, cap, "ipc://%s/control.sock", acexy_cfg_s(cfg, ACEXY_S_RUN_DIR));
}

static int check_file(const struct acexy_config *cfg, enum acexy_setting_id id, char *errbuf,
                      size_t errcap)
{
	const struct acexy_setting_desc *d = acexy_setting(id);
	const char *p = acexy_cfg_s(cfg, id);
	if (!*p) {
		snprintf(errbuf, errcap, "%s is required by a tls+tcp:// ACEXY_CONTROL_URL",
		         d->env);
		return -EINVAL;
	}
	if (access(p, R_OK) < 0) {
		snprintf(errbuf, errcap, "invalid %s (%s) \"%.200s\" from %s: cannot read it: %s",
		         d->env, d->key, p, cfg->v[id].origin_where, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

/* Checks that look at more than one setting, and reads *_FILE secrets. */
static int config_finish(struct acexy_config *cfg, char *errbuf, size_t errcap)
{
	static const struct {
		enum acexy_setting_id secret, file;
	} files[] = {
	        {ACEXY_S_ORCH_APIKEY, ACEXY_S_ORCH_APIKEY_FILE},
	        {ACEXY_S_ACCESS_TOKEN, ACEXY_S_ACCESS_TOKEN_FILE},
	        {ACEXY_S_CONTROL_TOKEN, ACEXY_S_CONTROL_TOKEN_FILE},
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		int rc = secret_from_file(cfg, files[i].secret, files[i].file, errbuf, errcap);
		if (rc < 0)
			return rc;
	}
	char url[400];
	struct acexy_ctlurl cu;
	acexy_cfg_control_url(cfg, url, sizeof(url));
	if (acexy_ctlurl_parse(url, &cu) < 0) {
		snprintf(errbuf, errcap,
		         "the control URL %.300s (ACEXY_RUN_DIR + /control.sock) is too long for a "
		         "Unix socket: set a shorter ACEXY_RUN_DIR or ACEXY_CONTROL_URL",
		         url);
		return -EINVAL;
	}
	if (acexy_ctlurl_is_net(&cu) && !acexy_cfg_s(cfg, ACEXY_S_CONTROL_TOKEN)[0]) {
		snprintf(errbuf, errcap,
		         "ACEXY_CONTROL_URL %s is reachable over the network: ACEXY_CONTROL_TOKEN "
		         "(or ACEXY_CONTROL_TOKEN_FILE) is required",
		         url);
		return -EINVAL;
	}
	if (cu.scheme == ACEXY_CTL_TLS) {
		static const enum acexy_setting_id tls[] = {
		        ACEXY_S_CONTROL_TLS_CERT, ACEXY_S_CONTROL_TLS_KEY, ACEXY_S_CONTROL_TLS_CA};
		for (size_t i = 0; i < 3; i++)
			if (check_file(cfg, tls[i], errbuf, errcap) < 0)
				return -EINVAL;
	}
	return 0;
}

/* ---- the whole load ---- */

static const char *env_get(char **env, const char *name)
{
	if (!env)
		return getenv(name);
	size_t n = strlen(name);
	for (char **e = env; *e; e++)
		if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

int acexy_config_load(struct acexy_config *cfg, const struct acexy_program *prog, int argc,
                      char **argv, char **env, FILE *out, FILE *err)
{
	char errbuf[1024];
	const char *config_path = NULL;
	const char *config_origin = "env ACEXY_CONFIG";
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = acexy_config_defaults(cfg);
	if (rc < 0)
		return rc;

	/* First pass over argv: help, version, config file, and syntax. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			acexy_config_help(prog, out);
			acexy_config_free(cfg);
			return ACEXY_CONFIG_EXIT;
		}
		if (strcmp(a, "--version") == 0) {
			fprintf(out, "%s %s\n", prog->name, ACEXY_VERSION);
			acexy_config_free(cfg);
			return ACEXY_CONFIG_EXIT;
		}
		if (strcmp(a, "--print-sample-config") == 0) {
			acexy_config_sample_yaml(out);
			acexy_config_free(cfg);
			return ACEXY_CONFIG_EXIT;
		}
		if (strcmp(a, "--check-config") == 0) {
			cfg->check_only = true;
			continue;
		}
		if (strcmp(a, "--print-settings-markdown") == 0) {
			acexy_config_markdown(out);
			acexy_config_free(cfg);
			return ACEXY_CONFIG_EXIT;
		}
		if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
			if (a[8] == '=') {
				config_path = a + 9;
			} else if (i + 1 < argc) {
				config_path = argv[++i];
			} else {
				fprintf(err, "%s: --config needs a file name\n", prog->name);
				goto free_config;
			}
			config_origin = "flag --config";
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			fprintf(err, "%s: unexpected argument '%s' (see --help)\n", prog->name, a);
			goto free_config;
		}
		char name[KEY_MAX + 8];
		const char *eq = strchr(a + 2, '=');
		size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name)) {
			fprintf(err, "%s: unknown option '%s' (see --help)\n", prog->name, a);
			goto free_config;
		}
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		int id = acexy_setting_by_flag(name);
		if (id < 0) {
			fprintf(err, "%s: unknown option '--%s' (see --help)\n", prog->name, name);
			goto free_config;
		}
		if (!eq) {
			bool bare_bool = acexy_setting(id)->type == ACEXY_T_BOOL &&
			                 (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0);
			if (!bare_bool) {
				if (i + 1 >= argc) {
					fprintf(err, "%s: option '--%s' needs a value\n",
					        prog->name, name);
					goto free_config;
				}
				i++;
			}
		}
	}

	if (!config_path) {
		config_path = env_get(env, "ACEXY_CONFIG");
		if (config_path && !*config_path)
			config_path = NULL;
	}
	if (config_path) {
		cfg->config_file = strdup(config_path);
		rc = load_file(cfg, config_path, errbuf, sizeof(errbuf));
		if (rc < 0) {
			fprintf(err, "%s: %s (config file named by %s)\n", prog->name, errbuf,
			        config_origin);
			goto free_config;
		}
	}

	/* Environment: aliases first, so the primary name wins when both are set. */
	static const struct {
		int id;
		const char *env;
	} aliases[] = {
#define ACEXY_X_ALIAS3(id, env) {ACEXY_S_##id, env},
	        ACEXY_SETTING_ALIASES(ACEXY_X_ALIAS3)
#undef ACEXY_X_ALIAS3
	};
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		const char *v = env_get(env, aliases[i].env);
		char where[80];
		if (!v)
			continue;
		snprintf(where, sizeof(where), "env %s", aliases[i].env);
		if (set_value(cfg, aliases[i].id, v, ACEXY_ORIGIN_ENV, where, errbuf,
		              sizeof(errbuf)) < 0) {
			fprintf(err, "%s: %s\n", prog->name, errbuf);
			goto free_config;
		}
	}
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const char *v = env_get(env, acexy_setting(i)->env);
		char where[80];
		if (!v)
			continue;
		snprintf(where, sizeof(where), "env %s", acexy_setting(i)->env);
		if (set_value(cfg, i, v, ACEXY_ORIGIN_ENV, where, errbuf, sizeof(errbuf)) < 0) {
			fprintf(err, "%s: %s\n", prog->name, errbuf);
			goto free_config;
		}
	}

	/* Flags (syntax was checked above). */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--config", 8) == 0 && (a[8] == '\0' || a[8] == '=')) {
			if (a[8] == '\0')
				i++;
			continue;
		}
		if (strcmp(a, "--check-config") == 0)
			continue;
		char name[KEY_MAX + 8];
		const char *eq = strchr(a + 2, '=');
		size_t nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		int id = acexy_setting_by_flag(name);
		const char *val;
		if (eq) {
			val = eq + 1;
		} else if (acexy_setting(id)->type == ACEXY_T_BOOL &&
		           (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
			val = "true";
		} else {
			val = argv[++i];
		}
		char where[80];
		snprintf(where, sizeof(where), "flag --%s", name);
		if (set_value(cfg, id, val, ACEXY_ORIGIN_FLAG, where, errbuf, sizeof(errbuf)) < 0) {
			fprintf(err, "%s: %s\n", prog->name, errbuf);
			goto free_config;
		}
	}
	if (config_finish(cfg, errbuf, sizeof(errbuf)) < 0) {
		fprintf(err, "%s: %s\n", prog->name, errbuf);
		goto free_config;
	}
	if (cfg->check_only) {
		acexy_config_print(cfg, prog, out);
		acexy_config_free(cfg);
		return ACEXY_CONFIG_EXIT;
	}
	return 0;
free_config:
	acexy_config_free(cfg);
	return -EINVAL;
}

const char *acexy_origin_name(enum acexy_origin o)
{
	return (unsigned)o < 4 ? origin_names[o] : "?";
}
