"""The interface every output implements; sinks are chosen by configuration."""

from __future__ import annotations

from typing import Protocol

from emotion_device.events import FaceEvent


class Sink(Protocol):
    def write(self, event: FaceEvent) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
