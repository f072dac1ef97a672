"""What every frame source yields, and the errors a source may raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class SourceError(RuntimeError):
    """The source cannot be opened or has stopped delivering frames."""


@dataclass
class Frame:
    image: np.ndarray  # BGR or gray uint8
    index: int
    timestamp: float  # wall clock, seconds since the epoch
    origin: str  # file name, camera or stream the frame came from


class FrameSource(Protocol):
    name: str

    def read(self) -> Frame | None:
        """The next frame, or None when a finite source is exhausted."""
        ...

    def close(self) -> None: ...
