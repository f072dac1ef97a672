import json
import os
import signal
import subprocess
import sys

from emotion_device.events import FaceEvent
from emotion_device.face import Box, Face
from emotion_device.sinks import JsonLinesSink
from tests.conftest import MODELS
from tests.device.mosquitto import wait_until


def _event(seq: int) -> FaceEvent:
    face = Face(Box(1, 2, 3, 4), {"happy": 0.9, "sad": 0.1}, "happy", 0.9)
    return FaceEvent(seq, 1.0, seq, "test", 0, face)


def test_the_file_rotates_by_size_and_keeps_n_backups(tmp_path):
    path = tmp_path / "faces.jsonl"
    sink = JsonLinesSink(path, max_bytes=2000, backups=2)
    for seq in range(1, 101):
        sink.write(_event(seq))
    sink.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["faces.jsonl", "faces.jsonl.1", "faces.jsonl.2"]
    assert all(p.stat().st_size <= 2000 + 300 for p in tmp_path.iterdir())
    newest = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    older = [json.loads(line)["seq"] for line in (tmp_path / "faces.jsonl.1").read_text().splitlines()]
    assert newest[-1] == 100 and older[-1] + 1 == newest[0]  # nothing lost between the two newest


def test_sighup_reopens_the_log_after_an_external_rotation(tmp_path, face_photos):
    log = tmp_path / "faces.jsonl"
    run = [sys.executable, "-m", "emotion_device.cli", "run", "--model", str(MODELS / "emotion5.tflite")]
    proc = subprocess.Popen([*run, "--source", str(face_photos[0]), "--loop", "--log", str(log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: log.exists() and log.stat().st_size, 60, "the first JSON line")
        os.rename(log, tmp_path / "faces.jsonl.old")  # what logrotate does
        os.kill(proc.pid, signal.SIGHUP)
        wait_until(log.exists, 60, "SIGHUP to reopen the log file")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    assert "reopened log files (SIGHUP)" in proc.stderr.read()
