"""The data a finished run was trained and validated on, for whatever comes after training.

Conversion calibrates on a run's own training faces and checks parity on its validation
set; it should not need to know whether the run trained from scratch or fine-tuned.
"""

from __future__ import annotations

from emotion_device.preprocess import CropSpec
from emotion_train.fer2013 import FaceDataset
from emotion_train.finetune import FinetuneConfig, load_train_folder, load_validation
from emotion_train.image_folder import FaceExtractor
from emotion_train.training import TrainConfig, load_splits


def is_finetune(run: dict) -> bool:
    return "base_model" in run


def run_datasets(run: dict, data_root: str | None = None) -> tuple[FaceDataset, FaceDataset]:
    """(training faces, validation set) of the run described by a run.json record."""
    config = {**run["config"], "data_dir": data_root or run["config"].get("data_dir")}
    if is_finetune(run):
        finetune = FinetuneConfig(**config)
        extractor = FaceExtractor(crop_spec=CropSpec(margin=finetune.crop_margin, square=True))
        val, _ = load_validation(finetune, extractor)
        return load_train_folder(finetune, extractor).data, val
    return load_splits(TrainConfig(**config))
