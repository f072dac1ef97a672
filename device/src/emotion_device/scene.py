"""Scene cuts: when the whole picture changes at once, no face in it is the face that was there.

A cut in an edited video, a switch between cameras on one stream, or a camera that comes
back pointing elsewhere all look the same: almost every pixel of a tiny thumbnail changes
between two frames. People moving, talking or walking through change only part of it.
"""

from __future__ import annotations

import cv2
import numpy as np

THUMBNAIL = (32, 24)


class SceneCutDetector:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold  # mean absolute difference, 0-255; 0 never cuts
        self._previous: np.ndarray | None = None

    def is_cut(self, gray: np.ndarray) -> bool:
        """True when `gray` starts a new scene; the first frame is not a cut."""
        if self.threshold <= 0:
            return False
        thumb = cv2.resize(gray, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.int16)
        previous, self._previous = self._previous, thumb
        return previous is not None and float(np.abs(thumb - previous).mean()) > self.threshold

    def reset(self) -> None:
        self._previous = None
