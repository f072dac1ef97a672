"""Reading images from disk with errors that say which file and why."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emotion_device.errors import UserError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})


class ImageReadError(UserError, ValueError):
    """A file could not be decoded as an image."""


def letterbox(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The image fitted undistorted into a width x height black frame, as a camera of that size
    would frame the scene (benchmark clips and the picamera2 test double)."""
    width, height = size
    scale = min(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    frame = np.zeros((height, width, *image.shape[2:]), np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    frame[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return frame


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to BGR (or gray) uint8; raise ImageReadError if it is not an image."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such file")
    data = np.fromfile(path, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise ImageReadError(f"{path}: not a readable image (OpenCV could not decode it)")
    return image
