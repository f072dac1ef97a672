"""Full-integer int8 post-training quantization with a representative set of real faces.

Everything, input and output included, is int8, so the device runs no float kernels and
feeds raw pixels quantized with the input tensor's own scale (about 1.0, zero point -128).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

log = logging.getLogger(__name__)


def representative_indices(total: int, count: int, seed: int) -> np.ndarray:
    """Which of `total` faces calibrate: a random, seeded, sorted sample of `count`."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(total, size=min(count, total), replace=False))


def representative_faces(faces: np.ndarray, count: int, seed: int) -> np.ndarray:
    """A random, seeded sample of model inputs [count,48,48,1] for calibration."""
    return faces[representative_indices(len(faces), count, seed)]


def convert_int8(model: keras.Model, calibration: np.ndarray) -> bytes:
    """`model` (Keras 3, or a quantization-aware tf_keras model: see `qat`) as full-integer int8."""
    def samples():
        for face in calibration:
            yield [face[None].astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = samples
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return _run(converter)


def convert_float(model: keras.Model) -> bytes:
    """The float32 TFLite of the same network, for int8-vs-float benchmarks."""
    return _run(tf.lite.TFLiteConverter.from_keras_model(model))


def _run(converter: tf.lite.TFLiteConverter) -> bytes:
    """Keras' export prints the whole saved signature to stdout; keep it in the debug log."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        result = converter.convert()
    log.debug("%s", captured.getvalue())
    return result


def save_float_keras(model: keras.Model, path: Path) -> Path:
    """Save the float model; loaded with compile=False it carries no optimizer state (a third
    of the size)."""
    if getattr(model, "optimizer", None) is not None:
        raise ValueError("load the model with compile=False so its optimizer state is not saved")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def holds_same_network(path: Path, model: keras.Model) -> bool:
    """Whether `path` is a saved model with `model`'s layers and weights. A .keras file records
    when it was saved, so saving the same network again changes its bytes (and its sha256)."""
    if not path.is_file():
        return False
    saved = keras.models.load_model(path, compile=False)
    # Compared as JSON, as the file stores it: a built model says (48, 48, 1), a loaded one [48, 48, 1].
    return (json.dumps(saved.get_config(), sort_keys=True) == json.dumps(model.get_config(), sort_keys=True)
            and len(saved.weights) == len(model.weights)
            and all(np.array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
                    for a, b in zip(saved.weights, model.weights, strict=True)))


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    log.info("wrote %s (%.1f KB)", path, len(data) / 1024)
    return path
