/* Health of the single (fallback) engine ACEXY_SCHEME://ACEXY_HOST:ACEXY_PORT:
 * a get_version probe every few seconds, in both modes. Orchestrator mode
 * does not fall back to an engine whose last probe failed; single-engine
 * mode still assigns it (the viewer then gets the engine's own 502/504) and
 * shows the health in acexyctl engines and /metrics. */
#ifndef ACEXY_CP_FALLBACK_H
#define ACEXY_CP_FALLBACK_H

#include <ev.h>
#include <stdbool.h>

struct fallback;
struct curl_ev;
struct acexy_config;

enum fb_health { FB_UNKNOWN, FB_HEALTHY, FB_UNHEALTHY };

/* Probes ACEXY_SCHEME://ACEXY_HOST:ACEXY_PORT on loop, with ce. */
int fallback_start(struct ev_loop *loop, struct curl_ev *ce, const struct acexy_config *cfg,
                   struct fallback **ret);
void fallback_stop(struct fallback *f);
enum fb_health fallback_health(const struct fallback *f);
const char *fallback_health_name(enum fb_health h);
/* The last failure ("" when healthy), for logs and acexyctl. */
const char *fallback_error(const struct fallback *f);
double fallback_checked_at(const struct fallback *f);
/* Pure: judges a get_version answer (for unit tests): true when it is a JSON
 * object whose "result" is non-null; else fills why. */
bool fallback_judge(long http_status, const char *body, char *why, size_t cap);

#endif
