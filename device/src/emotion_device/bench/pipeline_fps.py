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

from emotion_device.assemble import build_pipeline
from emotion_device.bench.peer_pipeline import PeerPipeline
from emotion_device.config import Config
from emotion_device.daemon import Daemon, LoopOptions
from emotion_device.detectors import create_detector
from emotion_device.face_tracks import FaceTracks
from emotion_device.images import letterbox, read_image
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
    detect_width: int = 320  # Haar's lores detection; BlazeFace (full-range) always sees 192x192

    @property
    def label(self) -> str:
        variant = f"@{self.detect_width}" if self.detector == "haar" else " full"
        return f"{self.detector}{variant} {self.size[0]}x{self.size[1]} every {self.every_n}"


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


DEMO_CLIP = ("angry.jpg", "neutral.jpeg", "surprised.jpeg", "happy-baby.jpeg", "sad-baby.jpeg", "group.jpeg")
CLIP_FPS = 30.0


class FramesSource:
    """A finite list of frames played once, with media time at CLIP_FPS (a file's clock)."""

    live = False

    def __init__(self, frames: list[np.ndarray], name: str) -> None:
        self.name, self.frames, self.index = name, frames, 0

    def read(self) -> Frame | None:
        if self.index >= len(self.frames):
            return None
        frame = Frame(self.frames[self.index], self.index, self.index / CLIP_FPS, self.name)
        self.index += 1
        return frame

    def reopen(self) -> None:
        self.index = 0

    def close(self) -> None:
        pass


def demo_clip(demo: Path, frames_per_photo: int, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """The six demo photos, each framed as a 640x480 camera would and held for a while."""
    frames = []
    for name in DEMO_CLIP:
        frame = letterbox(read_image(demo / name), size)
        frames += [frame] * frames_per_photo
    return frames


def _run_defaults(config: Config, frames: list[np.ndarray]) -> tuple[float, int]:
    """fps and faces found by the daemon at `config` (its detector, cadence and model)."""
    pipeline = build_pipeline(config)
    tracks = FaceTracks(pipeline.labels, config.tracking, config.smoothing, config.output.publish_interval)
    daemon = Daemon(FramesSource(frames, "demo clip"), pipeline, tracks, [JsonLinesSink(os.devnull)],
                    LoopOptions(every_n=config.detector.every_n, stats_interval=1e9))
    started = time.perf_counter()
    daemon.run()
    return len(frames) / (time.perf_counter() - started), daemon.stats.faces


def _run_peer(peer: PeerPipeline, frames: list[np.ndarray]) -> tuple[float, int]:
    started = time.perf_counter()
    faces = sum(peer.process(frame) for frame in frames)
    return len(frames) / (time.perf_counter() - started), faces


def bench_defaults_vs_peer(demo: Path, peer_model: Path, frames_per_photo: int = 30,
                           rounds: int = 3) -> dict:
    """The daemon at its default configuration and fer's pipeline on the same 640x480 demo clip,
    alternating, `rounds` times each; the median fps of each and the faces each found."""
    frames = demo_clip(demo, frames_per_photo)
    config = Config()
    peer = PeerPipeline(peer_model)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(_run_defaults(config, frames))
        theirs.append(_run_peer(peer, frames))
    ours_fps, theirs_fps = float(np.median([r[0] for r in ours])), float(np.median([r[0] for r in theirs]))
    detector = config.detector
    return {
        "clip": f"{len(DEMO_CLIP)} demo photos x {frames_per_photo} frames, 640x480",
        "frames": len(frames), "rounds": rounds,
        "defaults": {"setting": f"{detector.name} every {detector.every_n} ({config.model.name})",
                     "fps": round(ours_fps, 1), "faces_per_frame": round(ours[-1][1] / len(frames), 3)},
        "peer": {"setting": "fer 25.10.3: haar 1.1/5/50, its model per face",
                 "fps": round(theirs_fps, 1), "faces_per_frame": round(theirs[-1][1] / len(frames), 3)},
        "fps_ratio": round(ours_fps / theirs_fps, 2),
    }
