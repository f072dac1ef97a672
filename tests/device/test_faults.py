"""Faults with real parts: the daemon process, a real Mosquitto, a real tmpfs that fills up,
and kill -9. Each test waits for events (counted), never for time.

- A full disk: the JSON-lines log and the MQTT spool sit on a 512 KiB tmpfs that is filled
  while the daemon runs. It keeps running, logs each problem once, counts what it drops, and
  writes again once space returns.
- kill -9 while writing: the next run replays the spool; every face event that reached the
  spool arrives at the broker, and nothing that was acknowledged is lost.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS
from tests.device.mosquitto import Broker, Subscriber, wait_until

DEVICE = "faults"
FACE_TOPIC = f"emotion-edge/{DEVICE}/face"


def event_key(record: dict) -> tuple:
    """One face event, the same in the JSON-lines log and on MQTT."""
    return record["ts"], record["frame"], record["face_index"]


def parsed_lines(path: Path) -> list[dict]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def logged_drops(log_text: str) -> int:
    """The JSON lines dropped so far, from the stats the daemon logs."""
    counts = re.findall(r"'jsonl_dropped': (\d+)", log_text)
    return int(counts[-1]) if counts else 0


class DaemonProcess:
    """`emotion-device run --config` with its stderr in a file, to read while it runs."""

    def __init__(self, config: Path, stderr: Path) -> None:
        self.stderr_path = stderr
        self._stderr = open(stderr, "a")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([sys.executable, "-m", "emotion_device.cli", "run", "--config",
                                         str(config)], stdout=subprocess.DEVNULL, stderr=self._stderr)

    def log(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(60)
        finally:
            self.process.kill()
            self._stderr.close()


@pytest.fixture
def frames(tmp_path, face_photos) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, photo in enumerate(face_photos):
        shutil.copy(photo, folder / f"{i:02d}{photo.suffix}")
    return folder


def write_config(tmp_path: Path, frames: Path, port: int, log: Path, spool: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
[device]
id = "{DEVICE}"
[source]
uri = "{frames}"
loop = true
max_fps = 20
[model]
name = "{MODELS / 'emotion5.tflite'}"
[output]
jsonl = "{log}"
publish_interval = 0.0
stats_interval = 1.0
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = 2
reconnect_min_delay = 0.1
reconnect_max_delay = 0.5
spool_dir = "{spool}"
discovery = false
""")
    return path


@pytest.fixture
def durable_broker(tmp_path):
    server = Broker(tmp_path / "broker", persistence=True).start()
    yield server
    server.stop(signal.SIGKILL)


def test_a_full_disk_is_logged_once_counted_and_recovered_from(tmp_path, frames, small_disk, durable_broker):
    log, spool = small_disk.path / "faces.jsonl", small_disk.path / "spool"
    reader = Subscriber(durable_broker.port, [FACE_TOPIC], persistent=True)
    daemon = DaemonProcess(write_config(tmp_path, frames, durable_broker.port, log, spool),
                           tmp_path / "daemon.log")
    try:
        reader.wait_for(lambda m: len(m) >= 5, 60, "faces over MQTT before the disk fills")
        small_disk.fill()
        wait_until(lambda: "No space left on device" in daemon.log(), 60, "the full disk to be noticed")
        wait_until(lambda: logged_drops(daemon.log()) >= 10, 120, "ten JSON lines dropped on a full disk")
        assert daemon.running()
        received_while_full = len(reader.messages)

        small_disk.free()
        wait_until(lambda: "writing to" in daemon.log() and " again" in daemon.log(), 60,
                   "the log to be written again")
        reader.wait_for(lambda m: len(m) >= received_while_full + 5, 60, "faces over MQTT again")
        assert daemon.stop() == 0, daemon.log()
    finally:
        daemon.stop(signal.SIGKILL)
        reader.close()

    text = daemon.log()
    assert "Traceback" not in text, text
    jsonl_errors = [line for line in text.splitlines() if f"cannot write to {log}" in line]
    assert len(jsonl_errors) == 1, jsonl_errors  # once per outage, not per line
    records = parsed_lines(log)  # every line is whole JSON: failed writes were cut back
    final = [r for r in records if r["type"] == "stats"][-1]
    assert final["jsonl_dropped"] >= 10
    mqtt = final["mqtt"]
    # What the spool could not store is counted, and said once.
    spool_errors = [line for line in text.splitlines() if "cannot store MQTT messages" in line]
    assert len(spool_errors) <= 1 and (mqtt["spool_lost"] > 0) == bool(spool_errors)
    print(f"full disk: {final['jsonl_dropped']} JSON lines dropped, {mqtt['spool_lost']} MQTT messages "
          f"not stored, {final['frames']} frames, daemon kept running")


def test_kill_9_while_writing_loses_nothing_that_reached_the_spool(tmp_path, frames, durable_broker):
    log, spool = tmp_path / "faces.jsonl", tmp_path / "spool"
    config = write_config(tmp_path, frames, durable_broker.port, log, spool)
    reader = Subscriber(durable_broker.port, [FACE_TOPIC], persistent=True)
    try:
        first = DaemonProcess(config, tmp_path / "first.log")
        reader.wait_for(lambda m: len(m) >= 10, 60, "acknowledged faces")
        durable_broker.stop(signal.SIGTERM)  # an outage: faces pile up in the spool
        spooled = len(parsed_lines(log)) + 20
        wait_until(lambda: len(parsed_lines(log)) >= spooled, 60, "faces written during the outage")
        durable_broker.start()
        before = len(reader.messages)
        reader.wait_for(lambda m: len(m) > before, 60, "the replay to start")
        os.kill(first.process.pid, signal.SIGKILL)  # mid-replay, mid-writing
        first.stop()
        # Every face the first run logged made it into the spool before the next one was
        # logged: all but the last can be asked for.
        logged = [event_key(r) for r in parsed_lines(log) if r["type"] == "face"][:-1]

        second = DaemonProcess(config, tmp_path / "second.log")
        try:
            wait_until(lambda: "connected to MQTT broker" in second.log(), 60, "the second run")
            reader.wait_for(lambda m: set(logged) <= {event_key(x.json()) for x in m}, 120,
                            f"all {len(logged)} faces of the killed run")
        finally:
            assert second.stop() == 0, second.log()
    finally:
        reader.close()
    assert "to send from an earlier run" in second.log()
    received = [event_key(m.json()) for m in reader.messages]
    assert set(logged) <= set(received)
    print(f"kill -9: {len(logged)} faces of the killed run, all delivered; "
          f"{len(received) - len(set(received))} duplicates (at least once)")
