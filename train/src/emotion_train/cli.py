"""`emotion-train`: train, fine-tune, evaluate and compare CNNs on FER2013 / FER+ faces."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
from pathlib import Path

from emotion_device.labels import LABEL_SETS
from emotion_device.tta import TTA_MODES
from emotion_train.fer2013 import LABEL_SOURCES
from emotion_train.run_configs import (
    ARCHITECTURE_NAMES,
    CLASS_WEIGHTINGS,
    OPTIMIZERS,
    PRIOR_TAUS,
    PUBLIC_TEST,
    STUDY_CURVE_SIZES,
    STUDY_MODELS,
    STUDY_SEEDS,
    FinetuneConfig,
    TrainConfig,
)

EXAMPLES = """\
examples:
  emotion-train train --out runs/emotion5
  emotion-train train --arch baseline --no-augment --label-set fer7 --labels fer2013 --out runs/b
  emotion-train train --limit 512 --epochs 1 --out /tmp/smoke      # a quick smoke run
  # the bundled models' recipe (make train): the FER+ network, then fer7 warm-started from it
  emotion-train train --arch edge-wide --label-set ferplus8 --labels ferplus-soft --epochs 100 \\
      --out runs/ferplus8
  emotion-train train --arch edge-wide --label-set fer7 --labels fer2013 --epochs 40 --lr 1e-3 \\
      --init-from runs/ferplus8/model.keras --out runs/fer7
  # a lever, judged on the validation split only (PublicTest is left for the final models)
  emotion-train train --arch edge-wide --label-set ferplus8 --epochs 30 --mixup 0.2 --no-test \\
      --out runs/levers/mixup

Re-running the same command in the same --out resumes an interrupted run, learning-rate
schedule included. Every run ends with its evaluation report in <out>/report/ (report.md,
report.json, plots): on PublicTest, or with --no-test on the validation split.
"""

FINETUNE_EXAMPLES = """\
examples:
  emotion-train finetune --base models/emotion5.keras --data photos/ --out runs/mine
  emotion-train finetune --base models/fer7.keras --data photos/ --group-by subfolder --out runs/mine
  emotion-train finetune --base models/emotion5.keras --data photos/ --val-data photos_val/ \\
      --unfreeze-blocks 2 --out runs/mine
  emotion-train evaluate --model runs/mine/model.keras --data test_photos/ --out runs/mine/test

Phase 1 trains the head on the frozen backbone (starting from the base's own head when the
labels are its own or a subset); phase 2 unfreezes the top conv blocks (BatchNormalization
stays frozen) at --finetune-lr-factor times the learning rate. Each phase stops when the
validation loss has not improved for --patience epochs; the best epoch of either is kept.
"""

EVALUATE_EXAMPLES = """\
examples:
  emotion-train evaluate --model models/emotion5.tflite --out reports/emotion5-int8
  emotion-train evaluate --model runs/emotion5/model.keras --out reports/emotion5-float
  emotion-train evaluate --model models/fer7.tflite --labels fer2013 --out reports/fer7
  emotion-train evaluate --model models/emotion5.tflite --tta flip --out reports/emotion5-tta
  emotion-train evaluate --model models/mine.tflite --data test_photos/ --write-card --out reports/mine

The label set and source default to the model's card (.tflite, or a .keras beside its card)
or the run.json beside a .keras.
"""

COMPARE_EXAMPLES = """\
examples:
  emotion-train compare runs/scratch runs/augmented runs/transfer --out docs/comparison.md
  emotion-train compare reports/emotion5-int8 reports/emotion5-float
  emotion-train compare runs/levers/base runs/levers/mixup --out docs/accuracy/levers.md \
      --plot docs/accuracy/levers.png      # what `make levers-table` runs
  emotion-train compare runs/fer7 runs/levers/fer7-smoothing --validation-split
"""

ENSEMBLE_EXAMPLES = """\
examples:
  emotion-train ensemble runs/ferplus8 runs/levers/base runs/levers/mixup
  emotion-train ensemble runs/ferplus8 runs/levers/base --out docs/accuracy/ensemble.md
  emotion-train ensemble runs/ferplus8 runs/levers/base --json
  emotion-train ensemble runs/levers/fer7-short --out docs/accuracy/ten-crop-fer7.md

