#include "dataplane/ts_inspect.h"

#include <string.h>

/* ---- packets and sections ---- */

bool ts_packet_rai(const uint8_t *p)
{
	unsigned afc = (p[3] >> 4) & 3;
	return (afc & 2) && p[4] > 0 && (p[5] & 0x40);
}

/* The payload of a packet, or NULL when it has none or its adaptation
 * field runs past the packet. */
static const uint8_t *payload_of(const uint8_t *p, size_t *ret_len)
{
	unsigned afc = (p[3] >> 4) & 3;
	if (!(afc & 1))
		return NULL;
	size_t off = 4;
	if (afc & 2)
		off += 1 + (size_t)p[4];
	if (off >= TS_PKT)
		return NULL;
	*ret_len = TS_PKT - off;
	return p + off;
}

uint32_t ts_crc32(const uint8_t *d, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= (uint32_t)d[i] << 24;
		for (int b = 0; b < 8; b++)
			crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04c11db7u : crc << 1;
	}
	return crc;
}

static void section_append(struct ts_section *s, const uint8_t *d, size_t n)
{
	if (!s->active)
		return;
	size_t room = TS_SECTION_MAX - s->len;
	if (n > room)
		n = room;
	memcpy(s->buf + s->len, d, n);
	s->len = (uint16_t)(s->len + n);
	if (s->need == 0 && s->len >= 3) {
		size_t need = 3 + (((size_t)(s->buf[1] & 0x0f) << 8) | s->buf[2]);
		if (need > TS_SECTION_MAX || need < 12) {
			s->active = false; /* not a section we can use */
			return;
		}
		s->need = (uint16_t)need;
	}
}

static bool section_complete(const struct ts_section *s)
{
	return s->active && s->need > 0 && s->len >= s->need;
}

/* ---- scanner ---- */

void ts_scan_init(struct ts_scan *t, uint64_t pos)
{
	memset(t, 0, sizeof(*t));
	t->pos = pos;
	t->video_pid = TS_PID_NULL;
	t->check_crc = true;
}

static bool section_valid(const struct ts_scan *t, const struct ts_section *s, uint8_t table)
{
	return s->buf[0] == table && (s->buf[1] & 0x80) &&
	       (!t->check_crc || ts_crc32(s->buf, s->need) == 0);
}

static void parse_pat(struct ts_scan *t, const struct ts_section *s)
{
	if (!section_valid(t, s, 0x00))
		return;
	uint16_t pids[TS_PROGRAMS_MAX];
	unsigned n = 0;
	for (size_t i = 8; i + 4 <= (size_t)s->need - 4 && n < TS_PROGRAMS_MAX; i += 4) {
		unsigned prog = ((unsigned)s->buf[i] << 8) | s->buf[i + 1];
		unsigned pid = ((unsigned)(s->buf[i + 2] & 0x1f) << 8) | s->buf[i + 3];
		if (prog != 0) /* 0: the network PID */
			pids[n++] = (uint16_t)pid;
	}
	if (n != t->npmt || memcmp(pids, t->pmt_pid, n * sizeof(pids[0])) != 0) {
		memcpy(t->pmt_pid, pids, n * sizeof(pids[0]));
		t->npmt = n;
		t->video_pid = TS_PID_NULL; /* the next PMT says */
		t->video = TS_VIDEO_NONE;
	}
	t->pat_pos = t->pat.start;
	t->have_pat = true;
	t->have_pmt = false;
}

static enum ts_video video_kind(unsigned stream_type)
{
	switch (stream_type) {
	case 0x01:
	case 0x02:
		return TS_VIDEO_MPEG2;
	case 0x1b:
		return TS_VIDEO_H264;
	case 0x24:
		return TS_VIDEO_HEVC;
	case 0x10: /* MPEG-4 visual */
	case 0x20: /* MVC */
	case 0x42: /* AVS */
	case 0xd1: /* Dirac */
	case 0xea: /* VC-1 */
		return TS_VIDEO_OTHER;
	default:
		return TS_VIDEO_NONE;
	}
}

