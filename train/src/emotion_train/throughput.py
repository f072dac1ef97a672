"""Training throughput per architecture, in images/s: the number that sizes a CPU training budget.

Each architecture trains exactly as `emotion-train train` does (same optimizer, augmentation
pipeline and XLA setting) on real PublicTest faces; the first epoch pays for tracing and
compilation and is not counted.
"""

from __future__ import annotations

import time

import keras
import numpy as np

from emotion_device.labels import label_set
from emotion_train import architectures
from emotion_train.augmentation import build_augmenter
from emotion_train.fer2013 import FaceDataset
from emotion_train.training import input_pipeline


def training_images_per_second(name: str, faces: FaceDataset, batch_size: int = 64, steps: int = 30,
                               jit_compile: bool = True, augment: bool = True) -> dict:
    keras.utils.set_random_seed(0)
    count = batch_size * steps
    data = faces.subset(np.arange(count) % len(faces))
    pipeline = input_pipeline(data, batch_size, 0, None, build_augmenter(0) if augment else None,
                              shuffle=True)
    model = architectures.build(name, len(label_set("emotion5")))
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy",
                  jit_compile=jit_compile)
    model.fit(pipeline, epochs=1, verbose=0, shuffle=False)  # tracing and compilation
    started = time.perf_counter()
    model.fit(pipeline, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - started
    return {"architecture": name, "parameters": int(model.count_params()), "batch_size": batch_size,
            "images": count, "augment": augment, "jit_compile": jit_compile,
            "images_per_s": round(count / seconds, 1)}
