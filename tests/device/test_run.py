"""`emotion-device run`: the first daemon loop over real photos."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from tests.conftest import MODELS
from tests.device.mosquitto import wait_until

RUN = [sys.executable, "-m", "emotion_device.cli", "run", "--model", str(MODELS / "emotion5.tflite")]


@pytest.fixture
def photo_folder(tmp_path, face_photos):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, photo in enumerate(face_photos):
        shutil.copy(photo, folder / f"{i:03d}{photo.suffix}")
    return folder


def test_run_writes_a_json_line_per_face_and_stops_at_max_frames(photo_folder, tmp_path):
    log = tmp_path / "faces.jsonl"
    frames = len(list(photo_folder.iterdir())) + 2
    result = subprocess.run([*RUN, "--source", str(photo_folder), "--loop", "--max-frames", str(frames),
                             "--log", str(log)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in log.read_text().splitlines()]
    events = [r for r in records if r["type"] == "face"]
    assert {r["type"] for r in records} == {"face", "state", "stats"}
    assert records[-1]["type"] == "stats" and records[-1]["frames"] == frames
    assert {e["frame"] for e in events} <= set(range(frames))
    assert len({e["frame"] for e in events}) >= frames - 1  # each real photo holds a face
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for event in events:
        assert event["schema"] == 1 and event["label"] in event["scores"]
    assert f"stopped (max-frames): {frames} frames" in result.stderr


def test_a_folder_with_a_broken_file_is_processed_with_a_warning(photo_folder):
    (photo_folder / "broken.png").write_bytes(b"\x89PNG truncated")
    result = subprocess.run([*RUN, "--source", str(photo_folder)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "skipping" in result.stderr and "broken.png" in result.stderr
    assert "stopped (end of source)" in result.stderr
    faces = [line for line in result.stdout.splitlines() if json.loads(line)["type"] == "face"]
    assert len(faces) >= len(list(photo_folder.iterdir())) - 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_loop_cleanly(photo_folder, tmp_path, signum):
    log = tmp_path / "faces.jsonl"
    proc = subprocess.Popen([*RUN, "--source", str(photo_folder), "--loop", "--log", str(log)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: proc.poll() is not None or (log.exists() and log.read_text()), 60,
                   "the first JSON line")
        assert proc.poll() is None, proc.stderr.read()
        os.kill(proc.pid, signum)
        rc = proc.wait(timeout=30)
    finally:
        proc.kill()
    assert rc == 0
    tail = proc.stderr.read()
    assert f"received {signal.Signals(signum).name}" in tail
    lines = log.read_text().splitlines()
    assert lines and all(json.loads(line)["type"] for line in lines)  # every line is complete JSON


def test_an_unreadable_source_is_a_clear_error(tmp_path):
    result = subprocess.run([*RUN, "--source", str(tmp_path / "missing.mp4")], capture_output=True, text=True)
    assert result.returncode == 2
    assert "no such file, and not a camera index or URL" in result.stderr
