#include "controlplane/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acexy/fsutil.h"
#include "acexy/log.h"

#define GARBAGE_SLACK (64 * 1024)

/* ---- the file ---- */

struct live {
	struct live *next;
	uint64_t seq;
	char *line;
	size_t len;
	json_t *event; /* only while loading */
};

struct spool {
	char dir[512];
	char path[600];
	int fd, lock_fd;
	uint64_t max;
	uint64_t file_bytes, live_bytes;
	struct live *head, **tail;
	bool stale; /* the file lacks a done mark or has a torn tail: compact */
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Rewrites the file with the live records only. */
static int compact(struct spool *s)
{
	char tmp[640];
	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int rc = 0;
	uint64_t bytes = 0;
	for (struct live *l = s->head; l && rc == 0; l = l->next) {
		rc = write_all(fd, l->line, l->len);
		bytes += l->len;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, s->path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	int nfd = open(s->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (nfd < 0)
		return -errno;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = nfd;
	s->file_bytes = bytes;
	s->stale = false;
	return 0;
}

/* Appends one line. A failed append (a full disk mid-record) leaves no part
 * of it behind: the file goes back to its last good length, or, when even
 * that fails, is rewritten from memory before the next append. */
static int append(struct spool *s, const char *line, size_t len)
{
	if (s->stale) {
		int rc = compact(s);
		if (rc < 0)
			return rc;
	}
	int rc = write_all(s->fd, line, len);
	if (rc == 0 && fdatasync(s->fd) < 0)
		rc = -errno;
	if (rc == 0) {
		s->file_bytes += len;
		return 0;
	}
	if (ftruncate(s->fd, (off_t)s->file_bytes) < 0)
		s->stale = true;
	/* the file cannot grow (RLIMIT_FSIZE): a full disk to the caller, not
	 * the -EFBIG of the ACEXY_SPOOL_MAX cap */
	return rc == -EFBIG ? -ENOSPC : rc;
}

static void load_add(void *ud, uint64_t seq, json_t *event)
{
	struct spool *s = ud;
	struct live *l = calloc(1, sizeof(*l));
	if (!l)
		return;
	l->seq = seq;
	l->event = json_incref(event);
	l->line = spool_format_add(seq, event, &l->len);
	if (!l->line) {
		json_decref(l->event);
		free(l);
		return;
	}
	*s->tail = l;
	s->tail = &l->next;
	s->live_bytes += l->len;
}

static struct live *unlink_seq(struct spool *s, uint64_t seq)
{
	for (struct live **pp = &s->head; *pp; pp = &(*pp)->next) {
		struct live *l = *pp;
		if (l->seq != seq)
			continue;
		*pp = l->next;
		if (s->tail == &l->next)
			s->tail = pp;
		s->live_bytes -= l->len;
		return l;
	}
	return NULL;
}

static void load_done(void *ud, uint64_t seq)
{
	struct live *l = unlink_seq(ud, seq);
	if (l) {
		json_decref(l->event);
		free(l->line);
		free(l);
	}
}

static int pending_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct spool_pending *)a)->seq;
	uint64_t y = ((const struct spool_pending *)b)->seq;
	return x < y ? -1 : x > y;
}

