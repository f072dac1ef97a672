"""Real-time augmentation, applied to training batches in the tf.data pipeline only.

It is a separate model so that it never ends up inside the exported network: the converted
int8 model must be exactly the inference graph.
"""

from __future__ import annotations

import keras
from keras import layers


def build_augmenter(seed: int) -> keras.Sequential:
    """Flip, small rotation/shift/zoom, brightness/contrast and sensor-like Gaussian noise."""
    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.04, fill_mode="reflect", seed=seed + 1),  # about +-15 degrees
            layers.RandomTranslation(0.08, 0.08, fill_mode="reflect", seed=seed + 2),
            layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 3),
            layers.RandomBrightness(0.15, value_range=(0.0, 255.0), seed=seed + 4),
            layers.RandomContrast(0.25, value_range=(0.0, 255.0), seed=seed + 5),
            # Keras caps GaussianNoise at stddev 1, so add it on the 0..1 scale: 3 grey levels.
            layers.Rescaling(1 / 255.0),
            layers.GaussianNoise(3.0 / 255.0, seed=seed + 6),
            layers.Rescaling(255.0),
        ],
        name="augment",
    )
