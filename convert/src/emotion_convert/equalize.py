"""Per-channel activation equalization before int8 conversion.

Full-integer int8 gives every activation tensor one scale, set by its widest channel. A channel
whose values span a quarter of the tensor's range then has a quarter of the int8 grid, and its
rounding error is four times as large relative to its signal. Most of the int8-vs-float
disagreements that are not ties come from there.

The float function can be kept exactly while the ranges are evened out. A BatchNormalization
followed only by layers that commute with a positive per-channel scale (ReLU, max and average
pooling, dropout) and then by a Conv2D or Dense: multiplying the BatchNormalization's gamma and
beta of channel i by c_i > 0 multiplies that channel by c_i all the way to the consumer, which
undoes it by dividing its input-channel-i weights by c_i. With

    c_i = min((R / R_i) ** alpha, cap)      R_i: channel i's largest |value| on real faces,
                                            R: the tensor's largest,

alpha 0 changes nothing, alpha 1 gives every channel the full grid but moves all of the error
into the consumer's (per-output-channel) weights; alpha between them shares it, as in
SmoothQuant (Xiao et al., 2023) and data-free equalization (Nagel et al., 2019).

Only the network that is converted changes: the float reference (NAME.keras) stays the trained
one, and parity compares the int8 model against it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import keras
import numpy as np

log = logging.getLogger(__name__)

# Layers through which a positive per-channel scale passes unchanged: f(c * x) = c * f(x).
_COMMUTING = (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D,
              keras.layers.GlobalAveragePooling2D, keras.layers.GlobalMaxPooling2D,
              keras.layers.Dropout)
_CONSUMERS = (keras.layers.Conv2D, keras.layers.Dense)


@dataclass(frozen=True)
class EqualizedPair:
    """One BatchNormalization whose channels were rescaled, and the layer that undoes it."""

    batch_norm: str
    consumer: str
    channels: int
    range_ratio_before: float  # the tensor's widest channel over its median channel
    range_ratio_after: float
    largest_scale: float


def _commutes(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        # max_value clips at a fixed level and a threshold moves the kink: neither commutes.
        return layer.max_value is None and float(layer.threshold) == 0.0
    return isinstance(layer, _COMMUTING)


def _producer(layer: keras.layers.Layer) -> keras.layers.Layer | None:
    inputs = layer.input
    if isinstance(inputs, (list, tuple)):
        return None
    return inputs._keras_history.operation


def equalizable_pairs(model: keras.Model) -> list[tuple[keras.layers.Layer, list[keras.layers.Layer],
                                                         keras.layers.Layer]]:
    """(BatchNormalization, layers between, consumer) for every chain the rescaling can pass:
    each link has exactly one consumer, the BatchNormalization normalizes the channel axis with a
    gamma and a beta, and the consumer is an ungrouped convolution or a dense layer."""
    consumers: dict[int, list[keras.layers.Layer]] = {}
    for layer in model.layers:
        producer = None if isinstance(layer, keras.layers.InputLayer) else _producer(layer)
        if producer is not None:
            consumers.setdefault(id(producer), []).append(layer)
    pairs = []
    for layer in model.layers:
        if not (isinstance(layer, keras.layers.BatchNormalization) and layer.scale and layer.center
                and layer.axis in (-1, len(layer.input.shape) - 1)):
            continue
        between: list[keras.layers.Layer] = []
        current = layer
        while True:
            following = consumers.get(id(current), [])
            if len(following) != 1:
                break
            current = following[0]
            if isinstance(current, _CONSUMERS):
                # A grouped convolution's kernel sees a slice of the input channels, not all of them.
                if getattr(current, "groups", 1) == 1:
                    pairs.append((layer, between, current))
                break
            if not _commutes(current):
                break
            between.append(current)
    return pairs


def channel_ranges(model: keras.Model, faces: np.ndarray,
                   pairs: list[tuple[keras.layers.Layer, list[keras.layers.Layer], keras.layers.Layer]],
                   batch_size: int = 256) -> list[np.ndarray]:
    """Per channel, the largest |value| on `faces` of each quantized tensor a pair rescales
    (the first layer after its BatchNormalization: the fused convolution's output)."""
    probes = [(between[0] if between else batch_norm).output for batch_norm, between, _ in pairs]
    probe = keras.Model(model.inputs, probes)  # called with a list: any input structure matches
    ranges = [np.zeros(batch_norm.output.shape[-1], np.float64) for batch_norm, _, _ in pairs]
    for start in range(0, len(faces), batch_size):
        outputs = probe([faces[start:start + batch_size]], training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for index, tensor in enumerate(outputs):
            values = np.abs(keras.ops.convert_to_numpy(tensor))
            ranges[index] = np.maximum(ranges[index], values.reshape(-1, values.shape[-1]).max(0))
    return ranges


def equalized_copy(model: keras.Model, faces: np.ndarray, alpha: float = 0.5,
                   cap: float = 8.0) -> tuple[keras.Model, list[EqualizedPair]]:
    """A copy of `model` computing the same function, its per-channel activation ranges evened
    out as measured on `faces` (model inputs, e.g. the calibration set). `model` is untouched."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be within [0, 1], got {alpha}")
    if cap < 1.0:
        raise ValueError(f"cap must be at least 1, got {cap}")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    pairs = equalizable_pairs(copy)
    if not pairs:
        log.warning("%s has no BatchNormalization -> Conv2D/Dense chain to equalize", model.name)
        return copy, []
    report = []
    for (batch_norm, _, consumer), ranges in zip(pairs, channel_ranges(copy, faces, pairs), strict=True):
        # A channel that never fires on real faces keeps its scale: nothing to spread there.
        live = ranges > 0
        scale = np.ones_like(ranges)
        scale[live] = np.minimum((ranges.max() / ranges[live]) ** alpha, cap)
        gamma, beta = batch_norm.gamma, batch_norm.beta
        gamma.assign(keras.ops.convert_to_numpy(gamma) * scale.astype(np.float32))
        beta.assign(keras.ops.convert_to_numpy(beta) * scale.astype(np.float32))
        kernel = keras.ops.convert_to_numpy(consumer.kernel)
        # The input channel is the kernel's second-to-last axis for Conv2D [kh,kw,in,out] and
        # Dense [in,out] alike.
        consumer.kernel.assign(kernel / scale.astype(np.float32)[:, None])
        after = ranges * scale
        report.append(EqualizedPair(
            batch_norm=batch_norm.name, consumer=consumer.name, channels=len(ranges),
            range_ratio_before=round(float(ranges.max() / np.median(ranges[live])), 2),
            range_ratio_after=round(float(after.max() / np.median(after[live])), 2),
            largest_scale=round(float(scale.max()), 2)))
        log.debug("equalized %s -> %s: %s", batch_norm.name, consumer.name, report[-1])
    return copy, report
