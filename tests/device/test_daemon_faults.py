"""The daemon's own fault handling with the real pipeline: a sink that raises does not take
the others down, shutdown closes everything even when one close raises, and a start that
fails half-way (the MQTT spool folder unusable) leaks neither the camera nor the log file."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from emotion_device.assemble import build_daemon
from emotion_device.config import parse_config
from emotion_device.errors import UserError
from emotion_device.images import read_image
from tests.conftest import MODELS
from tests.device import fake_picamera2


class BrokenSink:
    """A sink with a bug: every call raises. (The fault injected; everything else is real.)"""

    def __init__(self) -> None:
        self.calls = 0

    def _fail(self, *_args: object) -> None:
        self.calls += 1
        raise RuntimeError("bug in a sink")

    write = write_state = write_stats = reopen = flush = close = _fail


def _config(tmp_path: Path, **sections: dict) -> object:
    data: dict = {"model": {"name": str(MODELS / "emotion5.tflite")},
                  "output": {"jsonl": str(tmp_path / "faces.jsonl"), "publish_interval": 0.0}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return parse_config(data)


def _open_paths() -> set[str]:
    paths = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            paths.add(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            continue
    return paths


def test_a_raising_sink_is_counted_and_the_others_get_every_record(tmp_path, face_photos, caplog):
    daemon = build_daemon(_config(tmp_path, source={"uri": str(face_photos[0]), "loop": True}), max_frames=6)
    broken = BrokenSink()
    daemon.sinks.insert(0, broken)  # first, so a raise would keep the records from the log
    stats = daemon.run()

    records = [json.loads(line) for line in (tmp_path / "faces.jsonl").read_text().splitlines()]
    faces = [r for r in records if r["type"] == "face"]
    assert len(faces) == stats.faces == 6  # one face per frame, all of them in the log
    assert records[-1]["type"] == "stats"  # the final stats were written, so the log was closed last
    # The final record counts every failure before it: all but its own write_stats and close().
    assert records[-1]["sink_errors"] == {"BrokenSink": broken.calls - 2}
    assert stats.sink_errors == {"BrokenSink": broken.calls}
    logged = [r for r in caplog.records if "BrokenSink.write failed" in r.getMessage()]
    assert len(logged) == 1  # once, not once per face


def test_shutdown_closes_the_source_and_the_log_even_when_a_sink_close_raises(tmp_path, monkeypatch,
                                                                                 face_photos):
    fake_picamera2.Picamera2.photos = [read_image(face_photos[0])]
    fake_picamera2.instances.clear()
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2)
    daemon = build_daemon(_config(tmp_path, source={"uri": "picamera2"}), max_frames=2)
    daemon.sinks.append(BrokenSink())
    daemon.run()
    assert fake_picamera2.instances[0].closed
    assert str(tmp_path / "faces.jsonl") not in _open_paths()


def test_a_start_that_fails_at_the_mqtt_spool_closes_the_camera_and_the_log(tmp_path, monkeypatch,
                                                                            face_photos):
    fake_picamera2.Picamera2.photos = [read_image(face_photos[0])]
    fake_picamera2.instances.clear()
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2)
    config = _config(tmp_path, source={"uri": "picamera2"},
                     mqtt={"host": "127.0.0.1", "spool_dir": "/proc/emotion-edge/spool"})
    with pytest.raises(UserError, match=r"mqtt\.spool_dir /proc/emotion-edge/spool is not usable"):
        build_daemon(config)
    assert len(fake_picamera2.instances) == 1 and fake_picamera2.instances[0].closed
    assert str(tmp_path / "faces.jsonl") not in _open_paths()


def test_face_events_reach_a_sink_after_one_before_it_failed(tmp_path, face_photos):
    """The same guard holds for a sink's stats(): a raising one does not stop the stats record."""
    daemon = build_daemon(_config(tmp_path, source={"uri": str(face_photos[0])}), max_frames=1)

    class StatsBroken(BrokenSink):
        def stats(self) -> dict:
            raise RuntimeError("bug in stats")

    daemon.sinks.insert(0, StatsBroken())
    daemon.run()
    kinds = [json.loads(line)["type"] for line in (tmp_path / "faces.jsonl").read_text().splitlines()]
    assert kinds.count("face") == 1 and kinds[-1] == "stats"
