"""Transfer learning from a pretrained model onto a small folder dataset, in two phases.

Phase 1 freezes the whole backbone and trains the head, so a fresh head cannot wreck the
pretrained features with large gradients. When the folder's labels are the base model's (or a
subset of them) the head starts as the base's own classifier, so the first epoch starts at the
base model's zero-shot accuracy instead of below it. Phase 2 unfreezes the top conv blocks at a
tenth of the learning rate. BatchNormalization stays frozen throughout: a frozen BN layer runs
in inference mode in Keras 3, so a few hundred images never overwrite the moving statistics
learned on FER2013.

Validation is the user's own task: by default a seeded, stratified share of the training
folder (grouped by person with --group-by), or a separate folder. Each phase stops early when
the validation loss stops improving (loss, not accuracy: on a few dozen photos accuracy moves
in steps of several percent and ties often), and the best epoch of either phase is kept.

The run folder mirrors a training run: model.keras (best epoch), run.json, history.csv (both
phases) and report/ (on the validation faces).
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
from keras import layers

from emotion_device.labels import LABEL_SETS
from emotion_device.model_card import ModelCard, card_path_for, sha256_of
from emotion_device.preprocess import CropSpec, to_model_input
from emotion_train.augmentation import build_augmenter
from emotion_train.evaluate import public_test
from emotion_train.fer2013 import FaceDataset
from emotion_train.folder_split import Split, group_ids, grouped_split, stratified_split
from emotion_train.image_folder import LABEL_SOURCE, FaceExtractor, FolderDataset, load_image_folder
from emotion_train.metrics import classification_metrics
from emotion_train.report import write_report
from emotion_train.run_configs import PUBLIC_TEST, FinetuneConfig
from emotion_train.training import HistoryLog, class_weights, input_pipeline, library_versions

log = logging.getLogger(__name__)

HEAD_LAYERS = ("dropout", "scores")
POOL_LAYER = "pool"


def backbone_output(base: keras.Model) -> keras.KerasTensor:
    """Where the pretrained features end: the "pool" layer of our architectures, else the
    input of the last Dense layer."""
    names = [layer.name for layer in base.layers]
    if POOL_LAYER in names:
        return base.get_layer(POOL_LAYER).output
    dense = [layer for layer in base.layers if isinstance(layer, layers.Dense)]
    if not dense:
        raise ValueError(f"{base.name} has neither a {POOL_LAYER!r} layer nor a Dense layer to cut at")
    return dense[-1].input


def build_transfer_model(base: keras.Model, num_classes: int, dropout: float) -> keras.Model:
    """The base's backbone (its very layers and weights) with a new Dropout + Dense head."""
    x = layers.Dropout(dropout, name=HEAD_LAYERS[0])(backbone_output(base))
    outputs = layers.Dense(num_classes, activation="softmax", name=HEAD_LAYERS[1])(x)
    return keras.Model(base.inputs, outputs, name=base.name)


def model_labels(path: Path) -> tuple[str, ...] | None:
    """The classes a .keras model scores, in order: from run.json beside it, else its card."""
    path = Path(path)
    run_path, card_path = path.with_name("run.json"), card_path_for(path)
    if run_path.is_file():
        return tuple(json.loads(run_path.read_text())["labels"])
    if card_path.is_file():
        return tuple(ModelCard.load(card_path).labels)
    return None


def keep_base_head(model: keras.Model, base: keras.Model, base_labels: tuple[str, ...] | None,
                   labels: tuple[str, ...]) -> str:
    """Start the new head as the base's classifier when it scores these labels (all, or a subset:
    its rows for them); returns how the head started: "base", "base-subset" or "new"."""
    if base_labels is None or not set(labels) <= set(base_labels):
        return "new"
    kernel, bias = [layer for layer in base.layers if isinstance(layer, layers.Dense)][-1].get_weights()
    head = model.get_layer(HEAD_LAYERS[1])
    if kernel.shape[0] != head.kernel.shape[0]:
        return "new"
    columns = [base_labels.index(label) for label in labels]
    head.set_weights([kernel[:, columns], bias[columns]])
    return "base" if tuple(labels) == tuple(base_labels) else "base-subset"


