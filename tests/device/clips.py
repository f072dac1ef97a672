"""Real video clips for the daemon's tests, written with OpenCV from real photos."""

from __future__ import annotations

from pathlib import Path

import cv2

from emotion_device.images import letterbox, read_image

SIZE = (640, 480)


def write_clip(path: Path, segments: list[tuple[Path, int]], fps: float = 10.0) -> Path:
    """An MJPEG AVI showing each photo, framed as a 640x480 camera would, for its frame count."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, SIZE)
    assert writer.isOpened(), f"OpenCV cannot write {path}"
    for photo, frames in segments:
        frame = letterbox(read_image(photo), SIZE)
        for _ in range(frames):
            writer.write(frame)
    writer.release()
    return path
