"""Classification metrics on hard labels, the same whatever model produced the scores."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score


def classification_metrics(y_true: np.ndarray, scores: np.ndarray, labels: tuple[str, ...]) -> dict:
    """Accuracy, macro-F1 and per-class F1/recall for scores [N,C] against labels y_true [N]."""
    y_pred = np.asarray(scores).argmax(axis=1)
    classes = list(range(len(labels)))
    f1 = f1_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    recall = recall_score(y_true, y_pred, labels=classes, average=None, zero_division=0)
    return {
        "n": len(y_true),
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(np.mean(f1)), 4),
        "per_class_f1": {label: round(float(v), 4) for label, v in zip(labels, f1)},
        "per_class_recall": {label: round(float(v), 4) for label, v in zip(labels, recall)},
    }
