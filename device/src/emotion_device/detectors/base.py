"""The small interface every face detector implements, so detectors are chosen by name."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from emotion_device.face import Detection


class FaceDetector(Protocol):
    name: str

    def detect(self, gray: np.ndarray) -> list[Detection]:
        """Find faces in a 2-D uint8 grayscale frame; boxes are in that frame's pixels."""
        ...
