"""`emotion-device summarize` on a real log: the daemon's own summaries of a real clip, rotated."""

import csv
import importlib.util
import json
import subprocess
import sys

import pytest

from emotion_device.assemble import build_daemon
from emotion_device.config import parse_config
from tests.conftest import MODELS
from tests.device.clips import write_clip

CLI = [sys.executable, "-m", "emotion_device.cli", "summarize"]


@pytest.fixture(scope="module")
def rotated_log(tmp_path_factory, face_photos, faceless_photo):
    """150 s of media at 2 fps (a person for 60 s, nobody for 60 s, another person for 30 s),
    logged with 30 s summaries into a log small enough to rotate."""
    folder = tmp_path_factory.mktemp("summarize")
    second = face_photos[2] if len(face_photos) > 2 else face_photos[0]
    segments = [(face_photos[0], 120), (faceless_photo, 120), (second, 60)]
    clip = write_clip(folder / "room.avi", segments, fps=2)
    log = folder / "faces.jsonl"
    config = parse_config({
        "model": {"name": str(MODELS / "emotion5.tflite")},
        "source": {"uri": str(clip), "start_time": "2026-12-01T09:00:00Z"},
        "output": {"jsonl": str(log), "summary_interval": 30.0, "jsonl_max_bytes": 40_000,
                   "jsonl_backups": 5}})
    build_daemon(config).run()
    return log


def test_the_table_adds_up_every_summary_of_the_log_and_its_rotations(rotated_log, tmp_path):
    assert rotated_log.with_name("faces.jsonl.1").exists()  # the log did rotate
    result = subprocess.run([*CLI, str(rotated_log), "--json", "--csv", str(tmp_path / "t.csv")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["start_utc"] for r in rows] == ["2026-12-01 09:00", "2026-12-01 09:01", "2026-12-01 09:02"]
    assert [r["seconds"] for r in rows] == [60.0, 60.0, pytest.approx(30.0, abs=0.6)]
    first, second, last = rows
    assert first["mean_faces"] == pytest.approx(1.0, abs=0.02) and first["max_faces"] == 1
    assert second["mean_faces"] == pytest.approx(0.0, abs=0.02)  # the empty room
    assert last["mean_faces"] == pytest.approx(1.0, abs=0.05) and last["faces_seen"] == 1
    labels = [k for k in first if k.endswith("_pct")]
    assert sum(first[k] for k in labels) == pytest.approx(100, abs=0.5)
    with open(tmp_path / "t.csv", newline="") as handle:
        assert [r["start_utc"] for r in csv.DictReader(handle)] == [r["start_utc"] for r in rows]

    hourly = subprocess.run([*CLI, str(rotated_log), "--per", "hour"], capture_output=True, text=True,
                            timeout=60)
    assert hourly.returncode == 0 and "2026-12-01 09:00" in hourly.stdout
    assert len(hourly.stdout.strip().splitlines()) == 2  # the header and one hour


def test_a_log_without_summaries_or_a_missing_one_is_one_clear_line(tmp_path):
    old = tmp_path / "old.jsonl"
    old.write_text('{"type": "face", "schema": 1}\n{"torn')
    result = subprocess.run([*CLI, str(old)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no summary records" in result.stderr
    missing = subprocess.run([*CLI, str(tmp_path / "nope.jsonl")], capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "no such log file" in missing.stderr


def test_the_plot_asks_for_the_extra_in_the_lean_install(rotated_log, tmp_path):
    if importlib.util.find_spec("matplotlib") is not None:
        pytest.skip("matplotlib is installed here; test_summarize_plot covers the plot")
    result = subprocess.run([*CLI, str(rotated_log), "--plot", str(tmp_path / "t.png")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "pip install 'emotion-device[plots]'" in result.stderr
