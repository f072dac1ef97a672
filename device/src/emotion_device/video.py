"""`run --annotate-video`: every processed frame, with its confirmed faces drawn, as MP4 or GIF.

Opt-in only, and it says so at start: unlike the daemon's records, this file holds the faces
themselves. Frames keep their order; the daemon hands a frame over once the detection that
confirms or drops its faces has run, so no box is drawn on a face that was not confirmed.
Frames of another size (an image folder) are letterboxed into the first one's, or the GIF's. MP4
and AVI are written by OpenCV; GIF by Pillow, which comes with the plots extra
(`pip install 'emotion-device[plots]'`, matplotlib needs it) and is not in the lean install.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emotion_device.annotate import annotate
from emotion_device.errors import UserError
from emotion_device.face import Face
from emotion_device.images import letterbox

log = logging.getLogger(__name__)

FOURCC = {".mp4": "mp4v", ".avi": "MJPG"}
GIF_SIZE = (480, 360)  # GIFs are for READMEs and chats: small, and 4:3 like a camera


class AnnotatedVideo:
    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps if fps > 0 else 10.0
        suffix = self.path.suffix.lower()
        if suffix not in (*FOURCC, ".gif"):
            raise UserError(f"--annotate-video {self.path}: use a .mp4, .avi or .gif file name")
        self._gif = suffix == ".gif"
        self._image: Any = None
        if self._gif:
            try:
                from PIL import Image
            except ImportError:
                raise UserError("--annotate-video with a .gif needs Pillow: pip install "
                                "'emotion-device[plots]' (or write a .mp4)") from None
            self._image = Image
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"--annotate-video {self.path}: cannot write it: "
                            f"{exc.strerror or exc}") from None
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, int] | None = None
        self._gif_frames: list[Any] = []
        self.frames = 0
        log.warning("--annotate-video: every frame, with the faces in it, is written to %s", self.path)

    def add(self, image: np.ndarray, faces: list[Face]) -> None:
        picture = annotate(image, faces, smoothed=True)
        if self._size is None:
            self._size = GIF_SIZE if self._gif else (picture.shape[1], picture.shape[0])
            if not self._gif:
                fourcc = cv2.VideoWriter.fourcc(*FOURCC[self.path.suffix.lower()])
                self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, self._size)
                if not self._writer.isOpened():
                    raise UserError(f"--annotate-video {self.path}: OpenCV cannot write this video format")
        if picture.shape[1::-1] != self._size:
            picture = letterbox(picture, self._size)
        if self._gif:
            rgb = np.ascontiguousarray(picture[:, :, ::-1])
            self._gif_frames.append(self._image.fromarray(rgb).quantize(colors=128))
        else:
            assert self._writer is not None
            self._writer.write(picture)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
        elif self._gif_frames:
            first, *rest = self._gif_frames
            first.save(self.path, save_all=True, append_images=rest, duration=round(1000 / self.fps),
                       loop=0)
        log.info("annotated video: %d frame(s) in %s", self.frames, self.path)
