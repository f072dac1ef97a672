"""Quantization-aware training (QAT): fine-tune a trained network with int8 rounding simulated in
its forward pass, then convert it to the same full-integer int8 TFLite as post-training
quantization (int8 input and output, raw pixels in), so the device runs it unchanged.

Post-training quantization rounds a network that never saw rounding; a few validation faces whose
top two classes are close then change their answer. QAT lets the weights settle where the int8
network and its float twin agree. Keras 3 has no QAT, so the network is translated into tf_keras
(`tf_keras_twin`), wrapped by the TensorFlow Model Optimization toolkit, fine-tuned on the run's
own training faces with the run's own targets, weights and augmentation, and its fine-tuned
weights are copied back into the Keras 3 network, which stays the float reference (NAME.keras).

The schedule is fixed (a constant, low learning rate for a given number of epochs) and the last
epoch is kept: nothing is selected, so no split beyond the training faces is read.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras
from tensorflow_model_optimization.python.core.quantization.keras.quantize_config import QuantizeConfig
from tensorflow_model_optimization.python.core.quantization.keras.quantize_layer import QuantizeLayer

from emotion_convert.quantize import convert_int8
from emotion_convert.tf_keras_twin import copy_weights_back, to_tf_keras
from emotion_train.augmentation import build_augmenter
from emotion_train.fer2013 import FaceDataset
from emotion_train.training import class_weights, input_pipeline

log = logging.getLogger(__name__)

quantize = tfmot.quantization.keras
# The device feeds raw pixels: the int8 input must hold 0..255 at a scale of 1 (zero point -128).
PIXEL_RANGE = (0.0, 255.0)


@dataclass(frozen=True)
class QatSettings:
    epochs: int
    learning_rate: float


class OutputQuantizeConfig(QuantizeConfig):  # tfmot.quantization.keras.QuantizeConfig
    """Quantize the output of a layer without weights that tfmot's registry does not know: the
    Rescaling that turns raw pixels into the network's [-1, 1] input."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [quantize.quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                           narrow_range=False)]

    def get_config(self):
        return {}


def quantization_aware(model: tf_keras.Model) -> tf_keras.Model:
    """`model` with fake int8 quantization of its weights and activations (tfmot's default
    8-bit scheme, the one the TFLite converter implements)."""
    def annotate(layer: tf_keras.layers.Layer) -> tf_keras.layers.Layer:
        if isinstance(layer, tf_keras.layers.Rescaling):
            return quantize.quantize_annotate_layer(layer, quantize_config=OutputQuantizeConfig())
        return quantize.quantize_annotate_layer(layer)

    # The annotations wrap `model`'s own layers; quantize_apply copies them, weights included.
    annotated = tf_keras.models.clone_model(model, clone_function=annotate)
    with quantize.quantize_scope({"OutputQuantizeConfig": OutputQuantizeConfig}):
        return quantize.quantize_apply(annotated)


def start_ranges(qat_model: tf_keras.Model, twin: tf_keras.Model, faces: np.ndarray, batch: int = 64) -> None:
    """Start every activation range of the quantization-aware model at its float network's range
    on real faces (as post-training calibration would), and the input's at the pixel range.

    tfmot starts them at [-6, 6] and moves them by a moving average with decay 0.999, which needs
    thousands of steps to forget that start; a short fine-tune would convert with ranges that fit
    no layer (the [-1, 1] normalized input at six times its resolution, for one).
    """
    wrappers = [layer for layer in qat_model.layers if isinstance(layer, quantize.QuantizeWrapper)]
    floats = [twin.get_layer(wrapper.layer.name) for wrapper in wrappers]
    probe = tf_keras.Model(twin.inputs,
                           [layer.input for layer in floats] + [layer.output for layer in floats])
    low: dict[str, float] = {}
    high: dict[str, float] = {}

    def widen(key: str, values: tf.Tensor) -> None:
        low[key] = min(low.get(key, 0.0), float(tf.reduce_min(values)))
        high[key] = max(high.get(key, 0.0), float(tf.reduce_max(values)))

    for start in range(0, len(faces), batch):
        tensors = probe(faces[start:start + batch], training=False)
        for layer, inputs, outputs in zip(floats, tensors[:len(floats)], tensors[len(floats):], strict=True):
            widen(f"{layer.name}/output", outputs)
            widen(f"{layer.name}/post_activation", outputs)  # tfmot's name for an activated layer's output
            if getattr(layer, "activation", None) not in (None, tf_keras.activations.linear):
                widen(f"{layer.name}/pre_activation", _without_activation(layer, inputs))
    for wrapper in wrappers:
        for variable in wrapper.non_trainable_weights:
            name = variable.name.removeprefix(f"{wrapper.name}/").removesuffix(":0")
            kind, _, end = name.rpartition("_")
            key = f"{wrapper.layer.name}/{kind}"
            if end in ("min", "max") and key in low:
                variable.assign(tf.fill(variable.shape, low[key] if end == "min" else high[key]))
    fix_input_range(qat_model)


