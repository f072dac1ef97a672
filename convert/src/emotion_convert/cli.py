"""`emotion-convert`: Keras model -> int8 TFLite + model card, with an int8-vs-float parity check."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path

from emotion_device.labels import LABEL_SETS

EXAMPLES = """\
examples:
  emotion-convert runs/emotion5/model.keras --name emotion5 --out-dir models
  emotion-convert runs/fer7/model.keras --name fer7 --out-dir models --float-tflite runs/fer7/float.tflite
  emotion-convert runs/ferplus8/model.keras --name emotion5 --label-set emotion5   # a subset of its classes

The run record (run.json beside the model) supplies labels, data and the training command.
Exit status 1 if int8 agrees with float on fewer than --min-agreement of the validation faces.
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
    parser.add_argument("--crop-margin", type=float, default=0.0,
                        help="margin added around a detector box, as a fraction of its size "
                             "(measure it with emotion-train calibrate-crop)")
    parser.add_argument("--min-agreement", type=float, default=0.98,
                        help="required int8-vs-float top-1 agreement on validation faces")
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
    from emotion_train.fer2013 import FaceDataset, fer2013_labels_can_score, load_fer2013_npz
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
    splits = run_datasets(run, data_root)
    # Parity is checked where the run's choices were made; a run that kept its last epoch has
    # no validation split, and is checked on PublicTest.
    check_on = splits.val if splits.val is not None else splits.test
    if check_on is None:
        raise ValueError(f"{run_path} names no validation or test faces to check parity on")

    calibration = quantize.representative_faces(to_model_input(splits.train.x), args.calibration,
                                                config["seed"])
    tflite_path = quantize.write_bytes(args.out_dir / f"{args.name}.tflite",
                                       quantize.convert_int8(model, calibration))
    if args.float_tflite:
        quantize.write_bytes(args.float_tflite, quantize.convert_float(model))

    float_reference = None
    if not args.no_keras_copy:
        float_path = quantize.save_float_keras(model, args.out_dir / f"{args.name}.keras")
        float_reference = {"file": float_path.name, "sha256": sha256_of(float_path)}

    command = shlex.join(["emotion-convert", *(sys.argv[1:] if argv is None else argv)])
    architecture = {"name": model.name, "parameters": int(model.count_params()),
                    "macs": count_macs(model), "tflite_bytes": tflite_path.stat().st_size}
    crop = CropSpec(margin=args.crop_margin, square=True)
    card = build_card(args.name, tflite_path, run, crop, architecture,
                      {"command": command, "calibration_faces": len(calibration),
                       "float_reference": float_reference, "label_subset_of": subset_of})
    card_path = tflite_path.with_suffix(".json")
    card.save(card_path)

    def parity_block(faces: FaceDataset, split: str, labels: str) -> dict:
        inputs = to_model_input(faces.x)
        return {"split": split, "labels": labels,
                **parity.parity_report(parity.float_scores(model, inputs),
                                       parity.int8_scores(tflite_path, inputs), faces.y, faces.labels)}

    card.metrics = {}
    if splits.val is not None:
        card.metrics["val"] = parity_block(splits.val, run["data"]["val"]["split"], config["label_source"])
    if splits.test is not None:
        card.metrics["test"] = parity_block(splits.test, "FER2013 PublicTest", config["label_source"])
    if (config["label_source"] != "fer2013" and not is_finetune(run)
            and fer2013_labels_can_score(run["labels"])):
        fer_test = load_fer2013_npz(data_dir(data_root) / VAL_FILE, config["label_set"], "fer2013")
        card.metrics["test_fer2013_labels"] = parity_block(fer_test, "FER2013 PublicTest", "fer2013")
    card.limitations = [*card.limitations, recall_limitation(card.metrics)]
    card.save(card_path)
    report = card.metrics["val" if splits.val is not None else "test"]

    summary = {"model": str(tflite_path), "bytes": architecture["tflite_bytes"],
               "checked_on": report["split"], "float_accuracy": report["float"]["accuracy"],
               "int8_accuracy": report["int8"]["accuracy"], "agreement": report["int8_float_top1_agreement"]}
    if "test" in card.metrics:
        summary["test_int8_accuracy"] = card.metrics["test"]["int8"]["accuracy"]
    print(json.dumps(summary, indent=2))
    if report["int8_float_top1_agreement"] < args.min_agreement:
        log.error("int8 agrees with float on %.2f%% of the faces of %s, below the required %.2f%%",
                  100 * report["int8_float_top1_agreement"], report["split"], 100 * args.min_agreement)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