def backbone_layers(model: keras.Model) -> list[keras.Layer]:
    return [layer for layer in model.layers if layer.name not in HEAD_LAYERS]


def conv_block_name(layer_name: str) -> str:
    """Our architectures name convs <block><sub>_conv: block2a_conv and block2b_conv are block2.
    A conv named otherwise is a block of its own."""
    if not layer_name.endswith("_conv"):
        return layer_name
    return re.sub(r"(\d)[a-z]$", r"\1", layer_name.removesuffix("_conv"))


def conv_blocks(model: keras.Model) -> list[str]:
    """Conv block names in graph order, bottom to top."""
    blocks: list[str] = []
    for layer in backbone_layers(model):
        if isinstance(layer, layers.Conv2D) and conv_block_name(layer.name) not in blocks:
            blocks.append(conv_block_name(layer.name))
    return blocks


def freeze_backbone(model: keras.Model) -> None:
    for layer in backbone_layers(model):
        layer.trainable = False


def unfreeze_top_blocks(model: keras.Model, count: int) -> list[str]:
    """Make the last `count` conv blocks and every weighted layer above them trainable, except
    BatchNormalization; returns the names of the unfrozen layers."""
    blocks = conv_blocks(model)
    if not 1 <= count <= len(blocks):
        raise ValueError(f"cannot unfreeze {count} blocks; {model.name} has {len(blocks)}: {blocks}")
    top = set(blocks[-count:])
    chain = backbone_layers(model)
    start = next(i for i, layer in enumerate(chain)
                 if isinstance(layer, layers.Conv2D) and conv_block_name(layer.name) in top)
    unfrozen = []
    for layer in chain[start:]:
        if layer.weights and not isinstance(layer, layers.BatchNormalization):
            layer.trainable = True
            unfrozen.append(layer.name)
    return unfrozen


