"""`emotion-train evaluate` on a Keras run model and on the bundled int8 TFLite model."""

import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from emotion_device.labels import LABEL_SETS
from emotion_device.preprocess import to_model_input
from emotion_device.tta import ten_crop_views
from emotion_train.cli import main as train_main
from emotion_train.evaluate import evaluate_model, load_predictor, public_test


def _evaluate(model, out, data_dir, *extra):
    assert train_main(["evaluate", "--model", str(model), "--out", str(out), "--data-dir", str(data_dir),
                       *extra]) == 0
    return json.loads((out / "report.json").read_text())


def _check_against_direct_scores(report, model, data_dir, limit, tta="off"):
    context = report["context"]
    assert context["tta"] == tta
    val = public_test(context["label_set"], context["label_source"], str(data_dir), limit)
    scores = load_predictor(model, tta=tta).predict(val.x)
    assert report["n"] == len(val) == limit
    assert report["accuracy"] == pytest.approx(accuracy_score(val.y, scores.argmax(1)), abs=1e-4)
    one_hot = np.eye(len(val.labels))[val.y]
    assert report["roc_auc"]["macro"] == pytest.approx(roc_auc_score(one_hot, scores), abs=1e-4)


def test_evaluate_a_keras_model_takes_labels_from_its_run_record(tiny_run, tmp_path, data_dir):
    model = tiny_run / "model.keras"
    report = _evaluate(model, tmp_path, data_dir, "--limit", "200")
    assert report["context"]["model_type"] == "keras"
    assert report["context"]["label_set"] == "emotion5" and report["context"]["label_source"] == "fer2013"
    assert report["context"]["architecture"] == "edge" and report["context"]["epochs"] == 1
    assert report["history"]["epochs"] == 1, "the run's history.csv beside the model is plotted"
    _check_against_direct_scores(report, model, data_dir, 200)


def test_evaluate_the_int8_tflite_model_through_the_device_classifier(bundled_model, tmp_path, data_dir):
    report = _evaluate(bundled_model, tmp_path, data_dir, "--limit", "300")
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    assert report["context"]["model_type"] == "tflite-int8"
    assert report["context"]["label_set"] == card["training"]["label_set"]
    assert report["context"]["label_source"] == card["training"]["label_source"]
    assert report["labels"] == card["labels"] and report["history"] is None
    assert (tmp_path / "roc.png").is_file() and (tmp_path / "report.md").is_file()
    _check_against_direct_scores(report, bundled_model, data_dir, 300)

    fer_labels = _evaluate(bundled_model, tmp_path / "fer", data_dir, "--limit", "100", "--labels", "fer2013")
    assert fer_labels["context"]["label_source"] == "fer2013" and fer_labels["n"] == 100


def test_evaluate_with_tta_flip_averages_each_face_with_its_mirror_image(bundled_model, tmp_path, data_dir):
    """--tta flip on a .tflite runs the device classifier with tta="flip", the Pi's own code path."""
    report = _evaluate(bundled_model, tmp_path, data_dir, "--limit", "200", "--tta", "flip")
    assert "- tta: flip" in (tmp_path / "report.md").read_text()
    _check_against_direct_scores(report, bundled_model, data_dir, 200, tta="flip")
    context = report["context"]
    val = public_test(context["label_set"], context["label_source"], str(data_dir), 200)
    plain = load_predictor(bundled_model)
    mean = (plain.predict(val.x) + plain.predict(val.x[:, :, ::-1])) / 2  # [N,H,W]: W is left-right
    np.testing.assert_allclose(load_predictor(bundled_model, tta="flip").predict(val.x), mean, atol=1e-6)
    assert not np.allclose(mean, plain.predict(val.x), atol=1e-3)


def test_evaluate_a_keras_model_with_tta_flip(tiny_run, tmp_path, data_dir):
    import keras

    model = tiny_run / "model.keras"
    report = _evaluate(model, tmp_path, data_dir, "--limit", "100", "--tta", "flip")
    context = report["context"]
    val = public_test(context["label_set"], context["label_source"], str(data_dir), 100)
    x = to_model_input(val.x)
    network = keras.models.load_model(model)
    mean = (network.predict(x, verbose=0) + network.predict(x[:, :, ::-1], verbose=0)) / 2
    assert context["tta"] == "flip"
    assert report["accuracy"] == pytest.approx(accuracy_score(val.y, mean.argmax(1)), abs=1e-4)