static void parse_pmt(struct ts_scan *t, const struct ts_section *s)
{
	if (!section_valid(t, s, 0x02))
		return;
	size_t end = (size_t)s->need - 4;
	size_t i = 12 + (((size_t)(s->buf[10] & 0x0f) << 8) | s->buf[11]);
	bool first_program = t->npmt > 0 && s->pid == t->pmt_pid[0];
	while (i + 5 <= end) {
		unsigned st = s->buf[i];
		unsigned pid = ((unsigned)(s->buf[i + 1] & 0x1f) << 8) | s->buf[i + 2];
		size_t esl = ((size_t)(s->buf[i + 3] & 0x0f) << 8) | s->buf[i + 4];
		enum ts_video v = video_kind(st);
		if (v != TS_VIDEO_NONE) {
			if (t->video_pid == TS_PID_NULL || first_program) {
				if (t->video_pid != pid)
					t->es_search = false;
				t->video_pid = (uint16_t)pid;
				t->video = v;
			}
			break; /* the first video stream of a program */
		}
		i += 5 + esl;
	}
	if (t->have_pat && s->start > t->pat_pos && !t->have_pmt) {
		t->have_pmt = true;
		t->pmt_pos = s->start;
	}
}

/* One packet's payload into a section assembler: the bytes before the
 * pointer end the section in progress, a new one starts after them. */
static void section_feed(struct ts_scan *t, struct ts_section *s, unsigned pid, bool pusi,
                         const uint8_t *d, size_t n, uint64_t pos,
                         void (*parse)(struct ts_scan *, const struct ts_section *))
{
	if (s->active && s->pid != pid)
		s->active = false;
	if (!pusi) {
		section_append(s, d, n);
		if (section_complete(s)) {
			parse(t, s);
			s->active = false;
		}
		return;
	}
	if (n < 1)
		return;
	size_t ptr = d[0];
	if (1 + ptr > n) {
		s->active = false;
		return;
	}
	if (s->active) {
		section_append(s, d + 1, ptr);
		if (section_complete(s))
			parse(t, s);
	}
	s->active = true;
	s->pid = (uint16_t)pid;
	s->len = 0;
	s->need = 0;
	s->start = pos;
	section_append(s, d + 1 + ptr, n - 1 - ptr);
	if (section_complete(s)) {
		parse(t, s);
		s->active = false;
	}
}

static void keyframe_found(struct ts_scan *t)
{
	t->es_search = false;
	if (!t->es_rap_ok)
		return;
	t->raps++;
	t->last_rap = t->es_pat_pos;
	t->keyframe = t->es_start;
}

/* Classifies the start code ending the window w (the last bytes of the
 * elementary stream, newest lowest): 1 keyframe, -1 another picture, 0 not
 * decided yet. */
static int classify(enum ts_video v, uint64_t w)
{
	if (v == TS_VIDEO_H264 && ((w >> 8) & 0xffffff) == 0x000001) {
		unsigned type = w & 0x1f;
		return type == 5 ? 1 : type == 1 ? -1 : 0;
	}
	if (v == TS_VIDEO_HEVC && ((w >> 16) & 0xffffff) == 0x000001) {
		unsigned type = (unsigned)(w >> 9) & 0x3f; /* first header byte */
		return type >= 16 && type <= 21 ? 1 : type <= 9 ? -1 : 0;
	}
	if (v == TS_VIDEO_MPEG2 && ((w >> 16) & 0xffffffff) == 0x00000100) {
		unsigned pct = (unsigned)(w >> 3) & 7; /* picture_coding_type */
		return pct == 1 ? 1 : -1;
	}
	return 0;
}

