"""The on-disk spool alone: order, acknowledgements, restarts, crashes and the size bound."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading

import pytest

from emotion_device.spool import SEQ_BLOCK, Spool


def payload(n: int) -> dict:
    return {"schema": 1, "seq": 0, "n": n, "text": "x" * 40}


def stored(spool: Spool) -> list[int]:
    return [entry.seq for entry in spool.entries_after(0, 10_000)]


def test_messages_leave_in_order_once_acknowledged(tmp_path):
    spool = Spool(tmp_path)
    seqs = [spool.append("t/face", payload(n)) for n in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    entry = spool.entries_after(0, 1)[0]
    assert json.loads(entry.payload) == {**payload(0), "seq": 1} and entry.topic == "t/face"
    assert [e.seq for e in spool.entries_after(2, 2)] == [3, 4]
    spool.ack(2)  # out of order: 1 still holds the head
    assert spool.depth.messages == 5
    spool.ack(1)
    assert stored(spool) == [3, 4, 5]
    for seq in (5, 4, 3):
        spool.ack(seq)
    assert spool.depth.messages == 0 and spool.depth.bytes == 0
    spool.close()


def test_a_new_spool_replays_what_is_left_and_continues_the_seq(tmp_path):
    first = Spool(tmp_path)
    for n in range(4):
        first.append("t", payload(n))
    first.ack(1)
    assert first.reserve_seq() == 5  # a latest-value message: numbered, not stored
    first.close()

    second = Spool(tmp_path)
    assert stored(second) == [2, 3, 4]
    assert [json.loads(e.payload)["n"] for e in second.entries_after(0, 10)] == [1, 2, 3]
    assert second.append("t", payload(9)) == 6
    second.close()


def test_after_a_crash_nothing_is_lost_and_seq_skips_ahead_but_never_repeats(tmp_path):
    # The process dies without close(). Every append had reached the OS, and sync() had saved
    # the acknowledgement of seq 1; seq 2's came later, so it is sent again (at least once).
    code = ("import os\nfrom emotion_device.spool import Spool\n"
            f"spool = Spool({str(tmp_path)!r}, sync_interval=0)\n"
            "for n in range(4):\n    spool.append('t', {'seq': 0, 'n': n})\n"
            "spool.ack(1)\nspool.sync()\nspool.ack(2)\n"
            "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    again = Spool(tmp_path)
    assert stored(again) == [2, 3, 4]
    assert again.append("t", payload(4)) == 1 + SEQ_BLOCK
    again.close()


def test_one_folder_serves_one_spool_at_a_time(tmp_path):
    spool = Spool(tmp_path)
    with pytest.raises(RuntimeError, match="in use by another process"):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()


def test_a_torn_last_line_is_skipped_with_a_warning(tmp_path, caplog):
    spool = Spool(tmp_path)
    for n in range(3):
        spool.append("t", payload(n))
    spool.close()
    segment = sorted(tmp_path.glob("seg-*.jsonl"))[-1]
    with open(segment, "ab") as handle:
        handle.write(b'{"seq":4,"topic":"t","payl')
    with caplog.at_level(logging.WARNING, logger="emotion_device.spool"):
        reopened = Spool(tmp_path)
    assert "skipped 1 unreadable line" in caplog.text
    assert stored(reopened) == [1, 2, 3]
    assert reopened.append("t", payload(4)) == 4  # in a new segment, never after the torn line
    reopened.close()
    assert stored(Spool(tmp_path)) == [1, 2, 3, 4]


def test_the_oldest_messages_are_dropped_when_full(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="emotion_device.spool")
    spool = Spool(tmp_path, max_bytes=1000)
    for n in range(20):
        spool.append("t", payload(n))
    depth = spool.depth
    assert depth.bytes <= 1000 and depth.messages > 1
    assert spool.dropped_total == 20 - depth.messages
    assert stored(spool) == list(range(21 - depth.messages, 21))
    spool.close()
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings[0] == (f"spool {tmp_path} is full (1000 bytes): dropped the 1 oldest message(s), "
                           "seq 1-1; 1 dropped in total")
    assert warnings[-1].endswith(f"{spool.dropped_total} dropped in total")
    assert stored(Spool(tmp_path)) == list(range(21 - depth.messages, 21))


def test_acknowledged_segments_are_deleted(tmp_path):
    spool = Spool(tmp_path, segment_bytes=200)
    seqs = [spool.append("t", payload(n)) for n in range(10)]
    assert len(list(tmp_path.glob("seg-*.jsonl"))) >= 5
    for seq in seqs:
        spool.ack(seq)
    assert len(list(tmp_path.glob("seg-*.jsonl"))) == 1  # the one being written
    spool.close()
    assert list(tmp_path.glob("seg-*.jsonl")) == []
    assert json.loads((tmp_path / "cursor.json").read_text()) == {"version": 1, "head": 11, "next_seq": 11}


def test_a_closed_spool_refuses_appends(tmp_path):
    spool = Spool(tmp_path)
    spool.close()
    with pytest.raises(RuntimeError, match="closed"):
        spool.append("t", payload(0))


def test_append_does_not_wait_for_a_sync_in_progress(tmp_path, monkeypatch):
    """sync() waits for the disk outside the lock append() needs: an fsync that hangs (held
    here until released) must not hold up the frame loop's appends."""
    spool = Spool(tmp_path, sync_interval=0)
    spool.append("t", payload(0))
    entered, release = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        entered.set()
        release.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    syncing = threading.Thread(target=spool.sync)
    syncing.start()
    try:
        assert entered.wait(10), "sync() did not fsync"
        appending = threading.Thread(target=spool.append, args=("t", payload(1)))
        appending.start()
        appending.join(10)
        assert not appending.is_alive(), "append() waited for sync()'s fsync"
    finally:
        release.set()
        syncing.join(30)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert stored(spool) == [1, 2]
    spool.close()


