/* Unit tests of the MPEG-TS inspection for continuity (dataplane/ts_inspect.h):
 * PAT/PMT following, random access points, and splicing two sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/ts_inspect.h"
#include "tscheck.h"

/* ---- building packets ---- */

static void header(uint8_t *p, unsigned pid, bool pusi, unsigned afc, unsigned cc)
{
	memset(p, 0xff, TS_PKT);
	p[0] = 0x47;
	p[1] = (uint8_t)((pusi ? 0x40 : 0) | ((pid >> 8) & 0x1f));
	p[2] = (uint8_t)(pid & 0xff);
	p[3] = (uint8_t)((afc << 4) | (cc & 15));
}

/* A PSI packet holding one section (body after the section_length). */
static void psi_packet(uint8_t *p, unsigned pid, uint8_t table, const uint8_t *body, size_t blen,
                       unsigned cc, bool bad_crc)
{
	header(p, pid, true, 1, cc);
	p[4] = 0; /* pointer */
	uint8_t *s = p + 5;
	size_t seclen = blen + 4;
	s[0] = table;
	s[1] = (uint8_t)(0xb0 | ((seclen >> 8) & 0x0f));
	s[2] = (uint8_t)(seclen & 0xff);
	memcpy(s + 3, body, blen);
	uint32_t crc = ts_crc32(s, 3 + blen) ^ (bad_crc ? 1u : 0u);
	s[3 + blen] = (uint8_t)(crc >> 24);
	s[4 + blen] = (uint8_t)(crc >> 16);
	s[5 + blen] = (uint8_t)(crc >> 8);
	s[6 + blen] = (uint8_t)crc;
}

static void pat(uint8_t *p, unsigned pmt_pid, unsigned cc, bool bad_crc)
{
	uint8_t b[] = {0x00,
	               0x01,
	               0xc1,
	               0x00,
	               0x00,
	               0x00,
	               0x01,
	               (uint8_t)(0xe0 | (pmt_pid >> 8)),
	               (uint8_t)pmt_pid};
	psi_packet(p, 0, 0x00, b, sizeof(b), cc, bad_crc);
}

static void pmt(uint8_t *p, unsigned pmt_pid, uint8_t stream_type, unsigned video_pid, unsigned cc)
{
	uint8_t b[] = {0x00,
	               0x01,
	               0xc1,
	               0x00,
	               0x00,
	               (uint8_t)(0xe0 | (video_pid >> 8)),
	               (uint8_t)video_pid,
	               0xf0,
	               0x00,
	               0x03, /* an audio stream first */
	               0xe1,
	               0x01,
	               0xf0,
	               0x00,
	               stream_type,
	               (uint8_t)(0xe0 | (video_pid >> 8)),
	               (uint8_t)video_pid,
	               0xf0,
	               0x00};
	psi_packet(p, pmt_pid, 0x02, b, sizeof(b), cc, false);
}

/* The first packet of a video PES with es[] after its header; rai sets the
 * random_access_indicator (in an adaptation field of 1 flag byte). */
static void pes_start(uint8_t *p, unsigned pid, bool rai, const uint8_t *es, size_t eslen,
                      unsigned cc)
{
	header(p, pid, true, rai ? 3 : 1, cc);
	size_t o = 4;
	if (rai) {
		p[4] = 1;
		p[5] = 0x40;
		o = 6;
	}
	uint8_t h[] = {0, 0, 1, 0xe0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1};
	memcpy(p + o, h, sizeof(h));
	o += sizeof(h);
	if (eslen > TS_PKT - o)
		eslen = TS_PKT - o;
	memset(p + o, 0x55, TS_PKT - o);
	memcpy(p + o, es, eslen);
}

static void pes_cont(uint8_t *p, unsigned pid, const uint8_t *es, size_t eslen, unsigned cc)
{
	header(p, pid, false, 1, cc);
	memset(p + 4, 0x55, TS_PKT - 4);
	memcpy(p + 4, es, eslen);
}

/* ---- scanner ---- */

static void scan_all(struct ts_scan *t, const uint8_t *d, size_t len, size_t step)
{
	for (size_t o = 0; o < len; o += step)
		ts_scan_feed(t, d + o, len - o < step ? len - o : step);
}

