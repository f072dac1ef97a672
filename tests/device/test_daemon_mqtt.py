"""The daemon process end to end against a real Mosquitto: `emotion-device run --config`."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS
from tests.device.mosquitto import Broker, Subscriber, wait_until

DEVICE = "hall"
PREFIX = f"emotion-edge/{DEVICE}"


def write_config(tmp_path: Path, face_photos: list[Path], port: int) -> Path:
    frames = tmp_path / "frames"
    frames.mkdir(exist_ok=True)
    for i, photo in enumerate(face_photos):
        shutil.copy(photo, frames / f"{i:02d}{photo.suffix}")
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
publish_interval = 0.0
stats_interval = 1.0
summary_interval = 1.0
[mqtt]
host = "127.0.0.1"
port = {port}
keepalive = 2
reconnect_min_delay = 0.2
reconnect_max_delay = 1.0
spool_dir = "{tmp_path / 'spool'}"
expire_after = 60
""")
    return path


@pytest.fixture
def config_file(tmp_path, broker, face_photos):
    return write_config(tmp_path, face_photos, broker.port)


def _start(config_file):
    return subprocess.Popen([sys.executable, "-m", "emotion_device.cli", "run", "--config", str(config_file)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_the_daemon_publishes_faces_state_stats_discovery_and_availability(broker, config_file):
    subscriber = Subscriber(broker.port, [f"{PREFIX}/#", "homeassistant/#"])
    daemon = _start(config_file)
    try:
        subscriber.wait_for(lambda m: len([x for x in m if x.topic == f"{PREFIX}/face"]) >= 8
                            and any(x.topic == f"{PREFIX}/stats" for x in m)
                            and any(x.topic == f"{PREFIX}/summary" for x in m), 60, "faces, stats, a summary")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0, daemon.stderr.read()
        subscriber.wait_for(lambda m: any(x.payload == b"stopped" for x in m), 10, "stopped")
    finally:
        daemon.kill()
        subscriber.close()

    faces = [m.json() for m in subscriber.on(f"{PREFIX}/face")]
    for face in faces:
        assert face["schema"] == 2 and face["type"] == "face" and face["device_id"] == DEVICE
        assert face["label"] in face["scores"] and face["smoothed_label"] in face["scores"]
    # Each type counts its own seq: the spooled ones (face, stats, summary) arrive without a
    # gap from 1; the retained state only ever moves forward.
    by_topic = {kind: [m.json()["seq"] for m in subscriber.on(f"{PREFIX}/{kind}")]
                for kind in ("face", "stats", "summary", "state")}
    for kind in ("face", "stats", "summary"):
        assert by_topic[kind] == list(range(1, len(by_topic[kind]) + 1)), f"{kind} seq has no gaps"
    assert by_topic["state"] == sorted(by_topic["state"])
    runs = {m.json()["run"] for m in subscriber.messages
            if m.topic.startswith(PREFIX) and m.payload[:1] == b"{"}
    assert len(runs) == 1
    summary = subscriber.on(f"{PREFIX}/summary")[0].json()
    assert set(summary["share"]) == set(faces[0]["scores"]) and summary["interval_s"] > 0
    state = subscriber.on(f"{PREFIX}/state")[-1].json()
    assert state["faces"] >= 1 and state["dominant"] in faces[0]["scores"]
    stats = subscriber.on(f"{PREFIX}/stats")[-1].json()
    assert stats["frames"] > 0 and "mqtt" in stats and "rss_mb" in stats
    availability = [m.payload for m in subscriber.on(f"{PREFIX}/available")]
    assert availability[0] == b"online" and availability[-1] == b"stopped"
    discovery = {m.topic: m.json() for m in subscriber.messages if m.topic.startswith("homeassistant/")}
    emotion = discovery[f"homeassistant/sensor/{DEVICE}/emotion/config"]
    assert emotion["device_class"] == "enum" and emotion["options"] == [*faces[0]["scores"], "nobody"]
    share = discovery[f"homeassistant/sensor/{DEVICE}/happy_share/config"]
    assert share["state_topic"] == f"{PREFIX}/summary" and share["unit_of_measurement"] == "%"
    assert emotion["availability_topic"] == f"{PREFIX}/available"

    late = Subscriber(broker.port, [f"{PREFIX}/available", f"{PREFIX}/state"])
    try:  # retained: a subscriber that comes later still learns the state and availability
        late.wait_for(lambda m: len(m) >= 2, 10, "retained messages")
        assert {m.topic for m in late.messages if m.retain} == {f"{PREFIX}/available", f"{PREFIX}/state"}
    finally:
        late.close()


def test_kill_9_leaves_offline_as_the_last_will(broker, config_file):
    subscriber = Subscriber(broker.port, [f"{PREFIX}/available", f"{PREFIX}/face"])
    daemon = _start(config_file)
    try:
        subscriber.wait_for(lambda m: any(x.topic.endswith("/face") for x in m), 60, "the first face")
        os.kill(daemon.pid, signal.SIGKILL)
        daemon.wait(10)
        subscriber.wait_for(lambda m: m[-1].topic.endswith("/available") and m[-1].payload == b"offline"
                            if m else False, 15, "offline from the last will")
    finally:
        daemon.kill()
        subscriber.close()


def spooled_face_seqs(spool: Path) -> set[int]:
    """The seqs of the face messages stored in the spool's segments right now."""
    seqs = set()
    for segment in spool.glob("seg-*.jsonl"):
        for line in segment.read_bytes().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line being written
            if entry["topic"] == f"{PREFIX}/face":
                seqs.add(entry["seq"])
    return seqs


def test_a_broker_that_is_down_at_start_does_not_stop_the_daemon_and_gets_the_spool(tmp_path, face_photos):
    """Faces made while the broker is away wait in the spool and all arrive once it is back
    (the subscriber's session survives the outage on the broker, so any gap is the daemon's)."""
    broker = Broker(tmp_path / "durable", persistence=True).start()
    reader = Subscriber(broker.port, [f"{PREFIX}/face"], persistent=True)
    broker.stop(signal.SIGTERM)  # keeps the reader's session
    spool = tmp_path / "spool"
    daemon = _start(write_config(tmp_path, face_photos, broker.port))
    try:
        wait_until(lambda: len(spooled_face_seqs(spool)) >= 10, 60, "ten faces in the spool")
        waiting = spooled_face_seqs(spool)
        broker.start()
        reader.wait_for(lambda _: waiting <= reader.seqs, 60, f"the {len(waiting)} spooled faces")
        reader.wait_for(lambda _: reader.highest_seq > max(waiting), 60, "newer faces")
        assert daemon.poll() is None
    finally:
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(30) == 0
        daemon.kill()
        reader.close()
        broker.stop(signal.SIGKILL)


def test_doctor_checks_the_broker(broker, config_file, tmp_path):
    doctor = [sys.executable, "-m", "emotion_device.cli", "doctor", "--config", str(config_file), "--json"]
    ok = subprocess.run(doctor, capture_output=True, text=True, timeout=120)
    checks = {c["check"]: c for c in json.loads(ok.stdout)}
    assert ok.returncode == 0, ok.stdout
    assert checks["broker"]["detail"] == f"127.0.0.1:{broker.port} accepted the connection"
    broker.stop(signal.SIGTERM)
    down = subprocess.run(doctor, capture_output=True, text=True, timeout=120)
    checks = {c["check"]: c for c in json.loads(down.stdout)}
    assert down.returncode == 1 and not checks["broker"]["ok"] and checks["model"]["ok"]