Every run must have selected on the same validation faces (the split's row hash in run.json);
scores are averaged softmax outputs. Ten-crop averaging scores the four corner crops and the
centre crop (44x44, resized back to 48) and their mirror images. PublicTest is never read.
"""

PRIOR_EXAMPLES = """\
examples:
  emotion-train prior runs/levers/base runs/levers/smoothing
  emotion-train prior runs/ferplus8 --taus 0 0.25 0.5 --out docs/accuracy/prior.md
  emotion-train train ... --prior-correction 0.25      # fold the chosen tau into a new run
  emotion-train fold-prior runs/ferplus8 --tau 0.25 --out runs/ferplus8-prior   # or a finished one

Each run's scores are divided by its class weights ** tau (tau=1 undoes the weighting) and
scored on its validation split. PublicTest is never read.
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written, and every option's default shown (where the help does not
    already say it)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if (action.default is None or action.default is False or action.default == []
                or action.default is argparse.SUPPRESS or "default" in text or not action.option_strings):
            return text
        return f"{text} (default: %(default)s)".lstrip()


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a CNN from scratch on FER2013",
                       epilog=EXAMPLES, formatter_class=HelpFormatter)
    p.set_defaults(handler=run_train)
    d = TrainConfig(out_dir="")
    p.add_argument("--out", required=True, help="run directory (model.keras, run.json, history.csv, report/)")
    p.add_argument("--arch", default=d.architecture, choices=sorted(ARCHITECTURE_NAMES), help="network")
    p.add_argument("--label-set", default=d.label_set, choices=sorted(LABEL_SETS), help="classes to learn")
    p.add_argument("--labels", default=d.label_source, choices=LABEL_SOURCES,
                   help="FER2013's own labels, or FER+ votes as majority or soft targets")
    p.add_argument("--epochs", type=int, default=d.epochs, help="length of the planned schedule")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="faces per step")
    p.add_argument("--lr", type=float, default=d.learning_rate, help="peak learning rate (cosine)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="decoupled weight decay")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing, help="0: off")
    p.add_argument("--class-weight", default=d.class_weight, choices=CLASS_WEIGHTINGS,
                   help="rare classes weighted up by the square root of inverse frequency, fully, or not")
    p.add_argument("--no-augment", action="store_true", help="turn real-time augmentation off")
    p.add_argument("--seed", type=int, default=d.seed, help="weights, shuffling and augmentation")
    p.add_argument("--limit", type=int, help="train on a random slice of N faces")
    p.add_argument("--val-limit", type=int, help="validate on a random slice of N faces")
    _add_run_data_dir(p)
    p.add_argument("--train-folder", help="train on a folder dataset (root/<label>/*.png, e.g. from "
                                          "make-subset) instead of FER2013 Training; PublicTest validates")
    p.add_argument("--init-from", help="start from this .keras model's weights (layers matched by name "
                                       "and shape; a head for other labels starts fresh)")
    p.add_argument("--no-jit", action="store_true", help="disable XLA compilation")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="validation split carved from the training data (seeded, stratified) that "
                        "selects the epoch; 0: train on all of it and keep the last epoch")
    p.add_argument("--split-seed", type=int, default=d.split_seed, help="seed of that split")
    p.add_argument("--optimizer", default=d.optimizer, choices=OPTIMIZERS,
                   help="AdamW, or SGD with Nesterov momentum 0.9 (both on the cosine schedule)")
    p.add_argument("--mixup", type=float, default=d.mixup, help="mixup alpha (0: off)")
    p.add_argument("--cutmix", type=float, default=d.cutmix,
                   help="cutmix alpha: a rectangle of a Beta(alpha, alpha) share of each face comes "
                        "from another face, targets blended alike (0: off; not with --mixup)")
    p.add_argument("--erasing", type=float, default=d.erasing,
                   help="random erasing: the share of training faces that get one rectangle of "
                        "noise (0: off)")
    p.add_argument("--prior-correction", type=float, default=d.prior_correction, metavar="TAU",
                   help="divide the kept model's scores by its class weights ** TAU, folded into the "
                        "head's bias (choose TAU with `emotion-train prior`; 0: off)")
    p.add_argument("--ema", type=float, default=d.ema, metavar="MOMENTUM",
                   help="validate and keep an exponential moving average of the weights with this "
                        "momentum per step, e.g. 0.999, its BatchNorm statistics measured again on "
                        "4,096 clean training faces (0: off)")
    p.add_argument("--teacher", action="append", default=[], metavar="MODEL",
                   help="distil from this .keras/.tflite model (repeat for an ensemble): its cached, "
                        "flip-averaged scores are blended into the training targets")
    p.add_argument("--distill-weight", type=float, default=d.distill_weight,
                   help="share of the teachers' scores in each training target")
    p.add_argument("--no-test", action="store_true",
                   help="a lever run: judge it on the validation split only and leave PublicTest "
                        "unread (PublicTest is scored once, for the final models)")


