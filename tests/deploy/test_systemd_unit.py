"""The service unit: the daemon run the way the unit runs it (its command, environment, state
folder and credential), `systemd-analyze verify`, and an offline `systemd-analyze security`
exposure of at most 2.5."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy.conftest import UNIT, require_tool, run, unavailable, write_face_image

EXEC = "/opt/emotion-edge/venv/bin/emotion-device"
MAX_EXPOSURE = 2.5


def unit_settings(text: str) -> dict[str, list[str]]:
    """`Section.Key` -> every value it is given, in order."""
    settings: dict[str, list[str]] = defaultdict(list)
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
        elif line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[f"{section}.{key}"].append(value)
    return settings


@pytest.fixture(scope="module")
def settings() -> dict[str, list[str]]:
    return unit_settings(UNIT.read_text())


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    path = require_tool("systemd-analyze", "apt install systemd")
    version = run([path, "--version"]).stdout.split()[1]
    if int(version) < 252:
        unavailable(f"systemd-analyze {version} cannot analyze a unit file offline (needs 252)")
    return path


def service_environment(settings: dict[str, list[str]], root: Path) -> dict[str, str]:
    """What systemd hands the service, from the unit's own settings, moved under `root`:
    Environment=, $STATE_DIRECTORY (StateDirectory=), $LOGS_DIRECTORY (LogsDirectory=) and
    $CREDENTIALS_DIRECTORY with each LoadCredential= copied in."""
    env = {}
    for assignment in settings["Service.Environment"]:
        key, _, value = assignment.partition("=")
        env[key] = str(root / value.lstrip("/")) if value.startswith("/") else value
    for setting, variable, base in (("StateDirectory", "STATE_DIRECTORY", "var/lib"),
                                    ("LogsDirectory", "LOGS_DIRECTORY", "var/log")):
        (folder,) = settings[f"Service.{setting}"]
        env[variable] = str(root / base / folder)
        (root / base / folder).mkdir(parents=True)
    credentials = root / "run/credentials" / UNIT.name
    credentials.mkdir(parents=True)
    for credential in settings["Service.LoadCredential"]:
        name, _, source = credential.partition(":")
        shutil.copy(root / source.lstrip("/"), credentials / name)
    env["CREDENTIALS_DIRECTORY"] = str(credentials)
    return env


def test_the_daemon_runs_with_what_the_unit_gives_it(settings, tmp_path: Path) -> None:
    """ExecStart's command, in the unit's environment (models, state folder, credential), on
    the config the unit names: the daemon finds the model, keeps its MQTT spool under
    $STATE_DIRECTORY without being told where, logs under $LOGS_DIRECTORY and reads the
    password from the credential. It runs as a real process against a real Mosquitto."""
    from tests.device.mosquitto import Broker, Subscriber, make_password_file

    root = tmp_path / "root"
    (models := root / "opt/emotion-edge/models").parent.mkdir(parents=True)
    models.symlink_to(REPO / "models")
    (root / "etc/emotion-edge").mkdir(parents=True)
    (root / "etc/emotion-edge/mqtt-password").write_text("s3cret\n")
    env = {**os.environ, **service_environment(settings, root)}
    broker = Broker(tmp_path / "broker", password_file=make_password_file(tmp_path, {"pi": "s3cret"}))
    broker.start()
    try:
        photo = write_face_image(tmp_path / "photos")
        command = settings["Service.ExecStart"][0].split()
        assert command[0] == EXEC
        config = root / command[command.index("--config") + 1].lstrip("/")
        config.write_text(f"""
[device]
id = "unit"
[source]
uri = "{photo}"
[output]
jsonl = "{env['LOGS_DIRECTORY']}/faces.jsonl"
[mqtt]
host = "127.0.0.1"
port = {broker.port}
username = "pi"
password_file = "{env['CREDENTIALS_DIRECTORY']}/mqtt-password"
""")
        reader = Subscriber(broker.port, ["emotion-edge/unit/face"], persistent=True, auth=("pi", "s3cret"))
        arguments = [a.replace("/etc/", f"{root}/etc/") for a in command[1:]]
        result = run([sys.executable, "-m", "emotion_device.cli", *arguments], env=env)
        assert result.returncode == 0, result.stderr
        reader.wait_for(lambda m: m, 30, "a face over MQTT with the credential's password")
        reader.close()
    finally:
        broker.stop()
    assert (Path(env["STATE_DIRECTORY"]) / "spool" / "cursor.json").exists()
    assert (Path(env["LOGS_DIRECTORY"]) / "faces.jsonl").read_text().count('"type":"face"') == 1


def test_the_unit_restarts_a_stalled_or_crashed_daemon_but_not_forever(settings) -> None:
    assert int(settings["Service.WatchdogSec"][0]) > 0
    assert int(settings["Unit.StartLimitBurst"][0]) > 1
    assert int(settings["Unit.StartLimitIntervalSec"][0]) > 0
    assert settings["Service.MemoryMax"]


def test_the_camera_stays_reachable(settings) -> None:
    assert settings["Service.PrivateDevices"] in ([], ["no"])  # PrivateDevices=yes hides /dev/video*
    if settings["Service.DevicePolicy"]:
        allowed = " ".join(settings["Service.DeviceAllow"])
        for device in ("char-video4linux", "char-media", "char-dma_heap"):
            assert f"{device} rw" in allowed


def test_systemd_analyze_verify(systemd_analyze, tmp_path: Path) -> None:
    """Verified as installed: verify also checks that ExecStart exists, so it points into a fake root."""
    executable = tmp_path / EXEC.lstrip("/")
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(EXEC) == 1
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace(EXEC, str(executable)))
    result = run([systemd_analyze, "verify", unit])
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_systemd_analyze_security_exposure(systemd_analyze) -> None:
    result = run([systemd_analyze, "security", "--offline=true", UNIT])
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for emotion-device\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    assert float(match[1]) <= MAX_EXPOSURE, result.stdout
