"""What a stretch of time looked like: face-seconds per expression, faces seen, faces in view.

Windows are `interval` seconds long and aligned to multiples of it on the frame clock (whole
minutes of the wall clock for a camera, of media time for a file), so summaries from several
devices or runs line up. Each reported frame credits each face in it with the time since the
previous frame, under its smoothed label; the daemon caps that time, so a face seen once
after a long pause is not credited with the pause. A window closes when a frame from a later window
is reported, or when the clock passes its end (`tick`), so an empty room still gets its zero.
"""

from __future__ import annotations

import math
from collections import defaultdict

from emotion_device.face import Face

MAX_EMPTY_WINDOWS = 60


class SummaryWindow:
    def __init__(self, labels: list[str], interval: float) -> None:
        self.labels = labels
        self.interval = interval
        self._start: float | None = None
        self._reset()

    def _reset(self) -> None:
        self._face_seconds: defaultdict[str, float] = defaultdict(float)
        self._faces: set[int] = set()
        self._max_faces = 0

    def _window_of(self, ts: float) -> float:
        return math.floor(ts / self.interval) * self.interval

    def add(self, ts: float, faces: list[Face], seconds: float) -> list[dict]:
        """Credit each face of one reported frame with the `seconds` that frame stands for;
        returns the bodies of the windows this frame closed."""
        closed = self.tick(ts)
        if self._start is None:
            self._start = self._window_of(ts)
        for face in faces:
            self._face_seconds[face.smoothed_label or face.label] += seconds
            if face.face_id is not None:
                self._faces.add(face.face_id)
        self._max_faces = max(self._max_faces, len(faces))
        return closed

    def tick(self, now: float) -> list[dict]:
        """Close every window that ended before `now`; empty ones in between say so, up to
        MAX_EMPTY_WINDOWS of them (an hour at 60 s). After a longer gap (a long outage, a
        clock that jumped) the next window starts at `now`'s, and the gap has no records."""
        closed: list[dict] = []
        while self._start is not None and now >= self._start + self.interval:
            if len(closed) > MAX_EMPTY_WINDOWS:
                self._start = self._window_of(now)
                break
            closed.append(self._body(self._start, self.interval))
            self._start += self.interval
            self._reset()
        return closed

    def finish(self, now: float) -> list[dict]:
        """At the end of the run: every closed window, then the partial last one."""
        closed = self.tick(now)
        if self._start is not None and now > self._start:
            closed.append(self._body(self._start, now - self._start))
            self._start = None
        return closed

    def _body(self, start: float, length: float) -> dict:
        total = sum(self._face_seconds.values())
        return {
            "start": round(start, 3),
            "interval_s": round(length, 3),
            "face_seconds": {label: round(self._face_seconds[label], 3) for label in self.labels},
            "share": {label: round(100 * self._face_seconds[label] / total, 1) if total else 0.0
                      for label in self.labels},  # percent of the face-seconds
            "distinct_faces": len(self._faces),
            "mean_faces": round(total / length, 3) if length > 0 else 0.0,
            "max_faces": self._max_faces,
        }
