"""A fine-tuned run converts to int8 like a training run: calibrated on its own folder faces."""

import numpy as np

from emotion_convert.cli import main as convert_main
from emotion_device.classifier import EmotionClassifier


def test_a_finetuned_run_converts_to_a_loadable_int8_model(finetune_run, tmp_path, data_dir):
    rc = convert_main([str(finetune_run / "model.keras"), "--name", "mine", "--out-dir", str(tmp_path),
                       "--calibration", "32", "--data-dir", str(data_dir), "--min-agreement", "0"])
    assert rc == 0
    classifier = EmotionClassifier(tmp_path / "mine.tflite")
    training = classifier.card.training
    assert training["base_model"]["file"].endswith(".keras")
    assert training["command"].startswith("emotion-train finetune")
    assert classifier.card.metrics["val"]["int8_float_top1_agreement"] > 0
    scores = classifier.scores(np.full((1, 48, 48, 1), 100, np.float32))
    assert scores.shape == (1, len(classifier.labels))
