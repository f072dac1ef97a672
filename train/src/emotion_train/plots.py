"""The report's figures, drawn with matplotlib's object API and written straight to PNG.

`matplotlib.figure.Figure` renders through the Agg canvas without pyplot, so no display,
backend switch or global figure state is involved, and a training run on a headless
workstation can draw its report. Figures are small (DPI) because reports are committed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from emotion_train.metrics import RocAnalysis

DPI = 100


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    return path


def plot_confusion(matrix: np.ndarray, labels: tuple[str, ...], path: Path, title: str,
                   normalized: bool) -> Path:
    """Rows are true classes, columns predicted ones; each cell carries its number."""
    size = 1.2 + 0.75 * len(labels)
    figure = Figure(figsize=(size + 1.2, size))
    axes = figure.add_subplot()
    image = axes.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalized else max(1, matrix.max()))
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    ticks = np.arange(len(labels))
    axes.set_xticks(ticks, labels, rotation=45, ha="right")
    axes.set_yticks(ticks, labels)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    threshold = (1 if normalized else matrix.max()) / 2
    for (row, column), value in np.ndenumerate(matrix):
        text = f"{value:.2f}" if normalized else f"{int(value)}"
        axes.text(column, row, text, ha="center", va="center", fontsize=8,
                  color="white" if value > threshold else "black")
    return _save(figure, path)


def plot_roc(roc: RocAnalysis, path: Path) -> Path:
    figure = Figure(figsize=(5.5, 5))
    axes = figure.add_subplot()
    for label, curve in roc.per_class.items():
        if curve is not None:
            axes.plot(curve.fpr, curve.tpr, linewidth=1.2, label=f"{label} (AUC {curve.auc:.3f})")
    axes.plot(roc.micro.fpr, roc.micro.tpr, "k--", linewidth=1.2,
              label=f"micro-average (AUC {roc.micro.auc:.3f})")
    if roc.macro_auc is not None:
        axes.plot(roc.macro_fpr, roc.macro_tpr, "k:", linewidth=1.5,
                  label=f"macro-average (AUC {roc.macro_auc:.3f})")
    axes.plot([0, 1], [0, 1], color="0.7", linewidth=0.8)
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title("ROC, one class vs the rest")
    axes.legend(loc="lower right", fontsize=8)
    return _save(figure, path)


def plot_history(history: dict[str, list[float]], path: Path, marks: dict[str, int] | None = None) -> Path:
    """Loss and accuracy per epoch, train and validation.

    `marks` ({name: epochs before it}) draws a labelled line where a phase begins.
    """
    figure = Figure(figsize=(9, 3.6))
    epochs = np.arange(1, len(history["epoch"]) + 1)
    for index, metric in enumerate(("loss", "accuracy")):
        axes = figure.add_subplot(1, 2, index + 1)
        for key, name in ((metric, "train"), (f"val_{metric}", "val")):
            if key in history:
                axes.plot(epochs, history[key], marker="o", markersize=3, label=name)
        for name, epoch in (marks or {}).items():
            axes.axvline(epoch + 0.5, color="0.6", linestyle="--", linewidth=0.8)
            axes.annotate(name, (epoch + 0.6, 0.98), xycoords=("data", "axes fraction"), fontsize=7,
                          va="top", color="0.4")
        axes.set_xlabel("epoch")
        axes.set_title(metric)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    return _save(figure, path)


def plot_run_curves(histories: dict[str, dict[str, list[float]]], path: Path) -> Path:
    """Validation accuracy per epoch of several runs on one axis (solid), each with its
    training accuracy (dotted, same colour): the gap between the two is the overfitting that a
    regularizing lever is meant to close."""
    figure = Figure(figsize=(7, 4))
    axes = figure.add_subplot()
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index % 10}"
        epochs = np.arange(1, len(history["epoch"]) + 1)
        if "val_accuracy" in history:
            axes.plot(epochs, history["val_accuracy"], color=colour, label=f"{name} (validation)")
        if "accuracy" in history:
            axes.plot(epochs, history["accuracy"], color=colour, linestyle=":", linewidth=1,
                      label=f"{name} (training)")
    axes.set_xlabel("epoch")
    axes.set_ylabel("accuracy")
    axes.set_title("accuracy per epoch: validation (solid), training (dotted)")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    return _save(figure, path)
