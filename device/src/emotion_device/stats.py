"""Run statistics for the stats topic, the log and systemd's STATUS line."""

from __future__ import annotations

import os
import resource
import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

STAGES = ("capture", "detect", "classify", "publish")


def rss_mb() -> float:
    """Current resident memory; falls back to the peak where /proc is missing."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


@dataclass
class RunStats:
    """Counters for the whole run, plus stage timings for the current stats interval."""

    frames: int = 0
    faces: int = 0
    failed_frames: int = 0
    dropped_frames: int = 0  # skipped to respect max_fps
    sink_errors: dict[str, int] = field(default_factory=dict)  # sink class -> calls that raised
    started: float = field(default_factory=time.monotonic)
    _interval_start: float = field(default_factory=time.monotonic)
    _interval_frames: int = 0
    _timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def record(self, stage: str, seconds: float) -> None:
        self._timings[stage].append(seconds * 1000)

    def frame_done(self, faces: int) -> None:
        self.frames += 1
        self._interval_frames += 1
        self.faces += faces

    @property
    def fps(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.frames / elapsed if elapsed > 0 else 0.0

    def snapshot(self, extra: dict | None = None) -> dict:
        """The numbers of the interval since the last snapshot; resets the interval."""
        now = time.monotonic()
        elapsed = now - self._interval_start
        stages = {}
        for stage in STAGES:
            values = self._timings.get(stage)
            if values:
                stages[stage] = {"mean_ms": round(float(np.mean(values)), 3),
                                 "p50_ms": round(float(np.percentile(values, 50)), 3),
                                 "p95_ms": round(float(np.percentile(values, 95)), 3)}
        data = {
            "uptime_s": round(now - self.started, 1),
            "fps": round(self._interval_frames / elapsed, 2) if elapsed > 0 else 0.0,
            "frames": self.frames,
            "faces": self.faces,
            "failed_frames": self.failed_frames,
            "dropped_frames": self.dropped_frames,
            "sink_errors": dict(self.sink_errors),
            "stage_ms": stages,
            "rss_mb": round(rss_mb(), 1),
            **(extra or {}),
        }
        self._interval_start, self._interval_frames = now, 0
        self._timings = defaultdict(list)
        return data