def test_evaluate_ten_crops_scores_the_devices_views(bundled_model, tmp_path, data_dir):
    """--tta ten-crop on a .tflite averages the device classifier's scores of the ten views."""
    report = _evaluate(bundled_model, tmp_path, data_dir, "--limit", "100", "--tta", "ten-crop")
    _check_against_direct_scores(report, bundled_model, data_dir, 100, tta="ten-crop")
    context = report["context"]
    val = public_test(context["label_set"], context["label_source"], str(data_dir), 100)
    plain = load_predictor(bundled_model)
    views = ten_crop_views(to_model_input(val.x)[..., 0])  # raw float pixels, as the device crops them
    mean = np.mean([plain.predict(view) for view in views], axis=0)
    np.testing.assert_allclose(load_predictor(bundled_model, tta="ten-crop").predict(val.x), mean, atol=1e-6)
    assert not np.allclose(mean, plain.predict(val.x), atol=1e-3)


def test_evaluate_refuses_a_label_set_the_model_does_not_score(bundled_model, tmp_path, data_dir):
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    other = next(name for name, labels in LABEL_SETS.items() if list(labels) != card["labels"])
    with pytest.raises(ValueError, match=f"not label set {other}"):
        evaluate_model(bundled_model, tmp_path, label_set_name=other, data_root=str(data_dir))


def test_a_bundled_keras_model_takes_labels_from_the_card_beside_it(tiny_run, bundled_model, tmp_path,
                                                                    data_dir):
    """models/<name>.keras (the float reference) has no run.json, only its card."""
    shutil.copy(tiny_run / "model.keras", tmp_path / "emotion5.keras")
    shutil.copy(bundled_model.with_suffix(".json"), tmp_path / "emotion5.json")
    card = json.loads(bundled_model.with_suffix(".json").read_text())
    report = _evaluate(tmp_path / "emotion5.keras", tmp_path / "report", data_dir, "--limit", "50")
    assert report["context"]["label_source"] == card["training"]["label_source"]
    assert report["context"]["model_type"] == "keras" and report["n"] == 50


def _folder_faces(folder, set_name, crop):
    from emotion_train.evaluate import load_faces

    return load_faces(folder, set_name, crop)[0]


def test_evaluate_a_keras_model_on_a_labelled_folder(finetune_run, photo_folder, tmp_path):
    """--data scores any folder with the fine-tuning loader: photos cropped, bad files skipped."""
    model = finetune_run / "model.keras"
    assert train_main(["evaluate", "--model", str(model), "--data", str(photo_folder),
                       "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n"] == 45 and report["context"]["label_source"] == "folder"
    assert "3 files skipped" in report["context"]["data"]
    faces = _folder_faces(photo_folder, "emotion5", load_predictor(model).info.crop)
    scores = load_predictor(model).predict(faces.x)
    assert report["accuracy"] == pytest.approx(accuracy_score(faces.y, scores.argmax(1)), abs=1e-4)
    assert report["classification_report"]["macro avg"]["support"] == 45
    assert sum(map(sum, report["confusion_matrix"]["counts"])) == 45
    assert (tmp_path / "confusion_counts.png").is_file() and (tmp_path / "roc.png").is_file()


def test_evaluate_a_tflite_model_on_a_folder(bundled_model, photo_folder, tmp_path):
    assert train_main(["evaluate", "--model", str(bundled_model), "--data", str(photo_folder),
                       "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["context"]["model_type"] == "tflite-int8" and report["n"] == 45
    faces = _folder_faces(photo_folder, "emotion5", load_predictor(bundled_model).info.crop)
    scores = load_predictor(bundled_model).predict(faces.x)
    assert report["accuracy"] == pytest.approx(accuracy_score(faces.y, scores.argmax(1)), abs=1e-4)


def test_write_card_never_replaces_a_publictest_score(bundled_model, photo_folder, tmp_path):
    model = tmp_path / "copy.tflite"
    shutil.copy(bundled_model, model)
    shutil.copy(bundled_model.with_suffix(".json"), tmp_path / "copy.json")
    before = (tmp_path / "copy.json").read_text()
    assert train_main(["evaluate", "--model", str(model), "--data", str(photo_folder), "--write-card",
                       "--out", str(tmp_path / "report")]) == 2
    assert (tmp_path / "copy.json").read_text() == before and not (tmp_path / "report").exists()


def test_write_card_needs_a_folder(bundled_model, tmp_path, data_dir):
    assert train_main(["evaluate", "--model", str(bundled_model), "--write-card", "--limit", "50",
                       "--data-dir", str(data_dir), "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "report.json").exists()
