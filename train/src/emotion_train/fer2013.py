"""FER2013 faces with either FER2013's own labels or FER+ crowd votes, for any label set.

FER+'s ten-annotator votes are the truer label for most rows, so they can serve as hard
majority labels or as soft targets (the vote distribution). Rows FER+ marks as not-a-face or
unknown, and rows whose label falls outside the chosen set, are dropped; the kept row indices
are returned so every number can be traced back to the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_device.labels import LABEL_SETS, canonical_label, label_set

LABEL_SOURCES = ("fer2013", "ferplus-majority", "ferplus-soft")
FERPLUS_EMOTION_COLUMNS = 8  # neutral..contempt; then unknown and NF


def fer2013_labels_can_score(labels: Iterable[str]) -> bool:
    """Whether FER2013's own labels can score a model with these classes: not when it can
    answer contempt, a class FER2013 does not have, which its labels would count as always wrong."""
    return set(labels) <= set(LABEL_SETS["fer7"])


@dataclass
class FaceDataset:
    """Faces and targets for one split, in one label set's order."""

    x: np.ndarray  # uint8 [N,48,48]
    y: np.ndarray  # int64 [N], hard label (argmax of targets)
    targets: np.ndarray  # float32 [N,C], one-hot or vote distribution
    labels: tuple[str, ...]
    rows: np.ndarray  # indices into the source file
    source: str
    label_source: str

    def __len__(self) -> int:
        return len(self.y)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.y, minlength=len(self.labels))
        return {label: int(n) for label, n in zip(self.labels, counts)}

    def subset(self, index: np.ndarray) -> FaceDataset:
        return FaceDataset(
            self.x[index], self.y[index], self.targets[index], self.labels,
            self.rows[index], self.source, self.label_source,
        )


def fer_label_targets(y: np.ndarray, names: Iterable[str],
                      labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """FER2013 labels y (indices into `names`) -> (kept row indices, one-hot targets in `labels` order)."""
    names = [canonical_label(str(n)) for n in names]
    position = {label: i for i, label in enumerate(labels)}
    mapped = np.array([position.get(names[int(v)], -1) for v in y], dtype=np.int64)
    keep = np.flatnonzero(mapped >= 0)
    targets = np.eye(len(labels), dtype=np.float32)[mapped[keep]]
    return keep, targets


def _ferplus_targets(archive, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    votes = archive["ferplus_votes"].astype(np.float32)
    columns = [canonical_label(str(n)) for n in archive["ferplus_names"][:FERPLUS_EMOTION_COLUMNS]]
    missing = [label for label in labels if label not in columns]
    if missing:
        raise ValueError(f"FER+ has no votes for {missing}")
    majority = votes.argmax(axis=1)  # over all ten columns, so unknown/NF majorities drop out
    chosen = np.array([columns.index(label) for label in labels])
    in_set = np.isin(majority, chosen) & archive["ferplus_valid"]
    keep = np.flatnonzero(in_set)
    set_votes = votes[keep][:, chosen]
    targets = set_votes / set_votes.sum(axis=1, keepdims=True)
    return keep, targets.astype(np.float32)


def missing_data_message(path: Path) -> str:
    return (f"FER2013 data not found: {path}. Get fer2013.csv (Kaggle: 'Challenges in Representation "
            "Learning: Facial Expression Recognition Challenge') and fer2013new.csv (github.com/"
            "microsoft/FERPlus), then run `emotion-train import-fer2013 --csv fer2013.csv --ferplus "
            f"fer2013new.csv --out {path.parent}`, or point $EMOTION_DATA (or --data-dir) at a folder "
            "that holds fer2013_train.npz and fer2013_val.npz. See README, 'Data'.")


def load_fer2013_npz(path: Path, label_set_name: str, label_source: str) -> FaceDataset:
    """Load one split of the FER2013 `.npz` (see ../shared/data/README.md) for a label set."""
    if label_source not in LABEL_SOURCES:
        raise ValueError(f"unknown label source {label_source!r}; choose from {LABEL_SOURCES}")
    labels = label_set(label_set_name)
    if not Path(path).is_file():
        raise FileNotFoundError(missing_data_message(Path(path)))
    with np.load(path) as archive:
        if label_source == "fer2013":
            keep, targets = fer_label_targets(archive["y"], archive["label_names"], labels)
        else:
            keep, targets = _ferplus_targets(archive, labels)
            if label_source == "ferplus-majority":
                targets = np.eye(len(labels), dtype=np.float32)[targets.argmax(axis=1)]
        x = archive["x"][keep]
    return FaceDataset(
        x=x, y=targets.argmax(axis=1).astype(np.int64), targets=targets, labels=labels,
        rows=keep, source=str(path), label_source=label_source,
    )
