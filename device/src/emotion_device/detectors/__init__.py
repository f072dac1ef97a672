"""Face detectors by name. Adding one is a new module plus one entry in DETECTORS."""

from __future__ import annotations

from collections.abc import Callable

from emotion_device.detectors.base import FaceDetector
from emotion_device.detectors.haar import HaarFaceDetector, HaarOptions

DETECTORS: dict[str, Callable[..., FaceDetector]] = {
    "haar": lambda **options: HaarFaceDetector(HaarOptions(**options)),
}


def create_detector(name: str = "haar", **options) -> FaceDetector:
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}") from None
    return factory(**options)


__all__ = ["DETECTORS", "FaceDetector", "create_detector"]
