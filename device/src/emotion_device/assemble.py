"""Turns a validated Config into the running objects; the only place that knows them all.

Whatever is opened before a later part fails (the camera, a log file, when the MQTT spool
folder is unusable) is closed again before the error leaves, so a failed start leaks nothing.
"""

from __future__ import annotations

import contextlib
import logging

from emotion_device.classifier import EmotionClassifier
from emotion_device.config import Config
from emotion_device.daemon import Daemon, LoopOptions
from emotion_device.detectors import create_detector
from emotion_device.face_tracks import FaceTracks
from emotion_device.models import resolve_model
from emotion_device.pipeline import FacePipeline
from emotion_device.sinks import JsonLinesSink, MqttSink, Sink
from emotion_device.snapshots import SnapshotWriter
from emotion_device.sources import FrameSource, open_source, parse_start_time
from emotion_device.video import AnnotatedVideo

log = logging.getLogger(__name__)


def build_pipeline(config: Config) -> FacePipeline:
    classifier = EmotionClassifier(resolve_model(config.model.name), num_threads=config.model.threads,
                                   tta=config.model.tta)
    log.info("model %s (%s) on %s %s%s", classifier.card.name, ", ".join(classifier.labels),
             classifier.runtime.name, classifier.runtime.version,
             f", {classifier.tta} TTA on" if classifier.tta != "off" else "")
    detector = create_detector(config.detector.name, config.detector.options())
    return FacePipeline(detector, classifier)


def build_sinks(config: Config, labels: list[str], model: str = "emotion-edge") -> list[Sink]:
    """The configured sinks; the caller closes them. When one cannot be made, the ones made
    before it are closed and the error is raised."""
    out = config.output
    sinks: list[Sink] = []
    with contextlib.ExitStack() as opened:
        if out.jsonl:
            jsonl = JsonLinesSink(out.jsonl, out.jsonl_max_bytes, out.jsonl_backups)
            opened.callback(jsonl.close)
            sinks.append(jsonl)
        if config.mqtt.enabled:
            mqtt = MqttSink(config.mqtt, config.device.id, labels=labels, model=model)
            opened.callback(mqtt.close)
            sinks.append(mqtt)
        opened.pop_all()  # success: the sinks now belong to the caller
    return sinks


def _video_fps(source: FrameSource, max_fps: float) -> float:
    """The annotated video's rate: max_fps when set, one picture a second for photos, a
    file's own rate, else 10."""
    if max_fps > 0:
        return max_fps
    if getattr(source, "stills", False):
        return 1.0
    return getattr(source, "fps", 0.0) or 10.0


def build_daemon(config: Config, max_frames: int | None = None,
                 annotate_video: str | None = None) -> Daemon:
    """A daemon that owns its source and sinks (Daemon.run closes them). `annotate_video`
    names a file for `run --annotate-video` (faces reach the disk: opt-in only)."""
    pipeline = build_pipeline(config)
    src = config.source
    tracks = FaceTracks(pipeline.labels, config.tracking, config.smoothing, config.output.publish_interval)
    options = LoopOptions(every_n=config.detector.every_n, max_frames=max_frames,
                          max_fps=config.source.max_fps, stats_interval=config.output.stats_interval,
                          summary_interval=config.output.summary_interval, device_id=config.device.id)
    with contextlib.ExitStack() as opened:
        source = open_source(src.uri, loop=src.loop, size=(src.width, src.height),
                             lores_width=src.lores_width, reopen_max_delay=src.reopen_max_delay,
                             camera_num=src.camera_num, start_time=parse_start_time(src.start_time))
        opened.callback(source.close)
        snapshots = None
        if config.privacy.debug_snapshots:
            snapshots = SnapshotWriter(config.privacy.snapshot_dir, pipeline.crop_spec)
        video = None
        if annotate_video:
            video = AnnotatedVideo(annotate_video, _video_fps(source, config.source.max_fps))
        sinks = build_sinks(config, pipeline.labels, pipeline.classifier.card.name)
        opened.pop_all()
    return Daemon(source, pipeline, tracks, sinks, options, snapshots=snapshots, video=video)
