"""Prior correction: taking part of the class weighting back out of a trained network's scores.

Training weights rare classes up (`--class-weight sqrt`) so that disgust and contempt are
learnt at all. A network trained that way answers as if those classes were more common than
they are: its softmax estimates p(c | x) * w_c, up to normalization. Dividing the scores by
w_c ** tau undoes the weighting in part (tau=1: all of it), trading rare-class recall back for
accuracy (the logit adjustment of Menon et al., 2021, run backwards). It is the same as
subtracting tau * log(w_c) from the head's logits, so it is folded into the head's bias: the
shipped network and its int8 twin pay nothing for it.

tau is a choice like any other, so it is made on the validation split (`emotion_train.prior_sweep`),
never on PublicTest.
"""

from __future__ import annotations

import keras
import numpy as np

HEAD = "scores"  # the Dense + softmax layer every architecture ends in (architectures._head)


def adjusted_scores(scores: np.ndarray, class_weights: np.ndarray, tau: float) -> np.ndarray:
    """Softmax scores divided by w ** tau and renormalized."""
    adjusted = scores / np.power(class_weights, tau)
    return adjusted / adjusted.sum(axis=1, keepdims=True)


def fold_into_head(model: keras.Model, class_weights: np.ndarray, tau: float) -> list[float]:
    """Subtracts tau * log(w) from the head's bias in place; returns the shift per class."""
    if tau < 0:
        raise ValueError(f"prior correction must be 0 or more, got {tau}")
    head = model.get_layer(HEAD)
    kernel, bias = head.get_weights()
    if bias.shape != class_weights.shape:
        raise ValueError(f"the head answers {bias.shape[0]} classes, "
                         f"the weights name {class_weights.shape[0]}")
    shift = -tau * np.log(class_weights.astype(np.float64))
    head.set_weights([kernel, (bias + shift).astype(bias.dtype)])
    return [round(float(s), 6) for s in shift]