static void es_feed(struct ts_scan *t, const uint8_t *d, size_t n)
{
	size_t i = 0;
	if (!t->es_header_done) {
		/* the PES header: start code, stream id, length, flags, header length */
		while (i < n && t->es_hdr_len < 9)
			t->es_hdr[t->es_hdr_len++] = d[i++];
		if (t->es_hdr_len < 9)
			return;
		const uint8_t *h = t->es_hdr;
		if (h[0] != 0 || h[1] != 0 || h[2] != 1 || (h[3] & 0xf0) != 0xe0) {
			t->es_search = false;
			return;
		}
		size_t hl = 9 + (size_t)h[8];
		size_t skip = hl - t->es_hdr_len;
		if (skip > n - i) {
			t->es_hdr_len = (uint16_t)(t->es_hdr_len + (n - i));
			return;
		}
		i += skip;
		t->es_hdr_len = (uint16_t)hl;
		t->es_header_done = true;
		t->es_window = 0xffffffffffffffffULL;
	} else if (t->es_hdr_len < 9 + (size_t)t->es_hdr[8]) {
		size_t left = 9 + (size_t)t->es_hdr[8] - t->es_hdr_len;
		if (left > n) {
			t->es_hdr_len = (uint16_t)(t->es_hdr_len + n);
			return;
		}
		i += left;
		t->es_hdr_len = (uint16_t)(t->es_hdr_len + left);
	}
	uint64_t w = t->es_window;
	for (; i < n; i++) {
		w = (w << 8) | d[i];
		int c = classify(t->video, w);
		if (c > 0) {
			keyframe_found(t);
			return;
		}
		if (c < 0 || ++t->es_seen >= TS_SCAN_ES_MAX) {
			t->es_search = false;
			return;
		}
	}
	t->es_window = w;
}

static bool is_pmt_pid(const struct ts_scan *t, unsigned pid)
{
	for (unsigned i = 0; i < t->npmt; i++)
		if (t->pmt_pid[i] == pid)
			return true;
	return false;
}

void ts_scan_packet(struct ts_scan *t, const uint8_t *p, uint64_t pos)
{
	if (p[0] != 0x47 || (p[1] & 0x80)) /* no sync, or transport_error_indicator */
		return;
	unsigned pid = ts_pid(p);
	bool pusi = ts_pusi(p);
	size_t n = 0;
	const uint8_t *d = payload_of(p, &n);
	if (pid == 0) {
		if (d)
			section_feed(t, &t->pat, pid, pusi, d, n, pos, parse_pat);
		return;
	}
	if (pid == TS_PID_NULL)
		return;
	if (is_pmt_pid(t, pid)) {
		if (d)
			section_feed(t, &t->pmt, pid, pusi, d, n, pos, parse_pmt);
		return;
	}
	if (pid != t->video_pid)
		return;
	if (pusi) {
		t->es_start = pos;
		t->es_rap_ok = t->have_pat && t->have_pmt;
		t->es_pat_pos = t->pat_pos;
		t->es_search = false;
		if (ts_packet_rai(p)) {
			keyframe_found(t);
			return;
		}
		if (t->video == TS_VIDEO_OTHER || !d)
			return;
		t->es_search = true;
		t->es_seen = 0;
		t->es_hdr_len = 0;
		t->es_header_done = false;
		es_feed(t, d, n);
		return;
	}
	if (t->es_search && d)
		es_feed(t, d, n);
}

const uint8_t *ts_reader_next(struct ts_reader *r, const uint8_t **data, size_t *len,
                              size_t *ret_skipped)
{
	*ret_skipped = 0;
	while (*len > 0) {
		if (r->part_len == 0) {
			if ((*data)[0] != 0x47) {
				const uint8_t *s = memchr(*data, 0x47, *len);
				size_t skip = s ? (size_t)(s - *data) : *len;
				*ret_skipped += skip;
				*data += skip;
				*len -= skip;
				continue;
			}
			if (*len >= TS_PKT) {
				const uint8_t *p = *data;
				*data += TS_PKT;
				*len -= TS_PKT;
				return p;
			}
		}
		size_t take = TS_PKT - r->part_len;
		if (take > *len)
			take = *len;
		memcpy(r->part + r->part_len, *data, take);
		r->part_len += take;
		*data += take;
		*len -= take;
		if (r->part_len == TS_PKT) {
			r->part_len = 0;
			return r->part;
		}
	}
	return NULL;
}