def test_appends_past_the_reservation_do_not_fsync_when_sync_runs(tmp_path, monkeypatch):
    """The seq reservation is topped up by sync(), in the background, before append() needs it."""
    spool = Spool(tmp_path, sync_interval=0)
    for n in range(SEQ_BLOCK // 2 + 1):
        spool.append("t", payload(n))
    spool.sync()
    calls = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real_fsync(fd)))
    seqs = [spool.append("t", payload(n)) for n in range(SEQ_BLOCK)]  # well past seq SEQ_BLOCK
    assert calls == []
    assert seqs[-1] == SEQ_BLOCK // 2 + 1 + SEQ_BLOCK
    monkeypatch.setattr(os, "fsync", real_fsync)
    spool.close()
    again = Spool(tmp_path)
    assert again.append("t", payload(0)) == seqs[-1] + 1  # a clean close stays gapless
    again.close()


def test_a_full_disk_fails_appends_cleanly_and_the_seq_reservation_is_retried(small_disk):
    """On a full disk an append raises OSError and leaves no torn line; the reservation of the
    next seq block is written again once there is space, so a seq is never issued without it
    (after a crash, seq must never repeat)."""
    folder = small_disk.path / "spool"
    code = f"""
import errno, os, sys
sys.path[:0] = {sys.path!r}
from emotion_device.spool import SEQ_BLOCK, Spool
from tests.device.conftest import SmallDisk
disk = SmallDisk(__import__("pathlib").Path({str(small_disk.path)!r}))
spool = Spool({str(folder)!r}, sync_interval=3600)
seqs = [spool.append("t", {{"n": n}}) for n in range(SEQ_BLOCK)]
disk.fill()
failures = 0
for n in range(50):  # the next seq needs a new reservation: its cursor cannot be written
    try:
        seqs.append(spool.append("t", {{"n": n}}))
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
        failures += 1
disk.free()
seqs.append(spool.append("t", {{"n": -1}}))
print(failures, seqs[-1], flush=True)
os._exit(0)  # a crash: no close()
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    failures, last = map(int, result.stdout.split())
    assert failures == 50 and last == SEQ_BLOCK + 1
    again = Spool(folder)
    assert stored(again)[-1] == last and len(stored(again)) == SEQ_BLOCK + 1  # nothing torn, nothing lost
    assert again.append("t", payload(0)) > last  # never repeats after the crash
    again.close()
