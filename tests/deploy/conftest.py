"""Fixtures for the deploy tests: the tools they need, an offline pip and the device wheel.

The install tests run the real install.sh against a fake root, on this machine's system
Python with its apt numpy, as on Raspberry Pi OS. pip never reaches the network: it installs
from the wheelhouse that `make test-deploy` downloads once (tests/deploy/make_wheelhouse.sh).
A missing tool or wheelhouse skips with the reason, and fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, in_ci, require

DEPLOY = REPO / "device" / "deploy"
INSTALL_SH = DEPLOY / "install.sh"
DEPLOY_SH = DEPLOY / "deploy.sh"
UNIT = REPO / "systemd" / "emotion-device.service"
WHEELHOUSE = Path(os.environ.get("EMOTION_DEPLOY_WHEELS", REPO / ".cache" / "deploy-wheels"))
SYSTEM_PYTHON = Path("/usr/bin/python3")


def unavailable(message: str) -> None:
    """Skip, or fail under CI where a skipped deploy test would hide a broken setup."""
    if in_ci():
        pytest.fail(f"{message} (required when CI=true)")
    pytest.skip(message)


def require_tool(name: str, how: str) -> str:
    path = shutil.which(name)
    if path is None:
        unavailable(f"{name} not found ({how})")
    return path


def run(cmd: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="session")
def system_python() -> Path:
    """The Python install.sh builds its venv on: it needs venv and numpy from apt."""
    if not SYSTEM_PYTHON.exists() or run([SYSTEM_PYTHON, "-c", "import ensurepip, numpy, venv"]).returncode:
        unavailable(f"{SYSTEM_PYTHON} with numpy and venv (apt install python3-numpy python3-venv)")
    return SYSTEM_PYTHON


@pytest.fixture(scope="session")
def offline_env() -> dict[str, str]:
    """The environment for install.sh and deploy.sh: pip reads only the wheelhouse."""
    require(WHEELHOUSE, "wheelhouse for the offline install (make test-deploy downloads it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


@pytest.fixture(scope="session")
def device_wheel(tmp_path_factory, offline_env) -> Path:
    """The device wheel, built offline from a clean copy of device/."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "device"
    shutil.copytree(REPO / "device", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    result = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", tmp / "dist", source],
                 env=offline_env)
    assert result.returncode == 0, result.stderr
    (wheel,) = (tmp / "dist").glob("emotion_device-*.whl")
    return wheel


def write_face_image(folder: Path) -> Path:
    """A real photo with a face in it: ../shared/demo's, else skimage's astronaut."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    demo = REPO.parent / "shared" / "demo" / "neutral.jpeg"
    if demo.exists():
        return Path(shutil.copy(demo, folder))
    skimage_data = pytest.importorskip("skimage.data")
    path = folder / "astronaut.png"
    cv2.imwrite(str(path), skimage_data.astronaut()[:, :, ::-1])
    return path
