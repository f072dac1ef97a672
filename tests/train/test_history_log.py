"""history.csv survives the file being replaced mid-run, and reads exactly as Keras' CSVLogger
wrote it (old runs' files and new rows mix in one file on resume)."""

import csv

import keras
import numpy as np

from emotion_train.report import read_history
from emotion_train.training import HistoryLog

LOGS = [{"accuracy": np.float32(0.5), "loss": 1.25, "lr": 0.001, "val_accuracy": 0.4, "val_loss": 1.5},
        {"accuracy": 0.625, "loss": np.float64(1.0), "lr": 0.0005, "val_accuracy": 0.45, "val_loss": 1.4}]


def _feed(callback, logs_per_epoch, first_epoch=0):
    callback.on_train_begin()
    for epoch, logs in enumerate(logs_per_epoch, start=first_epoch):
        callback.on_epoch_end(epoch, dict(logs))
    callback.on_train_end()


def test_rows_are_written_as_keras_csvlogger_writes_them(tmp_path):
    ours, theirs = tmp_path / "ours.csv", tmp_path / "theirs.csv"
    _feed(HistoryLog(ours), LOGS)
    _feed(keras.callbacks.CSVLogger(str(theirs), append=True), LOGS)
    assert ours.read_text() == theirs.read_text()


def test_a_file_replaced_between_epochs_keeps_every_later_row(tmp_path):
    path = tmp_path / "history.csv"
    log = HistoryLog(path)
    log.on_train_begin()
    log.on_epoch_end(0, dict(LOGS[0]))
    kept = path.read_text()
    path.unlink()  # what `git stash` or a checkout does: a new file in its place
    path.write_text(kept)
    log.on_epoch_end(1, dict(LOGS[1]))
    assert read_history(path)["epoch"] == [0, 1]


def test_resume_appends_and_a_fresh_start_truncates(tmp_path):
    path = tmp_path / "history.csv"
    _feed(HistoryLog(path), LOGS[:1])
    _feed(HistoryLog(path, append=True), LOGS[1:], first_epoch=1)
    with path.open() as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["0", "1"]
    _feed(HistoryLog(path, append=False), LOGS[:1])
    assert read_history(path)["epoch"] == [0]
