"""Frames per second of the whole daemon loop, and milliseconds per stage.

The clip is a real photo framed as a camera of the given size would deliver it (or the
user's own video), played through the real Daemon: source -> detect -> preprocess ->
classify -> smoothing -> JSON-lines sink to /dev/null. Nothing is mocked.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_device.config import Config
from emotion_device.daemon import Daemon, LoopOptions
from emotion_device.detectors import create_detector
from emotion_device.face_tracks import FaceTracks
from emotion_device.images import letterbox
from emotion_device.pipeline import FacePipeline
from emotion_device.sinks import JsonLinesSink
from emotion_device.sources import VideoCaptureSource
from emotion_device.sources.base import Frame, FrameSource
from emotion_device.stats import rss_mb


class ClipSource:
    """A fixed frame played `frames` times, as a finite source."""

    live = False

    def __init__(self, image: np.ndarray, frames: int) -> None:
        self.name = f"clip {image.shape[1]}x{image.shape[0]}"
        self.image, self.frames, self.index = image, frames, 0

    def read(self) -> Frame | None:
        if self.index >= self.frames:
            return None
        self.index += 1
        return Frame(self.image, self.index, time.time(), self.name)

    def reopen(self) -> None:
        self.index = 0

    def close(self) -> None:
        pass


@dataclass
class PipelineSetting:
    detector: str
    size: tuple[int, int]
    every_n: int
    detect_width: int = 320  # Haar's lores detection; BlazeFace always sees 128x128

    @property
    def label(self) -> str:
        lores = f"@{self.detect_width}" if self.detector == "haar" else ""
        return f"{self.detector}{lores} {self.size[0]}x{self.size[1]} every {self.every_n}"


def bench_pipeline(classifier, setting: PipelineSetting, frames: int,
                   photo: np.ndarray | None = None, video: Path | None = None) -> dict:
    options = {"detect_width": setting.detect_width} if setting.detector == "haar" else {}
    pipeline = FacePipeline(create_detector(setting.detector, **options), classifier)
    source: FrameSource
    if video is not None:
        source = VideoCaptureSource(str(video), loop=True)
    elif photo is not None:
        source = ClipSource(letterbox(photo, setting.size), frames)
    else:
        raise ValueError("bench_pipeline needs a photo or a video")
    defaults = Config()
    tracks = FaceTracks(classifier.labels, defaults.tracking, defaults.smoothing, publish_interval=1.0)
    daemon = Daemon(source, pipeline, tracks, [JsonLinesSink(os.devnull)],
                    LoopOptions(every_n=setting.every_n, max_frames=frames, stats_interval=1e9))
    rss_before = rss_mb()
    started = time.perf_counter()
    daemon.run()
    elapsed = time.perf_counter() - started
    stats = daemon.last_stats
    return {"setting": setting.label, "detector": setting.detector, "width": setting.size[0],
            "height": setting.size[1], "every_n": setting.every_n, "frames": daemon.stats.frames,
            "faces_per_frame": round(daemon.stats.faces / max(1, daemon.stats.frames), 2),
            "fps": round(daemon.stats.frames / elapsed, 1), "stage_ms": stats.get("stage_ms", {}),
            "rss_growth_mb": round(rss_mb() - rss_before, 1)}
