"""int8 vs float on real validation faces, the int8 side run by the device's own classifier.

A fine-tuned model may have a few dozen validation photos: there one disagreement moves the
agreement by several percent, so the check tops them up with real FER2013 faces. Agreement
compares the two networks' answers; it needs faces, not labels.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np

from emotion_device.classifier import EmotionClassifier
from emotion_device.preprocess import to_model_input
from emotion_train.metrics import classification_metrics

log = logging.getLogger(__name__)


def int8_scores(model_path: Path, faces: np.ndarray, chunk: int = 256) -> np.ndarray:
    classifier = EmotionClassifier(model_path, num_threads=2)
    return np.concatenate([classifier.scores(faces[i:i + chunk]) for i in range(0, len(faces), chunk)])


def parity_report(float_scores: np.ndarray, quant_scores: np.ndarray, y: np.ndarray,
                  labels: tuple[str, ...]) -> dict:
    float_m = classification_metrics(y, float_scores, labels)
    int8_m = classification_metrics(y, quant_scores, labels)
    # A dequantized tie is an int8 tie: the int8 model cannot rank its top two, and argmax
    # takes the first in card order. Counting them tells rounding at the output from real
    # quantization error.
    counts = agreement(float_scores, quant_scores)
    return {
        "float": float_m,
        "int8": int8_m,
        "int8_float_top1_agreement": counts["int8_float_top1_agreement"],
        "int8_float_disagreements": counts["int8_float_disagreements"],
        "int8_float_disagreements_int8_tied": counts["int8_float_disagreements_int8_tied"],
        "int8_accuracy_drop": round(float_m["accuracy"] - int8_m["accuracy"], 4),
        "max_abs_score_diff": round(float(np.abs(float_scores - quant_scores).max()), 4),
    }


def float_scores(model: keras.Model, faces: np.ndarray) -> np.ndarray:
    return model.predict(faces, batch_size=256, verbose=0)


def agreement(float_scores: np.ndarray, quant_scores: np.ndarray) -> dict:
    """Top-1 agreement, and the disagreements counted with how many of them are int8 ties."""
    disagree = float_scores.argmax(1) != quant_scores.argmax(1)
    top_two = np.sort(quant_scores, axis=1)[:, -2:]
    tied = top_two[:, 0] == top_two[:, 1]
    return {"faces": len(disagree), "int8_float_top1_agreement": round(float(np.mean(~disagree)), 4),
            "int8_float_disagreements": int(disagree.sum()),
            "int8_float_disagreements_int8_tied": int((disagree & tied).sum())}


def top_up_faces(archive: Path, count: int, seed: int) -> np.ndarray:
    """`count` seeded FER2013 faces [N,48,48] from an archive (no labels needed); none when
    count <= 0, or when the archive is absent (logged: the check then rests on fewer faces)."""
    if count <= 0:
        return np.zeros((0, 48, 48), np.uint8)
    if not Path(archive).is_file():
        log.warning("%s not found: the parity check uses the validation faces alone", archive)
        return np.zeros((0, 48, 48), np.uint8)
    with np.load(archive) as data:
        faces = data["x"]
        pick = np.sort(np.random.default_rng(seed).permutation(len(faces))[:count])
        return faces[pick]


def parity_check(float_val: np.ndarray, int8_val: np.ndarray, model: keras.Model, model_path: Path,
                 extra_faces: np.ndarray, min_agreement: float) -> dict:
    """int8-vs-float agreement on the validation faces plus `extra_faces`, against the threshold."""
    if len(extra_faces):
        inputs = to_model_input(extra_faces)
        float_val = np.concatenate([float_val, float_scores(model, inputs)])
        int8_val = np.concatenate([int8_val, int8_scores(model_path, inputs)])
    result = agreement(float_val, int8_val)
    return {**result, "min_agreement": min_agreement,
            "passed": bool(result["int8_float_top1_agreement"] >= min_agreement)}