static void test_rap_by_rai(void **state)
{
	(void)state;
	uint8_t s[5 * TS_PKT];
	uint8_t es[] = {0, 0, 0, 1, 0x09, 0xf0};
	pes_start(s, 0x100, false, es, sizeof(es), 0); /* before any PAT: not a RAP */
	pat(s + TS_PKT, 0x1000, 0, false);
	pmt(s + 2 * TS_PKT, 0x1000, 0x1b, 0x100, 0);
	pes_cont(s + 3 * TS_PKT, 0x101, es, sizeof(es), 0); /* audio */
	pes_start(s + 4 * TS_PKT, 0x100, true, es, sizeof(es), 1);
	struct ts_scan t;
	ts_scan_init(&t, 1000 * TS_PKT);
	scan_all(&t, s, sizeof(s), 7);
	assert_int_equal(t.video_pid, 0x100);
	assert_int_equal(t.video, TS_VIDEO_H264);
	assert_int_equal(t.raps, 1);
	assert_int_equal(t.last_rap, 1001 * TS_PKT);
	assert_int_equal(t.keyframe, 1004 * TS_PKT);
}

static void test_rap_needs_pmt_after_pat(void **state)
{
	(void)state;
	uint8_t s[4 * TS_PKT];
	uint8_t es[] = {0, 0, 1, 0x65};
	pat(s, 0x1000, 0, false);
	pmt(s + TS_PKT, 0x1000, 0x1b, 0x100, 0);
	pat(s + 2 * TS_PKT, 0x1000, 1, false); /* a PAT, no PMT after it yet */
	pes_start(s + 3 * TS_PKT, 0x100, true, es, sizeof(es), 0);
	struct ts_scan t;
	ts_scan_init(&t, 0);
	ts_scan_feed(&t, s, sizeof(s));
	assert_int_equal(t.raps, 0);
}

static void test_bad_crc_ignored(void **state)
{
	(void)state;
	uint8_t s[3 * TS_PKT];
	uint8_t es[] = {0, 0, 1, 0x65};
	pat(s, 0x1000, 0, true);
	pmt(s + TS_PKT, 0x1000, 0x1b, 0x100, 0);
	pes_start(s + 2 * TS_PKT, 0x100, true, es, sizeof(es), 0);
	struct ts_scan t;
	ts_scan_init(&t, 0);
	ts_scan_feed(&t, s, sizeof(s));
	assert_int_equal(t.video_pid, TS_PID_NULL);
	assert_int_equal(t.raps, 0);
}

/* No random_access_indicator: the picture type decides, searched across the
 * packets of the PES. */
static void fallback_case(uint8_t stream_type, const uint8_t *es1, size_t l1, const uint8_t *es2,
                          size_t l2, uint64_t want_raps)
{
	uint8_t s[4 * TS_PKT];
	pat(s, 0x1000, 0, false);
	pmt(s + TS_PKT, 0x1000, stream_type, 0x100, 0);
	pes_start(s + 2 * TS_PKT, 0x100, false, es1, l1, 0);
	/* the rest of the first packet is filler without start codes */
	pes_cont(s + 3 * TS_PKT, 0x100, es2, l2, 1);
	struct ts_scan t;
	ts_scan_init(&t, 0);
	scan_all(&t, s, sizeof(s), 188);
	assert_int_equal(t.raps, want_raps);
	if (want_raps) {
		assert_int_equal(t.last_rap, 0);
		assert_int_equal(t.keyframe, 2 * TS_PKT);
	}
}

