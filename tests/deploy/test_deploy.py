"""deploy.sh against a fake target: ssh, scp, sudo and systemctl are stand-ins
(tests/deploy/fake_target) that run the "Pi" side on this machine, under a fake root."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY_SH, run, unavailable, write_face_image
from tests.device.mosquitto import Broker, make_password_file

FAKES = Path(__file__).parent / "fake_target"
TARGET = "pi@raspberrypi"
CHECKS = ("platform", "model", "interpreter", "source", "detector")
OPTIONAL_CHECKS = ("broker",)


class FakeTarget:
    def __init__(self, tmp: Path, offline_env: dict[str, str]) -> None:
        self.root = tmp / "pi-root"
        self.config = self.root / "etc/emotion-edge/config.toml"
        self.log = tmp / "target.log"
        self.remote_tmp = tmp / "pi-tmp"
        self.remote_tmp.mkdir()
        self.dist = tmp / "dist"
        self.env = {**offline_env, "SSH": f"{FAKES / 'ssh'} -o BatchMode=yes", "SCP": str(FAKES / "scp"),
                    "PYTHON": sys.executable, "DIST": str(self.dist), "FAKE_TARGET_LOG": str(self.log),
                    "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(self.remote_tmp)}

    def deploy(self, *args: str | Path):
        return run([DEPLOY_SH, "--no-apt", "--root", self.root, *args, TARGET], env=self.env)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines()

    @contextmanager
    def config_text(self, text: str) -> Iterator[None]:
        original = self.config.read_text()
        self.config.write_text(text)
        try:
            yield
        finally:
            self.config.write_text(original)


def doctor_rows(stdout: str) -> dict[str, str]:
    rows = {}
    for line in stdout.splitlines():
        parts = line.split(maxsplit=2)
        if len(parts) >= 2 and parts[0] in CHECKS + OPTIONAL_CHECKS:
            rows[parts[0]] = parts[1]
    return rows


@pytest.fixture(scope="module")
def target(tmp_path_factory, system_python, offline_env) -> FakeTarget:
    if os.geteuid() != 0:  # the fake sudo runs install.sh as root, as the real one does
        unavailable("the deploy tests run install.sh through sudo as root: run them as root")
    return FakeTarget(tmp_path_factory.mktemp("deploy"), offline_env)


@pytest.fixture(scope="module")
def first_config(tmp_path_factory) -> Path:
    """The Pi's first config: its camera is a folder of photos."""
    tmp = tmp_path_factory.mktemp("config")
    config = tmp / "pi.toml"
    config.write_text(f'[source]\nuri = "{write_face_image(tmp / "photos").parent}"\n')
    return config


@pytest.fixture(scope="module")
def first_deploy(target: FakeTarget, first_config: Path):
    return target.deploy("--config", first_config)


def test_deploy_installs_on_the_target_and_prints_the_doctor_table(
        target, first_config, first_deploy) -> None:
    assert first_deploy.returncode == 0, first_deploy.stdout + first_deploy.stderr
    assert doctor_rows(first_deploy.stdout) == dict.fromkeys(CHECKS, "PASS"), first_deploy.stdout
    assert target.config.read_text() == first_config.read_text()
    assert os.access(target.root / "opt/emotion-edge/venv/bin/emotion-device", os.X_OK)
    assert (target.root / "opt/emotion-edge/models/emotion5.tflite").exists()
    assert (target.root / "etc/systemd/system/emotion-device.service").exists()
    assert list(target.dist.glob("emotion_device-*.whl"))


def test_deploy_talks_to_the_target_over_ssh_and_cleans_up(target, first_deploy) -> None:
    calls = target.calls()
    assert {call.split()[0] for call in calls} == {"ssh", "scp", "sudo", "systemctl"}
    assert all(call.endswith(TARGET) for call in calls if call.startswith(("ssh", "scp")))
    assert f"scp -r {TARGET}" in calls  # the staged folder needs -r, which the fake scp enforces
    assert "sudo -u root bash" in calls  # install.sh (and doctor) as root
    # Into a fake root systemctl only enables the unit, offline; nothing is started.
    assert [c for c in calls if c.startswith("systemctl")] == [
        f"systemctl --root={target.root} --quiet enable emotion-device.service"]
    assert list(target.remote_tmp.iterdir()) == []  # the copied files are gone


def test_a_failing_doctor_check_fails_the_deploy(target, first_config, first_deploy) -> None:
    """The target's own config (a missing camera) is kept over --config, and doctor catches it."""
    with target.config_text(f'[source]\nuri = "{target.root / "no-such-camera.mp4"}"\n'):
        result = target.deploy("--config", first_config)
        assert "no-such-camera.mp4" in target.config.read_text()
    assert result.returncode == 1
    assert doctor_rows(result.stdout)["source"] == "FAIL", result.stdout
    assert "doctor reports a failing check" in result.stderr


def test_doctor_reads_the_mqtt_password_where_load_credential_takes_it_from(
        target, first_deploy, tmp_path) -> None:
    """The config names the service's credential; doctor, outside the service, reads its source."""
    broker = Broker(tmp_path / "broker", password_file=make_password_file(tmp_path, {"camera": "s3cret"}))
    (target.root / "etc/emotion-edge/mqtt-password").write_text("s3cret\n")
    source = target.config.read_text()
    mqtt = (f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nusername = "camera"\n'
            'password_file = "/run/credentials/emotion-device.service/mqtt-password"\n')
    broker.start()
    try:
        with target.config_text(source + mqtt):
            result = target.deploy()
    finally:
        broker.stop()
    assert result.returncode == 0, result.stdout + result.stderr
    assert doctor_rows(result.stdout).get("broker") == "PASS", result.stdout
    assert (target.root / "etc/emotion-edge/mqtt-password").read_text() == "s3cret\n"


def test_deploy_without_a_target_explains_itself() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PI"}
    result = run([DEPLOY_SH], env=env)
    assert result.returncode == 1 and "make deploy PI=user@host" in result.stderr
