"""Choose `emotion-convert --equalize` by measurement: int8-vs-float disagreements per alpha.

A run's validation split has a few thousand faces and about twenty disagreements, too few to
tell settings apart, so the sweep also counts them on training faces that were not in the
representative set (agreement needs faces, not labels). Nothing is written but the table.

Usage:
  python -m emotion_convert.equalize_sweep models/ferplus8.keras --run runs/ferplus8/run.json \\
      --alpha 0 0.25 0.5 0.75 --out docs/accuracy/equalize-ferplus8.md
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

EXAMPLES = """\
examples:
  python -m emotion_convert.equalize_sweep models/ferplus8.keras --run runs/ferplus8/run.json
  python -m emotion_convert.equalize_sweep models/ferplus8.keras --run runs/ferplus8/run.json \\
      --label-set emotion5 --alpha 0 0.5
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emotion_convert.equalize_sweep", description=__doc__,
                                     epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="float Keras model")
    parser.add_argument("--run", type=Path, required=True, help="the run record that names its data")
    parser.add_argument("--label-set",
                        help="restrict the model to this label set first, as emotion-convert does")
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75],
                        help="settings to compare (default: %(default)s)")
    parser.add_argument("--cap", type=float, default=8.0,
                        help="largest per-channel scale (default: %(default)s)")
    parser.add_argument("--calibration", type=int, default=1000,
                        help="representative training faces, as emotion-convert (default: %(default)s)")
    parser.add_argument("--faces", type=int, default=9000,
                        help="other training faces to count disagreements on (default: %(default)s)")
    parser.add_argument("--data-dir", help="folder with the FER2013 .npz files (default: the run's)")
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    import keras

    from emotion_convert import parity, quantize
    from emotion_convert.card import build_card
    from emotion_convert.equalize import equalized_copy
    from emotion_convert.label_subset import restrict_run
    from emotion_device.preprocess import CropSpec, to_model_input
    from emotion_train.run_data import run_datasets

    run = json.loads(args.run.read_text())
    model = keras.models.load_model(args.model, compile=False)
    model, run, _ = restrict_run(model, run, args.label_set)
    splits = run_datasets(run, args.data_dir)
    checked = splits.val if splits.val is not None else splits.test
    if checked is None:
        raise SystemExit(f"{args.run} names no validation or test faces")
    seed = run["config"]["seed"]
    train_faces = to_model_input(splits.train.x)
    chosen = quantize.representative_indices(len(train_faces), args.calibration, seed)
    calibration = train_faces[chosen]
    others = np.setdiff1d(np.arange(len(train_faces)), chosen)
    others = np.sort(np.random.default_rng(seed + 1).permutation(others)[:args.faces])
    samples = {"validation" if splits.val is not None else "PublicTest": to_model_input(checked.x),
               "training faces": train_faces[others]}
    reference = {name: parity.float_scores(model, faces) for name, faces in samples.items()}

    header = " | ".join(f"{name} ({len(faces):,}): disagreements (ties) | not ties"
                        for name, faces in samples.items())
    lines = [f"| alpha | {header} |", "| --- |" + " --- | --- |" * len(samples)]
    with tempfile.TemporaryDirectory() as folder:
        tflite = Path(folder) / "sweep.tflite"
        for alpha in args.alpha:
            converted = equalized_copy(model, calibration, alpha, args.cap)[0] if alpha else model
            quantize.write_bytes(tflite, quantize.convert_int8(converted, calibration))
            # The device's classifier, which scores the int8 side, reads the labels from a card.
            build_card("sweep", tflite, run, CropSpec(), {}, {}).save(tflite.with_suffix(".json"))
            cells = []
            for name, faces in samples.items():
                counts = parity.agreement(reference[name], parity.int8_scores(tflite, faces))
                disagreements = counts["int8_float_disagreements"]
                ties = counts["int8_float_disagreements_int8_tied"]
                cells.append(f"{disagreements} ({ties}) | {disagreements - ties}")
            lines.append(f"| {alpha:g} | {' | '.join(cells)} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        subset = f" --label-set {args.label_set}" if args.label_set else ""
        command = (f"python -m emotion_convert.equalize_sweep {args.model} --run {args.run}{subset}"
                   f" --cap {args.cap:g}")
        args.out.write_text(f"`{command}` (calibration: {len(calibration):,} training faces)\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
