"""int8 vs float on real validation faces, the int8 side run by the device's own classifier."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from emotion_device.classifier import EmotionClassifier
from emotion_train.metrics import classification_metrics


def int8_scores(model_path: Path, faces: np.ndarray, chunk: int = 256) -> np.ndarray:
    classifier = EmotionClassifier(model_path, num_threads=2)
    return np.concatenate([classifier.scores(faces[i:i + chunk]) for i in range(0, len(faces), chunk)])


def parity_report(float_scores: np.ndarray, quant_scores: np.ndarray, y: np.ndarray,
                  labels: tuple[str, ...]) -> dict:
    float_m = classification_metrics(y, float_scores, labels)
    int8_m = classification_metrics(y, quant_scores, labels)
    disagree = float_scores.argmax(1) != quant_scores.argmax(1)
    # A dequantized tie is an int8 tie: the int8 model cannot rank its top two, and argmax
    # takes the first in card order. Counting them tells rounding at the output from real
    # quantization error.
    top_two = np.sort(quant_scores, axis=1)[:, -2:]
    tied = top_two[:, 0] == top_two[:, 1]
    return {
        "float": float_m,
        "int8": int8_m,
        "int8_float_top1_agreement": round(float(np.mean(~disagree)), 4),
        "int8_float_disagreements": int(disagree.sum()),
        "int8_float_disagreements_int8_tied": int((disagree & tied).sum()),
        "int8_accuracy_drop": round(float_m["accuracy"] - int8_m["accuracy"], 4),
        "max_abs_score_diff": round(float(np.abs(float_scores - quant_scores).max()), 4),
    }


def float_scores(model: keras.Model, faces: np.ndarray) -> np.ndarray:
    return model.predict(faces, batch_size=256, verbose=0)
