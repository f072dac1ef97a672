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
    """A camera or network stream is `live` (reopened on failure); a video file ends, or
    starts over with `loop`."""

    def __init__(self, spec: str, size: tuple[int, int] | None = None, loop: bool = False) -> None:
        self.name = spec
        self._target = capture_target(spec)
        self.live = isinstance(self._target, int) or "://" in spec
        self.loop = loop
        self._size = size
        self._capture = self._open()
        self._index = 0

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self._target)
        if not capture.isOpened():
            raise SourceError(f"OpenCV could not open source {self.name!r}")
        if self._size and isinstance(self._target, int):
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self._size[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self._size[1])
        return capture

    def read(self) -> Frame | None:
        ok, image = self._capture.read()
        if (not ok or image is None) and self.loop and not self.live:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._capture.read()
        if not ok or image is None:
            return None
        frame = Frame(image, self._index, time.time(), self.name)
        self._index += 1
        return frame

    def reopen(self) -> None:
        self._capture.release()
        self._capture = self._open()

    def close(self) -> None:
        self._capture.release()
