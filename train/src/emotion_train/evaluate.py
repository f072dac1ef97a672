"""Evaluate a Keras or TFLite model on FER2013 PublicTest, or on any labelled image folder,
and write the report.

A folder (`DIR/<label>/[<person>/]*.jpg`) is read by the same loader as fine-tuning, with the
model's own face crop, so a user's held-out photos are scored exactly as the model will see
them. The score of a held-out folder can be written into the model's card as `metrics.test`.

Each model type gets a small adapter with `predict(faces) -> scores`; everything after the
scores (labels, data, metrics, report) is one code path. The TFLite adapter is the device's
own `EmotionClassifier`, so an int8 model is measured exactly as it runs on the Pi.

`tta` measures test-time averaging over a face's views ("flip": with its mirror image;
"ten-crop": corner and centre crops and their mirrors), the device's opt-in `model.tta`:
through the device classifier itself for a .tflite, and with the same views
(`emotion_device.tta`) for a .keras model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from emotion_device.labels import LABEL_SETS, label_set
from emotion_device.model_card import ModelCard, card_path_for
from emotion_device.preprocess import CropSpec, to_model_input
from emotion_device.tta import check_mode, tta_views
from emotion_train.datapaths import VAL_FILE, data_dir
from emotion_train.fer2013 import LABEL_SOURCES, FaceDataset, load_fer2013_npz
from emotion_train.image_folder import LABEL_SOURCE as FOLDER_LABELS
from emotion_train.image_folder import FaceExtractor, load_image_folder
from emotion_train.report import write_report
from emotion_train.run_configs import run_origin

log = logging.getLogger(__name__)

BATCH = 256


@dataclass
class ModelInfo:
    """What a model's run record or card says about it; None where nothing says."""

    path: str
    model_type: str
    labels: tuple[str, ...] | None = None
    label_set: str | None = None
    label_source: str | None = None
    architecture: str | None = None
    augment: bool | None = None
    epochs: int | None = None
    parameters: int | None = None
    origin: str | None = None  # "scratch" or the base model a run was fine-tuned from
    crop: CropSpec = field(default_factory=CropSpec)  # how photos are cropped for this model
    card: Path | None = None  # the model card that describes this very file
    extra: dict = field(default_factory=dict)


class ScorePredictor(Protocol):
    info: ModelInfo

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """uint8 faces [N,48,48] -> class scores [N,C] in the model's label order."""
        ...


def _info_from_run(path: Path, run_path: Path, model_type: str) -> ModelInfo:
    run = json.loads(run_path.read_text())
    config = run.get("config", {})
    return ModelInfo(
        path=str(path), model_type=model_type, labels=tuple(run["labels"]),
        label_set=config.get("label_set"), label_source=config.get("label_source"),
        architecture=run.get("architecture", config.get("architecture")), augment=config.get("augment"),
        epochs=run.get("epochs_completed"), parameters=run.get("parameters"),
        origin=run_origin(run),
        crop=CropSpec(margin=config.get("crop_margin", 0.0), square=True),
        extra={"run": run_path.parent.name,
               **({"selected_on": run["selection"]} if run.get("selection") else {})},
    )


def _info_from_card(path: Path, card: ModelCard, model_type: str) -> ModelInfo:
    training = card.training
    return ModelInfo(
        path=str(path), model_type=model_type, labels=tuple(card.labels),
        label_set=training.get("label_set"), label_source=training.get("label_source"),
        architecture=card.architecture.get("name"), augment=training.get("augment"),
        epochs=training.get("epochs"), parameters=card.architecture.get("parameters"),
        crop=card.face_crop, card=card_path_for(path), extra={"card": card.name},
    )


