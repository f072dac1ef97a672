"""The original study, measured: scratch vs augmented vs transfer learning on 260 faces.

The original project trained a CNN from scratch, the same CNN with augmentation, and a
pretrained network on about 260 faces, and reported about 90% from cross-validation. This
module asks the questions behind that number, with every choice made away from the test set:

- probe: which small-data recipe lets the scratch CNN learn at all (BatchNorm momentum, batch
  size, no BatchNorm), judged on 1,000 other Training faces, never on PublicTest;
- cv: 5-fold stratified cross-validation on the 260 faces for all three models;
- publictest: each model trained on all 260 faces with 3 seeds, scored once on PublicTest;
- curve: PublicTest accuracy against the number of training faces.

Two references that train nothing sit beside the models: the majority-class answer, and the
pretrained backbone as shipped (what transfer starts from, before any fine-tuning).

Every fit holds out a seeded, stratified 20% of its own training faces to stop early on (the
test fold or PublicTest never chooses an epoch). Each result is one JSON file under the study
folder, written when its unit finishes, so an interrupted study resumes where it stopped.
A unit that reads the backbone (transfer, and the backbone's own answers) records the
backbone's sha256 and is run again when the bundled model changes, so the study never mixes
results of two backbones.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

import keras
import numpy as np
from sklearn.model_selection import StratifiedKFold

from emotion_device.model_card import sha256_of
from emotion_device.preprocess import to_model_input
from emotion_train import architectures
from emotion_train.augmentation import build_augmenter
from emotion_train.datapaths import TRAIN_FILE, VAL_FILE, data_dir
from emotion_train.fer2013 import FaceDataset, load_fer2013_npz
from emotion_train.finetune import fit_transfer
from emotion_train.folder_split import stratified_split
from emotion_train.metrics import classification_metrics, roc_analysis
from emotion_train.report import write_report
from emotion_train.run_configs import STUDY_CURVE_SIZES, STUDY_SEEDS, FinetuneConfig
from emotion_train.subset import balanced_positions
from emotion_train.training import class_weights, input_pipeline

log = logging.getLogger(__name__)

LABEL_SET = "emotion5"
LABEL_SOURCE = "ferplus-majority"
STUDY_SEED = 1234  # draws the 260 faces (52 per class), as `make-subset --per-class 52` does
PER_CLASS = 52
VAL_FRACTION = 0.2
PROBE_PER_CLASS = 200  # the probe's judge: 1,000 other Training faces
CV_FOLDS = 5
SEEDS = STUDY_SEEDS
CURVE_SIZES = STUDY_CURVE_SIZES
BASE_MODEL = "models/emotion5.keras"


@dataclass(frozen=True)
class Recipe:
    """How one model is trained on a small set."""

    name: str
    kind: str = "scratch"  # "scratch" (architectures.build) or "transfer" (finetune.fit_transfer)
    architecture: str = "baseline"
    augment: bool = False
    bn_momentum: float | None = None  # None: Keras' default (0.99)
    batch_size: int = 32
    learning_rate: float = 5e-4
    max_epochs: int = 80
    patience: int = 15
    # A budget of optimizer steps (per phase for transfer). It never binds on the 260 faces
    # (at most 1,050 steps there); it keeps the learning curve's 5,000 and all-of-Training
    # points to hours, not days, on two CPU cores: see epochs_for.
    max_steps: int = 10_000
    # Scratch runs stop on validation accuracy: a CNN learning 200 faces from scratch grows
    # overconfident long before it stops improving, so its validation loss is lowest at
    # epoch 1 (the probe saw every val_loss-stopped scratch run keep an untrained epoch-1
    # model). Transfer stops on loss, as `finetune` does.
    monitor: str = "val_accuracy"

    @property
    def uses_backbone(self) -> bool:
        """Transfer starts from the bundled backbone, so its results are those of that file."""
        return self.kind == "transfer"


# The recipes the study reports. The probe chose the scratch ones (docs/study/README.md):
# BatchNorm momentum 0.9; augmentation needs a patience of 30 epochs (46.1% vs 28.8% at 15),
# the plain CNN does not (38.4% vs 37.7%, at three times the epochs), so each gets its own.
RECIPES = {
    "scratch": Recipe("scratch", bn_momentum=0.9),
    "augmented": Recipe("augmented", augment=True, bn_momentum=0.9, max_epochs=150, patience=30),
    "transfer": Recipe("transfer", kind="transfer", architecture="edge-wide", augment=True, batch_size=16,
                       learning_rate=1e-3, max_epochs=40, patience=10, monitor="val_loss"),
}

# The probe: the original recipe (BatchNorm at Keras' default momentum, 32 a batch) and its fixes.
PROBE_RECIPES = [
    Recipe("bn0.99-batch32 val_loss (before)", learning_rate=5e-4, monitor="val_loss"),
    Recipe("bn0.99-batch32", learning_rate=5e-4),
    Recipe("bn0.9-batch32", bn_momentum=0.9, learning_rate=5e-4),
    Recipe("bn0.9-batch16", bn_momentum=0.9, batch_size=16, learning_rate=1e-3),
    Recipe("no-bn-batch16", architecture="baseline-plain", batch_size=16, learning_rate=1e-3),
    Recipe("bn0.9-batch32-patience30", bn_momentum=0.9, learning_rate=5e-4, max_epochs=150, patience=30),
]


def _set_bn_momentum(model: keras.Model, momentum: float) -> None:
    """BatchNorm's moving statistics follow the batches at this rate. At 0.99 and a dozen steps
    an epoch they lag far behind the weights, and inference uses them."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = momentum


