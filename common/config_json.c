/* The effective settings as JSON, for both daemons' `config` admin command. */
#include <jansson.h>

#include "acexy/settings.h"

json_t *acexy_config_json(const struct acexy_config *cfg)
{
	json_t *arr = json_array();
	for (int i = 0; i < ACEXY_S_COUNT_; i++) {
		const struct acexy_setting_desc *d = acexy_setting(i);
		char v[512];
		acexy_value_format(d->type, &cfg->v[i], v, sizeof(v));
		json_array_append_new(
		        arr, json_pack("{s:s,s:s,s:s,s:s}", "env", d->env, "value", v, "origin",
		                       acexy_origin_name(cfg->v[i].origin), "where",
		                       cfg->v[i].origin_where ? cfg->v[i].origin_where : ""));
	}
	return arr;
}
