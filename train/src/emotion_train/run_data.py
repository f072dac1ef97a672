"""The data a finished run was trained, selected and tested on, for whatever comes after training.

Conversion calibrates on a run's own training faces, checks parity on its validation set
(where its choices were made) and reports PublicTest (where it is scored); it should not need
to know whether the run trained from scratch or fine-tuned.
"""

from __future__ import annotations

from emotion_train.finetune import load_finetune_data
from emotion_train.run_configs import FinetuneConfig
from emotion_train.training import RunSplits, TrainConfig, load_splits


def is_finetune(run: dict) -> bool:
    return "base_model" in run


def run_datasets(run: dict, data_root: str | None = None) -> RunSplits:
    """Training faces, validation set (None when the run kept its last epoch) and test set
    (None for a fine-tuned run: its held-out photos are scored by `evaluate`) of a run.json record."""
    config = {**run["config"], "data_dir": data_root or run["config"].get("data_dir")}
    if is_finetune(run):
        # The same folders, split by the same seeded rule, give the same faces as in training.
        finetune = FinetuneConfig(**config)
        data = load_finetune_data(finetune, run["config"]["label_set"])
        return RunSplits(data.train, data.val, None, None)
    return load_splits(TrainConfig(**config))
