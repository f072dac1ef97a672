"""The evaluation report: one folder with every number (report.json), a readable summary
(report.md) and its figures, from true labels and class scores.

The same report is written after training, after fine-tuning and by `emotion-train evaluate`
for a Keras or TFLite model, so runs compare like for like (`emotion-train compare`).
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
from sklearn.metrics import classification_report, confusion_matrix, f1_score

from emotion_train import plots
from emotion_train.metrics import RocAnalysis, roc_analysis

log = logging.getLogger(__name__)

REPORT_JSON = "report.json"
REPORT_MD = "report.md"
PLOT_FILES = {
    "confusion_counts": "confusion_counts.png",
    "confusion_normalized": "confusion_normalized.png",
    "roc": "roc.png",
    "history": "history.png",
}
SCHEMA = 1


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def read_history(path: Path) -> dict[str, list[float]]:
    """Keras' CSVLogger file as columns: {"epoch": [...], "loss": [...], "val_accuracy": [...]}.

    A run without validation data gets val_* columns of "NA" from the CSVLogger; they are left out.
    """
    with open(path) as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{path} holds no epochs")
    return {key: [float(row[key]) for row in rows] for key in rows[0]
            if key and all(row[key] not in ("", "NA") for row in rows)}


def _history_summary(history: dict[str, list[float]], source: Path, marks: dict[str, int]) -> dict:
    summary = {"file": source.name, "epochs": len(history["epoch"]), "marks": marks,
               "columns": {key: [_round(v) for v in values] for key, values in history.items()
                           if key != "epoch"}}
    if "val_accuracy" in history:
        best = int(np.argmax(history["val_accuracy"]))
        summary["best_epoch"] = best + 1  # 1-based, as Keras' progress output counts
        summary["best_val_accuracy"] = _round(history["val_accuracy"][best])
    return summary


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each true class's row as fractions of its support; a class with no faces stays zero."""
    totals = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape, np.float64), where=totals > 0)


def evaluation_numbers(y_true: np.ndarray, scores: np.ndarray, labels: tuple[str, ...],
                       roc: RocAnalysis) -> dict:
    """Every number of the report except the training history."""
    y_pred = np.asarray(scores).argmax(axis=1)
    classes = list(range(len(labels)))
    options = {"labels": classes, "target_names": list(labels), "zero_division": 0}
    table = classification_report(y_true, y_pred, output_dict=True, **options)
    counts = confusion_matrix(y_true, y_pred, labels=classes)
    youden = {label: (None if curve is None else curve.youden()) for label, curve in roc.per_class.items()}
    return {
        "n": len(y_true),
        "accuracy": _round(np.mean(y_pred == np.asarray(y_true))),
        "macro_f1": _round(f1_score(y_true, y_pred, labels=classes, average="macro", zero_division=0)),
        "per_class": {
            label: {"precision": _round(table[label]["precision"]), "recall": _round(table[label]["recall"]),
                    "f1": _round(table[label]["f1-score"]), "support": int(table[label]["support"])}
            for label in labels
        },
        "classification_report": {
            name: (_round(row) if not isinstance(row, dict)
                   else {key: (int(v) if key == "support" else _round(v)) for key, v in row.items()})
            for name, row in table.items()
        },
        "classification_report_text": classification_report(y_true, y_pred, digits=4, **options),
        "confusion_matrix": {
            "rows": "true", "columns": "predicted",
            "counts": counts.tolist(),
            "normalized": [[_round(v) for v in row] for row in normalize_rows(counts)],
        },
        "roc_auc": {
            "per_class": {label: None if curve is None else _round(curve.auc)
                          for label, curve in roc.per_class.items()},
            "micro": _round(roc.micro.auc),
            "macro": _round(roc.macro_auc),
        },
        "youden": {
            label: None if point is None else {
                "threshold": _round(point.threshold), "tpr": _round(point.tpr),
                "fpr": _round(point.fpr), "j": _round(point.j)}
            for label, point in youden.items()
        },
    }


