"""Activation equalization keeps the float function of a real network while evening out its
per-channel ranges, and only rescales through layers where that is exact."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from emotion_convert.equalize import equalizable_pairs, equalized_copy
from emotion_device.preprocess import to_model_input
from tests.conftest import MODELS


@pytest.fixture(scope="module")
def real_faces(data_dir) -> np.ndarray:
    with np.load(data_dir / "fer2013_val.npz") as data:
        return to_model_input(data["x"][:600])


@pytest.fixture(scope="module")
def shipped() -> keras.Model:
    return keras.models.load_model(MODELS / "ferplus8.keras", compile=False)


def test_the_shipped_network_computes_the_same_scores_with_its_ranges_evened_out(shipped, real_faces):
    calibration, held_out = real_faces[:300], real_faces[300:]
    before = [weights.copy() for weights in shipped.get_weights()]
    equalized, report = equalized_copy(shipped, calibration, alpha=0.5, cap=8.0)

    # Every BatchNormalization of the network feeds a convolution or the classifier through
    # ReLU, pooling or dropout, so every one is equalized.
    batch_norms = [layer for layer in shipped.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert [pair.batch_norm for pair in report] == [layer.name for layer in batch_norms]
    assert report[-1].consumer == "scores"
    for pair in report:
        assert pair.range_ratio_after < pair.range_ratio_before, pair
        assert 1.0 < pair.largest_scale <= 8.0, pair

    # Same function on faces the ranges were not measured on; the trained model is untouched.
    np.testing.assert_allclose(equalized.predict(held_out, verbose=0), shipped.predict(held_out, verbose=0),
                               atol=1e-5)
    assert all(np.array_equal(a, b) for a, b in zip(before, shipped.get_weights(), strict=True))


def test_alpha_zero_changes_nothing(shipped, real_faces):
    equalized, report = equalized_copy(shipped, real_faces[:100], alpha=0.0)
    assert all(pair.largest_scale == 1.0 for pair in report)
    assert all(np.array_equal(a, b)
               for a, b in zip(shipped.get_weights(), equalized.get_weights(), strict=True))


def _chain(activation: keras.layers.Layer, groups: int = 1) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = activation(x)
    x = keras.layers.Conv2D(4, 3, padding="same", groups=groups)(x)
    return keras.Model(inputs, x)


def test_a_clipping_or_shifted_relu_or_a_grouped_convolution_stops_the_rescaling():
    assert len(equalizable_pairs(_chain(keras.layers.ReLU()))) == 1
    assert equalizable_pairs(_chain(keras.layers.ReLU(max_value=6.0))) == []
    assert equalizable_pairs(_chain(keras.layers.ReLU(threshold=0.5))) == []
    assert equalizable_pairs(_chain(keras.layers.ReLU(), groups=2)) == []  # each group sees half the channels


def test_a_branching_batch_norm_is_left_alone():
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3, padding="same")(inputs))
    outputs = keras.layers.Add()([keras.layers.Conv2D(4, 1)(x), keras.layers.Conv2D(4, 1)(x)])
    assert equalizable_pairs(keras.Model(inputs, outputs)) == []


def test_out_of_range_settings_are_refused(shipped, real_faces):
    with pytest.raises(ValueError, match="alpha"):
        equalized_copy(shipped, real_faces[:10], alpha=1.5)
    with pytest.raises(ValueError, match="cap"):
        equalized_copy(shipped, real_faces[:10], cap=0.5)
