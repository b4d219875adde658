"""Stream continuity figures for tests/bench/run.py (DESIGN.md "Performance
targets"): the failover gap for engines that cut, reset or are killed, stall
detection, and where a late joiner of a shared session starts.

- failover: many paced streams whose engine session fails once
  (acexy-fake-engine once-cut-/once-reset-BYTES); the gap is the dataplane's
  own measure (last old byte read -> first new byte read, the `failover` log
  line), minus the fake engine's own start time (a direct client's
  format=json + playback first byte, measured in the same run). Killed: the
  orchestrator's engine processes are SIGKILLed one after the other under one
  stream.
- stall: ACEXY_FAILOVER_STALL=1s; the time from the last byte read to the
  detection, against the setting.
- join: a 3 s GOP stream (made with ffmpeg), multiplexed; late joiners at
  random times: bytes before their first keyframe, beside what a join at a
  plain packet boundary costs (random positions in a continuous capture)."""
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

from acexytest import stream_bytes  # run.py puts tests/integration/lib on the path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def pct(values, p):
    v = sorted(values)
    if not v:
        return None
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def failover_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            if " event=failover " not in line:
                continue
            d = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
            out.append({k: v.strip('"') for k, v in d.items()})
    return out


def engine_start_ms(b, ep, n=50):
    """The fake engine's own start time: a client doing what the proxy does."""
    r = b.loadgen("http://127.0.0.1:%d/ace/getstream?id=es%%d&format=json" % ep,
                  "--mode", "ttfb", "--conns", str(n), "--direct")
    return r["p50_ms"], r["p99_ms"]


def status(port):
    return json.loads(urllib.request.urlopen("http://127.0.0.1:%d/ace/status" % port,
                                             timeout=5).read())


def fig_failover(b):
    n = 10 if b.args.quick else 30
    fig = {}
    eng, ep = b.engine("--bitrate", "4000000")
    start50, start99 = engine_start_ms(b, ep)
    cp, dp, port, _ = b.acexy(ep, {"ACEXY_LOG_LEVEL": "info", "ACEXY_WORKERS": "2",
                                    "ACEXY_FAILOVER_STALL": "1s"})
    for kind in ("cut", "reset"):
        before = len(failover_lines(dp.logpath))
        lg = b.loadgen("http://127.0.0.1:%d/ace/getstream?id=once-%s-400000-%s%%d" % (port, kind, kind),
                       "--conns", str(n), "--seconds", "3", "--ramp-ms", "100", "--ramp-batch", "5")
        time.sleep(0.5)
        lines = failover_lines(dp.logpath)[before:]
        gaps = [float(x["gap_ms"]) for x in lines]
        fig[kind] = {"failovers": len(lines), "streams": n, "ts_errors": lg["ts_errors"],
                     "failed": lg["failed"], "gap_p50_ms": pct(gaps, 50), "gap_p99_ms": pct(gaps, 99),
                     "engine_start_p50_ms": start50,
                     "proxy_share_p50_ms": pct(gaps, 50) - start50 if gaps else None,
                     "proxy_share_p99_ms": pct(gaps, 99) - start50 if gaps else None}
    # stall: detection against ACEXY_FAILOVER_STALL=1s
    before = len(failover_lines(dp.logpath))
    b.loadgen("http://127.0.0.1:%d/ace/getstream?id=once-stall-400000-st%%d" % port,
              "--conns", str(n), "--seconds", "4", "--ramp-ms", "100", "--ramp-batch", "5")
    time.sleep(0.5)
    lines = failover_lines(dp.logpath)[before:]
    detect = [float(x["gap_ms"]) - float(x["detect_to_data_ms"]) for x in lines]
    fig["stall"] = {"setting_ms": 1000, "failovers": len(lines),
                    "detected_p50_ms": pct(detect, 50), "detected_min_ms": min(detect) if detect else None,
                    "detected_max_ms": max(detect) if detect else None}
    for p in (dp, cp, eng):
        b.stop(p)
    fig["killed"] = killed(b, 4 if b.args.quick else 8)
    b.record("failover", fig)