static void test_fallback_pictures(void **state)
{
	(void)state;
	uint8_t aud_sps[] = {0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x67, 0x42, 0};
	uint8_t idr[] = {0, 0, 1, 0x65, 0x88};
	uint8_t nonidr[] = {0, 0, 1, 0x41, 0x9a};
	fallback_case(0x1b, aud_sps, sizeof(aud_sps), idr, sizeof(idr), 1);
	fallback_case(0x1b, aud_sps, sizeof(aud_sps), nonidr, sizeof(nonidr), 0);
	/* a start code split between the two packets */
	uint8_t tail[] = {0x55, 0x55, 0, 0};
	uint8_t head[] = {1, 0x65};
	uint8_t s[4 * TS_PKT];
	pat(s, 0x1000, 0, false);
	pmt(s + TS_PKT, 0x1000, 0x1b, 0x100, 0);
	pes_start(s + 2 * TS_PKT, 0x100, false, aud_sps, sizeof(aud_sps), 0);
	memcpy(s + 3 * TS_PKT - sizeof(tail), tail, sizeof(tail));
	pes_cont(s + 3 * TS_PKT, 0x100, head, sizeof(head), 1);
	struct ts_scan t;
	ts_scan_init(&t, 0);
	ts_scan_feed(&t, s, sizeof(s));
	assert_int_equal(t.raps, 1);
	/* HEVC: IDR_W_RADL (19) and TRAIL_R (1) */
	uint8_t hevc_vps[] = {0, 0, 1, 0x40, 0x01};
	uint8_t hevc_idr[] = {0, 0, 1, 0x26, 0x01};
	uint8_t hevc_trail[] = {0, 0, 1, 0x02, 0x01};
	fallback_case(0x24, hevc_vps, sizeof(hevc_vps), hevc_idr, sizeof(hevc_idr), 1);
	fallback_case(0x24, hevc_vps, sizeof(hevc_vps), hevc_trail, sizeof(hevc_trail), 0);
	/* MPEG-2: sequence header, then an I picture (type 1) or a P picture */
	uint8_t seq[] = {0, 0, 1, 0xb3, 0x14, 0x00};
	uint8_t ipic[] = {0, 0, 1, 0x00, 0x00, 0x0f, 0xff};
	uint8_t ppic[] = {0, 0, 1, 0x00, 0x00, 0x17, 0xff};
	fallback_case(0x02, seq, sizeof(seq), ipic, sizeof(ipic), 1);
	fallback_case(0x02, seq, sizeof(seq), ppic, sizeof(ppic), 0);
	/* a video type without a fallback: only the indicator counts */
	fallback_case(0xea, aud_sps, sizeof(aud_sps), idr, sizeof(idr), 0);
}

static uint8_t *load_sample(size_t *ret_len)
{
	FILE *f = fopen(ACEXY_SAMPLE_TS, "rb");
	assert_non_null(f);
	uint8_t *d = malloc(1 << 20);
	size_t n = fread(d, 1, 1 << 20, f);
	fclose(f);
	*ret_len = n - n % TS_PKT;
	return d;
}

static void test_sample_raps(void **state)
{
	(void)state;
	size_t len;
	uint8_t *d = load_sample(&len);
	struct ts_scan t;
	ts_scan_init(&t, 0);
	uint64_t raps = 0;
	for (size_t o = 0; o < len;) {
		size_t step = 1 + (size_t)(rand() % 5000);
		if (step > len - o)
			step = len - o;
		ts_scan_feed(&t, d + o, step);
		o += step;
		if (t.raps != raps) {
			raps = t.raps;
			/* a PAT, then a keyframe carrying the indicator */
			assert_int_equal(t.last_rap % TS_PKT, 0);
			assert_int_equal(ts_pid(d + t.last_rap), 0);
			assert_true(t.keyframe > t.last_rap);
			assert_int_equal(ts_pid(d + t.keyframe), t.video_pid);
			assert_true(ts_packet_rai(d + t.keyframe));
		}
	}
	assert_int_equal(t.video, TS_VIDEO_H264);
	assert_true(t.raps >= 3);
	assert_int_equal(t.sync_losses, 0);
	free(d);
}

/* ---- splice ---- */

struct out {
	uint8_t *buf;
	size_t len, cap;
};

static void splice_feed(struct ts_splice *sp, struct out *o, uint8_t *in, size_t len)
{
	size_t off = 0;
	while (off < len || len == 0) {
		struct ts_seg seg[TS_SPLICE_SEGS];
		size_t used;
		int n = ts_splice_feed(sp, in + off, len - off, seg, TS_SPLICE_SEGS, &used);
		for (int i = 0; i < n; i++) {
			assert_true(o->len + seg[i].len <= o->cap);
			memcpy(o->buf + o->len, seg[i].p, seg[i].len);
			o->len += seg[i].len;
		}
		off += used;
		if (len == 0)
			break;
	}
}

