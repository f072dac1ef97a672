"""Start a run from another model's weights: the backbone carries over, a new head is fresh.

A model trained on FER+ votes has learnt faces; a run on FER2013's own labels (or another
label set) needs only to re-learn the head and adjust the backbone, which costs a few epochs
instead of a full training. Layers are matched by name, and only where every weight has the
same shape, so the classifier layer of a different label set starts fresh.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import keras

log = logging.getLogger(__name__)


@dataclass
class WarmStart:
    model: str
    transferred: list[str]
    fresh: list[str]

    def to_dict(self) -> dict:
        return {"model": self.model, "layers_transferred": self.transferred, "layers_fresh": self.fresh}


def warm_start(model: keras.Model, base_path: Path) -> WarmStart:
    """Copy matching layers of the model at `base_path` into `model`; the rest stay initialized."""
    base = keras.models.load_model(base_path, compile=False)
    base_layers = {layer.name: layer for layer in base.layers}
    transferred, fresh = [], []
    for layer in model.layers:
        if not layer.weights:
            continue
        source = base_layers.get(layer.name)
        if source is not None and [w.shape for w in source.weights] == [w.shape for w in layer.weights]:
            layer.set_weights(source.get_weights())
            transferred.append(layer.name)
        else:
            fresh.append(layer.name)
    if not transferred:
        raise ValueError(f"{base_path} shares no layer (by name and shape) with the {model.name} "
                         f"architecture; warm-start from a model of the same --arch")
    log.info("warm start from %s: %d layers transferred, fresh: %s", base_path, len(transferred),
             ", ".join(fresh) or "none")
    return WarmStart(str(base_path), transferred, fresh)
