/* MPEG-TS inspection for stream continuity (ISO/IEC 13818-1). Pure: no I/O,
 * no logging; bytes from an engine are untrusted, every length is checked.
 *
 * ts_scan follows the PAT to each program's PMT, takes the first video
 * elementary stream it lists, and reports random access points as bytes go
 * by: the position of the latest PAT that a PMT and then a video keyframe
 * follow. A keyframe is a video PES whose first packet carries the
 * random_access_indicator, or, as a fallback, whose first bytes hold an
 * H.264 IDR, an HEVC IRAP or an MPEG-2 I-picture start (searched in the
 * first TS_SCAN_ES_MAX bytes of the PES, across packets).
 *
 * ts_splice carries a stream across a change of source (engine failover):
 * only whole packets leave it (an incomplete one is held back and, at a
 * switch, dropped); after a switch the new source's packets before its first
 * PAT are dropped, and each PID's first packet is preceded by an
 * adaptation-field-only packet with the discontinuity_indicator set (or,
 * when it has an adaptation field already, gets the indicator in place), so
 * that its continuity counter may restart; the new source's video (the PID
 * its PMT names) is dropped until a keyframe starts, so the first picture
 * after a switch is a decodable one. The inserted packet carries no
 * payload and the counter the following packet expects, which leaves every
 * payload byte where it was. */
#ifndef ACEXY_DP_TS_INSPECT_H
#define ACEXY_DP_TS_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TS_PKT          188
#define TS_PID_NULL     0x1fff
#define TS_SECTION_MAX  1024 /* PSI sections are at most 1,024 bytes */
#define TS_PROGRAMS_MAX 8    /* programs followed (PMTs) */
#define TS_SCAN_ES_MAX  4096 /* PES bytes searched for a keyframe start */

enum ts_video {
	TS_VIDEO_NONE,
	TS_VIDEO_MPEG2, /* stream_type 0x01, 0x02 */
	TS_VIDEO_H264,  /* 0x1b */
	TS_VIDEO_HEVC,  /* 0x24 */
	TS_VIDEO_OTHER, /* a video type without a keyframe fallback */
};

struct ts_section {
	uint16_t pid;
	uint16_t len;  /* bytes gathered */
	uint16_t need; /* the whole section's size once known, else 0 */
	bool active;
	uint64_t start; /* position of the packet it began in */
	uint8_t buf[TS_SECTION_MAX];
};

/* Whole packets out of bytes fed in any split: a packet that straddles
 * two feeds is put together in part; bytes before a sync byte are skipped. */
struct ts_reader {
	uint8_t part[TS_PKT];
	size_t part_len;
};
/* The next whole packet of *data (which moves on), or NULL when the bytes
 * left make none; *ret_skipped: bytes passed over to find a sync byte. The
 * packet may be r->part: valid until the next call. */
const uint8_t *ts_reader_next(struct ts_reader *r, const uint8_t **data, size_t *len,
                              size_t *ret_skipped);
/* CRC-32/MPEG-2 of PSI sections: a section with its CRC appended sums to 0. */
uint32_t ts_crc32(const uint8_t *d, size_t n);

struct ts_scan {
	struct ts_reader rd;
	uint64_t pos; /* absolute position of the next byte fed */
	uint16_t pmt_pid[TS_PROGRAMS_MAX];
	unsigned npmt;
	uint16_t video_pid; /* TS_PID_NULL while unknown */
	enum ts_video video;
	struct ts_section pat, pmt;
	/* the latest PAT and the first PMT after it */
	uint64_t pat_pos, pmt_pos;
	bool have_pat, have_pmt;
	/* the video PES being searched */
	bool es_search;
	uint64_t es_start;   /* position of the PES's first packet */
	bool es_rap_ok;      /* a PAT and PMT came before es_start */
	uint64_t es_pat_pos; /* the PAT the PES would join at */
	uint32_t es_seen;    /* bytes searched */
	uint64_t es_window;  /* the last bytes, for start codes across packets */
	bool es_header_done;
	uint8_t es_hdr[9 + 255];
	uint16_t es_hdr_len;
	/* results */
	uint64_t raps;     /* random access points found */
	uint64_t last_rap; /* position of the latest one (its PAT) */
	uint64_t keyframe; /* position of its keyframe's first packet */
	uint64_t sync_losses;
	bool check_crc; /* true by default; off only for fuzzing deeper */
};

void ts_scan_init(struct ts_scan *t, uint64_t pos);
/* Feeds the next bytes of the stream (any split). */
void ts_scan_feed(struct ts_scan *t, const uint8_t *data, size_t len);
/* Inspects one whole packet at absolute position pos (ts_scan_feed calls
 * it); packets need not be contiguous. */
void ts_scan_packet(struct ts_scan *t, const uint8_t *p, uint64_t pos);

/* Header fields of one packet (p[0] must be 0x47 for the others to mean
 * anything). */
static inline unsigned ts_pid(const uint8_t *p)
{
	return ((unsigned)(p[1] & 0x1f) << 8) | p[2];
}
static inline bool ts_pusi(const uint8_t *p)
{
	return (p[1] & 0x40) != 0;
}
/* The random_access_indicator of a packet's adaptation field. */
bool ts_packet_rai(const uint8_t *p);

#define TS_SPLICE_SEGS 16

struct ts_seg {
	const uint8_t *p;
	size_t len;
};

struct ts_splice {
	struct ts_scan scan;  /* the new source's PAT, PMT and video PID */
	bool gate_open;       /* its video passes: a keyframe came */
	uint8_t part[TS_PKT]; /* an incomplete packet held back */
	size_t part_len;
	size_t skip;     /* bytes that complete a packet begun elsewhere */
	bool want_pat;   /* after a switch: drop packets until a PAT */
	uint64_t window; /* bytes after a switch in which first packets are flagged */
	unsigned flagged, flag_max;
	uint8_t seen[8192 / 8];
	uint8_t done[TS_PKT]; /* the held-back packet, completed */
	uint8_t ins[TS_SPLICE_SEGS / 2][TS_PKT];
	unsigned nins;
	uint64_t dropped, inserted, switches, gated;
};

void ts_splice_init(struct ts_splice *sp);
/* The bytes fed so far ended with `phase` bytes (0..187) of a packet
 * that went out another way: the next 188 - phase bytes pass first. Drops
 * a held-back partial packet (there should be none). */
void ts_splice_set_phase(struct ts_splice *sp, size_t phase);
/* A new source starts: the held-back incomplete packet is dropped; the new
 * source's first `window` bytes are watched (flag_max PIDs at most). */
void ts_splice_switch(struct ts_splice *sp, uint64_t window, unsigned flag_max);
/* True while after a switch every packet is looked at. */
bool ts_splice_switching(const struct ts_splice *sp);
/* Takes bytes from `in` (modified in place: discontinuity flags) and gives
 * the whole packets to send as segments pointing into `in` or into sp (valid
 * until the next call). Returns the number of segments (<= max, max >= 2)
 * and the bytes taken in *ret_used; call again with the rest while *ret_used
 * < len. */
int ts_splice_feed(struct ts_splice *sp, uint8_t *in, size_t len, struct ts_seg *seg, int max,
                   size_t *ret_used);

#endif