/* Feeds [from, to) of the sample in uneven pieces (copied: the splice writes
 * flags in place). */
static void feed_range(struct ts_splice *sp, struct out *o, const uint8_t *d, size_t from,
                       size_t to)
{
	uint8_t buf[6000];
	while (from < to) {
		size_t step = 1 + (size_t)(rand() % (int)sizeof(buf));
		if (step > to - from)
			step = to - from;
		memcpy(buf, d + from, step);
		splice_feed(sp, o, buf, step);
		from += step;
	}
}

static void test_splice_two_switches(void **state)
{
	(void)state;
	size_t len;
	uint8_t *d = load_sample(&len);
	for (int round = 0; round < 50; round++) {
		struct ts_splice sp;
		ts_splice_init(&sp);
		struct out o = {.cap = 4 << 20};
		o.buf = malloc(o.cap);
		/* old source cut mid-packet, new ones start mid-stream or at 0 */
		size_t cut1 = 1000 + (size_t)(rand() % 200000);
		size_t start2 = (size_t)(rand() % 2) ? 0 : (size_t)(rand() % 100000);
		size_t cut2 = start2 + 5000 + (size_t)(rand() % 100000);
		feed_range(&sp, &o, d, 0, cut1);
		assert_int_equal(o.len % TS_PKT, 0);
		assert_int_equal(o.len, cut1 - cut1 % TS_PKT);
		size_t at1 = o.len;
		ts_splice_switch(&sp, 1 << 20, 64);
		feed_range(&sp, &o, d, start2, cut2 < len ? cut2 : len);
		ts_splice_switch(&sp, 1 << 20, 64);
		feed_range(&sp, &o, d, 0, len);
		assert_int_equal(o.len % TS_PKT, 0);
		/* the first packet after a switch is a PAT */
		assert_int_equal(ts_pid(o.buf + at1), 0);
		assert_true(ts_pusi(o.buf + at1));
		struct tscheck chk;
		tscheck_init(&chk);
		tscheck_feed(&chk, o.buf, o.len);
		assert_int_equal(chk.sync_errors, 0);
		assert_int_equal(chk.cc_errors, 0);
		assert_true(sp.switches == 2);
		free(o.buf);
	}
	free(d);
}

/* A new source that starts between keyframes: its video is held back until
 * one, so the first picture after the switch decodes. */
static void test_splice_video_starts_at_keyframe(void **state)
{
	(void)state;
	size_t len;
	uint8_t *d = load_sample(&len);
	/* the sample's PATs come every ~0.1 s, its keyframes every second */
	for (size_t start = 188 * 50; start < len / 2; start += 188 * 97) {
		struct ts_splice sp;
		ts_splice_init(&sp);
		struct out o = {.cap = 4 << 20};
		o.buf = malloc(o.cap);
		feed_range(&sp, &o, d, 0, 100000);
		size_t at = o.len;
		ts_splice_switch(&sp, 1 << 20, 64);
		feed_range(&sp, &o, d, start, len);
		bool video_seen = false;
		for (size_t i = at; i < o.len; i += TS_PKT) {
			if (ts_pid(o.buf + i) != 256 || ((o.buf[i + 3] >> 4) & 1) == 0)
				continue;
			/* the first video packet with payload starts a keyframe */
			assert_true(ts_pusi(o.buf + i));
			assert_true(ts_packet_rai(o.buf + i));
			video_seen = true;
			break;
		}
		assert_true(video_seen);
		struct tscheck chk;
		tscheck_init(&chk);
		tscheck_feed(&chk, o.buf, o.len);
		assert_int_equal(chk.cc_errors + chk.sync_errors, 0);
		free(o.buf);
	}
	free(d);
}

/* A first packet with a full payload gets an adaptation-field-only packet
 * before it; one with an adaptation field gets the flag in place. */
