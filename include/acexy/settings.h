/* Settings: the table in settings_table.h, typed values, and the loader that
 * merges defaults, the YAML file, the environment and flags (highest wins). */
#ifndef ACEXY_SETTINGS_H
#define ACEXY_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acexy/netaddr.h"
#include "acexy/settings_table.h"

enum acexy_setting_type {
	ACEXY_T_STRING,
	ACEXY_T_SECRET, /* string never printed */
	ACEXY_T_PATH,
	ACEXY_T_URL,
	ACEXY_T_HOST,
	ACEXY_T_PORT,
	ACEXY_T_SCHEME,
	ACEXY_T_SIZE,     /* bytes, u64 */
	ACEXY_T_DURATION, /* milliseconds, u64 */
	ACEXY_T_BOOL,
	ACEXY_T_COUNT,   /* non-negative integer, u64 */
	ACEXY_T_WORKERS, /* 0 = auto */
	ACEXY_T_ADDR,
	ACEXY_T_NETS,
	ACEXY_T_SOURCES, /* http(s) URLs or file paths, comma-separated (YAML: a sequence too) */
	ACEXY_T_LOGLEVEL,
	ACEXY_T_LOGFORMAT,
	ACEXY_T_NAME,    /* [A-Za-z0-9._-]{1,64}, or empty */
	ACEXY_T_CTLURL,  /* empty (= ipc://$ACEXY_RUN_DIR/control.sock) or acexy_ctlurl */
	ACEXY_T_OPTFILE, /* empty or a path */
};
#define ACEXY_T_LAST_ ACEXY_T_OPTFILE

#define ACEXY_SOURCES_MAX 32 /* items of an ACEXY_T_SOURCES list */

enum acexy_setting_owner { ACEXY_OWN_BOTH, ACEXY_OWN_CP, ACEXY_OWN_DP };

enum acexy_setting_id {
#define ACEXY_X_ENUM(id, env, type, def, owner, help) ACEXY_S_##id,
	ACEXY_SETTINGS(ACEXY_X_ENUM)
#undef ACEXY_X_ENUM
	        ACEXY_S_COUNT_
};

enum acexy_origin { ACEXY_ORIGIN_DEFAULT, ACEXY_ORIGIN_FILE, ACEXY_ORIGIN_ENV, ACEXY_ORIGIN_FLAG };

struct acexy_setting_desc {
	const char *env;
	const char *key;  /* yaml key */
	const char *flag; /* "--..." */
	enum acexy_setting_type type;
	const char *def;
	enum acexy_setting_owner owner;
	const char *help;
	bool ranged;       /* ACEXY_SETTING_RANGES lists it */
	uint64_t min, max; /* then: the value's bounds, in its unit */
};

struct acexy_value {
	union {
		uint64_t u; /* size, duration (ms), count, workers, port, level, format */
		bool b;
		struct acexy_addr addr;
	};
	char *s;                   /* string-like types; also the raw text for every type */
	struct acexy_netlist nets; /* ACEXY_T_NETS */
	enum acexy_origin origin;
	char *origin_where; /* "file.yaml:12", "env ACEXY_X", "flag --x" */
};

struct acexy_config {
	struct acexy_value v[ACEXY_S_COUNT_];
	char *config_file; /* NULL when none */
	bool check_only;   /* --check-config: validate, print, exit */
};

/* The descriptor of setting `id` (0 <= id < ACEXY_S_COUNT_). */
const struct acexy_setting_desc *acexy_setting(int id);
/* "a size from 64KiB to 1GiB", "a duration up to 1h", "a number from 1 to
 * 1000": a ranged setting's bounds in its own syntax. */
void acexy_setting_range_text(const struct acexy_setting_desc *d, char *buf, size_t cap);

/* Looks up a setting by YAML key, env name (aliases included) or flag name
 * (without leading dashes). Returns -1 when unknown. */
int acexy_setting_by_key(const char *key);
int acexy_setting_by_env(const char *env);
int acexy_setting_by_flag(const char *flag);

/* Parses one value of `type` from text. On failure returns -EINVAL and writes
 * what was expected to `expect` (a static string). Pure. */
int acexy_value_parse(enum acexy_setting_type type, const char *text, struct acexy_value *ret_value,
                      const char **expect);
void acexy_value_clear(struct acexy_value *v);

/* Formats a value for display (secrets become "<set>" or ""). */
void acexy_value_format(enum acexy_setting_type type, const struct acexy_value *v, char *buf,
                        size_t cap);

/* Individual value parsers (pure). 0 or -EINVAL (-ERANGE on overflow). */
int acexy_parse_size(const char *text, uint64_t *ret_bytes);
int acexy_parse_duration_ms(const char *text, uint64_t *ret_ms);
int acexy_parse_bool(const char *text, bool *ret_value);
/* The next non-empty item of a comma-separated list, blanks trimmed: its start
 * and length. Advances *cursor past it; false at the end of the list. */
bool acexy_list_next(const char **cursor, const char **ret_item, size_t *ret_len);

/* Program description used for --help and --version. */
struct acexy_program {
	const char *name;    /* "acexy-dataplane" */
	const char *summary; /* one line */
	enum acexy_setting_owner owner;
};

/* Loads configuration: defaults, then file (--config or ACEXY_CONFIG), env,
 * flags. `env` is a NULL-terminated environ-style array (NULL = process env).
 * Returns 0; ACEXY_CONFIG_EXIT when --help/--version was printed (exit 0);
 * -EINVAL on any error, with one line written to `err` (exit 2).
 * Remaining non-option arguments are not allowed. */
#define ACEXY_CONFIG_EXIT 1
int acexy_config_load(struct acexy_config *cfg, const struct acexy_program *prog, int argc,
                      char **argv, char **env, FILE *out, FILE *err);
void acexy_config_free(struct acexy_config *cfg);

/* Loads only a YAML buffer into cfg (for tests and fuzzing). `name` is the
 * file name used in errors. Returns 0 or -EINVAL with one line in errbuf. */
int acexy_config_load_yaml(struct acexy_config *cfg, const char *name, const char *data, size_t len,
                           char *errbuf, size_t errcap);
/* Sets defaults on an zeroed config. */
int acexy_config_defaults(struct acexy_config *cfg);

const char *acexy_origin_name(enum acexy_origin o);
/* [{env, value, origin, where}] for every setting, secrets as <set>
 * (common/config_json.c; the `config` admin command). */
struct json_t;
struct json_t *acexy_config_json(const struct acexy_config *cfg);

/* The control URL in effect: ACEXY_CONTROL_URL, or ipc://RUN_DIR/control.sock. */
void acexy_cfg_control_url(const struct acexy_config *cfg, char *buf, size_t cap);
/* --check-config: every setting with its effective value (secrets as <set>)
 * and where it came from. */
void acexy_config_print(const struct acexy_config *cfg, const struct acexy_program *prog,
                        FILE *out);

void acexy_config_help(const struct acexy_program *prog, FILE *out);
/* Writes the sample acexy.yaml with every setting commented. */
void acexy_config_sample_yaml(FILE *out);
/* Writes the Markdown settings table (README). */
void acexy_config_markdown(FILE *out);

/* Convenience accessors */
static inline uint64_t acexy_cfg_u(const struct acexy_config *c, enum acexy_setting_id id)
{
	return c->v[id].u;
}
static inline bool acexy_cfg_b(const struct acexy_config *c, enum acexy_setting_id id)
{
	return c->v[id].b;
}
static inline const char *acexy_cfg_s(const struct acexy_config *c, enum acexy_setting_id id)
{
	return c->v[id].s ? c->v[id].s : "";
}

#endif
