"""What every frame source yields, and the errors a source may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from emotion_device.errors import UserError


class SourceError(UserError, RuntimeError):
    """The source cannot be opened or has stopped delivering frames."""


@dataclass
class Frame:
    """A captured frame. A source that has a cheap grayscale view (picamera2's lores Y plane)
    passes it as `gray`, with `gray_scale` = image pixels per gray pixel, and detection runs
    on it while crops come from the full-resolution `image`."""

    image: np.ndarray  # BGR or gray uint8
    index: int
    timestamp: float  # wall clock, seconds since the epoch
    origin: str  # file name, camera or stream the frame came from
    gray: np.ndarray | None = None
    gray_scale: float = 1.0


class FrameSource(Protocol):
    """`live` sources (cameras, streams) are reopened when they fail; the others end."""

    name: str
    live: bool

    def read(self) -> Frame | None:
        """The next frame, or None when the source has none (a finite one is then exhausted)."""
        ...

    def reopen(self) -> None:
        """Recover after a failure (live sources)."""
        ...

    def close(self) -> None: ...
