"""The validation split carved out of the training data: where every choice is made.

PublicTest is the number a model is reported by, so it must not also pick the epoch, the
lever or the test-time augmentation. A seeded, stratified slice of Training does that
instead. The split is a pure function of (labels, fraction, seed), and its fingerprint (a
hash of the held-out row indices) goes into the run record and the model card, so anyone
can check which faces a shipped model was selected on.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from emotion_train.fer2013 import FaceDataset


@dataclass(frozen=True)
class SplitRecord:
    """What the run record and the card say about the split (enough to rebuild it)."""

    source: str
    fraction: float
    seed: int
    train_faces: int
    val_faces: int
    val_rows_sha256: str  # sha256 of the held-out source-file rows (before label filtering), int64

    def to_dict(self) -> dict:
        return asdict(self)


def check_fraction(fraction: float) -> None:
    if not 0 < fraction < 1:
        raise ValueError(f"the validation fraction must be between 0 and 1, not {fraction}")


def stratified_holdout(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out): round(fraction * n_c) of each class c, drawn with `seed`.

    Every class with at least two faces keeps one on each side, so rare classes (disgust,
    contempt, or a user's smallest folder) are scored on the validation split too. The one
    stratified split of the project: training runs, fine-tuning and the study all use it.
    """
    check_fraction(fraction)
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        count = round(fraction * len(members))
        if len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        held.append(members[:count])
    held_out = np.sort(np.concatenate(held)) if held else np.zeros(0, dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(y)), held_out)
    return kept, held_out


def carve_validation(data: FaceDataset, strata: np.ndarray, fraction: float,
                     seed: int) -> tuple[FaceDataset, FaceDataset, SplitRecord]:
    """Split `data` into (train, validation) and describe the split.

    `strata` holds one label per row of the source file (`data.rows` index it), so the
    held-out rows depend on the file, the fraction and the seed alone, not on the label set
    or label source. A FER2013-label run warm-started from a FER+ run therefore selects on
    exactly the faces its starting network never trained on.
    """
    _, held_rows = stratified_holdout(strata, fraction, seed)
    held = np.isin(data.rows, held_rows)
    val = data.subset(np.flatnonzero(held))
    digest = hashlib.sha256(np.sort(held_rows).astype(np.int64).tobytes()).hexdigest()
    record = SplitRecord(source=data.source, fraction=fraction, seed=seed, train_faces=int((~held).sum()),
                         val_faces=len(val), val_rows_sha256=digest)
    return data.subset(np.flatnonzero(~held)), val, record
