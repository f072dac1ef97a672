"""`emotion-convert`: Keras model -> int8 TFLite + model card, with an int8-vs-float parity check.

Everything is written into a temporary folder first and moved into --out-dir only when the
parity check passes: a failing conversion leaves the target folder exactly as it was, so it
can never replace a shipped model with one that disagrees with its float network.
"""

from __future__ import annotations

import argparse
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

The run record (run.json beside the model) supplies labels, data and the training command.
Parity is checked on the run's validation faces; when there are fewer than --parity-faces
(a fine-tuned run's few photos), FER2013 PublicTest faces make up the rest, since agreement
is a property of the quantization, not of the labels. Exit status 1 if int8 agrees with float
on fewer than --min-agreement of those faces; then nothing is written into --out-dir.
"""

log = logging.getLogger("emotion_convert")


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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import keras

    from emotion_convert import parity, quantize
    from emotion_convert.card import build_card, recall_limitation
    from emotion_convert.label_subset import restrict_labels
    from emotion_convert.model_stats import count_macs
    from emotion_device.labels import label_set
    from emotion_device.model_card import sha256_of
    from emotion_device.preprocess import CropSpec, to_model_input
    from emotion_train.datapaths import VAL_FILE, data_dir
    from emotion_train.fer2013 import fer2013_labels_can_score, load_fer2013_npz
    from emotion_train.run_data import is_finetune, run_datasets

    run_path = args.run or args.model.with_name("run.json")
    run = json.loads(run_path.read_text())
    model = keras.models.load_model(args.model, compile=False)
    subset_of = None
    if args.label_set and args.label_set != run["config"]["label_set"]:
        subset_of = {"label_set": run["config"]["label_set"], "labels": run["labels"]}
        model = restrict_labels(model, run["labels"], label_set(args.label_set))
        run = {**run, "labels": list(label_set(args.label_set)),
               "config": {**run["config"], "label_set": args.label_set}}
    config = run["config"]
    data_root = args.data_dir or config.get("data_dir")
    train_data, val_data = run_datasets(run, data_root)

    calibration = quantize.representative_faces(to_model_input(train_data.x), args.calibration,
                                                config["seed"])
    command = shlex.join(["emotion-convert", *(sys.argv[1:] if argv is None else argv)])
    staging = Path(tempfile.mkdtemp(prefix=f"emotion-convert-{args.name}-"))
    try:
        tflite_path = quantize.write_bytes(staging / f"{args.name}.tflite",
                                           quantize.convert_int8(model, calibration))
        float_tflite = None
        if args.float_tflite:
            float_tflite = quantize.write_bytes(staging / "float" / args.float_tflite.name,
                                                quantize.convert_float(model))
        float_reference = None
        if not args.no_keras_copy:
            float_path = quantize.save_float_keras(model, staging / f"{args.name}.keras")
            float_reference = {"file": float_path.name, "sha256": sha256_of(float_path)}

        architecture = {"name": model.name, "parameters": int(model.count_params()),
                        "macs": count_macs(model), "tflite_bytes": tflite_path.stat().st_size}
        margin = config.get("crop_margin", 0.0) if args.crop_margin is None else args.crop_margin
        crop = CropSpec(margin=margin, square=True)
        card = build_card(args.name, tflite_path, run, crop, architecture,
                          {"command": command, "calibration_faces": len(calibration),
                           "float_reference": float_reference, "label_subset_of": subset_of})
        card.save(tflite_path.with_suffix(".json"))  # the device's classifier needs it for parity

        val_inputs = to_model_input(val_data.x)
        float_val = parity.float_scores(model, val_inputs)
        int8_val = parity.int8_scores(tflite_path, val_inputs)
        report = parity.parity_report(float_val, int8_val, val_data.y, val_data.labels)
        val_record = run["data"]["val"]
        card.metrics = {"val": {"split": val_record.get("split", "FER2013 PublicTest"),
                                "labels": val_record.get("labels", config["label_source"]), **report}}
        extra = parity.top_up_faces(data_dir(data_root) / VAL_FILE, args.parity_faces - len(val_data),
                                    config["seed"])
        check = parity.parity_check(float_val, int8_val, model, tflite_path, extra, args.min_agreement)
        check["faces_from"] = {"validation": len(val_data), "FER2013 PublicTest (top-up)": len(extra)}
        card.metrics["parity"] = check
        if (config["label_source"] != "fer2013" and not is_finetune(run)
                and fer2013_labels_can_score(run["labels"])):
            fer_val = load_fer2013_npz(data_dir(data_root) / VAL_FILE, config["label_set"], "fer2013")
            fer_inputs = to_model_input(fer_val.x)
            card.metrics["val_fer2013_labels"] = {
                "split": "FER2013 PublicTest", "labels": "fer2013",
                **parity.parity_report(parity.float_scores(model, fer_inputs),
                                       parity.int8_scores(tflite_path, fer_inputs),
                                       fer_val.y, fer_val.labels)}
        card.limitations = [*card.limitations, recall_limitation(card.metrics)]
        card.save(tflite_path.with_suffix(".json"))

        log.info("parity on the %d validation faces: %d disagreements, %d of them int8 ties",
                 report["float"]["n"], report["int8_float_disagreements"],
                 report["int8_float_disagreements_int8_tied"])
        log.info("parity check on %d faces (%d validation + %d PublicTest): agreement %.2f%%, "
                 "%d disagreements (%d int8 ties)", check["faces"], len(val_data), len(extra),
                 100 * check["int8_float_top1_agreement"], check["int8_float_disagreements"],
                 check["int8_float_disagreements_int8_tied"])
        summary = {"model": str(args.out_dir / tflite_path.name), "bytes": architecture["tflite_bytes"],
                   "float_accuracy": report["float"]["accuracy"], "int8_accuracy": report["int8"]["accuracy"],
                   "agreement": report["int8_float_top1_agreement"], "parity": check,
                   "written": check["passed"]}
        print(json.dumps(summary, indent=2))
        if not check["passed"]:
            log.error("int8 agrees with float on %.2f%% of %d parity faces, below the required %.2f%%: "
                      "nothing written to %s", 100 * check["int8_float_top1_agreement"], check["faces"],
                      100 * args.min_agreement, args.out_dir)
            return 1
        args.out_dir.mkdir(parents=True, exist_ok=True)
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