def fix_input_range(qat_model: tf_keras.Model) -> None:
    """The input quantizer's range back to the pixel range: augmentation moves pixels beyond
    0..255 in training, and tfmot's input quantizer widens to every value it has seen."""
    for layer in qat_model.layers:
        if isinstance(layer, QuantizeLayer):  # the input quantizer (not exported by tfmot 0.8)
            for variable in layer.non_trainable_weights:
                if variable.name.endswith(("_min:0", "_max:0")):
                    variable.assign(PIXEL_RANGE[0] if variable.name.endswith("_min:0") else PIXEL_RANGE[1])


def _without_activation(layer: tf_keras.layers.Layer, inputs: tf.Tensor) -> tf.Tensor:
    """A Dense or Conv layer's output before its activation (the logits under a softmax)."""
    activation = layer.activation
    layer.activation = tf_keras.activations.linear
    try:
        return layer(inputs, training=False)
    finally:
        layer.activation = activation


def fine_tune(qat_model: tf_keras.Model, train: FaceDataset, config: dict, settings: QatSettings) -> float:
    """Fit the quantization-aware model on the run's training faces as the run trained (batch
    size, class weights, augmentation, mixup, label smoothing, weight decay); returns seconds."""
    tf_keras.utils.set_random_seed(config["seed"])
    weights = class_weights(train.y, len(train.labels), config["class_weight"])
    augmenter = build_augmenter(config["seed"]) if config["augment"] else None
    dataset = input_pipeline(train, config["batch_size"], config["seed"], weights, augmenter, shuffle=True,
                             mixup=config.get("mixup", 0.0))
    qat_model.compile(
        optimizer=tf_keras.optimizers.AdamW(settings.learning_rate,
                                            weight_decay=config.get("weight_decay", 0.0)),
        loss=tf_keras.losses.CategoricalCrossentropy(label_smoothing=config.get("label_smoothing", 0.0)),
        metrics=[tf_keras.metrics.CategoricalAccuracy(name="accuracy")],
    )
    started = time.time()
    history = qat_model.fit(dataset, epochs=settings.epochs, verbose=2)
    seconds = time.time() - started
    log.info("QAT: %d epochs on %d faces in %.0f s, last training accuracy %.4f", settings.epochs,
             len(train), seconds, history.history["accuracy"][-1])
    return seconds


def train_and_convert(model: keras.Model, train: FaceDataset, config: dict, settings: QatSettings,
                      calibration: np.ndarray) -> tuple[bytes, dict]:
    """QAT-fine-tune `model` (changed in place: it becomes the float twin of the int8 model) on
    `train`, the run's training faces, with the run's `config`; returns the int8 TFLite and the
    facts for the model card. `calibration`, model inputs from `train`, starts the ranges."""
    if config.get("teachers"):
        from emotion_train.distillation import distilled

        train = distilled(train, config["teachers"], config["distill_weight"])
    twin = to_tf_keras(model)
    qat_model = quantization_aware(twin)
    start_ranges(qat_model, twin, calibration)
    seconds = fine_tune(qat_model, train, config, settings)
    fix_input_range(qat_model)
    # The ranges come from the fake-quantization nodes; the calibration faces give the converter
    # the one range QAT has no node for (the multiplication inside Rescaling, before its output
    # is quantized), which would otherwise run in float between a DEQUANTIZE and a QUANTIZE.
    tflite = convert_int8(qat_model, calibration)
    copy_weights_back(qat_model, model)
    probe = calibration[:64]
    gap = float(np.abs(model.predict(probe, verbose=0) - qat_model(probe, training=False).numpy()).max())
    log.info("QAT float twin vs the quantization-aware model on 64 faces: max score gap %.4f", gap)
    return tflite, {"epochs": settings.epochs, "learning_rate": settings.learning_rate,
                    "optimizer": "AdamW, constant rate", "train_faces": len(train),
                    "batch_size": config["batch_size"], "range_calibration_faces": len(calibration),
                    "seconds": round(seconds, 1),
                    "toolkit": f"tensorflow-model-optimization {tfmot.__version__}, "
                               f"tf_keras {tf_keras.__version__}"}
