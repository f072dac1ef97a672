"""JSON lines to stdout or to a file: one record per line, flushed per line, rotated by size.

Each line is one record, its `type` one of face, state, stats or summary. A file is rotated when it passes
`max_bytes`: faces.jsonl -> faces.jsonl.1 -> ... keeping `backups` old files. SIGHUP
(`reopen`) reopens the file for an external logrotate.

A line that cannot be written (a full disk, a yanked SD card) is counted in `dropped` and
logged once per outage, never raised: the daemon keeps running and the next line tries again,
starting on a fresh line so a half-written record never glues onto the next one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from emotion_device.errors import UserError
from emotion_device.events import Record

log = logging.getLogger(__name__)


class JsonLinesSink:
    def __init__(self, path: str | Path | None = None, max_bytes: int = 0, backups: int = 5) -> None:
        self.path = Path(path) if path and str(path) != "-" else None
        self.max_bytes = max_bytes
        self.backups = backups
        self.dropped = 0  # lines that could not be written
        self._error: str | None = None  # the current outage, logged once
        self._stream: TextIO = sys.stdout
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._stream = self._open(self.path)
            except OSError as exc:
                raise UserError(f"output.jsonl (--log) {self.path}: cannot write it: "
                                f"{exc.strerror or exc}") from None

    @staticmethod
    def _open(path: Path) -> TextIO:
        # The sink owns its file for the whole run and closes it in close().
        return open(path, "a", encoding="utf-8")

    def _line(self, record: dict) -> None:
        text = json.dumps(record, separators=(",", ":")) + "\n"
        try:
            if self._error is not None and self.path is not None:
                self._restart_line()
            self._stream.write(text)
            self._stream.flush()
            if self.path is not None and self.max_bytes and self._stream.tell() >= self.max_bytes:
                self._rotate(self.path)
        except OSError as exc:
            self.dropped += 1
            message = f"cannot write to {self.path or 'stdout'}: {exc.strerror or exc}"
            if message != self._error:
                log.error("%s; dropping JSON lines until it works again (counted in stats)", message)
            self._error = message
            return
        if self._error is not None:
            log.info("writing to %s again; %d line(s) dropped so far", self.path or "stdout", self.dropped)
            self._error = None

    def _restart_line(self) -> None:
        """After a failed write: reopen, and end a torn last line so the next record stands alone."""
        assert self.path is not None
        with contextlib.suppress(OSError):  # its buffer could not be written either; counted as dropped
            self._stream.close()
        self._stream = self._open(self.path)
        if self._stream.tell() > 0:
            with open(self.path, "rb") as handle:
                handle.seek(-1, os.SEEK_END)
                torn = handle.read(1) != b"\n"
            if torn:
                self._stream.write("\n")

    def _rotate(self, path: Path) -> None:
        self._stream.close()
        if self.backups == 0:
            path.unlink(missing_ok=True)
        else:
            for n in range(self.backups - 1, 0, -1):
                older = path.with_name(f"{path.name}.{n}")
                if older.exists():
                    os.replace(older, path.with_name(f"{path.name}.{n + 1}"))
            os.replace(path, path.with_name(f"{path.name}.1"))
        self._stream = self._open(path)

    def write(self, record: Record) -> None:
        self._line(record.to_dict())

    def stats(self) -> dict:
        return {"jsonl_dropped": self.dropped} if self.path is not None else {}

    def reopen(self) -> None:
        if self.path is not None:
            try:
                self._stream.close()
            except OSError as exc:
                log.warning("closing %s for SIGHUP: %s", self.path, exc.strerror or exc)
            try:
                self._stream = self._open(self.path)
            except OSError as exc:
                self._error = f"cannot reopen {self.path}: {exc.strerror or exc}"
                log.error("%s; dropping JSON lines until it works again", self._error)

    def flush(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        if self.path is None:
            self._stream.flush()
            return
        try:
            self._stream.flush()
        finally:
            self._stream.close()
