import json
import shutil

import numpy as np
import pytest

from emotion_device.classifier import EmotionClassifier
from emotion_device.labels import LABEL_SETS, VOCABULARY
from emotion_device.model_card import ModelCard, ModelCardError, load_verified_card, sha256_of
from tests.conftest import MODELS

BUNDLED = ("emotion5", "fer7", "ferplus8")


@pytest.mark.parametrize("name", BUNDLED)
def test_each_bundled_model_fits_the_budget_and_says_what_it_is_for(name):
    model = MODELS / f"{name}.tflite"
    card = load_verified_card(model)
    assert card.labels == list(LABEL_SETS[name]) and card.training["label_set"] == name
    assert model.stat().st_size <= 4 * 1024 * 1024, "the size budget is 4 MB of int8"
    assert card.architecture["tflite_bytes"] == model.stat().st_size
    assert card.training["command"].startswith("emotion-train train")
    assert card.training["conversion"]["command"].startswith("emotion-convert ")
    assert "Article 5(1)(f)" in card.intended_use
    text = " ".join(card.limitations)
    for topic in ("FER2013", "never a felt emotion", "Article 5(1)(f)", "children", "Profile faces",
                  "no identity is inferred"):
        assert topic in text, topic
    recall = card.metrics["test"]["int8"]["per_class_recall"]
    assert set(recall) == set(card.labels)
    for label, value in recall.items():
        assert f"{label} {100 * value:.1f}%" in card.limitations[-1]
    classifier = EmotionClassifier(model)
    assert classifier.scores(np.full((1, 48, 48, 1), 128, np.float32)).shape == (1, len(card.labels))


def test_bundled_model_matches_its_card(bundled_model):
    card = load_verified_card(bundled_model)
    assert card.sha256 == sha256_of(bundled_model)
    assert card.labels == list(LABEL_SETS["emotion5"])
    assert set(card.labels) <= set(VOCABULARY)
    assert (card.input.height, card.input.width, card.input.channels) == (48, 48, 1)
    for key in ("command", "epochs", "seed", "data", "label_source"):
        assert card.training[key] not in (None, ""), key
    metrics = card.metrics["test"]
    for side in ("float", "int8"):
        assert 0 < metrics[side]["accuracy"] <= 1
        assert set(metrics[side]["per_class_f1"]) == set(card.labels)
    assert metrics["int8_float_top1_agreement"] >= 0.98


def _copy_model(bundled_model, tmp_path):
    target = tmp_path / "copy.tflite"
    shutil.copy(bundled_model, target)
    shutil.copy(bundled_model.with_suffix(".json"), target.with_suffix(".json"))
    return target


def test_a_corrupted_model_is_refused_with_a_clear_error(bundled_model, tmp_path):
    model = _copy_model(bundled_model, tmp_path)
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelCardError, match=r"does not match its card.*refusing"):
        EmotionClassifier(model)


def test_a_model_without_card_is_refused(bundled_model, tmp_path):
    model = _copy_model(bundled_model, tmp_path)
    model.with_suffix(".json").unlink()
    with pytest.raises(ModelCardError, match="not found"):
        EmotionClassifier(model)


def test_garbage_with_a_matching_card_is_not_mistaken_for_a_missing_runtime(bundled_model, tmp_path):
    model = _copy_model(bundled_model, tmp_path)
    model.write_bytes(b"this is not a flatbuffer" * 10)
    card = json.loads(model.with_suffix(".json").read_text())
    card["sha256"] = sha256_of(model)
    model.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="not a valid TFLite model"):
        EmotionClassifier(model)


def test_card_with_unknown_labels_is_rejected():
    with pytest.raises(ModelCardError, match="vocabulary"):
        ModelCard.from_dict({"name": "x", "labels": ["joyful"], "sha256": "0", "created": "now"})
    with pytest.raises(ModelCardError, match="'sha256'"):
        ModelCard.from_dict({"name": "x", "labels": ["happy"], "created": "now"})
