/* The engine's stop command: see common/engine_stop.c. */
#ifndef ACEXY_ENGINE_STOP_H
#define ACEXY_ENGINE_STOP_H

#include "acexy/curl_ev.h"

/* Sends the engine's stop command (command_url?method=stop): 3 s timeout,
 * retried once, failures logged. Fire and forget. */
void engine_stop_send(struct curl_ev *ce, const char *command_url);

#endif
