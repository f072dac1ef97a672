"""The committed int8 models agree with their float originals on FER2013 PublicTest."""

import keras
import numpy as np
import pytest

from emotion_convert.parity import int8_scores
from emotion_device.model_card import load_verified_card, sha256_of
from emotion_device.preprocess import to_model_input
from emotion_train.fer2013 import load_fer2013_npz
from tests.conftest import MODELS


@pytest.mark.parametrize("name", ["emotion5", "fer7", "ferplus8"])
def test_int8_agrees_with_float_on_at_least_98_percent_of_publictest(data_dir, name):
    model_path = MODELS / f"{name}.tflite"
    card = load_verified_card(model_path)
    float_ref = card.training["conversion"]["float_reference"]
    float_path = MODELS / float_ref["file"]
    assert sha256_of(float_path) == float_ref["sha256"]

    val = load_fer2013_npz(data_dir / "fer2013_val.npz", card.training["label_set"],
                           card.training["label_source"])
    x = to_model_input(val.x)
    float_scores = keras.models.load_model(float_path).predict(x, batch_size=512, verbose=0)
    quant_scores = int8_scores(model_path, x)
    agreement = np.mean(float_scores.argmax(1) == quant_scores.argmax(1))
    assert agreement >= 0.98, f"int8 agrees with float on only {agreement:.2%}"
    # The card reports what this test measures.
    assert abs(agreement - card.metrics["test"]["int8_float_top1_agreement"]) < 0.002
    int8_acc = np.mean(quant_scores.argmax(1) == val.y)
    assert abs(int8_acc - card.metrics["test"]["int8"]["accuracy"]) < 0.002
