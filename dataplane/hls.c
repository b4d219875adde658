/* HLS through the proxy.
 *
 * GET /ace/manifest.m3u8?id=… (and /ace/getstream when ACEXY_M3U8=true)
 * starts an engine session with manifest.m3u8?format=json (lease, events and
 * limits as for TS streams), fetches the engine's playlist once and, when it
 * is one, answers a small master playlist whose only URI is
 * hls/<session>/index.m3u8 — relative, so the player's refreshes come back
 * to the same session instead of starting new ones.
 *
 * GET /ace/hls/<session>/index.m3u8 fetches the engine's playlist and serves
 * it with every URI rewritten (hls_playlist.c) to hls/<session>/<n>.<ext>
 * names, relative to the playlist; GET /ace/hls/<session>/<n>.<ext> fetches
 * what <n> stands for from the engine. Only URLs an engine playlist named can
 * be fetched. The session lives on the worker loop its id names (a request
 * that lands elsewhere is handed over) and ends — engine stop, lease and
 * events as for TS — after ACEXY_M3U8_STREAM_TIMEOUT without a request. In
 * multiplex mode all HLS viewers of one content share one session. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acexy/curl_ev.h"
#include "acexy/http_fetch.h"
#include "acexy/log.h"
#include "dataplane/stream_int.h"

#define PLAYLIST_MAX HLS_PLAYLIST_MAX
#define RESOURCE_MAX (64 * 1024 * 1024) /* a segment */
#define MPEGURL      "application/vnd.apple.mpegurl"

struct hls_fetch {
	struct hls_fetch *next; /* the session's fetches */
	struct stream *s;
	struct conn *c;
	struct http_fetch *http; /* NULL once done */
	bool playlist;
	bool probe; /* the session's first playlist, before the 200 */
	char url[HLS_URI_MAX + 1];
};

static double cfg_s(struct stream *s, enum acexy_setting_id id)
{
	return (double)acexy_cfg_u(s->dp->cfg, id) / 1000.0;
}

static void touch(struct stream *s)
{
	ev_timer_stop(s->w->loop, &s->hls_idle);
	ev_timer_set(&s->hls_idle, cfg_s(s, ACEXY_S_M3U8_STREAM_TIMEOUT), 0.);
	ev_timer_start(s->w->loop, &s->hls_idle);
}

static void on_idle(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct stream *s = t->data;
	ALOG(ALOG_INFO, "hls_idle", ALOG_S("content", s->content), ALOG_S("session", s->hls_id),
	     ALOG_D("idle_s", cfg_s(s, ACEXY_S_M3U8_STREAM_TIMEOUT)));
	if (s->started)
		stream_finish(s, DP_END_HLS_IDLE);
}

/* ---- the URL map ---- */

