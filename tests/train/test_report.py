"""The evaluation report's numbers agree with scikit-learn, and every file and key is there."""

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score

from emotion_train.report import PLOT_FILES, write_report

LABELS = ("angry", "neutral", "happy", "sad", "surprise")
REPORT_KEYS = {"schema", "title", "context", "labels", "n", "accuracy", "macro_f1", "per_class",
               "classification_report", "classification_report_text", "confusion_matrix", "roc_auc",
               "youden", "history", "files"}


@pytest.fixture(scope="module")
def predictions():
    """Fixed, imperfect scores for 240 faces: the true class gets a random boost."""
    rng = np.random.default_rng(42)
    y = rng.integers(0, len(LABELS), 240)
    scores = rng.random((240, len(LABELS)))
    scores[np.arange(240), y] += rng.random(240)
    return y, scores / scores.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def history_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("history") / "history.csv"
    path.write_text("epoch,accuracy,loss,val_accuracy,val_loss\n"
                    "0,0.40,1.50,0.45,1.40\n1,0.55,1.20,0.58,1.15\n2,0.60,1.05,0.57,1.10\n")
    return path


def _brute_force_youden(positive, score):
    best = (-np.inf, None)
    for threshold in np.unique(score):
        called = score >= threshold
        j = called[positive].mean() - called[~positive].mean()
        best = max(best, (j, threshold))
    return best


def test_numbers_agree_with_scikit_learn(tmp_path, predictions, history_csv):
    y, scores = predictions
    report = write_report(tmp_path, y, scores, LABELS, history_csv=history_csv)
    y_pred = scores.argmax(1)
    one_hot = np.eye(len(LABELS))[y]
    assert report["accuracy"] == pytest.approx(accuracy_score(y, y_pred), abs=1e-4)
    assert report["macro_f1"] == pytest.approx(f1_score(y, y_pred, average="macro"), abs=1e-4)
    auc = report["roc_auc"]
    assert auc["macro"] == pytest.approx(roc_auc_score(one_hot, scores, average="macro"), abs=1e-4)
    assert auc["micro"] == pytest.approx(roc_auc_score(one_hot, scores, average="micro"), abs=1e-4)
    assert auc["macro"] == pytest.approx(roc_auc_score(y, scores, multi_class="ovr"), abs=1e-4)
    for index, label in enumerate(LABELS):
        positive = y == index
        assert auc["per_class"][label] == pytest.approx(roc_auc_score(positive, scores[:, index]), abs=1e-4)
        j, threshold = _brute_force_youden(positive, scores[:, index])
        assert report["youden"][label]["j"] == pytest.approx(j, abs=1e-4)
        assert report["youden"][label]["threshold"] == pytest.approx(threshold, abs=1e-4)
        point = report["youden"][label]
        assert point["tpr"] - point["fpr"] == pytest.approx(point["j"], abs=2e-4)
        assert report["per_class"][label]["support"] == int(positive.sum())
    assert report["confusion_matrix"]["counts"] == confusion_matrix(y, y_pred).tolist()
    rows = np.array(report["confusion_matrix"]["normalized"])
    np.testing.assert_allclose(rows.sum(1), 1.0, atol=1e-3)


def test_report_writes_every_plot_and_key(tmp_path, predictions, history_csv):
    y, scores = predictions
    write_report(tmp_path, y, scores, LABELS, history_csv=history_csv, title="tiny",
                 context={"model": "fixed predictions"}, history_marks={"fine-tune": 2})
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) == REPORT_KEYS
    for per_class in (report["per_class"], report["youden"], report["roc_auc"]["per_class"]):
        assert set(per_class) == set(LABELS)
    assert {"precision", "recall", "f1", "support"} == set(report["per_class"]["happy"])
    assert {"accuracy", "macro avg", "weighted avg", *LABELS} == set(report["classification_report"])
    assert "macro avg" in report["classification_report_text"]
    assert report["history"]["epochs"] == 3 and report["history"]["best_epoch"] == 2
    assert report["history"]["columns"]["val_loss"] == [1.4, 1.15, 1.1]
    for name in PLOT_FILES.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert report["files"][name.removesuffix(".png")] == name
    markdown = (tmp_path / "report.md").read_text()
    for name in PLOT_FILES.values():
        assert f"]({name})" in markdown, "plots are embedded with relative links"
    assert "| class | precision | recall | F1 | support |" in markdown
    assert f"| happy | {report['per_class']['happy']['precision']:.4f} |" in markdown


def test_a_class_without_faces_has_no_auc_but_the_rest_do(tmp_path, predictions):
    y, scores = predictions
    keep = y != LABELS.index("sad")
    report = write_report(tmp_path, y[keep], scores[keep], LABELS)
    assert report["roc_auc"]["per_class"]["sad"] is None and report["youden"]["sad"] is None
    present = [report["roc_auc"]["per_class"][label] for label in LABELS if label != "sad"]
    assert report["roc_auc"]["macro"] == pytest.approx(np.mean(present), abs=1e-4)
    assert report["history"] is None and "history" not in report["files"]
    assert not (tmp_path / "history.png").exists()
