"""The parity report counts int8/float disagreements and how many of them are int8 ties."""

import numpy as np

from emotion_convert.parity import parity_report

LABELS = ("angry", "neutral", "happy")


def test_disagreements_are_counted_and_int8_ties_among_them_told_apart():
    y = np.array([0, 1, 2, 1])
    float_scores = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.45, 0.40, 0.15]])
    int8_scores = np.array([
        [0.6, 0.3, 0.1],          # agrees
        [0.2, 0.3, 0.5],          # disagrees: a real ranking change
        [0.1, 0.2, 0.7],          # agrees
        [0.4258, 0.4258, 0.1484],  # a tie of classes 0 and 1: argmax takes 0, as float does
    ])
    report = parity_report(float_scores, int8_scores, y, LABELS)
    assert report["int8_float_disagreements"] == 1
    assert report["int8_float_disagreements_int8_tied"] == 0
    assert report["int8_float_top1_agreement"] == 0.75

    int8_scores[3] = [0.1484, 0.4258, 0.4258]  # a tie of classes 1 and 2: argmax says 1, float said 0
    report = parity_report(float_scores, int8_scores, y, LABELS)
    assert report["int8_float_disagreements"] == 2
    assert report["int8_float_disagreements_int8_tied"] == 1
    assert report["int8_float_top1_agreement"] == 0.5
