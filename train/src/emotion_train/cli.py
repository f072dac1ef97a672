"""`emotion-train`: train CNNs on FER2013 / FER+ faces."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from emotion_device.labels import LABEL_SETS
from emotion_train.architectures import ARCHITECTURES
from emotion_train.fer2013 import LABEL_SOURCES
from emotion_train.training import CLASS_WEIGHTINGS, TrainConfig

EXAMPLES = """\
examples:
  emotion-train train --out runs/emotion5
  emotion-train train --arch baseline --no-augment --label-set fer7 --labels fer2013 --out runs/b
  emotion-train train --limit 512 --epochs 1 --out /tmp/smoke      # a quick smoke run

Re-running the same command in the same --out resumes an interrupted run.
"""


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a CNN from scratch on FER2013",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    d = TrainConfig(out_dir="")
    p.add_argument("--out", required=True, help="run directory (model.keras, run.json, history.csv)")
    p.add_argument("--arch", default=d.architecture, choices=sorted(ARCHITECTURES))
    p.add_argument("--label-set", default=d.label_set, choices=sorted(LABEL_SETS))
    p.add_argument("--labels", default=d.label_source, choices=LABEL_SOURCES,
                   help="FER2013's own labels, or FER+ votes as majority or soft targets")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.learning_rate, help="peak learning rate (cosine)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--class-weight", default=d.class_weight, choices=CLASS_WEIGHTINGS)
    p.add_argument("--no-augment", action="store_true", help="turn real-time augmentation off")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit", type=int, help="train on a random slice of N faces")
    p.add_argument("--val-limit", type=int, help="validate on a random slice of N faces")
    p.add_argument("--data-dir", help="folder with fer2013_{train,val}.npz "
                   "(default: $EMOTION_DATA, then ../shared/data)")
    p.add_argument("--no-jit", action="store_true", help="disable XLA compilation")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emotion-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from emotion_train.training import train  # TensorFlow loads only once a command needs it

    config = TrainConfig(
        out_dir=args.out, architecture=args.arch, label_set=args.label_set,
        label_source=args.labels, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, weight_decay=args.weight_decay,
        label_smoothing=args.label_smoothing, class_weight=args.class_weight,
        augment=not args.no_augment, seed=args.seed, limit=args.limit,
        val_limit=args.val_limit, data_dir=args.data_dir, jit_compile=not args.no_jit,
    )
    record = train(config, ["emotion-train", *(sys.argv[1:] if argv is None else argv)])
    print(json.dumps(record["metrics"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
