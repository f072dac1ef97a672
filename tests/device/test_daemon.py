"""The daemon loop with real detector, model and photos: tracking, smoothing, sources, systemd."""

import json
import socket
import subprocess
import sys

import pytest

from emotion_device.assemble import build_daemon, build_pipeline
from emotion_device.config import parse_config
from emotion_device.daemon import Daemon, LoopOptions
from emotion_device.face_tracks import FaceTracks
from emotion_device.images import read_image
from emotion_device.sinks import JsonLinesSink
from emotion_device.sources import ResilientSource
from emotion_device.sources.base import Frame
from tests.conftest import MODELS
from tests.device import fake_picamera2


def _config(tmp_path, **sections):
    data = {"model": {"name": str(MODELS / "emotion5.tflite")},
            "output": {"jsonl": str(tmp_path / "faces.jsonl"), "publish_interval": 0.0}}
    for key, value in sections.items():
        data.setdefault(key, {}).update(value)
    return parse_config(data)


def _records(tmp_path, kind):
    lines = (tmp_path / "faces.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["type"] == kind]


@pytest.fixture
def picamera2(monkeypatch, face_photos):
    fake_picamera2.Picamera2.photos = [read_image(face_photos[0])]
    fake_picamera2.instances.clear()
    monkeypatch.setitem(sys.modules, "picamera2", fake_picamera2)
    return fake_picamera2


def test_picamera2_detects_on_lores_and_tracks_one_face_across_frames(tmp_path, picamera2):
    config = _config(tmp_path, source={"uri": "picamera2", "width": 1280, "height": 720},
                     detector={"every_n": 3})
    build_daemon(config, max_frames=9).run()
    faces = _records(tmp_path, "face")
    assert len(faces) == 9
    assert {f["face_id"] for f in faces} == {1}  # one person, one identity
    x, y, w, h = faces[0]["box"]
    assert w > 100 and x + w <= 1280 and y + h <= 720  # box in main-stream pixels
    assert all(f["smoothed_label"] in f["scores"] for f in faces)
    camera = picamera2.instances[0]
    assert len(picamera2.instances) == 1 and camera.closed
    assert camera.config["lores"]["size"] == (320, 180)  # the main stream's 16:9


def test_missing_picamera2_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "picamera2", None)
    with pytest.raises(Exception, match="apt install python3-picamera2"):
        build_daemon(_config(tmp_path, source={"uri": "picamera2"}))


class FlakyCamera:
    """A live source that fails after `good` frames and refuses `refusals` reopens."""

    live = True
    name = "flaky"

    def __init__(self, image, good: int, refusals: int) -> None:
        self.image, self.good, self.refusals = image, good, refusals
        self.index = 0
        self.reopens = 0

    def read(self):
        if self.index >= self.good:
            raise OSError("camera unplugged")
        self.index += 1
        return Frame(self.image, self.index, 0.0, self.name)

    def reopen(self):
        self.reopens += 1
        if self.reopens <= self.refusals:
            raise OSError("no such device")
        self.good += 3  # plugged back in

    def close(self):
        pass


def test_a_camera_that_disappears_is_reopened_and_the_run_goes_on(tmp_path, face_photos):
    pipeline = build_pipeline(_config(tmp_path))
    camera = FlakyCamera(read_image(face_photos[0]), good=2, refusals=2)
    source = ResilientSource(camera, max_delay=0.02, min_delay=0.01)
    daemon = Daemon(source, pipeline, FaceTracks(pipeline.labels, publish_interval=0.0),
                    [JsonLinesSink(tmp_path / "faces.jsonl")], LoopOptions(max_frames=5))
    daemon.run()
    assert daemon.stats.frames == 5 and camera.reopens == 3
    stats = _records(tmp_path, "stats")[-1]
    assert stats["source_failures"] == 3 and stats["source"] == "ok"
    assert len(_records(tmp_path, "face")) == 5


def test_state_reports_faces_in_view_and_the_dominant_expression(tmp_path, face_photos):
    config = _config(tmp_path, source={"uri": str(face_photos[0])})
    build_daemon(config).run()
    (state,) = _records(tmp_path, "state")
    face = _records(tmp_path, "face")[0]
    assert state["faces"] == 1 and state["dominant"] == face["smoothed_label"]


def test_publish_interval_limits_messages_per_face(tmp_path, picamera2):
    config = _config(tmp_path, source={"uri": "picamera2"}, output={"publish_interval": 3600.0})
    build_daemon(config, max_frames=6).run()
    assert len(_records(tmp_path, "face")) == 1


def test_sd_notify_sees_ready_watchdog_status_and_stopping(tmp_path, monkeypatch, face_photos):
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "PATH": "/usr/bin:/bin"}
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(face_photos[0].read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "emotion_device.cli", "run", "--source", str(folder), "--loop",
         "--max-frames", "4", "--model", str(MODELS / "emotion5.tflite")],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    messages = []
    server.settimeout(0.5)
    try:
        while True:
            messages.append(server.recv(512).decode())
    except TimeoutError:
        pass
    joined = "\n".join(messages)
    assert messages[0].startswith("READY=1")
    assert "WATCHDOG=1" in joined and "STATUS=" in joined
    assert "STOPPING=1" in messages


def test_a_default_run_writes_no_image_file(tmp_path, face_photos, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, source={"uri": str(face_photos[0]), "loop": True})
    build_daemon(config, max_frames=3).run()
    written = [p for p in tmp_path.rglob("*") if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"}]
    assert written == []


def test_debug_snapshots_write_crops_only_when_enabled(tmp_path, face_photos):
    config = _config(tmp_path, source={"uri": str(face_photos[0])},
                     privacy={"debug_snapshots": True, "snapshot_dir": str(tmp_path / "snaps")})
    build_daemon(config).run()
    crops = list((tmp_path / "snaps").glob("*.png"))
    assert len(crops) == 1 and read_image(crops[0]).shape[:2] == (48, 48)


def test_check_config_cli(tmp_path):
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text('[source]\nuri = "picamera2"\n')
    bad.write_text("[detector]\nname = \"yolo\"\n")
    run = [sys.executable, "-m", "emotion_device.cli", "check-config"]
    ok = subprocess.run([*run, str(good)], capture_output=True, text=True)
    assert ok.returncode == 0 and "OK" in ok.stdout
    fail = subprocess.run([*run, str(bad)], capture_output=True, text=True)
    assert fail.returncode == 2
    assert "'detector.name' must be one of 'haar', 'blazeface', got 'yolo'" in fail.stderr
