"""`make soak`: the daemon for N minutes on a looping clip with MQTT, watched from outside.

A benchmark, not a test: it runs `emotion-device run` as its own process against a private
Mosquitto on 127.0.0.1 (needs the `mosquitto` binary), on a looping 10 fps video clip made
from real photos. `max_fps` counts in a file's media time, so the daemon processes `fps` frames
of each second of clip but reads the clip as fast as it can: it runs flat out, which makes the
soak harsher (many more frames an hour than a camera at that rate would give) and its fps a
measure of the machine's load. The broker goes away for `outage` of the run in the middle, so
the spool fills and drains. Every `sample` seconds it records the daemon's RSS (from /proc),
the spool's size on disk, and from the latest stats message (MQTT, so not during the outage)
the fps and the spool depth. It reports RSS growth, fps
drift and spool depth over time, and saves every sample as JSON.

    python -m emotion_device.bench.soak --minutes 60 --fps 5 --photos ../shared/demo --out soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt

from emotion_device.bench.report import machine_info
from emotion_device.images import IMAGE_SUFFIXES, letterbox, read_image

DEVICE = "soak"
RSS_TARGET_MB = 5.0
WARMUP_S = 120.0  # model load, allocator and caches settle; growth is measured after this


def make_clip(photos: list[Path], path: Path, size: tuple[int, int] = (640, 480), seconds_each: int = 2,
              fps: int = 10) -> Path:
    """A looping MJPG clip: each real photo framed as a camera would see it, with a slow pan."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    for photo in photos:
        frame = letterbox(read_image(photo), size)
        for i in range(seconds_each * fps):
            writer.write(np.roll(frame, (i % 10) - 5, axis=1))
    writer.release()
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    def __init__(self, folder: Path) -> None:
        binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
        if not binary:
            raise SystemExit("soak: mosquitto not found (apt install mosquitto)")
        self.binary, self.port = binary, free_port()
        self.config = folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false"]
        if os.geteuid() == 0:
            lines.append("user root")
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        """Start (again) on the same port; a loaded machine may take a while."""
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:  # the port not free yet: try again
                time.sleep(1.0)
                self.process = subprocess.Popen([self.binary, "-c", str(self.config)],
                                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                continue
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit("soak: mosquitto did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class StatsWatcher:
    """Records every stats message the daemon publishes (it reconnects through the outage)."""

    def __init__(self, port: int) -> None:
        self.stats: list[dict] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="soak-watcher")
        self.client.on_connect = lambda c, *_: c.subscribe(f"emotion-edge/{DEVICE}/stats", qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, _client, _userdata, message) -> None:
        with self._lock:
            self.stats.append({"received": time.time(), **json.loads(message.payload)})

    def latest(self) -> dict | None:
        with self._lock:
            return self.stats[-1] if self.stats else None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def memory_of(pid: int) -> dict[str, float]:
    """VmRSS and its anonymous part (the heap: where a leak shows) and file part (mapped
    libraries and models, which the kernel may drop and reload), in MiB."""
    fields = {"VmRSS": "rss_mb", "RssAnon": "rss_anon_mb", "RssFile": "rss_file_mb"}
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in fields:
            values[fields[key]] = round(int(line.split()[1]) / 1024, 2)
    return values


def slope_per_hour(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    return float(np.polyfit(np.array(xs) / 3600, np.array(ys), 1)[0])


def growth(samples: list[dict], key: str) -> dict:
    """Median of the first 5 minutes after warm-up, of the last 5 minutes, their difference
    (the growth), the maximum and a least-squares slope, in MiB."""
    settled = [s for s in samples if s["t_s"] >= WARMUP_S and key in s]
    if not settled:
        return {}
    first = [s[key] for s in settled if s["t_s"] < WARMUP_S + 300]
    last = [s[key] for s in settled if s["t_s"] >= settled[-1]["t_s"] - 300]
    return {"after_warmup": round(float(np.median(first)), 1), "at_end": round(float(np.median(last)), 1),
            "growth": round(float(np.median(last) - np.median(first)), 2),
            "max": round(max(s[key] for s in settled), 1),
            "slope_per_hour": round(slope_per_hour([s["t_s"] for s in settled],
                                                   [s[key] for s in settled]), 2)}


def summarize(samples: list[dict], minutes: float, fps_cap: float) -> dict:
    settled = [s for s in samples if s["t_s"] >= WARMUP_S]
    fps = [(s["t_s"], s["fps"]) for s in settled if s.get("fps") is not None and not s["outage"]]
    rss, anon = growth(samples, "rss_mb"), growth(samples, "rss_anon_mb")
    return {
        "minutes": minutes, "fps_cap": fps_cap, "samples": len(samples),
        "rss_mb": rss, "rss_anon_mb": anon, "rss_file_mb": growth(samples, "rss_file_mb"),
        "rss_target_mb": RSS_TARGET_MB,
        "rss_target_met": bool(rss and anon and rss["growth"] < RSS_TARGET_MB
                               and anon["growth"] < RSS_TARGET_MB),
        "fps_first": fps[0][1] if fps else None, "fps_last": fps[-1][1] if fps else None,
        "fps_slope_per_hour": round(slope_per_hour([t for t, _ in fps], [f for _, f in fps]), 3),
        "spool_max_messages": max((s.get("spool_messages") or 0) for s in samples),
        "spool_messages_at_end": samples[-1].get("spool_messages"),
        "frames": samples[-1].get("frames"), "faces": samples[-1].get("faces"),
        "failed_frames": samples[-1].get("failed_frames"),
    }


def run_soak(minutes: float, fps: float, photos: list[Path], sample_s: float, outage: float,
             model: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="emotion-soak-") as tmp:
        folder = Path(tmp)
        clip = make_clip(photos, folder / "clip.avi")
        broker = Broker(folder)
        broker.start()
        config = folder / "config.toml"
        config.write_text(f"""
[device]
id = "{DEVICE}"
[source]
uri = "{clip}"
loop = true
max_fps = {fps}
[model]
name = "{model}"
[output]
publish_interval = 1.0
stats_interval = {sample_s}
[mqtt]
host = "127.0.0.1"
port = {broker.port}
spool_dir = "{folder / 'spool'}"
reconnect_max_delay = 5.0
""")
        watcher = StatsWatcher(broker.port)
        log = open(folder / "daemon.log", "w")  # noqa: SIM115 - closed below
        daemon = subprocess.Popen([sys.executable, "-m", "emotion_device.cli", "run", "--config",
                                   str(config)], stdout=subprocess.DEVNULL, stderr=log)
        started = time.monotonic()
        duration = minutes * 60
        outage_window = (duration * 0.45, duration * (0.45 + outage))
        samples: list[dict] = []
        down = False
        error = None
        try:
            while (now := time.monotonic() - started) < duration:
                if daemon.poll() is not None:
                    raise SystemExit(f"soak: the daemon exited with {daemon.returncode}; see its log")
                in_outage = outage_window[0] <= now < outage_window[1]
                if in_outage and not down:
                    broker.stop()
                    down = True
                elif down and not in_outage:
                    broker.start()
                    down = False
                stats = watcher.latest() or {}
                mqtt_stats = stats.get("mqtt", {})
                spool_bytes = sum(f.stat().st_size for f in (folder / "spool").glob("seg-*.jsonl"))
                samples.append({"t_s": round(now, 1), **memory_of(daemon.pid),
                                "spool_disk_bytes": spool_bytes, "outage": down, "fps": stats.get("fps"),
                                "frames": stats.get("frames"),
                                "faces": stats.get("faces"), "failed_frames": stats.get("failed_frames"),
                                "spool_messages": mqtt_stats.get("spool_messages"),
                                "daemon_rss_mb": stats.get("rss_mb")})
                print(json.dumps(samples[-1]), flush=True)
                time.sleep(sample_s)
        except (SystemExit, KeyboardInterrupt) as exc:  # keep what was measured, say why it ended
            error = str(exc) or type(exc).__name__
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(300)
            except subprocess.TimeoutExpired:
                daemon.kill()
                error = (error or "") + "; the daemon did not stop within 300 s of SIGTERM"
            log.close()
            watcher.close()
            broker.stop()
    result = {"machine": machine_info(), "summary": summarize(samples, minutes, fps), "samples": samples}
    if error:
        result["ended_early"] = error
    return result


def format_summary(summary: dict) -> str:
    rows = [("minutes", summary["minutes"]), ("frames processed a second of clip", summary["fps_cap"])]
    names = (("rss_mb", "RSS"), ("rss_anon_mb", "RSS anonymous (heap)"), ("rss_file_mb", "RSS file"))
    for key, name in names:
        m = summary[key]
        rows.append((f"{name}: after warm-up / at the end / max (MiB)",
                     f"{m.get('after_warmup')} / {m.get('at_end')} / {m.get('max')}"))
        rows.append((f"{name}: growth (MiB) / slope (MiB/hour)",
                     f"{m.get('growth')} / {m.get('slope_per_hour')}"))
    rows += [(f"RSS growth under {RSS_TARGET_MB:g} MiB", summary["rss_target_met"]),
            ("fps first / last", f"{summary['fps_first']} / {summary['fps_last']}"),
            ("fps slope (fps/hour)", summary["fps_slope_per_hour"]),
            ("spool depth max / at end (messages)",
             f"{summary['spool_max_messages']} / {summary['spool_messages_at_end']}"),
            ("frames / faces / failed",
             f"{summary['frames']} / {summary['faces']} / {summary['failed_frames']}")]
    return "\n".join(["| measure | value |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emotion_device.bench.soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="how long (default: 60)")
    parser.add_argument("--fps", type=float, default=5.0,
                        help="the daemon's max_fps: frames processed a second of clip time (default: 5)")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between samples (default: 30)")
    parser.add_argument("--outage", type=float, default=0.1,
                        help="fraction of the run the broker is away, from 45%% (default: 0.1)")
    parser.add_argument("--photos", type=Path, required=True, help="folder of real photos with faces")
    parser.add_argument("--model", default="emotion5")
    parser.add_argument("--out", type=Path, help="write the samples and summary as JSON here")
    args = parser.parse_args(argv)
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not photos:
        parser.error(f"no photos in {args.photos}")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop early, keep the samples
    result = run_soak(args.minutes, args.fps, photos, args.sample, args.outage, args.model)
    print(format_summary(result["summary"]))
    if "ended_early" in result:
        print(f"soak ended early: {result['ended_early']}", file=sys.stderr)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 1 if "ended_early" in result else 0


if __name__ == "__main__":
    sys.exit(main())
