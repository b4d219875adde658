#include "dataplane/playlist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acexy/curl_ev.h"
#include "acexy/http_fetch.h"
#include "acexy/log.h"
#include "dataplane/m3u_list.h"

/* What workers render: the merged list of one refresh. */
struct snapshot {
	_Atomic unsigned refs;
	struct m3u_list *list;
};

struct source {
	struct playlist *pl;
	char loc[1024];  /* URL or path as configured */
	char shown[300]; /* for logs: no userinfo, no query (either may hold a key) */
	bool http;
	struct m3u_list *good;    /* the last good copy, or NULL */
	struct http_fetch *fetch; /* a fetch in flight */
};

struct playlist {
	struct dp *dp;
	struct curl_ev *ce;
	ev_timer refresh;
	struct source src[PLAYLIST_SOURCES_MAX];
	unsigned nsrc;
	unsigned pending; /* fetches of this refresh still running */
	bool changed;     /* a source got a new good copy in this refresh */
	pthread_mutex_t mu;
	struct snapshot *snap; /* under mu */
};

/* The one playlist of the process: workers reach it without a pointer
 * through every struct (one dataplane per process). */
static _Atomic(struct playlist *) the_playlist;

static void snap_unref(struct snapshot *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1) {
		m3u_list_free(s->list);
		free(s);
	}
}

static struct snapshot *snap_get(struct playlist *pl)
{
	pthread_mutex_lock(&pl->mu);
	struct snapshot *s = pl->snap;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&pl->mu);
	return s;
}

/* ---- reading the sources (control loop) ---- */

static void shown_name(const char *loc, bool http, char *out, size_t cap)
{
	size_t l = strlen(loc);
	if (http) {
		/* scheme://[userinfo@]host[:port]/path, without userinfo, query, fragment */
		const char *sep = strstr(loc, "://");
		const char *host = sep ? sep + 3 : loc;
		const char *at = strchr(host, '@'), *slash = strchr(host, '/');
		size_t scheme = (size_t)(host - loc);
		if (at && (!slash || at < slash))
			host = at + 1;
		size_t hl = strcspn(host, "?#");
		if (scheme + hl >= cap)
			hl = cap - 1 - (scheme < cap - 1 ? scheme : cap - 1);
		if (scheme >= cap)
			scheme = cap - 1;
		memmove(out, loc, scheme);
		memmove(out + scheme, host, hl);
		out[scheme + hl] = '\0';
		return;
	}
	if (l >= cap)
		l = cap - 1;
	memmove(out, loc, l);
	out[l] = '\0';
}

static void publish(struct playlist *pl)
{
	struct m3u_list *all = NULL;
	if (m3u_list_new(M3U_MEM_MAX, &all) < 0)
		return;
	unsigned used = 0;
	for (unsigned i = 0; i < pl->nsrc; i++) {
		struct source *s = &pl->src[i];
		if (!s->good)
			continue;
		int rc = m3u_list_merge(all, s->good);
		if (rc < 0) {
			ALOG(ALOG_ERROR, "playlist_merge_failed", ALOG_S("source", s->shown),
			     ALOG_S("error", rc == -E2BIG ? "merged list beyond its memory cap"
			                                  : strerror(-rc)));
			continue;
		}
		used++;
	}
	struct snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap) {
		m3u_list_free(all);
		return;
	}
	atomic_init(&snap->refs, 1);
	snap->list = all;
	pthread_mutex_lock(&pl->mu);
	struct snapshot *old = pl->snap;
	pl->snap = snap;
	pthread_mutex_unlock(&pl->mu);
	snap_unref(old);
	ALOG(ALOG_INFO, "playlist_published", ALOG_U("sources", used),
	     ALOG_U("entries", m3u_list_entries(all)), ALOG_U("memory", m3u_list_memory(all)));
}

/* A source's new text: parsed, kept when good, logged either way. */
static void source_take(struct source *s, const char *text, size_t len, const char *failure)
{
	char err[256] = "";
	struct m3u_list *m = NULL;
	int rc = failure ? -EIO : m3u_list_new(PLAYLIST_SOURCE_MEM, &m);
	if (rc == 0)
		rc = m3u_list_parse(m, text, len, err, sizeof(err));
	else if (!failure)
		snprintf(err, sizeof(err), "%s", strerror(-rc));
	if (rc < 0) {
		m3u_list_free(m);
		ALOG(ALOG_WARN, "playlist_refresh_failed", ALOG_S("source", s->shown),
		     ALOG_S("reason", failure ? failure : err), ALOG_B("kept_last_good", s->good),
		     ALOG_U("kept_entries", m3u_list_entries(s->good)));
		return;
	}
	m3u_list_free(s->good);
	s->good = m;
	s->pl->changed = true;
	ALOG(ALOG_INFO, "playlist_source_loaded", ALOG_S("source", s->shown), ALOG_U("bytes", len),
	     ALOG_U("entries", m3u_list_entries(m)));
}

