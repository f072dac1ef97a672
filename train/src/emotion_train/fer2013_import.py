"""Build the two FER2013 archives this project trains on (`fer2013_train.npz`,
`fer2013_val.npz`) from the files their owners publish, for a machine without ../shared/data:

- `fer2013.csv` of the ICML 2013 challenge (Kaggle, "Challenges in Representation Learning:
  Facial Expression Recognition Challenge"; research use only): emotion, pixels, Usage;
- `fer2013new.csv` of microsoft/FERPlus (MIT): the FER+ votes for the same rows, in order.

Only Training and PublicTest are written; PrivateTest rows are skipped. Every face comes
from the csv's own pixels (`pixel_source` 0), so `row_aligned` is true for all of them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from emotion_train.datapaths import TRAIN_FILE, VAL_FILE
from emotion_train.fer2013_csv import FER2013_NAMES, REQUIRED_COLUMNS, _pixels

FERPLUS_NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
                 "unknown", "NF")
SPLITS = {"Training": TRAIN_FILE, "PublicTest": VAL_FILE}


def _ferplus_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ("Usage", *FERPLUS_NAMES) if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; is it FER+'s fer2013new.csv?")
        return list(reader)


def import_fer2013(fer2013_csv: Path, ferplus_csv: Path, out_dir: Path) -> dict[str, int]:
    """Write out_dir/fer2013_{train,val}.npz; returns the rows written per split."""
    votes_rows = _ferplus_rows(ferplus_csv)
    split_rows: dict[str, dict[str, list]] = {usage: {k: [] for k in ("x", "y", "votes", "row")}
                                              for usage in SPLITS}
    with open(fer2013_csv, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{fer2013_csv}: no column(s) {missing}; expected {', '.join(REQUIRED_COLUMNS)}")
        count = 0
        for index, record in enumerate(reader):
            count += 1
            if index >= len(votes_rows):
                continue
            usage = record["Usage"].strip()
            if usage not in SPLITS:
                continue
            ferplus = votes_rows[index]
            if ferplus["Usage"].strip() != usage:
                raise ValueError(f"row {index}: {fer2013_csv} says {usage}, {ferplus_csv} says "
                                 f"{ferplus['Usage']}; the two files are not in the same row order")
            rows = split_rows[usage]
            rows["x"].append(_pixels(record["pixels"], index, fer2013_csv))
            rows["y"].append(int(record["emotion"]))
            rows["votes"].append([int(ferplus[name] or 0) for name in FERPLUS_NAMES])
            rows["row"].append(index)
    if count != len(votes_rows):
        raise ValueError(f"{fer2013_csv} has {count} rows but {ferplus_csv} has {len(votes_rows)}; "
                         "they must describe the same rows")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for usage, name in SPLITS.items():
        rows = split_rows[usage]
        if not rows["x"]:
            raise ValueError(f"{fer2013_csv} has no {usage} rows")
        votes = np.array(rows["votes"], dtype=np.uint8)
        n = len(rows["x"])
        np.savez_compressed(
            out_dir / name, x=np.stack(rows["x"]), y=np.array(rows["y"], dtype=np.int8),
            label_names=np.array(FER2013_NAMES), ferplus_votes=votes, ferplus_names=np.array(FERPLUS_NAMES),
            ferplus_valid=votes.sum(axis=1) > 0, fer_row=np.array(rows["row"], dtype=np.int32),
            pixel_source=np.zeros(n, np.uint8), row_aligned=np.ones(n, bool), jpeg_name=np.full(n, ""))
        written[usage] = n
    return written
