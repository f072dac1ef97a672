"""A durable, size-bounded FIFO of messages on disk, for at-least-once delivery.

A message is appended here before it is sent and leaves only when the receiver acknowledged
it, so neither a broker outage nor a restart of the daemon loses it: a new Spool on the same
folder replays what is left, in order. When the spool is full the oldest messages go first,
with a warning, because on a camera the newest observations are worth the most.

On disk, in one folder:

- ``seg-<first seq>.jsonl``: append-only segments, one ``{"seq":..,"topic":..,"payload":{..}}``
  line per message. A new segment starts when the current one passes ``segment_bytes`` and at
  every open, so a line torn by a crash is never appended to; it is skipped with a warning.
- ``cursor.json``: ``{"version":1,"head":H,"next_seq":N}``, replaced atomically. Every message
  with seq < H is done (acknowledged or dropped) and N is at least every seq ever issued.
- ``lock``: held with flock while a Spool is open, so two daemons never share a folder.

Every append is one write() to the OS, which survives a crash of the process; a write that
fails (a full disk) is cut off again with ftruncate, so no torn line is left behind, and the
caller gets the OSError. Only sync(), which the owner calls from a background thread at most
every ``sync_interval`` seconds, waits for the disk: it fsyncs the segments and the folder and
writes the cursor, outside the lock that append() takes, so the frame loop never waits on an
fsync. That interval bounds what a power cut can take. A stale cursor only means some
acknowledged messages are sent again, which at-least-once allows.

Seqs are reserved in blocks of SEQ_BLOCK, and sync() tops the reservation up ahead of use, so
append() writes the cursor itself only when a burst outruns that. The reservation moves only
once the cursor that records it is on disk, so seq never repeats even after a crash (it then
skips ahead), and a failed cursor write is simply tried again. A clean close keeps seq gapless.
"""

from __future__ import annotations

import bisect
import fcntl
import json
import logging
import math
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from emotion_device.errors import UserError
from emotion_device.outage import Outage

log = logging.getLogger(__name__)


class SpoolInUse(UserError, RuntimeError):
    """Another process holds the spool folder."""

CURSOR_FILE = "cursor.json"
LOCK_FILE = "lock"
SEGMENT_GLOB = "seg-*.jsonl"
SEQ_BLOCK = 1000
DEFAULT_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SpoolEntry:
    """One stored message; `payload` is the exact bytes to send and `size` its line on disk."""

    seq: int
    topic: str
    payload: bytes
    size: int


@dataclass(frozen=True)
class SpoolDepth:
    messages: int
    bytes: int