static void refresh_done_one(struct playlist *pl)
{
	if (pl->pending > 0)
		pl->pending--;
	if (pl->pending == 0 && pl->changed) {
		pl->changed = false;
		publish(pl);
	}
}

static void read_file(struct source *s)
{
	char why[300];
	int fd = open(s->loc, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, sizeof(why), "cannot open: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		source_take(s, NULL, 0, why);
		return;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PLAYLIST_FETCH_MAX) {
		close(fd);
		source_take(s, NULL, 0,
		            S_ISREG(st.st_mode) ? "larger than 32 MiB" : "not a regular file");
		return;
	}
	size_t cap = (size_t)st.st_size, len = 0;
	char *buf = malloc(cap + 1);
	while (buf && len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (!buf) {
		source_take(s, NULL, 0, "out of memory");
		return;
	}
	source_take(s, buf, len, NULL);
	free(buf);
}

static void on_fetched(void *ud, const struct http_fetch_result *r)
{
	struct source *s = ud;
	s->fetch = NULL;
	char why[300];
	if (r->too_big) {
		source_take(s, NULL, 0, "larger than 32 MiB");
	} else if (r->res != CURLE_OK) {
		snprintf(why, sizeof(why), "fetch failed: %s", r->error);
		source_take(s, NULL, 0, why);
	} else if (r->status != 200) {
		snprintf(why, sizeof(why), "fetch answered HTTP %ld", r->status);
		source_take(s, NULL, 0, why);
	} else {
		source_take(s, r->body, r->len, NULL);
	}
	refresh_done_one(s->pl);
}

static void fetch_start(struct source *s)
{
	struct http_fetch_req req = {
	        .url = s->loc,
	        .max = PLAYLIST_FETCH_MAX,
	        .timeout_ms = (long)PLAYLIST_FETCH_TIMEOUT_S * 1000L,
	        .connect_timeout_ms = 10000L,
	        .follow_redirects = true,
	        .compressed = true,
	        .user_agent = "acexy/" ACEXY_VERSION,
	};
	s->fetch = http_fetch_start(s->pl->ce, &req, on_fetched, s);
	if (!s->fetch) {
		source_take(s, NULL, 0, "cannot start the fetch");
		return;
	}
	s->pl->pending++;
}

static void on_refresh(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct playlist *pl = t->data;
	if (pl->pending) {
		ALOG(ALOG_WARN, "playlist_refresh_skipped",
		     ALOG_S("why", "the previous refresh is still running"));
		return;
	}
	pl->pending = 1; /* held until every source was started */
	for (unsigned i = 0; i < pl->nsrc; i++) {
		struct source *s = &pl->src[i];
		if (s->http)
			fetch_start(s);
		else
			read_file(s);
	}
	refresh_done_one(pl);
}

int playlist_start(struct dp *dp, struct playlist **ret)
{
	*ret = NULL;
	const char *list = acexy_cfg_s(dp->cfg, ACEXY_S_PLAYLIST_SOURCES);
	if (!list || !list[0])
		return 0;
	struct playlist *pl = calloc(1, sizeof(*pl));
	if (!pl)
		return -ENOMEM;
	pl->dp = dp;
	pthread_mutex_init(&pl->mu, NULL);
	const char *a;
	size_t len;
	for (const char *p = list; acexy_list_next(&p, &a, &len);) {
		if (pl->nsrc == PLAYLIST_SOURCES_MAX || len >= 1024) {
			pthread_mutex_destroy(&pl->mu);
			free(pl);
			return -EINVAL;
		}
		struct source *s = &pl->src[pl->nsrc++];
		s->pl = pl;
		if (strncasecmp(a, "file://", 7) == 0) {
			a += 7;
			len -= 7;
		}
		snprintf(s->loc, sizeof(s->loc), "%.*s", (int)len, a);
		s->http = strncasecmp(s->loc, "http://", 7) == 0 ||
		          strncasecmp(s->loc, "https://", 8) == 0;
		shown_name(s->loc, s->http, s->shown, sizeof(s->shown));
	}
	int rc = curl_ev_new(dp->main_loop, &pl->ce);
	if (rc < 0) {
		pthread_mutex_destroy(&pl->mu);
		free(pl);
		return rc;
	}
	double every = (double)acexy_cfg_u(dp->cfg, ACEXY_S_PLAYLIST_REFRESH) / 1000.0;
	ev_timer_init(&pl->refresh, on_refresh, 0., every > 0 ? every : 3600.);
	pl->refresh.data = pl;
	ev_timer_start(dp->main_loop, &pl->refresh);
	atomic_store(&the_playlist, pl);
	*ret = pl;
	return 0;
}

void playlist_stop(struct playlist *pl)
{
	if (!pl)
		return;
	atomic_store(&the_playlist, NULL);
	ev_timer_stop(pl->dp->main_loop, &pl->refresh);
	for (unsigned i = 0; i < pl->nsrc; i++) {
		struct source *s = &pl->src[i];
		http_fetch_cancel(s->fetch);
		m3u_list_free(s->good);
	}
	curl_ev_free(pl->ce);
	snap_unref(pl->snap);
	pthread_mutex_destroy(&pl->mu);
	free(pl);
}

/* ---- serving (worker loops) ---- */

static bool host_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 255)
		return false;
	for (const char *p = h; *p; p++) {
		char ch = *p;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_' ||
		      ch == ':' || ch == '[' || ch == ']'))
			return false;
	}
	return true;
}

