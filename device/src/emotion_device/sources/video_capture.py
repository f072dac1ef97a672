"""Any OpenCV VideoCapture input: camera index or /dev/videoN, video file, RTSP/HTTP URL."""

from __future__ import annotations

import logging
import time

import cv2

from emotion_device.sources.base import Frame, SourceError

log = logging.getLogger(__name__)


def capture_target(spec: str) -> int | str:
    """'0' -> camera 0, '/dev/video2' -> camera 2 (V4L2), anything else as given."""
    if spec.isdigit():
        return int(spec)
    if spec.startswith("/dev/video") and spec[len("/dev/video"):].isdigit():
        return int(spec[len("/dev/video"):])
    return spec


class VideoCaptureSource:
    def __init__(self, spec: str) -> None:
        self.name = spec
        self._capture = cv2.VideoCapture(capture_target(spec))
        if not self._capture.isOpened():
            raise SourceError(f"OpenCV could not open source {spec!r}")
        self._index = 0

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if not ok or image is None:
            return None
        frame = Frame(image, self._index, time.time(), self.name)
        self._index += 1
        return frame

    def close(self) -> None:
        self._capture.release()