int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret,
               struct spool_pending **pending, size_t *npending, struct spool_parse_stats *st,
               char *err, size_t errcap)
{
	*pending = NULL;
	*npending = 0;
	memset(st, 0, sizeof(*st));
	struct spool *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	s->fd = s->lock_fd = -1;
	s->max = max_bytes;
	s->tail = &s->head;
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	snprintf(s->path, sizeof(s->path), "%s/events.spool", dir);
	int rc = acexy_mkdir_p(dir, 0750);
	if (rc < 0) {
		snprintf(err, errcap, "cannot create %s: %s", dir, strerror(-rc));
		free(s);
		return rc;
	}
	char lock[600];
	snprintf(lock, sizeof(lock), "%s/events.lock", dir);
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -errno;
		snprintf(err, errcap,
		         rc == -EWOULDBLOCK ? "%s is locked by another controlplane"
		                            : "cannot lock %s: %s",
		         lock, strerror(-rc));
		spool_close(s);
		return rc;
	}
	/* load */
	FILE *f = fopen(s->path, "re");
	if (f) {
		char *buf = NULL;
		size_t cap = 0, len = 0;
		for (;;) {
			if (len + 65536 > cap) {
				char *nb = realloc(buf, cap = cap * 2 + 65536);
				if (!nb)
					break;
				buf = nb;
			}
			size_t n = fread(buf + len, 1, cap - len, f);
			if (n == 0)
				break;
			len += n;
		}
		fclose(f);
		spool_parse(buf ? buf : "", len, load_add, load_done, s, st);
		free(buf);
	} else if (errno != ENOENT) {
		rc = -errno;
		snprintf(err, errcap, "cannot read %s: %s", s->path, strerror(-rc));
		spool_close(s);
		return rc;
	}
	rc = compact(s);
	if (rc < 0) {
		snprintf(err, errcap, "cannot write %s: %s", s->path, strerror(-rc));
		spool_close(s);
		return rc;
	}
	size_t n = 0;
	for (struct live *l = s->head; l; l = l->next)
		n++;
	/* records spooled late (kept in memory while the disk was full) follow
	 * later ones in the file: hand them back in the order they were made */
	if (n) {
		*pending = calloc(n, sizeof(**pending));
		size_t i = 0;
		for (struct live *l = s->head; l && *pending; l = l->next, i++) {
			(*pending)[i].seq = l->seq;
			(*pending)[i].event = l->event;
			l->event = NULL;
		}
		*npending = *pending ? n : 0;
		if (*pending)
			qsort(*pending, n, sizeof(**pending), pending_cmp);
	}
	for (struct live *l = s->head; l; l = l->next) {
		json_decref(l->event);
		l->event = NULL;
	}
	*ret = s;
	return 0;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	while (s->head) {
		struct live *l = s->head;
		s->head = l->next;
		json_decref(l->event);
		free(l->line);
		free(l);
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	free(s);
}

int spool_add(struct spool *s, uint64_t seq, const json_t *event)
{
	struct live *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->seq = seq;
	l->line = spool_format_add(seq, event, &l->len);
	if (!l->line) {
		free(l);
		return -ENOMEM;
	}
	if (l->len > SPOOL_LINE_MAX || s->live_bytes + l->len > s->max) {
		free(l->line);
		free(l);
		return -EFBIG;
	}
	int rc = 0;
	if (s->file_bytes + l->len > s->max)
		rc = compact(s);
	if (rc == 0)
		rc = append(s, l->line, l->len);
	if (rc < 0) {
		free(l->line);
		free(l);
		return rc;
	}
	*s->tail = l;
	s->tail = &l->next;
	s->live_bytes += l->len;
	return 0;
}

int spool_done(struct spool *s, uint64_t seq)
{
	struct live *l = unlink_seq(s, seq);
	if (!l)
		return 0;
	free(l->line);
	free(l);
	int rc;
	size_t len;
	char *line = NULL;
	/* mostly garbage, or no room for the mark: rewrite with the live ones */
	if (s->file_bytes > 2 * s->live_bytes + GARBAGE_SLACK || s->file_bytes + 64 > s->max ||
	    !(line = spool_format_done(seq, &len)))
		rc = compact(s);
	else
		rc = append(s, line, len);
	free(line);
	if (rc < 0)
		s->stale = true; /* the mark is missing: the next write compacts */
	return rc;
}

int spool_sync(struct spool *s)
{
	if (!s || !s->stale)
		return 0;
	return compact(s);
}

bool spool_stale(const struct spool *s)
{
	return s && s->stale;
}

uint64_t spool_bytes(const struct spool *s)
{
	return s ? s->file_bytes : 0;
}

const char *spool_path(const struct spool *s)
{
	return s ? s->path : "";
}
