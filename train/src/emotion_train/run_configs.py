"""The settings of a training or fine-tuning run, and the names the CLI offers, without
TensorFlow: `emotion-train --help` builds its parser from these and loads TensorFlow only
once a command runs (no TensorFlow banners, no seconds of import for a help text)."""

from __future__ import annotations

from dataclasses import dataclass

# emotion_train.architectures.ARCHITECTURES builds these
ARCHITECTURE_NAMES = ("baseline", "edge", "edge-deep", "edge-wide", "edge-separable")
PUBLIC_TEST = "publictest"
VALIDATION_SPLIT = "the validation split"  # how reports name the split carved from Training

CLASS_WEIGHTINGS = ("none", "sqrt", "balanced")
OPTIMIZERS = ("adamw", "sgd")
PRIOR_TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)  # what `emotion-train prior` scores by default


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
    val_fraction: float = 0.1  # carved from the training data; 0: train on all of it, keep the last epoch
    split_seed: int = 1234  # fixed apart from `seed`, so runs with other seeds select on the same faces
    optimizer: str = "adamw"
    mixup: float = 0.0  # Beta(alpha, alpha) mixing of batch pairs; 0 is off
    cutmix: float = 0.0  # Beta(alpha, alpha) share of each face pasted from its batch partner; 0 is off
    erasing: float = 0.0  # share of training faces with one rectangle replaced by noise; 0 is off
    ema: float = 0.0  # momentum of the weights' moving average, which is validated and kept; 0 is off
    prior_correction: float = 0.0  # tau: the kept model's scores divided by class_weight ** tau; 0 is off
    teachers: tuple[str, ...] = ()  # .keras/.tflite models whose cached scores are blended into the targets
    distill_weight: float = 0.5
    score_test: bool = True  # False: a lever run, judged on the validation split; PublicTest is not read


@dataclass
class FinetuneConfig:
    base_model: str
    train_data: str  # a folder dataset, root/<label>/*.png
    out_dir: str
    val_data: str | None = None  # None: hold out val_fraction of train_data; a folder; or "publictest"
    val_fraction: float = 0.2
    group_by: str | None = None  # "subfolder", "prefix" or a regex: see folder_split
    label_set: str | None = None  # None: the base model's labels, in its order
    label_source: str = "ferplus-majority"  # PublicTest's labels, only when validating on it
    head_epochs: int = 40  # the most; early stopping usually ends a phase sooner
    finetune_epochs: int = 60
    patience: int = 10
    unfreeze_blocks: int = 1
    batch_size: int = 16
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


# The study's three models, PublicTest seeds and learning-curve sizes (emotion_train.study)
STUDY_MODELS = ("scratch", "augmented", "transfer")
STUDY_SEEDS = (1, 2, 3)
STUDY_CURVE_SIZES = ("260", "1000", "5000", "all")


def run_origin(run: dict) -> str:
    """Where a run.json's network started: the base it was fine-tuned from (base_model), the
    model it was warm-started from (config.init_from), or "scratch"."""
    return run.get("base_model", {}).get("file") or run.get("config", {}).get("init_from") or "scratch"
