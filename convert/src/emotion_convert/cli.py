"""`emotion-convert`: Keras model -> int8 TFLite + model card, with an int8-vs-float parity check.

Everything is written into a temporary folder first and moved into --out-dir only when the
parity check passes: a failing conversion leaves the target folder exactly as it was, so it
can never replace a shipped model with one that disagrees with its float network.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from emotion_device.labels import LABEL_SETS

EXAMPLES = """\
examples:
  emotion-convert runs/emotion5/model.keras --name emotion5 --out-dir models
  emotion-convert runs/fer7/model.keras --name fer7 --out-dir models --float-tflite runs/fer7/float.tflite
  emotion-convert runs/ferplus8/model.keras --name emotion5 --label-set emotion5   # a subset of its classes
  emotion-convert runs/ferplus8/model.keras --name ferplus8 --qat-epochs 3   # QAT fine-tune first
  emotion-convert runs/levers/fer7-short/model.keras --name fer7 --score-test   # ship a lever run
  emotion-convert runs/ferplus8/model.keras --name ferplus8 --equalize 0   # no range equalization

The run record (run.json beside the model) supplies labels, data and the training command.
Parity is checked on the run's validation faces; when there are fewer than --parity-faces
(a fine-tuned run's few photos), FER2013 PublicTest faces make up the rest, since agreement
is a property of the quantization, not of the labels. Exit status 1 if int8 agrees with float
on fewer than --min-agreement of those faces; then nothing is written into --out-dir.

With --qat-epochs N the network is first fine-tuned for N epochs with int8 rounding simulated
(quantization-aware training) on the run's training faces, as the run trained, keeping the last
epoch; NAME.keras is then that fine-tuned float network, the reference parity compares against.
"""

log = logging.getLogger("emotion_convert")

# Chosen on the validation split and on 9,000 other training faces for all three bundled models
# (docs/accuracy: "Parity: activation equalization"): there it removed a fifth of the
# disagreements that are not int8 ties; on PublicTest it changed nothing.
DEFAULT_EQUALIZE = 0.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emotion-convert", description=__doc__, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="Keras model (.keras) written by emotion-train")
    parser.add_argument("--name", required=True, help="model name: writes NAME.tflite and NAME.json")
    parser.add_argument("--out-dir", type=Path, default=Path("models"))
    parser.add_argument("--run", type=Path, help="run record (default: run.json beside the model)")
    parser.add_argument("--calibration", type=int, default=1000,
                        help="training faces used as the representative dataset")
    parser.add_argument("--crop-margin", type=float,
                        help="margin added around a detector box, as a fraction of its size "
                             "(measure it with emotion-train calibrate-crop; default: the run's "
                             "--crop-margin for a fine-tuned run, else 0)")
    parser.add_argument("--min-agreement", type=float, default=0.98,
                        help="required int8-vs-float top-1 agreement on the parity faces")
    parser.add_argument("--parity-faces", type=int, default=1000,
                        help="check parity on at least this many faces: the validation faces, "
                             "topped up with FER2013 PublicTest faces")
    parser.add_argument("--float-tflite", type=Path, help="also write the float32 TFLite here")
    parser.add_argument("--no-keras-copy", action="store_true",
                        help="do not write NAME.keras, the float model without optimizer state "
                             "(the fine-tuning backbone and the parity reference)")
    parser.add_argument("--label-set", choices=sorted(LABEL_SETS),
                        help="keep only this label set's classes (a subset of the model's), "
                             "e.g. emotion5 from a ferplus8 model")
    parser.add_argument("--data-dir", help="folder with the FER2013 .npz files")
    parser.add_argument("--score-test", action="store_true",
                        help="also score FER2013 PublicTest (metrics.test) for a run trained with "
                             "--no-test: a lever run that won on the validation split and now ships, "
                             "reading PublicTest once, here")
    parser.add_argument("--equalize", type=float, metavar="ALPHA",
                        help="even out per-channel activation ranges before converting, keeping the "
                             "float function (emotion_convert.equalize; chosen with "
                             "python -m emotion_convert.equalize_sweep): 0 off, 1 full "
                             f"(default: {DEFAULT_EQUALIZE}; 0 with --qat-epochs, which learns its "
                             "own ranges)")
    parser.add_argument("--equalize-cap", type=float, default=8.0,
                        help="largest per-channel scale --equalize may apply (default: %(default)s)")
    parser.add_argument("--qat-epochs", type=int, default=0,
                        help="quantization-aware fine-tuning epochs on the run's training faces "
                             "before converting (default: %(default)s, post-training quantization only)")
    parser.add_argument("--qat-lr", type=float, default=1e-5,
                        help="constant AdamW learning rate of the quantization-aware fine-tune "
                             "(default: %(default)s)")
    args = parser.parse_args(argv)
    if args.qat_epochs < 0:
        parser.error("--qat-epochs must be 0 (off) or more")
    if args.equalize and args.qat_epochs:
        parser.error("--equalize with --qat-epochs: QAT learns its own ranges; choose one")
    if args.equalize is None:
        args.equalize = 0.0 if args.qat_epochs else DEFAULT_EQUALIZE
    if not 0.0 <= args.equalize <= 1.0 or args.equalize_cap < 1.0:
        parser.error("--equalize must be within [0, 1] and --equalize-cap at least 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import keras
    import numpy as np

    from emotion_convert import parity, quantize
    from emotion_convert.card import build_card, recall_limitation
    from emotion_convert.label_subset import restrict_run
    from emotion_convert.model_stats import count_macs
    from emotion_device.model_card import sha256_of
    from emotion_device.preprocess import CropSpec, to_model_input
    from emotion_train.datapaths import VAL_FILE, data_dir
    from emotion_train.fer2013 import FaceDataset, fer2013_labels_can_score, load_fer2013_npz
    from emotion_train.run_data import is_finetune, run_datasets

    run_path = args.run or args.model.with_name("run.json")
    run = json.loads(run_path.read_text())
    model = keras.models.load_model(args.model, compile=False)
    model, run, subset_of = restrict_run(model, run, args.label_set)
    config = run["config"]
    data_root = args.data_dir or config.get("data_dir")
    if args.score_test and is_finetune(run):
        parser.error(f"--score-test: {run_path} is a fine-tuned run; score its held-out photos with "
                     "emotion-train evaluate --data DIR --write-card")
    # --score-test loads PublicTest as a scoring run would have (same --val-limit); the card keeps
    # the run's own config, which says that training never read it.
    splits = run_datasets({**run, "config": {**config, "score_test": True}} if args.score_test else run,
                          data_root)
    # Parity is checked where the run's choices were made; a run that kept its last epoch has
    # no validation split, and is checked on PublicTest.
    check_on = splits.val if splits.val is not None else splits.test
    if check_on is None:
        raise ValueError(f"{run_path} names no validation or test faces to check parity on")

    calibration = quantize.representative_faces(to_model_input(splits.train.x), args.calibration,
                                                config["seed"])
    command = shlex.join(["emotion-convert", *(sys.argv[1:] if argv is None else argv)])
    staging = Path(tempfile.mkdtemp(prefix=f"emotion-convert-{args.name}-"))
    try:
        qat_record = None
        equalization = None
        if args.qat_epochs:
            from emotion_convert import qat

            # The model becomes its fine-tuned float twin: everything below describes that one.
            int8_bytes, qat_record = qat.train_and_convert(
                model, splits.train, config, qat.QatSettings(args.qat_epochs, args.qat_lr), calibration)
        else:
            converted = model
            if args.equalize:
                from emotion_convert.equalize import equalized_copy

                # Only the converted network is rescaled: NAME.keras and parity keep the trained one.
                converted, pairs = equalized_copy(model, calibration, args.equalize, args.equalize_cap)
                equalization = {"alpha": args.equalize, "cap": args.equalize_cap,
                                "pairs": [dataclasses.asdict(pair) for pair in pairs]}
            int8_bytes = quantize.convert_int8(converted, calibration)
        tflite_path = quantize.write_bytes(staging / f"{args.name}.tflite", int8_bytes)
        float_tflite = None
        if args.float_tflite:
            float_tflite = quantize.write_bytes(staging / "float" / args.float_tflite.name,
                                                quantize.convert_float(model))
        float_reference = None
        if not args.no_keras_copy:
            float_path = args.out_dir / f"{args.name}.keras"
            if quantize.holds_same_network(float_path, model):
                # Converting the same network again keeps its float reference byte for byte.
                log.info("%s already holds this float network: kept as it is", float_path)
            else:
                float_path = quantize.save_float_keras(model, staging / f"{args.name}.keras")
            float_reference = {"file": float_path.name, "sha256": sha256_of(float_path)}

        architecture = {"name": model.name, "parameters": int(model.count_params()),
                        "macs": count_macs(model), "tflite_bytes": tflite_path.stat().st_size}
        margin = config.get("crop_margin", 0.0) if args.crop_margin is None else args.crop_margin
        crop = CropSpec(margin=margin, square=True)
        card = build_card(args.name, tflite_path, run, crop, architecture,
                          {"command": command, "calibration_faces": len(calibration),
                           "float_reference": float_reference, "label_subset_of": subset_of,
                           "quantization_aware_training": qat_record,
                           "activation_equalization": equalization})
        card_path = tflite_path.with_suffix(".json")
        card.save(card_path)  # the device's classifier needs it for the int8 side of parity

        def scores_of(faces: FaceDataset) -> tuple[np.ndarray, np.ndarray]:
            inputs = to_model_input(faces.x)
            return parity.float_scores(model, inputs), parity.int8_scores(tflite_path, inputs)

        def parity_block(faces: FaceDataset, split: str, labels: str,
                         scores: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
            float_s, int8_s = scores or scores_of(faces)
            return {"split": split, "labels": labels,
                    **parity.parity_report(float_s, int8_s, faces.y, faces.labels)}

        check_scores = scores_of(check_on)
        card.metrics = {}
        val_record = run["data"].get("val") or {}
        if splits.val is not None:
            card.metrics["val"] = parity_block(splits.val, val_record["split"],
                                               val_record.get("labels", config["label_source"]), check_scores)
        if splits.test is not None:
            card.metrics["test"] = parity_block(splits.test, "FER2013 PublicTest", config["label_source"],
                                                check_scores if check_on is splits.test else None)
        if (config["label_source"] != "fer2013" and not is_finetune(run)
                and fer2013_labels_can_score(run["labels"])):
            fer_test = load_fer2013_npz(data_dir(data_root) / VAL_FILE, config["label_set"], "fer2013")
            card.metrics["test_fer2013_labels"] = parity_block(fer_test, "FER2013 PublicTest", "fer2013")
        report = card.metrics["val" if splits.val is not None else "test"]
        # The gate: the checked split's faces, topped up with PublicTest faces when it is small.
        extra = parity.top_up_faces(data_dir(data_root) / VAL_FILE, args.parity_faces - len(check_on),
                                    config["seed"])
        check = parity.parity_check(*check_scores, model, tflite_path, extra, args.min_agreement)
        check["faces_from"] = {"validation" if splits.val is not None else "test": len(check_on),
                               "FER2013 PublicTest (top-up)": len(extra)}
        check["checked_split"] = report["split"]
        card.metrics["parity"] = check
        card.limitations = [*card.limitations, recall_limitation(card.metrics)]
        card.save(card_path)

        log.info("parity on the %d faces of %s: %d disagreements, %d of them int8 ties",
                 report["float"]["n"], report["split"], report["int8_float_disagreements"],
                 report["int8_float_disagreements_int8_tied"])
        log.info("parity check on %d faces (%d checked + %d PublicTest top-up): agreement %.2f%%, "
                 "%d disagreements (%d int8 ties)", check["faces"], len(check_on), len(extra),
                 100 * check["int8_float_top1_agreement"], check["int8_float_disagreements"],
                 check["int8_float_disagreements_int8_tied"])
        summary = {"model": str(args.out_dir / tflite_path.name), "bytes": architecture["tflite_bytes"],
                   "checked_on": report["split"], "float_accuracy": report["float"]["accuracy"],
                   "int8_accuracy": report["int8"]["accuracy"],
                   "agreement": report["int8_float_top1_agreement"], "parity": check,
                   "written": check["passed"]}
        if "test" in card.metrics:
            summary["test_int8_accuracy"] = card.metrics["test"]["int8"]["accuracy"]
        print(json.dumps(summary, indent=2))
        if not check["passed"]:
            log.error("int8 agrees with float on %.2f%% of %d parity faces, below the required %.2f%%: "
                      "nothing written to %s", 100 * check["int8_float_top1_agreement"], check["faces"],
                      100 * args.min_agreement, args.out_dir)
            return 1
        # The card last: until it lands, the device refuses the new .tflite (its sha256 is not the
        # old card's) rather than loading it under another model's card.
        staged = sorted((path for path in staging.iterdir() if path.is_file()),
                        key=lambda path: path.suffix == ".json")
        moves = [(path, args.out_dir / path.name) for path in staged]
        if float_tflite is not None:
            moves.insert(0, (float_tflite, args.float_tflite))
        for source, target in moves:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(source, target)
            log.info("wrote %s", target)
        return 0
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