static void test_splice_flags(void **state)
{
	(void)state;
	uint8_t s[4 * TS_PKT];
	uint8_t es[] = {0, 0, 1, 0x65};
	pat(s, 0x1000, 7, false);
	pes_cont(s + TS_PKT, 0x100, es, sizeof(es), 3);
	pes_start(s + 2 * TS_PKT, 0x101, true, es, sizeof(es), 0);
	pes_cont(s + 3 * TS_PKT, 0x100, es, sizeof(es), 4);
	uint8_t junk[100];
	memset(junk, 0x47, sizeof(junk));
	struct ts_splice sp;
	ts_splice_init(&sp);
	struct out o = {.cap = 20 * TS_PKT};
	o.buf = calloc(1, o.cap);
	splice_feed(&sp, &o, junk, sizeof(junk)); /* held back */
	assert_int_equal(o.len, 0);
	ts_splice_switch(&sp, 1 << 20, 64);
	uint8_t copy[sizeof(s)];
	memcpy(copy, s, sizeof(s));
	splice_feed(&sp, &o, copy, sizeof(copy));
	assert_int_equal(sp.dropped, sizeof(junk));
	/* PAT flagged in place (its stuffing gives the room); 0x100: inserted +
	 * packet; 0x101 flagged in its adaptation field */
	assert_int_equal(o.len, 5 * TS_PKT);
	const uint8_t *p = o.buf;
	assert_int_equal(ts_pid(p), 0);
	assert_true(ts_pusi(p));
	assert_int_equal(p[3], 0x30 | 7);
	assert_int_equal(p[4], 1);
	assert_int_equal(p[5], 0x80);
	assert_memory_equal(p + 6, s + 4, TS_PKT - 6);
	assert_int_equal(ts_pid(p + TS_PKT), 0x100);
	assert_int_equal(p[TS_PKT + 3], 0x20 | 2); /* no payload, the counter before 3 */
	assert_int_equal(p[TS_PKT + 4], 183);
	assert_int_equal(p[TS_PKT + 5], 0x80);
	assert_memory_equal(p + 2 * TS_PKT, s + TS_PKT, TS_PKT);
	assert_int_equal(p[3 * TS_PKT + 5], 0x80 | 0x40);
	assert_memory_equal(p + 4 * TS_PKT, s + 3 * TS_PKT, TS_PKT); /* seen already */
	assert_false(ts_splice_switching(&sp) && sp.want_pat);
	free(o.buf);
}

static void test_splice_drops_until_pat_and_phase(void **state)
{
	(void)state;
	uint8_t s[3 * TS_PKT];
	uint8_t es[] = {0, 0, 1, 0x65};
	pes_cont(s, 0x100, es, sizeof(es), 3);
	pat(s + TS_PKT, 0x1000, 0, false);
	pes_cont(s + 2 * TS_PKT, 0x100, es, sizeof(es), 4);
	struct ts_splice sp;
	ts_splice_init(&sp);
	ts_splice_switch(&sp, 2 * TS_PKT, 64);
	struct out o = {.cap = 20 * TS_PKT};
	o.buf = calloc(1, o.cap);
	splice_feed(&sp, &o, s, sizeof(s));
	assert_int_equal(sp.dropped, TS_PKT);
	assert_int_equal(ts_pid(o.buf), 0);
	assert_int_equal(o.len, 2 * TS_PKT); /* the window ended at the PAT */
	assert_false(ts_splice_switching(&sp));
	/* 100 bytes of a packet went out elsewhere: the next 88 pass first */
	ts_splice_set_phase(&sp, 100);
	size_t before = o.len;
	uint8_t more[88 + TS_PKT + 10];
	memset(more, 0x47, sizeof(more));
	splice_feed(&sp, &o, more, sizeof(more));
	assert_int_equal(o.len - before, 88 + TS_PKT);
	assert_int_equal(sp.part_len, 10);
	free(o.buf);
}

int main(void)
{
	srand(12345);
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rap_by_rai),
	        cmocka_unit_test(test_rap_needs_pmt_after_pat),
	        cmocka_unit_test(test_bad_crc_ignored),
	        cmocka_unit_test(test_fallback_pictures),
	        cmocka_unit_test(test_sample_raps),
	        cmocka_unit_test(test_splice_two_switches),
	        cmocka_unit_test(test_splice_flags),
	        cmocka_unit_test(test_splice_video_starts_at_keyframe),
	        cmocka_unit_test(test_splice_drops_until_pat_and_phase),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