def _add_calibrate_crop(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate-crop", help="measure the face-crop margin that matches FER2013 framing",
                       description="Runs the device's Haar detector on FER2013 PublicTest faces and "
                                   "prints how its boxes frame them, as JSON (suggested_margin is "
                                   "what emotion-convert --crop-margin should get).")
    p.add_argument("--faces", type=int, default=1000, help="number of PublicTest faces to measure")
    p.add_argument("--data-dir", help="folder with fer2013_val.npz")
    p.set_defaults(handler=calibrate_crop)


def _add_finetune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="transfer learning: a pretrained model onto your own photos",
                       description="Fine-tunes a pretrained .keras model on a folder of your photos "
                                   "(DATA/<label>/*.jpg, optionally DATA/<label>/<person>/*.jpg), "
                                   "validating on your own task and stopping early on it.",
                       epilog=FINETUNE_EXAMPLES, formatter_class=HelpFormatter)
    p.set_defaults(handler=run_finetune)
    d = FinetuneConfig(base_model="", train_data="", out_dir="")
    p.add_argument("--base", required=True, help="pretrained Keras model (.keras); its run.json or card "
                                                 "beside it names its labels")
    p.add_argument("--data", required=True, help="training images, DATA/<label>/[<person>/]*.png|jpg")
    p.add_argument("--out", required=True, help="run directory (model.keras, run.json, history.csv, report/)")
    p.add_argument("--val-data", default=d.val_data,
                   help=f"validation images DIR/<label>/*, or {PUBLIC_TEST!r} for FER2013 PublicTest "
                        "(default: hold out --val-fraction of --data)")
    p.add_argument("--val-fraction", type=float, default=d.val_fraction,
                   help="share of --data held out for validation (seeded, stratified by class)")
    p.add_argument("--group-by", default=d.group_by, metavar="RULE",
                   help="keep each person/session on one side of the split: 'subfolder' "
                        "(DATA/<label>/<person>/*), 'prefix' (file names <person>_*), or a regular "
                        "expression whose first group is the id, matched against <person>/<file> "
                        "below the class folder; with --val-data it refuses shared ids")
    p.add_argument("--label-set", default=d.label_set, choices=sorted(LABEL_SETS),
                   help="classes and their order (default: the base model's)")
    p.add_argument("--labels", default=d.label_source, choices=LABEL_SOURCES,
                   help="PublicTest labels, only with --val-data publictest")
    p.add_argument("--head-epochs", type=int, default=d.head_epochs,
                   help="phase 1 (head only): the most epochs; early stopping usually ends it sooner")
    p.add_argument("--finetune-epochs", type=int, default=d.finetune_epochs,
                   help="phase 2 (top blocks unfrozen): the most epochs (0: no phase 2)")
    p.add_argument("--patience", type=int, default=d.patience,
                   help="stop a phase after this many epochs without a lower validation loss")
    p.add_argument("--unfreeze-blocks", type=int, default=d.unfreeze_blocks,
                   help="top conv blocks trained in phase 2")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="faces per training step")
    p.add_argument("--lr", type=float, default=d.learning_rate, help="phase 1 learning rate (Adam)")
    p.add_argument("--finetune-lr-factor", type=float, default=d.finetune_lr_factor,
                   help="phase 2 learning rate as a fraction of --lr")
    p.add_argument("--dropout", type=float, default=d.dropout, help="dropout before the head")
    p.add_argument("--class-weight", default=d.class_weight, choices=CLASS_WEIGHTINGS,
                   help="loss weight per class from its share of the training faces")
    p.add_argument("--no-augment", action="store_true", help="turn real-time augmentation off")
    p.add_argument("--crop-margin", type=float, default=d.crop_margin,
                   help="margin around a detected face in photos (as the model card's face_crop)")
    p.add_argument("--seed", type=int, default=d.seed, help="split, shuffling, augmentation and weights")
    p.add_argument("--val-limit", type=int, help="validate on a random slice of N PublicTest faces")
    p.add_argument("--data-dir", help="folder with fer2013_val.npz (only with --val-data publictest)")
    p.add_argument("--no-jit", action="store_true", help="disable XLA compilation")


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="report a .keras or .tflite model on FER2013 PublicTest or "
                                        "on a labelled image folder",
                       description="Accuracy, macro-F1, per-class ROC/AUC, confusion matrices and the "
                                   "classification report of a model, on FER2013 PublicTest or (--data) "
                                   "on any folder of labelled photos.",
                       epilog=EVALUATE_EXAMPLES, formatter_class=HelpFormatter)
    p.set_defaults(handler=run_evaluate)
    p.add_argument("--model", required=True, type=Path, help="model.keras, or a .tflite with its card")
    p.add_argument("--out", required=True, type=Path, help="report folder (report.md, report.json, plots)")
    p.add_argument("--data", type=Path, metavar="DIR",
                   help="score this image folder, DIR/<label>/[<person>/]*.jpg, instead of PublicTest "
                        "(read as fine-tuning reads it, cropped as the model's card says)")
    p.add_argument("--write-card", action="store_true",
                   help="record the --data score as metrics.test in the model's card (NAME.json)")
    p.add_argument("--label-set", choices=sorted(LABEL_SETS), help="default: the model's")
    p.add_argument("--labels", choices=LABEL_SOURCES, help="PublicTest labels; default: the model's")
    p.add_argument("--limit", type=int, help="evaluate on a random slice of N faces")
    p.add_argument("--data-dir", help="folder with fer2013_val.npz")
    p.add_argument("--tta", choices=TTA_MODES, default="off",
                   help="average each face's scores over its views, as the device's model.tta does: "
                        "flip (its mirror image) or ten-crop (corner and centre crops and their mirrors)")


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="put runs or reports side by side in one Markdown table",
                       epilog=COMPARE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(handler=run_compare)
    p.add_argument("paths", nargs="+", type=Path, metavar="RUN_OR_REPORT_DIR",
                   help="a run folder (run.json, report/), a report folder or a report.json")
    p.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    p.add_argument("--plot", type=Path,
                   help="also plot the runs' validation and training accuracy per epoch (PNG)")
    p.add_argument("--validation-split", action="store_true",
                   help="score every run on its validation split (run.json), also a run that scored "
                        "PublicTest: how lever runs compare with a finished run")


