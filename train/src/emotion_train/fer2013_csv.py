"""FER2013's original `fer2013.csv` (columns emotion, pixels, Usage), for one Usage split.

The `.npz` archives are the repository's working copy of the same rows; this reader takes the
file as the challenge distributed it, so a run can start from either and get the same
`FaceDataset` (FER2013's own labels; the csv has no FER+ votes).
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from emotion_device.labels import LABEL_SETS, label_set
from emotion_device.preprocess import INPUT_SIZE
from emotion_train.fer2013 import FaceDataset, fer_label_targets

log = logging.getLogger(__name__)

USAGES = ("Training", "PublicTest", "PrivateTest")
FER2013_NAMES = LABEL_SETS["fer7"]  # the csv's emotion column indexes these, in this order
REQUIRED_COLUMNS = ("emotion", "pixels", "Usage")


def _pixels(text: str, row: int, path: Path) -> np.ndarray:
    values = text.split()
    if len(values) != INPUT_SIZE * INPUT_SIZE:
        raise ValueError(f"{path}: row {row} has {len(values)} pixel values, not {INPUT_SIZE * INPUT_SIZE}")
    return np.array(values, dtype=np.uint8).reshape(INPUT_SIZE, INPUT_SIZE)


def load_fer2013_csv(path: Path, usage: str, label_set_name: str) -> FaceDataset:
    """Rows of one Usage (Training, PublicTest, PrivateTest) for a label set, with FER2013 labels.

    `rows` are 0-based data-row indices in the csv, the npz archives' `fer_row`.
    """
    if usage not in USAGES:
        raise ValueError(f"unknown usage {usage!r}; choose from {USAGES}")
    path = Path(path)
    labels = label_set(label_set_name)
    rows, y, faces = [], [], []
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; expected {', '.join(REQUIRED_COLUMNS)}")
        for index, record in enumerate(reader):
            if record["Usage"].strip() != usage:
                continue
            rows.append(index)
            y.append(int(record["emotion"]))
            faces.append(_pixels(record["pixels"], index, path))
    if not rows:
        raise ValueError(f"{path} has no {usage} rows")
    keep, targets = fer_label_targets(np.array(y), FER2013_NAMES, labels)
    log.info("%s: %d %s rows, %d in %s", path, len(rows), usage, len(keep), label_set_name)
    return FaceDataset(
        x=np.stack(faces)[keep], y=targets.argmax(axis=1).astype(np.int64), targets=targets,
        labels=labels, rows=np.array(rows, dtype=np.int64)[keep], source=str(path), label_source="fer2013",
    )
