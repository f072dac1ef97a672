"""Frame sources by specification: an image or folder of images, or anything OpenCV opens."""

from __future__ import annotations

from pathlib import Path

from emotion_device.images import IMAGE_SUFFIXES
from emotion_device.sources.base import Frame, FrameSource, SourceError, parse_start_time
from emotion_device.sources.image_files import ImageFilesSource
from emotion_device.sources.picamera2_source import Picamera2Source
from emotion_device.sources.resilient import ResilientSource
from emotion_device.sources.video_capture import VideoCaptureSource


def open_source(spec: str, loop: bool = False, size: tuple[int, int] = (640, 480),
                lores_width: int = 320, reopen_max_delay: float = 30.0, camera_num: int = 0,
                start_time: float = 0.0) -> FrameSource:
    """Open `spec`: "picamera2[:N]", a folder or image file, or a camera, video file or URL.

    `camera_num` picks picamera2's camera when `spec` names none; `start_time` is what a video
    file's media time counts from.

    Live sources come wrapped in ResilientSource, so a failure mid-run is retried with
    backoff; a source that cannot be opened at start is an error (systemd restarts us).
    """
    path = Path(spec)
    if spec == "picamera2" or spec.startswith("picamera2:"):
        camera = int(spec.partition(":")[2] or camera_num)
        source: FrameSource = Picamera2Source(size, lores_width, camera)
    elif path.is_dir() or (path.suffix.lower() in IMAGE_SUFFIXES):
        return ImageFilesSource(path, loop=loop)
    elif "://" not in spec and not spec.isdigit() and not spec.startswith("/dev/") and not path.exists():
        raise SourceError(f"source {spec!r}: no such file, and not a camera index or URL")
    else:
        source = VideoCaptureSource(spec, size=size, loop=loop, start_time=start_time)
    return ResilientSource(source, max_delay=reopen_max_delay) if source.live else source


__all__ = ["Frame", "FrameSource", "ImageFilesSource", "Picamera2Source", "ResilientSource",
           "SourceError", "VideoCaptureSource", "open_source", "parse_start_time"]
