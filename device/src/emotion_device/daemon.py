"""The run loop: source -> detect (every N) -> track -> classify -> smooth -> sinks.

The loop only composes the steps; each lives in its own module. Frames between detections
are held until the next detection says which faces were really there (FaceTracks). Time is
the frame's own: media time for a file, so a file gives the same records on any machine,
and the wall clock for a live source. It keeps running when a
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
from dataclasses import dataclass, field

import numpy as np

from emotion_device.events import Record, Records, face_body
from emotion_device.face import Detection, Face
from emotion_device.face_tracks import FaceTracks, Located, RoomState
from emotion_device.mqtt_client import default_device_id
from emotion_device.pipeline import FacePipeline
from emotion_device.preprocess import to_gray
from emotion_device.scene import SceneCutDetector
from emotion_device.sdnotify import SystemdNotifier
from emotion_device.sinks import Sink
from emotion_device.snapshots import SnapshotWriter
from emotion_device.sources import Frame, FrameSource
from emotion_device.stats import RunStats
from emotion_device.summary import SummaryWindow
from emotion_device.video import AnnotatedVideo

log = logging.getLogger(__name__)


def _detection_view(frame: Frame) -> tuple[np.ndarray, float]:
    """The gray image detection runs on (the source's own, e.g. picamera2's lores Y plane) and
    its scale to the full frame."""
    if frame.gray is not None:
        return frame.gray, frame.gray_scale
    return to_gray(frame.image), 1.0


@dataclass
class LoopOptions:
    every_n: int = 1  # detector cadence in processed frames
    max_frames: int | None = None
    max_fps: float = 0.0
    stats_interval: float = 60.0
    summary_interval: float = 60.0
    device_id: str = field(default_factory=default_device_id)

    @property
    def max_frame_gap(self) -> float:
        """The most time one frame stands for in a summary: a second, or two frames at max_fps."""
        return max(1.0, 2.0 / self.max_fps) if self.max_fps > 0 else 1.0


class Daemon:
    def __init__(self, source: FrameSource, pipeline: FacePipeline, tracks: FaceTracks,
                 sinks: list[Sink], options: LoopOptions | None = None,
                 notifier: SystemdNotifier | None = None, snapshots: SnapshotWriter | None = None,
                 video: AnnotatedVideo | None = None) -> None:
        self.source = source
        self.pipeline = pipeline
        self.tracks = tracks
        self.sinks = sinks
        self.options = options or LoopOptions()
        self.notifier = notifier or SystemdNotifier()
        self.snapshots = snapshots
        self.video = video
        self._video_frames: list[tuple[int, Frame]] = []  # processed, waiting for their detection
        self._video_faces: dict[int, list[Face]] = {}
        self.stats = RunStats()
        self.stop_reason: str | None = None
        self.records = Records(self.options.device_id)
        self.summary = SummaryWindow(pipeline.labels, self.options.summary_interval)
        self._gaps: dict[int, float] = {}  # processed frame -> the time it stands for
        self._clock: float | None = None  # the latest frame's time (media time for a file)
        self._last_processed: float | None = None
        self._last_read: float | None = None  # monotonic, for _pace
        self._last_stats = time.monotonic()
        self._last_state: RoomState | None = None
        self.scene = SceneCutDetector(tracks.tracker.options.scene_cut)
        self._phase = 0  # frames since the last detection, modulo every_n
        self._outage = False
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
    def _rate_limited(self, clock: float) -> bool:
        """max_fps, counted on the frame's own clock (media time for a file)."""
        if self.options.max_fps <= 0:
            return False
        last = self._last_processed
        period = 1.0 / self.options.max_fps
        # a thousandth of a period of slack: media positions like 0.30000000000000004 are on time
        if last is not None and 0 <= clock - last < period * 0.999:
            return True
        self._last_processed = clock
        return False

    def _source_down(self) -> None:
        """A live source delivered nothing: whoever was in view may be gone, so every face ends."""
        if self._outage:
            return
        self._outage = True
        try:
            self._settle()  # the frames held before the outage get their detection
        except Exception:
            log.exception("classifying the frames before the outage failed; they are not reported")
        self._new_scene()
        self._update_state(time.time())

    def _new_scene(self) -> None:
        self.tracks.end_all()
        self.scene.reset()
        self._phase = 0  # detect on the next frame

    def _pace(self) -> None:
        """Photos (an image file or folder, which have no media time) are read no faster than
        max_fps: wait for the next one's turn instead of reading them only to drop them. A
        video file's max_fps counts in its media time instead (_rate_limited), so its records
        do not depend on the machine; a live source is read at its own pace and the extra
        frames are dropped, so each one processed is fresh."""
        if self.options.max_fps <= 0 or not getattr(self.source, "stills", False) or self._last_read is None:
            return
        wait = self._last_read + 1.0 / self.options.max_fps - time.monotonic()
        if wait > 0:
            time.sleep(wait)

    def step(self) -> bool:
        """Process one frame; False when a finite source is exhausted."""
        self._pace()
        started = time.monotonic()
        frame = self.source.read()
        captured = self._last_read = time.monotonic()
        if frame is None:
            if not self.source.live:
                return False
            self._source_down()
            self._housekeeping(captured)
            return True
        self._outage = False
        if self._rate_limited(captured if self.source.live else frame.timestamp):
            if self.source.live:
                self.stats.dropped_frames += 1
            else:
                self.stats.skipped_frames += 1
            self._housekeeping(captured)
            return True
        self.stats.record("capture", captured - started)
        index = self.stats.frames
        if self.video is not None:
            self._video_frames.append((index, frame))
        if self._clock is not None:
            self._gaps[index] = min(max(frame.timestamp - self._clock, 0.0), self.options.max_frame_gap)
        self._clock = frame.timestamp
        detected = captured
        try:
            gray, gray_scale = _detection_view(frame)
            if getattr(self.source, "stills", False) or self.scene.is_cut(gray):
                self._settle()  # the frames before the cut get the detection they wait for
                self._new_scene()  # unrelated photos or a cut: no identity carries over
            run_detector = self._phase == 0
            self._phase = (self._phase + 1) % self.options.every_n
            if run_detector:
                detections = self.pipeline.detect(frame.image, gray, gray_scale)
                detected = time.monotonic()
                located, scores = self._classify(index, frame, detections)
            else:
                self.tracks.hold(index, frame)
            classified = time.monotonic()
        except Exception:
            self.stats.failed_frames += 1
            self.stats.frames += 1
            self.tracks.discard_held()  # without this detection nothing can confirm them
            log.exception("frame %d from %s failed; continuing", frame.index, frame.origin)
            return True
        if run_detector:
            self.stats.record("detect", detected - captured)
            self.stats.record("classify", classified - detected)
            self._report(located, scores, frame.timestamp)
        published = time.monotonic()
        self.stats.record("publish", published - classified)
        self.stats.frame_done()
        if not self._ready:
            self._ready = True
            self.notifier.ready(f"first frame from {self.source.name}")
        self._housekeeping(published)
        return True

    def _classify(self, index: int, frame: Frame,
                  detections: list[Detection]) -> tuple[list[Located], np.ndarray]:
        """Confirm tracks with this frame's detections and classify every face that confirms."""
        located = self.tracks.confirm(index, frame, detections)
        scores = self.pipeline.classify_crops(
            [(held.frame.image, box) for held in located for _, box in held.faces])
        return located, scores

    def _report(self, located: list[Located], scores: np.ndarray, timestamp: float) -> None:
        row = 0
        for held in located:
            faces = self.tracks.observe(held.faces, scores[row:row + len(held.faces)])
            row += len(held.faces)
            self._publish_faces(held.frame, faces)
            self._summaries(self.summary.add(held.frame.timestamp, faces, self._gaps.pop(held.index, 0.0)))
            if self.video is not None:
                self._video_faces[held.index] = faces
        self._gaps = {i: gap for i, gap in self._gaps.items() if i > located[-1].index}
        self._write_video(located[-1].index)
        self._update_state(timestamp)
        self._summaries(self.summary.tick(timestamp))

    def _settle(self) -> None:
        """Run the detector on the last held frame, so that the frames held before a scene cut
        or the end of the run are confirmed or dropped by a detection of their own scene."""
        last = self.tracks.pop_last_held()
        if last is None:
            return
        index, frame = last
        gray, gray_scale = _detection_view(frame)
        located, scores = self._classify(index, frame, self.pipeline.detect(frame.image, gray, gray_scale))
        self._report(located, scores, frame.timestamp)

    def _settle_at_stop(self) -> None:
        try:
            self._settle()
        except Exception:
            log.exception("classifying the last held frames failed; they are not reported")
        if self._clock is not None:
            self._summaries(self.summary.finish(self._now()))
        if self.video is not None:
            self._write_video(None)
            self.video.close()

    def _write_video(self, upto: int | None) -> None:
        """Hand the annotated video every frame up to `upto` (None: all), now that the
        detections that confirm or drop their faces have run."""
        if self.video is None:
            return
        while self._video_frames and (upto is None or self._video_frames[0][0] <= upto):
            index, frame = self._video_frames.pop(0)
            self.video.add(frame.image, self._video_faces.pop(index, []))

    def _publish_faces(self, frame: Frame, faces: list[Face]) -> None:
        self.stats.add_faces(len(faces))
        for number, face in enumerate(faces):
            if self.tracks.due(face, frame.timestamp):
                body = face_body(frame.index, frame.origin, number, face)
                record = self._emit("face", frame.timestamp, body)
                if self.snapshots is not None:
                    self.snapshots.save(frame.image, face, record.seq)

    def _update_state(self, timestamp: float, again: bool = False) -> None:
        """A state record when the room changed, or `again` (a keep-alive with its own seq)."""
        state = self.tracks.state()
        if state != self._last_state or again:
            self._last_state = state
            self._emit("state", timestamp, state.to_dict())

    def _summaries(self, bodies: list[dict]) -> None:
        """Write closed summary windows, each followed by a fresh state: a room that does not
        change still says so every summary_interval (Home Assistant's expire_after)."""
        for body in bodies:
            start = body.pop("start")
            self._emit("summary", start, body)
        if bodies:
            self._update_state(self._now(), again=True)

    def _now(self) -> float:
        """The time on the source's clock: the wall clock, or the latest frame's media time."""
        if self.source.live or self._clock is None:
            return time.time()
        return self._clock

    def _emit(self, kind: str, ts: float, body: dict) -> Record:
        record = self.records.make(kind, ts, body)
        self._to_sinks("write", lambda sink: sink.write(record))
        return record

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
        if self.source.live:  # an empty room or a dead camera still closes its windows
            self._summaries(self.summary.tick(time.time()))

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
        self._emit("stats", self._now(), data)
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
            cleanup.callback(self._settle_at_stop)
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
