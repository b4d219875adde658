"""The playback transfer read by the dataplane itself (issue 11): every body
framing an engine may use, bytes moved without a copy while the viewer keeps
up, the ring taking over for a stalled viewer, and paced streams read in
coalesced batches. Real daemons, the fake engine, every byte checked."""
import json
import socket
import subprocess
import threading
import time

import acexytest as t
from acexytest import metric, tscheck, wait_until


def ts_errors(data, last=None):
    """MPEG-TS check of whole packets: sync bytes, and continuity counters
    per PID (the fake engine keeps them continuous). Returns (errors, last)."""
    last = {} if last is None else last
    errors = 0
    for off in range(0, len(data) - len(data) % 188, 188):
        p = data[off:off + 188]
        if p[0] != 0x47:
            errors += 1
            continue
        pid = ((p[1] & 0x1F) << 8) | p[2]
        if pid == 0x1FFF or not p[3] & 0x10:
            continue
        cc = p[3] & 0x0F
        if pid in last and cc != (last[pid] + 1) & 0x0F:
            errors += 1
        last[pid] = cc
    return errors, last


def read_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return bytes(buf)


class UpstreamTest(t.TestCase):
    def stack(self, engine_args, env=None):
        st = t.Stack(self, env=env, engine_args=engine_args)
        st.start()
        return st

    def test_every_body_framing(self):
        # chunked (the engine's own), tiny chunks with extensions after a
        # 100 Continue head, and a body that runs until the connection closes
        for framing in ("chunked", "tiny", "close"):
            with self.subTest(framing=framing):
                st = self.stack(["--bitrate", "0", "--framing", framing])
                r = tscheck(st.url("id=f" + framing), nbytes=5000000)
                self.assertEqual(r["status"], 200, r)
                self.assertGreaterEqual(r["bytes"], 5000000)
                self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
                st.dp.stop()
                st.cp.stop()

    def test_content_length_body_ends_exactly(self):
        # the engine keeps the connection open after the body: the end is
        # found by the count, not by a close or a timeout
        # (the end itself, so no failover: test_failover.py has that)
        st = self.stack(["--bitrate", "0", "--framing", "length:1880000"],
                        env={"ACEXY_EMPTY_TIMEOUT": "20s", "ACEXY_FAILOVER": "false"})
        t0 = time.monotonic()
        r = tscheck(st.url("id=len"), nbytes=10000000, timeout=30)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["bytes"], 1880000, r)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        self.assertLess(time.monotonic() - t0, 5)
        wait_until(lambda: "reason=upstream_eof" in st.dp.log(), 3, what="upstream_eof end")

    def test_unpaced_stream_moves_without_copy(self):
        st = self.stack(["--bitrate", "0"])
        r = tscheck(st.url("id=zc"), nbytes=30000000)
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        spliced = metric(st.port, "acexy_upstream_spliced_bytes_total")
        # all but the first read and the bytes around chunk framing
        self.assertGreater(spliced, 0.9 * r["bytes"], spliced)

    def test_stalled_viewer_is_buffered_in_the_ring(self):
        st = self.stack(["--bitrate", "0"], env={"ACEXY_BUFFER": "2MiB", "ACEXY_WRITE_TIMEOUT": "10s"})
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.connect(("127.0.0.1", st.port))
        s.sendall(b"GET /ace/getstream?id=pausing HTTP/1.1\r\nHost: x\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(1)
        self.assertIn(b" 200 ", head.split(b"\r\n")[0])
        data = read_exact(s, 188 * 5000)  # whole packets: checked piecewise
        errors, last = ts_errors(data)
        for _ in range(3):
            # the viewer stops reading: past the stall limit the engine is
            # read into the ring, which fills up to ACEXY_BUFFER
            time.sleep(0.6)
            ring = metric(st.port, "acexy_ring_memory_bytes")
            self.assertGreater(ring, 1024 * 1024, "the ring did not take the stall up")
            self.assertLessEqual(ring, 2 * 1024 * 1024 + 3 * 65536, "the ring outgrew ACEXY_BUFFER")
            chunk = read_exact(s, 188 * 20000)
            self.assertEqual(len(chunk), 188 * 20000)
            e, last = ts_errors(chunk, last)
            errors += e
        s.close()
        self.assertEqual(errors, 0)

    def test_paced_stream_is_read_in_batches(self):
        # the fake engine sends every 10 ms; a steady stream is read about
        # every 100 ms instead, and no viewer sees a gap near 500 ms
        st = self.stack(["--bitrate", "4000000"])
        out = {}
        th = threading.Thread(target=lambda: out.update(r=tscheck(st.url("id=paced"), seconds=5)))
        th.start()
        time.sleep(2.0)
        r0, t0 = metric(st.port, "acexy_upstream_reads_total"), time.monotonic()
        time.sleep(2.0)
        r1, t1 = metric(st.port, "acexy_upstream_reads_total"), time.monotonic()
        th.join()
        r = out["r"]
        self.assertEqual(r["status"], 200, r)
        self.assertEqual(r["sync_errors"] + r["cc_errors"], 0, r)
        self.assertLess(r["first_byte_ms"], 1000, r)
        self.assertLess(r["max_gap_ms"], 400, r)
        self.assertGreater(r["bytes"], 4000000 / 8 * 4, r)
        per_s = (r1 - r0) / (t1 - t0)
        self.assertLess(per_s, 25, "engine reads per second: %.1f" % per_s)
        self.assertGreater(per_s, 2)

    def test_shared_stream_is_read_in_batches_with_many_viewers(self):
        # multiplex: one engine read is written to every viewer; what came in
        # meanwhile waits for the next batch instead of costing another
        # round of writes to all of them
        st = self.stack(["--bitrate", "4000000"], env={"ACEXY_MULTIPLEX": "true", "ACEXY_MAX_VIEWERS": "5000"})
        lg = subprocess.Popen([t.binpath("acexy-loadgen"), "--url", st.url("id=shared"), "--conns", "1500",
                               "--seconds", "7", "--ramp-ms", "100", "--ramp-batch", "300"],
                              stdout=subprocess.PIPE, text=True)
        time.sleep(3.0)
        r0, t0 = metric(st.port, "acexy_upstream_reads_total"), time.monotonic()
        time.sleep(2.5)
        r1, t1 = metric(st.port, "acexy_upstream_reads_total"), time.monotonic()
        out = json.loads(lg.communicate(timeout=60)[0])
        self.assertEqual(out["ok"], 1500, out)
        self.assertEqual(out["ts_errors"], 0, out)
        per_s = (r1 - r0) / (t1 - t0)
        self.assertLess(per_s, 25, "engine reads per second: %.1f" % per_s)


if __name__ == "__main__":
    t.main()
