"""Transfer learning from a pretrained model onto a small folder dataset, in two phases.

Phase 1 freezes the whole backbone and trains a new head, so the random head cannot wreck
the pretrained features with large gradients. Phase 2 unfreezes the top conv blocks at a
tenth of the learning rate. BatchNormalization stays frozen throughout: a frozen BN layer
runs in inference mode in Keras 3, so a few hundred images never overwrite the moving
statistics learned on FER2013.

The run folder mirrors a training run: model.keras (best epoch by val_accuracy),
run.json, history.csv (both phases) and report/.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import keras
import numpy as np
from keras import layers

from emotion_device.model_card import sha256_of
from emotion_device.preprocess import CropSpec, to_model_input
from emotion_train.augmentation import build_augmenter
from emotion_train.evaluate import public_test
from emotion_train.fer2013 import FaceDataset
from emotion_train.image_folder import FaceExtractor, FolderDataset, load_image_folder
from emotion_train.metrics import classification_metrics
from emotion_train.report import write_report
from emotion_train.run_configs import PUBLIC_TEST, FinetuneConfig
from emotion_train.training import best_so_far, class_weights, input_pipeline, library_versions

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


def load_validation(config: FinetuneConfig, extractor: FaceExtractor) -> tuple[FaceDataset, dict]:
    if config.val_data.lower() == PUBLIC_TEST:
        val = public_test(config.label_set, config.label_source, config.data_dir, config.val_limit,
                          config.seed)
        return val, {"file": val.source, "split": "FER2013 PublicTest", "labels": config.label_source}
    folder = load_image_folder(Path(config.val_data), config.label_set, extractor)
    return folder.data, {"file": config.val_data, "split": "image folder",
                         "skipped": [asdict(s) for s in folder.skipped]}


def load_train_folder(config: FinetuneConfig, extractor: FaceExtractor) -> FolderDataset:
    folder = load_image_folder(Path(config.train_data), config.label_set, extractor)
    empty = [label for label, n in folder.data.class_counts().items() if n == 0]
    if not len(folder.data):
        raise ValueError(f"{config.train_data}: no usable face in any class folder")
    if empty:
        log.warning("no training faces for %s: the head cannot learn them", ", ".join(empty))
    return folder


def _fit(model: keras.Model, config: FinetuneConfig, learning_rate: float, train_ds, val_ds, out: Path,
         initial_epoch: int, epochs: int) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.CategoricalCrossentropy(),
        metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
        jit_compile=config.jit_compile,
    )
    history_csv = out / "history.csv"
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            str(out / "model.keras"), monitor="val_accuracy", mode="max", save_best_only=True,
            initial_value_threshold=best_so_far(history_csv, "val_accuracy") if initial_epoch else None,
        ),
        keras.callbacks.CSVLogger(str(history_csv), append=initial_epoch > 0),
    ]
    model.fit(train_ds, validation_data=val_ds, initial_epoch=initial_epoch, epochs=epochs,
              callbacks=callbacks, shuffle=False)


def finetune(config: FinetuneConfig, command: list[str] | None = None) -> dict:
    """Run both phases into `config.out_dir`; returns the run record written to run.json."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    extractor = FaceExtractor(crop_spec=CropSpec(margin=config.crop_margin, square=True))
    train_folder = load_train_folder(config, extractor)
    train_data = train_folder.data
    val_data, val_record = load_validation(config, extractor)
    labels = train_data.labels
    log.info("train %d faces %s, %d files skipped", len(train_data), train_data.class_counts(),
             len(train_folder.skipped))
    log.info("val   %d faces %s", len(val_data), val_data.class_counts())

    weights = class_weights(train_data.y, len(labels), config.class_weight)
    augmenter = build_augmenter(config.seed) if config.augment else None
    train_ds = input_pipeline(train_data, config.batch_size, config.seed, weights, augmenter, shuffle=True)
    val_ds = input_pipeline(val_data, 256, config.seed, None, None)

    base = keras.models.load_model(config.base_model)
    model = build_transfer_model(base, len(labels), config.dropout)
    freeze_backbone(model)
    phases = [{"name": "head", "epochs": config.head_epochs, "learning_rate": config.learning_rate,
               "trainable_layers": [layer.name for layer in model.layers if layer.trainable_weights],
               "trainable_parameters": _trainable_parameters(model)}]
    log.info("phase 1: head only, %d trainable parameters", phases[0]["trainable_parameters"])
    started = time.time()
    _fit(model, config, config.learning_rate, train_ds, val_ds, out, 0, config.head_epochs)
    marks = {}
    if config.finetune_epochs > 0:
        unfrozen = unfreeze_top_blocks(model, config.unfreeze_blocks)
        learning_rate = config.learning_rate * config.finetune_lr_factor
        phases.append({"name": "fine-tune", "epochs": config.finetune_epochs, "learning_rate": learning_rate,
                       "unfrozen_blocks": conv_blocks(model)[-config.unfreeze_blocks:],
                       "trainable_layers": [layer.name for layer in model.layers if layer.trainable_weights],
                       "trainable_parameters": _trainable_parameters(model)})
        log.info("phase 2: %s unfrozen, %d trainable parameters", ", ".join(unfrozen),
                 phases[1]["trainable_parameters"])
        _fit(model, config, learning_rate, train_ds, val_ds, out, config.head_epochs,
             config.head_epochs + config.finetune_epochs)
        marks = {"fine-tune": config.head_epochs}
    train_seconds = time.time() - started

    best = keras.models.load_model(out / "model.keras")
    scores = best.predict(to_model_input(val_data.x), batch_size=256, verbose=0)
    record = {
        "config": asdict(config),
        "command": shlex.join(command or sys.argv),
        "labels": list(labels),
        "architecture": base.name,
        "base_model": {"file": config.base_model, "sha256": sha256_of(Path(config.base_model)),
                       "name": base.name, "parameters": int(base.count_params())},
        "data": {
            "train": {"file": config.train_data, "faces": len(train_data),
                      "class_counts": train_data.class_counts(),
                      "skipped": [asdict(s) for s in train_folder.skipped]},
            "val": {**val_record, "faces": len(val_data), "class_counts": val_data.class_counts()},
        },
        "class_weights": {label: round(float(w), 4) for label, w in zip(labels, weights)},
        "phases": phases,
        "parameters": int(best.count_params()),
        "train_seconds_this_session": round(train_seconds, 1),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": library_versions(),
        "metrics": {"val": classification_metrics(val_data.y, scores, labels)},
        "epochs_completed": config.head_epochs + config.finetune_epochs,
    }
    (out / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    write_report(out / "report", val_data.y, scores, labels, history_csv=out / "history.csv",
                 title=f"{out.name}: fine-tuned {Path(config.base_model).name} on {val_record['split']}",
                 history_marks=marks,
                 context={"run": out.name, "model": str(out / "model.keras"), "model_type": "keras",
                          "architecture": base.name, "from": config.base_model, "augment": config.augment,
                          "label_set": config.label_set, "label_source": val_record.get("labels", "folder"),
                          "epochs": record["epochs_completed"], "parameters": record["parameters"],
                          "data": f"{Path(val_record['file']).name} ({val_record['split']})"})
    log.info("val accuracy %.4f, macro-F1 %.4f -> %s",
             record["metrics"]["val"]["accuracy"], record["metrics"]["val"]["macro_f1"], out)
    return record
