"""The FER2013/FER+ loader on the real archives."""

import numpy as np
import pytest

from emotion_device.labels import LABEL_SETS
from emotion_train.fer2013 import load_fer2013_npz

# Official FER2013 PublicTest counts (../shared/data/README.md).
PUBLIC_TEST_COUNTS = {"angry": 467, "disgust": 56, "fear": 496, "happy": 895, "sad": 653,
                      "surprise": 415, "neutral": 607}


def test_fer7_with_fer2013_labels_keeps_every_row(data_dir):
    val = load_fer2013_npz(data_dir / "fer2013_val.npz", "fer7", "fer2013")
    assert val.labels == LABEL_SETS["fer7"]
    assert val.class_counts() == PUBLIC_TEST_COUNTS
    assert val.x.shape == (3589, 48, 48) and val.x.dtype == np.uint8
    assert np.array_equal(val.rows, np.arange(3589))


def test_emotion5_with_fer2013_labels_drops_the_other_classes(data_dir):
    val = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "fer2013")
    assert val.class_counts() == {k: PUBLIC_TEST_COUNTS[k] for k in LABEL_SETS["emotion5"]}


def test_ferplus_votes_map_onto_the_right_labels(data_dir):
    soft = load_fer2013_npz(data_dir / "fer2013_val.npz", "ferplus8", "ferplus-soft")
    raw = np.load(data_dir / "fer2013_val.npz")
    votes = raw["ferplus_votes"][soft.rows]
    # ferplus8 is FER+'s own column order, so targets are the first 8 vote columns, normalized.
    np.testing.assert_allclose(soft.targets, votes[:, :8] / votes[:, :8].sum(1, keepdims=True), rtol=1e-6)
    assert np.all(votes.argmax(1) < 8), "rows whose majority is unknown or not-a-face are dropped"
    # The README's column map, FER+ -> FER2013: happiness (1) is FER2013 happy (3).
    happy = soft.y == soft.labels.index("happy")
    assert np.mean(raw["y"][soft.rows][happy] == 3) > 0.85


def test_majority_and_soft_targets_agree_on_the_hard_label(data_dir):
    soft = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-soft")
    hard = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-majority")
    assert np.array_equal(soft.y, hard.y) and np.array_equal(soft.rows, hard.rows)
    np.testing.assert_allclose(soft.targets.sum(1), 1.0, rtol=1e-6)
    assert set(np.unique(hard.targets)) == {0.0, 1.0}
    assert min(soft.class_counts().values()) > 100


def test_unknown_label_source_is_rejected(data_dir):
    with pytest.raises(ValueError, match="label source"):
        load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "crowd")