@dataclass
class _Segment:
    first_seq: int
    path: Path
    last_seq: int = 0
    size: int = 0


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def _parse_line(line: bytes) -> SpoolEntry | None:
    """The entry on one line, or None for a torn or foreign line."""
    try:
        record = json.loads(line)
        seq, topic, payload = record["seq"], record["topic"], record["payload"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(seq, int) or not isinstance(topic, str) or not isinstance(payload, dict):
        return None
    return SpoolEntry(seq, topic, _dumps(payload), len(line))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Thread-safe: the frame loop appends while the network thread acknowledges."""

    def __init__(self, directory: str | Path, max_bytes: int = DEFAULT_MAX_BYTES,
                 segment_bytes: int | None = None, sync_interval: float = 1.0,
                 warn_interval: float = 10.0) -> None:
        if max_bytes <= 0:
            raise ValueError(f"spool max_bytes must be positive, got {max_bytes}")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(4096, min(1024 * 1024, max_bytes // 8))
        self.sync_interval = sync_interval
        self.warn_interval = warn_interval
        self.dropped_total = 0  # dropped because the spool was full, since this Spool opened
        self._lock = threading.Lock()
        self._entries: list[SpoolEntry] = []  # live entries are self._entries[self._start:]
        self._start = 0
        self._bytes = 0
        self._acked: set[int] = set()  # acknowledged out of order, still behind the head
        self._segments: deque[_Segment] = deque()
        self._writer: BinaryIO | None = None
        self._writer_dirty = False
        self._retired: list[BinaryIO] = []  # full segments' files, to fsync and close in sync()
        self._dir_dirty = False  # a segment was created or removed since the last sync
        self._cursor_dirty = False
        self._cursor_lock = threading.Lock()  # orders cursor writes; never taken before _lock
        self._cursor_next = 0  # the highest next_seq on disk: a cursor never moves it back
        self._sync_outage = Outage(log)
        self._last_sync = time.monotonic()
        self._unreported: list[int] = []  # [count, first seq, last seq] of drops not yet logged
        self._last_warning = -math.inf
        self._closed = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = self._take_folder()
        self._next_seq = 1
        self._reserved = 0
        self._load()

    # opening ---------------------------------------------------------------------------
    def _take_folder(self) -> BinaryIO:
        handle = open(self.directory / LOCK_FILE, "ab")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise SpoolInUse(f"spool {self.directory} is in use by another process") from None
        return handle

    def _read_cursor(self) -> dict:
        path = self.directory / CURSOR_FILE
        try:
            cursor = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("spool cursor %s unreadable (%s); replaying every stored message", path, exc)
            return {}
        if not isinstance(cursor, dict):
            return {}
        return {k: v for k, v in cursor.items() if isinstance(v, int)}

    def _load(self) -> None:
        cursor = self._read_cursor()
        head = max(1, cursor.get("head", 1))
        last = head - 1
        torn = 0
        for path in sorted(self.directory.glob(SEGMENT_GLOB)):
            try:
                first = int(path.stem.removeprefix("seg-"))
            except ValueError:
                continue
            segment = _Segment(first, path)
            data = path.read_bytes()
            segment.size = len(data)
            for line in data.splitlines(keepends=True):
                entry = _parse_line(line)
                if entry is None:
                    torn += 1
                    continue
                segment.last_seq = max(segment.last_seq, entry.seq)
                if entry.seq > last:  # older seqs are done, or out of place
                    self._entries.append(entry)
                    self._bytes += entry.size
                    last = entry.seq
            self._segments.append(segment)
        if torn:
            log.warning("spool %s: skipped %d unreadable line(s), torn by a crash", self.directory, torn)
        self._next_seq = max(cursor.get("next_seq", 1), last + 1)
        self._reserved = self._next_seq - 1
        if self._entries:
            log.info("spool %s: %d message(s), %d bytes to send from an earlier run (seq %d-%d)",
                     self.directory, len(self._entries), self._bytes, self._entries[0].seq, last)
        self._enforce_bound()
        self._remove_done_segments()
        self._write_cursor(self._cursor_data(self._next_seq))

    # seq ---------------------------------------------------------------------------------
    def _issue_seq(self) -> int:
        seq = self._next_seq
        if seq > self._reserved:
            # sync() did not top the reservation up in time: reserve here, and move _reserved
            # only once that is on disk (an OSError leaves everything as it was, to retry).
            reserved = seq + SEQ_BLOCK - 1
            self._write_cursor(self._cursor_data(reserved + 1))
            self._reserved = reserved
        self._next_seq += 1
        return seq

    def reserve_seq(self) -> int:
        """The next seq, for a message that is sent without being stored (latest-value topics)."""
        with self._lock:
            self._check_open()
            return self._issue_seq()

    # appending ---------------------------------------------------------------------------
    def append(self, topic: str, payload: dict) -> int:
        """Store a message and return its seq, which is also written into the payload's "seq"."""
        with self._lock:
            self._check_open()
            seq = self._issue_seq()
            body = _dumps({**payload, "seq": seq})
            line = b'{"seq":%d,"topic":%s,"payload":%s}\n' % (seq, _dumps(topic), body)
            self._write_line(seq, line)
            self._entries.append(SpoolEntry(seq, topic, body, len(line)))
            self._bytes += len(line)
            self._enforce_bound()
            return seq

    def _write_line(self, seq: int, line: bytes) -> None:
        if self._writer is None or self._segments[-1].size >= self.segment_bytes:
            self._start_segment(seq)
        segment, writer = self._segments[-1], self._writer
        assert writer is not None  # _start_segment opened it
        view = memoryview(line)
        try:
            while view:  # unbuffered: each write() goes straight to the OS, maybe in part
                view = view[writer.write(view) or 0:]
        except OSError:
            # Cut the part that made it, so the next line does not glue onto a torn one; where
            # even that fails, continue in a new segment (a torn last line is skipped on load).
            try:
                os.ftruncate(writer.fileno(), segment.size)
            except OSError:
                self._retire_writer()
            raise
        segment.size += len(line)
        segment.last_seq = seq
        self._writer_dirty = True

    def _start_segment(self, seq: int) -> None:
        self._retire_writer()
        path = self.directory / f"seg-{seq:020d}.jsonl"
        self._writer = open(path, "ab", buffering=0)  # noqa: SIM115 - held until the segment is full
        self._segments.append(_Segment(seq, path))
        self._dir_dirty = True
        self._remove_done_segments()

    def _retire_writer(self) -> None:
        """Stop writing the current segment; sync() fsyncs and closes it, off the frame loop."""
        if self._writer is None:
            return
        if self._writer_dirty:
            self._retired.append(self._writer)
        else:
            self._writer.close()
        self._writer = None
        self._writer_dirty = False

    # the bound -----------------------------------------------------------------------------
    def _enforce_bound(self) -> None:
        """Drop the oldest messages until the spool fits; the newest message always stays."""
        dropped, first, last = 0, 0, 0
        while self._bytes > self.max_bytes and len(self._entries) - self._start > 1:
            entry = self._pop_head()
            first = first or entry.seq
            last = entry.seq
            dropped += 1
        if not dropped:
            return
        self.dropped_total += dropped
        self._cursor_dirty = True
        if self._unreported:
            self._unreported[0] += dropped
            self._unreported[2] = last
        else:
            self._unreported = [dropped, first, last]
        self._report_drops(force=False)

    def _report_drops(self, force: bool) -> None:
        now = time.monotonic()
        if not self._unreported or (not force and now - self._last_warning < self.warn_interval):
            return
        count, first, last = self._unreported
        log.warning("spool %s is full (%d bytes): dropped the %d oldest message(s), seq %d-%d; "
                    "%d dropped in total", self.directory, self.max_bytes, count, first, last,
                    self.dropped_total)
        self._unreported = []
        self._last_warning = now

    # consuming -----------------------------------------------------------------------------
    def _pop_head(self) -> SpoolEntry:
        entry = self._entries[self._start]
        self._start += 1
        self._bytes -= entry.size
        self._acked.discard(entry.seq)
        if self._start > 1024 and self._start * 2 > len(self._entries):
            del self._entries[:self._start]
            self._start = 0
        return entry

    def entries_after(self, seq: int, limit: int) -> list[SpoolEntry]:
        """Up to `limit` stored messages with a seq above `seq`, oldest first."""
        with self._lock:
            index = bisect.bisect_right(self._entries, seq, lo=self._start, key=lambda e: e.seq)
            return self._entries[index:index + limit]

    def ack(self, seq: int) -> None:
        """The receiver has the message: it leaves once every older one has left too."""
        with self._lock:
            if self._closed or self._start == len(self._entries):
                return
            if seq < self._entries[self._start].seq or seq > self._entries[-1].seq:
                return
            self._acked.add(seq)
            moved = False
            while self._start < len(self._entries) and self._entries[self._start].seq in self._acked:
                self._pop_head()
                moved = True
            if moved:
                self._cursor_dirty = True
                self._remove_done_segments()

    def _head(self) -> int:
        """The oldest seq still stored, or the next seq when the spool is empty."""
        return self._entries[self._start].seq if self._start < len(self._entries) else self._next_seq

    @property
    def depth(self) -> SpoolDepth:
        with self._lock:
            return SpoolDepth(len(self._entries) - self._start, self._bytes)

    def _remove_done_segments(self) -> None:
        head = self._head()
        while self._segments and self._segments[0].last_seq < head:
            if self._writer is not None and len(self._segments) == 1:
                break  # the segment being written stays until it is full
            segment = self._segments.popleft()
            segment.path.unlink(missing_ok=True)
            self._dir_dirty = True

    # syncing -------------------------------------------------------------------------------
    def _cursor_data(self, next_seq: int) -> tuple[int, int]:
        """(head, next_seq) as they stand now; call with _lock held."""
        return self._head(), next_seq

    def _write_cursor(self, cursor: tuple[int, int], exact: bool = False) -> None:
        """Replace cursor.json atomically. Writers are ordered by _cursor_lock, and next_seq
        never moves back, even when a slower writer's snapshot is older than the last one,
        except on close (`exact`), where every seq above next_seq is known to be unused."""
        head, next_seq = cursor
        with self._cursor_lock:
            next_seq = next_seq if exact else max(next_seq, self._cursor_next)
            path = self.directory / CURSOR_FILE
            temp = path.with_name(f".{CURSOR_FILE}.tmp")
            with open(temp, "wb") as handle:
                handle.write(_dumps({"version": 1, "head": min(head, next_seq), "next_seq": next_seq}))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
            self._cursor_next = next_seq

    def sync(self) -> None:
        """At most every sync_interval: fsync the segments and the folder, top up the seq
        reservation, write the cursor, report drops. The owner calls this often from a
        background thread; the disk is waited for outside the lock append() takes. A failing
        disk is logged once and retried on the next call."""
        with self._lock:
            now = time.monotonic()
            if self._closed or now - self._last_sync < self.sync_interval:
                return
            self._last_sync = now
            files = [*self._retired]
            self._retired.clear()
            writer = self._writer if self._writer_dirty else None
            fd = os.dup(writer.fileno()) if writer is not None else None  # stays valid if it retires
            self._writer_dirty = False
            dir_dirty, self._dir_dirty = self._dir_dirty, False
            top_up = self._reserved - self._next_seq < SEQ_BLOCK // 2
            reserve = self._next_seq + SEQ_BLOCK if top_up else self._reserved
            cursor = self._cursor_data(reserve + 1) if top_up or self._cursor_dirty else None
            self._cursor_dirty = False
            self._report_drops(force=False)
        try:
            for handle in files:
                os.fsync(handle.fileno())
            if fd is not None:
                os.fsync(fd)
            if dir_dirty:
                _fsync_dir(self.directory)
            if cursor is not None:
                self._write_cursor(cursor)
        except OSError as exc:
            self._sync_failed(exc, files, fd is not None, dir_dirty, cursor is not None)
        else:
            self._sync_outage.ok(f"spool {self.directory}: synced to disk again")
            for handle in files:
                handle.close()
            with self._lock:
                self._reserved = max(self._reserved, reserve)
        finally:
            if fd is not None:
                os.close(fd)

    def _sync_failed(self, exc: OSError, files: list[BinaryIO], writer: bool, dir_dirty: bool,
                     cursor: bool) -> None:
        self._sync_outage.failed(f"spool {self.directory}: cannot sync to disk: {exc.strerror or exc}",
                                 "; retrying")
        with self._lock:  # everything not done is done again on the next call
            self._retired[:0] = files
            self._writer_dirty |= writer
            self._dir_dirty |= dir_dirty
            self._cursor_dirty |= cursor

    def close(self) -> None:
        """Persist everything; the next Spool on this folder continues with the next seq."""
        with self._lock:
            if self._closed:
                return
            self._report_drops(force=True)
            self._retire_writer()
            self._remove_done_segments()
            files, self._retired = self._retired, []
            cursor = self._cursor_data(self._next_seq)
            self._closed = True
        try:
            for handle in files:
                try:
                    os.fsync(handle.fileno())
                except OSError as exc:
                    log.warning("spool %s: could not sync a segment: %s", self.directory, exc.strerror or exc)
                finally:
                    handle.close()
            _fsync_dir(self.directory)
            self._write_cursor(cursor, exact=True)
        except OSError as exc:
            log.error("spool %s: could not save the cursor on close (%s); the next run replays "
                      "from the last saved one", self.directory, exc.strerror or exc)
        finally:
            self._lock_file.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"spool {self.directory} is closed")
