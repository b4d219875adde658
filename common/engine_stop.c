/* The engine's stop command (command_url?method=stop, CONTRACTS.md §1):
 * both daemons send it (the dataplane at a stream's end, the controlplane for
 * a lease it gives up), on a libcurl multi driven by libev (acexy/curl_ev.h).
 * Bounded by a 3 s timeout, retried once, failures logged. */
#include "acexy/engine_stop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/log.h"

struct stop_cmd {
	struct curl_ev *ce;
	char url[2200];
	int attempt;
};

static void stop_cmd_send(struct stop_cmd *sc);

static void stop_cmd_done(void *ud, CURL *easy, CURLcode res)
{
	struct stop_cmd *sc = ud;
	long code = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	if ((res != CURLE_OK || code != 200) && sc->attempt < 2) {
		ALOG(ALOG_WARN, "engine_stop_retry", ALOG_S("url", sc->url),
		     ALOG_S("error", curl_easy_strerror(res)), ALOG_I("http_status", code));
		stop_cmd_send(sc);
		return;
	}
	if (res != CURLE_OK || code != 200)
		ALOG(ALOG_WARN, "engine_stop_failed", ALOG_S("url", sc->url),
		     ALOG_S("error", curl_easy_strerror(res)), ALOG_I("http_status", code));
	free(sc);
}

static size_t discard_cb(char *p, size_t sz, size_t n, void *ud)
{
	(void)p;
	(void)ud;
	return sz * n;
}

static void stop_cmd_send(struct stop_cmd *sc)
{
	CURL *e = curl_easy_init();
	sc->attempt++;
	if (!e) {
		free(sc);
		return;
	}
	curl_easy_setopt(e, CURLOPT_URL, sc->url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 3000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L); /* once per stream: nothing to reuse */
	if (curl_ev_add(sc->ce, e, stop_cmd_done, sc) < 0) {
		curl_easy_cleanup(e);
		free(sc);
	}
}

void engine_stop_send(struct curl_ev *ce, const char *command_url)
{
	if (!command_url || !command_url[0])
		return;
	struct stop_cmd *sc = calloc(1, sizeof(*sc));
	if (!sc)
		return;
	sc->ce = ce;
	snprintf(sc->url, sizeof(sc->url), "%s%smethod=stop", command_url,
	         strchr(command_url, '?') ? "&" : "?");
	stop_cmd_send(sc);
}