def _trainable_parameters(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


@dataclass
class FinetuneData:
    """The faces to train and validate on, and how they were chosen (for run.json and the card)."""

    train: FaceDataset
    val: FaceDataset
    train_record: dict
    val_record: dict


def _relative_files(folder: FolderDataset, positions: np.ndarray) -> list[str]:
    root = Path(folder.data.source)
    return [Path(folder.files[i]).relative_to(root).as_posix() for i in positions]


def _folder_record(path: str, data: FaceDataset, skipped: list, split: str) -> dict:
    return {"file": path, "absolute_path": str(Path(path).resolve()), "faces": len(data),
            "class_counts": data.class_counts(), "labels": LABEL_SOURCE, "split": split,
            "skipped": [asdict(s) for s in skipped]}


def _load_folder(path: str, labels_name: str, extractor: FaceExtractor) -> FolderDataset:
    folder = load_image_folder(Path(path), labels_name, extractor)
    if not len(folder.data):
        raise ValueError(f"{path}: no usable face in any class folder")
    empty = [label for label, n in folder.data.class_counts().items() if n == 0]
    if empty:
        log.warning("%s: no faces for %s", path, ", ".join(empty))
    return folder


def split_folder(folder: FolderDataset, config: FinetuneConfig) -> Split:
    """The validation split of the training folder: grouped by person when asked, else stratified."""
    if config.group_by:
        groups = group_ids(folder.files, Path(folder.data.source), config.group_by)
        return grouped_split(folder.data.y, groups, config.val_fraction, config.seed)
    return stratified_split(folder.data.y, config.val_fraction, config.seed)


def _check_groups_apart(train: FolderDataset, val: FolderDataset, rule: str) -> None:
    shared = (set(group_ids(train.files, Path(train.data.source), rule))
              & set(group_ids(val.files, Path(val.data.source), rule)))
    if shared:
        raise ValueError(f"--val-data shares people/sessions with --data (--group-by {rule}): "
                         f"{', '.join(sorted(shared))}")


def load_finetune_data(config: FinetuneConfig, labels_name: str) -> FinetuneData:
    """The training folder, and validation from the folder itself, another folder or PublicTest."""
    extractor = FaceExtractor(crop_spec=CropSpec(margin=config.crop_margin, square=True))
    folder = _load_folder(config.train_data, labels_name, extractor)
    if config.val_data is None:
        split = split_folder(folder, config)
        train, val = folder.data.subset(split.train), folder.data.subset(split.val)
        train_record = _folder_record(config.train_data, train, folder.skipped,
                                      f"the rest of the folder ({split.description})")
        val_record = {**_folder_record(config.train_data, val, [], split.description),
                      "files": _relative_files(folder, split.val)}
        return FinetuneData(train, val, train_record, val_record)
    train_record = _folder_record(config.train_data, folder.data, folder.skipped, "the whole folder")
    if config.val_data.lower() == PUBLIC_TEST:
        val = public_test(labels_name, config.label_source, config.data_dir, config.val_limit, config.seed)
        val_record = {"file": val.source, "split": "FER2013 PublicTest", "labels": config.label_source,
                      "faces": len(val), "class_counts": val.class_counts()}
        return FinetuneData(folder.data, val, train_record, val_record)
    val_folder = _load_folder(config.val_data, labels_name, extractor)
    if config.group_by:
        _check_groups_apart(folder, val_folder, config.group_by)
    return FinetuneData(folder.data, val_folder.data, train_record,
                        _folder_record(config.val_data, val_folder.data, val_folder.skipped,
                                       "a separate folder (--val-data)"))


def resolve_label_set(config: FinetuneConfig, base_labels: tuple[str, ...] | None) -> str:
    """--label-set, else the named set whose classes and order are the base model's."""
    if config.label_set:
        return config.label_set
    named = next((name for name, members in LABEL_SETS.items() if members == base_labels), None)
    if named is None:
        raise ValueError(f"{config.base_model}: no run.json or card beside it names its labels "
                         f"({base_labels}); pass --label-set")
    return named


def _fit_phase(model: keras.Model, config: FinetuneConfig, learning_rate: float, train_ds, val_ds,
               out: Path, initial_epoch: int, max_epochs: int, best_loss: float | None,
               verbose: str | int = "auto") -> tuple[int, float]:
    """Train until the validation loss stops improving; the model ends at its best epoch, which
    (if better than `best_loss`) is saved as model.keras. Returns (epochs run, best val loss)."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )
    stopper = keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience,
                                            restore_best_weights=True)
    callbacks = [
        keras.callbacks.ModelCheckpoint(str(out / "model.keras"), monitor="val_loss", mode="min",
                                        save_best_only=True, initial_value_threshold=best_loss),
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5,
                                          patience=max(2, config.patience // 3)),
        stopper,
        HistoryLog(out / "history.csv", append=initial_epoch > 0),
    ]
    history = model.fit(train_ds, validation_data=val_ds, initial_epoch=initial_epoch,
                        epochs=initial_epoch + max_epochs, callbacks=callbacks, shuffle=False,
                        verbose=verbose)
    losses = history.history["val_loss"]
    best = float(np.min(losses))
    return len(losses), best if best_loss is None else min(best, best_loss)


@dataclass
class TransferResult:
    model: keras.Model  # the best epoch of either phase
    phases: list[dict]
    head_init: str
    epochs: int
    marks: dict[str, int]


def fit_transfer(base_path: Path, labels: tuple[str, ...], train_data: FaceDataset, val_data: FaceDataset,
                 config: FinetuneConfig, out: Path, verbose: str | int = "auto") -> TransferResult:
    """Both phases from the base model onto train_data, early-stopped on val_data; writes
    out/model.keras and out/history.csv. The study calls this for each cross-validation fold."""
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    weights = class_weights(train_data.y, len(labels), config.class_weight)
    augmenter = build_augmenter(config.seed) if config.augment else None
    train_ds = input_pipeline(train_data, config.batch_size, config.seed, weights, augmenter, shuffle=True)
    val_ds = input_pipeline(val_data, 256, config.seed, None, None)

    base = keras.models.load_model(base_path)
    model = build_transfer_model(base, len(labels), config.dropout)
    head_init = keep_base_head(model, base, model_labels(base_path), labels)
    freeze_backbone(model)
    phases = [{"name": "head", "max_epochs": config.head_epochs, "learning_rate": config.learning_rate,
               "head_init": head_init,
               "trainable_layers": [layer.name for layer in model.layers if layer.trainable_weights],
               "trainable_parameters": _trainable_parameters(model)}]
    log.info("phase 1: head only (starting from %s head), %d trainable parameters", head_init,
             phases[0]["trainable_parameters"])
    ran, best_loss = _fit_phase(model, config, config.learning_rate, train_ds, val_ds, out, 0,
                                config.head_epochs, None, verbose)
    phases[0].update(epochs=ran, best_val_loss=round(best_loss, 4))
    epochs, marks = ran, {}
    if config.finetune_epochs > 0:
        unfrozen = unfreeze_top_blocks(model, config.unfreeze_blocks)
        learning_rate = config.learning_rate * config.finetune_lr_factor
        phases.append({"name": "fine-tune", "max_epochs": config.finetune_epochs,
                       "learning_rate": learning_rate,
                       "unfrozen_blocks": conv_blocks(model)[-config.unfreeze_blocks:],
                       "trainable_layers": [layer.name for layer in model.layers if layer.trainable_weights],
                       "trainable_parameters": _trainable_parameters(model)})
        log.info("phase 2: %s unfrozen, %d trainable parameters", ", ".join(unfrozen),
                 phases[1]["trainable_parameters"])
        ran, best_loss = _fit_phase(model, config, learning_rate, train_ds, val_ds, out, epochs,
                                    config.finetune_epochs, best_loss, verbose)
        phases[1].update(epochs=ran, best_val_loss=round(best_loss, 4))
        marks = {"fine-tune": epochs}
        epochs += ran
    best = keras.models.load_model(out / "model.keras")
    return TransferResult(best, phases, head_init, epochs, marks)


def finetune(config: FinetuneConfig, command: list[str] | None = None) -> dict:
    """Run both phases into `config.out_dir`; returns the run record written to run.json."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base_labels = model_labels(Path(config.base_model))
    labels_name = resolve_label_set(config, base_labels)
    config = FinetuneConfig(**{**asdict(config), "label_set": labels_name})
    data = load_finetune_data(config, labels_name)
    labels = data.train.labels
    log.info("train %d faces %s (%s)", len(data.train), data.train.class_counts(), data.train_record["split"])
    log.info("val   %d faces %s (%s)", len(data.val), data.val.class_counts(), data.val_record["split"])

    started = time.time()
    result = fit_transfer(Path(config.base_model), labels, data.train, data.val, config, out)
    train_seconds = time.time() - started
    base = keras.models.load_model(config.base_model)
    scores = result.model.predict(to_model_input(data.val.x), batch_size=256, verbose=0)
    val_labels = data.val_record["labels"]
    record = {
        "config": asdict(config),
        "command": shlex.join(command or sys.argv),
        "labels": list(labels),
        "label_source": LABEL_SOURCE,
        "architecture": base.name,
        "base_model": {"file": config.base_model, "sha256": sha256_of(Path(config.base_model)),
                       "name": base.name, "parameters": int(base.count_params()),
                       "labels": None if base_labels is None else list(base_labels)},
        "data": {"train": data.train_record, "val": data.val_record},
        "class_weights": {label: round(float(w), 4)
                          for label, w in zip(labels, class_weights(data.train.y, len(labels),
                                                                     config.class_weight))},
        "phases": result.phases,
        "head_init": result.head_init,
        "parameters": int(result.model.count_params()),
        "train_seconds": round(train_seconds, 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "metrics": {"val": {"split": data.val_record["split"], "labels": val_labels,
                            **classification_metrics(data.val.y, scores, labels)}},
        "epochs_completed": result.epochs,
    }
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    write_report(out / "report", data.val.y, scores, labels, history_csv=out / "history.csv",
                 title=f"{out.name}: fine-tuned {Path(config.base_model).name}, validation faces",
                 history_marks=result.marks,
                 context={"run": out.name, "model": str(out / "model.keras"), "model_type": "keras",
                          "architecture": base.name, "from": config.base_model, "augment": config.augment,
                          "label_set": labels_name, "label_source": val_labels,
                          "epochs": record["epochs_completed"], "parameters": record["parameters"],
                          "data": f"{data.val_record['file']} ({data.val_record['split']})"})
    log.info("val accuracy %.4f, macro-F1 %.4f -> %s",
             record["metrics"]["val"]["accuracy"], record["metrics"]["val"]["macro_f1"], out)
    return record
