"""A fine-tuned run converts to int8 like a training run: calibrated on its own folder faces,
parity checked on enough faces to mean something, with a card that says what it learnt from."""

import json
import shutil

import numpy as np

from emotion_convert.cli import main as convert_main
from emotion_device.classifier import EmotionClassifier
from emotion_train.cli import main as train_main


def test_a_finetuned_run_converts_to_a_loadable_int8_model_with_an_honest_card(finetune_run, tmp_path,
                                                                               data_dir, photo_folder,
                                                                               people_folder):
    rc = convert_main([str(finetune_run / "model.keras"), "--name", "mine", "--out-dir", str(tmp_path),
                       "--calibration", "32", "--data-dir", str(data_dir), "--min-agreement", "0",
                       "--parity-faces", "300"])
    assert rc == 0
    classifier = EmotionClassifier(tmp_path / "mine.tflite")
    card = classifier.card
    training = card.training
    assert training["base_model"]["file"].endswith(".keras")
    assert training["command"].startswith("emotion-train finetune")
    # The data: the folder's path as given, its counts and the split, and labels from the folder.
    assert training["label_source"] == "folder" and training["data"] == str(photo_folder)
    assert training["train_faces"] == 35 and sum(training["class_counts"].values()) == 35
    assert "stratified" in training["train_split"] and "10 faces" in training["validation"]
    val = card.metrics["val"]
    assert val["labels"] == "folder" and "stratified" in val["split"] and val["int8"]["n"] == 10
    assert {"int8_float_disagreements", "int8_float_disagreements_int8_tied"} <= set(val)
    # Parity: the 10 validation faces topped up to 300 with PublicTest faces.
    parity = card.metrics["parity"]
    assert parity["faces"] == 300 and parity["passed"]
    assert parity["faces_from"] == {"validation": 10, "FER2013 PublicTest (top-up)": 290}
    limitations = " ".join(card.limitations)
    assert "Fine-tuned on 35 faces" in limitations and "Trained on FER2013" not in limitations
    assert "PublicTest also selected" not in limitations and "metrics.test" in limitations
    assert "n=10" in card.limitations[-1] and "labels from the folder names" in card.limitations[-1]

    scores = classifier.scores(np.full((1, 48, 48, 1), 100, np.float32))
    assert scores.shape == (1, len(classifier.labels))

    # A held-out folder scored by evaluate goes into the card as metrics.test; the rest stays.
    assert train_main(["evaluate", "--model", str(tmp_path / "mine.tflite"), "--data", str(people_folder),
                       "--write-card", "--out", str(tmp_path / "test")]) == 0
    report = json.loads((tmp_path / "test" / "report.json").read_text())
    metrics = EmotionClassifier(tmp_path / "mine.tflite").card.metrics  # still verified and loaded
    test = metrics["test"]
    assert test["n"] == report["n"] == 90 and test["accuracy"] == report["accuracy"]
    assert test["labels"] == "folder" and test["data"] == str(people_folder) and test["skipped_files"] == 0
    assert test["macro_auc"] == report["roc_auc"]["macro"] and sum(test["class_counts"].values()) == 90
    assert metrics["val"] == val and metrics["parity"] == parity


def test_a_failed_parity_check_writes_nothing_into_the_target_folder(finetune_run, tmp_path, data_dir,
                                                                     bundled_model, capsys):
    """A shipped model in the target folder stays exactly as it was when the new one fails."""
    for suffix in (".tflite", ".json", ".keras"):
        shutil.copy(bundled_model.with_suffix(suffix), tmp_path / f"mine{suffix}")
    before = {path.name: path.read_bytes() for path in tmp_path.iterdir()}
    rc = convert_main([str(finetune_run / "model.keras"), "--name", "mine", "--out-dir", str(tmp_path),
                       "--calibration", "32", "--data-dir", str(data_dir), "--min-agreement", "1.01",
                       "--parity-faces", "100", "--float-tflite", str(tmp_path / "mine.float.tflite")])
    assert rc == 1
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == before
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] is False and summary["parity"]["passed"] is False
    assert summary["parity"]["faces"] == 100
    EmotionClassifier(tmp_path / "mine.tflite")  # the old model still loads, card and all
