"""A model for a subset of another model's labels, by keeping only their logits.

A softmax over some of a model's logits is exactly its probabilities conditioned on the
answer being one of those classes, so a FER+ eight-class network also serves the original
five emotions without a second training run. The subset model is an ordinary network (the
last Dense layer keeps the chosen columns), so it quantizes and runs like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from emotion_device.labels import label_set

HEAD_LAYER = "scores"


def restrict_labels(model: keras.Model, labels: Sequence[str], subset: Sequence[str]) -> keras.Model:
    """`model` (softmax over `labels`, last layer named "scores") -> softmax over `subset`."""
    missing = [label for label in subset if label not in labels]
    if missing:
        raise ValueError(f"the model has no class {missing}; its labels are {list(labels)}")
    try:
        head = model.get_layer(HEAD_LAYER)
    except ValueError:
        raise ValueError(f"{model.name} has no Dense layer named {HEAD_LAYER!r} to restrict") from None
    if not isinstance(head, layers.Dense) or head.units != len(labels):
        raise ValueError(f"{model.name}: layer {HEAD_LAYER!r} is not a Dense layer over "
                         f"{len(labels)} classes")
    keep = np.array([list(labels).index(label) for label in subset])
    kernel, bias = head.get_weights()
    restricted = layers.Dense(len(subset), activation="softmax", name=HEAD_LAYER)
    outputs = restricted(head.input)
    restricted.set_weights([kernel[:, keep], bias[keep]])
    return keras.Model(model.inputs, outputs, name=model.name)


def restrict_run(model: keras.Model, run: dict, subset: str | None) -> tuple[keras.Model, dict, dict | None]:
    """`model` and its run record restricted to the label set `subset` (None, or the run's own:
    unchanged), and what it was a subset of (for the card), or None."""
    if not subset or subset == run["config"]["label_set"]:
        return model, run, None
    subset_of = {"label_set": run["config"]["label_set"], "labels": run["labels"]}
    labels = label_set(subset)
    run = {**run, "labels": list(labels), "config": {**run["config"], "label_set": subset}}
    return restrict_labels(model, subset_of["labels"], labels), run, subset_of
