"""Two cameras on one host, as the template unit runs them (emotion-device@<name>: its
instance name and its own StateDirectory in the environment): two daemons side by side with
OpenCV sources, one real Mosquitto, each with its own device id, spool, topics and log."""

import json
import os
import signal
import socket
import subprocess
import sys

from tests.conftest import MODELS
from tests.device.clips import write_clip
from tests.device.mosquitto import Subscriber


def _instance(tmp_path, name, clip, port):
    config = tmp_path / f"{name}.toml"
    config.write_text(f"""
[source]
uri = "{clip}"
loop = true
max_fps = 10
[model]
name = "{MODELS / 'emotion5.tflite'}"
[output]
jsonl = "{tmp_path / 'log' / name / 'faces.jsonl'}"
publish_interval = 0.0
summary_interval = 1.0
[mqtt]
host = "127.0.0.1"
port = {port}
expire_after = 60
""")
    env = {**os.environ, "EMOTION_EDGE_INSTANCE": name, "STATE_DIRECTORY": str(tmp_path / "state" / name)}
    return subprocess.Popen([sys.executable, "-m", "emotion_device.cli", "run", "--config", str(config)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def test_two_instances_side_by_side(tmp_path, broker, face_photos):
    host = socket.gethostname().split(".")[0]
    clips = {name: write_clip(tmp_path / f"{name}.avi", [(photo, 20)], fps=10)
             for name, photo in (("hall", face_photos[0]), ("garden", face_photos[-1]))}
    ids = {name: f"{host}-{name}" for name in clips}
    subscriber = Subscriber(broker.port, [f"emotion-edge/{device}/face" for device in ids.values()])
    daemons = [_instance(tmp_path, name, clip, broker.port) for name, clip in clips.items()]
    try:
        subscriber.wait_for(lambda m: all(sum(x.topic == f"emotion-edge/{i}/face" for x in m) >= 5
                                          for i in ids.values()), 90, "faces from both cameras")
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        codes = [daemon.wait(30) for daemon in daemons]
        subscriber.close()
    assert codes == [0, 0], [d.stderr.read() for d in daemons]
    for name, device in ids.items():
        faces = [m.json() for m in subscriber.on(f"emotion-edge/{device}/face")]
        assert {f["device_id"] for f in faces} == {device}
        assert [f["seq"] for f in faces][:5] == [1, 2, 3, 4, 5]  # each its own counter
        assert {f["source"] for f in faces} == {str(clips[name])}
        assert (tmp_path / "state" / name / "spool" / "cursor.json").is_file()  # its own spool
        lines = (tmp_path / "log" / name / "faces.jsonl").read_text().splitlines()
        log = [json.loads(line) for line in lines]
        assert {r["device_id"] for r in log} == {device}
