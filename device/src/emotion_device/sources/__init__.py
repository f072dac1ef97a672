"""Frame sources by specification: an image or folder of images, or anything OpenCV opens."""

from __future__ import annotations

from pathlib import Path

from emotion_device.images import IMAGE_SUFFIXES
from emotion_device.sources.base import Frame, FrameSource, SourceError
from emotion_device.sources.image_files import ImageFilesSource
from emotion_device.sources.video_capture import VideoCaptureSource


def open_source(spec: str, loop: bool = False) -> FrameSource:
    """Open `spec`: a folder or image file -> images; otherwise camera, video file or URL."""
    path = Path(spec)
    if path.is_dir() or (path.suffix.lower() in IMAGE_SUFFIXES):
        return ImageFilesSource(path, loop=loop)
    if "://" not in spec and not spec.isdigit() and not spec.startswith("/dev/") and not path.exists():
        raise SourceError(f"source {spec!r}: no such file, and not a camera index or URL")
    return VideoCaptureSource(spec)


__all__ = ["Frame", "FrameSource", "ImageFilesSource", "SourceError", "VideoCaptureSource", "open_source"]
