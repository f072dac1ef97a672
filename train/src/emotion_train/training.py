"""Fit a model the Keras way: tf.data pipeline, callbacks, checkpoint every epoch, resume.

A run directory holds everything needed to continue or audit a run: `model.keras` (best
epoch on PublicTest), `run.json` (config, command, versions, metrics), `history.csv`,
`report/` (the evaluation report of the best epoch), and `backup/` while the run is
unfinished, so that re-running the same command resumes.
"""

from __future__ import annotations

import csv
import json
import logging
import platform
import shlex
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from emotion_device.labels import label_set
from emotion_device.preprocess import to_model_input
from emotion_train import architectures
from emotion_train.augmentation import build_augmenter
from emotion_train.datapaths import TRAIN_FILE, VAL_FILE, data_dir
from emotion_train.fer2013 import FaceDataset, fer2013_labels_can_score, load_fer2013_npz
from emotion_train.metrics import classification_metrics
from emotion_train.report import write_report
from emotion_train.run_configs import CLASS_WEIGHTINGS, TrainConfig
from emotion_train.warm_start import warm_start

log = logging.getLogger(__name__)

def class_weights(y: np.ndarray, num_classes: int, mode: str) -> np.ndarray:
    """Per-class loss weights, normalized so that the average sample weight is 1."""
    if mode not in CLASS_WEIGHTINGS:
        raise ValueError(f"unknown class weighting {mode!r}; choose from {CLASS_WEIGHTINGS}")
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    if mode == "none":
        weights = np.ones(num_classes)
    else:
        weights = counts.sum() / np.maximum(counts, 1) / num_classes
        if mode == "sqrt":
            weights = np.sqrt(weights)
    weights /= (weights[y]).mean()
    return weights.astype(np.float32)


def input_pipeline(data: FaceDataset, batch: int, seed: int, weights: np.ndarray | None,
                   augmenter: keras.Model | None, shuffle: bool = False) -> tf.data.Dataset:
    """Batches of model inputs; training passes shuffle=True with or without augmentation,
    since a folder dataset arrives sorted by class and single-class batches wreck BatchNorm."""
    x = to_model_input(data.x)
    columns = (x, data.targets) if weights is None else (x, data.targets, weights[data.y])
    ds = tf.data.Dataset.from_tensor_slices(columns)
    if shuffle:
        ds = ds.shuffle(len(data), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch)
    if augmenter is not None:
        def augment(images, *rest):
            return (augmenter(images, training=True), *rest)
        ds = ds.map(augment, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def best_so_far(history_csv: Path, monitor: str) -> float | None:
    if not history_csv.exists():
        return None
    with open(history_csv) as handle:
        values = [float(row[monitor]) for row in csv.DictReader(handle) if row.get(monitor)]
    return max(values) if values else None


def library_versions() -> dict[str, str]:
    import cv2
    import sklearn

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "scikit-learn": sklearn.__version__,
    }


