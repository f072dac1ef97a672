"""The data a finished run was trained and validated on, for whatever comes after training.

Conversion calibrates on a run's own training faces and checks parity on its validation
set; it should not need to know whether the run trained from scratch or fine-tuned.
"""

from __future__ import annotations

from emotion_train.fer2013 import FaceDataset
from emotion_train.finetune import FinetuneConfig, load_finetune_data
from emotion_train.training import TrainConfig, load_splits


def is_finetune(run: dict) -> bool:
    return "base_model" in run


def run_datasets(run: dict, data_root: str | None = None) -> tuple[FaceDataset, FaceDataset]:
    """(training faces, validation set) of the run described by a run.json record."""
    config = {**run["config"], "data_dir": data_root or run["config"].get("data_dir")}
    if is_finetune(run):
        # The same folders, split by the same seeded rule, give the same faces as in training.
        finetune = FinetuneConfig(**config)
        data = load_finetune_data(finetune, run["config"]["label_set"])
        return data.train, data.val
    return load_splits(TrainConfig(**config))
