"""A Keras 3 network as a tf_keras (Keras 2) network with the same layers and weights, and back.

The TensorFlow Model Optimization toolkit's quantization-aware training wraps tf_keras layers
only; Keras 3, which trains every network here, has no QAT. Translating layer by layer from
each layer's own config (rather than keeping tf_keras builders beside the Keras 3 ones) keeps
`emotion_train.architectures` the one definition of every network, and works for any
functional model made of layers both Keras versions have.
"""

from __future__ import annotations

import keras
import tf_keras

# Settings Keras 3 layers have and tf_keras layers lack; a layer with any of them set (a
# quantized or LoRA-adapted layer) computes something tf_keras cannot, so it is refused.
KERAS3_ONLY = ("quantization_config", "lora_rank", "lora_alpha")


def to_tf_keras(model: keras.Model) -> tf_keras.Model:
    """The functional Keras 3 `model` rebuilt in tf_keras, layer names and weights included."""
    tensors: dict[int, tf_keras.KerasTensor] = {}  # id of a Keras 3 tensor -> its tf_keras twin
    inputs = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            twin = tf_keras.Input(batch_shape=layer.batch_shape, dtype=layer.dtype, name=layer.name)
            tensors[id(layer.output)] = twin
            inputs.append(twin)
            continue
        twin_layer = _twin_layer(layer)
        sources = layer.input if isinstance(layer.input, list) else [layer.input]
        args = [tensors[id(source)] for source in sources]
        out = twin_layer(args if isinstance(layer.input, list) else args[0])
        twin_layer.set_weights(layer.get_weights())
        tensors[id(layer.output)] = out
    outputs = [tensors[id(output)] for output in model.outputs]
    return tf_keras.Model(inputs, outputs[0] if len(outputs) == 1 else outputs, name=model.name)


def copy_weights_back(source: tf_keras.Model, target: keras.Model) -> None:
    """Every weighted layer of `target` takes the weights of `source`'s layer of the same name.

    `source` may be the quantization-aware model: there each layer is wrapped ("quant_<name>"),
    and the wrapper holds the float weights (still named "<name>/kernel", ...) beside the
    quantizers' ranges, which a float network has no place for.
    """
    variables = {variable.name.removesuffix(":0"): variable for variable in source.weights}
    for layer in target.layers:
        for weight in layer.weights:
            path = f"{layer.name}/{weight.name}"
            if path not in variables:
                raise ValueError(f"{source.name} has no weight {path!r} to copy")
            weight.assign(variables[path].numpy())


def _twin_layer(layer: keras.layers.Layer) -> tf_keras.layers.Layer:
    cls = getattr(tf_keras.layers, type(layer).__name__, None)
    if cls is None:
        raise ValueError(f"layer {layer.name!r}: tf_keras has no {type(layer).__name__}")
    config = layer.get_config()
    # Keras 3 serializes the dtype as a policy object; tf_keras takes its name.
    config["dtype"] = keras.dtype_policies.get(config.get("dtype", "float32")).name
    for key in [key for key in config if key.endswith("_initializer")]:
        del config[key]  # the weights are copied, so how they would start does not matter
    for key in KERAS3_ONLY:
        if config.pop(key, None):
            raise ValueError(f"layer {layer.name!r}: {key} has no tf_keras counterpart")
    shaping = [key for key in config if key.endswith(("_regularizer", "_constraint")) and config[key]]
    if shaping:
        # They would change the fine-tuning, and their configs differ between the two Keras.
        raise ValueError(f"layer {layer.name!r}: {', '.join(shaping)} cannot be translated to tf_keras")
    return cls.from_config(config)