void ts_scan_feed(struct ts_scan *t, const uint8_t *data, size_t len)
{
	for (;;) {
		size_t before = len, skipped;
		const uint8_t *p = ts_reader_next(&t->rd, &data, &len, &skipped);
		t->pos += before - len;
		if (skipped)
			t->sync_losses++;
		if (!p)
			return;
		ts_scan_packet(t, p, t->pos - TS_PKT);
	}
}

/* ---- splice ---- */

void ts_splice_init(struct ts_splice *sp)
{
	memset(sp, 0, sizeof(*sp));
	ts_scan_init(&sp->scan, 0);
}

void ts_splice_set_phase(struct ts_splice *sp, size_t phase)
{
	sp->dropped += sp->part_len;
	sp->part_len = 0;
	sp->skip = phase % TS_PKT ? TS_PKT - phase % TS_PKT : 0;
}

void ts_splice_switch(struct ts_splice *sp, uint64_t window, unsigned flag_max)
{
	sp->dropped += sp->part_len;
	sp->part_len = 0;
	sp->skip = 0;
	sp->want_pat = true;
	ts_scan_init(&sp->scan, 0);
	sp->gate_open = false;
	sp->window = window;
	sp->flagged = 0;
	sp->flag_max = flag_max;
	memset(sp->seen, 0, sizeof(sp->seen));
	sp->switches++;
}

bool ts_splice_switching(const struct ts_splice *sp)
{
	return sp->want_pat || sp->window > 0;
}

static void seg_add(struct ts_seg *seg, int *n, const uint8_t *p, size_t len)
{
	if (*n > 0 && seg[*n - 1].p + seg[*n - 1].len == p) {
		seg[*n - 1].len += len;
		return;
	}
	seg[*n].p = p;
	seg[*n].len = len;
	(*n)++;
}

/* A video PES that starts in this packet with a keyframe: the
 * random_access_indicator, or an IDR / IRAP / I-picture start within the
 * packet's bytes after the PES header. */
static bool packet_starts_keyframe(const uint8_t *p, enum ts_video v)
{
	if (!ts_pusi(p))
		return false;
	if (ts_packet_rai(p))
		return true;
	size_t n = 0;
	const uint8_t *d = payload_of(p, &n);
	if (!d || n < 9 || d[0] != 0 || d[1] != 0 || d[2] != 1 || (d[3] & 0xf0) != 0xe0)
		return false;
	uint64_t w = 0xffffffffffffffffULL;
	for (size_t i = 9 + (size_t)d[8]; i < n; i++) {
		w = (w << 8) | d[i];
		int c = classify(v, w);
		if (c != 0)
			return c > 0;
	}
	return false;
}

/* A PSI packet (payload: pointer, section, 0xff stuffing) whose stuffing has
 * room for a 2-byte adaptation field: moved 2 bytes on, the flag set. */
static bool psi_flag_in_place(uint8_t *p)
{
	if (((p[3] >> 4) & 3) != 1 || !ts_pusi(p))
		return false;
	size_t ptr = p[4];
	size_t sec = 4 + 1 + ptr; /* the section starts here */
	if (sec + 3 > TS_PKT)
		return false;
	size_t end = sec + 3 + (((size_t)(p[sec + 1] & 0x0f) << 8) | p[sec + 2]);
	if (end + 2 > TS_PKT)
		return false;
	for (size_t i = end; i < TS_PKT; i++)
		if (p[i] != 0xff)
			return false;
	memmove(p + 6, p + 4, TS_PKT - 6);
	p[3] = (uint8_t)(p[3] | 0x20);
	p[4] = 1;
	p[5] = 0x80;
	return true;
}

/* One whole packet of a new source, while switching: dropped before the
 * first PAT; each PID's first packet gets the discontinuity_indicator. */