static int map_url(void *ud, const char *abs, char *out, size_t cap)
{
	struct stream *s = ud;
	struct hls_entry *e = NULL;
	for (unsigned i = 0; i < s->hls_nmap; i++) {
		if (strcmp(s->hls_map[i].url, abs) == 0) {
			e = &s->hls_map[i];
			break;
		}
	}
	if (!e) {
		if (!s->hls_map) {
			s->hls_map = calloc(HLS_MAP_MAX, sizeof(*s->hls_map));
			if (!s->hls_map)
				return -1;
		}
		/* a live playlist slides: reuse the oldest entry when full */
		unsigned slot =
		        s->hls_nmap < HLS_MAP_MAX ? s->hls_nmap++ : s->hls_next % HLS_MAP_MAX;
		e = &s->hls_map[slot];
		char *u = strdup(abs);
		if (!u)
			return -1;
		free(e->url);
		e->url = u;
		e->id = s->hls_next++;
		hls_url_ext(abs, e->ext, sizeof(e->ext));
	}
	int n = snprintf(out, cap, "%u%s%s", e->id, e->ext[0] ? "." : "", e->ext);
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

static const struct hls_entry *map_find(const struct stream *s, uint32_t id)
{
	for (unsigned i = 0; i < s->hls_nmap; i++)
		if (s->hls_map[i].id == id && s->hls_map[i].url)
			return &s->hls_map[i];
	return NULL;
}

/* ---- fetches ---- */

static void fetch_unlink(struct hls_fetch *f)
{
	if (f->s) {
		for (struct hls_fetch **pp = &f->s->fetches; *pp; pp = &(*pp)->next) {
			if (*pp == f) {
				*pp = f->next;
				break;
			}
		}
	}
	if (f->c)
		conn_detach(f->c);
}

static void probe_done(struct stream *s, struct hls_fetch *f, const struct http_fetch_result *r);
static void resource_done(struct hls_fetch *f, const struct http_fetch_result *r);

static void on_done(void *ud, const struct http_fetch_result *r)
{
	struct hls_fetch *f = ud;
	f->http = NULL;
	struct stream *s = f->s;
	fetch_unlink(f);
	if (f->probe)
		probe_done(s, f, r);
	else
		resource_done(f, r);
	free(f);
}

/* The connection waiting for a resource: reads only detect its leaving. */
static void fetch_conn_readable(struct conn *c)
{
	if (conn_peer_left(c))
		conn_close(c);
}

static void fetch_cancel(struct hls_fetch *f);

static void fetch_conn_closing(struct conn *c)
{
	fetch_cancel(c->handler_data);
}

static const struct conn_handlers fetch_conn = {
        .on_readable = fetch_conn_readable,
        .on_close = fetch_conn_closing,
};

static struct hls_fetch *fetch_start(struct stream *s, struct conn *c, const char *url,
                                     bool playlist, bool probe)
{
	struct hls_fetch *f = calloc(1, sizeof(*f));
	if (!f || strlen(url) > HLS_URI_MAX) {
		free(f);
		return NULL;
	}
	f->s = s;
	f->c = c;
	f->playlist = playlist;
	f->probe = probe;
	snprintf(f->url, sizeof(f->url), "%s", url);
	struct http_fetch_req req = {
	        .url = f->url,
	        .max = playlist ? PLAYLIST_MAX : RESOURCE_MAX,
	        .connect_timeout_ms = (long)acexy_cfg_u(s->dp->cfg, ACEXY_S_NO_RESPONSE_TIMEOUT),
	        /* no progress for long: give up */
	        .low_speed_time_s =
	                (long)(acexy_cfg_u(s->dp->cfg, ACEXY_S_FIRST_BYTE_TIMEOUT) / 1000 + 1),
	        .follow_redirects = true, /* bodies here are complete answers */
	        .tcp_nodelay = true,
	};
	f->http = http_fetch_start(s->w->curl, &req, on_done, f);
	if (!f->http) {
		free(f);
		return NULL;
	}
	f->next = s->fetches;
	s->fetches = f;
	if (c)
		conn_attach(c, &fetch_conn, f);
	return f;
}

static void fetch_cancel(struct hls_fetch *f)
{
	fetch_unlink(f);
	http_fetch_cancel(f->http);
	free(f);
}

/* ---- the session's start ---- */

static void master_playlist(struct stream *s, struct conn *c)
{
	char body[256];
	int n = snprintf(body, sizeof(body),
	                 "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-STREAM-INF:BANDWIDTH=4000000\n"
	                 "hls/%s/index.m3u8\n",
	                 s->hls_id);
	conn_respond(c, 200, MPEGURL, NULL, body, (size_t)n);
}

/* The first playlist arrived (or not): the waiting viewers get the master
 * playlist, or the status that says why not. */
static void probe_done(struct stream *s, struct hls_fetch *f, const struct http_fetch_result *r)
{
	if (s->state == S_DONE)
		return;
	char why[300];
	if (r->res == CURLE_OPERATION_TIMEDOUT) {
		stream_fail(s, 504, "engine did not deliver the HLS playlist in time", 0);
		return;
	}
	if (r->res != CURLE_OK) {
		snprintf(why, sizeof(why), "engine playlist request failed: %s", r->error);
		stream_fail(s, 502, why, 0);
		return;
	}
	if (r->status != 200) {
		snprintf(why, sizeof(why), "engine answered the playlist request with HTTP %ld",
		         r->status);
		stream_fail(s, 502, why, 0);
		return;
	}
	char *out = NULL, err[200];
	size_t len;
	if (hls_rewrite(r->body, r->len, f->url, map_url, s, &out, &len, err, sizeof(err)) < 0) {
		snprintf(why, sizeof(why), "engine playlist unusable: %s", err);
		stream_fail(s, 502, why, 0);
		return;
	}
	free(out);
	ev_timer_stop(s->w->loop, &s->deadline);
	s->started = true;
	s->state = S_RELAY;
	s->t_first = dp_now();
	struct dp *dp = s->dp;
	atomic_fetch_add(&dp->stats.streams_started, 1);
	atomic_fetch_add(&dp->stats.streams_live, 1);
	atomic_fetch_add(&s->w->nstreams, 1);
	stream_registry_add(s);
	ALOG(ALOG_INFO, "stream_started", ALOG_S("content", s->content),
	     ALOG_S("engine", s->engine_desc), ALOG_U("lease", s->lease.lease_id),
	     ALOG_D("ttfb_ms", (s->t_first - s->t_start) * 1000), ALOG_S("hls", s->hls_id),
	     ALOG_B("shared", s->shared));
	touch(s);
	while (s->viewers) {
		struct viewer *v = s->viewers;
		struct conn *c = v->c;
		bool keep_alive = v->keep_alive;
		viewer_end(v, DP_END_UPSTREAM_EOF, false); /* answered, not gone */
		c->state = C_READING;
		c->close_after = !keep_alive; /* as the request asked */
		master_playlist(s, c);
	}
}

void hls_after_api(struct stream *s)
{
	/* the 200 waits for a real playlist */
	if (!fetch_start(s, NULL, s->ans.playback_url, true, true))
		stream_fail(s, 502, "cannot start the playlist request", 0);
}

void hls_release(struct stream *s)
{
	ev_timer_stop(s->w->loop, &s->hls_idle);
	while (s->fetches) {
		struct hls_fetch *f = s->fetches;
		struct conn *c = f->c;
		fetch_cancel(f);
		if (c) {
			c->state = C_READING;
			c->close_after = true;
			conn_respond_error(c, 502, "the HLS session ended", 0);
		}
	}
	for (unsigned i = 0; i < s->hls_nmap; i++)
		free(s->hls_map[i].url);
	free(s->hls_map);
	s->hls_map = NULL;
	s->hls_nmap = 0;
}

/* ---- requests ---- */

static void head_playlist(struct conn *c)
{
	conn_respond(c, 200, MPEGURL, NULL, "", 0);
}

void hls_begin(struct conn *c, const char *raw)
{
	struct viewer_query *q;
	struct stream *s;
	if (!stream_admit(c, raw, true, head_playlist, &q, &s))
		return;
	if (s) {
		if (s->started) {
			touch(s);
			master_playlist(s, c);
		} else if (!viewer_add(s, c)) {
			conn_respond_error(c, 503, "out of memory", 5);
		}
		return;
	}
	s = stream_open(c, q, true);
	if (!s)
		return;
	char hex[17];
	snprintf(hex, sizeof(hex), "%.16s", s->pid);
	snprintf(s->hls_id, sizeof(s->hls_id), "%d-%s", c->w->id, hex);
	ev_init(&s->hls_idle, on_idle);
	s->hls_idle.data = s;
	stream_start(s);
}

static const char *content_type(const struct hls_fetch *f, const char *engine_type)
{
	if (f->playlist)
		return MPEGURL;
	char ext[8];
	hls_url_ext(f->url, ext, sizeof(ext));
	if (strcmp(ext, "ts") == 0)
		return "video/mp2t";
	if (strcmp(ext, "aac") == 0)
		return "audio/aac";
	if (strcmp(ext, "mp4") == 0 || strcmp(ext, "m4s") == 0)
		return "video/mp4";
	return engine_type[0] && strlen(engine_type) < 64 ? engine_type
	                                                  : "application/octet-stream";
}

static void resource_done(struct hls_fetch *f, const struct http_fetch_result *r)
{
	struct conn *c = f->c;
	struct stream *s = f->s;
	if (!c)
		return;
	c->state = C_READING;
	if (r->res == CURLE_OPERATION_TIMEDOUT) {
		conn_respond_error(c, 504, "engine did not answer in time", 0);
		return;
	}
	if (r->too_big) {
		conn_respond_error(c, 502, "engine answer too large", 0);
		return;
	}
	if (r->res != CURLE_OK) {
		char why[200];
		snprintf(why, sizeof(why), "engine unreachable: %s", r->error);
		conn_respond_error(c, 502, why, 0);
		return;
	}
	if (r->status != 200) {
		char why[100];
		snprintf(why, sizeof(why), "engine answered HTTP %ld", r->status);
		conn_respond_error(c, r->status == 404 ? 404 : 502, why, 0);
		return;
	}
	if (f->playlist) {
		char *out = NULL, err[200];
		size_t len;
		if (!s || hls_rewrite(r->body, r->len, f->url, map_url, s, &out, &len, err,
		                      sizeof(err)) < 0) {
			char why[300];
			snprintf(why, sizeof(why), "engine playlist unusable: %s",
			         s ? err : "session gone");
			conn_respond_error(c, 502, why, 0);
			return;
		}
		conn_respond(c, 200, MPEGURL, NULL, out, len);
		free(out);
		return;
	}
	if (s) {
		s->bytes_out += r->len;
		if (s->rec)
			atomic_fetch_add(&s->rec->bytes, (uint64_t)r->len);
		atomic_fetch_add(&s->w->bytes_relayed, (uint64_t)r->len);
	}
	conn_respond(c, 200, content_type(f, r->content_type), NULL, r->body, r->len);
}

void hls_resource(struct conn *c, const char *path)
{
	struct dp *dp = c->w->dp;
	/* /ace/hls/<worker>-<hex>/<resource> */
	const char *id = path + strlen("/ace/hls/");
	const char *slash = strchr(id, '/');
	char sid[48];
	char *end = NULL;
	long wid = strtol(id, &end, 10);
	if (!slash || (size_t)(slash - id) >= sizeof(sid) || end == id || *end != '-' || wid < 0 ||
	    wid >= dp->nworkers) {
		conn_respond_error(c, 404, "unknown HLS session", 0);
		return;
	}
	if (wid != c->w->id) {
		conn_handoff(c, &dp->workers[wid], HANDOFF_HLS_RESOURCE, path);
		return;
	}
	memcpy(sid, id, (size_t)(slash - id));
	sid[slash - id] = '\0';
	struct stream *s = NULL;
	for (struct stream *x = c->w->streams; x; x = x->next)
		if (x->hls && x->started && x->state != S_DONE && strcmp(x->hls_id, sid) == 0)
			s = x;
	if (!s) {
		conn_respond_error(c, 404, "unknown or ended HLS session", 0);
		return;
	}
	if (c->head) {
		conn_respond(c, 200, MPEGURL, NULL, "", 0);
		return;
	}
	touch(s);
	const char *res = slash + 1;
	const char *url = NULL;
	bool playlist = false;
	if (strcmp(res, "index.m3u8") == 0) {
		url = s->ans.playback_url;
		playlist = true;
	} else {
		char *e2 = NULL;
		unsigned long n = strtoul(res, &e2, 10);
		const struct hls_entry *e =
		        e2 != res && (*e2 == '\0' || *e2 == '.') ? map_find(s, (uint32_t)n) : NULL;
		if (e) {
			url = e->url;
			playlist = strcmp(e->ext, "m3u8") == 0;
		}
	}
	if (!url) {
		conn_respond_error(c, 404, "unknown HLS resource", 0);
		return;
	}
	if (!fetch_start(s, c, url, playlist, false)) {
		c->state = C_READING;
		conn_respond_error(c, 503, "out of memory", 5);
		return;
	}
	ev_io_start(c->w->loop, &c->rio);
}
