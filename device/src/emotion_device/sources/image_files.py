"""A still image or a folder of images as a frame source (tests, demos, batch jobs)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from emotion_device.images import IMAGE_SUFFIXES, ImageReadError, read_image
from emotion_device.sources.base import Frame, SourceError

log = logging.getLogger(__name__)


class ImageFilesSource:
    live = False
    stills = True  # unrelated photos: the daemon does not track faces across them

    """Yields each image once, in name order; `loop=True` repeats them forever.

    A file that does not decode is logged and skipped (and counted in `skipped`), so one bad
    file in a folder does not stop a run.
    """

    def __init__(self, path: str | Path, loop: bool = False) -> None:
        root = Path(path)
        if root.is_dir():
            self.files = sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif root.is_file():
            self.files = [root]
        else:
            raise SourceError(f"image source {root}: no such file or folder")
        if not self.files:
            raise SourceError(f"image source {root}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.name = str(root)
        self.loop = loop
        self.skipped = 0
        self._next = 0
        self._index = 0

    def read(self) -> Frame | None:
        while True:
            if self._next >= len(self.files):
                if not self.loop or self.skipped >= len(self.files):
                    return None
                self._next = 0
            path = self.files[self._next]
            self._next += 1
            try:
                image = read_image(path)
            except ImageReadError as exc:
                self.skipped += 1
                log.warning("skipping %s", exc)
                continue
            frame = Frame(image, self._index, time.time(), str(path))
            self._index += 1
            return frame

    def reopen(self) -> None:
        self._next = 0

    def close(self) -> None:
        self._next = len(self.files)