class KerasPredictor:
    """A .keras model; described by run.json beside it (a run folder) or a model card (models/)."""

    def __init__(self, path: Path, tta: str = "off") -> None:
        import keras

        self.tta = check_mode(tta)
        self.model = keras.models.load_model(path)
        run_path, card_path = path.with_name("run.json"), card_path_for(path)
        if run_path.is_file():
            self.info = _info_from_run(path, run_path, "keras")
        elif card_path.is_file():
            self.info = _info_from_card(path, ModelCard.load(card_path), "keras")
        else:
            self.info = ModelInfo(str(path), "keras")
        self.info.parameters = int(self.model.count_params())

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """The mean of the scores of each face's views, as EmotionClassifier averages them."""
        views = tta_views(to_model_input(faces)[..., 0], self.tta)
        return np.mean([self.model.predict(view[..., None], batch_size=BATCH, verbose=0)
                        for view in views], axis=0)


class TFLitePredictor:
    """A .tflite model with its card, run by the device's classifier (int8 or float)."""

    def __init__(self, path: Path, num_threads: int = 2, tta: str = "off") -> None:
        from emotion_device.classifier import EmotionClassifier

        self.classifier = EmotionClassifier(path, num_threads=num_threads, tta=tta)
        input_type = np.dtype(self.classifier.interpreter.get_input_details()[0]["dtype"]).name
        self.info = _info_from_card(path, self.classifier.card, f"tflite-{input_type}")

    def predict(self, faces: np.ndarray) -> np.ndarray:
        inputs = to_model_input(faces)
        return np.concatenate([self.classifier.scores(inputs[i:i + BATCH])
                               for i in range(0, len(inputs), BATCH)])


def load_predictor(path: Path, tta: str = "off") -> ScorePredictor:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model {path} not found")
    if path.suffix == ".keras":
        return KerasPredictor(path, tta=tta)
    if path.suffix == ".tflite":
        return TFLitePredictor(path, tta=tta)
    raise ValueError(f"{path}: expected a .keras or .tflite model")


def _set_named(labels: tuple[str, ...] | None) -> str | None:
    return next((name for name, members in LABEL_SETS.items() if members == labels), None)


def resolve_label_set(info: ModelInfo, label_set_name: str | None) -> str:
    """The label set to evaluate with: as given, else as the model's record says; it must be
    the classes the model scores, in its order."""
    set_name = label_set_name or info.label_set or _set_named(info.labels)
    if set_name is None:
        raise ValueError(f"{info.path}: no run.json or card says its label set; pass --label-set")
    if info.labels is not None and info.labels != label_set(set_name):
        raise ValueError(f"{info.path} scores {list(info.labels)}, not label set {set_name} "
                         f"{list(label_set(set_name))}")
    return set_name


def resolve_labels(info: ModelInfo, label_set_name: str | None, label_source: str | None) -> tuple[str, str]:
    """The label set and PublicTest label source to evaluate with: as given, else the model's."""
    set_name = resolve_label_set(info, label_set_name)
    source = label_source or info.label_source
    if source not in LABEL_SOURCES:
        raise ValueError(f"{info.path}: label source {source!r} is not one of {LABEL_SOURCES}; "
                         "pass --labels")
    return set_name, source


def public_test(set_name: str, source: str, data_root: str | None = None, limit: int | None = None,
                seed: int = 1234) -> FaceDataset:
    """FER2013 PublicTest for a label set and source; `limit` takes a seeded random slice."""
    val = load_fer2013_npz(data_dir(data_root) / VAL_FILE, set_name, source)
    if limit:
        val = val.subset(np.sort(np.random.default_rng(seed).permutation(len(val))[:limit]))
    return val


def load_faces(folder: Path, set_name: str, crop: CropSpec) -> tuple[FaceDataset, list]:
    """A labelled image folder as faces for a label set, photos cropped as the model expects."""
    loaded = load_image_folder(Path(folder), set_name, FaceExtractor(crop_spec=crop))
    if not len(loaded.data):
        raise ValueError(f"{folder}: no usable face in any class folder")
    return loaded.data, loaded.skipped


HELD_OUT_FOLDER = "held-out image folder (emotion-train evaluate --data)"


