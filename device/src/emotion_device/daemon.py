"""The run loop: source -> detect (every N) -> track -> classify -> smooth -> sinks.

The loop only composes the steps; each lives in its own module. It keeps running when a
frame fails or a live source drops (the source reopens itself), pings the systemd watchdog
from every iteration, and on SIGTERM/SIGINT finishes the frame in hand, flushes every sink
and returns. SIGHUP reopens log files.

A sink that raises (a bug, a disk that went away) is logged, counted in stats as
`sink_errors`, and skipped for that record; the other sinks still get it. The daemon owns its
source, sinks and notifier: run() closes every one of them, even when one close raises.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from emotion_device.events import FaceEvent
from emotion_device.face_tracks import FaceTracks, RoomState
from emotion_device.pipeline import FacePipeline
from emotion_device.sdnotify import SystemdNotifier
from emotion_device.sinks import Sink
from emotion_device.snapshots import SnapshotWriter
from emotion_device.sources import FrameSource
from emotion_device.stats import RunStats

log = logging.getLogger(__name__)


@dataclass
class LoopOptions:
    every_n: int = 1  # detector cadence in processed frames
    max_frames: int | None = None
    max_fps: float = 0.0
    stats_interval: float = 60.0


class Daemon:
    def __init__(self, source: FrameSource, pipeline: FacePipeline, tracks: FaceTracks,
                 sinks: list[Sink], options: LoopOptions | None = None,
                 notifier: SystemdNotifier | None = None, snapshots: SnapshotWriter | None = None) -> None:
        self.source = source
        self.pipeline = pipeline
        self.tracks = tracks
        self.sinks = sinks
        self.options = options or LoopOptions()
        self.notifier = notifier or SystemdNotifier()
        self.snapshots = snapshots
        self.stats = RunStats()
        self.stop_reason: str | None = None
        self._seq = 0
        self._last_processed = 0.0
        self._last_stats = time.monotonic()
        self._last_state: RoomState | None = None
        self._reopen_requested = False
        self._ready = False
        self._sink_failures: set[tuple[str, str, str]] = set()  # (sink, action, error) already logged
        self.last_stats: dict = {}

    # signals ---------------------------------------------------------------------------
    def request_stop(self, signum: int, _frame=None) -> None:
        self.stop_reason = signal.Signals(signum).name
        log.info("received %s, stopping after this frame", self.stop_reason)

    def request_reopen(self, _signum: int, _frame=None) -> None:
        self._reopen_requested = True

    # one iteration ---------------------------------------------------------------------
    def _rate_limited(self, now: float) -> bool:
        if self.options.max_fps <= 0:
            return False
        if now - self._last_processed < 1.0 / self.options.max_fps:
            return True
        self._last_processed = now
        return False

    def step(self) -> bool:
        """Process one frame; False when a finite source is exhausted."""
        started = time.monotonic()
        frame = self.source.read()
        captured = time.monotonic()
        if frame is None:
            if not self.source.live:
                return False
            self._housekeeping(captured)
            return True
        if self._rate_limited(captured):
            self.stats.dropped_frames += 1
            self._housekeeping(captured)
            return True
        self.stats.record("capture", captured - started)
        index = self.stats.frames
        try:
            if getattr(self.source, "stills", False):
                self.tracks.reset()  # unrelated photos: no identity carries over
            run_detector = index % self.options.every_n == 0
            detections = (self.pipeline.detect(frame.image, frame.gray, frame.gray_scale)
                          if run_detector else None)
            detected = time.monotonic()
            located = self.tracks.locate(index, detections)
            scores = self.pipeline.classify(frame.image, [box for _, box in located])
            faces = self.tracks.observe(located, scores)
            classified = time.monotonic()
        except Exception:
            self.stats.failed_frames += 1
            self.stats.frames += 1
            log.exception("frame %d from %s failed; continuing", frame.index, frame.origin)
            return True
        if run_detector:
            self.stats.record("detect", detected - captured)
        self.stats.record("classify", classified - detected)

        for number, face in enumerate(faces):
            if self.tracks.due(face, classified):
                self._seq += 1
                self._emit(FaceEvent(self._seq, frame.timestamp, frame.index, frame.origin, number, face))
                if self.snapshots is not None:
                    self.snapshots.save(frame.image, face, self._seq)
        state = self.tracks.state()
        if state != self._last_state:
            self._last_state = state
            payload = {"ts": round(frame.timestamp, 3), **state.to_dict()}
            self._to_sinks("write_state", lambda sink: sink.write_state(payload))
        published = time.monotonic()
        self.stats.record("publish", published - classified)
        self.stats.frame_done(len(faces))
        if not self._ready:
            self._ready = True
            self.notifier.ready(f"first frame from {self.source.name}")
        self._housekeeping(published)
        return True

    def _emit(self, event: FaceEvent) -> None:
        self._to_sinks("write", lambda sink: sink.write(event))

    def _to_sinks(self, action: str, call: Callable[[Sink], object]) -> None:
        """Give every sink the record; one that raises does not keep it from the others."""
        for sink in self.sinks:
            try:
                call(sink)
            except BrokenPipeError:
                raise  # JSON lines on stdout and the reader left (`run | head`): stop
            except Exception as exc:
                self._sink_failed(sink, action, exc)

    def _sink_failed(self, sink: Sink, action: str, exc: Exception) -> None:
        name = type(sink).__name__
        self.stats.sink_errors[name] = self.stats.sink_errors.get(name, 0) + 1
        key = (name, action, f"{type(exc).__name__}: {exc}")
        if key in self._sink_failures:
            log.debug("%s.%s failed again: %s", *key)
            return
        self._sink_failures.add(key)
        log.error("%s.%s failed; the other sinks carry on (counted in stats as sink_errors)",
                  name, action, exc_info=exc)

    def _housekeeping(self, now: float) -> None:
        self.notifier.watchdog()
        if self._reopen_requested:
            self._reopen_requested = False
            self._to_sinks("reopen", lambda sink: sink.reopen())
            log.info("reopened log files (SIGHUP)")
        if now - self._last_stats >= self.options.stats_interval:
            self._last_stats = now
            self.publish_stats()

    def source_status(self) -> str:
        down_since = getattr(self.source, "down_since", None)
        return "ok" if down_since is None else f"down for {time.monotonic() - down_since:.0f} s"

    def publish_stats(self) -> dict:
        extra = {"source": self.source_status(),
                 "source_failures": getattr(self.source, "failures", 0)}
        for sink in self.sinks:
            try:
                extra.update(getattr(sink, "stats", lambda: {})())
            except Exception as exc:
                self._sink_failed(sink, "stats", exc)
        data = self.stats.snapshot(extra)
        self.last_stats = data
        self._to_sinks("write_stats", lambda sink: sink.write_stats(data))
        faces = self._last_state.faces if self._last_state else 0
        self.notifier.status(f"{data['fps']:.1f} fps, {faces} faces, source {data['source']}")
        log.info("stats: %s", data)
        return data

    # the loop --------------------------------------------------------------------------
    def _close_sink(self, sink: Sink) -> None:
        try:
            sink.close()
        except Exception as exc:
            self._sink_failed(sink, "close", exc)

    @staticmethod
    def _restore_signals(previous: dict) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def run(self) -> RunStats:
        handlers = {signal.SIGINT: self.request_stop, signal.SIGTERM: self.request_stop,
                    signal.SIGHUP: self.request_reopen}
        previous = {s: signal.signal(s, h) for s, h in handlers.items()}
        # Unwound in reverse: final stats, each sink, the source, the notifier, the signal
        # handlers. Every step runs even when an earlier one raises.
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(self._restore_signals, previous)
            cleanup.callback(self.notifier.close)
            cleanup.callback(self.source.close)
            for sink in self.sinks:
                cleanup.callback(self._close_sink, sink)
            cleanup.callback(self.publish_stats)
            cleanup.callback(self.notifier.stopping)
            while self.stop_reason is None:
                if self.options.max_frames is not None and self.stats.frames >= self.options.max_frames:
                    self.stop_reason = "max-frames"
                    break
                if not self.step():
                    self.stop_reason = "end of source"
                    break
        log.info("stopped (%s): %d frames, %d faces, %d failed, %.1f fps", self.stop_reason,
                 self.stats.frames, self.stats.faces, self.stats.failed_frames, self.stats.fps)
        return self.stats
