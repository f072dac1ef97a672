"""The validation split carved from Training: stratified, seeded, the same faces for every label set."""

import json
from dataclasses import replace

import numpy as np
import pytest

from emotion_train.folder_split import stratified_split
from emotion_train.splits import stratified_holdout
from emotion_train.training import TrainConfig, load_splits


def test_holdout_is_stratified_seeded_and_disjoint():
    y = np.repeat(np.arange(4), [500, 300, 40, 3])
    kept, held = stratified_holdout(y, 0.1, seed=7)
    assert len(np.intersect1d(kept, held)) == 0 and len(kept) + len(held) == len(y)
    assert np.bincount(y[held], minlength=4).tolist() == [50, 30, 4, 1]  # 3 faces: one held out
    again, held_again = stratified_holdout(y, 0.1, seed=7)
    assert np.array_equal(held, held_again) and np.array_equal(kept, again)
    assert not np.array_equal(held, stratified_holdout(y, 0.1, seed=8)[1])


def test_a_fraction_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="fraction"):
        stratified_holdout(np.zeros(10, dtype=int), 1.0, seed=0)


def _splits(data_dir, label_set, labels, **overrides):
    return load_splits(TrainConfig(out_dir="", label_set=label_set, label_source=labels,
                                   data_dir=str(data_dir), **overrides))


def test_every_label_source_holds_out_the_same_training_rows(data_dir):
    """fer7 warm-starts from the FER+ network: it must select on faces that network never saw."""
    ferplus = _splits(data_dir, "ferplus8", "ferplus-soft")
    fer = _splits(data_dir, "fer7", "fer2013")
    assert ferplus.split.val_rows_sha256 == fer.split.val_rows_sha256
    assert len(np.intersect1d(ferplus.train.rows, fer.val.rows)) == 0
    assert len(np.intersect1d(fer.train.rows, ferplus.val.rows)) == 0
    assert len(np.intersect1d(ferplus.train.rows, ferplus.val.rows)) == 0
    assert 0.09 < len(fer.val) / (len(fer.val) + len(fer.train)) < 0.11
    assert min(fer.val.class_counts().values()) > 0  # disgust (436 faces) is scored too
    assert ferplus.test is not None and ferplus.test.source.endswith("fer2013_val.npz")


def test_fraction_zero_trains_on_all_of_training(data_dir):
    splits = _splits(data_dir, "fer7", "fer2013", val_fraction=0.0)
    assert splits.val is None and splits.split is None and len(splits.train) == 28709


def test_a_small_folder_keeps_every_class_on_both_sides():
    """Fine-tuning and the study use the same split: 5 classes of 3-9 photos, 10% held out."""
    y = np.repeat(np.arange(5), [9, 3, 4, 3, 5])
    split = stratified_split(y, 0.1, seed=3)
    assert np.array_equal(np.sort(np.concatenate([split.train, split.val])), np.arange(len(y)))
    assert np.bincount(y[split.val], minlength=5).tolist() == [1, 1, 1, 1, 1]
    assert np.array_equal(split.val, stratified_holdout(y, 0.1, seed=3)[1])
    with pytest.raises(ValueError, match="at least 2 images"):
        stratified_split(np.array([0, 0, 1]), 0.5, seed=0)


def test_a_lever_run_is_judged_on_validation_and_never_reads_publictest(tmp_path, data_dir, monkeypatch):
    """--no-test: the protocol's lever runs. PublicTest is not even loaded."""
    from emotion_train import training

    loaded = []
    real_load = training.load_fer2013_npz
    monkeypatch.setattr(training, "load_fer2013_npz",
                        lambda path, *a, **k: loaded.append(path.name) or real_load(path, *a, **k))
    config = TrainConfig(out_dir=str(tmp_path / "lever"), architecture="edge", epochs=1, batch_size=32,
                         limit=320, data_dir=str(data_dir), jit_compile=False, score_test=False)
    record = training.train(config)
    assert loaded == ["fer2013_train.npz"]
    assert "test" not in record["metrics"] and record["data"]["test"] is None
    assert record["metrics"]["val"]["n"] == record["data"]["val"]["faces"] > 0
    report = json.loads((tmp_path / "lever" / "report" / "report.json").read_text())
    assert report["accuracy"] == record["metrics"]["val"]["accuracy"]
    assert "validation split" in report["context"]["data"]
    import keras

    assert getattr(keras.models.load_model(tmp_path / "lever" / "model.keras"), "optimizer", None) is None
    with pytest.raises(ValueError, match="--val-fraction"):
        load_splits(replace(config, val_fraction=0.0))
