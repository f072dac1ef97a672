"""The interface every output implements; sinks are chosen by configuration.

Four types of record leave the daemon, all in one schema (emotion_device.events): a face
record per face per publish interval, the room's state when it changes (and with every
summary), periodic stats, and a summary per summary_interval. A sink writes each as it is;
it may ignore a type it does not carry.
"""

from __future__ import annotations

from typing import Protocol

from emotion_device.events import Record


class Sink(Protocol):
    def write(self, record: Record) -> object: ...

    def reopen(self) -> None:
        """Reopen files after external log rotation (SIGHUP)."""
        ...

    def flush(self) -> object: ...

    def close(self) -> None: ...
