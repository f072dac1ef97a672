"""Media time for files (real clips): records carry the stream position plus the given start,
publish_interval and max_fps count in it, and a slow machine logs exactly what a fast one does."""

import json
import time
from datetime import datetime

import pytest

from emotion_device.assemble import build_daemon
from emotion_device.config import ConfigError, parse_config
from emotion_device.pipeline import FacePipeline
from tests.conftest import MODELS
from tests.device.clips import write_clip

START = "2026-12-01T09:00:00+01:00"


@pytest.fixture(scope="module")
def clip(tmp_path_factory, face_photos, faceless_photo):
    second = face_photos[2] if len(face_photos) > 2 else face_photos[0]
    path = tmp_path_factory.mktemp("clips") / "room.avi"  # 10 fps: 3 s of one person, 1 s empty, 2 s another
    return write_clip(path, [(face_photos[0], 30), (faceless_photo, 10), (second, 20)], fps=10)


def _run(tmp_path, clip, name, **sections):
    data = {"model": {"name": str(MODELS / "emotion5.tflite")},
            "source": {"uri": str(clip), "start_time": START},
            "output": {"jsonl": str(tmp_path / name), "publish_interval": 1.0}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    daemon = build_daemon(parse_config(data))
    daemon.run()
    records = [json.loads(line) for line in (tmp_path / name).read_text().splitlines()]
    return records, daemon.stats


def test_records_carry_the_start_time_plus_the_stream_position(tmp_path, clip):
    records, _ = _run(tmp_path, clip, "faces.jsonl", detector={"every_n": 1})
    start = datetime.fromisoformat(START).timestamp()
    faces = [r for r in records if r["type"] == "face"]
    assert faces and all(r["ts"] == pytest.approx(start + r["frame"] / 10, abs=1e-3) for r in faces)
    # publish_interval 1 s of media time: one record per second per face, whatever the speed
    first_person = [r["frame"] for r in faces if r["frame"] < 30]
    assert first_person == [0, 10, 20]


def test_a_slow_machine_logs_the_same_faces_as_a_fast_one(tmp_path, clip, monkeypatch):
    options = {"detector": {"every_n": 3}, "source": {"max_fps": 5.0}}
    fast, fast_stats = _run(tmp_path, clip, "fast.jsonl", **options)
    classify = FacePipeline.classify_crops

    def slow(self, faces):
        time.sleep(0.03)  # a machine several times slower than this one
        return classify(self, faces)

    monkeypatch.setattr(FacePipeline, "classify_crops", slow)
    slow_records, slow_stats = _run(tmp_path, clip, "slow.jsonl", **options)
    def logged(records):  # everything but the run's own start time
        return [{k: v for k, v in r.items() if k != "run"} for r in records
                if r["type"] in ("face", "state", "summary")]

    faces = logged(fast)
    assert faces == logged(slow_records)
    assert {r["face_id"] for r in faces if r["type"] == "face"} == {1, 2}  # both people logged
    # max_fps 5 on a 10 fps file: every other frame, chosen by media time; none dropped
    assert fast_stats.frames == slow_stats.frames == 30
    assert fast_stats.skipped_frames == 30 and fast_stats.dropped_frames == slow_stats.dropped_frames == 0


def test_a_bad_start_time_is_a_config_error():
    with pytest.raises(ConfigError, match=r"source\.start_time"):
        parse_config({"source": {"start_time": "yesterday"}})
