"""The service unit: what the daemon and the deploy rely on, `systemd-analyze verify`, and an
offline `systemd-analyze security` exposure of at most 1.5, for the unit and the template."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

from tests.deploy.conftest import UNIT, require_tool, run, unavailable

TEMPLATE = UNIT.with_name("emotion-device@.service")
# The only lines in which the template differs from the single-camera unit (comments aside).
INSTANCE_LINES = {
    "Description=emotion-edge: facial-expression recognition from the camera":
        "Description=emotion-edge: facial-expression recognition from camera %i",
    "ExecStart=/opt/emotion-edge/venv/bin/emotion-device run --config /etc/emotion-edge/config.toml":
        "Environment=EMOTION_EDGE_INSTANCE=%i\n"
        "ExecStart=/opt/emotion-edge/venv/bin/emotion-device run --config /etc/emotion-edge/%i.toml",
    "StateDirectory=emotion-edge": "StateDirectory=emotion-edge/%i",
    "LogsDirectory=emotion-edge": "LogsDirectory=emotion-edge/%i",
}


def _settings_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]

EXEC = "/opt/emotion-edge/venv/bin/emotion-device"
MAX_EXPOSURE = 1.5  # what the single-camera unit scores with systemd 252


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


@pytest.mark.parametrize(("key", "value"), [
    ("Service.Type", "notify"),
    ("Service.ExecStart", f"{EXEC} run --config /etc/emotion-edge/config.toml"),
    ("Service.Environment", "EMOTION_EDGE_MODELS=/opt/emotion-edge/models"),
    ("Service.Restart", "on-failure"),
    ("Service.DynamicUser", "yes"),
    ("Service.SupplementaryGroups", "video"),
    ("Service.StateDirectory", "emotion-edge"),
    ("Service.LogsDirectory", "emotion-edge"),
    ("Service.LoadCredential", "mqtt-password:/etc/emotion-edge/mqtt-password"),
    ("Service.ProtectSystem", "strict"),
    ("Service.ProtectHome", "yes"),
    ("Service.NoNewPrivileges", "yes"),
    ("Service.CapabilityBoundingSet", ""),
    ("Service.RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
    ("Service.SystemCallFilter", "@system-service"),
    ("Install.WantedBy", "multi-user.target"),
])
def test_the_unit_sets(settings, key: str, value: str) -> None:
    assert value in settings[key]


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


def test_the_template_is_the_unit_but_for_the_instance_lines() -> None:
    expected = []
    for line in _settings_lines(UNIT):
        expected += INSTANCE_LINES.get(line, line).split("\n")
    assert _settings_lines(TEMPLATE) == expected


# An instance is verified and analyzed as the file systemd reads for it: emotion-device@garden.
@pytest.mark.parametrize(("source", "name"), [(UNIT, UNIT.name), (TEMPLATE, "emotion-device@garden.service")])
def test_systemd_analyze_verify(systemd_analyze, tmp_path: Path, source: Path, name: str) -> None:
    """Verified as installed: verify also checks that ExecStart exists, so it points into a fake root."""
    executable = tmp_path / EXEC.lstrip("/")
    executable.parent.mkdir(parents=True)
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    text = source.read_text()
    assert text.count(EXEC) == 1
    unit = tmp_path / name
    unit.write_text(text.replace(EXEC, str(executable)))
    result = run([systemd_analyze, "verify", unit])
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


@pytest.mark.parametrize(("source", "name"), [(UNIT, UNIT.name), (TEMPLATE, "emotion-device@garden.service")])
def test_systemd_analyze_security_exposure(systemd_analyze, tmp_path: Path, source: Path, name: str) -> None:
    unit = tmp_path / name
    unit.write_text(source.read_text())
    result = run([systemd_analyze, "security", "--offline=true", unit])
    assert result.returncode == 0, result.stderr
    match = re.search(rf"Overall exposure level for {re.escape(name)}: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    assert float(match[1]) <= MAX_EXPOSURE, result.stdout
