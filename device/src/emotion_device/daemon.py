"""The run loop: source -> pipeline -> events -> sinks, until the source ends or a signal arrives.

The loop itself only composes the steps; detection, classification and output each live in
their own module. SIGINT and SIGTERM finish the frame in hand, flush every sink and return.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field

from emotion_device.events import FaceEvent
from emotion_device.pipeline import FacePipeline
from emotion_device.sinks import Sink
from emotion_device.sources import FrameSource

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    frames: int = 0
    faces: int = 0
    failed_frames: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def fps(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0


class Daemon:
    def __init__(self, source: FrameSource, pipeline: FacePipeline, sinks: list[Sink],
                 max_frames: int | None = None) -> None:
        self.source = source
        self.pipeline = pipeline
        self.sinks = sinks
        self.max_frames = max_frames
        self.stats = RunStats()
        self._seq = 0
        self._stop_reason: str | None = None

    def request_stop(self, signum: int, _frame=None) -> None:
        self._stop_reason = signal.Signals(signum).name
        log.info("received %s, stopping after this frame", self._stop_reason)

    def _emit(self, event: FaceEvent) -> None:
        for sink in self.sinks:
            sink.write(event)

    def step(self) -> bool:
        """Process one frame; False when the source is exhausted."""
        frame = self.source.read()
        if frame is None:
            return False
        self.stats.frames += 1
        try:
            faces = self.pipeline.process(frame.image)
        except Exception:
            self.stats.failed_frames += 1
            log.exception("frame %d from %s failed; continuing", frame.index, frame.origin)
            return True
        for index, face in enumerate(faces):
            self._seq += 1
            self._emit(FaceEvent(self._seq, frame.timestamp, frame.index, frame.origin, index, face))
        self.stats.faces += len(faces)
        return True

    def run(self) -> RunStats:
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            while self._stop_reason is None:
                if self.max_frames is not None and self.stats.frames >= self.max_frames:
                    self._stop_reason = "max-frames"
                    break
                if not self.step():
                    self._stop_reason = "end of source"
                    break
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            for sink in self.sinks:
                sink.close()
            self.source.close()
        log.info("stopped (%s): %d frames, %d faces, %d failed, %.1f fps",
                 self._stop_reason, self.stats.frames, self.stats.faces,
                 self.stats.failed_frames, self.stats.fps)
        return self.stats
