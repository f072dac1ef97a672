"""JSON lines to stdout or to a file: one record per line, flushed per line, rotated by size.

Each line has a `type` (face, state or stats). A file is rotated when it passes
`max_bytes`: faces.jsonl -> faces.jsonl.1 -> ... keeping `backups` old files. SIGHUP
(`reopen`) reopens the file for an external logrotate.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

from emotion_device.errors import UserError
from emotion_device.events import SCHEMA_VERSION, FaceEvent


class JsonLinesSink:
    def __init__(self, path: str | Path | None = None, max_bytes: int = 0, backups: int = 5) -> None:
        self.path = Path(path) if path and str(path) != "-" else None
        self.max_bytes = max_bytes
        self.backups = backups
        self._stream: TextIO = sys.stdout
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._open()
            except OSError as exc:
                raise UserError(f"output.jsonl (--log) {self.path}: cannot write it: "
                                f"{exc.strerror or exc}") from None

    def _open(self) -> None:
        # The sink owns its file for the whole run and closes it in close().
        self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def _line(self, record: dict) -> None:
        self._stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._stream.flush()
        if self.path is not None and self.max_bytes and self._stream.tell() >= self.max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        self._stream.close()
        if self.backups == 0:
            self.path.unlink(missing_ok=True)
        else:
            for n in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._open()

    def write(self, event: FaceEvent) -> None:
        self._line({"type": "face", **event.to_dict()})

    def write_state(self, payload: dict) -> None:
        self._line({"type": "state", "schema": SCHEMA_VERSION, **payload})

    def write_stats(self, payload: dict) -> None:
        self._line({"type": "stats", "schema": SCHEMA_VERSION, **payload})

    def reopen(self) -> None:
        if self.path is not None:
            self._stream.close()
            self._open()

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        self.flush()
        if self.path is not None:
            self._stream.close()
