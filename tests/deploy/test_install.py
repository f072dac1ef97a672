"""install.sh against a fake root (--root, --no-apt, --no-systemctl): what it installs, that a
second run changes nothing, the tflite-runtime fallback, --uninstall and clear errors.

The venv is built on the system Python with its apt numpy 1.24 (Debian bookworm, as Raspberry
Pi OS Bookworm), so these tests also install the wheel into a fresh venv with numpy < 2.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import MODELS, REPO
from tests.deploy.conftest import INSTALL_SH, SYSTEM_PYTHON, UNIT, WHEELHOUSE, run, write_face_image

FAKE_FLAGS = ["--no-apt", "--no-systemctl"]


def install(root: Path, wheel: Path, env: dict[str, str], *args: str):
    return run([INSTALL_SH, "--root", root, *FAKE_FLAGS, "--wheel", wheel, *args], env=env)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its type, mode, mtime and content hash."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content = os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = None
        state[str(path.relative_to(root))] = (info.st_mode, info.st_mtime_ns, content)
    return state


def numpy_of(venv: Path) -> tuple[str, str]:
    result = run([venv / "bin" / "python", "-c", "import numpy; print(numpy.__version__, numpy.__file__)"])
    assert result.returncode == 0, result.stderr
    version, location = result.stdout.split()
    return version, location


@pytest.fixture(scope="module")
def installed(tmp_path_factory, system_python, device_wheel, offline_env) -> Path:
    root = tmp_path_factory.mktemp("root")
    result = install(root, device_wheel, offline_env)
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_install_lays_out_venv_models_config_and_unit(installed: Path) -> None:
    venv = installed / "opt/emotion-edge/venv"
    assert "include-system-site-packages = true" in (venv / "pyvenv.cfg").read_text()
    assert os.access(venv / "bin/emotion-device", os.X_OK)
    assert os.access(installed / "opt/emotion-edge/install.sh", os.X_OK)  # for --uninstall
    for model in (*MODELS.glob("*.tflite"), *MODELS.glob("*.json")):
        assert (installed / "opt/emotion-edge/models" / model.name).read_bytes() == model.read_bytes()
    config = installed / "etc/emotion-edge/config.toml"
    assert config.read_text() == (REPO / "device/config.example.toml").read_text()
    assert config.stat().st_mode & 0o777 == 0o644  # readable by the service's dynamic user
    password = installed / "etc/emotion-edge/mqtt-password"
    assert password.stat().st_mode & 0o777 == 0o600 and password.read_text() == ""
    assert (installed / "etc/systemd/system/emotion-device.service").read_text() == UNIT.read_text()


def test_the_venv_uses_the_systems_numpy_1_and_classifies(installed: Path, tmp_path: Path) -> None:
    venv = installed / "opt/emotion-edge/venv"
    system_numpy = run([SYSTEM_PYTHON, "-c", "import numpy; print(numpy.__version__)"]).stdout.strip()
    version, location = numpy_of(venv)
    assert version == system_numpy and not location.startswith(str(venv))
    assert int(version.split(".")[0]) < 2  # Debian bookworm: 1.24, as Raspberry Pi OS Bookworm
    photo = write_face_image(tmp_path / "photos")
    env = {**os.environ, "EMOTION_EDGE_MODELS": str(installed / "opt/emotion-edge/models")}
    result = run([venv / "bin/emotion-device", "classify", photo], env=env)
    assert result.returncode == 0, result.stderr
    faces = [json.loads(line) for line in result.stdout.splitlines()]
    assert faces and all(face["label"] in face["scores"] for face in faces)
    assert "on ai-edge-litert" in result.stderr


def test_a_second_run_changes_nothing_and_keeps_an_edited_config(
        installed, device_wheel, offline_env) -> None:
    config = installed / "etc/emotion-edge/config.toml"
    config.write_text(config.read_text().replace("threads = 1", "threads = 2", 1))
    (installed / "etc/emotion-edge/mqtt-password").write_text("s3cret\n")
    before = snapshot(installed)
    result = install(installed, device_wheel, offline_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert snapshot(installed) == before
    assert "is already installed" in result.stdout
    assert "keeping the existing" in result.stdout
    assert "threads = 2" in config.read_text()


def test_a_second_camera_gets_the_template_unit_and_its_own_config(
        installed, device_wheel, offline_env, tmp_path) -> None:
    root = tmp_path / "root"
    shutil.copytree(installed, root, symlinks=True)
    single = snapshot(root)
    result = install(root, device_wheel, offline_env, "--camera", "garden")
    assert result.returncode == 0, result.stdout + result.stderr
    etc = root / "etc/emotion-edge"
    template = root / "etc/systemd/system/emotion-device@.service"
    assert template.read_text() == UNIT.with_name("emotion-device@.service").read_text()
    assert (etc / "garden.toml").is_file() and "garden.toml" in result.stdout
    changed = {path for path, value in snapshot(root).items()
               if single.get(path) != value and value[2] is not None}  # files, not their folders
    assert changed == {"etc/emotion-edge/garden.toml", "etc/systemd/system/emotion-device@.service"}
    again = install(root, device_wheel, offline_env, "--camera", "garden")
    assert again.returncode == 0 and "keeping the existing" in again.stdout  # idempotent

    bad = install(root, device_wheel, offline_env, "--camera", "../etc")
    assert bad.returncode != 0 and "letters, digits" in bad.stderr
    gone = run([INSTALL_SH, "--root", root, "--no-systemctl", "--uninstall", "--purge", "--camera", "garden"])
    assert gone.returncode == 0, gone.stderr
    assert not (etc / "garden.toml").exists() and (etc / "config.toml").exists()  # only that camera
    assert (root / "opt/emotion-edge/venv").is_dir()


def test_uninstall_keeps_the_config_and_purge_removes_it(installed: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(installed, root, symlinks=True)
    state = root / "var/lib/private/emotion-edge/spool"  # where DynamicUser keeps StateDirectory
    state.mkdir(parents=True)
    result = run([root / "opt/emotion-edge/install.sh", "--uninstall", "--root", root, "--no-systemctl"])
    assert result.returncode == 0, result.stderr
    assert not (root / "opt/emotion-edge").exists()
    assert not (root / "etc/systemd/system/emotion-device.service").exists()
    assert (root / "etc/emotion-edge/config.toml").exists() and state.exists()

    result = run([INSTALL_SH, "--uninstall", "--purge", "--root", root, "--no-systemctl"])
    assert result.returncode == 0, result.stderr
    assert not (root / "etc/emotion-edge").exists() and not state.parent.exists()


def test_tflite_runtime_is_the_fallback_where_ai_edge_litert_cannot_install(
        tmp_path, system_python, device_wheel, offline_env) -> None:
    if run([system_python, "-c", "import sys; assert sys.version_info[:2] == (3, 11)"]).returncode:
        pytest.skip("the tflite-runtime fallback is for Python 3.11")
    wheels = tmp_path / "wheels"  # the wheelhouse without ai-edge-litert
    wheels.mkdir()
    for wheel in WHEELHOUSE.glob("*.whl"):
        if not wheel.name.startswith("ai_edge_litert"):
            (wheels / wheel.name).symlink_to(wheel)
    root = tmp_path / "root"
    result = install(root, device_wheel, {**offline_env, "PIP_FIND_LINKS": str(wheels)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "falling back to tflite-runtime" in result.stdout
    photo = write_face_image(tmp_path / "photos")
    env = {**os.environ, "EMOTION_EDGE_MODELS": str(root / "opt/emotion-edge/models")}
    result = run([root / "opt/emotion-edge/venv/bin/emotion-device", "classify", photo], env=env)
    assert result.returncode == 0, result.stderr
    assert "on tflite-runtime" in result.stderr


@pytest.fixture
def python_without_numpy(tmp_path: Path, system_python: Path) -> Path:
    """The system Python without its site-packages: venv works, numpy is missing."""
    wrapper = tmp_path / "python3"
    wrapper.write_text(f'#!/bin/sh\nexec {system_python} -S "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_missing_prerequisites_are_clear_errors(tmp_path, device_wheel, python_without_numpy) -> None:
    root = tmp_path / "root"
    cases = [
        (["--python", tmp_path / "missing"], "not found: install python3"),
        (["--python", python_without_numpy], "cannot import numpy: apt install python3-numpy"),
        (["--models", tmp_path], "no .tflite model in"),
        (["--wheel", tmp_path / "missing.whl"], "does not exist"),
    ]
    for args, message in cases:
        result = run([INSTALL_SH, "--root", root, *FAKE_FLAGS, "--wheel", device_wheel, *args])
        assert result.returncode == 1 and message in result.stderr, (args, result.stderr)
    result = run([INSTALL_SH, "--root", root, "--no-systemctl", "--wheel", device_wheel])
    assert result.returncode == 1 and "add --no-apt" in result.stderr
    assert not (root / "opt").exists()  # nothing was installed by a failing run