static void switch_packet(struct ts_splice *sp, uint8_t *p, struct ts_seg *seg, int *n)
{
	sp->window = sp->window > TS_PKT ? sp->window - TS_PKT : 0;
	unsigned pid = ts_pid(p);
	if (p[0] != 0x47 || (sp->want_pat && !(pid == 0 && ts_pusi(p)))) {
		sp->dropped += TS_PKT;
		return;
	}
	sp->want_pat = false;
	ts_scan_packet(&sp->scan, p, 0);
	if (!sp->gate_open && pid == sp->scan.video_pid) {
		if (!packet_starts_keyframe(p, sp->scan.video)) {
			sp->dropped += TS_PKT;
			sp->gated += TS_PKT;
			return; /* pictures that need ones before them */
		}
		sp->gate_open = true;
	}
	unsigned afc = (p[3] >> 4) & 3;
	if (pid != TS_PID_NULL && afc != 0 && !(sp->seen[pid / 8] & (1u << (pid % 8)))) {
		sp->seen[pid / 8] |= (uint8_t)(1u << (pid % 8));
		if (sp->flagged < sp->flag_max) {
			sp->flagged++;
			if ((afc & 2) && p[4] > 0) {
				p[5] |= 0x80;
			} else if (psi_flag_in_place(p)) {
				/* the PAT stays the first packet after a switch */
			} else if (sp->nins < TS_SPLICE_SEGS / 2) {
				/* an adaptation field only, no payload: its counter is
				 * the one before the packet's (the same when that one has
				 * no payload either, as a counter without payload stays) */
				uint8_t *q = sp->ins[sp->nins++];
				unsigned cc = p[3] & 15;
				if (afc & 1)
					cc = (cc + 15) & 15;
				q[0] = 0x47;
				q[1] = p[1] & 0x1f;
				q[2] = p[2];
				q[3] = (uint8_t)(0x20 | cc);
				q[4] = 183;
				q[5] = 0x80;
				memset(q + 6, 0xff, TS_PKT - 6);
				seg_add(seg, n, q, TS_PKT);
				sp->inserted++;
			}
		}
	}
	seg_add(seg, n, p, TS_PKT);
}

int ts_splice_feed(struct ts_splice *sp, uint8_t *in, size_t len, struct ts_seg *seg, int max,
                   size_t *ret_used)
{
	int n = 0;
	size_t off = 0;
	sp->nins = 0;
	if (sp->skip > 0 && len > 0) {
		size_t take = sp->skip < len ? sp->skip : len;
		seg_add(seg, &n, in, take);
		sp->skip -= take;
		off = take;
	}
	if (sp->part_len > 0 && off < len) {
		size_t take = TS_PKT - sp->part_len;
		if (take > len - off)
			take = len - off;
		memcpy(sp->part + sp->part_len, in + off, take);
		sp->part_len += take;
		off += take;
		if (sp->part_len < TS_PKT) {
			*ret_used = off;
			return n;
		}
		memcpy(sp->done, sp->part, TS_PKT);
		sp->part_len = 0;
		if (ts_splice_switching(sp))
			switch_packet(sp, sp->done, seg, &n);
		else
			seg_add(seg, &n, sp->done, TS_PKT);
	}
	while (len - off >= TS_PKT && n + 2 <= max) {
		if (!ts_splice_switching(sp)) {
			size_t whole = (len - off) - (len - off) % TS_PKT;
			if (n < max) {
				seg_add(seg, &n, in + off, whole);
				off += whole;
			}
			break;
		}
		if (sp->nins >= TS_SPLICE_SEGS / 2)
			break; /* the next call has room again */
		switch_packet(sp, in + off, seg, &n);
		off += TS_PKT;
	}
	if (len - off < TS_PKT) {
		memcpy(sp->part, in + off, len - off);
		sp->part_len = len - off;
		off = len;
	}
	*ret_used = off;
	return n;
}
