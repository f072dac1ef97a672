"""Classification metrics, the same whatever model produced the scores.

Hard-label metrics (accuracy, F1) read the argmax; the ROC analysis reads the scores themselves,
so it shows how well each class separates at every threshold, not only at the argmax.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import accuracy_score, auc, f1_score, recall_score, roc_curve

log = logging.getLogger(__name__)


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


@dataclass
class YoudenPoint:
    """The operating point of one class's ROC curve that maximises J = TPR - FPR."""

    threshold: float
    tpr: float
    fpr: float
    j: float


@dataclass
class RocCurve:
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float

    def youden(self) -> YoudenPoint:
        # The first point (threshold +inf, nothing predicted positive) is not a usable threshold.
        finite = np.isfinite(self.thresholds)
        j = np.where(finite, self.tpr - self.fpr, -np.inf)
        best = int(np.argmax(j))
        return YoudenPoint(float(self.thresholds[best]), float(self.tpr[best]), float(self.fpr[best]),
                           float(j[best]))


@dataclass
class RocAnalysis:
    """One-vs-rest ROC curves; classes without both positives and negatives have no curve."""

    per_class: dict[str, RocCurve | None]
    micro: RocCurve
    macro_fpr: np.ndarray  # the mean of the per-class curves on a common FPR grid, for plotting
    macro_tpr: np.ndarray

    @property
    def macro_auc(self) -> float | None:
        """The unweighted mean of the per-class AUCs, as scikit-learn's average="macro"."""
        aucs = [curve.auc for curve in self.per_class.values() if curve is not None]
        return float(np.mean(aucs)) if aucs else None


def _roc_curve(positive: np.ndarray, score: np.ndarray) -> RocCurve:
    # Every point is kept so that the Youden threshold is exact, not the nearest kept corner.
    fpr, tpr, thresholds = roc_curve(positive, score, drop_intermediate=False)
    return RocCurve(fpr, tpr, thresholds, float(auc(fpr, tpr)))


def roc_analysis(y_true: np.ndarray, scores: np.ndarray, labels: tuple[str, ...]) -> RocAnalysis:
    """One-vs-rest ROC per class plus micro- and macro-averages, for scores [N,C]."""
    y_true = np.asarray(y_true)
    scores = np.asarray(scores, dtype=np.float64)
    one_hot = np.eye(len(labels), dtype=bool)[y_true]
    per_class: dict[str, RocCurve | None] = {}
    for index, label in enumerate(labels):
        positives = int(one_hot[:, index].sum())
        if 0 < positives < len(y_true):
            per_class[label] = _roc_curve(one_hot[:, index], scores[:, index])
        else:
            log.warning("no ROC curve for %s: %d of %d faces are positive", label, positives, len(y_true))
            per_class[label] = None
    curves = [curve for curve in per_class.values() if curve is not None]
    grid = np.unique(np.concatenate([curve.fpr for curve in curves])) if curves else np.array([0.0, 1.0])
    mean_tpr = (np.mean([np.interp(grid, curve.fpr, curve.tpr) for curve in curves], axis=0)
                if curves else grid)
    micro = _roc_curve(one_hot.ravel(), scores.ravel())
    return RocAnalysis(per_class, micro, grid, mean_tpr)