def check_card_test_writable(card_path: Path) -> None:
    """A card's metrics.test is the model's test score: a held-out folder's may replace an
    earlier folder's, never the FER2013 PublicTest score a bundled model's card carries."""
    existing = ModelCard.load(card_path).metrics.get("test")
    if existing is not None and existing.get("split") != HELD_OUT_FOLDER:
        raise ValueError(f"{card_path} already holds metrics.test from {existing.get('split')}; "
                         "--write-card never replaces it (copy the model and its card to record "
                         "another test set)")


def record_test_in_card(card_path: Path, report: dict, folder: Path, skipped: int) -> None:
    """Write the folder's scores into the model's card as metrics.test."""
    card = ModelCard.load(card_path)
    card.metrics["test"] = {
        "split": HELD_OUT_FOLDER,
        "data": str(folder), "absolute_path": str(Path(folder).resolve()), "labels": FOLDER_LABELS,
        "model_type": report["context"]["model_type"], "n": report["n"], "skipped_files": skipped,
        "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
        "macro_auc": report["roc_auc"]["macro"],
        "per_class_recall": {label: row["recall"] for label, row in report["per_class"].items()},
        "class_counts": {label: row["support"] for label, row in report["per_class"].items()},
    }
    card.save(card_path)
    log.info("metrics.test written into %s", card_path)


def evaluate_model(model_path: Path, out_dir: Path, label_set_name: str | None = None,
                   label_source: str | None = None, data_root: str | None = None,
                   limit: int | None = None, seed: int = 1234, tta: str = "off",
                   folder: Path | None = None, write_card: bool = False) -> dict:
    """Score FER2013 PublicTest, or a labelled image folder, and write the report into out_dir."""
    if write_card and folder is None:
        raise ValueError("--write-card records a held-out folder's score; pass --data")
    predictor = load_predictor(Path(model_path), tta=tta)
    info = predictor.info
    if write_card:
        if info.card is None:
            raise ValueError(f"{model_path} has no model card beside it to write into")
        check_card_test_writable(info.card)
    skipped: list = []
    if folder is not None:
        set_name = resolve_label_set(info, label_set_name)
        val, skipped = load_faces(folder, set_name, info.crop)
        source, described = FOLDER_LABELS, f"{folder} (image folder, {len(skipped)} files skipped)"
        title = f"{Path(model_path).name} on {folder}"
    else:
        set_name, source = resolve_labels(info, label_set_name, label_source)
        val = public_test(set_name, source, data_root, limit, seed)
        described = f"{VAL_FILE} (FER2013 PublicTest)" + (f", random {limit} faces (seed {seed})"
                                                          if limit else "")
        title = f"{Path(model_path).name} on FER2013 PublicTest"
    if limit and folder is not None:
        val = val.subset(np.sort(np.random.default_rng(seed).permutation(len(val))[:limit]))
    log.info("evaluating %s (%s%s) on %d faces of %s", model_path, info.model_type,
             f", {tta} TTA" if tta != "off" else "", len(val), described)
    scores = predictor.predict(val.x)
    if scores.shape != (len(val), len(val.labels)):
        raise ValueError(f"{model_path} gave scores of shape {scores.shape} for {len(val)} faces and "
                         f"{len(val.labels)} labels")
    history = Path(model_path).with_name("history.csv") if info.model_type == "keras" else None
    context = {
        "model": str(model_path), "model_type": info.model_type, "architecture": info.architecture,
        "from": info.origin, "augment": info.augment, "label_set": set_name, "label_source": source,
        "epochs": info.epochs, "parameters": info.parameters,
        "data": described, "tta": tta,
        **info.extra,
    }
    report = write_report(out_dir, val.y, scores, val.labels,
                          history_csv=history if history is not None and history.is_file() else None,
                          title=title, context=context)
    if write_card and info.card is not None and folder is not None:
        record_test_in_card(info.card, report, Path(folder), len(skipped))
    return report
