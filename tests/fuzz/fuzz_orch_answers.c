/* Any bytes as an orchestrator answer (/engines, /orchestrator/status, a
 * provisioning error): parsed or refused, numbers clamped, strings bounded,
 * every engine kept usable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/orch_pure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	struct orch_engine *e = NULL;
	size_t n = 0;
	if (orch_parse_engines(b, size, &e, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!e[i].container_id[0] || !e[i].host[0] || e[i].port == 0 ||
			    e[i].port > 65535 || e[i].health > 2)
				abort();
		(void)orch_select(e, n, 1);
	}
	free(e);
	struct orch_status_answer sa;
	if (orch_parse_status(b, size, &sa) == 0 && (sa.block_eta < 0 || sa.block_eta > 86400))
		abort();
	struct orch_prov_error pe;
	orch_parse_prov_error(b, size, &pe);
	if (pe.eta < 0 || pe.eta > 86400)
		abort();
	char cid[128];
	if (orch_parse_provisioned(b, size, cid, sizeof(cid)) == 0 && strlen(cid) >= sizeof(cid))
		abort();
	/* any text as a timestamp: a number or 0, never a crash */
	char ts[64];
	size_t k = size < sizeof(ts) - 1 ? size : sizeof(ts) - 1;
	memcpy(ts, b, k);
	ts[k] = '\0';
	(void)orch_parse_time(ts);
	return 0;
}
