"""Reading images from disk with errors that say which file and why."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})


class ImageReadError(ValueError):
    """A file could not be decoded as an image."""


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
