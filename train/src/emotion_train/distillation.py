"""Knowledge distillation with cached teacher scores: a large model (or an ensemble) that is
trained here but never shipped lends its soft answers to the small int8 student.

The teachers score every training face once, at the start, with flip averaging; each face's
target becomes `(1 - weight) * its label + weight * the teachers' mean scores`. Cached scores
cost one forward pass per teacher instead of one per step, which is what makes a wide teacher
affordable on two CPU cores. The validation split keeps its own labels, so selection still
measures the student against the truth.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from emotion_train.evaluate import load_predictor
from emotion_train.fer2013 import FaceDataset

log = logging.getLogger(__name__)


def teacher_scores(teachers: Sequence[str | Path], faces: np.ndarray, labels: tuple[str, ...]) -> np.ndarray:
    """Mean flip-averaged scores of the teachers on `faces`, in `labels` order.

    A teacher with more classes than the student (ferplus8 teaching emotion5) is restricted to
    the student's classes and renormalized: its probability of each class given one of them.
    """
    total = np.zeros((len(faces), len(labels)), dtype=np.float64)
    for path in teachers:
        predictor = load_predictor(Path(path), tta="flip")
        own = predictor.info.labels
        if own is None:
            raise ValueError(f"teacher {path}: no run.json or model card says which labels it answers")
        missing = [label for label in labels if label not in own]
        if missing:
            raise ValueError(f"teacher {path} has no class for {missing}; its labels are {list(own)}")
        scores = predictor.predict(faces)[:, [own.index(label) for label in labels]]
        total += scores / scores.sum(axis=1, keepdims=True)
        log.info("teacher %s scored %d faces", path, len(faces))
    return (total / len(teachers)).astype(np.float32)


def distilled(data: FaceDataset, teachers: Sequence[str | Path], weight: float) -> FaceDataset:
    """`data` with its targets blended with the teachers' scores (hard labels `y` unchanged)."""
    if not 0 < weight <= 1:
        raise ValueError(f"distillation weight must be in (0, 1], got {weight}")
    soft = teacher_scores(teachers, data.x, data.labels)
    agreement = float(np.mean(soft.argmax(axis=1) == data.y))
    log.info("teachers agree with the training labels on %.1f%% of %d faces", 100 * agreement, len(data))
    return replace(data, targets=((1 - weight) * data.targets + weight * soft).astype(np.float32))