def load_splits(config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    root = data_dir(config.data_dir)
    if config.train_folder:
        from emotion_train.image_folder import load_image_folder

        train = load_image_folder(Path(config.train_folder), config.label_set).data
    else:
        train = load_fer2013_npz(root / TRAIN_FILE, config.label_set, config.label_source)
    val = load_fer2013_npz(root / VAL_FILE, config.label_set, config.label_source)
    rng = np.random.default_rng(config.seed)
    if config.limit:
        train = train.subset(np.sort(rng.permutation(len(train))[: config.limit]))
    if config.val_limit:
        val = val.subset(np.sort(rng.permutation(len(val))[: config.val_limit]))
    return train, val


def evaluate_on_fer_labels(model: keras.Model, config: TrainConfig) -> dict | None:
    """For FER+-trained models: accuracy against FER2013's original labels on the same classes
    (none for a model that can answer contempt, a class FER2013 does not have)."""
    if config.label_source == "fer2013" or not fer2013_labels_can_score(label_set(config.label_set)):
        return None
    root = data_dir(config.data_dir)
    val = load_fer2013_npz(root / VAL_FILE, config.label_set, "fer2013")
    scores = model.predict(to_model_input(val.x), batch_size=256, verbose=0)
    return classification_metrics(val.y, scores, val.labels)


def train(config: TrainConfig, command: list[str] | None = None) -> dict:
    """Train (or resume) the run in `config.out_dir`; returns the run record written to run.json."""
    out = Path(config.out_dir)
    if (out / "run.json").exists() and not (out / "backup").exists():
        # Resuming is for interrupted runs; a finished one would get its history appended to.
        raise FileExistsError(f"{out} holds a finished run (run.json); choose another --out or remove it")
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    train_data, val_data = load_splits(config)
    num_classes = len(train_data.labels)
    log.info("train %d faces %s", len(train_data), train_data.class_counts())
    log.info("val   %d faces %s", len(val_data), val_data.class_counts())

    weights = class_weights(train_data.y, num_classes, config.class_weight)
    augmenter = build_augmenter(config.seed) if config.augment else None
    train_ds = input_pipeline(train_data, config.batch_size, config.seed, weights, augmenter, shuffle=True)
    val_ds = input_pipeline(val_data, 256, config.seed, None, None)

    model = architectures.build(config.architecture, num_classes)
    started_from = warm_start(model, Path(config.init_from)) if config.init_from else None
    steps = config.epochs * int(np.ceil(len(train_data) / config.batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate * 0.1, decay_steps=max(1, steps - steps // 20),
        warmup_target=config.learning_rate, warmup_steps=steps // 20,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )
    history_csv = out / "history.csv"
    best_path = out / "model.keras"
    callbacks = [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        keras.callbacks.ModelCheckpoint(
            str(best_path), monitor="val_accuracy", mode="max", save_best_only=True,
            initial_value_threshold=best_so_far(history_csv, "val_accuracy"),
        ),
        keras.callbacks.CSVLogger(str(history_csv), append=True),
    ]
    started = time.time()
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks, shuffle=False)
    train_seconds = time.time() - started

    best = keras.models.load_model(best_path)
    scores = best.predict(to_model_input(val_data.x), batch_size=256, verbose=0)
    record = {
        "config": asdict(config),
        "command": shlex.join(command or sys.argv),
        "labels": list(train_data.labels),
        "data": {
            "train": {"file": train_data.source, "faces": len(train_data),
                      "class_counts": train_data.class_counts()},
            "val": {"file": val_data.source, "split": "FER2013 PublicTest",
                    "faces": len(val_data), "class_counts": val_data.class_counts()},
        },
        "class_weights": {label: round(float(w), 4) for label, w in zip(train_data.labels, weights)},
        "parameters": int(best.count_params()),
        "train_seconds_this_session": round(train_seconds, 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "metrics": {"val": classification_metrics(val_data.y, scores, val_data.labels)},
    }
    if started_from is not None:
        record["init_from"] = started_from.to_dict()
    fer_labels = evaluate_on_fer_labels(best, config)
    if fer_labels is not None:
        record["metrics"]["val_fer2013_labels"] = fer_labels
    with open(history_csv) as handle:
        record["epochs_completed"] = sum(1 for _ in csv.DictReader(handle))
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    write_report(out / "report", val_data.y, scores, val_data.labels, history_csv=history_csv,
                 title=f"{out.name}: {config.architecture} on FER2013 PublicTest",
                 context={"run": out.name, "model": str(best_path), "model_type": "keras",
                          "architecture": config.architecture,
                          "from": config.init_from or "scratch", "augment": config.augment,
                          "label_set": config.label_set, "label_source": config.label_source,
                          "epochs": record["epochs_completed"], "parameters": record["parameters"],
                          "data": f"{Path(val_data.source).name} (FER2013 PublicTest)"})
    log.info("val accuracy %.4f, macro-F1 %.4f -> %s",
             record["metrics"]["val"]["accuracy"], record["metrics"]["val"]["macro_f1"], out)
    return record
