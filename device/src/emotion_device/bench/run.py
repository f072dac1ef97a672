"""Runs every benchmark in one process and one sitting, so ratios compare like with like."""

from __future__ import annotations

import logging
import resource
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from emotion_device.bench.detection import run_detection_check
from emotion_device.bench.model_latency import LatencyOptions, bench_model, bench_peer
from emotion_device.bench.pipeline_fps import PipelineSetting, bench_defaults_vs_peer, bench_pipeline
from emotion_device.bench.report import machine_info, pi_estimates, targets
from emotion_device.bench.resources import first_result, import_seconds
from emotion_device.classifier import EmotionClassifier
from emotion_device.detectors import create_detector
from emotion_device.images import read_image
from emotion_device.models import resolve_model
from emotion_device.preprocess import face_input, to_gray

log = logging.getLogger(__name__)


@dataclass
class BenchOptions:
    models: list[str] = field(default_factory=lambda: ["emotion5"])
    latency: LatencyOptions = field(default_factory=LatencyOptions)
    photo: Path | None = None  # a real photo with one face
    video: Path | None = None  # or the user's own clip
    float_dir: Path | None = None  # where <name>.float.tflite twins are
    peer: Path | None = None  # the `fer` package's emotion_model_quantized.tflite
    demo: Path | None = None  # ../shared/demo: the defaults-vs-fer clip and the detection check's scenes
    faces: Path | None = None  # FER2013 Training .npz: the faces the detection check pastes
    frames: int = 300
    detectors: tuple[str, ...] = ("haar", "blazeface")
    sizes: tuple[tuple[int, int], ...] = ((640, 480), (1280, 720))
    every_n: tuple[int, ...] = (1, 5)
    pipeline: bool = True


def _face_crop(model_path: Path, photo: np.ndarray | None) -> np.ndarray:
    """A real face as the model sees it, or mid-grey when no photo is given."""
    if photo is None:
        return np.full((48, 48, 1), 128, np.float32)
    found = create_detector("haar").detect(to_gray(photo))
    if not found:
        raise ValueError("the benchmark photo must contain a face Haar can find")
    card = EmotionClassifier(model_path).card
    return face_input(photo, max(found, key=lambda d: d.box.w).box, card.face_crop)


def _float_twin(model_path: Path, float_dir: Path | None) -> Path | None:
    for folder in (float_dir, model_path.parent):
        if folder is not None and (folder / f"{model_path.stem}.float.tflite").is_file():
            return folder / f"{model_path.stem}.float.tflite"
    return None


def run_bench(options: BenchOptions) -> dict:
    """Every number on one core, except the latency rows with threads > 1: OpenCV's own
    thread pool is limited to one thread so the pipeline figures are single-core too."""
    cv2.setNumThreads(1)
    photo = read_image(options.photo) if options.photo else None
    result: dict = {"schema": 1, "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "machine": machine_info(), "command": " ".join(["emotion-device", *sys.argv[1:]]),
                    "models": [], "pipeline": []}
    for name in options.models:
        path = resolve_model(name)
        twin = _float_twin(path, options.float_dir)
        if twin is None:
            log.info("no float32 twin of %s found; int8 only", path.name)
        log.info("timing %s (%d invokes per row)", path.name, options.latency.invokes)
        result["models"].append(bench_model(path, _face_crop(path, photo), options.latency, twin))
    if options.peer:
        result["peer"] = bench_peer(options.peer, options.latency)
    if options.pipeline and (photo is not None or options.video):
        classifier = EmotionClassifier(resolve_model(options.models[0]))
        for detector in options.detectors:
            try:
                create_detector(detector)
            except FileNotFoundError as exc:
                log.warning("skipping %s in the pipeline benchmark: %s", detector, exc)
                continue
            sizes = options.sizes if options.video is None else ((0, 0),)
            for size in sizes:
                for every_n in options.every_n:
                    setting = PipelineSetting(detector, size, every_n)
                    log.info("pipeline: %s", setting.label)
                    result["pipeline"].append(bench_pipeline(classifier, setting, options.frames,
                                                             photo, options.video))
    resources = {"import_s": import_seconds()}
    if options.photo:
        first = first_result(options.photo, options.models[0])
        resources["first_result_s"] = first.seconds
        if first.peak_rss_mb is not None:
            resources["peak_rss_mb"] = first.peak_rss_mb
    resources["bench_process_peak_rss_mb"] = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["resources"] = resources
    # After the resources: the detection check holds FER2013's faces in memory, which is not
    # the daemon's footprint.
    if options.demo and options.peer:
        log.info("the daemon's defaults and fer's pipeline on the demo clip")
        result["defaults_vs_peer"] = bench_defaults_vs_peer(options.demo, options.peer)
    if options.demo and options.faces:
        log.info("detection check: recall and precision per detector setting")
        result["detection"] = run_detection_check(options.demo, options.faces)
    macs = result["models"][0]["macs"] if result["models"] else None
    if macs:
        result["estimates"] = pi_estimates(macs)
    result["targets"] = targets(result)
    return result
