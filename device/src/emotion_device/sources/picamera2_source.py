"""Raspberry Pi camera through picamera2: a main stream for crops, a lores YUV420 stream for detection.

The lores Y plane is grayscale for free, so detection costs no colour conversion. picamera2
is imported only when this source is opened (it exists only on a Pi, from apt), and the
Picamera2 object is created once per run: re-creating it leaks CMA memory, so a reopen
after a failure restarts the same object instead.
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

from emotion_device.sources.base import Frame, SourceError

log = logging.getLogger(__name__)


def import_picamera2() -> Any:
    try:
        return importlib.import_module("picamera2")
    except ImportError as exc:
        raise SourceError(
            "the picamera2 source needs the picamera2 library: sudo apt install python3-picamera2 "
            "(and create the venv with --system-site-packages)") from exc


class Picamera2Source:
    live = True

    def __init__(self, main_size: tuple[int, int] = (1280, 720), lores_width: int = 320,
                 camera_num: int = 0) -> None:
        module = import_picamera2()
        self.name = f"picamera2:{camera_num}"
        # Both streams are scaled from the same sensor crop: keep the aspect ratio equal so a
        # lores box maps onto the main stream with one factor. YUV420 needs even sizes.
        lores_height = round(lores_width * main_size[1] / main_size[0] / 2) * 2
        self.main_size, self.lores_size = main_size, (lores_width, lores_height)
        try:
            self._camera = module.Picamera2(camera_num)
            config = self._camera.create_video_configuration(
                main={"size": main_size, "format": "RGB888"},  # BGR byte order, as OpenCV wants
                lores={"size": self.lores_size, "format": "YUV420"},
            )
            self._camera.configure(config)
            self._camera.start()
        except Exception as exc:
            raise SourceError(f"picamera2 could not start camera {camera_num}: {exc}") from exc
        self._index = 0

    def read(self) -> Frame | None:
        request = self._camera.capture_request()
        try:
            main = request.make_array("main")
            lores = request.make_array("lores")
        finally:
            request.release()
        width, height = self.lores_size
        gray = lores[:height, :width]  # the Y plane; rows below it hold U and V, columns may be padded
        frame = Frame(main, self._index, time.time(), self.name, gray=gray,
                      gray_scale=main.shape[1] / width)
        self._index += 1
        return frame

    def reopen(self) -> None:
        self._camera.stop()
        self._camera.start()

    def close(self) -> None:
        self._camera.stop()
        self._camera.close()