def build_scratch(recipe: Recipe, num_classes: int) -> keras.Model:
    if recipe.architecture == "baseline-plain":
        return architectures.build_baseline(num_classes, batch_norm=False)
    model = architectures.build(recipe.architecture, num_classes)
    if recipe.bn_momentum is not None:
        _set_bn_momentum(model, recipe.bn_momentum)
    return model


def epochs_for(recipe: Recipe, train_faces: int) -> int:
    """The recipe's epoch limit, lowered where it would exceed its step budget."""
    steps_per_epoch = -(-train_faces // recipe.batch_size)
    return max(1, min(recipe.max_epochs, recipe.max_steps // steps_per_epoch))


def fit(recipe: Recipe, train: FaceDataset, val: FaceDataset, seed: int,
        work: Path) -> tuple[keras.Model, int]:
    """Train one model, early-stopped on `val`; returns (the best epoch's model, epochs run)."""
    max_epochs = epochs_for(recipe, len(train))
    if recipe.kind == "transfer":
        config = FinetuneConfig(base_model=BASE_MODEL, train_data="", out_dir=str(work),
                                head_epochs=max_epochs, finetune_epochs=max_epochs,
                                patience=recipe.patience, batch_size=recipe.batch_size,
                                learning_rate=recipe.learning_rate, augment=recipe.augment, seed=seed)
        result = fit_transfer(Path(BASE_MODEL), train.labels, train, val, config, work, verbose=0)
        return result.model, result.epochs
    keras.utils.set_random_seed(seed)
    weights = class_weights(train.y, len(train.labels), "sqrt")
    augmenter = build_augmenter(seed) if recipe.augment else None
    train_ds = input_pipeline(train, recipe.batch_size, seed, weights, augmenter, shuffle=True)
    val_ds = input_pipeline(val, 256, seed, None, None)
    model = build_scratch(recipe, len(train.labels))
    model.compile(optimizer=keras.optimizers.Adam(recipe.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(),
                  metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")])
    stopper = keras.callbacks.EarlyStopping(monitor=recipe.monitor, patience=recipe.patience,
                                            mode="min" if recipe.monitor.endswith("loss") else "max",
                                            restore_best_weights=True)
    history = model.fit(train_ds, validation_data=val_ds, epochs=max_epochs, verbose=0, shuffle=False,
                        callbacks=[stopper, keras.callbacks.CSVLogger(str(work / "history.csv"))])
    return model, len(history.history["loss"])


def score(model: keras.Model, data: FaceDataset) -> tuple[np.ndarray, dict]:
    scores = model.predict(to_model_input(data.x), batch_size=256, verbose=0)
    metrics = classification_metrics(data.y, scores, data.labels)
    macro_auc = roc_analysis(data.y, scores, data.labels).macro_auc
    if macro_auc is None:  # no class has both positive and negative faces
        raise ValueError(f"{data.source}: no macro AUC, as the faces scored are all of one class")
    metrics["macro_auc"] = round(macro_auc, 4)
    return scores, metrics


def majority_answer(test: FaceDataset) -> dict:
    """The metrics of always answering the test set's most frequent class: the best any constant
    answer can score (the study's training sets are balanced, so theirs names no class)."""
    answer = np.bincount(test.y, minlength=len(test.labels)).argmax()
    scores = np.eye(len(test.labels))[np.full(len(test), answer)]
    metrics = classification_metrics(test.y, scores, test.labels)
    metrics["macro_auc"] = 0.5
    return metrics


class Study:
    """The study's data and its folder of results; every unit is cached as JSON."""

    _backbone: keras.Model | None = None

    def __init__(self, out: Path, data_root: str | None = None) -> None:
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        root = data_dir(data_root)
        self.training = load_fer2013_npz(root / TRAIN_FILE, LABEL_SET, LABEL_SOURCE)
        self.public_test = load_fer2013_npz(root / VAL_FILE, LABEL_SET, LABEL_SOURCE)
        self.faces260 = self.subset(PER_CLASS)

    def subset(self, per_class: int | None) -> FaceDataset:
        """The first `per_class` of each class's seeded permutation (None: every face)."""
        return self.training.subset(balanced_positions(self.training.y, len(self.training.labels),
                                                       per_class, STUDY_SEED))

    @cached_property
    def backbone_sha256(self) -> str:
        """Hashed once per study (the file is 12 MB), not once per unit."""
        return sha256_of(Path(BASE_MODEL))

    def _unit(self, part: str, key: str, compute, uses_backbone: bool = False) -> dict:
        """The cached result of one unit, or compute it. A unit that uses the backbone is stale
        when the backbone's sha256 differs from the one it recorded (or it recorded none)."""
        path = self.out / part / f"{key}.json"
        backbone_sha = self.backbone_sha256 if uses_backbone else None
        if path.is_file():
            cached = json.loads(path.read_text())
            if cached.get("backbone_sha256") == backbone_sha:
                return cached
            log.info("%s/%s: the backbone %s changed since this unit ran; running it again",
                     part, key, BASE_MODEL)
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.time()
        result = compute()
        result["seconds"] = round(time.time() - started, 1)
        if backbone_sha is not None:
            result["backbone_sha256"] = backbone_sha
        path.write_text(json.dumps(result, indent=2) + "\n")
        log.info("%s/%s: accuracy %.4f, macro-F1 %.4f (%.0f s)", part, key, result["metrics"]["accuracy"],
                 result["metrics"]["macro_f1"], result["seconds"])
        return result

    def backbone_answer(self, test: FaceDataset, **extra) -> dict:
        """The pretrained backbone's own answers (no fine-tuning): the bar transfer has to clear.
        It was trained on all of FER2013 Training with FER+ labels, so on the CV folds it has
        seen the test faces; on PublicTest it has not."""
        if self._backbone is None:
            self._backbone = keras.models.load_model(BASE_MODEL, compile=False)
        return {"metrics": score(self._backbone, test)[1], "reference": "backbone",
                "model_file": BASE_MODEL, **extra}

    def _fit_and_score(self, recipe: Recipe, faces: FaceDataset, test: FaceDataset, seed: int,
                       report: Path | None = None) -> dict:
        split = stratified_split(faces.y, VAL_FRACTION, seed)
        train, val = faces.subset(split.train), faces.subset(split.val)
        with tempfile.TemporaryDirectory(prefix="study-") as work:
            model, epochs = fit(recipe, train, val, seed, Path(work))
            scores, metrics = score(model, test)
            train_metrics = score(model, train)[1]
            if report is not None:
                history = Path(work) / "history.csv"
                write_report(report, test.y, scores, test.labels, history_csv=history,
                             title=f"study: {recipe.name} on {len(faces)} faces, seed {seed}",
                             context={"run": recipe.name, "model_type": "keras",
                                      "architecture": recipe.architecture, "augment": recipe.augment,
                                      "from": BASE_MODEL if recipe.kind == "transfer" else "scratch",
                                      "label_set": LABEL_SET, "label_source": LABEL_SOURCE,
                                      "epochs": epochs, "parameters": int(model.count_params()),
                                      "data": f"{len(test)} test faces; trained on {len(train)}, "
                                              f"early-stopped on {len(val)}"})
        return {"recipe": asdict(recipe), "seed": seed, "train_faces": len(train), "val_faces": len(val),
                "test_faces": len(test), "max_epochs": epochs_for(recipe, len(train)), "epochs": epochs,
                "metrics": metrics,
                "train_accuracy": train_metrics["accuracy"]}

    def probe(self) -> list[dict]:
        """Each probe recipe, with and without augmentation, trained on the 260 faces and judged
        on 1,000 other Training faces."""
        taken = np.isin(self.training.rows, self.faces260.rows)
        judge = self.training.subset(balanced_positions(self.training.y, len(self.training.labels),
                                                        PROBE_PER_CLASS, STUDY_SEED + 1, allowed=~taken))
        results = []
        for base in PROBE_RECIPES:
            for augment in (False, True):
                recipe = replace(base, name=f"{base.name}{' +aug' if augment else ''}", augment=augment)
                key = recipe.name.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "")
                results.append(self._unit("probe", key,
                                          lambda r=recipe: self._fit_and_score(r, self.faces260, judge, 1)))
        majority = majority_answer(judge)
        (self.out / "probe" / "majority.json").write_text(json.dumps({"metrics": majority}, indent=2) + "\n")
        return results

    def cross_validation(self, models: list[str]) -> list[dict]:
        """5-fold stratified cross-validation on the 260 faces; the fold's test faces are never
        seen in training or early stopping."""
        folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=STUDY_SEED)
        results = []
        for fold, (train_idx, test_idx) in enumerate(folds.split(np.zeros(len(self.faces260)),
                                                                 self.faces260.y)):
            train, test = self.faces260.subset(train_idx), self.faces260.subset(test_idx)
            for name in models:
                results.append(self._unit("cv", f"{name}-fold{fold + 1}",
                                          lambda n=name, tr=train, te=test, f=fold:
                                          {**self._fit_and_score(RECIPES[n], tr, te, f + 1), "fold": f + 1},
                                          uses_backbone=RECIPES[name].uses_backbone))
            (self.out / "cv" / f"majority-fold{fold + 1}.json").write_text(
                json.dumps({"metrics": majority_answer(test), "fold": fold + 1}, indent=2) + "\n")
            self._unit("cv", f"backbone-fold{fold + 1}",
                       lambda te=test, f=fold: self.backbone_answer(te, fold=f + 1), uses_backbone=True)
        return results

    def publictest(self, models: list[str], seeds: tuple[int, ...] = SEEDS, size: str = "260") -> list[dict]:
        """Each model trained on `size` faces with each seed, scored once on PublicTest; the first
        seed's run also writes a full report (confusion, ROC, curves)."""
        faces = self.curve_faces(size)
        results = []
        for name in models:
            for seed in seeds:
                report = self.out / "reports" / f"{name}-{size}" if seed == seeds[0] else None
                results.append(self._unit("publictest", f"{name}-{size}-seed{seed}",
                                          lambda n=name, s=seed, r=report:
                                          {**self._fit_and_score(RECIPES[n], faces, self.public_test, s, r),
                                           "model": n, "size": size},
                                          uses_backbone=RECIPES[name].uses_backbone))
        majority = majority_answer(self.public_test)
        (self.out / "publictest" / f"majority-{size}.json").write_text(
            json.dumps({"metrics": majority, "size": size}, indent=2) + "\n")
        self._unit("publictest", "backbone", lambda: self.backbone_answer(self.public_test),
                   uses_backbone=True)
        return results

    def curve_faces(self, size: str) -> FaceDataset:
        """The learning curve's training faces: 260, 1,000 and 5,000 balanced and nested (each
        holds the smaller ones), or all of FER2013 Training."""
        if size == "all":
            return self.training
        per_class = int(size) // len(self.training.labels)
        return self.subset(per_class)
