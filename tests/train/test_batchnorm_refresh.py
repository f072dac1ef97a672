"""A weight average gets BatchNorm statistics of its own (emotion_train.batchnorm_refresh).

Keras averages only the trainable weights, so without a refresh the averaged network runs with
the raw network's moving statistics. These tests use real FER2013 faces and a real network.
"""

import keras
import numpy as np
import pytest

from emotion_train import architectures
from emotion_train.batchnorm_refresh import BatchNormRefresher, refresh_sample
from emotion_train.fer2013 import load_fer2013_npz


@pytest.fixture(scope="module")
def faces(data_dir):
    return load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-majority").x[:128]


def _network(seed: int = 3) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = architectures.build("edge", 5)
    for layer in model.layers:  # statistics that describe nothing, as after a weight swap
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 5.0, np.float32))
            layer.moving_variance.assign(np.full(layer.moving_variance.shape, 0.01, np.float32))
    return model


def _statistics(model: keras.Model) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(layer.moving_mean.numpy().copy(), layer.moving_variance.numpy().copy())
            for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]


def test_each_batchnorm_layer_ends_up_holding_its_own_inputs_statistics(faces):
    model = _network()
    sample = refresh_sample(faces, seed=0)
    assert sample.shape == (len(faces), 48, 48, 1) and sample.dtype == np.float32
    BatchNormRefresher(model, sample, batch_size=len(sample))()

    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert len(norms) >= 5
    probe = keras.Model(model.input, [layer.input for layer in norms])
    inputs = probe(sample, training=True)  # one batch: exactly the pass the refresh saw
    for layer, x in zip(norms, inputs, strict=True):
        x = np.asarray(x, np.float64)
        np.testing.assert_allclose(layer.moving_mean.numpy(), x.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(layer.moving_variance.numpy(), x.var(axis=(0, 1, 2)), rtol=1e-3, atol=1e-5)
    # So inference now normalizes as training does: the network answers the same in both modes.
    np.testing.assert_allclose(probe(sample, training=False)[-1], inputs[-1], rtol=1e-3, atol=1e-3)


def test_the_pooled_statistics_do_not_depend_on_the_order_of_the_batches(faces):
    sample = refresh_sample(faces, seed=0)
    half = len(sample) // 2
    forward, backward = _network(), _network()
    BatchNormRefresher(forward, sample, batch_size=half)()
    BatchNormRefresher(backward, np.concatenate([sample[half:], sample[:half]]), batch_size=half)()
    for (mean_a, var_a), (mean_b, var_b) in zip(_statistics(forward), _statistics(backward), strict=True):
        np.testing.assert_allclose(mean_a, mean_b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(var_a, var_b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(_statistics(forward)[0][0], 5.0), "the statistics were replaced"


def test_the_sample_is_seeded_sorted_and_capped(faces):
    a, b = refresh_sample(faces, seed=1, size=50), refresh_sample(faces, seed=1, size=50)
    np.testing.assert_array_equal(a, b)
    assert len(a) == 50 and not np.array_equal(a, refresh_sample(faces, seed=2, size=50))
    assert len(refresh_sample(faces, seed=1)) == len(faces)  # fewer faces than the cap: all of them
