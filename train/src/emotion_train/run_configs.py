"""The settings of a training or fine-tuning run, and the names the CLI offers, without
TensorFlow: `emotion-train --help` builds its parser from these and loads TensorFlow only
once a command runs (no TensorFlow banners, no seconds of import for a help text)."""

from __future__ import annotations

from dataclasses import dataclass

ARCHITECTURE_NAMES = ("baseline", "edge", "edge-deep")  # emotion_train.architectures.ARCHITECTURES
PUBLIC_TEST = "publictest"

CLASS_WEIGHTINGS = ("none", "sqrt", "balanced")


@dataclass
class TrainConfig:
    out_dir: str
    architecture: str = "edge"
    label_set: str = "emotion5"
    label_source: str = "ferplus-soft"
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.0
    class_weight: str = "sqrt"
    augment: bool = True
    seed: int = 1234
    limit: int | None = None
    val_limit: int | None = None
    data_dir: str | None = None
    jit_compile: bool = True
    train_folder: str | None = None  # a folder dataset (root/<label>/*.png) instead of FER2013 Training
    init_from: str | None = None  # a .keras model whose matching layers start this run


@dataclass
class FinetuneConfig:
    base_model: str
    train_data: str  # a folder dataset, root/<label>/*.png
    out_dir: str
    val_data: str = PUBLIC_TEST  # "publictest" or another folder dataset
    label_set: str = "emotion5"
    label_source: str = "ferplus-majority"  # PublicTest's labels, for validation and the report
    head_epochs: int = 10
    finetune_epochs: int = 10
    unfreeze_blocks: int = 1
    batch_size: int = 32
    learning_rate: float = 1e-3
    finetune_lr_factor: float = 0.1
    dropout: float = 0.3
    class_weight: str = "sqrt"
    augment: bool = True
    crop_margin: float = 0.0
    seed: int = 1234
    val_limit: int | None = None
    data_dir: str | None = None
    jit_compile: bool = True
