"""Re-estimate BatchNorm statistics for weights that did not produce them (a weight average).

Keras' moving average of the weights (`use_ema`) covers the trainable variables only, so after
`SwapEMAWeights` the averaged convolutions run with the moving means and variances that the
*raw* weights' activations left behind. Those do not describe the averaged network, whose
activations differ, and the validated and kept model is then worse than either network alone
(the `ema` lever: 78.91% on the validation split against 80.14% for `base`). The usual cure
(SWA's `update_bn`) is one training-mode pass over clean training faces: every BatchNorm layer
then holds the moments of its own input under the weights now in the model.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from emotion_device.preprocess import to_model_input

REFRESH_FACES = 4096  # 2,048 faces measured 80.04%, 4,096 80.28%, 6,000 80.25% (docs/accuracy)


def refresh_sample(faces: np.ndarray, seed: int, size: int = REFRESH_FACES) -> np.ndarray:
    """A fixed, seeded sample of clean (not augmented) faces, as the model takes them."""
    pick = np.random.default_rng(seed).permutation(len(faces))[:size]
    return to_model_input(faces[np.sort(pick)])


class BatchNormRefresher:
    """Sets every BatchNormalization layer's moving statistics from one pass over `faces`.

    Built once per model: the probe that exposes each BatchNorm layer's input, and its traced
    training-mode call, are reused on every refresh. In training mode each BatchNorm normalizes
    with its batch's own moments, so the input of every later layer is what it sees in training
    whatever the moving statistics hold; the batch moments are pooled over all faces (the mean
    of the batches' means and of their squares, weighted by batch size).
    """

    def __init__(self, model: keras.Model, faces: np.ndarray, batch_size: int = 256) -> None:
        self.layers = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
        self.faces = faces
        self.batch_size = batch_size
        if not self.layers:  # nothing to refresh (a network without BatchNorm)
            return
        probe = keras.Model(model.input, [layer.input for layer in self.layers])
        axes = [0, 1, 2]

        @tf.function(reduce_retracing=True)
        def moments(batch: tf.Tensor) -> list[tuple[tf.Tensor, tf.Tensor]]:
            inputs = probe(batch, training=True)
            return [(tf.reduce_mean(x, axes), tf.reduce_mean(tf.square(x), axes)) for x in inputs]

        self._moments = moments

    def __call__(self) -> None:
        if not self.layers:
            return
        shapes = [layer.moving_mean.shape for layer in self.layers]
        sums = [(np.zeros(shape), np.zeros(shape)) for shape in shapes]
        for start in range(0, len(self.faces), self.batch_size):
            batch = self.faces[start:start + self.batch_size]
            weight = len(batch) / len(self.faces)
            moments = self._moments(tf.constant(batch))
            for (mean_sum, square_sum), (mean, square) in zip(sums, moments, strict=True):
                mean_sum += weight * mean.numpy()
                square_sum += weight * square.numpy()
        for layer, (mean_sum, square_sum) in zip(self.layers, sums, strict=True):
            layer.moving_mean.assign(mean_sum.astype(np.float32))
            layer.moving_variance.assign(np.maximum(square_sum - mean_sum ** 2, 0.0).astype(np.float32))


class RefreshBatchNorm(keras.callbacks.Callback):
    """Refreshes the BatchNorm statistics whenever the averaged weights are put in the model.

    Goes after `SwapEMAWeights` in the callback list, so that it sees the averaged weights:
    before each validation (`on_test_begin`) and, when an epoch had no validation, at the
    epoch's end, before the checkpoint that keeps the model. The statistics are not swapped
    back with the weights; training does not read them (it normalizes with batch moments) and
    overwrites them within a few hundred steps.
    """

    def __init__(self, faces: np.ndarray) -> None:
        super().__init__()
        self.faces = faces
        self._refresh: BatchNormRefresher | None = None
        self._validated = False

    def _run(self) -> None:
        if self._refresh is None:
            self._refresh = BatchNormRefresher(self.model, self.faces)
        self._refresh()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._validated = False

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._run()
        self._validated = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self._validated:
            self._run()
