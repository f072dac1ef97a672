"""An interrupted run resumes where it stopped: same epochs, and the cosine schedule continues.

The interruption is real: a callback raises in the middle of training, as a kill would stop
it, and the same command is then run again in the same folder.
"""

import csv
import json

import keras
import numpy as np
import pytest

from emotion_train import training
from emotion_train.batchnorm_refresh import BatchNormRefresher, refresh_sample
from emotion_train.training import TrainConfig, input_pipeline, train


def _config(out, data_dir, **overrides):
    settings = {"architecture": "edge", "epochs": 4, "batch_size": 32, "limit": 320, "val_limit": 64,
                "data_dir": str(data_dir), "jit_compile": False, **overrides}
    return TrainConfig(out_dir=str(out), **settings)


def _history(run):
    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt("stopped as a kill would stop it")


def test_a_resumed_run_continues_the_schedule_exactly(tmp_path, data_dir, monkeypatch):
    whole = tmp_path / "whole"
    train(_config(whole, data_dir))

    pieces = tmp_path / "pieces"
    real_callbacks = training._callbacks
    monkeypatch.setattr(training, "_callbacks", lambda *a: [*real_callbacks(*a), _Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        train(_config(pieces, data_dir))
    assert (pieces / "backup").is_dir() and not (pieces / "run.json").exists()
    assert len(_history(pieces)) == 2
    monkeypatch.setattr(training, "_callbacks", real_callbacks)
    record = train(_config(pieces, data_dir))

    resumed, reference = _history(pieces), _history(whole)
    assert [row["epoch"] for row in resumed] == ["0", "1", "2", "3"]
    rates = [float(row["lr"]) for row in resumed]
    np.testing.assert_allclose(rates, [float(row["lr"]) for row in reference], rtol=1e-6)
    assert rates[0] > rates[1] > rates[2] > rates[3] > 0  # past the 2-step warm-up: cosine decay
    assert record["epochs_completed"] == 4 and not (pieces / "backup").exists()
    logged = json.loads((pieces / "pieces.json").read_text())
    assert [(p["first_epoch"], p["last_epoch"]) for p in logged] == [(1, 2), (3, 4)]
    assert record["train_seconds"] == pytest.approx(sum(p["seconds"] for p in logged))
    assert record["train_pieces"] == logged


def test_without_a_validation_split_the_last_epoch_is_kept(tmp_path, data_dir):
    out = tmp_path / "final"
    record = train(_config(out, data_dir, epochs=2, val_fraction=0.0))
    assert record["data"]["val"] is None and "val" not in record["metrics"]
    assert record["selection"].startswith("last epoch")
    assert record["data"]["train"]["faces"] == 320 and record["metrics"]["test"]["n"] == 64


def test_mixup_blends_faces_and_targets_alike(data_dir):
    from emotion_train.fer2013 import load_fer2013_npz

    faces = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-majority")
    data = faces.subset(np.arange(64))
    images, targets = next(iter(input_pipeline(data, 64, seed=0, weights=None, augmenter=None,
                                               shuffle=False, mixup=0.4)))
    images, targets = images.numpy(), targets.numpy()
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-5)
    mixed = ~np.isclose(targets.max(1), 1.0)
    assert mixed.mean() > 0.5, "most faces are blends"
    # Each face is lam * itself + (1 - lam) * its partner from the reversed batch; recover lam from
    # the targets of a face whose own and partner labels differ and check the pixels agree.
    original = data.x.astype(np.float32)[..., None]
    i = int(np.flatnonzero(mixed & (data.y != data.y[::-1]))[0])
    lam = targets[i, data.y[i]]
    np.testing.assert_allclose(images[i], lam * original[i] + (1 - lam) * original[::-1][i], atol=1e-3)


def test_random_erasing_replaces_one_rectangle_in_the_chosen_share_of_faces(data_dir):
    from emotion_train.fer2013 import load_fer2013_npz

    faces = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-majority")
    data = faces.subset(np.arange(256))
    images, targets = next(iter(input_pipeline(data, 256, seed=0, weights=None, augmenter=None,
                                               shuffle=False, erasing=0.5)))
    images = images.numpy()[..., 0]
    original = data.x.astype(np.float32)
    np.testing.assert_array_equal(targets.numpy(), data.targets)  # labels are untouched
    changed = images != original
    erased = changed.any(axis=(1, 2))
    assert 0.35 < erased.mean() < 0.65, f"about half the faces are erased, got {erased.mean():.2f}"
    for face in np.flatnonzero(erased):
        rows, cols = np.flatnonzero(changed[face].any(1)), np.flatnonzero(changed[face].any(0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        # The changed pixels fill their bounding box (one rectangle, not scattered pixels; a noise
        # pixel may equal the original by chance), of 2-25% of the face, with 0..255 noise.
        assert changed[face][box].mean() > 0.95
        assert 0.015 * 48 * 48 <= changed[face][box].size <= 0.27 * 48 * 48
        assert images[face][box].min() >= 0 and images[face][box].max() <= 255
        assert images[face][box].std() > 30, "noise, not a flat fill"


def test_random_erasing_rejects_a_probability_outside_0_to_1():
    from emotion_train.augmentation import random_erasing

    with pytest.raises(ValueError, match="erasing probability"):
        random_erasing(1.5, seed=0)


class _Probe(keras.callbacks.Callback):
    """Records the model's trainable weights and the optimizer's moving average of them at the
    start and end of every epoch, at its place in the callback list."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def _record(self, when, epoch):
        average = getattr(self.model.optimizer, "_model_variables_moving_average", None)
        if average is None:  # the optimizer builds its variables at the first step
            return
        self.seen[when, epoch] = ([v.numpy().copy() for v in self.model.trainable_variables],
                                  [v.numpy().copy() for v in average])

    def on_epoch_begin(self, epoch, logs=None):
        self._record("begin", epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._record("end", epoch)


def _assert_same(left, right):
    """Equal up to float32 rounding: Keras swaps the two sets in place by adding and subtracting."""
    assert len(left) == len(right)
    for a, b in zip(left, right):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_an_ema_run_keeps_the_average_and_resumes_from_the_raw_weights(tmp_path, data_dir, monkeypatch):
    run = tmp_path / "ema"
    before_swap, after_restore = _Probe(), _Probe()  # each just before SwapEMAWeights
    real_callbacks = training._callbacks

    def probed(*args):
        backup, *rest = real_callbacks(*args)
        return [backup, before_swap, *rest, _Interrupt()]

    monkeypatch.setattr(training, "_callbacks", probed)
    with pytest.raises(KeyboardInterrupt):
        train(_config(run, data_dir, ema=0.9, val_fraction=0.0))
    raw, average = before_swap.seen["end", 1]
    assert any(not np.allclose(a, b) for a, b in zip(raw, average)), "the average lags the weights"

    def resumed(*args):
        backup, *rest = real_callbacks(*args)
        return [backup, after_restore, *rest]

    monkeypatch.setattr(training, "_callbacks", resumed)
    train(_config(run, data_dir, ema=0.9, val_fraction=0.0))
    # Training continues from the raw weights of epoch 2, with the average carried alongside.
    resumed_weights, resumed_average = after_restore.seen["begin", 2]
    _assert_same(resumed_weights, raw)
    _assert_same(resumed_average, average)
    # The kept model (the last epoch here) holds the average, not the raw weights.
    kept = keras.models.load_model(run / "model.keras", compile=False)
    final_weights, final_average = after_restore.seen["end", 3]
    _assert_same([v.numpy() for v in kept.trainable_variables], final_average)
    assert any(not np.allclose(a, b) for a, b in zip(final_weights, final_average))
    # Its BatchNorm statistics are the average's own, measured on the run's clean training faces
    # (Keras averages only the trainable weights): measuring them again changes nothing.
    config = _config(run, data_dir, val_fraction=0.0)
    faces = refresh_sample(training.load_splits(config).train.x, seed=config.seed)
    statistics = [v.numpy().copy() for v in kept.non_trainable_variables]
    BatchNormRefresher(kept, faces)()
    _assert_same([v.numpy() for v in kept.non_trainable_variables], statistics)


def test_an_ema_momentum_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match="EMA momentum"):
        training.build_optimizer(TrainConfig(out_dir="unused", ema=1.0), steps_per_epoch=10)


def test_cutmix_pastes_one_rectangle_of_the_partner_and_blends_targets_by_its_area(data_dir):
    from emotion_train.fer2013 import load_fer2013_npz

    faces = load_fer2013_npz(data_dir / "fer2013_val.npz", "emotion5", "ferplus-majority")
    data = faces.subset(np.arange(64))
    images, targets = next(iter(input_pipeline(data, 64, seed=0, weights=None, augmenter=None,
                                               shuffle=False, cutmix=1.0)))
    images, targets = images.numpy()[..., 0], targets.numpy()
    own, partner = data.x.astype(np.float32), data.x.astype(np.float32)[::-1]
    np.testing.assert_allclose(targets.sum(1), 1.0, atol=1e-5)
    checked = 0
    for i in range(len(images)):
        if i == len(images) - 1 - i:
            continue  # the middle face is its own partner
        pasted = (images[i] != own[i]) & (images[i] == partner[i])
        kept = images[i] == own[i]
        assert (pasted | kept).all(), "every pixel is the face's own or its partner's"
        if not pasted.any():
            continue
        rows, cols = np.flatnonzero(pasted.any(1)), np.flatnonzero(pasted.any(0))
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        # One rectangle: within its bounding box, every pixel is the partner's.
        np.testing.assert_array_equal(images[i][box], partner[i][box])
        if data.y[i] != data.y[::-1][i]:
            share = len(rows) * len(cols) / images[i].size
            assert targets[i, data.y[::-1][i]] == pytest.approx(share, abs=1e-5)
            checked += 1
    assert checked > 10, "most faces get a rectangle of a partner with another label"
    with pytest.raises(ValueError, match="exclusive"):
        input_pipeline(data, 64, seed=0, weights=None, augmenter=None, mixup=0.2, cutmix=1.0)
