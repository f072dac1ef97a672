"""Finished runs scored alone and averaged together on the validation split they share.

This is how distillation teachers are chosen: an ensemble is worth teaching from only by what
it adds over its best member, and that is measured where every other choice is made (the
validation split carved from Training), never on PublicTest. Each row is also scored with flip
averaging and with ten-crop averaging, through the same views as the device's `model.tta`: what
test-time averaging adds, measured on the same faces.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_train.evaluate import load_predictor
from emotion_train.metrics import classification_metrics
from emotion_train.run_data import run_datasets

MAX_RUNS = 6  # every subset of two or more: 57 rows at six runs
TTA_COLUMNS = ("off", "flip", "ten-crop")  # in EnsembleRow's order


@dataclass
class EnsembleRow:
    members: tuple[str, ...]
    accuracy: float
    macro_f1: float
    flip_accuracy: float
    flip_macro_f1: float
    ten_crop_accuracy: float
    ten_crop_macro_f1: float


def _shared_split(runs: list[Path]) -> dict:
    """The first run's record, once every run is known to answer the same labels and to have
    selected on the same validation faces (the split's row hash)."""
    if not 1 <= len(runs) <= MAX_RUNS:
        raise ValueError(f"give 1 to {MAX_RUNS} run folders, got {len(runs)}")
    if len(set(runs)) != len(runs):
        raise ValueError("a run is listed twice")
    records = []
    for run in runs:
        path = run / "run.json"
        if not path.is_file() or not (run / "model.keras").is_file():
            raise ValueError(f"{run}: not a finished run folder (run.json and model.keras)")
        records.append(json.loads(path.read_text()))
    first = records[0]
    split = (first.get("data", {}).get("split") or {}).get("val_rows_sha256")
    if split is None:
        raise ValueError(f"{runs[0]}: the run kept no validation split to score on")
    for run, record in zip(runs[1:], records[1:]):
        if record["labels"] != first["labels"]:
            raise ValueError(f"{run} answers {record['labels']}, {runs[0]} answers {first['labels']}")
        if (record.get("data", {}).get("split") or {}).get("val_rows_sha256") != split:
            raise ValueError(f"{run} selected on other validation faces than {runs[0]}")
    return first


def score_ensembles(runs: list[Path], data_root: str | None = None) -> tuple[str, list[EnsembleRow]]:
    """Each run, then every combination of two or more, averaging softmax scores: alone, with
    flip averaging and with ten-crop averaging; on the runs' shared validation split with its
    labels. Returns a description of that split and the rows."""
    record = _shared_split(runs)
    val = run_datasets(record, data_root).val
    assert val is not None  # _shared_split checked the split exists
    described = (f"{len(val)} validation faces ({record['data']['val']['split']}), "
                 f"{record['config']['label_source']} labels")
    scores: dict[str, dict[Path, np.ndarray]] = {mode: {} for mode in TTA_COLUMNS}
    for run in runs:
        for mode in TTA_COLUMNS:  # the views as the device's classifier makes them
            scores[mode][run] = load_predictor(run / "model.keras", tta=mode).predict(val.x)
    rows = []
    for size in range(1, len(runs) + 1):
        for members in itertools.combinations(runs, size):
            metrics = [classification_metrics(val.y, np.sum([by_run[m] for m in members], axis=0), val.labels)
                       for by_run in scores.values()]
            figures = (each[key] for each in metrics for key in ("accuracy", "macro_f1"))
            rows.append(EnsembleRow(tuple(str(m) for m in members), *figures))
    return described, rows


def ensemble_table(rows: list[EnsembleRow]) -> str:
    lines = ["| runs averaged | accuracy | macro-F1 | with flip averaging | macro-F1 with flip "
             "| with ten-crop averaging | macro-F1 with ten crops |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        lines.append(f"| {' + '.join(f'`{m}`' for m in row.members)} | {100 * row.accuracy:.2f}% | "
                     f"{row.macro_f1:.3f} | {100 * row.flip_accuracy:.2f}% | {row.flip_macro_f1:.3f} | "
                     f"{100 * row.ten_crop_accuracy:.2f}% | {row.ten_crop_macro_f1:.3f} |")
    return "\n".join(lines) + "\n"