/* The first element of a list header ("https, http" → "https"), trimmed. */
static void first_of(const char *v, char *out, size_t cap)
{
	while (*v == ' ' || *v == '\t')
		v++;
	size_t l = strcspn(v, ", \t");
	snprintf(out, cap, "%.*s", (int)(l < cap ? l : cap - 1), v);
}

/* "scheme://host[:port]" as the viewer reached this proxy. */
static int request_base(struct conn *c, const struct http_request *req, char *out, size_t cap)
{
	struct acexy_config *cfg = c->w->dp->cfg;
	bool trusted = acexy_netlist_contains(&cfg->v[ACEXY_S_TRUSTED_PROXIES].nets,
	                                      (const struct sockaddr *)&c->peer);
	char scheme[64] = "http", host[300] = "";
	if (trusted) {
		char v[64];
		first_of(http_request_header(req, "X-Forwarded-Proto"), v, sizeof(v));
		if (strcasecmp(v, "https") == 0 || strcasecmp(v, "http") == 0) {
			for (char *p = v; *p; p++)
				*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
			snprintf(scheme, sizeof(scheme), "%s", v);
		}
		first_of(http_request_header(req, "X-Forwarded-Host"), host, sizeof(host));
	}
	if (!host[0])
		snprintf(host, sizeof(host), "%s", http_request_header(req, "Host"));
	if (!host[0]) {
		/* HTTP/1.0 without Host: the address the viewer connected to */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char ip[64] = "";
		unsigned port = 0;
		if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET) {
				const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
				inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
				port = ntohs(a->sin_port);
				snprintf(host, sizeof(host), "%s:%u", ip, port);
			} else if (ss.ss_family == AF_INET6) {
				const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
				inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
				port = ntohs(a->sin6_port);
				snprintf(host, sizeof(host), "[%s]:%u", ip, port);
			}
		}
	}
	if (!host_ok(host))
		return -EINVAL;
	int n = snprintf(out, cap, "%s://%s", scheme, host);
	return n > 0 && (size_t)n < cap ? 0 : -E2BIG;
}

void playlist_serve(struct conn *c, const struct http_request *req)
{
	struct playlist *pl = atomic_load(&the_playlist);
	if (!pl) {
		conn_respond_error(c, 404,
		                   "no playlist configured (ACEXY_PLAYLIST_SOURCES is empty)", 0);
		return;
	}
	char base[320];
	if (request_base(c, req, base, sizeof(base)) < 0) {
		conn_respond_error(c, 400, "Host header missing or not a host name", 0);
		return;
	}
	struct snapshot *snap = snap_get(pl);
	if (!snap) {
		conn_respond_error(c, 503, "the playlist is not loaded yet", 5);
		return;
	}
	/* the viewer passed the access check, so it holds the token when one is set */
	const char *token = acexy_cfg_s(c->w->dp->cfg, ACEXY_S_ACCESS_TOKEN);
	char *out = NULL;
	size_t len = 0;
	int rc = m3u_list_write(snap->list, base, token, &out, &len);
	snap_unref(snap);
	if (rc < 0) {
		conn_respond_error(c, 503, "out of memory", 5);
		return;
	}
	conn_respond(c, 200, "audio/x-mpegurl; charset=utf-8",
	             "Content-Disposition: inline; filename=\"playlist.m3u\"\r\n", out, len);
	free(out);
}
