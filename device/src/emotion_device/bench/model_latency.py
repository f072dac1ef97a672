"""Per-face latency of a classifier: threads, int8 vs float32, batches, flip and ten-crop TTA, MAC/s.

Inputs are real-looking 48x48 crops (a face from a real photo when one is given), because
XNNPACK's int8 kernels do not care about content but a reader of the numbers does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from emotion_device.bench.timing import time_calls
from emotion_device.classifier import EmotionClassifier
from emotion_device.model_card import ModelCard
from emotion_device.runtime import make_interpreter
from emotion_device.tta import TTA_MODES, tta_views


@dataclass
class LatencyOptions:
    invokes: int = 1000
    warmup: int = 50
    threads: tuple[int, ...] = (1, 2)
    batch: int = 4


# Rows of a face classified as EmotionClassifier(tta=...) does: all its views in one invoke.
TTA_VARIANTS = {mode: f"int8 + {mode} TTA" for mode in TTA_MODES if mode != "off"}


def _interpreter_timer(path: Path, threads: int, faces: np.ndarray):
    """An invoke of one batch [B,48,48,1], its input already set: only the interpreter is timed."""
    interpreter, runtime = make_interpreter(path, threads)
    details = interpreter.get_input_details()[0]
    batch = len(faces)
    if batch != details["shape"][0]:
        interpreter.resize_tensor_input(details["index"], [batch, *details["shape"][1:]])
        interpreter.allocate_tensors()
        details = interpreter.get_input_details()[0]
    x = np.asarray(faces, dtype=np.float32)
    if details["dtype"] != np.float32:
        scale, zero_point = details["quantization"]
        info = np.iinfo(details["dtype"])
        x = np.clip(np.round(x / scale + zero_point), info.min, info.max).astype(details["dtype"])
    interpreter.set_tensor(details["index"], x)
    return interpreter.invoke, runtime


def _single_face_row(variant: str, threads: int, invoke, runtime, options: LatencyOptions,
                     macs: int | None) -> dict:
    """A row of latency per face; `macs` is the work of one timed invoke, for GMAC/s."""
    stats = time_calls(invoke, options.invokes, options.warmup)
    row = {"variant": variant, "threads": threads, "batch": 1, **stats,
           "runtime": f"{runtime.name} {runtime.version}"}
    if macs:
        row["gmac_per_s"] = round(macs / (stats["p50_ms"] / 1000) / 1e9, 2)
    return row


def bench_model(model_path: Path, face: np.ndarray, options: LatencyOptions,
                float_path: Path | None = None) -> dict:
    """Latency table rows for one bundled model (and its float32 twin when present)."""
    card = ModelCard.load(model_path.with_suffix(".json"))
    EmotionClassifier(model_path)  # verifies the card's sha256 before we report on the file
    macs = card.architecture.get("macs")
    result: dict[str, Any] = {"model": card.name, "file": model_path.name, "bytes": model_path.stat().st_size,
              "parameters": card.architecture.get("parameters"), "macs": macs, "rows": []}
    variants = [("int8", model_path)] + ([("float32", float_path)] if float_path else [])
    for kind, path in variants:
        for threads in options.threads:
            invoke, runtime = _interpreter_timer(path, threads, face[None])
            result["rows"].append(_single_face_row(kind, threads, invoke, runtime, options, macs))
        if kind == "int8":
            # With `tta` the classifier sends a face's views through one invoke (batch 2 or 10);
            # that invoke is the face's whole cost, so it is the per-face latency (not divided).
            for mode, variant in TTA_VARIANTS.items():
                views = np.concatenate(tta_views(face[None, :, :, 0], mode))[..., None]
                for threads in options.threads:
                    invoke, runtime = _interpreter_timer(path, threads, views)
                    result["rows"].append(_single_face_row(variant, threads, invoke, runtime, options,
                                                           len(views) * macs if macs else None))
        if options.batch > 1:
            invoke, runtime = _interpreter_timer(path, 1, np.repeat(face[None], options.batch, axis=0))
            stats = time_calls(invoke, max(100, options.invokes // options.batch), options.warmup)
            per_face = {k: round(v / options.batch, 3) for k, v in stats.items() if k.endswith("_ms")}
            result["rows"].append({"variant": kind, "threads": 1, "batch": options.batch,
                                   **per_face, "n": stats["n"],
                                   "runtime": f"{runtime.name} {runtime.version}"})
    return result


def bench_peer(path: Path, options: LatencyOptions) -> dict:
    """A third-party TFLite (the `fer` package's model), timed the same way on one thread."""
    interpreter, runtime = make_interpreter(path, 1)
    details = interpreter.get_input_details()[0]
    x = np.zeros(details["shape"], details["dtype"])
    interpreter.set_tensor(details["index"], x)
    stats = time_calls(interpreter.invoke, options.invokes, options.warmup)
    return {"model": path.name, "input": [int(v) for v in details["shape"]],
            "dtype": np.dtype(details["dtype"]).name, "threads": 1, **stats,
            "runtime": f"{runtime.name} {runtime.version}"}