def _add_ensemble(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ensemble", help="score finished runs alone and averaged together on their "
                                        "shared validation split, each also with flip and ten-crop "
                                        "averaging (choosing distillation teachers and test-time averaging)",
                       epilog=ENSEMBLE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(handler=run_ensemble)
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="finished run folders (1 to 6)")
    _add_table_options(p)


def _add_run_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="folder with fer2013_{train,val}.npz "
                   "(default: $EMOTION_DATA, then ../shared/data)")


def _add_table_options(p: argparse.ArgumentParser) -> None:
    """The data and output options of the commands that score finished runs into a table."""
    _add_run_data_dir(p)
    p.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")


def _add_prior(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prior", help="choose the prior correction (--prior-correction) on finished runs' "
                                     "validation splits",
                       epilog=PRIOR_EXAMPLES, formatter_class=HelpFormatter)
    p.set_defaults(handler=run_prior)
    p.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="finished run folders")
    p.add_argument("--taus", nargs="+", type=float, default=list(PRIOR_TAUS), metavar="TAU",
                   help="the corrections to score")
    _add_table_options(p)


def _add_fold_prior(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fold-prior", help="fold a prior correction into a finished run's kept model, "
                                          "as a new run folder emotion-convert reads",
                       epilog=PRIOR_EXAMPLES, formatter_class=HelpFormatter)
    p.set_defaults(handler=run_fold_prior)
    p.add_argument("run", type=Path, metavar="RUN_DIR", help="a finished run without a correction")
    p.add_argument("--tau", type=float, required=True,
                   help="the correction, chosen with `emotion-train prior` on the validation split")
    p.add_argument("--out", type=Path, required=True,
                   help="the new run folder (model.keras and run.json, its validation split rescored)")
    _add_run_data_dir(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")


def _add_make_subset(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("make-subset", help="a seeded, class-balanced folder dataset from FER2013 Training",
                       description="Writes OUT/<label>/fer<row>.png and OUT/manifest.json: per-class "
                                   "faces drawn from fer2013_train.npz (research-only images: keep "
                                   "them out of the repository).",
                       epilog="examples:\n  emotion-train make-subset --per-class 52 --out ~/data/study260\n"
                              "  emotion-train make-subset --per-class 20 --seed 7 --exclude ~/data/study260 "
                              "--out ~/data/test100",
                       formatter_class=HelpFormatter)
    p.set_defaults(handler=run_make_subset)
    p.add_argument("--per-class", type=int, default=52, help="faces per class (52 x 5 = the study's 260)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--label-set", default="emotion5", choices=sorted(LABEL_SETS))
    p.add_argument("--labels", default="ferplus-majority", choices=LABEL_SOURCES)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--exclude", type=Path, nargs="+", metavar="SUBSET",
                   help="never draw a face that these subsets (folders with manifest.json) hold: "
                        "a held-out test folder disjoint from a training folder")
    p.add_argument("--data-dir", help="folder with fer2013_train.npz")


def calibrate_crop(args: argparse.Namespace, argv: list[str] | None) -> int:
    import numpy as np

    from emotion_train.crop_calibration import measure_haar_framing
    from emotion_train.datapaths import VAL_FILE, data_dir

    with np.load(data_dir(args.data_dir) / VAL_FILE) as archive:
        faces = archive["x"][: args.faces]
    print(json.dumps(measure_haar_framing(faces).to_dict(), indent=2))
    return 0


def _command(argv: list[str] | None) -> list[str]:
    return ["emotion-train", *(sys.argv[1:] if argv is None else argv)]


def run_train(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.training import train  # TensorFlow loads only once a command needs it

    if args.mixup > 0 and args.cutmix > 0:
        raise ValueError("--mixup and --cutmix are exclusive: choose one")
    config = TrainConfig(
        out_dir=args.out, architecture=args.arch, label_set=args.label_set,
        label_source=args.labels, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing, class_weight=args.class_weight,
        augment=not args.no_augment, seed=args.seed, limit=args.limit,
        val_limit=args.val_limit, data_dir=args.data_dir, jit_compile=not args.no_jit,
        train_folder=args.train_folder, init_from=args.init_from,
        val_fraction=args.val_fraction, split_seed=args.split_seed, optimizer=args.optimizer,
        mixup=args.mixup, cutmix=args.cutmix, erasing=args.erasing, ema=args.ema,
        prior_correction=args.prior_correction, teachers=tuple(args.teacher),
        distill_weight=args.distill_weight,
        score_test=not args.no_test,
    )
    record = train(config, _command(argv))
    print(json.dumps(record["metrics"], indent=2))
    return 0


def run_finetune(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.finetune import finetune

    config = FinetuneConfig(
        base_model=args.base, train_data=args.data, out_dir=args.out, val_data=args.val_data,
        val_fraction=args.val_fraction, group_by=args.group_by,
        label_set=args.label_set, label_source=args.labels, head_epochs=args.head_epochs,
        finetune_epochs=args.finetune_epochs, patience=args.patience, unfreeze_blocks=args.unfreeze_blocks,
        batch_size=args.batch_size, learning_rate=args.lr, finetune_lr_factor=args.finetune_lr_factor,
        dropout=args.dropout, class_weight=args.class_weight, augment=not args.no_augment,
        crop_margin=args.crop_margin, seed=args.seed, val_limit=args.val_limit,
        data_dir=args.data_dir, jit_compile=not args.no_jit,
    )
    record = finetune(config, _command(argv))
    print(json.dumps(record["metrics"], indent=2))
    return 0


def run_evaluate(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.evaluate import evaluate_model

    report = evaluate_model(args.model, args.out, args.label_set, args.labels, args.data_dir, args.limit,
                            tta=args.tta, folder=args.data, write_card=args.write_card)
    summary = {key: report[key] for key in ("n", "accuracy", "macro_f1")}
    print(json.dumps({**summary, "macro_auc": report["roc_auc"]["macro"], "report": str(args.out)}, indent=2))
    return 0


def run_compare(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.compare import comparison_table, load_compared, run_histories

    table = comparison_table([load_compared(path, args.validation_split) for path in args.paths])
    if args.plot:
        from emotion_train.plots import plot_run_curves

        histories = run_histories(args.paths)
        if not histories:
            print("emotion-train compare: --plot: none of these has a history.csv", file=sys.stderr)
            return 2
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot_run_curves(histories, args.plot)
        if args.out:  # the table's page shows the plot beside it
            table += f"\n![accuracy per epoch]({os.path.relpath(args.plot, args.out.parent)})\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    print(table, end="")
    return 0


def run_ensemble(args: argparse.Namespace, argv: list[str] | None) -> int:
    from dataclasses import asdict

    from emotion_train.ensemble import ensemble_table, score_ensembles

    described, rows = score_ensembles(args.runs, args.data_dir)
    table = f"Scored on {described}:\n\n{ensemble_table(rows)}"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    if args.json:
        print(json.dumps({"scored_on": described, "rows": [asdict(row) for row in rows]}, indent=2))
    else:
        print(table, end="")
    return 0


def run_prior(args: argparse.Namespace, argv: list[str] | None) -> int:
    from dataclasses import asdict

    from emotion_train.prior_sweep import sweep, sweep_table

    labels, rows = sweep(args.runs, tuple(args.taus), args.data_dir)
    table = sweep_table(labels, rows)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(table)
    if args.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    else:
        print(table, end="")
    return 0


def run_fold_prior(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.prior_sweep import fold_run

    record = fold_run(args.run, args.tau, args.out, shlex.join(_command(argv)), args.data_dir)
    val = record["metrics"]["val"]
    if args.json:
        print(json.dumps({"out": str(args.out), "prior_correction": record["prior_correction"],
                          "val": val}, indent=2))
    else:
        print(f"{args.out}: tau {args.tau:g} folded into the head; validation split "
              f"{100 * val['accuracy']:.2f}%, macro-F1 {val['macro_f1']:.3f}")
    return 0


def run_make_subset(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.datapaths import TRAIN_FILE, data_dir
    from emotion_train.subset import write_balanced_subset

    manifest = write_balanced_subset(data_dir(args.data_dir) / TRAIN_FILE, args.out, args.per_class,
                                     args.label_set, args.labels, args.seed, args.exclude)
    print(json.dumps({"out": str(args.out), "class_counts": manifest["class_counts"]}, indent=2))
    return 0


STUDY_EXAMPLES = """\
examples:
  emotion-train study probe --out runs/study           # which small-data recipe learns (no PublicTest)
  emotion-train study cv --out runs/study              # 5-fold CV on the 260 faces, all three models
  emotion-train study publictest --out runs/study      # trained on all 260, 3 seeds, PublicTest once each
  emotion-train study curve --sizes 1000 5000 --out runs/study
  emotion-train study tables --out runs/study --docs docs/study --readme README.md

Each finished unit is a JSON file under --out; re-running skips it, so an interrupted study
resumes. `tables` writes the study's tables and plots and regenerates README's study section.
"""


def _add_study(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="the original study measured: probe, cross-validation, PublicTest "
                                     "seeds, learning curve, tables",
                       epilog=STUDY_EXAMPLES, formatter_class=HelpFormatter)
    p.set_defaults(handler=run_study)
    p.add_argument("part", choices=("probe", "cv", "publictest", "curve", "tables"))
    p.add_argument("--out", type=Path, default=Path("runs/study"), help="the study's results folder")
    p.add_argument("--models", nargs="+", default=list(STUDY_MODELS), choices=STUDY_MODELS)
    p.add_argument("--seeds", nargs="+", type=int,
                   help=f"seeds of each run (default: publictest {' '.join(map(str, STUDY_SEEDS))}, "
                        "curve 1: its 260-face point is publictest's)")
    p.add_argument("--sizes", nargs="+", default=[size for size in STUDY_CURVE_SIZES if size != "260"],
                   choices=STUDY_CURVE_SIZES,
                   help="learning-curve sizes to train (260 is the publictest part)")
    p.add_argument("--curve-models", nargs="+", default=["augmented", "transfer"], choices=STUDY_MODELS,
                   help="models of the learning curve")
    p.add_argument("--docs", type=Path, default=Path("docs/study"), help="tables: where tables and plots go")
    p.add_argument("--readme", type=Path, default=Path("README.md"),
                   help="tables: the README whose study section is regenerated")
    p.add_argument("--data-dir", help="folder with fer2013_{train,val}.npz")


def run_study(args: argparse.Namespace, argv: list[str] | None) -> int:
    if args.part == "tables":
        from emotion_train.study_tables import write_study_docs

        write_study_docs(args.out, args.docs, args.readme)
        return 0
    from emotion_train.study import Study

    study = Study(args.out, args.data_dir)
    if args.part == "probe":
        study.probe()
    elif args.part == "cv":
        study.cross_validation(args.models)
    elif args.part == "publictest":
        study.publictest(args.models, tuple(args.seeds or STUDY_SEEDS))
    else:
        for size in args.sizes:
            study.publictest(args.curve_models, tuple(args.seeds or STUDY_SEEDS[:1]), size)
    return 0


def _add_import_fer2013(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import-fer2013", help="build the FER2013 archives from fer2013.csv and FER+'s votes",
                       description="Writes OUT/fer2013_train.npz (Training) and OUT/fer2013_val.npz "
                                   "(PublicTest) from the challenge's fer2013.csv and microsoft/FERPlus's "
                                   "fer2013new.csv; PrivateTest is skipped. Point $EMOTION_DATA at OUT.",
                       epilog="example:\n  emotion-train import-fer2013 --csv ~/Downloads/fer2013.csv "
                              "--ferplus ~/src/FERPlus/fer2013new.csv --out ~/data/fer2013\n"
                              "  export EMOTION_DATA=~/data/fer2013",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(handler=run_import_fer2013)
    p.add_argument("--csv", type=Path, required=True, help="the challenge's fer2013.csv")
    p.add_argument("--ferplus", type=Path, required=True, help="FER+'s fer2013new.csv")
    p.add_argument("--out", type=Path, required=True, help="folder for the two .npz archives")


def run_import_fer2013(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.fer2013_import import import_fer2013

    written = import_fer2013(args.csv, args.ferplus, args.out)
    print(json.dumps({"out": str(args.out), "rows": written}, indent=2))
    return 0


def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="training throughput of each architecture, in images/s",
                       description="Trains each architecture for a few steps exactly as `train` does "
                                   "(augmentation, XLA) on real PublicTest faces; the first pass "
                                   "(compilation) is not timed. Prints JSON.")
    p.set_defaults(handler=run_bench)
    p.add_argument("--arch", nargs="+", default=sorted(ARCHITECTURE_NAMES),
                   choices=sorted(ARCHITECTURE_NAMES))
    p.add_argument("--steps", type=int, default=30, help="timed steps per architecture")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--data-dir", help="folder with fer2013_val.npz")


def run_bench(args: argparse.Namespace, argv: list[str] | None) -> int:
    from emotion_train.datapaths import VAL_FILE, data_dir
    from emotion_train.fer2013 import load_fer2013_npz
    from emotion_train.throughput import training_images_per_second

    faces = load_fer2013_npz(data_dir(args.data_dir) / VAL_FILE, "emotion5", "ferplus-soft")
    rows = [training_images_per_second(name, faces, args.batch_size, args.steps) for name in args.arch]
    print(json.dumps(rows, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emotion-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command in (_add_train, _add_finetune, _add_evaluate, _add_compare, _add_ensemble, _add_prior,
                        _add_fold_prior, _add_calibrate_crop, _add_make_subset, _add_import_fer2013,
                        _add_study, _add_bench):
        add_command(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args, argv)
    except (FileExistsError, FileNotFoundError, ValueError) as exc:  # the user can fix these
        print(f"emotion-train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
