"""JSON lines, one event per line, to stdout or to a file (appended, flushed per line)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from emotion_device.events import FaceEvent


class JsonLinesSink:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # The sink owns its file for the whole run and closes it in close().
        self._stream: TextIO = (
            open(self.path, "a", encoding="utf-8") if self.path else sys.stdout  # noqa: SIM115
        )

    def write(self, event: FaceEvent) -> None:
        self._stream.write(json.dumps(event.to_dict(), separators=(",", ":")) + "\n")
        self._stream.flush()

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self.flush()
        if self.path is not None:
            self._stream.close()
