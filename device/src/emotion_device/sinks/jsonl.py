"""JSON lines to stdout or to a file: one record per line, flushed per line, rotated by size.

Each line has a `type` (face, state or stats). A file is rotated when it passes
`max_bytes`: faces.jsonl -> faces.jsonl.1 -> ... keeping `backups` old files. SIGHUP
(`reopen`) reopens the file for an external logrotate.

A line that cannot be written (a full disk, a yanked SD card) is counted in `dropped` and
logged once per outage, never raised: the daemon keeps running and the next line tries again.
Each line is one unbuffered write(); when it fails part-way the file is cut back to where the
line began, so a reader never sees a torn record.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import BinaryIO

from emotion_device.errors import UserError
from emotion_device.events import SCHEMA_VERSION, FaceEvent
from emotion_device.outage import Outage

log = logging.getLogger(__name__)


class JsonLinesSink:
    def __init__(self, path: str | Path | None = None, max_bytes: int = 0, backups: int = 5) -> None:
        self.path = Path(path) if path and str(path) != "-" else None
        self.max_bytes = max_bytes
        self.backups = backups
        self.dropped = 0  # lines that could not be written
        self._outage = Outage(log)
        self._file: BinaryIO | None = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self._open(self.path)
            except OSError as exc:
                raise UserError(f"output.jsonl (--log) {self.path}: cannot write it: "
                                f"{exc.strerror or exc}") from None

    @staticmethod
    def _open(path: Path) -> BinaryIO:
        # The sink owns its file for the whole run and closes it in close().
        return open(path, "ab", buffering=0)

    def _line(self, record: dict) -> None:
        data = (json.dumps(record, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            if self.path is None:
                sys.stdout.write(data.decode("utf-8"))
                sys.stdout.flush()
            else:
                self._append(self.path, data)
        except BrokenPipeError:
            raise  # stdout's reader is gone (`run | head`): the run ends, quietly
        except OSError as exc:
            self.dropped += 1
            self._outage.failed(f"cannot write to {self.path or 'stdout'}: {exc.strerror or exc}",
                                "; dropping JSON lines until it works again (counted in stats)")
            return
        self._outage.ok(f"writing to {self.path or 'stdout'} again; {self.dropped} line(s) dropped so far")

    def _append(self, path: Path, data: bytes) -> None:
        if self._file is None:  # a reopen failed earlier: try again
            self._file = self._open(path)
        fd = self._file.fileno()
        start = os.fstat(fd).st_size
        view = memoryview(data)
        try:
            while view:
                view = view[self._file.write(view) or 0:]
        except OSError:
            try:
                os.ftruncate(fd, start)  # no torn line for a reader, nor for the next line to join
            except OSError as exc:
                log.warning("could not cut a partial line from %s: %s", path, exc.strerror or exc)
            raise
        if self.max_bytes and start + len(data) >= self.max_bytes:
            self._rotate(path)

    def _rotate(self, path: Path) -> None:
        self._close_file()
        if self.backups == 0:
            path.unlink(missing_ok=True)
        else:
            for n in range(self.backups - 1, 0, -1):
                older = path.with_name(f"{path.name}.{n}")
                if older.exists():
                    os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
            os.replace(path, path.with_name(f"{path.name}.1"))
        self._file = self._open(path)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def write(self, event: FaceEvent) -> None:
        self._line({"type": "face", **event.to_dict()})

    def write_state(self, payload: dict) -> None:
        self._line({"type": "state", "schema": SCHEMA_VERSION, **payload})

    def write_stats(self, payload: dict) -> None:
        self._line({"type": "stats", "schema": SCHEMA_VERSION, **payload})

    def stats(self) -> dict:
        return {"jsonl_dropped": self.dropped} if self.path is not None else {}

    def reopen(self) -> None:
        if self.path is None:
            return
        self._close_file()
        try:
            self._file = self._open(self.path)
        except OSError as exc:  # the next line tries again, and counts itself if it fails
            log.error("cannot reopen %s: %s", self.path, exc.strerror or exc)

    def flush(self) -> None:
        if self.path is None:
            sys.stdout.flush()

    def close(self) -> None:
        if self.path is None:
            sys.stdout.flush()
        else:
            self._close_file()
