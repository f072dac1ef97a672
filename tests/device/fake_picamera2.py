"""A test double of picamera2's Picamera2, faithful where the device code touches it.

Same methods (create_video_configuration, configure, start, capture_request -> request with
make_array/release, stop, close), same array formats: "RGB888" main arrays are HxWx3 uint8
in BGR byte order, "YUV420" lores arrays are (H*3/2)xStride uint8 with the Y plane on top and
a stride padded to 64 bytes, as libcamera delivers. Frames come from real photos.
"""

from __future__ import annotations

from typing import ClassVar

import cv2
import numpy as np

from emotion_device.images import letterbox

instances: list[Picamera2] = []


class _Request:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self._arrays = arrays
        self.released = False

    def make_array(self, name: str) -> np.ndarray:
        assert not self.released, "make_array after release"
        return self._arrays[name].copy()

    def release(self) -> None:
        self.released = True


class Picamera2:
    photos: ClassVar[list[np.ndarray]] = []  # BGR images the "camera" sees, in turn

    def __init__(self, camera_num: int = 0) -> None:
        self.camera_num = camera_num
        self.config: dict | None = None
        self.started = False
        self.starts = 0
        self.closed = False
        self.frame = 0
        instances.append(self)

    def create_video_configuration(self, main: dict, lores: dict | None = None, **_kwargs) -> dict:
        assert main["format"] in ("RGB888", "XRGB8888", "BGR888")
        assert lores is None or lores["format"] == "YUV420"
        return {"main": dict(main), "lores": dict(lores) if lores else None}

    def configure(self, config: dict) -> None:
        assert not self.started, "configure while started"
        self.config = config

    def start(self) -> None:
        assert self.config is not None and not self.closed
        self.started = True
        self.starts += 1

    def stop(self) -> None:
        self.started = False

    def close(self) -> None:
        self.closed = True

    def capture_request(self) -> _Request:
        assert self.started, "capture_request on a stopped camera"
        photo = self.photos[self.frame % len(self.photos)]
        self.frame += 1
        w, h = self.config["main"]["size"]
        arrays = {"main": letterbox(photo, (w, h))}
        if self.config["lores"]:
            lw, lh = self.config["lores"]["size"]
            yuv = cv2.cvtColor(letterbox(photo, (lw, lh)), cv2.COLOR_BGR2YUV_I420)
            stride = -(-lw // 64) * 64
            padded = np.zeros((yuv.shape[0], stride), np.uint8)
            padded[:, :lw] = yuv
            arrays["lores"] = padded
        return _Request(arrays)
