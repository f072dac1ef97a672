"""The interface every output implements; sinks are chosen by configuration.

Three kinds of record leave the daemon: a face event per face per publish interval, the
room's state when it changes, and periodic stats. A sink may ignore what it does not carry.
"""

from __future__ import annotations

from typing import Protocol

from emotion_device.events import FaceEvent


class Sink(Protocol):
    def write(self, event: FaceEvent) -> object: ...

    def write_state(self, payload: dict) -> object: ...

    def write_stats(self, payload: dict) -> object: ...

    def reopen(self) -> None:
        """Reopen files after external log rotation (SIGHUP)."""
        ...

    def flush(self) -> object: ...

    def close(self) -> None: ...
