"""Face detectors by name. Adding one is a new module plus one entry in DETECTORS and one
options field in config.DetectorSection."""

from __future__ import annotations

import dataclasses
from typing import Any

from emotion_device.detectors.base import FaceDetector
from emotion_device.detectors.blazeface import BlazeFaceDetector, BlazeFaceOptions
from emotion_device.detectors.haar import HaarFaceDetector, HaarOptions

# name -> (detector class, its options dataclass)
DETECTORS: dict[str, tuple[type, type]] = {
    "haar": (HaarFaceDetector, HaarOptions),
    "blazeface": (BlazeFaceDetector, BlazeFaceOptions),
}


def create_detector(name: str = "haar", options: Any = None, **overrides: Any) -> FaceDetector:
    try:
        cls, options_cls = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}") from None
    options = dataclasses.replace(options or options_cls(), **overrides)
    return cls(options)


__all__ = ["DETECTORS", "FaceDetector", "create_detector"]
