"""OpenCV's bundled Haar frontal-face cascade: no model download, fast on a Pi CPU."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emotion_device.errors import UserError
from emotion_device.face import Box, Detection
from emotion_device.options import Options, option

log = logging.getLogger(__name__)


class DetectorUnavailable(UserError, FileNotFoundError):
    """A detector's model file is not installed."""

CASCADE_FILE = "haarcascade_frontalface_default.xml"
# pip wheels ship cv2.data; Debian/Raspberry Pi OS's python3-opencv puts the cascades here.
SYSTEM_CASCADE_DIRS = ("/usr/share/opencv4/haarcascades", "/usr/share/opencv/haarcascades")


def find_cascade(filename: str = CASCADE_FILE) -> Path:
    dirs = []
    data = getattr(cv2, "data", None)
    if data is not None:
        dirs.append(data.haarcascades)
    dirs.extend(SYSTEM_CASCADE_DIRS)
    for folder in dirs:
        path = Path(folder) / filename
        if path.is_file():
            return path
    raise DetectorUnavailable(
        f"OpenCV's {filename} not found in {', '.join(map(str, dirs))}; install "
        "opencv-python-headless, or apt install opencv-data on Raspberry Pi OS")


@dataclass
class HaarOptions(Options):
    """detectMultiScale parameters; `detect_width` downscales large frames first (speed)."""

    scale_factor: float = option(1.1, gt=1)
    min_neighbors: int = option(5, ge=0)
    min_size: int = option(30, ge=0)
    detect_width: int = option(640, ge=0)  # 0: never downscale


class HaarFaceDetector:
    name = "haar"

    def __init__(self, options: HaarOptions | None = None) -> None:
        self.options = options or HaarOptions()
        path = find_cascade()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise RuntimeError(f"OpenCV could not load the Haar cascade {path}")

    def detect(self, gray: np.ndarray) -> list[Detection]:
        opts = self.options
        long_side = max(gray.shape[:2])
        factor = min(1.0, opts.detect_width / long_side) if opts.detect_width else 1.0
        small = gray if factor == 1.0 else cv2.resize(
            gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        boxes = self._cascade.detectMultiScale(
            small, scaleFactor=opts.scale_factor, minNeighbors=opts.min_neighbors,
            minSize=(opts.min_size, opts.min_size))
        return [Detection(Box(*map(int, b)).scaled(1 / factor)) for b in boxes]
