/* The settings table printed for people: --help, the sample acexy.yaml,
 * README's settings table (scripts/gen-readme-settings.sh) and
 * --check-config's effective values. Split from config.c (the loader). */
#include <stdio.h>

#include "acexy/settings.h"

static const char *owner_label(enum acexy_setting_owner o)
{
	switch (o) {
	case ACEXY_OWN_CP:
		return "controlplane";
	case ACEXY_OWN_DP:
		return "dataplane";
	default:
		return "both";
	}
}

static const char *alias_of(int id)
{
	static const struct {
		int id;
		const char *env;
	} aliases[] = {
#define ACEXY_X_ALIAS2(id, env) {ACEXY_S_##id, env},
	        ACEXY_SETTING_ALIASES(ACEXY_X_ALIAS2)
#undef ACEXY_X_ALIAS2
	};
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (aliases[i].id == id)
			return aliases[i].env;
	return NULL;
}

void acexy_config_help(const struct acexy_program *prog, FILE *out)
{
	fprintf(out,
	        "Usage: %s [OPTIONS]\n%s\n\n"
	        "Options:\n"
	        "  -h, --help           show this help and exit\n"
	        "      --version        show the version and exit\n"
	        "      --config FILE    YAML settings file (env ACEXY_CONFIG)\n"
	        "      --check-config   validate the settings, print the effective values\n"
	        "                       (secrets as <set>) and exit 0, or 2 when invalid\n\n"
	        "Settings (precedence: flag > environment > file > default). Both daemons\n"
	        "accept every setting; each uses its own (marked [controlplane]/[dataplane]).\n"
	        "Sizes: 65536, 512KiB, 4MiB, 4.2MiB, 4MB. Durations: 500ms, 10s, 1m30s.\n"
	        "Booleans: true/false/1/0/yes/no. Flags take --flag VALUE or --flag=VALUE.\n\n",
	        prog->name, prog->summary);
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const struct acexy_setting_desc *d = acexy_setting(i);
		const char *alias = alias_of(i);
		fprintf(out, "  %s VALUE\n      env %s%s%s, default \"%s\"", d->flag, d->env,
		        alias ? " (alias " : "", alias ? alias : "", d->def);
		if (alias)
			fprintf(out, ")");
		if (d->owner != ACEXY_OWN_BOTH)
			fprintf(out, " [%s]", owner_label(d->owner));
		fprintf(out, "\n      %s\n", d->help);
		if (d->ranged) {
			char range[96];
			acexy_setting_range_text(d, range, sizeof(range));
			fprintf(out, "      (%s)\n", range);
		}
	}
}

void acexy_config_sample_yaml(FILE *out)
{
	fprintf(out,
	        "# acexy.yaml: settings shared by acexy-dataplane and acexy-controlplane.\n"
	        "# Generated from the settings table (acexy-dataplane --print-sample-config).\n"
	        "# Every line is commented out and shows the default. Precedence, highest\n"
	        "# first: flag, environment, this file, default.\n");
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const struct acexy_setting_desc *d = acexy_setting(i);
		fprintf(out, "\n# %s\n# env %s, flag %s, used by %s\n", d->help, d->env, d->flag,
		        owner_label(d->owner));
		if ((d->type == ACEXY_T_NETS || d->type == ACEXY_T_SOURCES) && !*d->def)
			fprintf(out, "#%s: []\n", d->key);
		else
			fprintf(out, "#%s: \"%s\"\n", d->key, d->def);
	}
}

void acexy_config_markdown(FILE *out)
{
	fprintf(out, "| env | YAML key | flag | default | used by | meaning |\n"
	             "|---|---|---|---|---|---|\n");
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const struct acexy_setting_desc *d = acexy_setting(i);
		const char *alias = alias_of(i);
		char range[100] = "";
		if (d->ranged) {
			char r[96];
			acexy_setting_range_text(d, r, sizeof(r));
			snprintf(range, sizeof(range), " (%s)", r);
		}
		fprintf(out, "| `%s`%s%s%s | `%s` | `%s` | `%s` | %s | %s%s |\n", d->env,
		        alias ? " (alias `" : "", alias ? alias : "", alias ? "`)" : "", d->key,
		        d->flag, *d->def ? d->def : "(empty)", owner_label(d->owner), d->help,
		        range);
	}
}

void acexy_config_print(const struct acexy_config *cfg, const struct acexy_program *prog, FILE *out)
{
	fprintf(out, "# %s %s: configuration is valid; effective values\n", prog->name,
	        ACEXY_VERSION);
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const struct acexy_setting_desc *d = acexy_setting(i);
		char v[4200];
		if (i == ACEXY_S_CONTROL_URL)
			acexy_cfg_control_url(cfg, v, sizeof(v));
		else
			acexy_value_format(d->type, &cfg->v[i], v, sizeof(v));
		fprintf(out, "%s=%s  # %s%s%s\n", d->env, v, cfg->v[i].origin_where,
		        d->owner == ACEXY_OWN_BOTH || d->owner == prog->owner ? ""
		                                                              : ", not used by ",
		        d->owner == ACEXY_OWN_BOTH || d->owner == prog->owner ? "" : prog->name);
	}
}
