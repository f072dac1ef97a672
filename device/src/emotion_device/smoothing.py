"""Per-face score smoothing: an exponential moving average plus label hysteresis.

Raw per-frame labels flicker between neighbours (neutral/sad, surprise/happy). The EMA
damps the scores; the hysteresis changes the reported label only when another label has
led by `margin` for `hold_frames` consecutive updates, so automations do not chatter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emotion_device.options import Options, option


@dataclass
class SmoothingOptions(Options):
    alpha: float = option(0.4, gt=0, le=1)  # weight of the newest scores in the EMA
    margin: float = option(0.1, ge=0)  # lead (in smoothed score) a challenger needs over the current label
    hold_frames: int = option(3, ge=1)  # consecutive updates the lead must last


class LabelSmoother:
    def __init__(self, options: SmoothingOptions | None = None) -> None:
        self.options = options or SmoothingOptions()
        self.scores: np.ndarray | None = None
        self.label: int | None = None
        self._challenger: int | None = None
        self._streak = 0

    def update(self, scores: np.ndarray) -> int:
        """Feed one frame's scores; returns the index of the smoothed label."""
        scores = np.asarray(scores, dtype=np.float32)
        if self.scores is None:
            self.scores = scores.copy()
            self.label = int(np.argmax(scores))
            return self.label
        a = self.options.alpha
        self.scores = a * scores + (1 - a) * self.scores
        leader = int(np.argmax(self.scores))
        if leader != self.label and self.scores[leader] - self.scores[self.label] >= self.options.margin:
            self._streak = self._streak + 1 if leader == self._challenger else 1
            self._challenger = leader
            if self._streak >= self.options.hold_frames:
                self.label, self._challenger, self._streak = leader, None, 0
        else:
            self._challenger, self._streak = None, 0
        assert self.label is not None  # set by the first update
        return self.label
