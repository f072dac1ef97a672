"""Fit a model the Keras way: tf.data pipeline, callbacks, checkpoint every epoch, resume.

Choices are made on a validation split carved from the training data (seeded, stratified;
see `splits`); FER2013 PublicTest is scored once, at the end, on the selected model. With
`val_fraction=0` the whole training set is used and the last epoch is kept: the way to
train a final model once the schedule has been chosen.

A run directory holds everything needed to continue or audit a run: `model.keras` (the
selected epoch), `run.json` (config, command, versions, split, metrics, wall time of every
piece), `history.csv` (with the learning rate of each epoch), `pieces.json`, `report/`
(PublicTest report of the selected model) and `backup/` while the run is unfinished: re-running
the same command resumes, with the optimizer's step count and so the schedule restored.
"""

from __future__ import annotations

import csv
import json
import logging
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from emotion_device.labels import label_set
from emotion_device.preprocess import to_model_input
from emotion_train import architectures
from emotion_train.augmentation import build_augmenter, random_erasing, rectangle_masks
from emotion_train.batchnorm_refresh import RefreshBatchNorm, refresh_sample
from emotion_train.datapaths import TRAIN_FILE, VAL_FILE, data_dir
from emotion_train.fer2013 import FaceDataset, fer2013_labels_can_score, load_fer2013_npz
from emotion_train.metrics import classification_metrics
from emotion_train.prior_correction import fold_into_head
from emotion_train.report import write_report
from emotion_train.run_configs import CLASS_WEIGHTINGS, OPTIMIZERS, VALIDATION_SPLIT, TrainConfig
from emotion_train.splits import SplitRecord, carve_validation
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
                   augmenter: keras.Model | None, shuffle: bool = False,
                   mixup: float = 0.0, erasing: float = 0.0, cutmix: float = 0.0) -> tf.data.Dataset:
    """Batches of model inputs; training passes shuffle=True with or without augmentation,
    since a folder dataset arrives sorted by class and single-class batches wreck BatchNorm.

    With `erasing` > 0 that share of the faces has one rectangle replaced by noise
    (augmentation.random_erasing). With `mixup` > 0 each augmented batch is blended with
    itself reversed, one Beta(alpha, alpha) weight per face, targets blended alike (Zhang et
    al., 2018). With `cutmix` > 0 each face instead gets one rectangle of its partner pasted in,
    targets blended by the pasted share (Yun et al., 2019); the two are exclusive.
    """
    if mixup > 0 and cutmix > 0:
        raise ValueError("mixup and cutmix are exclusive: choose one")
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
    if erasing > 0:
        ds = ds.map(random_erasing(erasing, seed), num_parallel_calls=tf.data.AUTOTUNE)
    if mixup > 0:
        ds = ds.map(_mixup(mixup, seed), num_parallel_calls=tf.data.AUTOTUNE)
    if cutmix > 0:
        ds = ds.map(_cutmix(cutmix, seed), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _mixup(alpha: float, seed: int):
    generator = tf.random.Generator.from_seed(seed)

    def mix(images, targets, *rest):
        lam = _beta(generator, tf.shape(images)[0], alpha)
        lam_x = tf.reshape(lam, (-1, 1, 1, 1))
        lam_y = tf.reshape(lam, (-1, 1))
        images = lam_x * images + (1 - lam_x) * tf.reverse(images, [0])
        targets = lam_y * targets + (1 - lam_y) * tf.reverse(targets, [0])
        return (images, targets, *rest)

    return mix


def _beta(generator: tf.random.Generator, n, alpha: float):
    seeds = generator.make_seeds(2)
    a = tf.random.stateless_gamma([n], seeds[:, 0], alpha)
    b = tf.random.stateless_gamma([n], seeds[:, 1], alpha)
    return a / (a + b)


def _cutmix(alpha: float, seed: int):
    """Per face, a rectangle of about (1 - lam) of its area, lam ~ Beta(alpha, alpha), centred
    anywhere and clipped at the border, comes from its partner in the reversed batch; the
    targets are blended by the share actually pasted."""
    generator = tf.random.Generator.from_seed(seed)

    def mix(images, targets, *rest):
        shape = tf.shape(images)
        n, height, width = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        side = tf.sqrt(1.0 - _beta(generator, n, alpha))
        centre_y = generator.uniform([n]) * height
        centre_x = generator.uniform([n]) * width
        top = tf.clip_by_value(tf.round(centre_y - side * height / 2), 0.0, height)
        bottom = tf.clip_by_value(tf.round(centre_y + side * height / 2), 0.0, height)
        left = tf.clip_by_value(tf.round(centre_x - side * width / 2), 0.0, width)
        right = tf.clip_by_value(tf.round(centre_x + side * width / 2), 0.0, width)
        inside = rectangle_masks(top, bottom, left, right, height, width)
        pasted = tf.reshape((bottom - top) * (right - left) / (height * width), (-1, 1))
        images = tf.where(inside, tf.reverse(images, [0]), images)
        targets = (1 - pasted) * targets + pasted * tf.reverse(targets, [0])
        return (images, targets, *rest)

    return mix


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


@dataclass
class RunSplits:
    """The faces a run trains on, selects on (None: no selection, the last epoch is kept) and
    is reported on (FER2013 PublicTest)."""

    train: FaceDataset
    val: FaceDataset | None
    test: FaceDataset | None
    split: SplitRecord | None


def load_splits(config: TrainConfig) -> RunSplits:
    root = data_dir(config.data_dir)
    if config.train_folder:
        from emotion_train.image_folder import load_image_folder

        data = load_image_folder(Path(config.train_folder), config.label_set).data
        strata = np.zeros(int(data.rows.max()) + 1 if len(data) else 0, dtype=np.int64)
        strata[data.rows] = data.y
    else:
        data = load_fer2013_npz(root / TRAIN_FILE, config.label_set, config.label_source)
        with np.load(root / TRAIN_FILE) as archive:
            strata = archive["y"].astype(np.int64)  # FER2013's label of every row, whatever the run's labels
    if not config.score_test and config.val_fraction <= 0:
        raise ValueError("--no-test judges a run on its validation split: give --val-fraction above 0")
    test = (load_fer2013_npz(root / VAL_FILE, config.label_set, config.label_source) if config.score_test
            else None)
    rng = np.random.default_rng(config.seed)
    if config.limit:
        data = data.subset(np.sort(rng.permutation(len(data))[: config.limit]))
    if config.val_limit and test is not None:
        test = test.subset(np.sort(rng.permutation(len(test))[: config.val_limit]))
    if config.val_fraction <= 0:
        return RunSplits(data, None, test, None)
    train, val, split = carve_validation(data, strata, config.val_fraction, config.split_seed)
    return RunSplits(train, val, test, split)


def evaluate_on_fer_labels(model: keras.Model, config: TrainConfig) -> dict | None:
    """For FER+-trained models: PublicTest accuracy against FER2013's original labels on the same
    classes (none for a model that can answer contempt, a class FER2013 does not have)."""
    if config.label_source == "fer2013" or not fer2013_labels_can_score(label_set(config.label_set)):
        return None
    root = data_dir(config.data_dir)
    test = load_fer2013_npz(root / VAL_FILE, config.label_set, "fer2013")
    scores = model.predict(to_model_input(test.x), batch_size=256, verbose=0)
    return classification_metrics(test.y, scores, test.labels)


def build_optimizer(config: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """Cosine decay to zero after a 5% linear warm-up, over the whole planned schedule.

    The rate is a pure function of the optimizer's step count, which BackupAndRestore saves
    with the weights: a resumed run continues the same curve (tests/train/test_resume.py).
    With `config.ema` the optimizer also keeps a moving average of the weights (Polyak
    averaging), which `_callbacks` validates and saves.
    """
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {config.optimizer!r}; choose from {OPTIMIZERS}")
    if not 0 <= config.ema < 1:
        raise ValueError(f"EMA momentum must be in [0, 1), got {config.ema}")
    ema = {"use_ema": config.ema > 0, "ema_momentum": config.ema or 0.99}
    steps = config.epochs * steps_per_epoch
    schedule = keras.optimizers.schedules.CosineDecay(
        config.learning_rate * 0.1, decay_steps=max(1, steps - steps // 20),
        warmup_target=config.learning_rate, warmup_steps=steps // 20,
    )
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(schedule, momentum=0.9, nesterov=True, weight_decay=config.weight_decay,
                                    **ema)
    return keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay, **ema)


class LearningRateLogger(keras.callbacks.Callback):
    """Puts the rate the last step used into each epoch's logs (so history.csv shows the schedule)."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            optimizer = self.model.optimizer
            step = int(optimizer.iterations.numpy()) - 1
            rate = optimizer._learning_rate
            logs["lr"] = float(rate(step) if callable(rate) else rate)


def cpu_model() -> str:
    """The CPU's name as lscpu shows it: wall times only compare on the same processor."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class WallTimeLog(keras.callbacks.Callback):
    """Records each piece of an interrupted run (start, epochs, seconds) in pieces.json at
    every epoch end, so a run killed mid-way still accounts for the time it spent."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.pieces = json.loads(path.read_text()) if path.exists() else []
        self.piece: dict = {}
        self.started = 0.0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.started = time.time()
        first = self.pieces[-1]["last_epoch"] if self.pieces else 0
        self.piece = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "host": platform.node(),
                      "cpu": cpu_model(), "first_epoch": first + 1,
                      "last_epoch": first, "seconds": 0.0}
        self.pieces.append(self.piece)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.piece["last_epoch"] = epoch + 1
        self.piece["seconds"] = round(time.time() - self.started, 1)
        self.path.write_text(json.dumps(self.pieces, indent=2) + "\n")


class HistoryLog(keras.callbacks.Callback):
    """history.csv in Keras' CSVLogger format (epoch, then the logs' keys sorted), but opened
    and closed at every epoch end. CSVLogger holds its file open for the whole run, so when
    anything replaces the file between epochs (a checkout, a `git stash`, a copy back), every
    later row goes to the deleted inode and is lost: a 40-epoch run lost 13 rows that way."""

    def __init__(self, path: Path, append: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        self.append = append

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self.append:
            self.path.unlink(missing_ok=True)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        row = {key: _csv_value(value) for key, value in (logs or {}).items()}
        fieldnames = ["epoch", *sorted(row)]
        new_file = not self.path.exists() or self.path.stat().st_size == 0
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fieldnames)
            if new_file:
                writer.writeheader()
            writer.writerow({"epoch": epoch, **row})


def _csv_value(value: object) -> object:
    """A log value as CSVLogger writes it: numbers as Python floats, anything else as it is."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return value


def _callbacks(config: TrainConfig, out: Path, has_val: bool,
               refresh_faces: np.ndarray | None = None) -> list[keras.callbacks.Callback]:
    history_csv = out / "history.csv"
    best_path = out / "model.keras"
    if has_val:
        keep = keras.callbacks.ModelCheckpoint(
            str(best_path), monitor="val_accuracy", mode="max", save_best_only=True,
            initial_value_threshold=best_so_far(history_csv, "val_accuracy"))
    else:  # nothing to select on: the schedule was chosen beforehand, keep the last epoch
        keep = keras.callbacks.ModelCheckpoint(str(best_path))
    # With an EMA, SwapEMAWeights puts the averaged weights in the model for validation and from
    # each epoch's end to the next one's start, so `keep` saves them. It comes after the backup,
    # which must hold the raw weights training continues from (and the average in the optimizer).
    # Keras averages only the trainable weights: RefreshBatchNorm then gives the averaged network
    # BatchNorm statistics of its own, measured on clean training faces.
    ema: list[keras.callbacks.Callback] = []
    if config.ema > 0:
        if refresh_faces is None:
            raise ValueError("a moving average of the weights needs faces to refresh BatchNorm on")
        ema = [keras.callbacks.SwapEMAWeights(swap_on_epoch=True), RefreshBatchNorm(refresh_faces)]
    return [
        keras.callbacks.BackupAndRestore(str(out / "backup")),
        LearningRateLogger(),  # before HistoryLog, which writes the logs it is handed
        *ema,
        keep,
        HistoryLog(history_csv),
        WallTimeLog(out / "pieces.json"),
    ]


def train(config: TrainConfig, command: list[str] | None = None) -> dict:
    """Train (or resume) the run in `config.out_dir`; returns the run record written to run.json."""
    out = Path(config.out_dir)
    if (out / "run.json").exists() and not (out / "backup").exists():
        # Resuming is for interrupted runs; a finished one would get its history appended to.
        raise FileExistsError(f"{out} holds a finished run (run.json); choose another --out or remove it")
    if config.prior_correction < 0:  # refused now, not after the last epoch
        raise ValueError(f"prior correction must be 0 or more, got {config.prior_correction}")
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    splits = load_splits(config)
    train_data, val_data, test_data = splits.train, splits.val, splits.test
    num_classes = len(train_data.labels)
    log.info("train %d faces %s", len(train_data), train_data.class_counts())
    if val_data is not None:
        log.info("val   %d faces %s (%.0f%% of the training data, split seed %d)", len(val_data),
                 val_data.class_counts(), 100 * config.val_fraction, config.split_seed)

    if config.teachers:
        from emotion_train.distillation import distilled

        train_data = distilled(train_data, config.teachers, config.distill_weight)
    weights = class_weights(train_data.y, num_classes, config.class_weight)
    augmenter = build_augmenter(config.seed) if config.augment else None
    train_ds = input_pipeline(train_data, config.batch_size, config.seed, weights, augmenter, shuffle=True,
                              mixup=config.mixup, erasing=config.erasing, cutmix=config.cutmix)
    val_ds = input_pipeline(val_data, 256, config.seed, None, None) if val_data is not None else None

    model = architectures.build(config.architecture, num_classes)
    started_from = warm_start(model, Path(config.init_from)) if config.init_from else None
    steps_per_epoch = int(np.ceil(len(train_data) / config.batch_size))
    model.compile(
        optimizer=build_optimizer(config, steps_per_epoch),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )
    history_csv = out / "history.csv"
    best_path = out / "model.keras"
    refresh_faces = refresh_sample(train_data.x, config.seed) if config.ema > 0 else None
    model.fit(train_ds, validation_data=val_ds, epochs=config.epochs,
              callbacks=_callbacks(config, out, val_data is not None, refresh_faces), shuffle=False)

    # The finished run keeps the selected network without its optimizer state (a third of the
    # size): resuming needs only backup/, and everything downstream loads it with compile=False.
    best = keras.models.load_model(best_path, compile=False)
    prior_shift = None
    if config.prior_correction:
        # Chosen beforehand on a validation split (emotion-train prior); everything below, the
        # metrics, the report and the int8 conversion, describes the corrected network.
        prior_shift = fold_into_head(best, weights.astype(np.float64), config.prior_correction)
    best.save(best_path)
    pieces = json.loads((out / "pieces.json").read_text())
    record = {
        "config": asdict(config),
        "command": shlex.join(command or sys.argv),
        "labels": list(train_data.labels),
        "data": {
            "train": {"file": train_data.source, "faces": len(train_data),
                      "class_counts": train_data.class_counts()},
            "val": (None if val_data is None else
                    {"file": val_data.source, "split": f"{config.val_fraction:.0%} of the training data, "
                                                      f"stratified, seed {config.split_seed}",
                     "faces": len(val_data), "class_counts": val_data.class_counts()}),
            "split": splits.split.to_dict() if splits.split else None,
            "test": (None if test_data is None else
                     {"file": test_data.source, "split": "FER2013 PublicTest", "faces": len(test_data),
                      "class_counts": test_data.class_counts()}),
        },
        "selection": ("best val_accuracy on the validation split" if val_data is not None
                      else "last epoch (no validation split: the schedule was chosen beforehand)"),
        "class_weights": {label: round(float(w), 4) for label, w in zip(train_data.labels, weights)},
        "prior_correction": (None if prior_shift is None else
                             {"tau": config.prior_correction,
                              "bias_shift": dict(zip(train_data.labels, prior_shift))}),
        "parameters": int(best.count_params()),
        "train_pieces": pieces,
        "train_seconds": round(sum(piece["seconds"] for piece in pieces), 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "metrics": {},
    }
    if val_data is not None:
        val_scores = best.predict(to_model_input(val_data.x), batch_size=256, verbose=0)
        record["metrics"]["val"] = classification_metrics(val_data.y, val_scores, val_data.labels)
    if test_data is not None:
        # PublicTest, once, on the selected model: the figure the run is reported by.
        scores = best.predict(to_model_input(test_data.x), batch_size=256, verbose=0)
        record["metrics"]["test"] = classification_metrics(test_data.y, scores, test_data.labels)
        fer_labels = evaluate_on_fer_labels(best, config)
        if fer_labels is not None:
            record["metrics"]["test_fer2013_labels"] = fer_labels
        reported, scored = test_data, "test"
        reported_on = f"{Path(test_data.source).name} (FER2013 PublicTest)"
    else:  # a lever run (--no-test): the validation split is all it is judged on
        assert val_data is not None  # load_splits refuses --no-test without one
        scores, reported, scored = val_scores, val_data, "val"
        reported_on = f"{VALIDATION_SPLIT} ({len(val_data)} faces of {Path(val_data.source).name})"
    if started_from is not None:
        record["init_from"] = started_from.to_dict()
    with open(history_csv) as handle:
        record["epochs_completed"] = sum(1 for _ in csv.DictReader(handle))
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    write_report(out / "report", reported.y, scores, reported.labels, history_csv=history_csv,
                 title=f"{out.name}: {config.architecture} on {reported_on}",
                 context={"run": out.name, "model": str(best_path), "model_type": "keras",
                          "architecture": config.architecture,
                          "from": config.init_from or "scratch", "augment": config.augment,
                          "label_set": config.label_set, "label_source": config.label_source,
                          "epochs": record["epochs_completed"], "parameters": record["parameters"],
                          "selected_on": record["selection"], "data": reported_on})
    log.info("%s accuracy %.4f, macro-F1 %.4f -> %s", "PublicTest" if scored == "test" else "validation",
             record["metrics"][scored]["accuracy"], record["metrics"][scored]["macro_f1"], out)
    return record
