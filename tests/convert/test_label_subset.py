"""One network, several label sets: a FER+ eight-class model restricted to the five emotions."""

import json

import keras
import numpy as np
import pytest

from emotion_convert.cli import main as convert_main
from emotion_convert.label_subset import restrict_labels
from emotion_device.classifier import EmotionClassifier
from emotion_device.labels import LABEL_SETS
from emotion_train import architectures
from emotion_train.cli import main as train_main

FERPLUS8, EMOTION5 = LABEL_SETS["ferplus8"], LABEL_SETS["emotion5"]


def _faces(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, 48, 48, 1)).astype(np.float32)


def _randomized(model: keras.Model, seed: int = 0) -> keras.Model:
    """Fresh Keras heads start with zero bias; random weights make the check meaningful."""
    rng = np.random.default_rng(seed)
    head = model.get_layer("scores")
    kernel, bias = head.get_weights()
    head.set_weights([rng.normal(0, 0.5, kernel.shape).astype(np.float32),
                      rng.normal(0, 1.0, bias.shape).astype(np.float32)])
    return model


def test_restricted_scores_are_the_conditional_probabilities_of_the_subset():
    model = _randomized(architectures.build("edge", len(FERPLUS8)))
    subset = restrict_labels(model, FERPLUS8, EMOTION5)
    faces = _faces(6)
    full = model.predict(faces, verbose=0)
    expected = full[:, [FERPLUS8.index(label) for label in EMOTION5]]
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(subset.predict(faces, verbose=0), expected, rtol=1e-4, atol=1e-6)
    assert subset.output_shape == (None, len(EMOTION5))
    assert subset.count_params() == model.count_params() - (len(FERPLUS8) - len(EMOTION5)) * 193


def test_a_label_the_model_lacks_is_refused():
    model = architectures.build("edge", len(EMOTION5))
    with pytest.raises(ValueError, match="no class"):
        restrict_labels(model, EMOTION5, ("contempt", "happy"))


@pytest.fixture(scope="module")
def ferplus8_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("ferplus8")
    assert train_main(["train", "--out", str(out), "--label-set", "ferplus8", "--labels", "ferplus-soft",
                       "--limit", "384", "--val-limit", "256", "--epochs", "1",
                       "--data-dir", str(data_dir), "--no-jit"]) == 0
    return out


def test_convert_writes_an_emotion5_model_from_a_ferplus8_run(ferplus8_run, tmp_path, data_dir):
    rc = convert_main([str(ferplus8_run / "model.keras"), "--name", "five", "--label-set", "emotion5",
                       "--out-dir", str(tmp_path), "--calibration", "64", "--data-dir", str(data_dir),
                       "--min-agreement", "0"])
    assert rc == 0
    classifier = EmotionClassifier(tmp_path / "five.tflite")
    card = classifier.card
    assert card.labels == list(EMOTION5)
    assert card.training["label_set"] == "emotion5"
    subset_of = card.training["conversion"]["label_subset_of"]
    assert subset_of == {"label_set": "ferplus8", "labels": list(FERPLUS8)}
    assert card.metrics["test"]["int8"]["n"] == 256 and card.metrics["val"]["int8"]["n"] > 0
    assert card.metrics["test"]["split"] == "FER2013 PublicTest"
    assert set(card.metrics["test"]["int8"]["per_class_recall"]) == set(EMOTION5)
    assert "test_fer2013_labels" in card.metrics
    assert classifier.scores(_faces(3)).shape == (3, 5)
    assert any("Article 5(1)(f)" in text for text in card.limitations)
    recall = card.metrics["test"]["int8"]["per_class_recall"]
    weakest = min(recall, key=recall.get)
    assert f"weakest first: {weakest} {100 * recall[weakest]:.1f}%" in card.limitations[-1]
    assert "(FER+ majority labels, n=" in card.limitations[-1]

    float_copy = keras.models.load_model(tmp_path / "five.keras", compile=False)
    assert float_copy.output_shape == (None, 5)


def test_a_model_that_can_answer_contempt_is_not_scored_against_fer2013_labels(ferplus8_run, tmp_path,
                                                                               data_dir):
    """FER2013 has no contempt: its labels would count every contempt answer wrong."""
    assert "test_fer2013_labels" not in json.loads((ferplus8_run / "run.json").read_text())["metrics"]
    assert convert_main([str(ferplus8_run / "model.keras"), "--name", "eight", "--out-dir", str(tmp_path),
                         "--calibration", "64", "--data-dir", str(data_dir), "--min-agreement", "0"]) == 0
    card = EmotionClassifier(tmp_path / "eight.tflite").card
    assert card.labels == list(FERPLUS8) and card.metrics["test"]["labels"] == "ferplus-soft"
    assert "test_fer2013_labels" not in card.metrics


def test_a_run_warm_started_from_another_label_set_keeps_the_backbone(ferplus8_run, tmp_path, data_dir):
    out = tmp_path / "fer7"
    assert train_main(["train", "--out", str(out), "--label-set", "fer7", "--labels", "fer2013",
                       "--init-from", str(ferplus8_run / "model.keras"), "--limit", "128",
                       "--val-limit", "64", "--epochs", "1", "--data-dir", str(data_dir), "--no-jit"]) == 0
    started = json.loads((out / "run.json").read_text())["init_from"]
    assert started["model"] == str(ferplus8_run / "model.keras")
    assert started["layers_fresh"] == ["scores"]
    assert {"stem_conv", "block3a_conv", "block3a_bn"} <= set(started["layers_transferred"])


def test_warm_start_copies_matching_layers_only(ferplus8_run):
    from emotion_train.warm_start import warm_start

    model = architectures.build("edge", len(LABEL_SETS["fer7"]))
    started = warm_start(model, ferplus8_run / "model.keras")
    base = keras.models.load_model(ferplus8_run / "model.keras", compile=False)
    for name in started.transferred:
        for ours, theirs in zip(model.get_layer(name).get_weights(), base.get_layer(name).get_weights()):
            np.testing.assert_array_equal(ours, theirs)
    assert started.fresh == ["scores"]

    with pytest.raises(ValueError, match="shares no layer"):
        warm_start(architectures.build("baseline", 7), ferplus8_run / "model.keras")
