"""Choosing the prior correction's tau on a run's validation split (emotion-train prior).

Kept apart from `prior_correction`, which training imports: this side reads finished runs
through `run_data`, which itself imports training.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_train.evaluate import load_predictor
from emotion_train.metrics import classification_metrics
from emotion_train.prior_correction import adjusted_scores
from emotion_train.run_configs import PRIOR_TAUS
from emotion_train.run_data import run_datasets


def run_class_weights(record: dict) -> np.ndarray:
    """The class weights a run trained with, in the order of its labels."""
    weights = record.get("class_weights")
    if not weights:
        raise ValueError("the run records no class weights")
    return np.array([weights[label] for label in record["labels"]], dtype=np.float64)


def refuse_a_corrected_run(run: Path, record: dict) -> None:
    """A correction is chosen and folded once: a second one would be scored against the first."""
    if record.get("config", {}).get("prior_correction"):
        raise ValueError(f"{run}: its head already holds a prior correction")


@dataclass
class SweepRow:
    run: str
    tau: float
    accuracy: float
    macro_f1: float
    recall: dict[str, float]


def sweep(runs: list[Path], taus: tuple[float, ...] = PRIOR_TAUS,
          data_root: str | None = None) -> tuple[list[str], list[SweepRow]]:
    """Each run's validation accuracy, macro-F1 and per-class recall at each tau. Returns the
    labels (of the first run) and the rows; runs without a validation split are refused."""
    rows: list[SweepRow] = []
    labels: list[str] = []
    for run in runs:
        record = json.loads((run / "run.json").read_text())
        val = run_datasets(record, data_root).val
        if val is None:
            raise ValueError(f"{run}: the run kept no validation split to choose tau on")
        refuse_a_corrected_run(run, record)
        labels = labels or list(val.labels)
        weights = run_class_weights(record)
        scores = load_predictor(run / "model.keras").predict(val.x)
        for tau in taus:
            metrics = classification_metrics(val.y, adjusted_scores(scores, weights, tau), val.labels)
            recall = dict(metrics["per_class_recall"])
            rows.append(SweepRow(str(run), tau, metrics["accuracy"], metrics["macro_f1"], recall))
    return labels, rows


def sweep_table(labels: list[str], rows: list[SweepRow]) -> str:
    recall_heads = " | ".join(f"{label} recall" for label in labels)
    lines = [f"| run | tau | accuracy | macro-F1 | {recall_heads} |",
             "| --- | --- | --- | --- | " + " | ".join("---" for _ in labels) + " |"]
    for row in rows:
        recalls = " | ".join(f"{100 * row.recall.get(label, float('nan')):.1f}%" for label in labels)
        lines.append(f"| `{row.run}` | {row.tau:g} | {100 * row.accuracy:.2f}% | {row.macro_f1:.3f} "
                     f"| {recalls} |")
    return "\n".join(lines) + "\n"


def fold_run(run: Path, tau: float, out: Path, command: str, data_root: str | None = None) -> dict:
    """A finished run with the prior correction folded into its kept model, written as a run of
    its own (`out/model.keras`, `out/run.json`) that emotion-convert reads like any other.

    The tau must have been chosen on the run's validation split (`sweep`), which is also what
    the new record's metrics are rescored on. PublicTest is not read here: the source's test
    metrics describe the uncorrected model, so they are dropped, and the conversion scores the
    corrected one once. Returns the new record.
    """
    import keras

    from emotion_train.prior_correction import fold_into_head

    record = json.loads((run / "run.json").read_text())
    refuse_a_corrected_run(run, record)
    if out.resolve() == run.resolve():
        raise ValueError("--out must be a new folder: the source run stays as it was")
    val = run_datasets(record, data_root).val
    if val is None:
        raise ValueError(f"{run}: the run kept no validation split, so tau could not have been chosen")
    model = keras.models.load_model(run / "model.keras", compile=False)
    shift = fold_into_head(model, run_class_weights(record), tau)
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    for same in ("history.csv", "pieces.json"):  # the training behind it did not change
        if (run / same).is_file():
            shutil.copyfile(run / same, out / same)
    scores = load_predictor(out / "model.keras").predict(val.x)
    folded = {**record,
              "config": {**record["config"], "out_dir": str(out), "prior_correction": tau},
              "prior_correction": {"tau": tau, "bias_shift": dict(zip(record["labels"], shift)),
                                   "folded_into": str(run), "command": command},
              "metrics": {"val": classification_metrics(val.y, scores, val.labels)}}
    (out / "run.json").write_text(json.dumps(folded, indent=2) + "\n")
    return folded
