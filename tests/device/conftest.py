from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import SHARED, in_ci, require
from tests.device.mosquitto import Broker


@pytest.fixture(scope="session")
def face_photos(tmp_path_factory) -> list[Path]:
    """Real single-face photos: ../shared/demo under CI (or when present), else skimage's astronaut."""
    demo = SHARED / "demo"
    if demo.exists() or in_ci():
        require(demo, "demo photos")
        return [demo / name for name in ("angry.jpg", "neutral.jpeg", "happy-baby.jpeg", "sad-baby.jpeg")]
    skimage_data = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    cv2.imwrite(str(path), skimage_data.astronaut()[:, :, ::-1])
    return [path]


@pytest.fixture(scope="session")
def group_photo() -> Path:
    return require(SHARED / "demo" / "group.jpeg", "group photo (../shared/demo/group.jpeg)")


@pytest.fixture(scope="session")
def faceless_photo(tmp_path_factory) -> Path:
    """A real photograph with no face in it: skimage's coffee cup."""
    skimage_data = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("photos") / "coffee.png"
    cv2.imwrite(str(path), np.ascontiguousarray(skimage_data.coffee()[:, :, ::-1]))
    return path


@pytest.fixture
def broker(tmp_path):
    """A real Mosquitto on a free 127.0.0.1 port, with its own config file."""
    server = Broker(tmp_path / "broker").start()
    yield server
    server.stop(signal.SIGKILL)


class SmallDisk:
    """A real tmpfs of a few hundred KiB, to fill up and free again (needs root to mount)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> None:
        """Take every free block, so the next write that needs one fails with ENOSPC."""
        with open(self.filler, "ab", buffering=0) as handle:
            for size in (65536, 4096, 512, 1):
                try:
                    while True:
                        handle.write(b"\0" * size)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0 or not shutil.which("mount"):
        message = "mounting a tmpfs needs root"
        if in_ci():
            pytest.fail(f"{message}; required when CI=true")
        pytest.skip(message)
    path = tmp_path / "disk"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(path)],
                   check=True, capture_output=True, timeout=30)
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True, timeout=30)
