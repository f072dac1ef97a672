from __future__ import annotations

import signal
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
