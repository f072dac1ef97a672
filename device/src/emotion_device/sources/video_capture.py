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
    """A camera or network stream is `live` (reopened on failure) and stamped with the wall
    clock; a video file ends, or starts over with `loop`, and is stamped with its media time:
    `start_time` plus the frame's position in the stream (continuing across loops), so the
    same file gives the same timestamps on any machine at any speed."""

    def __init__(self, spec: str, size: tuple[int, int] | None = None, loop: bool = False,
                 start_time: float = 0.0) -> None:
        self.name = spec
        self._target = capture_target(spec)
        self.live = isinstance(self._target, int) or "://" in spec
        self.loop = loop
        self.start_time = start_time
        self._size = size
        self._capture = self._open()
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else 0.0  # 0: the container does not say
        self._period = 1.0 / self.fps if self.fps else 0.0
        self._index = 0
        self._loop_offset = 0.0  # media time at which the current pass of a looped file began
        self._media = 0.0

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
            self._loop_offset = self._media + self._period
            ok, image = self._capture.read()
        if not ok or image is None:
            return None
        frame = Frame(image, self._index, time.time() if self.live else self._media_time(), self.name)
        self._index += 1
        return frame

    def _media_time(self) -> float:
        """start_time + the position of the frame just read (its pts, else index / fps)."""
        position = self._capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        if position <= 0 and self._index > 0:
            position = self._index * self._period  # some containers report no position
        self._media = self._loop_offset + position
        return self.start_time + round(self._media, 6)

    def reopen(self) -> None:
        self._capture.release()
        self._capture = self._open()

    def close(self) -> None:
        self._capture.release()