def killed(b, kills):
    """One stream, orchestrator mode; its engine process is killed `kills`
    times, each time after the stream went on on another one."""
    oport = b.free_port()
    orch = b.start([sys.executable, os.path.join(ROOT, "tests", "fixtures", "fake_orchestrator.py"),
                    "--listen", "127.0.0.1:%d" % oport, "--engines", str(kills + 1),
                    "--engine-bin", os.path.join(b.bin, "acexy-fake-engine")], name="orch")
    b.wait_http("http://127.0.0.1:%d/__fake/state" % oport, timeout=60)
    engines = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/__fake/state" % oport,
                                                timeout=5).read())["engines"]
    ep = engines[0]["port"]
    start50, _ = engine_start_ms(b, ep, 20)
    cp, dp, port, _ = b.acexy(ep, {"ACEXY_LOG_LEVEL": "info", "ACEXY_ORCH_URL": "http://127.0.0.1:%d" % oport,
                                    "ACEXY_ORCH_POLL_INTERVAL": "1s", "ACEXY_FAILOVER_MAX": "100",
                                    "ACEXY_MAX_STREAMS_PER_ENGINE": "1"})
    out = {}
    th = threading.Thread(target=lambda: out.update(r=b.loadgen(
        "http://127.0.0.1:%d/ace/getstream?id=killed%%d" % port, "--conns", "1",
        "--seconds", str(kills * 1.0 + 2))))
    th.start()
    by_port = {e["port"]: e for e in engines}
    done = 0
    t0 = time.monotonic()
    while done < kills and time.monotonic() - t0 < kills * 3 + 10:
        try:
            st = status(port)["streams"]
        except OSError:
            st = []
        if not st or st[0].get("failovers", 0) != done:
            time.sleep(0.05)
            continue
        time.sleep(0.6)
        m = re.search(r":(\d+)", st[0]["engine"])
        e = by_port.get(int(m.group(1))) if m else None
        if not e or not e.get("pid"):
            break
        os.kill(e["pid"], signal.SIGKILL)
        done += 1
    th.join()
    time.sleep(0.3)
    gaps = [float(x["gap_ms"]) for x in failover_lines(dp.logpath)]
    lg = out.get("r", {})
    for p in (dp, cp, orch):
        b.stop(p)
    return {"kills": done, "failovers": len(gaps), "ts_errors": lg.get("ts_errors"),
            "gap_p50_ms": pct(gaps, 50), "gap_p99_ms": pct(gaps, 99), "engine_start_p50_ms": start50,
            "proxy_share_p50_ms": pct(gaps, 50) - start50 if gaps else None,
            "proxy_share_p99_ms": pct(gaps, 99) - start50 if gaps else None}


def read_for(port, query, nbytes, out, key):
    out[key] = stream_bytes(port, query, nbytes)


def keyframes(data, video_pid=256):
    """Positions of the video PES starts that carry the random_access_indicator."""
    pos = []
    for i in range(0, len(data) - 187, 188):
        p = data[i:i + 188]
        if p[0] != 0x47 or ((p[1] & 0x1f) << 8 | p[2]) != video_pid or not p[1] & 0x40:
            continue
        if (p[3] >> 4) & 2 and p[4] > 0 and p[5] & 0x40:
            pos.append(i)
    return pos


def fig_join(b):
    n = 5 if b.args.quick else 15
    ts = os.path.join(b.tmp, "gop3.ts")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "30",
                    "-c:v", "libx264", "-preset", "veryfast", "-g", "75", "-keyint_min", "75",
                    "-sc_threshold", "0", "-b:v", "2500k", "-maxrate", "2500k", "-bufsize", "2500k",
                    "-pix_fmt", "yuv420p", "-c:a", "mp2", "-b:a", "128k", "-f", "mpegts", ts],
                   check=True, timeout=300)
    eng, ep = b.engine("--bitrate", "3000000", "--ts", ts)
    cp, dp, port, _ = b.acexy(ep, {"ACEXY_MULTIPLEX": "true", "ACEXY_WORKERS": "1"})
    caps = {}
    holder = threading.Thread(target=read_for, args=(port, "id=gop", 6 * 1024 * 1024, caps, "holder"))
    holder.start()
    time.sleep(4)
    joins = []
    for i in range(n):
        time.sleep(random.uniform(0.2, 1.5))
        read_for(port, "id=gop", 1024 * 1024, caps, "j%d" % i)
        k = keyframes(caps["j%d" % i])
        pk = caps["j%d" % i]
        joins.append({"first_keyframe_at": k[0] if k else None,
                      "starts_with_pat": len(pk) >= 188 and ((pk[1] & 0x1f) << 8 | pk[2]) == 0})
    holder.join()
    cont = caps["holder"]
    kf = keyframes(cont)
    base = []
    for _ in range(200):
        off = random.randrange(0, max(1, (kf[-1] if kf else len(cont)) // 188)) * 188
        nxt = [k for k in kf if k >= off]
        if nxt:
            base.append(nxt[0] - off)
    at = [j["first_keyframe_at"] for j in joins if j["first_keyframe_at"] is not None]
    gop_bytes = statistics.median([b2 - a for a, b2 in zip(kf, kf[1:])]) if len(kf) > 1 else None
    b.record("join", {"gop_s": 3, "gop_bytes": gop_bytes, "late_joiners": n,
                      "starts_with_pat": sum(j["starts_with_pat"] for j in joins),
                      "bytes_before_picture_p50": pct(at, 50), "bytes_before_picture_max": max(at) if at else None,
                      "packet_boundary_join_p50": pct(base, 50), "packet_boundary_join_max": max(base) if base else None})
    for p in (dp, cp, eng):
        b.stop(p)
