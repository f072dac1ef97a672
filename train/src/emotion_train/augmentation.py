"""Real-time augmentation, applied to training batches in the tf.data pipeline only.

It is a separate model so that it never ends up inside the exported network: the converted
int8 model must be exactly the inference graph.
"""

from __future__ import annotations

import keras
import tensorflow as tf
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


def rectangle_masks(top: tf.Tensor, bottom: tf.Tensor, left: tf.Tensor, right: tf.Tensor,
                    height: tf.Tensor, width: tf.Tensor) -> tf.Tensor:
    """Per face, True inside its rectangle [top, bottom) x [left, right): shape (N, H, W, 1)."""
    rows = tf.reshape(tf.range(height), (1, -1, 1, 1))
    cols = tf.reshape(tf.range(width), (1, 1, -1, 1))

    def per_face(v):
        return tf.reshape(v, (-1, 1, 1, 1))

    return ((rows >= per_face(top)) & (rows < per_face(bottom))
            & (cols >= per_face(left)) & (cols < per_face(right)))


def random_erasing(probability: float, seed: int, area: tuple[float, float] = (0.02, 0.25),
                   aspect: tuple[float, float] = (0.3, 3.3)):
    """A tf.data map function that, with `probability` per face, replaces one random rectangle
    (a share `area` of the face, width/height ratio in `aspect`) with uniform grey-level noise
    (Zhong et al., 2020). A face partly hidden by a hand, glasses or the frame edge is common
    on a camera; erasing makes the network use the rest of the face instead of one cue.

    Works on batches of (N, H, W, 1) faces on the 0..255 scale; the other columns pass through.
    """
    if not 0 <= probability <= 1:
        raise ValueError(f"erasing probability must be in [0, 1], got {probability}")
    generator = tf.random.Generator.from_seed(seed)

    def erase(images, *rest):
        shape = tf.shape(images)
        n, height, width = shape[0], shape[1], shape[2]
        h_f, w_f = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
        share = generator.uniform([n], area[0], area[1])
        log_ratio = generator.uniform([n], tf.math.log(aspect[0]), tf.math.log(aspect[1]))
        ratio = tf.exp(log_ratio)
        patch_h = tf.minimum(tf.round(tf.sqrt(share * h_f * w_f * ratio)), h_f)
        patch_w = tf.minimum(tf.round(tf.sqrt(share * h_f * w_f / ratio)), w_f)
        top = tf.floor(generator.uniform([n]) * (h_f - patch_h + 1))
        left = tf.floor(generator.uniform([n]) * (w_f - patch_w + 1))
        erased = generator.uniform([n]) < probability
        inside = (rectangle_masks(top, top + patch_h, left, left + patch_w, h_f, w_f)
                  & tf.reshape(erased, (-1, 1, 1, 1)))
        noise = generator.uniform(tf.shape(images), 0.0, 255.0)
        return (tf.where(inside, noise, images), *rest)

    return erase