def _cell(value) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _markdown(report: dict) -> str:
    labels = report["labels"]
    lines = [f"# {report['title']}", ""]
    lines += [f"- {key}: {value}" for key, value in report["context"].items() if value is not None]
    lines += [
        f"- faces: {report['n']}", "",
        "| accuracy | macro-F1 | macro AUC | micro AUC |", "| --- | --- | --- | --- |",
        f"| {_cell(report['accuracy'])} | {_cell(report['macro_f1'])} | "
        f"{_cell(report['roc_auc']['macro'])} | {_cell(report['roc_auc']['micro'])} |",
        "", "## Classification report", "",
        "| class | precision | recall | F1 | support |", "| --- | --- | --- | --- | --- |",
    ]
    table = report["classification_report"]
    for name in [*labels, "macro avg", "weighted avg"]:
        row = table[name]
        lines.append(f"| {name} | {_cell(row['precision'])} | {_cell(row['recall'])} | "
                     f"{_cell(row['f1-score'])} | {row['support']} |")
    lines += [
        "", "## One class vs the rest", "",
        "Youden's J = TPR − FPR; its threshold is the score at or above which the class is called.", "",
        "| class | AUC | threshold (max J) | TPR | FPR | J |", "| --- | --- | --- | --- | --- | --- |",
    ]
    for label in labels:
        point = report["youden"][label] or {}
        lines.append(f"| {label} | {_cell(report['roc_auc']['per_class'][label])} | "
                     f"{_cell(point.get('threshold'))} | {_cell(point.get('tpr'))} | "
                     f"{_cell(point.get('fpr'))} | {_cell(point.get('j'))} |")
    files = report["files"]
    lines += ["", f"![ROC curves]({files['roc']})", "", "## Confusion matrix", "",
              "Rows are the true class, columns the predicted one.", "",
              f"![confusion matrix, counts]({files['confusion_counts']}) "
              f"![confusion matrix, row-normalized]({files['confusion_normalized']})"]
    history = report["history"]
    if history is not None:
        best = (f" Best validation accuracy {history['best_val_accuracy']:.4f} at epoch "
                f"{history['best_epoch']} of {history['epochs']}." if "best_epoch" in history else "")
        lines += ["", "## Training curves", "", f"From `{history['file']}`.{best}", "",
                  f"![loss and accuracy per epoch]({files['history']})"]
    return "\n".join(lines) + "\n"


def write_report(out_dir: Path, y_true: np.ndarray, scores: np.ndarray, labels: tuple[str, ...],
                 history_csv: Path | None = None, title: str = "Evaluation", context: dict | None = None,
                 history_marks: dict[str, int] | None = None) -> dict:
    """Write report.json, report.md and the PNGs into `out_dir`; returns the report.json content.

    `context` says what was evaluated (model, data, label source, architecture, epochs, ...);
    `emotion-train compare` reads it. `history_marks` labels epochs in the curves, such as
    the start of a fine-tuning phase: {name: number of epochs before it}.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = tuple(labels)
    y_true = np.asarray(y_true)
    scores = np.asarray(scores)
    if scores.shape != (len(y_true), len(labels)):
        raise ValueError(f"scores have shape {scores.shape}; expected ({len(y_true)}, {len(labels)})")
    roc = roc_analysis(y_true, scores, labels)
    numbers = evaluation_numbers(y_true, scores, labels, roc)
    files = {key: name for key, name in PLOT_FILES.items() if key != "history"}
    counts = np.array(numbers["confusion_matrix"]["counts"])
    plots.plot_confusion(counts, labels, out / files["confusion_counts"], "confusion matrix (counts)",
                         normalized=False)
    plots.plot_confusion(normalize_rows(counts), labels, out / files["confusion_normalized"],
                         "confusion matrix (row-normalized)", normalized=True)
    plots.plot_roc(roc, out / files["roc"])
    history = None
    if history_csv is not None:
        columns = read_history(Path(history_csv))
        history = _history_summary(columns, Path(history_csv), history_marks or {})
        files["history"] = PLOT_FILES["history"]
        plots.plot_history(columns, out / files["history"], history_marks)
    files.update(json=REPORT_JSON, markdown=REPORT_MD)
    report = {"schema": SCHEMA, "title": title, "context": context or {}, "labels": list(labels),
              **numbers, "history": history, "files": files}
    (out / REPORT_JSON).write_text(json.dumps(report, indent=2) + "\n")
    (out / REPORT_MD).write_text(_markdown(report))
    log.info("report: accuracy %.4f, macro-F1 %.4f, macro AUC %s -> %s", report["accuracy"],
             report["macro_f1"], _cell(report["roc_auc"]["macro"]), out)
    return report
